//! The SkyLight API emulator: the contract of `docs/skylight-api.md`, served on loopback from in-memory state.
//!
//! It is a second implementation of the contract, written apart from the client, so the two cannot agree
//! on the same mistake; `schemas/skylight-api.openapi.yaml` describes what it serves and a test holds it to
//! that. Tests start it in-process on port 0 with [`Sandbox::start`]; people start it with `skyform sandbox`.
//!
//! Layout: one file per resource kind (its stored type, its routes, its [assumed] rules), plus
//! `gate` (logging, faults, auth, rate limit: everything a request passes before a handler),
//! `faults`, `control` (the `/_sandbox` endpoints), `http` (envelope, validation, pagination), `store`.

pub mod account;
pub mod agents;
pub mod campaigns;
pub mod clock;
pub mod contact_lists;
mod control;
pub mod faults;
mod gate;
pub mod http;
pub mod knowledge_base;
pub mod store;
pub mod tags;
pub mod team;
pub mod voice;
pub mod webhooks;

pub use faults::FaultRule;
pub use gate::LoggedRequest;

/// The sandbox's registry of kinds: each line names a kind's field in the account (and in seed files) and
/// its file's stored record type. It generates the [`Store`], the routes, seed normalisation and the
/// per-request hook. Adding a kind here: its file, and one line. Singletons (one object per account) are
/// listed apart: a field holding the one object, and its routes.
macro_rules! sandbox_kinds {
    (kinds { $($field:ident: $module:ident::$Record:ident;)* } singletons { $($one:ident: $omodule:ident::$One:ident;)* }) => {
        /// The whole account. Seed files and `--state` files are this, as JSON; every field may be left out.
        #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Store {
            $(pub $one: $omodule::$One,)*
            pub subscription: account::Subscription,
            pub channels: Vec<account::Channel>,
            $(pub $field: Vec<$module::$Record>,)*
            /// The next id per kind; ids are never reused, as with an auto-increment column.
            pub next_ids: std::collections::BTreeMap<String, u64>,
        }

        impl Store {
            fn normalize_kinds(&mut self, now: clock::Timestamp) -> Result<(), String> {
                $(store::normalize_kind(&mut self.$field, &mut self.next_ids, now)?;)*
                Ok(())
            }

            /// Every kind's per-request hook ([`store::Record::before_request`]).
            pub(crate) fn before_request(&mut self, now: clock::Timestamp) {
                $(<$module::$Record as store::Record>::before_request(&mut self.$field, now);)*
            }
        }

        fn kind_routes() -> Router<App> {
            Router::new()
                $(.merge(<$module::$Record as store::Record>::routes()))*
                $(.merge(<$omodule::$One as store::Singleton>::routes()))*
        }
    };
}

sandbox_kinds! {
    kinds {
    tags: tags::Tag;
    lists: contact_lists::ContactList;
    segments: contact_lists::Segment;
    agents: agents::Agent;
    knowledge_base: knowledge_base::KnowledgeEntry;
    webhooks: webhooks::Webhook;
    team: team::TeamMember;
    campaigns: campaigns::Campaign;
    }
    singletons {
        account: account::Account;
        voice: voice::Voice;
    }
}

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// Every path the API serves starts with this.
pub const API_PREFIX: &str = "/api/v1";

/// How the sandbox behaves. `Default` is the documented API on 127.0.0.1:8787.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    pub addr: SocketAddr,
    pub api_key: String,
    /// Requests per rolling window per key ([doc] 120).
    pub rate_limit: u32,
    /// The rolling window the limit counts in ([doc] a minute). Tests of pacing scale it down, with the
    /// client's `PacerConfig::window` alike, so a 300-request burst takes seconds, not minutes.
    pub rate_window: std::time::Duration,
    /// Added to every API request.
    pub latency_ms: u64,
    /// How long a website entry stays `processing` after its URL is written.
    pub crawl_delay_ms: u64,
    /// Where state is loaded from (if the file exists) and saved after every change.
    pub state_file: Option<PathBuf>,
    pub quirks: Quirks,
}

/// Behaviours the contract allows but the default sandbox does not show, to test a client's tolerance.
#[derive(Clone, Debug)]
pub struct Quirks {
    /// The server's cap on `per_page` (the contract's maximum is 100; a server may cap lower).
    pub max_per_page: usize,
    /// Timestamps written with this UTC offset (`+03:00`) instead of `Z`.
    pub utc_offset_minutes: i32,
    /// Adds fields the contract does not name to every object and envelope.
    pub extra_fields: bool,
    /// Serves `GET /webhooks` paginated (older docs), instead of the whole list (newer docs).
    pub webhooks_paginated: bool,
    /// Laravel's default middleware: every string of a request body trimmed (`TrimStrings`, passwords
    /// excepted) and `""` turned into null (`ConvertEmptyStringsToNull`), before validation.
    pub trim_strings: bool,
    /// Events this account's catalogue has beyond the assumed 30 (the real catalogue is not published).
    pub extra_events: Vec<String>,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            max_per_page: 100,
            utc_offset_minutes: 0,
            extra_fields: false,
            webhooks_paginated: false,
            trim_strings: false,
            extra_events: Vec::new(),
        }
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8787)),
            api_key: "sandbox-key".into(),
            rate_limit: 120,
            rate_window: std::time::Duration::from_secs(60),
            latency_ms: 0,
            crawl_delay_ms: 1500,
            state_file: None,
            quirks: Quirks::default(),
        }
    }
}

/// What every handler shares.
pub struct Shared {
    pub config: SandboxConfig,
    store: Mutex<Store>,
    faults: Mutex<faults::Faults>,
    log: Mutex<Vec<LoggedRequest>>,
    limiter: Mutex<gate::RateLimiter>,
    started: Instant,
}

pub type App = Arc<Shared>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A handler that panicked must not take the whole sandbox down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// How objects are rendered for this server.
    pub fn view(&self) -> View {
        View { offset_minutes: self.config.quirks.utc_offset_minutes }
    }

    pub fn max_per_page(&self) -> usize {
        self.config.quirks.max_per_page.clamp(1, 100)
    }
}

/// Rendering settings for objects (timestamp offset).
#[derive(Clone, Copy)]
pub struct View {
    pub offset_minutes: i32,
}

impl View {
    pub fn ts(&self, t: clock::Timestamp) -> serde_json::Value {
        serde_json::Value::String(t.render(self.offset_minutes))
    }

    pub fn opt_ts(&self, t: Option<clock::Timestamp>) -> serde_json::Value {
        t.map_or(serde_json::Value::Null, |t| self.ts(t))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("refusing to bind {0}: the sandbox serves loopback only (use 127.0.0.1 or [::1])")]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    State(String),
}

/// Asks the connection task to drop its connection without answering (the ambiguous-write fault).
#[derive(Clone)]
pub(crate) struct ConnKill(Arc<Notify>);

/// A running sandbox. Dropping it (or [`Sandbox::stop`]) stops the server.
pub struct Sandbox {
    addr: SocketAddr,
    shared: App,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds (port 0 picks a free port) and serves in the background; returns once it accepts connections.
    /// With `config.state_file` set and present, that file's state replaces `store`.
    pub async fn start(config: SandboxConfig, mut store: Store) -> Result<Sandbox, SandboxError> {
        if !config.addr.ip().is_loopback() {
            return Err(SandboxError::NotLoopback(config.addr));
        }
        if let Some(path) = config.state_file.as_ref().filter(|p| p.exists()) {
            store = Store::load(path).map_err(SandboxError::State)?;
        } else {
            store.normalize(clock::Timestamp::SEED_TIME).map_err(SandboxError::State)?;
        }
        let listener =
            TcpListener::bind(config.addr).await.map_err(|source| SandboxError::Bind { addr: config.addr, source })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind { addr: config.addr, source })?;
        let shared = Arc::new(Shared {
            limiter: Mutex::new(gate::RateLimiter::new(config.rate_limit, config.rate_window)),
            config,
            store: Mutex::new(store),
            faults: Mutex::new(faults::Faults::default()),
            log: Mutex::new(Vec::new()),
            started: Instant::now(),
        });
        if let Some(path) = &shared.config.state_file {
            shared
                .store()
                .save(path)
                .map_err(|e| SandboxError::State(format!("cannot write {}: {e}", path.display())))?;
        }
        let router = router(shared.clone());
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(serve(listener, router, rx));
        Ok(Sandbox { addr, shared, shutdown: Some(tx), task: Some(task) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, `http://127.0.0.1:PORT/api/v1`.
    pub fn url(&self) -> String {
        format!("http://{}{API_PREFIX}", self.addr)
    }

    /// The server root, where `/_sandbox` control endpoints live.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn api_key(&self) -> &str {
        &self.shared.config.api_key
    }

    /// Every API request received so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    pub fn add_fault(&self, rule: FaultRule) -> Result<(), String> {
        lock(&self.shared.faults).add(rule)
    }

    pub fn set_latency(&self, ms: u64) {
        lock(&self.shared.faults).latency_ms = ms;
    }

    /// Clears every fault rule and added latency.
    pub fn reset_faults(&self) {
        *lock(&self.shared.faults) = faults::Faults::default();
    }

    /// Reads or changes the account directly, bypassing the API (and its log and rate limit).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut self.shared.store())
    }

    /// Stops accepting, closes connections and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Serves until `signal` completes (Ctrl-C for the command line), then stops.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        self.stop().await;
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Every route: the API (behind the gate) and the control endpoints (outside it).
fn router(app: App) -> Router {
    let api = kind_routes()
        .fallback(gate::route_not_found)
        .method_not_allowed_fallback(gate::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(app.clone(), gate::front_door));
    api.merge(control::routes()).with_state(app)
}

/// The accept loop. Hand-rolled rather than `axum::serve` because the drop fault needs to close one
/// connection from inside a request, after the handler ran and before any byte of the answer is sent.
async fn serve(listener: TcpListener, router: Router, mut shutdown: oneshot::Receiver<()>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let kill = ConnKill(Arc::new(Notify::new()));
        let router = router.clone();
        let conn_kill = kill.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(conn_kill.clone());
            router.clone().oneshot(req.map(Body::new))
        });
        connections.spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = kill.0.notified() => {} // dropping `conn` closes the socket unanswered
            }
        });
        // Reap finished connections so a long-running sandbox does not accumulate handles.
        while connections.try_join_next().is_some() {}
    }
    connections.abort_all();
}
