//! Campaigns — `/campaigns`.
//!
//! [doc] list paginated (default 25, max 100) with a `status` filter; create needs `name` and `channel_id`;
//! created as `draft`, started explicitly, `running` ⇄ `paused`, `completed` by itself, `cancelled`;
//! campaigns use the account's quota.
//! [assumed] create also needs `message` and a non-empty audience (`contact_ids`, `list_ids`, `segment_ids`,
//! lists and segments must exist); `is_new_number` defaults to false and halves nothing but the
//! `daily_limit` (50 warm-up, else 1000); the single GET adds `message`, the audience and `channel_id`;
//! PUT only in `draft`; DELETE only in `draft`, `completed`, `cancelled`; illegal transitions are 422s;
//! every action answers 200 with the campaign. The sandbox does not send: a campaign completes through
//! `POST /_sandbox/campaigns/{id}/complete`.

use super::clock::Timestamp;
use super::http::{paginated, parse_id, parse_object, ApiError, Check, Field, Page, Presence, Reply};
use super::store::Record;
use super::Store;
use super::{App, View};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const NOT_FOUND: &str = "Campaign not found.";
pub const STATUSES: &[&str] = &["draft", "running", "paused", "completed", "cancelled"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    #[serde(default)]
    pub id: u64,
    pub name: String,
    #[serde(default = "draft")]
    pub status: String,
    pub channel_id: u64,
    pub message: String,
    #[serde(default)]
    pub contact_ids: Vec<u64>,
    #[serde(default)]
    pub list_ids: Vec<u64>,
    #[serde(default)]
    pub segment_ids: Vec<u64>,
    #[serde(default)]
    pub is_new_number: bool,
    #[serde(default)]
    pub total_contacts: u64,
    #[serde(default)]
    pub success_count: u64,
    #[serde(default)]
    pub failed_count: u64,
    #[serde(default)]
    pub campaign_day: u32,
    #[serde(default)]
    pub messages_sent_today: u64,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    #[serde(default)]
    pub created_at: Timestamp,
    #[serde(default)]
    pub updated_at: Timestamp,
}

fn draft() -> String {
    "draft".into()
}

impl Record for Campaign {
    fn routes() -> axum::Router<super::App> {
        routes()
    }
    const KIND: &'static str = "campaigns";
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
        if self.updated_at == Timestamp::default() {
            self.updated_at = self.created_at;
        }
        if self.status != "draft" && self.started_at.is_none() {
            self.started_at = Some(self.created_at);
        }
    }
}

impl Campaign {
    fn daily_limit(&self) -> u64 {
        if self.is_new_number {
            50
        } else {
            1000
        }
    }

    fn list_json(&self, store: &Store, v: View) -> Value {
        let done = self.success_count + self.failed_count;
        let progress = if self.total_contacts == 0 {
            0.0
        } else {
            (done as f64 * 10_000.0 / self.total_contacts as f64).round() / 100.0
        };
        let channel = store.channels.iter().find(|c| c.id == self.channel_id);
        json!({
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "total_contacts": self.total_contacts,
            "success_count": self.success_count,
            "failed_count": self.failed_count,
            "campaign_day": self.campaign_day,
            "messages_sent_today": self.messages_sent_today,
            "is_new_number": self.is_new_number,
            "started_at": v.opt_ts(self.started_at),
            "completed_at": v.opt_ts(self.completed_at),
            "progress_percentage": progress,
            "daily_limit": self.daily_limit(),
            "remaining_today": self.daily_limit().saturating_sub(self.messages_sent_today),
            "client_setting": {
                "id": self.channel_id,
                "name": channel.map(|c| c.username.clone()),
                "type": channel.map(|c| c.kind.clone()),
            },
            "pending_contacts_count": self.total_contacts.saturating_sub(done),
            "sent_contacts_count": self.success_count,
            "failed_contacts_count": self.failed_count,
            "created_at": v.ts(self.created_at),
        })
    }

    fn full_json(&self, store: &Store, v: View) -> Value {
        let mut o = self.list_json(store, v);
        o["message"] = json!(self.message);
        o["contact_ids"] = json!(self.contact_ids);
        o["list_ids"] = json!(self.list_ids);
        o["segment_ids"] = json!(self.segment_ids);
        o["channel_id"] = json!(self.channel_id);
        o
    }
}

/// How many contacts the audience reaches (overlaps between lists are not known here, so they count twice).
fn audience_size(store: &Store, c: &Campaign) -> u64 {
    let lists: u64 = store.lists.iter().filter(|l| c.list_ids.contains(&l.id)).map(|l| l.contacts_count).sum();
    let segments: u64 = store.segments.iter().filter(|s| c.segment_ids.contains(&s.id)).map(|s| s.contacts_count).sum();
    c.contact_ids.len() as u64 + lists + segments
}

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/campaigns", get(list).post(create))
        .route("/api/v1/campaigns/{id}", get(show).put(update).delete(destroy))
        .route("/api/v1/campaigns/{id}/{action}", post(action))
}

async fn list(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Reply {
    let store = app.store();
    let wanted = q.get("status").map(String::as_str);
    let items = store
        .campaigns
        .iter()
        .filter(|c| wanted.is_none_or(|s| c.status == s))
        .map(|c| c.list_json(&store, app.view()))
        .collect();
    paginated(items, Page::from_query(&q, 25, app.max_per_page()), "Campaigns retrieved successfully.")
}

fn find(campaigns: &[Campaign], raw_id: &str) -> Result<usize, ApiError> {
    let id = parse_id(raw_id, NOT_FOUND)?;
    campaigns.iter().position(|c| c.id == id).ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))
}

async fn show(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let store = app.store();
    let i = find(&store.campaigns, &id)?;
    Ok(Reply::ok(store.campaigns[i].full_json(&store, app.view()), "Campaign retrieved successfully."))
}

/// Reads and checks the writable fields into `c`; absent fields keep `c`'s values.
fn read_into(body: &Map<String, Value>, store: &Store, c: &mut Campaign, creating: bool) -> Result<(), ApiError> {
    let mut check = Check::new(body);
    let presence = if creating { Presence::Required } else { Presence::Sometimes };
    if let Field::Value(n) = check.string("name", presence, 255) {
        c.name = n;
    }
    if let Some(id) = check.integer("channel_id", creating || check.present("channel_id")) {
        if store.channels.iter().any(|ch| ch.id == id) {
            c.channel_id = id;
        } else {
            check.errors.add("channel_id", "The selected channel id is invalid.");
        }
    }
    if let Field::Value(m) = check.string("message", presence, usize::MAX) {
        c.message = m;
    }
    if let Some(ids) = check.id_array("contact_ids") {
        c.contact_ids = ids;
    }
    for (field, known) in [
        ("list_ids", store.lists.iter().map(|l| l.id).collect::<Vec<_>>()),
        ("segment_ids", store.segments.iter().map(|s| s.id).collect()),
    ] {
        if let Some(ids) = check.id_array(field) {
            for (i, id) in ids.iter().enumerate() {
                if !known.contains(id) {
                    check.errors.add(&format!("{field}.{i}"), format!("The selected {field}.{i} is invalid."));
                }
            }
            if field == "list_ids" {
                c.list_ids = ids;
            } else {
                c.segment_ids = ids;
            }
        }
    }
    if let Some(b) = check.boolean("is_new_number") {
        c.is_new_number = b;
    }
    let audience_fields_ok = !["contact_ids", "list_ids", "segment_ids"].iter().any(|f| check.errors.has(f));
    if audience_fields_ok && c.contact_ids.is_empty() && c.list_ids.is_empty() && c.segment_ids.is_empty() {
        check
            .errors
            .add("contact_ids", "The contact ids field is required when none of list ids / segment ids are present.");
    }
    check.done()
}

async fn create(State(app): State<App>, body: Bytes) -> Result<Reply, ApiError> {
    let body = parse_object(&body)?;
    let mut store = app.store();
    let now = Timestamp::now();
    let mut c = Campaign {
        id: 0,
        name: String::new(),
        status: "draft".into(),
        channel_id: 0,
        message: String::new(),
        contact_ids: vec![],
        list_ids: vec![],
        segment_ids: vec![],
        is_new_number: false,
        total_contacts: 0,
        success_count: 0,
        failed_count: 0,
        campaign_day: 0,
        messages_sent_today: 0,
        started_at: None,
        completed_at: None,
        created_at: now,
        updated_at: now,
    };
    read_into(&body, &store, &mut c, true)?;
    let max = store.subscription.campaigns_max;
    if store.campaigns.len() as u64 >= max {
        return Err(ApiError::invalid(
            "campaigns",
            format!("Your plan's campaign quota of {max} is used up. Upgrade your plan or delete old campaigns."),
        ));
    }
    c.id = store.next_id(Campaign::KIND);
    c.total_contacts = audience_size(&store, &c);
    let data = c.full_json(&store, app.view());
    store.campaigns.push(c);
    Ok(Reply::created(data, "Campaign created successfully."))
}

async fn update(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> Result<Reply, ApiError> {
    let body = parse_object(&body)?;
    let mut store = app.store();
    let i = find(&store.campaigns, &id)?;
    if store.campaigns[i].status != "draft" {
        return Err(ApiError::invalid("status", "Only draft campaigns can be edited."));
    }
    let mut c = store.campaigns[i].clone();
    read_into(&body, &store, &mut c, false)?;
    c.total_contacts = audience_size(&store, &c);
    c.updated_at = Timestamp::now();
    let data = c.full_json(&store, app.view());
    store.campaigns[i] = c;
    Ok(Reply::ok(data, "Campaign updated successfully."))
}

async fn destroy(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let mut store = app.store();
    let i = find(&store.campaigns, &id)?;
    if !matches!(store.campaigns[i].status.as_str(), "draft" | "completed" | "cancelled") {
        return Err(ApiError::invalid(
            "status",
            format!(
                "A {} campaign cannot be deleted. Only draft, completed or cancelled campaigns can be deleted.",
                store.campaigns[i].status
            ),
        ));
    }
    store.campaigns.remove(i);
    Ok(Reply::deleted())
}

/// The state machine: which statuses each action leaves from, and where it goes.
fn transition(action: &str) -> Option<(&'static [&'static str], &'static str)> {
    Some(match action {
        "start" => (&["draft"], "running"),
        "pause" => (&["running"], "paused"),
        "resume" => (&["paused"], "running"),
        "cancel" => (&["draft", "running", "paused"], "cancelled"),
        _ => return None,
    })
}

async fn action(State(app): State<App>, Path((id, action)): Path<(String, String)>) -> Result<Reply, ApiError> {
    let Some((from, to)) = transition(&action) else {
        return Err(ApiError::NotFound("The route was not found.".into()));
    };
    let mut store = app.store();
    let i = find(&store.campaigns, &id)?;
    let now = Timestamp::now();
    let c = &mut store.campaigns[i];
    if !from.contains(&c.status.as_str()) {
        return Err(ApiError::invalid(
            "status",
            format!("Cannot {action} a {} campaign. Allowed from: {}.", c.status, from.join(", ")),
        ));
    }
    c.status = to.to_string();
    if action == "start" {
        c.started_at = Some(now);
        c.campaign_day = 1;
    }
    c.updated_at = now;
    let message = match action.as_str() {
        "start" => "Campaign started successfully.",
        "pause" => "Campaign paused successfully.",
        "resume" => "Campaign resumed successfully.",
        _ => "Campaign cancelled successfully.",
    };
    Ok(Reply::ok(store.campaigns[i].full_json(&store, app.view()), message))
}

/// Sending finished: every contact was messaged. Only a running or paused campaign can finish.
pub fn complete(store: &mut Store, id: u64, now: Timestamp) -> Result<(), String> {
    let c = store.campaigns.iter_mut().find(|c| c.id == id).ok_or(format!("no campaign with id {id}"))?;
    if !matches!(c.status.as_str(), "running" | "paused") {
        return Err(format!("campaign {id} is {}; only a running or paused campaign can complete", c.status));
    }
    c.status = "completed".into();
    c.success_count = c.total_contacts.saturating_sub(c.failed_count);
    c.completed_at = Some(now);
    c.updated_at = now;
    Ok(())
}
