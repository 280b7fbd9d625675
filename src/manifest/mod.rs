//! Manifests: load every `*.yaml`/`*.yml` under the given paths, interpolate `${VAR}`, resolve `{file:}` and
//! `{prompt:}`, check everything that can be checked offline, and return one merged [`ManifestSet`], or every
//! problem found, each with its file, line and column.

mod interpolate;
pub mod problem;
pub mod schema;
pub mod yaml;

use crate::resources::agent::AgentSpec;
use crate::resources::campaign::CampaignSpec;
use crate::resources::knowledge::KnowledgeEntrySpec;
use crate::resources::team::TeamMemberSpec;
use crate::resources::webhook::WebhookSpec;
use crate::resources::{Checks, Ensure, Entry, Kind, Origin, Text};
use indexmap::IndexMap;
use problem::{closest, Problem, Problems};
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use yaml::{Node, Pos, Style};

/// A manifest file larger than this is refused unread.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// A `{file:}` text larger than this is refused unread.
pub const MAX_TEXT_BYTES: u64 = 1024 * 1024;

/// One manifest file, as written. Every section is optional; sections of all files are merged.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "skyform manifest", description = "A SkyLight Chat account as code. See skyform's README.")]
pub struct ManifestFile {
    /// Reusable texts, local to the manifests: `name: text`, or `name: { file: path }`.
    #[serde(default)]
    pub prompts: IndexMap<String, Text>,
    #[serde(default)]
    pub agents: Vec<AgentSpec>,
    #[serde(default)]
    pub knowledge_base: Vec<KnowledgeEntrySpec>,
    #[serde(default)]
    pub webhooks: Vec<WebhookSpec>,
    #[serde(default)]
    pub team: Vec<TeamMemberSpec>,
    #[serde(default)]
    pub campaigns: Vec<CampaignSpec>,
    #[serde(default)]
    pub settings: Settings,
}

const SECTIONS: &[&str] = &["prompts", "agents", "knowledge_base", "webhooks", "team", "campaigns", "settings"];

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Kinds whose live objects missing from the manifests are deleted.
    #[serde(default)]
    pub prune: Vec<Kind>,
}

/// The merged, resolved and checked manifests.
#[derive(Debug, Default)]
pub struct ManifestSet {
    /// Prompts, resolved to their texts.
    pub prompts: IndexMap<String, Text>,
    pub agents: Vec<AgentSpec>,
    pub knowledge_base: Vec<KnowledgeEntrySpec>,
    pub webhooks: Vec<WebhookSpec>,
    pub team: Vec<TeamMemberSpec>,
    pub campaigns: Vec<CampaignSpec>,
    pub settings: Settings,
    /// Every manifest file read, in load order.
    pub files: Vec<PathBuf>,
    /// Their texts, to quote lines in later problems (unresolvable names at plan time).
    pub sources: std::collections::BTreeMap<PathBuf, String>,
}

impl ManifestSet {
    /// `3 agents, 7 knowledge entries, ...` for `validate`'s summary line.
    pub fn summary(&self) -> String {
        let n = |count: usize, one: &str, many: &str| format!("{count} {}", if count == 1 { one } else { many });
        format!(
            "{}, {}, {}, {}, {} ({}, {})",
            n(self.agents.len(), "agent", "agents"),
            n(self.knowledge_base.len(), "knowledge entry", "knowledge entries"),
            n(self.webhooks.len(), "webhook", "webhooks"),
            n(self.team.len(), "team member", "team members"),
            n(self.campaigns.len(), "campaign", "campaigns"),
            n(self.prompts.len(), "prompt", "prompts"),
            n(self.files.len(), "file", "files"),
        )
    }
}

/// Interpolation with no variables set, as the loader applies it (for tests of writers of manifests).
#[doc(hidden)]
pub fn interpolate_for_tests(s: &str) -> String {
    interpolate::interpolate(s, &|_| None).unwrap_or_else(|_| s.to_string())
}

/// Where variables come from: the process environment, or a map in tests.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads, resolves and checks the manifests under `paths`. Never touches the network.
pub fn load(paths: &[PathBuf], env: Env) -> Result<ManifestSet, Problems> {
    let mut problems = Problems::default();
    let mut set = ManifestSet::default();
    let mut prompt_origins: HashMap<String, Origin> = HashMap::new();

    for (root, file) in manifest_files(paths, &mut problems) {
        set.files.push(file.clone());
        let Some(text) = read_text(&file, MAX_MANIFEST_BYTES, "manifest", &mut problems) else {
            continue;
        };
        problems.keep_source(&file, &text);
        set.sources.insert(file.clone(), text.clone());
        let ctx = FileCtx { file: Arc::new(file.clone()), root: Arc::new(root) };
        let node = match yaml::parse(&text) {
            Err(e) => {
                problems.push(from_yaml(&file, e));
                continue;
            }
            Ok((node, duplicates)) => {
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
        interpolate_all(&mut node, env, &file, &mut problems);
        read_sections(&node, &ctx, &mut set, &mut prompt_origins, &mut problems);
    }

    resolve_prompts(&mut set, &prompt_origins, &mut problems);
    resolve_entries(&mut set.agents, &set.prompts, &mut problems);
    resolve_entries(&mut set.knowledge_base, &set.prompts, &mut problems);
    resolve_entries(&mut set.webhooks, &set.prompts, &mut problems);
    resolve_entries(&mut set.team, &set.prompts, &mut problems);
    resolve_entries(&mut set.campaigns, &set.prompts, &mut problems);

    let mut checks = Checks { problems: Vec::new(), prompts: &set.prompts };
    check_kind(&set.agents, &mut checks);
    check_kind(&set.knowledge_base, &mut checks);
    check_kind(&set.webhooks, &mut checks);
    check_kind(&set.team, &mut checks);
    check_kind(&set.campaigns, &mut checks);
    check_default_agent(&set.agents, &mut checks);
    checks.problems.into_iter().for_each(|p| problems.push(p));

    if problems.is_empty() {
        Ok(set)
    } else {
        problems.sort();
        Err(problems)
    }
}

struct FileCtx {
    file: Arc<PathBuf>,
    /// `{file:}` paths may not leave this folder.
    root: Arc<PathBuf>,
}

/// Every manifest file under the paths, each with its root: the folder given, or a given file's folder.
fn manifest_files(paths: &[PathBuf], problems: &mut Problems) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Err(e) => problems.push(
                Problem::file(path, format!("cannot read: {}", io_reason(&e)))
                    .hint("pass manifest files or folders that exist"),
            ),
            Ok(m) if m.is_dir() => {
                let mut found = Vec::new();
                walk(path, &mut found);
                found.sort();
                if found.is_empty() {
                    problems.push(Problem::file(path, "no *.yaml or *.yml files in this folder"));
                }
                out.extend(found.into_iter().map(|f| (path.clone(), f)));
            }
            Ok(_) => {
                let root = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
                out.push((root, path.clone()));
            }
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue; // .git, editor folders
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&path, out); // symlinked folders are not followed: no loops, no escapes
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(path);
        }
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Reads a UTF-8 text file of at most `max` bytes, or records why not.
fn read_text(file: &Path, max: u64, what: &str, problems: &mut Problems) -> Option<String> {
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    if size > max {
        problems.push(
            Problem::file(file, format!("the {what} is {}; the limit is {}", human_size(size), human_size(max)))
                .hint("split it into smaller files"),
        );
        return None;
    }
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            problems.push(Problem::file(file, format!("cannot read: {}", io_reason(&e))));
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(s) => Some(s.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(s)),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() as u32 + 1;
            let col = String::from_utf8_lossy(&valid[valid.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1)..])
                .chars()
                .count() as u32
                + 1;
            problems.push(
                Problem::at(file, Pos { line, col }, format!("the {what} is not UTF-8 (invalid byte at line {line})"))
                    .hint("save the file as UTF-8"),
            );
            None
        }
    }
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

fn interpolate_all(node: &mut Node, env: Env, file: &Path, problems: &mut Problems) {
    node.scalars_mut(&mut |value, style, pos| match interpolate::interpolate(value, env) {
        Ok(v) => *value = v,
        Err(errors) => {
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
    });
}

fn read_sections(
    root: &Node,
    ctx: &FileCtx,
    set: &mut ManifestSet,
    prompt_origins: &mut HashMap<String, Origin>,
    problems: &mut Problems,
) {
    let file = ctx.file.as_path();
    let yaml::Kind::Map(sections) = &root.kind else {
        problems.push(
            Problem::at(file, root.pos, format!("expected a mapping of sections, found {}", root.describe()))
                .hint("a manifest has top-level keys such as `agents:`, `webhooks:`, `team:`"),
        );
        return;
    };
    for (key, value) in sections {
        let name = key.as_str().unwrap_or("");
        match name {
            "prompts" => read_prompts(value, ctx, set, prompt_origins, problems),
            "agents" => read_list(value, ctx, &mut set.agents, problems),
            "knowledge_base" => read_list(value, ctx, &mut set.knowledge_base, problems),
            "webhooks" => read_list(value, ctx, &mut set.webhooks, problems),
            "team" => read_list(value, ctx, &mut set.team, problems),
            "campaigns" => read_list(value, ctx, &mut set.campaigns, problems),
            "settings" if value.is_null() => {}
            "settings" => match Settings::deserialize(value) {
                Ok(s) => {
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
                problems.push(match closest(other, SECTIONS) {
                    Some(best) => p.hint(format!("did you mean `{best}`?")),
                    None => p.hint(format!("sections are {}", SECTIONS.join(", "))),
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
    let items = match &value.kind {
        yaml::Kind::Seq(items) => items,
        _ if value.is_null() => return,
        _ => {
            problems.push(
                Problem::at(file, value.pos, format!("expected a list of {}s, found {}", T::LABEL, value.describe()))
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
    if !real.is_file() {
        problems.push(at(format!("`{rel}` is not a file")));
        return None;
    }
    let mut inner = Problems::default();
    let text = read_text(&real, MAX_TEXT_BYTES, "text file", &mut inner);
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

fn resolve_entries<T: Entry + TextFields>(
    entries: &mut [T],
    prompts: &IndexMap<String, Text>,
    problems: &mut Problems,
) {
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

/// The long-text fields of a kind, for `{file:}` and `{prompt:}` resolution.
pub trait TextFields {
    fn texts_mut(&mut self) -> Vec<(&'static str, &mut Text)>;
}

impl TextFields for AgentSpec {
    fn texts_mut(&mut self) -> Vec<(&'static str, &mut Text)> {
        let mut v = Vec::new();
        if let Some(t) = &mut self.system_prompt {
            v.push(("system_prompt", t));
        }
        if let Some(t) = &mut self.instruction_prompt {
            v.push(("instruction_prompt", t));
        }
        if let Some(t) = &mut self.personality_prompt {
            v.push(("personality_prompt", t));
        }
        v
    }
}

impl TextFields for KnowledgeEntrySpec {
    fn texts_mut(&mut self) -> Vec<(&'static str, &mut Text)> {
        let mut v = Vec::new();
        if let Some(t) = &mut self.description {
            v.push(("description", t));
        }
        if let Some(t) = &mut self.business_description {
            v.push(("business_description", t));
        }
        if let Some(t) = &mut self.content {
            v.push(("content", t));
        }
        v
    }
}

impl TextFields for CampaignSpec {
    fn texts_mut(&mut self) -> Vec<(&'static str, &mut Text)> {
        self.message.as_mut().map(|t| ("message", t)).into_iter().collect()
    }
}

impl TextFields for WebhookSpec {
    fn texts_mut(&mut self) -> Vec<(&'static str, &mut Text)> {
        Vec::new()
    }
}

impl TextFields for TeamMemberSpec {
    fn texts_mut(&mut self) -> Vec<(&'static str, &mut Text)> {
        Vec::new()
    }
}

/// Per-entry checks, then natural keys unique per kind (unless every duplicate is pinned) and ids unique.
fn check_kind<T: Entry>(entries: &[T], c: &mut Checks) {
    for e in entries {
        e.check(c);
    }
    let mut by_key: HashMap<String, &T> = HashMap::new();
    let mut by_id: HashMap<u64, &T> = HashMap::new();
    for e in entries {
        let o = e.origin();
        if let Some(id) = e.id() {
            if let Some(first) = by_id.insert(id, e) {
                c.push(
                    o.problem(
                        "id",
                        format!("{} id {id} is pinned twice (first at {})", T::LABEL, first.origin().short()),
                    )
                    .hint("an id names one live object; pin it once"),
                );
            }
        }
        let key = e.natural_key();
        if let Some(first) = by_key.insert(key.clone(), e) {
            if e.id().is_none() || first.id().is_none() {
                c.push(
                    o.problem(
                        T::KEY_FIELD,
                        format!(
                            "a second {} with {} `{key}` (first at {})",
                            T::LABEL,
                            T::KEY_FIELD,
                            first.origin().short()
                        ),
                    )
                    .hint(format!(
                        "{}s are matched by {}: rename one, or pin each to a live object with `id:`",
                        T::LABEL,
                        T::KEY_FIELD
                    )),
                );
            }
        }
    }
}

fn check_default_agent(agents: &[AgentSpec], c: &mut Checks) {
    let defaults: Vec<&AgentSpec> =
        agents.iter().filter(|a| a.is_default == Some(true) && a.ensure == Ensure::Present).collect();
    for extra in defaults.iter().skip(1) {
        c.push(
            extra
                .origin
                .problem(
                    "is_default",
                    format!(
                        "agent `{}` is a second default agent (first: `{}` at {})",
                        extra.name,
                        defaults[0].name,
                        defaults[0].origin.short()
                    ),
                )
                .hint("exactly one agent can be the default; keep `is_default: true` on one"),
        );
    }
}
