//! `apply` end to end against the sandbox: what it sends (from the request log), what the account looks like
//! afterwards, secrets, stale saved plans, failures half way, and idempotency.

use crate::common;

use common::test_config;
use common::world::{converged, tempdir, World};
use serde_json::{json, Value};
use skyform::apply::Status;
use skyform::ops::connect::ConnectOptions;
use skyform::sandbox::{FaultRule, SandboxConfig};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_skyform");

#[tokio::test]
async fn every_kind_is_created_changed_and_deleted_and_a_second_apply_sends_nothing() {
    let mut live = common::lookups();
    live["agents"] = json!([{"name": "Keep", "system_prompt": "p", "is_default": true}]);
    let w = World::new("kinds", live).await;
    w.manifests(
        r#"
agents:
  - name: Keep
    is_default: true
    system_prompt: p
  - name: Sales
    system_prompt: "Sell.\n"
    instruction_prompt: Be brief.
    personality_prompt: Warm.
    response_guidelines: { tone: friendly }
    is_active: false
knowledge_base:
  - title: Returns
    type: text
    description: Policy
    content: "30 days.\n"
  - title: Catalog
    type: product_catalog
    products: [{ name: Mug, price: 35, sku: M-1 }]
  - title: Help
    type: website
    url: https://help.example/
webhooks:
  - name: CRM
    url: https://crm.example/hook
    events: [contact.created, message.sent]
team:
  - email: layla@example.com
    name: Layla
    role: admin
    password: ${LAYLA_PASSWORD}
campaigns:
  - name: Spring
    channel: whatsapp
    audience: { lists: [Q1 Leads], contacts: [7] }
    message: Hello!
    is_new_number: true
"#,
    );
    converged(&w.apply().await);
    assert_eq!(
        w.state(|s| (s.agents.len(), s.knowledge_base.len(), s.webhooks.len(), s.team.len(), s.campaigns.len())),
        (2, 3, 1, 1, 1)
    );
    let sales = w.state(|s| s.agents.iter().find(|a| a.name == "Sales").cloned().unwrap());
    // Texts are sent as written (the file's trailing newline included); comparison ignores it.
    assert_eq!((sales.system_prompt.as_str(), sales.is_active), ("Sell.\n", false));
    assert_eq!(sales.personality_prompt.as_deref(), Some("Warm."));
    // The password went to the API on create, and nowhere else.
    let create = w.sandbox.requests().into_iter().find(|r| r.line() == "POST /api/v1/team").unwrap();
    assert_eq!(create.body.unwrap()["password"], "(redacted)", "sent (the sandbox log redacts it)");

    // Idempotent: a second apply makes no mutating request.
    w.sandbox.clear_requests();
    let again = w.apply().await;
    assert!(again.report.is_none());
    assert!(w.writes().is_empty(), "{:?}", w.writes());

    // Change every managed field.
    w.manifests(
        r#"
agents:
  - name: Keep
    is_default: true
    system_prompt: p
  - name: Sales
    system_prompt: Sell more.
    instruction_prompt: Be briefer.
    response_guidelines: { tone: formal, language: Arabic }
    is_active: true
knowledge_base:
  - title: Returns
    type: text
    description: Returns policy
    business_description: Acme
    content: 60 days.
  - title: Catalog
    type: product_catalog
    products: [{ name: Mug, price: 36, sku: M-1 }, { name: Pan, price: 90 }]
  - title: Help
    type: website
    url: https://help.example/v2
webhooks:
  - name: CRM
    url: https://crm.example/hook2
    events: [contact.updated]
    is_active: false
team:
  - email: layla@example.com
    name: Layla A.
    role: agent
    status: inactive
campaigns:
  - name: Spring
    channel: whatsapp
    audience: { segments: [Active last 30 days] }
    message: Hello again!
    is_new_number: false
"#,
    );
    // The last active admin cannot be demoted: keep an admin around.
    w.sandbox.with_store(|s| {
        s.team.push(
            serde_json::from_value(json!({"id": 99, "name": "Owner", "email": "owner@example.com", "role": "admin"}))
                .unwrap(),
        )
    });
    w.sandbox.clear_requests();
    converged(&w.apply().await);
    assert_eq!(w.writes().len(), 7, "one PUT per changed object: {:?}", w.writes());
    let camp = w.state(|s| s.campaigns[0].clone());
    assert_eq!((camp.segment_ids, camp.list_ids, camp.message.as_str()), (vec![7], vec![], "Hello again!"));

    // Delete: by ensure: absent (any kind), by prune.
    w.manifests(
        "agents:\n  - name: Keep\n    is_default: true\n    system_prompt: p\n  - name: Sales\n    ensure: absent\nsettings:\n  prune: [webhooks]\n",
    );
    w.sandbox.clear_requests();
    converged(&w.apply().await);
    assert_eq!(w.writes(), ["DELETE /api/v1/webhooks/1", "DELETE /api/v1/ai-agents/2"]);
}

#[tokio::test]
async fn a_pinned_id_adopts_and_renames() {
    let w = World::new(
        "pin",
        json!({"webhooks": [{"name": "old name", "url": "https://a.test", "events": ["message.sent"]}]}),
    )
    .await;
    w.manifests("webhooks:\n  - id: 1\n    name: New name\n    url: https://a.test\n    events: [message.sent]\n");
    converged(&w.apply().await);
    assert_eq!(w.writes(), ["PUT /api/v1/webhooks/1"]);
    assert_eq!(w.state(|s| s.webhooks[0].name.clone()), "New name");
}

#[tokio::test]
async fn the_default_agent_is_switched_create_then_set_default_then_delete() {
    let w = World::new("default", json!({"agents": [{"name": "Old", "system_prompt": "p", "is_default": true}]})).await;
    w.manifests(
        "agents:\n  - name: New\n    is_default: true\n    system_prompt: p\n  - name: Old\n    ensure: absent\n",
    );
    converged(&w.apply().await);
    assert_eq!(
        w.writes(),
        ["POST /api/v1/ai-agents", "POST /api/v1/ai-agents/2/set-default", "DELETE /api/v1/ai-agents/1"]
    );
}

#[tokio::test]
async fn a_campaign_goes_draft_running_paused_running_cancelled() {
    let w = World::new("lifecycle", common::lookups()).await;
    let with_state = |state: &str| {
        format!("campaigns:\n  - name: Spring\n    channel: whatsapp\n    audience: {{lists: [VIP]}}\n    message: Hi\n    state: {state}\n")
    };
    let mut seen = Vec::new();
    for (state, expected) in [
        ("draft", vec!["POST /api/v1/campaigns"]),
        ("running", vec!["POST /api/v1/campaigns/1/start"]),
        ("paused", vec!["POST /api/v1/campaigns/1/pause"]),
        ("running", vec!["POST /api/v1/campaigns/1/resume"]),
        ("cancelled", vec!["POST /api/v1/campaigns/1/cancel"]),
    ] {
        w.sandbox.clear_requests();
        w.manifests(&with_state(state));
        converged(&w.apply().await);
        assert_eq!(w.writes(), expected, "to {state}");
        seen.push(w.state(|s| s.campaigns[0].status.clone()));
    }
    assert_eq!(seen, ["draft", "running", "paused", "running", "cancelled"]);
}

#[cfg(unix)]
#[tokio::test]
async fn webhook_secrets_are_captured_to_a_0600_file_and_rotated_as_an_act() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new("secrets", json!({})).await;
    w.manifests("webhooks:\n  - name: CRM\n    url: https://crm.test\n    events: [message.sent]\n");
    converged(&w.apply().await);
    let file = std::fs::read_to_string(w.secrets()).unwrap();
    let mode = std::fs::metadata(w.secrets()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let first: Value = serde_json::from_str(&file).unwrap();
    let live_secret = w.state(|s| s.webhooks[0].secret.clone());
    assert_eq!(first["webhooks"]["CRM"]["secret"], live_secret.as_str());
    assert!(!w.dir.join("secrets.json.journal").exists(), "the journal is folded into the file at the end");

    // Nothing rotates by itself: a second apply, with a fresh (empty) secrets file even, changes nothing.
    w.sandbox.clear_requests();
    std::fs::remove_file(w.secrets()).unwrap();
    assert!(w.apply().await.report.is_none());
    // Rotation is an act the plan shows: one request, the new secret delivered.
    let rotate = skyform::plan::Target::parse("webhooks/CRM").unwrap();
    converged(&w.apply_with(w.request(|r| r.options.rotate = vec![rotate])).await.unwrap());
    assert_eq!(w.writes(), ["POST /api/v1/webhooks/1/regenerate-secret"]);
    let second: Value = serde_json::from_str(&std::fs::read_to_string(w.secrets()).unwrap()).unwrap();
    assert_ne!(second["webhooks"]["CRM"]["secret"], first["webhooks"]["CRM"]["secret"]);
    assert_eq!(second["webhooks"]["CRM"]["secret"], w.state(|s| s.webhooks[0].secret.clone()).as_str());
}

#[tokio::test]
async fn a_stale_saved_plan_is_refused_without_a_single_write() {
    let w = World::new("stale", json!({"agents": [{"name": "A", "system_prompt": "p"}]})).await;
    w.manifests("agents:\n  - name: A\n    system_prompt: changed\n  - name: B\n    system_prompt: p\n");
    let plan_file = w.save_plan().await;

    // Someone edits A by hand, and someone creates B.
    let http = reqwest::Client::new();
    for (method, path, body) in [
        ("PUT", "/ai-agents/1", json!({"system_prompt": "edited by hand"})),
        ("POST", "/ai-agents", json!({"name": "B", "system_prompt": "p"})),
    ] {
        http.request(method.parse().unwrap(), format!("{}{path}", w.sandbox.url()))
            .header("X-Api-Key", w.sandbox.api_key())
            .json(&body)
            .send()
            .await
            .unwrap();
    }
    w.sandbox.clear_requests();
    let err = w
        .apply_with(w.request(|r| {
            r.paths = vec![];
            r.plan_file = Some(plan_file.clone());
        }))
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(text.contains("agent \"A\" (id 1) changed since the plan was made"), "{text}");
    assert!(text.contains("agent \"B\" now exists (id 2)"), "{text}");
    assert!(w.writes().is_empty());

    // Manifests edited since the plan: refused too.
    w.manifests("agents:\n  - name: A\n    system_prompt: something else\n");
    let err = w.apply_with(w.request(|r| r.plan_file = Some(plan_file.clone()))).await.err().unwrap();
    assert!(err.to_string().contains("the manifests changed since this plan was made"), "{err}");
    assert!(w.writes().is_empty());
}

#[tokio::test]
async fn a_fresh_saved_plan_applies() {
    let w = World::new("saved", json!({})).await;
    w.manifests("agents:\n  - name: A\n    system_prompt: p\n");
    let plan_file = w.save_plan().await;
    let applied = w
        .apply_with(w.request(|r| {
            r.paths = vec![];
            r.plan_file = Some(plan_file);
        }))
        .await
        .unwrap();
    converged(&applied);
    assert_eq!(w.writes(), ["POST /api/v1/ai-agents"]);
}

#[tokio::test]
async fn a_failure_half_way_is_reported_honestly_and_a_rerun_finishes_without_duplicates() {
    let w = World::new("failure", json!({})).await;
    w.manifests(concat!(
        "agents:\n  - name: A\n    system_prompt: p\n  - name: B\n    system_prompt: p\n",
        "team:\n  - email: m@example.com\n    name: M\n    role: admin\n    password: ${M_PASSWORD}\n",
        "webhooks:\n",
        "  - name: W1\n    url: https://w.test\n    events: [message.sent]\n",
        "  - name: W2\n    url: https://w.test\n    events: [message.sent]\n",
        "  - name: W3\n    url: https://w.test\n    events: [message.sent]\n",
    ));
    // An agent create answered 503 (ambiguous: looked for, then sent again), and the first webhook refused.
    w.sandbox.add_fault(FaultRule::status("POST", "/api/v1/ai-agents", 503, 1)).unwrap();
    w.sandbox.add_fault(FaultRule::status("POST", "/api/v1/webhooks", 422, 1)).unwrap();
    let applied = w.apply_with(w.request(|r| r.connect.parallelism = 1)).await.unwrap();
    let report = applied.report.unwrap();
    assert!(!report.success());
    let text = report.render();
    assert!(text.contains("Apply: 2 done, 1 failed, 3 not started, 0 refused"), "{text}");
    assert!(text.contains("failed:      create webhook \"W1\""), "{text}");
    assert!(text.contains("POST /webhooks answered 422"), "{text}");
    assert_eq!(text.matches("not started: create webhook").count(), 2, "{text}");
    assert_eq!(text.matches("not started: create team member").count(), 1, "{text}");
    // Convergence is claimed only for what was done, and the rest is named.
    assert!(!text.contains("Verified: converged"), "{text}");
    assert!(text.contains("Verified: the 2 changes done read back as planned; 4 were not done (see above)."), "{text}");
    assert_ne!(report.exit_code(), 0);
    assert_eq!(w.state(|s| s.agents.len()), 2, "the 503 did not duplicate");

    let applied = w.apply().await;
    converged(&applied);
    assert_eq!(w.state(|s| (s.agents.len(), s.team.len(), s.webhooks.len())), (2, 1, 3), "nothing twice");
}

#[tokio::test]
async fn keep_going_runs_what_does_not_depend_on_the_failure() {
    let w = World::new("keepgoing", common::lookups()).await;
    w.manifests("campaigns:\n  - name: S\n    channel: whatsapp\n    audience: {lists: [VIP]}\n    message: Hi\n    state: running\nwebhooks:\n  - name: W\n    url: https://w.test\n    events: [message.sent]\n");
    w.sandbox.add_fault(FaultRule::status("POST", "/api/v1/campaigns", 422, 1)).unwrap();
    let applied = w.apply_with(w.request(|r| r.apply.keep_going = true)).await.unwrap();
    let report = applied.report.unwrap();
    let by_key: Vec<(String, String)> = report
        .outcomes
        .iter()
        .map(|(c, s)| (format!("{} {}", c.key, c.op_word()), format!("{s:?}").split('(').next().unwrap().to_string()))
        .collect();
    assert!(by_key.contains(&("W create".into(), "Done".into())), "{by_key:?}");
    assert!(by_key.contains(&("S create".into(), "Failed".into())), "{by_key:?}");
    assert!(by_key.contains(&("S start".into(), "Skipped".into())), "{by_key:?}");
    assert!(matches!(report.outcomes.iter().find(|(c, _)| c.op_word() == "start").unwrap().1, Status::Skipped(_)));
}

fn run_cli(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("SKYFORM_SECRET_HANA_INITIAL_PASSWORD", "hana-initial-pass")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn without_a_terminal_apply_needs_auto_approve() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let secrets = tempdir("no-terminal").join("secrets.json");
    let out = run_cli(&["apply", "--sandbox", "examples/minimal", "--secrets-out", secrets.to_str().unwrap()], &root);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to apply without confirmation"), "{err}");
}

#[test]
fn apply_then_plan_on_the_same_sandbox_state_has_nothing_left_to_do() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempdir("acme-cli");
    let state = dir.join("state.json");
    let secrets = dir.join("secrets.json");
    let (state, secrets) = (state.to_str().unwrap(), secrets.to_str().unwrap());
    let out = run_cli(
        &["apply", "--sandbox", "examples/acme", "--sandbox-state", state, "--secrets-out", secrets, "--auto-approve"],
        &root,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // acme is the happy path: every change done and verified.
    assert!(stdout.contains("Verified: converged"), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
    let out = run_cli(&["plan", "--sandbox", "examples/acme", "--sandbox-state", state, "--detailed-exitcode"], &root);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No changes: the account matches the manifests."));
    // The refusals example: reported, never attempted, exit 3 ("blocked").
    let out = run_cli(&["apply", "--sandbox", "examples/refusals", "--auto-approve"], &root);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Nothing to apply."));
}

/// The plan carries what apply sends: an agent edit, with a campaign in the same manifests, targeted at the
/// agents, reads the agents' list once, writes once, and verifies with one read of the list: no lookups, no
/// campaigns, no single GETs.
#[tokio::test]
async fn one_targeted_agent_edit_costs_one_list_one_put_and_one_verification_read() {
    let mut live = common::lookups();
    live["agents"] = json!([{"name": "A", "system_prompt": "old"}]);
    live["campaigns"] = json!([{"name": "C", "channel_id": 5, "message": "Hi", "list_ids": [1]}]);
    let w = World::new("one-edit", live).await;
    w.manifests("agents:\n  - name: A\n    system_prompt: new\ncampaigns:\n  - name: C\n    channel: whatsapp\n    audience: {lists: [Q1 Leads]}\n    message: Hi\n");
    let target = skyform::plan::Target::parse("agents").unwrap();
    let applied = w.apply_with(w.request(|r| r.options.targets = vec![target])).await.unwrap();
    converged(&applied);
    assert_eq!(w.lines(), ["GET /api/v1/ai-agents", "PUT /api/v1/ai-agents/1", "GET /api/v1/ai-agents"]);
}

/// The wire form is not the comparison form: an email compared without case is sent as written.
#[tokio::test]
async fn a_member_is_created_with_the_email_as_written() {
    let w = World::new("casing", json!({})).await;
    w.manifests(
        "team:\n  - email: Layla@Example.com\n    name: Layla\n    role: admin\n    password: ${LAYLA_PASSWORD}\n",
    );
    converged(&w.apply().await);
    let create = w.sandbox.requests().into_iter().find(|r| r.line() == "POST /api/v1/team").unwrap();
    assert_eq!(create.body.unwrap()["email"], "Layla@Example.com");
    assert_eq!(w.state(|s| s.team[0].email.clone()), "Layla@Example.com");
    // Matched without case afterwards: nothing more to do.
    w.sandbox.clear_requests();
    assert!(w.apply().await.report.is_none());
}

/// An action whose answer was lost is sent again by the client; the API refuses the repeat, and apply,
/// reading the campaign, finds the target state holds: done, not failed.
#[tokio::test]
async fn a_repeated_action_whose_target_state_holds_is_done() {
    let mut live = common::lookups();
    live["campaigns"] = json!([{"name": "Spring", "channel_id": 5, "message": "Hi", "list_ids": [1]}]);
    let w = World::new("lost-action", live).await;
    w.manifests("campaigns:\n  - name: Spring\n    channel: whatsapp\n    audience: {lists: [Q1 Leads]}\n    message: Hi\n    state: running\n");
    w.sandbox.add_fault(FaultRule::drop_after_execute("POST", "/api/v1/campaigns/1/start", 1)).unwrap();
    converged(&w.apply().await);
    let writes = w.writes();
    assert_eq!(writes, ["POST /api/v1/campaigns/1/start", "POST /api/v1/campaigns/1/start"]);
    assert_eq!(w.state(|s| s.campaigns[0].status.clone()), "running");
}

/// A password is needed only to create its member: plans and applies that do not create it run without
/// the variable (pull-request plans often have no secrets); a create without it is a located error, and
/// nothing is sent.
#[tokio::test]
async fn a_password_variable_is_needed_only_by_the_create_that_sends_it() {
    let w = World::new(
        "password-only-for-create",
        json!({"team": [{"name": "Old name", "email": "x@example.com", "role": "agent"}]}),
    )
    .await;
    w.manifests(
        "team:\n  - email: x@example.com\n    name: New name\n    role: agent\n    password: ${UNSET_PASSWORD}\n",
    );
    w.save_plan().await; // a plan never needs it
    let applied = w.apply().await;
    converged(&applied);
    assert_eq!(w.writes(), ["PUT /api/v1/team/1"], "the update sends no password");
    let body = w.sandbox.requests().iter().find(|r| r.method == "PUT").unwrap().body.clone().unwrap();
    assert!(body.get("password").is_none(), "{body}");

    w.manifests(concat!(
        "team:\n  - email: x@example.com\n    name: New name\n    role: agent\n    password: ${UNSET_PASSWORD}\n",
        "  - email: y@example.com\n    name: Y\n    role: agent\n    password: ${UNSET_PASSWORD}\n",
    ));
    w.sandbox.clear_requests();
    let Err(err) = w.apply_with(w.request(|_| {})).await else { panic!("a create without its password applied") };
    let msg = err.to_string();
    assert!(
        msg.contains("account.yaml:6: team member `y@example.com` needs `password` for this plan's create: SKYFORM_SECRET_UNSET_PASSWORD is not set"),
        "{msg}"
    );
    assert!(!msg.contains("x@example.com"), "the member that exists needs nothing: {msg}");
    assert!(w.writes().is_empty(), "nothing was sent: {:?}", w.writes());
}

/// A saved plan records its manifests' paths absolute: it applies from any folder.
#[test]
fn a_saved_plan_applies_from_another_folder() {
    let dir = tempdir("plan-elsewhere");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&root.join("examples/minimal"), &dir.join("m"));
    std::fs::create_dir_all(dir.join("elsewhere/deeper")).unwrap();
    let out = run_cli(&["plan", "--sandbox", "m", "--sandbox-state", "state.json", "--out", "plan.json"], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run_cli(
        &[
            "apply",
            "../../plan.json",
            "--sandbox",
            "--sandbox-state",
            "../../state.json",
            "--secrets-out",
            "../../s.json",
            "--auto-approve",
        ],
        &dir.join("elsewhere/deeper"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Verified: converged"), "{stdout}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Behind a server that trims every string and stores `""` as null (Laravel's default middleware), every
/// plan → apply → plan still ends empty: the canonical forms compare what such a server keeps.
#[tokio::test]
async fn behind_a_trimming_server_an_apply_converges_and_the_next_plan_is_empty() {
    let mut config = SandboxConfig { rate_limit: 100_000, ..test_config() };
    config.quirks.trim_strings = true;
    let w = World::with_config("trimming", common::lookups(), config).await;
    w.manifests(concat!(
        "agents:\n",
        "  - name: \"  Padded  \"\n",
        "    system_prompt: \"\\n\\n    indented first line\\n  second\\n\\n\"\n",
        "    instruction_prompt: \"\"\n",
        "    personality_prompt: \"   \"\n",
        "    response_guidelines: {tone: \" calm \", style: \"\", length: \"short \"}\n",
        "knowledge_base:\n",
        "  - title: \" Returns \"\n    type: text\n    content: \"  30 days.  \\n\"\n    description: \" \"\n",
        "webhooks:\n",
        "  - name: \"CRM \"\n    url: https://crm.test/h\n    events: [message.sent]\n",
        "team:\n",
        "  - email: m@example.com\n    name: \" M \"\n    role: agent\n    password: ${M_PASSWORD}\n",
        "campaigns:\n",
        "  - name: \" Spring \"\n    channel: whatsapp\n    audience: {lists: [VIP]}\n    message: \"  Hello  \"\n",
    ));
    let first = w.apply().await;
    converged(&first);
    w.sandbox.clear_requests();
    let second = w.apply().await;
    assert!(
        second.report.is_none(),
        "nothing left to do: {:?}",
        second.plan.changes.iter().map(|c| &c.key).collect::<Vec<_>>()
    );
    assert!(w.writes().is_empty(), "{:?}", w.writes());
    // What the server kept is trimmed: the sandbox really did trim.
    w.state(|s| {
        assert_eq!(s.agents[0].name, "Padded");
        assert_eq!(s.agents[0].system_prompt, "indented first line\n  second");
    });
}

/// The writes' answers fill the detail cache: the plan right after an apply reads list pages only. And
/// verification reads one list per kind, taking bodies from the answers: no single GET per object.
#[tokio::test]
async fn after_an_apply_the_next_plan_is_warm_and_verification_reads_lists() {
    let w = World::new("warm-after-apply", common::lookups()).await;
    let mut yaml = String::from("knowledge_base:\n");
    for i in 0..30 {
        yaml.push_str(&format!("  - title: Entry {i}\n    type: text\n    content: Body {i}\n"));
    }
    yaml.push_str("campaigns:\n  - name: Spring\n    channel: whatsapp\n    audience: {lists: [VIP]}\n    message: Hello\n    state: running\n");
    w.manifests(&yaml);
    let cache = tempdir("warm-after-apply-cache");
    let applied = w.apply_with(w.request(|r| r.connect.cache_dir = Some(cache.clone()))).await.unwrap();
    converged(&applied);
    let verification: Vec<String> = w
        .lines()
        .into_iter()
        .skip_while(|l| !l.starts_with("POST /api/v1/campaigns/") || !l.ends_with("/start"))
        .skip(1)
        .collect();
    assert_eq!(verification, ["GET /api/v1/knowledge-base", "GET /api/v1/campaigns"], "one list per kind");

    w.sandbox.clear_requests();
    let key = w.sandbox.api_key().to_string();
    let env = move |k: &str| (k == "SKYLIGHT_API_KEY").then(|| key.clone());
    let req = skyform::ops::plan::PlanRequest {
        paths: vec![w.dir.join("account.yaml")],
        connect: ConnectOptions { api_url: Some(w.sandbox.url()), cache_dir: Some(cache), ..ConnectOptions::default() },
        ..Default::default()
    };
    let plan = skyform::ops::plan::run(&req, &env).await.unwrap();
    assert!(plan.changes.is_empty(), "{:?}", plan.changes.first());
    let singles: Vec<String> =
        w.lines().into_iter().filter(|l| l.contains("/knowledge-base/") || l.contains("/campaigns/")).collect();
    assert!(singles.is_empty(), "the answers were cached: {singles:?}");
}

#[test]
fn rotate_from_the_command_line_rotates_one_secret_without_manifests() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempdir("rotate-cli");
    let secrets = dir.join("rotated.json");
    let out = run_cli(
        &[
            "rotate",
            "webhooks/CRM sync",
            "--sandbox",
            "--seed",
            "examples/acme",
            "--auto-approve",
            "--secrets-out",
            secrets.to_str().unwrap(),
        ],
        &root,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&secrets).unwrap()).unwrap();
    assert!(saved["webhooks"]["CRM sync"]["secret"].as_str().is_some_and(|s| !s.is_empty()));
}

/// The summary counts the whole run: a 429 met while reading the account is reported like one met while
/// writing (it spent the same budget).
#[tokio::test]
async fn the_summary_counts_429s_met_while_reading_the_account() {
    let w = World::new("throttled-read", json!({})).await;
    w.manifests("agents:\n  - name: A\n    system_prompt: p\n");
    let mut rule = FaultRule::status("GET", "/api/v1/ai-agents", 429, 1);
    rule.retry_after = Some(0);
    w.sandbox.add_fault(rule).unwrap();
    let applied = w.apply().await;
    converged(&applied);
    let report = applied.report.unwrap();
    assert_eq!(report.throttled, 1, "{}", report.render());
    assert!(report.render().contains("1 rate-limited (429)"), "{}", report.render());
    assert!(report.requests >= 4, "lease, reads and the write: {}", report.requests);
}
