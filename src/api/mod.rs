//! The SkyLight API client: one HTTP client (reqwest + rustls) in layers — auth, pacing, retries,
//! pagination (`transport.rs`, `pacer.rs`) — behind two types:
//!
//! - [`ReadClient`]: lists, gets and lookups. It has no method that sends a POST, PUT or DELETE, so a
//!   `plan` holding one cannot change the account:
//!
//!   ```compile_fail,E0599
//!   # async fn plan(client: skyform::api::ReadClient) {
//!   client.delete::<skyform::resources::agent::Agents>(1).await; // no such method on ReadClient
//!   # }
//!   ```
//!
//! - [`WriteClient`]: everything a ReadClient does (it derefs to one), plus create, update, delete and the
//!   actions. The same call compiles there:
//!
//!   ```no_run
//!   # async fn apply(client: skyform::api::WriteClient) {
//!   client.delete::<skyform::resources::agent::Agents>(1).await.unwrap();
//!   # }
//!   ```
//!
//! The API key is an [`ApiKey`]: it prints as `(redacted)` everywhere.

pub mod cache;
mod error;
pub mod pacer;
mod transport;

pub use error::{ApiError, Failure};
pub use pacer::{PacerConfig, RateHeaders};
pub use transport::{Probe, ProbeAuth};

use crate::resources::lookup::{Account, Channel, ContactList, KnowledgeStatus, Subscription, Tag, WebhookEvent};
use crate::resources::{Resource, Secret};
use crate::{Error, ErrorKind};
pub use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use transport::{Retry, Transport};

/// The public API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://dashboard.skylightchat.com/api/v1";
pub use crate::vars::{API_KEY_VAR as KEY_VAR, API_URL_VAR as URL_VAR};

/// The API key. `Debug` and `Display` never show it; only the request header sees it.
#[derive(Clone)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    /// The key; registered with the scrubber, so no text skyform prints can carry it.
    pub fn new(key: impl Into<String>) -> Self {
        let key = key.into();
        crate::redact::register(key.trim());
        ApiKey(Arc::from(key.trim()))
    }

    fn header(&self) -> reqwest::header::HeaderValue {
        Self::sensitive(&self.0)
    }

    /// A fingerprint of this key with `api_url` (FNV-1a, 64 bits, hex): names things per account (the
    /// detail cache's folder) without the key. Not a security boundary: it only tells accounts apart.
    pub fn fingerprint(&self, api_url: &str) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in api_url.trim_end_matches('/').bytes().chain([0u8]).chain(self.0.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// `Bearer KEY`, for the other documented auth header.
    fn bearer(&self) -> reqwest::header::HeaderValue {
        Self::sensitive(&format!("Bearer {}", self.0))
    }

    fn sensitive(s: &str) -> reqwest::header::HeaderValue {
        let mut v = reqwest::header::HeaderValue::from_str(s)
            .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static("invalid-key"));
        v.set_sensitive(true);
        v
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(redacted)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

/// How to reach the API and how hard to use it.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub base_url: String,
    pub key: ApiKey,
    pub pacing: PacerConfig,
    /// Requests in flight at once.
    pub parallelism: usize,
    /// Per request.
    pub timeout: Duration,
    /// Tries per request, the first included.
    pub max_attempts: u32,
    /// The first backoff step; doubles each retry, with jitter.
    pub retry_base: Duration,
    /// [assumed] How long after it was sent a request can still land: the API finishes or abandons every
    /// request within this. A write whose answer was lost is looked for only after it (seconds; at least
    /// `timeout`).
    pub settle: Duration,
    /// The whole run's deadline (`--timeout`): waits for 429s are capped at it, and nothing is sent after it.
    pub deadline: Option<std::time::Instant>,
    /// Set on SIGINT/SIGTERM: waits end, nothing new is sent.
    pub cancel: Cancel,
    /// Where detail bodies are cached (`--cache-dir`); none: every detail is read.
    pub cache: Option<Arc<cache::DetailCache>>,
}

/// A run's stop signal: set once (SIGINT, SIGTERM, a lease that could not be renewed). Requests not yet
/// sent are not sent; waits end early.
#[derive(Clone, Default)]
pub struct Cancel(Arc<CancelState>);

#[derive(Default)]
struct CancelState {
    set: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
    reason: std::sync::Mutex<Option<String>>,
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cancel({})", self.is_cancelled())
    }
}

impl Cancel {
    /// Stops the run, saying why (the first reason given is kept).
    pub fn cancel(&self, reason: impl Into<String>) {
        let mut r = self.0.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some(reason.into());
        }
        self.0.set.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.set.load(Ordering::SeqCst)
    }

    pub fn reason(&self) -> Option<String> {
        self.0.reason.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Completes once cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }

    /// Sleeps for `d`, or less when cancelled; true when the sleep ran its course.
    pub async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => !self.is_cancelled(),
            _ = self.cancelled() => false,
        }
    }
}

impl ApiConfig {
    pub fn new(base_url: impl Into<String>, key: ApiKey) -> Self {
        ApiConfig {
            base_url: base_url.into(),
            key,
            pacing: PacerConfig::default(),
            parallelism: 4,
            timeout: Duration::from_secs(30),
            max_attempts: 5,
            retry_base: Duration::from_millis(250),
            settle: Duration::from_secs(60),
            deadline: None,
            cancel: Cancel::default(),
            cache: None,
        }
    }

    /// The base URL from `--api-url`, else `SKYLIGHT_API_URL`, else the public one; the key from
    /// `SKYLIGHT_API_KEY` (never a flag: flags land in shell history and CI logs).
    pub fn from_env(api_url: Option<&str>, env: crate::vars::Env) -> Result<Self, Error> {
        let base = api_url.map(str::to_string).or_else(|| env(URL_VAR)).unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        check_base_url(&base)?;
        let key = env(KEY_VAR).filter(|k| !k.trim().is_empty()).ok_or_else(|| {
            Error::new(ErrorKind::Usage, format!("{KEY_VAR} is not set: skyform needs the account's API key"))
                .with_hint(format!(
                    "export {KEY_VAR}=... (from the SkyLight dashboard), or try it on the sandbox with --sandbox"
                ))
        })?;
        Ok(ApiConfig::new(base, ApiKey::new(key)))
    }
}

/// `https://` anywhere; plain `http://` only to this machine; never credentials in the URL (the key is sent
/// in a header, and reqwest would send them as Basic auth). Errors show the URL without credentials.
pub fn check_base_url(base: &str) -> Result<(), Error> {
    let shown = crate::redact::url_for_display(base);
    let url = reqwest::Url::parse(base).map_err(|e| {
        Error::new(ErrorKind::Usage, format!("the API URL {shown} is not a URL ({e})"))
            .with_hint(format!("the API URL looks like {DEFAULT_BASE_URL}"))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        if let Some(p) = url.password() {
            crate::redact::register(p);
        }
        return Err(Error::new(
            ErrorKind::Usage,
            format!("the API URL {shown} has credentials in it (user:…@); skyform does not send them"),
        )
        .with_hint("remove them: the key comes from SKYLIGHT_API_KEY and travels in the X-Api-Key header"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(Error::new(
            ErrorKind::Refused,
            format!(
                "refusing plain http:// to {}: the API key would travel unencrypted",
                url.host_str().unwrap_or("?")
            ),
        )
        .with_hint("use https://, or http:// only to 127.0.0.1/localhost (the sandbox)")),
        other => Err(Error::new(ErrorKind::Usage, format!("unsupported URL scheme `{other}` in {shown}"))
            .with_hint("use https://")),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Something the client did that a person may want to see at `-v`. Never contains the key.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    Retry {
        method: String,
        path: String,
        attempt: u32,
        cause: String,
        wait: Duration,
    },
    Throttled {
        method: String,
        path: String,
        wait: Duration,
    },
    /// A create failed ambiguously; the kind is re-read to look for the object once it can no longer land.
    CheckingCreate {
        path: String,
        key: String,
        cause: String,
        wait: Duration,
    },
    /// A list changed while it was read (not one snapshot): it is read again.
    ListMoved {
        path: String,
        why: String,
    },
    /// ... and it had been created: adopted instead of created again.
    Adopted {
        path: String,
        key: String,
        id: u64,
    },
}

impl fmt::Display for ClientEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientEvent::Retry { method, path, attempt, cause, wait } => {
                write!(
                    f,
                    "retry: {method} {path} attempt {attempt} failed ({cause}); next try in {} ms",
                    wait.as_millis()
                )
            }
            ClientEvent::Throttled { method, path, wait } => {
                write!(f, "rate limited: {method} {path}: waiting {} s as the API asked", wait.as_secs())
            }
            ClientEvent::CheckingCreate { path, key, cause, wait } => write!(
                f,
                "create of `{key}` at {path} failed ambiguously ({cause}); looking for it in {:.1} s, once it can no longer land",
                wait.as_secs_f64()
            ),
            ClientEvent::ListMoved { path, why } => {
                write!(f, "the list {path} changed while it was read ({why}); reading it again")
            }
            ClientEvent::Adopted { path, key, id } => {
                write!(f, "`{key}` had been created at {path} (id {id}); adopting it")
            }
        }
    }
}

pub type EventSink = Arc<dyn Fn(&ClientEvent) + Send + Sync>;

/// Counters for summaries and tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// HTTP requests sent (every try counts).
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    /// 429 answers met.
    pub throttled: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
}

/// A read-only client: the type `plan` gets. It cannot send a mutating request.
#[derive(Clone)]
pub struct ReadClient {
    t: Arc<Transport>,
    /// With [`ReadClient::remembering`]: every list and single GET answered once, by path, so several plans
    /// (`plan --base`: the base's and the head's) see one read of the account.
    memo: Option<Arc<Mutex<HashMap<String, Value>>>>,
    cache: Option<Arc<cache::DetailCache>>,
}

impl fmt::Debug for ReadClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadClient").field("base", &self.t.base).field("key", &self.t.key).finish()
    }
}

fn parse<T: DeserializeOwned>(method: &str, path: &str, v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v)
        .map_err(|e| ApiError::decode(method, path, format!("not the shape the contract gives: {e}")))
}

impl ReadClient {
    pub fn new(config: ApiConfig) -> Result<Self, Error> {
        Self::with_events(config, None)
    }

    /// With a sink for retries, throttling and adoptions (shown at `-v`).
    pub fn with_events(config: ApiConfig, events: Option<EventSink>) -> Result<Self, Error> {
        check_base_url(&config.base_url)?;
        // A JSON API never redirects: a 3xx is an error naming its target, never followed with the key
        // (reqwest strips `Authorization` across hosts, but not `X-Api-Key`).
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("skyform/", env!("CARGO_PKG_VERSION")));
        if config.base_url.starts_with("http://") {
            // Plain http is allowed only to this machine, and never through a proxy: HTTP_PROXY or
            // ALL_PROXY would carry the key in clear to another host. HTTPS_PROXY for https is fine: the
            // key stays inside TLS.
            builder = builder.no_proxy();
        }
        let http =
            builder.build().map_err(|e| Error::new(ErrorKind::Io, format!("cannot build the HTTP client: {e}")))?;
        let t = Transport {
            http,
            base: config.base_url.trim_end_matches('/').to_string(),
            key: config.key,
            pacer: pacer::Pacer::new(config.pacing),
            permits: tokio::sync::Semaphore::new(config.parallelism.max(1)),
            parallelism: config.parallelism.max(1),
            max_attempts: config.max_attempts.max(1),
            retry_base: config.retry_base,
            settle: config.settle.max(config.timeout),
            request_timeout: config.timeout,
            deadline: config.deadline,
            cancel: config.cancel,
            stats: Stats::default(),
            events,
        };
        Ok(ReadClient { t: Arc::new(t), memo: None, cache: config.cache })
    }

    /// This client, remembering what it reads: the same list or object asked twice is read once. For
    /// plans over one snapshot of the account; not for reads that must see a change (verification).
    pub fn remembering(&self) -> ReadClient {
        ReadClient { t: self.t.clone(), memo: Some(self.memo.clone().unwrap_or_default()), cache: self.cache.clone() }
    }

    fn recall(&self, path: &str) -> Option<Value> {
        self.memo.as_ref()?.lock().unwrap_or_else(|p| p.into_inner()).get(path).cloned()
    }

    fn remember(&self, path: &str, v: &Value) {
        if let Some(m) = &self.memo {
            m.lock().unwrap_or_else(|p| p.into_inner()).insert(path.to_string(), v.clone());
        }
    }

    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.t.stats;
        StatsSnapshot {
            requests: s.requests.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            throttled: s.throttled.load(Ordering::Relaxed),
        }
    }

    /// The run's stop signal.
    pub fn cancel(&self) -> Cancel {
        self.t.cancel.clone()
    }

    /// The per-request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.t.request_timeout
    }

    /// How long after it was sent a request can still land ([assumed], `--settle`).
    pub fn settle(&self) -> Duration {
        self.t.settle
    }

    /// Requests this client keeps in flight at once.
    pub fn parallelism(&self) -> usize {
        self.t.parallelism
    }

    /// Requests per window this client allows itself (share × limit, as last learned).
    pub fn budget(&self) -> u32 {
        self.t.pacer.budget()
    }

    async fn get_value(&self, path: &str) -> Result<Value, ApiError> {
        if let Some(v) = self.recall(path) {
            return Ok(v);
        }
        let v = self.t.call(Method::GET, path, &[], None, Retry::Idempotent).await?.data;
        self.remember(path, &v);
        Ok(v)
    }

    async fn list_of<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ApiError> {
        self.list_values(path).await?.into_iter().map(|v| parse("GET", path, v)).collect()
    }

    /// Every item of a list. Page 1 says how many pages there are (`meta`; none: it was the whole list);
    /// the others are read concurrently, within the pacer. A list that changed while it was read (its
    /// `total` or page count moved, an item was seen twice, items are missing) is not one snapshot: a
    /// create or a prune planned from it could duplicate or delete what exists. It is read again, up to
    /// three times, then refused.
    pub async fn list_values(&self, path: &str) -> Result<Vec<Value>, ApiError> {
        if let Some(Value::Array(items)) = self.recall(path) {
            return Ok(items);
        }
        let mut why = String::new();
        for _ in 0..3 {
            match self.read_pages(path).await? {
                Ok(items) => {
                    self.remember(path, &Value::Array(items.clone()));
                    return Ok(items);
                }
                Err(moved) => {
                    if let Some(sink) = &self.t.events {
                        sink(&ClientEvent::ListMoved { path: path.to_string(), why: moved.clone() });
                    }
                    why = moved;
                }
            }
        }
        Err(ApiError::other(
            "GET",
            path,
            Failure::Moving,
            format!(
                "the list changed while it was read, three times in a row ({why}); skyform plans only from one snapshot of the account"
            ),
        ))
    }

    /// All pages once; `Err(why)` when they are not one snapshot.
    async fn read_pages(&self, path: &str) -> Result<Result<Vec<Value>, String>, ApiError> {
        let (mut items, meta) = self.t.page(path, 1).await?;
        let Some(first) = meta else { return Ok(Ok(items)) };
        if first.last > 100_000 {
            return Err(ApiError::decode("GET", path, format!("the list claims {} pages", first.last)));
        }
        let mut tasks = tokio::task::JoinSet::new();
        for n in 2..=first.last {
            let (client, path) = (self.clone(), path.to_string());
            tasks.spawn(async move { (n, client.t.page(&path, n).await) });
        }
        let mut pages: Vec<(u64, Vec<Value>, Option<transport::Meta>)> = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (n, got) = joined.expect("a page read does not panic");
            let (page_items, page_meta) = got?;
            pages.push((n, page_items, page_meta));
        }
        pages.sort_by_key(|(n, _, _)| *n);
        for (n, page_items, page_meta) in pages {
            match page_meta {
                Some(m) if m.total == first.total && m.last == first.last => items.extend(page_items),
                Some(m) => {
                    return Ok(Err(format!(
                        "page {n} says {} items on {} pages, page 1 said {} on {}",
                        m.total.map_or("?".into(), |t| t.to_string()),
                        m.last,
                        first.total.map_or("?".into(), |t| t.to_string()),
                        first.last
                    )))
                }
                None => return Ok(Err(format!("page {n} came without `meta`"))),
            }
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = items.iter().filter_map(|v| v.get("id")?.as_u64()).find(|id| !seen.insert(*id)) {
            return Ok(Err(format!("item {dup} was listed twice")));
        }
        if let Some(total) = first.total.filter(|t| *t != items.len() as u64) {
            return Ok(Err(format!("{} items were listed, `total` says {total}", items.len())));
        }
        // Without a `total` a delete on page 1 is invisible from the later pages: page 1 read again must
        // list the same ids (one request more, only for servers that leave `total` out).
        if first.total.is_none() {
            let ids = |v: &[Value]| v.iter().map(|i| i.get("id").cloned()).collect::<Vec<_>>();
            let (again, _) = self.t.page(path, 1).await?;
            if ids(&again) != ids(&items[..again.len().min(items.len())]) {
                return Ok(Err("page 1 changed while the other pages were read".into()));
            }
        }
        Ok(Ok(items))
    }

    /// Every object of a kind (all pages), the ones that are not configuration left out
    /// ([`Resource::hidden`]: the lease's lock tags); a singleton's one object.
    pub async fn list<R: Resource>(&self) -> Result<Vec<R::Live>, ApiError> {
        if R::SINGLETON {
            return Ok(vec![parse("GET", R::PATH, self.get_value(R::PATH).await?)?]);
        }
        Ok(self.list_of::<R::Live>(R::PATH).await?.into_iter().filter(|l| !R::hidden(l)).collect())
    }

    /// One object, with the fields only the single GET has (knowledge bodies, campaign messages).
    pub async fn get<R: Resource>(&self, id: u64) -> Result<R::Live, ApiError> {
        // A singleton is its path: there is one, and no id.
        let path = if R::SINGLETON { R::PATH.to_string() } else { format!("{}/{id}", R::PATH) };
        parse("GET", &path, self.get_value(&path).await?)
    }

    /// The single GET of a listed object, from the detail cache when the list item's validator matches
    /// the stored one (see [`cache`]); what is read is stored for the next run.
    pub async fn detail<R: Resource>(&self, listed: &R::Live) -> Result<R::Live, ApiError> {
        let id = R::live_id(listed);
        let (Some(cache), Some(validator)) = (&self.cache, R::validator(listed)) else {
            return self.get::<R>(id).await;
        };
        if let Some(body) = cache.get(R::PATH, id, &validator).await {
            if let Ok(live) = serde_json::from_value::<R::Live>(body) {
                return Ok(live);
            }
        }
        let path = format!("{}/{id}", R::PATH);
        let raw = self.get_value(&path).await?;
        let live: R::Live = parse("GET", &path, raw.clone())?;
        // Stored under the validator the body itself carries: an edit between the list and this read
        // moved it, and the next list shows the new one.
        if let Some(own) = R::validator(&live) {
            cache.put(R::PATH, id, &own, &raw).await;
        }
        Ok(live)
    }

    /// Writes what the detail cache learned this run (see [`cache::DetailCache::flush`]).
    pub async fn flush_cache(&self) {
        if let Some(cache) = &self.cache {
            cache.flush().await;
        }
    }

    /// Stores a write's answer (the object as it now is) in the detail cache, so the plan after an apply
    /// is warm. Answers that do not parse, or carry no validator, are skipped.
    pub async fn remember_answer<R: Resource>(&self, answer: &Value) {
        let Some(cache) = &self.cache else { return };
        let Ok(live) = <R::Live as serde::Deserialize>::deserialize(answer) else { return };
        if let Some(validator) = R::validator(&live) {
            cache.put(R::PATH, R::live_id(&live), &validator, answer).await;
        }
    }

    pub async fn knowledge_status(&self, id: u64) -> Result<KnowledgeStatus, ApiError> {
        let path = format!("/knowledge-base/{id}/status");
        parse("GET", &path, self.get_value(&path).await?)
    }

    pub async fn channels(&self) -> Result<Vec<Channel>, ApiError> {
        self.list_of("/account/channels").await
    }

    pub async fn contact_lists(&self) -> Result<Vec<ContactList>, ApiError> {
        self.list_of("/contacts/lists").await
    }

    pub async fn segments(&self) -> Result<Vec<ContactList>, ApiError> {
        self.list_of("/contacts/segments").await
    }

    /// Every contact tag (`GET /tags`, [doc] unpaginated).
    pub async fn tags(&self) -> Result<Vec<Tag>, ApiError> {
        self.list_of("/tags").await
    }

    /// One GET as it comes (status, rate-limit headers, the whole body), for `doctor`'s probes of the
    /// contract's assumptions. Paced, never retried.
    pub async fn probe(&self, path: &str, query: &[(&str, String)], auth: ProbeAuth) -> Result<Probe, ApiError> {
        self.t.probe(path, query, auth).await
    }

    pub async fn webhook_events(&self) -> Result<Vec<WebhookEvent>, ApiError> {
        self.list_of("/webhooks/events").await
    }

    /// The dialect codes of `GET /voice/dialects` ([assumed] `{code, name}` items; a bare string or an `id`
    /// is read too). An account without the endpoint (404) offers none that can be checked: empty.
    pub async fn voice_dialects(&self) -> Result<Vec<String>, ApiError> {
        let items = match self.list_values("/voice/dialects").await {
            Ok(items) => items,
            Err(e) if e.status() == Some(404) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                _ => v.get("code").or_else(|| v.get("id")).and_then(Value::as_str).map(str::to_string),
            })
            .collect())
    }

    pub async fn account(&self) -> Result<Account, ApiError> {
        parse("GET", "/account", self.get_value("/account").await?)
    }

    pub async fn subscription(&self) -> Result<Subscription, ApiError> {
        parse("GET", "/account/subscription", self.get_value("/account/subscription").await?)
    }
}

/// What a create returned.
#[derive(Debug, Clone)]
pub struct Created<L> {
    pub live: L,
    /// Webhooks: the signing secret, shown by the API only now.
    pub secret: Option<Secret>,
    /// The create's answer was lost, and the object was found and adopted instead of created again.
    pub adopted: bool,
    /// The create's answer as it came (the secret taken out); null when the object was adopted from a list.
    pub answer: Value,
}

/// A client that can change the account: the type `apply` gets.
#[derive(Clone, Debug)]
pub struct WriteClient {
    read: ReadClient,
}

impl std::ops::Deref for WriteClient {
    type Target = ReadClient;
    fn deref(&self) -> &ReadClient {
        &self.read
    }
}

fn take_secret(data: &mut Value) -> Option<Secret> {
    match data.as_object_mut()?.remove("secret")? {
        Value::String(s) => Some(Secret::new(s)),
        _ => None,
    }
}

impl WriteClient {
    pub fn new(config: ApiConfig) -> Result<Self, Error> {
        Ok(WriteClient { read: ReadClient::new(config)? })
    }

    pub fn with_events(config: ApiConfig, events: Option<EventSink>) -> Result<Self, Error> {
        Ok(WriteClient { read: ReadClient::with_events(config, events)? })
    }

    fn t(&self) -> &Transport {
        &self.read.t
    }

    fn emit(&self, e: ClientEvent) {
        if let Some(sink) = &self.t().events {
            sink(&e);
        }
    }

    /// Creates an object whose natural key is `key`. A POST that failed ambiguously (timeout, dropped
    /// connection, 5xx) is never repeated blindly: once it can no longer land (`settle` after it was sent),
    /// the kind is re-read, and an object with that key is adopted as the result (the plan guarantees none
    /// existed before). Only when it is absent is the POST sent again. When the run cannot wait that long
    /// (its deadline, an interrupt), the outcome is unknown: reported, never sent again.
    pub async fn create<R: Resource>(&self, key: &str, body: &impl Serialize) -> Result<Created<R::Live>, ApiError> {
        let body = serde_json::to_value(body).map_err(|e| ApiError::decode("POST", R::PATH, e.to_string()))?;
        let max = self.t().max_attempts;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = std::time::Instant::now();
            let err = match self.t().call(Method::POST, R::PATH, &[], Some(&body), Retry::Never).await {
                Ok(answer) => {
                    let mut data = answer.data;
                    let secret = take_secret(&mut data);
                    return Ok(Created {
                        live: parse("POST", R::PATH, data.clone())?,
                        secret,
                        adopted: false,
                        answer: data,
                    });
                }
                Err(e) if e.is_ambiguous() => e,
                Err(e) => return Err(e),
            };
            // The request may still land: look only once it no longer can.
            let wait = (sent + self.t().settle).saturating_duration_since(std::time::Instant::now());
            self.emit(ClientEvent::CheckingCreate {
                path: R::PATH.into(),
                key: key.into(),
                cause: err.to_string(),
                wait,
            });
            let unknown = |why: &str| {
                ApiError::other(
                    "POST",
                    R::PATH,
                    Failure::OutcomeUnknown,
                    format!(
                        "the create of `{key}` failed ambiguously ({}) and may still land; {why}, so it was not looked for or sent again: the next run finds it or creates it",
                        err.message
                    ),
                )
            };
            if wait > self.t().time_left() {
                return Err(unknown("the run's deadline (--timeout) comes first"));
            }
            if !self.t().cancel.sleep(wait).await {
                return Err(unknown("the run was interrupted"));
            }
            let want = R::match_key(key);
            let found: Vec<R::Live> =
                self.list::<R>().await?.into_iter().filter(|l| R::match_key(&R::live_key(l)) == want).collect();
            match found.len() {
                0 if attempt < max => continue,
                0 => return Err(err),
                1 => {
                    let live = found.into_iter().next().expect("one was found");
                    let id = R::live_id(&live);
                    self.emit(ClientEvent::Adopted { path: R::PATH.into(), key: key.into(), id });
                    // The secret was in the lost answer: rotate to get one we can hand over.
                    let secret = match R::SECRET_ACTION {
                        Some(action) => {
                            let path = format!("{}/{id}/{action}", R::PATH);
                            let mut data = self.send(Method::POST, &path, None).await?;
                            Some(
                                take_secret(&mut data)
                                    .ok_or_else(|| ApiError::decode("POST", &path, "no `secret` in the answer"))?,
                            )
                        }
                        None => None,
                    };
                    return Ok(Created { live, secret, adopted: true, answer: Value::Null });
                }
                n => {
                    let mut e = err;
                    e.message = format!(
                        "{}; afterwards {n} objects with the key `{key}` exist, so skyform cannot tell which it created: pin one with `id:`",
                        e.message
                    );
                    return Err(e);
                }
            }
        }
    }

    /// PUT with every managed field.
    pub async fn update<R: Resource>(&self, id: u64, body: &impl Serialize) -> Result<R::Live, ApiError> {
        let path = format!("{}/{id}", R::PATH);
        let body = serde_json::to_value(body).map_err(|e| ApiError::decode("PUT", &path, e.to_string()))?;
        parse("PUT", &path, self.send(Method::PUT, &path, Some(&body)).await?)
    }

    /// DELETE; a 404 after a retry means an earlier try did it.
    pub async fn delete<R: Resource>(&self, id: u64) -> Result<(), ApiError> {
        self.send(Method::DELETE, &format!("{}/{id}", R::PATH), None).await.map(|_| ())
    }

    /// Sends one request of a plan (an update, a delete, an action) and returns the answer's `data`.
    /// GET, PUT, DELETE and actions are retried on transient failures: repeating them is harmless (an
    /// action whose repetition is refused is recognised by the caller, which knows the kind). A DELETE
    /// answered 404 after a retry is done: the earlier try did it.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ApiError> {
        Ok(self.t().call(method, path, &[], body, Retry::Idempotent).await?.data)
    }

    /// [`WriteClient::send`], even after the run was interrupted or passed its deadline: for giving the lease
    /// back and keeping it renewed, which must happen however the run ends.
    pub async fn send_always(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ApiError> {
        Ok(self.t().call_with(method, path, &[], body, Retry::Idempotent, false).await?.data)
    }

    /// A secret in an answer (`regenerate-secret`), taken out of it so it is held only as a [`Secret`].
    pub fn take_secret(data: &mut Value) -> Option<Secret> {
        take_secret(data)
    }
}
