//! Where commands send their requests: the real API (URL and key from flags and the environment), or an
//! in-process sandbox seeded from the manifests' folder (`--sandbox`), so a plan can be tried with no account.
//! The only module besides the `sandbox` command that starts the emulator: the engines never link it.

use crate::api::{ApiConfig, ApiKey, Cancel, ClientEvent, EventSink, PacerConfig};
use crate::sandbox::{Sandbox, SandboxConfig, Store};
use crate::vars::Env;
use crate::{Error, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How to reach the API and how hard to use it (shared by every command that talks to SkyLight).
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub api_url: Option<String>,
    /// Serve the manifests' `sandbox.json` in-process and talk to that instead.
    pub sandbox: Option<PathBuf>,
    /// With `sandbox`: the seed was named (`--seed`), so it must exist; a seed found beside the manifests
    /// may be missing (an empty account).
    pub seed_required: bool,
    /// With `sandbox`: load from and save to this state file, so `apply` then `plan` see one account.
    pub sandbox_state: Option<PathBuf>,
    pub rate_limit: u32,
    pub rate_share: f64,
    pub parallelism: usize,
    /// Print retries and throttling to stderr.
    pub verbose: bool,
    /// Per request.
    pub request_timeout: Duration,
    /// [assumed] How long after it was sent a request can still land (`--settle`).
    pub settle: Duration,
    /// The whole run's deadline, from now (`--timeout`).
    pub timeout: Option<Duration>,
    /// The run's stop signal (SIGINT/SIGTERM).
    pub cancel: Cancel,
    /// Where detail bodies are cached (`--cache-dir`, default the user's cache folder); none: no cache.
    /// Never used with an in-process sandbox (a new account every run).
    pub cache_dir: Option<PathBuf>,
    /// `--refresh`: read every detail again (and store it).
    pub cache_refresh: bool,
    /// Say on stderr when an in-process sandbox stands in for the API (the command line; not library
    /// callers), so nobody takes a demo for their account.
    pub notice: bool,
    /// In a run over many accounts, the account this connection is for (named in the notice).
    pub label: Option<String>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            api_url: None,
            sandbox: None,
            sandbox_state: None,
            seed_required: false,
            rate_limit: 120,
            rate_share: 0.8,
            parallelism: 4,
            verbose: false,
            request_timeout: Duration::from_secs(30),
            settle: Duration::from_secs(60),
            timeout: None,
            cancel: Cancel::default(),
            cache_dir: None,
            cache_refresh: false,
            notice: false,
            label: None,
        }
    }
}

/// The user's cache folder for skyform (`~/.cache/skyform` on Linux, `~/Library/Caches/skyform` on macOS),
/// if the platform has one.
pub fn default_cache_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "skyform").map(|d| d.cache_dir().join("details"))
}

/// A configured connection; holds the in-process sandbox alive while the command runs.
pub struct Session {
    pub config: ApiConfig,
    pub events: Option<EventSink>,
    pub sandbox: Option<Sandbox>,
}

/// The folder whose `sandbox.json` seeds `--sandbox`: the first path given, or its folder for a file.
pub fn sandbox_seed(paths: &[PathBuf]) -> PathBuf {
    let first = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
    let dir = if first.is_file() { first.parent().map(Path::to_path_buf).unwrap_or_default() } else { first };
    dir.join("sandbox.json")
}

pub async fn connect(opts: &ConnectOptions, env: Env<'_>) -> Result<Session, Error> {
    if !(0.0..=1.0).contains(&opts.rate_share) || opts.rate_share == 0.0 {
        return Err(Error::new(ErrorKind::Usage, format!("--rate-share {} is not a share", opts.rate_share))
            .with_hint(
                "give a number above 0 and at most 1, e.g. 0.8 to leave a fifth of the budget to other integrations",
            ));
    }
    let events: Option<EventSink> = opts
        .verbose
        .then(|| Arc::new(|e: &ClientEvent| crate::redact::to_stderr(&format!("skyform: {e}\n"))) as EventSink);
    let (mut config, sandbox) = match &opts.sandbox {
        None => (ApiConfig::from_env(opts.api_url.as_deref(), env)?, None),
        Some(seed) => {
            if opts.seed_required && !seed.exists() {
                return Err(Error::new(ErrorKind::Usage, format!("the seed {} does not exist", seed.display()))
                    .with_hint("--seed takes a JSON seed file (the shape of GET /_sandbox/state) or a folder with sandbox.json; leave it out for an empty account"));
            }
            let store = if seed.exists() {
                Store::load(seed).map_err(|e| Error::new(ErrorKind::Input, format!("invalid sandbox seed: {e}")))?
            } else {
                Store::default()
            };
            let config = SandboxConfig {
                addr: "127.0.0.1:0".parse().expect("a literal address"),
                state_file: opts.sandbox_state.clone(),
                ..SandboxConfig::default()
            };
            let from = match (&opts.sandbox_state, seed.exists()) {
                (Some(state), _) if state.exists() => format!("the account saved in {}", state.display()),
                (_, true) => format!("an account seeded from {}", seed.display()),
                (_, false) => "an empty account (no seed file)".to_string(),
            };
            let sandbox = Sandbox::start(config, store).await?;
            if opts.notice {
                let label = opts.label.as_ref().map(|l| format!(" ({l})")).unwrap_or_default();
                crate::redact::to_stderr(&format!(
                    "skyform: sandbox{label}: {from}, in this process: not a real account, nothing leaves this machine\n"
                ));
            }
            (ApiConfig::new(sandbox.url(), ApiKey::new(sandbox.api_key())), Some(sandbox))
        }
    };
    config.pacing = PacerConfig { limit: opts.rate_limit.max(1), share: opts.rate_share, ..PacerConfig::default() };
    config.parallelism = opts.parallelism.max(1);
    config.timeout = opts.request_timeout.max(Duration::from_millis(100));
    config.settle = opts.settle.max(config.timeout);
    config.deadline = opts.timeout.map(|t| std::time::Instant::now() + t);
    config.cancel = opts.cancel.clone();
    if let (Some(dir), None) = (&opts.cache_dir, &sandbox) {
        config.cache = Some(Arc::new(crate::api::cache::DetailCache::new(
            dir,
            &config.base_url,
            &config.key,
            !opts.cache_refresh,
        )));
    }
    Ok(Session { config, events, sandbox })
}

impl From<crate::sandbox::SandboxError> for Error {
    fn from(e: crate::sandbox::SandboxError) -> Self {
        use crate::sandbox::SandboxError as S;
        match &e {
            S::NotLoopback(_) => Error::new(ErrorKind::Refused, e.to_string())
                .with_hint("the sandbox is for tests and demos on this machine; pass --addr 127.0.0.1:PORT"),
            S::Bind { .. } => Error::new(ErrorKind::Io, e.to_string()).with_hint(
                "another process may use that port; pick another with --addr 127.0.0.1:PORT (port 0 picks a free one)",
            ),
            S::State(_) => Error::new(ErrorKind::Input, e.to_string())
                .with_hint("fix the file, or start without it to get an empty account"),
        }
    }
}
