//! `apply`: take the account's lease; a fresh plan, or a saved one checked against the manifests and the
//! account; rotations for secrets a dead run may have lost; refuse what may not run; confirm; execute
//! exactly that plan; verify; give the lease back. The command line only prompts and prints.

use super::connect::{connect, sandbox_seed, ConnectOptions};
use super::plan::{plan_error, recorded_paths};
use crate::api::WriteClient;
use crate::apply::lease::{self, LeaseOptions, LockTag};
use crate::apply::secrets::SecretSink;
use crate::apply::{check_saved, execute_plan, preflight, resolve_secrets, ApplyOptions, ApplyReport, Progress};
use crate::manifest::ManifestSet;
use crate::plan::recover::{recover_secrets, DeadRun};
use crate::plan::{build, manifest_digest, Plan, PlanOptions};
use crate::vars::Env;
use crate::{Error, ErrorKind};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct ApplyRequest {
    /// Manifest paths (for a saved plan: default to the ones it was made from).
    pub paths: Vec<PathBuf>,
    /// A saved plan (`skyform plan --out`).
    pub plan_file: Option<PathBuf>,
    pub connect: ConnectOptions,
    /// For a fresh plan.
    pub options: PlanOptions,
    pub apply: ApplyOptions,
    /// How long to wait for another run's lease (`--lock-timeout`).
    pub lock_timeout: Duration,
}

/// What happened: the plan applied (or found empty), and the report when anything ran.
pub struct Applied {
    pub plan: Plan,
    pub report: Option<ApplyReport>,
}

/// What the command line shows and asks while a run that writes goes on.
pub trait Ui: Sync {
    /// The plan, before confirmation.
    fn show(&self, plan: &Plan);
    /// Whether to go on (a prompt, or `--auto-approve`).
    fn confirm(&self, plan: &Plan) -> Result<bool, Error>;
    /// A change finished.
    fn progress(&self, p: Progress);
    /// Another run holds the lease: told once per holder while waiting.
    fn waiting(&self, holder: &LockTag);
}

/// A Ui that shows nothing and says yes: for tests and embedding.
pub struct Quiet;

impl Ui for Quiet {
    fn show(&self, _: &Plan) {}
    fn confirm(&self, _: &Plan) -> Result<bool, Error> {
        Ok(true)
    }
    fn progress(&self, _: Progress) {}
    fn waiting(&self, _: &LockTag) {}
}

/// An apply's exit code (README, "Exit codes"): the report's, or 3 when nothing ran but the plan had
/// refused changes.
pub fn exit_code(applied: &Applied) -> i32 {
    match &applied.report {
        Some(report) => report.exit_code(),
        None if applied.plan.summary.refused > 0 => ErrorKind::Blocked.exit_code(),
        None => 0,
    }
}

/// Reads a saved plan.
pub fn read_plan(path: &Path) -> Result<Plan, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot read the plan {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::new(ErrorKind::Input, format!("{} is not a skyform plan of this version: {e}", path.display()))
            .with_hint("save one with `skyform plan --out plan.json`")
    })
}

/// The manifest paths a saved plan records, resolved against the plan file's folder when relative.
fn saved_paths(plan: &Plan, plan_file: &Path) -> Vec<PathBuf> {
    let base = plan_file.parent().unwrap_or(Path::new("."));
    plan.paths.iter().map(|p| if Path::new(p).is_absolute() { PathBuf::from(p) } else { base.join(p) }).collect()
}

pub async fn run(req: &ApplyRequest, env: Env<'_>, ui: &dyn Ui) -> Result<Applied, Error> {
    let saved = req.plan_file.as_deref().map(read_plan).transpose()?;
    let paths = match (&saved, &req.plan_file) {
        (Some(plan), Some(file)) if req.paths.is_empty() && !plan.paths.is_empty() => saved_paths(plan, file),
        _ => super::paths_or_here(&req.paths),
    };
    let set = super::validate::validate(&paths, env)?;
    run_loaded(req, saved, &paths, &set, env, ui).await
}

/// [`run`] for manifests already loaded from `paths` (and a saved plan already read).
pub async fn run_loaded(
    req: &ApplyRequest,
    saved: Option<Plan>,
    paths: &[PathBuf],
    set: &ManifestSet,
    env: Env<'_>,
    ui: &dyn Ui,
) -> Result<Applied, Error> {
    let account = super::AccountEnv::new(set, env, req.connect.sandbox.is_some())?;
    let env: Env = &|name: &str| account.get(name);
    // The sink is opened (and a secrets file checked) before any request.
    let sink = req.apply.sink()?;
    let mut connect_opts = req.connect.clone();
    if connect_opts.sandbox.as_ref().is_some_and(|seed| seed.as_os_str().is_empty()) {
        connect_opts.sandbox = Some(sandbox_seed(paths));
    }
    let session = connect(&connect_opts, env).await?;
    let client = WriteClient::with_events(session.config.clone(), session.events.clone())?;
    let start = client.stats();

    // The plan is made and executed under the account's lease: no other apply writes meanwhile.
    let opts = LeaseOptions::for_this_run(env, req.lock_timeout, client.settle());
    let lease = lease::acquire(&client, &opts, &|t| ui.waiting(t)).await?;
    let dead: Vec<DeadRun> =
        lease.dead.iter().map(|t| DeadRun { run: t.run.clone(), since: t.since, until: t.until }).collect();
    let result = under_lease(req, env, ui, set, saved, paths, &client, sink, &dead).await;
    let unknown = matches!(&result, Ok(Applied { report: Some(r), .. }) if r.has_unknown());
    let released = lease.release(unknown).await;
    drop(session);
    let mut applied = result?;
    if let Some(report) = applied.report.as_mut() {
        // The summary counts the whole run (lease, plan reads, writes, verification): a 429 met while
        // reading the account spent the same budget as one met while writing.
        let end = client.stats();
        report.requests = end.requests - start.requests;
        report.throttled = end.throttled - start.throttled;
        if let Err(e) = released {
            report.notes.push(format!("the lease could not be given back ({e}); it expires by itself"));
        }
    }
    Ok(applied)
}

#[allow(clippy::too_many_arguments)]
async fn under_lease(
    req: &ApplyRequest,
    env: Env<'_>,
    ui: &dyn Ui,
    set: &ManifestSet,
    saved: Option<Plan>,
    paths: &[PathBuf],
    client: &WriteClient,
    sink: Option<SecretSink>,
    dead: &[DeadRun],
) -> Result<Applied, Error> {
    let mut plan = match saved {
        Some(plan) => {
            if manifest_digest(set) != plan.manifest_digest {
                return Err(Error::new(ErrorKind::Blocked, "the manifests changed since this plan was made")
                    .with_hint("re-run skyform plan and review the new plan; nothing was changed"));
            }
            check_saved(&plan, client).await?;
            plan
        }
        None => {
            let mut plan = build(set, client, &req.options).await.map_err(plan_error)?;
            plan.paths = recorded_paths(paths);
            plan
        }
    };
    recover_secrets(&mut plan, dead, client).await?;
    ui.show(&plan);
    if let (Some(file), false) = (&req.plan_file, plan.blocked.is_empty()) {
        // A saved plan is applied as it is: what unblocks it is a new plan made with the flag.
        let kinds = crate::plan::blocked_kinds(&plan).join(",");
        let mut words = vec!["plan".to_string()];
        words.extend(plan.paths.iter().cloned());
        words.extend(["--allow-deletes".into(), kinds, "--out".into(), file.display().to_string()]);
        return Err(Error::new(ErrorKind::Blocked, plan.blocked.join("\n"))
            .with_hint("nothing was changed; this saved plan was made without --allow-deletes: if those deletes are intended, make it again with")
            .with_suggest(words));
    }
    preflight(&plan, &req.apply)?;
    if !plan.has_changes() {
        return Ok(Applied { plan, report: None });
    }
    let secrets = resolve_secrets(&plan, env)?;
    if !ui.confirm(&plan)? {
        return Err(Error::new(ErrorKind::Refused, "apply cancelled; nothing was changed"));
    }
    let report = execute_plan(&plan, client, secrets, sink, &req.apply, &|p| ui.progress(p)).await?;
    Ok(Applied { plan, report: Some(report) })
}
