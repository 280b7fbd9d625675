//! `skyform sandbox` from the command line: the line it prints, the documented envelope over plain HTTP,
//! the 121st request of a minute, refusals, seeds, state across restarts and faults given at start.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_skyform");

/// A sandbox process, killed when dropped.
struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Running {
    let mut child = Command::new(BIN)
        .arg("sandbox")
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("skyform runs");
    // The first stdout line is printed once the port is bound: reading it is the readiness check.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let rest = line.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    let url = rest.split_whitespace().next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/api/v1"), "{line}");
    Running { child, url }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("skyform runs")
}

async fn get(url: &str, key: &str) -> (u16, Value) {
    let res = reqwest::Client::new().get(url).header("X-Api-Key", key).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn prints_its_address_and_key_serves_the_envelope_and_limits_at_120_a_minute() {
    let sb = start(&["--api-key", "demo-key"]);
    let (status, body) = get(&format!("{}/ai-agents", sb.url), "demo-key").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"success": true, "data": [], "message": "AI agents retrieved successfully."}));
    for _ in 1..120 {
        assert_eq!(get(&format!("{}/webhooks", sb.url), "demo-key").await.0, 200);
    }
    let (status, body) = get(&format!("{}/webhooks", sb.url), "demo-key").await;
    assert_eq!(status, 429);
    assert_eq!(body["message"], "Too many requests. Please slow down.");
    assert!(body["retry_after"].as_u64().unwrap() >= 1);
}

#[test]
fn the_first_line_names_url_and_key() {
    let mut child = Command::new(BIN)
        .args(["sandbox", "--addr", "127.0.0.1:0", "--api-key", "k-123"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let re_ok =
        line.starts_with("listening on http://127.0.0.1:") && line.trim_end().ends_with("/api/v1 (api key: k-123)");
    assert!(re_ok, "{line:?}");
}

#[test]
fn refuses_a_non_loopback_address_with_a_hint() {
    let out = run(&["sandbox", "--addr", "0.0.0.0:8787"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: refusing to bind 0.0.0.0:8787"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(!err.contains("panicked"));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_broken_seed_is_reported_with_file_and_line() {
    let dir = tempdir("seed");
    let path = dir.join("seed.json");
    std::fs::write(&path, "{\n  \"agents\": [\n    {\"name\": 1}\n  ]\n}\n").unwrap();
    let out = run(&["sandbox", "--addr", "127.0.0.1:0", "--seed", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:", path.display())), "{err}");
    assert!(err.contains("hint:"), "{err}");
    let out = run(&["sandbox", "--seed", "/nonexistent/seed.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/seed.json"));
}

#[test]
fn usage_errors_exit_1_not_2() {
    let out = run(&["sandbox", "--rate-limit", "lots"]);
    assert_eq!(out.status.code(), Some(1), "2 is reserved for plan --detailed-exitcode");
    let out = run(&["sandbox", "--utc-offset", "3h"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("+03:00"));
}

#[tokio::test]
async fn state_survives_a_restart_and_seeds_load() {
    let dir = tempdir("state");
    let seed = dir.join("seed.json");
    std::fs::write(&seed, r#"{"agents": [{"name": "Seeded", "system_prompt": "p", "is_default": true}]}"#).unwrap();
    let state = dir.join("state.json");
    let (seed, state) = (seed.to_str().unwrap(), state.to_str().unwrap());
    {
        let sb = start(&["--seed", seed, "--state", state]);
        let res = reqwest::Client::new()
            .post(format!("{}/ai-agents", sb.url))
            .header("X-Api-Key", "sandbox-key")
            .json(&json!({"name": "Added", "system_prompt": "p"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    } // killed without a chance to save: every change is saved as it happens
    let sb = start(&["--state", state]);
    let (_, body) = get(&format!("{}/ai-agents", sb.url), "sandbox-key").await;
    let names: Vec<&str> = body["data"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Added", "Seeded"]);
}

#[tokio::test]
async fn faults_can_be_given_at_start() {
    let sb = start(&["--fault", r#"{"method":"GET","path":"/api/v1/account","status":500,"count":1}"#]);
    assert_eq!(get(&format!("{}/account", sb.url), "sandbox-key").await.0, 500);
    assert_eq!(get(&format!("{}/account", sb.url), "sandbox-key").await.0, 200);
    let out = run(&["sandbox", "--fault", r#"{"path":"/x"}"#]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --fault"));
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("skyform-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
