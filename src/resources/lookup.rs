//! The read-only lookups campaigns are resolved against.

use super::lenient;
use serde::Deserialize;
use time::OffsetDateTime;

/// A messaging channel (`GET /account/channels`); its id is a campaign's `channel_id`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Channel {
    pub id: u64,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub username: String,
    #[serde(default = "lenient::yes", deserialize_with = "lenient::flag")]
    pub is_connected: bool,
}

/// A contact list or a segment.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ContactList {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub contacts_count: Option<u64>,
    #[serde(default, deserialize_with = "lenient::time")]
    pub created_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Account {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Limit {
    pub max: Option<u64>,
    pub used: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Subscription {
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub limits: std::collections::BTreeMap<String, Limit>,
}

/// A contact tag (`GET /tags`): the lease's lock tags are tags.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Tag {
    pub id: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default, deserialize_with = "lenient::time")]
    pub created_at: Option<OffsetDateTime>,
}

/// One entry of the webhook event catalogue.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct WebhookEvent {
    pub name: String,
    #[serde(default)]
    pub resource: Option<String>,
}

/// `GET /knowledge-base/{id}/status`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct KnowledgeStatus {
    pub status: String,
    #[serde(default)]
    pub pages_crawled: Option<u64>,
}
