//! Many accounts: an accounts folder planned and applied from the command line against one sandbox per
//! account (each with its own key and rate limit), shared manifests with per-account values and overrides,
//! per-account leases, and the CI matrix checked against the CI systems' own schemas.

use crate::common;

use common::{seed, test_config};
use serde_json::{json, Value};
use skyform::sandbox::{Sandbox, SandboxConfig};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_skyform");

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skyform-accounts-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const SHARED: &str = "\
prompts:
  house-style: Warm and brief.
agents:
  - name: Sales
    is_default: true
    system_prompt: Sell for ${COMPANY}.
    personality_prompt: { prompt: house-style }
  - name: Support
    system_prompt: Help ${COMPANY} customers.
";

/// An accounts folder: `_shared/` and one folder per (name, key variable, API URL, own manifests).
fn layout(root: &Path, accounts: &[(&str, &str, String, &str)]) {
    write(&root.join("_shared/agents.yaml"), SHARED);
    for (name, key_env, url, own) in accounts {
        let company = name.to_uppercase();
        write(
            &root.join(name).join("skyform.yaml"),
            &format!("settings:\n  api_key_env: {key_env}\n  api_url: {url}\n  include: [../_shared]\n  vars:\n    COMPANY: {company}\n{own}"),
        );
    }
}

async fn sandbox(key: &str) -> Sandbox {
    let config = SandboxConfig { api_key: key.into(), rate_limit: 100_000, ..test_config() };
    Sandbox::start(config, seed(json!({}))).await.unwrap()
}

/// The CLI, with only the given variables (plus PATH), no cache and no terminal.
fn skyform(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .args(if matches!(args.first(), Some(&"plan" | &"apply")) { &["--no-cache"][..] } else { &[] })
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn agent_names(s: &Sandbox) -> Vec<String> {
    let mut names: Vec<String> = s.with_store(|st| st.agents.iter().map(|a| a.name.clone()).collect());
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_failing_authentication_never_stops_the_others() {
    let (a, b, c) = (sandbox("key-a").await, sandbox("key-b").await, sandbox("key-c").await);
    let root = tempdir("auth");
    layout(
        &root,
        &[
            ("alpha", "ALPHA_KEY", a.url(), ""),
            ("bravo", "BRAVO_KEY", b.url(), ""),
            ("charlie", "CHARLIE_KEY", c.url(), "tags:\n  - title: vip\n"),
        ],
    );
    let root_s = root.to_str().unwrap().to_string();
    // bravo's variable holds a key its API refuses; SKYLIGHT_API_KEY (another key) is never used for it.
    let env = [("ALPHA_KEY", "key-a"), ("BRAVO_KEY", "wrong"), ("CHARLIE_KEY", "key-c"), ("SKYLIGHT_API_KEY", "key-b")];
    let run = {
        let root_s = root_s.clone();
        move |args: Vec<&'static str>| {
            let root_s = root_s.clone();
            tokio::task::spawn_blocking(move || {
                let mut all = vec![args[0], root_s.as_str()];
                all.extend(&args[1..]);
                skyform(&all, &env)
            })
        }
    };
    let (code, out, err) = run(vec!["plan"]).await.unwrap();
    assert_eq!(code, 1, "the worst account's code: {out}{err}");
    assert!(out.contains("━━ alpha") && out.contains("━━ charlie"), "{out}");
    assert!(out.contains("+ create agent \"Sales\""), "{out}");
    let table: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("alpha ") || l.starts_with("bravo ") || l.starts_with("charlie "))
        .collect();
    assert_eq!(table.len(), 3, "{out}");
    assert!(table[0].contains("3 to change") && table[0].ends_with("   0"), "{table:?}");
    assert!(table[1].contains("error:") && table[1].ends_with("   1"), "{table:?}");
    assert!(table[2].contains("4 to change"), "{table:?}");
    assert!(out.contains("3 accounts: 2 planned, 1 failed; exit 1"), "{out}");
    assert!(!out.contains("key-a") && !out.contains("key-c") && !err.contains("key-a"), "keys never shown");

    // JSON: one document, every account, the worst code.
    let (_, out, _) = run(vec!["plan", "--format", "json"]).await.unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["exit_code"], 1);
    let names: Vec<&str> = v["accounts"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha", "bravo", "charlie"]);
    assert_eq!(v["accounts"][1]["error"]["kind"], "api");
    assert_eq!(v["accounts"][0]["plan"]["summary"]["create"], 2);

    // Apply: the two good accounts are applied and verified; bravo is reported, untouched.
    let (code, out, err) = run(vec!["apply", "--auto-approve"]).await.unwrap();
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("applied, converged"), "{out}");
    assert_eq!(agent_names(&a), ["Sales", "Support"]);
    assert_eq!(agent_names(&b), Vec::<String>::new());
    assert_eq!(agent_names(&c), ["Sales", "Support"]);
    assert!(c.with_store(|s| s.tags.iter().any(|t| t.title == "vip")));
    assert!(err.contains("[alpha]") && err.contains("[charlie]"), "progress is told apart by account: {err}");
    // Narrowed to the good ones, a second apply has nothing to do and exits 0.
    let (code, out, _) = run(vec!["apply", "--auto-approve", "--accounts", "alpha,charlie"]).await.unwrap();
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("Nothing to apply.").count(), 2, "{out}");
    // An unknown name is an error with the closest one.
    let (code, _, err) = run(vec!["plan", "--accounts", "alpah"]).await.unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("no account `alpah`") && err.contains("did you mean `alpha`?"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_account_takes_its_own_lease_and_a_held_one_stops_only_that_account() {
    let a = sandbox("key-a").await;
    // Another run holds bravo's lease for an hour.
    let until = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600;
    let title = format!("skyform-lock run=other until={until} since=0 host=elsewhere");
    let config = SandboxConfig { api_key: "key-b".into(), rate_limit: 100_000, ..test_config() };
    let b = Sandbox::start(config, seed(json!({"tags": [{"title": title}]}))).await.unwrap();
    let root = tempdir("lease");
    layout(&root, &[("alpha", "ALPHA_KEY", a.url(), ""), ("bravo", "BRAVO_KEY", b.url(), "")]);
    let root_s = root.to_str().unwrap().to_string();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        skyform(
            &["apply", &root_s, "--auto-approve", "--lock-timeout", "0"],
            &[("ALPHA_KEY", "key-a"), ("BRAVO_KEY", "key-b")],
        )
    })
    .await
    .unwrap();
    assert_ne!(code, 0, "{out}{err}");
    assert!(out.contains("run other on elsewhere"), "bravo names the holder: {out}");
    assert_eq!(agent_names(&a), ["Sales", "Support"], "alpha was applied: {out}");
    assert_eq!(agent_names(&b), Vec::<String>::new(), "bravo was not touched");
    // alpha's lease was its own: taken and given back on alpha's account, none left behind.
    let lease_writes: Vec<String> = a
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/tags") && r.method != "GET")
        .map(|r| r.line())
        .collect();
    assert!(lease_writes.first().is_some_and(|l| l == "POST /api/v1/tags"), "{lease_writes:?}");
    assert!(lease_writes.last().is_some_and(|l| l.starts_with("DELETE /api/v1/tags/")), "{lease_writes:?}");
    assert!(a.with_store(|s| s.tags.is_empty()));
    assert_eq!(b.with_store(|s| s.tags.len()), 1, "the other run's lease is left alone");
    assert!(
        b.requests().iter().all(|r| r.method == "GET" || r.path.starts_with("/api/v1/tags")),
        "only the lease claim on bravo"
    );
}

#[test]
fn shared_manifests_take_per_account_values_and_overrides_and_validate_offline() {
    let root = tempdir("shared");
    let url = "http://127.0.0.1:9/api/v1".to_string();
    layout(
        &root,
        &[
            ("alpha", "ALPHA_KEY", url.clone(), ""),
            // bravo replaces one shared agent whole, and the shared prompt.
            (
                "bravo",
                "BRAVO_KEY",
                url.clone(),
                "agents:\n  - name: Support\n    system_prompt: Bravo's own.\nprompts:\n  house-style: Formal.\n",
            ),
        ],
    );
    let root_s = root.to_str().unwrap();
    let (code, out, err) = skyform(&["validate", root_s], &[]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert_eq!(out, "alpha: ok: 2 agents (1 prompt, 2 files)\nbravo: ok: 2 agents (1 prompt, 2 files)\n");

    let load = |name: &str| {
        skyform::manifest::load(&[root.join(name)], &|_| None).unwrap_or_else(|p| panic!("{}", p.render()))
    };
    let alpha = load("alpha");
    let bravo = load("bravo");
    let prompt = |set: &skyform::manifest::ManifestSet,
                  agent: &str,
                  which: fn(&skyform::resources::agent::AgentSpec) -> Option<String>| {
        which(set.of::<skyform::resources::agent::AgentSpec>().iter().find(|a| a.name == agent).unwrap()).unwrap()
    };
    let system =
        |a: &skyform::resources::agent::AgentSpec| a.system_prompt.as_ref().and_then(|t| t.value()).map(str::to_string);
    let personality = |a: &skyform::resources::agent::AgentSpec| {
        a.personality_prompt.as_ref().and_then(|t| t.value()).map(str::to_string)
    };
    assert_eq!(prompt(&alpha, "Sales", system), "Sell for ALPHA.");
    assert_eq!(prompt(&bravo, "Sales", system), "Sell for BRAVO.");
    assert_eq!(prompt(&alpha, "Support", system), "Help ALPHA customers.");
    assert_eq!(prompt(&bravo, "Support", system), "Bravo's own.", "the account's entry replaces the shared one");
    assert!(
        bravo
            .of::<skyform::resources::agent::AgentSpec>()
            .iter()
            .find(|a| a.name == "Support")
            .unwrap()
            .personality_prompt
            .is_none(),
        "whole, not merged"
    );
    assert_eq!(prompt(&alpha, "Sales", personality), "Warm and brief.");
    assert_eq!(prompt(&bravo, "Sales", personality), "Formal.", "the account's prompt replaces the shared one");
    assert_eq!(bravo.settings.api_key_env.as_deref(), Some("BRAVO_KEY"));
    // A var's value is interpolated once against the environment, then used as text.
    let text = std::fs::read_to_string(root.join("alpha/skyform.yaml")).unwrap();
    std::fs::write(
        root.join("alpha/skyform.yaml"),
        text.replace("COMPANY: ALPHA", "COMPANY: \"${BRAND:-Alpha} $$1 Ltd\""),
    )
    .unwrap();
    let alpha = load("alpha");
    assert_eq!(prompt(&alpha, "Sales", system), "Sell for Alpha $1 Ltd.");
    let env = |k: &str| (k == "SKYFORM_VAR_BRAND").then(|| "Acme".to_string());
    let alpha = skyform::manifest::load(&[root.join("alpha")], &env).unwrap_or_else(|p| panic!("{}", p.render()));
    assert_eq!(prompt(&alpha, "Sales", system), "Sell for Acme $1 Ltd.");
    std::fs::write(root.join("alpha/skyform.yaml"), text).unwrap();

    // A shared manifest may not name a key; an include may not leave the accounts folder.
    write(&root.join("_shared/bad.yaml"), "settings:\n  api_key_env: SHARED_KEY\n");
    write(&root.join("alpha/more.yaml"), "settings:\n  include: [../.., ..]\n");
    let (code, out, err) = skyform(&["validate", root_s], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("_shared/bad.yaml:2:16: a shared manifest cannot set `api_key_env`"), "{err}");
    assert!(err.contains("alpha/more.yaml:2:13: include `../..` leads outside the accounts folder"), "{err}");
    assert!(err.contains("alpha/more.yaml:2:20: include `..` leads outside the accounts folder"), "{err}");
    assert!(out.contains("alpha: ") && out.contains("bravo: "), "every account is reported: {out}");
}

#[test]
fn an_account_naming_its_key_variable_never_falls_back_to_skylight_api_key() {
    let root = tempdir("nokey");
    layout(&root, &[("alpha", "ALPHA_KEY", "http://127.0.0.1:9/api/v1".into(), "")]);
    let (code, _, err) = skyform(&["plan", root.join("alpha").to_str().unwrap()], &[("SKYLIGHT_API_KEY", "other")]);
    assert_eq!(code, 1);
    assert!(err.contains("ALPHA_KEY is not set: it holds this account's API key"), "{err}");
    assert!(err.contains("alpha/skyform.yaml:2:16)"), "where the account names it: {err}");
    // A manifest may not send the key to another host: pull requests write manifests.
    layout(&root, &[("alpha", "ALPHA_KEY", "https://collector.example/api/v1".into(), "")]);
    let (code, _, err) = skyform(&["plan", root.join("alpha").to_str().unwrap()], &[("ALPHA_KEY", "k")]);
    assert_eq!(code, 1);
    assert!(
        err.contains("settings.api_url names the host collector.example, which would receive this account's key"),
        "{err}"
    );
    layout(&root, &[("alpha", "ALPHA_KEY", "http://127.0.0.1:9/api/v1".into(), "")]);
    // Two folders reading one key variable would manage one account twice.
    write(&root.join("beta/skyform.yaml"), "settings:\n  api_key_env: ALPHA_KEY\n");
    let (code, _, err) = skyform(&["plan", root.to_str().unwrap()], &[("ALPHA_KEY", "k")]);
    assert_eq!(code, 1);
    assert!(err.contains("accounts `alpha` and `beta` both read their key from ALPHA_KEY"), "{err}");
}

/// `skyform accounts --matrix` output, put where the recipes put it, validates against the CI systems'
/// schemas (vendored in tests/fixtures/schemas); and `--shards` covers every account once.
#[test]
fn the_matrix_validates_against_the_workflow_schemas() {
    let root = tempdir("matrix");
    let names = ["a1", "b2", "c3", "d4", "e5"];
    let accounts: Vec<(&str, String, String, &str)> = names
        .iter()
        .map(|n| (*n, format!("{}_KEY", n.to_uppercase()), "https://api.example/api/v1".to_string(), ""))
        .collect();
    let borrowed: Vec<(&str, &str, String, &str)> =
        accounts.iter().map(|(n, k, u, o)| (*n, k.as_str(), u.clone(), *o)).collect();
    layout(&root, &borrowed);
    let root_s = root.to_str().unwrap();
    let schema = |file: &str| {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("tests/fixtures/schemas/{file}")).unwrap()).unwrap();
        jsonschema::validator_for(&v).unwrap()
    };

    let (code, out, _) = skyform(&["accounts", root_s, "--matrix"], &[]);
    assert_eq!(code, 0);
    let matrix: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(matrix["include"].as_array().unwrap().len(), 5);
    assert_eq!(matrix["include"][0], json!({"account": "a1", "key_env": "A1_KEY", "path": format!("{root_s}/a1")}));
    let workflow = json!({
        "on": "push",
        "jobs": {"plan": {"runs-on": "ubuntu-latest", "strategy": {"fail-fast": false, "matrix": matrix},
            "steps": [{"run": "skyform plan ${{ matrix.path }}"}]}}
    });
    let github = schema("github-workflow.json");
    let errors: Vec<String> = github.iter_errors(&workflow).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // The schema is really checking: a matrix that is not a mapping fails it.
    let mut bad = workflow.clone();
    bad["jobs"]["plan"]["strategy"]["matrix"] = json!(["a1"]);
    assert!(!github.is_valid(&bad));

    let (_, out, _) = skyform(&["accounts", root_s, "--matrix", "--shards", "2"], &[]);
    let sharded: Value = serde_json::from_str(&out).unwrap();
    let mut seen: Vec<String> = sharded["include"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["accounts"].as_str().unwrap().split(',').map(str::to_string).collect::<Vec<_>>())
        .collect();
    seen.sort();
    assert_eq!(seen, names);
    assert_eq!(sharded["include"].as_array().unwrap().len(), 2);
    let mut workflow = workflow;
    workflow["jobs"]["plan"]["strategy"]["matrix"] = sharded;
    assert!(github.is_valid(&workflow));

    let (_, out, _) = skyform(&["accounts", root_s, "--matrix=gitlab"], &[]);
    let parallel: Value = serde_json::from_str(&out).unwrap();
    let mut job = json!({"stage": "test", "script": ["skyform plan accounts/$ACCOUNT"]});
    job["parallel"] = parallel["parallel"].clone();
    let pipeline = json!({"plan": job});
    let gitlab = schema("gitlab-ci.json");
    let errors: Vec<String> = gitlab.iter_errors(&pipeline).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// Narrowing a run cannot hide two folders managing one account, a comma cannot hide in a folder name, and
/// a shared file (not folder) include overrides like a folder include, overlapping includes read once.
#[test]
fn account_folders_are_checked_as_a_whole_and_includes_of_files_override_too() {
    let root = tempdir("whole");
    let url = "http://127.0.0.1:9/api/v1".to_string();
    layout(&root, &[("alpha", "ALPHA_KEY", url.clone(), ""), ("bravo", "ALPHA_KEY", url.clone(), "")]);
    for args in [vec!["validate"], vec!["plan", "--accounts", "alpha"], vec!["accounts", "--matrix"]] {
        let mut all = args.clone();
        all.insert(1, root.to_str().unwrap());
        let (code, _, err) = skyform(&all, &[("ALPHA_KEY", "k")]);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains("both read their key from ALPHA_KEY"), "{args:?}: {err}");
    }
    let root = tempdir("files");
    layout(
        &root,
        &[("alpha", "ALPHA_KEY", url.clone(), "agents:\n  - name: Support\n    system_prompt: Alpha's own.\n")],
    );
    let settings = std::fs::read_to_string(root.join("alpha/skyform.yaml")).unwrap();
    for include in ["[../_shared/agents.yaml]", "[../_shared, ../_shared/agents.yaml]"] {
        std::fs::write(root.join("alpha/skyform.yaml"), settings.replace("[../_shared]", include)).unwrap();
        let set = skyform::manifest::load(&[root.join("alpha")], &|_| None)
            .unwrap_or_else(|p| panic!("{include}: {}", p.render()));
        let support: Vec<_> =
            set.of::<skyform::resources::agent::AgentSpec>().iter().filter(|a| a.name == "Support").collect();
        assert_eq!(support.len(), 1, "{include}");
    }
    std::fs::create_dir_all(root.join("a,b")).unwrap();
    std::fs::write(root.join("a,b/skyform.yaml"), "settings:\n  api_key_env: AB_KEY\n").unwrap();
    let (code, _, err) = skyform(&["accounts", root.to_str().unwrap()], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("has a comma in its name"), "{err}");
}
