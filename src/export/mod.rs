//! `export`: the live account written as manifests, so a team adopts skyform with one command and `plan`
//! right after shows no changes.
//!
//! Each kind builds its manifest entry from a live object ([`Managed::from_live`]); what a kind cannot
//! express is left out with a warning naming it. The entries are serialized with serde_yaml (see
//! `yaml_out.rs` for the two things it does not do for us). One YAML file per kind; long texts in `.md`
//! files; a text several entries share written once under `prompts:`; duplicate names pinned with `id:`;
//! nothing the API never returns (passwords, secrets) invented. Output is sorted and stable: exporting twice
//! gives the same files.

mod yaml_out;

use crate::api::{ApiError, ReadClient};
use crate::resources::{Kind, LookupNeeds, Lookups, Managed, Resource, Text};
use crate::{Error, ErrorKind};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub use yaml_out::{quote_misread, to_yaml};

/// Texts longer than this (characters), or with a line break, go to `.md` files.
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
    /// Entries written per kind, in plan order.
    pub counts: Vec<(Kind, usize)>,
    /// Objects left out, each with why (upload-only knowledge entries, unexpressible campaigns, ...).
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
    s.trim_end().contains('\n') || s.chars().count() > INLINE_MAX
}

/// A short, file-safe name for a text: ASCII letters and digits joined by `-`, or `fallback`.
pub fn slug(s: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').chars().take(48).collect::<String>();
    if out.is_empty() {
        fallback.to_string()
    } else {
        out
    }
}

/// The lookups read so far; each is read at most once.
#[derive(Default)]
struct LookupCache {
    have: LookupNeeds,
    lookups: Lookups,
}

impl LookupCache {
    async fn ensure(&mut self, needs: LookupNeeds, client: &ReadClient) -> Result<&Lookups, ApiError> {
        if needs.channels && !self.have.channels {
            self.lookups.channels = client.channels().await?;
        }
        if needs.lists && !self.have.lists {
            self.lookups.lists = client.contact_lists().await?;
        }
        if needs.segments && !self.have.segments {
            self.lookups.segments = client.segments().await?;
        }
        if needs.events && !self.have.events {
            self.lookups.events = client.webhook_events().await?.into_iter().map(|e| e.name).collect();
        }
        self.have = self.have.union(needs);
        Ok(&self.lookups)
    }
}

/// Every object of a kind, with the single GET where the list lacks the body.
async fn read_all<R: Resource>(client: &ReadClient, detail: bool) -> Result<Vec<R::Live>, ApiError> {
    let list = client.list::<R>().await?;
    if !detail {
        return Ok(list);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, l) in list.iter().enumerate() {
        let (c, listed) = (client.clone(), l.clone());
        tasks.spawn(async move { (i, c.detail::<R>(&listed).await) });
    }
    let mut out: Vec<(usize, R::Live)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, got) = joined.expect("a detail read does not panic");
        match got {
            Ok(l) => out.push((i, l)),
            // Deleted between list and read: it is simply not there any more.
            Err(e) if e.status() == Some(404) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, l)| l).collect())
}

/// One kind's entries, sorted by key then id; duplicates pinned with `id:`; what cannot be expressed
/// reported in `skipped`. Returns the entries and the comment lines for the file's header.
async fn kind_entries<S: Managed>(
    client: &ReadClient,
    cache: &mut LookupCache,
    skipped: &mut Vec<String>,
) -> Result<(Vec<S>, Vec<String>), ApiError> {
    let mut live = read_all::<S::R>(client, S::NEEDS_DETAIL).await?;
    let lookups = cache.ensure(S::export_lookups(&live), client).await?;
    live.sort_by_key(|l| (S::R::match_key(&S::R::live_key(l)), S::R::live_id(l)));
    let mut counts: HashMap<String, usize> = HashMap::new();
    for l in &live {
        *counts.entry(S::R::match_key(&S::R::live_key(l))).or_default() += 1;
    }
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    let mut pinned: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in &live {
        match S::from_live(l, lookups) {
            Ok(mut e) => {
                if counts[&S::R::match_key(&S::R::live_key(l))] > 1 {
                    e.set_id(Some(S::R::live_id(l)));
                    pinned.entry(S::R::live_key(l)).or_default().push(S::R::live_id(l).to_string());
                }
                entries.push(e);
            }
            Err(why) => {
                notes.push(format!("not exported: {why}"));
                skipped.push(why);
            }
        }
    }
    for (key, ids) in pinned {
        notes.push(format!(
            "{} live {} share the {} `{key}`: each is pinned to its own id (ids {})",
            ids.len(),
            S::PLURAL,
            S::KEY_FIELD,
            ids.join(", ")
        ));
    }
    Ok((entries, notes))
}

/// Moves long texts into `.md` files and texts several entries share into `prompts:`.
fn place_texts<S: Managed>(kind: Kind, entries: &mut [S], files: &mut Files, prompts: &mut BTreeMap<String, String>) {
    let mut uses: HashMap<String, usize> = HashMap::new();
    for e in entries.iter_mut() {
        for (_, t) in e.texts_mut() {
            if let Text::Inline(s) = t {
                if !s.trim().is_empty() {
                    *uses.entry(s.trim_end().to_string()).or_default() += 1;
                }
            }
        }
    }
    let mut shared: Vec<&String> = uses.iter().filter(|(_, n)| **n > 1).map(|(t, _)| t).collect();
    shared.sort();
    let mut names: HashMap<String, String> = HashMap::new();
    for text in shared {
        let name = format!("shared-{}", prompts.len() + 1);
        prompts.insert(name.clone(), text.clone());
        names.insert(text.clone(), name);
    }
    for e in entries.iter_mut() {
        let base = slug(&e.natural_key(), &format!("{}-{}", kind.as_str(), e.id().unwrap_or_default()));
        let base = match e.id() {
            Some(id) => format!("{base}-{id}"),
            None => base,
        };
        for (field, t) in e.texts_mut() {
            let Text::Inline(s) = t else { continue };
            if let Some(name) = names.get(s.trim_end()) {
                *t = Text::Prompt { prompt: name.clone() };
            } else if is_long(s) {
                let file = files.text(kind.as_str(), &format!("{base}-{}", field.trim_end_matches("_prompt")), s);
                *t = Text::File { file };
            }
        }
    }
}

/// Reads the account (GETs only) and builds the files, without writing them.
async fn build(client: &ReadClient, kinds: &[Kind], report: &mut ExportReport) -> Result<Files, Error> {
    let mut files = Files::default();
    let mut cache = LookupCache::default();
    let mut prompts: BTreeMap<String, String> = BTreeMap::new();
    let mut docs: Vec<(Kind, serde_yaml::Value, Vec<String>)> = Vec::new();
    for &kind in Kind::ALL.iter().filter(|k| kinds.is_empty() || kinds.contains(k)) {
        let before = prompts.len();
        let (value, notes) = with_kind!(kind, S => {
            let (mut entries, notes) = kind_entries::<S>(client, &mut cache, &mut report.skipped).await?;
            place_texts(kind, &mut entries, &mut files, &mut prompts);
            report.counts.push((kind, entries.len()));
            let value = if <S as crate::resources::Shaped>::SINGLETON {
                // One mapping, as a manifest declares it.
                entries.first().map(serde_yaml::to_value).transpose()
            } else {
                serde_yaml::to_value(&entries).map(Some)
            };
            (value.map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?.unwrap_or_default(), notes)
        });
        // Shared texts are declared in the file of the first kind that uses them.
        let own: BTreeMap<String, String> = prompts.iter().skip(before).map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut doc = serde_yaml::Mapping::new();
        if !own.is_empty() {
            let mut map = serde_yaml::Mapping::new();
            for (name, text) in own {
                let value = if is_long(&text) {
                    let file = files.text("prompts", &name, &text);
                    serde_yaml::to_value(Text::File { file }).unwrap_or_default()
                } else {
                    serde_yaml::Value::String(text)
                };
                map.insert(name.into(), value);
            }
            doc.insert("prompts".into(), serde_yaml::Value::Mapping(map));
        }
        doc.insert(kind.as_str().into(), value);
        docs.push((kind, serde_yaml::Value::Mapping(doc), notes));
    }
    for (kind, doc, notes) in docs {
        let mut header = format!("# yaml-language-server: $schema=./{SCHEMA_FILE}\n");
        header.push_str(&format!("# {}, exported from the live account.\n", kind.title()));
        for line in export_notes(kind) {
            header.push_str(&format!("# {line}\n"));
        }
        // Notes quote live names: each stays one comment line, whatever it holds (a name with a line
        // break would otherwise write YAML of its own into the manifest).
        for n in notes {
            header.push_str(&format!("# {}\n", crate::redact::escape_controls(&n)));
        }
        files.map.insert(PathBuf::from(format!("{}.yaml", kind.as_str())), header + &to_yaml(&doc));
    }
    files.map.insert(PathBuf::from(SCHEMA_FILE), crate::manifest::schema::manifest_schema());
    Ok(files)
}

/// What a file of this kind never holds, and why.
fn export_notes(kind: Kind) -> Vec<String> {
    let mut notes = Vec::new();
    let secret_fields = with_kind!(kind, S => <S as Managed>::SECRET_FIELDS);
    if !secret_fields.is_empty() {
        notes.push(format!(
            "No {}: the API never returns them, and they are only needed to create (add `{}: ${{VAR}}` to such an entry).",
            secret_fields.join(", "),
            secret_fields[0]
        ));
    }
    if with_kind!(kind, S => <<S as Managed>::R as Resource>::SECRET_ACTION).is_some() {
        notes.push(
            "Signing secrets are not exported: the API shows a secret only when it is created or rotated.".into(),
        );
    }
    notes
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

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs() {
        assert_eq!(slug("Sales Assistant", "x"), "sales-assistant");
        assert_eq!(slug("مساعد", "agent-2"), "agent-2");
        assert_eq!(slug("Return Policy (2026)!", "x"), "return-policy-2026");
    }
}
