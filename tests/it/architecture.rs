//! ARCHITECTURE.md is kept true: its layer table is read, and every `crate::x` a module of the library
//! names must be allowed by that table, every module must be in it, and the layers must not form a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `layer → layers it may use`, from the table in ARCHITECTURE.md.
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 5 {
            continue;
        }
        let name = cells[1].trim_matches('`').to_string();
        let may: BTreeSet<String> = cells[3]
            .split(',')
            .map(|c| c.trim().trim_matches('`').to_string())
            .filter(|c| !c.is_empty() && c != "—")
            .collect();
        out.insert(name, may);
    }
    out
}

/// The library's top-level modules: `src/x.rs` or `src/x/`, but the crate roots and the binary's `cli`.
fn modules() -> BTreeMap<String, Vec<PathBuf>> {
    let src = Path::new(ROOT).join("src");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if ["lib", "main", "cli"].contains(&name.as_str()) {
            continue;
        }
        let mut files = Vec::new();
        if path.is_dir() {
            let mut stack = vec![path];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap() {
                    let p = e.unwrap().path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.extension().is_some_and(|x| x == "rs") {
                        files.push(p);
                    }
                }
            }
        } else {
            files.push(path);
        }
        out.insert(name, files);
    }
    out
}

/// The modules a file names as `crate::x` (outside comments); the crate root's re-exports count as their
/// module (`crate::Error` is `error`).
fn uses(file: &Path, known: &BTreeSet<String>) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let before = &rest[..at];
            rest = &rest[at + 7..];
            if before.ends_with('$') {
                continue; // `$crate::` in a macro: the macro's own crate path
            }
            let mut names: Vec<String> = Vec::new();
            if let Some(group) = rest.strip_prefix('{') {
                let group = group.split('}').next().unwrap_or("");
                names.extend(group.split(',').map(|n| n.trim().split("::").next().unwrap_or("").to_string()));
            } else {
                names.push(rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("").to_string());
            }
            for n in names {
                let module = match n.as_str() {
                    "Error" | "ErrorKind" | "Result" => "error".to_string(),
                    other => other.to_string(),
                };
                if known.contains(&module) {
                    out.insert(module);
                }
            }
        }
    }
    out
}

#[test]
fn every_module_uses_only_what_architecture_md_allows_and_there_is_no_cycle() {
    let allowed = allowed();
    let modules = modules();
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let documented: BTreeSet<String> = allowed.keys().cloned().collect();
    assert_eq!(names, documented, "ARCHITECTURE.md's table must list exactly the library's modules");

    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut violations = Vec::new();
    for (module, files) in &modules {
        for file in files {
            for used in uses(file, &names) {
                if used == *module {
                    continue;
                }
                if !allowed[module].contains(&used) {
                    violations.push(format!("{} uses `{used}`, which {module} may not use", file.display()));
                }
                graph.entry(module.clone()).or_default().insert(used);
            }
        }
    }
    assert!(violations.is_empty(), "forbidden dependencies:\n{}", violations.join("\n"));

    // No cycle, in the code or in the table.
    fn visit(n: &str, g: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) {
        if let Some(at) = path.iter().position(|p| p == n) {
            panic!("a cycle of layers: {} -> {n}", path[at..].join(" -> "));
        }
        if done.contains(n) {
            return;
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            visit(m, g, path, done);
        }
        path.pop();
        done.insert(n.to_string());
    }
    for g in [&graph, &allowed] {
        let mut done = BTreeSet::new();
        for n in g.keys() {
            visit(n, g, &mut Vec::new(), &mut done);
        }
    }
}

#[test]
fn the_engines_never_link_the_sandbox_and_the_sandbox_shares_nothing_with_the_client() {
    let allowed = allowed();
    for engine in ["plan", "apply", "manifest", "resources", "api", "render", "export"] {
        assert!(!allowed[engine].contains("sandbox"), "{engine} may not use the sandbox");
    }
    for client_side in ["resources", "api", "plan", "apply", "manifest"] {
        assert!(!allowed["sandbox"].contains(client_side), "the sandbox may not use {client_side}");
    }
}
