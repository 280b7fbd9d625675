//! The sandbox's in-memory account: every kind's records, loaded from a seed or state file and saved back.

use super::clock::Timestamp;
use super::Store;
use std::collections::BTreeMap;
use std::path::Path;

/// One stored object of a kind: what id assignment and seed normalisation need to know.
pub trait Record {
    /// The kind's name in seed files and id counters.
    const KIND: &'static str;
    fn id(&self) -> u64;
    fn set_id(&mut self, id: u64);
    /// The kind's routes (`GET|POST /api/v1/<kind>`, ...), merged into the API by the registry.
    fn routes() -> axum::Router<super::App>
    where
        Self: Sized,
    {
        axum::Router::new()
    }
    /// Fills what a seed may leave out (timestamps, generated secrets).
    fn fill_defaults(&mut self, _now: Timestamp) {}
    /// Called before every API request with the kind's records, for what happens by itself over time
    /// (a website crawl finishing). No timer is needed.
    fn before_request(_records: &mut [Self], _now: Timestamp)
    where
        Self: Sized,
    {
    }
}

/// One object per account (the profile, voice settings): its routes, merged by the registry.
pub trait Singleton: Default {
    fn routes() -> axum::Router<super::App>;
}

impl Store {
    /// Reads a seed or state file; the error says which file and what is wrong.
    pub fn load(path: &Path) -> Result<Store, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut store: Store =
            serde_json::from_str(&text).map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))?;
        store.normalize(Timestamp::SEED_TIME).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(store)
    }

    /// Writes the state atomically (temp file + rename), so a crash never leaves half a file; mode 0600,
    /// since it holds webhook secrets.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            options.mode(0o600);
            let mut f = options.open(&tmp)?;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            std::io::Write::write_all(&mut f, &bytes)?;
        }
        #[cfg(not(unix))]
        std::io::Write::write_all(&mut options.open(&tmp)?, &bytes)?;
        std::fs::rename(tmp, path)
    }

    /// Assigns missing ids and defaults, and refuses seeds the live API could never be in.
    pub fn normalize(&mut self, now: Timestamp) -> Result<(), String> {
        normalize_kind(&mut self.channels, &mut self.next_ids, now)?;
        self.normalize_kinds(now)?;
        if self.account.created_at == Timestamp::default() {
            self.account.created_at = now;
        }
        let defaults = self.agents.iter().filter(|a| a.is_default).count();
        if defaults > 1 {
            return Err(format!("{defaults} agents have is_default: true; at most one agent can be the default"));
        }
        Ok(())
    }

    /// The next id of a kind.
    pub fn next_id(&mut self, kind: &str) -> u64 {
        let next = self.next_ids.entry(kind.to_string()).or_insert(1);
        let id = *next;
        *next += 1;
        id
    }
}

fn check_unique_ids(ids: impl Iterator<Item = u64>, kind: &str) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for id in ids.filter(|id| *id != 0) {
        if !seen.insert(id) {
            return Err(format!("two {kind} have id {id}; ids must be unique per kind"));
        }
    }
    Ok(())
}

fn assign_missing<T: HasId>(items: &mut [T], next: &mut u64) {
    let max = items.iter().map(HasId::get).max().unwrap_or(0);
    *next = (*next).max(max + 1);
    for item in items.iter_mut().filter(|i| i.get() == 0) {
        item.put(*next);
        *next += 1;
    }
}

/// Id access shared by [`Record`] kinds and the segment list, which reuses the list type.
trait HasId {
    fn get(&self) -> u64;
    fn put(&mut self, id: u64);
}

impl<T: Record> HasId for T {
    fn get(&self) -> u64 {
        self.id()
    }
    fn put(&mut self, id: u64) {
        self.set_id(id)
    }
}

pub(super) fn normalize_kind<T: Record>(
    items: &mut [T],
    next_ids: &mut BTreeMap<String, u64>,
    now: Timestamp,
) -> Result<(), String> {
    check_unique_ids(items.iter().map(Record::id), T::KIND)?;
    assign_missing(items, next_ids.entry(T::KIND.to_string()).or_insert(1));
    for item in items.iter_mut() {
        item.fill_defaults(now);
    }
    Ok(())
}
