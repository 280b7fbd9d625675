//! What pipelines and installs use: completions, the man page, `--version`, the action's script, `plan
//! --base`, `doctor`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_skyform");

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skyform-pipeline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn skyform(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN).args(args).current_dir(dir).output().expect("skyform runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// ------------------------------------------------------------------ install and shell integration

#[test]
fn completions_for_every_shell_name_every_command_and_flag() {
    let dir = tempdir("completions");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = skyform(&["completions", shell], &dir);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let text = stdout(&out);
        for word in ["plan", "apply", "export", "doctor", "--detailed-exitcode", "--allow-deletes", "--base"] {
            // fish and elvish spell long flags without the dashes (`-l detailed-exitcode`).
            assert!(text.contains(word.trim_start_matches("--")), "{shell} completion lacks {word}");
        }
    }
    let out = skyform(&["completions", "tcsh"], &dir);
    assert_eq!(out.status.code(), Some(1), "an unknown shell is a usage error");
}

#[test]
fn the_man_pages_are_generated_for_every_command() {
    let dir = tempdir("man");
    let out = skyform(&["man"], &dir);
    assert!(out.status.success());
    let page = stdout(&out);
    assert!(page.starts_with(".ie") && page.contains(".TH skyform 1"), "{page}");
    assert!(page.contains("SUBCOMMANDS") || page.contains("skyform\\-plan"), "{page}");
    let out = skyform(&["man", "--out", "pages"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["skyform.1", "skyform-plan.1", "skyform-apply.1", "skyform-doctor.1", "skyform-completions.1"] {
        let text = std::fs::read_to_string(dir.join("pages").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".TH"), "{name}");
    }
}

#[test]
fn the_version_names_the_commit() {
    let out = skyform(&["--version"], &tempdir("version"));
    let text = stdout(&out);
    let commit = text
        .trim()
        .strip_prefix(concat!("skyform ", env!("CARGO_PKG_VERSION"), " (commit "))
        .and_then(|r| r.strip_suffix(')'));
    let commit = commit.unwrap_or_else(|| panic!("{text}"));
    assert!(commit == "unknown" || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())), "{commit}");
}

// ------------------------------------------------------------------ plan --base

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

/// A repository whose base commit declares three agents and a webhook, and whose head changes some of it.
fn repo(name: &str, base: &str, head: &str) -> PathBuf {
    let dir = tempdir(name);
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["config", "user.email", "t@example.com"]);
    git(&dir, &["config", "user.name", "t"]);
    std::fs::create_dir_all(dir.join("skylight")).unwrap();
    std::fs::write(dir.join("skylight/account.yaml"), base).unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "base"]);
    std::fs::write(dir.join("skylight/account.yaml"), head).unwrap();
    git(&dir, &["checkout", "-q", "-b", "feature"]);
    git(&dir, &["commit", "-q", "-am", "head"]);
    dir
}

const BASE: &str = "agents:\n  - name: Sales\n    system_prompt: Sell.\n  - name: Legacy\n    system_prompt: Old words.\nwebhooks:\n  - name: CRM\n    url: https://crm.test/h\n    events: [message.sent]\n";
const HEAD: &str = "agents:\n  - name: Sales\n    system_prompt: Sell.\n  - name: Legacy\n    system_prompt: Live words.\n  - name: Support\n    system_prompt: Help.\nwebhooks:\n  - name: CRM\n    url: https://crm.test/h2\n    events: [message.sent]\n";

async fn plan_with_base(
    dir: &Path,
    base: &str,
) -> (Result<skyform::plan::Plan, skyform::Error>, Vec<skyform::sandbox::LoggedRequest>) {
    use skyform::sandbox::{Sandbox, SandboxConfig};
    // Live: Sales drifted from both (someone edited it in the dashboard); Legacy already says what the
    // head says; CRM as the base has it.
    let live = serde_json::json!({
        "agents": [
            {"name": "Sales", "system_prompt": "Sell more!"},
            {"name": "Legacy", "system_prompt": "Live words."}
        ],
        "webhooks": [{"name": "CRM", "url": "https://crm.test/h", "events": ["message.sent"]}]
    });
    let sandbox = Sandbox::start(SandboxConfig { rate_limit: 100_000, ..common::test_config() }, common::seed(live))
        .await
        .unwrap();
    let key = sandbox.api_key().to_string();
    let env = move |k: &str| (k == "SKYLIGHT_API_KEY").then(|| key.clone());
    let req = skyform::ops::plan::PlanRequest {
        paths: vec![dir.join("skylight")],
        connect: skyform::ops::connect::ConnectOptions { api_url: Some(sandbox.url()), ..Default::default() },
        base: Some(base.to_string()),
        ..Default::default()
    };
    let plan = skyform::ops::plan::run(&req, &env).await;
    (plan, sandbox.requests())
}

#[tokio::test]
async fn base_mode_splits_the_pull_requests_changes_from_drift_over_one_read() {
    let dir = repo("base-split", BASE, HEAD);
    let (plan, requests) = plan_with_base(&dir, "main").await;
    let plan = plan.unwrap_or_else(|e| panic!("{}", e.render()));
    let lines: Vec<String> =
        plan.changes.iter().map(|c| format!("{} {}", if c.drift { "drift" } else { "pr" }, c.headline())).collect();
    assert_eq!(
        lines,
        ["drift update agent \"Sales\" (id 1)", "pr create agent \"Support\"", "pr update webhook \"CRM\" (id 1)"]
    );
    let split = plan.base.as_ref().unwrap();
    assert_eq!((split.pull_request, split.drift), (2, 1));
    assert_eq!(split.resolved, ["update agent \"Legacy\" (id 2)"], "the base would change Legacy; the head matches it");
    assert_eq!(split.git_ref, "main");
    assert_eq!(split.commit.len(), 40);

    // One read of the account: no path was asked twice.
    let mut seen = std::collections::HashSet::new();
    for r in &requests {
        assert_eq!(r.method, "GET");
        assert!(seen.insert(format!("{} {:?}", r.path, r.query)), "read twice: {} {:?}", r.path, r.query);
    }

    // Every renderer shows the split.
    let human = skyform::render::render(&plan, skyform::render::Format::Human, false);
    let pr_at = human.find("This pull request: 2 changes").expect(&human);
    let drift_at = human.find("Drift: 1 change the manifests at main").expect(&human);
    assert!(
        pr_at < human.find("create agent \"Support\"").unwrap()
            && drift_at < human.find("update agent \"Sales\"").unwrap()
    );
    assert!(human.contains("(2 from this pull request, 1 drift)"), "{human}");
    assert!(
        human.contains("Drift this pull request resolves") && human.contains("update agent \"Legacy\" (id 2)"),
        "{human}"
    );
    let md = skyform::render::render(&plan, skyform::render::Format::Markdown, false);
    assert!(md.contains("#### This pull request: 2 changes") && md.contains("#### Drift: 1 change"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&skyform::render::json(&plan)).unwrap();
    assert_eq!(json["base"]["drift"], 1);
    assert_eq!(json["changes"][0]["drift"], true);
    assert!(json["changes"][1].get("drift").is_none());
}

/// An account that includes shared manifests: the base is checked out with its includes, so the split
/// works there too (not "the manifests at main do not load").
#[tokio::test]
async fn base_mode_checks_out_the_shared_manifests_an_account_includes() {
    use skyform::sandbox::{Sandbox, SandboxConfig};
    let dir = tempdir("base-include");
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["config", "user.email", "t@example.com"]);
    git(&dir, &["config", "user.name", "t"]);
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("accounts/_shared/agents.yaml", "agents:\n  - name: Sales\n    system_prompt: Sell.\n");
    let account = |url: &str| {
        format!("settings:\n  api_key_env: ACME_KEY\n  include: [../_shared]\nwebhooks:\n  - name: CRM\n    url: {url}\n    events: [message.sent]\n")
    };
    write("accounts/acme/skyform.yaml", &account("https://crm.test/h"));
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "base"]);
    git(&dir, &["checkout", "-q", "-b", "feature"]);
    write("accounts/acme/skyform.yaml", &account("https://crm.test/h2"));
    git(&dir, &["commit", "-q", "-am", "head"]);
    let live = serde_json::json!({
        "agents": [{"name": "Sales", "system_prompt": "Sell more!"}],
        "webhooks": [{"name": "CRM", "url": "https://crm.test/h", "events": ["message.sent"]}]
    });
    let sandbox = Sandbox::start(SandboxConfig { rate_limit: 100_000, ..common::test_config() }, common::seed(live))
        .await
        .unwrap();
    let key = sandbox.api_key().to_string();
    let env = move |k: &str| (k == "ACME_KEY").then(|| key.clone());
    let req = skyform::ops::plan::PlanRequest {
        paths: vec![dir.join("accounts/acme")],
        connect: skyform::ops::connect::ConnectOptions { api_url: Some(sandbox.url()), ..Default::default() },
        base: Some("main".into()),
        ..Default::default()
    };
    let plan = skyform::ops::plan::run(&req, &env).await.unwrap_or_else(|e| panic!("{}", e.render()));
    let lines: Vec<String> =
        plan.changes.iter().map(|c| format!("{} {}", if c.drift { "drift" } else { "pr" }, c.headline())).collect();
    assert_eq!(lines, ["drift update agent \"Sales\" (id 1)", "pr update webhook \"CRM\" (id 1)"], "{:?}", plan.notes);
}

#[tokio::test]
async fn base_mode_without_manifests_at_the_base_or_with_a_bad_ref() {
    // The manifests' folder is new in this pull request: every change is the pull request's, and a note says why.
    let dir = tempdir("base-new");
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["config", "user.email", "t@example.com"]);
    git(&dir, &["config", "user.name", "t"]);
    std::fs::write(dir.join("README.md"), "nothing yet\n").unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "base"]);
    git(&dir, &["checkout", "-q", "-b", "feature"]);
    std::fs::create_dir_all(dir.join("skylight")).unwrap();
    std::fs::write(dir.join("skylight/account.yaml"), HEAD).unwrap();
    let (plan, _) = plan_with_base(&dir, "main").await;
    let plan = plan.unwrap_or_else(|e| panic!("{}", e.render()));
    assert!(plan.changes.iter().all(|c| !c.drift));
    assert!(plan.notes.iter().any(|n| n.contains("did not exist at main")), "{:?}", plan.notes);

    let (plan, requests) = plan_with_base(&dir, "no-such-branch").await;
    let err = plan.unwrap_err();
    assert!(err.to_string().contains("--base `no-such-branch` names no commit"), "{err}");
    assert!(err.render().contains("fetch-depth: 0"), "{}", err.render());
    assert!(requests.is_empty(), "nothing read: {requests:?}");
}

// ------------------------------------------------------------------ doctor

async fn doctor(
    quirks: impl FnOnce(&mut skyform::sandbox::Quirks),
    faults: &[skyform::sandbox::FaultRule],
) -> skyform::doctor::Report {
    use skyform::api::{ApiConfig, ApiKey, ReadClient};
    use skyform::sandbox::{Sandbox, SandboxConfig, Store};
    // The documented limit: doctor's 20-odd requests fit in it, and `rate.limit` expects it.
    let mut config = SandboxConfig { rate_limit: 120, ..common::test_config() };
    quirks(&mut config.quirks);
    let seed: Store =
        Store::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/acme/sandbox.json")).unwrap();
    let sandbox = Sandbox::start(config, seed).await.unwrap();
    for f in faults {
        sandbox.add_fault(f.clone()).unwrap();
    }
    let client = ReadClient::new(ApiConfig::new(sandbox.url(), ApiKey::new(sandbox.api_key()))).unwrap();
    let report = skyform::doctor::run(&client, &sandbox.url()).await.unwrap();
    assert!(sandbox.requests().iter().all(|r| r.method == "GET"), "read-only");
    assert_eq!(report.requests as usize, sandbox.requests().len());
    assert!(report.requests < 25, "{} requests", report.requests);
    report
}

fn verdict(r: &skyform::doctor::Report, id: &str) -> (skyform::doctor::Verdict, String) {
    let f = r
        .facts
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no fact {id}: {:?}", r.facts.iter().map(|f| &f.id).collect::<Vec<_>>()));
    (f.verdict, f.seen.clone())
}

#[tokio::test]
async fn doctor_checks_every_assumption_a_read_can_in_each_sandbox_mode() {
    use skyform::doctor::Verdict::{Fails, Note, Ok as Holds};
    // The documented API: everything holds.
    let normal = doctor(|_| {}, &[]).await;
    assert!(normal.holds(), "{}", normal.render());
    for id in [
        "auth.x-api-key",
        "auth.bearer",
        "auth.unauthenticated",
        "envelope",
        "rate.limit",
        "rate.remaining-reset",
        "list.knowledge-base.page-cap",
        "list.knowledge-base.default-size",
        "list.campaigns.default-size",
        "list.team.items",
        "list.knowledge-base.detail",
        "detail.knowledge-base",
        "detail.campaigns",
        "events.shape",
        "events.names",
        "list.ai-agents.pagination",
        "list.account-channels.items",
        "list.contacts-segments.items",
    ] {
        assert_eq!(verdict(&normal, id).0, Holds, "{id}: {}", normal.render());
    }

    // A server capping pages at 50: skyform copes (it follows last_page); said, with the files.
    let capped = doctor(|q| q.max_per_page = 50, &[]).await;
    assert!(capped.holds());
    assert_eq!(verdict(&capped, "list.knowledge-base.page-cap"), (Note, "50".into()));
    assert!(
        capped.render().contains("change: src/resources/knowledge.rs, src/sandbox/knowledge_base.rs"),
        "{}",
        capped.render()
    );

    // Offsets instead of Z: still ISO 8601.
    let offset = doctor(|q| q.utc_offset_minutes = 180, &[]).await;
    assert!(offset.holds());
    assert_eq!(verdict(&offset, "list.ai-agents.timestamps").0, Holds);

    // The older paginated webhook list.
    let paged = doctor(|q| q.webhooks_paginated = true, &[]).await;
    assert!(paged.holds());
    assert_eq!(verdict(&paged, "list.webhooks.pagination"), (Note, "paginated (meta)".into()));

    // Fields the contract does not name: ignored.
    let extra = doctor(|q| q.extra_fields = true, &[]).await;
    assert!(extra.holds(), "{}", extra.render());

    // A catalogue larger than ours.
    let events = doctor(|q| q.extra_events = vec!["contact.tagged".into()], &[]).await;
    assert!(events.holds());
    assert_eq!(verdict(&events, "events.names"), (Note, "0 of ours missing; 1 more".into()));

    // What skyform relies on failing: the catalogue cannot be read, a detail without its body.
    let broken = doctor(
        |_| {},
        &[
            skyform::sandbox::FaultRule::status("GET", "/api/v1/webhooks/events", 500, 1),
            skyform::sandbox::FaultRule::status("GET", "/api/v1/campaigns/*", 404, 1),
        ],
    )
    .await;
    assert!(!broken.holds());
    assert_eq!(broken.exit_code(), 1);
    assert_eq!(verdict(&broken, "events.shape").0, Fails);
    assert_eq!(verdict(&broken, "detail.campaigns"), (Fails, "404".into()));
    assert!(broken.render().contains("Something skyform relies on does not hold"), "{}", broken.render());
}

#[test]
fn doctor_from_the_command_line_prints_a_table_or_json_and_exits_by_verdict() {
    let dir = tempdir("doctor-cli");
    let acme = format!("{}/examples/acme", env!("CARGO_MANIFEST_DIR"));
    let out = skyform(&["doctor", "--sandbox", "--seed", &acme], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("fact") && text.contains("expected") && text.contains("seen") && text.contains("verdict"),
        "{text}"
    );
    assert!(text.contains("Everything skyform relies on holds"), "{text}");
    // An empty account leaves facts unchecked, and says so rather than "everything holds".
    let out = skyform(&["doctor", "--sandbox"], &dir);
    assert!(
        stdout(&out).contains("the unchecked facts need objects this account does not have yet"),
        "{}",
        stdout(&out)
    );
    let out = skyform(&["doctor", "--sandbox", "--format", "json"], &dir);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["facts"].as_array().unwrap().len() > 20);
    assert!(v["requests"].as_u64().unwrap() < 25);
    // A key the API refuses: the first fact fails, nothing else is probed, exit 1.
    let out = Command::new(BIN)
        .args(["doctor", "--api-url", "http://127.0.0.1:9/api/v1"])
        .env("SKYLIGHT_API_KEY", "k")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

// ------------------------------------------------------------------ the GitHub Action's script

/// Runs `action/skyform-action.sh MODE` as the action does, with GitHub's files pointed into `dir`.
async fn action(mode: &str, dir: &Path, env: Vec<(&'static str, String)>) -> Output {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (dir, mode) = (dir.to_path_buf(), mode.to_string());
    tokio::task::spawn_blocking(move || {
        let mut c = Command::new("bash");
        c.arg(root.join("action/skyform-action.sh"))
            .arg(mode)
            .current_dir(&root)
            .env_remove("SKYLIGHT_API_KEY")
            .env_remove("GITHUB_ACTIONS")
            .env("SKYFORM_BIN", BIN)
            .env("SKYFORM_ACTION_DIR", dir.join("out"))
            .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
            .env("GITHUB_OUTPUT", dir.join("outputs.txt"));
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    })
    .await
    .unwrap()
}

async fn sandbox_for(seed: &str) -> skyform::sandbox::Sandbox {
    use skyform::sandbox::{Sandbox, SandboxConfig, Store};
    let store = if seed.is_empty() {
        Store::default()
    } else {
        Store::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(seed)).unwrap()
    };
    Sandbox::start(SandboxConfig { rate_limit: 100_000, ..common::test_config() }, store).await.unwrap()
}

fn outputs(dir: &Path) -> std::collections::HashMap<String, String> {
    std::fs::read_to_string(dir.join("outputs.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

#[tokio::test]
async fn the_action_writes_the_pull_request_comment_summary_outputs_and_saved_plan() {
    let dir = tempdir("action-pr");
    let sandbox = sandbox_for("").await;
    let env = vec![
        ("INPUT_PATHS", "examples/minimal".to_string()),
        ("INPUT_API_URL", sandbox.url()),
        ("SKYLIGHT_API_KEY", sandbox.api_key().to_string()),
    ];
    let out = action("plan", &dir, env).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let o = outputs(&dir);
    assert_eq!(o["exit-code"], "2");
    assert_eq!(o["has-changes"], "true");
    let comment = std::fs::read_to_string(&o["comment-file"]).unwrap();
    assert!(comment.starts_with("<!-- skyform-plan -->\n### skyform plan: "), "found again by its marker:\n{comment}");
    assert!(comment.contains("create agent \"Assistant\"") && comment.contains("create webhook \"CRM\""), "{comment}");
    assert!(!comment.contains(sandbox.api_key()), "no key in the comment");
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("create agent \"Assistant\""), "the job summary has the plan");
    let plan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&o["plan-file"]).unwrap()).unwrap();
    assert_eq!(plan["summary"]["create"], 2, "the saved plan is kept for the artifact");
    assert!(sandbox.requests().iter().all(|r| r.method == "GET"), "a pull-request plan writes nothing");

    let verdict = action("verdict", &dir, vec![("SKYFORM_EXIT", o["exit-code"].clone())]).await;
    assert_eq!(verdict.status.code(), Some(0), "changes to apply pass the check");
}

#[tokio::test]
async fn the_action_fails_the_check_on_refused_changes_and_on_errors_after_writing_the_comment() {
    // examples/refusals against its own seed has three refused changes: exit 3.
    let dir = tempdir("action-refused");
    let sandbox = sandbox_for("examples/refusals/sandbox.json").await;
    let env = vec![
        ("INPUT_PATHS", "examples/refusals".to_string()),
        ("INPUT_API_URL", sandbox.url()),
        ("SKYLIGHT_API_KEY", sandbox.api_key().to_string()),
        ("SKYFORM_SECRET_HANA_INITIAL_PASSWORD", "hana-initial-pass".to_string()),
    ];
    let out = action("plan", &dir, env).await;
    assert_eq!(out.status.code(), Some(0), "the comment is still written: {}", stderr(&out));
    let o = outputs(&dir);
    assert_eq!(o["exit-code"], "3");
    let comment = std::fs::read_to_string(&o["comment-file"]).unwrap();
    assert!(comment.contains("refused changes"), "{comment}");
    assert!(comment.contains("refused:"), "the refused change is listed: {comment}");
    let verdict = action("verdict", &dir, vec![("SKYFORM_EXIT", o["exit-code"].clone())]).await;
    assert_eq!(verdict.status.code(), Some(1));
    assert!(stdout(&verdict).contains("::error::the plan has refused changes"), "{}", stdout(&verdict));

    // A manifest error: exit 1, the problem in the comment, fenced, and the check fails.
    let dir = tempdir("action-error");
    std::fs::create_dir_all(dir.join("bad")).unwrap();
    std::fs::write(dir.join("bad/a.yaml"), "agents:\n  - name: A\n    sytem_prompt: x\n").unwrap();
    let env = vec![("INPUT_PATHS", dir.join("bad").display().to_string()), ("INPUT_API_URL", sandbox.url())];
    let out = action("plan", &dir, env).await;
    assert_eq!(out.status.code(), Some(0));
    let o = outputs(&dir);
    assert_eq!(o["exit-code"], "1");
    let comment = std::fs::read_to_string(&o["comment-file"]).unwrap();
    assert!(
        comment.contains("### skyform plan: error")
            && comment.contains("unknown key `sytem_prompt`")
            && comment.contains("```"),
        "{comment}"
    );
    let verdict = action("verdict", &dir, vec![("SKYFORM_EXIT", o["exit-code"].clone())]).await;
    assert_eq!(verdict.status.code(), Some(1));
}
