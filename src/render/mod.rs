//! Renderers of one [`Plan`]: `human` (terminal), `json` (machines, `schemas/plan.schema.json`) and
//! `markdown` (pull-request comments), side by side over the same model.

pub mod human;
pub mod markdown;

use crate::plan::{Change, Op, Plan};
use crate::resources::Kind;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Markdown,
}

pub fn render(plan: &Plan, format: Format, color: bool) -> String {
    match format {
        Format::Human => human::render(plan, color),
        Format::Json => json(plan),
        Format::Markdown => markdown::render(plan),
    }
}

/// The plan as versioned JSON (`format_version`), the same document `--out` saves.
pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).expect("a plan serialises");
    s.push('\n');
    s
}

/// `create agent "Sales"`, `start campaign "Spring"`.
pub fn headline(c: &Change) -> String {
    let verb = match c.op {
        Op::Create => "create",
        Op::Update => "update",
        Op::Delete => "delete",
        Op::Action => c.action.as_deref().unwrap_or("action"),
        Op::Refused => "refused:",
    };
    let id = c.id.map(|id| format!(" (id {id})")).unwrap_or_default();
    format!("{verb} {} \"{}\"{id}", c.kind.singular(), c.key)
}

pub fn symbol(op: Op) -> &'static str {
    match op {
        Op::Create => "+",
        Op::Update => "~",
        Op::Delete => "-",
        Op::Action => ">",
        Op::Refused => "!",
    }
}

/// A value on one line: strings quoted, the rest as compact JSON, long ones cut.
pub fn short_value(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(119).collect::<String>())
    } else {
        s
    }
}

/// A value long enough to be shown as a diff of lines rather than old → new.
pub fn is_long_text(v: Option<&Value>) -> bool {
    match v {
        Some(Value::String(s)) => s.contains('\n') || s.chars().count() > 80,
        Some(v @ (Value::Array(_) | Value::Object(_))) => v.to_string().chars().count() > 80,
        _ => false,
    }
}

/// A value as lines for a diff: text as is, structures pretty-printed; always ending in a newline so the
/// last lines of two texts compare equal when only a line was added after them.
pub fn diff_text(v: Option<&Value>) -> String {
    let mut s = match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// The kinds that have changes, in plan order of kinds (deletes are shown with their kind).
pub fn kinds_of(plan: &Plan) -> Vec<Kind> {
    Kind::ALL.iter().copied().filter(|k| plan.changes.iter().any(|c| c.kind == *k)).collect()
}

/// `2 to create, 5 to update, ...` and the cost line.
pub fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    if plan.changes.is_empty() {
        return "No changes: the account matches the manifests.".to_string();
    }
    if !plan.has_changes() {
        return format!(
            "No changes to apply; {} refused (see above): the manifests ask for something the API cannot do.",
            s.refused
        );
    }
    let mut parts = Vec::new();
    for (n, what) in [(s.create, "to create"), (s.update, "to update"), (s.delete, "to delete")] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if s.action > 0 {
        parts.push(format!("{} action{}", s.action, if s.action == 1 { "" } else { "s" }));
    }
    if s.refused > 0 {
        parts.push(format!("{} refused", s.refused));
    }
    format!(
        "Plan: {}. {} API call{}, about {} at {} requests/min.",
        parts.join(", "),
        s.api_calls,
        if s.api_calls == 1 { "" } else { "s" },
        duration(s.estimated_seconds),
        s.budget_per_minute
    )
}

fn duration(secs: u64) -> String {
    if secs < 60 {
        format!("{secs} s")
    } else {
        format!("{} min {} s", secs / 60, secs % 60)
    }
}
