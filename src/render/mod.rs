//! Renderers of one [`Plan`]: `human` (terminal), `json` (machines, `schemas/plan.schema.json`) and
//! `markdown` (pull-request comments), side by side over the same model.
//!
//! Text from the manifests and the account reaches a reviewer's terminal and a pull request: its control
//! characters (C0, C1, a lone CR) and bidirectional overrides are escaped at one point, [`safe`], before the
//! human and Markdown renderers see the plan. JSON keeps the exact values. Long texts are shown as bounded
//! windows around each change ([`word_runs`], [`line_diff`]), so a one-word change in a 900 KB prompt is a
//! few lines, not the prompt.

pub mod human;
pub mod markdown;

use crate::plan::{Change, Op, Plan};
use crate::resources::Kind;
use serde_json::Value;
pub use similar::ChangeTag;
use similar::TextDiff;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Markdown,
}

pub fn render(plan: &Plan, format: Format, color: bool) -> String {
    match format {
        Format::Human => human::render(&safe(plan), color),
        Format::Json => json(plan),
        Format::Markdown => markdown::render(&safe(plan)),
    }
}

/// The plan with every text from the manifests or the account escaped for a terminal or a Markdown
/// comment (line breaks kept inside values, whose lines are shown as lines).
pub fn safe(plan: &Plan) -> Plan {
    use crate::redact::{escape_controls as one_line, escape_lines};
    fn value(v: &Value) -> Value {
        // A reference to an object this plan creates reads as what it is.
        if let Some((kind, key)) = crate::resources::as_reference(v) {
            return Value::String(format!("(the new {} {})", kind.singular(), one_line(&key)));
        }
        match v {
            Value::String(s) => Value::String(escape_lines(s).into_owned()),
            Value::Array(a) => Value::Array(a.iter().map(value).collect()),
            Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (one_line(k).into_owned(), value(v))).collect()),
            other => other.clone(),
        }
    }
    let text = |s: &String| one_line(s).into_owned();
    let mut p = plan.clone();
    for c in &mut p.changes {
        c.key = text(&c.key);
        c.reason = c.reason.as_ref().map(|r| escape_lines(r).into_owned());
        c.origin = c.origin.as_ref().map(text);
        for f in &mut c.fields {
            f.old = f.old.as_ref().map(value);
            f.new = f.new.as_ref().map(value);
        }
    }
    for u in &mut p.unmanaged {
        u.key = text(&u.key);
    }
    p.notes = p.notes.iter().map(|n| escape_lines(n).into_owned()).collect();
    p.blocked = p.blocked.iter().map(|b| escape_lines(b).into_owned()).collect();
    p
}

/// Characters of context kept on each side of a change in a long line.
pub const CONTEXT: usize = 80;

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn first(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn last(s: &str, n: usize) -> String {
    let len = chars(s);
    s.chars().skip(len.saturating_sub(n)).collect()
}

/// A word diff of two one-line texts as runs of (kind of change, text), bounded: unchanged text keeps
/// [`CONTEXT`] characters next to each change and is cut with `…` beyond; a changed run longer than four
/// times that is cut too, saying how much was left out.
pub fn word_runs(old: &str, new: &str) -> Vec<(ChangeTag, String)> {
    let diff = TextDiff::configure().timeout(std::time::Duration::from_secs(2)).diff_words(old, new);
    let mut runs: Vec<(ChangeTag, String)> = Vec::new();
    for change in diff.iter_all_changes() {
        match runs.last_mut() {
            Some((tag, text)) if *tag == change.tag() => text.push_str(change.value()),
            _ => runs.push((change.tag(), change.value().to_string())),
        }
    }
    let n = runs.len();
    runs.into_iter()
        .enumerate()
        .map(|(i, (tag, text))| {
            let len = chars(&text);
            let text = match tag {
                ChangeTag::Equal if i == 0 && n > 1 && len > CONTEXT => format!("…{}", last(&text, CONTEXT)),
                ChangeTag::Equal if i + 1 == n && n > 1 && len > CONTEXT => format!("{}…", first(&text, CONTEXT)),
                ChangeTag::Equal if len > 2 * CONTEXT + 3 => {
                    format!("{} … {}", first(&text, CONTEXT), last(&text, CONTEXT))
                }
                ChangeTag::Insert | ChangeTag::Delete if len > 4 * CONTEXT => {
                    format!("{}… ({} more characters)", first(&text, 4 * CONTEXT), len - 4 * CONTEXT)
                }
                _ => text,
            };
            (tag, text)
        })
        .collect()
}

/// Clips a changed line and its counterpart to a window around where they differ.
fn clip_pair(old: &str, new: &str) -> (String, String) {
    let (a, b): (Vec<char>, Vec<char>) = (old.chars().collect(), new.chars().collect());
    if a.len().max(b.len()) <= 2 * CONTEXT + 40 {
        return (old.to_string(), new.to_string());
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix =
        a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count().min(a.len().min(b.len()) - prefix);
    let clip = |s: &[char]| {
        let start = prefix.saturating_sub(CONTEXT);
        let end = (s.len() - suffix + CONTEXT).min(s.len());
        let middle: String = s[start..end].iter().collect();
        let middle = if chars(&middle) > 6 * CONTEXT {
            format!("{}… ({} more characters)", first(&middle, 6 * CONTEXT), chars(&middle) - 6 * CONTEXT)
        } else {
            middle
        };
        format!("{}{middle}{}", if start > 0 { "…" } else { "" }, if end < s.len() { "…" } else { "" })
    };
    (clip(&a), clip(&b))
}

/// A line that is shown whole only when it is short.
fn clip_line(line: &str) -> String {
    if chars(line) > 2 * CONTEXT + 40 {
        format!("{}… ({} more characters)", first(line, 2 * CONTEXT), chars(line) - 2 * CONTEXT)
    } else {
        line.to_string()
    }
}

/// A line diff of two texts with one line of context around each change, groups of changes separated by
/// `None`; long lines are clipped (a changed line to a window around its change, paired with the line it
/// replaces).
pub fn line_diff(old: &str, new: &str) -> Vec<Option<(ChangeTag, String)>> {
    let diff = TextDiff::configure().timeout(std::time::Duration::from_secs(2)).diff_lines(old, new);
    let mut out = Vec::new();
    for (g, group) in diff.grouped_ops(1).into_iter().enumerate() {
        if g > 0 {
            out.push(None);
        }
        for op in group {
            let changes: Vec<(ChangeTag, String)> =
                diff.iter_changes(&op).map(|c| (c.tag(), c.value().trim_end_matches('\n').to_string())).collect();
            let deleted: Vec<&String> =
                changes.iter().filter(|(t, _)| *t == ChangeTag::Delete).map(|(_, l)| l).collect();
            let inserted: Vec<&String> =
                changes.iter().filter(|(t, _)| *t == ChangeTag::Insert).map(|(_, l)| l).collect();
            if deleted.len() == inserted.len() && !deleted.is_empty() {
                // A replaced block: each old line clipped against the new line that replaces it.
                let pairs: Vec<(String, String)> =
                    deleted.iter().zip(&inserted).map(|(a, b)| clip_pair(a, b)).collect();
                out.extend(pairs.iter().map(|(a, _)| Some((ChangeTag::Delete, a.clone()))));
                out.extend(pairs.into_iter().map(|(_, b)| Some((ChangeTag::Insert, b))));
            } else {
                out.extend(changes.into_iter().map(|(t, l)| Some((t, clip_line(&l)))));
            }
        }
    }
    out
}

/// The plan as versioned JSON (`format_version`), the same document `--out` saves.
pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).expect("a plan serialises");
    s.push('\n');
    s
}

/// `create agent "Sales"`, `start campaign "Spring"` (the key's control characters escaped).
pub fn headline(c: &Change) -> String {
    c.headline()
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
    kinds_in(&plan.changes.iter().collect::<Vec<_>>())
}

/// The kinds among `changes`, in plan order of kinds.
pub fn kinds_in(changes: &[&Change]) -> Vec<Kind> {
    Kind::ALL.iter().copied().filter(|k| changes.iter().any(|c| c.kind == *k)).collect()
}

/// How a plan's changes are shown: one untitled section, or with `plan --base` the pull request's changes
/// then the drift already present at the base, each titled (an empty pull-request section says so).
pub fn sections(plan: &Plan) -> Vec<(Option<String>, Vec<&Change>)> {
    let Some(base) = &plan.base else {
        return vec![(None, plan.changes.iter().collect())];
    };
    let short: String = base.commit.chars().take(12).collect();
    let pr: Vec<&Change> = plan.changes.iter().filter(|c| !c.drift).collect();
    let drift: Vec<&Change> = plan.changes.iter().filter(|c| c.drift).collect();
    let mut out = vec![(
        Some(if pr.is_empty() {
            "This pull request: no changes to the account".to_string()
        } else {
            format!("This pull request: {} change{}", pr.len(), if pr.len() == 1 { "" } else { "s" })
        }),
        pr,
    )];
    if !drift.is_empty() {
        out.push((
            Some(format!(
                "Drift: {} change{} the manifests at {} ({short}) plan too: the account drifted before this pull request",
                drift.len(),
                if drift.len() == 1 { "" } else { "s" },
                crate::redact::escape_controls(&base.git_ref)
            )),
            drift,
        ));
    }
    out
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
    let split = plan
        .base
        .as_ref()
        .map(|b| format!(" ({} from this pull request, {} drift)", b.pull_request, b.drift))
        .unwrap_or_default();
    // Within one minute's budget the pacer does not hold anything back: say so, not "at N/min".
    let pace = if s.api_calls as u64 <= u64::from(s.budget_per_minute) {
        format!("within the budget of {} requests/min", s.budget_per_minute)
    } else {
        format!("at {} requests/min", s.budget_per_minute)
    };
    format!(
        "Plan: {}{split}. {} API call{}, about {} {pace}.",
        parts.join(", "),
        s.api_calls,
        if s.api_calls == 1 { "" } else { "s" },
        duration(s.estimated_seconds.max(1)),
    )
}

fn duration(secs: u64) -> String {
    if secs < 60 {
        format!("{secs} s")
    } else {
        format!("{} min {} s", secs / 60, secs % 60)
    }
}
