//! Many accounts in one process (`skyform plan accounts/`, `apply accounts/`): every account of an
//! accounts folder, loaded and checked first (offline, all of them), then planned or applied concurrently,
//! each with its own key, pacer, detail cache and lease. One account's failure never stops the others.
//!
//! Across machines, the CI matrix is the scheduler ([`matrix`]): each job runs one account or one shard.

pub mod report;

use super::apply::{Applied, ApplyRequest, Ui};
use super::connect::ConnectOptions;
use super::plan::PlanRequest;
use crate::apply::ApplyOptions;
use crate::manifest::layout::{discover, AccountDir};
use crate::manifest::ManifestSet;
use crate::plan::{Plan, PlanOptions};
use crate::source::closest;
use crate::vars::Env;
use crate::{Error, ErrorKind};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Accounts run at once by default: each waits on its own key's budget, not on this machine.
pub const DEFAULT_JOBS: usize = 50;

/// What `skyform plan|apply ACCOUNTS_FOLDER` was asked.
#[derive(Debug, Clone)]
pub struct AccountsRequest {
    /// The accounts folder.
    pub root: PathBuf,
    /// `--accounts NAME,...`: only these (empty: all).
    pub only: Vec<String>,
    /// `--jobs N`: at most this many accounts at once.
    pub jobs: usize,
    pub connect: ConnectOptions,
    pub options: PlanOptions,
    /// For apply. `secrets_out` names a folder: each account's secrets go to `FOLDER/NAME.json`.
    pub apply: ApplyOptions,
    pub lock_timeout: Duration,
}

/// One account's outcome.
pub struct AccountRun<T> {
    pub account: AccountDir,
    pub result: Result<T, Error>,
}

/// Every selected account's outcome, in name order.
pub struct AccountsReport<T> {
    pub root: PathBuf,
    pub runs: Vec<AccountRun<T>>,
}

/// The exit code that stands for several: the worst of them. From best to worst: 0 (nothing to do or
/// done), 2 (changes), 3 (refused or blocked), 1 (an error or a failure), 130 (interrupted).
pub fn worst_exit_code(codes: impl IntoIterator<Item = i32>) -> i32 {
    let rank = |c: i32| match c {
        0 => 0,
        2 => 1,
        3 => 2,
        130 => 4,
        _ => 3,
    };
    codes.into_iter().max_by_key(|c| rank(*c)).unwrap_or(0)
}

/// Whether `path` is an accounts folder: no manifests of its own, and sub-folders that name their key.
pub fn is_accounts_folder(path: &Path) -> bool {
    !discover(path).is_empty()
}

/// The accounts under `root`, narrowed to `only`. Errors: no accounts there, or a name that is not one.
pub fn select(root: &Path, only: &[String]) -> Result<Vec<AccountDir>, Error> {
    let all = discover(root);
    if all.is_empty() {
        return Err(Error::new(ErrorKind::Usage, format!("{} holds no accounts", root.display())).with_hint(
            "an accounts folder has a sub-folder per account, each with `settings: { api_key_env: NAME }` in its manifests",
        ));
    }
    // Checked over every account, not only the selected: a CI job per folder would manage one account twice.
    check_distinct(&all)?;
    if let Some(a) = all.iter().find(|a| a.name.contains(',')) {
        return Err(Error::new(ErrorKind::Input, format!("the account folder `{}` has a comma in its name", a.name))
            .with_hint("--accounts and CI shards list names with commas between them: rename the folder"));
    }
    if only.is_empty() {
        return Ok(all);
    }
    let names: Vec<&str> = all.iter().map(|a| a.name.as_str()).collect();
    let mut out = Vec::new();
    for want in only {
        match all.iter().find(|a| &a.name == want) {
            Some(a) if !out.contains(a) => out.push(a.clone()),
            Some(_) => {}
            None => {
                let e = Error::new(ErrorKind::Usage, format!("no account `{want}` in {}", root.display()));
                return Err(match closest(want, &names) {
                    Some(best) => e.with_hint(format!("did you mean `{best}`?")),
                    None => e.with_hint(format!("the accounts: {}", names.join(", "))),
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Loads and checks every account's manifests (offline): `validate ACCOUNTS_FOLDER`, and the first step of
/// plan and apply, so no file is read while requests are in flight.
pub fn load_all(accounts: &[AccountDir], env: Env) -> Vec<(AccountDir, Result<ManifestSet, Error>)> {
    accounts.iter().map(|a| (a.clone(), super::validate::validate(std::slice::from_ref(&a.dir), env))).collect()
}

/// Runs `work` for every account, at most `jobs` at once, all on this task (the work waits on the network).
async fn each<'a, T, F, Fut>(
    loaded: &'a [(AccountDir, Result<ManifestSet, Error>)],
    jobs: usize,
    work: F,
) -> Vec<AccountRun<T>>
where
    F: Fn(&'a AccountDir, &'a ManifestSet) -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let gate = tokio::sync::Semaphore::new(jobs.max(1));
    let runs = loaded.iter().map(|(account, set)| {
        let gate = &gate;
        let work = &work;
        async move {
            let result = match set {
                Err(e) => Err((*e).clone()),
                Ok(set) => {
                    let _permit = gate.acquire().await.expect("the semaphore is never closed");
                    work(account, set).await
                }
            };
            AccountRun { account: account.clone(), result }
        }
    });
    futures_util::future::join_all(runs).await
}

/// Refuses two accounts that would reach one account: the same key variable.
fn check_distinct(accounts: &[AccountDir]) -> Result<(), Error> {
    for (i, a) in accounts.iter().enumerate() {
        if let Some(b) = accounts[..i].iter().find(|b| b.key_env == a.key_env) {
            return Err(Error::new(
                ErrorKind::Input,
                format!("accounts `{}` and `{}` both read their key from {}", b.name, a.name, a.key_env),
            )
            .with_hint("each account folder manages one account: give each its own api_key_env"));
        }
    }
    Ok(())
}

/// The connection of one account: with `--sandbox-state`, which names a folder here, its own state file.
fn connect_for(connect: &ConnectOptions, account: &AccountDir) -> ConnectOptions {
    let mut c = connect.clone();
    c.sandbox_state = connect.sandbox_state.as_ref().map(|dir| dir.join(format!("{}.json", account.name)));
    c.label = Some(account.name.clone());
    c
}

/// Plans every selected account.
pub async fn plan_all(req: &AccountsRequest, env: Env<'_>) -> Result<AccountsReport<Plan>, Error> {
    let accounts = select(&req.root, &req.only)?;
    if let Some(dir) = &req.connect.sandbox_state {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::new(ErrorKind::Io, format!("cannot create the sandbox state folder {}: {e}", dir.display()))
        })?;
    }
    let loaded = load_all(&accounts, env);
    let runs = each(&loaded, req.jobs, |account, set| {
        let plan_req = PlanRequest {
            paths: vec![account.dir.clone()],
            connect: connect_for(&req.connect, account),
            options: req.options.clone(),
            base: None,
        };
        async move { super::plan::run_loaded(&plan_req, std::slice::from_ref(&account.dir), set, env).await }
    })
    .await;
    Ok(AccountsReport { root: req.root.clone(), runs })
}

/// Applies every selected account, each under its own lease. `ui` gets every account's events, told apart
/// by the name passed to `for_account`.
pub async fn apply_all(
    req: &AccountsRequest,
    env: Env<'_>,
    ui: &(dyn Fn(&str) -> Box<dyn Ui> + Sync),
) -> Result<AccountsReport<Applied>, Error> {
    let accounts = select(&req.root, &req.only)?;
    for dir in [&req.apply.secrets_out, &req.connect.sandbox_state].into_iter().flatten() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot create the folder {}: {e}", dir.display())))?;
    }
    let loaded = load_all(&accounts, env);
    let runs = each(&loaded, req.jobs, |account, set| {
        let mut apply = req.apply.clone();
        apply.secrets_out = req.apply.secrets_out.as_ref().map(|d| d.join(format!("{}.json", account.name)));
        apply.account = Some(account.name.clone());
        let apply_req = ApplyRequest {
            paths: vec![account.dir.clone()],
            plan_file: None,
            connect: connect_for(&req.connect, account),
            options: req.options.clone(),
            apply,
            lock_timeout: req.lock_timeout,
        };
        let ui = ui(&account.name);
        async move {
            super::apply::run_loaded(&apply_req, None, std::slice::from_ref(&account.dir), set, env, ui.as_ref()).await
        }
    })
    .await;
    Ok(AccountsReport { root: req.root.clone(), runs })
}

/// The CI fan-out: `{"include": [{"account", "path", "key_env"}, ...]}` for a GitHub Actions
/// `strategy.matrix` (via `fromJSON`); with `shards`, `{"include": [{"shard", "accounts", "path"}]}`, each
/// shard a comma-separated `--accounts` list, balanced by account count.
pub fn matrix(root: &Path, accounts: &[AccountDir], shards: Option<usize>) -> serde_json::Value {
    use serde_json::json;
    let rel = |p: &Path| p.display().to_string();
    match shards {
        None => json!({"include": accounts.iter().map(|a| json!({
            "account": a.name,
            "path": rel(&a.dir),
            "key_env": a.key_env,
        })).collect::<Vec<_>>()}),
        Some(n) => {
            let n = n.clamp(1, accounts.len().max(1));
            let mut groups: Vec<Vec<&AccountDir>> = vec![Vec::new(); n];
            for (i, a) in accounts.iter().enumerate() {
                groups[i % n].push(a);
            }
            json!({"include": groups.iter().enumerate().filter(|(_, g)| !g.is_empty()).map(|(i, g)| json!({
                "shard": format!("{}/{n}", i + 1),
                "accounts": g.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(","),
                "key_envs": g.iter().map(|a| a.key_env.as_str()).collect::<Vec<_>>().join(","),
                "path": rel(root),
            })).collect::<Vec<_>>()})
        }
    }
}

/// The same fan-out for GitLab: a child pipeline job's `parallel: matrix:` (`ACCOUNT: [...]`).
pub fn gitlab_matrix(accounts: &[AccountDir]) -> serde_json::Value {
    serde_json::json!({"parallel": {"matrix": [{"ACCOUNT": accounts.iter().map(|a| a.name.as_str()).collect::<Vec<_>>()}]}})
}
