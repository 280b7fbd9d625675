//! The manifest digest: a saved plan applies only while the manifests it was made from are unchanged.

use super::fingerprint_of;
use crate::manifest::ManifestSet;
use crate::resources::Kind;

/// A hash of every kind's resolved declarations (texts as loaded, secrets as their `${NAME}` references, so
/// never a secret value) and the prune settings. Every kind of the registry is covered.
pub fn manifest_digest(set: &ManifestSet) -> String {
    // Hashed as serialized, without building the JSON tree first: the digest of 10,000 entries is a pass
    // over them, not a copy. The bytes are those of `{"kinds":{...},"prune":[...]}` with kinds in key order.
    struct Kinds<'a>(&'a ManifestSet);
    impl serde::Serialize for Kinds<'_> {
        fn serialize<Ser: serde::Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
            use serde::ser::SerializeMap;
            let mut names: Vec<Kind> = Kind::ALL.to_vec();
            names.sort_by_key(|k| k.as_str());
            let mut m = s.serialize_map(Some(names.len()))?;
            for kind in names {
                with_kind!(kind, S => m.serialize_entry(kind.as_str(), self.0.declared.of::<S>())?);
            }
            m.end()
        }
    }
    #[derive(serde::Serialize)]
    struct Digest<'a> {
        kinds: Kinds<'a>,
        prune: &'a [Kind],
    }
    fingerprint_of(&Digest { kinds: Kinds(set), prune: &set.settings.prune })
}
