//! Contact lists — `/contacts/lists` — and segments — `/contacts/segments`: the same shape, two kinds.
//!
//! [doc] lists: `GET` answers every list with no `meta`; `POST` needs `name`; `GET|PUT|DELETE /{id}`;
//! `PUT` takes `name` and `status` (1 active, 0 inactive, as integers); `DELETE` answers 204 and removes
//! every membership. Object: `{id, name, status, contacts_count, created_at}`.
//! [assumed] segments follow the same pattern but have no single GET; names are not unique; `status`
//! defaults to 1 and may be given on create; `name` is at most 255 characters. Members are contact data,
//! which the sandbox does not model: `contacts_count` is whatever the seed says (0 for new ones).

use super::clock::Timestamp;
use super::http::{parse_id, parse_object, ApiError, Check, Presence, Reply};
use super::store::Record;
use super::{App, Store, View};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One kind's record, routes and messages.
macro_rules! audience {
    ($Record:ident, $kind:literal, $field:ident, $base:literal, $noun:literal, $Noun:literal, $single_get:literal) => {
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $Record {
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

        impl Record for $Record {
            const KIND: &'static str = $kind;
            fn routes() -> Router<App> {
                $field::routes()
            }
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

        impl $Record {
            pub fn to_json(&self, v: View) -> Value {
                json!({
                    "id": self.id, "name": self.name, "status": self.status,
                    "contacts_count": self.contacts_count, "created_at": v.ts(self.created_at),
                })
            }
        }

        pub mod $field {
            use super::*;

            const NOT_FOUND: &str = concat!($Noun, " not found.");

            pub fn routes() -> Router<App> {
                let one = if $single_get { get(show).put(update).delete(destroy) } else { axum::routing::put(update).delete(destroy) };
                Router::new().route(concat!("/api/v1", $base), get(list).post(create)).route(concat!("/api/v1", $base, "/{id}"), one)
            }

            fn find(store: &Store, raw_id: &str) -> Result<usize, ApiError> {
                let id = parse_id(raw_id, NOT_FOUND)?;
                store.$field.iter().position(|l| l.id == id).ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))
            }

            async fn list(State(app): State<App>) -> Reply {
                let store = app.store();
                let data: Vec<Value> = store.$field.iter().map(|l| l.to_json(app.view())).collect();
                Reply::ok(json!(data), concat!($Noun, "s retrieved successfully."))
            }

            async fn show(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
                let store = app.store();
                let i = find(&store, &id)?;
                Ok(Reply::ok(store.$field[i].to_json(app.view()), concat!($Noun, " retrieved successfully.")))
            }

            /// `name` (required on create) and `status` (0 or 1).
            fn read(body: &serde_json::Map<String, Value>, creating: bool) -> Result<(Option<String>, Option<u8>), ApiError> {
                let mut c = Check::new(body);
                let name = c.text("name", if creating { Presence::Required } else { Presence::Sometimes }, 255);
                let status = c.integer("status", false);
                if status.is_some_and(|s| s > 1) {
                    c.errors.add("status", "The selected status is invalid.".to_string());
                }
                c.done()?;
                Ok((name, status.map(|s| s as u8)))
            }

            async fn create(State(app): State<App>, body: Bytes) -> Result<Reply, ApiError> {
                let (name, status) = read(&parse_object(&body)?, true)?;
                let mut store = app.store();
                let record = $Record {
                    id: store.next_id($kind),
                    name: name.unwrap_or_default(),
                    status: status.unwrap_or(1),
                    contacts_count: 0,
                    created_at: Timestamp::now(),
                };
                let data = record.to_json(app.view());
                store.$field.push(record);
                Ok(Reply::created(data, concat!($Noun, " created successfully.")))
            }

            async fn update(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> Result<Reply, ApiError> {
                let body = parse_object(&body)?;
                let mut store = app.store();
                let i = find(&store, &id)?;
                let (name, status) = read(&body, false)?;
                let l = &mut store.$field[i];
                if let Some(n) = name {
                    l.name = n;
                }
                if let Some(s) = status {
                    l.status = s;
                }
                Ok(Reply::ok(store.$field[i].to_json(app.view()), concat!($Noun, " updated successfully.")))
            }

            /// Removes every membership too; campaigns keep the id (the API does not cascade).
            async fn destroy(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
                let mut store = app.store();
                let i = find(&store, &id)?;
                store.$field.remove(i);
                Ok(Reply::deleted())
            }
        }
    };
}

fn one() -> u8 {
    1
}

audience!(ContactList, "lists", lists, "/contacts/lists", "contact list", "Contact list", true);
audience!(Segment, "segments", segments, "/contacts/segments", "segment", "Segment", false);
