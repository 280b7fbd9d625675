#![allow(clippy::disallowed_macros)] // a benchmark prints its figures
//! Many accounts in one process: 50 accounts of 100 objects each, one in-process sandbox per account, each
//! with its own key at the documented budget (120 requests a minute; skyform uses its 80% share) and 100 ms
//! added to every request, as a remote API would. A cold plan (no detail cache) of one account alone, of
//! all 50 one after another (`--jobs 1`, what a shell loop does) and of all 50 at once (`--jobs 50`).
//!
//! Run: `cargo bench --bench accounts` (about a minute). The figures go to BENCHMARKS.md.

use serde_json::{json, Value};
use skyform::ops::accounts::{plan_all, AccountsRequest};
use skyform::ops::connect::ConnectOptions;
use skyform::sandbox::{Sandbox, SandboxConfig, Store};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ACCOUNTS: usize = 50;
const LATENCY_MS: u64 = 100;

/// 100 objects: 30 agents, 40 knowledge entries (their bodies are read singly), 30 webhooks.
fn account(i: usize) -> (Value, String) {
    let live = json!({
        "agents": (0..30).map(|a| json!({"name": format!("Agent {a}"), "system_prompt": format!("You are agent {a} of account {i}."), "is_default": a == 0})).collect::<Vec<_>>(),
        "knowledge_base": (0..40).map(|k| json!({"title": format!("Entry {k}"), "type": "text", "content": format!("Answer {k} for {i}.")})).collect::<Vec<_>>(),
        "webhooks": (0..30).map(|h| json!({"name": format!("Hook {h}"), "url": format!("https://h.example/{i}/{h}"), "events": ["message.sent"]})).collect::<Vec<_>>(),
    });
    let mut y = String::from("agents:\n");
    for a in 0..30 {
        let _ = writeln!(y, "  - name: Agent {a}\n    system_prompt: You are agent {a} of account {i}.");
        if a == 0 {
            y.push_str("    is_default: true\n");
        }
    }
    y.push_str("knowledge_base:\n");
    for k in 0..40 {
        let _ = writeln!(y, "  - title: Entry {k}\n    type: text\n    content: Answer {k} for {i}.");
    }
    y.push_str("webhooks:\n");
    for h in 0..30 {
        let _ = writeln!(y, "  - name: Hook {h}\n    url: https://h.example/{i}/{h}\n    events: [message.sent]");
    }
    (live, y)
}

async fn time_plan(root: &Path, only: Vec<String>, jobs: usize, keys: &[(String, String)]) -> (Duration, usize) {
    let req = AccountsRequest {
        root: root.to_path_buf(),
        only,
        jobs,
        connect: ConnectOptions { rate_limit: 120, ..ConnectOptions::default() },
        options: Default::default(),
        apply: Default::default(),
        lock_timeout: Duration::ZERO,
    };
    let env = |name: &str| keys.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let started = Instant::now();
    let report = plan_all(&req, &env).await.expect("the accounts plan");
    let elapsed = started.elapsed();
    let clean = report.runs.iter().filter(|r| r.result.as_ref().is_ok_and(|p| p.changes.is_empty())).count();
    (elapsed, clean)
}

#[tokio::main]
async fn main() {
    let root = std::env::temp_dir().join(format!("skyform-bench-accounts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut sandboxes = Vec::new();
    let mut keys = Vec::new();
    for i in 0..ACCOUNTS {
        let (live, manifests) = account(i);
        let config = SandboxConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            api_key: format!("key-{i}"),
            rate_limit: 120,
            ..SandboxConfig::default()
        };
        let store: Store = serde_json::from_value(live).unwrap();
        let sandbox = Sandbox::start(config, store).await.unwrap();
        sandbox.set_latency(LATENCY_MS);
        let dir: PathBuf = root.join(format!("account-{i:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        let settings = format!("settings:\n  api_key_env: ACCOUNT_{i}_KEY\n  api_url: {}\n", sandbox.url());
        std::fs::write(dir.join("skyform.yaml"), settings + &manifests).unwrap();
        keys.push((format!("ACCOUNT_{i}_KEY"), format!("key-{i}")));
        sandboxes.push(sandbox);
    }
    let requests = |s: &[Sandbox]| s.iter().map(|s| s.requests().len()).sum::<usize>();

    let (one, ok) = time_plan(&root, vec!["account-00".into()], 1, &keys).await;
    assert_eq!(ok, 1);
    let per_account = requests(&sandboxes[..1]);
    sandboxes.iter().for_each(|s| s.clear_requests());
    // Fresh sandboxes' budgets: the single run above used account-00's; wait it out is not needed since
    // 60-odd requests fit one minute's 96. Serial first, then concurrent.
    let (serial, ok_serial) = time_plan(&root, vec![], 1, &keys).await;
    sandboxes.iter().for_each(|s| s.clear_requests());
    let (concurrent, ok_concurrent) = time_plan(&root, vec![], ACCOUNTS, &keys).await;
    let total = requests(&sandboxes);
    println!("accounts: {ACCOUNTS} × 100 objects, {LATENCY_MS} ms per request, 120 requests/min per key");
    println!("one account alone:          {:>6.2} s ({per_account} requests)", one.as_secs_f64());
    println!(
        "all, one at a time (--jobs 1): {:>6.2} s ({ok_serial} of {ACCOUNTS} without changes)",
        serial.as_secs_f64()
    );
    println!(
        "all at once (--jobs {ACCOUNTS}):    {:>6.2} s ({ok_concurrent} of {ACCOUNTS} without changes, {total} requests): {:.2}× one account",
        concurrent.as_secs_f64(),
        concurrent.as_secs_f64() / one.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&root);
}
