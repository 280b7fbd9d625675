//! The client in layers, each readable on its own:
//! 1. `exchange`: one HTTP request with the key, paced, bounded in concurrency, its answer unwrapped from
//!    the envelope (or turned into an [`ApiError`]);
//! 2. `call`: retries — 429s waited out, transient failures of idempotent requests retried with backoff;
//! 3. pagination: `page` reads one page; `ReadClient::list_values` (in `mod.rs`) reads page 1, then the
//!    others concurrently, and re-reads a list that changed while it was read.
//!
//! The ambiguous-POST rule lives with `create` in `mod.rs`, because it needs the resource's natural key.

use super::error::{ApiError, Failure};
use super::pacer::{Pacer, RateHeaders};
use super::{ApiKey, Cancel, ClientEvent, EventSink, Stats};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub base: String,
    pub key: ApiKey,
    pub pacer: Pacer,
    pub permits: Semaphore,
    pub parallelism: usize,
    pub max_attempts: u32,
    pub retry_base: Duration,
    /// How long after it was sent a request can still land ([assumed]).
    pub settle: Duration,
    pub request_timeout: Duration,
    pub deadline: Option<Instant>,
    pub cancel: Cancel,
    pub stats: Stats,
    pub events: Option<EventSink>,
}

/// Which credentials a probe sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeAuth {
    /// `X-Api-Key: KEY`, what skyform sends.
    ApiKeyHeader,
    /// `Authorization: Bearer KEY`, the other documented way.
    Bearer,
    /// None: what an unauthenticated caller is answered.
    None,
}

/// A probe's answer as it came.
#[derive(Debug, Clone)]
pub struct Probe {
    pub status: u16,
    pub rate: RateHeaders,
    /// The whole body (the envelope, not just `data`); null when it was not JSON.
    pub body: Value,
}

/// A list page's `meta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub current: u64,
    pub last: u64,
    pub total: Option<u64>,
}

/// A successful answer, unwrapped from the envelope.
pub(crate) struct Answer {
    pub data: Value,
    pub meta: Option<Meta>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// GET, PUT, DELETE and actions whose repetition is harmless: retry transient failures.
    Idempotent,
    /// POST creates: never repeated here (the caller looks before it retries).
    Never,
}

impl Transport {
    fn emit(&self, event: ClientEvent) {
        if let Some(sink) = &self.events {
            sink(&event);
        }
    }

    /// One request and its answer.
    async fn exchange(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, ApiError> {
        let _permit = self.permits.acquire().await.expect("the semaphore is never closed");
        self.pacer.acquire().await;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut req =
            self.http.request(method.clone(), format!("{}{path}", self.base)).header("X-Api-Key", self.key.header());
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let fail = |failure, message: String| ApiError {
            method: method.to_string(),
            path: path.to_string(),
            failure,
            message,
            field_errors: Vec::new(),
            retry_after: None,
        };
        let res = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                self.pacer.observe(None, Instant::now());
                let failure = if e.is_timeout() {
                    Failure::Timeout
                } else if e.is_connect() {
                    Failure::Connect
                } else {
                    Failure::Dropped
                };
                return Err(fail(failure, transport_cause(&e)));
            }
        };
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        self.pacer.observe(Some(rate_headers(&headers)), Instant::now());
        if (300..400).contains(&status) {
            let target = headers.get("location").and_then(|l| l.to_str().ok()).unwrap_or("(no Location)");
            return Err(fail(
                Failure::Status(status),
                format!(
                    "a redirect to {}, which skyform does not follow (the API key would go along); check --api-url",
                    crate::redact::untrusted(&crate::redact::url_for_display(target), 200)
                ),
            ));
        }
        let bytes = match res.bytes().await {
            Ok(b) => b,
            Err(e) => {
                let failure = if e.is_timeout() { Failure::Timeout } else { Failure::Dropped };
                return Err(fail(failure, transport_cause(&e)));
            }
        };
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(_) if status >= 300 => Value::Null,
                Err(e) => return Err(fail(Failure::Decode, format!("not JSON ({e})"))),
            }
        };
        let failed = status >= 400 || body.get("success") == Some(&Value::Bool(false));
        if failed {
            // Server text is untrusted: an echoing server must not make skyform print the key.
            let mut err = fail(
                Failure::Status(status),
                body.get("message")
                    .and_then(Value::as_str)
                    .map_or_else(|| reason(status), |m| crate::redact::untrusted(m, MAX_SERVER_TEXT)),
            );
            if let Some(Value::Object(fields)) = body.get("errors") {
                err.field_errors = fields
                    .iter()
                    .map(|(k, v)| {
                        let msgs = match v {
                            Value::Array(a) => a.iter().take(20).map(server_text).collect(),
                            other => vec![server_text(other)],
                        };
                        (crate::redact::untrusted(k, 100), msgs)
                    })
                    .collect();
            }
            if status == 429 {
                err.retry_after = Some(retry_after(&body, &headers));
            }
            return Err(err);
        }
        let meta = body.get("meta").and_then(|m| {
            Some(Meta {
                current: number(m.get("current_page")?)?,
                last: number(m.get("last_page")?)?,
                total: m.get("total").and_then(number),
            })
        });
        let data = match body {
            Value::Object(mut o) if o.contains_key("data") => o.remove("data").unwrap_or(Value::Null),
            other => other,
        };
        Ok(Answer { data, meta })
    }

    /// One GET as it comes, for `doctor`: paced like any request, sent with the chosen credentials, never
    /// retried; the status, the rate-limit headers and the whole JSON body (envelope included). Errors only
    /// when there is no answer at all.
    pub async fn probe(&self, path: &str, query: &[(&str, String)], auth: ProbeAuth) -> Result<Probe, ApiError> {
        let _permit = self.permits.acquire().await.expect("the semaphore is never closed");
        self.pacer.acquire().await;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut req = self.http.get(format!("{}{path}", self.base));
        req = match auth {
            ProbeAuth::ApiKeyHeader => req.header("X-Api-Key", self.key.header()),
            ProbeAuth::Bearer => req.header("Authorization", self.key.bearer()),
            ProbeAuth::None => req,
        };
        if !query.is_empty() {
            req = req.query(query);
        }
        let res = req.send().await.map_err(|e| ApiError::other("GET", path, Failure::Dropped, transport_cause(&e)))?;
        let status = res.status().as_u16();
        let rate = rate_headers(res.headers());
        if auth == ProbeAuth::ApiKeyHeader {
            self.pacer.observe(Some(rate), Instant::now());
        }
        let bytes =
            res.bytes().await.map_err(|e| ApiError::other("GET", path, Failure::Dropped, transport_cause(&e)))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Probe { status, rate, body })
    }

    /// Why nothing more may be sent, if so: the run was interrupted, or its deadline passed.
    pub fn stopped(&self, method: &Method, path: &str) -> Option<ApiError> {
        let why = if self.cancel.is_cancelled() {
            self.cancel.reason().unwrap_or_else(|| "the run was interrupted".into())
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            "the run's deadline (--timeout) passed".into()
        } else {
            return None;
        };
        Some(ApiError::other(method.as_str(), path, Failure::Stopped, why))
    }

    /// Time left before the deadline (a day when there is none).
    pub fn time_left(&self) -> Duration {
        self.deadline.map_or(Duration::from_secs(86_400), |d| d.saturating_duration_since(Instant::now()))
    }

    /// A request with retries: 429s are backpressure, waited out (they were not executed) for as long as the
    /// run's deadline allows, each wait capped at it; transient failures of idempotent requests retried with
    /// exponential backoff and jitter, at most `max_attempts` tries. Nothing is sent once the run is
    /// interrupted or past its deadline.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<Answer, ApiError> {
        self.call_with(method, path, query, body, retry, true).await
    }

    /// [`Transport::call`]; `stoppable` false sends even after an interrupt (releasing the lease must).
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        retry: Retry,
        stoppable: bool,
    ) -> Result<Answer, ApiError> {
        let mut attempt = 0;
        loop {
            if let Some(e) = self.stopped(&method, path).filter(|_| stoppable) {
                return Err(e);
            }
            attempt += 1;
            let err = match self.exchange(&method, path, query, body).await {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            if err.status() == Some(429) {
                attempt -= 1;
                let asked = Duration::from_secs(err.retry_after.unwrap_or(1)).max(MIN_THROTTLE_WAIT);
                let wait = asked.min(self.time_left());
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                if wait.is_zero() {
                    let mut e = err;
                    e.message = format!("{} (still rate limited at the run's deadline, --timeout)", e.message);
                    return Err(e);
                }
                self.pacer.pause(wait, Instant::now());
                self.emit(ClientEvent::Throttled { method: method.to_string(), path: path.to_string(), wait });
                let slept = self.cancel.sleep(wait).await;
                if slept && wait < asked {
                    // The wait was cut at the deadline: the API still asks to wait, and there is no time.
                    let mut e = err;
                    e.message = format!("{} (still rate limited at the run's deadline, --timeout)", e.message);
                    return Err(e);
                }
                continue;
            }
            if method == Method::DELETE && err.status() == Some(404) && attempt > 1 {
                // An earlier try deleted it and its answer was lost.
                return Ok(Answer { data: Value::Null, meta: None });
            }
            let retryable = retry == Retry::Idempotent || err.failure == Failure::Connect;
            if retryable && err.is_transient() && attempt < self.max_attempts {
                let wait = self.backoff(attempt);
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                self.emit(ClientEvent::Retry {
                    method: method.to_string(),
                    path: path.to_string(),
                    attempt,
                    cause: err.to_string(),
                    wait,
                });
                self.cancel.sleep(wait.min(self.time_left())).await;
                continue;
            }
            return Err(err);
        }
    }

    /// Exponential backoff with jitter: half the step fixed, half random.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let step = self.retry_base.saturating_mul(1 << attempt.saturating_sub(1).min(6)).min(Duration::from_secs(10));
        step / 2 + step.mul_f64(jitter() / 2.0)
    }

    /// One page of a list: its items and its `meta` (none when the answer is the whole list).
    pub async fn page(&self, path: &str, page: u64) -> Result<(Vec<Value>, Option<Meta>), ApiError> {
        let query = [("per_page", "100".to_string()), ("page", page.to_string())];
        let answer = self.call(Method::GET, path, &query, None, Retry::Idempotent).await?;
        match answer.data {
            Value::Array(a) => Ok((a, answer.meta)),
            other => Err(ApiError::decode("GET", path, format!("expected a list, got {}", kind_of(&other)))),
        }
    }
}

/// The shortest wait after a 429, whatever it says: a server answering `retry_after: 0` over and over must
/// not be hammered.
const MIN_THROTTLE_WAIT: Duration = Duration::from_millis(100);

/// At most this many characters of a server's message are shown.
const MAX_SERVER_TEXT: usize = 300;

fn server_text(v: &Value) -> String {
    crate::redact::untrusted(&v.as_str().map_or_else(|| v.to_string(), str::to_string), MAX_SERVER_TEXT)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Object(_) => "an object",
        Value::Array(_) => "a list",
        _ => "a plain value",
    }
}

fn reason(status: u16) -> String {
    reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("error").to_string()
}

/// reqwest's error chain, without the URL (it names the host, which is fine, but the chain is clearer).
fn transport_cause(e: &reqwest::Error) -> String {
    crate::redact::untrusted(&transport_chain(e), MAX_SERVER_TEXT)
}

fn transport_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

fn number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn rate_headers(h: &HeaderMap) -> RateHeaders {
    RateHeaders {
        limit: header_u64(h, "x-ratelimit-limit").map(|v| v as u32),
        remaining: header_u64(h, "x-ratelimit-remaining").map(|v| v as u32),
        reset: header_u64(h, "x-ratelimit-reset"),
    }
}

/// How long a 429 says to wait: `retry_after` in the body, else `Retry-After`, else until `X-RateLimit-Reset`.
/// `0` means "now"; the caller waits at least [`MIN_THROTTLE_WAIT`] anyway.
fn retry_after(body: &Value, h: &HeaderMap) -> u64 {
    if let Some(s) = body.get("retry_after").and_then(number) {
        return s;
    }
    if let Some(s) = header_u64(h, "retry-after") {
        return s;
    }
    if let Some(reset) = header_u64(h, "x-ratelimit-reset") {
        return super::pacer::seconds_until(reset).max(1);
    }
    1
}

/// A number in [0, 1) from std's randomly keyed hasher: enough to spread retries apart.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}
