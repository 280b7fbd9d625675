//! Contact tags — `/tags`.
//!
//! [doc] `GET /tags` answers every tag with its contact count, no pagination (no `meta`); `POST /tags`
//! needs `title` (string, at most 100 characters) and answers 201 with the tag; `GET|PUT|DELETE /tags/{id}`;
//! `PUT` renames (contacts keep the tag); `DELETE` answers 204 and removes the tag from every contact.
//! Object: `id`, `title`, `contacts_count` (integer or null), `created_at`.
//! [assumed] titles are not unique; there is no `updated_at`. Assigning tags to contacts is contact data,
//! which the sandbox does not model: `contacts_count` is whatever the seed says (0 for new tags).

use super::clock::Timestamp;
use super::http::{parse_id, parse_object, ApiError, Check, Presence, Reply};
use super::store::Record;
use super::{App, View};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const NOT_FOUND: &str = "Tag not found.";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    #[serde(default)]
    pub id: u64,
    pub title: String,
    #[serde(default)]
    pub contacts_count: Option<u64>,
    #[serde(default)]
    pub created_at: Timestamp,
}

impl Record for Tag {
    fn routes() -> axum::Router<super::App> {
        routes()
    }
    const KIND: &'static str = "tags";
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

impl Tag {
    fn to_json(&self, v: View) -> Value {
        json!({"id": self.id, "title": self.title, "contacts_count": self.contacts_count, "created_at": v.ts(self.created_at)})
    }
}

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/tags", get(list).post(create))
        .route("/api/v1/tags/{id}", get(show).put(update).delete(destroy))
}

fn find(tags: &[Tag], raw_id: &str) -> Result<usize, ApiError> {
    let id = parse_id(raw_id, NOT_FOUND)?;
    tags.iter().position(|t| t.id == id).ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))
}

async fn list(State(app): State<App>) -> Reply {
    let store = app.store();
    let data: Vec<Value> = store.tags.iter().map(|t| t.to_json(app.view())).collect();
    Reply::ok(json!(data), "Tags retrieved successfully.")
}

async fn show(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let store = app.store();
    let i = find(&store.tags, &id)?;
    Ok(Reply::ok(store.tags[i].to_json(app.view()), "Tag retrieved successfully."))
}

fn read_title(body: &serde_json::Map<String, Value>) -> Result<String, ApiError> {
    let mut c = Check::new(body);
    let title = c.text("title", Presence::Required, 100);
    c.done()?;
    Ok(title.unwrap_or_default())
}

async fn create(State(app): State<App>, body: Bytes) -> Result<Reply, ApiError> {
    let title = read_title(&parse_object(&body)?)?;
    let mut store = app.store();
    let tag = Tag { id: store.next_id(Tag::KIND), title, contacts_count: Some(0), created_at: Timestamp::now() };
    let data = tag.to_json(app.view());
    store.tags.push(tag);
    Ok(Reply::created(data, "Tag created successfully."))
}

async fn update(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> Result<Reply, ApiError> {
    let body = parse_object(&body)?;
    let mut store = app.store();
    let i = find(&store.tags, &id)?;
    let title = read_title(&body)?;
    store.tags[i].title = title;
    Ok(Reply::ok(store.tags[i].to_json(app.view()), "Tag updated successfully."))
}

async fn destroy(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let mut store = app.store();
    let i = find(&store.tags, &id)?;
    store.tags.remove(i);
    Ok(Reply::deleted())
}
