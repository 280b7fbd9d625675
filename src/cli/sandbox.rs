//! `skyform sandbox`: serve the emulator until interrupted.

use skyform::sandbox::{FaultRule, Quirks, Sandbox, SandboxConfig, Store};
use skyform::{Error, ErrorKind, Result};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on; loopback only. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8787", value_parser = parse_addr)]
    addr: SocketAddr,
    /// The API key clients must send (X-Api-Key or Authorization: Bearer).
    #[arg(long, default_value = "sandbox-key")]
    api_key: String,
    /// Load the account from this JSON seed file, or a folder's sandbox.json (every kind, lookups).
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Load state from this file if it exists (instead of --seed) and save every change to it.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Requests per rolling minute per API key.
    #[arg(long, default_value_t = 120)]
    rate_limit: u32,
    /// The window the rate limit counts in, seconds (documented: 60).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    rate_window: u64,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// How long a website knowledge entry stays `processing`, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    crawl_delay_ms: u64,
    /// Cap `per_page` below the contract's 100, as a stricter server might.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=100))]
    page_cap: u16,
    /// Write timestamps with this UTC offset, e.g. +03:00, instead of Z.
    #[arg(long, value_parser = parse_offset, allow_hyphen_values = true)]
    utc_offset: Option<i32>,
    /// Add fields the contract does not name to every response.
    #[arg(long)]
    extra_fields: bool,
    /// Serve GET /webhooks paginated, as the older docs describe.
    #[arg(long)]
    paginate_webhooks: bool,
    /// Trim every string of a request body and store "" as null, as Laravel's default middleware does.
    #[arg(long)]
    trim_strings: bool,
    /// An event the account's catalogue has beyond the assumed 30, e.g. contact.tagged (repeatable).
    #[arg(long, value_name = "EVENT")]
    extra_event: Vec<String>,
    /// A fault rule as JSON, e.g. '{"method":"POST","path":"/api/v1/webhooks","drop":true}' (repeatable).
    #[arg(long, value_name = "JSON")]
    fault: Vec<String>,
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    let s = s.strip_prefix("localhost:").map_or_else(|| s.to_string(), |port| format!("127.0.0.1:{port}"));
    s.parse().map_err(|_| format!("`{s}` is not an address like 127.0.0.1:8787"))
}

fn parse_offset(s: &str) -> Result<i32, String> {
    let bad = || format!("`{s}` is not an offset like +03:00 or -05:30");
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok(sign * (h * 60 + m))
}

pub fn run(args: Args) -> Result<i32> {
    let seed = args.seed.as_ref().map(|p| if p.is_dir() { p.join("sandbox.json") } else { p.clone() });
    let store = match &seed {
        Some(path) => Store::load(path).map_err(|e| {
            Error::new(ErrorKind::Input, format!("invalid seed: {e}"))
                .with_hint("a seed is the JSON shape of `GET /_sandbox/state`; every field may be left out")
        })?,
        None => Store::default(),
    };
    let mut faults = Vec::new();
    for raw in &args.fault {
        let rule: FaultRule = serde_json::from_str(raw).map_err(|e| {
            Error::new(ErrorKind::Usage, format!("invalid --fault `{raw}`: {e}"))
                .with_hint(r#"a rule looks like {"method":"PUT","path":"/api/v1/team/*","count":3,"status":503}"#)
        })?;
        rule.validate().map_err(|e| Error::new(ErrorKind::Usage, format!("invalid --fault `{raw}`: {e}")))?;
        faults.push(rule);
    }
    let config = SandboxConfig {
        addr: args.addr,
        api_key: args.api_key,
        rate_limit: args.rate_limit,
        rate_window: std::time::Duration::from_secs(args.rate_window.max(1)),
        latency_ms: args.latency_ms,
        crawl_delay_ms: args.crawl_delay_ms,
        state_file: args.state,
        quirks: Quirks {
            max_per_page: usize::from(args.page_cap),
            utc_offset_minutes: args.utc_offset.unwrap_or(0),
            extra_fields: args.extra_fields,
            webhooks_paginated: args.paginate_webhooks,
            trim_strings: args.trim_strings,
            extra_events: args.extra_event,
        },
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
    runtime.block_on(async {
        let sandbox = Sandbox::start(config, store).await?;
        for rule in faults {
            sandbox.add_fault(rule).map_err(|e| Error::new(ErrorKind::Usage, format!("invalid --fault: {e}")))?;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {} (api key: {})", sandbox.url(), sandbox.api_key());
        let _ = out.flush();
        drop(out);
        skyform::redact::to_stderr(&format!(
            "control endpoints: {}/_sandbox/{{requests,faults,latency,state}}; Ctrl-C stops\n",
            sandbox.root_url()
        ));
        sandbox.run_until(shutdown_signal()).await;
        Ok(0)
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
