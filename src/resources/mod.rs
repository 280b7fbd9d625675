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
        self.fields.get(&format!("{field}#key")).copied().unwrap_or(self.pos)
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Agents,
    KnowledgeBase,
    Webhooks,
    Team,
    Campaigns,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Agents, Kind::KnowledgeBase, Kind::Webhooks, Kind::Team, Kind::Campaigns];

    /// One object of the kind, for messages: "agent", "knowledge entry", ...
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Agents => "agent",
            Kind::KnowledgeBase => "knowledge entry",
            Kind::Webhooks => "webhook",
            Kind::Team => "team member",
            Kind::Campaigns => "campaign",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s || k.singular().replace(' ', "_") == s)
    }

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

/// Fields whose manifest value is a [`SecretRef`] rather than text: never interpolated into anything shown.
pub fn is_secret_field(section: &str, field: &str) -> bool {
    matches!((section, field), ("team", "password"))
}

/// A secret as a manifest writes it: `${NAME}`, a reference to the environment variable
/// `SKYFORM_SECRET_NAME`, read only when a request that needs the value is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// `NAME` of `${NAME}`.
    pub var: String,
}

impl SecretRef {
    /// The environment variable that holds the value.
    pub fn env_var(&self) -> String {
        format!("{}{}", crate::manifest::SECRET_PREFIX, self.var)
    }

    /// The value, when the variable is set (and not empty).
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Option<Secret> {
        env(&self.env_var()).filter(|v| !v.is_empty()).map(Secret::new)
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        crate::manifest::secret_reference(&s).map(|var| SecretRef { var }).map_err(|e| de::Error::custom(e.message))
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

/// The accessors every spec type implements the same way (its `id`, `ensure` and `origin` fields).
macro_rules! entry_fields {
    () => {
        fn id(&self) -> Option<u64> {
            self.id
        }
        fn ensure(&self) -> $crate::resources::Ensure {
            self.ensure
        }
        fn origin(&self) -> &$crate::resources::Origin {
            &self.origin
        }
        fn origin_mut(&mut self) -> &mut $crate::resources::Origin {
            &mut self.origin
        }
    };
}
pub(crate) use entry_fields;

/// What every kind's entry offers the generic checks (uniqueness, pinning, ensure).
pub trait Entry {
    /// "agent", "knowledge entry", ...
    const LABEL: &'static str;
    /// The kind this entry belongs to.
    const R_KIND: Kind;
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

/// Relative display of a path for messages.
pub fn display(p: &Path) -> String {
    p.display().to_string()
}

// ------------------------------------------------------------------ live objects, as the API returns them

/// One kind as the API serves it: where it lives, what a live object looks like, how it is keyed.
/// The API client is generic over this, so a new kind needs only its own file here.
pub trait Resource: Send + Sync + 'static {
    const KIND: Kind;
    /// The collection path under the base URL, e.g. `/ai-agents`.
    const PATH: &'static str;
    /// The create answer carries a secret shown only then (webhooks).
    const HAS_SECRET: bool = false;
    type Live: serde::de::DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static;
    fn live_id(live: &Self::Live) -> u64;
    /// The natural key of a live object, compared as the manifests' `natural_key`.
    fn live_key(live: &Self::Live) -> String;
    /// The fields every read of the object carries (list item or single GET) that change when anyone
    /// edits it: what a saved plan's fingerprint covers, with the managed fields where they were read.
    fn summary(live: &Self::Live) -> serde_json::Value;
}

/// Timestamps in either documented form (`...Z` or `...+03:00`); anything unreadable is treated as absent
/// rather than failing the whole response.
pub mod lenient {
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
}

/// The read-only lookups campaigns are resolved against.
pub mod lookup {
    use super::lenient;
    use serde::Deserialize;
    use time::OffsetDateTime;

    /// A messaging channel (`GET /account/channels`); its id is a campaign's `channel_id`.
    #[derive(Debug, Clone, Deserialize, PartialEq)]
    pub struct Channel {
        pub id: u64,
        #[serde(rename = "type", default)]
        pub kind: String,
        #[serde(default)]
        pub username: String,
        #[serde(default = "lenient::yes", deserialize_with = "lenient::flag")]
        pub is_connected: bool,
    }

    /// A contact list or a segment.
    #[derive(Debug, Clone, Deserialize, PartialEq)]
    pub struct ContactList {
        pub id: u64,
        pub name: String,
        #[serde(default)]
        pub contacts_count: Option<u64>,
        #[serde(default, deserialize_with = "lenient::time")]
        pub created_at: Option<OffsetDateTime>,
    }

    #[derive(Debug, Clone, Deserialize, PartialEq)]
    pub struct Account {
        pub id: u64,
        #[serde(default)]
        pub name: String,
        #[serde(default)]
        pub status: Option<String>,
    }

    #[derive(Debug, Clone, Deserialize, PartialEq)]
    pub struct Limit {
        pub max: Option<u64>,
        pub used: Option<u64>,
    }

    #[derive(Debug, Clone, Deserialize, PartialEq)]
    pub struct Subscription {
        #[serde(default)]
        pub plan: Option<String>,
        #[serde(default)]
        pub limits: std::collections::BTreeMap<String, Limit>,
    }

    /// One entry of the webhook event catalogue.
    #[derive(Debug, Clone, Deserialize, PartialEq)]
    pub struct WebhookEvent {
        pub name: String,
        #[serde(default)]
        pub resource: Option<String>,
    }

    /// `GET /knowledge-base/{id}/status`.
    #[derive(Debug, Clone, Deserialize, PartialEq)]
    pub struct KnowledgeStatus {
        pub status: String,
        #[serde(default)]
        pub pages_crawled: Option<u64>,
    }
}

// ------------------------------------------------------------------ planning: canonical forms

/// An object's managed fields in canonical form, in display order. Both sides of a diff are reduced to this,
/// so that equal configurations compare equal whatever the server's defaults and orderings.
pub type Fields = Vec<(&'static str, serde_json::Value)>;

/// Canonical long text: CRLF → LF and trailing whitespace dropped (files end with a newline, the API may
/// trim it). An empty text is null, as the API stores it.
pub fn canon_text(s: Option<&str>) -> serde_json::Value {
    match s.map(|t| t.replace("\r\n", "\n")) {
        Some(t) if !t.trim().is_empty() => serde_json::Value::String(t.trim_end().to_string()),
        _ => serde_json::Value::Null,
    }
}

/// A short text (name, title): kept as is but for surrounding whitespace.
pub fn canon_short(s: &str) -> serde_json::Value {
    serde_json::Value::String(s.trim().to_string())
}

/// A set of ids, sorted and without repeats.
pub fn canon_ids(ids: &[u64]) -> serde_json::Value {
    let set: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
    serde_json::json!(set)
}

/// Names of the lookups campaigns refer to, resolved against the live account.
#[derive(Debug, Default, Clone)]
pub struct Lookups {
    pub channels: Vec<lookup::Channel>,
    pub lists: Vec<lookup::ContactList>,
    pub segments: Vec<lookup::ContactList>,
}

/// What the plan engine needs of a kind beyond [`Entry`] and [`Resource`]: canonical desired and live
/// fields, and the kind's own rules (refusals, lifecycle actions). Implemented by each kind's spec type.
pub trait Managed: Entry + Sized {
    type R: Resource;
    /// True when the list lacks managed fields, so matched objects need a single GET.
    const NEEDS_DETAIL: bool = false;
    /// The managed fields this entry declares, canonical. Names that must resolve against the account
    /// (channels, lists) fail here with the entry's position.
    fn desired(&self, lookups: &Lookups) -> Result<Fields, Problem>;
    fn live_fields(live: &<Self::R as Resource>::Live) -> Fields;
    /// Secret fields this entry declares (team passwords): sent on create, never compared or shown.
    fn secret_refs(&self) -> Vec<(&'static str, &SecretRef)> {
        Vec::new()
    }
    /// Why an update of this live object cannot be done (a running campaign, a changed KB type).
    fn refuse_update(&self, _live: &<Self::R as Resource>::Live, _changed: &[&str]) -> Option<String> {
        None
    }
    /// Why this live object cannot be deleted (a running campaign).
    fn refuse_delete(_live: &<Self::R as Resource>::Live) -> Option<String> {
        None
    }
    /// The request body of a create or update: every managed field (PUT merges or replaces; both work).
    /// `secrets` holds the values of the entry's secret references, resolved for this request.
    fn body(&self, fields: &Fields, _creating: bool, _secrets: &Secrets) -> serde_json::Value {
        serde_json::Value::Object(fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }
    /// What of the entry decides actions but is not a field (default flag, state, rotation token), for the
    /// manifest digest.
    fn actions_digest(&self) -> Vec<String> {
        Vec::new()
    }
    /// Nothing to create for this entry even though it is absent (a campaign declared `cancelled`).
    fn skip_create(&self) -> bool {
        false
    }
    /// Actions after the entry's create or update: lifecycle moves, secret rotation.
    fn actions(&self, _live: Option<&<Self::R as Resource>::Live>, _ctx: &ActionContext) -> Vec<Step> {
        Vec::new()
    }
}

/// Secret values resolved for the requests of one apply, by variable name (`NAME` of `${NAME}`).
pub type Secrets = std::collections::BTreeMap<String, Secret>;

/// What actions may depend on beyond the entry and its live object.
#[derive(Debug, Default)]
pub struct ActionContext {
    /// The `rotate_secret` token last applied per webhook name, from the secrets file, when one was given.
    pub rotation_tokens: Option<std::collections::BTreeMap<String, String>>,
}

/// One action of a plan, or the reason it cannot be done.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Do(&'static str),
    Refuse(String),
}

#[cfg(test)]
mod canonical_tests;
