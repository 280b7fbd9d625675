//! Manifests: load every `*.yaml`/`*.yml` under the given paths, interpolate `${VAR}`, resolve `{file:}` and
//! `{prompt:}`, check everything that can be checked offline, and return one merged [`ManifestSet`], or every
//! problem found, each with its file, line and column.

mod interpolate;
pub mod layout;
pub mod schema;
pub mod yaml;

use crate::resources::{Checks, Declared, Entry, Holds, Kind, Managed, Origin, Resource, Text};
use crate::source::{closest, Problem, Problems};
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use yaml::{Node, Pos, Style};

/// A manifest file larger than this is refused unread (bytes).
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// A `{file:}` text larger than this is refused unread (bytes).
pub const MAX_TEXT_BYTES: u64 = 1024 * 1024;

/// The top-level sections a manifest may have: `prompts`, every kind of the registry, `settings`.
pub fn sections() -> Vec<&'static str> {
    let mut all = vec!["prompts"];
    all.extend(Kind::ALL.iter().map(|k| k.as_str()));
    all.push("settings");
    all
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Kinds whose live objects missing from the manifests are deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prune: Vec<Kind>,
    /// Accounts layout: the environment variable holding this account's API key, e.g.
    /// `ACME_SKYLIGHT_KEY` (instead of `SKYLIGHT_API_KEY`). Only in an account's own manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Accounts layout: this account's API base URL, when not the public one (`--api-url` still wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// Shared manifest folders or files this account includes, relative to this file (e.g. `../_shared`),
    /// inside the accounts folder. The account's own entries replace shared entries of the same natural
    /// key, whole; its prompts replace shared prompts of the same name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Values of `${NAME}` for this account and the manifests it includes, ahead of `SKYFORM_VAR_NAME`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub vars: std::collections::BTreeMap<String, String>,
}

impl Settings {
    /// The account-only settings this one sets, by name (a shared manifest may set none of them).
    pub(crate) fn account_only(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.api_key_env.is_some() {
            out.push("api_key_env");
        }
        if self.api_url.is_some() {
            out.push("api_url");
        }
        if !self.include.is_empty() {
            out.push("include");
        }
        if !self.vars.is_empty() {
            out.push("vars");
        }
        out
    }
}

/// The merged, resolved and checked manifests. Derefs to [`Declared`], so `set.agents` is the agents.
#[derive(Debug, Default)]
pub struct ManifestSet {
    /// Prompts, resolved to their texts.
    pub prompts: IndexMap<String, Text>,
    /// Every kind's entries.
    pub declared: Declared,
    pub settings: Settings,
    /// Every manifest file read, in load order.
    pub files: Vec<PathBuf>,
    /// Their texts, to quote lines in later problems (unresolvable names at plan time).
    pub sources: std::collections::BTreeMap<PathBuf, String>,
    /// What only the account can settle (checked again at plan time), and files not read; `validate`
    /// shows them, plans carry them as notes.
    pub warnings: Problems,
    /// YAML-looking files under a folder that were not read (hidden names, not in `.skyformignore`).
    /// Prune is refused while there are any: they may declare what would be deleted.
    pub skipped: Vec<PathBuf>,
    /// Shared manifest roots included by `settings.include` (loaded first; the account's entries override).
    pub shared: Vec<PathBuf>,
    /// Where `settings.api_key_env` is set (`file:line:column`), for messages about the account's key.
    pub key_env_at: Option<String>,
}

impl std::ops::Deref for ManifestSet {
    type Target = Declared;
    fn deref(&self) -> &Declared {
        &self.declared
    }
}

impl ManifestSet {
    /// `3 agents, 7 knowledge entries, ... (2 prompts, 5 files)` for `validate`'s summary line.
    pub fn summary(&self) -> String {
        let n = |count: usize, one: &str, many: &str| format!("{count} {}", if count == 1 { one } else { many });
        // Kinds the manifests declare nothing of are left out; a singleton is named when declared.
        let kinds: Vec<String> = Kind::ALL
            .iter()
            .filter(|k| self.declared.count(**k) > 0)
            .map(|k| match with_kind!(*k, S => <S as crate::resources::Shaped>::SINGLETON) {
                true => k.singular().to_string(),
                false => n(self.declared.count(*k), k.singular(), k.plural()),
            })
            .collect();
        let kinds = if kinds.is_empty() { vec!["nothing".to_string()] } else { kinds };
        format!(
            "{} ({}, {})",
            kinds.join(", "),
            n(self.prompts.len(), "prompt", "prompts"),
            n(self.files.len(), "file", "files")
        )
    }

    /// Problems at plan time, quoting the manifests' lines like load-time ones.
    pub fn problems(&self, list: Vec<Problem>) -> Problems {
        let mut all = Problems::default();
        for (file, text) in &self.sources {
            all.keep_source(file, text);
        }
        list.into_iter().for_each(|p| all.push(p));
        all.sort();
        all
    }
}

/// Interpolation with no variables set, as the loader applies it (for tests of writers of manifests).
#[doc(hidden)]
pub fn interpolate_for_tests(s: &str) -> String {
    interpolate::interpolate(s, &interpolate::Vars { env: &|_| None, api_key: None }).unwrap_or_else(|_| s.to_string())
}

pub use interpolate::{secret_reference, InterpolationError, VAR_PREFIX};

/// The file, in any manifest folder, that lists (in gitignore syntax) what is not a manifest.
pub const IGNORE_FILE: &str = ".skyformignore";

pub use crate::vars::{process_env, Env};

/// Loads, resolves and checks the manifests under `paths`. Never touches the network.
pub fn load(paths: &[PathBuf], env: Env) -> Result<ManifestSet, Problems> {
    let mut problems = Problems::default();
    let mut set = ManifestSet::default();
    let mut prompt_origins: HashMap<String, Origin> = HashMap::new();
    // The account's own settings first: its includes join the paths, its vars come before the environment.
    let layout = layout::prescan(paths);
    if layout.several {
        // Nothing else is worth saying about several accounts merged into one.
        for p in &layout.problems {
            if let Ok(text) = std::fs::read_to_string(&p.file) {
                problems.keep_source(&p.file, &text);
            }
            problems.push(p.clone());
        }
        return Err(problems);
    }
    layout.problems.iter().cloned().for_each(|p| problems.push(p));
    // A var's value is interpolated once, against the environment (`"https://${HOST}/x"`, `$$`), then used
    // as text: an unset variable inside it is reported where the var is declared (settings are interpolated
    // like every section).
    let base = interpolate::Vars { env, api_key: None };
    let overlay = |name: &str| match layout.var(name) {
        Some(v) if v.contains('$') => Some(interpolate::interpolate(&v, &base).unwrap_or(v)),
        Some(v) => Some(v),
        None => env(name),
    };
    let key_var = layout.api_key_env.as_ref().map_or(crate::vars::API_KEY_VAR, |(name, _)| name.as_str());
    let vars = interpolate::Vars { env: &overlay, api_key: env(key_var).filter(|k| !k.trim().is_empty()) };
    let all: Vec<PathBuf> = layout.includes.iter().chain(paths).cloned().collect();
    // The roots shared files load under: a folder include is its own root, a file include its folder's.
    set.shared = layout
        .includes
        .iter()
        .map(|p| if p.is_file() { p.parent().map(Path::to_path_buf).unwrap_or_default() } else { p.clone() })
        .collect();

    let mut skipped = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (root, file) in manifest_files(&all, &mut problems, &mut skipped) {
        // Overlapping paths (a folder and a file in it) name one file twice: it is read once.
        if !seen.insert(std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone())) {
            continue;
        }
        set.files.push(file.clone());
        let Some(text) = read_text(&file, &root, MAX_MANIFEST_BYTES, "manifest", &mut problems) else {
            continue;
        };
        let shared = set.shared.contains(&root);
        let ctx = FileCtx { file: Arc::new(file.clone()), root: Arc::new(root), shared };
        // A file is quoted in messages only once it is known to be a manifest: the text of anything else
        // (a stray file, a symlink's target) is never echoed.
        let node = match yaml::parse(&text) {
            Err(e) => {
                problems.push(from_yaml(&file, e));
                continue;
            }
            Ok((node, duplicates)) => {
                if node.as_ref().is_some_and(is_manifest) {
                    problems.keep_source(&file, &text);
                    set.sources.insert(file.clone(), text.clone());
                }
                duplicates.into_iter().for_each(|e| problems.push(from_yaml(&file, e)));
                node
            }
        };
        let Some(mut node) = node else {
            problems.push(
                Problem::file(&file, "the file is empty: it declares nothing")
                    .hint("add sections such as `agents:`, or delete the file"),
            );
            continue;
        };
        if !is_manifest(&node) {
            problems.push(not_a_manifest(&file, &node));
            continue;
        }
        interpolate_all(&mut node, &vars, &file, &mut problems);
        read_sections(&node, &ctx, &mut set, &mut prompt_origins, &mut problems);
    }

    for &kind in Kind::ALL {
        with_kind!(kind, S => drop_overridden::<S>(set.declared.entries_mut(), &set.shared));
    }
    resolve_prompts(&mut set, &prompt_origins, &mut problems);
    let mut checks = Checks { problems: Vec::new(), warnings: Vec::new(), prompts: &set.prompts };
    for &kind in Kind::ALL {
        with_kind!(kind, S => {
            resolve_entries::<S>(set.declared.entries_mut(), &set.prompts, &mut problems);
            check_kind::<S>(set.declared.of::<S>(), &mut checks);
        });
    }
    checks.problems.into_iter().for_each(|p| problems.push(p));
    let mut warnings = Problems::default();
    for (file, text) in &set.sources {
        warnings.keep_source(file, text);
    }
    checks.warnings.into_iter().for_each(|p| warnings.push(p));
    for file in &skipped {
        warnings.push(
            Problem::file(
                file,
                "a hidden YAML file: it is not read as a manifest, and prune is refused while it is here",
            )
            .hint(format!(
                "if it holds manifests, rename it without the leading dot; if not, list it in {IGNORE_FILE}"
            )),
        );
    }
    set.skipped = skipped;
    warnings.sort();
    set.warnings = warnings;

    if problems.is_empty() {
        Ok(set)
    } else {
        problems.sort();
        Err(problems)
    }
}

/// A mapping with at least one section, or a key that is a misspelt section: anything else is some other
/// YAML file.
fn is_manifest(node: &Node) -> bool {
    let sections = sections();
    match &node.kind {
        yaml::Kind::Map(entries) => entries
            .iter()
            .filter_map(|(k, _)| k.as_str())
            .any(|s| sections.contains(&s) || closest(s, &sections).is_some()),
        _ => false,
    }
}

/// What is wrong with a YAML file that is not a manifest, without a word of its content.
fn not_a_manifest(file: &Path, node: &Node) -> Problem {
    let hint = format!(
        "a manifest has top-level sections ({}); to keep other YAML beside manifests, list it in a {IGNORE_FILE} file",
        sections().join(", ")
    );
    let found = match &node.kind {
        yaml::Kind::Map(_) => "a mapping without any section".to_string(),
        _ => node.describe().to_string(),
    };
    Problem::at(file, node.pos, format!("not a skyform manifest: expected a mapping of sections, found {found}"))
        .hint(hint)
}

struct FileCtx {
    file: Arc<PathBuf>,
    /// `{file:}` paths may not leave this folder.
    root: Arc<PathBuf>,
    /// Under a shared root (`settings.include`): the account's own entries override it.
    shared: bool,
}

/// Removes shared entries that an account's own entry of the same natural key replaces.
fn drop_overridden<S: Managed>(entries: &mut Vec<S>, shared: &[PathBuf]) {
    if shared.is_empty() {
        return;
    }
    let is_shared = |e: &S| shared.iter().any(|r| r == e.origin().root.as_ref());
    let own: std::collections::HashSet<String> =
        entries.iter().filter(|e| !is_shared(e)).map(|e| <S::R as Resource>::match_key(&e.natural_key())).collect();
    entries.retain(|e| !is_shared(e) || !own.contains(&<S::R as Resource>::match_key(&e.natural_key())));
}

/// `*.yaml` or `*.yml`, in any case (`C.YAML`, `Team.Yml`).
pub fn looks_like_yaml(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// Every manifest file under the paths, each with its root: the folder given, or a given file's folder.
///
/// Nothing is narrowed silently: a YAML-named entry that cannot be a manifest (not a regular file, a
/// symlink leading outside the root, unreadable) and a folder that cannot be read are problems that name
/// them. What is deliberately not a manifest: names starting with `.` and what `.skyformignore` lists.
fn manifest_files(paths: &[PathBuf], problems: &mut Problems, skipped: &mut Vec<PathBuf>) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Err(e) => problems.push(
                Problem::file(path, format!("cannot read: {}", io_reason(&e)))
                    .hint("pass manifest files or folders that exist"),
            ),
            Ok(m) if m.is_dir() => {
                let before = out.len();
                walk(path, &mut out, problems, skipped);
                if out.len() == before && problems.is_empty() {
                    problems.push(Problem::file(path, "no *.yaml or *.yml manifests in this folder").hint(format!(
                        "write manifests here, or adopt an existing account with `skyform export --out {}`",
                        path.display()
                    )));
                }
            }
            Ok(m) => {
                let root = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
                if m.is_file() {
                    out.push((root, path.clone()));
                } else {
                    problems.push(Problem::file(path, format!("not a regular file ({})", file_kind(&m.file_type()))));
                }
            }
        }
    }
    out
}

/// The folder walk: `.skyformignore` honoured, `.git` never entered, YAML under other hidden names
/// reported in `skipped` (never silently left out), symlinks followed only inside `root`.
fn walk(root: &Path, out: &mut Vec<(PathBuf, PathBuf)>, problems: &mut Problems, skipped: &mut Vec<PathBuf>) {
    let Ok(real_root) = std::fs::canonicalize(root) else {
        problems.push(Problem::file(root, "cannot read this folder"));
        return;
    };
    let refused: Arc<std::sync::Mutex<Vec<Problem>>> = Arc::default();
    let sink = refused.clone();
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(false)
        .follow_links(true)
        .add_custom_ignore_filename(IGNORE_FILE)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |e| {
            if e.depth() > 0 && e.file_name() == ".git" {
                return false;
            }
            if !e.path_is_symlink() {
                return true;
            }
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            match std::fs::canonicalize(e.path()) {
                Ok(real) if real.starts_with(&real_root) => true,
                Ok(_) => {
                    if is_dir || looks_like_yaml(e.path()) {
                        sink.lock().unwrap_or_else(|p| p.into_inner()).push(
                            Problem::file(e.path(), "this symlink leads outside the manifest folder: it is not read")
                                .hint(format!(
                                    "manifests must live inside the folder you pass; or list it in {IGNORE_FILE}"
                                )),
                        );
                    }
                    false
                }
                Err(_) => true, // dangling: the walk reports it, if it matters
            }
        })
        .build();
    let mut found = Vec::new();
    for entry in walker {
        match entry {
            Err(e) => {
                if let Some(p) = walk_problem(root, &e) {
                    problems.push(p);
                }
            }
            Ok(e) => {
                let Some(kind) = e.file_type() else { continue };
                if kind.is_dir() || !looks_like_yaml(e.path()) {
                    continue;
                }
                let hidden = e
                    .path()
                    .strip_prefix(root)
                    .is_ok_and(|rel| rel.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.')));
                if hidden {
                    skipped.push(e.into_path());
                } else if kind.is_file() {
                    found.push(e.into_path());
                } else {
                    problems.push(
                        Problem::file(e.path(), format!("not a regular file ({}): it is not read", file_kind(&kind)))
                            .hint(format!("manifests are regular files; remove it or list it in {IGNORE_FILE}")),
                    );
                }
            }
        }
    }
    refused.lock().unwrap_or_else(|p| p.into_inner()).drain(..).for_each(|p| problems.push(p));
    found.sort();
    out.extend(found.into_iter().map(|f| (root.to_path_buf(), f)));
}

/// A walk error as a problem, or None for what does not matter (a dangling symlink that is not YAML).
fn walk_problem(root: &Path, e: &ignore::Error) -> Option<Problem> {
    fn parts(e: &ignore::Error) -> (Option<&Path>, Option<&std::io::Error>, Option<String>) {
        match e {
            ignore::Error::WithPath { path, err } => {
                let (_, io, other) = parts(err);
                (Some(path.as_path()), io, other)
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => parts(err),
            ignore::Error::Loop { child, .. } => (Some(child.as_path()), None, Some("a symlink loop".into())),
            ignore::Error::Io(io) => (None, Some(io), None),
            other => (None, None, Some(other.to_string())),
        }
    }
    let (path, io, other) = parts(e);
    let path = path.unwrap_or(root);
    if io.is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) && !looks_like_yaml(path) {
        return None;
    }
    let reason = match (io, other) {
        (Some(io), _) if io.kind() == std::io::ErrorKind::NotFound => "a symlink to nothing".to_string(),
        (Some(io), _) => io_reason(io),
        (None, Some(other)) => other,
        (None, None) => "unreadable".into(),
    };
    Some(
        Problem::file(path, format!("cannot read: {reason}; the manifests would be incomplete"))
            .hint(format!("fix it, or list it in {IGNORE_FILE} if it holds no manifests")),
    )
}

fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
    }
    if t.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Opens a regular file for reading without ever blocking on a FIFO or device.
fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(std::io::Error::other(format!("not a regular file ({})", file_kind(&kind))));
    }
    Ok(file)
}

/// Reads a UTF-8 text file inside `root` of at most `max` bytes (counted as read, not as the file system
/// reports), without a NUL byte; or records why not, never quoting the content.
fn read_text(file: &Path, root: &Path, max: u64, what: &str, problems: &mut Problems) -> Option<String> {
    use std::io::Read as _;
    let (Ok(real_root), Ok(real)) = (std::fs::canonicalize(root), std::fs::canonicalize(file)) else {
        problems.push(Problem::file(file, format!("cannot read: {}", "no such file or folder")));
        return None;
    };
    if !real.starts_with(&real_root) {
        problems.push(
            Problem::file(file, format!("this {what} leads outside the folder `{}`: it is not read", root.display()))
                .hint("keep manifests and their texts inside the folder you pass to skyform (symlinks are followed)"),
        );
        return None;
    }
    let mut bytes = Vec::new();
    let read = open_regular(&real).and_then(|f| f.take(max + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        problems.push(Problem::file(file, format!("cannot read: {}", io_reason(&e))));
        return None;
    }
    if bytes.len() as u64 > max {
        problems.push(
            Problem::file(file, format!("the {what} is larger than {}", human_size(max)))
                .hint("split it into smaller files"),
        );
        return None;
    }
    if let Some(nul) = bytes.iter().position(|b| *b == 0) {
        let pos = position_of(&bytes, nul);
        problems.push(
            Problem::at(file, pos, format!("the {what} contains a NUL byte (line {}): it is not text", pos.line))
                .hint("save it as UTF-8 text; binary files cannot be manifests or texts"),
        );
        return None;
    }
    match String::from_utf8(bytes) {
        Ok(s) => Some(s.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(s)),
        Err(e) => {
            let pos = position_of(e.as_bytes(), e.utf8_error().valid_up_to());
            problems.push(
                Problem::at(file, pos, format!("the {what} is not UTF-8 (invalid byte at line {})", pos.line))
                    .hint("save the file as UTF-8"),
            );
            None
        }
    }
}

/// The line and column of a byte offset.
fn position_of(bytes: &[u8], offset: usize) -> Pos {
    let valid = &bytes[..offset];
    let line = valid.iter().filter(|b| **b == b'\n').count() as u32 + 1;
    let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    let col = String::from_utf8_lossy(&valid[line_start..]).chars().count() as u32 + 1;
    Pos { line, col }
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

fn from_yaml(file: &Path, e: yaml::YamlError) -> Problem {
    let p = Problem::at(file, e.pos, e.message);
    match e.hint {
        Some(h) => p.hint(h),
        None => p,
    }
}

/// Interpolates every scalar of a manifest: secret fields (see [`crate::resources::is_secret_field`]) must
/// be bare references, left for the request that needs them; every other field reads `SKYFORM_VAR_*`.
fn interpolate_all(root: &mut Node, vars: &interpolate::Vars, file: &Path, problems: &mut Problems) {
    let yaml::Kind::Map(sections) = &mut root.kind else { return };
    for (key, section) in sections.iter_mut() {
        let section_name = key.as_str().unwrap_or("").to_string();
        let yaml::Kind::Seq(entries) = &mut section.kind else {
            interpolate_shown(section, vars, file, problems);
            continue;
        };
        for entry in entries.iter_mut() {
            let yaml::Kind::Map(fields) = &mut entry.kind else {
                interpolate_shown(entry, vars, file, problems);
                continue;
            };
            for (field, value) in fields.iter_mut() {
                let secret = crate::resources::is_secret_field(&section_name, field.as_str().unwrap_or(""));
                match &mut value.kind {
                    yaml::Kind::Scalar { value: text, style } if secret => {
                        if let Err(e) = interpolate::secret_reference(text) {
                            // A literal where a reference belongs is a secret written down: never echo it.
                            crate::redact::register(text);
                            report_interpolation(file, problems, text, *style, value.pos, vec![e]);
                            // Reported once, here; the load fails, so the placeholder is never used.
                            *text = "${INVALID}".into();
                        }
                    }
                    _ => interpolate_shown(value, vars, file, problems),
                }
            }
        }
    }
}

fn interpolate_shown(node: &mut Node, vars: &interpolate::Vars, file: &Path, problems: &mut Problems) {
    node.scalars_mut(&mut |value, style, pos| match interpolate::interpolate(value, vars) {
        Ok(v) => *value = v,
        Err(errors) => report_interpolation(file, problems, value, style, pos, errors),
    })
}

fn report_interpolation(
    file: &Path,
    problems: &mut Problems,
    value: &str,
    style: Style,
    pos: Pos,
    errors: Vec<interpolate::InterpolationError>,
) {
    for e in errors {
        let before = &value.chars().take(e.offset).collect::<String>();
        let col = match style {
            _ if before.contains('\n') => pos.col,
            Style::Plain => pos.col + e.offset as u32,
            Style::Quoted => pos.col + 1 + e.offset as u32,
            Style::Block => pos.col,
        };
        problems.push(Problem::at(file, Pos { line: pos.line, col }, e.message).hint(e.hint).len(e.len));
    }
}

fn read_sections(
    root: &Node,
    ctx: &FileCtx,
    set: &mut ManifestSet,
    prompt_origins: &mut HashMap<String, Origin>,
    problems: &mut Problems,
) {
    let file = ctx.file.as_path();
    let yaml::Kind::Map(entries) = &root.kind else {
        problems.push(
            Problem::at(file, root.pos, format!("expected a mapping of sections, found {}", root.describe()))
                .hint("a manifest has top-level keys such as `agents:`, `webhooks:`, `team:`"),
        );
        return;
    };
    for (key, value) in entries {
        let name = key.as_str().unwrap_or("");
        if let Some(kind) = Kind::ALL.iter().find(|k| k.as_str() == name) {
            with_kind!(*kind, S => read_list::<S>(value, ctx, set.declared.entries_mut(), problems));
            continue;
        }
        match name {
            "prompts" => read_prompts(value, ctx, set, prompt_origins, problems),
            "settings" if value.is_null() => {}
            "settings" => match Settings::deserialize(value) {
                Ok(s) => {
                    read_account_settings(&s, value, ctx, set, problems);
                    for kind in
                        s.prune.iter().filter(|k| with_kind!(**k, S => <S as crate::resources::Shaped>::SINGLETON))
                    {
                        // Point at the list item that names it, not at `settings:`.
                        let item = value.get("prune").and_then(|list| match &list.kind {
                            yaml::Kind::Seq(items) => items.iter().find(|n| n.as_str() == Some(kind.as_str())),
                            _ => None,
                        });
                        let p = Problem::at(
                            file,
                            item.map_or(value.pos, |n| n.pos),
                            format!("`{kind}` cannot be pruned: there is one per account"),
                        );
                        let p = if item.is_some() { p.len(kind.as_str().chars().count()) } else { p };
                        problems.push(p.hint("remove it from `prune:`"));
                    }
                    for kind in s.prune {
                        if !set.settings.prune.contains(&kind) {
                            set.settings.prune.push(kind);
                        }
                    }
                }
                Err(e) => problems.push(de_problem(file, e, value.pos)),
            },
            other => {
                let p = Problem::at(file, key.pos, format!("unknown section `{other}`")).len(other.chars().count());
                let sections = sections();
                problems.push(match closest(other, &sections) {
                    Some(best) => p.hint(format!("did you mean `{best}`?")),
                    None => p.hint(format!("sections are {}", sections.join(", "))),
                });
            }
        }
    }
}

fn de_problem(file: &Path, e: yaml::DeError, fallback: Pos) -> Problem {
    let p = Problem::at(file, e.pos.unwrap_or(fallback), e.message).len(e.len);
    match e.hint {
        Some(h) => p.hint(h),
        None => p,
    }
}

fn origin_of(ctx: &FileCtx, node: &Node) -> Origin {
    let mut fields = HashMap::new();
    node.positions("", &mut fields);
    Origin { file: ctx.file.clone(), root: ctx.root.clone(), pos: node.pos, fields: Arc::new(fields) }
}

fn read_list<T: Entry + for<'de> Deserialize<'de>>(
    value: &Node,
    ctx: &FileCtx,
    out: &mut Vec<T>,
    problems: &mut Problems,
) {
    let file = ctx.file.as_path();
    // A singleton (`account:`, `voice:`) is one mapping, never a list.
    if <T as crate::resources::Shaped>::SINGLETON {
        match &value.kind {
            yaml::Kind::Map(_) => match T::deserialize(value) {
                Ok(mut entry) => {
                    *entry.origin_mut() = origin_of(ctx, value);
                    out.push(entry);
                }
                Err(e) => problems.push(de_problem(file, e, value.pos)),
            },
            _ if value.is_null() => {}
            _ => problems.push(
                Problem::at(
                    file,
                    value.pos,
                    format!("expected the {} as a mapping, found {}", T::LABEL, value.describe()),
                )
                .hint("write its fields under it, without `- ` (there is one per account)"),
            ),
        }
        return;
    }
    let items = match &value.kind {
        yaml::Kind::Seq(items) => items,
        _ if value.is_null() => return,
        _ => {
            problems.push(
                Problem::at(file, value.pos, format!("expected a list of {}, found {}", T::PLURAL, value.describe()))
                    .hint("start each entry with `- `"),
            );
            return;
        }
    };
    for item in items {
        match T::deserialize(item) {
            Ok(mut entry) => {
                *entry.origin_mut() = origin_of(ctx, item);
                out.push(entry);
            }
            Err(e) => problems.push(de_problem(file, e, item.pos)),
        }
    }
}

/// The account-only settings: never in a shared manifest, each set once.
fn read_account_settings(s: &Settings, value: &Node, ctx: &FileCtx, set: &mut ManifestSet, problems: &mut Problems) {
    let file = ctx.file.as_path();
    let at = |field: &str| value.get(field).map_or(value.pos, |n| n.pos);
    if ctx.shared {
        for field in s.account_only() {
            problems.push(
                Problem::at(file, at(field), format!("a shared manifest cannot set `{field}`"))
                    .len(field.len())
                    .hint("account settings belong in the account's own folder, which includes this one"),
            );
        }
        return;
    }
    if let Some(name) = &s.api_key_env {
        if !name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
            || name.is_empty()
        {
            problems.push(
                Problem::at(file, at("api_key_env"), format!("`{name}` is not an environment variable name"))
                    .hint("write the variable's name, e.g. ACME_SKYLIGHT_KEY, never the key itself"),
            );
        } else if name.starts_with(VAR_PREFIX) || name.starts_with("SKYFORM_SECRET_") {
            problems.push(
                Problem::at(file, at("api_key_env"), format!("`{name}` is a name manifests interpolate"))
                    .hint("name the key's variable outside SKYFORM_VAR_ and SKYFORM_SECRET_, e.g. ACME_SKYLIGHT_KEY"),
            );
        }
    }
    if let Some(url) = &s.api_url {
        // Its shape offline; which hosts may receive the key is checked when connecting.
        let why = match reqwest::Url::parse(url) {
            Err(e) => Some(format!("`{url}` is not a URL ({e})")),
            Ok(u) if !u.username().is_empty() || u.password().is_some() => {
                Some("the URL has credentials in it; the key travels in a header".to_string())
            }
            Ok(u) if u.scheme() == "https" => None,
            Ok(u)
                if u.scheme() == "http"
                    && u.host_str().is_some_and(|h| {
                        h == "localhost"
                            || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
                            || h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
                    }) =>
            {
                None
            }
            Ok(u) if u.scheme() == "http" => Some(format!("`{url}` is plain http to another machine (https only)")),
            Ok(_) => Some(format!("`{url}` is not an https URL")),
        };
        if let Some(why) = why {
            problems.push(
                Problem::at(file, at("api_url"), format!("settings.api_url: {why}"))
                    .hint("write the API's base URL, e.g. https://dashboard.skylightchat.com/api/v1"),
            );
        }
    }
    let once = |mine: &Option<String>, theirs: &Option<String>, field: &str, problems: &mut Problems| {
        if mine.is_some() && theirs.is_some() {
            problems.push(
                Problem::at(file, at(field), format!("`settings.{field}` is set twice in this account"))
                    .hint("set it in one file"),
            );
        }
    };
    once(&s.api_key_env, &set.settings.api_key_env, "api_key_env", problems);
    once(&s.api_url, &set.settings.api_url, "api_url", problems);
    if s.api_key_env.is_some() {
        set.settings.api_key_env.clone_from(&s.api_key_env);
        let pos = at("api_key_env");
        set.key_env_at = Some(format!("{}:{}:{}", file.display(), pos.line, pos.col));
    }
    if s.api_url.is_some() {
        set.settings.api_url.clone_from(&s.api_url);
    }
    set.settings.include.extend(s.include.iter().cloned());
    set.settings.vars.extend(s.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
}

fn read_prompts(
    value: &Node,
    ctx: &FileCtx,
    set: &mut ManifestSet,
    prompt_origins: &mut HashMap<String, Origin>,
    problems: &mut Problems,
) {
    let file = ctx.file.as_path();
    let yaml::Kind::Map(entries) = &value.kind else {
        if !value.is_null() {
            problems.push(
                Problem::at(file, value.pos, format!("expected a mapping of prompts, found {}", value.describe()))
                    .hint("write `prompts:` then `name: text` or `name: { file: path }` lines"),
            );
        }
        return;
    };
    for (key, node) in entries {
        let name = key.as_str().unwrap_or("").to_string();
        match Text::deserialize(node) {
            Err(e) => problems.push(de_problem(file, e, node.pos)),
            Ok(text) => {
                if let Some(first) = prompt_origins.get(&name) {
                    // An account's prompt replaces a shared one of the same name.
                    let first_shared = set.shared.iter().any(|r| r == first.root.as_ref());
                    if first_shared && !ctx.shared {
                        let mut origin = origin_of(ctx, node);
                        origin.pos = node.pos;
                        prompt_origins.insert(name.clone(), origin);
                        set.prompts.insert(name, text);
                        continue;
                    }
                    problems.push(
                        Problem::at(
                            file,
                            key.pos,
                            format!("prompt `{name}` is defined twice (first at {})", first.short()),
                        )
                        .hint("prompt names are shared by every manifest file; rename one"),
                    );
                    continue;
                }
                let mut origin = origin_of(ctx, node);
                origin.pos = node.pos;
                prompt_origins.insert(name.clone(), origin);
                set.prompts.insert(name, text);
            }
        }
    }
}

/// Reads `{file:}` texts relative to `origin`'s manifest, never outside `root`.
fn load_file_text(rel: &str, origin: &Origin, field: &str, problems: &mut Problems) -> Option<String> {
    let root = origin.root.as_path();
    let at = |msg: String| origin.problem(field, msg);
    let rel_path = Path::new(rel);
    if rel.trim().is_empty() {
        problems.push(at("`file:` is empty".into()));
        return None;
    }
    if rel_path.is_absolute() {
        problems.push(at(format!("`{rel}` is an absolute path")).hint("write the path relative to this manifest file"));
        return None;
    }
    let base = origin.file.parent().unwrap_or(Path::new("."));
    let path = base.join(rel_path);
    let escape = || {
        at(format!("`{rel}` leads outside the manifest folder `{}`", root.display()))
            .hint("keep texts inside the folder you pass to skyform (symlinks are followed)")
    };
    let (Ok(real_root), Ok(real)) = (std::fs::canonicalize(root), std::fs::canonicalize(&path)) else {
        // Missing: still refuse a path that climbs out, before saying it is missing.
        if rel_path.components().filter(|c| matches!(c, std::path::Component::ParentDir)).count()
            > base.strip_prefix(root).map_or(0, |p| p.components().count())
        {
            problems.push(escape());
        } else {
            problems.push(
                at(format!("file `{rel}` not found (looked for {})", path.display()))
                    .hint("check the path; it is relative to this manifest file"),
            );
        }
        return None;
    };
    if !real.starts_with(&real_root) {
        problems.push(escape());
        return None;
    }
    let mut inner = Problems::default();
    let text = read_text(&real, &real_root, MAX_TEXT_BYTES, "text file", &mut inner);
    for p in inner.list {
        // Point at the manifest line that names the file, and say which file.
        let mut q = at(format!("{} ({})", p.message, path.display()));
        q.hint = p.hint;
        problems.push(q);
    }
    text
}

fn resolve_prompts(set: &mut ManifestSet, origins: &HashMap<String, Origin>, problems: &mut Problems) {
    for (name, text) in set.prompts.iter_mut() {
        let Some(origin) = origins.get(name) else {
            continue;
        };
        match text.clone() {
            Text::File { file } => {
                if let Some(value) = load_file_text(&file, origin, "file", problems) {
                    *text = Text::Loaded { value, from: file };
                }
            }
            Text::Prompt { .. } => problems.push(
                origin
                    .problem("prompt", format!("prompt `{name}` refers to another prompt"))
                    .hint("a prompt is a text or `{ file: path }`; prompts do not nest"),
            ),
            Text::Inline(_) | Text::Loaded { .. } => {}
        }
    }
}

fn resolve_entries<T: Entry>(entries: &mut [T], prompts: &IndexMap<String, Text>, problems: &mut Problems) {
    let names: Vec<&str> = prompts.keys().map(String::as_str).collect();
    for entry in entries.iter_mut() {
        let origin = entry.origin().clone();
        for (field, text) in entry.texts_mut() {
            match text.clone() {
                Text::File { file } => {
                    if let Some(value) = load_file_text(&file, &origin, &format!("{field}.file"), problems) {
                        *text = Text::Loaded { value, from: file };
                    }
                }
                Text::Prompt { prompt } => match prompts.get(&prompt).and_then(Text::value) {
                    Some(value) => *text = Text::Loaded { value: value.to_string(), from: format!("prompt {prompt}") },
                    None if prompts.contains_key(&prompt) => {} // its own problem was reported
                    None => {
                        let p = origin
                            .problem(&format!("{field}.prompt"), format!("prompt `{prompt}` is not defined"))
                            .len(prompt.chars().count());
                        problems.push(match closest(&prompt, &names) {
                            Some(best) => p.hint(format!("did you mean `{best}`?")),
                            None => p.hint(format!(
                                "define it under `prompts:` (`{prompt}: {{ file: prompts/{prompt}.md }}`)"
                            )),
                        });
                    }
                },
                Text::Inline(_) | Text::Loaded { .. } => {}
            }
        }
    }
}

/// Per-entry checks, the kind's checks across its entries, then natural keys unique per kind (in their
/// comparison form, unless every duplicate is pinned) and ids unique.
fn check_kind<S: Managed>(entries: &[S], c: &mut Checks) {
    for e in entries {
        e.check(c);
    }
    if <S as crate::resources::Shaped>::SINGLETON {
        for e in entries.iter().skip(1) {
            c.push(
                Problem::at(
                    &e.origin().file,
                    e.origin().pos,
                    format!("`{}` is declared twice (first at {})", S::R::KIND, entries[0].origin().short()),
                )
                .hint("there is one per account: declare it in one file"),
            );
        }
        return;
    }
    S::check_together(entries, c);
    let mut by_key: HashMap<String, &S> = HashMap::new();
    let mut by_id: HashMap<u64, &S> = HashMap::new();
    for e in entries {
        let o = e.origin();
        if let Some(id) = e.id() {
            if let Some(first) = by_id.insert(id, e) {
                c.push(
                    o.problem(
                        "id",
                        format!("{} id {id} is pinned twice (first at {})", S::LABEL, first.origin().short()),
                    )
                    .hint("an id names one live object; pin it once"),
                );
            }
        }
        let key = e.natural_key();
        if let Some(first) = by_key.insert(<S::R as Resource>::match_key(&key), e) {
            if e.id().is_none() || first.id().is_none() {
                c.push(
                    o.problem(
                        S::KEY_FIELD,
                        format!(
                            "a second {} with {} `{key}` (first at {})",
                            S::LABEL,
                            S::KEY_FIELD,
                            first.origin().short()
                        ),
                    )
                    .hint(format!(
                        "{} are matched by {}: rename one, or pin each to a live object with `id:`",
                        <S as Entry>::PLURAL,
                        S::KEY_FIELD
                    )),
                );
            }
        }
    }
}
