//! The account and the read-only lookups campaigns refer to: `/account` (`GET`, `PATCH`),
//! `/account/subscription`, `/account/channels`.
//!
//! [doc] shapes of the account (newer docs: `company_name`, `slug`, `address`, `timezone`, `country {id,
//! name, code}`, `primary_user`, `status`) and channels. `PATCH /account` takes `company_name`, `address`,
//! `timezone` and `country_id` (the dashboard's numbering) and answers with no `data`.
//! [assumed] `country_id` must be 1–250; an unknown id has no name; `timezone` must look like an IANA name.
//! [assumed] channels are a plain list; segments have the list shape; an inactive account answers 403
//! to every request (see the gate); the subscription's `limits` carry `team_members` and `campaigns`.

use super::clock::Timestamp;
use super::http::{parse_object, ApiError, Check, Presence, Reply};
use super::store::Record;
use super::{App, View};
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Account {
    pub id: u64,
    /// Seeds may call it `name`, as the older docs do.
    #[serde(alias = "name")]
    pub company_name: String,
    pub slug: String,
    pub address: Option<String>,
    /// The primary user's email.
    pub email: String,
    /// `active` or `inactive`; anything but `active` answers 403 to every request.
    pub status: String,
    pub timezone: String,
    pub country_id: Option<u64>,
    pub created_at: Timestamp,
}

impl Default for Account {
    fn default() -> Self {
        Account {
            id: 1,
            company_name: "Sandbox Account".into(),
            slug: "sandbox-account".into(),
            address: None,
            email: "owner@example.com".into(),
            status: "active".into(),
            timezone: "UTC".into(),
            country_id: Some(194),
            created_at: Timestamp::default(),
        }
    }
}

impl super::store::Singleton for Account {
    fn routes() -> Router<App> {
        routes()
    }
}

/// The dashboard's country ids the docs name ([doc]).
const COUNTRIES: &[(u64, &str, &str)] = &[
    (1, "Afghanistan", "AF"),
    (18, "Bahrain", "BH"),
    (65, "Egypt", "EG"),
    (111, "Jordan", "JO"),
    (117, "Kuwait", "KW"),
    (121, "Lebanon", "LB"),
    (179, "Qatar", "QA"),
    (194, "Saudi Arabia", "SA"),
    (231, "United Arab Emirates", "AE"),
    (232, "United Kingdom", "GB"),
    (233, "United States", "US"),
];

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

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/account", get(account).patch(update_account))
        .route("/api/v1/account/subscription", get(subscription))
        .route("/api/v1/account/channels", get(channels))
}

async fn account(State(app): State<App>) -> Reply {
    let store = app.store();
    let a = &store.account;
    let v = app.view();
    let country = a.country_id.map(|id| {
        let known = COUNTRIES.iter().find(|(i, _, _)| *i == id);
        json!({"id": id, "name": known.map(|k| k.1), "code": known.map(|k| k.2)})
    });
    Reply::ok(
        json!({
            "id": a.id, "company_name": a.company_name, "slug": a.slug, "address": a.address,
            "timezone": a.timezone, "country": country, "primary_user": {"email": a.email},
            "status": a.status, "created_at": v.ts(a.created_at),
        }),
        "Account retrieved successfully.",
    )
}

/// `PATCH /account`: a partial update; the answer has no `data` ([doc]).
async fn update_account(State(app): State<App>, body: Bytes) -> Result<Reply, ApiError> {
    let body = parse_object(&body)?;
    let mut c = Check::new(&body);
    let company = c.text("company_name", Presence::Sometimes, 255);
    let address = if c.present("address") { Some(c.text("address", Presence::Nullable, 1000)) } else { None };
    let timezone = c.text("timezone", Presence::Sometimes, 64);
    if let Some(tz) = &timezone {
        let shaped = tz == "UTC"
            || (tz.contains('/')
                && tz
                    .split('/')
                    .all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_alphanumeric() || "_-+".contains(ch))));
        if !shaped {
            c.errors.add("timezone", "The timezone field must be a valid timezone.".to_string());
        }
    }
    let country = c.integer("country_id", false);
    if country.is_some_and(|id| !(1..=250).contains(&id)) {
        c.errors.add("country_id", "The selected country id is invalid.".to_string());
    }
    c.done()?;
    let mut store = app.store();
    let a = &mut store.account;
    if let Some(n) = company {
        a.company_name = n;
    }
    if let Some(addr) = address {
        a.address = addr;
    }
    if let Some(tz) = timezone {
        a.timezone = tz;
    }
    if country.is_some() {
        a.country_id = country;
    }
    Ok(Reply::message("Account updated successfully."))
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
