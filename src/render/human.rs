//! The plan for a terminal: grouped by kind, one line per change and per changed field, long texts as
//! line diffs, colour when asked for.

use super::ChangeTag;
use super::{diff_text, headline, is_long_text, kinds_in, sections, short_value, summary_line, symbol};
use crate::plan::{Change, FieldChange, Op, Plan};
use serde_json::Value;
use std::fmt::Write as _;

struct Paint(bool);

impl Paint {
    fn op(&self, op: Op, s: &str) -> String {
        let code = match op {
            Op::Create => "32",
            Op::Update => "33",
            Op::Delete => "31",
            Op::Action => "36",
            Op::Refused => "35;1",
        };
        self.code(code, s)
    }

    fn code(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn dim(&self, s: &str) -> String {
        self.code("2", s)
    }
}

pub fn render(plan: &Plan, color: bool) -> String {
    let p = Paint(color);
    let mut out = String::new();
    for (title, changes) in sections(plan) {
        if let Some(t) = title {
            let _ = writeln!(out, "{}", p.code("1;4", &t));
        }
        for kind in kinds_in(&changes) {
            let _ = writeln!(out, "{}", p.code("1", kind.title()));
            for c in changes.iter().filter(|c| c.kind == kind) {
                change(&mut out, c, &p);
            }
        }
    }
    if let Some(base) = plan.base.as_ref().filter(|b| !b.resolved.is_empty()) {
        let _ = writeln!(
            out,
            "{}",
            p.code(
                "1",
                "Drift this pull request resolves (the base would change these; now the manifests match the account)"
            )
        );
        for r in &base.resolved {
            let _ = writeln!(out, "  {}", p.dim(r));
        }
    }
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(out, "{}", p.code("1", "Unmanaged (in the account, not in the manifests; left alone)"));
        let mut kinds: Vec<_> = plan.unmanaged.iter().map(|u| u.kind).collect();
        kinds.dedup();
        for kind in kinds {
            let names: Vec<String> =
                plan.unmanaged.iter().filter(|u| u.kind == kind).map(|u| format!("{} (id {})", u.key, u.id)).collect();
            let _ = writeln!(out, "  {}: {} — {}", kind.as_str(), names.len(), names.join(", "));
        }
    }
    for b in &plan.blocked {
        let _ = writeln!(out, "{} {b}", p.op(Op::Refused, "blocked:"));
    }
    for n in &plan.notes {
        let _ = writeln!(out, "{} {n}", p.code("1", "note:"));
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{}", summary_line(plan));
    out
}

fn change(out: &mut String, c: &Change, p: &Paint) {
    let origin = c.origin.as_deref().map(|o| format!("  {}", p.dim(o))).unwrap_or_default();
    let _ = writeln!(out, "  {} {}{origin}", p.op(c.op, symbol(c.op)), p.op(c.op, &headline(c)));
    if let Some(reason) = &c.reason {
        let _ = writeln!(out, "      {}", if c.op == Op::Refused { p.op(Op::Refused, reason) } else { p.dim(reason) });
    }
    for f in &c.fields {
        field(out, f, c.op, p);
    }
}

fn field(out: &mut String, f: &FieldChange, op: Op, p: &Paint) {
    if f.sensitive {
        let _ = writeln!(out, "      {}: (sensitive)", f.field);
        return;
    }
    let (old, new) = (f.old.as_ref().filter(|v| !v.is_null()), f.new.as_ref());
    if op == Op::Create {
        match new {
            Some(Value::String(s)) if s.contains('\n') => {
                let _ = writeln!(out, "      {}:", f.field);
                for line in s.lines().take(6) {
                    let line = if line.chars().count() > 2 * super::CONTEXT {
                        format!("{}…", line.chars().take(2 * super::CONTEXT).collect::<String>())
                    } else {
                        line.to_string()
                    };
                    let _ = writeln!(out, "        {}", p.op(Op::Create, &line));
                }
                if s.lines().count() > 6 {
                    let _ = writeln!(out, "        {}", p.dim(&format!("… {} more lines", s.lines().count() - 6)));
                }
            }
            Some(v) => {
                let _ = writeln!(out, "      {}: {}", f.field, short_value(v));
            }
            None => {}
        }
        return;
    }
    if let (Some(Value::String(a)), Some(Value::String(b))) = (old, new) {
        if !a.contains('\n') && !b.contains('\n') && (a.chars().count() > 40 || b.chars().count() > 40) {
            let _ = writeln!(out, "      {}: {}", f.field, word_diff(a, b, p));
            return;
        }
    }
    if is_long_text(old) || is_long_text(new) {
        let (a, b) = (diff_text(old), diff_text(new));
        let _ = writeln!(out, "      {}:", f.field);
        text_diff(out, &a, &b, p);
        return;
    }
    let show = |v: Option<&Value>| v.map_or("null".to_string(), short_value);
    let _ = writeln!(out, "      {}: {} → {}", f.field, p.op(Op::Delete, &show(old)), p.op(Op::Create, &show(new)));
}

/// One line, the changed words marked: `[-old-]{+new+}` (coloured when colour is on), long unchanged text
/// cut to a window around each change.
fn word_diff(old: &str, new: &str, p: &Paint) -> String {
    let mut out = String::new();
    for (tag, v) in super::word_runs(old, new) {
        match tag {
            ChangeTag::Equal => out.push_str(&v),
            ChangeTag::Delete => out.push_str(&p.op(Op::Delete, &format!("[-{v}-]"))),
            ChangeTag::Insert => out.push_str(&p.op(Op::Create, &format!("{{+{v}+}}"))),
        }
    }
    out
}

/// A line diff with one line of context around each change, long lines clipped.
fn text_diff(out: &mut String, old: &str, new: &str, p: &Paint) {
    for line in super::line_diff(old, new) {
        let Some((tag, line)) = line else {
            let _ = writeln!(out, "        {}", p.dim("⋯"));
            continue;
        };
        let (sign, painted) = match tag {
            ChangeTag::Delete => (p.op(Op::Delete, "-"), p.op(Op::Delete, &line)),
            ChangeTag::Insert => (p.op(Op::Create, "+"), p.op(Op::Create, &line)),
            ChangeTag::Equal => (" ".to_string(), p.dim(&line)),
        };
        let _ = writeln!(out, "        {sign} {painted}");
    }
}
