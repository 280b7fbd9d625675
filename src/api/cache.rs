//! A cache of detail bodies (knowledge contents, campaign messages): the fields list items lack, which a
//! plan would otherwise read with one GET per object. A warm plan reads list pages only.
//!
//! Why it cannot hide a change: a body is used only when the list item read *now* carries the same
//! validator as when the body was stored (`Resource::validator`: a knowledge entry's `updated_at`, which
//! every edit moves; for a campaign, that it left `draft`, after which the API refuses every edit [doc]).
//! A kind without a validator is never cached. A body is stored only from an answer that carries its own
//! validator (a single GET, a write's answer), so what is stored is what that validator describes.
//!
//! Layout: `<root>/<fingerprint of API URL and key>/<kind>/<id>.json`, folders 0700, files 0600, each
//! `{"validator": "...", "body": {...}}`, written to a temporary name and renamed. Every read and write is
//! async (`tokio::fs`), off the runtime's threads; a cache that cannot be read or written is skipped.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The detail-body cache of one account (API URL and key).
#[derive(Debug)]
pub struct DetailCache {
    dir: PathBuf,
    /// `--refresh`: store what is read, but never use what was stored.
    read: bool,
}

impl DetailCache {
    /// The cache of the account behind `api_url` and this key, under `root`. The folder is named by a
    /// fingerprint of both, never by the key.
    pub fn new(root: &Path, api_url: &str, key: &super::ApiKey, read: bool) -> Self {
        DetailCache { dir: root.join(key.fingerprint(api_url)), read }
    }

    fn file(&self, path: &str, id: u64) -> PathBuf {
        self.dir.join(path.trim_start_matches('/').replace('/', "-")).join(format!("{id}.json"))
    }

    /// The body stored for object `id` of the kind at `path`, if its validator is `validator`.
    pub async fn get(&self, path: &str, id: u64, validator: &str) -> Option<Value> {
        if !self.read {
            return None;
        }
        let bytes = tokio::fs::read(self.file(path, id)).await.ok()?;
        let mut v: Value = serde_json::from_slice(&bytes).ok()?;
        (v.get("validator")?.as_str()? == validator).then(|| v.get_mut("body").map(Value::take))?
    }

    /// Stores `body` as object `id`'s, under `validator`. Best effort: a failure only costs a GET later.
    pub async fn put(&self, path: &str, id: u64, validator: &str, body: &Value) {
        let file = self.file(path, id);
        let Some(dir) = file.parent() else { return };
        let mut builder = tokio::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        builder.mode(0o700);
        if builder.create(dir).await.is_err() {
            return;
        }
        let tmp = dir.join(format!(".{id}.{}.tmp", std::process::id()));
        let text = json!({"validator": validator, "body": body}).to_string();
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
    }
}
