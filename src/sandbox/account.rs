//! The account and the read-only lookups campaigns refer to: `/account`, `/account/subscription`,
//! `/account/channels`, `/contacts/lists`, `/contacts/segments`.
//!
//! [doc] shapes of account, channels and lists; lists answer everything with no `meta`.
//! [assumed] channels are a plain list; segments have the list shape; an inactive account answers 403
//! to every request (see the gate); the subscription's `limits` carry `team_members` and `campaigns`.

use super::clock::Timestamp;
use super::http::Reply;
use super::store::Record;
use super::{App, View};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Account {
    pub id: u64,
    pub name: String,
    pub email: String,
    /// `active` or `inactive`; anything but `active` answers 403 to every request.
    pub status: String,
    pub timezone: String,
    pub created_at: Timestamp,
}

impl Default for Account {
    fn default() -> Self {
        Account {
            id: 1,
            name: "Sandbox Account".into(),
            email: "owner@example.com".into(),
            status: "active".into(),
            timezone: "UTC".into(),
            created_at: Timestamp::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Subscription {
    pub plan: String,
    pub status: String,
    /// The most team members the plan allows; `POST /team` past it is a 422.
    pub team_members_max: u64,
    /// The campaign quota; `POST /campaigns` past it is a 422.
    pub campaigns_max: u64,
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription { plan: "business".into(), status: "active".into(), team_members_max: 25, campaigns_max: 100 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    #[serde(default)]
    pub id: u64,
    /// `whatsapp`, `telegram` or `instagram`.
    #[serde(rename = "type")]
    pub kind: String,
    pub username: String,
    #[serde(default = "yes")]
    pub is_connected: bool,
    #[serde(default = "synced")]
    pub sync_status: String,
    #[serde(default)]
    pub last_synced_at: Option<Timestamp>,
}

fn yes() -> bool {
    true
}

fn synced() -> String {
    "synced".into()
}

impl Record for Channel {
    const KIND: &'static str = "channels";
    fn id(&self) -> u64 {
        self.id
    }
    fn set_id(&mut self, id: u64) {
        self.id = id;
    }
}

impl Channel {
    pub fn to_json(&self, v: View) -> Value {
        json!({
            "id": self.id, "type": self.kind, "username": self.username, "is_connected": self.is_connected,
            "sync_status": self.sync_status, "last_synced_at": v.opt_ts(self.last_synced_at),
        })
    }
}

/// A contact list or a segment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactList {
    #[serde(default)]
    pub id: u64,
    pub name: String,
    /// 1 active, 0 inactive.
    #[serde(default = "one")]
    pub status: u8,
    #[serde(default)]
    pub contacts_count: u64,
    #[serde(default)]
    pub created_at: Timestamp,
}

fn one() -> u8 {
    1
}

impl Record for ContactList {
    const KIND: &'static str = "lists";
    fn id(&self) -> u64 {
        self.id
    }
    fn set_id(&mut self, id: u64) {
        self.id = id;
    }
    fn fill_defaults(&mut self, now: Timestamp) {
        if self.created_at == Timestamp::default() {
            self.created_at = now;
        }
    }
}

impl ContactList {
    fn to_json(&self, v: View) -> Value {
        json!({
            "id": self.id, "name": self.name, "status": self.status,
            "contacts_count": self.contacts_count, "created_at": v.ts(self.created_at),
        })
    }
}

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/account", get(account))
        .route("/api/v1/account/subscription", get(subscription))
        .route("/api/v1/account/channels", get(channels))
        .route("/api/v1/contacts/lists", get(lists))
        .route("/api/v1/contacts/segments", get(segments))
}

async fn account(State(app): State<App>) -> Reply {
    let store = app.store();
    let a = &store.account;
    let v = app.view();
    Reply::ok(
        json!({
            "id": a.id, "name": a.name, "email": a.email, "status": a.status,
            "timezone": a.timezone, "created_at": v.ts(a.created_at),
        }),
        "Account retrieved successfully.",
    )
}

async fn subscription(State(app): State<App>) -> Reply {
    let store = app.store();
    let s = &store.subscription;
    Reply::ok(
        json!({
            "plan": s.plan,
            "status": s.status,
            "limits": {
                "team_members": {"max": s.team_members_max, "used": store.team.len()},
                "campaigns": {"max": s.campaigns_max, "used": store.campaigns.len()},
            },
        }),
        "Subscription retrieved successfully.",
    )
}

async fn channels(State(app): State<App>) -> Reply {
    let store = app.store();
    let data: Vec<Value> = store.channels.iter().map(|c| c.to_json(app.view())).collect();
    Reply::ok(json!(data), "Channels retrieved successfully.")
}

async fn lists(State(app): State<App>) -> Reply {
    let store = app.store();
    let data: Vec<Value> = store.lists.iter().map(|l| l.to_json(app.view())).collect();
    Reply::ok(json!(data), "Contact lists retrieved successfully.")
}

async fn segments(State(app): State<App>) -> Reply {
    let store = app.store();
    let data: Vec<Value> = store.segments.iter().map(|l| l.to_json(app.view())).collect();
    Reply::ok(json!(data), "Segments retrieved successfully.")
}
