//! `schemas/skylight-api.openapi.yaml` is the judge of what the sandbox serves: this walks every operation
//! in the document against a running sandbox, validates every response body against the document's schema
//! for that status, and fails if any documented (operation, status) pair was never exercised.

use crate::common;

use common::{lookups, seed, test_config, Api};
use serde_json::{json, Value};
use skyform::sandbox::{FaultRule, Quirks, SandboxConfig};
use std::collections::{BTreeMap, BTreeSet, HashMap};

struct Contract {
    doc: Value,
    validators: HashMap<String, jsonschema::Validator>,
    /// (operationId, status) pairs seen.
    seen: BTreeSet<(String, u16)>,
}

struct Operation {
    id: String,
    method: String,
    template: String,
    statuses: Vec<u16>,
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Contract {
    fn load() -> Contract {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/skylight-api.openapi.yaml"))
            .expect("the OpenAPI document exists");
        let doc: Value = serde_yaml::from_str(&text).expect("the OpenAPI document is valid YAML");
        assert_eq!(doc["openapi"], "3.1.0");
        Contract { doc, validators: HashMap::new(), seen: BTreeSet::new() }
    }

    fn operations(&self) -> Vec<Operation> {
        let mut ops = Vec::new();
        for (template, item) in self.doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let statuses = op["responses"].as_object().unwrap().keys().map(|k| k.parse().unwrap()).collect();
                ops.push(Operation {
                    id: op["operationId"].as_str().expect("every operation has an operationId").to_string(),
                    method: method.to_uppercase(),
                    template: template.clone(),
                    statuses,
                });
            }
        }
        ops
    }

    /// The documented template a concrete path belongs to; static segments win over `{id}`.
    fn template_of(&self, path: &str) -> String {
        let segs: Vec<&str> = path.split('?').next().unwrap().split('/').collect();
        let mut best: Option<(usize, String)> = None;
        for template in self.doc["paths"].as_object().unwrap().keys() {
            let t: Vec<&str> = template.split('/').collect();
            if t.len() != segs.len() {
                continue;
            }
            let ok = t.iter().zip(&segs).all(|(a, b)| a == b || a.starts_with('{'));
            let statics = t.iter().filter(|s| !s.starts_with('{')).count();
            if ok && best.as_ref().is_none_or(|(n, _)| statics > *n) {
                best = Some((statics, template.clone()));
            }
        }
        best.unwrap_or_else(|| panic!("{path} is not in the OpenAPI document")).1
    }

    /// The JSON pointer of a response's body schema, following a `$ref`ed response; `None` for no body.
    fn schema_pointer(&self, template: &str, method: &str, status: u16) -> Option<String> {
        let op = format!("/paths/{}/{}", escape(template), method.to_lowercase());
        let mut response = format!("{op}/responses/{status}");
        let resolved = self
            .doc
            .pointer(&response)
            .unwrap_or_else(|| panic!("{method} {template} answered {status}, which the document does not list"));
        if let Some(r) = resolved.get("$ref").and_then(Value::as_str) {
            response = r.trim_start_matches('#').to_string();
        }
        let schema = format!("{response}/content/application~1json/schema");
        self.doc.pointer(&schema).map(|_| schema)
    }

    fn check(&mut self, method: &str, path: &str, status: u16, body: &Value) {
        let template = self.template_of(path);
        let op_id = self
            .doc
            .pointer(&format!("/paths/{}/{}/operationId", escape(&template), method.to_lowercase()))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{method} {template} is not in the OpenAPI document"))
            .to_string();
        match self.schema_pointer(&template, method, status) {
            None => assert_eq!(body, &Value::Null, "{op_id} {status} documents no body"),
            Some(pointer) => {
                let doc = &self.doc;
                let validator = self.validators.entry(pointer.clone()).or_insert_with(|| {
                    let mut root = doc.clone();
                    // A fragment is a URI: `{` and `}` of path templates must be percent-encoded.
                    let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
                    root["$ref"] = Value::String(format!("#{fragment}"));
                    jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .build(&root)
                        .unwrap_or_else(|e| panic!("schema at {pointer} compiles: {e}"))
                });
                let errors: Vec<String> =
                    validator.iter_errors(body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
                assert!(
                    errors.is_empty(),
                    "{op_id} {status} ({method} {path}) does not match the document:\n{}\nbody: {body}",
                    errors.join("\n")
                );
            }
        }
        self.seen.insert((op_id, status));
    }
}

enum Body {
    None,
    Json(Value),
    Raw(&'static str),
}

async fn call(
    api: &Api,
    contract: &mut Contract,
    method: &str,
    path: &str,
    body: Body,
    key: Option<&str>,
) -> (u16, Value) {
    let url = format!("{}{}", api.sandbox.url(), path);
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), url);
    if let Some(k) = key {
        req = req.header("X-Api-Key", k);
    }
    req = match body {
        Body::None => req,
        Body::Json(v) => req.json(&v),
        Body::Raw(s) => req.header("content-type", "application/json").body(s),
    };
    let res = req.send().await.expect("request completes");
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    contract.check(method, path, status, &body);
    (status, body)
}

/// One scripted call with the status it must answer.
async fn step(api: &Api, c: &mut Contract, method: &str, path: &str, body: Value, want: u16) -> Value {
    let body = if body.is_null() { Body::None } else { Body::Json(body) };
    let (status, answer) = call(api, c, method, path, body, Some("test-key")).await;
    assert_eq!(status, want, "{method} {path}: {answer}");
    answer
}

fn account() -> Value {
    let mut s = lookups();
    s["team"] = json!([{"name": "Owner", "email": "owner@acme.test", "role": "admin"}]);
    s
}

#[tokio::test]
async fn every_operation_answers_what_the_document_says() {
    let mut c = Contract::load();
    let api = Api::seeded(account()).await;
    let a = &api;

    // tags
    step(a, &mut c, "POST", "/tags", json!({"title": "VIP"}), 201).await;
    step(a, &mut c, "POST", "/tags", json!({"title": "x".repeat(101)}), 422).await;
    step(a, &mut c, "GET", "/tags", Value::Null, 200).await;
    step(a, &mut c, "GET", "/tags/1", Value::Null, 200).await;
    step(a, &mut c, "PUT", "/tags/1", json!({"title": "Very important"}), 200).await;
    step(a, &mut c, "PUT", "/tags/1", json!({}), 422).await;
    step(a, &mut c, "DELETE", "/tags/1", Value::Null, 204).await;

    // contact lists and segments
    for base in ["/contacts/lists", "/contacts/segments"] {
        let created = step(a, &mut c, "POST", base, json!({"name": "Spring Leads"}), 201).await;
        let id = created["data"]["id"].as_u64().unwrap();
        step(a, &mut c, "POST", base, json!({}), 422).await;
        step(a, &mut c, "PUT", &format!("{base}/{id}"), json!({"name": "Spring", "status": 0}), 200).await;
        step(a, &mut c, "PUT", &format!("{base}/{id}"), json!({"status": 7}), 422).await;
        step(a, &mut c, "PUT", &format!("{base}/999"), json!({"name": "x"}), 404).await;
        step(a, &mut c, "DELETE", &format!("{base}/{id}"), Value::Null, 204).await;
        step(a, &mut c, "DELETE", &format!("{base}/{id}"), Value::Null, 404).await;
    }
    let list = step(a, &mut c, "POST", "/contacts/lists", json!({"name": "Kept"}), 201).await;
    step(a, &mut c, "GET", &format!("/contacts/lists/{}", list["data"]["id"]), Value::Null, 200).await;
    step(a, &mut c, "GET", "/contacts/lists/999", Value::Null, 404).await;

    // account profile and voice settings (singletons, PATCH)
    step(
        a,
        &mut c,
        "PATCH",
        "/account",
        json!({"company_name": "Acme", "timezone": "Asia/Riyadh", "country_id": 194}),
        200,
    )
    .await;
    step(a, &mut c, "PATCH", "/account", json!({"timezone": "not a zone"}), 422).await;
    step(a, &mut c, "GET", "/voice", Value::Null, 200).await;
    step(a, &mut c, "GET", "/voice/dialects", Value::Null, 200).await;
    step(a, &mut c, "PATCH", "/voice/settings", json!({"enabled": true, "language": "ar", "dialect": "egy"}), 200)
        .await;
    step(a, &mut c, "PATCH", "/voice/settings", json!({"language": "en", "dialect": "egy"}), 422).await;

    // agents
    step(
        a,
        &mut c,
        "POST",
        "/ai-agents",
        json!({"name": "Sales", "system_prompt": "Sell.", "response_guidelines": {"tone": "warm"}}),
        201,
    )
    .await;
    step(a, &mut c, "POST", "/ai-agents", json!({}), 422).await;
    let (s, _) = call(a, &mut c, "POST", "/ai-agents", Body::Raw("{oops"), Some("test-key")).await;
    assert_eq!(s, 400);
    step(a, &mut c, "GET", "/ai-agents", Value::Null, 200).await;
    step(a, &mut c, "GET", "/ai-agents/1", Value::Null, 200).await;
    step(a, &mut c, "PUT", "/ai-agents/1", json!({"instruction_prompt": "Be brief."}), 200).await;
    step(a, &mut c, "PUT", "/ai-agents/1", json!({"name": 5}), 422).await;
    step(a, &mut c, "POST", "/ai-agents/1/set-default", Value::Null, 200).await;
    step(a, &mut c, "DELETE", "/ai-agents/1", Value::Null, 422).await;
    step(a, &mut c, "POST", "/ai-agents", json!({"name": "Temp", "system_prompt": "x"}), 201).await;
    step(a, &mut c, "DELETE", "/ai-agents/2", Value::Null, 204).await;

    // knowledge base
    step(a, &mut c, "POST", "/knowledge-base", json!({"title": "Returns", "type": "text", "content": "30 days."}), 201)
        .await;
    step(
        a,
        &mut c,
        "POST",
        "/knowledge-base",
        json!({"title": "Site", "type": "website", "url": "https://acme.test"}),
        201,
    )
    .await;
    step(
        a,
        &mut c,
        "POST",
        "/knowledge-base",
        json!({"title": "Catalog", "type": "product_catalog", "products": [{"name": "Kettle", "price": 20}]}),
        201,
    )
    .await;
    step(a, &mut c, "POST", "/knowledge-base", json!({"title": "Doc", "type": "document"}), 422).await;
    step(a, &mut c, "GET", "/knowledge-base?per_page=2", Value::Null, 200).await;
    for id in 1..=3 {
        step(a, &mut c, "GET", &format!("/knowledge-base/{id}"), Value::Null, 200).await;
    }
    step(a, &mut c, "GET", "/knowledge-base/2/status", Value::Null, 200).await;
    step(a, &mut c, "PUT", "/knowledge-base/1", json!({"content": "60 days.", "description": null}), 200).await;
    step(a, &mut c, "PUT", "/knowledge-base/1", json!({"type": "website"}), 422).await;
    step(a, &mut c, "DELETE", "/knowledge-base/3", Value::Null, 204).await;

    // webhooks
    let hook = json!({"name": "CRM", "url": "https://crm.test/h", "events": ["contact.created", "message.received"]});
    step(a, &mut c, "POST", "/webhooks", hook.clone(), 201).await;
    step(a, &mut c, "POST", "/webhooks", json!({"name": "x", "url": "http://crm.test", "events": []}), 422).await;
    step(a, &mut c, "GET", "/webhooks/events", Value::Null, 200).await;
    step(a, &mut c, "GET", "/webhooks/1", Value::Null, 200).await;
    step(a, &mut c, "PUT", "/webhooks/1", json!({"is_active": false, "events": ["booking.created"]}), 200).await;
    step(a, &mut c, "PUT", "/webhooks/1", json!({"events": ["no.such"]}), 422).await;
    step(a, &mut c, "POST", "/webhooks/1/test", Value::Null, 200).await;
    step(a, &mut c, "GET", "/webhooks", Value::Null, 200).await;
    step(a, &mut c, "GET", "/webhooks/1/deliveries?status=success", Value::Null, 200).await;
    step(a, &mut c, "POST", "/webhooks/1/regenerate-secret", Value::Null, 200).await;
    step(a, &mut c, "POST", "/webhooks", hook, 201).await;
    step(a, &mut c, "DELETE", "/webhooks/2", Value::Null, 204).await;

    // team
    let member = json!({"name": "Layla", "email": "layla@acme.test", "role": "agent", "password": "password-1"});
    step(a, &mut c, "POST", "/team", member.clone(), 201).await;
    step(a, &mut c, "POST", "/team", member, 422).await;
    step(a, &mut c, "GET", "/team?role=agent", Value::Null, 200).await;
    step(a, &mut c, "GET", "/team/2", Value::Null, 200).await;
    step(a, &mut c, "PUT", "/team/2", json!({"name": "Layla H.", "status": "inactive"}), 200).await;
    step(a, &mut c, "PUT", "/team/2", json!({"role": "owner"}), 422).await;
    step(a, &mut c, "DELETE", "/team/1", Value::Null, 422).await;
    step(a, &mut c, "DELETE", "/team/2", Value::Null, 204).await;

    // campaigns
    let campaign = json!({"name": "Spring", "channel_id": 5, "message": "Hi!", "list_ids": [1], "is_new_number": true});
    step(a, &mut c, "POST", "/campaigns", campaign.clone(), 201).await;
    step(a, &mut c, "POST", "/campaigns", json!({"name": "x"}), 422).await;
    step(a, &mut c, "GET", "/campaigns", Value::Null, 200).await;
    step(a, &mut c, "GET", "/campaigns/1", Value::Null, 200).await;
    step(a, &mut c, "PUT", "/campaigns/1", json!({"segment_ids": [7], "channel_id": 6}), 200).await;
    step(a, &mut c, "PUT", "/campaigns/1", json!({"channel_id": 99}), 422).await;
    for (action, again) in [("start", 422), ("pause", 422), ("resume", 422), ("cancel", 422)] {
        step(a, &mut c, "POST", &format!("/campaigns/1/{action}"), Value::Null, 200).await;
        step(a, &mut c, "POST", &format!("/campaigns/1/{action}"), Value::Null, again).await;
    }
    step(a, &mut c, "GET", "/campaigns?status=cancelled", Value::Null, 200).await;
    step(a, &mut c, "POST", "/campaigns", campaign, 201).await;
    step(a, &mut c, "POST", "/campaigns/2/start", Value::Null, 200).await;
    step(a, &mut c, "DELETE", "/campaigns/2", Value::Null, 422).await;
    step(a, &mut c, "DELETE", "/campaigns/1", Value::Null, 204).await;

    // account and lookups
    for path in [
        "/account",
        "/account/subscription",
        "/account/channels",
        "/contacts/lists",
        "/contacts/segments",
        "/voice",
        "/voice/dialects",
    ] {
        step(a, &mut c, "GET", path, Value::Null, 200).await;
    }

    // Generic error paths for every operation: 401 without a key, 404 for a missing id, 429 when limited.
    let ops = c.operations();
    for op in &ops {
        let path = op.template.replace("{id}", "1");
        let (s, _) = call(a, &mut c, &op.method, &path, Body::None, None).await;
        assert_eq!(s, 401, "{} without a key", op.id);
        if op.template.contains("{id}") {
            let missing = op.template.replace("{id}", "999999");
            let (s, _) = call(a, &mut c, &op.method, &missing, Body::Json(json!({})), Some("test-key")).await;
            assert_eq!(s, 404, "{} with a missing id", op.id);
        }
        let rule = FaultRule {
            retry_after: Some(3),
            ..FaultRule::status(&op.method, &format!("/api/v1{}", op.template.replace("{id}", "*")), 429, 1)
        };
        api.sandbox.add_fault(rule).unwrap();
        let (s, _) = call(a, &mut c, &op.method, &path, Body::None, Some("test-key")).await;
        assert_eq!(s, 429, "{} when rate limited", op.id);
    }

    // 403: an inactive account.
    let inactive = Api::seeded(json!({"account": {"status": "inactive"}})).await;
    for path in ["/ai-agents", "/account"] {
        let (s, _) = call(&inactive, &mut c, "GET", path, Body::None, Some("test-key")).await;
        assert_eq!(s, 403);
    }

    // Every documented (operation, status) pair was exercised and matched.
    let mut missing = BTreeMap::new();
    for op in &ops {
        for status in &op.statuses {
            if !c.seen.contains(&(op.id.clone(), *status)) {
                missing.entry(op.id.clone()).or_insert_with(Vec::new).push(*status);
            }
        }
    }
    assert!(missing.is_empty(), "documented but never exercised: {missing:?}");
}

/// The same document holds for the forms the contract allows but the default sandbox does not show:
/// offset timestamps, a paginated webhook list, a smaller page cap.
#[tokio::test]
async fn tolerated_variants_still_match_the_document() {
    let mut c = Contract::load();
    let config = SandboxConfig {
        quirks: Quirks { max_per_page: 2, utc_offset_minutes: -330, webhooks_paginated: true, ..Quirks::default() },
        ..test_config()
    };
    let mut s = account();
    s["webhooks"] = json!([
        {"name": "a", "url": "https://a.test", "events": ["message.sent"]},
        {"name": "b", "url": "https://b.test", "events": ["message.read"]},
        {"name": "c", "url": "https://c.test", "events": ["ticket.closed"]}
    ]);
    s["agents"] = json!([{"name": "A", "system_prompt": "p"}]);
    let api = Api::start_with(config, seed(s)).await;
    let hooks = step(&api, &mut c, "GET", "/webhooks?per_page=100", Value::Null, 200).await;
    assert_eq!(hooks["meta"]["per_page"], 2);
    assert!(hooks["data"][0]["created_at"].as_str().unwrap().ends_with("-05:30"));
    step(&api, &mut c, "GET", "/ai-agents", Value::Null, 200).await;
    step(&api, &mut c, "GET", "/team", Value::Null, 200).await;
    step(&api, &mut c, "GET", "/account", Value::Null, 200).await;
}
