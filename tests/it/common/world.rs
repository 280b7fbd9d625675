//! A sandbox account and a manifest folder, applied and planned through the library (`ops`), as CD would.

use super::{seed, test_config};
use serde_json::Value;
use skyform::apply::ApplyOptions;
use skyform::ops::apply::{run, Applied, ApplyRequest};
use skyform::ops::connect::ConnectOptions;
use skyform::sandbox::{Sandbox, SandboxConfig};
use std::path::PathBuf;

pub struct World {
    pub sandbox: Sandbox,
    pub dir: PathBuf,
}

pub fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skyform-world-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl World {
    pub async fn new(name: &str, live: Value) -> World {
        World::with_config(name, live, SandboxConfig { rate_limit: 100_000, ..test_config() }).await
    }

    pub async fn with_config(name: &str, live: Value, config: SandboxConfig) -> World {
        World { sandbox: Sandbox::start(config, seed(live)).await.unwrap(), dir: tempdir(name) }
    }

    pub fn manifests(&self, yaml: &str) -> &Self {
        std::fs::write(self.dir.join("account.yaml"), yaml).unwrap();
        self
    }

    pub fn secrets(&self) -> PathBuf {
        self.dir.join("secrets.json")
    }

    pub fn request(&self, tweak: impl FnOnce(&mut ApplyRequest)) -> ApplyRequest {
        let mut r = ApplyRequest {
            paths: vec![self.dir.join("account.yaml")],
            connect: ConnectOptions {
                api_url: Some(self.sandbox.url()),
                rate_limit: 100_000,
                request_timeout: std::time::Duration::from_secs(2),
                settle: std::time::Duration::from_secs(2),
                ..ConnectOptions::default()
            },
            apply: ApplyOptions { secrets_out: Some(self.secrets()), ..ApplyOptions::default() },
            ..ApplyRequest::default()
        };
        tweak(&mut r);
        r
    }

    pub async fn apply_with(&self, req: ApplyRequest) -> Result<Applied, skyform::Error> {
        let key = self.sandbox.api_key().to_string();
        let env = move |k: &str| match k {
            "SKYLIGHT_API_KEY" => Some(key.clone()),
            "SKYFORM_SECRET_LAYLA_PASSWORD" => Some("correct-horse-battery".into()),
            "SKYFORM_SECRET_M_PASSWORD" => Some("password-1".into()),
            _ => None,
        };
        run(&req, &env, &skyform::ops::apply::Quiet).await
    }

    pub async fn apply(&self) -> Applied {
        self.apply_with(self.request(|_| {})).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// `skyform plan --out` of the current manifests; returns the file.
    pub async fn save_plan(&self) -> PathBuf {
        let key = self.sandbox.api_key().to_string();
        let env = move |k: &str| (k == "SKYLIGHT_API_KEY").then(|| key.clone());
        let plan_req = skyform::ops::plan::PlanRequest {
            paths: vec![self.dir.join("account.yaml")],
            connect: ConnectOptions { api_url: Some(self.sandbox.url()), ..ConnectOptions::default() },
            ..Default::default()
        };
        let plan = skyform::ops::plan::run(&plan_req, &env).await.unwrap();
        let plan_file = self.dir.join("plan.json");
        std::fs::write(&plan_file, skyform::render::json(&plan)).unwrap();
        plan_file
    }

    /// Mutating requests since the log was last cleared, as `METHOD /path`, but the lease's own (its lock
    /// tag: see `lease_requests`).
    pub fn writes(&self) -> Vec<String> {
        self.sandbox
            .requests()
            .iter()
            .filter(|r| r.method != "GET" && !r.path.starts_with("/api/v1/tags"))
            .map(|r| r.line())
            .collect()
    }

    /// Every request but the lease's (`/tags`), as `METHOD /path`.
    pub fn lines(&self) -> Vec<String> {
        self.sandbox.requests().iter().filter(|r| !r.path.starts_with("/api/v1/tags")).map(|r| r.line()).collect()
    }

    pub fn state<R>(&self, f: impl FnOnce(&skyform::sandbox::Store) -> R) -> R {
        self.sandbox.with_store(|s| f(s))
    }
}

pub fn converged(a: &Applied) {
    let report = a.report.as_ref().expect("something was applied");
    assert!(report.success(), "{}", report.render());
}
