//! The report of a run over many accounts: a section per account (its plan, or its apply report, or its
//! error) and a table of accounts with their counts, in human, Markdown and JSON form.

use super::{worst_exit_code, AccountsReport};
use crate::apply::Status;
use crate::ops::apply::Applied;
use crate::plan::Plan;
use crate::redact::escape_controls;
use crate::render::{human, markdown, safe, Format};
use serde_json::{json, Value};

/// One row of the accounts table.
struct Row {
    name: String,
    result: String,
    counts: Vec<usize>,
    exit_code: i32,
}

const PLAN_COLUMNS: [&str; 6] = ["create", "update", "delete", "action", "refused", "API calls"];
const APPLY_COLUMNS: [&str; 4] = ["done", "failed", "not started", "refused"];

fn plan_row(name: &str, plan: &Plan, detailed: bool) -> Row {
    let s = &plan.summary;
    let result = if !plan.blocked.is_empty() {
        "blocked (delete guard)".to_string()
    } else if s.refused > 0 {
        format!("{} refused", s.refused)
    } else if plan.has_changes() {
        format!("{} to change", s.create + s.update + s.delete + s.action)
    } else {
        "no changes".to_string()
    };
    Row {
        name: name.to_string(),
        result,
        counts: vec![s.create, s.update, s.delete, s.action, s.refused, s.api_calls],
        exit_code: crate::ops::plan::exit_code(plan, detailed),
    }
}

fn apply_row(name: &str, applied: &Applied) -> Row {
    let exit_code = crate::ops::apply::exit_code(applied);
    let Some(report) = &applied.report else {
        let result =
            if applied.plan.summary.refused > 0 { "nothing applied; refused changes" } else { "nothing to apply" };
        return Row {
            name: name.into(),
            result: result.into(),
            counts: vec![0, 0, 0, applied.plan.summary.refused],
            exit_code,
        };
    };
    let count = |f: &dyn Fn(&Status) -> bool| report.outcomes.iter().filter(|(_, s)| f(s)).count();
    let done = count(&|s| s.is_done());
    let failed = count(&|s| matches!(s, Status::Failed(_) | Status::Unknown(_)));
    let not_started = count(&|s| matches!(s, Status::NotStarted | Status::Skipped(_)));
    let refused = count(&|s| matches!(s, Status::Refused));
    let result = match (report.success(), report.interrupted.is_some()) {
        (_, true) => "interrupted".to_string(),
        (true, _) => "applied, converged".to_string(),
        (false, _) => "failed".to_string(),
    };
    Row { name: name.into(), result, counts: vec![done, failed, not_started, refused], exit_code }
}

fn error_row(name: &str, e: &crate::Error, columns: usize) -> Row {
    let message = escape_controls(&e.to_string()).into_owned();
    let short: String = message.chars().take(60).collect();
    let short = if short.len() < message.len() { format!("{short}…") } else { short };
    Row { name: name.into(), result: format!("error: {short}"), counts: vec![0; columns], exit_code: e.exit_code() }
}

fn table_text(rows: &[Row], columns: &[&str]) -> String {
    let name_w = rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(0).max("account".len());
    let result_w = rows.iter().map(|r| r.result.chars().count()).max().unwrap_or(0).max("result".len());
    let mut out = format!("{:<name_w$}  {:<result_w$}", "account", "result");
    for c in columns {
        out.push_str(&format!("  {c:>w$}", w = c.len().max(3)));
    }
    out.push_str("  exit\n");
    for r in rows {
        out.push_str(&format!("{:<name_w$}  {:<result_w$}", r.name, r.result));
        for (c, n) in columns.iter().zip(&r.counts) {
            out.push_str(&format!("  {n:>w$}", w = c.len().max(3)));
        }
        out.push_str(&format!("  {:>4}\n", r.exit_code));
    }
    out
}

fn table_markdown(rows: &[Row], columns: &[&str]) -> String {
    let mut out = format!("| account | result | {} | exit |\n", columns.join(" | "));
    out.push_str(&format!("|---|---|{}---:|\n", "---:|".repeat(columns.len())));
    for r in rows {
        let counts: Vec<String> = r.counts.iter().map(usize::to_string).collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            r.name.replace('`', "'").replace('|', "\\|"),
            r.result.replace('|', "\\|"),
            counts.join(" | "),
            r.exit_code
        ));
    }
    out
}

fn headline(report_len: usize, rows: &[Row], verb: &str) -> String {
    let failed = rows.iter().filter(|r| r.result.starts_with("error") || r.result == "failed").count();
    format!(
        "{report_len} account{}: {} {verb}, {failed} failed; exit {}",
        if report_len == 1 { "" } else { "s" },
        report_len - failed,
        worst_exit_code(rows.iter().map(|r| r.exit_code))
    )
}

/// The exit code of a plan run over accounts: the worst account's.
pub fn plans_exit_code(report: &AccountsReport<Plan>, detailed: bool) -> i32 {
    worst_exit_code(report.runs.iter().map(|r| match &r.result {
        Ok(p) => crate::ops::plan::exit_code(p, detailed),
        Err(e) => e.exit_code(),
    }))
}

/// The exit code of an apply run over accounts: the worst account's.
pub fn applies_exit_code(report: &AccountsReport<Applied>) -> i32 {
    worst_exit_code(report.runs.iter().map(|r| match &r.result {
        Ok(a) => crate::ops::apply::exit_code(a),
        Err(e) => e.exit_code(),
    }))
}

/// `plan ACCOUNTS_FOLDER` in one of the formats.
pub fn plans(report: &AccountsReport<Plan>, format: Format, color: bool, detailed: bool) -> String {
    let rows: Vec<Row> = report
        .runs
        .iter()
        .map(|r| match &r.result {
            Ok(p) => plan_row(&r.account.name, p, detailed),
            Err(e) => error_row(&r.account.name, e, PLAN_COLUMNS.len()),
        })
        .collect();
    let head = headline(rows.len(), &rows, "planned");
    match format {
        Format::Json => {
            let out = json_report(report, &rows, |r, _, v| {
                if let Ok(p) = &r.result {
                    v["plan"] = serde_json::to_value(p).unwrap_or(Value::Null);
                }
            });
            serde_json::to_string_pretty(&out).unwrap_or_default() + "\n"
        }
        Format::Human => {
            let mut out = String::new();
            for r in &report.runs {
                out.push_str(&format!("━━ {} ({})\n", r.account.name, r.account.dir.display()));
                match &r.result {
                    Ok(p) => out.push_str(&human::render(&safe(p), color)),
                    Err(e) => out.push_str(&e.render()),
                }
                out.push('\n');
            }
            out.push_str(&table_text(&rows, &PLAN_COLUMNS));
            out.push_str(&format!("\n{head}\n"));
            out
        }
        Format::Markdown => {
            let mut out = format!("### skyform plan: {} accounts\n\n", rows.len());
            out.push_str(&table_markdown(&rows, &PLAN_COLUMNS));
            out.push_str(&format!("\n{head}\n\n"));
            for r in &report.runs {
                out.push_str(&format!("<details><summary><code>{}</code></summary>\n\n", html(&r.account.name)));
                match &r.result {
                    Ok(p) => out.push_str(&markdown::render(&safe(p))),
                    Err(e) => out.push_str(&format!("```text\n{}\n```\n", e.render().replace("```", "'''"))),
                }
                out.push_str("\n</details>\n\n");
            }
            out
        }
    }
}

/// `apply ACCOUNTS_FOLDER`: each account's apply report, then the table.
pub fn applies(report: &AccountsReport<Applied>, format: Format) -> String {
    let rows: Vec<Row> = report
        .runs
        .iter()
        .map(|r| match &r.result {
            Ok(a) => apply_row(&r.account.name, a),
            Err(e) => error_row(&r.account.name, e, APPLY_COLUMNS.len()),
        })
        .collect();
    let head = headline(rows.len(), &rows, "applied");
    match format {
        Format::Json => {
            let out = json_report(report, &rows, |_, row, v| {
                v["result"] = json!(row.result);
                v["counts"] = APPLY_COLUMNS
                    .iter()
                    .zip(&row.counts)
                    .map(|(c, n)| (c.replace(' ', "_"), json!(n)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            });
            serde_json::to_string_pretty(&out).unwrap_or_default() + "\n"
        }
        Format::Human | Format::Markdown => {
            let mut out = String::new();
            for r in &report.runs {
                out.push_str(&format!("━━ {} ({})\n", r.account.name, r.account.dir.display()));
                match &r.result {
                    Ok(Applied { report: Some(rep), .. }) => out.push_str(&rep.render()),
                    Ok(Applied { report: None, .. }) => out.push_str("Nothing to apply.\n"),
                    Err(e) => out.push_str(&e.render()),
                }
                out.push('\n');
            }
            out.push_str(&table_text(&rows, &APPLY_COLUMNS));
            out.push_str(&format!("\n{head}\n"));
            out
        }
    }
}

/// `{"format_version": 1, "root", "accounts": [{name, path, exit_code, error?, ...}], "exit_code"}`, each
/// account's entry completed by `more`.
fn json_report<T>(
    report: &AccountsReport<T>,
    rows: &[Row],
    more: impl Fn(&super::AccountRun<T>, &Row, &mut Value),
) -> Value {
    let accounts: Vec<Value> = report
        .runs
        .iter()
        .zip(rows)
        .map(|(r, row)| {
            let mut v =
                json!({"name": r.account.name, "path": r.account.dir.display().to_string(), "exit_code": row.exit_code});
            if let Err(e) = &r.result {
                v["error"] = e.to_json()["error"].clone();
            }
            more(r, row, &mut v);
            v
        })
        .collect();
    json!({"format_version": 1, "root": report.root.display().to_string(), "accounts": accounts,
        "exit_code": worst_exit_code(rows.iter().map(|r| r.exit_code))})
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
