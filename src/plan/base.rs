//! `plan --base REF`: which changes a pull request makes, and which are drift already present at its base.
//! Both manifest sets are planned against one read of the account (a remembering `ReadClient`); a change
//! the base's plan has too, identical, is drift; a change only the head has is the pull request's.

use super::{Change, FieldChange, Op, Plan};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The split, as the plan carries it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct BaseSplit {
    /// The git ref given, e.g. `origin/main`.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The commit it named (full hash).
    pub commit: String,
    /// Changes this pull request makes (not planned at the base).
    pub pull_request: usize,
    /// Changes already planned at the base: the account drifted from the base's manifests.
    pub drift: usize,
    /// What the base would change that this plan does not: drift this pull request resolves by matching
    /// the account (headlines, e.g. `update agent "Sales" (id 3)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<String>,
}

/// What makes two changes the same: what they do to which object, not where they are declared.
fn signature(c: &Change) -> Value {
    let fields: Vec<Value> =
        c.fields.iter().map(|f: &FieldChange| serde_json::json!([f.field, f.old, f.new])).collect();
    serde_json::json!([c.kind, c.key, c.op, c.action, fields])
}

/// Marks the head plan's changes that the base plan has too as drift, and records the split. `base` is
/// None when the base's manifests did not exist or did not load (then every change is the pull request's;
/// `note` says why).
pub fn split(head: &mut Plan, base: Option<&Plan>, git_ref: &str, commit: &str, note: Option<String>) {
    let base_sigs: Vec<_> = base.map(|b| b.changes.iter().map(signature).collect()).unwrap_or_default();
    let mut used = vec![false; base_sigs.len()];
    for c in &mut head.changes {
        let sig = signature(c);
        if let Some(i) = (0..base_sigs.len()).find(|&i| !used[i] && base_sigs[i] == sig) {
            used[i] = true;
            c.drift = true;
        }
    }
    let resolved = base
        .map(|b| {
            b.changes
                .iter()
                .zip(&used)
                .filter(|(c, used)| !**used && c.op != Op::Refused)
                .map(|(c, _)| c.headline())
                .collect()
        })
        .unwrap_or_default();
    let drift = head.changes.iter().filter(|c| c.drift).count();
    head.base = Some(BaseSplit {
        git_ref: git_ref.to_string(),
        commit: commit.to_string(),
        pull_request: head.changes.len() - drift,
        drift,
        resolved,
    });
    if let Some(n) = note {
        head.notes.push(n);
    }
}
