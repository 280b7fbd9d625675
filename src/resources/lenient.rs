//! Lenient readers of what servers send: timestamps in either documented form (`...Z` or `...+03:00`),
//! numbers as strings, flags as 0/1; anything unreadable is treated as absent rather than failing the
//! whole response ([doc] §4 "Tolerance").

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    let raw = Option::<serde_json::Value>::deserialize(d)?;
    Ok(raw.as_ref().and_then(serde_json::Value::as_str).and_then(parse_time))
}

/// RFC 3339, or the same without an offset (read as UTC).
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .or_else(|| OffsetDateTime::parse(&format!("{}Z", s.replace(' ', "T")), &Rfc3339).ok())
}

/// A map of strings where a server may send numbers or booleans (`max_length: 600`); null is empty.
pub fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    Ok(raw
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect())
}

/// A list of strings where a server may send null.
pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// A number that may arrive as a string (`"189.00"`).
pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let raw = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match raw {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A flag that may arrive as `true`, `1` or `"1"`.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let raw = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match raw {
        Some(serde_json::Value::Bool(b)) => b,
        Some(serde_json::Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(serde_json::Value::String(s)) => matches!(s.as_str(), "1" | "true" | "active"),
        _ => false,
    })
}

/// Like [`flag`], absent or null meaning false.
pub fn flag_default_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let raw = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match raw {
        Some(serde_json::Value::Null) | None => false,
        Some(v) => flag(v).unwrap_or(false),
    })
}

pub fn yes() -> bool {
    true
}
