//! Live objects read one at a time, by kind, as a saved-plan check and verification need them: their
//! fingerprint, their canonical fields, and whether an action's target state holds.

use super::fingerprint;
use crate::api::{ApiError, ReadClient};
use crate::resources::{Fields, Kind, Managed, Resource};
use serde_json::{json, Value};

fn field_map(fields: &[(&'static str, Value)]) -> Value {
    Value::Object(fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

/// The fingerprint of a live object: its summary, plus its managed fields where the plan read them the same
/// way a saved plan's re-read will (everything but deletes of kinds whose bodies need a GET).
pub fn live_fingerprint<S: Managed>(live: &<S::R as Resource>::Live, with_fields: bool) -> String {
    let fields = if with_fields { field_map(&S::live_fields(live)) } else { Value::Null };
    fingerprint(&json!({"summary": S::R::summary(live), "fields": fields}))
}

/// One live object as read now.
#[derive(Debug, Clone)]
pub struct LiveView {
    /// Its fingerprint with its managed fields, and with its summary only.
    pub fingerprint: String,
    pub summary_fingerprint: String,
    /// Its managed fields, canonical.
    pub fields: Fields,
    /// For each action asked about: whether its target state holds (None: cannot be told).
    pub holds: Vec<(String, Option<bool>)>,
}

/// Reads one object with a single GET; `None` when it does not exist (404).
pub async fn read_one(
    kind: Kind,
    id: u64,
    client: &ReadClient,
    actions: &[&str],
) -> Result<Option<LiveView>, ApiError> {
    async fn read<S: Managed>(id: u64, client: &ReadClient, actions: &[&str]) -> Result<Option<LiveView>, ApiError> {
        let live = match client.get::<S::R>(id).await {
            Ok(l) => l,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(LiveView {
            fingerprint: live_fingerprint::<S>(&live, true),
            summary_fingerprint: live_fingerprint::<S>(&live, !S::NEEDS_DETAIL),
            fields: S::live_fields(&live),
            holds: actions.iter().map(|a| (a.to_string(), S::action_holds(a, &live))).collect(),
        }))
    }
    with_kind!(kind, S => read::<S>(id, client, actions).await)
}

/// Every live object of a kind as (natural key in comparison form, id).
pub async fn list_keys(kind: Kind, client: &ReadClient) -> Result<Vec<(String, u64)>, ApiError> {
    async fn keys<R: Resource>(client: &ReadClient) -> Result<Vec<(String, u64)>, ApiError> {
        Ok(client.list::<R>().await?.iter().map(|l| (R::match_key(&R::live_key(l)), R::live_id(l))).collect())
    }
    with_kind!(kind, S => keys::<<S as Managed>::R>(client).await)
}

/// An object as verification sees it: its managed fields (canonical) and, for each action asked about,
/// whether its target state holds.
#[derive(Debug, Clone)]
pub struct Seen {
    pub fields: Fields,
    pub holds: Vec<(String, Option<bool>)>,
}

/// What verification expects of one object: the actions whose target state must hold, and the fields the
/// changes set (canonical).
pub struct Expected<'a> {
    pub id: u64,
    pub actions: Vec<&'a str>,
    pub fields: Vec<(&'a str, &'a Value)>,
}

/// Every expected object of `kind` as it is now, from one read of the kind's list: absent means it does not
/// exist. Fields lists lack (knowledge bodies, campaign messages) are taken from the write's answer
/// (`answers`: (kind, id) → the last answer that carries them) when it describes the object the list shows now
/// (same validator); a single GET is made only for an object neither shows a declared field for.
pub async fn verify_reads(
    kind: Kind,
    expected: &[Expected<'_>],
    answers: &std::collections::HashMap<(Kind, u64), Value>,
    client: &ReadClient,
) -> Result<std::collections::HashMap<u64, Option<Seen>>, ApiError> {
    async fn reads<S: Managed>(
        expected: &[Expected<'_>],
        answers: &std::collections::HashMap<(Kind, u64), Value>,
        client: &ReadClient,
    ) -> Result<std::collections::HashMap<u64, Option<Seen>>, ApiError> {
        let listed: std::collections::HashMap<u64, <S::R as Resource>::Live> =
            client.list::<S::R>().await?.into_iter().map(|l| (S::R::live_id(&l), l)).collect();
        let mut out = std::collections::HashMap::new();
        for e in expected {
            let Some(item) = listed.get(&e.id) else {
                out.insert(e.id, None);
                continue;
            };
            let mut fields = S::live_fields(item);
            let differs = |fields: &Fields| {
                e.fields.iter().any(|(f, want)| fields.iter().find(|(n, _)| n == f).map(|(_, v)| v) != Some(*want))
            };
            if S::NEEDS_DETAIL && differs(&fields) {
                let answered = answers
                    .get(&(S::R::KIND, e.id))
                    .and_then(|a| <<S::R as Resource>::Live as serde::Deserialize>::deserialize(a).ok())
                    .filter(|a| S::R::validator(a) == S::R::validator(item));
                let detail = match answered {
                    Some(a) if !differs(&S::live_fields(&a)) => a,
                    _ => match client.detail::<S::R>(item).await {
                        Ok(d) => d,
                        Err(err) if err.status() == Some(404) => {
                            out.insert(e.id, None);
                            continue;
                        }
                        Err(err) => return Err(err),
                    },
                };
                // The list's fields where it has them; the detail's for the rest.
                let from_detail = S::live_fields(&detail);
                for (name, value) in fields.iter_mut() {
                    if value.is_null() {
                        if let Some((_, v)) = from_detail.iter().find(|(n, _)| n == name) {
                            *value = v.clone();
                        }
                    }
                }
                if differs(&fields) {
                    fields = from_detail;
                }
            }
            let holds = e.actions.iter().map(|a| (a.to_string(), S::action_holds(a, item))).collect();
            out.insert(e.id, Some(Seen { fields, holds }));
        }
        Ok(out)
    }
    with_kind!(kind, S => reads::<S>(expected, answers, client).await)
}
