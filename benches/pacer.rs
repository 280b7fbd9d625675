#![allow(clippy::disallowed_macros)] // a benchmark prints its figures
//! Pacer throughput: how close to the key's budget the client runs without ever meeting a 429.
//! A sandbox with `--rate-limit 600`; the client at its defaults (share 0.8 → 480 requests per minute).
//! Run: `cargo bench --bench pacer` (takes a little over two minutes of real time: that is the budget).

use skyform::api::{ApiConfig, ApiKey, ReadClient};
use skyform::sandbox::{Sandbox, SandboxConfig, Store};
use std::time::Instant;

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("PACER_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1200);
    let config = SandboxConfig { addr: "127.0.0.1:0".parse().unwrap(), rate_limit: 600, ..SandboxConfig::default() };
    let sandbox = Sandbox::start(config, Store::default()).await.unwrap();
    let client = ReadClient::new(ApiConfig::new(sandbox.url(), ApiKey::new(sandbox.api_key()))).unwrap();
    // The first answer teaches the pacer the limit (600); start the clock after it.
    client.account().await.unwrap();
    sandbox.clear_requests();
    let budget = client.budget();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let c = client.clone();
        tasks.spawn(async move { c.account().await.map(|_| ()) });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let log = sandbox.requests();
    let times: Vec<u64> = log.iter().map(|r| r.at_ms).collect();
    let busiest = times.iter().map(|t| times.iter().filter(|u| **u >= *t && **u < t + 60_000).count()).max().unwrap();
    let throttled = log.iter().filter(|r| r.status == 429).count();
    // Sustained rate: from the first request to the first of the last window's burst, full windows only.
    let full_windows = (n - 1) / budget as usize;
    let span = (times[full_windows * budget as usize] - times[0]) as f64 / 1000.0;
    let sustained = (full_windows * budget as usize) as f64 / span;
    let budget_rps = f64::from(budget) / 60.0;
    println!("pacer: {n} GETs against --rate-limit 600 in {elapsed:.1} s; 429s: {throttled}");
    println!("  budget: {budget}/min (share 0.8) = {budget_rps:.2} req/s; busiest 60 s window: {busiest} requests");
    println!(
        "  sustained: {sustained:.2} req/s over {full_windows} full windows = {:.1}% of the budget, {:.1}% of the key's limit",
        100.0 * sustained / budget_rps,
        100.0 * sustained / 10.0
    );
}
