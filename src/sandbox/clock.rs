//! Timestamps as the SkyLight API writes them: ISO 8601 with microseconds, `Z` or an offset.
//!
//! Hand-rolled (civil-from-days) because the sandbox needs only this one format and its parse.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(d.as_micros() as i64)
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    pub fn plus_millis(self, ms: u64) -> Self {
        Timestamp(self.0 + (ms as i64) * 1000)
    }

    /// `2026-03-04T14:30:00.000000Z`, or with `offset_minutes != 0`, `2026-03-04T17:30:00.000000+03:00`.
    pub fn render(self, offset_minutes: i32) -> String {
        let local = self.0 + i64::from(offset_minutes) * 60_000_000;
        let secs = local.div_euclid(1_000_000);
        let micros = local.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let zone = if offset_minutes == 0 {
            "Z".to_string()
        } else {
            let sign = if offset_minutes < 0 { '-' } else { '+' };
            let a = offset_minutes.abs();
            format!("{sign}{:02}:{:02}", a / 60, a % 60)
        };
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}{zone}", sod / 3600, (sod % 3600) / 60, sod % 60)
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return None;
        }
        if h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let mut i = 19;
        let mut micros = 0i64;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let frac = &s[start..i];
            if frac.is_empty() {
                return None;
            }
            let padded: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
            micros = padded.parse().ok()?;
        }
        let offset_secs = match &s[i..] {
            "Z" | "z" => 0,
            rest if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
                let oh: i64 = rest[1..3].parse().ok()?;
                let om: i64 = rest[4..6].parse().ok()?;
                let v = oh * 3600 + om * 60;
                if rest.starts_with('-') {
                    -v
                } else {
                    v
                }
            }
            _ => return None,
        };
        let days = days_from_civil(y, mo, d);
        let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
        Some(Timestamp(secs * 1_000_000 + micros))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(0))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.render(0))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid timestamp `{s}`: expected ISO 8601 like 2026-03-04T14:30:00.000000Z"
            ))
        })
    }
}

// Howard Hinnant's algorithms, http://howardhinnant.github.io/date_algorithms.html
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_documented_form() {
        let t = Timestamp::parse("2026-03-04T14:30:00.000000Z").unwrap();
        assert_eq!(t.render(0), "2026-03-04T14:30:00.000000Z");
        assert_eq!(t.render(180), "2026-03-04T17:30:00.000000+03:00");
        assert_eq!(t.render(-90), "2026-03-04T13:00:00.000000-01:30");
    }

    #[test]
    fn offsets_name_the_same_instant() {
        let z = Timestamp::parse("2026-03-04T14:30:00Z").unwrap();
        let plus = Timestamp::parse("2026-03-04T17:30:00.000+03:00").unwrap();
        assert_eq!(z, plus);
        assert_eq!(z.unix_seconds(), 1_772_634_600);
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "2026-13-01T00:00:00Z", "2026-03-04T14:30:00", "yesterday", "2026-03-04T14:30:00.Z"] {
            assert!(Timestamp::parse(s).is_none(), "{s}");
        }
    }
}
