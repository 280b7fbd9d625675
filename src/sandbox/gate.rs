//! What every API request passes before its handler, in order: the request log, added latency, fault
//! rules, the rate limit, auth, the account check; after it: the drop fault, extra fields, state saving.

use super::clock::Timestamp;
use super::faults::Injection;
use super::http::{json_response, ApiError};
use super::{lock, App, ConnKill, API_PREFIX};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Bodies larger than this are refused with 413 (the largest real one is a long prompt or a catalogue).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// One API request as the sandbox received it, for tests to assert exactly which calls were made.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoggedRequest {
    pub method: String,
    /// The full path, e.g. `/api/v1/team/3`.
    pub path: String,
    pub query: Option<String>,
    /// The status answered, or that would have been answered when the connection was dropped.
    pub status: u16,
    /// Milliseconds since the sandbox started.
    pub at_ms: u64,
    /// Wall-clock time, Unix milliseconds.
    pub unix_ms: u64,
    /// The JSON body, with `password` and `secret` values replaced by `"(redacted)"`.
    pub body: Option<Value>,
    /// The request was executed and its connection then dropped unanswered.
    pub dropped: bool,
    /// The answer came from a fault rule, not from the API.
    pub injected: bool,
}

impl LoggedRequest {
    /// `"GET /api/v1/team"`: the form tests compare against.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

pub async fn front_door(State(app): State<App>, req: Request, next: Next) -> Response {
    let kill = req.extensions().get::<ConnKill>().cloned();
    // Like a real server, a request that was received runs to completion even when its client leaves
    // (a timeout, a killed process): it is handled in a task of its own, which dropping the connection does
    // not cancel. So a write can land after its client gave up, as tests of late writes need.
    let handled = tokio::spawn(handle(app, req, next));
    let (response, drop_after) = match handled.await {
        Ok(done) => done,
        Err(_) => {
            (ApiError::Injected { status: StatusCode::INTERNAL_SERVER_ERROR, retry_after: None }.into_response(), false)
        }
    };
    if drop_after {
        if let Some(kill) = kill {
            kill.0.notify_one();
            std::future::pending::<()>().await;
        }
    }
    response
}

/// Everything a request goes through, logged; returns the answer and whether to drop the connection.
async fn handle(app: App, req: Request, next: Next) -> (Response, bool) {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let received = Instant::now();

    let (parts, body) = req.into_parts();
    let (bytes, response, injected, drop_after) = match to_bytes(body, MAX_BODY).await {
        Err(_) => (None, ApiError::PayloadTooLarge.into_response(), false, false),
        Ok(bytes) => {
            let injection = lock(&app.faults).take(&method, &path);
            let delay = lock(&app.faults).latency_ms + app.config.latency_ms + injection.delay_ms;
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            let bytes = if app.config.quirks.trim_strings { trim_strings(bytes) } else { bytes };
            let req = Request::from_parts(parts, Body::from(bytes.clone()));
            let (response, injected) = match injection.status {
                Some(status) => (injected_response(status, &injection), true),
                None => (admit(&app, req, next).await, false),
            };
            (Some(bytes), response, injected, injection.drop)
        }
    };
    let response = if app.config.quirks.extra_fields { add_extra_fields(response).await } else { response };

    if method != Method::GET && response.status().is_success() {
        if let Some(path) = &app.config.state_file {
            if let Err(e) = app.store().save(path) {
                crate::redact::to_stderr(&format!("sandbox: cannot save state to {}: {e}\n", path.display()));
            }
        }
    }

    let unix_ms = (Timestamp::now().0 / 1000) as u64;
    lock(&app.log).push(LoggedRequest {
        method: method.to_string(),
        path,
        query,
        status: response.status().as_u16(),
        at_ms: received.duration_since(app.started).as_millis() as u64,
        unix_ms,
        body: bytes.as_deref().and_then(redacted_body),
        dropped: drop_after,
        injected,
    });
    (response, drop_after)
}

/// Rate limit, auth and account state, then the handler. The limit counts every presented key
/// (and anonymous callers) apart, before auth, so that every response carries the rate-limit headers.
async fn admit(app: &App, req: Request, next: Next) -> Response {
    let presented = presented_key(req.headers());
    let verdict = lock(&app.limiter).hit(presented.clone().unwrap_or_default(), Instant::now());
    let mut response = match verdict {
        Err(retry_after) => ApiError::TooManyRequests { retry_after }.into_response(),
        Ok(()) if presented.as_deref() != Some(app.config.api_key.as_str()) => {
            ApiError::Unauthenticated.into_response()
        }
        Ok(()) => {
            let inactive = {
                let mut store = app.store();
                store.before_request(Timestamp::now());
                store.account.status != "active"
            };
            if inactive {
                ApiError::Forbidden("Your account is inactive. Please contact support.".into()).into_response()
            } else {
                next.run(req).await
            }
        }
    };
    let info = lock(&app.limiter).info(presented.unwrap_or_default(), Instant::now());
    let h = response.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(info.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(info.remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(info.reset_unix));
    response
}

fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(k) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(k.trim().to_string());
    }
    let auth = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

fn injected_response(status: StatusCode, injection: &Injection) -> Response {
    let mut res = ApiError::Injected { status, retry_after: injection.retry_after }.into_response();
    if let Some(secs) = injection.retry_after_header {
        res.headers_mut().insert("retry-after", HeaderValue::from(secs));
    }
    res
}

/// Laravel's `TrimStrings` (passwords excepted) and `ConvertEmptyStringsToNull`, on a JSON body.
fn trim_strings(bytes: axum::body::Bytes) -> axum::body::Bytes {
    fn walk(v: &mut Value, key: Option<&str>) {
        match v {
            Value::String(s) if !matches!(key, Some("password" | "password_confirmation" | "current_password")) => {
                let t = s.trim();
                *v = if t.is_empty() { Value::Null } else { Value::String(t.to_string()) };
            }
            Value::Object(m) => m.iter_mut().for_each(|(k, v)| walk(v, Some(k))),
            Value::Array(a) => a.iter_mut().for_each(|v| walk(v, None)),
            _ => {}
        }
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut v) => {
            walk(&mut v, None);
            axum::body::Bytes::from(v.to_string())
        }
        Err(_) => bytes,
    }
}

fn redacted_body(bytes: &[u8]) -> Option<Value> {
    let mut v: Value = serde_json::from_slice(bytes).ok()?;
    if let Value::Object(m) = &mut v {
        for key in ["password", "secret"] {
            if let Some(slot) = m.get_mut(key) {
                *slot = Value::String("(redacted)".into());
            }
        }
    }
    Some(v)
}

/// The `extra_fields` quirk: a field the contract never names, on the envelope and on every object.
async fn add_extra_fields(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(Value::Object(mut envelope)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    envelope.insert("request_id".into(), Value::String("sandbox-extra".into()));
    let tag = |v: &mut Value| {
        if let Value::Object(o) = v {
            o.insert("x_sandbox_extra".into(), serde_json::json!({"note": "a field the contract does not name"}));
        }
    };
    match envelope.get_mut("data") {
        Some(Value::Array(items)) => items.iter_mut().for_each(tag),
        Some(v) => tag(v),
        None => {}
    }
    let mut res = json_response(parts.status, &Value::Object(envelope));
    for (k, v) in parts.headers.iter().filter(|(k, _)| *k != "content-length") {
        res.headers_mut().insert(k.clone(), v.clone());
    }
    res
}

pub async fn route_not_found(req: Request) -> Response {
    let path = req.uri().path();
    let msg = if path.starts_with(API_PREFIX) { "The route was not found." } else { "Not found." };
    ApiError::NotFound(msg.into()).into_response()
}

pub async fn method_not_allowed(req: Request) -> Response {
    ApiError::MethodNotAllowed(format!("The {} method is not supported for route {}.", req.method(), req.uri().path()))
        .into_response()
}

/// A rolling window per key (60 seconds as documented; shorter in tests): a request is admitted while
/// fewer than `limit` were admitted in the last window. Refused requests do not count (as Laravel's
/// throttle).
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    windows: HashMap<String, VecDeque<Instant>>,
}

pub struct RateInfo {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the oldest admitted request leaves the window (a slot frees).
    pub reset_unix: i64,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        RateLimiter { limit: limit.max(1), window: window.max(Duration::from_millis(1)), windows: HashMap::new() }
    }

    fn window(&mut self, key: String, now: Instant) -> &mut VecDeque<Instant> {
        let window = self.window;
        let w = self.windows.entry(key).or_default();
        while w.front().is_some_and(|t| now.duration_since(*t) >= window) {
            w.pop_front();
        }
        w
    }

    /// Admits the request, or answers how many seconds until a slot frees.
    pub fn hit(&mut self, key: String, now: Instant) -> Result<(), u64> {
        let (limit, window) = (self.limit as usize, self.window);
        let w = self.window(key, now);
        if w.len() >= limit {
            let oldest = *w.front().expect("a full window has an oldest entry");
            let wait = window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        w.push_back(now);
        Ok(())
    }

    pub fn info(&mut self, key: String, now: Instant) -> RateInfo {
        let (limit, window) = (self.limit, self.window);
        let w = self.window(key, now);
        let until_free = w.front().map_or(window, |t| window.saturating_sub(now.duration_since(*t)));
        RateInfo {
            limit,
            remaining: limit.saturating_sub(w.len() as u32),
            reset_unix: Timestamp::now().unix_seconds() + until_free.as_secs_f64().ceil() as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_admits_limit_then_refuses_until_the_oldest_leaves() {
        let mut rl = RateLimiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            rl.hit("k".into(), t0).unwrap();
        }
        assert_eq!(rl.hit("k".into(), t0 + Duration::from_secs(20)), Err(40));
        assert_eq!(rl.info("k".into(), t0).remaining, 0);
        // Another key has its own window.
        assert!(rl.hit("other".into(), t0).is_ok());
        assert!(rl.hit("k".into(), t0 + Duration::from_secs(60)).is_ok());
    }
}
