//! Secrets a dead run may never have delivered. A run killed between a create (or a rotation) and the
//! delivery of the secret its answer carried leaves an object whose secret nobody has. Its lease says when
//! it ran; every object of a kind with secrets created in that window gets its secret rotated, and the new
//! one is delivered. This holds on a fresh CI runner: nothing local is needed, only the account.

use super::live::live_fingerprint;
use super::{Change, Method, Op, Plan, Request};
use crate::api::{ApiError, ReadClient};
use crate::resources::{Kind, Managed, Resource};

/// A dead run's window: when it started and when its lease expired (unix seconds), and its id.
#[derive(Debug, Clone)]
pub struct DeadRun {
    pub run: String,
    pub since: i64,
    pub until: i64,
}

/// Clocks disagree a little (seconds).
const SKEW: i64 = 5;

/// Adds a rotation for every object a dead run may have created, unless the plan already creates or
/// rotates it. Reads one list per kind with secrets, and a single GET where the list lacks `created_at`.
pub async fn recover_secrets(plan: &mut Plan, dead: &[DeadRun], client: &ReadClient) -> Result<usize, ApiError> {
    if dead.is_empty() {
        return Ok(0);
    }
    let mut added = 0;
    for &kind in Kind::ALL {
        added += with_kind!(kind, S => recover::<S>(plan, dead, client).await?);
    }
    if added > 0 {
        plan.summarize(client.budget());
    }
    Ok(added)
}

async fn recover<S: Managed>(plan: &mut Plan, dead: &[DeadRun], client: &ReadClient) -> Result<usize, ApiError> {
    let Some(action) = S::R::SECRET_ACTION else { return Ok(0) };
    let kind = S::R::KIND;
    let mut added = 0;
    for l in client.list::<S::R>().await? {
        let id = S::R::live_id(&l);
        let covered = plan.changes.iter().any(|c| {
            c.kind == kind
                && (c.id == Some(id) || kind.match_key(&c.key) == S::R::match_key(&S::R::live_key(&l)))
                && (c.op == Op::Create || c.action.as_deref() == Some(action))
        });
        if covered {
            continue;
        }
        let created = match S::R::created_at(&l) {
            Some(t) => Some(t),
            None => S::R::created_at(&client.get::<S::R>(id).await?),
        };
        // Unknown creation time: rotate, since a rotation costs nothing but a new secret delivered.
        let by = match created {
            None => dead.first(),
            Some(t) => {
                let t = t.unix_timestamp();
                dead.iter().find(|d| t >= d.since - SKEW && t <= d.until + SKEW)
            }
        };
        let Some(by) = by else { continue };
        plan.changes.push(Change {
            kind,
            key: S::R::live_key(&l),
            id: Some(id),
            op: Op::Action,
            action: Some(action.to_string()),
            fields: Vec::new(),
            reason: Some(format!(
                "created while run {} held the lease, which it never gave back: its secret may never have been delivered",
                by.run
            )),
            origin: None,
            fingerprint: Some(live_fingerprint::<S>(&l, !S::NEEDS_DETAIL)),
            request: Some(Request { method: Method::Post, path: format!("{}/{id}/{action}", S::R::PATH), body: None }),
            after: Vec::new(),
            drift: false,
        });
        added += 1;
    }
    Ok(added)
}
