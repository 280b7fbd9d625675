//! `apply`: execute a plan with the writable client, in its order, concurrently where changes are
//! independent; keep secrets; tell the truth about partial failures; then re-read and prove convergence.

pub mod run;
pub mod secrets;

use crate::api::{ApiError, ReadClient, WriteClient};
use crate::manifest::problem::Problems;
use crate::manifest::ManifestSet;
use crate::plan::{build, live_fingerprint, manifest_digest, Change, Op, Plan, PlanOptions, Target, FORMAT_VERSION};
use crate::resources::agent::AgentSpec;
use crate::resources::campaign::{CampaignAction, CampaignSpec};
use crate::resources::knowledge::KnowledgeEntrySpec;
use crate::resources::team::TeamMemberSpec;
use crate::resources::webhook::WebhookSpec;
use crate::resources::{Ensure, Entry, Kind, Lookups, Managed, Resource, Secrets};
use crate::{Error, ErrorKind};
use secrets::SecretsFile;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs `$body` with `$S` as the spec type of `$kind`.
macro_rules! with_kind {
    ($kind:expr, $S:ident => $body:expr) => {
        match $kind {
            Kind::Agents => {
                type $S = AgentSpec;
                $body
            }
            Kind::KnowledgeBase => {
                type $S = KnowledgeEntrySpec;
                $body
            }
            Kind::Webhooks => {
                type $S = WebhookSpec;
                $body
            }
            Kind::Team => {
                type $S = TeamMemberSpec;
                $body
            }
            Kind::Campaigns => {
                type $S = CampaignSpec;
                $body
            }
        }
    };
}

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// After a failure, go on with the changes that do not depend on it.
    pub keep_going: bool,
    /// Where webhook secrets are written (mode 0600).
    pub secrets_out: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Done,
    Failed(String),
    /// Never started: an earlier failure stopped the apply.
    NotStarted,
    /// Not started because a change it depends on failed (`--keep-going`).
    Skipped(String),
    /// The plan refused it; apply never attempts it.
    Refused,
}

/// What happened, for the summary and the exit code.
#[derive(Debug)]
pub struct ApplyReport {
    pub outcomes: Vec<(Change, Status)>,
    pub requests: u64,
    pub throttled: u64,
    pub elapsed: Duration,
    /// Fields or steps that did not converge (empty when converged).
    pub not_converged: Vec<String>,
}

impl ApplyReport {
    fn count(&self, f: impl Fn(&Status) -> bool) -> usize {
        self.outcomes.iter().filter(|(_, s)| f(s)).count()
    }

    /// Everything done, nothing refused, and the account converged.
    pub fn success(&self) -> bool {
        self.outcomes.iter().all(|(_, s)| *s == Status::Done) && self.not_converged.is_empty()
    }

    /// The closing summary: every change that did not simply succeed, then the counts.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (c, s) in &self.outcomes {
            let line = match s {
                Status::Done => continue,
                Status::Failed(e) => format!("  failed:      {}\n      {e}\n", crate::render::headline(c)),
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
        out.push_str(&format!(
            "Apply: {} done, {} failed, {} not started, {} refused; {} API requests, {} rate-limited (429), {:.1} s.\n",
            self.count(|s| *s == Status::Done),
            self.count(|s| matches!(s, Status::Failed(_))),
            self.count(|s| matches!(s, Status::NotStarted | Status::Skipped(_))),
            self.count(|s| *s == Status::Refused),
            self.requests,
            self.throttled,
            self.elapsed.as_secs_f64()
        ));
        if self.not_converged.is_empty() {
            out.push_str("Verified: converged (every change done reads back as declared).\n");
        } else {
            out.push_str("Verified: NOT converged:\n");
            for n in &self.not_converged {
                out.push_str(&format!("  {n}\n"));
            }
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
        return Err(Error::new(ErrorKind::Refused, plan.blocked.join("\n"))
            .with_hint("re-plan with --allow-deletes KIND if those deletes are intended"));
    }
    let needs_secret = plan
        .changes
        .iter()
        .any(|c| (c.kind == Kind::Webhooks && c.op == Op::Create) || c.action.as_deref() == Some("regenerate-secret"));
    if needs_secret && opts.secrets_out.is_none() {
        return Err(Error::new(
            ErrorKind::Refused,
            "this plan creates or rotates a webhook secret, which the API shows only once, and no --secrets-out file was given",
        )
        .with_hint("pass --secrets-out FILE (written with mode 0600); nothing was changed"));
    }
    Ok(())
}

/// A saved plan applies only to the manifests and the account it was made from: re-reads exactly the
/// objects it touches and refuses, naming each, when one moved, or when an object it creates now exists.
pub async fn check_saved(plan: &Plan, set: &ManifestSet, client: &ReadClient, lookups: &Lookups) -> Result<(), Error> {
    if plan.format_version != FORMAT_VERSION {
        return Err(Error::new(
            ErrorKind::Refused,
            format!("the plan file has format version {}, this skyform reads {FORMAT_VERSION}", plan.format_version),
        )
        .with_hint("re-run skyform plan with this version"));
    }
    if manifest_digest(set, lookups) != plan.manifest_digest {
        return Err(Error::new(
            ErrorKind::Refused,
            "the manifests (or the names they resolve to) changed since this plan was made",
        )
        .with_hint("re-run skyform plan and review the new plan"));
    }
    let mut stale = Vec::new();
    let mut read: HashMap<(Kind, u64), Option<String>> = HashMap::new();
    for c in &plan.changes {
        let (Some(id), Some(expected)) = (c.id, &c.fingerprint) else { continue };
        let with_fields = c.op != Op::Delete;
        let key = (c.kind, id);
        if !read.contains_key(&key) || with_fields {
            let fp = with_kind!(c.kind, S => {
                match client.get::<<S as Managed>::R>(id).await {
                    Ok(live) => Some(live_fingerprint::<S>(&live, with_fields || !S::NEEDS_DETAIL)),
                    Err(e) if e.status() == Some(404) => None,
                    Err(e) => return Err(e.into()),
                }
            });
            read.insert(key, fp);
        }
        match &read[&key] {
            None => stale.push(format!("{} \"{}\" (id {id}) no longer exists", c.kind.singular(), c.key)),
            Some(fp) if fp != expected => {
                stale.push(format!("{} \"{}\" (id {id}) changed since the plan was made", c.kind.singular(), c.key))
            }
            Some(_) => {}
        }
    }
    let create_kinds: HashSet<Kind> = plan.changes.iter().filter(|c| c.op == Op::Create).map(|c| c.kind).collect();
    for kind in Kind::ALL.into_iter().filter(|k| create_kinds.contains(k)) {
        let keys: Vec<(String, u64)> = with_kind!(kind, S => {
            client.list::<<S as Managed>::R>().await?.iter()
                .map(|l| (<<S as Managed>::R as Resource>::live_key(l), <<S as Managed>::R as Resource>::live_id(l)))
                .collect()
        });
        for c in plan.changes.iter().filter(|c| c.kind == kind && c.op == Op::Create) {
            if let Some((_, id)) = keys.iter().find(|(k, _)| *k == c.key) {
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
        Err(Error::new(ErrorKind::Refused, format!("the saved plan is stale:\n  {}", stale.join("\n  ")))
            .with_hint("re-run skyform plan and review the new plan; nothing was changed"))
    }
}

/// The secret values the plan's creates send (team passwords), read from `SKYFORM_SECRET_*` now, before any
/// request: a create whose secret is not set is a located error, and nothing is sent. Plans and applies that
/// create nothing secret never need the variables.
pub fn resolve_secrets(plan: &Plan, set: &ManifestSet, env: crate::manifest::Env) -> Result<Secrets, Error> {
    fn refs<S: Managed>(
        set: &ManifestSet,
        key: &str,
        env: crate::manifest::Env,
        out: &mut Secrets,
        problems: &mut Problems,
    ) where
        ManifestSet: EntriesOf<S>,
    {
        let Some(e) = entry(entries::<S>(set), key) else { return };
        for (field, r) in e.secret_refs() {
            match r.resolve(env) {
                Some(v) if v.expose().chars().count() < 8 => problems.push(
                    e.origin()
                        .problem(field, format!("{} is shorter than 8 characters, the API's minimum", r.env_var())),
                ),
                Some(v) => {
                    out.insert(r.var.clone(), v);
                }
                None => problems.push(
                    e.origin()
                        .problem(
                            field,
                            format!(
                                "{} `{key}` is created by this plan and needs `{field}`: {} is not set",
                                S::R::KIND.singular(),
                                r.env_var()
                            ),
                        )
                        .hint(format!(
                            "export {} where skyform applies (a CI secret); nothing was changed",
                            r.env_var()
                        )),
                ),
            }
        }
    }
    let mut out = Secrets::new();
    let mut problems = Problems::default();
    for c in plan.changes.iter().filter(|c| c.op == Op::Create) {
        with_kind!(c.kind, S => refs::<S>(set, &c.key, env, &mut out, &mut problems));
    }
    if problems.is_empty() {
        return Ok(out);
    }
    for (file, text) in &set.sources {
        problems.keep_source(file, text);
    }
    problems.sort();
    Err(Error::problems(&problems))
}

/// Which earlier changes each change waits for: the same object's earlier changes (create before its
/// actions), and for agent deletes every `set-default` (the old default goes only after the new one is set).
fn dependencies(changes: &[Change]) -> Vec<Vec<usize>> {
    changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (0..i)
                .filter(|&j| {
                    let d = &changes[j];
                    (d.kind == c.kind && d.key == c.key)
                        || (c.kind == Kind::Agents && c.op == Op::Delete && d.action.as_deref() == Some("set-default"))
                })
                .collect()
        })
        .collect()
}

/// Shared by the change tasks.
struct Ctx {
    client: WriteClient,
    set: Arc<ManifestSet>,
    lookups: Lookups,
    /// Ids of objects created during this apply, for their later actions.
    created: Mutex<HashMap<(Kind, String), u64>>,
    secrets_file: Option<Mutex<SecretsFile>>,
    /// Secret values the plan's creates send (passwords), resolved before the first request.
    secrets: Secrets,
}

fn entry<'a, S: Entry>(list: &'a [S], key: &str) -> Option<&'a S> {
    list.iter().find(|e| e.ensure() == Ensure::Present && e.natural_key() == key)
}

fn entries<S: Managed>(set: &ManifestSet) -> &[S]
where
    ManifestSet: EntriesOf<S>,
{
    set.entries_of()
}

/// The manifest entries of one kind.
pub trait EntriesOf<S> {
    fn entries_of(&self) -> &[S];
}
macro_rules! entries_of {
    ($($spec:ty => $field:ident),*) => {
        $(impl EntriesOf<$spec> for ManifestSet {
            fn entries_of(&self) -> &[$spec] {
                &self.$field
            }
        })*
    };
}
entries_of!(AgentSpec => agents, KnowledgeEntrySpec => knowledge_base, WebhookSpec => webhooks,
    TeamMemberSpec => team, CampaignSpec => campaigns);

fn api(e: ApiError) -> String {
    e.to_string()
}

async fn execute<S: Managed>(c: &Change, ctx: &Ctx) -> Result<(), String>
where
    ManifestSet: EntriesOf<S>,
{
    let set = ctx.set.clone();
    let e = entry(entries::<S>(&set), &c.key);
    let id =
        c.id.or_else(|| ctx.created.lock().unwrap_or_else(|p| p.into_inner()).get(&(c.kind, c.key.clone())).copied());
    let need_entry = || e.ok_or_else(|| format!("{} \"{}\" is not in the manifests", c.kind.singular(), c.key));
    let need_id =
        || id.ok_or_else(|| format!("{} \"{}\" has no id (its create did not run)", c.kind.singular(), c.key));
    match c.op {
        Op::Create => {
            let e = need_entry()?;
            let body = e.body(&e.desired(&ctx.lookups).map_err(|p| p.message)?, true, &ctx.secrets);
            let created = ctx.client.create::<S::R>(&c.key, &body).await.map_err(api)?;
            let new_id = <S::R as Resource>::live_id(&created.live);
            ctx.created.lock().unwrap_or_else(|p| p.into_inner()).insert((c.kind, c.key.clone()), new_id);
            if let Some(secret) = created.secret {
                let token = ctx.set.webhooks.iter().find(|w| w.name == c.key).and_then(|w| w.rotate_secret.clone());
                record_secret(ctx, &c.key, new_id, &secret, token.as_deref())?;
            }
        }
        Op::Update => {
            let e = need_entry()?;
            let body = e.body(&e.desired(&ctx.lookups).map_err(|p| p.message)?, false, &ctx.secrets);
            ctx.client.update::<S::R>(need_id()?, &body).await.map_err(api)?;
        }
        Op::Delete => ctx.client.delete::<S::R>(need_id()?).await.map_err(api)?,
        Op::Action => {
            let id = need_id()?;
            match c.action.as_deref().unwrap_or("") {
                "set-default" => {
                    ctx.client.set_default_agent(id).await.map_err(api)?;
                }
                "regenerate-secret" => {
                    let (_, secret) = ctx.client.regenerate_webhook_secret(id).await.map_err(api)?;
                    let token = ctx.set.webhooks.iter().find(|w| w.name == c.key).and_then(|w| w.rotate_secret.clone());
                    record_secret(ctx, &c.key, id, &secret, token.as_deref())?;
                }
                other => {
                    let action = match other {
                        "start" => CampaignAction::Start,
                        "pause" => CampaignAction::Pause,
                        "resume" => CampaignAction::Resume,
                        "cancel" => CampaignAction::Cancel,
                        _ => return Err(format!("unknown action `{other}`")),
                    };
                    ctx.client.campaign_action(id, action).await.map_err(api)?;
                }
            }
        }
        Op::Refused => return Err("refused by the plan".into()),
    }
    Ok(())
}

fn record_secret(
    ctx: &Ctx,
    name: &str,
    id: u64,
    secret: &crate::resources::Secret,
    token: Option<&str>,
) -> Result<(), String> {
    match &ctx.secrets_file {
        Some(file) => {
            file.lock().unwrap_or_else(|p| p.into_inner()).record(name, id, secret, token).map_err(|e| e.message)
        }
        None => Err("a secret was returned but there is no --secrets-out file to keep it".into()),
    }
}

/// Executes the plan's changes in order, independent ones concurrently (the client's pacer and
/// parallelism bound them), then verifies.
pub async fn execute_plan(
    plan: &Plan,
    set: Arc<ManifestSet>,
    client: &WriteClient,
    lookups: Lookups,
    secrets: Secrets,
    opts: &ApplyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ApplyReport, Error> {
    let started = Instant::now();
    let before = client.stats();
    let secrets_file = match &opts.secrets_out {
        Some(p) => Some(Mutex::new(SecretsFile::open(p)?)),
        None => None,
    };
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        set: set.clone(),
        lookups,
        created: Mutex::new(HashMap::new()),
        secrets_file,
        secrets,
    });
    let changes = plan.changes.clone();
    let deps = dependencies(&changes);
    let total = changes.iter().filter(|c| c.op != Op::Refused).count();
    let mut status: Vec<Option<Status>> =
        changes.iter().map(|c| (c.op == Op::Refused).then_some(Status::Refused)).collect();
    let mut running = tokio::task::JoinSet::new();
    let mut stop = false;
    let mut finished = 0;
    loop {
        if !stop {
            for i in 0..changes.len() {
                // Start no more than the client runs at once, so "started" means sent: after a failure,
                // nothing queued behind it goes out.
                if running.len() >= client.parallelism() {
                    break;
                }
                if status[i].is_some() {
                    continue;
                }
                let failed_dep =
                    deps[i].iter().find(|&&j| matches!(status[j], Some(Status::Failed(_) | Status::Skipped(_))));
                if let Some(&j) = failed_dep {
                    status[i] = Some(Status::Skipped(format!("depends on {}", crate::render::headline(&changes[j]))));
                    continue;
                }
                if deps[i].iter().all(|&j| matches!(status[j], Some(Status::Done | Status::Refused))) {
                    // Refused same-object changes do not block: they were never going to happen.
                    status[i] = Some(Status::NotStarted); // placeholder: running
                    let (c, ctx) = (changes[i].clone(), ctx.clone());
                    running.spawn(async move {
                        let t = Instant::now();
                        let r = with_kind!(c.kind, S => execute::<S>(&c, &ctx).await);
                        (i, r, t.elapsed().as_secs_f64())
                    });
                }
            }
        }
        let Some(joined) = running.join_next().await else { break };
        let (i, result, secs) = joined.map_err(|e| Error::new(ErrorKind::Api, format!("a change task failed: {e}")))?;
        let s = match result {
            Ok(()) => Status::Done,
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
    // What never started because the apply stopped.
    let mut outcomes: Vec<(Change, Status)> = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        let s = match &status[i] {
            None => Status::NotStarted,
            Some(s) => s.clone(),
        };
        outcomes.push((c.clone(), s));
    }

    let not_converged = verify(plan, &outcomes, &set, client, opts).await?;
    let after = client.stats();
    Ok(ApplyReport {
        outcomes,
        requests: after.requests - before.requests,
        throttled: after.throttled - before.throttled,
        elapsed: started.elapsed(),
        not_converged,
    })
}

/// Re-reads what was touched and plans it again: anything still to do did not converge.
async fn verify(
    plan: &Plan,
    outcomes: &[(Change, Status)],
    set: &ManifestSet,
    client: &WriteClient,
    opts: &ApplyOptions,
) -> Result<Vec<String>, Error> {
    let done: Vec<&Change> = outcomes.iter().filter(|(_, s)| *s == Status::Done).map(|(c, _)| c).collect();
    let mut problems = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    for c in done.iter().filter(|c| c.op != Op::Delete) {
        let t = Target { kind: c.kind, name: Some(c.key.clone()) };
        if !targets.contains(&t) {
            targets.push(t);
        }
    }
    if !targets.is_empty() {
        let mut options = PlanOptions { targets, ..PlanOptions::default() };
        if let Some(path) = &opts.secrets_out {
            options.rotation_tokens = Some(crate::plan::run::rotation_tokens(path)?);
        }
        match build(set, client, &options).await {
            Ok(again) => {
                for c in again.changes.iter().filter(|c| c.op != Op::Refused) {
                    if c.fields.is_empty() {
                        problems.push(format!("{}: still to do", crate::render::headline(c)));
                    }
                    for f in &c.fields {
                        let show = |v: &Option<serde_json::Value>| {
                            v.as_ref().map_or("(absent)".into(), crate::render::short_value)
                        };
                        problems.push(format!(
                            "{} {}: {}: live {} vs declared {}",
                            c.kind.singular(),
                            c.key,
                            f.field,
                            show(&f.old),
                            if f.sensitive { "(sensitive)".into() } else { show(&f.new) }
                        ));
                    }
                }
            }
            Err(crate::plan::PlanError::Api(e)) => return Err(e.into()),
            Err(crate::plan::PlanError::Problems(p)) => return Err(Error::problems(&p)),
        }
    }
    for c in done.iter().filter(|c| c.op == Op::Delete) {
        let Some(id) = c.id else { continue };
        let exists = with_kind!(c.kind, S => match client.get::<<S as Managed>::R>(id).await {
            Ok(_) => true,
            Err(e) if e.status() == Some(404) => false,
            Err(e) => return Err(e.into()),
        });
        if exists {
            problems.push(format!("{} {} (id {id}) still exists after its delete", c.kind.singular(), c.key));
        }
    }
    let _ = plan;
    Ok(problems)
}
