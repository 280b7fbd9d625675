//! `/_sandbox/...`: control endpoints for tests and demos, outside the API (no auth, no rate limit, not logged).

use super::clock::Timestamp;
use super::faults::{FaultRule, Faults};
use super::{campaigns, lock, App, Store};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/_sandbox/requests", get(requests).delete(clear_requests))
        .route("/_sandbox/faults", get(faults).post(add_fault).delete(reset_faults))
        .route("/_sandbox/latency", put(set_latency))
        .route("/_sandbox/state", get(state).put(replace_state))
        .route("/_sandbox/campaigns/{id}/complete", post(complete_campaign))
}

fn bad(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg.into()}))).into_response()
}

async fn requests(State(app): State<App>) -> Response {
    Json(lock(&app.log).clone()).into_response()
}

async fn clear_requests(State(app): State<App>) -> StatusCode {
    lock(&app.log).clear();
    StatusCode::NO_CONTENT
}

async fn faults(State(app): State<App>) -> Response {
    Json(json!(&*lock(&app.faults))).into_response()
}

async fn add_fault(State(app): State<App>, body: axum::body::Bytes) -> Response {
    let rule: FaultRule = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("invalid fault rule: {e}")),
    };
    let mut faults = lock(&app.faults);
    match faults.add(rule) {
        Ok(()) => (StatusCode::CREATED, Json(json!(&*faults))).into_response(),
        Err(e) => bad(e),
    }
}

async fn reset_faults(State(app): State<App>) -> StatusCode {
    *lock(&app.faults) = Faults::default();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Latency {
    ms: u64,
}

async fn set_latency(State(app): State<App>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<Latency>(&body) {
        Ok(l) => {
            lock(&app.faults).latency_ms = l.ms;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad(format!("expected {{\"ms\": N}}: {e}")),
    }
}

async fn state(State(app): State<App>) -> Response {
    Json(json!(&*app.store())).into_response()
}

async fn replace_state(State(app): State<App>, body: axum::body::Bytes) -> Response {
    let mut store: Store = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return bad(format!("invalid state: {e}")),
    };
    if let Err(e) = store.normalize(Timestamp::SEED_TIME) {
        return bad(e);
    }
    *app.store() = store;
    StatusCode::NO_CONTENT.into_response()
}

/// Campaigns finish on their own when every contact was messaged; this makes that happen now.
async fn complete_campaign(State(app): State<App>, Path(id): Path<u64>) -> Response {
    match campaigns::complete(&mut app.store(), id, Timestamp::now()) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => bad(e),
    }
}
