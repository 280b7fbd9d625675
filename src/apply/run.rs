//! `apply` as a whole: load the manifests, connect, take a fresh plan or check a saved one, refuse what may
//! not run, confirm, execute, verify. The command file only prompts and prints.

use super::{check_saved, execute_plan, preflight, resolve_secrets, ApplyOptions, ApplyReport, Progress};
use crate::api::WriteClient;
use crate::manifest::{self, Env};
use crate::plan::{build, fetch_lookups, Plan, PlanError, PlanOptions};
use crate::session::{connect, sandbox_seed, ConnectOptions};
use crate::{Error, ErrorKind};
use std::path::PathBuf;
use std::sync::Arc;

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
}

/// What happened: the plan applied (or found empty), and the report when anything ran.
pub struct Applied {
    pub plan: Plan,
    pub report: Option<ApplyReport>,
}

/// `show` prints the plan; `confirm` asks (or is told by --auto-approve) whether to go on.
pub async fn run(
    req: &ApplyRequest,
    env: Env<'_>,
    show: &dyn Fn(&Plan),
    confirm: &dyn Fn(&Plan) -> Result<bool, Error>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Applied, Error> {
    let saved = match &req.plan_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::new(ErrorKind::Io, format!("cannot read the plan {}: {e}", path.display())))?;
            let plan: Plan = serde_json::from_str(&text).map_err(|e| {
                Error::new(ErrorKind::Input, format!("{} is not a skyform plan: {e}", path.display()))
                    .with_hint("save one with `skyform plan --out plan.json`")
            })?;
            Some(plan)
        }
        None => None,
    };
    let paths: Vec<PathBuf> = match (&saved, req.paths.is_empty()) {
        (Some(p), true) if !p.paths.is_empty() => p.paths.iter().map(PathBuf::from).collect(),
        (_, true) => vec![PathBuf::from(".")],
        (_, false) => req.paths.clone(),
    };
    let set = Arc::new(manifest::load(&paths, env).map_err(|p| Error::problems(&p))?);
    let mut connect_opts = req.connect.clone();
    if connect_opts.sandbox.is_some() {
        connect_opts.sandbox = Some(sandbox_seed(&paths));
    }
    let session = connect(&connect_opts, env).await?;
    let client = WriteClient::with_events(session.config.clone(), session.events.clone())?;

    let plan = match saved {
        Some(plan) => {
            let lookups = fetch_lookups(&set, &client).await?;
            check_saved(&plan, &set, &client, &lookups).await?;
            plan
        }
        None => {
            let mut options = req.options.clone();
            if let Some(file) = &req.apply.secrets_out {
                options.rotation_tokens = Some(crate::plan::run::rotation_tokens(file)?);
            }
            match build(&set, &client, &options).await {
                Ok(mut p) => {
                    p.paths = paths.iter().map(|p| p.display().to_string()).collect();
                    p
                }
                Err(PlanError::Problems(p)) => return Err(Error::problems(&p)),
                Err(PlanError::Api(e)) => return Err(e.into()),
            }
        }
    };
    show(&plan);
    preflight(&plan, &req.apply)?;
    let secrets = resolve_secrets(&plan, &set, env)?;
    if !plan.has_changes() {
        return Ok(Applied { plan, report: None });
    }
    if !confirm(&plan)? {
        return Err(Error::new(ErrorKind::Refused, "apply cancelled; nothing was changed"));
    }
    let lookups = fetch_lookups(&set, &client).await?;
    let report = execute_plan(&plan, set, &client, lookups, secrets, &req.apply, progress).await?;
    drop(session);
    Ok(Applied { plan, report: Some(report) })
}
