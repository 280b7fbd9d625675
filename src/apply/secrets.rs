//! The secrets file (`--secrets-out`): webhook signing secrets captured when the API shows them (create and
//! rotation), merged by webhook name, written with mode 0600. Also records each webhook's `rotate_secret`
//! token, which is how a later plan knows whether the token changed.

use crate::resources::Secret;
use crate::{Error, ErrorKind};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

pub struct SecretsFile {
    path: PathBuf,
    webhooks: Map<String, Value>,
}

impl std::fmt::Debug for SecretsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretsFile({}, {} webhooks)", self.path.display(), self.webhooks.len())
    }
}

impl SecretsFile {
    /// Opens (or prepares to create) the file; an unreadable or foreign file is an error before any call.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let webhooks = if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::new(ErrorKind::Io, format!("cannot read the secrets file {}: {e}", path.display()))
            })?;
            let v: Value = serde_json::from_str(&text).map_err(|e| {
                Error::new(ErrorKind::Input, format!("{} is not a skyform secrets file: {e}", path.display()))
                    .with_hint("point --secrets-out at a new file, or at one skyform wrote")
            })?;
            v.get("webhooks").and_then(Value::as_object).cloned().unwrap_or_default()
        } else {
            Map::new()
        };
        Ok(SecretsFile { path: path.to_path_buf(), webhooks })
    }

    /// Records a webhook's secret (and the rotation token it answers) and writes the file at once, so a
    /// failure later in the apply cannot lose it.
    pub fn record(&mut self, webhook: &str, id: u64, secret: &Secret, token: Option<&str>) -> Result<(), Error> {
        let now =
            time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        self.webhooks.insert(
            webhook.to_string(),
            json!({"id": id, "secret": secret.expose(), "rotate_secret": token, "captured_at": now}),
        );
        self.write()
    }

    fn write(&self) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(&json!({"webhooks": self.webhooks})).expect("JSON serialises");
        let tmp = self.path.with_extension("tmp");
        let fail = |e: std::io::Error| {
            Error::new(ErrorKind::Io, format!("cannot write the secrets file {}: {e}", self.path.display()))
        };
        write_private(&tmp, text.as_bytes()).map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
