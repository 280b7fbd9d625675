//! The sandbox against the contract (`docs/skylight-api.md`), endpoint by endpoint:
//! success paths and the main error paths, asserted on status, body and state.

use crate::common;

use common::{eventually, lookups, seed, test_config, Api};
use serde_json::{json, Value};
use skyform::sandbox::{FaultRule, Quirks, SandboxConfig, Store};
use std::time::Duration;

fn ids(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(|o| o["id"].as_u64().unwrap()).collect()
}

// ---------------------------------------------------------------- conventions

#[tokio::test]
async fn auth_accepts_x_api_key_and_bearer_and_refuses_the_rest_with_the_documented_body() {
    let api = Api::start().await;
    let ok = api.get("/ai-agents").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, json!({"success": true, "data": [], "message": "AI agents retrieved successfully."}));

    let bearer = reqwest::Client::new()
        .get(format!("{}/ai-agents", api.sandbox.url()))
        .bearer_auth("test-key")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);

    for key in [None, Some("wrong"), Some("")] {
        let r = api.call("GET", "/ai-agents", None, key).await;
        assert_eq!(r.status, 401, "key {key:?}");
        assert_eq!(r.body, json!({"success": false, "message": "Unauthenticated. Please provide a valid API key."}));
    }
    // 401s never reach a handler: nothing was created.
    let r = api.call("POST", "/ai-agents", Some(json!({"name": "x", "system_prompt": "y"})), Some("wrong")).await;
    assert_eq!(r.status, 401);
    assert_eq!(api.sandbox.with_store(|s| s.agents.len()), 0);
}

#[tokio::test]
async fn inactive_account_is_403() {
    let api = Api::seeded(json!({"account": {"status": "inactive"}})).await;
    let r = api.get("/account").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["success"], false);
    assert!(r.body["message"].as_str().unwrap().contains("inactive"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let api = Api::start().await;
    let r = api.get("/nope").await;
    assert_eq!((r.status, r.body["success"].clone()), (404, json!(false)));
    let r = api.call("PATCH", "/ai-agents", None, Some("test-key")).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.body["success"], false);
    let r = api.call("POST", "/ai-agents", None, Some("test-key")).await; // empty body = {}
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn malformed_json_is_400_and_creates_nothing() {
    let api = Api::start().await;
    let res = reqwest::Client::new()
        .post(format!("{}/webhooks", api.sandbox.url()))
        .header("X-Api-Key", "test-key")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert!(body["message"].as_str().unwrap().starts_with("Malformed JSON body"));
    let r = api.post("/webhooks", json!([1, 2])).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn rate_limit_headers_count_down_and_the_next_request_is_429_with_retry_after() {
    let config = SandboxConfig { rate_limit: 5, ..test_config() };
    let api = Api::start_with(config, Store::default()).await;
    for i in 0..5 {
        let r = api.get("/webhooks").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-limit"), Some(5));
        assert_eq!(r.header("x-ratelimit-remaining"), Some(4 - i));
        let reset = r.header("x-ratelimit-reset").unwrap();
        let now = skyform::sandbox::clock::Timestamp::now().unix_seconds();
        assert!((now..=now + 61).contains(&reset), "reset {reset} is a Unix time within the minute");
    }
    let r = api.get("/webhooks").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["message"], "Too many requests. Please slow down.");
    assert_eq!(r.body["success"], false);
    let retry = r.body["retry_after"].as_u64().unwrap();
    assert!((1..=60).contains(&retry), "retry_after {retry}");
    assert_eq!(r.header("x-ratelimit-remaining"), Some(0));
    // Refused requests are not counted, and another key has its own budget.
    let other = api.call("GET", "/webhooks", None, Some("someone-else")).await;
    assert_eq!((other.status, other.header("x-ratelimit-remaining")), (401, Some(4)));
}

#[tokio::test]
async fn the_121st_request_in_a_minute_is_refused_at_the_default_limit() {
    let config = SandboxConfig { rate_limit: 120, ..test_config() };
    let api = Api::start_with(config, Store::default()).await;
    for _ in 0..120 {
        assert_eq!(api.get("/account").await.status, 200);
    }
    let r = api.get("/account").await;
    assert_eq!(r.status, 429);
    assert!(r.body["retry_after"].as_u64().unwrap() >= 1);
}

// ---------------------------------------------------------------- agents

#[tokio::test]
async fn agents_create_with_defaults_and_ignore_is_default() {
    let api = Api::start().await;
    let r = api
        .post(
            "/ai-agents",
            json!({"name": "Sales", "system_prompt": "Sell.", "is_default": true, "instruction_prompt": ""}),
        )
        .await;
    assert_eq!(r.status, 201);
    let a = r.data();
    assert_eq!(a["is_active"], true);
    assert_eq!(a["is_default"], false, "is_default is read-only in POST");
    assert_eq!(a["response_guidelines"], json!({}));
    assert_eq!(a["instruction_prompt"], Value::Null, "empty strings become null, as Laravel converts them");
    assert_eq!(a["personality_prompt"], Value::Null);
    assert!(a["created_at"].as_str().unwrap().ends_with('Z'));
    let shown = api.get(&format!("/ai-agents/{}", a["id"])).await;
    assert_eq!(shown.data(), a);
}

#[tokio::test]
async fn agents_validation_names_every_field() {
    let api = Api::start().await;
    let r = api.post("/ai-agents", json!({"name": "x".repeat(256), "response_guidelines": {"max_length": 5}})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.field_errors("name"), ["The name field must not be greater than 255 characters."]);
    assert_eq!(r.field_errors("system_prompt"), ["The system prompt field is required."]);
    assert_eq!(
        r.field_errors("response_guidelines.max_length"),
        ["The response_guidelines.max_length field must be a string."]
    );
    assert_eq!(r.body["message"], "The name field must not be greater than 255 characters. (and 2 more errors)");
    let r = api.post("/ai-agents", json!({"name": "ok", "system_prompt": "x", "is_active": "yes"})).await;
    assert_eq!(r.field_errors("is_active"), ["The is active field must be true or false."]);
}

#[tokio::test]
async fn agents_list_most_recently_updated_first_and_update_merges() {
    let api = Api::start().await;
    for name in ["one", "two", "three"] {
        api.post("/ai-agents", json!({"name": name, "system_prompt": "p", "response_guidelines": {"tone": "formal"}}))
            .await;
    }
    assert_eq!(ids(api.get("/ai-agents").await.data()), [3, 2, 1]);
    let r = api.put("/ai-agents/1", json!({"personality_prompt": "Warm.", "is_active": false})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["name"], "one", "absent fields are kept");
    assert_eq!(r.data()["response_guidelines"], json!({"tone": "formal"}));
    assert_eq!(r.data()["personality_prompt"], "Warm.");
    assert_eq!(r.data()["is_active"], false);
    let list = api.get("/ai-agents").await;
    assert_eq!(ids(list.data()), [1, 3, 2]);
    assert!(list.body.get("meta").is_none(), "the agent list is not paginated");
    // null clears a nullable prompt; null on a required one is refused
    assert_eq!(
        api.put("/ai-agents/1", json!({"personality_prompt": null})).await.data()["personality_prompt"],
        Value::Null
    );
    let r = api.put("/ai-agents/1", json!({"system_prompt": null, "name": ""})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.field_errors("system_prompt"), ["The system prompt field is required."]);
    assert_eq!(r.field_errors("name"), ["The name field is required."]);
    assert_eq!(api.put("/ai-agents/1", json!({"is_default": true})).await.data()["is_default"], false);
}

#[tokio::test]
async fn set_default_moves_the_flag_and_the_default_cannot_be_deleted() {
    let api = Api::seeded(json!({"agents": [
        {"name": "Old", "system_prompt": "p", "is_default": true},
        {"name": "New", "system_prompt": "p"}
    ]}))
    .await;
    let r = api.post("/ai-agents/2/set-default", json!({})).await;
    assert_eq!((r.status, r.data()["is_default"].clone()), (200, json!(true)));
    let all = api.get("/ai-agents").await;
    let defaults: Vec<_> = all.data().as_array().unwrap().iter().filter(|a| a["is_default"] == true).collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["id"], 2);

    let r = api.delete("/ai-agents/2").await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["message"], "The default agent cannot be deleted.");
    let r = api.delete("/ai-agents/1").await;
    assert_eq!((r.status, r.body.clone()), (204, Value::Null));
    assert_eq!(api.get("/ai-agents/1").await.status, 404);
    let r = api.post("/ai-agents/99/set-default", json!({})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body, json!({"success": false, "message": "AI agent not found."}));
    assert_eq!(api.get("/ai-agents/not-a-number").await.status, 404);
}

// ---------------------------------------------------------------- knowledge base

#[tokio::test]
async fn knowledge_list_is_paginated_without_bodies_and_show_adds_the_body() {
    let entries: Vec<Value> = (1..=20)
        .map(|i| json!({"title": format!("Entry {i}"), "type": "text", "content": format!("Body {i}")}))
        .collect();
    let api = Api::seeded(json!({"knowledge_base": entries})).await;
    let page1 = api.get("/knowledge-base").await;
    assert_eq!(page1.data().as_array().unwrap().len(), 15, "default per_page is 15");
    assert_eq!(page1.body["meta"], json!({"current_page": 1, "last_page": 2, "per_page": 15, "total": 20}));
    assert!(page1.data()[0].get("content").is_none(), "list items carry no body");
    let big = api.get("/knowledge-base?per_page=500").await;
    assert_eq!(big.body["meta"]["per_page"], 100, "per_page is capped at 100");
    let one = api.get("/knowledge-base/3").await;
    assert_eq!(one.data()["content"], "Body 3");
    assert_eq!(one.data()["status"], "active");
    assert!(one.data()["embedding_updated_at"].is_string());
}

#[tokio::test]
async fn knowledge_create_checks_the_body_of_each_type() {
    let api = Api::start().await;
    let r = api.post("/knowledge-base", json!({"title": "Returns", "type": "text"})).await;
    assert_eq!(r.field_errors("content"), ["The content field is required."]);
    let r = api.post("/knowledge-base", json!({"title": "Site", "type": "website", "url": "http://acme.test"})).await;
    assert_eq!(r.field_errors("url"), ["The url must use HTTPS."]);
    let r = api.post("/knowledge-base", json!({"title": "Doc", "type": "document"})).await;
    assert_eq!(r.field_errors("file"), ["The file field is required."]);
    let r = api
        .post("/knowledge-base", json!({"title": "T", "type": "text", "content": "x", "url": "https://a.test"}))
        .await;
    assert_eq!(r.field_errors("url"), ["The url field is prohibited for text entries."]);
    let r = api.post("/knowledge-base", json!({"title": "T", "type": "faq", "content": "x"})).await;
    assert_eq!(r.field_errors("type"), ["The selected type is invalid."]);
    let r = api
        .post("/knowledge-base", json!({"title": "Cat", "type": "product_catalog", "products": [{"price": -1}, "x"]}))
        .await;
    assert_eq!(r.field_errors("products.0.name"), ["The products.0.name field is required."]);
    assert_eq!(r.field_errors("products.0.price"), ["The products.0.price field must be a number."]);
    assert_eq!(r.field_errors("products.1"), ["The products.1 field must be an object."]);
    assert_eq!(api.get("/knowledge-base").await.body["meta"]["total"], 0, "nothing invalid was stored");

    let r = api
        .post(
            "/knowledge-base",
            json!({"title": "Catalog", "type": "product_catalog", "description": "All products",
                   "products": [{"name": "Kettle", "price": 24.5, "sku": "K-1"}]}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.data()["products"], json!([{"name": "Kettle", "price": 24.5, "description": null, "sku": "K-1"}]));
    assert_eq!(r.data()["business_description"], Value::Null);
}

#[tokio::test]
async fn website_entries_crawl_then_become_active() {
    let api = Api::start().await;
    let r =
        api.post("/knowledge-base", json!({"title": "Site", "type": "website", "url": "https://acme.test/help"})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.data()["status"], "processing");
    assert_eq!(r.data()["embedding_updated_at"], Value::Null);
    let id = r.data()["id"].as_u64().unwrap();
    let status = api.get(&format!("/knowledge-base/{id}/status")).await;
    assert_eq!(status.data(), &json!({"status": "processing", "pages_crawled": 0}));
    let done = eventually(Duration::from_secs(5), || async {
        let s = api.get(&format!("/knowledge-base/{id}/status")).await;
        (s.data()["status"] == "active").then(|| s.data().clone())
    })
    .await;
    assert!(done["pages_crawled"].as_u64().unwrap() > 0);
    let entry = api.get(&format!("/knowledge-base/{id}")).await;
    assert_eq!(entry.data()["url"], "https://acme.test/help");
    assert!(entry.data()["embedding_updated_at"].is_string());
}

#[tokio::test]
async fn knowledge_update_reembeds_and_type_is_immutable() {
    let api = Api::seeded(json!({"knowledge_base": [
        {"title": "Returns", "type": "text", "content": "30 days", "embedding_updated_at": "2026-01-01T00:00:00.000000Z"}
    ]}))
    .await;
    let r = api.put("/knowledge-base/1", json!({"type": "website"})).await;
    assert_eq!(r.field_errors("type"), ["The type of a knowledge base entry cannot be changed."]);
    let r = api.put("/knowledge-base/1", json!({"description": "Policy"})).await;
    assert_eq!(r.data()["embedding_updated_at"], "2026-01-01T00:00:00.000000Z", "no body written, no re-embed");
    let r = api.put("/knowledge-base/1", json!({"content": "60 days", "type": "text"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["content"], "60 days");
    assert_ne!(r.data()["embedding_updated_at"], "2026-01-01T00:00:00.000000Z");
    assert_eq!(r.data()["description"], "Policy");
    assert_eq!(api.delete("/knowledge-base/1").await.status, 204);
    assert_eq!(api.get("/knowledge-base/1").await.body["message"], "Knowledge base entry not found.");
    assert_eq!(api.get("/knowledge-base/1/status").await.status, 404);
}

// ---------------------------------------------------------------- webhooks

#[tokio::test]
async fn webhook_secret_is_shown_on_create_and_rotation_only() {
    let api = Api::start().await;
    let r = api
        .post("/webhooks", json!({"name": "CRM", "url": "https://crm.test/hook", "events": ["contact.created"]}))
        .await;
    assert_eq!(r.status, 201);
    let secret = r.data()["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() == 6 + 64, "{secret}");
    assert_eq!(r.data()["is_active"], true);

    let shown = api.get("/webhooks/1").await;
    assert!(shown.data().get("secret").is_none());
    let list = api.get("/webhooks").await;
    assert!(list.body.get("meta").is_none(), "newer docs: the webhook list is not paginated");
    assert!(list.data()[0].get("secret").is_none());
    assert_eq!(list.data()[0]["delivery_logs_count"], 0);
    let updated = api.put("/webhooks/1", json!({"name": "CRM sync"})).await;
    assert!(updated.data().get("secret").is_none());

    let rotated = api.post("/webhooks/1/regenerate-secret", json!({})).await;
    assert_eq!(rotated.status, 200);
    let new_secret = rotated.data()["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret.len() == 70);
    assert_ne!(new_secret, secret);
    assert_eq!(rotated.data()["name"], "CRM sync");
}

#[tokio::test]
async fn webhook_validation_and_updates() {
    let api = Api::start().await;
    let r = api.post("/webhooks", json!({"name": "x", "url": "http://crm.test", "events": ["contact.made"]})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.field_errors("url"), ["The url must use HTTPS."]);
    assert_eq!(r.field_errors("events.0"), ["The selected events.0 is invalid."]);
    let r = api.post("/webhooks", json!({"name": "x", "url": "https://crm.test", "events": []})).await;
    assert_eq!(r.field_errors("events"), ["The events field is required."]);
    let r = api.post("/webhooks", json!({"name": "x", "url": "not a url", "events": "contact.created"})).await;
    assert_eq!(r.field_errors("url"), ["The url field must be a valid URL."]);
    assert_eq!(r.field_errors("events"), ["The events field must be an array."]);

    api.post("/webhooks", json!({"name": "x", "url": "https://crm.test", "events": ["message.sent"]})).await;
    let r = api.put("/webhooks/1", json!({"events": ["message.sent", "booking.created"], "is_active": false})).await;
    assert_eq!(r.data()["events"], json!(["message.sent", "booking.created"]));
    assert_eq!(r.data()["is_active"], false);
    assert_eq!(r.data()["url"], "https://crm.test");
    let r = api.put("/webhooks/1", json!({"url": "http://downgrade.test"})).await;
    assert_eq!(r.status, 422);
    assert_eq!(api.delete("/webhooks/1").await.status, 204);
    assert_eq!(api.delete("/webhooks/1").await.body, json!({"success": false, "message": "Webhook not found."}));
}

#[tokio::test]
async fn webhook_events_catalogue_has_30_events_across_9_resources() {
    let api = Api::start().await;
    let r = api.get("/webhooks/events").await;
    let events = r.data().as_array().unwrap();
    assert_eq!(events.len(), 30);
    let resources: std::collections::BTreeSet<_> = events.iter().map(|e| e["resource"].as_str().unwrap()).collect();
    assert_eq!(resources.len(), 9);
    for documented in
        ["contact.created", "contact.updated", "contact.deleted", "message.received", "message.sent", "booking.created"]
    {
        assert!(events.iter().any(|e| e["name"] == documented), "{documented}");
    }
}

#[tokio::test]
async fn webhook_test_records_a_delivery_that_deliveries_lists_and_filters() {
    let api = Api::seeded(json!({"webhooks": [{
        "name": "CRM", "url": "https://crm.test", "events": ["contact.created"],
        "deliveries": [{"id": 1, "event": "contact.created", "status": "failed", "response_code": 500, "attempts": 4}]
    }]}))
    .await;
    let r = api.post("/webhooks/1/test", json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["status"], "success");
    assert_eq!(api.get("/webhooks").await.data()[0]["delivery_logs_count"], 2);
    let all = api.get("/webhooks/1/deliveries").await;
    assert_eq!(all.body["meta"]["total"], 2);
    let failed = api.get("/webhooks/1/deliveries?status=failed").await;
    assert_eq!(failed.data().as_array().unwrap().len(), 1);
    assert_eq!(failed.data()[0]["response_code"], 500);
    assert_eq!(api.post("/webhooks/9/test", json!({})).await.status, 404);
    assert_eq!(api.get("/webhooks/9/deliveries").await.status, 404);
}

// ---------------------------------------------------------------- team

#[tokio::test]
async fn team_create_validates_and_never_returns_the_password() {
    let api = Api::seeded(json!({"team": [{"name": "Owner", "email": "owner@acme.test", "role": "admin"}]})).await;
    let r = api
        .post("/team", json!({"name": "Layla", "email": "layla@acme.test", "role": "agent", "password": "s3cret-pass"}))
        .await;
    assert_eq!(r.status, 201);
    assert!(r.data().get("password").is_none());
    assert!(!r.body.to_string().contains("s3cret-pass"));
    assert_eq!(r.data()["status"], "active");

    let r = api
        .post("/team", json!({"name": "Dup", "email": "LAYLA@acme.test", "role": "boss", "password": "short"}))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.field_errors("email"), ["The email has already been taken."]);
    assert_eq!(r.field_errors("role"), ["The selected role is invalid."]);
    assert_eq!(r.field_errors("password"), ["The password field must be at least 8 characters."]);
    let r = api
        .post("/team", json!({"name": "X", "email": "not-an-email", "role": "agent", "password": "longenough"}))
        .await;
    assert_eq!(r.field_errors("email"), ["The email field must be a valid email address."]);
    // The log keeps request bodies, but never a password.
    let logged = api.sandbox.requests();
    assert!(logged.iter().all(|l| !serde_json::to_string(l).unwrap().contains("s3cret-pass")));
    assert_eq!(logged[0].body.as_ref().unwrap()["password"], "(redacted)");
}

#[tokio::test]
async fn team_list_is_paginated_filtered_and_without_timestamps() {
    let members: Vec<Value> = (0..250)
        .map(|i| json!({"name": format!("M{i}"), "email": format!("m{i}@acme.test"), "role": if i % 5 == 0 {"admin"} else {"agent"}}))
        .collect();
    let api = Api::seeded(json!({"team": members})).await;
    let mut seen = 0;
    for page in 1..=3 {
        let r = api.get(&format!("/team?per_page=100&page={page}")).await;
        assert_eq!(r.body["meta"]["last_page"], 3);
        assert_eq!(r.body["meta"]["total"], 250);
        seen += r.data().as_array().unwrap().len();
        assert!(r.data()[0].get("created_at").is_none(), "team list items carry no timestamps");
    }
    assert_eq!(seen, 250);
    let admins = api.get("/team?role=admin&per_page=100").await;
    assert_eq!(admins.body["meta"]["total"], 50);
    assert!(api.get("/team/1").await.data()["created_at"].is_string());
    let beyond = api.get("/team?page=99").await;
    assert_eq!(beyond.data(), &json!([]));
}

#[tokio::test]
async fn team_email_is_immutable_and_the_last_active_admin_is_protected() {
    let api = Api::seeded(json!({"team": [
        {"name": "Owner", "email": "owner@acme.test", "role": "admin"},
        {"name": "Sam", "email": "sam@acme.test", "role": "agent"}
    ]}))
    .await;
    let r = api.put("/team/2", json!({"email": "other@acme.test"})).await;
    assert_eq!(r.field_errors("email"), ["The email of a team member cannot be changed."]);
    let r = api
        .put("/team/2", json!({"email": "sam@acme.test", "name": "Samir", "role": "admin", "password": "newpassword"}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!((r.data()["name"].clone(), r.data()["role"].clone()), (json!("Samir"), json!("admin")));
    // Two admins: one may be deactivated; the last one may not be demoted, deactivated or deleted.
    assert_eq!(api.put("/team/1", json!({"status": "inactive"})).await.status, 200);
    let r = api.put("/team/2", json!({"role": "agent"})).await;
    assert_eq!(r.field_errors("role"), ["The last active admin cannot be demoted or deactivated."]);
    let r = api.delete("/team/2").await;
    assert_eq!((r.status, r.body["message"].clone()), (422, json!("The last active admin cannot be deleted.")));
    assert_eq!(api.delete("/team/1").await.status, 204);
    assert_eq!(api.get("/team/1").await.body["message"], "Team member not found.");
}

#[tokio::test]
async fn team_plan_limit_is_a_422_naming_the_limit() {
    let api = Api::seeded(json!({
        "subscription": {"team_members_max": 1},
        "team": [{"name": "Owner", "email": "owner@acme.test", "role": "admin"}]
    }))
    .await;
    let sub = api.get("/account/subscription").await;
    assert_eq!(sub.data()["limits"]["team_members"], json!({"max": 1, "used": 1}));
    let r = api
        .post("/team", json!({"name": "New", "email": "new@acme.test", "role": "agent", "password": "password1"}))
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body["message"].as_str().unwrap().contains("allows 1 team members"), "{}", r.body);
}

// ---------------------------------------------------------------- campaigns

async fn campaign_api() -> Api {
    Api::seeded(lookups()).await
}

fn spring() -> Value {
    json!({"name": "Spring Promo", "channel_id": 5, "message": "Hello!", "list_ids": [1], "segment_ids": [7], "contact_ids": [11, 12]})
}

#[tokio::test]
async fn campaign_create_is_a_draft_and_the_single_get_adds_message_and_audience() {
    let api = campaign_api().await;
    let r = api.post("/campaigns", spring()).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.data()["status"], "draft");
    assert_eq!(r.data()["total_contacts"], 120 + 400 + 2);
    assert_eq!(r.data()["client_setting"], json!({"id": 5, "name": "+15550100", "type": "whatsapp"}));
    assert_eq!(r.data()["daily_limit"], 1000);
    let list = api.get("/campaigns").await;
    assert_eq!(list.body["meta"]["per_page"], 25, "campaign lists default to 25 per page");
    let item = &list.data()[0];
    for hidden in ["message", "list_ids", "segment_ids", "contact_ids", "channel_id"] {
        assert!(item.get(hidden).is_none(), "{hidden} is only in the single GET");
    }
    let one = api.get("/campaigns/1").await;
    assert_eq!(one.data()["message"], "Hello!");
    assert_eq!(one.data()["list_ids"], json!([1]));
    assert_eq!(one.data()["channel_id"], 5);
}

#[tokio::test]
async fn campaign_validation_requires_channel_message_and_audience() {
    let api = campaign_api().await;
    let r = api.post("/campaigns", json!({"name": "X", "channel_id": 99, "list_ids": [3]})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.field_errors("channel_id"), ["The selected channel id is invalid."]);
    assert_eq!(r.field_errors("message"), ["The message field is required."]);
    assert_eq!(r.field_errors("list_ids.0"), ["The selected list_ids.0 is invalid."]);
    let r = api.post("/campaigns", json!({"name": "X", "channel_id": 5, "message": "m"})).await;
    assert_eq!(
        r.field_errors("contact_ids"),
        ["The contact ids field is required when none of list ids / segment ids are present."]
    );
    let r = api.post("/campaigns", json!({"name": "X", "message": "m", "contact_ids": ["a"]})).await;
    assert_eq!(r.field_errors("channel_id"), ["The channel id field is required."]);
    assert_eq!(r.field_errors("contact_ids"), ["The contact ids field must contain only integers."]);
}

#[tokio::test]
async fn campaign_lifecycle_and_its_422s() {
    let api = campaign_api().await;
    api.post("/campaigns", spring()).await;
    assert_eq!(
        api.put("/campaigns/1", json!({"message": "Hello again", "is_new_number": true})).await.data()["daily_limit"],
        50
    );
    let r = api.post("/campaigns/1/resume", json!({})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["message"], "Cannot resume a draft campaign. Allowed from: paused.");

    let r = api.post("/campaigns/1/start", json!({})).await;
    assert_eq!((r.status, r.data()["status"].clone()), (200, json!("running")));
    assert!(r.data()["started_at"].is_string());
    let r = api.put("/campaigns/1", json!({"message": "changed"})).await;
    assert_eq!((r.status, r.body["message"].clone()), (422, json!("Only draft campaigns can be edited.")));
    let r = api.delete("/campaigns/1").await;
    assert_eq!(r.status, 422);
    assert_eq!(api.post("/campaigns/1/start", json!({})).await.status, 422);
    assert_eq!(api.post("/campaigns/1/pause", json!({})).await.data()["status"], "paused");
    assert_eq!(api.get("/campaigns?status=paused").await.body["meta"]["total"], 1);
    assert_eq!(api.get("/campaigns?status=running").await.body["meta"]["total"], 0);
    assert_eq!(api.post("/campaigns/1/resume", json!({})).await.data()["status"], "running");
    assert_eq!(api.post("/campaigns/1/cancel", json!({})).await.data()["status"], "cancelled");
    assert_eq!(api.post("/campaigns/1/start", json!({})).await.status, 422, "cancelled is terminal");
    assert_eq!(api.post("/campaigns/1/resume", json!({})).await.status, 422);
    assert_eq!(api.delete("/campaigns/1").await.status, 204);
    assert_eq!(api.post("/campaigns/1/start", json!({})).await.status, 404);
    assert_eq!(api.post("/campaigns/1/explode", json!({})).await.status, 404);
}

#[tokio::test]
async fn a_completed_campaign_is_terminal_and_deletable() {
    let api = campaign_api().await;
    api.post("/campaigns", spring()).await;
    api.post("/campaigns/1/start", json!({})).await;
    let control = reqwest::Client::new()
        .post(format!("{}/_sandbox/campaigns/1/complete", api.sandbox.root_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(control.status(), 204);
    let c = api.get("/campaigns/1").await;
    assert_eq!(c.data()["status"], "completed");
    assert_eq!(c.data()["progress_percentage"], 100.0);
    assert!(c.data()["completed_at"].is_string());
    assert_eq!(api.post("/campaigns/1/cancel", json!({})).await.status, 422);
    assert_eq!(api.delete("/campaigns/1").await.status, 204);
}

#[tokio::test]
async fn campaign_quota_is_enforced() {
    let mut s = lookups();
    s["subscription"] = json!({"campaigns_max": 1});
    let api = Api::seeded(s).await;
    assert_eq!(api.post("/campaigns", spring()).await.status, 201);
    let r = api.post("/campaigns", spring()).await;
    assert_eq!(r.status, 422);
    assert!(r.body["message"].as_str().unwrap().contains("quota"));
}

// ---------------------------------------------------------------- lookups

#[tokio::test]
async fn lookups_answer_whole_lists_without_meta() {
    let api = Api::seeded(lookups()).await;
    for (path, count) in [("/account/channels", 2), ("/contacts/lists", 2), ("/contacts/segments", 1)] {
        let r = api.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.data().as_array().unwrap().len(), count, "{path}");
        assert!(r.body.get("meta").is_none(), "{path}");
    }
    let ch = api.get("/account/channels").await;
    assert_eq!(ch.data()[0]["type"], "whatsapp");
    assert_eq!(ch.data()[0]["is_connected"], true);
    let lists = api.get("/contacts/lists").await;
    assert_eq!(lists.data()[0]["status"], 1);
    assert_eq!(lists.data()[0]["contacts_count"], 120);
    let account = api.get("/account").await;
    assert_eq!(account.data()["status"], "active");
    let sub = api.get("/account/subscription").await;
    assert_eq!(sub.data()["limits"]["campaigns"], json!({"max": 100, "used": 0}));
}

// ---------------------------------------------------------------- faults, log, quirks, state

#[tokio::test]
async fn status_faults_answer_instead_of_executing_then_run_out() {
    let api = Api::seeded(json!({"team": [{"name": "A", "email": "a@acme.test", "role": "admin"}]})).await;
    api.sandbox.add_fault(FaultRule::status("PUT", "/api/v1/team/*", 503, 3)).unwrap();
    for _ in 0..3 {
        let r = api.put("/team/1", json!({"name": "B"})).await;
        assert_eq!(r.status, 503);
        assert_eq!(r.body["success"], false);
    }
    assert_eq!(api.sandbox.with_store(|s| s.team[0].name.clone()), "A", "an injected status executes nothing");
    assert_eq!(api.put("/team/1", json!({"name": "B"})).await.status, 200);
    let log = api.sandbox.requests();
    assert_eq!(log.iter().filter(|r| r.injected).count(), 3);
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), [503, 503, 503, 200]);
}

#[tokio::test]
async fn injected_429_carries_retry_after_in_body_and_optionally_header() {
    let api = Api::start().await;
    let rule = FaultRule {
        retry_after: Some(7),
        retry_after_header: Some(7),
        ..FaultRule::status("GET", "/api/v1/**", 429, 1)
    };
    api.sandbox.add_fault(rule).unwrap();
    let r = api.get("/webhooks").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body, json!({"success": false, "message": "Too many requests. Please slow down.", "retry_after": 7}));
    assert_eq!(r.header("retry-after"), Some(7));
    assert_eq!(api.get("/webhooks").await.status, 200);
}

#[tokio::test]
async fn a_dropped_post_is_executed_but_never_answered() {
    let api = Api::start().await;
    api.sandbox.add_fault(FaultRule::drop_after_execute("POST", "/api/v1/webhooks", 1)).unwrap();
    let body = json!({"name": "CRM", "url": "https://crm.test", "events": ["contact.created"]});
    let err = api.try_call("POST", "/webhooks", Some(body), Some("test-key")).await.unwrap_err();
    assert!(err.is_request() || err.is_connect() || err.is_body(), "the connection closed unanswered: {err:?}");
    let list = api.get("/webhooks").await;
    assert_eq!(list.data().as_array().unwrap().len(), 1, "the create happened");
    let log = api.sandbox.requests();
    assert!(log[0].dropped);
    assert_eq!(log[0].status, 201);
    assert!(!log[1].dropped);
}

#[tokio::test]
async fn control_endpoints_manage_faults_latency_log_and_state_over_http() {
    let api = Api::start().await;
    let http = reqwest::Client::new();
    let root = api.sandbox.root_url();
    let r = http
        .post(format!("{root}/_sandbox/faults"))
        .body(r#"{"method":"GET","path":"/api/v1/ai-agents","status":500,"count":2}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let bad = http.post(format!("{root}/_sandbox/faults")).body(r#"{"path":"/x"}"#).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(api.get("/ai-agents").await.status, 500);
    let faults: Value = http.get(format!("{root}/_sandbox/faults")).send().await.unwrap().json().await.unwrap();
    assert_eq!(faults["rules"][0]["count"], 1);
    assert_eq!(http.delete(format!("{root}/_sandbox/faults")).send().await.unwrap().status(), 204);
    assert_eq!(api.get("/ai-agents?per_page=3").await.status, 200);

    assert_eq!(http.put(format!("{root}/_sandbox/latency")).body(r#"{"ms":30}"#).send().await.unwrap().status(), 204);
    let t = std::time::Instant::now();
    api.get("/account").await;
    assert!(t.elapsed() >= Duration::from_millis(30), "latency applies");

    let log: Value = http.get(format!("{root}/_sandbox/requests")).send().await.unwrap().json().await.unwrap();
    let lines: Vec<_> =
        log.as_array().unwrap().iter().map(|r| (r["method"].clone(), r["path"].clone(), r["status"].clone())).collect();
    assert_eq!(lines[0], (json!("GET"), json!("/api/v1/ai-agents"), json!(500)));
    assert_eq!(log[1]["query"], "per_page=3");
    assert_eq!(lines.len(), 3, "control requests are not logged");
    http.delete(format!("{root}/_sandbox/requests")).send().await.unwrap();
    assert!(api.sandbox.requests().is_empty());

    let state = json!({"agents": [{"name": "Seeded", "system_prompt": "p"}]});
    let r = http.put(format!("{root}/_sandbox/state")).body(state.to_string()).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(api.get("/ai-agents").await.data()[0]["name"], "Seeded");
    let dumped: Value = http.get(format!("{root}/_sandbox/state")).send().await.unwrap().json().await.unwrap();
    assert_eq!(dumped["agents"][0]["id"], 1);
}

#[tokio::test]
async fn a_delay_fault_stalls_one_request() {
    let api = Api::start().await;
    api.sandbox.add_fault(FaultRule::delay("GET", "/api/v1/account", 200, 1)).unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_millis(50)).build().unwrap();
    let err = client.get(format!("{}/account", api.sandbox.url())).header("X-Api-Key", "test-key").send().await;
    assert!(err.unwrap_err().is_timeout());
    assert_eq!(api.get("/account").await.status, 200);
}

#[tokio::test]
async fn quirks_offset_timestamps_small_page_caps_extra_fields_and_paginated_webhooks() {
    let config = SandboxConfig {
        quirks: Quirks {
            max_per_page: 10,
            utc_offset_minutes: 180,
            extra_fields: true,
            webhooks_paginated: true,
            ..Quirks::default()
        },
        ..test_config()
    };
    let hooks: Vec<Value> = (0..12)
        .map(|i| json!({"name": format!("h{i}"), "url": "https://h.test", "events": ["message.sent"]}))
        .collect();
    let api = Api::start_with(config, seed(json!({"webhooks": hooks}))).await;
    let r = api.get("/webhooks?per_page=100").await;
    assert_eq!(r.body["meta"], json!({"current_page": 1, "last_page": 2, "per_page": 10, "total": 12}));
    assert!(r.data()[0]["created_at"].as_str().unwrap().ends_with("+03:00"));
    assert!(r.data()[0].get("x_sandbox_extra").is_some());
    assert!(r.body.get("request_id").is_some());
}

#[tokio::test]
async fn state_file_survives_a_restart_and_ids_are_never_reused() {
    let dir = std::env::temp_dir().join(format!("skyform-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.json");
    let _ = std::fs::remove_file(&path);
    let config = SandboxConfig { state_file: Some(path.clone()), ..test_config() };
    let api = Api::start_with(config.clone(), Store::default()).await;
    api.post("/ai-agents", json!({"name": "Keep", "system_prompt": "p"})).await;
    api.post("/ai-agents", json!({"name": "Drop", "system_prompt": "p"})).await;
    api.delete("/ai-agents/2").await;
    api.sandbox.stop().await;

    let again = Api::start_with(config, Store::default()).await;
    let agents = again.get("/ai-agents").await;
    assert_eq!(agents.data().as_array().unwrap().len(), 1);
    assert_eq!(agents.data()[0]["name"], "Keep");
    let r = again.post("/ai-agents", json!({"name": "Next", "system_prompt": "p"})).await;
    assert_eq!(r.data()["id"], 3, "ids continue after the deleted one");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn seeds_the_api_could_never_be_in_are_refused() {
    let bad = seed(json!({"agents": [
        {"name": "A", "system_prompt": "p", "is_default": true},
        {"name": "B", "system_prompt": "p", "is_default": true}
    ]}));
    let err = skyform::sandbox::Sandbox::start(test_config(), bad).await.err().unwrap();
    assert!(err.to_string().contains("at most one agent can be the default"), "{err}");
    let dup = seed(json!({"webhooks": [
        {"id": 3, "name": "a", "url": "https://a.test", "events": []},
        {"id": 3, "name": "b", "url": "https://a.test", "events": []}
    ]}));
    assert!(skyform::sandbox::Sandbox::start(test_config(), dup).await.is_err());
    let not_loopback = SandboxConfig { addr: "0.0.0.0:0".parse().unwrap(), ..test_config() };
    let err = skyform::sandbox::Sandbox::start(not_loopback, Store::default()).await.err().unwrap();
    assert!(err.to_string().contains("loopback"));
}
