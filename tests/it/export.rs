//! `export` round trips: the live account written as manifests validates, and a plan of those manifests
//! against the same account shows no changes — for a rich hand-made account and for generated ones.

use crate::common;

use common::{seed, test_config};
use proptest::prelude::*;
use serde_json::{json, Value};
use skyform::api::{ApiConfig, ApiKey, ReadClient};
use skyform::export::{export, ExportOptions};
use skyform::manifest;
use skyform::plan::{build, PlanOptions};
use skyform::sandbox::{Sandbox, SandboxConfig};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_skyform");

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skyform-export-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Exports `live` into a fresh folder, loads it back, plans it against the same account.
async fn round_trip(live: Value, name: &str) -> (PathBuf, skyform::plan::Plan) {
    round_trip_with(live, name, SandboxConfig { rate_limit: 100_000, ..test_config() }).await.0
}

/// [`round_trip`] against a sandbox configured as given; also returns what export left out.
async fn round_trip_with(
    live: Value,
    name: &str,
    config: SandboxConfig,
) -> ((PathBuf, skyform::plan::Plan), Vec<String>) {
    let sandbox = Sandbox::start(config, seed(live)).await.unwrap();
    let client = ReadClient::new(ApiConfig::new(sandbox.url(), ApiKey::new(sandbox.api_key()))).unwrap();
    let out = tempdir(name);
    let report = export(&client, &ExportOptions { out: out.clone(), kinds: vec![], force: false }).await.unwrap();
    let set = manifest::load(std::slice::from_ref(&out), &|_| None).unwrap_or_else(|p| panic!("{}", p.render()));
    sandbox.clear_requests();
    let plan = build(&set, &client, &PlanOptions::default()).await.unwrap();
    assert!(sandbox.requests().iter().all(|r| r.method == "GET"));
    ((out, plan), report.skipped)
}

fn rich_account() -> Value {
    let mut live = common::lookups();
    live["agents"] = json!([
        {"name": "Sales", "system_prompt": "Line one.\nLine two: with a colon.\nLine three costs $5 and ${NOT_A_VAR}.\n",
         "instruction_prompt": "Short and \"quoted\".", "personality_prompt": "Shared style.",
         "response_guidelines": {"tone": "warm", "max_length": "600", "language": "English"}, "is_default": true},
        {"name": "مساعد", "system_prompt": "مرحبا بكم", "personality_prompt": "Shared style.", "is_active": false},
        {"name": "Twin", "system_prompt": "first"},
        {"name": "Twin", "system_prompt": "second"},
        {"name": "# not a comment: really", "system_prompt": "true"}
    ]);
    live["knowledge_base"] = json!([
        {"title": "Returns", "type": "text", "description": "Policy", "business_description": "Acme\nHome", "content": "30 days.\n\nNo questions asked.\n"},
        {"title": "Help", "type": "website", "url": "https://help.example/path?q=1#top"},
        {"title": "Catalog", "type": "product_catalog", "products": [{"name": "Mug", "price": 35}, {"name": "Pan: large", "price": 189.5, "sku": "P-1", "description": "Cast iron"}]},
        {"title": "Empty catalog", "type": "product_catalog", "products": []},
        {"title": "Manual", "type": "document", "file_name": "manual.pdf", "file_size": 1000}
    ]);
    live["webhooks"] = json!([
        {"name": "CRM", "url": "https://crm.example/h", "events": ["message.sent", "contact.created"]},
        {"name": "Off", "url": "https://off.example/h", "events": ["ticket.closed"], "is_active": false},
        {"name": "CRM", "url": "https://crm2.example/h", "events": ["order.created"]}
    ]);
    live["team"] = json!([
        {"name": "Layla", "email": "Layla@Example.com", "role": "admin"},
        {"name": "Sam", "email": "sam@example.com", "role": "agent", "status": "inactive"}
    ]);
    live["campaigns"] = json!([
        {"name": "Draft", "channel_id": 5, "message": "Hi!", "list_ids": [1, 2], "contact_ids": [9, 3]},
        {"name": "Running", "status": "running", "channel_id": 6, "message": "Go\nnow", "segment_ids": [7], "is_new_number": true},
        {"name": "Done", "status": "completed", "channel_id": 5, "message": "Bye", "list_ids": [2]},
        {"name": "Stopped", "status": "cancelled", "channel_id": 5, "message": "No", "list_ids": [2]}
    ]);
    live
}

#[tokio::test]
async fn a_rich_account_round_trips_to_no_changes() {
    let (out, plan) = round_trip(rich_account(), "rich").await;
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    // Only the document entry stays out of management.
    assert_eq!(plan.unmanaged.len(), 1);
    assert_eq!(plan.unmanaged[0].key, "Manual");
    let agents = std::fs::read_to_string(out.join("agents.yaml")).unwrap();
    assert!(agents.starts_with("# yaml-language-server: $schema=./manifest.schema.json\n"));
    assert!(agents.contains("prompts:\n  shared-1: Shared style.\n"), "{agents}");
    assert_eq!(agents.matches("personality_prompt:\n    prompt: shared-1\n").count(), 2, "{agents}");
    assert!(agents.contains("- id: 3\n  name: Twin\n") && agents.contains("- id: 4\n  name: Twin\n"), "{agents}");
    assert!(
        agents.contains("# 2 live agents share the name `Twin`: each is pinned to its own id (ids 3, 4)"),
        "{agents}"
    );
    assert!(agents.contains("system_prompt:\n    file: agents/sales-system.md\n"), "{agents}");
    let team = std::fs::read_to_string(out.join("team.yaml")).unwrap();
    assert!(team.contains("No password") && !team.contains("  password:"), "{team}");
    let kb = std::fs::read_to_string(out.join("knowledge_base.yaml")).unwrap();
    assert!(kb.contains("# not exported: knowledge entry \"Manual\" (id 5, type document)"), "{kb}");
    let campaigns = std::fs::read_to_string(out.join("campaigns.yaml")).unwrap();
    assert!(
        campaigns.contains("lists:\n    - Q1 Leads\n    - VIP\n") && campaigns.contains("state: running"),
        "{campaigns}"
    );
    let hooks = std::fs::read_to_string(out.join("webhooks.yaml")).unwrap();
    assert!(!hooks.contains("whsec_"), "no secrets");
}

/// What the API holds but a manifest is stricter about: export either writes it so that it validates and
/// plans no changes, or leaves it out with a warning naming the object.
#[tokio::test]
async fn odd_live_values_export_to_manifests_that_validate_or_are_left_out_by_name() {
    let mut live = common::lookups();
    live["agents"] = json!([
        {"name": "Blank", "system_prompt": "   "},
        {"name": "Twin\nwebhooks:\n  - name: injected", "system_prompt": "a"},
        {"name": "Twin\nwebhooks:\n  - name: injected", "system_prompt": "b"},
        {"name": "Hidden\nwebhooks: [{name: injected}]", "system_prompt": ""},
        {"name": "Empty", "system_prompt": ""},
        {"name": "Merge", "system_prompt": "p", "response_guidelines": {"<<": "merge-looking key", "*alias": "&anchor", "on": "no"}},
        {"name": "Cafe\u{301} Bot", "system_prompt": "Indented:\n    code\n", "instruction_prompt": "\n\nleading blank lines"},
        {"name": "Esc \u{1b}[1A\u{1b}[2K", "system_prompt": "bidi \u{202e}txet"}
    ]);
    live["webhooks"] = json!([
        {"name": "Tags", "url": "https://crm.example/h", "events": ["contact.tagged", "message.sent"]}
    ]);
    let mut config = SandboxConfig { rate_limit: 100_000, ..test_config() };
    config.quirks.extra_events = vec!["contact.tagged".into()];
    let ((out, plan), skipped) = round_trip_with(live, "odd", config).await;
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert!(skipped.iter().any(|s| s.contains("agent \"Blank\" (id 1) has a blank system prompt")), "{skipped:?}");
    assert!(skipped.iter().any(|s| s.contains("agent \"Empty\" (id 5)")), "{skipped:?}");
    let agents = std::fs::read_to_string(out.join("agents.yaml")).unwrap();
    assert!(agents.contains("'<<': merge-looking key"), "quoted, so it is not a merge key:\n{agents}");
    assert!(!agents.contains("\nwebhooks:"), "a name in a comment stays on its line:\n{agents}");
    assert!(agents.contains("# not exported: agent \"Hidden\\nwebhooks: [{name: injected}]\""), "{agents}");
    let hooks = std::fs::read_to_string(out.join("webhooks.yaml")).unwrap();
    assert!(hooks.contains("contact.tagged"), "{hooks}");
    // And validate agrees from the command line: the unknown event is only a warning offline.
    let v = Command::new(BIN).args(["validate"]).arg(&out).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    assert!(String::from_utf8_lossy(&v.stderr).contains("warning: event `contact.tagged`"));
}

fn files_of(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_command_line_exports_deterministically_and_refuses_a_non_empty_folder() {
    let work = tempdir("cli");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("sandbox.json"), rich_account().to_string()).unwrap();
    let run = |out: &str, extra: &[&str]| {
        Command::new(BIN)
            .args(["export", "--sandbox", "--seed", "sandbox.json", "--out", out])
            .args(extra)
            .current_dir(&work)
            .output()
            .unwrap()
    };
    let first = run("one", &[]);
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(err.contains("\"Manual\" (id 5, type document) is created by file upload"), "said on stderr: {err}");
    assert!(run("two", &[]).status.success());
    assert_eq!(files_of(&work.join("one")), files_of(&work.join("two")), "exporting twice gives identical files");
    let again = run("one", &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
    assert!(run("one", &["--force"]).status.success());
    assert_eq!(files_of(&work.join("one")), files_of(&work.join("two")));
    // Only some kinds.
    let only = run("three", &["--kinds", "webhooks,team"]);
    assert!(only.status.success());
    let names: Vec<String> = files_of(&work.join("three")).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["manifest.schema.json", "team.yaml", "webhooks.yaml"]);
    // And the export validates from the command line.
    let v = Command::new(BIN).args(["validate", "one"]).current_dir(&work).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

// ------------------------------------------------------------------ generated accounts

const EVENTS: &[&str] =
    &["contact.created", "contact.updated", "message.sent", "message.received", "ticket.closed", "order.created"];

fn text() -> impl Strategy<Value = String> {
    // Texts with the characters that break naive YAML writers: colons, hashes, quotes, $, braces, newlines,
    // leading dashes, Arabic.
    proptest::collection::vec(
        prop_oneof![
            Just("word".to_string()),
            Just(": ".to_string()),
            Just(" #".to_string()),
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("$".to_string()),
            Just("${X}".to_string()),
            Just("{".to_string()),
            Just("\n".to_string()),
            Just("- ".to_string()),
            Just("مرحبا".to_string()),
            Just("true".to_string()),
            Just("42".to_string()),
            Just(" ".to_string()),
        ],
        1..12,
    )
    .prop_map(|parts| parts.concat())
    .prop_filter("the API requires some text", |s| !s.trim().is_empty())
}

fn name() -> impl Strategy<Value = String> {
    text()
        .prop_map(|s| s.replace('\n', " ").trim().to_string())
        .prop_filter("names are not empty", |s| !s.is_empty() && s.chars().count() <= 255)
}

fn account() -> impl Strategy<Value = Value> {
    let agent = (
        name(),
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        any::<bool>(),
        proptest::collection::btree_map("[a-z_]{1,8}", name(), 0..3),
    );
    let hook = (name(), proptest::sample::subsequence(EVENTS, 1..4), any::<bool>(), 0u32..1000);
    let member = (name(), any::<bool>(), any::<bool>());
    let entry = (name(), text(), 0u8..3);
    let campaign = (name(), text(), 0usize..5, any::<bool>());
    (
        proptest::collection::vec(agent, 0..4),
        proptest::collection::vec(hook, 0..4),
        proptest::collection::vec(member, 0..4),
        proptest::collection::vec(entry, 0..4),
        proptest::collection::vec(campaign, 0..3),
    )
        .prop_map(|(agents, hooks, members, entries, campaigns)| {
            let mut live = common::lookups();
            live["agents"] = json!(agents
                .iter()
                .enumerate()
                .map(|(i, (n, sp, ip, pp, active, g))| json!({
                    "name": n, "system_prompt": sp, "instruction_prompt": ip, "personality_prompt": pp,
                    "is_active": active, "is_default": i == 0, "response_guidelines": g
                }))
                .collect::<Vec<_>>());
            live["webhooks"] = json!(hooks
                .iter()
                .map(|(n, ev, active, path)| json!({"name": n, "url": format!("https://h.example/{path}"), "events": ev, "is_active": active}))
                .collect::<Vec<_>>());
            live["team"] = json!(members
                .iter()
                .enumerate()
                .map(|(i, (n, admin, active))| json!({
                    "name": n, "email": format!("user{i}@example.com"), "role": if *admin { "admin" } else { "agent" },
                    "status": if *active { "active" } else { "inactive" }
                }))
                .collect::<Vec<_>>());
            live["knowledge_base"] = json!(entries
                .iter()
                .enumerate()
                .map(|(i, (t, body, kind))| match kind {
                    0 => json!({"title": t, "type": "text", "content": body, "description": body}),
                    1 => json!({"title": t, "type": "website", "url": format!("https://site{i}.example/")}),
                    _ => json!({"title": t, "type": "product_catalog", "products": [{"name": t, "price": i as f64 + 0.5, "sku": body}]}),
                })
                .collect::<Vec<_>>());
            let statuses = ["draft", "running", "paused", "completed", "cancelled"];
            live["campaigns"] = json!(campaigns
                .iter()
                .map(|(n, msg, status, new)| json!({
                    "name": n, "status": statuses[*status], "channel_id": 5, "message": msg, "list_ids": [1], "is_new_number": new
                }))
                .collect::<Vec<_>>());
            live
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_accounts_round_trip_to_no_changes(live in account()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (_, plan) = rt.block_on(round_trip(live.clone(), "prop"));
        prop_assert!(plan.changes.is_empty(), "{:#?}\naccount: {}", plan.changes, live);
    }
}

// ------------------------------------------------------------------ any key, any value

/// Any text at all: control characters, line breaks of every kind, quotes, `$`, YAML's reserved words in
/// both versions (`no`, `on`, `<<`, `12:30`, `1_000`, `2026-03-04`, `.inf`, `=`), leading and trailing space.
fn anything() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        2 => proptest::sample::select(vec![
            "<<", "no", "On", "y", "N", "yes", "off", "12:30", "1_000", "2026-03-04", "2026-03-04T10:00:00Z", ".inf",
            "-.Inf", ".NaN", "=", "~", "null", "true", "False", "0x1f", "0o17", "1e3", "+1", "- item", "? key", "&a", "*a",
            "!tag", "|", ">", "%", "@", "`", "#", "a: b", "a #b", " lead", "trail ", "${X}", "$$", "$", "\u{feff}x",
            "\u{2028}", "\u{85}", "tab\there", "\r\n", "\n\n", "x\n", "\u{1b}[2K",
        ]).prop_map(str::to_string),
        2 => proptest::collection::vec(prop_oneof![Just("\n".to_string()), Just(" ".to_string()), "[a-z<>:#'\"$=-]{0,4}"], 0..6).prop_map(|v| v.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever a live account holds in names, keys and values, the YAML export writes reads back, through
    /// skyform's own manifest reader, as exactly the same strings.
    #[test]
    fn export_yaml_reads_back_any_key_and_value(
        name in anything().prop_filter("a name", |s| !s.trim().is_empty() && s.chars().count() <= 255),
        prompt in anything().prop_filter("a prompt", |s| !s.trim().is_empty()),
        guidelines in proptest::collection::btree_map(anything(), anything(), 0..6),
    ) {
        let agent = serde_yaml::to_value(serde_json::json!({
            "name": name, "system_prompt": prompt, "response_guidelines": guidelines,
        })).unwrap();
        let mut doc = serde_yaml::Mapping::new();
        doc.insert("agents".into(), serde_yaml::Value::Sequence(vec![agent]));
        let text = skyform::export::to_yaml(&serde_yaml::Value::Mapping(doc));
        let dir = tempdir("anything");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("agents.yaml"), &text).unwrap();
        let set = manifest::load(std::slice::from_ref(&dir), &|_| None)
            .unwrap_or_else(|p| panic!("{}\n---\n{text}", p.render()));
        let back = &set.agents[0];
        prop_assert_eq!(&back.name, &name, "{}", text);
        prop_assert_eq!(back.system_prompt.as_ref().and_then(|t| t.value()), Some(prompt.as_str()), "{}", text);
        let got: std::collections::BTreeMap<String, String> =
            back.response_guidelines.clone().unwrap_or_default().into_iter().collect();
        prop_assert_eq!(got, guidelines, "{}", text);
    }
}
