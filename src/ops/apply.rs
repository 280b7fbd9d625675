//! `apply`: a fresh plan, or a saved one checked against the manifests and the account; refuse what may not
//! run; confirm; execute exactly that plan; verify. The command line only prompts and prints.

use super::connect::{connect, sandbox_seed, ConnectOptions};
use super::plan::{plan_error, recorded_paths, rotation_tokens};
use crate::api::WriteClient;
use crate::apply::{check_saved, execute_plan, preflight, resolve_secrets, ApplyOptions, ApplyReport, Progress};
use crate::plan::{build, manifest_digest, Plan, PlanOptions};
use crate::vars::Env;
use crate::{Error, ErrorKind};
use std::path::{Path, PathBuf};

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

/// `show` prints the plan; `confirm` asks (or is told by --auto-approve) whether to go on.
pub async fn run(
    req: &ApplyRequest,
    env: Env<'_>,
    show: &dyn Fn(&Plan),
    confirm: &dyn Fn(&Plan) -> Result<bool, Error>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Applied, Error> {
    let saved = req.plan_file.as_deref().map(read_plan).transpose()?;
    let paths = match (&saved, &req.plan_file) {
        (Some(plan), Some(file)) if req.paths.is_empty() && !plan.paths.is_empty() => saved_paths(plan, file),
        _ => super::paths_or_here(&req.paths),
    };
    let set = super::validate::validate(&paths, env)?;
    let mut connect_opts = req.connect.clone();
    if connect_opts.sandbox.is_some() {
        connect_opts.sandbox = Some(sandbox_seed(&paths));
    }
    let session = connect(&connect_opts, env).await?;
    let client = WriteClient::with_events(session.config.clone(), session.events.clone())?;

    let plan = match saved {
        Some(plan) => {
            if manifest_digest(&set) != plan.manifest_digest {
                return Err(Error::new(ErrorKind::Blocked, "the manifests changed since this plan was made")
                    .with_hint("re-run skyform plan and review the new plan; nothing was changed"));
            }
            check_saved(&plan, &client).await?;
            plan
        }
        None => {
            let mut options = req.options.clone();
            if let Some(file) = &req.apply.secrets_out {
                options.rotation_tokens = Some(rotation_tokens(file)?);
            }
            let mut plan = build(&set, &client, &options).await.map_err(plan_error)?;
            plan.paths = recorded_paths(&paths);
            plan
        }
    };
    show(&plan);
    preflight(&plan, &req.apply)?;
    if !plan.has_changes() {
        return Ok(Applied { plan, report: None });
    }
    let secrets = resolve_secrets(&plan, env)?;
    if !confirm(&plan)? {
        return Err(Error::new(ErrorKind::Refused, "apply cancelled; nothing was changed"));
    }
    let report = execute_plan(&plan, &client, secrets, &req.apply, progress).await?;
    drop(session);
    Ok(Applied { plan, report: Some(report) })
}
