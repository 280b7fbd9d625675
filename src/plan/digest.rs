//! The manifest digest: a saved plan applies only while the manifests it was made from are unchanged.

use super::fingerprint;
use crate::manifest::ManifestSet;
use crate::resources::{Kind, Managed};
use serde_json::{json, Map, Value};

/// A hash of every kind's resolved declarations (texts as loaded, secrets as their `${NAME}` references, so
/// never a secret value) and the prune settings. Every kind of the registry is covered.
pub fn manifest_digest(set: &ManifestSet) -> String {
    fn entries<S: Managed>(list: &[S]) -> Value {
        serde_json::to_value(list).unwrap_or(Value::Null)
    }
    let mut kinds = Map::new();
    for &kind in Kind::ALL {
        kinds.insert(kind.as_str().into(), with_kind!(kind, S => entries::<S>(set.declared.of::<S>())));
    }
    fingerprint(&json!({"kinds": kinds, "prune": set.settings.prune}))
}
