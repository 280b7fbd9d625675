//! The plan: what would change, field by field, in which order, and the request that does each change. One
//! model ([`Plan`]), rendered by `render::{human, json, markdown}`, saved as the plan file and executed by
//! `apply` as it is.
//!
//! Flow: read live state with a [`crate::api::ReadClient`] (one paged list per managed kind, single GETs only
//! where the list lacks managed fields, the lookups the kinds in scope need, once) → canonicalise both sides
//! (`resources::Managed`) → match by pinned id, else natural key → per-field diff → kind rules (refusals,
//! lifecycle, the kind's own `rules`) → each change's request in wire form → order (kinds in registry order,
//! deletes last and reversed; `after` edges) → delete guard.

pub mod base;
mod build;
mod digest;
pub mod live;
pub mod recover;

pub use build::{build, PlanError, PlanOptions, Target};
pub use digest::manifest_digest;
pub use live::live_fingerprint;

use crate::resources::Kind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The plan file and `--format json` version; bumped on any incompatible change (2: changes carry their
/// requests).
pub const FORMAT_VERSION: u32 = 2;

/// What `plan` decided, in execution order.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Plan {
    pub format_version: u32,
    /// A hash of the resolved manifests (secrets excluded): a saved plan applies only to the same manifests.
    pub manifest_digest: String,
    pub changes: Vec<Change>,
    /// Live objects the manifests do not name, in kinds that are not pruned: left alone.
    pub unmanaged: Vec<Unmanaged>,
    /// Reasons the whole plan may not be applied (the delete guard).
    pub blocked: Vec<String>,
    pub summary: Summary,
    /// The manifest paths the plan was made from, so `skyform apply plan.json` finds them again.
    #[serde(default)]
    pub paths: Vec<String>,
    /// What a reviewer should know about the account beyond the changes (an apply holding the lease).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// With `plan --base REF`: the split between this pull request's changes and drift already present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<base::BaseSplit>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Create,
    Update,
    Delete,
    /// `set-default`, `regenerate-secret`, `start`, `pause`, `resume`, `cancel`.
    Action,
    /// Asked for by the manifests but impossible or unsafe; `reason` says why and what to do instead.
    Refused,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Change {
    pub kind: Kind,
    /// The natural key (name, title, email).
    pub key: String,
    /// The live object's id; none for a create.
    pub id: Option<u64>,
    pub op: Op,
    /// For `action`: which one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// For `create` and `update`: the fields that change, old → new.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where the manifests declare it, `file:line`; none for pruned deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Hash of the live object this change was computed from; a saved plan is refused when it moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// What `apply` sends for this change; none for a refused change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// Earlier changes (indexes into `changes`) that must be done before this one: the create of the same
    /// object, the new default agent before the old one's delete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<usize>,
    /// With `plan --base`: the base's manifests plan this same change against the same account, so it is
    /// drift already there, not this pull request's doing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drift: bool,
}

/// An HTTP request of the API, in wire form, as `apply` sends it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Request {
    pub method: Method,
    /// Under the API base URL, e.g. `/team/4`. `{created:N}` stands for the id the create of change N
    /// returns (an action on an object this plan creates).
    pub path: String,
    /// The JSON body as sent: values as written in the manifests. Two placeholders are resolved at send
    /// time: `{"$secret": "NAME"}` (the value of `SKYFORM_SECRET_NAME`, never in a plan) and
    /// `{"$created": N}` (the id change N created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Post,
    Put,
    /// Singletons' partial updates (`PATCH /account`).
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl Request {
    /// `{created:N}` in a path.
    pub fn created_placeholder(change: usize) -> String {
        format!("{{created:{change}}}")
    }

    /// The changes whose created ids this request uses.
    pub fn uses_created(&self) -> Vec<usize> {
        fn walk(v: &Value, out: &mut Vec<usize>) {
            match v {
                Value::Object(o) => match o.get("$created").and_then(Value::as_u64) {
                    Some(n) if o.len() == 1 => out.push(n as usize),
                    _ => o.values().for_each(|v| walk(v, out)),
                },
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        let mut rest = self.path.as_str();
        while let Some(at) = rest.find("{created:") {
            let tail = &rest[at + 9..];
            if let Some(end) = tail.find('}') {
                if let Ok(n) = tail[..end].parse() {
                    out.push(n);
                }
            }
            rest = tail;
        }
        if let Some(b) = &self.body {
            walk(b, &mut out);
        }
        out
    }

    /// The names of the secrets this request sends (`{"$secret": NAME}`).
    pub fn secrets(&self) -> Vec<String> {
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(o) => match o.get("$secret").and_then(Value::as_str) {
                    Some(n) if o.len() == 1 => out.push(n.to_string()),
                    _ => o.values().for_each(|v| walk(v, out)),
                },
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        if let Some(b) = &self.body {
            walk(b, &mut out);
        }
        out
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct FieldChange {
    pub field: String,
    /// The live value (canonical); none for a create.
    pub old: Option<Value>,
    /// The declared value (canonical); none when sensitive.
    pub new: Option<Value>,
    /// Write-only: never shown, never compared, never saved.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Unmanaged {
    pub kind: Kind,
    pub id: u64,
    pub key: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub action: usize,
    pub refused: usize,
    pub unmanaged: usize,
    /// Mutating requests `apply` will send.
    pub api_calls: usize,
    /// The client's budget (requests per minute) the estimate assumes.
    pub budget_per_minute: u32,
    /// `api_calls` at that budget, in seconds.
    pub estimated_seconds: u64,
}

/// Assumed round trip of one write, seconds per request with 4 in flight ([assumed]: 200 ms each).
const SECONDS_PER_CALL: f64 = 0.05;

/// How long `calls` writes take at `budget` requests a minute: the pacer lets a window's worth go at once
/// (only the round trips count), and every further `budget` calls wait one more minute.
pub fn estimate_seconds(calls: u64, budget: u64) -> u64 {
    let budget = budget.max(1);
    let waiting = calls.saturating_sub(budget) * 60 / budget;
    waiting + (calls as f64 * SECONDS_PER_CALL).ceil() as u64
}

impl Change {
    /// `create agent "Sales"`, `start campaign "Spring" (id 4)` (the key's control characters escaped).
    pub fn headline(&self) -> String {
        let verb = match self.op {
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::Action => self.action.as_deref().unwrap_or("action"),
            Op::Refused => "refused:",
        };
        if with_kind!(self.kind, S => <S as crate::resources::Shaped>::SINGLETON) {
            return format!("{verb} {}", self.kind.singular());
        }
        let id = self.id.map(|id| format!(" (id {id})")).unwrap_or_default();
        format!("{verb} {} \"{}\"{id}", self.kind.singular(), crate::redact::escape_controls(&self.key))
    }

    /// What the change does, in a word.
    pub fn op_word(&self) -> &str {
        match self.op {
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::Action => self.action.as_deref().unwrap_or("action"),
            Op::Refused => "change",
        }
    }
}

impl Plan {
    /// Anything `apply` would do. Refused changes are not: apply cannot do them (they are shown, and make
    /// `apply` exit 1, so they are never missed).
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.op != Op::Refused)
    }

    /// The counts, computed from the changes.
    pub fn summarize(&mut self, budget_per_minute: u32) {
        let count = |op: Op| self.changes.iter().filter(|c| c.op == op).count();
        let api_calls = self.changes.iter().filter(|c| c.op != Op::Refused).count();
        let budget = budget_per_minute.max(1);
        self.summary = Summary {
            create: count(Op::Create),
            update: count(Op::Update),
            delete: count(Op::Delete),
            action: count(Op::Action),
            refused: count(Op::Refused),
            unmanaged: self.unmanaged.len(),
            api_calls,
            budget_per_minute: budget,
            estimated_seconds: estimate_seconds(api_calls as u64, u64::from(budget)),
        };
    }
}

/// The kinds the delete guard blocks in this plan (what `--allow-deletes` would have to name), in order.
pub fn blocked_kinds(plan: &Plan) -> Vec<String> {
    let mut kinds: Vec<String> = Vec::new();
    for reason in &plan.blocked {
        if let Some(kind) = reason.split("--allow-deletes ").nth(1).and_then(|rest| rest.split_whitespace().next()) {
            if !kinds.iter().any(|k| k == kind) {
                kinds.push(kind.to_string());
            }
        }
    }
    kinds
}

/// The JSON Schema of the plan file and `--format json` (checked in as `schemas/plan.schema.json`).
pub fn plan_schema() -> String {
    let schema = schemars::schema_for!(Plan);
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    s.push('\n');
    s
}

/// FNV-1a, 64 bits, as hex: a stable fingerprint (not a security boundary: it detects change, nothing more).
pub fn fingerprint(v: &Value) -> String {
    fingerprint_of(v)
}

/// [`fingerprint`] of anything serializable, hashed as its compact JSON is written (no string is built:
/// the same bytes as `to_string`, so the same fingerprint).
pub fn fingerprint_of(v: &impl Serialize) -> String {
    struct Fnv(u64);
    impl std::io::Write for Fnv {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            for b in buf {
                self.0 ^= u64::from(*b);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    let _ = serde_json::to_writer(&mut h, v);
    format!("{:016x}", h.0)
}
