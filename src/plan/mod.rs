//! The plan: what would change, field by field, and in which order. One model ([`Plan`]), rendered by
//! `render::{human, json, markdown}` and saved as the plan file.
//!
//! Flow: read live state with a [`ReadClient`] (one paged list per managed kind, single GETs only where the
//! list lacks managed fields) → canonicalise both sides (`resources::Managed`) → match by pinned id, else
//! natural key → per-field diff → kind rules (refusals, lifecycle, default agent, secret rotation) → order
//! (kinds in dependency order, deletes last and reversed) → delete guard.

mod build;
pub mod run;

pub use build::{build, fetch_lookups, live_fingerprint, manifest_digest, PlanError, PlanOptions, Target};

use crate::resources::Kind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The plan file and `--format json` version; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

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

impl Change {
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
            estimated_seconds: (api_calls as u64 * 60).div_ceil(u64::from(budget)),
        };
    }
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
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}
