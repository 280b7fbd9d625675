//! `export`: the live account written as manifests, so a team adopts skyform with one command and
//! `plan` right after shows no changes.
//!
//! One YAML file per kind; long texts in `.md` files; a prompt used by several agents written once under
//! `prompts:`; channel, list and segment ids written as names; duplicate names pinned with `id:`; nothing the
//! API never returns (passwords, secrets) invented. Output is sorted and stable: exporting twice gives the
//! same files.

mod yaml_out;

use crate::api::{ApiError, ReadClient};
use crate::resources::agent::{Agents, LiveAgent};
use crate::resources::campaign::{Campaigns, LiveCampaign};
use crate::resources::knowledge::{KnowledgeBase, LiveKnowledgeEntry};
use crate::resources::lookup::{Channel, ContactList};
use crate::resources::team::{LiveTeamMember, Team};
use crate::resources::webhook::{LiveWebhook, Webhooks};
use crate::resources::Kind;
use crate::{Error, ErrorKind};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use yaml_out::{number, scalar, slug};

/// Texts longer than this, or with more than two lines, go to `.md` files.
const INLINE_MAX: usize = 160;
const SCHEMA_FILE: &str = "manifest.schema.json";

#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub out: PathBuf,
    /// Only these kinds (empty: all).
    pub kinds: Vec<Kind>,
    /// Write into a folder that is not empty.
    pub force: bool,
}

/// What was written, and what could not be expressed.
#[derive(Debug, Default)]
pub struct ExportReport {
    pub files: Vec<PathBuf>,
    pub counts: BTreeMap<&'static str, usize>,
    /// Objects left out, with why (document/voice knowledge entries, unexpressible campaigns).
    pub skipped: Vec<String>,
}

/// The files of an export, before they are written.
#[derive(Default)]
struct Files {
    map: BTreeMap<PathBuf, String>,
}

impl Files {
    /// Puts `text` in a new file under `dir`, named from `name`, unique; returns its relative path.
    fn text(&mut self, dir: &str, name: &str, text: &str) -> String {
        let mut rel = format!("{dir}/{name}.md");
        let mut n = 2;
        while self.map.contains_key(Path::new(&rel)) {
            rel = format!("{dir}/{name}-{n}.md");
            n += 1;
        }
        let mut body = text.replace("\r\n", "\n");
        if !body.ends_with('\n') {
            body.push('\n');
        }
        self.map.insert(PathBuf::from(&rel), body);
        rel
    }
}

fn is_long(s: &str) -> bool {
    s.lines().count() > 2 || s.chars().count() > INLINE_MAX
}

/// A long-text value: inline when short, else `{ file: ... }`.
fn text_value(files: &mut Files, dir: &str, name: &str, s: &str) -> String {
    if is_long(s) || s.contains('\n') && s.trim_end().contains('\n') {
        format!("{{ file: {} }}", scalar(&files.text(dir, name, s)))
    } else {
        scalar(s.trim_end())
    }
}

/// Names that more than one live object has: those entries are pinned by id.
fn duplicates<'a>(keys: impl Iterator<Item = &'a str>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for k in keys {
        *counts.entry(k.to_string()).or_insert(0) += 1;
    }
    counts.retain(|_, n| *n > 1);
    counts
}

fn header(out: &mut String, lines: &[&str]) {
    let _ = writeln!(out, "# yaml-language-server: $schema=./{SCHEMA_FILE}");
    for l in lines {
        let _ = writeln!(out, "# {l}");
    }
}

fn pin(out: &mut String, id: u64, key: &str, kind: &str, dups: &HashMap<String, usize>) {
    if let Some(n) = dups.get(key) {
        let _ = writeln!(out, "  # {n} live {kind}s share this name: each is pinned to its own id");
        let _ = writeln!(out, "  - id: {id}");
    } else {
        out.push_str("  -");
    }
}

/// `  - id: 3\n    name: X` or `  - name: X`: the first key after the dash.
fn first(out: &mut String, pinned: bool, line: &str) {
    if pinned {
        let _ = writeln!(out, "    {line}");
    } else {
        let _ = writeln!(out, " {line}");
    }
}

fn agents(list: &mut [LiveAgent], files: &mut Files) -> String {
    list.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
    // Prompt texts used by more than one agent become shared prompts.
    let mut uses: BTreeMap<String, usize> = BTreeMap::new();
    for a in list.iter() {
        for t in
            [Some(&a.system_prompt), a.instruction_prompt.as_ref(), a.personality_prompt.as_ref()].into_iter().flatten()
        {
            if !t.trim().is_empty() {
                *uses.entry(t.trim_end().to_string()).or_insert(0) += 1;
            }
        }
    }
    let mut shared: BTreeMap<String, String> = BTreeMap::new(); // text → prompt name
    let mut prompts = String::new();
    for (i, (text, _)) in uses.iter().filter(|(_, n)| **n > 1).enumerate() {
        let name = format!("shared-{}", i + 1);
        let _ = writeln!(prompts, "  {name}: {}", text_value(files, "prompts", &name, text));
        shared.insert(text.clone(), name);
    }
    let mut out = String::new();
    header(&mut out, &["AI agents, exported from the live account."]);
    if !prompts.is_empty() {
        let _ = writeln!(out, "prompts:\n{prompts}");
    }
    out.push_str("agents:\n");
    if list.is_empty() {
        out.truncate(out.len() - 1);
        out.push_str(" []\n");
    }
    let dups = duplicates(list.iter().map(|a| a.name.as_str()));
    for a in list.iter() {
        let pinned = dups.contains_key(&a.name);
        pin(&mut out, a.id, &a.name, "agent", &dups);
        first(&mut out, pinned, &format!("name: {}", scalar(&a.name)));
        if a.is_default {
            let _ = writeln!(out, "    is_default: true");
        }
        let base = slug(&a.name, &format!("agent-{}", a.id));
        for (field, text) in [
            ("system_prompt", Some(&a.system_prompt)),
            ("instruction_prompt", a.instruction_prompt.as_ref()),
            ("personality_prompt", a.personality_prompt.as_ref()),
        ] {
            let Some(t) = text.filter(|t| !t.trim().is_empty()) else {
                if field == "system_prompt" {
                    let _ = writeln!(out, "    system_prompt: \"\"");
                }
                continue;
            };
            let value = match shared.get(t.trim_end()) {
                Some(name) => format!("{{ prompt: {name} }}"),
                None => text_value(files, "prompts", &format!("{base}-{}", field.trim_end_matches("_prompt")), t),
            };
            let _ = writeln!(out, "    {field}: {value}");
        }
        if !a.response_guidelines.is_empty() {
            out.push_str("    response_guidelines:\n");
            for (k, v) in &a.response_guidelines {
                let _ = writeln!(out, "      {}: {}", scalar(k), scalar(v));
            }
        }
        if !a.is_active {
            out.push_str("    is_active: false\n");
        }
    }
    out
}

fn knowledge(list: &mut [LiveKnowledgeEntry], files: &mut Files, skipped: &mut Vec<String>) -> String {
    list.sort_by(|a, b| (&a.title, a.id).cmp(&(&b.title, b.id)));
    let mut out = String::new();
    let mut comments = String::new();
    let (kept, left): (Vec<_>, Vec<_>) =
        list.iter().partition(|e| matches!(e.kind.as_str(), "text" | "website" | "product_catalog"));
    for e in &left {
        let why = format!(
            "knowledge entry \"{}\" (id {}, type {}) is not exported: it is created by file upload, which skyform does not manage; it stays in the account, unmanaged",
            e.title, e.id, e.kind
        );
        let _ = writeln!(comments, "# {why}");
        skipped.push(why);
    }
    header(&mut out, &["Knowledge base entries, exported from the live account."]);
    out.push_str(&comments);
    out.push_str("knowledge_base:");
    out.push_str(if kept.is_empty() { " []\n" } else { "\n" });
    let dups = duplicates(kept.iter().map(|e| e.title.as_str()));
    for e in kept {
        let pinned = dups.contains_key(&e.title);
        pin(&mut out, e.id, &e.title, "knowledge entry", &dups);
        first(&mut out, pinned, &format!("title: {}", scalar(&e.title)));
        let _ = writeln!(out, "    type: {}", e.kind);
        let base = slug(&e.title, &format!("entry-{}", e.id));
        for (field, v) in [("description", &e.description), ("business_description", &e.business_description)] {
            if let Some(t) = v.as_ref().filter(|t| !t.trim().is_empty()) {
                let _ = writeln!(out, "    {field}: {}", text_value(files, "kb", &format!("{base}-{field}"), t));
            }
        }
        match e.kind.as_str() {
            "text" => {
                let body = e.content.as_deref().unwrap_or("");
                let _ = writeln!(out, "    content: {{ file: {} }}", scalar(&files.text("kb", &base, body)));
            }
            "website" => {
                let _ = writeln!(out, "    url: {}", scalar(e.url.as_deref().unwrap_or("")));
            }
            _ => {
                let products = e.products.as_deref().unwrap_or_default();
                if products.is_empty() {
                    out.push_str("    products: []\n");
                } else {
                    out.push_str("    products:\n");
                }
                for p in products {
                    let _ = writeln!(out, "      - name: {}", scalar(&p.name));
                    if let Some(price) = p.price {
                        let _ = writeln!(out, "        price: {}", number(price));
                    }
                    for (k, v) in [("description", &p.description), ("sku", &p.sku)] {
                        if let Some(v) = v.as_ref().filter(|v| !v.trim().is_empty()) {
                            let _ = writeln!(out, "        {k}: {}", scalar(v));
                        }
                    }
                }
            }
        }
    }
    out
}

fn webhooks(list: &mut [LiveWebhook]) -> String {
    list.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
    let mut out = String::new();
    header(
        &mut out,
        &[
            "Webhooks, exported from the live account.",
            "Signing secrets are not exported: the API shows a secret only when it is created or rotated.",
        ],
    );
    out.push_str("webhooks:");
    out.push_str(if list.is_empty() { " []\n" } else { "\n" });
    let dups = duplicates(list.iter().map(|w| w.name.as_str()));
    for w in list.iter() {
        let pinned = dups.contains_key(&w.name);
        pin(&mut out, w.id, &w.name, "webhook", &dups);
        first(&mut out, pinned, &format!("name: {}", scalar(&w.name)));
        let _ = writeln!(out, "    url: {}", scalar(&w.url));
        let mut events = w.events.clone();
        events.sort();
        events.dedup();
        let _ = writeln!(out, "    events: [{}]", events.iter().map(|e| scalar(e)).collect::<Vec<_>>().join(", "));
        if !w.is_active {
            out.push_str("    is_active: false\n");
        }
    }
    out
}

fn team(list: &mut [LiveTeamMember]) -> String {
    list.sort_by_key(|m| (m.email.to_lowercase(), m.id));
    let mut out = String::new();
    header(
        &mut out,
        &[
            "Team members, exported from the live account.",
            "No passwords: a password is only needed to create a member (add `password: ${VAR}` to such an entry).",
        ],
    );
    out.push_str("team:");
    out.push_str(if list.is_empty() { " []\n" } else { "\n" });
    let lower: Vec<String> = list.iter().map(|m| m.email.to_lowercase()).collect();
    let dups = duplicates(lower.iter().map(String::as_str));
    for m in list.iter() {
        let pinned = dups.contains_key(&m.email.to_lowercase());
        pin(&mut out, m.id, &m.email.to_lowercase(), "team member", &dups);
        first(&mut out, pinned, &format!("email: {}", scalar(&m.email)));
        let _ = writeln!(out, "    name: {}", scalar(&m.name));
        let _ = writeln!(out, "    role: {}", scalar(&m.role));
        if m.status.as_deref().is_some_and(|s| s != "active") {
            let _ = writeln!(out, "    status: {}", scalar(m.status.as_deref().unwrap_or("")));
        }
    }
    out
}

/// A name that resolves back to exactly this id, if there is one.
fn unique_name(id: u64, lists: &[ContactList]) -> Option<&str> {
    let l = lists.iter().find(|l| l.id == id)?;
    (lists.iter().filter(|o| o.name.trim() == l.name.trim()).count() == 1).then_some(l.name.as_str())
}

fn channel_ref(id: Option<u64>, channels: &[Channel]) -> Option<String> {
    let id = id?;
    let c = channels.iter().find(|c| c.id == id)?;
    let by_name = channels.iter().filter(|o| o.username.eq_ignore_ascii_case(&c.username)).count() == 1;
    let by_type = channels.iter().filter(|o| o.kind.eq_ignore_ascii_case(&c.kind)).count() == 1;
    let name_is_type = channels.iter().any(|o| o.kind.eq_ignore_ascii_case(&c.username));
    Some(if by_type {
        format!("channel: {}", scalar(&c.kind))
    } else if by_name && !name_is_type {
        format!("channel: {}", scalar(&c.username))
    } else {
        format!("channel_id: {id}")
    })
}

fn campaigns(
    list: &mut [LiveCampaign],
    files: &mut Files,
    channels: &[Channel],
    lists: &[ContactList],
    segments: &[ContactList],
    skipped: &mut Vec<String>,
) -> String {
    list.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
    let mut out = String::new();
    let mut entries = String::new();
    let mut comments = String::new();
    let dups = duplicates(list.iter().map(|c| c.name.as_str()));
    let mut kept = 0;
    for c in list.iter() {
        let ids = |v: &Option<Vec<u64>>| v.clone().unwrap_or_default();
        let list_names: Option<Vec<&str>> = ids(&c.list_ids).iter().map(|id| unique_name(*id, lists)).collect();
        let segment_names: Option<Vec<&str>> =
            ids(&c.segment_ids).iter().map(|id| unique_name(*id, segments)).collect();
        let channel = channel_ref(c.channel_id.or_else(|| c.client_setting.as_ref().and_then(|s| s.id)), channels);
        let (Some(list_names), Some(segment_names), Some(channel)) = (list_names, segment_names, channel) else {
            let why = format!(
                "campaign \"{}\" (id {}) is not exported: its channel, lists or segments have no name that identifies them",
                c.name, c.id
            );
            let _ = writeln!(comments, "# {why}");
            skipped.push(why);
            continue;
        };
        kept += 1;
        let pinned = dups.contains_key(&c.name);
        pin(&mut entries, c.id, &c.name, "campaign", &dups);
        first(&mut entries, pinned, &format!("name: {}", scalar(&c.name)));
        let _ = writeln!(entries, "    {channel}");
        entries.push_str("    audience:\n");
        let join = |v: &[&str]| v.iter().map(|n| scalar(n)).collect::<Vec<_>>().join(", ");
        if !list_names.is_empty() {
            let _ = writeln!(entries, "      lists: [{}]", join(&list_names));
        }
        if !segment_names.is_empty() {
            let _ = writeln!(entries, "      segments: [{}]", join(&segment_names));
        }
        let mut contacts = ids(&c.contact_ids);
        contacts.sort();
        contacts.dedup();
        if !contacts.is_empty() {
            let _ = writeln!(
                entries,
                "      contacts: [{}]",
                contacts.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
            );
        }
        let base = slug(&c.name, &format!("campaign-{}", c.id));
        let message = c.message.as_deref().unwrap_or("");
        let _ = writeln!(entries, "    message: {{ file: {} }}", scalar(&files.text("campaigns", &base, message)));
        // `completed` satisfies `running`.
        let state = match c.status.as_str() {
            "completed" => "running",
            s => s,
        };
        let _ = writeln!(entries, "    state: {state}");
        if c.is_new_number {
            entries.push_str("    is_new_number: true\n");
        }
    }
    header(&mut out, &["Campaigns, exported from the live account. Their fields can change only while `draft`."]);
    out.push_str(&comments);
    out.push_str("campaigns:");
    out.push_str(if kept == 0 { " []\n" } else { "\n" });
    out.push_str(&entries);
    out
}

/// Reads the account (GETs only) and builds the files, without writing them.
async fn build(client: &ReadClient, kinds: &[Kind], report: &mut ExportReport) -> Result<Files, ApiError> {
    let wants = |k: Kind| kinds.is_empty() || kinds.contains(&k);
    let mut files = Files::default();
    let mut yaml: BTreeMap<&str, String> = BTreeMap::new();
    if wants(Kind::Agents) {
        let mut list = client.list::<Agents>().await?;
        report.counts.insert("agents", list.len());
        yaml.insert("agents.yaml", agents(&mut list, &mut files));
    }
    if wants(Kind::KnowledgeBase) {
        let mut list = details::<KnowledgeBase>(client, client.list::<KnowledgeBase>().await?, |e| {
            matches!(e.kind.as_str(), "text" | "website" | "product_catalog")
        })
        .await?;
        report
            .counts
            .insert("knowledge entries", list.iter().filter(|e| e.kind != "document" && e.kind != "voice").count());
        yaml.insert("knowledge_base.yaml", knowledge(&mut list, &mut files, &mut report.skipped));
    }
    if wants(Kind::Webhooks) {
        let mut list = client.list::<Webhooks>().await?;
        report.counts.insert("webhooks", list.len());
        yaml.insert("webhooks.yaml", webhooks(&mut list));
    }
    if wants(Kind::Team) {
        let mut list = client.list::<Team>().await?;
        report.counts.insert("team members", list.len());
        yaml.insert("team.yaml", team(&mut list));
    }
    if wants(Kind::Campaigns) {
        let mut list = details::<Campaigns>(client, client.list::<Campaigns>().await?, |_| true).await?;
        let (channels, lists, segments) = if list.is_empty() {
            Default::default()
        } else {
            (client.channels().await?, client.contact_lists().await?, client.segments().await?)
        };
        let before = report.skipped.len();
        yaml.insert(
            "campaigns.yaml",
            campaigns(&mut list, &mut files, &channels, &lists, &segments, &mut report.skipped),
        );
        report.counts.insert("campaigns", list.len() - (report.skipped.len() - before));
    }
    for (name, text) in yaml {
        files.map.insert(PathBuf::from(name), text);
    }
    files.map.insert(PathBuf::from(SCHEMA_FILE), crate::manifest::schema::manifest_schema());
    Ok(files)
}

/// The single GET of every object that needs one for its body, concurrently.
async fn details<R: crate::resources::Resource>(
    client: &ReadClient,
    list: Vec<R::Live>,
    needs: impl Fn(&R::Live) -> bool,
) -> Result<Vec<R::Live>, ApiError> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut out = Vec::new();
    for (i, l) in list.into_iter().enumerate() {
        if needs(&l) {
            let (c, id) = (client.clone(), R::live_id(&l));
            tasks.spawn(async move { (i, c.get::<R>(id).await) });
        } else {
            out.push((i, l));
        }
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, got) = joined.expect("a detail read does not panic");
        out.push((i, got?));
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, l)| l).collect())
}

/// Exports the account into `opts.out`.
pub async fn export(client: &ReadClient, opts: &ExportOptions) -> Result<ExportReport, Error> {
    let out = &opts.out;
    if out.exists() {
        if !out.is_dir() {
            return Err(Error::new(ErrorKind::Refused, format!("{} exists and is not a folder", out.display())));
        }
        let non_empty = std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(false);
        if non_empty && !opts.force {
            return Err(Error::new(ErrorKind::Refused, format!("{} is not empty", out.display()))
                .with_hint("export into a new folder, or pass --force to overwrite the files export writes"));
        }
    }
    let mut report = ExportReport::default();
    let files = build(client, &opts.kinds, &mut report).await?;
    for (rel, text) in &files.map {
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::new(ErrorKind::Io, format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot write {}: {e}", path.display())))?;
        report.files.push(path);
    }
    Ok(report)
}
