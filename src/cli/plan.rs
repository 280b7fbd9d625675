//! `skyform plan`: show what apply would change.

use super::Global;
use skyform::ops::plan::{run as plan, PlanRequest};
use skyform::render::{render, Format};
use skyform::resources::Kind;
use skyform::vars::process_env;
use skyform::{Error, ErrorKind, Result};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Manifest files or folders. Default: the current folder.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// `human` (a terminal), `markdown` (a pull-request comment, under 60,000 characters) or `json`
    /// (schemas/plan.schema.json).
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Also save the plan (JSON, with fingerprints, no secrets) for `skyform apply FILE`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Exit 0 when there is nothing to change, 2 when there is, 3 when some of it would be refused or
    /// blocked, 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Pull-request mode: also plan the manifests as they are at this git ref (e.g. origin/main), against
    /// the same read of the account, and show apart what this change makes and what is drift already there.
    #[arg(long, value_name = "REF")]
    base: Option<String>,
    #[command(flatten)]
    scope: super::Scope,
    #[command(flatten)]
    many: super::AccountsFlags,
    #[command(flatten)]
    sandbox: super::SandboxFlags,
    #[command(flatten)]
    pacing: super::Pacing,
    #[command(flatten)]
    cache: super::Cache,
    #[command(flatten)]
    pub global: Global,
}

pub fn parse_kind(s: &str) -> std::result::Result<Kind, String> {
    Kind::parse(s).ok_or_else(|| {
        let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown kind `{s}`: kinds are {}", kinds.join(", "))
    })
}

pub fn run(args: Args, global: &Global) -> Result<i32> {
    if let Some(root) = args.many.root(&args.paths)? {
        return run_accounts(args, root, global);
    }
    let request = PlanRequest {
        paths: args.paths,
        connect: {
            let mut c = args.sandbox.connect(&args.pacing, global);
            args.cache.apply(&mut c);
            c
        },
        options: args.scope.options(),
        base: args.base,
    };
    let json = args.format == Format::Json;
    let plan = match super::runtime()?.block_on(plan(&request, &process_env)) {
        Ok(plan) => plan,
        Err(e) => {
            super::report(&e, json);
            return Ok(e.exit_code());
        }
    };
    skyform::redact::to_stdout(&render(&plan, args.format, global.color_stdout()));
    if let Some(path) = &args.out {
        std::fs::write(path, skyform::redact::scrub(&skyform::render::json(&plan)).as_bytes())
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot write the plan to {}: {e}", path.display())))?;
        if !global.quiet {
            // The hint runs as printed: the same sandbox flags, and --auto-approve where nobody can answer.
            // A plan that captures a webhook secret needs a sink: the hint names a file beside the plan.
            let approve = if std::io::stdin().is_terminal() { "" } else { " --auto-approve" };
            let sink = if skyform::apply::needs_secrets_sink(&plan) {
                let file = path.with_file_name("secrets.json");
                format!(" --secrets-out {}", super::shell_quote(&file.display().to_string()))
            } else {
                String::new()
            };
            skyform::redact::to_stderr(&format!(
                "plan saved to {}; apply it with: skyform apply{}{approve}{sink} {}\n",
                path.display(),
                args.sandbox.as_args(),
                super::shell_quote(&path.display().to_string())
            ));
            let vars = skyform::apply::secret_vars(&plan);
            if !vars.is_empty() {
                skyform::redact::to_stderr(&format!(
                    "  (apply reads {} from the environment: the plan never holds a password)\n",
                    vars.join(", ")
                ));
            }
        }
    }
    // A plan that apply would refuse fails the check (exit 3), so a pull request cannot pass with a plan
    // that every deploy after it would fail.
    if !plan.blocked.is_empty() {
        let kinds = skyform::plan::blocked_kinds(&plan);
        let e = Error::new(ErrorKind::Blocked, plan.blocked.join("\n"))
            .with_hint("if those deletes are intended, run")
            .with_rerun(vec!["--allow-deletes".into(), kinds.join(",")]);
        if !json {
            super::report(&e, false);
        }
        return Ok(e.exit_code());
    }
    if plan.summary.refused > 0 {
        if !global.quiet && !json {
            skyform::redact::to_stderr(&format!(
                "skyform: {} refused change{} (see the plan): apply cannot do {}; exit {}\n",
                plan.summary.refused,
                if plan.summary.refused == 1 { "" } else { "s" },
                if plan.summary.refused == 1 { "it" } else { "them" },
                ErrorKind::Blocked.exit_code()
            ));
        }
        return Ok(ErrorKind::Blocked.exit_code());
    }
    Ok(if args.detailed_exitcode && plan.has_changes() { 2 } else { 0 })
}

/// `plan ACCOUNTS_FOLDER`: every account, one report; the exit code is the worst account's.
fn run_accounts(args: Args, root: PathBuf, global: &Global) -> Result<i32> {
    if args.out.is_some() || args.base.is_some() {
        return Err(Error::new(ErrorKind::Usage, "--out and --base take one account").with_hint(format!(
            "plan the account's own folder, e.g. `skyform plan {}/NAME --out plan.json`",
            root.display()
        )));
    }
    let request = skyform::ops::accounts::AccountsRequest {
        root,
        only: args.many.accounts.clone(),
        jobs: args.many.jobs,
        connect: {
            let mut c = args.sandbox.connect(&args.pacing, global);
            args.cache.apply(&mut c);
            c
        },
        options: args.scope.options(),
        apply: Default::default(),
        lock_timeout: std::time::Duration::ZERO,
    };
    let json = args.format == Format::Json;
    let report = match super::runtime()?.block_on(skyform::ops::accounts::plan_all(&request, &process_env)) {
        Ok(r) => r,
        Err(e) => {
            super::report(&e, json);
            return Ok(e.exit_code());
        }
    };
    let color = global.color_stdout();
    skyform::redact::to_stdout(&skyform::ops::accounts::report::plans(
        &report,
        args.format,
        color,
        args.detailed_exitcode,
    ));
    Ok(skyform::ops::accounts::report::plans_exit_code(&report, args.detailed_exitcode))
}
