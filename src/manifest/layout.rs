//! The accounts layout: a folder per account, whose manifests say how to reach it (`settings.api_key_env`,
//! `settings.api_url`), which shared manifests it includes (`settings.include`) and the values its
//! `${NAME}`s take (`settings.vars`).
//!
//! ```text
//! accounts/
//!   _shared/agents.yaml        # included by the accounts below; sets no account settings
//!   acme/skyform.yaml          # settings: { api_key_env: ACME_SKYLIGHT_KEY, include: [../_shared], vars: {CITY: Riyadh} }
//!   globex/skyform.yaml
//! ```
//!
//! The settings are read in a first pass over the raw YAML ([`prescan`]), before the real load, because
//! they change how the load interpolates and which folders it reads.

use super::yaml::{self, Node};
use super::{manifest_files, read_text, MAX_MANIFEST_BYTES};
use crate::source::{Problem, Problems};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// What an account's own manifests say about the account, before they are loaded.
#[derive(Debug, Default, Clone)]
pub struct Prescan {
    /// The environment variable holding the account's key (`settings.api_key_env`), and where it is set.
    pub api_key_env: Option<(String, String)>,
    /// `settings.api_url`.
    pub api_url: Option<String>,
    /// Shared manifest folders or files (`settings.include`), resolved against the declaring file and
    /// confined to the accounts folder. Loaded before the account's own, which override them.
    pub includes: Vec<PathBuf>,
    /// `settings.vars`: `${NAME}` values for this account, ahead of `SKYFORM_VAR_NAME`.
    pub vars: BTreeMap<String, String>,
    /// Includes that lead nowhere or outside the accounts folder.
    pub problems: Vec<Problem>,
    /// The paths hold several accounts: loading them as one would merge them (the one problem says so).
    pub several: bool,
}

impl Prescan {
    /// The value of an environment variable as the account's manifests see it: `SKYFORM_VAR_NAME` from
    /// `settings.vars` when set there.
    pub fn var(&self, env_name: &str) -> Option<String> {
        env_name.strip_prefix(super::VAR_PREFIX).and_then(|n| self.vars.get(n)).cloned()
    }
}

/// Folds `a/b/../c` to `a/c` without touching the disk, so messages show the path a person would write.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// The folder an account's includes must stay in: the folder holding the account folder (`accounts/` for
/// `accounts/acme`), or the folder itself when it is given as `.`.
fn confinement(root: &Path) -> PathBuf {
    let real = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    real.parent().map(Path::to_path_buf).unwrap_or(real)
}

/// Reads the `settings:` of every manifest under `paths` (raw: no interpolation, no checks beyond what the
/// layout needs; the load reports everything else).
pub fn prescan(paths: &[PathBuf]) -> Prescan {
    let mut out = Prescan::default();
    let mut ignored = Problems::default();
    let mut skipped = Vec::new();
    // Every file that names a key variable: more than one folder means several accounts in one set.
    let mut keyed: Vec<(PathBuf, yaml::Pos)> = Vec::new();
    for (root, file) in manifest_files(paths, &mut ignored, &mut skipped) {
        let Some(text) = read_text(&file, &root, MAX_MANIFEST_BYTES, "manifest", &mut ignored) else { continue };
        // Only a file that mentions `settings` can set any: the others are not parsed twice.
        if !text.contains("settings") {
            continue;
        }
        let Ok((Some(node), _)) = yaml::parse(&text) else { continue };
        let Some(settings) = node.get("settings") else { continue };
        if let Some(node) = settings.get("api_key_env") {
            if let Some(name) = node.as_str() {
                out.api_key_env.get_or_insert_with(|| (name.to_string(), format!("{}", file.display())));
            }
            keyed.push((file.clone(), node.pos));
        }
        if let Some(url) = settings.get("api_url").and_then(Node::as_str) {
            out.api_url.get_or_insert_with(|| url.to_string());
        }
        if let Some(yaml::Kind::Map(vars)) = settings.get("vars").map(|v| &v.kind) {
            for (k, v) in vars {
                if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
                    out.vars.entry(k.to_string()).or_insert_with(|| v.to_string());
                }
            }
        }
        let Some(yaml::Kind::Seq(items)) = settings.get("include").map(|v| &v.kind) else { continue };
        let base = file.parent().unwrap_or(Path::new("."));
        let fence = confinement(&root);
        for item in items {
            let Some(rel) = item.as_str() else { continue };
            let path = normalize(&base.join(rel));
            let problem = |msg: String| Problem::at(&file, item.pos, msg).len(rel.chars().count());
            match std::fs::canonicalize(&path) {
                Err(_) => out.problems.push(
                    problem(format!("include `{rel}` not found (looked for {})", path.display()))
                        .hint("the path is relative to this manifest file, e.g. `../_shared`"),
                ),
                Ok(real)
                    if !real.starts_with(&fence)
                        || real == fence
                        || std::fs::canonicalize(&root).is_ok_and(|r| real.starts_with(&r) || r.starts_with(&real)) =>
                {
                    out.problems.push(
                        problem(format!("include `{rel}` leads outside the accounts folder `{}`", fence.display()))
                            .hint("shared manifests sit beside the account folders, e.g. accounts/_shared"),
                    )
                }
                Ok(_) if out.includes.contains(&path) => {}
                Ok(_) => out.includes.push(path),
            }
        }
    }
    let folders: Vec<&Path> = keyed.iter().filter_map(|(f, _)| f.parent()).collect();
    if folders.iter().any(|f| *f != folders[0]) {
        // Several accounts read as one would merge them: say which folder holds them instead.
        let parents: Vec<&Path> = folders.iter().filter_map(|f| f.parent()).collect();
        let common = parents.iter().fold(parents[0].to_path_buf(), |acc, p| {
            acc.ancestors().find(|a| p.starts_with(a)).map(Path::to_path_buf).unwrap_or_default()
        });
        let (file, pos) = &keyed[1];
        out.problems = vec![Problem::at(
            file,
            *pos,
            format!(
                "these manifests hold {} accounts (a folder each, naming its own key): they are not one account",
                folders.iter().collect::<std::collections::BTreeSet<_>>().len()
            ),
        )
        .hint({
            let common = if common.as_os_str().is_empty() { PathBuf::from(".") } else { common };
            // Given the accounts folder itself, what made it one manifest set is YAML of its own.
            let own: Vec<String> = paths
                .iter()
                .filter(|p| std::fs::canonicalize(p).ok() == std::fs::canonicalize(&common).ok())
                .flat_map(|p| std::fs::read_dir(p).into_iter().flatten().flatten())
                .map(|e| e.path())
                .filter(|p| p.is_file() && super::looks_like_yaml(p))
                .map(|p| p.display().to_string())
                .collect();
            if own.is_empty() {
                format!("pass the folder that holds the accounts: `skyform validate {}`", common.display())
            } else {
                format!(
                    "{} holds manifests of its own ({}), so it is read as one set: move them into an account's folder, or a shared folder the accounts include",
                    common.display(),
                    own.join(", ")
                )
            }
        })];
        out.includes.clear();
        out.api_key_env = None;
        out.several = true;
    }
    out
}

/// One account of an accounts folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDir {
    /// The folder's name: what `--accounts` and the report call it.
    pub name: String,
    pub dir: PathBuf,
    /// The environment variable of its key.
    pub key_env: String,
    /// Its API base URL, when its settings name one.
    pub api_url: Option<String>,
}

/// The accounts under `root`: its sub-folders whose manifests set `settings.api_key_env`, sorted by name.
/// Empty when `root` is not an accounts folder (a file, or an account or plain manifest folder itself).
pub fn discover(root: &Path) -> Vec<AccountDir> {
    // A folder with manifests of its own is one manifest set (an account, or a plain folder).
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    if has_own_manifests(root) {
        return Vec::new();
    }
    // Symlinked account folders count when they stay inside the accounts folder (as manifests do).
    let real_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.is_dir() && std::fs::canonicalize(p).is_ok_and(|real| real.starts_with(&real_root)))
        .collect();
    dirs.sort();
    dirs.into_iter()
        .filter_map(|dir| {
            let scan = prescan(std::slice::from_ref(&dir));
            let (key_env, _) = scan.api_key_env?;
            let name = dir.file_name()?.to_string_lossy().into_owned();
            Some(AccountDir { name, dir, key_env, api_url: scan.api_url })
        })
        .collect()
}

/// Whether a folder holds YAML directly (not only in sub-folders).
fn has_own_manifests(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).any(|e| e.path().is_file() && super::looks_like_yaml(&e.path())))
        .unwrap_or(false)
}
