#![allow(clippy::disallowed_macros)] // a benchmark prints its figures
//! What CD pipelines do to apply, in full: the kill matrix (apply killed with SIGKILL after its k-th
//! write, for every k, while later writes are still in flight and land after the kill, then re-run at
//! once) and two applies started together on one account, repeated. Prints how many runs converged, and
//! the duplicates, lost changes, lost secrets and stuck accounts met.
//!
//! Run: `cargo bench --bench cd` (about 6 minutes: each killed run's lease must expire before the re-run
//! may write, 3 s with the benchmark's `--settle 1`).

#[path = "../tests/it/common/mod.rs"]
mod common;

use common::cd::{kill_after, Account};
use std::time::Instant;

#[derive(Default)]
struct Tally {
    runs: usize,
    converged: usize,
    duplicates: usize,
    lost_changes: usize,
    lost_secrets: usize,
    stuck: usize,
    /// Secrets the re-run rotated because the dead run may never have delivered them.
    recovered: usize,
}

impl Tally {
    async fn add(&mut self, a: &Account, rerun_exit: i32, rerun: &str) {
        self.recovered += rerun.matches("never have been delivered").count();
        let o = a.outcome().await;
        self.runs += 1;
        self.converged += usize::from(o.converged() && rerun_exit == 0);
        self.duplicates += o.duplicates.len();
        self.lost_changes += usize::from(o.plan_exit != 0);
        self.lost_secrets += o.lost_secrets.len();
        // An account is stuck when a plan fails outright (two live objects with one key).
        self.stuck += usize::from(o.plan_exit == 1);
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{what:<36} {:>3}/{:<3} converged   {:>3} duplicates   {:>3} lost changes   {:>3} lost secrets   {:>3} stuck   {:>3} secrets recovered",
            self.converged, self.runs, self.duplicates, self.lost_changes, self.lost_secrets, self.stuck, self.recovered
        )
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let started = Instant::now();
        let writes = 10; // see common::cd::MANIFESTS
        let mut kill = Tally::default();
        for latency in [100, 300] {
            for k in 1..=writes {
                let (a, code, text) = kill_after(k, latency).await;
                kill.add(&a, code, &text).await;
            }
        }
        let mut together = Tally::default();
        for trial in 0..10 {
            let a = Account::new(&format!("bench-two-{trial}"), 60).await;
            let (one, two) = tokio::join!(a.run(a.apply()), a.run(a.apply()));
            together.add(&a, one.0.max(two.0), "").await;
        }
        println!("skyform CD benchmark ({:.0} s)", started.elapsed().as_secs_f64());
        println!("{}", kill.line(&format!("kill after write k=1..{writes}, 100/300 ms")));
        println!("{}", together.line("two applies at once, 10 trials"));
    });
}
