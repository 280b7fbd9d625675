//! What a newcomer reads and types: every relative link of the documentation leads to a file of the
//! repository (and every in-page anchor to a heading), and every command skyform suggests runs as printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_skyform");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    text.lines().filter(|l| l.starts_with('#')).map(|l| slug(l.trim_start_matches('#'))).collect()
}

/// `](target)` links outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md"), root().join("ARCHITECTURE.md"), root().join("BENCHMARKS.md")];
    for dir in ["docs", "examples/ci", "tests/fixtures/schemas"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "md") {
                files.push(p);
            }
        }
    }
    files
}

#[test]
fn every_relative_link_leads_to_a_file_of_the_repository_and_every_anchor_to_a_heading() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for link in links(&text) {
            if link.starts_with("http://") || link.starts_with("https://") || link.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = link.split_once('#').map_or((link.as_str(), None), |(p, a)| (p, Some(a)));
            let target = if path.is_empty() { file.clone() } else { file.parent().unwrap().join(path) };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", file.display()));
                continue;
            }
            if let Some(anchor) = anchor {
                let text = std::fs::read_to_string(&target).unwrap_or_default();
                if !anchors(&text).iter().any(|a| a == anchor) {
                    broken.push(format!("{}: {link} (no such heading)", file.display()));
                }
            }
        }
        assert!(!text.contains("../shared/"), "{} points outside the repository", file.display());
    }
    assert!(checked >= 10, "only {checked} links found: is the parser right?");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Runs a command line as a shell would, with this build's skyform first on PATH.
fn shell(command: &str, dir: &Path, env: &[(&str, &str)]) -> Output {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    Command::new("sh")
        .args(["-c", command])
        .current_dir(dir)
        .env("PATH", path)
        .env("SKYFORM_CACHE_DIR", dir.join("cache"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The command a hint prints after `marker` (on its line, or on the next line).
fn hinted(output: &str, marker: &str) -> String {
    let i = output.find(marker).unwrap_or_else(|| panic!("no `{marker}` in:\n{output}")) + marker.len();
    let rest = output[i..].trim_start_matches([' ', ':', '\n']);
    let line = rest.lines().next().unwrap().trim().to_string();
    assert!(line.starts_with("skyform "), "a hint is a whole command: {line}");
    line
}

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skyform-docs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_hints_of_export_plan_and_apply_run_as_printed_on_the_sandbox() {
    let acme = root().join("examples/acme");
    let env = [("SKYFORM_SECRET_HANA_INITIAL_PASSWORD", "welcome-hana-1")];

    // export → "check it with: skyform plan --sandbox --seed SEED DIR": the adopted account, no changes.
    let dir = workdir("export");
    let seed = acme.join("sandbox.json");
    let out = shell(&format!("skyform export --sandbox --seed '{}' --out adopted", seed.display()), &dir, &env);
    assert!(out.status.success(), "{}", text(&out));
    let hint = hinted(&text(&out), "check it with:");
    let out = shell(&hint, &dir, &env);
    assert_eq!(out.status.code(), Some(0), "{hint}\n{}", text(&out));
    assert!(text(&out).contains("No changes: the account matches the manifests."), "{}", text(&out));

    // plan --out → "apply it with: skyform apply --sandbox ... plan.json": applies and verifies.
    let dir = workdir("plan-out");
    let out = shell(&format!("skyform plan --sandbox '{}' --out plan.json", acme.display()), &dir, &env);
    assert!(out.status.success(), "{}", text(&out));
    let hint = hinted(&text(&out), "apply it with:");
    let out = shell(&hint, &dir, &env);
    assert_eq!(out.status.code(), Some(0), "{hint}\n{}", text(&out));
    assert!(text(&out).contains("Verified: converged"), "{}", text(&out));

    // A plan and an apply blocked by the delete guard print the same command with --allow-deletes.
    let dir = workdir("guard");
    std::fs::write(
        dir.join("sandbox.json"),
        r#"{"webhooks": [
            {"name": "A", "url": "https://a.example", "events": ["message.sent"]},
            {"name": "B", "url": "https://b.example", "events": ["message.sent"]},
            {"name": "C", "url": "https://c.example", "events": ["message.sent"]}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("hooks.yaml"),
        "webhooks:\n  - name: A\n    url: https://a.example\n    events: [message.sent]\nsettings:\n  prune: [webhooks]\n",
    )
    .unwrap();
    for verb in ["plan", "apply --auto-approve"] {
        let out = shell(&format!("skyform {verb} --sandbox ."), &dir, &[]);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        let hint = hinted(&text(&out), "intended, run");
        assert!(hint.contains("--allow-deletes webhooks"), "{hint}");
        let out = shell(&hint, &dir, &[]);
        assert_eq!(out.status.code(), Some(0), "{hint}\n{}", text(&out));
    }
    // A saved plan is applied as it is: the hint makes a new one with the flag, which then applies.
    let out = shell("skyform plan --sandbox . --out plan.json", &dir, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let out = shell("skyform apply --sandbox --auto-approve plan.json", &dir, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let hint = hinted(&text(&out), "make it again with");
    assert!(hint.contains("--allow-deletes webhooks") && hint.contains("--out plan.json"), "{hint}");
    let out = shell(&hint, &dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{hint}\n{}", text(&out));
    let out = shell("skyform apply --sandbox --auto-approve plan.json", &dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A held lease names the command that breaks it, with the flags that reach the same account.
#[test]
fn the_unlock_hint_of_a_held_lease_runs_as_printed_and_reaches_the_same_account() {
    let dir = workdir("lease");
    let until = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600;
    let state = format!(r#"{{"tags": [{{"title": "skyform-lock run=dead until={until} since=0 host=gone"}}]}}"#);
    std::fs::write(dir.join("state.json"), state).unwrap();
    std::fs::write(dir.join("agents.yaml"), "agents:\n  - name: A\n    system_prompt: p\n").unwrap();
    let apply = "skyform apply --sandbox --sandbox-state state.json --auto-approve --lock-timeout 0 agents.yaml";
    let out = shell(apply, &dir, &[]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let hint = hinted(&text(&out), "to break it by hand, run");
    assert!(hint.contains("--sandbox-state state.json"), "the same account: {hint}");
    let out = shell(&hint, &dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{hint}\n{}", text(&out));
    let out = shell(apply, &dir, &[]);
    assert_eq!(out.status.code(), Some(0), "the lease is free again: {}", text(&out));
}
