//! The kinds added through the registry (tags, contact lists, segments, the account profile, voice
//! settings) end to end, and the first reference between kinds: a campaign aimed at a list the same plan
//! creates.

use crate::common;

use common::world::{converged, World};
use serde_json::{json, Value};
use skyform::api::{ApiConfig, ApiKey, ReadClient};
use skyform::apply::Status;
use skyform::export::{export, ExportOptions};
use skyform::manifest;
use skyform::plan::{build, Op, PlanOptions};
use skyform::resources::Kind;
use skyform::sandbox::FaultRule;

/// An account with a profile, voice settings, tags, lists and segments, and the channels campaigns need.
fn audience_account() -> Value {
    let mut live = common::lookups();
    live["account"] = json!({"id": 1, "company_name": "Acme", "slug": "acme", "email": "ops@acme.test",
        "status": "active", "timezone": "UTC", "country_id": 1});
    live["voice"] = json!({"enabled": false, "language": "ar", "dialect": "egy"});
    live["tags"] =
        json!([{"id": 1, "title": "vip", "contacts_count": 12}, {"id": 2, "title": "old", "contacts_count": 0}]);
    live
}

/// Mutating requests, the lease's lock tags left out but other tag writes kept.
fn writes_with_tags(w: &World) -> Vec<String> {
    let lease = |r: &skyform::sandbox::LoggedRequest| {
        r.path.starts_with("/api/v1/tags")
            && (r.method != "POST"
                || r.body.as_ref().and_then(|b| b["title"].as_str()).is_some_and(|t| t.starts_with("skyform-lock")))
    };
    w.sandbox.requests().iter().filter(|r| r.method != "GET" && !lease(r)).map(|r| r.line()).collect()
}

const AUDIENCES: &str = "\
tags:
  - title: vip
  - title: wholesale
contact_lists:
  - name: Q1 Leads
  - name: VIP
    status: inactive
  - name: Spring Leads
segments:
  - name: Active last 30 days
  - name: Arabic speakers
account:
  company_name: Acme Home Goods
  timezone: Asia/Riyadh
  country: Saudi Arabia
voice:
  enabled: true
  dialect: ksa
";

#[tokio::test]
async fn every_new_kind_is_planned_applied_and_then_plans_nothing() {
    let w = World::new("new-kinds", audience_account()).await;
    w.manifests(AUDIENCES);
    let applied = w.apply().await;
    converged(&applied);
    let mut writes = writes_with_tags(&w);
    writes.sort();
    assert_eq!(
        writes,
        [
            "PATCH /api/v1/account",
            "PATCH /api/v1/voice/settings",
            "POST /api/v1/contacts/lists",
            "POST /api/v1/contacts/segments",
            "POST /api/v1/tags",
            "PUT /api/v1/contacts/lists/2",
        ]
    );
    // Only the named fields are sent to a singleton: `language` is not in the manifest.
    let voice = w.sandbox.requests().into_iter().find(|r| r.line() == "PATCH /api/v1/voice/settings").unwrap();
    assert_eq!(voice.body, Some(json!({"enabled": true, "dialect": "ksa"})));
    let account = w.sandbox.requests().into_iter().find(|r| r.line() == "PATCH /api/v1/account").unwrap();
    assert_eq!(
        account.body,
        Some(json!({"company_name": "Acme Home Goods", "timezone": "Asia/Riyadh", "country_id": 194}))
    );
    w.state(|s| {
        assert_eq!((s.account.timezone.as_str(), s.account.country_id), ("Asia/Riyadh", Some(194)));
        assert_eq!((s.voice.enabled, s.voice.language.as_str(), s.voice.dialect.as_str()), (true, "ar", "ksa"));
        let vip = s.lists.iter().find(|l| l.name == "VIP").unwrap();
        assert_eq!(vip.status, 0, "inactive is 0 on the wire");
        assert_eq!(
            s.tags.iter().filter(|t| !t.title.starts_with("skyform-lock")).count(),
            3,
            "`old` is unmanaged, kept"
        );
    });
    // The plan after the apply is empty; the unmanaged tag is named, not touched.
    w.sandbox.clear_requests();
    let again = w.apply().await;
    assert!(again.plan.changes.is_empty(), "{:#?}", again.plan.changes);
    assert!(again.report.is_none());
    assert_eq!(w.writes(), Vec::<String>::new());
    let unmanaged: Vec<String> =
        again.plan.unmanaged.iter().map(|u| format!("{} {}", u.kind.as_str(), u.key)).collect();
    assert_eq!(unmanaged, ["tags old"]);
}

#[tokio::test]
async fn a_singleton_compares_only_the_fields_the_manifest_names() {
    let mut live = audience_account();
    live["account"]["address"] = json!("1 Main St");
    let w = World::new("singleton", live).await;
    w.manifests("account:\n  timezone: UTC\nvoice:\n  language: ar\n");
    let applied = w.apply().await;
    assert!(applied.plan.changes.is_empty(), "{:#?}", applied.plan.changes);
    // A changed field is one PATCH with that field alone.
    w.manifests("account:\n  timezone: Europe/London\n");
    let applied = w.apply().await;
    converged(&applied);
    let patch = w.sandbox.requests().into_iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(patch.body, Some(json!({"timezone": "Europe/London"})));
    w.state(|s| {
        assert_eq!((s.account.address.as_deref(), s.account.company_name.as_str()), (Some("1 Main St"), "Acme"))
    });
}

#[tokio::test]
async fn export_of_the_new_kinds_plans_nothing() {
    let mut live = audience_account();
    live["lists"] = json!([{"id": 1, "name": "Q1 Leads", "contacts_count": 3}, {"id": 2, "name": "Old", "status": 0}]);
    live["tags"] =
        json!([{"id": 1, "title": "vip"}, {"id": 2, "title": "skyform-lock run=1 until=2000-01-01T00:00:00Z"}]);
    let w = World::new("export", live).await;
    let client = ReadClient::new(ApiConfig::new(w.sandbox.url(), ApiKey::new(w.sandbox.api_key()))).unwrap();
    let out = w.dir.join("export");
    export(&client, &ExportOptions { out: out.clone(), kinds: vec![], force: false }).await.unwrap();
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let account = read("account.yaml");
    assert!(account.contains("account:\n  company_name: Acme\n"), "a mapping, not a list:\n{account}");
    assert!(account.contains("  country: Afghanistan\n"), "a documented id is written as its name:\n{account}");
    assert!(read("voice.yaml").contains("voice:\n  enabled: false\n"));
    let tags = read("tags.yaml");
    assert!(tags.contains("title: vip") && !tags.contains("skyform-lock"), "the lease's tags stay out:\n{tags}");
    assert!(read("contact_lists.yaml").contains("- name: Old\n  status: inactive\n"));
    let set = manifest::load(std::slice::from_ref(&out), &|_| None).unwrap_or_else(|p| panic!("{}", p.render()));
    w.sandbox.clear_requests();
    let plan = build(&set, &client, &PlanOptions::default()).await.unwrap();
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(plan.unmanaged.is_empty(), "{:#?}", plan.unmanaged);
    assert!(w.sandbox.requests().iter().all(|r| r.method == "GET"));
}

#[tokio::test]
async fn deleting_a_list_or_segment_is_blocked_unless_allowed_and_shows_the_contacts_it_loses() {
    let w = World::new("guard", audience_account()).await;
    w.manifests("contact_lists:\n  - name: Q1 Leads\n    ensure: absent\nsegments:\n  - name: Active last 30 days\n    ensure: absent\n");
    let err = w.apply_with(w.request(|_| {})).await.err().expect("refused").render();
    assert!(
        err.contains("refusing to delete contact list \"Q1 Leads\" (id 1): 120 contacts lose their membership of the contact list, which cannot be undone: pass --allow-deletes contact_lists"),
        "{err}"
    );
    assert!(err.contains("pass --allow-deletes segments"), "{err}");
    assert_eq!(w.writes(), Vec::<String>::new(), "blocked before any write");
    let plan =
        w.apply_with(w.request(|r| r.options.allow_deletes = vec![Kind::ContactLists, Kind::Segments])).await.unwrap();
    converged(&plan);
    let delete = plan.plan.changes.iter().find(|c| c.key == "Q1 Leads").unwrap();
    assert_eq!(delete.op, Op::Delete);
    assert_eq!(
        delete.reason.as_deref(),
        Some("120 contacts lose their membership of the contact list, which cannot be undone")
    );
    let mut writes = w.writes();
    writes.sort();
    assert_eq!(writes, ["DELETE /api/v1/contacts/lists/1", "DELETE /api/v1/contacts/segments/7"]);
}

#[tokio::test]
async fn lock_tags_are_never_managed_pruned_or_listed_as_unmanaged() {
    let mut live = audience_account();
    live["tags"] = json!([{"id": 1, "title": "vip"}, {"id": 2, "title": "skyform-lock run=x until=2000-01-01T00:00:00Z"}, {"id": 3, "title": "old"}]);
    let w = World::new("locks", live).await;
    w.manifests("tags:\n  - title: vip\nsettings:\n  prune: [tags]\n");
    let applied = w.apply_with(w.request(|r| r.options.allow_deletes = vec![Kind::Tags])).await.unwrap();
    converged(&applied);
    let lines: Vec<String> = applied.plan.changes.iter().map(|c| format!("{:?} {}", c.op, c.key)).collect();
    assert_eq!(lines, ["Delete old"], "the lease's tags are neither pruned nor adopted");
    assert!(applied.plan.unmanaged.is_empty());
    // The apply's own lease tag came and went; the next plan does not see it either.
    let again = w.apply().await;
    assert!(again.plan.changes.is_empty() && again.plan.unmanaged.is_empty(), "{:#?}", again.plan.changes);
}

const SPRING: &str = "\
contact_lists:
  - name: Spring Leads
campaigns:
  - name: Spring Sale
    channel: whatsapp
    audience: {lists: [Spring Leads, VIP]}
    message: Spring is here.
";

#[tokio::test]
async fn a_campaign_aimed_at_a_list_the_plan_creates_waits_for_it_and_gets_its_id() {
    let w = World::new("ref", common::lookups()).await;
    w.manifests(SPRING);
    let applied = w.apply().await;
    converged(&applied);
    let changes = &applied.plan.changes;
    let list = changes.iter().position(|c| c.kind == Kind::ContactLists && c.op == Op::Create).unwrap();
    let campaign = changes.iter().find(|c| c.kind == Kind::Campaigns && c.op == Op::Create).unwrap();
    assert!(campaign.after.contains(&list), "the campaign create depends on the list create: {:?}", campaign.after);
    let body = campaign.request.as_ref().unwrap().body.as_ref().unwrap();
    assert_eq!(body["list_ids"], json!([{"$created": list}, 2]), "the plan holds a reference, not an id");
    assert_eq!(w.writes(), ["POST /api/v1/contacts/lists", "POST /api/v1/campaigns"], "the list first");
    let sent = w.sandbox.requests().into_iter().find(|r| r.line() == "POST /api/v1/campaigns").unwrap();
    let new_id = w.state(|s| s.lists.iter().find(|l| l.name == "Spring Leads").unwrap().id);
    assert_eq!(sent.body.unwrap()["list_ids"], json!([new_id, 2]));
    w.state(|s| assert_eq!(s.campaigns[0].list_ids, vec![new_id, 2]));
    let again = w.apply().await;
    assert!(again.plan.changes.is_empty(), "{:#?}", again.plan.changes);
}

#[tokio::test]
async fn a_saved_plan_records_the_reference_and_applies_it() {
    let w = World::new("ref-saved", common::lookups()).await;
    w.manifests(SPRING);
    let plan_file = w.save_plan().await;
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let campaign = saved["changes"].as_array().unwrap().iter().find(|c| c["kind"] == "campaigns").unwrap();
    let list = saved["changes"].as_array().unwrap().iter().position(|c| c["kind"] == "contact_lists").unwrap();
    assert_eq!(campaign["request"]["body"]["list_ids"], json!([{"$created": list}, 2]));
    assert_eq!(campaign["after"], json!([list]));
    let applied = w
        .apply_with(w.request(|r| {
            r.paths = vec![];
            r.plan_file = Some(plan_file);
        }))
        .await
        .unwrap();
    converged(&applied);
    let new_id = w.state(|s| s.lists.iter().find(|l| l.name == "Spring Leads").unwrap().id);
    w.state(|s| assert_eq!(s.campaigns[0].list_ids, vec![new_id, 2]));
}

#[tokio::test]
async fn when_the_list_create_fails_the_campaign_is_never_created() {
    for keep_going in [false, true] {
        let w = World::new(&format!("ref-fail-{keep_going}"), common::lookups()).await;
        w.manifests(SPRING);
        w.sandbox.add_fault(FaultRule::status("POST", "/api/v1/contacts/lists", 422, 1)).unwrap();
        let applied = w.apply_with(w.request(|r| r.apply.keep_going = keep_going)).await.unwrap();
        let report = applied.report.unwrap();
        assert!(!report.success());
        let campaign = &report.outcomes.iter().find(|(c, _)| c.kind == Kind::Campaigns).unwrap().1;
        match keep_going {
            false => assert!(matches!(campaign, Status::NotStarted), "{campaign:?}"),
            true => assert!(matches!(campaign, Status::Skipped(_)), "{campaign:?}"),
        }
        assert!(report.render().contains("create campaign \"Spring Sale\""), "{}", report.render());
        assert_eq!(w.writes(), ["POST /api/v1/contacts/lists"], "no campaign with a wrong audience");
        w.state(|s| assert!(s.campaigns.is_empty()));
        // The re-run creates both.
        let applied = w.apply().await;
        converged(&applied);
        w.state(|s| assert_eq!(s.campaigns.len(), 1));
    }
}

#[tokio::test]
async fn a_reference_to_a_list_neither_live_nor_declared_is_a_located_problem() {
    let w = World::new("ref-missing", common::lookups()).await;
    w.manifests("campaigns:\n  - name: S\n    channel: whatsapp\n    audience: {lists: [Nowhere]}\n    message: Hi\n");
    let err = w.apply_with(w.request(|_| {})).await.err().expect("refused").render();
    assert!(err.contains("account.yaml:") && err.contains("Nowhere"), "{err}");
    assert_eq!(w.writes(), Vec::<String>::new());
    // A list the same plan deletes cannot be aimed at: declared absent, or pruned without being declared.
    for (lists, allow) in [
        ("contact_lists:\n  - name: VIP\n    ensure: absent\n", false),
        ("settings:\n  prune: [contact_lists]\n", true),
    ] {
        w.manifests(&format!(
            "{lists}campaigns:\n  - name: S\n    channel: whatsapp\n    audience: {{lists: [VIP]}}\n    message: Hi\n"
        ));
        let err = w
            .apply_with(w.request(|r| {
                if allow {
                    r.options.allow_deletes = vec![Kind::ContactLists]
                }
            }))
            .await
            .err()
            .expect("refused")
            .render();
        assert!(err.contains("the contact list `VIP` is deleted by this plan"), "{err}");
        assert!(err.contains("account.yaml:"), "located: {err}");
        assert_eq!(w.writes(), Vec::<String>::new());
    }
}

/// The plan built through the library names the dependency in the human renderer.
#[tokio::test]
async fn the_plan_shows_the_reference_by_name() {
    let w = World::new("ref-render", common::lookups()).await;
    w.manifests(SPRING);
    let client = ReadClient::new(ApiConfig::new(w.sandbox.url(), ApiKey::new(w.sandbox.api_key()))).unwrap();
    let set = manifest::load(&[w.dir.join("account.yaml")], &|_| None).unwrap_or_else(|p| panic!("{}", p.render()));
    let plan = build(&set, &client, &PlanOptions::default()).await.unwrap();
    let text = skyform::render::render(&plan, skyform::render::Format::Human, false);
    assert!(text.contains("the new contact list Spring Leads"), "{text}");
}

/// Odd live tags: a blank title is left out of an export (with a note), a title in the lease's reserved
/// prefix (`skyform-lockdown`) is neither exported nor pruned; the export then plans nothing.
#[tokio::test]
async fn odd_live_tags_are_left_out_of_export_and_never_pruned() {
    let mut live = audience_account();
    live["tags"] = json!([{"id": 1, "title": "vip"}, {"id": 2, "title": " "}, {"id": 3, "title": "skyform-lockdown"}]);
    let w = World::new("odd-tags", live).await;
    let client = ReadClient::new(ApiConfig::new(w.sandbox.url(), ApiKey::new(w.sandbox.api_key()))).unwrap();
    let out = w.dir.join("export");
    let report =
        export(&client, &ExportOptions { out: out.clone(), kinds: vec![Kind::Tags], force: false }).await.unwrap();
    assert!(report.skipped.iter().any(|s| s.contains("title is blank")), "{:?}", report.skipped);
    let tags = std::fs::read_to_string(out.join("tags.yaml")).unwrap();
    assert!(!tags.contains("skyform-lock"), "{tags}");
    w.manifests("tags:\n  - title: vip\nsettings:\n  prune: [tags]\n");
    let applied = w.apply_with(w.request(|r| r.options.allow_deletes = vec![Kind::Tags])).await.unwrap();
    let deleted: Vec<&str> =
        applied.plan.changes.iter().filter(|c| c.op == Op::Delete).map(|c| c.key.as_str()).collect();
    assert_eq!(deleted, [" "], "the reserved title is never pruned");
}

/// A list renamed in the same manifests (pinned by id) is referred to by its new name: its id.
#[tokio::test]
async fn a_campaign_may_name_a_list_the_plan_renames() {
    let w = World::new("ref-rename", common::lookups()).await;
    w.manifests("contact_lists:\n  - id: 1\n    name: Renamed\ncampaigns:\n  - name: A\n    channel: whatsapp\n    audience: {lists: [Renamed]}\n    message: hi\n");
    let applied = w.apply().await;
    converged(&applied);
    w.state(|s| assert_eq!(s.campaigns[0].list_ids, vec![1]));
    let again = w.apply().await;
    assert!(again.plan.changes.is_empty(), "{:#?}", again.plan.changes);
}

/// A dialect the account does not offer is a located problem at plan time, before any write.
#[tokio::test]
async fn an_unknown_voice_dialect_is_refused_against_the_accounts_list() {
    let w = World::new("dialect", audience_account()).await;
    w.manifests("account:\n  timezone: Asia/Dubai\nvoice:\n  language: en\n  dialect: zz-nope\n");
    let err = w.apply_with(w.request(|_| {})).await.err().expect("refused").render();
    assert!(err.contains("account.yaml:5:12: `zz-nope` is not one of the account's voice dialects"), "{err}");
    assert_eq!(writes_with_tags(&w), Vec::<String>::new(), "nothing was written, not even the account");
}
