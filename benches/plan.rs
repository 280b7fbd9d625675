#![allow(clippy::disallowed_macros)] // a benchmark prints its figures
//! How plan and apply scale: generated accounts of 100, 1,000 and 10,000 objects whose manifests match
//! exactly. For each size: the requests of a no-change plan cold (no detail cache) and warm, against the
//! floor (list pages and lookups); the verification requests of an apply from an empty account; plan and
//! apply CPU time (user + system) and peak RSS of the skyform process; and the ratio to the size below.
//!
//! skyform and the sandbox run as separate processes (the release binary), so the figures are skyform's
//! own, not the emulator's. Run: `cargo bench --bench plan` (about a minute).

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_skyform");

/// A generated account: the live seed, matching manifests, and the floor of a no-change plan's requests.
struct Generated {
    live: Value,
    manifests: String,
    floor: usize,
}

fn pages(n: usize) -> usize {
    n.div_ceil(100).max(1)
}

/// `n` objects: 15% agents, 30% knowledge entries, 15% webhooks, 25% team members, 15% campaigns (most
/// finished, a tenth still drafts, as accounts are).
fn generate(n: usize) -> Generated {
    let (agents, kb, hooks, team) = (n * 15 / 100, n * 30 / 100, n * 15 / 100, n * 25 / 100);
    let campaigns = n - agents - kb - hooks - team;
    let drafts = campaigns / 10;
    let mut y = String::from("agents:\n");
    let mut live = json!({
        "channels": [{"id": 5, "type": "whatsapp", "username": "+15550100"}],
        "lists": [{"id": 1, "name": "Leads", "contacts_count": 10}],
        "subscription": {"team_members_max": 100000, "campaigns_max": 100000},
    });
    live["agents"] = (0..agents)
        .map(|i| json!({"name": format!("Agent {i}"), "system_prompt": format!("You are agent {i}.\nBe brief."), "is_default": i == 0}))
        .collect();
    for i in 0..agents {
        let _ = write!(y, "  - name: Agent {i}\n    system_prompt: \"You are agent {i}.\\nBe brief.\"\n");
        if i == 0 {
            y.push_str("    is_default: true\n");
        }
    }
    live["knowledge_base"] = (0..kb)
        .map(|i| json!({"title": format!("Entry {i}"), "type": "text", "content": format!("Answer {i}: {}", "words ".repeat(40))}))
        .collect();
    y.push_str("knowledge_base:\n");
    for i in 0..kb {
        let _ =
            write!(y, "  - title: Entry {i}\n    type: text\n    content: \"Answer {i}: {}\"\n", "words ".repeat(40));
    }
    live["webhooks"] = (0..hooks)
        .map(|i| json!({"name": format!("Hook {i}"), "url": format!("https://h.example/{i}"), "events": ["message.sent", "contact.created"]}))
        .collect();
    y.push_str("webhooks:\n");
    for i in 0..hooks {
        let _ = write!(
            y,
            "  - name: Hook {i}\n    url: https://h.example/{i}\n    events: [contact.created, message.sent]\n"
        );
    }
    live["team"] = (0..team)
        .map(|i| json!({"name": format!("Member {i}"), "email": format!("m{i}@a.example"), "role": "agent"}))
        .collect();
    y.push_str("team:\n");
    for i in 0..team {
        let _ = write!(y, "  - email: m{i}@a.example\n    name: Member {i}\n    role: agent\n    password: ${{PW}}\n");
    }
    live["campaigns"] = (0..campaigns)
        .map(|i| {
            let status = if i < drafts { "draft" } else { "completed" };
            json!({"name": format!("Campaign {i}"), "channel_id": 5, "message": format!("Hello {i}"), "list_ids": [1], "status": status})
        })
        .collect();
    y.push_str("campaigns:\n");
    for i in 0..campaigns {
        let state = if i < drafts { "" } else { "    state: running\n" };
        let _ = write!(y, "  - name: Campaign {i}\n    channel: whatsapp\n    audience: {{lists: [Leads]}}\n    message: Hello {i}\n{state}");
    }
    // Agents and webhooks are unpaginated; lookups: channels, lists, the event catalogue, the lease's tags.
    let floor = 1 + pages(kb) + 1 + pages(team) + pages(campaigns) + 4;
    Generated { live, manifests: y, floor: floor + drafts }
}

struct Sandbox {
    child: Child,
    url: String,
    key: String,
}

impl Sandbox {
    fn start(seed: &Path) -> Sandbox {
        let mut child = Command::new(BIN)
            .args(["sandbox", "--addr", "127.0.0.1:0", "--rate-limit", "10000000", "--seed"])
            .arg(seed)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the sandbox starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        // `listening on http://ADDR/api/v1 (api key: KEY)`
        let url = line.split_whitespace().nth(2).unwrap().to_string();
        let key = line.trim_end().trim_end_matches(')').rsplit(' ').next().unwrap().to_string();
        Sandbox { child, url, key }
    }

    fn control(&self) -> String {
        self.url.trim_end_matches("/api/v1").to_string()
    }

    /// The request log since it was last cleared, then cleared.
    fn take_requests(&self) -> Vec<(String, String)> {
        let out = Command::new("curl").args(["-s", &format!("{}/_sandbox/requests", self.control())]).output().unwrap();
        let _ = Command::new("curl")
            .args(["-s", "-X", "DELETE", &format!("{}/_sandbox/requests", self.control())])
            .output();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let list = v.get("data").or(Some(&v)).and_then(Value::as_array).cloned().unwrap_or_default();
        list.iter()
            .map(|r| (r["method"].as_str().unwrap_or("").to_string(), r["path"].as_str().unwrap_or("").to_string()))
            .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs skyform to the end; its exit code, CPU seconds (user + system), peak RSS (MiB) and system share
/// of the CPU seconds, from wait4.
#[allow(clippy::zombie_processes)] // reaped by wait4 below, which also gives its rusage
fn measured(args: &[&str], dir: &Path, sandbox: &Sandbox) -> (i32, f64, f64, f64) {
    let child = Command::new(BIN)
        .args(args)
        .args(["--api-url", &sandbox.url, "--rate-limit", "10000000"])
        .current_dir(dir)
        .env("SKYLIGHT_API_KEY", &sandbox.key)
        .env("SKYFORM_SECRET_PW", "a-long-enough-password")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, with valid pointers.
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = secs(usage.ru_utime) + secs(usage.ru_stime);
    let rss_mib = usage.ru_maxrss as f64 / 1024.0; // kilobytes on Linux
    (libc::WEXITSTATUS(status), cpu, rss_mib, secs(usage.ru_stime))
}

struct Row {
    n: usize,
    floor: usize,
    cold: usize,
    warm: usize,
    plan_cpu: f64,
    plan_rss: f64,
    apply_requests: usize,
    verification: usize,
    apply_cpu: f64,
    apply_sys: f64,
    apply_rss: f64,
}

fn run(n: usize, work: &Path) -> Row {
    let dir = work.join(format!("n{n}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("m")).unwrap();
    let g = generate(n);
    std::fs::write(dir.join("m/account.yaml"), &g.manifests).unwrap();
    std::fs::write(dir.join("seed.json"), g.live.to_string()).unwrap();
    let cache = dir.join("cache");
    let cache_arg = cache.to_str().unwrap();

    // A no-change plan, cold then warm.
    let sandbox = Sandbox::start(&dir.join("seed.json"));
    let (code, ..) = measured(&["plan", "m", "--detailed-exitcode", "--cache-dir", cache_arg], &dir, &sandbox);
    assert_eq!(code, 0, "{n}: the generated manifests match the account");
    let cold = sandbox.take_requests().len();
    let (code, plan_cpu, plan_rss, _) =
        measured(&["plan", "m", "--detailed-exitcode", "--cache-dir", cache_arg], &dir, &sandbox);
    assert_eq!(code, 0);
    let warm = sandbox.take_requests().len();
    drop(sandbox);

    // An apply from an empty account (the lookups only), with a fresh cache.
    let mut empty = g.live.clone();
    for k in ["agents", "knowledge_base", "webhooks", "team", "campaigns"] {
        empty[k] = json!([]);
    }
    std::fs::write(dir.join("empty.json"), empty.to_string()).unwrap();
    let sandbox = Sandbox::start(&dir.join("empty.json"));
    let fresh = dir.join("cache-apply");
    let (code, apply_cpu, apply_rss, apply_sys) = measured(
        &["apply", "m", "--auto-approve", "--secrets-out", "secrets.json", "--cache-dir", fresh.to_str().unwrap()],
        &dir,
        &sandbox,
    );
    let log = sandbox.take_requests();
    assert!(code == 0 || code == 3, "{n}: apply exit {code}");
    let last_write = log.iter().rposition(|(m, p)| m != "GET" && !p.starts_with("/api/v1/tags")).unwrap_or(0);
    let verification =
        log[last_write + 1..].iter().filter(|(m, p)| m == "GET" && !p.starts_with("/api/v1/tags")).count();
    Row {
        n,
        floor: g.floor,
        cold,
        warm,
        plan_cpu,
        plan_rss,
        apply_requests: log.len(),
        verification,
        apply_cpu,
        apply_sys,
        apply_rss,
    }
}

fn main() {
    let work: PathBuf = std::env::temp_dir().join(format!("skyform-bench-plan-{}", std::process::id()));
    let rows: Vec<Row> = [100, 1_000, 10_000].iter().map(|&n| run(n, &work)).collect();
    println!("| objects | plan requests cold | warm | floor (lists + lookups + drafts) | plan CPU | plan peak RSS | apply requests | of which verification | apply CPU (of which system) | apply peak RSS |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {:.3} s | {:.0} MiB | {} | {} | {:.3} s ({:.3} s) | {:.0} MiB |",
            r.n,
            r.cold,
            r.warm,
            r.floor,
            r.plan_cpu,
            r.plan_rss,
            r.apply_requests,
            r.verification,
            r.apply_cpu,
            r.apply_sys,
            r.apply_rss
        );
    }
    for w in rows.windows(2) {
        println!(
            "{}→{} objects (×{}): plan CPU ×{:.1}, apply CPU ×{:.1}, warm requests ×{:.1}",
            w[0].n,
            w[1].n,
            w[1].n / w[0].n,
            w[1].plan_cpu / w[0].plan_cpu.max(1e-6),
            w[1].apply_cpu / w[0].apply_cpu.max(1e-6),
            w[1].warm as f64 / w[0].warm.max(1) as f64
        );
    }
    // SKYFORM_BENCH_KEEP=1 keeps the generated accounts (seed.json, empty.json, m/) for profiling.
    if std::env::var_os("SKYFORM_BENCH_KEEP").is_some() {
        println!("kept: {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
}
