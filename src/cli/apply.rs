//! `skyform apply`: take the lease, plan, confirm, execute, verify; and the terminal side shared with
//! `skyform rotate` (showing the plan, asking, progress, the summary).

use super::Global;
use skyform::apply::lease::LockTag;
use skyform::apply::{ApplyOptions, Progress, Status};
use skyform::ops::apply::{run as apply, Applied, ApplyRequest, Ui};
use skyform::render::{render, symbol, Format};
use skyform::vars::process_env;
use skyform::{Error, ErrorKind, Result};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

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
    #[command(flatten)]
    scope: super::Scope,
    #[command(flatten)]
    many: super::AccountsFlags,
    #[command(flatten)]
    cd: Cd,
    #[command(flatten)]
    sandbox: super::SandboxFlags,
    #[command(flatten)]
    pacing: super::Pacing,
    #[command(flatten)]
    cache: super::Cache,
    #[command(flatten)]
    settle: super::Settle,
    #[command(flatten)]
    pub global: Global,
}

/// What a run that writes needs in CD: where secrets go, and the lease.
#[derive(clap::Args, Clone)]
pub struct Cd {
    /// Write captured secrets (webhook signing secrets, shown by the API only at create and rotation) to
    /// this JSON file, mode 0600; several applies may share it.
    #[arg(long, value_name = "FILE")]
    pub secrets_out: Option<PathBuf>,
    /// Pipe each captured secret to this command's stdin (`sh -c CMD`), e.g. `gh secret set "CRM_$SKYFORM_WEBHOOK_NAME"`;
    /// the object's name and id are in SKYFORM_WEBHOOK_NAME and SKYFORM_WEBHOOK_ID, never on the command line.
    #[arg(long, value_name = "CMD", conflicts_with = "secrets_out")]
    pub secrets_cmd: Option<String>,
    /// Seconds to wait for another apply's lease on the account before giving up.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub lock_timeout: u64,
}

impl Cd {
    pub fn apply_options(&self, keep_going: bool) -> ApplyOptions {
        ApplyOptions {
            keep_going,
            secrets_out: self.secrets_out.clone(),
            secrets_cmd: self.secrets_cmd.clone(),
            account: None,
            connection: super::connection_args(),
        }
    }
}

impl Args {
    /// Where and how the run connects, stopped by SIGINT/SIGTERM.
    fn connection(&self, runtime: &tokio::runtime::Runtime, global: &Global) -> skyform::ops::connect::ConnectOptions {
        let mut connect = self.sandbox.connect(&self.pacing, global);
        self.cache.apply(&mut connect);
        self.settle.apply(&mut connect);
        connect.cancel = super::cancel_on_signals(runtime, global.quiet);
        connect
    }
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
    if plan_file.is_none() {
        if let Some(root) = args.many.root(&args.paths)? {
            return run_accounts(args, root, global);
        }
    }
    let runtime = super::runtime()?;
    let connect = args.connection(&runtime, global);
    let request = ApplyRequest {
        paths: if plan_file.is_some() { Vec::new() } else { args.paths },
        plan_file,
        connect,
        options: args.scope.options(),
        apply: args.cd.apply_options(args.keep_going),
        lock_timeout: Duration::from_secs(args.cd.lock_timeout),
    };
    let term = Terminal { global: global.clone(), auto_approve: args.auto_approve, verb: "Apply" };
    let applied = runtime.block_on(apply(&request, &process_env, &term));
    term.finish(applied)
}

/// `apply ACCOUNTS_FOLDER`: every account under its own lease, with --auto-approve (a run over many
/// accounts cannot stop to ask); the exit code is the worst account's.
fn run_accounts(args: Args, root: PathBuf, global: &Global) -> Result<i32> {
    if !args.auto_approve {
        return Err(Error::new(ErrorKind::Refused, "applying an accounts folder needs --auto-approve").with_hint(
            format!(
                "review `skyform plan {}` first (in the pull request), then run apply with --auto-approve",
                root.display()
            ),
        ));
    }
    let runtime = super::runtime()?;
    let connect = args.connection(&runtime, global);
    let request = skyform::ops::accounts::AccountsRequest {
        root,
        only: args.many.accounts.clone(),
        jobs: args.many.jobs,
        connect,
        options: args.scope.options(),
        apply: args.cd.apply_options(args.keep_going),
        lock_timeout: Duration::from_secs(args.cd.lock_timeout),
    };
    let quiet = global.quiet;
    let ui = move |name: &str| -> Box<dyn Ui> { Box::new(AccountLines { name: name.to_string(), quiet }) };
    let report = runtime.block_on(skyform::ops::accounts::apply_all(&request, &process_env, &ui))?;
    skyform::redact::to_stdout(&skyform::ops::accounts::report::applies(&report, Format::Human));
    Ok(skyform::ops::accounts::report::applies_exit_code(&report))
}

/// Progress of one account in a run over many: one line per finished change, prefixed by the account.
struct AccountLines {
    name: String,
    quiet: bool,
}

impl Ui for AccountLines {
    fn show(&self, _: &skyform::plan::Plan) {}
    fn confirm(&self, _: &skyform::plan::Plan) -> Result<bool> {
        Ok(true)
    }
    fn waiting(&self, holder: &LockTag) {
        if !self.quiet {
            skyform::redact::to_stderr(&format!(
                "[{}] waiting for the account's lease, held by {}\n",
                skyform::redact::escape_controls(&self.name),
                skyform::redact::escape_controls(&holder.describe())
            ));
        }
    }
    fn progress(&self, p: Progress) {
        if self.quiet {
            return;
        }
        let Progress::Finished { done, total, change, status, secs } = p;
        let state = state_word(status);
        skyform::redact::to_stderr(&format!(
            "[{}] [{done}/{total}] {state} {} {} ({secs:.1} s)\n",
            skyform::redact::escape_controls(&self.name),
            symbol(change.op),
            skyform::render::headline(change)
        ));
    }
}

/// A finished change's state, as progress lines show it.
fn state_word(status: &Status) -> &'static str {
    match status {
        Status::Done => "done",
        Status::AlreadyDone(_) => "ready",
        Status::Failed(_) => "FAILED",
        Status::Unknown(_) => "UNSURE",
        _ => "-",
    }
}

/// The terminal side of a run that writes.
pub struct Terminal {
    pub global: Global,
    pub auto_approve: bool,
    /// `Apply`, `Rotate`: for the question.
    pub verb: &'static str,
}

impl Terminal {
    /// The summary, and the exit code (see the README's table).
    pub fn finish(&self, applied: Result<Applied>) -> Result<i32> {
        let applied = applied?;
        match &applied.report {
            None => {
                skyform::redact::to_stdout("Nothing to apply.\n");
            }
            Some(report) => {
                skyform::redact::to_stdout(&format!("\n{}", report.render()));
            }
        }
        Ok(skyform::ops::apply::exit_code(&applied))
    }
}

impl Ui for Terminal {
    fn show(&self, plan: &skyform::plan::Plan) {
        skyform::redact::to_stdout(&render(plan, Format::Human, self.global.color_stdout()));
    }

    fn confirm(&self, plan: &skyform::plan::Plan) -> Result<bool> {
        if self.auto_approve {
            return Ok(true);
        }
        if !std::io::stdin().is_terminal() {
            return Err(Error::new(
                ErrorKind::Refused,
                format!("refusing to {} without confirmation: stdin is not a terminal", self.verb.to_lowercase()),
            )
            .with_hint("review the plan above, then pass --auto-approve (as CD pipelines do)"));
        }
        skyform::redact::to_stderr(&format!(
            "\n{} these {} changes? Only `yes` is accepted: ",
            self.verb, plan.summary.api_calls
        ));
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
        Ok(answer.trim() == "yes")
    }

    fn waiting(&self, holder: &LockTag) {
        if !self.global.quiet {
            skyform::redact::to_stderr(&format!(
                "skyform: waiting for the account's lease, held by {}\n",
                skyform::redact::escape_controls(&holder.describe())
            ));
        }
    }

    fn progress(&self, p: Progress) {
        if self.global.quiet {
            return;
        }
        let Progress::Finished { done, total, change, status, secs } = p;
        let state = state_word(status);
        let line = format!("{state:<6} {} {} ({secs:.1} s)", symbol(change.op), skyform::render::headline(change));
        if std::io::stderr().is_terminal() {
            // One line redrawn in place: a bar, the count and the latest change; failures stay on screen.
            let width = 24;
            let filled = done * width / total.max(1);
            let end = if done == total { "\n" } else { "" };
            if matches!(status, Status::Failed(_) | Status::Unknown(_)) {
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
    }
}
