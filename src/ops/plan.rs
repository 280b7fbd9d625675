//! `plan`: load the manifests, connect, build the plan, and say whether an apply holds the account's lease.
//! The command line renders it.

use super::connect::{connect, sandbox_seed, ConnectOptions};
use crate::api::ReadClient;
use crate::apply::lease::lock_tags;
use crate::plan::{build, Plan, PlanError, PlanOptions};
use crate::vars::Env;
use crate::Error;
use std::path::PathBuf;

/// Everything `skyform plan` was asked.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    pub paths: Vec<PathBuf>,
    pub connect: ConnectOptions,
    pub options: PlanOptions,
}

/// Turns a plan engine error into the one error type.
pub fn plan_error(e: PlanError) -> Error {
    match e {
        PlanError::Problems(p) => Error::problems(p),
        PlanError::Api(e) => e.into(),
    }
}

/// Paths as a plan file records them: absolute, so the plan applies from any folder.
pub fn recorded_paths(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()).display().to_string()).collect()
}

pub async fn run(req: &PlanRequest, env: Env<'_>) -> Result<Plan, Error> {
    let paths = super::paths_or_here(&req.paths);
    let set = super::validate::validate(&paths, env)?;
    let mut connect_opts = req.connect.clone();
    if connect_opts.sandbox.is_some() {
        connect_opts.sandbox = Some(sandbox_seed(&paths));
    }
    let session = connect(&connect_opts, env).await?;
    let client = ReadClient::with_events(session.config.clone(), session.events.clone())?;
    let mut plan = build(&set, &client, &req.options).await.map_err(plan_error)?;
    plan.paths = recorded_paths(&paths);
    // A plan never takes the lease, but says when an apply holds it: the account may be changing.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    for lock in lock_tags(&client).await?.into_iter().filter(|t| !t.expired(now)) {
        plan.notes.push(format!("an apply holds the account's lease and may be changing it: {}", lock.describe()));
    }
    Ok(plan)
}
