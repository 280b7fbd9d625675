//! Building a [`Plan`] from manifests and the live account.

use super::{fingerprint, Change, FieldChange, Op, Plan, Unmanaged, FORMAT_VERSION};
use crate::api::{ApiError, ReadClient};
use crate::manifest::problem::{Problem, Problems};
use crate::manifest::ManifestSet;
use crate::resources::agent::AgentSpec;
use crate::resources::{ActionContext, Ensure, Entry, Kind, Lookups, Managed, Resource, Step};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What narrows or widens a plan.
#[derive(Debug, Default, Clone)]
pub struct PlanOptions {
    /// `--target KIND` or `KIND/NAME`: only these (empty: everything).
    pub targets: Vec<Target>,
    /// `--prune KIND`, added to `settings.prune`.
    pub prune: Vec<Kind>,
    /// `--allow-deletes KIND`: lifts the delete guard for the kind.
    pub allow_deletes: Vec<Kind>,
    /// The `rotate_secret` tokens last applied, from the secrets file (None: no file given).
    pub rotation_tokens: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub kind: Kind,
    pub name: Option<String>,
}

impl Target {
    /// `agents` or `agents/Sales Assistant`.
    pub fn parse(s: &str) -> Result<Target, String> {
        let (kind, name) = match s.split_once('/') {
            Some((k, n)) => (k, Some(n.to_string())),
            None => (s, None),
        };
        let kind = Kind::parse(kind).ok_or_else(|| {
            let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown kind `{kind}` in --target {s}: kinds are {}", kinds.join(", "))
        })?;
        Ok(Target { kind, name })
    }
}

#[derive(Debug)]
pub enum PlanError {
    /// The manifests name things the account does not have, or match it ambiguously.
    Problems(Problems),
    Api(ApiError),
}

impl From<ApiError> for PlanError {
    fn from(e: ApiError) -> Self {
        PlanError::Api(e)
    }
}

/// What one kind contributes.
struct KindPlan<L> {
    changes: Vec<Change>,
    deletes: Vec<Change>,
    unmanaged: Vec<Unmanaged>,
    live_count: usize,
    /// Per entry: the live object it matched (with details where read).
    matched: Vec<Option<L>>,
    live: Vec<L>,
}

struct Scope<'a> {
    opts: &'a PlanOptions,
    prune: Vec<Kind>,
}

impl Scope<'_> {
    fn wants(&self, kind: Kind, key: &str) -> bool {
        self.opts.targets.is_empty()
            || self.opts.targets.iter().any(|t| {
                // Team members are keyed by email, which compares without case.
                t.kind == kind
                    && t.name.as_deref().is_none_or(|n| n == key || (kind == Kind::Team && n.eq_ignore_ascii_case(key)))
            })
    }

    fn kind_in_scope(&self, kind: Kind) -> bool {
        self.opts.targets.is_empty() || self.opts.targets.iter().any(|t| t.kind == kind)
    }

    /// Unnamed live objects are deleted only when the kind is pruned and the whole kind is in scope.
    fn prunes(&self, kind: Kind) -> bool {
        self.prune.contains(&kind)
            && (self.opts.targets.is_empty() || self.opts.targets.iter().any(|t| t.kind == kind && t.name.is_none()))
    }
}

fn field_map(fields: &[(&'static str, Value)]) -> Value {
    Value::Object(fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

/// The fingerprint of a live object: its summary, plus its managed fields where the plan read them
/// the same way a saved plan's re-read will (everything but deletes of kinds whose bodies need a GET).
pub fn live_fingerprint<S: Managed>(live: &<S::R as Resource>::Live, with_fields: bool) -> String {
    let fields = if with_fields { field_map(&S::live_fields(live)) } else { Value::Null };
    fingerprint(&json!({"summary": S::R::summary(live), "fields": fields}))
}

async fn plan_kind<S: Managed>(
    entries: &[&S],
    client: &ReadClient,
    lookups: &Lookups,
    scope: &Scope<'_>,
    actx: &ActionContext,
    problems: &mut Vec<Problem>,
) -> Result<KindPlan<<S::R as Resource>::Live>, ApiError> {
    let kind = S::R::KIND;
    let live = client.list::<S::R>().await?;
    let id_of = |l: &<S::R as Resource>::Live| S::R::live_id(l);

    // Match: pinned ids first, then natural keys among what is left.
    let mut taken: HashSet<u64> = HashSet::new();
    let mut matched: Vec<Option<usize>> = vec![None; entries.len()];
    for (i, e) in entries.iter().enumerate() {
        let Some(id) = e.id() else { continue };
        match live.iter().position(|l| id_of(l) == id) {
            Some(j) => {
                taken.insert(id);
                matched[i] = Some(j);
            }
            None if e.ensure() == Ensure::Present => problems.push(
                e.origin()
                    .problem("id", format!("{} id {id} (pinned) does not exist in the account", kind.singular()))
                    .hint("remove `id:` to create it, or pin the id of an existing object"),
            ),
            None => {}
        }
    }
    for (i, e) in entries.iter().enumerate() {
        if e.id().is_some() {
            continue;
        }
        let key = e.natural_key();
        let candidates: Vec<usize> = (0..live.len())
            .filter(|j| S::R::live_key(&live[*j]) == key && !taken.contains(&id_of(&live[*j])))
            .collect();
        match candidates.as_slice() {
            [] => {}
            [j] => {
                taken.insert(id_of(&live[*j]));
                matched[i] = Some(*j);
            }
            many => {
                let ids: Vec<String> = many.iter().map(|j| id_of(&live[*j]).to_string()).collect();
                problems.push(
                    e.origin()
                        .problem(
                            S::KEY_FIELD,
                            format!(
                                "{} live {}s have {} `{key}` (ids {})",
                                many.len(),
                                kind.singular(),
                                S::KEY_FIELD,
                                ids.join(", ")
                            ),
                        )
                        .hint(format!("pin this entry to one of them with `id: {}`", ids[0])),
                );
            }
        }
    }

    // Single GETs only where the list lacks managed fields, and only for objects the manifests keep.
    let mut details: HashMap<u64, <S::R as Resource>::Live> = HashMap::new();
    if S::NEEDS_DETAIL {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, e) in entries.iter().enumerate() {
            if let (Some(j), Ensure::Present) = (matched[i], e.ensure()) {
                let (c, id) = (client.clone(), id_of(&live[j]));
                tasks.spawn(async move { (id, c.get::<S::R>(id).await) });
            }
        }
        while let Some(joined) = tasks.join_next().await {
            let (id, got) = joined.expect("a detail read does not panic");
            details.insert(id, got?);
        }
    }

    let mut out = KindPlan {
        changes: Vec::new(),
        deletes: Vec::new(),
        unmanaged: Vec::new(),
        live_count: live.len(),
        matched: Vec::new(),
        live: Vec::new(),
    };
    for (i, e) in entries.iter().enumerate() {
        let key = e.natural_key();
        let origin = Some(e.origin().short());
        let current = matched[i].map(|j| details.get(&id_of(&live[j])).unwrap_or(&live[j]).clone());
        out.matched.push(current.clone());
        if e.ensure() == Ensure::Absent {
            if let Some(l) = current {
                out.deletes.push(delete_change::<S>(&l, origin, false));
            }
            continue;
        }
        let desired = match e.desired(lookups) {
            Ok(d) => d,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let base = |op: Op| Change {
            kind,
            key: key.clone(),
            id: current.as_ref().map(id_of),
            op,
            action: None,
            fields: Vec::new(),
            reason: None,
            origin: origin.clone(),
            fingerprint: current.as_ref().map(|l| live_fingerprint::<S>(l, true)),
        };
        match &current {
            None if e.skip_create() => {}
            None => {
                let mut c = base(Op::Create);
                c.fields = desired
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(f, v)| FieldChange {
                        field: f.to_string(),
                        old: None,
                        new: Some(v.clone()),
                        sensitive: false,
                    })
                    .collect();
                c.fields.extend(e.secret_refs().into_iter().map(|(f, _)| FieldChange {
                    field: f.into(),
                    old: None,
                    new: None,
                    sensitive: true,
                }));
                out.changes.push(c);
            }
            Some(l) => {
                let live_fields = S::live_fields(l);
                let changed: Vec<FieldChange> = desired
                    .iter()
                    .filter_map(|(f, new)| {
                        let old = live_fields.iter().find(|(lf, _)| lf == f).map_or(Value::Null, |(_, v)| v.clone());
                        (old != *new).then(|| FieldChange {
                            field: f.to_string(),
                            old: Some(old),
                            new: Some(new.clone()),
                            sensitive: false,
                        })
                    })
                    .collect();
                if !changed.is_empty() {
                    let names: Vec<&str> = changed.iter().map(|c| c.field.as_str()).collect();
                    let mut c = base(Op::Update);
                    if let Some(reason) = e.refuse_update(l, &names) {
                        c.op = Op::Refused;
                        c.reason = Some(reason);
                    }
                    c.fields = changed;
                    out.changes.push(c);
                }
            }
        }
        for step in e.actions(current.as_ref(), actx) {
            let mut c = base(Op::Action);
            match step {
                Step::Do(action) => c.action = Some(action.to_string()),
                Step::Refuse(reason) => {
                    c.op = Op::Refused;
                    c.reason = Some(reason);
                }
            }
            out.changes.push(c);
        }
    }

    let kept: HashSet<u64> = taken;
    for l in &live {
        if kept.contains(&id_of(l)) {
            continue;
        }
        if scope.prunes(kind) {
            out.deletes.push(delete_change::<S>(l, None, true));
        } else if scope.kind_in_scope(kind) && scope.opts.targets.iter().all(|t| t.name.is_none()) {
            out.unmanaged.push(Unmanaged { kind, id: id_of(l), key: S::R::live_key(l) });
        }
    }
    out.live = live;
    Ok(out)
}

fn delete_change<S: Managed>(l: &<S::R as Resource>::Live, origin: Option<String>, pruned: bool) -> Change {
    let refused = S::refuse_delete(l);
    Change {
        kind: S::R::KIND,
        key: S::R::live_key(l),
        id: Some(S::R::live_id(l)),
        op: if refused.is_some() { Op::Refused } else { Op::Delete },
        action: None,
        fields: Vec::new(),
        reason: refused
            .or_else(|| pruned.then(|| format!("not in the manifests, and {} are pruned", S::R::KIND.as_str()))),
        origin,
        fingerprint: Some(live_fingerprint::<S>(l, !S::NEEDS_DETAIL)),
    }
}

/// A kind's changes, its deletes (which go last), what it leaves unmanaged, and how many objects it has.
struct Outcome {
    kind: Kind,
    changes: Vec<Change>,
    deletes: Vec<Change>,
    unmanaged: Vec<Unmanaged>,
    live_count: usize,
}

impl Outcome {
    fn of<L>(kind: Kind, p: KindPlan<L>) -> Self {
        Outcome { kind, changes: p.changes, deletes: p.deletes, unmanaged: p.unmanaged, live_count: p.live_count }
    }
}

/// The default agent: `set-default` after the agents' creates and updates; the live default is never
/// deleted unless another agent becomes the default first (the API refuses it otherwise).
fn default_agent(entries: &[&AgentSpec], p: &mut KindPlan<crate::resources::agent::LiveAgent>) {
    let declared = entries.iter().position(|e| e.ensure == Ensure::Present && e.is_default == Some(true));
    let live_default = p.live.iter().find(|l| l.is_default).map(|l| l.id);
    if let Some(i) = declared {
        let e = entries[i];
        let current = p.matched[i].as_ref();
        if !current.is_some_and(|l| l.is_default) {
            p.changes.push(Change {
                kind: Kind::Agents,
                key: e.name.clone(),
                id: current.map(|l| l.id),
                op: Op::Action,
                action: Some("set-default".into()),
                fields: Vec::new(),
                reason: live_default
                    .and_then(|id| p.live.iter().find(|l| l.id == id))
                    .map(|old| format!("replaces {} as the default agent", old.name)),
                origin: Some(e.origin.short()),
                fingerprint: current.map(|l| live_fingerprint::<AgentSpec>(l, true)),
            });
        }
    } else {
        for (i, e) in entries.iter().enumerate() {
            if e.is_default == Some(false) && p.matched[i].as_ref().is_some_and(|l| l.is_default) {
                p.changes.push(Change {
                    kind: Kind::Agents,
                    key: e.name.clone(),
                    id: p.matched[i].as_ref().map(|l| l.id),
                    op: Op::Refused,
                    action: None,
                    fields: Vec::new(),
                    reason: Some(format!(
                        "agent {} is the default agent and the API cannot unset it: put `is_default: true` on the agent that should replace it",
                        e.name
                    )),
                    origin: Some(e.origin.short()),
                    fingerprint: None,
                });
            }
        }
    }
    let replaced = declared.is_some();
    for d in &mut p.deletes {
        if d.op == Op::Delete && d.id == live_default && !replaced {
            d.op = Op::Refused;
            d.reason = Some(format!(
                "agent {} is the default agent, which the API refuses to delete: declare another agent with `is_default: true` first",
                d.key
            ));
        }
    }
}

/// The channel, list and segment lookups the manifests' campaigns need (and only those).
pub async fn fetch_lookups(set: &ManifestSet, client: &ReadClient) -> Result<Lookups, ApiError> {
    let mut lookups = Lookups::default();
    let present: Vec<_> = set.campaigns.iter().filter(|c| c.ensure == Ensure::Present).collect();
    if !present.is_empty() {
        lookups.channels = client.channels().await?;
        if present.iter().any(|c| c.audience.as_ref().is_some_and(|a| !a.lists.is_empty())) {
            lookups.lists = client.contact_lists().await?;
        }
        if present.iter().any(|c| c.audience.as_ref().is_some_and(|a| !a.segments.is_empty())) {
            lookups.segments = client.segments().await?;
        }
    }
    Ok(lookups)
}

/// A hash of every entry's resolved, canonical declaration (never a secret) and the prune settings: a saved
/// plan applies only while this is unchanged.
pub fn manifest_digest(set: &ManifestSet, lookups: &Lookups) -> String {
    fn items<S: Managed>(entries: &[S], lookups: &Lookups, out: &mut Vec<Value>) {
        for e in entries {
            let kind = S::R::KIND;
            out.push(match (e.ensure(), e.desired(lookups)) {
                (Ensure::Absent, _) => json!([kind, e.natural_key(), e.id(), "absent"]),
                (_, Ok(d)) => {
                    json!([kind, e.natural_key(), e.id(), field_map(&d), format!("{:?}", e.actions_digest())])
                }
                (_, Err(p)) => json!([kind, e.natural_key(), e.id(), p.message]),
            });
        }
    }
    let mut all = Vec::new();
    items(&set.agents, lookups, &mut all);
    items(&set.knowledge_base, lookups, &mut all);
    items(&set.webhooks, lookups, &mut all);
    items(&set.team, lookups, &mut all);
    items(&set.campaigns, lookups, &mut all);
    fingerprint(&json!({"entries": all, "prune": set.settings.prune}))
}

/// Reads the account and computes the plan. Sends only GETs: `client` is a [`ReadClient`].
pub async fn build(set: &ManifestSet, client: &ReadClient, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let mut prune = set.settings.prune.clone();
    prune.extend(opts.prune.iter().copied());
    let scope = Scope { opts, prune };
    let actx = ActionContext { rotation_tokens: opts.rotation_tokens.clone() };
    fn pick<'a, S: Entry>(scope: &Scope, entries: &'a [S]) -> Vec<&'a S> {
        entries.iter().filter(|e| scope.wants(S::R_KIND, &e.natural_key())).collect()
    }
    let agents = pick(&scope, &set.agents);
    let knowledge = pick(&scope, &set.knowledge_base);
    let webhooks = pick(&scope, &set.webhooks);
    let team = pick(&scope, &set.team);
    let campaigns = pick(&scope, &set.campaigns);
    let managed = |kind: Kind, n: usize| scope.kind_in_scope(kind) && (n > 0 || scope.prunes(kind));

    let lookups = fetch_lookups(set, client).await?;
    let mut problems = Vec::new();
    let mut ordered: Vec<Outcome> = Vec::new();
    if managed(Kind::Agents, agents.len()) {
        let mut p = plan_kind(&agents, client, &lookups, &scope, &actx, &mut problems).await?;
        default_agent(&agents, &mut p);
        ordered.push(Outcome::of(Kind::Agents, p));
    }
    macro_rules! kind {
        ($kind:expr, $entries:expr) => {
            if managed($kind, $entries.len()) {
                let p = plan_kind(&$entries, client, &lookups, &scope, &actx, &mut problems).await?;
                ordered.push(Outcome::of($kind, p));
            }
        };
    }
    kind!(Kind::KnowledgeBase, knowledge);
    kind!(Kind::Webhooks, webhooks);
    kind!(Kind::Team, team);
    kind!(Kind::Campaigns, campaigns);

    if !problems.is_empty() {
        let mut all = Problems::default();
        for (file, text) in &set.sources {
            all.keep_source(file, text);
        }
        problems.into_iter().for_each(|p| all.push(p));
        all.sort();
        return Err(PlanError::Problems(all));
    }

    let mut plan = Plan {
        format_version: FORMAT_VERSION,
        manifest_digest: manifest_digest(set, &lookups),
        changes: Vec::new(),
        unmanaged: Vec::new(),
        blocked: Vec::new(),
        summary: Default::default(),
        paths: Vec::new(),
    };
    for o in &mut ordered {
        plan.changes.append(&mut o.changes);
        plan.unmanaged.append(&mut o.unmanaged);
    }
    // Deletes last, kinds in reverse: campaigns before the team, ..., agents (after any new default is set).
    for Outcome { kind, deletes, live_count, .. } in ordered.iter().rev() {
        let n = deletes.iter().filter(|d| d.op == Op::Delete).count();
        if n > 1 && n * 4 > *live_count && !opts.allow_deletes.contains(kind) {
            plan.blocked.push(format!(
                "refusing to delete {n} of {live_count} live {} ({}%): a plan may delete at most 25% of a kind's objects (or just one); pass --allow-deletes {} if this is intended",
                kind.as_str(),
                n * 100 / live_count.max(&1),
                kind.as_str()
            ));
        }
        plan.changes.extend(deletes.iter().cloned());
    }
    plan.summarize(client.budget());
    Ok(plan)
}
