//! `plan` end to end against the sandbox, written as scenarios: these manifests, this live account →
//! this plan (and these requests).

use crate::common;

use common::{seed, test_config};
use serde_json::{json, Value};
use skyform::api::{ApiConfig, ApiKey, ReadClient};
use skyform::manifest;
use skyform::plan::{build, Change, Op, Plan, PlanError, PlanOptions, Target};
use skyform::render::{self, Format};
use skyform::resources::Kind;
use skyform::sandbox::{LoggedRequest, Sandbox, SandboxConfig};
use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_skyform");

/// These manifests, this live account.
struct Scenario {
    dir: PathBuf,
    live: Value,
    options: PlanOptions,
}

struct Outcome {
    result: Result<Plan, PlanError>,
    requests: Vec<LoggedRequest>,
}

impl Outcome {
    fn plan(&self) -> &Plan {
        match &self.result {
            Ok(p) => p,
            Err(PlanError::Problems(p)) => panic!("plan failed:\n{}", p.render()),
            Err(PlanError::Api(e)) => panic!("plan failed: {e}"),
        }
    }

    /// `op kind key [action]` per change, in plan order.
    fn lines(&self) -> Vec<String> {
        self.plan()
            .changes
            .iter()
            .map(|c| {
                let op = format!("{:?}", c.op).to_lowercase();
                match &c.action {
                    Some(a) => format!("{op} {} {} {a}", c.kind.as_str(), c.key),
                    None => format!("{op} {} {}", c.kind.as_str(), c.key),
                }
            })
            .collect()
    }

    fn change(&self, key: &str) -> &Change {
        self.plan().changes.iter().find(|c| c.key == key).unwrap_or_else(|| panic!("no change for {key}"))
    }

    fn request_lines(&self) -> Vec<String> {
        self.requests.iter().map(|r| r.line()).collect()
    }
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skyform-plan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Scenario {
    fn new(name: &str) -> Self {
        Scenario { dir: tempdir(name), live: json!({}), options: PlanOptions::default() }
    }

    fn manifest(self, file: &str, yaml: &str) -> Self {
        let path = self.dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, yaml).unwrap();
        self
    }

    fn live(mut self, v: Value) -> Self {
        self.live = v;
        self
    }

    fn options(mut self, f: impl FnOnce(&mut PlanOptions)) -> Self {
        f(&mut self.options);
        self
    }

    async fn plan(self) -> Outcome {
        let config = SandboxConfig { rate_limit: 100_000, ..test_config() };
        let sandbox = Sandbox::start(config, seed(self.live)).await.unwrap();
        let set =
            manifest::load(std::slice::from_ref(&self.dir), &|_| None).unwrap_or_else(|p| panic!("{}", p.render()));
        let client = ReadClient::new(ApiConfig::new(sandbox.url(), ApiKey::new(sandbox.api_key()))).unwrap();
        let result = build(&set, &client, &self.options).await;
        Outcome { result, requests: sandbox.requests() }
    }
}

fn lookups() -> Value {
    common::lookups()
}

#[tokio::test]
async fn a_matching_account_plans_no_changes_and_reads_only_lists() {
    let mut live = lookups();
    live["agents"] = json!([{"name": "Sales", "system_prompt": "Sell.", "is_default": true}]);
    live["webhooks"] =
        json!([{"name": "CRM", "url": "https://crm.test", "events": ["contact.created", "message.sent"]}]);
    let out = Scenario::new("nochange")
        .manifest("a.yaml", "agents:\n  - name: Sales\n    is_default: true\n    system_prompt: \"Sell.\\n\"\nwebhooks:\n  - name: CRM\n    url: https://crm.test\n    events: [message.sent, contact.created]\n")
        .live(live)
        .plan()
        .await;
    assert!(out.plan().changes.is_empty(), "{:?}", out.lines());
    // The event catalogue is read whenever webhooks are declared: event names are checked against it.
    assert_eq!(out.request_lines(), ["GET /api/v1/webhooks/events", "GET /api/v1/ai-agents", "GET /api/v1/webhooks"]);
    assert!(out.requests.iter().all(|r| r.method == "GET"));
}

#[tokio::test]
async fn the_default_agent_is_switched_before_the_old_one_is_deleted() {
    let out = Scenario::new("default")
        .manifest(
            "a.yaml",
            "agents:\n  - name: New\n    is_default: true\n    system_prompt: p\n  - name: Old\n    ensure: absent\n",
        )
        .live(json!({"agents": [{"name": "Old", "system_prompt": "p", "is_default": true}]}))
        .plan()
        .await;
    assert_eq!(out.lines(), ["create agents New", "action agents New set-default", "delete agents Old"]);
    // Without a new default, deleting the default is refused, not attempted.
    let out = Scenario::new("default2")
        .manifest("a.yaml", "agents:\n  - name: Old\n    ensure: absent\n")
        .live(json!({"agents": [{"name": "Old", "system_prompt": "p", "is_default": true}]}))
        .plan()
        .await;
    assert_eq!(out.lines(), ["refused agents Old"]);
    assert!(out.change("Old").reason.as_ref().unwrap().contains("is_default: true"));
}

#[tokio::test]
async fn campaign_lifecycle_edits_and_refusals() {
    let mut live = lookups();
    live["campaigns"] = json!([
        {"name": "Draft to run", "channel_id": 5, "message": "Hi", "list_ids": [1]},
        {"name": "Running, edited", "status": "running", "channel_id": 5, "message": "Hi", "list_ids": [1]},
        {"name": "Running to pause", "status": "running", "channel_id": 5, "message": "Hi", "list_ids": [1]},
        {"name": "Completed", "status": "completed", "channel_id": 5, "message": "Hi", "list_ids": [1]},
        {"name": "Back to draft", "status": "paused", "channel_id": 5, "message": "Hi", "list_ids": [1]},
        {"name": "Delete while running", "status": "running", "channel_id": 5, "message": "Hi", "list_ids": [1]}
    ]);
    let c = |name: &str, state: &str, message: &str| {
        format!("  - name: {name}\n    channel: whatsapp\n    audience: {{lists: [Q1 Leads]}}\n    message: {message}\n    state: {state}\n")
    };
    let yaml = format!(
        "campaigns:\n{}{}{}{}{}{}  - name: Delete while running\n    ensure: absent\n",
        c("Draft to run", "running", "Hello"),
        c("Running, edited", "running", "Changed"),
        c("Running to pause", "paused", "Hi"),
        c("Completed", "running", "Hi"),
        c("Back to draft", "draft", "Hi"),
        c("Brand new", "paused", "Hi"),
    );
    let out = Scenario::new("campaigns").manifest("c.yaml", &yaml).live(live).plan().await;
    assert_eq!(
        out.lines(),
        [
            "update campaigns Draft to run",
            "action campaigns Draft to run start",
            "refused campaigns Running, edited",
            "action campaigns Running to pause pause",
            "refused campaigns Back to draft",
            "create campaigns Brand new",
            "action campaigns Brand new start",
            "action campaigns Brand new pause",
            "refused campaigns Delete while running",
        ]
    );
    assert_eq!(
        out.change("Running, edited").reason.as_deref(),
        Some("campaign Running, edited is running: message cannot change; cancel it and create a new campaign")
    );
    // Lists are resolved by name; campaigns and lookups need exactly these reads.
    assert!(out.request_lines().contains(&"GET /api/v1/contacts/lists".to_string()));
}

#[tokio::test]
async fn the_delete_guard_blocks_large_prunes_unless_allowed() {
    let hooks: Vec<Value> =
        (0..4).map(|i| json!({"name": format!("h{i}"), "url": "https://h.test", "events": ["message.sent"]})).collect();
    let yaml = "webhooks:\n  - name: h0\n    url: https://h.test\n    events: [message.sent]\nsettings:\n  prune: [webhooks]\n";
    let out = Scenario::new("guard").manifest("w.yaml", yaml).live(json!({"webhooks": hooks.clone()})).plan().await;
    assert_eq!(out.plan().blocked, [
        "refusing to delete 3 of 4 live webhooks (75%): a plan may delete at most 25% of a kind's objects (or just one); pass --allow-deletes webhooks if this is intended"
    ]);
    let out = Scenario::new("guard2")
        .manifest("w.yaml", yaml)
        .live(json!({"webhooks": hooks}))
        .options(|o| o.allow_deletes.push(Kind::Webhooks))
        .plan()
        .await;
    assert!(out.plan().blocked.is_empty());
    assert_eq!(out.lines(), ["delete webhooks h1", "delete webhooks h2", "delete webhooks h3"]);
}

#[tokio::test]
async fn duplicate_live_names_are_an_error_that_says_how_to_pin() {
    let out = Scenario::new("dups")
        .manifest("w.yaml", "webhooks:\n  - name: CRM\n    url: https://crm.test\n    events: [message.sent]\n")
        .live(json!({"webhooks": [
            {"name": "CRM", "url": "https://a.test", "events": ["message.sent"]},
            {"name": "CRM", "url": "https://b.test", "events": ["message.sent"]}
        ]}))
        .plan()
        .await;
    let Err(PlanError::Problems(p)) = &out.result else { panic!("expected problems") };
    let text = p.render();
    assert!(text.contains("w.yaml:2:11: 2 live webhooks have name `CRM` (ids 1, 2)"), "{text}");
    assert!(
        text.contains("hint: pin this entry to the one you mean, e.g. `id: 1` (the oldest: the lowest id); the other (2) then stays unmanaged"),
        "{text}"
    );
    // Two agents: the default one is offered, whatever its id.
    let out = Scenario::new("dups-agents")
        .manifest("a.yaml", "agents:\n  - name: Sales\n    system_prompt: p\n")
        .live(json!({"agents": [
            {"name": "Sales", "system_prompt": "old"},
            {"name": "Sales", "system_prompt": "new", "is_default": true}
        ]}))
        .plan()
        .await;
    let Err(PlanError::Problems(p)) = &out.result else { panic!("expected problems") };
    assert!(p.render().contains("e.g. `id: 2` (the default agent)"), "{}", p.render());
    // Pinned, it plans.
    let out = Scenario::new("dups2")
        .manifest(
            "w.yaml",
            "webhooks:\n  - id: 2\n    name: CRM\n    url: https://crm.test\n    events: [message.sent]\n",
        )
        .live(json!({"webhooks": [
            {"name": "CRM", "url": "https://a.test", "events": ["message.sent"]},
            {"name": "CRM", "url": "https://b.test", "events": ["message.sent"]}
        ]}))
        .plan()
        .await;
    assert_eq!(out.lines(), ["update webhooks CRM"]);
    assert_eq!(out.change("CRM").id, Some(2));
}

#[tokio::test]
async fn unknown_list_names_are_located_problems_with_a_suggestion() {
    let out = Scenario::new("names")
        .manifest(
            "c.yaml",
            "campaigns:\n  - name: S\n    channel: whatsapp\n    audience: {lists: [Q1 Lead]}\n    message: Hi\n",
        )
        .live(lookups())
        .plan()
        .await;
    let Err(PlanError::Problems(p)) = &out.result else { panic!("expected problems") };
    let text = p.render();
    assert!(text.contains("c.yaml:4:24: no contact list named `Q1 Lead` in the account"), "{text}");
    assert!(text.contains("did you mean `Q1 Leads`?"), "{text}");
}

#[tokio::test]
async fn targets_narrow_reads_and_changes() {
    let out = Scenario::new("target")
        .manifest(
            "a.yaml",
            "agents:\n  - name: A\n    system_prompt: p\nwebhooks:\n  - name: W\n    url: https://w.test\n    events: [message.sent]\n  - name: X\n    url: https://x.test\n    events: [message.sent]\n",
        )
        .options(|o| o.targets.push(Target::parse("webhooks/W").unwrap()))
        .plan()
        .await;
    assert_eq!(out.lines(), ["create webhooks W"]);
    assert_eq!(out.request_lines(), ["GET /api/v1/webhooks/events", "GET /api/v1/webhooks"]);
}

/// Rotation is an act: `--rotate webhooks/W` plans one `regenerate-secret`, after the webhook's other
/// changes; an unknown name is an error naming the closest; a new webhook needs none.
#[tokio::test]
async fn secret_rotation_is_an_act_the_plan_shows() {
    let yaml = "webhooks:\n  - name: W\n    url: https://w.test\n    events: [message.sent]\n  - name: New\n    url: https://n.test\n    events: [message.sent]\n";
    let live = json!({"webhooks": [{"name": "W", "url": "https://old.test", "events": ["message.sent"]}]});
    let rotate = |name: &str| {
        let t = Target::parse(&format!("webhooks/{name}")).unwrap();
        move |o: &mut PlanOptions| o.rotate.push(t)
    };
    let out = Scenario::new("rot1").manifest("w.yaml", yaml).live(live.clone()).plan().await;
    assert_eq!(out.lines(), ["update webhooks W", "create webhooks New"], "no rotation unless asked");
    let out = Scenario::new("rot2").manifest("w.yaml", yaml).live(live.clone()).options(rotate("W")).plan().await;
    assert_eq!(out.lines(), ["update webhooks W", "create webhooks New", "action webhooks W regenerate-secret"]);
    let rot = &out.plan().changes[2];
    assert_eq!(rot.after, [0], "after the webhook's update");
    assert_eq!(rot.request.as_ref().unwrap().path, "/webhooks/1/regenerate-secret");
    let out = Scenario::new("rot3").manifest("w.yaml", yaml).live(live.clone()).options(rotate("New")).plan().await;
    assert_eq!(out.lines(), ["update webhooks W", "create webhooks New"], "a new webhook gets a new secret anyway");
    let out = Scenario::new("rot4").manifest("w.yaml", yaml).live(live).options(rotate("Ww")).plan().await;
    let Err(PlanError::Problems(p)) = &out.result else { panic!("expected a problem") };
    assert!(p.render().contains("--rotate: no webhook named `Ww` in the account"), "{}", p.render());
    assert!(p.render().contains("did you mean `W`?"), "{}", p.render());
    // The manifest field of old is refused with a message that says what to do.
    let old =
        "webhooks:\n  - name: W\n    url: https://w.test\n    events: [message.sent]\n    rotate_secret: \"2026-12\"\n";
    let dir = tempdir("rot-old");
    std::fs::write(dir.join("w.yaml"), old).unwrap();
    let err = manifest::load(&[dir], &|_| None).unwrap_err().render();
    assert!(
        err.contains("`rotate_secret` is no longer a manifest field") && err.contains("skyform rotate webhooks/W"),
        "{err}"
    );
}

/// The acme example against its drifted sandbox account: every change type and a long prompt edit, in all
/// three renderers (fingerprints vary with the sandbox's clock and are masked).
#[tokio::test]
async fn renderers_over_the_acme_scenario() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let store = skyform::sandbox::Store::load(&root.join("examples/acme/sandbox.json")).unwrap();
    let sandbox = Sandbox::start(SandboxConfig { rate_limit: 100_000, ..test_config() }, store).await.unwrap();
    let set = manifest::load(&[PathBuf::from("examples/acme")], &|_| None).unwrap();
    let client = ReadClient::new(ApiConfig::new(sandbox.url(), ApiKey::new(sandbox.api_key()))).unwrap();
    let plan = build(&set, &client, &PlanOptions::default()).await.unwrap();
    for op in [Op::Create, Op::Update, Op::Delete, Op::Action] {
        assert!(plan.changes.iter().any(|c| c.op == op), "the scenario has a {op:?}");
    }
    // Refusals have their own example, next to the happy path.
    let refusals = {
        let store = skyform::sandbox::Store::load(&root.join("examples/refusals/sandbox.json")).unwrap();
        let sandbox = Sandbox::start(SandboxConfig { rate_limit: 100_000, ..test_config() }, store).await.unwrap();
        let set = manifest::load(&[PathBuf::from("examples/refusals")], &|_| None).unwrap();
        let client = ReadClient::new(ApiConfig::new(sandbox.url(), ApiKey::new(sandbox.api_key()))).unwrap();
        build(&set, &client, &PlanOptions::default()).await.unwrap()
    };
    assert_eq!(refusals.changes.iter().filter(|c| c.op == Op::Refused).count(), 3);
    insta::assert_snapshot!("plan_refusals_human", render::render(&refusals, Format::Human, false));
    insta::assert_snapshot!("plan_refusals_markdown", render::render(&refusals, Format::Markdown, false));
    insta::assert_snapshot!("plan_human", render::render(&plan, Format::Human, false));
    insta::assert_snapshot!("plan_markdown", render::render(&plan, Format::Markdown, false));
    let mut json: Value = serde_json::from_str(&render::render(&plan, Format::Json, false)).unwrap();
    for c in json["changes"].as_array_mut().unwrap() {
        if c.get("fingerprint").is_some() {
            c["fingerprint"] = json!("[fingerprint]");
        }
    }
    insta::assert_snapshot!("plan_json", serde_json::to_string_pretty(&json).unwrap());

    // The JSON output follows the checked-in schema, and the schema is current.
    let schema_text = std::fs::read_to_string(root.join("schemas/plan.schema.json")).unwrap();
    assert_eq!(
        schema_text,
        skyform::plan::plan_schema(),
        "schemas/plan.schema.json is stale: run `cargo run -- schema --plan > schemas/plan.schema.json`"
    );
    let schema: Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let output: Value = serde_json::from_str(&render::json(&plan)).unwrap();
    let errors: Vec<String> = validator.iter_errors(&output).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // A saved plan reads back as the same plan.
    let back: Plan = serde_json::from_str(&render::json(&plan)).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn markdown_stays_under_60000_characters() {
    let change = |i: usize| Change {
        kind: Kind::KnowledgeBase,
        key: format!("Entry {i}"),
        id: Some(i as u64),
        op: Op::Update,
        action: None,
        fields: vec![skyform::plan::FieldChange {
            field: "content".into(),
            old: Some(json!("old line\n".repeat(40))),
            new: Some(json!("new line\n".repeat(40))),
            sensitive: false,
        }],
        reason: None,
        origin: Some(format!("kb.yaml:{i}")),
        fingerprint: None,
        request: None,
        after: vec![],
        drift: i % 2 == 1,
    };
    for n in [10, 300, 5000] {
        let mut plan = Plan {
            format_version: skyform::plan::FORMAT_VERSION,
            manifest_digest: "x".into(),
            changes: (0..n).map(change).collect(),
            unmanaged: vec![],
            blocked: vec![],
            summary: Default::default(),
            paths: vec![],
            notes: vec![],
            // Split as `plan --base` does: both sections and the resolved list stay inside the limit too.
            base: Some(skyform::plan::base::BaseSplit {
                git_ref: "origin/main".into(),
                commit: "0".repeat(40),
                pull_request: n.div_ceil(2),
                drift: n / 2,
                resolved: (0..n).map(|i| format!("update agent \"A{i}\" (id {i})")).collect(),
            }),
        };
        plan.summarize(96);
        let md = render::markdown::render(&plan);
        assert!(md.len() <= render::markdown::LIMIT, "{n} changes: {} characters", md.len());
        assert!(md.contains(&format!("| 0 | {n} | 0 |")), "the summary table is always there");
    }
}

/// 1,000 live objects of every kind, manifests that match them: the plan reads exactly the list pages plus
/// the single GETs for bodies the lists lack, and reports no changes (exit 0 with --detailed-exitcode).
/// A generated 1,000-object account and manifests that match it exactly: (live, manifests, counts of
/// knowledge entries, team members and campaigns).
fn thousand_object_account() -> (Value, String, (usize, usize, usize)) {
    let (agents, kb, hooks, team, campaigns) = (150, 300, 150, 250, 150);
    let mut live = lookups();
    live["agents"] = json!((0..agents)
        .map(|i| json!({"name": format!("Agent {i}"), "system_prompt": format!("Prompt {i}"), "is_default": i == 0}))
        .collect::<Vec<_>>());
    live["knowledge_base"] = json!((0..kb)
        .map(|i| json!({"title": format!("Entry {i}"), "type": "text", "content": format!("Body {i}")}))
        .collect::<Vec<_>>());
    live["webhooks"] = json!((0..hooks).map(|i| json!({"name": format!("Hook {i}"), "url": format!("https://h.test/{i}"), "events": ["message.sent", "contact.created"]})).collect::<Vec<_>>());
    live["team"] = json!((0..team)
        .map(|i| json!({"name": format!("Member {i}"), "email": format!("m{i}@a.test"), "role": "agent"}))
        .collect::<Vec<_>>());
    live["campaigns"] = json!((0..campaigns).map(|i| json!({"name": format!("Campaign {i}"), "channel_id": 5, "message": format!("Hello {i}"), "list_ids": [1]})).collect::<Vec<_>>());
    live["subscription"] = json!({"team_members_max": 1000, "campaigns_max": 1000});
    let mut yaml = String::from("agents:\n");
    for i in 0..agents {
        yaml.push_str(&format!(
            "  - name: Agent {i}\n    system_prompt: Prompt {i}\n{}",
            if i == 0 { "    is_default: true\n" } else { "" }
        ));
    }
    yaml.push_str("knowledge_base:\n");
    for i in 0..kb {
        yaml.push_str(&format!("  - title: Entry {i}\n    type: text\n    content: Body {i}\n"));
    }
    yaml.push_str("webhooks:\n");
    for i in 0..hooks {
        yaml.push_str(&format!(
            "  - name: Hook {i}\n    url: https://h.test/{i}\n    events: [contact.created, message.sent]\n"
        ));
    }
    yaml.push_str("team:\n");
    for i in 0..team {
        yaml.push_str(&format!("  - email: m{i}@a.test\n    name: Member {i}\n    role: agent\n"));
    }
    yaml.push_str("campaigns:\n");
    for i in 0..campaigns {
        yaml.push_str(&format!("  - name: Campaign {i}\n    channel: whatsapp\n    audience: {{lists: [Q1 Leads]}}\n    message: Hello {i}\n"));
    }
    (live, yaml, (kb, team, campaigns))
}

#[tokio::test]
async fn a_thousand_object_account_costs_exactly_the_lower_bound_of_requests() {
    let dir = tempdir("thousand");
    let (live, yaml, (kb, team, campaigns)) = thousand_object_account();
    std::fs::write(dir.join("account.yaml"), &yaml).unwrap();

    let sandbox = Sandbox::start(SandboxConfig { rate_limit: 100_000, ..test_config() }, seed(live)).await.unwrap();
    let set = manifest::load(std::slice::from_ref(&dir), &|_| None).unwrap();
    let client = ReadClient::new(ApiConfig::new(sandbox.url(), ApiKey::new(sandbox.api_key()))).unwrap();
    let plan = build(&set, &client, &PlanOptions::default()).await.unwrap();
    assert!(plan.changes.is_empty(), "{:?}", plan.changes.first());
    let log = sandbox.requests();
    let pages = |n: usize| n.div_ceil(100);
    let lists = 1 + pages(kb) + 1 + pages(team) + pages(campaigns); // agents and webhooks are unpaginated
    let lookups = 3; // channels, contact lists, the webhook event catalogue
    let details = kb + campaigns; // bodies and messages the lists lack
    assert_eq!(log.len(), lists + lookups + details, "requests: {}", log.len());
    assert_eq!(log.iter().filter(|r| r.path.starts_with("/api/v1/knowledge-base/")).count(), kb);
    assert!(log.iter().all(|r| r.method == "GET" && r.status == 200));
}

#[test]
fn matching_manifests_exit_0_with_detailed_exitcode() {
    let dir = tempdir("match-cli");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/minimal/skyform.yaml"),
        dir.join("skyform.yaml"),
    )
    .unwrap();
    let live = json!({
        "agents": [{"name": "Assistant", "is_default": true, "system_prompt": "You are a helpful assistant for our shop. Answer briefly."}],
        "webhooks": [{"name": "CRM", "url": "https://crm.example.com/skylight", "events": ["message.received", "contact.created"]}]
    });
    std::fs::write(dir.join("sandbox.json"), live.to_string()).unwrap();
    let out = Command::new(BIN)
        .args(["plan", "--sandbox", "--detailed-exitcode"])
        .arg(&dir)
        .env_remove("SKYFORM_VAR_CRM_WEBHOOK_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "No changes: the account matches the manifests.\n");
}

#[test]
fn the_command_line_exits_2_for_changes_and_saves_a_plan_without_secrets() {
    let dir = tempdir("cli");
    let out_file = dir.join("plan.json");
    let out = Command::new(BIN)
        .args(["plan", "--sandbox", "examples/acme", "--detailed-exitcode", "--color", "always", "--out"])
        .arg(&out_file)
        .env("SKYFORM_SECRET_HANA_INITIAL_PASSWORD", "Sup3r-Secret-Passw0rd")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    // acme is the happy path: changes, every one of which can be applied.
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\x1b[32m+\x1b[0m"), "--color always colours");
    assert!(stdout.contains("password: (sensitive)"));
    let saved = std::fs::read_to_string(&out_file).unwrap();
    for text in [&saved, &stdout.to_string(), &String::from_utf8_lossy(&out.stderr).to_string()] {
        assert!(!text.contains("Sup3r-Secret-Passw0rd"));
    }
    let plan: Plan = serde_json::from_str(&saved).unwrap();
    assert!(plan.changes.iter().filter(|c| c.op != Op::Create).all(|c| c.fingerprint.is_some()));
    // NO_COLOR and a pipe: no colour.
    let out = Command::new(BIN)
        .args(["plan", "--sandbox", "examples/acme", "--format", "markdown"])
        .env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // The refusals example fails the check with 3: apply after the merge would refuse it.
    let out = Command::new(BIN)
        .args(["plan", "--sandbox", "examples/refusals", "--detailed-exitcode"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
}

#[test]
fn a_blocked_plan_exits_3_naming_the_flag() {
    let dir = tempdir("blocked");
    std::fs::write(dir.join("w.yaml"), "webhooks:\n  - name: h0\n    url: https://h.test\n    events: [message.sent]\nsettings:\n  prune: [webhooks]\n").unwrap();
    let hooks: Vec<Value> =
        (0..4).map(|i| json!({"name": format!("h{i}"), "url": "https://h.test", "events": ["message.sent"]})).collect();
    std::fs::write(dir.join("sandbox.json"), json!({"webhooks": hooks}).to_string()).unwrap();
    let run = |extra: &[&str]| Command::new(BIN).args(["plan", "--sandbox"]).args(extra).arg(&dir).output().unwrap();
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(3), "3: the plan cannot be applied as it is");
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --allow-deletes webhooks"));
    let out = run(&["--allow-deletes", "webhooks"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Lookups are read once per run, and only for kinds in scope: targeting agents reads no channel, list or
/// segment, though the manifests have campaigns.
#[tokio::test]
async fn a_plan_targeted_at_agents_reads_no_lookups() {
    let mut live = lookups();
    live["agents"] = json!([{"name": "A", "system_prompt": "p"}]);
    let out = Scenario::new("target-lookups")
        .manifest("a.yaml", "agents:\n  - name: A\n    system_prompt: q\ncampaigns:\n  - name: C\n    channel: whatsapp\n    audience: {lists: [Q1 Leads], segments: [Active last 30 days]}\n    message: Hi\n")
        .live(live.clone())
        .options(|o| o.targets.push(Target::parse("agents").unwrap()))
        .plan()
        .await;
    assert_eq!(out.request_lines(), ["GET /api/v1/ai-agents"]);
    // Untargeted, each lookup is read exactly once.
    let out = Scenario::new("all-lookups")
        .manifest("a.yaml", "agents:\n  - name: A\n    system_prompt: q\ncampaigns:\n  - name: C\n    channel: whatsapp\n    audience: {lists: [Q1 Leads], segments: [Active last 30 days]}\n    message: Hi\n")
        .live(live)
        .plan()
        .await;
    for lookup in ["/api/v1/account/channels", "/api/v1/contacts/lists", "/api/v1/contacts/segments"] {
        assert_eq!(out.requests.iter().filter(|r| r.path == lookup).count(), 1, "{lookup}");
    }
}

// ------------------------------------------------------------------ listings that are not one snapshot

/// 150 members, all declared: a member missed by a listing would be planned as a create (a duplicate).
fn team_of(n: usize) -> (Value, String) {
    let members: Vec<Value> =
        (0..n).map(|i| json!({"name": format!("M{i}"), "email": format!("m{i}@a.test"), "role": "agent"})).collect();
    let mut yaml = "team:\n".to_string();
    for i in 0..n {
        yaml.push_str(&format!("  - email: m{i}@a.test\n    name: M{i}\n    role: agent\n"));
    }
    (json!({"team": members}), yaml)
}

/// Starts a plan of `yaml` against `live` whose page 1 of `/team` answers at once and whose later pages
/// wait, `tries` times; `mutate` runs on the store after each page 1 is served. Returns the plan.
async fn plan_while_the_list_moves(
    name: &str,
    live: Value,
    yaml: &str,
    tries: usize,
    mutate: impl Fn(&mut skyform::sandbox::Store, usize) + Send + 'static,
) -> (Result<Plan, PlanError>, Vec<LoggedRequest>) {
    use skyform::sandbox::faults::FaultRule;
    let dir = tempdir(name);
    std::fs::write(dir.join("a.yaml"), yaml).unwrap();
    let sandbox = std::sync::Arc::new(
        Sandbox::start(SandboxConfig { rate_limit: 100_000, ..test_config() }, seed(live)).await.unwrap(),
    );
    for _ in 0..tries {
        sandbox.add_fault(FaultRule::delay("GET", "/api/v1/team", 0, 1)).unwrap();
        sandbox.add_fault(FaultRule::delay("GET", "/api/v1/team", 1500, 1)).unwrap();
    }
    let set = manifest::load(&[dir], &|_| None).unwrap();
    let client = ReadClient::new(ApiConfig::new(sandbox.url(), ApiKey::new(sandbox.api_key()))).unwrap();
    let watcher = sandbox.clone();
    let mover = tokio::spawn(async move {
        for k in 1..=tries {
            // Page 1 of read k has been served (the log has it): change the account before page 2 answers.
            common::eventually(std::time::Duration::from_secs(20), || {
                let n = watcher.requests().iter().filter(|r| r.line() == "GET /api/v1/team").count();
                async move { (n >= 2 * k - 1).then_some(()) }
            })
            .await;
            watcher.with_store(|s| mutate(s, k));
        }
    });
    let result = build(&set, &client, &PlanOptions::default()).await;
    mover.await.unwrap();
    (result, sandbox.requests())
}

#[tokio::test]
async fn a_listing_that_moves_while_it_is_read_is_read_again_and_plans_no_duplicate() {
    // A delete on page 1 shifts member 100 onto it; an insert at the front shifts one off it. Either way
    // the second page alone would miss or repeat a member.
    let (live, yaml) = team_of(150);
    let (deleted, requests) = plan_while_the_list_moves("moved-delete", live.clone(), &yaml, 1, |s, _| {
        s.team.remove(0);
    })
    .await;
    let plan = deleted.unwrap_or_else(|e| panic!("{e:?}"));
    let creates: Vec<&str> = plan.changes.iter().filter(|c| c.op == Op::Create).map(|c| c.key.as_str()).collect();
    assert_eq!(creates, ["m0@a.test"], "only the member really deleted is created again");
    assert_eq!(requests.iter().filter(|r| r.path == "/api/v1/team").count(), 4, "both pages read twice");

    let (inserted, _) = plan_while_the_list_moves("moved-insert", live, &yaml, 1, |s, _| {
        let mut m = s.team[0].clone();
        m.id = 10_000;
        m.email = "new@a.test".into();
        s.team.insert(0, m);
    })
    .await;
    let plan = inserted.unwrap_or_else(|e| panic!("{e:?}"));
    assert!(plan.changes.is_empty(), "{:?}", plan.changes.iter().map(|c| &c.key).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_listing_that_keeps_moving_is_refused_rather_than_planned_from() {
    let (live, yaml) = team_of(150);
    let (result, requests) = plan_while_the_list_moves("moving", live, &yaml, 3, |s, k| {
        s.team.remove(k);
    })
    .await;
    match result {
        Err(PlanError::Api(e)) => {
            let msg = e.to_string();
            assert!(msg.contains("the list changed while it was read, three times in a row"), "{msg}");
            assert!(
                msg.contains("GET /team is not one snapshot") && msg.contains("page 2 says 147 items"),
                "names what moved: {msg}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(requests.iter().all(|r| r.method == "GET"));
}

/// An object deleted between the list and its detail read is planned as gone, and named.
#[tokio::test]
async fn an_object_gone_between_list_and_read_is_planned_as_absent_and_named() {
    use skyform::sandbox::faults::FaultRule;
    let mut live = lookups();
    live["knowledge_base"] = json!([
        {"title": "Returns", "type": "text", "content": "30 days."},
        {"title": "Hours", "type": "text", "content": "9 to 5."}
    ]);
    live["campaigns"] = json!([{"name": "Promo", "channel_id": 5, "message": "Hi", "list_ids": [1]}]);
    let dir = tempdir("gone");
    std::fs::write(
        dir.join("a.yaml"),
        "knowledge_base:\n  - title: Returns\n    type: text\n    content: 30 days.\n  - title: Hours\n    type: text\n    content: 9 to 5.\ncampaigns:\n  - name: Promo\n    channel: whatsapp\n    audience: {lists: [Q1 Leads]}\n    message: Hi\n",
    )
    .unwrap();
    let sandbox = Sandbox::start(SandboxConfig { rate_limit: 100_000, ..test_config() }, seed(live)).await.unwrap();
    sandbox.add_fault(FaultRule::status("GET", "/api/v1/knowledge-base/1", 404, 1)).unwrap();
    sandbox.add_fault(FaultRule::status("GET", "/api/v1/campaigns/1", 404, 1)).unwrap();
    let set = manifest::load(&[dir], &|_| None).unwrap();
    let client = ReadClient::new(ApiConfig::new(sandbox.url(), ApiKey::new(sandbox.api_key()))).unwrap();
    let plan = build(&set, &client, &PlanOptions::default()).await.unwrap_or_else(|e| panic!("{e:?}"));
    let lines: Vec<String> = plan.changes.iter().map(|c| format!("{:?} {}", c.op, c.key)).collect();
    assert_eq!(lines, ["Create Returns", "Create Promo"]);
    for what in [
        "knowledge entry `Returns` (id 1) was listed, then gone when read",
        "campaign `Promo` (id 1) was listed, then gone",
    ] {
        assert!(plan.notes.iter().any(|n| n.contains(what)), "{what}: {:?}", plan.notes);
    }
    let human = render::render(&plan, Format::Human, false);
    assert!(human.contains("was listed, then gone when read"), "{human}");
}

// ------------------------------------------------------------------ terminal control characters

/// Text from the manifests or the account can hold cursor moves, erase-line, OSC-8 links, a lone CR, C1
/// controls and bidi overrides. Human and Markdown plans show every one escaped (none can redraw a
/// reviewer's terminal or reorder a line); JSON keeps the exact values.
#[tokio::test]
async fn control_characters_from_manifests_and_the_account_are_escaped_except_in_json() {
    let hostile = [
        "up\u{1b}[1A\u{1b}[2Kerased",
        "link \u{1b}]8;;https://evil.test\u{7}click\u{1b}]8;;\u{7}",
        "lone\rCR",
        "c1 \u{9b}31m",
        "bidi \u{202e}txet\u{2066}iso\u{2069}",
        "bell\u{7} back\u{8}space",
    ];
    for (i, bad) in hostile.iter().enumerate() {
        let mut live = lookups();
        // The account's side: an agent to update whose prompt and name hold it, and one to prune.
        live["agents"] = json!([
            {"name": format!("Live {bad}"), "system_prompt": format!("old {bad}\nline two")},
            {"name": format!("Stale {bad}"), "system_prompt": "x"}
        ]);
        let yaml = format!(
            "settings:\n  prune: [agents]\nagents:\n  - name: {name}\n    system_prompt: {new}\n  - name: {created}\n    system_prompt: {new}\n",
            name = serde_json::to_string(&format!("Live {bad}")).unwrap(),
            new = serde_json::to_string(&format!("new {bad}\nline two")).unwrap(),
            created = serde_json::to_string(&format!("New {bad}")).unwrap(),
        );
        let out = Scenario::new(&format!("controls-{i}")).manifest("a.yaml", &yaml).live(live).plan().await;
        let plan = out.plan();
        assert_eq!(plan.changes.len(), 3, "{:?}", out.lines());
        for (format, color) in [(Format::Human, false), (Format::Human, true), (Format::Markdown, false)] {
            let text = render::render(plan, format, color);
            for seq in ["\u{1b}[1A", "\u{1b}[2K", "\u{1b}]8", "\r", "\u{9b}", "\u{202e}", "\u{2066}", "\u{7}", "\u{8}"]
            {
                assert!(!text.contains(seq), "{format:?} (color {color}) shows {seq:?} raw for {bad:?}:\n{text}");
            }
            if !color {
                assert!(
                    !text.chars().any(|c| c != '\n' && skyform::redact::is_unsafe_char(c)),
                    "{format:?} has a raw control for {bad:?}"
                );
            }
            assert!(text.contains("\\u{") || text.contains("\\r"), "{format:?} shows the escape: {text}");
        }
        // JSON: exact, so a machine sees what the API will.
        let json: Value = serde_json::from_str(&render::json(plan)).unwrap();
        let keys: Vec<&str> = json["changes"].as_array().unwrap().iter().map(|c| c["key"].as_str().unwrap()).collect();
        assert!(keys.contains(&format!("New {bad}").as_str()), "{keys:?}");
        assert!(render::json(plan).contains(&serde_json::to_string(&format!("Stale {bad}")).unwrap()[1..]));
    }
}

// ------------------------------------------------------------------ look-alike names

/// Natural keys compare after NFC: a decomposed `Café Bot` in the manifest is the live composed one (no
/// second agent, the default stays). Names that differ only in case or compatibility forms are not the
/// same object, and the create says so.
#[tokio::test]
async fn names_match_after_nfc_and_look_alikes_are_pointed_out() {
    let forms = [
        ("Caf\u{e9} Bot", "Cafe\u{301} Bot"),             // NFC live, NFD manifest
        ("Cafe\u{301} Bot", "Caf\u{e9} Bot"),             // and the other way round
        ("\u{212b}ngstr\u{f6}m", "\u{c5}ngstro\u{308}m"), // Angstrom sign vs letter (canonically equivalent)
        ("\u{1100}\u{1161}", "\u{ac00}"),                 // Hangul jamo vs syllable
    ];
    for (i, (live_name, declared)) in forms.iter().enumerate() {
        let mut live = lookups();
        live["agents"] = json!([{"name": live_name, "system_prompt": "p", "is_default": true}]);
        let yaml = format!("agents:\n  - name: {}\n    system_prompt: p\n    is_default: true\n", json!(declared));
        let out = Scenario::new(&format!("nfc-{i}")).manifest("a.yaml", &yaml).live(live).plan().await;
        assert!(out.plan().changes.is_empty(), "{declared:?} vs {live_name:?}: {:?}", out.lines());
    }
    for (i, (live_name, declared)) in
        [("Sales Bot", "sales bot"), ("\u{fb01}le", "file"), ("Ｓａｌｅｓ", "Sales")].iter().enumerate()
    {
        let mut live = lookups();
        live["agents"] = json!([{"name": live_name, "system_prompt": "p"}]);
        let yaml = format!("agents:\n  - name: {}\n    system_prompt: p\n", json!(declared));
        let out = Scenario::new(&format!("alike-{i}")).manifest("a.yaml", &yaml).live(live).plan().await;
        assert_eq!(out.lines(), [format!("create agents {declared}")]);
        let reason = out.change(declared).reason.clone().unwrap_or_default();
        assert!(
            reason.contains(&format!(
                "the live agent `{live_name}` (id 1) differs from this name only in letter case or Unicode form"
            )) && reason.contains("pin it with `id: 1`"),
            "{reason}"
        );
    }
    // Team members are matched by email, case-insensitively: no hint, no create.
    let out = Scenario::new("email-case")
        .manifest("t.yaml", "team:\n  - email: Layla@Example.COM\n    name: Layla\n    role: admin\n")
        .live(json!({"team": [{"name": "Layla", "email": "layla@example.com", "role": "admin"}]}))
        .plan()
        .await;
    assert!(out.plan().changes.is_empty(), "{:?}", out.lines());
}

// ------------------------------------------------------------------ bounded diffs

/// A one-word change in a 900 KB single-line prompt shows a window around the change, in both renderers.
#[tokio::test]
async fn a_one_word_change_in_a_huge_line_shows_a_bounded_window() {
    let words: Vec<String> = (0..100_000).map(|i| format!("w{i}")).collect();
    let old = words.join(" ");
    assert!(old.len() > 600_000);
    let mut new_words = words.clone();
    new_words[50_000] = "CHANGED".into();
    let new = new_words.join(" ");
    let mut live = lookups();
    live["agents"] = json!([
        {"name": "A", "system_prompt": old}, {"name": "B", "system_prompt": old}, {"name": "C", "system_prompt": old}
    ]);
    let dir_yaml = |name: &str| format!("  - name: {name}\n    system_prompt: {}\n", json!(new));
    let yaml = format!("agents:\n{}{}{}", dir_yaml("A"), dir_yaml("B"), dir_yaml("C"));
    let out = Scenario::new("huge-line").manifest("a.yaml", &yaml).live(live).plan().await;
    assert_eq!(out.plan().changes.len(), 3);
    for format in [Format::Human, Format::Markdown] {
        let text = render::render(out.plan(), format, false);
        assert!(text.len() < 8_000, "{format:?}: {} bytes", text.len());
        assert_eq!(text.matches("CHANGED").count(), 3, "{format:?} shows the change each time:\n{text}");
        assert_eq!(text.matches("w50000").count(), 3, "{format:?} shows what it replaced:\n{text}");
        assert!(text.contains('…'), "{format:?} marks the cut");
        assert!(text.contains("w49990") && !text.contains("w49000 "), "{format:?}: about 80 characters of context");
    }
    // JSON keeps both values whole: a machine needs them.
    assert!(render::json(out.plan()).len() > 3 * 2 * 600_000);
}

// ------------------------------------------------------------------ uploaded knowledge

/// `document` and `voice` entries are uploaded files skyform cannot re-create: prune never touches them,
/// and `ensure: absent` deletes one only when pinned by id.
#[tokio::test]
async fn uploaded_documents_are_never_pruned_and_deleted_only_when_pinned() {
    let kb = json!([
        {"title": "Manual", "type": "document", "file_name": "manual.pdf", "file_size": 1000},
        {"title": "Greeting", "type": "voice", "file_name": "hi.mp3", "file_size": 2000},
        {"title": "Old text", "type": "text", "content": "x"},
        {"title": "Keep", "type": "text", "content": "k"}
    ]);
    let mut live = lookups();
    live["knowledge_base"] = kb;
    let base =
        "settings:\n  prune: [knowledge_base]\nknowledge_base:\n  - title: Keep\n    type: text\n    content: k\n";
    let out = Scenario::new("kb-prune").manifest("k.yaml", base).live(live.clone()).plan().await;
    assert_eq!(out.lines(), ["delete knowledge_base Old text"], "only the text entry is pruned");
    let unmanaged: Vec<&str> = out.plan().unmanaged.iter().map(|u| u.key.as_str()).collect();
    assert_eq!(unmanaged, ["Manual", "Greeting"]);

    // By name, absent: not deleted, and the note says how.
    let by_name = format!("{base}  - title: Manual\n    ensure: absent\n");
    let out = Scenario::new("kb-absent-name").manifest("k.yaml", &by_name).live(live.clone()).plan().await;
    assert_eq!(out.lines(), ["delete knowledge_base Old text"]);
    assert!(
        out.plan().notes.iter().any(|n| n.contains("`Manual` (id 1) is not deleted by name") && n.contains("id: 1")),
        "{:?}",
        out.plan().notes
    );
    // Pinned by id, absent: deleted.
    let pinned = format!("{base}  - id: 2\n    title: Greeting\n    ensure: absent\n");
    let out = Scenario::new("kb-absent-id").manifest("k.yaml", &pinned).live(live).plan().await;
    assert_eq!(out.lines(), ["delete knowledge_base Greeting", "delete knowledge_base Old text"]);
}

// ------------------------------------------------------------------ targets

#[tokio::test]
async fn an_unknown_target_is_an_error_naming_the_closest() {
    let yaml = "agents:\n  - name: Sales\n    system_prompt: p\n  - name: Support\n    system_prompt: p\nwebhooks:\n  - name: CRM\n    url: https://c.test\n    events: [message.sent]\n";
    for (target, expect) in [
        ("agents/Sale", "did you mean `agents/Sales`"),
        ("agents/Nope", "the manifests' agents: Sales, Support"),
        ("webhooks/crm", "did you mean `webhooks/CRM`"),
    ] {
        let out = Scenario::new("unknown-target")
            .manifest("a.yaml", yaml)
            .options(|o| o.targets.push(Target::parse(target).unwrap()))
            .plan()
            .await;
        match &out.result {
            Err(PlanError::Problems(p)) => {
                let text = p.render();
                assert!(text.starts_with(&format!("--target: {target} names no ")), "{text}");
                assert!(text.contains(expect), "{target}: {text}");
            }
            other => panic!("{target}: expected an error, got {:?}", other.as_ref().map(|p| p.changes.len())),
        }
        assert!(out.requests.is_empty() || out.requests.iter().all(|r| r.method == "GET"));
    }
}

// ------------------------------------------------------------------ the detail cache

fn cached_client(sandbox: &Sandbox, root: &std::path::Path) -> ReadClient {
    let key = ApiKey::new(sandbox.api_key());
    let mut config = ApiConfig::new(sandbox.url(), key.clone());
    config.cache = Some(std::sync::Arc::new(skyform::api::cache::DetailCache::new(root, &sandbox.url(), &key, true)));
    ReadClient::new(config).unwrap()
}

fn singles(log: &[LoggedRequest]) -> Vec<String> {
    log.iter()
        .filter(|r| r.path.starts_with("/api/v1/knowledge-base/") || r.path.starts_with("/api/v1/campaigns/"))
        .map(|r| r.line())
        .collect()
}

/// Done when: a warm no-change plan of the 1,000-object account makes at most 15 requests.
#[tokio::test]
async fn a_warm_plan_of_a_thousand_objects_reads_list_pages_only() {
    let dir = tempdir("warm-1k");
    let (live, yaml, (kb, _, campaigns)) = thousand_object_account();
    std::fs::write(dir.join("account.yaml"), &yaml).unwrap();
    let sandbox = Sandbox::start(SandboxConfig { rate_limit: 100_000, ..test_config() }, seed(live)).await.unwrap();
    let set = manifest::load(std::slice::from_ref(&dir), &|_| None).unwrap();
    let cache = tempdir("warm-1k-cache");

    let cold = build(&set, &cached_client(&sandbox, &cache), &PlanOptions::default()).await.unwrap();
    assert!(cold.changes.is_empty());
    assert_eq!(singles(&sandbox.requests()).len(), kb + campaigns, "cold: every body read once");
    sandbox.clear_requests();

    let warm = build(&set, &cached_client(&sandbox, &cache), &PlanOptions::default()).await.unwrap();
    assert!(warm.changes.is_empty(), "{:?}", warm.changes.first());
    let log = sandbox.requests();
    // The generated campaigns are drafts (their message may still change): read every time.
    assert_eq!(singles(&log).len(), campaigns, "warm: only the drafts' bodies are read");
    sandbox.clear_requests();
    // Started campaigns are final: once every campaign left draft, a warm plan is list pages and lookups.
    sandbox.with_store(|s| s.campaigns.iter_mut().for_each(|c| c.status = "completed".into()));
    let _ = build(&set, &cached_client(&sandbox, &cache), &PlanOptions::default()).await.unwrap();
    sandbox.clear_requests();
    let _ = build(&set, &cached_client(&sandbox, &cache), &PlanOptions::default()).await.unwrap();
    let log = sandbox.requests();
    assert!(singles(&log).is_empty(), "{:?}", singles(&log));
    assert!(
        log.len() <= 15,
        "a warm plan of 1,000 objects made {} requests: {:?}",
        log.len(),
        log.iter().map(|r| r.line()).collect::<Vec<_>>()
    );

    // Files only the user can read: the bodies are the business's texts.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let account = std::fs::read_dir(&cache).unwrap().next().unwrap().unwrap().path();
        assert_eq!(std::fs::metadata(&account).unwrap().permissions().mode() & 0o777, 0o700);
        let file = account.join("knowledge-base.json");
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!account.display().to_string().contains(sandbox.api_key()), "the folder is not named by the key");
    }
}

/// Plans `set` through a cached client; the changes (`Op key`) and the single GETs made.
async fn plan_cached(
    set: &manifest::ManifestSet,
    sandbox: &Sandbox,
    cache: &std::path::Path,
) -> (Vec<String>, Vec<String>) {
    sandbox.clear_requests();
    let p = build(set, &cached_client(sandbox, cache), &PlanOptions::default()).await.unwrap();
    let lines: Vec<String> = p.changes.iter().map(|c| format!("{:?} {}", c.op, c.key)).collect();
    (lines, singles(&sandbox.requests()))
}

/// A cached body is used only while the list shows the validator it was stored under: an edited knowledge
/// entry (its `updated_at` moves), an edited draft (drafts are never cached) and a campaign that left draft
/// are all read again, and their changes shown.
#[tokio::test]
async fn the_detail_cache_never_hides_a_change() {
    let mut live = lookups();
    live["knowledge_base"] = json!([
        {"title": "Edited", "type": "text", "content": "Body"},
        {"title": "Still", "type": "text", "content": "Body"}
    ]);
    live["campaigns"] = json!([
        {"name": "Draft", "channel_id": 5, "message": "Hi", "list_ids": [1]},
        {"name": "Live", "channel_id": 5, "message": "Go", "list_ids": [1], "status": "running"}
    ]);
    let dir = tempdir("cache-validators");
    std::fs::write(
        dir.join("a.yaml"),
        concat!(
            "knowledge_base:\n  - title: Edited\n    type: text\n    content: Body\n  - title: Still\n    type: text\n    content: Body\n",
            "campaigns:\n  - name: Draft\n    channel: whatsapp\n    audience: {lists: [Q1 Leads]}\n    message: Hi\n",
            "  - name: Live\n    channel: whatsapp\n    audience: {lists: [Q1 Leads]}\n    message: Go\n    state: running\n",
        ),
    )
    .unwrap();
    let sandbox = Sandbox::start(SandboxConfig { rate_limit: 100_000, ..test_config() }, seed(live)).await.unwrap();
    let set = manifest::load(std::slice::from_ref(&dir), &|_| None).unwrap();
    let cache = tempdir("cache-validators-store");
    let (changes, reads) = plan_cached(&set, &sandbox, &cache).await;
    assert!(changes.is_empty(), "{changes:?}");
    assert_eq!(reads.len(), 4, "cold: every body read");
    let (_, reads) = plan_cached(&set, &sandbox, &cache).await;
    assert_eq!(reads, ["GET /api/v1/campaigns/1"], "warm: only the draft");

    // Someone edits the knowledge entry (the API moves updated_at) and the draft's message.
    sandbox.with_store(|s| {
        let e = s.knowledge_base.iter_mut().find(|e| e.title == "Edited").unwrap();
        e.content = Some("Edited in the dashboard".into());
        e.updated_at = skyform::sandbox::clock::Timestamp(e.updated_at.0 + 1_000_000);
        s.campaigns.iter_mut().find(|c| c.name == "Draft").unwrap().message = "Edited draft".into();
    });
    let (changes, mut reads) = plan_cached(&set, &sandbox, &cache).await;
    reads.sort();
    assert_eq!(changes, ["Update Edited", "Update Draft"], "both edits are seen");
    assert_eq!(reads, ["GET /api/v1/campaigns/1", "GET /api/v1/knowledge-base/1"]);

    // The draft is started elsewhere: it left draft, so it is read once more, then served from the cache,
    // and the edit stays visible (now refused: a running campaign cannot be edited).
    sandbox.with_store(|s| s.campaigns.iter_mut().find(|c| c.name == "Draft").unwrap().status = "running".into());
    let (changes, reads) = plan_cached(&set, &sandbox, &cache).await;
    assert!(changes.contains(&"Refused Draft".to_string()), "{changes:?}");
    assert_eq!(reads, ["GET /api/v1/campaigns/1"], "the edited entry was cached under its new updated_at");
    let (changes, reads) = plan_cached(&set, &sandbox, &cache).await;
    assert!(changes.contains(&"Refused Draft".to_string()), "from the cache, the change is still there: {changes:?}");
    assert!(reads.is_empty(), "{reads:?}");
}
