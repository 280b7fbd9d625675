//! Webhooks — `/webhooks`.
//!
//! [doc] create needs `name`, an https `url` and `events`, answers 201 with `secret` (`whsec_` + 64 chars),
//! shown only on create and `regenerate-secret`; list items add `delivery_logs_count`; newer docs serve the
//! list unpaginated (the default here; `Quirks::webhooks_paginated` serves the older, paginated form).
//! [assumed] PUT accepts `name`, `url`, `events`, `is_active`; unknown or repeated event names are a 422;
//! names and URLs are not unique; `/events` lists the catalogue below; `regenerate-secret` answers the
//! object plus the new `secret`. The sandbox never sends HTTP: `/test` records a simulated successful delivery.

use super::clock::Timestamp;
use super::http::{paginated, parse_id, parse_object, ApiError, Check, Field, Page, Presence, Reply};
use super::store::Record;
use super::{App, View};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;

const NOT_FOUND: &str = "Webhook not found.";

/// The event catalogue: 30 events across 9 resources ([doc] counts, [assumed] names).
pub const EVENTS: &[(&str, &str)] = &[
    ("contact.created", "A contact was created."),
    ("contact.updated", "A contact was updated."),
    ("contact.deleted", "A contact was deleted."),
    ("contact.blacklisted", "A contact was blacklisted."),
    ("message.received", "A message was received from a contact."),
    ("message.sent", "A message was sent to a contact."),
    ("message.delivered", "A sent message was delivered."),
    ("message.read", "A sent message was read."),
    ("message.failed", "A message could not be delivered."),
    ("booking.created", "A booking was created."),
    ("booking.updated", "A booking was updated."),
    ("booking.cancelled", "A booking was cancelled."),
    ("booking.reminder", "A booking reminder is due."),
    ("ticket.created", "A ticket was opened."),
    ("ticket.updated", "A ticket was updated."),
    ("ticket.replied", "A ticket received a reply."),
    ("ticket.closed", "A ticket was closed."),
    ("campaign.started", "A campaign started sending."),
    ("campaign.paused", "A campaign was paused."),
    ("campaign.completed", "A campaign messaged every contact."),
    ("campaign.cancelled", "A campaign was cancelled."),
    ("order.created", "An order was created."),
    ("order.updated", "An order was updated."),
    ("order.cancelled", "An order was cancelled."),
    ("webchat.session_started", "A web chat session started."),
    ("webchat.session_ended", "A web chat session ended."),
    ("webchat.takeover", "A human took over a web chat session."),
    ("agent.created", "An AI agent was created."),
    ("agent.updated", "An AI agent was updated."),
    ("knowledge_base.updated", "The knowledge base was updated."),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    #[serde(default)]
    pub id: u64,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default = "yes")]
    pub is_active: bool,
    /// Generated when a seed leaves it out.
    #[serde(default)]
    pub secret: String,
    #[serde(default)]
    pub deliveries: Vec<Delivery>,
    #[serde(default)]
    pub created_at: Timestamp,
    #[serde(default)]
    pub updated_at: Timestamp,
}

/// One delivery attempt log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    pub id: u64,
    pub event: String,
    /// `success`, `failed` or `pending`.
    pub status: String,
    #[serde(default)]
    pub response_code: Option<u16>,
    #[serde(default = "one")]
    pub attempts: u32,
    #[serde(default)]
    pub created_at: Timestamp,
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

impl Record for Webhook {
    fn routes() -> axum::Router<super::App> {
        routes()
    }
    const KIND: &'static str = "webhooks";
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
        if self.secret.is_empty() {
            self.secret = new_secret();
        }
        for d in &mut self.deliveries {
            if d.created_at == Timestamp::default() {
                d.created_at = now;
            }
        }
    }
}

/// `whsec_` + 64 hex chars. Not cryptographic: this is a test double, and std's keyed hasher is
/// random enough that two sandboxes never hand out the same secret.
pub fn new_secret() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::from("whsec_");
    for i in 0..4u8 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_i64(Timestamp::now().0);
        h.write_u8(i);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

impl Webhook {
    fn to_json(&self, v: View) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "events": self.events,
            "is_active": self.is_active,
            "created_at": v.ts(self.created_at),
            "updated_at": v.ts(self.updated_at),
        })
    }

    fn list_json(&self, v: View) -> Value {
        let mut o = self.to_json(v);
        o["delivery_logs_count"] = json!(self.deliveries.len());
        o
    }

    /// The object plus its secret: only for create and regenerate-secret.
    fn with_secret(&self, v: View) -> Value {
        let mut o = self.to_json(v);
        o["secret"] = json!(self.secret);
        o
    }
}

impl Delivery {
    fn to_json(&self, webhook_id: u64, v: View) -> Value {
        json!({
            "id": self.id,
            "webhook_id": webhook_id,
            "event": self.event,
            "status": self.status,
            "response_code": self.response_code,
            "attempts": self.attempts,
            "created_at": v.ts(self.created_at),
        })
    }
}

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/webhooks", get(list).post(create))
        .route("/api/v1/webhooks/events", get(events))
        .route("/api/v1/webhooks/{id}", get(show).put(update).delete(destroy))
        .route("/api/v1/webhooks/{id}/test", post(test))
        .route("/api/v1/webhooks/{id}/deliveries", get(deliveries))
        .route("/api/v1/webhooks/{id}/regenerate-secret", post(regenerate_secret))
}

async fn list(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Reply {
    let store = app.store();
    let items: Vec<Value> = store.webhooks.iter().map(|w| w.list_json(app.view())).collect();
    if app.config.quirks.webhooks_paginated {
        return paginated(items, Page::from_query(&q, 15, app.max_per_page()), "Webhooks retrieved successfully.");
    }
    Reply::ok(json!(items), "Webhooks retrieved successfully.")
}

/// The catalogue: the assumed 30 and any `Quirks::extra_events`.
fn catalogue(app: &App) -> Vec<(String, String)> {
    let extra = app.config.quirks.extra_events.iter().map(|e| (e.clone(), String::new()));
    EVENTS.iter().map(|(n, d)| (n.to_string(), d.to_string())).chain(extra).collect()
}

async fn events(State(app): State<App>) -> Reply {
    let data: Vec<Value> = catalogue(&app)
        .iter()
        .map(|(name, description)| {
            let resource = name.split('.').next().unwrap_or_default();
            json!({"name": name, "resource": resource, "description": description})
        })
        .collect();
    Reply::ok(json!(data), "Webhook events retrieved successfully.")
}

fn find(webhooks: &[Webhook], raw_id: &str) -> Result<usize, ApiError> {
    let id = parse_id(raw_id, NOT_FOUND)?;
    webhooks.iter().position(|w| w.id == id).ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))
}

async fn show(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let store = app.store();
    let i = find(&store.webhooks, &id)?;
    Ok(Reply::ok(store.webhooks[i].to_json(app.view()), "Webhook retrieved successfully."))
}

struct Input {
    name: Field<String>,
    url: Option<String>,
    events: Option<Vec<String>>,
    is_active: Option<bool>,
}

fn read_input(app: &App, body: &serde_json::Map<String, Value>, creating: bool) -> Result<Input, ApiError> {
    let catalogue = catalogue(app);
    let mut c = Check::new(body);
    let presence = if creating { Presence::Required } else { Presence::Sometimes };
    let name = c.string("name", presence, 255);
    let url = c.https_url("url", presence);
    let events = c.string_array("events", creating || c.present("events"));
    if let Some(list) = &events {
        for (i, e) in list.iter().enumerate() {
            if !catalogue.iter().any(|(n, _)| n == e) {
                c.errors.add(&format!("events.{i}"), format!("The selected events.{i} is invalid."));
            } else if list[..i].contains(e) {
                c.errors.add(&format!("events.{i}"), format!("The events.{i} field has a duplicate value."));
            }
        }
    }
    let is_active = c.boolean("is_active");
    c.done()?;
    Ok(Input { name, url, events, is_active })
}

async fn create(State(app): State<App>, body: Bytes) -> Result<Reply, ApiError> {
    let input = read_input(&app, &parse_object(&body)?, true)?;
    let now = Timestamp::now();
    let mut store = app.store();
    let webhook = Webhook {
        id: store.next_id(Webhook::KIND),
        name: match input.name {
            Field::Value(n) => n,
            _ => String::new(),
        },
        url: input.url.unwrap_or_default(),
        events: input.events.unwrap_or_default(),
        is_active: input.is_active.unwrap_or(true),
        secret: new_secret(),
        deliveries: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    let data = webhook.with_secret(app.view());
    store.webhooks.push(webhook);
    Ok(Reply::created(data, "Webhook created successfully."))
}

async fn update(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> Result<Reply, ApiError> {
    let body = parse_object(&body)?;
    let mut store = app.store();
    let i = find(&store.webhooks, &id)?;
    let input = read_input(&app, &body, false)?;
    let w = &mut store.webhooks[i];
    if let Field::Value(n) = input.name {
        w.name = n;
    }
    if let Some(u) = input.url {
        w.url = u;
    }
    if let Some(e) = input.events {
        w.events = e;
    }
    if let Some(a) = input.is_active {
        w.is_active = a;
    }
    w.updated_at = Timestamp::now();
    Ok(Reply::ok(w.to_json(app.view()), "Webhook updated successfully."))
}

async fn destroy(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let mut store = app.store();
    let i = find(&store.webhooks, &id)?;
    store.webhooks.remove(i);
    Ok(Reply::deleted())
}

async fn test(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let mut store = app.store();
    let i = find(&store.webhooks, &id)?;
    let delivery = Delivery {
        id: store.next_id("deliveries"),
        event: "webhook.test".into(),
        status: "success".into(),
        response_code: Some(200),
        attempts: 1,
        created_at: Timestamp::now(),
    };
    let w = &mut store.webhooks[i];
    let data = delivery.to_json(w.id, app.view());
    w.deliveries.push(delivery);
    Ok(Reply::ok(data, "Test webhook sent."))
}

async fn deliveries(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Reply, ApiError> {
    let store = app.store();
    let w = &store.webhooks[find(&store.webhooks, &id)?];
    let wanted = q.get("status").map(String::as_str);
    let items: Vec<Value> = w
        .deliveries
        .iter()
        .rev() // newest first
        .filter(|d| wanted.is_none_or(|s| d.status == s))
        .map(|d| d.to_json(w.id, app.view()))
        .collect();
    Ok(paginated(items, Page::from_query(&q, 15, app.max_per_page()), "Webhook deliveries retrieved successfully."))
}

async fn regenerate_secret(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let mut store = app.store();
    let i = find(&store.webhooks, &id)?;
    let w = &mut store.webhooks[i];
    w.secret = new_secret();
    w.updated_at = Timestamp::now();
    Ok(Reply::ok(w.with_secret(app.view()), "Webhook secret regenerated successfully."))
}
