//! The API client against the in-process sandbox, asserted through the sandbox's request log:
//! pagination, pacing, 429s, retries, ambiguous creates, read-only typing, key redaction.

use crate::common;

use common::{lookups, seed, test_config, Api};
use serde_json::json;
use skyform::api::{ApiConfig, ApiKey, ClientEvent, Failure, Method, ReadClient, WriteClient};
use skyform::resources::agent::Agents;
use skyform::resources::campaign::Campaigns;
use skyform::resources::knowledge::KnowledgeBase;
use skyform::resources::team::Team;
use skyform::resources::webhook::Webhooks;
use skyform::sandbox::{FaultRule, Quirks, SandboxConfig, Store};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY: &str = "test-key-0123456789abcdef";

fn config(api: &Api) -> ApiConfig {
    let mut c = ApiConfig::new(api.sandbox.url(), ApiKey::new(KEY));
    c.retry_base = Duration::from_millis(20);
    c.timeout = Duration::from_secs(1);
    c.settle = Duration::from_secs(1);
    c
}

async fn sandbox(v: serde_json::Value) -> Api {
    Api::start_with(SandboxConfig { api_key: KEY.into(), ..test_config() }, seed(v)).await
}

fn writer(api: &Api) -> WriteClient {
    WriteClient::new(config(api)).unwrap()
}

/// (method, path, query) of every logged request.
fn calls(api: &Api) -> Vec<(String, String, Option<String>)> {
    api.sandbox.requests().into_iter().map(|r| (r.method, r.path, r.query)).collect()
}

#[tokio::test]
async fn lists_follow_meta_pages_and_take_unpaginated_lists_whole() {
    let members: Vec<_> =
        (0..250).map(|i| json!({"name": format!("M{i}"), "email": format!("m{i}@a.test"), "role": "agent"})).collect();
    let hooks: Vec<_> = (0..130)
        .map(|i| json!({"name": format!("h{i}"), "url": "https://h.test", "events": ["message.sent"]}))
        .collect();
    let agents: Vec<_> = (0..140).map(|i| json!({"name": format!("a{i}"), "system_prompt": "p"})).collect();
    let api = sandbox(json!({"team": members, "webhooks": hooks, "agents": agents})).await;
    let client = ReadClient::new(config(&api)).unwrap();

    let team = client.list::<Team>().await.unwrap();
    assert_eq!(team.len(), 250);
    let q = |p: u32| Some(format!("per_page=100&page={p}"));
    assert_eq!(calls(&api), [1, 2, 3].map(|p| ("GET".to_string(), "/api/v1/team".to_string(), q(p))));

    api.sandbox.clear_requests();
    assert_eq!(client.list::<Webhooks>().await.unwrap().len(), 130);
    assert_eq!(client.list::<Agents>().await.unwrap().len(), 140);
    assert_eq!(
        calls(&api),
        [
            ("GET".to_string(), "/api/v1/webhooks".to_string(), q(1)),
            ("GET".to_string(), "/api/v1/ai-agents".to_string(), q(1)),
        ]
    );
}

#[tokio::test]
async fn tolerates_small_page_caps_unknown_fields_offset_timestamps_and_paginated_webhooks() {
    let config_q = SandboxConfig {
        api_key: KEY.into(),
        quirks: Quirks {
            max_per_page: 7,
            utc_offset_minutes: 180,
            extra_fields: true,
            webhooks_paginated: true,
            ..Quirks::default()
        },
        ..test_config()
    };
    let hooks: Vec<_> = (0..20)
        .map(|i| json!({"name": format!("h{i}"), "url": "https://h.test", "events": ["message.sent"]}))
        .collect();
    let mut s = lookups();
    s["webhooks"] = json!(hooks);
    s["agents"] = json!([{"name": "A", "system_prompt": "p", "response_guidelines": {"tone": "warm"}}]);
    let api = Api::start_with(config_q, seed(s)).await;
    let client = ReadClient::new(config(&api)).unwrap();
    let hooks = client.list::<Webhooks>().await.unwrap();
    assert_eq!(hooks.len(), 20);
    assert_eq!(api.sandbox.requests().len(), 3, "20 webhooks at 7 a page");
    let agents = client.list::<Agents>().await.unwrap();
    let updated = agents[0].updated_at.expect("an offset timestamp parses");
    assert_eq!(updated.offset().whole_hours(), 3);
    assert_eq!(client.channels().await.unwrap().len(), 2);
    assert_eq!(client.contact_lists().await.unwrap()[0].name, "Q1 Leads");
    assert_eq!(client.segments().await.unwrap().len(), 1);
    assert_eq!(client.webhook_events().await.unwrap().len(), 30);
    assert_eq!(client.account().await.unwrap().id, 1);
    assert!(client.subscription().await.unwrap().limits.contains_key("team_members"));
}

#[tokio::test]
async fn a_429_is_waited_out_for_retry_after_then_succeeds() {
    let api = sandbox(json!({})).await;
    let rule = FaultRule { retry_after: Some(1), ..FaultRule::status("GET", "/api/v1/ai-agents", 429, 1) };
    api.sandbox.add_fault(rule).unwrap();
    let client = ReadClient::new(config(&api)).unwrap();
    assert!(client.list::<Agents>().await.unwrap().is_empty());
    let log = api.sandbox.requests();
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 200]);
    assert!(log[1].at_ms - log[0].at_ms >= 1000, "waited retry_after before trying again");
    assert_eq!(client.stats().throttled, 1);
}

#[tokio::test]
async fn three_503s_on_a_put_are_retried_to_success() {
    let api = sandbox(json!({"team": [{"name": "A", "email": "a@a.test", "role": "admin"}]})).await;
    api.sandbox.add_fault(FaultRule::status("PUT", "/api/v1/team/1", 503, 3)).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let client = WriteClient::with_events(
        config(&api),
        Some(Arc::new(move |e: &ClientEvent| sink.lock().unwrap().push(e.to_string()))),
    )
    .unwrap();
    let live = client.update::<Team>(1, &json!({"name": "B", "role": "admin"})).await.unwrap();
    assert_eq!(live.name, "B");
    let statuses: Vec<_> = api.sandbox.requests().iter().map(|r| (r.method.clone(), r.status)).collect();
    assert_eq!(statuses, [("PUT".into(), 503), ("PUT".into(), 503), ("PUT".into(), 503), ("PUT".into(), 200)]);
    assert_eq!(client.stats().retries, 3);
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 3);
    assert!(events[0].starts_with("retry: PUT /team/1 attempt 1 failed (PUT /team/1 answered 503"), "{}", events[0]);
}

#[tokio::test]
async fn retries_stop_after_five_tries_with_an_error_naming_the_request() {
    let api = sandbox(json!({})).await;
    api.sandbox.add_fault(FaultRule::status("GET", "/api/v1/account", 500, 10)).unwrap();
    let client = ReadClient::new(config(&api)).unwrap();
    let err = client.account().await.unwrap_err();
    assert_eq!(api.sandbox.requests().len(), 5);
    assert_eq!(err.failure, Failure::Status(500));
    assert!(
        err.to_string().starts_with("GET /account answered 500: Internal Server Error (injected by the sandbox)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_dropped_create_is_found_and_adopted_never_duplicated() {
    let api = sandbox(json!({})).await;
    api.sandbox.add_fault(FaultRule::drop_after_execute("POST", "/api/v1/webhooks", 1)).unwrap();
    let client = writer(&api);
    let body = json!({"name": "CRM", "url": "https://crm.test", "events": ["contact.created"]});
    let created = client.create::<Webhooks>("CRM", &body).await.unwrap();
    assert!(created.adopted);
    let secret = created.secret.expect("a fresh secret replaces the lost one");
    assert!(secret.expose().starts_with("whsec_"));
    assert_eq!(api.sandbox.with_store(|s| s.webhooks.len()), 1, "exactly one object");
    assert_eq!(api.sandbox.with_store(|s| s.webhooks[0].secret.clone()), secret.expose());
    let lines: Vec<String> = api.log_lines();
    assert_eq!(lines, ["POST /api/v1/webhooks", "GET /api/v1/webhooks", "POST /api/v1/webhooks/1/regenerate-secret"]);
}

#[tokio::test]
async fn a_create_refused_with_503_is_looked_for_then_sent_again_once() {
    let api = sandbox(json!({})).await;
    api.sandbox.add_fault(FaultRule::status("POST", "/api/v1/ai-agents", 503, 1)).unwrap();
    let client = writer(&api);
    let created = client.create::<Agents>("Sales", &json!({"name": "Sales", "system_prompt": "Sell."})).await.unwrap();
    assert!(!created.adopted);
    assert_eq!(created.live.name, "Sales");
    assert_eq!(api.log_lines(), ["POST /api/v1/ai-agents", "GET /api/v1/ai-agents", "POST /api/v1/ai-agents"]);
    assert_eq!(api.sandbox.with_store(|s| s.agents.len()), 1);
}

#[tokio::test]
async fn a_dropped_delete_retried_into_a_404_counts_as_done() {
    let api = sandbox(json!({"webhooks": [{"name": "w", "url": "https://w.test", "events": ["message.sent"]}]})).await;
    api.sandbox.add_fault(FaultRule::drop_after_execute("DELETE", "/api/v1/webhooks/1", 1)).unwrap();
    writer(&api).delete::<Webhooks>(1).await.unwrap();
    let statuses: Vec<u16> = api.sandbox.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [204, 404]);
}

#[tokio::test]
async fn a_timed_out_get_is_retried() {
    let api = sandbox(json!({})).await;
    api.sandbox.add_fault(FaultRule::delay("GET", "/api/v1/account", 1_000, 1)).unwrap();
    let mut c = config(&api);
    c.timeout = Duration::from_millis(200);
    let client = ReadClient::new(c).unwrap();
    assert_eq!(client.account().await.unwrap().id, 1);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn an_action_whose_answer_was_lost_is_sent_again_and_its_refusal_returned() {
    // The client retries an action (repeating it is harmless); the second try is refused because the first
    // took effect. Telling that apart is the kind's rule, applied by `apply` (tests/it/apply.rs).
    let mut s = lookups();
    s["campaigns"] = json!([{"name": "Spring", "channel_id": 5, "message": "Hi", "list_ids": [1]}]);
    let api = sandbox(s).await;
    api.sandbox.add_fault(FaultRule::drop_after_execute("POST", "/api/v1/campaigns/1/start", 1)).unwrap();
    let err = writer(&api).send(Method::POST, "/campaigns/1/start", None).await.unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert_eq!(api.log_lines(), ["POST /api/v1/campaigns/1/start", "POST /api/v1/campaigns/1/start"]);
    assert_eq!(api.sandbox.with_store(|s| s.campaigns[0].status.clone()), "running");
}

#[tokio::test]
async fn typed_operations_cover_every_kind_and_action() {
    let mut s = lookups();
    s["agents"] = json!([{"name": "Old", "system_prompt": "p", "is_default": true}]);
    let api = sandbox(s).await;
    let c = writer(&api);
    let agent = c.create::<Agents>("New", &json!({"name": "New", "system_prompt": "p"})).await.unwrap().live;
    let answer = c.send(Method::POST, &format!("/ai-agents/{}/set-default", agent.id), None).await.unwrap();
    assert_eq!(answer["is_default"], true);
    c.delete::<Agents>(1).await.unwrap();
    let kb = c
        .create::<KnowledgeBase>("Returns", &json!({"title": "Returns", "type": "text", "content": "30 days"}))
        .await
        .unwrap()
        .live;
    assert_eq!(c.get::<KnowledgeBase>(kb.id).await.unwrap().content.as_deref(), Some("30 days"));
    assert_eq!(c.knowledge_status(kb.id).await.unwrap().status, "active");
    let hook = c
        .create::<Webhooks>("W", &json!({"name": "W", "url": "https://w.test", "events": ["message.sent"]}))
        .await
        .unwrap();
    let first = hook.secret.unwrap();
    let mut answer =
        c.send(Method::POST, &format!("/webhooks/{}/regenerate-secret", hook.live.id), None).await.unwrap();
    let second = WriteClient::take_secret(&mut answer).unwrap();
    assert_ne!(first.expose(), second.expose());
    assert!(answer.get("secret").is_none(), "the secret is taken out of the answer");
    let member = c
        .create::<Team>(
            "l@a.test",
            &json!({"name": "L", "email": "l@a.test", "role": "admin", "password": "password-1"}),
        )
        .await
        .unwrap()
        .live;
    assert_eq!(c.update::<Team>(member.id, &json!({"name": "Layla", "role": "admin"})).await.unwrap().name, "Layla");
    let camp = c
        .create::<Campaigns>("Spring", &json!({"name": "Spring", "channel_id": 5, "message": "Hi", "list_ids": [1]}))
        .await
        .unwrap()
        .live;
    for (action, status) in [("start", "running"), ("pause", "paused"), ("resume", "running"), ("cancel", "cancelled")]
    {
        let answer = c.send(Method::POST, &format!("/campaigns/{}/{action}", camp.id), None).await.unwrap();
        assert_eq!(answer["status"], status);
    }
    let full = c.get::<Campaigns>(camp.id).await.unwrap();
    assert_eq!((full.message.as_deref(), full.channel_id), (Some("Hi"), Some(5)));
    // A refused request says which, why, and each field's complaint.
    let err = c
        .create::<Team>("bad", &json!({"name": "X", "email": "bad", "role": "boss", "password": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.failure, Failure::Status(422));
    let text = err.to_string();
    assert!(text.starts_with("POST /team answered 422: The email field must be a valid email address."), "{text}");
    assert!(text.contains("\n  role: The selected role is invalid."), "{text}");
}

#[tokio::test]
async fn the_key_never_appears_in_debug_output_errors_or_events() {
    let api = sandbox(json!({})).await;
    let mut c = config(&api);
    assert!(!format!("{c:?}").contains(KEY));
    c.key = ApiKey::new("wrong-key-also-secret");
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = seen.clone();
    api.sandbox.add_fault(FaultRule::status("GET", "/api/v1/account", 503, 1)).unwrap();
    let client = ReadClient::with_events(
        c.clone(),
        Some(Arc::new(move |e: &ClientEvent| sink.lock().unwrap().push_str(&format!("{e} {e:?}")))),
    )
    .unwrap();
    let err = client.account().await.unwrap_err();
    assert_eq!(err.failure, Failure::Status(401));
    let app_err: skyform::Error = err.clone().into();
    for text in [
        format!("{c:?}"),
        format!("{client:?}"),
        format!("{}", c.key),
        format!("{err} {err:?}"),
        format!("{app_err} {app_err:?} {}", app_err.render()),
        seen.lock().unwrap().clone(),
    ] {
        assert!(!text.contains("wrong-key-also-secret"), "{text}");
    }
    assert!(app_err.render().contains("hint: the API did not accept the key: check SKYLIGHT_API_KEY"));
    assert_eq!(app_err.api.as_ref().and_then(|a| a.status), Some(401), "the API error is kept whole");
}

#[test]
fn configuration_comes_from_the_environment_and_refuses_plain_http_off_this_machine() {
    let env = |k: &str| match k {
        "SKYLIGHT_API_KEY" => Some("k".to_string()),
        _ => None,
    };
    let c = ApiConfig::from_env(None, &env).unwrap();
    assert_eq!(c.base_url, "https://dashboard.skylightchat.com/api/v1");
    let err = ApiConfig::from_env(None, &|_| None).unwrap_err();
    assert!(err.to_string().contains("SKYLIGHT_API_KEY is not set"), "{err}");
    let err = ApiConfig::from_env(Some("http://api.example.com/api/v1"), &env).unwrap_err();
    assert!(err.to_string().contains("refusing plain http://"), "{err}");
    for ok in [
        "http://127.0.0.1:8787/api/v1",
        "http://localhost:1/api/v1",
        "http://[::1]:2/api/v1",
        "https://x.example/api/v1",
    ] {
        assert!(ApiConfig::from_env(Some(ok), &env).is_ok(), "{ok}");
    }
    let from_var = |k: &str| match k {
        "SKYLIGHT_API_KEY" => Some("k".to_string()),
        "SKYLIGHT_API_URL" => Some("https://eu.example/api/v1".to_string()),
        _ => None,
    };
    assert_eq!(ApiConfig::from_env(None, &from_var).unwrap().base_url, "https://eu.example/api/v1");
}

/// At the default settings (120 per window, share 0.8, parallelism 4): 300 GETs at once finish without a
/// single 429, and no window holds more than the 96 requests the share allows. The window is the
/// documented minute scaled down to 3 seconds on both sides (sandbox and client), so this takes about ten
/// seconds instead of three minutes; the arithmetic is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_300_gets_stays_inside_the_budget_without_a_429() {
    let window = std::time::Duration::from_secs(3);
    let api = Api::start_with(
        SandboxConfig { api_key: KEY.into(), rate_limit: 120, rate_window: window, ..test_config() },
        Store::default(),
    )
    .await;
    let mut config = ApiConfig::new(api.sandbox.url(), ApiKey::new(KEY));
    config.pacing.window = window;
    let client = ReadClient::new(config).unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..300 {
        let c = client.clone();
        tasks.spawn(async move { c.account().await.map(|_| ()) });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    let log = api.sandbox.requests();
    assert_eq!(log.len(), 300);
    assert!(log.iter().all(|r| r.status == 200), "no 429s");
    assert_eq!(client.stats().throttled, 0);
    let times: Vec<u64> = log.iter().map(|r| r.at_ms).collect();
    let ms = window.as_millis() as u64;
    let busiest = times.iter().map(|t| times.iter().filter(|u| **u >= *t && **u < t + ms).count()).max().unwrap();
    assert!(busiest <= 96, "{busiest} requests in one window");
    assert_eq!(busiest, 96, "and it does use the budget it has");
}
