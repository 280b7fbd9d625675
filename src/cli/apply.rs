//! `skyform apply`: plan, confirm, execute, verify.

use super::Global;
use skyform::apply::{ApplyOptions, Progress, Status};
use skyform::ops::apply::{run as apply, ApplyRequest};
use skyform::render::{render, symbol, Format};
use skyform::vars::process_env;
use skyform::{Error, ErrorKind, Result};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Manifest files or folders, or one saved plan (`plan.json` from `skyform plan --out`).
    #[arg(value_name = "PATH|PLAN")]
    paths: Vec<PathBuf>,
    /// Do not ask for confirmation (needed when stdin is not a terminal, as in CD pipelines).
    #[arg(long)]
    auto_approve: bool,
    /// After a failure, go on with the changes that do not depend on it.
    #[arg(long)]
    keep_going: bool,
    /// Write webhook secrets (shown by the API only at create and rotation) to this file, mode 0600.
    #[arg(long, value_name = "FILE")]
    secrets_out: Option<PathBuf>,
    #[command(flatten)]
    scope: super::Scope,
    #[command(flatten)]
    sandbox: super::SandboxFlags,
    #[command(flatten)]
    pacing: super::Pacing,
}

fn is_plan_file(p: &std::path::Path) -> bool {
    p.is_file() && p.extension().and_then(|e| e.to_str()) == Some("json")
}

pub fn run(args: Args, global: &Global) -> Result<i32> {
    let plan_file = match args.paths.as_slice() {
        [one] if is_plan_file(one) => Some(one.clone()),
        _ => None,
    };
    if plan_file.is_some() && !args.scope.target.is_empty() {
        return Err(Error::new(ErrorKind::Usage, "--target narrows a new plan; a saved plan is applied whole")
            .with_hint("make the saved plan with --target instead"));
    }
    let request = ApplyRequest {
        paths: if plan_file.is_some() { Vec::new() } else { args.paths },
        plan_file,
        connect: args.sandbox.connect(&args.pacing, global),
        options: args.scope.options(),
        apply: ApplyOptions { keep_going: args.keep_going, secrets_out: args.secrets_out },
    };
    let color = global.color_stdout();
    let quiet = global.quiet;
    let auto = args.auto_approve;
    let show = |plan: &skyform::plan::Plan| skyform::redact::to_stdout(&render(plan, Format::Human, color));
    let confirm = |plan: &skyform::plan::Plan| -> Result<bool> {
        if auto {
            return Ok(true);
        }
        if !std::io::stdin().is_terminal() {
            return Err(Error::new(
                ErrorKind::Refused,
                "refusing to apply without confirmation: stdin is not a terminal",
            )
            .with_hint("review the plan above, then pass --auto-approve (as CD pipelines do)"));
        }
        skyform::redact::to_stderr(&format!(
            "\nApply these {} changes? Only `yes` is accepted: ",
            plan.summary.api_calls
        ));
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
        Ok(answer.trim() == "yes")
    };
    let bar = std::io::stderr().is_terminal();
    let progress = move |p: Progress| {
        if quiet {
            return;
        }
        let Progress::Finished { done, total, change, status, secs } = p;
        let state = match status {
            Status::Done => "done",
            Status::Failed(_) => "FAILED",
            _ => "-",
        };
        let line = format!("{state:<6} {} {} ({secs:.1} s)", symbol(change.op), skyform::render::headline(change));
        if bar {
            // One line redrawn in place: a bar, the count and the latest change; failures stay on screen.
            let width = 24;
            let filled = done * width / total.max(1);
            let end = if done == total { "\n" } else { "" };
            if matches!(status, Status::Failed(_)) {
                skyform::redact::to_stderr(&format!("\r\x1b[2K{line}\n"));
            }
            skyform::redact::to_stderr(&format!(
                "\r\x1b[2K[{}{}] {done}/{total} {line}{end}",
                "#".repeat(filled),
                " ".repeat(width - filled)
            ));
        } else {
            skyform::redact::to_stderr(&format!("[{done}/{total}] {line}\n"));
        }
    };
    let applied = super::runtime()?.block_on(apply(&request, &process_env, &show, &confirm, &progress))?;
    // 1 when something failed or did not converge; else 3 when the plan had refused changes; else 0.
    let blocked = skyform::ErrorKind::Blocked.exit_code();
    match applied.report {
        None => {
            let refused = applied.plan.summary.refused;
            skyform::redact::to_stdout("Nothing to apply.\n");
            Ok(if refused > 0 { blocked } else { 0 })
        }
        Some(report) => {
            skyform::redact::to_stdout(&format!("\n{}", report.render()));
            let failed = report.outcomes.iter().any(|(_, s)| !matches!(s, Status::Done | Status::Refused));
            Ok(if failed || !report.not_converged.is_empty() {
                1
            } else if applied.plan.summary.refused > 0 {
                blocked
            } else {
                0
            })
        }
    }
}
