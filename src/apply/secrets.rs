//! Where captured secrets go: a sink a pipeline can keep. The API shows a webhook's signing secret only in
//! the answer of its create or rotation ([doc] §3 Webhooks), so each one is delivered at once, durably,
//! before the apply goes on.
//!
//! - [`SecretsFile`] (`--secrets-out FILE`): a JSON file, mode 0600, `{"webhooks": {NAME: {"id", "secret",
//!   "captured_at"}}}`. Each secret is appended, under an exclusive lock, to `FILE.journal` and flushed to
//!   disk: O(1) and durable per secret, and safe with several applies sharing the file. The journal is
//!   folded into the file (merged by name, under the lock, written to a unique temporary file and renamed)
//!   when the apply ends, and when the next one starts if a run died before it could.
//! - [`SecretsCommand`] (`--secrets-cmd CMD`): runs `sh -c CMD` per secret with the secret on stdin and
//!   the object's name and id in `SKYFORM_WEBHOOK_NAME` / `SKYFORM_WEBHOOK_ID` (never on the command line,
//!   where `ps` and CI logs would show it). A failing command fails the change.

use crate::resources::Secret;
use crate::{Error, ErrorKind};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where secrets are delivered.
#[derive(Debug)]
pub enum SecretSink {
    File(SecretsFile, GroupCommit),
    Command(SecretsCommand),
}

/// Journal records waiting to be written, each with the channel its deliverer waits on.
type Pending = Vec<(String, tokio::sync::oneshot::Sender<Result<(), String>>)>;

/// Group commit for the journal: secrets captured at the same time (the apply runs several changes at
/// once) are appended together and flushed with one `fdatasync`, and each deliverer returns only once its
/// own record is on disk. Durable per secret, at a fraction of the flushes.
#[derive(Debug, Default)]
pub struct GroupCommit {
    pending: std::sync::Mutex<Pending>,
    committer: tokio::sync::Mutex<()>,
}

impl SecretSink {
    /// A sink writing to the secrets file `f`.
    pub fn file(f: SecretsFile) -> Self {
        SecretSink::File(f, GroupCommit::default())
    }
}

impl SecretSink {
    /// Delivers one secret of the object `name` (kind `kind`, singular, e.g. `webhook`); the error says why
    /// not (never the secret).
    pub async fn deliver(&self, kind: &str, name: &str, id: u64, secret: &Secret) -> Result<(), String> {
        match self {
            SecretSink::File(f, group) => {
                let (tx, mut rx) = tokio::sync::oneshot::channel();
                group.pending.lock().unwrap_or_else(|p| p.into_inner()).push((SecretsFile::line(name, id, secret), tx));
                // Whoever holds the committer writes everything pending, ours included if it is still
                // there; a deliverer whose record a previous commit took finds its answer waiting.
                let _turn = group.committer.lock().await;
                if let Ok(done) = rx.try_recv() {
                    return done;
                }
                let batch = std::mem::take(&mut *group.pending.lock().unwrap_or_else(|p| p.into_inner()));
                let f = f.clone();
                let lines: Vec<String> = batch.iter().map(|(l, _)| l.clone()).collect();
                let written = tokio::task::spawn_blocking(move || f.append(&lines))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.message));
                for (_, tx) in batch {
                    let _ = tx.send(written.clone());
                }
                rx.await.unwrap_or_else(|_| Err("the secret was not recorded".into()))
            }
            SecretSink::Command(c) => c.run(kind, name, id, secret).await,
        }
    }

    /// Folds what this run recorded into the secrets file (nothing to do for a command).
    pub async fn finish(&self) -> Result<(), Error> {
        match self {
            SecretSink::File(f, _) => {
                let f = f.clone();
                tokio::task::spawn_blocking(move || f.compact())
                    .await
                    .map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?
            }
            SecretSink::Command(_) => Ok(()),
        }
    }
}

/// The secrets file (see the module's documentation).
#[derive(Debug, Clone)]
pub struct SecretsFile {
    path: PathBuf,
}

impl SecretsFile {
    /// Checks the file (an unreadable or foreign file is an error before any request) and folds a journal a
    /// dead run left.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let f = SecretsFile { path: path.to_path_buf() };
        f.compact()?;
        Ok(f)
    }

    fn journal(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".journal");
        p.into()
    }

    fn lock_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".lock");
        p.into()
    }

    fn io(&self, what: &str, e: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, format!("cannot {what} the secrets file {}: {e}", self.path.display()))
    }

    /// An exclusive lock over the file and its journal, held while the guard lives.
    fn lock(&self) -> Result<std::fs::File, Error> {
        let f = private_options(false).open(self.lock_path()).map_err(|e| self.io("lock", e))?;
        f.lock().map_err(|e| self.io("lock", e))?;
        Ok(f)
    }

    /// One journal record (a JSON line, holding the secret: written only to the 0600 journal).
    fn line(webhook: &str, id: u64, secret: &Secret) -> String {
        let now =
            time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        json!({"webhook": webhook, "id": id, "secret": secret.expose(), "captured_at": now}).to_string()
    }

    /// Appends one secret to the journal and flushes it to disk.
    pub fn record(&self, webhook: &str, id: u64, secret: &Secret) -> Result<(), Error> {
        self.append(&[Self::line(webhook, id, secret)])
    }

    /// Appends records to the journal under the lock, then flushes them to disk with one `fdatasync` (the
    /// data, not the metadata: appended records are durable once their bytes are).
    fn append(&self, lines: &[String]) -> Result<(), Error> {
        let _guard = self.lock()?;
        let mut f = private_options(true).open(self.journal()).map_err(|e| self.io("write", e))?;
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        f.write_all(text.as_bytes()).map_err(|e| self.io("write", e))?;
        f.sync_data().map_err(|e| self.io("write", e))
    }

    /// Merges the journal into the file, under the lock; the file is replaced atomically.
    pub fn compact(&self) -> Result<(), Error> {
        let _guard = self.lock()?;
        let mut webhooks = self.read_file()?;
        let journal = match std::fs::read_to_string(self.journal()) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.io("read", e)),
        };
        for line in journal.lines().filter(|l| !l.trim().is_empty()) {
            // A line cut short by a crash is the only kind of damage an append can do: skip it.
            let Ok(Value::Object(mut rec)) = serde_json::from_str::<Value>(line) else { continue };
            let Some(Value::String(name)) = rec.remove("webhook") else { continue };
            webhooks.insert(name, Value::Object(rec));
        }
        let text = serde_json::to_string_pretty(&json!({ "webhooks": webhooks })).expect("JSON serialises");
        let tmp = self.path.with_extension(format!("tmp.{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let _ = std::fs::remove_file(&tmp);
            let mut f = private_options(false).create_new(true).open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| self.io("write", e))?;
        std::fs::remove_file(self.journal()).map_err(|e| self.io("write", e))
    }

    fn read_file(&self) -> Result<Map<String, Value>, Error> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(e) => return Err(self.io("read", e)),
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            Error::new(ErrorKind::Input, format!("{} is not a skyform secrets file: {e}", self.path.display()))
                .with_hint("point --secrets-out at a new file, or at one skyform wrote")
        })?;
        Ok(v.get("webhooks").and_then(Value::as_object).cloned().unwrap_or_default())
    }
}

/// Files that hold secrets: created 0600, appended to or written whole.
fn private_options(append: bool) -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.create(true);
    if append {
        o.append(true);
    } else {
        o.write(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// `--secrets-cmd`: a command that receives each secret on stdin.
#[derive(Debug, Clone)]
pub struct SecretsCommand {
    pub command: String,
    /// How long one delivery may take.
    pub timeout: Duration,
    /// In an accounts run: the account's name, in `SKYFORM_ACCOUNT`.
    pub account: Option<String>,
}

impl SecretsCommand {
    async fn run(&self, kind: &str, name: &str, id: u64, secret: &Secret) -> Result<(), String> {
        use tokio::io::AsyncWriteExt;
        let var = kind.to_uppercase().replace(' ', "_");
        let mut command = tokio::process::Command::new("sh");
        if let Some(account) = &self.account {
            command.env("SKYFORM_ACCOUNT", account);
        }
        let mut child = command
            .arg("-c")
            .arg(&self.command)
            .env(format!("SKYFORM_{var}_NAME"), name)
            .env(format!("SKYFORM_{var}_ID"), id.to_string())
            .env("SKYFORM_KIND", kind)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("--secrets-cmd could not start: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(secret.expose().as_bytes()).await.map_err(|e| format!("--secrets-cmd stdin: {e}"))?;
        }
        let out = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| format!("--secrets-cmd did not finish within {} s", self.timeout.as_secs()))?
            .map_err(|e| format!("--secrets-cmd: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let said = crate::redact::untrusted(String::from_utf8_lossy(&out.stderr).trim(), 300);
        Err(format!("--secrets-cmd failed ({}): {said}", out.status))
    }
}
