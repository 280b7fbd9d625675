//! `apply`: execute a plan's requests, as planned, with the writable client: in plan order, concurrently
//! where the plan's `after` edges allow; keep secrets; tell the truth about partial failures; then re-read
//! what changed and prove convergence. The engine never reads manifests: the plan carries every request.

pub mod lease;
pub mod secrets;

use crate::api::{ApiError, Failure, WriteClient};
use crate::plan::live::{list_keys, read_one, verify_reads, Expected, Seen};
use crate::plan::{Change, Method, Op, Plan, FORMAT_VERSION};
use crate::resources::{Kind, Managed, Resource, Secret};
use crate::{Error, ErrorKind};
use secrets::{SecretSink, SecretsCommand, SecretsFile};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// After a failure, go on with the changes that do not depend on it.
    pub keep_going: bool,
    /// Where webhook secrets are written (mode 0600).
    pub secrets_out: Option<PathBuf>,
    /// A command each secret is piped to (`sh -c CMD`, the secret on stdin).
    pub secrets_cmd: Option<String>,
    /// In an accounts run: the account's name (the secrets command sees it as `SKYFORM_ACCOUNT`).
    pub account: Option<String>,
    /// The flags that reach this account (`--api-url X`, `--sandbox`, ...), repeated in the commands a
    /// report suggests (`skyform rotate ...`), so they run as printed.
    pub connection: Vec<String>,
}

impl ApplyOptions {
    /// The sink secrets go to, if one was given (checked before any request).
    pub fn sink(&self) -> Result<Option<SecretSink>, Error> {
        Ok(match (&self.secrets_out, &self.secrets_cmd) {
            (Some(_), Some(_)) => {
                return Err(Error::new(ErrorKind::Usage, "give either --secrets-out or --secrets-cmd, not both"))
            }
            (Some(path), None) => Some(SecretSink::file(SecretsFile::open(path)?)),
            (None, Some(cmd)) => Some(SecretSink::Command(SecretsCommand {
                command: cmd.clone(),
                timeout: Duration::from_secs(60),
                account: self.account.clone(),
            })),
            (None, None) => None,
        })
    }
}

/// Why a change failed: the API's structured answer, or what stopped it before a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Clone)]
pub enum Status {
    Done,
    /// Its target state already held (a DELETE answered 404, an action already in effect): done, and said so.
    AlreadyDone(String),
    Failed(ChangeError),
    /// Sent, and its outcome cannot be known yet (it may still land): left for the next run.
    Unknown(String),
    /// Never started: an earlier failure stopped the apply.
    NotStarted,
    /// Not started because a change it depends on failed (`--keep-going`).
    Skipped(String),
    /// The plan refused it; apply never attempts it.
    Refused,
}

impl Status {
    pub fn is_done(&self) -> bool {
        matches!(self, Status::Done | Status::AlreadyDone(_))
    }
}

/// What happened, for the summary and the exit code.
#[derive(Debug)]
pub struct ApplyReport {
    pub outcomes: Vec<(Change, Status)>,
    pub requests: u64,
    pub throttled: u64,
    pub elapsed: Duration,
    /// Fields or steps that did not converge, or could not be verified (empty when converged).
    pub not_converged: Vec<String>,
    /// Why the apply stopped early, when it was interrupted (SIGINT/SIGTERM, a lease it could not renew).
    pub interrupted: Option<String>,
    /// What happened after the changes (secrets folded, lease given back) that a person should know.
    pub notes: Vec<String>,
}

impl ApplyReport {
    fn count(&self, f: impl Fn(&Status) -> bool) -> usize {
        self.outcomes.iter().filter(|(_, s)| f(s)).count()
    }

    /// Everything done, nothing refused, and the account converged.
    pub fn success(&self) -> bool {
        self.outcomes.iter().all(|(_, s)| s.is_done()) && self.not_converged.is_empty()
    }

    /// Some write may still land: the next run must wait for it.
    pub fn has_unknown(&self) -> bool {
        self.outcomes.iter().any(|(_, s)| matches!(s, Status::Unknown(_)))
    }

    /// The exit code: 130 interrupted; 1 when something failed, is unknown or did not converge; 3 when the
    /// rest is done but the plan had refused changes; 0.
    pub fn exit_code(&self) -> i32 {
        let failed = self.outcomes.iter().any(|(_, s)| !matches!(s, s if s.is_done() || matches!(s, Status::Refused)));
        if self.interrupted.is_some() {
            ErrorKind::Interrupted.exit_code()
        } else if failed || !self.not_converged.is_empty() {
            1
        } else if self.outcomes.iter().any(|(_, s)| matches!(s, Status::Refused)) {
            ErrorKind::Blocked.exit_code()
        } else {
            0
        }
    }

    /// The closing summary: every change that did not simply succeed, then the counts, then what
    /// verification found. Convergence is claimed only for what was done. Names, API messages and values
    /// have their control characters escaped, as in plans.
    pub fn render(&self) -> String {
        crate::redact::escape_lines(&self.render_raw()).into_owned()
    }

    fn render_raw(&self) -> String {
        let mut out = String::new();
        for (c, s) in &self.outcomes {
            let line = match s {
                Status::Done => continue,
                Status::AlreadyDone(why) => format!("  already:     {} ({why})\n", crate::render::headline(c)),
                Status::Failed(e) => format!("  failed:      {}\n      {e}\n", crate::render::headline(c)),
                Status::Unknown(why) => format!(
                    "  unknown:     {} (sent; it may still land: the next run waits for it, then finds it)\n      {why}\n",
                    crate::render::headline(c)
                ),
                Status::NotStarted => format!("  not started: {}\n", crate::render::headline(c)),
                Status::Skipped(why) => format!("  skipped:     {} ({why})\n", crate::render::headline(c)),
                Status::Refused => format!(
                    "  refused:     {} {} \"{}\" (not attempted)\n      {}\n",
                    c.kind.singular(),
                    c.op_word(),
                    c.key,
                    c.reason.as_deref().unwrap_or("")
                ),
            };
            out.push_str(&line);
        }
        if let Some(why) = &self.interrupted {
            out.push_str(&format!("Interrupted: {why}.\n"));
        }
        for n in &self.notes {
            out.push_str(&format!("Note: {n}\n"));
        }
        let done = self.count(Status::is_done);
        let unknown = self.count(|s| matches!(s, Status::Unknown(_)));
        out.push_str(&format!(
            "Apply: {done} done{}, {} failed, {}{} not started, {} refused; {} API requests, {} rate-limited (429), {:.1} s.\n",
            match self.count(|s| matches!(s, Status::AlreadyDone(_))) {
                0 => String::new(),
                n => format!(" ({n} already so)"),
            },
            self.count(|s| matches!(s, Status::Failed(_))),
            if unknown > 0 { format!("{unknown} outcome unknown, ") } else { String::new() },
            self.count(|s| matches!(s, Status::NotStarted | Status::Skipped(_))),
            self.count(|s| matches!(s, Status::Refused)),
            self.requests,
            self.throttled,
            self.elapsed.as_secs_f64()
        ));
        let rest = self.outcomes.len() - done;
        if !self.not_converged.is_empty() {
            out.push_str("Verified: NOT converged:\n");
            for n in &self.not_converged {
                out.push_str(&format!("  {n}\n"));
            }
        } else if rest == 0 {
            out.push_str("Verified: converged (every change reads back as planned).\n");
        } else if done > 0 {
            out.push_str(&format!(
                "Verified: the {done} changes done read back as planned; {rest} {} not done (see above).\n",
                if rest == 1 { "was" } else { "were" }
            ));
        }
        out
    }
}

/// Progress, for the stderr counter.
pub enum Progress<'a> {
    Finished { done: usize, total: usize, change: &'a Change, status: &'a Status, secs: f64 },
}

/// What may not be applied at all, checked before any request.
pub fn preflight(plan: &Plan, opts: &ApplyOptions) -> Result<(), Error> {
    if !plan.blocked.is_empty() {
        let kinds = crate::plan::blocked_kinds(plan);
        return Err(Error::new(ErrorKind::Blocked, plan.blocked.join("\n"))
            .with_hint("nothing was changed; if those deletes are intended, run")
            .with_rerun(vec!["--allow-deletes".into(), kinds.join(",")]));
    }
    let needs_secret = plan.changes.iter().any(|c| c.op != Op::Refused && captures_secret(c));
    if needs_secret && opts.secrets_out.is_none() && opts.secrets_cmd.is_none() {
        return Err(Error::new(
            ErrorKind::Refused,
            "this plan creates or rotates a webhook secret, which the API shows only once, and no secrets sink was given",
        )
        .with_hint("pass --secrets-out FILE (mode 0600; for an accounts folder, a folder: one FILE per account) or --secrets-cmd CMD (the secret on its stdin); nothing was changed"));
    }
    Ok(())
}

/// A change whose answer carries a secret shown only then (a create or rotation of a kind with secrets).
/// Whether applying this plan captures a secret the API shows only once (so apply needs a secrets sink).
pub fn needs_secrets_sink(plan: &Plan) -> bool {
    plan.changes.iter().any(|c| c.op != Op::Refused && captures_secret(c))
}

fn captures_secret(c: &Change) -> bool {
    let action = with_kind!(c.kind, S => <<S as Managed>::R as Resource>::SECRET_ACTION);
    action.is_some() && (c.op == Op::Create || c.action.as_deref() == action)
}

/// A saved plan applies only to the account it was made from: re-reads exactly the objects it touches and
/// refuses, naming each, when one moved, or when an object it creates now exists.
/// `webhook "CRM" (id 4)`, or `the voice settings` for a singleton (one per account: no name, no id).
fn object_name(kind: Kind, key: &str, id: u64) -> String {
    if kind.is_singleton() {
        format!("the {}", kind.singular())
    } else {
        format!("{} \"{key}\" (id {id})", kind.singular())
    }
}

pub async fn check_saved(plan: &Plan, client: &WriteClient) -> Result<(), Error> {
    if plan.format_version != FORMAT_VERSION {
        return Err(Error::new(
            ErrorKind::Blocked,
            format!("the plan file has format version {}, this skyform reads {FORMAT_VERSION}", plan.format_version),
        )
        .with_hint("re-run skyform plan with this version"));
    }
    let mut stale = Vec::new();
    let mut read: HashMap<(Kind, u64), Option<crate::plan::live::LiveView>> = HashMap::new();
    for c in &plan.changes {
        let (Some(id), Some(expected)) = (c.id, &c.fingerprint) else { continue };
        let key = (c.kind, id);
        if let std::collections::hash_map::Entry::Vacant(slot) = read.entry(key) {
            slot.insert(read_one(c.kind, id, client, &[]).await?);
        }
        match &read[&key] {
            None => stale.push(format!("{} no longer exists", object_name(c.kind, &c.key, id))),
            Some(v) => {
                let now = if c.op == Op::Delete { &v.summary_fingerprint } else { &v.fingerprint };
                if now != expected {
                    stale.push(format!("{} changed since the plan was made", object_name(c.kind, &c.key, id)));
                }
            }
        }
    }
    let create_kinds: Vec<Kind> =
        Kind::ALL.iter().copied().filter(|k| plan.changes.iter().any(|c| c.kind == *k && c.op == Op::Create)).collect();
    for kind in create_kinds {
        let keys = list_keys(kind, client).await?;
        for c in plan.changes.iter().filter(|c| c.kind == kind && c.op == Op::Create) {
            if let Some((_, id)) = keys.iter().find(|(k, _)| *k == kind.match_key(&c.key)) {
                stale.push(format!(
                    "{} \"{}\" now exists (id {id}); the plan would create it again",
                    kind.singular(),
                    c.key
                ));
            }
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        stale.dedup();
        Err(Error::new(ErrorKind::Blocked, format!("the saved plan is stale:\n  {}", stale.join("\n  ")))
            .with_hint("re-run skyform plan and review the new plan; nothing was changed"))
    }
}

/// The environment variables whose values this plan's requests send (`SKYFORM_SECRET_NAME` for each
/// `{"$secret": NAME}`), in order, each once.
pub fn secret_vars(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in plan.changes.iter().filter(|c| c.op != Op::Refused) {
        let Some(Value::Object(body)) = c.request.as_ref().and_then(|r| r.body.as_ref()) else { continue };
        for v in body.values() {
            if let Some(name) = v.get("$secret").and_then(Value::as_str) {
                let var = crate::resources::SecretRef { var: name.to_string() }.env_var();
                if !out.contains(&var) {
                    out.push(var);
                }
            }
        }
    }
    out
}

/// The secret values the plan's requests send (`{"$secret": NAME}`), read from `SKYFORM_SECRET_NAME` now,
/// before any request: a change whose secret is not set (or that the kind refuses) is an error naming where
/// it was declared, and nothing is sent. Plans that send no secret never need the variables.
pub fn resolve_secrets(plan: &Plan, env: &dyn Fn(&str) -> Option<String>) -> Result<BTreeMap<String, Secret>, Error> {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for c in plan.changes.iter().filter(|c| c.op != Op::Refused) {
        let Some(req) = &c.request else { continue };
        let fields: Vec<(String, String)> = match &req.body {
            Some(Value::Object(body)) => {
                body.iter().filter_map(|(f, v)| Some((f.clone(), v.get("$secret")?.as_str()?.to_string()))).collect()
            }
            _ => Vec::new(),
        };
        for (field, name) in fields {
            let r = crate::resources::SecretRef { var: name.clone() };
            let at = c.origin.as_deref().map(|o| format!("{o}: ")).unwrap_or_default();
            match r.resolve(env) {
                None => problems.push(format!(
                    "{at}{} `{}` needs `{field}` for this plan's {}: {} is not set",
                    c.kind.singular(),
                    c.key,
                    c.op_word(),
                    r.env_var()
                )),
                Some(v) => match with_kind!(c.kind, S => S::check_secret(&field, v.expose())) {
                    Some(why) => problems.push(format!("{at}{} `{}`: {} {why}", c.kind.singular(), c.key, r.env_var())),
                    None => {
                        out.insert(name, v);
                    }
                },
            }
        }
    }
    if problems.is_empty() {
        return Ok(out);
    }
    problems.dedup();
    Err(Error::new(ErrorKind::Input, problems.join("\n"))
        .with_hint("export the variables where skyform applies (CI secrets); nothing was changed"))
}

/// Shared by the change tasks.
struct Ctx {
    client: WriteClient,
    /// Ids created during this apply, by the index of the change that created them.
    created: Mutex<HashMap<usize, u64>>,
    /// The last write answer per object that shows every field (a knowledge body, a campaign message):
    /// verification reads those fields from it instead of a GET per object.
    answers: Mutex<HashMap<(Kind, u64), Value>>,
    sink: Option<SecretSink>,
    secrets: BTreeMap<String, Secret>,
    /// See [`ApplyOptions::connection`].
    connection: Vec<String>,
}

impl Ctx {
    fn created(&self, change: usize) -> Option<u64> {
        self.created.lock().unwrap_or_else(|p| p.into_inner()).get(&change).copied()
    }

    /// Keeps a write's answer for verification and the detail cache (so the next plan is warm), when it
    /// is the whole object: an action's answer may leave the body out.
    async fn answered(&self, kind: Kind, answer: Value) {
        fn whole<R: Resource>(answer: &Value) -> Option<u64> {
            let complete = R::DETAIL_FIELD.is_none_or(|f| answer.get(f).is_some());
            // Parsed from a borrow: a 10,000-change apply does not copy every answer to read its id.
            let live = <R::Live as serde::Deserialize>::deserialize(answer).ok()?;
            complete.then(|| R::live_id(&live))
        }
        let Some(id) = with_kind!(kind, S => whole::<<S as Managed>::R>(&answer)) else { return };
        with_kind!(kind, S => self.client.remember_answer::<<S as Managed>::R>(&answer).await);
        self.answers.lock().unwrap_or_else(|p| p.into_inner()).insert((kind, id), answer);
    }
}

/// Resolves `{created:N}` in a path.
fn resolve_path(path: &str, ctx: &Ctx) -> Result<String, ChangeError> {
    let mut out = String::new();
    let mut rest = path;
    while let Some(at) = rest.find("{created:") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 9..];
        let end = tail.find('}').ok_or_else(|| ChangeError::Other(format!("malformed path {path}")))?;
        let n: usize = tail[..end].parse().map_err(|_| ChangeError::Other(format!("malformed path {path}")))?;
        let id = ctx.created(n).ok_or_else(|| ChangeError::Other(format!("change {n} created nothing")))?;
        out.push_str(&id.to_string());
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Resolves `{"$secret": NAME}` and `{"$created": N}` in a body.
fn resolve_body(v: &Value, ctx: &Ctx) -> Result<Value, ChangeError> {
    Ok(match v {
        Value::Object(o) if o.len() == 1 && o.contains_key("$secret") => {
            let name = o["$secret"].as_str().unwrap_or_default();
            let secret =
                ctx.secrets.get(name).ok_or_else(|| ChangeError::Other(format!("secret {name} was not resolved")))?;
            Value::String(secret.expose().to_string())
        }
        Value::Object(o) if o.len() == 1 && o.contains_key("$created") => {
            let n = o["$created"].as_u64().unwrap_or(u64::MAX) as usize;
            Value::from(ctx.created(n).ok_or_else(|| ChangeError::Other(format!("change {n} created nothing")))?)
        }
        Value::Object(o) => Value::Object(
            o.iter().map(|(k, v)| Ok((k.clone(), resolve_body(v, ctx)?))).collect::<Result<_, ChangeError>>()?,
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve_body(v, ctx)).collect::<Result<_, _>>()?),
        other => other.clone(),
    })
}

fn reqwest_method(m: Method) -> reqwest::Method {
    match m {
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

/// How a change ended well.
enum Ended {
    Done,
    Already(String),
}

/// Sends one change's request.
async fn run_change(i: usize, c: &Change, ctx: &Ctx) -> Result<Ended, ChangeError> {
    let req = c.request.as_ref().ok_or_else(|| ChangeError::Other("the plan has no request for it".into()))?;
    let path = resolve_path(&req.path, ctx)?;
    let body = req.body.as_ref().map(|b| resolve_body(b, ctx)).transpose()?;
    if c.op == Op::Create {
        async fn create<S: Managed>(
            client: &WriteClient,
            key: &str,
            body: &Value,
        ) -> Result<(u64, Option<Secret>, Value), ApiError> {
            let created = client.create::<S::R>(key, body).await?;
            Ok((<S::R as Resource>::live_id(&created.live), created.secret, created.answer))
        }
        let body = body.unwrap_or(Value::Null);
        let (id, secret, answer) = with_kind!(c.kind, S => create::<S>(&ctx.client, &c.key, &body).await)?;
        ctx.answered(c.kind, answer).await;
        ctx.created.lock().unwrap_or_else(|p| p.into_inner()).insert(i, id);
        if let Some(secret) = secret {
            deliver(ctx, c, id, &secret).await?;
        }
        return Ok(Ended::Done);
    }
    let id = c.id.or_else(|| c.after.iter().find_map(|n| ctx.created(*n)));
    match ctx.client.send(reqwest_method(req.method), &path, body.as_ref()).await {
        Ok(mut data) => {
            if let Some(secret) = WriteClient::take_secret(&mut data) {
                deliver(ctx, c, id.unwrap_or_default(), &secret).await?;
            }
            if c.op != Op::Delete {
                ctx.answered(c.kind, data).await;
            }
            Ok(Ended::Done)
        }
        Err(e) if c.op == Op::Delete && e.status() == Some(404) => Ok(Ended::Already("it was already gone".into())),
        // An action whose target state holds is refused by the API when repeated; the change is done.
        Err(e) if c.op == Op::Action && e.status() == Some(422) => {
            let action = c.action.as_deref().unwrap_or_default();
            match id {
                Some(id) => match read_one(c.kind, id, &ctx.client, &[action]).await? {
                    Some(v) if v.holds.first().and_then(|(_, h)| *h) == Some(true) => {
                        Ok(Ended::Already(format!("`{action}` was already in effect")))
                    }
                    _ => Err(e.into()),
                },
                None => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Hands a captured secret to the sink; a secret that cannot be delivered fails the change, loudly.
async fn deliver(ctx: &Ctx, c: &Change, id: u64, secret: &Secret) -> Result<(), ChangeError> {
    let target = format!("{}/{}", c.kind.as_str(), c.key);
    let rotate = crate::redact::skyform_command(&["rotate", &target], &ctx.connection);
    let Some(sink) = &ctx.sink else {
        return Err(ChangeError::Other(format!(
            "a secret was returned but no secrets sink was given: run `{rotate} --secrets-out FILE` (or --secrets-cmd CMD)"
        )));
    };
    sink.deliver(c.kind.singular(), &c.key, id, secret).await.map_err(|why| {
        ChangeError::Other(format!("the secret was not delivered ({why}); once the sink works, run `{rotate}` with it"))
    })
}

/// Executes the plan's changes in order, independent ones concurrently (the client's pacer and
/// parallelism bound them), then verifies. On an interrupt (the client's [`crate::api::Cancel`]) nothing new
/// starts; changes in flight get the request timeout (plus a little) to finish, after which their outcome is
/// unknown. The report is returned in every case: every exit after the first write has its summary.
pub async fn execute_plan(
    plan: &Plan,
    client: &WriteClient,
    secrets: BTreeMap<String, Secret>,
    sink: Option<SecretSink>,
    opts: &ApplyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ApplyReport, Error> {
    let started = Instant::now();
    let before = client.stats();
    let cancel = client.cancel();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        created: Mutex::new(HashMap::new()),
        answers: Mutex::new(HashMap::new()),
        sink,
        secrets,
        connection: opts.connection.clone(),
    });
    // Shared with the change tasks, not cloned per task: a 10,000-change plan is large.
    let changes = Arc::new(plan.changes.clone());
    let total = changes.iter().filter(|c| c.op != Op::Refused).count();
    let mut status: Vec<Option<Status>> =
        changes.iter().map(|c| (c.op == Op::Refused).then_some(Status::Refused)).collect();
    let mut running: tokio::task::JoinSet<(usize, Result<Ended, ChangeError>, f64)> = tokio::task::JoinSet::new();
    let mut in_flight: HashSet<usize> = HashSet::new();
    let mut stop = false;
    let mut finished = 0;
    // Every change before this one has a status: the scan for ready changes starts here, so scheduling
    // stays linear in the plan's size (changes depend only on earlier ones).
    let mut first_open = 0;
    // Once interrupted: how long changes in flight may still take.
    let mut drain_until: Option<Instant> = None;
    loop {
        if cancel.is_cancelled() && drain_until.is_none() {
            drain_until = Some(Instant::now() + client.request_timeout() + Duration::from_secs(2));
        }
        if !stop && drain_until.is_none() {
            while first_open < changes.len() && status[first_open].is_some() {
                first_open += 1;
            }
            for i in first_open..changes.len() {
                // Start no more than the client runs at once, so "started" means sent: after a failure,
                // nothing queued behind it goes out.
                if running.len() >= client.parallelism() {
                    break;
                }
                if status[i].is_some() {
                    continue;
                }
                let deps = &changes[i].after;
                let failed_dep = deps
                    .iter()
                    .find(|&&j| matches!(status[j], Some(Status::Failed(_) | Status::Skipped(_) | Status::Unknown(_))));
                if let Some(&j) = failed_dep {
                    status[i] = Some(Status::Skipped(format!("depends on {}", crate::render::headline(&changes[j]))));
                    continue;
                }
                // Refused same-object changes do not block: they were never going to happen.
                let ready = deps.iter().all(|&j| {
                    !in_flight.contains(&j)
                        && matches!(status[j], Some(Status::Done | Status::AlreadyDone(_) | Status::Refused))
                });
                if ready {
                    status[i] = Some(Status::NotStarted);
                    in_flight.insert(i);
                    let (all, ctx) = (changes.clone(), ctx.clone());
                    running.spawn(async move {
                        let t = Instant::now();
                        let r = run_change(i, &all[i], &ctx).await;
                        (i, r, t.elapsed().as_secs_f64())
                    });
                }
            }
        }
        if running.is_empty() {
            break;
        }
        let joined = match drain_until {
            None => tokio::select! {
                j = running.join_next() => j,
                _ = cancel.cancelled() => continue,
            },
            Some(until) => match tokio::time::timeout_at(until.into(), running.join_next()).await {
                Ok(j) => j,
                Err(_) => {
                    // Still in flight at the bound: sent, outcome unknown.
                    running.abort_all();
                    for i in in_flight.drain() {
                        status[i] = Some(Status::Unknown(format!(
                            "still in flight {} s after the interrupt",
                            client.request_timeout().as_secs() + 2
                        )));
                    }
                    break;
                }
            },
        };
        let Some(joined) = joined else { break };
        let (i, result, secs) = joined.map_err(|e| Error::new(ErrorKind::Api, format!("a change task failed: {e}")))?;
        in_flight.remove(&i);
        let s = match result {
            Ok(Ended::Done) => Status::Done,
            Ok(Ended::Already(why)) => Status::AlreadyDone(why),
            Err(ChangeError::Api(e)) if e.failure == Failure::OutcomeUnknown => {
                if !opts.keep_going {
                    stop = true;
                }
                Status::Unknown(e.message)
            }
            Err(ChangeError::Api(e)) if e.failure == Failure::Stopped => Status::NotStarted,
            Err(e) => {
                if !opts.keep_going {
                    stop = true;
                }
                Status::Failed(e)
            }
        };
        finished += 1;
        progress(Progress::Finished { done: finished, total, change: &changes[i], status: &s, secs });
        status[i] = Some(s);
    }
    drop(running);
    // Every task has ended: the changes are ours again, moved into the report rather than copied.
    let changes = Arc::try_unwrap(changes).unwrap_or_else(|shared| (*shared).clone());
    let outcomes: Vec<(Change, Status)> =
        changes.into_iter().zip(status).map(|(c, s)| (c, s.unwrap_or(Status::NotStarted))).collect();
    let created = ctx.created.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut notes = Vec::new();
    if let Some(sink) = &ctx.sink {
        if let Err(e) = sink.finish().await {
            notes.push(format!("the secrets were recorded, but folding them into the file failed: {}", e.message));
        }
    }
    // After an interrupt nothing new is sent, verification reads included.
    let not_converged = if cancel.is_cancelled() {
        notes.push("the changes done were not verified: the apply was interrupted; the next plan shows where the account stands".into());
        Vec::new()
    } else {
        let answers = ctx.answers.lock().unwrap_or_else(|p| p.into_inner()).clone();
        verify(&outcomes, &created, &answers, client).await
    };
    client.flush_cache().await;
    let after = client.stats();
    Ok(ApplyReport {
        outcomes,
        requests: after.requests - before.requests,
        throttled: after.throttled - before.throttled,
        elapsed: started.elapsed(),
        not_converged,
        interrupted: cancel.reason().filter(|_| cancel.is_cancelled()),
        notes,
    })
}

/// `v` with each reference to an object this apply created replaced by its id; a list of ids sorted again
/// (canonical id lists are sets).
fn resolve_references(v: &Value, new_ids: &HashMap<(Kind, String), u64>) -> Value {
    if let Some((kind, key)) = crate::resources::as_reference(v) {
        return new_ids.get(&(kind, kind.match_key(&key))).map_or_else(|| v.clone(), |id| Value::from(*id));
    }
    match v {
        Value::Array(a) => {
            let mut items: Vec<Value> = a.iter().map(|x| resolve_references(x, new_ids)).collect();
            if items.iter().all(Value::is_u64) {
                items.sort_by_key(|x| x.as_u64());
            }
            Value::Array(items)
        }
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), resolve_references(x, new_ids))).collect()),
        other => other.clone(),
    }
}

/// Reads every object a done change touched, and compares it with what the plan declared: the fields the
/// changes set, the last action's target state, deletes gone. One list read per kind touched; the fields
/// lists lack come from the writes' answers, and a single GET only where neither shows one
/// (`plan::live::verify_reads`). Problems (verification reads that
/// fail included) are returned, never raised: they belong in the summary, not in its place.
async fn verify(
    outcomes: &[(Change, Status)],
    created: &HashMap<usize, u64>,
    answers: &HashMap<(Kind, u64), Value>,
    client: &WriteClient,
) -> Vec<String> {
    struct Expect<'a> {
        kind: Kind,
        key: &'a str,
        fields: Vec<(&'a str, Value)>,
        last_action: Option<&'a str>,
        deleted: bool,
    }
    // Objects this apply created, by kind and key: declared values that refer to one
    // (`resources::reference`) are compared as the id it got.
    let new_ids: HashMap<(Kind, String), u64> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, (c, s))| c.op == Op::Create && s.is_done())
        .filter_map(|(i, (c, _))| Some(((c.kind, c.kind.match_key(&c.key)), *created.get(&i)?)))
        // A live object this plan renames (pinned by id) is referred to by its new name: its id.
        .chain(
            outcomes
                .iter()
                .filter(|(c, _)| c.op == Op::Update)
                .filter_map(|(c, _)| Some(((c.kind, c.kind.match_key(&c.key)), c.id?))),
        )
        .collect();
    let mut objects: BTreeMap<(Kind, u64), Expect> = BTreeMap::new();
    for (i, (c, s)) in outcomes.iter().enumerate() {
        if !s.is_done() {
            continue;
        }
        let Some(id) =
            c.id.or_else(|| created.get(&i).copied()).or_else(|| c.after.iter().find_map(|n| created.get(n).copied()))
        else {
            continue;
        };
        let e = objects.entry((c.kind, id)).or_insert(Expect {
            kind: c.kind,
            key: &c.key,
            fields: Vec::new(),
            last_action: None,
            deleted: false,
        });
        match c.op {
            Op::Delete => e.deleted = true,
            Op::Action => e.last_action = c.action.as_deref(),
            _ => {
                for f in c.fields.iter().filter(|f| !f.sensitive) {
                    if let Some(v) = &f.new {
                        e.fields.retain(|(name, _)| *name != f.field);
                        e.fields.push((&f.field, resolve_references(v, &new_ids)));
                    }
                }
            }
        }
    }
    let mut problems = Vec::new();
    let mut reads: HashMap<(Kind, u64), Option<Seen>> = HashMap::new();
    let kinds: std::collections::BTreeSet<Kind> = objects.keys().map(|(k, _)| *k).collect();
    for kind in kinds {
        let expected: Vec<Expected> = objects
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|((_, id), e)| Expected {
                id: *id,
                actions: e.last_action.into_iter().collect(),
                fields: e.fields.iter().map(|(f, v)| (*f, v)).collect(),
            })
            .collect();
        match verify_reads(kind, &expected, answers, client).await {
            Ok(views) => reads.extend(views.into_iter().map(|(id, v)| ((kind, id), v))),
            Err(err) => {
                for ((_, id), e) in objects.iter().filter(|((k, _), _)| *k == kind) {
                    problems.push(format!("{} {} (id {id}): could not verify: {err}", e.kind.singular(), e.key));
                }
            }
        }
    }
    for ((kind, id), e) in &objects {
        let Some(read) = reads.remove(&(*kind, *id)) else { continue };
        match (read, e.deleted) {
            (None, true) => {}
            (Some(_), true) => {
                problems.push(format!("{} {} (id {id}) still exists after its delete", kind.singular(), e.key))
            }
            (None, false) => {
                problems.push(format!("{} {} (id {id}) does not exist after its changes", kind.singular(), e.key))
            }
            (Some(view), false) => {
                for (field, want) in &e.fields {
                    let live = view.fields.iter().find(|(f, _)| f == field).map_or(&Value::Null, |(_, v)| v);
                    if live != want {
                        problems.push(format!(
                            "{} {}: {field}: live {} vs declared {}",
                            kind.singular(),
                            e.key,
                            crate::render::short_value(live),
                            crate::render::short_value(want)
                        ));
                    }
                }
                if let Some((action, Some(false))) = view.holds.first().map(|(a, h)| (a.as_str(), *h)) {
                    problems.push(format!("{} {}: `{action}` did not take effect", kind.singular(), e.key));
                }
            }
        }
    }
    problems
}
