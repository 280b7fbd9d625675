//! What CD pipelines do to apply: kill it mid-run while its requests still land, run two at once, meet a
//! server slower than the client, retry what already happened, storms of 429s, failing verification
//! reads, SIGTERM, one secrets file for two runs. After each, a re-run converges with no duplicate, no lost
//! change and no lost secret. (`cargo bench --bench cd` runs the whole kill matrix and prints the figures.)

use crate::common;

use common::cd::{kill_after, Account};
use common::{seed, test_config};
use serde_json::{json, Value};
use skyform::sandbox::{FaultRule, Sandbox, SandboxConfig};
use std::time::{Duration, Instant};

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("skyform-cd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// After a run: nothing left to do, no duplicate, no lost secret, no lease left.
async fn converged(a: &Account) {
    let o = a.outcome().await;
    assert!(o.converged(), "{o:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_after_the_first_write_then_a_rerun_converges() {
    let (a, code, text) = kill_after(1, 120).await;
    assert_eq!(code, 0, "the re-run finishes the job:\n{text}");
    converged(&a).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_among_the_webhook_creates_loses_no_secret() {
    // Writes 4 to 7 are the knowledge entry and the webhooks: the kill lands between a create and the
    // recording of its secret, or with creates still in flight.
    let (a, code, text) = kill_after(5, 120).await;
    assert_eq!(code, 0, "the re-run finishes the job:\n{text}");
    converged(&a).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_applies_at_once_take_turns() {
    let a = Account::new("two", 60).await;
    let (one, two) = tokio::join!(a.run(a.apply()), a.run(a.apply()));
    assert_eq!(one.0, 0, "{}", one.1);
    assert_eq!(two.0, 0, "{}", two.1);
    let waited = [&one.1, &two.1].iter().filter(|t| t.contains("waiting for the account's lease")).count();
    assert_eq!(waited, 1, "one waited for the other:\n{}\n---\n{}", one.1, two.1);
    converged(&a).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_slower_than_the_client_gets_each_create_once() {
    let a = Account::new("slow", 0).await;
    // Every webhook create takes 1.8 s; the client gives up after 1 s; the request lands anyway. With
    // --settle 2 the client looks only once it can no longer land, finds it, and adopts it.
    a.sandbox.add_fault(FaultRule::delay("POST", "/api/v1/webhooks", 1800, 3)).unwrap();
    let c = a.command(&["apply", "m", "--auto-approve", "--secrets-out", "secrets.json", "--settle", "2"]);
    let (code, text) = a.run(c).await;
    assert_eq!(code, 0, "{text}");
    let posts = a.sandbox.requests().iter().filter(|r| r.line() == "POST /api/v1/webhooks").count();
    assert_eq!(posts, 3, "each create sent once:\n{text}");
    converged(&a).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_time_to_settle_a_create_is_reported_unknown_and_the_next_run_finishes() {
    let a = Account::new("unknown", 0).await;
    a.sandbox.add_fault(FaultRule::delay("POST", "/api/v1/webhooks", 2500, 1)).unwrap();
    // The whole run may take 3 s, the create may land for 4: it cannot be looked for in time.
    let c = a.command(&[
        "apply",
        "m",
        "--auto-approve",
        "--secrets-out",
        "secrets.json",
        "--settle",
        "4",
        "--timeout",
        "3",
        "--parallelism",
        "1",
    ]);
    let (code, text) = a.run(c).await;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("unknown:") && text.contains("outcome unknown"), "{text}");
    // The create lands after the run gave up on it (the log has it once handled): sent once, never again.
    let hook1 = || {
        a.sandbox
            .requests()
            .iter()
            .filter(|r| r.line() == "POST /api/v1/webhooks" && r.body.as_ref().is_some_and(|b| b["name"] == "Hook1"))
            .count()
    };
    common::eventually(Duration::from_secs(10), || async { (hook1() > 0).then_some(()) }).await;
    assert_eq!(hook1(), 1, "never sent again:\n{text}");
    // The next run waits until it can no longer land (the lease was kept for that), then finishes: the
    // webhook exists, and its secret, never delivered, is rotated and delivered.
    let (code, text) = a.run(a.apply()).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("regenerate-secret"), "{text}");
    converged(&a).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_starting_prints_the_summary_and_releases_the_lease() {
    let a = Account::new("sigterm", 150).await;
    let child = a.apply().spawn().unwrap();
    let pid = child.id().unwrap() as i32;
    let until = Instant::now() + Duration::from_secs(30);
    while a.writes() < 2 {
        assert!(Instant::now() < until);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await.unwrap().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(130), "{text}");
    assert!(text.contains("Interrupted: SIGTERM received"), "{text}");
    assert!(text.contains("not started"), "the summary says what never started:\n{text}");
    assert!(a.sandbox.with_store(|s| s.tags.is_empty()), "the lease was given back:\n{text}");
    let (code, text) = a.run(a.apply()).await;
    assert_eq!(code, 0, "{text}");
    converged(&a).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_share_one_secrets_file_and_keep_every_secret() {
    let a = Account::new("shared", 40).await;
    std::fs::create_dir_all(a.dir.join("other")).unwrap();
    std::fs::write(
        a.dir.join("other/hooks.yaml"),
        "webhooks:\n  - name: Other1\n    url: https://o1.test\n    events: [ticket.closed]\n  - name: Other2\n    url: https://o2.test\n    events: [ticket.closed]\n",
    )
    .unwrap();
    let mut b =
        a.command(&["apply", "other", "--auto-approve", "--secrets-out", "secrets.json", "--lock-timeout", "60"]);
    b.args(["--target", "webhooks/Other1", "--target", "webhooks/Other2"]);
    let (one, two) = tokio::join!(a.run(a.apply()), a.run(b));
    assert_eq!((one.0, two.0), (0, 0), "{}\n---\n{}", one.1, two.1);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(a.secrets()).unwrap()).unwrap();
    for name in ["Hook1", "Hook2", "Hook3", "Other1", "Other2"] {
        let live = a.sandbox.with_store(|s| s.webhooks.iter().find(|w| w.name == name).unwrap().secret.clone());
        assert_eq!(file["webhooks"][name]["secret"], live.as_str(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secrets_command_receives_each_secret_on_stdin_never_on_argv() {
    let a = Account::new("cmd", 0).await;
    let sink = a.dir.join("sink");
    std::fs::create_dir_all(&sink).unwrap();
    let cmd = format!("cat > {}/\"$SKYFORM_WEBHOOK_NAME\"", sink.display());
    let mut c = a.command(&["apply", "m", "--auto-approve", "--secrets-cmd", &cmd]);
    c.args(["--lock-timeout", "60"]);
    let (code, text) = a.run(c).await;
    assert_eq!(code, 0, "{text}");
    for (name, secret) in
        a.sandbox.with_store(|s| s.webhooks.iter().map(|w| (w.name.clone(), w.secret.clone())).collect::<Vec<_>>())
    {
        assert_eq!(std::fs::read_to_string(sink.join(&name)).unwrap(), secret, "{name}");
        assert!(!text.contains(&secret));
    }
    // A failing command fails the change, loudly, with what to do.
    let b = Account::new("cmd-fail", 0).await;
    let mut c = b.command(&["apply", "m", "--auto-approve", "--secrets-cmd", "echo broken >&2; exit 3"]);
    c.args(["--target", "webhooks/Hook1", "--lock-timeout", "60"]);
    let (code, text) = b.run(c).await;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("the secret was not delivered") && text.contains("skyform rotate webhooks/Hook1"), "{text}");
}

// ------------------------------------------------------------------ in-process: idempotent outcomes, 429s

use skyform::apply::lease::LockTag;
use skyform::apply::{ApplyOptions, Progress, Status};
use skyform::ops::apply::{run, ApplyRequest, Ui};
use skyform::ops::connect::ConnectOptions;
use skyform::plan::Plan;

/// A Ui whose confirmation runs `meanwhile`: what someone else does between the plan and the apply.
struct Meanwhile<F: Fn() + Sync>(F);

impl<F: Fn() + Sync> Ui for Meanwhile<F> {
    fn show(&self, _: &Plan) {}
    fn confirm(&self, _: &Plan) -> Result<bool, skyform::Error> {
        (self.0)();
        Ok(true)
    }
    fn progress(&self, _: Progress) {}
    fn waiting(&self, _: &LockTag) {}
}

fn request(sandbox: &Sandbox, dir: &std::path::Path, timeout: Option<Duration>) -> ApplyRequest {
    ApplyRequest {
        paths: vec![dir.to_path_buf()],
        connect: ConnectOptions {
            api_url: Some(sandbox.url()),
            rate_limit: 100_000,
            request_timeout: Duration::from_secs(1),
            settle: Duration::from_secs(1),
            timeout,
            ..ConnectOptions::default()
        },
        apply: ApplyOptions { secrets_out: Some(dir.join("secrets.json")), ..ApplyOptions::default() },
        lock_timeout: Duration::from_secs(10),
        ..ApplyRequest::default()
    }
}

fn env(sandbox: &Sandbox) -> impl Fn(&str) -> Option<String> {
    let key = sandbox.api_key().to_string();
    move |k: &str| (k == "SKYLIGHT_API_KEY").then(|| key.clone())
}

#[tokio::test]
async fn a_delete_already_gone_and_an_action_already_done_count_as_done() {
    let mut live = common::lookups();
    live["webhooks"] = json!([{"name": "Old", "url": "https://o.test", "events": ["message.sent"]}]);
    live["campaigns"] = json!([{"name": "Spring", "channel_id": 5, "message": "Hi", "list_ids": [1]}]);
    let sandbox = Sandbox::start(SandboxConfig { rate_limit: 100_000, ..test_config() }, seed(live)).await.unwrap();
    let dir = tempdir("already");
    std::fs::write(dir.join("a.yaml"), "webhooks:\n  - name: Old\n    ensure: absent\ncampaigns:\n  - name: Spring\n    channel: whatsapp\n    audience: {lists: [Q1 Leads]}\n    message: Hi\n    state: running\n").unwrap();
    // Between the plan and the apply, someone deletes the webhook and starts the campaign by hand.
    let meanwhile = Meanwhile(|| {
        sandbox.with_store(|s| {
            s.webhooks.clear();
            s.campaigns[0].status = "running".into();
        })
    });
    let applied = run(&request(&sandbox, &dir, None), &env(&sandbox), &meanwhile).await.unwrap();
    let report = applied.report.unwrap();
    let text = report.render();
    assert!(report.success(), "{text}");
    assert_eq!(report.exit_code(), 0);
    assert!(text.contains("already:     delete webhook \"Old\" (id 1) (it was already gone)"), "{text}");
    assert!(text.contains("already:     start campaign \"Spring\" (id 1) (`start` was already in effect)"), "{text}");
    assert!(text.contains("Apply: 2 done (2 already so)"), "{text}");
}

#[tokio::test]
async fn a_storm_of_429s_is_waited_out_and_a_day_long_retry_after_is_capped_by_the_deadline() {
    let sandbox =
        Sandbox::start(SandboxConfig { rate_limit: 100_000, ..test_config() }, seed(common::lookups())).await.unwrap();
    let dir = tempdir("storm");
    std::fs::write(dir.join("a.yaml"), "agents:\n  - name: A\n    system_prompt: p\n").unwrap();
    // 25 answers of 429 in a row (the old client gave up after 10), each saying "now" (waited 0.1 s).
    sandbox.add_fault(FaultRule { retry_after: Some(0), ..FaultRule::status("*", "/api/v1/**", 429, 25) }).unwrap();
    let applied =
        run(&request(&sandbox, &dir, Some(Duration::from_secs(60))), &env(&sandbox), &Meanwhile(|| {})).await.unwrap();
    let report = applied.report.unwrap();
    assert!(report.success(), "{}", report.render());
    let met = sandbox.requests().iter().filter(|r| r.status == 429).count();
    assert_eq!(met, 25, "every 429 was waited out, none ended the run");

    // One 429 asking for a day, with a run deadline of 3 s: the wait is capped, and the run says why.
    sandbox.reset_faults();
    std::fs::write(dir.join("a.yaml"), "agents:\n  - name: A\n    system_prompt: q\n").unwrap();
    sandbox
        .add_fault(FaultRule {
            retry_after: Some(86_400),
            ..FaultRule::status("PUT", "/api/v1/ai-agents/*", 429, 1000)
        })
        .unwrap();
    let started = Instant::now();
    let applied = tokio::time::timeout(
        Duration::from_secs(30),
        run(&request(&sandbox, &dir, Some(Duration::from_secs(3))), &env(&sandbox), &Meanwhile(|| {})),
    )
    .await
    .expect("never waits a day")
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(15));
    let report = applied.report.unwrap();
    let text = report.render();
    assert_eq!(report.exit_code(), 1, "{text}");
    assert!(text.contains("still rate limited at the run's deadline"), "{text}");
}

#[tokio::test]
async fn a_503_burst_during_verification_keeps_the_summary() {
    let sandbox =
        Sandbox::start(SandboxConfig { rate_limit: 100_000, ..test_config() }, seed(json!({}))).await.unwrap();
    let dir = tempdir("verify503");
    std::fs::write(
        dir.join("a.yaml"),
        "agents:\n  - name: A\n    system_prompt: p\n  - name: B\n    system_prompt: p\n",
    )
    .unwrap();
    // The writes pass; then every list read (verification's) answers 503.
    let meanwhile = Meanwhile(|| {
        sandbox.add_fault(FaultRule::status("GET", "/api/v1/ai-agents", 503, 100)).unwrap();
    });
    let applied = run(&request(&sandbox, &dir, None), &env(&sandbox), &meanwhile).await.unwrap();
    let report = applied.report.unwrap();
    let text = report.render();
    assert!(text.contains("Apply: 2 done, 0 failed"), "the summary is there: {text}");
    assert!(text.contains("could not verify") && text.contains("answered 503"), "{text}");
    assert_eq!(report.exit_code(), 1);
    assert!(report.outcomes.iter().all(|(_, s)| matches!(s, Status::Done)));
}
