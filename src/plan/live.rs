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
