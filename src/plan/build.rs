//! Building a [`Plan`] from manifests and the live account. Generic over kinds: a kind's own rules come in
//! through its [`Managed`] hooks, and every kind of the registry is visited.

use super::live::live_fingerprint;
use super::{digest::manifest_digest, Change, FieldChange, Method, Op, Plan, Request, Unmanaged, FORMAT_VERSION};
use crate::api::{ApiError, ReadClient};
use crate::manifest::ManifestSet;
use crate::resources::{Ensure, Entry, Kind, LookupNeeds, Lookups, Managed, Resource, Rule, Step, Update};
use crate::source::{Problem, Problems};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// What narrows or widens a plan.
#[derive(Debug, Default, Clone)]
pub struct PlanOptions {
    /// `--target KIND` or `KIND/NAME`: only these (empty: everything).
    pub targets: Vec<Target>,
    /// `--prune KIND`, added to `settings.prune`.
    pub prune: Vec<Kind>,
    /// `--allow-deletes KIND`: lifts the delete guard for the kind.
    pub allow_deletes: Vec<Kind>,
    /// `--rotate KIND/NAME`: rotate these objects' secrets (kinds with a secret only).
    pub rotate: Vec<Target>,
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
        let kind = Kind::parse(kind)
            .ok_or_else(|| format!("unknown kind `{kind}` in --target {s}: kinds are {}", Kind::names()))?;
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

struct Scope<'a> {
    opts: &'a PlanOptions,
    prune: Vec<Kind>,
}

impl Scope<'_> {
    fn wants(&self, kind: Kind, key: &str) -> bool {
        self.opts.targets.is_empty()
            || self
                .opts
                .targets
                .iter()
                .any(|t| t.kind == kind && t.name.as_deref().is_none_or(|n| kind.match_key(n) == kind.match_key(key)))
    }

    fn kind_in_scope(&self, kind: Kind) -> bool {
        self.opts.targets.is_empty() || self.opts.targets.iter().any(|t| t.kind == kind)
    }

    /// Unnamed live objects are deleted only when the kind is pruned and the whole kind is in scope.
    fn prunes(&self, kind: Kind) -> bool {
        self.prune.contains(&kind)
            && (self.opts.targets.is_empty() || self.opts.targets.iter().any(|t| t.kind == kind && t.name.is_none()))
    }

    /// A kind is planned when it is in scope and the manifests declare some of it, prune it, or a secret of
    /// it is rotated.
    fn plans(&self, kind: Kind, declared: usize) -> bool {
        (self.kind_in_scope(kind) && (declared > 0 || self.prunes(kind)))
            || self.opts.rotate.iter().any(|t| t.kind == kind)
    }
}

/// The entries of a kind that the scope keeps.
fn picked<'a, S: Managed>(scope: &Scope, entries: &'a [S]) -> Vec<&'a S> {
    entries.iter().filter(|e| scope.wants(S::R::KIND, &e.natural_key())).collect()
}

/// A kind's contribution: its changes (creates, updates, actions, refusals), its deletes (which go last),
/// what it leaves unmanaged, how many live objects it has, and which action its deletes wait for.
struct KindOutcome {
    kind: Kind,
    changes: Vec<Change>,
    deletes: Vec<Change>,
    unmanaged: Vec<Unmanaged>,
    live_count: usize,
    deletes_after: Vec<&'static str>,
    /// What a reviewer should know (objects gone between list and read).
    notes: Vec<String>,
    /// Deletes that destroy what cannot be recreated ([`Resource::delete_loses`]): the guard blocks them
    /// unless `--allow-deletes KIND`.
    destructive: Vec<String>,
}

/// The path of one object; `{id}` when the object is created by this plan (replaced when the plan is
/// assembled by the create's `{created:N}`).
fn object_path<R: Resource>(id: Option<u64>) -> String {
    match id {
        Some(id) => format!("{}/{id}", R::PATH),
        None => format!("{}/{{id}}", R::PATH),
    }
}

fn change(kind: Kind, key: String, id: Option<u64>, op: Op) -> Change {
    Change {
        kind,
        key,
        id,
        op,
        action: None,
        fields: Vec::new(),
        reason: None,
        origin: None,
        fingerprint: None,
        request: None,
        after: Vec::new(),
        drift: false,
    }
}

fn delete_change<S: Managed>(l: &<S::R as Resource>::Live, origin: Option<String>, pruned: bool) -> Change {
    let id = S::R::live_id(l);
    let refused = S::refuse_delete(l);
    let mut c =
        change(S::R::KIND, S::R::live_key(l), Some(id), if refused.is_some() { Op::Refused } else { Op::Delete });
    let loses = S::R::delete_loses(l);
    let why = refused
        .clone()
        .or_else(|| pruned.then(|| format!("not in the manifests, and {} are pruned", S::R::KIND.plural())));
    c.reason = match (why, loses) {
        (Some(w), Some(l)) if refused.is_none() => Some(format!("{w}; {l}")),
        (None, Some(l)) => Some(l),
        (w, _) => w,
    };
    c.origin = origin;
    c.fingerprint = Some(live_fingerprint::<S>(l, !S::NEEDS_DETAIL));
    if refused.is_none() {
        c.request = Some(Request { method: Method::Delete, path: object_path::<S::R>(Some(id)), body: None });
    }
    c
}

/// Matches entries to live objects: pinned ids first, then natural keys (in their comparison form) among
/// what is left. Indexed, so matching is linear in the number of objects.
fn match_entries<S: Managed>(
    entries: &[&S],
    live: &[<S::R as Resource>::Live],
    problems: &mut Vec<Problem>,
) -> Vec<Option<usize>> {
    let kind = S::R::KIND;
    let by_id: HashMap<u64, usize> = live.iter().enumerate().map(|(j, l)| (S::R::live_id(l), j)).collect();
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for (j, l) in live.iter().enumerate().filter(|(_, l)| S::unmanageable(l).is_none()) {
        by_key.entry(S::R::match_key(&S::R::live_key(l))).or_default().push(j);
    }
    let mut taken: HashSet<usize> = HashSet::new();
    let mut matched = vec![None; entries.len()];
    // A singleton's entry is the account's one object, whatever it is called.
    if <S as crate::resources::Shaped>::SINGLETON {
        return entries.iter().map(|_| (!live.is_empty()).then_some(0)).collect();
    }
    for (i, e) in entries.iter().enumerate() {
        let Some(id) = e.id() else { continue };
        match by_id.get(&id) {
            Some(&j) if e.ensure() == Ensure::Present && S::unmanageable(&live[j]).is_some() => problems.push(
                e.origin()
                    .problem("id", format!("{} id {id} is {}", kind.singular(), S::unmanageable(&live[j]).unwrap_or_default()))
                    .hint("remove this entry: it stays in the account, unmanaged (`ensure: absent` with this id deletes it)"),
            ),
            Some(&j) => {
                taken.insert(j);
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
        let candidates: Vec<usize> = by_key
            .get(&S::R::match_key(&key))
            .map(|js| js.iter().copied().filter(|j| !taken.contains(j)).collect())
            .unwrap_or_default();
        match candidates.as_slice() {
            [] => {}
            [j] => {
                taken.insert(*j);
                matched[i] = Some(*j);
            }
            many => {
                let mut ids: Vec<u64> = many.iter().map(|j| S::R::live_id(&live[*j])).collect();
                ids.sort_unstable();
                // Offer the one a person most likely means, and say why: one the kind sets apart (the
                // default agent), else the oldest (ids grow with time).
                let (pick, why) = many
                    .iter()
                    .find_map(|j| S::R::likely_meant(&live[*j]).map(|why| (S::R::live_id(&live[*j]), why)))
                    .unwrap_or((ids[0], "the oldest: the lowest id"));
                let others: Vec<String> = ids.iter().filter(|id| **id != pick).map(u64::to_string).collect();
                let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
                problems.push(
                    e.origin()
                        .problem(
                            S::KEY_FIELD,
                            format!(
                                "{} live {} have {} `{key}` (ids {})",
                                many.len(),
                                kind.plural(),
                                S::KEY_FIELD,
                                ids.join(", ")
                            ),
                        )
                        .hint(format!(
                            "pin this entry to the one you mean, e.g. `id: {pick}` ({why}); the other{} ({}) then stay{} unmanaged, or get an entry each",
                            if others.len() == 1 { "" } else { "s" },
                            others.join(", "),
                            if others.len() == 1 { "s" } else { "" }
                        )),
                );
            }
        }
    }
    matched
}

/// Plans one kind. Reads its list, and single GETs only where the list lacks managed fields and only for
/// objects the manifests keep.
async fn plan_kind<S: Managed>(
    entries: &[&S],
    client: &ReadClient,
    lookups: &Lookups,
    scope: &Scope<'_>,
    problems: &mut Vec<Problem>,
) -> Result<KindOutcome, ApiError> {
    let kind = S::R::KIND;
    let live = client.list::<S::R>().await?;
    let id_of = |l: &<S::R as Resource>::Live| S::R::live_id(l);
    let matched = match_entries(entries, &live, problems);

    let mut details: HashMap<u64, <S::R as Resource>::Live> = HashMap::new();
    let mut gone: HashSet<u64> = HashSet::new();
    if S::NEEDS_DETAIL {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, e) in entries.iter().enumerate() {
            if let (Some(j), Ensure::Present) = (matched[i], e.ensure()) {
                let (c, id, listed) = (client.clone(), id_of(&live[j]), live[j].clone());
                tasks.spawn(async move { (id, c.detail::<S::R>(&listed).await) });
            }
        }
        while let Some(joined) = tasks.join_next().await {
            let (id, got) = joined.expect("a detail read does not panic");
            match got {
                Ok(l) => {
                    details.insert(id, l);
                }
                // Deleted between the list and its read: gone, and planned as gone.
                Err(e) if e.status() == Some(404) => {
                    gone.insert(id);
                }
                Err(e) => return Err(e),
            }
        }
    }
    let mut notes = Vec::new();
    for l in live.iter().filter(|l| gone.contains(&id_of(l))) {
        notes.push(format!(
            "{} `{}` (id {}) was listed, then gone when read: it was deleted meanwhile, and the plan treats it as absent",
            kind.singular(),
            S::R::live_key(l),
            id_of(l)
        ));
    }
    let matched: Vec<Option<usize>> =
        matched.into_iter().map(|m| m.filter(|j| !gone.contains(&id_of(&live[*j])))).collect();
    let current: Vec<Option<<S::R as Resource>::Live>> =
        matched.iter().map(|m| m.map(|j| details.get(&id_of(&live[j])).unwrap_or(&live[j]).clone())).collect();
    let taken: HashSet<u64> = matched.iter().flatten().map(|j| id_of(&live[*j])).collect();
    // Keys that look the same to a person but do not match (case, compatibility forms), for a hint.
    let mut look_alikes: HashMap<String, Vec<usize>> = HashMap::new();
    for (j, l) in live.iter().enumerate() {
        if !taken.contains(&id_of(l)) {
            look_alikes.entry(crate::resources::common::look_alike(&S::R::live_key(l))).or_default().push(j);
        }
    }

    let mut out = KindOutcome {
        kind,
        changes: Vec::new(),
        deletes: Vec::new(),
        unmanaged: Vec::new(),
        live_count: live.len(),
        deletes_after: Vec::new(),
        notes,
        destructive: Vec::new(),
    };
    let origin_of = |e: &S| Some(e.origin().short());
    let base = |e: &S, current: Option<&<S::R as Resource>::Live>, op: Op| {
        let mut c = change(kind, e.natural_key(), current.map(id_of), op);
        c.origin = origin_of(e);
        c.fingerprint = current.map(|l| live_fingerprint::<S>(l, true));
        c
    };
    let action_change = |e: &S, current: Option<&<S::R as Resource>::Live>, action: &str| {
        let mut c = base(e, current, Op::Action);
        c.action = Some(action.to_string());
        c.request = Some(Request {
            method: Method::Post,
            path: format!("{}/{action}", object_path::<S::R>(current.map(id_of))),
            body: None,
        });
        c
    };
    for (i, e) in entries.iter().enumerate() {
        let current = current[i].as_ref();
        if e.ensure() == Ensure::Absent {
            if let Some(l) = current {
                out.deletes.push(delete_change::<S>(l, origin_of(e), false));
            } else if e.id().is_none() {
                let want = S::R::match_key(&e.natural_key());
                for l in live.iter().filter(|l| S::R::match_key(&S::R::live_key(l)) == want) {
                    if let Some(why) = S::unmanageable(l) {
                        out.notes.push(format!(
                            "{} `{}` (id {}) is not deleted by name: it is {why}; pin it with `id: {}` to delete it",
                            kind.singular(),
                            S::R::live_key(l),
                            id_of(l),
                            id_of(l)
                        ));
                    }
                }
            }
            continue;
        }
        let (desired, body) = match (e.desired(lookups), e.body(lookups, current.is_none())) {
            (Ok(d), Ok(b)) => (d, b),
            (Err(p), _) | (_, Err(p)) => {
                problems.push(p);
                continue;
            }
        };
        match current {
            None if e.skip_create() => {}
            None if <S as crate::resources::Shaped>::SINGLETON => {
                problems.push(e.origin().problem("", format!("the account has no {} to update", kind.singular())))
            }
            None => {
                let mut c = base(e, None, Op::Create);
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
                c.request = Some(Request {
                    method: Method::Post,
                    path: S::R::PATH.to_string(),
                    body: Some(Value::Object(body)),
                });
                let similar = look_alikes.get(&crate::resources::common::look_alike(&e.natural_key()));
                if let Some(&j) = similar.and_then(|v| v.first()) {
                    let (name, id) = (S::R::live_key(&live[j]), id_of(&live[j]));
                    c.reason = Some(format!(
                        "the live {kind} `{name}` (id {id}) differs from this name only in letter case or Unicode form: this creates a second {kind} beside it. To manage that one instead, write its name exactly, or pin it with `id: {id}`",
                        kind = kind.singular()
                    ));
                }
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
                    let mut c = base(e, Some(l), Op::Update);
                    match e.refuse_update(l, &names) {
                        Some(reason) => {
                            c.op = Op::Refused;
                            c.reason = Some(reason);
                        }
                        None => {
                            let (method, path) = match S::R::UPDATE {
                                Update::Put => (Method::Put, object_path::<S::R>(Some(id_of(l)))),
                                Update::Patch(path) => (Method::Patch, path.to_string()),
                            };
                            c.request = Some(Request { method, path, body: Some(Value::Object(body)) });
                        }
                    }
                    c.fields = changed;
                    out.changes.push(c);
                }
            }
        }
        for step in e.actions(current) {
            match step {
                Step::Do(action) => out.changes.push(action_change(e, current, action)),
                Step::Refuse(reason) => {
                    let mut c = base(e, current, Op::Refused);
                    c.reason = Some(reason);
                    out.changes.push(c);
                }
            }
        }
    }

    for l in &live {
        if taken.contains(&id_of(l)) || gone.contains(&id_of(l)) {
            continue;
        }
        if <S as crate::resources::Shaped>::SINGLETON {
            continue;
        }
        if scope.prunes(kind) && S::unmanageable(l).is_none() {
            out.deletes.push(delete_change::<S>(l, None, true));
        } else if scope.kind_in_scope(kind) && scope.opts.targets.iter().all(|t| t.name.is_none()) {
            out.unmanaged.push(Unmanaged { kind, id: id_of(l), key: S::R::live_key(l) });
        }
    }

    // The kind's own rules, once everything is matched.
    let matched_refs: Vec<Option<&<S::R as Resource>::Live>> = current.iter().map(Option::as_ref).collect();
    for rule in S::rules(entries, &matched_refs, &live) {
        match rule {
            Rule::Action { entry, action, note } => {
                let mut c = action_change(entries[entry], matched_refs[entry], action);
                c.reason = note;
                out.changes.push(c);
            }
            Rule::Refuse { entry, reason } => {
                let mut c = base(entries[entry], matched_refs[entry], Op::Refused);
                c.reason = Some(reason);
                c.fingerprint = None;
                out.changes.push(c);
            }
            Rule::RefuseDelete { id, reason } => {
                for d in out.deletes.iter_mut().filter(|d| d.id == Some(id) && d.op == Op::Delete) {
                    d.op = Op::Refused;
                    d.reason = Some(reason.clone());
                    d.request = None;
                }
            }
            Rule::DeletesAfter(action) => out.deletes_after.push(action),
        }
    }
    for d in out.deletes.iter().filter(|d| d.op == Op::Delete) {
        if let Some(l) = live.iter().find(|l| Some(id_of(l)) == d.id) {
            if let Some(loses) = S::R::delete_loses(l) {
                out.destructive.push(format!("{}: {loses}", d.headline()));
            }
        }
    }
    rotations::<S>(&live, scope, &mut out, problems);
    Ok(out)
}

/// `--rotate KIND/NAME`: the object's secret action, after its other changes. An object this plan creates
/// gets a new secret anyway.
fn rotations<S: Managed>(
    live: &[<S::R as Resource>::Live],
    scope: &Scope<'_>,
    out: &mut KindOutcome,
    problems: &mut Vec<Problem>,
) {
    let kind = S::R::KIND;
    for t in scope.opts.rotate.iter().filter(|t| t.kind == kind) {
        let at = std::path::Path::new("--rotate");
        let Some(action) = S::R::SECRET_ACTION else {
            problems.push(Problem::file(at, format!("{} have no secret to rotate", kind.plural())));
            continue;
        };
        let Some(name) = &t.name else {
            problems.push(
                Problem::file(at, format!("--rotate {kind} names no object"))
                    .hint(format!("name one: --rotate {kind}/NAME")),
            );
            continue;
        };
        let want = S::R::match_key(name);
        if out.changes.iter().any(|c| c.op == Op::Create && kind.match_key(&c.key) == want) {
            continue;
        }
        match live.iter().find(|l| S::R::match_key(&S::R::live_key(l)) == want) {
            Some(l) => {
                let id = S::R::live_id(l);
                let mut c = change(kind, S::R::live_key(l), Some(id), Op::Action);
                c.action = Some(action.to_string());
                c.reason = Some("asked for with --rotate".into());
                c.fingerprint = Some(live_fingerprint::<S>(l, !S::NEEDS_DETAIL));
                c.request =
                    Some(Request { method: Method::Post, path: format!("{}/{id}/{action}", S::R::PATH), body: None });
                out.changes.push(c);
            }
            None => {
                let names: Vec<String> = live.iter().map(S::R::live_key).collect();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let p = Problem::file(at, format!("no {} named `{name}` in the account", kind.singular()));
                problems.push(match crate::source::closest(name, &refs) {
                    Some(best) => p.hint(format!("did you mean `{best}`?")),
                    None => p.hint(format!("the account's {}: {}", kind.plural(), names.join(", "))),
                });
            }
        }
    }
}

/// `--target KIND/NAME` naming nothing the manifests declare: an error listing the closest names, never a
/// quiet "no changes".
fn unknown_targets(set: &ManifestSet, opts: &PlanOptions) -> Vec<Problem> {
    let mut problems = Vec::new();
    for t in &opts.targets {
        let Some(name) = &t.name else { continue };
        let keys: Vec<String> =
            with_kind!(t.kind, S => set.declared.of::<S>().iter().map(|e| e.natural_key()).collect());
        if keys.iter().any(|k| t.kind.match_key(k) == t.kind.match_key(name)) {
            continue;
        }
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let p = Problem::file(
            std::path::Path::new("--target"),
            format!("{}/{name} names no {} in the manifests", t.kind, t.kind.singular()),
        );
        problems.push(match crate::source::closest(name, &refs) {
            Some(best) => p.hint(format!("did you mean `{}/{best}`?", t.kind)),
            None if keys.is_empty() => p.hint(format!("the manifests declare no {}", t.kind.plural())),
            None => p.hint(format!("the manifests' {}: {}", t.kind.plural(), keys.join(", "))),
        });
    }
    problems
}

/// The lookups the kinds in scope need, each read once.
async fn fetch_lookups(needs: LookupNeeds, client: &ReadClient) -> Result<Lookups, ApiError> {
    let mut lookups = Lookups::default();
    if needs.channels {
        lookups.channels = client.channels().await?;
    }
    if needs.lists {
        lookups.lists = client.contact_lists().await?;
    }
    if needs.segments {
        lookups.segments = client.segments().await?;
    }
    if needs.events {
        lookups.events = client.webhook_events().await?.into_iter().map(|e| e.name).collect();
    }
    if needs.dialects {
        lookups.dialects = client.voice_dialects().await?;
    }
    Ok(lookups)
}

/// Orders the kinds' changes (creates and updates in registry order, deletes last and reversed), resolves
/// `{id}` placeholders of objects this plan creates, and computes each change's `after` edges.
fn assemble(mut outcomes: Vec<KindOutcome>, problems: &mut Vec<Problem>) -> Vec<Change> {
    // Moved, not copied: a 10,000-object plan's changes are large.
    let mut changes: Vec<Change> = Vec::new();
    let mut deletes_after: HashMap<Kind, Vec<&'static str>> = HashMap::new();
    for o in outcomes.iter_mut() {
        changes.append(&mut o.changes);
        deletes_after.insert(o.kind, o.deletes_after.clone());
    }
    for o in outcomes.iter_mut().rev() {
        changes.append(&mut o.deletes);
    }
    resolve_references(&mut changes, problems);
    // Where each kind's actions are, so a delete that must follow them finds them without a scan.
    let mut actions: HashMap<(Kind, String), Vec<usize>> = HashMap::new();
    let key_of = |c: &Change| (c.kind, c.kind.match_key(&c.key));
    let mut created: HashMap<(Kind, String), usize> = HashMap::new();
    let mut earlier: HashMap<(Kind, String), Vec<usize>> = HashMap::new();
    for (i, c) in changes.iter_mut().enumerate() {
        let key = key_of(c);
        let mut after: Vec<usize> = earlier.get(&key).cloned().unwrap_or_default();
        if let (Some(&n), Some(req)) = (created.get(&key), c.request.as_mut()) {
            req.path = req.path.replace("{id}", &Request::created_placeholder(n));
        }
        if c.op == Op::Delete {
            for action in deletes_after.get(&c.kind).into_iter().flatten() {
                after.extend(actions.get(&(c.kind, action.to_string())).into_iter().flatten().copied());
            }
        }
        if let Some(action) = &c.action {
            actions.entry((c.kind, action.clone())).or_default().push(i);
        }
        if let Some(req) = &c.request {
            after.extend(req.uses_created());
        }
        after.sort_unstable();
        after.dedup();
        c.after = after;
        if c.op == Op::Create {
            created.insert(key.clone(), i);
        }
        earlier.entry(key).or_default().push(i);
    }
    changes
}

/// Replaces each [`crate::resources::reference`] in a request body by `{"$created": N}`, N the change that
/// creates the object it names; the `after` edges then follow from `Request::uses_created`. A reference to
/// an object this plan does not create (kept out by `--target`) is a problem naming both.
fn resolve_references(changes: &mut [Change], problems: &mut Vec<Problem>) {
    let creates: HashMap<(Kind, String), usize> = changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.op == Op::Create)
        .map(|(i, c)| ((c.kind, c.kind.match_key(&c.key)), i))
        .collect();
    // A live object the manifests rename (pinned by `id:`) is referred to by its new name: its id.
    let renamed: HashMap<(Kind, String), u64> = changes
        .iter()
        .filter(|c| c.op == Op::Update)
        .filter_map(|c| Some(((c.kind, c.kind.match_key(&c.key)), c.id?)))
        .collect();
    type Known<'a> = (&'a HashMap<(Kind, String), usize>, &'a HashMap<(Kind, String), u64>);
    fn walk(v: &mut Value, known: Known, missing: &mut Vec<(Kind, String)>) {
        if let Some((kind, key)) = crate::resources::as_reference(v) {
            let k = (kind, kind.match_key(&key));
            match (known.0.get(&k), known.1.get(&k)) {
                (Some(n), _) => *v = serde_json::json!({ "$created": n }),
                (None, Some(id)) => *v = Value::from(*id),
                (None, None) => missing.push((kind, key)),
            }
            return;
        }
        match v {
            Value::Object(o) => o.values_mut().for_each(|v| walk(v, known, missing)),
            Value::Array(a) => a.iter_mut().for_each(|v| walk(v, known, missing)),
            _ => {}
        }
    }
    for c in changes.iter_mut() {
        let Some(body) = c.request.as_mut().and_then(|r| r.body.as_mut()) else { continue };
        let mut missing = Vec::new();
        walk(body, (&creates, &renamed), &mut missing);
        for (kind, key) in missing {
            let message = format!(
                "{} refers to {} `{key}`, which the account does not have and this plan does not create",
                c.headline(),
                kind.singular()
            );
            // The origin is `file:line`: located like every other problem.
            let at = c.origin.clone().unwrap_or_default();
            let p = match at.rsplit_once(':').and_then(|(f, l)| Some((f, l.parse::<u32>().ok()?))) {
                Some((file, line)) => {
                    Problem::at(std::path::Path::new(file), crate::source::Pos { line, col: 1 }, message)
                }
                None => Problem::file(std::path::Path::new(&at), message),
            };
            problems.push(p.hint(format!(
                "declare {} `{key}` in the manifests (not `ensure: absent`), or do not --target the plan past it",
                kind.singular()
            )));
        }
    }
}

/// Reads the account and computes the plan. Sends only GETs: `client` is a [`ReadClient`].
pub async fn build(set: &ManifestSet, client: &ReadClient, opts: &PlanOptions) -> Result<Plan, PlanError> {
    // One snapshot per plan: a list read as a kind and as another kind's lookup (contact lists) is read once.
    let client = &client.remembering();
    let mut prune = set.settings.prune.clone();
    prune.extend(opts.prune.iter().copied());
    // A file that was not read may declare what prune would delete: refuse before reading the account.
    if !prune.is_empty() && !set.skipped.is_empty() {
        let kinds: Vec<&str> = prune.iter().map(|k| k.as_str()).collect();
        let list = set
            .skipped
            .iter()
            .map(|f| {
                Problem::file(f, format!("prune ({}) is refused: this hidden YAML file was not read", kinds.join(", ")))
                    .hint(format!(
                        "rename it without the leading dot if it holds manifests, or list it in {}",
                        crate::manifest::IGNORE_FILE
                    ))
            })
            .collect();
        return Err(PlanError::Problems(set.problems(list)));
    }
    let scope = Scope { opts, prune };

    let mut needs = LookupNeeds::default();
    for &kind in Kind::ALL {
        if scope.plans(kind, set.declared.count(kind)) {
            needs = needs.union(with_kind!(kind, S => S::lookups(&picked(&scope, set.declared.of::<S>()))));
        }
    }
    let mut lookups = fetch_lookups(needs, client).await?;
    for &kind in Kind::ALL {
        let keys = with_kind!(kind, S => set.declared.of::<S>().iter().filter(|e| e.ensure().is_present()).map(|e| e.natural_key()).collect());
        lookups.declared.insert(kind, keys);
        let absent = with_kind!(kind, S => set.declared.of::<S>().iter().filter(|e| !e.ensure().is_present()).map(|e| e.natural_key()).collect());
        lookups.absent.insert(kind, absent);
        if scope.prunes(kind) {
            lookups.pruned.push(kind);
        }
    }

    let mut problems = unknown_targets(set, opts);
    let mut outcomes = Vec::new();
    for &kind in Kind::ALL {
        if !scope.plans(kind, set.declared.count(kind)) {
            continue;
        }
        let outcome = with_kind!(kind, S => {
            let entries = picked(&scope, set.declared.of::<S>());
            plan_kind(&entries, client, &lookups, &scope, &mut problems).await?
        });
        outcomes.push(outcome);
    }
    if !problems.is_empty() {
        return Err(PlanError::Problems(set.problems(problems)));
    }

    let mut blocked = Vec::new();
    for o in outcomes.iter().filter(|o| !opts.allow_deletes.contains(&o.kind)) {
        for d in &o.destructive {
            blocked.push(format!("refusing to {d}: pass --allow-deletes {} if this is intended", o.kind.as_str()));
        }
    }
    for o in outcomes.iter().rev() {
        let n = o.deletes.iter().filter(|d| d.op == Op::Delete).count();
        if n > 1 && n * 4 > o.live_count && !opts.allow_deletes.contains(&o.kind) {
            blocked.push(format!(
                "refusing to delete {n} of {} live {} ({}%): a plan may delete at most 25% of a kind's objects (or just one); pass --allow-deletes {} if this is intended",
                o.live_count,
                o.kind.plural(),
                n * 100 / o.live_count.max(1),
                o.kind.as_str()
            ));
        }
    }
    let unmanaged = outcomes.iter().flat_map(|o| o.unmanaged.iter().cloned()).collect();
    // Files not read travel with the plan, so a pull-request comment shows them too. (Offline event
    // warnings do not: the account's catalogue has settled them.)
    let warnings = set.skipped.iter().map(|f| {
        format!(
            "{}: a hidden YAML file, not read; list it in {} if it holds no manifests",
            f.display(),
            crate::manifest::IGNORE_FILE
        )
    });
    let notes = warnings.chain(outcomes.iter().flat_map(|o| o.notes.iter().cloned())).collect();
    let mut problems = Vec::new();
    let changes = assemble(outcomes, &mut problems);
    if !problems.is_empty() {
        return Err(PlanError::Problems(set.problems(problems)));
    }
    let mut plan = Plan {
        format_version: FORMAT_VERSION,
        manifest_digest: manifest_digest(set),
        changes,
        unmanaged,
        blocked,
        summary: Default::default(),
        paths: Vec::new(),
        notes,
        base: None,
    };
    plan.summarize(client.budget());
    client.flush_cache().await;
    Ok(plan)
}
