//! The resource kinds skyform manages, one file each: what a manifest declares for the kind (its spec type,
//! from which the JSON Schema is generated), its natural key, and its offline checks. Later issues add each
//! kind's live type, canonical form and API paths to the same file.

pub mod agent;
pub mod campaign;
pub mod knowledge;
pub mod team;
pub mod webhook;

use crate::manifest::problem::Problem;
use crate::manifest::yaml::Pos;
use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where an entry was declared: its file, its position, and the position of each of its keys and values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    pub file: Arc<PathBuf>,
    /// The folder given to skyform: `{file:}` texts may not leave it.
    pub root: Arc<PathBuf>,
    pub pos: Pos,
    pub fields: Arc<HashMap<String, Pos>>,
}

impl Origin {
    /// The position of a field's value (`audience.lists.0`), or of the entry when the field is absent.
    pub fn of(&self, field: &str) -> Pos {
        self.fields.get(field).copied().unwrap_or(self.pos)
    }

    /// The position of a field's key, or of the entry.
    pub fn key(&self, field: &str) -> Pos {
        self.fields
            .get(&format!("{field}#key"))
            .copied()
            .unwrap_or(self.pos)
    }

    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    pub fn problem(&self, field: &str, message: impl Into<String>) -> Problem {
        Problem::at(&self.file, self.of(field), message)
    }

    /// `agents.yaml:4` for messages that point at another entry.
    pub fn short(&self) -> String {
        format!("{}:{}", self.file.display(), self.pos.line)
    }
}

/// The kinds, as `settings.prune`, `--prune` and `--target` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Agents,
    KnowledgeBase,
    Webhooks,
    Team,
    Campaigns,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Agents,
        Kind::KnowledgeBase,
        Kind::Webhooks,
        Kind::Team,
        Kind::Campaigns,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Agents => "agents",
            Kind::KnowledgeBase => "knowledge_base",
            Kind::Webhooks => "webhooks",
            Kind::Team => "team",
            Kind::Campaigns => "campaigns",
        }
    }
}

/// `ensure: absent` deletes the live object this entry names, even in a kind that is not pruned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
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
                        return Err(de::Error::custom(
                            "use either `file:` or `prompt:`, not both",
                        ));
                    }
                    let v: String = map.next_value()?;
                    out = Some(match key {
                        Key::File => Text::File { file: v },
                        Key::Prompt => Text::Prompt { prompt: v },
                    });
                }
                out.ok_or_else(|| {
                    de::Error::custom("expected `file:` or `prompt:` in this mapping")
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A value that must never be shown: team passwords. `Debug` prints `(sensitive)`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "writeOnly": true,
            "description": "Write-only: sent on create, never compared or shown. Use ${VAR} rather than the value."
        })
    }
}

/// What every kind's entry offers the generic checks (uniqueness, pinning, ensure).
pub trait Entry {
    /// "agent", "knowledge entry", ...
    const LABEL: &'static str;
    /// The manifest key holding the natural key (`name`, `title`, `email`).
    const KEY_FIELD: &'static str;
    fn natural_key(&self) -> String;
    fn id(&self) -> Option<u64>;
    fn ensure(&self) -> Ensure;
    fn origin(&self) -> &Origin;
    fn origin_mut(&mut self) -> &mut Origin;
    /// Checks of this entry alone; `Checks` collects the problems.
    fn check(&self, c: &mut Checks);
}

/// Collects problems and knows the prompts, for the per-entry checks.
pub struct Checks<'a> {
    pub problems: Vec<Problem>,
    pub prompts: &'a indexmap::IndexMap<String, Text>,
}

impl Checks<'_> {
    pub fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    /// A name or title: present, non-empty, at most 255 characters (the API's limit).
    pub fn short_text(&mut self, o: &Origin, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.push(o.problem(field, format!("`{field}` is empty")));
        } else if value.chars().count() > 255 {
            self.push(o.problem(
                field,
                format!(
                    "`{field}` is {} characters; the API allows at most 255",
                    value.chars().count()
                ),
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
            (
                "must use https://",
                "the API refuses plain http:// URLs; use https://",
            )
        } else {
            (
                "is not a URL",
                "write a full URL such as https://example.com/hook",
            )
        });
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Some((
            "has no host",
            "write a full URL such as https://example.com/hook",
        ));
    }
    None
}

/// Relative display of a path for messages.
pub fn display(p: &Path) -> String {
    p.display().to_string()
}
