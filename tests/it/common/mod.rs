//! Test helpers: an in-process sandbox and a tiny HTTP caller that returns status, headers and JSON.
#![allow(dead_code)] // each test binary uses a different part

pub mod cd;
pub mod world;

use reqwest::header::HeaderMap;
use serde_json::Value;
use skyform::sandbox::{Sandbox, SandboxConfig, Store};
use std::time::{Duration, Instant};

pub struct Api {
    pub sandbox: Sandbox,
    http: reqwest::Client,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn header(&self, name: &str) -> Option<i64> {
        self.headers.get(name)?.to_str().ok()?.parse().ok()
    }

    /// The messages of one field in a 422 body.
    pub fn field_errors(&self, field: &str) -> Vec<String> {
        self.body["errors"][field]
            .as_array()
            .map(|a| a.iter().filter_map(|m| m.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }
}

/// A seed from JSON (the shape of a `--seed` file).
pub fn seed(v: Value) -> Store {
    serde_json::from_value(v).expect("test seed must parse")
}

pub fn test_config() -> SandboxConfig {
    SandboxConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        api_key: "test-key".into(),
        rate_limit: 10_000,
        crawl_delay_ms: 100,
        ..SandboxConfig::default()
    }
}

impl Api {
    /// An empty account, a rate limit high enough not to matter.
    pub async fn start() -> Api {
        Api::start_with(test_config(), Store::default()).await
    }

    pub async fn seeded(v: Value) -> Api {
        Api::start_with(test_config(), seed(v)).await
    }

    pub async fn start_with(config: SandboxConfig, store: Store) -> Api {
        let sandbox = Sandbox::start(config, store).await.expect("sandbox starts");
        Api { sandbox, http: reqwest::Client::new() }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>, key: Option<&str>) -> Resp {
        self.try_call(method, path, body, key).await.expect("request completes")
    }

    pub async fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Result<Resp, reqwest::Error> {
        let url = format!("{}{}", self.sandbox.url(), path);
        let mut req = self.http.request(method.parse().unwrap(), url);
        if let Some(k) = key {
            req = req.header("X-Api-Key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await?;
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON body") };
        Ok(Resp { status, headers, body })
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None, Some(self.sandbox.api_key())).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call("POST", path, Some(body), Some(self.sandbox.api_key())).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.call("PUT", path, Some(body), Some(self.sandbox.api_key())).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call("DELETE", path, None, Some(self.sandbox.api_key())).await
    }

    /// `"METHOD /api/v1/path"` for every logged request.
    pub fn log_lines(&self) -> Vec<String> {
        self.sandbox.requests().iter().map(|r| r.line()).collect()
    }
}

/// Polls `check` until it returns `Some`, failing after `deadline`. Never a fixed sleep.
pub async fn eventually<T, F, Fut>(deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < until, "condition not met within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A small account with the lookups campaigns need.
pub fn lookups() -> Value {
    serde_json::json!({
        "channels": [
            {"id": 5, "type": "whatsapp", "username": "+15550100"},
            {"id": 6, "type": "telegram", "username": "acme_bot"}
        ],
        "lists": [{"id": 1, "name": "Q1 Leads", "contacts_count": 120}, {"id": 2, "name": "VIP", "contacts_count": 30}],
        "segments": [{"id": 7, "name": "Active last 30 days", "contacts_count": 400}]
    })
}
