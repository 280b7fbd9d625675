//! Timestamps as the SkyLight API writes them: ISO 8601 with microseconds, `Z` or an offset ([doc] §1).
//! Calendar arithmetic is the `time` crate's.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Microseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// When a seed's objects without timestamps were made: a fixed time (2026-01-01T00:00:00Z), so one seed
    /// is the same account on every start (a saved plan made against it applies to the next start).
    pub const SEED_TIME: Timestamp = Timestamp(1_767_225_600_000_000);

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
        let utc =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let offset = UtcOffset::from_whole_seconds(offset_minutes * 60).unwrap_or(UtcOffset::UTC);
        let local = utc.to_offset(offset);
        let zone = if offset_minutes == 0 {
            "Z".to_string()
        } else {
            let (h, m, _) = offset.as_hms();
            format!("{}{:02}:{:02}", if offset_minutes < 0 { '-' } else { '+' }, h.abs(), m.abs())
        };
        let format =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]");
        format!("{}{zone}", local.format(&format).unwrap_or_default())
    }

    /// Parses RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; a space may stand for the `T`).
    pub fn parse(s: &str) -> Option<Self> {
        let normal = match s.as_bytes().get(10) {
            Some(b' ') => format!("{}T{}", &s[..10], &s[11..]),
            _ => s.to_string(),
        };
        let t = OffsetDateTime::parse(&normal, &Rfc3339).ok()?;
        Some(Timestamp((t.unix_timestamp_nanos() / 1000) as i64))
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
