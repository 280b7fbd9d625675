//! The building blocks kind files share: long texts, secrets, `ensure`, offline checks, canonical forms.

use super::Origin;
use crate::source::Problem;
use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// `ensure: absent` deletes the live object this entry names, even in a kind that is not pruned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Ensure {
    #[default]
    Present,
    Absent,
}

/// Long text: written inline, read from a file next to the manifest, or a reusable prompt from `prompts:`.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum Text {
    /// The text itself.
    Inline(String),
    /// A UTF-8 file, relative to the manifest that names it; it may not leave the manifest folder.
    File {
        /// Path relative to this manifest file.
        file: String,
    },
    /// A text defined under `prompts:`.
    Prompt {
        /// Name of an entry under `prompts:`.
        prompt: String,
    },
    /// After resolution: the text, and where it came from (`prompts/sales.md`, `prompt house-style`).
    #[schemars(skip)]
    Loaded { value: String, from: String },
}

impl Text {
    /// The text, once resolved (inline text is resolved from the start).
    pub fn value(&self) -> Option<&str> {
        match self {
            Text::Inline(s) | Text::Loaded { value: s, .. } => Some(s),
            _ => None,
        }
    }
}

impl Ensure {
    pub fn is_present(&self) -> bool {
        *self == Ensure::Present
    }
}

/// As a manifest writes it: a resolved text is written as its value.
impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Text::Inline(v) | Text::Loaded { value: v, .. } => s.serialize_str(v),
            Text::File { file } => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("file", file)?;
                m.end()
            }
            Text::Prompt { prompt } => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("prompt", prompt)?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text, `{ file: path }` or `{ prompt: name }`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text, E> {
                Ok(Text::Inline(s.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                #[derive(Deserialize)]
                #[serde(field_identifier, rename_all = "lowercase")]
                enum Key {
                    File,
                    Prompt,
                }
                let mut out = None;
                while let Some(key) = map.next_key::<Key>()? {
                    if out.is_some() {
                        return Err(de::Error::custom("use either `file:` or `prompt:`, not both"));
                    }
                    let v: String = map.next_value()?;
                    out = Some(match key {
                        Key::File => Text::File { file: v },
                        Key::Prompt => Text::Prompt { prompt: v },
                    });
                }
                out.ok_or_else(|| de::Error::custom("expected `file:` or `prompt:` in this mapping"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A value that must never be shown: a resolved password, a webhook's signing secret. `Debug` prints
/// `(sensitive)`, and every value made is registered with the scrubber ([`crate::redact`]), so no text
/// skyform prints or saves can carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        let s = s.into();
        crate::redact::register(&s);
        Secret(s)
    }

    /// The value, for the one place that sends or stores it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

/// The prefix of the variables that hold secrets: `${NAME}` in a secret field reads `SKYFORM_SECRET_NAME`.
pub const SECRET_PREFIX: &str = "SKYFORM_SECRET_";

/// A secret as a manifest writes it: `${NAME}`, a reference to the environment variable
/// `SKYFORM_SECRET_NAME`, read only when a request that needs the value is sent. In a plan's request body
/// it is `{"$secret": "NAME"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// `NAME` of `${NAME}`.
    pub var: String,
}

impl SecretRef {
    /// Parses `${NAME}`; the error says what is wrong (a literal, a default, a reserved name).
    pub fn parse(s: &str) -> Result<SecretRef, String> {
        let Some(name) = s.trim().strip_prefix("${").and_then(|r| r.strip_suffix('}')) else {
            return Err("a secret is a reference to a variable, `${NAME}`, not a value".into());
        };
        if name.contains(":-") {
            return Err("a secret reference cannot have a default: the default would be a secret in git".into());
        }
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!("`${{{name}}}` is not a variable reference"));
        }
        let upper = name.to_ascii_uppercase();
        if upper.starts_with("SKYLIGHT_") || upper.starts_with("SKYFORM_") {
            return Err(format!("`${{{name}}}` cannot be used: SKYLIGHT_* and SKYFORM_* names are reserved"));
        }
        Ok(SecretRef { var: name.to_string() })
    }

    /// The environment variable that holds the value.
    pub fn env_var(&self) -> String {
        format!("{SECRET_PREFIX}{}", self.var)
    }

    /// The value, when the variable is set (and not empty).
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Option<Secret> {
        env(&self.env_var()).filter(|v| !v.is_empty()).map(Secret::new)
    }

    /// The placeholder a plan's request body holds instead of the value.
    pub fn placeholder(&self) -> serde_json::Value {
        serde_json::json!({ "$secret": self.var })
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SecretRef::parse(&String::deserialize(d)?).map_err(de::Error::custom)
    }
}

impl Serialize for SecretRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("${{{}}}", self.var))
    }
}

impl JsonSchema for SecretRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretRef".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$",
            "writeOnly": true,
            "description": "Write-only: `${NAME}`, read from the environment variable SKYFORM_SECRET_NAME when a create needs it; never compared, shown or saved."
        })
    }
}

/// Collects problems and knows the prompts, for the per-entry checks.
pub struct Checks<'a> {
    pub problems: Vec<Problem>,
    /// What may be wrong but only the account can tell (an event outside the assumed catalogue): shown by
    /// `validate`, checked against the account at plan time.
    pub warnings: Vec<Problem>,
    pub prompts: &'a indexmap::IndexMap<String, Text>,
}

impl Checks<'_> {
    pub fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    pub fn warn(&mut self, p: Problem) {
        self.warnings.push(p);
    }

    /// A name or title: present, non-empty, at most 255 characters (the API's limit).
    pub fn short_text(&mut self, o: &Origin, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.push(o.problem(field, format!("`{field}` is empty")));
        } else if value.chars().count() > 255 {
            self.push(o.problem(
                field,
                format!("`{field}` is {} characters; the API allows at most 255", value.chars().count()),
            ));
        }
    }

    /// A required text for a present entry.
    pub fn require<T>(&mut self, o: &Origin, field: &str, value: &Option<T>, label: &str) {
        if value.is_none() {
            self.push(
                Problem::at(&o.file, o.pos, format!("{label} needs `{field}`"))
                    .hint(format!("add `{field}:`, or `ensure: absent` to delete it")),
            );
        }
    }
}

/// A well-formed address: one `@`, a local part, a dotted domain, no spaces.
pub fn valid_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|p| !p.is_empty())
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// An `https://` URL with a host (webhook targets and website entries).
pub fn https_problem(url: &str) -> Option<(&'static str, &'static str)> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Some(if url.starts_with("http://") {
            ("must use https://", "the API refuses plain http:// URLs; use https://")
        } else {
            ("is not a URL", "write a full URL such as https://example.com/hook")
        });
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.contains('@') {
        return Some((
            "has credentials in it (user:…@)",
            "remove them: a URL in a manifest is shown in every plan; use a token the receiving service accepts in the path",
        ));
    }
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Some(("has no host", "write a full URL such as https://example.com/hook"));
    }
    None
}

/// Unicode NFC: the composed form, so that text that looks the same compares the same.
pub fn nfc(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfc().collect()
}

/// A looser form for "did you mean": NFKC, case folded, surrounding space trimmed. Two keys equal in this
/// form but not in their comparison form look alike to a person.
pub fn look_alike(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.trim().nfkc().collect::<String>().to_lowercase()
}

/// An object's managed fields in canonical form, in display order. Both sides of a diff are reduced to this,
/// so that equal configurations compare equal whatever the server's defaults and orderings.
pub type Fields = Vec<(&'static str, serde_json::Value)>;

/// Canonical long text: CRLF → LF, NFC, and leading and trailing whitespace dropped (files end with a
/// newline; Laravel-style servers trim every string they receive, `TrimStrings`). An empty text is null, as
/// such servers store it (`ConvertEmptyStringsToNull`).
pub fn canon_text(s: Option<&str>) -> serde_json::Value {
    match s.map(|t| t.replace("\r\n", "\n")) {
        Some(t) if !t.trim().is_empty() => serde_json::Value::String(nfc(t.trim())),
        _ => serde_json::Value::Null,
    }
}

/// A short text (name, title): NFC, surrounding whitespace dropped.
pub fn canon_short(s: &str) -> serde_json::Value {
    serde_json::Value::String(nfc(s.trim()))
}

/// A set of ids, sorted and without repeats.
/// Ids and [`super::reference`]s as a set: the ids sorted, then the references sorted by key (a
/// reference is resolved to an id once its object exists, so an account matching the manifests compares
/// ids only).
pub fn canon_refs(values: &[serde_json::Value]) -> serde_json::Value {
    let ids: std::collections::BTreeSet<u64> = values.iter().filter_map(serde_json::Value::as_u64).collect();
    let mut refs: Vec<&serde_json::Value> = values.iter().filter(|v| !v.is_u64()).collect();
    refs.sort_by_key(|v| v.to_string());
    refs.dedup();
    let mut out: Vec<serde_json::Value> = ids.into_iter().map(Into::into).collect();
    out.extend(refs.into_iter().cloned());
    serde_json::Value::Array(out)
}

pub fn canon_ids(ids: &[u64]) -> serde_json::Value {
    let set: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
    serde_json::json!(set)
}
