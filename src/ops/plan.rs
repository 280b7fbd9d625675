//! `plan`: load the manifests, connect, build the plan. The command line renders it.

use super::connect::{connect, sandbox_seed, ConnectOptions};
use crate::api::ReadClient;
use crate::plan::{build, Plan, PlanError, PlanOptions};
use crate::vars::Env;
use crate::{Error, ErrorKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything `skyform plan` was asked.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    pub paths: Vec<PathBuf>,
    pub connect: ConnectOptions,
    pub options: PlanOptions,
    /// The secrets file: its recorded `rotate_secret` tokens decide rotations.
    pub secrets_file: Option<PathBuf>,
}

/// Reads the `rotate_secret` tokens a secrets file recorded (`{"webhooks": {name: {"rotate_secret": ...}}}`).
pub fn rotation_tokens(path: &Path) -> Result<BTreeMap<String, String>, Error> {
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot read the secrets file {}: {e}", path.display())))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::new(ErrorKind::Input, format!("{}: not a skyform secrets file ({e})", path.display())))?;
    Ok(v.get("webhooks")
        .and_then(|w| w.as_object())
        .map(|hooks| {
            hooks
                .iter()
                .filter_map(|(name, h)| Some((name.clone(), h.get("rotate_secret")?.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default())
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
    let mut options = req.options.clone();
    if let Some(file) = &req.secrets_file {
        options.rotation_tokens = Some(rotation_tokens(file)?);
    }
    let mut plan = build(&set, &client, &options).await.map_err(plan_error)?;
    plan.paths = recorded_paths(&paths);
    Ok(plan)
}
