//! `plan`: load the manifests, connect, build the plan, and say whether an apply holds the account's lease.
//! The command line renders it.

use super::connect::{connect, sandbox_seed, ConnectOptions};
use crate::api::ReadClient;
use crate::apply::lease::lock_tags;
use crate::plan::{build, Plan, PlanError, PlanOptions};
use crate::vars::Env;
use crate::Error;
use std::path::{Path, PathBuf};

/// Everything `skyform plan` was asked.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    pub paths: Vec<PathBuf>,
    pub connect: ConnectOptions,
    pub options: PlanOptions,
    /// `--base REF`: split this plan into the pull request's changes and drift present at REF.
    pub base: Option<String>,
}

/// Turns a plan engine error into the one error type.
pub fn plan_error(e: PlanError) -> Error {
    match e {
        PlanError::Problems(p) => Error::problems(p),
        PlanError::Api(e) => e.into(),
    }
}

/// A plan's exit code (README, "Exit codes"): 3 when apply would refuse some of it or the delete guard
/// blocks it, 2 for changes with `--detailed-exitcode`, else 0.
pub fn exit_code(plan: &Plan, detailed: bool) -> i32 {
    if !plan.blocked.is_empty() || plan.summary.refused > 0 {
        crate::ErrorKind::Blocked.exit_code()
    } else if detailed && plan.has_changes() {
        2
    } else {
        0
    }
}

/// Paths as a plan file records them: absolute, so the plan applies from any folder.
pub fn recorded_paths(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()).display().to_string()).collect()
}

pub async fn run(req: &PlanRequest, env: Env<'_>) -> Result<Plan, Error> {
    let paths = super::paths_or_here(&req.paths);
    let set = super::validate::validate(&paths, env)?;
    run_loaded(req, &paths, &set, env).await
}

/// [`run`] for manifests already loaded from `paths` (an accounts run loads every account first).
pub async fn run_loaded(
    req: &PlanRequest,
    paths: &[PathBuf],
    set: &crate::manifest::ManifestSet,
    env: Env<'_>,
) -> Result<Plan, Error> {
    let account = super::AccountEnv::new(set, env, req.connect.sandbox.is_some())?;
    let env: Env = &|name: &str| account.get(name);
    // The base is read first: a ref that names nothing fails before the account is read.
    let checkout = req.base.as_ref().map(|b| super::git::checkout(b, paths, Path::new("."))).transpose()?;
    let mut connect_opts = req.connect.clone();
    if connect_opts.sandbox.as_ref().is_some_and(|seed| seed.as_os_str().is_empty()) {
        connect_opts.sandbox = Some(sandbox_seed(paths));
    }
    let session = connect(&connect_opts, env).await?;
    let client = ReadClient::with_events(session.config.clone(), session.events.clone())?;
    let mut plan = match (&req.base, &checkout) {
        (Some(base), Some(checkout)) => {
            // Both plans over one read of the account: the base's reuses every answer the head's got.
            let client = client.remembering();
            let mut plan = build(set, &client, &req.options).await.map_err(plan_error)?;
            let (base_plan, note) = plan_base(checkout, base, &client, &req.options, env).await;
            crate::plan::base::split(&mut plan, base_plan.as_ref(), base, &checkout.commit, note);
            plan
        }
        _ => build(set, &client, &req.options).await.map_err(plan_error)?,
    };
    plan.paths = recorded_paths(paths);
    if crate::apply::needs_secrets_sink(&plan) {
        plan.notes.push(
            "applying this plan captures webhook signing secrets, which the API shows only once: apply needs --secrets-out FILE or --secrets-cmd CMD".into(),
        );
    }
    // A plan never takes the lease, but says when an apply holds it: the account may be changing.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    for lock in lock_tags(&client).await?.into_iter().filter(|t| !t.expired(now)) {
        plan.notes.push(format!("an apply holds the account's lease and may be changing it: {}", lock.describe()));
    }
    Ok(plan)
}

/// The base's plan, or why there is none (every change is then the pull request's).
async fn plan_base(
    checkout: &super::git::Checkout,
    git_ref: &str,
    client: &ReadClient,
    options: &PlanOptions,
    env: Env<'_>,
) -> (Option<Plan>, Option<String>) {
    let paths: Vec<PathBuf> = checkout.paths.iter().flatten().cloned().collect();
    if paths.is_empty() {
        return (None, Some(format!("the manifests did not exist at {git_ref}: every change is this pull request's")));
    }
    let set = match crate::manifest::load(&paths, env) {
        Ok(set) => set,
        Err(p) => {
            return (
                None,
                Some(format!(
                    "the manifests at {git_ref} do not load ({}): every change is shown as this pull request's",
                    p.count_line()
                )),
            )
        }
    };
    // The base is planned for what it declares, whatever the targets: a target narrows both alike.
    match build(&set, client, options).await {
        Ok(plan) => (Some(plan), None),
        Err(e) => (
            None,
            Some(format!(
                "the manifests at {git_ref} cannot be planned ({}): every change is shown as this pull request's",
                crate::redact::escape_controls(&plan_error(e).to_string())
            )),
        ),
    }
}
