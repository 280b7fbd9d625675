//! The account-wide lease: two applies never write to one account at once, from any machines.
//!
//! CI runners share nothing but the account, so the lease lives in the account, as a contact tag
//! (`/tags`, [doc] §3 Tags) whose title is `skyform-lock run=… until=… since=… host=… job=…` (at most 100
//! characters, so `job` may be cut short):
//!
//! 1. apply creates its lock tag, then lists the tags;
//! 2. among lock tags that have not expired, the lowest id holds the lease (ids grow with creation, so any
//!    earlier claimant is visible to a later one's list); a loser deletes its own tag, waits, and tries
//!    again until `--lock-timeout`;
//! 3. the holder renews `until` every `settle` seconds, to `now + 3 × settle`; the expiry is therefore always
//!    at least the renewal period plus `settle` after the holder's last request could have been sent, so
//!    once a dead run's lease has expired, none of its requests can still land;
//! 4. at the end the holder deletes its tag, or, when some request's outcome is unknown, moves `until` to
//!    when it can no longer land, so the next run waits for that.
//!
//! Lock tags that expired belong to runs that died: the winner reports them (their `since`..`until` says
//! which objects they may have created without delivering a secret) and deletes them.

use crate::api::{ApiError, Failure, Method, WriteClient};
use crate::{Error, ErrorKind};
use serde_json::json;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Every lock tag's title starts with this.
pub use crate::resources::tag::LOCK_PREFIX;
/// Tag titles are at most this long ([doc]).
const MAX_TITLE: usize = 100;
/// Clocks of CI runners disagree a little: an expiry is trusted only this long after it passed (seconds).
const SKEW: i64 = 5;

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64
}

fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// One lock tag, as its title says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockTag {
    /// The tag's id.
    pub id: u64,
    pub run: String,
    /// Unix seconds: the lease is held until then.
    pub until: i64,
    /// Unix seconds: when the run started.
    pub since: i64,
    pub host: String,
    pub job: Option<String>,
}

impl LockTag {
    /// The title of a lock tag, cut to the API's 100 characters (the job URL goes last).
    pub fn title(run: &str, until: i64, since: i64, host: &str, job: Option<&str>) -> String {
        let host: String = host.chars().filter(|c| !c.is_whitespace()).take(24).collect();
        let mut t = format!("{LOCK_PREFIX}run={run} until={until} since={since} host={host}");
        if let Some(job) = job.filter(|j| !j.is_empty()) {
            t.push_str(&format!(" job={}", job.split_whitespace().collect::<String>()));
        }
        t.chars().take(MAX_TITLE).collect()
    }

    /// A tag's title read as a lock tag; None for any other tag.
    pub fn parse(id: u64, title: &str) -> Option<LockTag> {
        let rest = title.strip_prefix(LOCK_PREFIX)?;
        let field = |name: &str| {
            rest.split(' ').find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('='))).map(str::to_string)
        };
        Some(LockTag {
            id,
            run: field("run")?,
            until: field("until")?.parse().ok()?,
            since: field("since").and_then(|s| s.parse().ok()).unwrap_or(0),
            host: field("host").unwrap_or_default(),
            job: field("job"),
        })
    }

    /// Whether a title is a lock tag's (lock tags are never managed, shown as unmanaged, pruned or exported).
    pub fn is_lock(title: &str) -> bool {
        title.starts_with(LOCK_PREFIX)
    }

    pub fn expired(&self, now: i64) -> bool {
        self.until + SKEW <= now
    }

    /// `run 3f9a… on runner-7 since 2026-11-30T10:00:00Z, until …, job …` for messages.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "run {} on {} since {}, held until {} (lock tag {})",
            self.run,
            if self.host.is_empty() { "an unknown host" } else { &self.host },
            when(self.since),
            when(self.until),
            self.id
        );
        if let Some(job) = &self.job {
            s.push_str(&format!(", job {job}"));
        }
        s
    }
}

/// How a run takes the lease.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// This run's id (random).
    pub run: String,
    pub host: String,
    /// The CI job's URL, when the environment gives one.
    pub job: Option<String>,
    /// How long to wait for another run's lease (`--lock-timeout`).
    pub wait: Duration,
    /// How long after it was sent a request can still land (`--settle`): the renewal period; the lease
    /// lasts three of them.
    pub settle: Duration,
}

impl LeaseOptions {
    /// A random run id, this host's name, and the CI job URL from GitHub's or GitLab's variables
    /// (`SKYFORM_JOB_URL` overrides).
    pub fn for_this_run(env: crate::vars::Env, wait: Duration, settle: Duration) -> LeaseOptions {
        let job = env("SKYFORM_JOB_URL").or_else(|| env("CI_JOB_URL")).or_else(|| {
            Some(format!(
                "{}/{}/actions/runs/{}",
                env("GITHUB_SERVER_URL")?,
                env("GITHUB_REPOSITORY")?,
                env("GITHUB_RUN_ID")?
            ))
        });
        LeaseOptions { run: run_id(), host: hostname(), job, wait, settle }
    }

    fn ttl(&self) -> i64 {
        (self.settle.as_secs_f64() * 3.0).ceil().max(3.0) as i64
    }
}

/// 12 hex digits from std's randomly keyed hasher: unique enough to tell runs apart.
fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.write_u32(std::process::id());
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
}

fn hostname() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates or truncates within it.
        if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
            let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
            return String::from_utf8_lossy(&buf[..end]).into_owned();
        }
    }
    std::env::var("HOSTNAME").unwrap_or_default()
}

/// A held lease: renewed in the background until released.
pub struct Lease {
    pub tag: u64,
    client: WriteClient,
    opts: LeaseOptions,
    since: i64,
    /// Lock tags of runs that died (expired when this run took the lease).
    pub dead: Vec<LockTag>,
    renewer: tokio::task::JoinHandle<()>,
    valid_until: Arc<AtomicI64>,
}

/// Lock tags among the account's tags.
pub async fn lock_tags(client: &crate::api::ReadClient) -> Result<Vec<LockTag>, ApiError> {
    Ok(client.tags().await?.into_iter().filter_map(|t| LockTag::parse(t.id, &t.title)).collect())
}

/// Creates this run's lock tag and returns its id. A create whose answer was lost is found by run id.
async fn claim(client: &WriteClient, title: &str, run: &str) -> Result<u64, ApiError> {
    let body = json!({ "title": title });
    match client.send(Method::POST, "/tags", Some(&body)).await {
        Ok(data) => data
            .get("id")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| ApiError::other("POST", "/tags", Failure::Decode, "the created tag has no id".to_string())),
        Err(e) if e.is_ambiguous() => {
            let mine = lock_tags(client).await?.into_iter().find(|t| t.run == run);
            match mine {
                Some(t) => Ok(t.id),
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Takes the lease, waiting up to `opts.wait` for another run's; `waiting` is told who holds it (once per
/// holder). The error names the holder.
pub async fn acquire(client: &WriteClient, opts: &LeaseOptions, waiting: &dyn Fn(&LockTag)) -> Result<Lease, Error> {
    let started = Instant::now();
    let since = unix_now();
    let mut told: Option<u64> = None;
    loop {
        let now = unix_now();
        let title = LockTag::title(&opts.run, now + opts.ttl(), since, &opts.host, opts.job.as_deref());
        let mine = claim(client, &title, &opts.run).await?;
        let locks = lock_tags(client).await?;
        let holder = locks.iter().filter(|t| !t.expired(now) || t.id == mine).min_by_key(|t| t.id).cloned();
        if holder.as_ref().is_none_or(|h| h.id == mine) {
            let dead: Vec<LockTag> = locks.into_iter().filter(|t| t.id != mine && t.expired(now)).collect();
            for d in &dead {
                // Best effort: a stale tag left behind only costs the next run this same cleanup.
                let _ = client.send(Method::DELETE, &format!("/tags/{}", d.id), None).await;
            }
            let valid_until = Arc::new(AtomicI64::new(now + opts.ttl()));
            let renewer = tokio::spawn(renew(client.clone(), opts.clone(), mine, since, valid_until.clone()));
            return Ok(Lease {
                tag: mine,
                client: client.clone(),
                opts: opts.clone(),
                since,
                dead,
                renewer,
                valid_until,
            });
        }
        let holder = holder.expect("a holder other than this run");
        let _ = client.send(Method::DELETE, &format!("/tags/{mine}"), None).await;
        if started.elapsed() >= opts.wait {
            return Err(Error::new(
                ErrorKind::Refused,
                format!("another apply holds the account's lease: {}", holder.describe()),
            )
            .with_hint(format!(
                "wait for it (raise --lock-timeout, now {} s); if that run died, its lease expires by itself at {}; to break it by hand, run",
                opts.wait.as_secs(),
                when(holder.until),
            ))
            .with_suggest(vec!["unlock".into(), holder.id.to_string()]));
        }
        if told != Some(holder.id) {
            waiting(&holder);
            told = Some(holder.id);
        }
        let pause = Duration::from_millis(500).max(opts.settle / 4).min(opts.wait.saturating_sub(started.elapsed()));
        if !client.cancel().sleep(pause.max(Duration::from_millis(50))).await {
            return Err(Error::new(
                ErrorKind::Interrupted,
                "interrupted while waiting for the lease; nothing was changed",
            ));
        }
    }
}

/// Renews the lease every `settle`. When it cannot before the lease would expire, the run is stopped: it
/// must not write under a lease another run may take.
async fn renew(client: WriteClient, opts: LeaseOptions, tag: u64, since: i64, valid_until: Arc<AtomicI64>) {
    let period = opts.settle.max(Duration::from_millis(500));
    loop {
        tokio::time::sleep(period).await;
        let until = unix_now() + opts.ttl();
        let title = LockTag::title(&opts.run, until, since, &opts.host, opts.job.as_deref());
        match client.send_always(Method::PUT, &format!("/tags/{tag}"), Some(&json!({ "title": title }))).await {
            Ok(_) => valid_until.store(until, Ordering::SeqCst),
            Err(e) if e.status() == Some(404) => {
                client.cancel().cancel("the lease was broken (its lock tag was deleted): stopping before writing more");
                return;
            }
            Err(_) => {
                let left = valid_until.load(Ordering::SeqCst) - unix_now();
                if left <= opts.settle.as_secs() as i64 + SKEW {
                    client.cancel().cancel("the lease could not be renewed: stopping before it expires");
                    return;
                }
            }
        }
    }
}

impl Lease {
    /// Gives the lease back. With requests whose outcome is unknown, the tag is kept until they can no
    /// longer land (`settle` from now), so the next run waits for them instead of racing them.
    pub async fn release(self, outcomes_unknown: bool) -> Result<(), ApiError> {
        self.renewer.abort();
        let path = format!("/tags/{}", self.tag);
        if outcomes_unknown {
            let until = unix_now() + self.opts.settle.as_secs().max(1) as i64;
            let title = LockTag::title(&self.opts.run, until, self.since, &self.opts.host, self.opts.job.as_deref());
            self.client.send_always(Method::PUT, &path, Some(&json!({ "title": title }))).await.map(|_| ())
        } else {
            match self.client.send_always(Method::DELETE, &path, None).await {
                Err(e) if e.status() != Some(404) => Err(e),
                _ => Ok(()),
            }
        }
    }

    /// Until when (unix seconds) the lease is known to be held.
    pub fn valid_until(&self) -> i64 {
        self.valid_until.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_fit_and_read_back() {
        let t = LockTag::title(
            "3f9a00c1b2d4",
            1_764_460_800,
            1_764_460_000,
            "runner 7",
            Some("https://github.com/acme/very-long-repository-name/actions/runs/123456789012"),
        );
        assert!(t.chars().count() <= 100, "{t}");
        let back = LockTag::parse(9, &t).unwrap();
        assert_eq!(
            (back.run.as_str(), back.until, back.since, back.host.as_str()),
            ("3f9a00c1b2d4", 1_764_460_800, 1_764_460_000, "runner7")
        );
        assert!(LockTag::parse(1, "VIP customers").is_none());
        assert!(back.expired(1_764_460_800 + SKEW) && !back.expired(1_764_460_800));
    }
}
