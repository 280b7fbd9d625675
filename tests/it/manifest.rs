//! Manifests from the command line and the library: the examples pass, every broken fixture fails with a
//! located message (pinned by snapshot), the JSON Schema is current and accepts the examples.

use skyform::manifest::{self, yaml};
use skyform::resources::Text;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_skyform");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `skyform validate ARGS` in `dir` with a clean environment for the fixture variables.
fn validate(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("validate")
        .args(args)
        .current_dir(dir)
        .env_remove("SKYFORM_VAR_FIXTURE_UNSET_HOST")
        .env_remove("SKYFORM_VAR_CRM_WEBHOOK_URL")
        .env_remove("SKYFORM_SECRET_HANA_INITIAL_PASSWORD")
        .output()
        .expect("skyform runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_examples_validate() {
    let (code, out, err) = validate(&root(), &["examples/acme"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "ok: 4 agents, 6 knowledge entries, 3 webhooks, 4 team members, 2 tags, 4 contact lists, 2 segments, 3 campaigns, account profile, voice settings (1 prompt, 7 files)\n");
    let (code, out, _) = validate(&root(), &["examples/minimal/skyform.yaml"]);
    assert_eq!(code, 0);
    assert_eq!(out, "ok: 1 agent, 1 webhook (0 prompts, 1 file)\n");
}

#[test]
fn every_invalid_fixture_fails_with_a_located_message() {
    let fixtures = root().join("tests/fixtures/invalid");
    let mut names: Vec<String> =
        std::fs::read_dir(&fixtures).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert!(names.len() >= 30, "at least 30 broken manifest sets, found {}", names.len());
    for name in names {
        let (code, out, err) = validate(&fixtures, &[&name]);
        assert_eq!(code, 1, "{name}: exit code\n{err}");
        assert!(out.is_empty(), "{name}: nothing on stdout");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(err.starts_with(name.as_str()), "{name}: every problem names its file first:\n{err}");
        insta::assert_snapshot!(name, err);
    }
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skyform-manifest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_20_mb_manifest_is_refused_unread() {
    let dir = tempdir("big");
    std::fs::create_dir_all(dir.join("big")).unwrap();
    let line = "# padding padding padding padding padding padding padding padding padding padding\n";
    std::fs::write(dir.join("big/agents.yaml"), line.repeat(20 * 1024 * 1024 / line.len())).unwrap();
    let (code, _, err) = validate(&dir, &["big"]);
    assert_eq!(code, 1);
    assert_eq!(err, "big/agents.yaml: the manifest is larger than 4.0 MiB\n  hint: split it into smaller files\n1 problem in 1 file\n");
}

#[cfg(unix)]
#[test]
fn a_symlink_pointing_out_of_the_root_is_refused() {
    let dir = tempdir("symlink");
    std::fs::create_dir_all(dir.join("set/kb")).unwrap();
    std::fs::write(dir.join("outside.md"), "secret").unwrap();
    std::os::unix::fs::symlink(dir.join("outside.md"), dir.join("set/kb/returns.md")).unwrap();
    std::fs::write(
        dir.join("set/knowledge.yaml"),
        "knowledge_base:\n  - title: Returns\n    type: text\n    content: { file: kb/returns.md }\n",
    )
    .unwrap();
    let (code, _, err) = validate(&dir, &["set"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("set/knowledge.yaml:4:22: `kb/returns.md` leads outside the manifest folder `set`"),
        "{err}"
    );
    // A symlink that stays inside the root is fine.
    std::fs::write(dir.join("set/real.md"), "30 days").unwrap();
    std::fs::remove_file(dir.join("set/kb/returns.md")).unwrap();
    std::os::unix::fs::symlink(dir.join("set/real.md"), dir.join("set/kb/returns.md")).unwrap();
    assert_eq!(validate(&dir, &["set"]).0, 0);
}

/// docs/manifest-reference.md is generated from the schema, and every field in it says what it is.
#[test]
fn the_manifest_reference_is_current_and_describes_every_field() {
    let checked_in = std::fs::read_to_string(root().join("docs/manifest-reference.md")).unwrap();
    assert!(
        checked_in == manifest::schema::manifest_reference(),
        "docs/manifest-reference.md is stale: run `cargo run -- schema --markdown > docs/manifest-reference.md`"
    );
    let schema: serde_json::Value = serde_json::from_str(&manifest::schema::manifest_schema()).unwrap();
    let mut bare = Vec::new();
    for (name, def) in schema["$defs"].as_object().unwrap() {
        for (field, v) in def["properties"].as_object().into_iter().flatten() {
            if v.get("description").is_none() {
                bare.push(format!("{name}.{field}"));
            }
        }
    }
    assert!(bare.is_empty(), "fields without a doc comment: {bare:?}");
}

#[test]
fn the_checked_in_schema_is_current() {
    let checked_in = std::fs::read_to_string(root().join("schemas/manifest.schema.json")).unwrap();
    let generated = manifest::schema::manifest_schema();
    assert!(
        checked_in == generated,
        "schemas/manifest.schema.json is stale: run `cargo run -- schema > schemas/manifest.schema.json`"
    );
    let out = Command::new(BIN).arg("schema").output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), generated);
}

#[test]
fn the_schema_accepts_every_example_file_and_refuses_unknown_keys() {
    let schema: serde_json::Value = serde_json::from_str(&manifest::schema::manifest_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let mut checked = 0;
    for dir in ["examples/acme", "examples/minimal"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.starts_with("# yaml-language-server: $schema="), "{} names its schema", path.display());
            let node = yaml::parse(&text).unwrap().0.unwrap();
            let errors: Vec<String> = validator.iter_errors(&node.to_json()).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 8);
    let bad = yaml::parse("agents:\n  - name: A\n    sytem_prompt: x\n").unwrap().0.unwrap();
    assert!(!validator.is_valid(&bad.to_json()));
}

#[test]
fn loaded_values_keep_their_file_line_and_column_and_texts_are_resolved() {
    let acme = root().join("examples/acme");
    let env = |name: &str| (name == "SKYFORM_VAR_CRM_WEBHOOK_URL").then(|| "https://crm.test/hook".to_string());
    let set = manifest::load(std::slice::from_ref(&acme), &env).expect("acme loads");
    let sales = set.agents.iter().find(|a| a.name == "Sales Assistant").unwrap();
    assert_eq!(sales.origin.file.as_path(), acme.join("agents.yaml"));
    assert_eq!((sales.origin.pos.line, sales.origin.pos.col), (7, 5));
    let sp = sales.origin.of("system_prompt");
    assert_eq!((sp.line, sp.col), (9, 20));
    let expected = std::fs::read_to_string(acme.join("prompts/sales.md")).unwrap();
    assert_eq!(sales.system_prompt.as_ref().and_then(Text::value), Some(expected.as_str()));
    // One shared prompt, used by two agents.
    let house = std::fs::read_to_string(acme.join("prompts/house-style.md")).unwrap();
    let sharing =
        set.agents.iter().filter(|a| a.personality_prompt.as_ref().and_then(Text::value) == Some(house.as_str()));
    assert_eq!(sharing.count(), 2);
    // Interpolation: the variable when set, the default otherwise.
    let crm = set.webhooks.iter().find(|w| w.name == "CRM sync").unwrap();
    assert_eq!(crm.url.as_deref(), Some("https://crm.test/hook"));
    let orders = set.webhooks.iter().find(|w| w.name == "Order desk").unwrap();
    assert_eq!(orders.url.as_deref(), Some("https://orders.acme.example/skylight"));
}

#[test]
fn passwords_never_show_in_debug_output() {
    let acme = root().join("examples/acme");
    let env = |name: &str| (name == "SKYFORM_SECRET_HANA_INITIAL_PASSWORD").then(|| "s3cret-Hana-pass".to_string());
    let set = manifest::load(&[acme], &env).unwrap();
    let hana = set.team.iter().find(|m| m.email == "hana@acme.example").unwrap();
    // Loading keeps the reference; the value is read only when a create needs it.
    let password = hana.password.as_ref().unwrap();
    assert_eq!(password.var, "HANA_INITIAL_PASSWORD");
    assert!(!format!("{set:?}").contains("s3cret-Hana-pass"));
    let value = password.resolve(&env).unwrap();
    assert_eq!(value.expose(), "s3cret-Hana-pass");
    assert_eq!(format!("{value:?}"), "(sensitive)");
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let dir = tempdir("many");
    std::fs::write(
        dir.join("a.yaml"),
        "agents:\n  - name: A\n    sytem_prompt: x\nwebhooks:\n  - name: W\n    url: http://x.test\n    events: [nope]\nteam:\n  - email: bad\n    name: B\n    role: agent\n",
    )
    .unwrap();
    let err = manifest::load(&[dir], &|_| None).unwrap_err();
    let lines: Vec<String> =
        err.list.iter().map(|p| format!("{}: {}", p.pos.map_or(0, |p| p.line), p.message)).collect();
    assert_eq!(
        lines,
        [
            "3: unknown key `sytem_prompt`",
            "6: url `http://x.test` must use https://",
            "9: `bad` is not a valid email address",
        ]
    );
}

#[test]
fn anchors_and_merge_keys_share_settings_between_entries() {
    let dir = tempdir("merge");
    std::fs::write(
        dir.join("w.yaml"),
        "webhooks:\n  - &hook\n    name: CRM\n    url: https://crm.test/hook\n    events: [contact.created, message.sent]\n  - <<: *hook\n    name: CRM copy\n",
    )
    .unwrap();
    let set = manifest::load(&[dir], &|_| None).unwrap_or_else(|p| panic!("{}", p.render()));
    assert_eq!(set.webhooks.len(), 2);
    assert_eq!(set.webhooks[1].name, "CRM copy");
    assert_eq!(set.webhooks[1].url.as_deref(), Some("https://crm.test/hook"));
    assert_eq!(set.webhooks[1].events.as_ref().unwrap().len(), 2);
}

#[test]
fn an_event_outside_the_known_catalogue_is_a_warning_offline_not_an_error() {
    // The catalogue grows on the API side; offline we only know the [doc] list, so a name we do not know
    // is checked against the account at plan time rather than refused here.
    let dir = tempdir("event-warning");
    std::fs::write(
        dir.join("w.yaml"),
        "webhooks:\n  - name: CRM\n    url: https://crm.example.com/hook\n    events: [contact.created, contact.craeted]\n",
    )
    .unwrap();
    let (code, out, err) = validate(&dir, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: "), "{out}");
    assert!(err.contains("w.yaml:4:"), "the warning is located:\n{err}");
    assert!(err.contains("warning: event `contact.craeted` is not in the catalogue skyform knows"), "{err}");
    assert!(err.contains("contact.created"), "the closest known event is suggested:\n{err}");
}
