//! A cache of detail bodies (knowledge contents, campaign messages): the fields list items lack, which a
//! plan would otherwise read with one GET per object. A warm plan reads list pages only.
//!
//! Why it cannot hide a change: a body is used only when the list item read *now* carries the same
//! validator as when the body was stored (`Resource::validator`: a knowledge entry's `updated_at`, which
//! every edit moves; for a campaign, that it left `draft`, after which the API refuses every edit [doc]).
//! A kind without a validator is never cached. A body is stored only from an answer that carries its own
//! validator (a single GET, a write's answer), so what is stored is what that validator describes.
//!
//! Layout: `<root>/<fingerprint of API URL and key>/<kind>.json`, one file per kind holding
//! `{"<id>": {"validator": "...", "body": {...}}}`; folder 0700, files 0600. A kind's file is read once, on
//! its first use, and written once, by [`DetailCache::flush`] at the end of the run (merged with what
//! another run may have written meanwhile, to a temporary name, then renamed): a 10,000-object apply writes
//! a few files, not thousands. All file access is async (`tokio::fs`), off the runtime's threads; a cache
//! that cannot be read or written is skipped, which only costs GETs.

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokio::sync::Mutex;

/// One kind's entries: id → (validator, body).
#[derive(Default)]
struct KindEntries {
    entries: HashMap<u64, (String, Value)>,
    /// Stored since the file was read: the file needs writing.
    dirty: bool,
}

/// The detail-body cache of one account (API URL and key).
pub struct DetailCache {
    dir: PathBuf,
    /// `--refresh`: store what is read, but never use what was stored.
    read: bool,
    kinds: Mutex<HashMap<String, KindEntries>>,
}

impl std::fmt::Debug for DetailCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetailCache").field("dir", &self.dir).field("read", &self.read).finish()
    }
}

fn kind_name(path: &str) -> String {
    path.trim_start_matches('/').replace('/', "-")
}

/// A kind file's entries; empty when it is missing or unreadable.
async fn read_file(file: &Path) -> HashMap<u64, (String, Value)> {
    let Ok(bytes) = tokio::fs::read(file).await else { return HashMap::new() };
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&bytes) else { return HashMap::new() };
    map.into_iter()
        .filter_map(|(id, mut v)| {
            let validator = v.get("validator")?.as_str()?.to_string();
            Some((id.parse().ok()?, (validator, v.get_mut("body")?.take())))
        })
        .collect()
}

impl DetailCache {
    /// The cache of the account behind `api_url` and this key, under `root`. The folder is named by a
    /// fingerprint of both, never by the key.
    pub fn new(root: &Path, api_url: &str, key: &super::ApiKey, read: bool) -> Self {
        DetailCache { dir: root.join(key.fingerprint(api_url)), read, kinds: Mutex::new(HashMap::new()) }
    }

    fn file(&self, kind: &str) -> PathBuf {
        self.dir.join(format!("{kind}.json"))
    }

    async fn with_kind<T>(&self, path: &str, f: impl FnOnce(&mut KindEntries) -> T) -> T {
        let kind = kind_name(path);
        let mut kinds = self.kinds.lock().await;
        if !kinds.contains_key(&kind) {
            let entries = if self.read { read_file(&self.file(&kind)).await } else { HashMap::new() };
            kinds.insert(kind.clone(), KindEntries { entries, dirty: false });
        }
        f(kinds.get_mut(&kind).expect("inserted above"))
    }

    /// The body stored for object `id` of the kind at `path`, if its validator is `validator`.
    pub async fn get(&self, path: &str, id: u64, validator: &str) -> Option<Value> {
        if !self.read {
            return None;
        }
        self.with_kind(path, |k| k.entries.get(&id).filter(|(v, _)| v == validator).map(|(_, body)| body.clone())).await
    }

    /// Stores `body` as object `id`'s, under `validator` (written by [`DetailCache::flush`]).
    pub async fn put(&self, path: &str, id: u64, validator: &str, body: &Value) {
        self.with_kind(path, |k| {
            k.entries.insert(id, (validator.to_string(), body.clone()));
            k.dirty = true;
        })
        .await
    }

    /// Writes every kind stored into since it was read, merged over what is on disk now (another run may
    /// have added entries). Best effort: a failure only costs GETs later.
    pub async fn flush(&self) {
        let mut kinds = self.kinds.lock().await;
        for (kind, k) in kinds.iter_mut().filter(|(_, k)| k.dirty) {
            if self.write(kind, &k.entries).await.is_ok() {
                k.dirty = false;
            }
        }
    }

    async fn write(&self, kind: &str, entries: &HashMap<u64, (String, Value)>) -> std::io::Result<()> {
        let mut builder = tokio::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        builder.mode(0o700);
        builder.create(&self.dir).await?;
        let file = self.file(kind);
        // What is on disk now, overlaid with this run's entries (borrowed, not copied: a large account's
        // bodies are megabytes).
        #[derive(serde::Serialize)]
        struct Entry<'a> {
            validator: &'a str,
            body: &'a Value,
        }
        let on_disk = read_file(&file).await;
        let mut merged: std::collections::BTreeMap<u64, Entry> =
            on_disk.iter().map(|(id, (v, body))| (*id, Entry { validator: v, body })).collect();
        merged.extend(entries.iter().map(|(id, (v, body))| (*id, Entry { validator: v, body })));
        let text = serde_json::to_string(&merged).unwrap_or_default();
        let tmp = self.dir.join(format!(".{kind}.{}.tmp", std::process::id()));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(0o600);
        let written = async {
            use tokio::io::AsyncWriteExt;
            let mut f = options.open(&tmp).await?;
            f.write_all(text.as_bytes()).await?;
            f.flush().await?;
            tokio::fs::rename(&tmp, &file).await
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        written
    }
}
