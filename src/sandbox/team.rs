//! Team members — `/team`.
//!
//! [doc] list paginated with a `role` filter, list items without timestamps; create needs `name`, a unique
//! `email`, `role` (`admin`|`agent`) and a `password` of at least 8 characters, which is write-only;
//! the plan limits how many members there may be.
//! [assumed] list default `per_page` 15, max 100; PUT accepts `name`, `role`, `status`, `password` (a reset);
//! `email` is immutable (422 when it differs); the last active admin cannot be deleted, demoted or
//! deactivated (422); over the plan limit is a 422 naming the limit. Passwords are checked, never stored.

use super::clock::Timestamp;
use super::http::{paginated, parse_id, parse_object, ApiError, Check, Field, Page, Presence, Reply};
use super::store::Record;
use super::{App, View};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const NOT_FOUND: &str = "Team member not found.";
const ROLES: &[&str] = &["admin", "agent"];
const STATUSES: &[&str] = &["active", "inactive"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamMember {
    #[serde(default)]
    pub id: u64,
    pub name: String,
    pub email: String,
    pub role: String,
    #[serde(default = "active")]
    pub status: String,
    #[serde(default)]
    pub created_at: Timestamp,
    #[serde(default)]
    pub updated_at: Timestamp,
}

fn active() -> String {
    "active".into()
}

impl Record for TeamMember {
    fn routes() -> axum::Router<super::App> {
        routes()
    }
    const KIND: &'static str = "team";
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
    }
}

impl TeamMember {
    fn list_json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "email": self.email, "role": self.role, "status": self.status})
    }

    fn full_json(&self, v: View) -> Value {
        let mut o = self.list_json();
        o["created_at"] = v.ts(self.created_at);
        o["updated_at"] = v.ts(self.updated_at);
        o
    }

    fn is_active_admin(&self) -> bool {
        self.role == "admin" && self.status == "active"
    }
}

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/team", get(list).post(create))
        .route("/api/v1/team/{id}", get(show).put(update).delete(destroy))
}

async fn list(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Reply {
    let store = app.store();
    let role = q.get("role").map(String::as_str);
    let items = store.team.iter().filter(|m| role.is_none_or(|r| m.role == r)).map(TeamMember::list_json).collect();
    paginated(items, Page::from_query(&q, 15, app.max_per_page()), "Team members retrieved successfully.")
}

fn find(team: &[TeamMember], raw_id: &str) -> Result<usize, ApiError> {
    let id = parse_id(raw_id, NOT_FOUND)?;
    team.iter().position(|m| m.id == id).ok_or_else(|| ApiError::NotFound(NOT_FOUND.into()))
}

async fn show(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let store = app.store();
    let i = find(&store.team, &id)?;
    Ok(Reply::ok(store.team[i].full_json(app.view()), "Team member retrieved successfully."))
}

/// A plausible address: one `@`, something before it, a dotted domain after it, no spaces.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.contains(char::is_whitespace)
}

fn check_password(c: &mut Check, presence: Presence) {
    if let Field::Value(p) = c.string("password", presence, 255) {
        if p.chars().count() < 8 {
            c.errors.add("password", "The password field must be at least 8 characters.");
        }
    }
}

async fn create(State(app): State<App>, body: Bytes) -> Result<Reply, ApiError> {
    let body = parse_object(&body)?;
    let mut c = Check::new(&body);
    let mut store = app.store();
    let name = c.text("name", Presence::Required, 255);
    let email = c.text("email", Presence::Required, 255);
    if let Some(e) = &email {
        if !valid_email(e) {
            c.errors.add("email", "The email field must be a valid email address.");
        } else if store.team.iter().any(|m| m.email.eq_ignore_ascii_case(e)) {
            c.errors.add("email", "The email has already been taken.");
        }
    }
    let role = c.one_of("role", Presence::Required, ROLES);
    check_password(&mut c, Presence::Required);
    c.done()?;
    let max = store.subscription.team_members_max;
    if store.team.len() as u64 >= max {
        return Err(ApiError::invalid(
            "team_members",
            format!("Your plan allows {max} team members and all are in use. Upgrade your plan to add more."),
        ));
    }
    let now = Timestamp::now();
    let member = TeamMember {
        id: store.next_id(TeamMember::KIND),
        name: name.unwrap_or_default(),
        email: email.unwrap_or_default(),
        role: role.unwrap_or_default(),
        status: "active".into(),
        created_at: now,
        updated_at: now,
    };
    let data = member.full_json(app.view());
    store.team.push(member);
    Ok(Reply::created(data, "Team member created successfully. An invitation was sent by email."))
}

fn other_active_admins(team: &[TeamMember], i: usize) -> usize {
    team.iter().enumerate().filter(|(j, m)| *j != i && m.is_active_admin()).count()
}

async fn update(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> Result<Reply, ApiError> {
    let body: Map<String, Value> = parse_object(&body)?;
    let mut store = app.store();
    let i = find(&store.team, &id)?;
    let mut c = Check::new(&body);
    let name = c.string("name", Presence::Sometimes, 255);
    let role = c.one_of("role", Presence::Sometimes, ROLES);
    let status = c.one_of("status", Presence::Sometimes, STATUSES);
    check_password(&mut c, Presence::Sometimes);
    if let Some(Value::String(e)) = body.get("email") {
        if !e.eq_ignore_ascii_case(&store.team[i].email) {
            c.errors.add("email", "The email of a team member cannot be changed.");
        }
    } else if body.contains_key("email") {
        c.errors.add("email", "The email field must be a string.");
    }
    let member = &store.team[i];
    let stays_active_admin =
        role.as_deref().unwrap_or(&member.role) == "admin" && status.as_deref().unwrap_or(&member.status) == "active";
    if member.is_active_admin() && !stays_active_admin && other_active_admins(&store.team, i) == 0 {
        c.errors.add("role", "The last active admin cannot be demoted or deactivated.");
    }
    c.done()?;
    let member = &mut store.team[i];
    if let Field::Value(n) = name {
        member.name = n;
    }
    if let Some(r) = role {
        member.role = r;
    }
    if let Some(s) = status {
        member.status = s;
    }
    member.updated_at = Timestamp::now();
    Ok(Reply::ok(member.full_json(app.view()), "Team member updated successfully."))
}

async fn destroy(State(app): State<App>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let mut store = app.store();
    let i = find(&store.team, &id)?;
    if store.team[i].is_active_admin() && other_active_admins(&store.team, i) == 0 {
        return Err(ApiError::invalid("team_member", "The last active admin cannot be deleted."));
    }
    store.team.remove(i);
    Ok(Reply::deleted())
}
