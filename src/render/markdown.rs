//! The plan as a pull-request comment: a summary table, a `<details>` per kind with a table of fields per
//! change, long texts as `diff` blocks. Stays under [`LIMIT`] characters (GitHub's comment limit is 65,536):
//! past it, fields are dropped, then changes are counted instead of listed.

use super::ChangeTag;
use super::{diff_text, headline, is_long_text, kinds_in, sections, short_value, summary_line, symbol};
use crate::plan::{Change, Op, Plan};
use serde_json::Value;
use std::fmt::Write as _;

pub const LIMIT: usize = 60_000;

pub fn render(plan: &Plan) -> String {
    let full = build(plan, Detail::Full);
    if full.len() <= LIMIT {
        return full;
    }
    let brief = build(plan, Detail::Headlines);
    if brief.len() <= LIMIT {
        return brief;
    }
    build(plan, Detail::Counts)
}

#[derive(Clone, Copy, PartialEq)]
enum Detail {
    Full,
    Headlines,
    Counts,
}

fn build(plan: &Plan, detail: Detail) -> String {
    let s = &plan.summary;
    let mut out = String::from("### skyform plan\n\n");
    let _ = writeln!(out, "| create | update | delete | actions | refused | unmanaged |");
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} |\n",
        s.create, s.update, s.delete, s.action, s.refused, s.unmanaged
    );
    let _ = writeln!(out, "{}\n", summary_line(plan));
    for b in &plan.blocked {
        let _ = writeln!(out, "> **Blocked:** {b}\n");
    }
    for n in &plan.notes {
        let _ = writeln!(out, "> **Note:** {n}\n");
    }
    if detail != Detail::Full && !plan.changes.is_empty() {
        let _ = writeln!(out, "_The full plan is too long for a comment ({} changes); field details are left out. Run `skyform plan` for all of it._\n", plan.changes.len());
    }
    for (title, section) in sections(plan) {
        if let Some(t) = title {
            let _ = writeln!(out, "#### {}\n", escape(&t));
        }
        for kind in kinds_in(&section) {
            let changes: Vec<&Change> = section.iter().copied().filter(|c| c.kind == kind).collect();
            let _ = writeln!(out, "<details><summary><b>{}</b>: {}</summary>\n", kind.title(), counts(&changes));
            if detail == Detail::Counts {
                let _ = writeln!(out, "{} changes (too many to list here).\n", changes.len());
            } else {
                for c in &changes {
                    change(&mut out, c, detail == Detail::Full);
                }
            }
            let _ = writeln!(out, "</details>\n");
        }
    }
    if let Some(base) = plan.base.as_ref().filter(|b| !b.resolved.is_empty()) {
        let _ = writeln!(out, "#### Drift this pull request resolves\n\nThe manifests at the base would change these; with this pull request they match the account:\n");
        for r in base.resolved.iter().take(if detail == Detail::Counts { 0 } else { 500 }) {
            let _ = writeln!(out, "- {}", escape(r));
        }
        out.push('\n');
    }
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(out, "<details><summary><b>Unmanaged</b>: {} (left alone)</summary>\n", plan.unmanaged.len());
        for u in plan.unmanaged.iter().take(if detail == Detail::Counts { 0 } else { 500 }) {
            let _ = writeln!(out, "- {} `{}` (id {})", u.kind.singular(), escape(&u.key), u.id);
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    out
}

fn counts(changes: &[&Change]) -> String {
    let mut parts = Vec::new();
    for (op, word) in [
        (Op::Create, "create"),
        (Op::Update, "update"),
        (Op::Delete, "delete"),
        (Op::Action, "action"),
        (Op::Refused, "refused"),
    ] {
        let n = changes.iter().filter(|c| c.op == op).count();
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    parts.join(", ")
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'").replace('\n', " ")
}

fn change(out: &mut String, c: &Change, fields: bool) {
    let origin = c.origin.as_deref().map(|o| format!(" — `{o}`")).unwrap_or_default();
    let _ = writeln!(out, "**`{}`** {}{origin}\n", symbol(c.op), escape(&headline(c)));
    if let Some(r) = &c.reason {
        let _ = writeln!(out, "> {}\n", escape(r));
    }
    if !fields || c.fields.is_empty() {
        return;
    }
    let mut texts = Vec::new();
    let _ = writeln!(out, "| field | live | declared |\n|---|---|---|");
    for f in &c.fields {
        if f.sensitive {
            let _ = writeln!(out, "| `{}` | | _(sensitive)_ |", f.field);
        } else if is_long_text(f.old.as_ref()) || is_long_text(f.new.as_ref()) {
            let _ = writeln!(out, "| `{}` | _see diff below_ | |", f.field);
            texts.push(f);
        } else {
            let show =
                |v: &Option<Value>| v.as_ref().map_or(String::new(), |v| format!("`{}`", escape(&short_value(v))));
            let _ = writeln!(out, "| `{}` | {} | {} |", f.field, show(&f.old), show(&f.new));
        }
    }
    out.push('\n');
    for f in texts {
        let (old, new) = (diff_text(f.old.as_ref()), diff_text(f.new.as_ref()));
        let _ = writeln!(out, "`{}`:\n\n```diff", f.field);
        for line in super::line_diff(&old, &new) {
            let line = match line {
                None => "@@ ⋯ @@".to_string(),
                Some((ChangeTag::Delete, l)) => format!("-{l}"),
                Some((ChangeTag::Insert, l)) => format!("+{l}"),
                Some((ChangeTag::Equal, l)) => format!(" {l}"),
            };
            let _ = writeln!(out, "{}", line.replace("```", "'''"));
        }
        let _ = writeln!(out, "```\n");
    }
}
