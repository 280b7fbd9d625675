//! Webhooks (`/webhooks`). Natural key: `name`.
//!
//! The API generates a secret on create and on `regenerate-secret` and never shows it again: skyform
//! hands it to the secrets sink (`--secrets-out` or `--secrets-cmd`). Rotating it is an act:
//! `skyform rotate webhooks/NAME`, or `apply --rotate webhooks/NAME`, which the plan shows.

use super::{https_problem, Checks, Ensure, Entry, LookupNeeds, Lookups, Managed, Origin, Resource};
use crate::source::Problem;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// The event catalogue the API accepts ([doc] 30 events across 9 resources; names [assumed]).
pub const EVENTS: &[&str] = &[
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "contact.blacklisted",
    "message.received",
    "message.sent",
    "message.delivered",
    "message.read",
    "message.failed",
    "booking.created",
    "booking.updated",
    "booking.cancelled",
    "booking.reminder",
    "ticket.created",
    "ticket.updated",
    "ticket.replied",
    "ticket.closed",
    "campaign.started",
    "campaign.paused",
    "campaign.completed",
    "campaign.cancelled",
    "order.created",
    "order.updated",
    "order.cancelled",
    "webchat.session_started",
    "webchat.session_ended",
    "webchat.takeover",
    "agent.created",
    "agent.updated",
    "knowledge_base.updated",
];

/// A webhook.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// Pins this entry to one live webhook (for duplicate names, or to rename).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The natural key.
    pub name: String,
    /// `absent` deletes the live object this entry names.
    #[serde(default, skip_serializing_if = "Ensure::is_present")]
    pub ensure: Ensure,
    /// The https URL deliveries are sent to; usually `${VAR}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Event names from the catalogue, e.g. `contact.created`; order does not matter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Whether deliveries are sent (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// No longer supported: rotation is an act (`skyform rotate webhooks/NAME`, or `apply --rotate`), not
    /// a token compared with a file. Kept so that old manifests get a clear message.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub rotate_secret: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Origin,
}

impl Entry for WebhookSpec {
    const LABEL: &'static str = "webhook";
    const PLURAL: &'static str = "webhooks";
    const TITLE: &'static str = "Webhooks";
    const KEY_FIELD: &'static str = "name";

    fn natural_key(&self) -> String {
        self.name.clone()
    }
    super::entry_fields!();

    fn check(&self, c: &mut Checks) {
        let o = &self.origin;
        c.short_text(o, "name", &self.name);
        if self.ensure == Ensure::Absent {
            return;
        }
        let label = format!("webhook `{}`", self.name);
        c.require(o, "url", &self.url, &label);
        c.require(o, "events", &self.events, &label);
        if let Some(url) = &self.url {
            if let Some((what, hint)) = https_problem(url) {
                c.push(o.problem("url", format!("url `{}` {what}", crate::redact::url_for_display(url))).hint(hint));
            }
        }
        let events = self.events.as_deref().unwrap_or_default();
        if self.events.is_some() && events.is_empty() {
            c.push(o.problem("events", "`events` is empty; a webhook needs at least one event"));
        }
        for (i, e) in events.iter().enumerate() {
            let at = format!("events.{i}");
            if !EVENTS.contains(&e.as_str()) {
                // The real catalogue is not published: only the account can say. A warning here, checked
                // against `GET /webhooks/events` at plan time.
                let hint = match crate::source::closest(e, EVENTS) {
                    Some(best) => format!("did you mean `{best}`? (plan checks it against the account's catalogue)"),
                    None => "plan checks it against the account's catalogue, GET /webhooks/events".to_string(),
                };
                c.warn(
                    o.problem(&at, format!("event `{e}` is not in the catalogue skyform knows"))
                        .hint(hint)
                        .len(e.chars().count()),
                );
            } else if events[..i].contains(e) {
                c.push(o.problem(&at, format!("event `{e}` is listed twice")).len(e.chars().count()));
            }
        }
        if self.rotate_secret.is_some() {
            c.push(
                o.problem(
                    "rotate_secret#key",
                    "`rotate_secret` is no longer a manifest field: rotating a secret is an act",
                )
                .hint(format!(
                    "remove it, and rotate with `skyform rotate webhooks/{}` (or `skyform apply --rotate webhooks/{}`)",
                    self.name, self.name
                )),
            );
        }
    }
}

/// A webhook as the API returns it (never with its secret, except on create and rotation).
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
pub struct LiveWebhook {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub url: String,
    #[serde(default, deserialize_with = "super::lenient::strings")]
    pub events: Vec<String>,
    #[serde(default = "super::lenient::yes", deserialize_with = "super::lenient::flag")]
    pub is_active: bool,
    #[serde(default, deserialize_with = "super::lenient::time")]
    pub created_at: Option<time::OffsetDateTime>,
    #[serde(default, deserialize_with = "super::lenient::time")]
    pub updated_at: Option<time::OffsetDateTime>,
}

/// `/webhooks`: unpaginated in the newer docs, paginated in the older; both are read.
pub struct Webhooks;

impl Resource for Webhooks {
    const KIND: super::Kind = super::Kind::Webhooks;
    const PATH: &'static str = "/webhooks";
    const FILES: &'static [&'static str] = &[file!(), "src/sandbox/webhooks.rs"];
    /// The create answer carries the secret, shown only then ([doc]); a lost answer is recovered by rotating.
    const SECRET_ACTION: Option<&'static str> = Some("regenerate-secret");
    type Live = LiveWebhook;
    fn live_id(l: &LiveWebhook) -> u64 {
        l.id
    }
    fn live_key(l: &LiveWebhook) -> String {
        l.name.clone()
    }
    fn created_at(l: &LiveWebhook) -> Option<time::OffsetDateTime> {
        l.created_at
    }
    fn summary(l: &LiveWebhook) -> Value {
        json!({"id": l.id, "name": l.name, "url": l.url, "events": l.events, "is_active": l.is_active, "updated_at": l.updated_at.map(|t| t.unix_timestamp_nanos().to_string())})
    }
}

impl WebhookSpec {
    /// Every event in the account's catalogue, when it was read.
    fn check_events(&self, lookups: &Lookups) -> Result<(), Problem> {
        if lookups.events.is_empty() {
            return Ok(());
        }
        for (i, e) in self.events.iter().flatten().enumerate() {
            if !lookups.events.iter().any(|k| k == e) {
                let known: Vec<&str> = lookups.events.iter().map(String::as_str).collect();
                let p = self
                    .origin
                    .problem(
                        &format!("events.{i}"),
                        format!("unknown event `{e}`: the account's catalogue does not have it"),
                    )
                    .len(e.chars().count());
                return Err(match crate::source::closest(e, &known) {
                    Some(best) => p.hint(format!("did you mean `{best}`?")),
                    None => p.hint("the account's events are listed by GET /webhooks/events"),
                });
            }
        }
        Ok(())
    }
}

impl Managed for WebhookSpec {
    type R = Webhooks;

    fn desired(&self, lookups: &Lookups) -> Result<super::Fields, Problem> {
        self.check_events(lookups)?;
        let events: BTreeSet<&str> = self.events.iter().flatten().map(String::as_str).collect();
        Ok(vec![
            ("name", super::canon_short(&self.name)),
            ("url", self.url.as_deref().unwrap_or("").trim().into()),
            ("events", json!(events)),
            ("is_active", Value::Bool(self.is_active.unwrap_or(true))),
        ])
    }

    fn body(&self, _: &Lookups, _creating: bool) -> Result<Map<String, Value>, Problem> {
        let mut body = Map::new();
        body.insert("name".into(), self.name.clone().into());
        body.insert("url".into(), self.url.clone().unwrap_or_default().into());
        body.insert("events".into(), json!(self.events.clone().unwrap_or_default()));
        body.insert("is_active".into(), self.is_active.unwrap_or(true).into());
        Ok(body)
    }

    /// The account's event catalogue, to check event names against (what the API accepts, [doc]).
    fn lookups(entries: &[&Self]) -> LookupNeeds {
        LookupNeeds { events: entries.iter().any(|e| e.ensure.is_present()), ..LookupNeeds::default() }
    }

    fn from_live(l: &LiveWebhook, _: &Lookups) -> Result<Self, String> {
        let events: BTreeSet<String> = l.events.iter().cloned().collect();
        Ok(WebhookSpec {
            id: None,
            name: l.name.clone(),
            ensure: Ensure::Present,
            url: Some(l.url.clone()),
            events: Some(events.into_iter().collect()),
            is_active: (!l.is_active).then_some(false),
            rotate_secret: None,
            origin: Origin::default(),
        })
    }

    fn live_fields(l: &LiveWebhook) -> super::Fields {
        let events: BTreeSet<&str> = l.events.iter().map(String::as_str).collect();
        vec![
            ("name", super::canon_short(&l.name)),
            ("url", l.url.trim().into()),
            ("events", json!(events)),
            ("is_active", Value::Bool(l.is_active)),
        ]
    }
}
