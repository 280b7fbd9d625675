//! Accounts for the CD tests and the CD benchmark: a sandbox, manifests touching every kind, the real
//! binary run against them, and where the account stands afterwards.

use super::{seed, test_config};
use serde_json::Value;
use skyform::sandbox::{Sandbox, SandboxConfig};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_skyform");

/// Ten writes over every kind: two agents and a default switch, a knowledge entry, three webhooks (three
/// secrets), a member (a password), a campaign and its start.
pub const MANIFESTS: &str = r#"agents:
  - name: Alpha
    system_prompt: a
    is_default: true
  - name: Beta
    system_prompt: b
knowledge_base:
  - title: Returns
    type: text
    content: 30 days
webhooks:
  - name: Hook1
    url: https://h1.test
    events: [message.sent]
  - name: Hook2
    url: https://h2.test
    events: [message.sent]
  - name: Hook3
    url: https://h3.test
    events: [message.sent]
team:
  - email: m@example.com
    name: M
    role: agent
    password: ${PW}
campaigns:
  - name: Spring
    channel: whatsapp
    audience: { lists: [Q1 Leads] }
    message: Hi
    state: running
"#;

pub struct Account {
    pub sandbox: Sandbox,
    pub dir: PathBuf,
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skyform-cd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Account {
    pub async fn new(name: &str, latency_ms: u64) -> Account {
        let config = SandboxConfig { rate_limit: 100_000, latency_ms, ..test_config() };
        let sandbox = Sandbox::start(config, seed(super::lookups())).await.unwrap();
        let dir = tempdir(name);
        std::fs::create_dir_all(dir.join("m")).unwrap();
        std::fs::write(dir.join("m/account.yaml"), MANIFESTS).unwrap();
        Account { sandbox, dir }
    }

    pub fn secrets(&self) -> PathBuf {
        self.dir.join("secrets.json")
    }

    /// `skyform ARGS` against this account, with fast timings: requests time out after 1 s and can land
    /// for 1 s (so a lease lasts 3 s).
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        // --settle is a flag of the commands that write.
        let writes = matches!(args.first(), Some(&"apply" | &"rotate"));
        let settle = if !writes || args.contains(&"--settle") { &[][..] } else { &["--settle", "1"][..] };
        let mut c = tokio::process::Command::new(BIN);
        c.args(args)
            .args(["--request-timeout", "1", "--rate-limit", "100000"])
            .args(settle)
            .current_dir(&self.dir)
            .env("SKYLIGHT_API_KEY", self.sandbox.api_key())
            .env("SKYLIGHT_API_URL", self.sandbox.url())
            .env("SKYFORM_SECRET_PW", "password-1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    pub fn apply(&self) -> tokio::process::Command {
        self.command(&["apply", "m", "--auto-approve", "--secrets-out", "secrets.json", "--lock-timeout", "60"])
    }

    pub async fn run(&self, mut c: tokio::process::Command) -> (i32, String) {
        let out = tokio::time::timeout(Duration::from_secs(90), c.output()).await.expect("skyform finishes").unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    /// Writes the sandbox received so far, the lease's own (`/tags`) aside.
    pub fn writes(&self) -> usize {
        self.sandbox.requests().iter().filter(|r| r.method != "GET" && !r.path.starts_with("/api/v1/tags")).count()
    }

    /// Where the account stands after a run: what a plan still finds, duplicate natural keys, webhooks whose
    /// live secret is not the one in the secrets file, and leases left behind.
    pub async fn outcome(&self) -> Outcome {
        let (plan_exit, plan) = self.run(self.command(&["plan", "m", "--detailed-exitcode"])).await;
        let duplicates = self.sandbox.with_store(|s| {
            let mut dups = Vec::new();
            let mut check = |kind: &str, keys: Vec<String>| {
                let mut seen = std::collections::HashSet::new();
                for k in keys {
                    if !seen.insert(k.to_lowercase()) {
                        dups.push(format!("{kind} {k}"));
                    }
                }
            };
            check("agent", s.agents.iter().map(|a| a.name.clone()).collect());
            check("entry", s.knowledge_base.iter().map(|e| e.title.clone()).collect());
            check("webhook", s.webhooks.iter().map(|w| w.name.clone()).collect());
            check("member", s.team.iter().map(|m| m.email.clone()).collect());
            check("campaign", s.campaigns.iter().map(|c| c.name.clone()).collect());
            dups
        });
        let file: Value = std::fs::read_to_string(self.secrets())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        let lost_secrets = self
            .sandbox
            .with_store(|s| s.webhooks.iter().map(|w| (w.name.clone(), w.secret.clone())).collect::<Vec<_>>())
            .into_iter()
            .filter(|(name, secret)| file["webhooks"][name]["secret"] != secret.as_str())
            .map(|(name, _)| name)
            .collect();
        let leases_left = self.sandbox.with_store(|s| s.tags.len());
        Outcome { plan_exit, plan, duplicates, lost_secrets, leases_left }
    }
}

/// Where an account stands (see [`Account::outcome`]).
#[derive(Debug)]
pub struct Outcome {
    /// `plan --detailed-exitcode`: 0 when nothing is left to do.
    pub plan_exit: i32,
    pub plan: String,
    pub duplicates: Vec<String>,
    pub lost_secrets: Vec<String>,
    pub leases_left: usize,
}

impl Outcome {
    pub fn converged(&self) -> bool {
        self.plan_exit == 0 && self.duplicates.is_empty() && self.lost_secrets.is_empty() && self.leases_left == 0
    }
}

/// Runs apply and kills it (SIGKILL) once `k` writes have landed, with more in flight; then re-runs it.
pub async fn kill_after(k: usize, latency_ms: u64) -> (Account, i32, String) {
    let a = Account::new(&format!("kill{k}-{latency_ms}"), latency_ms).await;
    let mut child = a.apply().spawn().unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while a.writes() < k {
        assert!(Instant::now() < until, "{k} writes within 30 s");
        if child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let (code, text) = a.run(a.apply()).await;
    (a, code, text)
}
