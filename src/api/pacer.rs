//! Pacing: stay inside the key's request budget so the API never has to answer 429, and leave a share of
//! that budget to the business's other integrations using the same key.
//!
//! The API limits requests per rolling minute. The pacer keeps its own sliding log of send times and sends
//! only while fewer than `share × limit` of them fall in the last window. Every response corrects it:
//! `X-RateLimit-Limit` replaces the assumed limit, and `X-RateLimit-Remaining`/`-Reset` say how much the
//! server still allows (other integrations included): at zero the pacer waits for the reset. A 429 pauses
//! every request until the time the server gave.

use std::collections::VecDeque;

/// Added to the window: the server counts arrivals, we count departures, and the two clocks and the network
/// never agree to the millisecond.
const GUARD: Duration = Duration::from_millis(250);
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy)]
pub struct PacerConfig {
    /// Requests per window the key is allowed ([doc] 120 per minute); corrected from responses.
    pub limit: u32,
    /// The share of the limit this client may use (the rest is left to other integrations).
    pub share: f64,
    pub window: Duration,
}

impl Default for PacerConfig {
    fn default() -> Self {
        PacerConfig { limit: 120, share: 0.8, window: Duration::from_secs(60) }
    }
}

#[derive(Debug)]
struct State {
    limit: u32,
    sent: VecDeque<Instant>,
    /// What the server last said remains, minus what was sent since; None before any answer.
    server_remaining: Option<u32>,
    /// When the server's window frees a slot.
    server_reset: Option<Instant>,
    /// Set by a 429: nobody sends before this.
    paused_until: Option<Instant>,
    /// Sent but not answered: the server's `Remaining` does not count them yet.
    in_flight: u32,
}

#[derive(Debug)]
pub struct Pacer {
    config: PacerConfig,
    state: Mutex<State>,
}

/// The rate-limit headers of one response.
#[derive(Debug, Default, Clone, Copy)]
pub struct RateHeaders {
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    /// Unix seconds.
    pub reset: Option<u64>,
}

impl Pacer {
    pub fn new(config: PacerConfig) -> Self {
        Pacer {
            state: Mutex::new(State {
                limit: config.limit.max(1),
                sent: VecDeque::new(),
                server_remaining: None,
                server_reset: None,
                paused_until: None,
                in_flight: 0,
            }),
            config,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Our budget per window: `share × limit`, at least 1.
    pub fn budget(&self) -> u32 {
        let limit = self.lock().limit;
        ((f64::from(limit) * self.config.share).floor() as u32).max(1)
    }

    /// Reserves a send at `now`, or says how long to wait before asking again.
    pub fn try_acquire(&self, now: Instant) -> Result<(), Duration> {
        let budget = self.budget();
        let window = self.config.window + GUARD;
        let mut s = self.lock();
        if let Some(until) = s.paused_until {
            if until > now {
                return Err(until - now);
            }
            s.paused_until = None;
        }
        while s.sent.front().is_some_and(|t| now.duration_since(*t) >= window) {
            s.sent.pop_front();
        }
        if s.sent.len() as u32 >= budget {
            let oldest = *s.sent.front().expect("a full log has an oldest entry");
            return Err(window.saturating_sub(now.duration_since(oldest)).max(Duration::from_millis(1)));
        }
        if s.server_remaining == Some(0) {
            match s.server_reset {
                Some(reset) if reset > now => return Err(reset - now),
                // The reset passed without a fresh answer: allow one request to learn the new state.
                _ => s.server_remaining = None,
            }
        }
        s.sent.push_back(now);
        s.in_flight += 1;
        if let Some(r) = &mut s.server_remaining {
            *r = r.saturating_sub(1);
        }
        Ok(())
    }

    /// Waits for a send slot.
    pub async fn acquire(&self) {
        loop {
            match self.try_acquire(Instant::now()) {
                Ok(()) => return,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Ends one send: corrects the pacer from the response's headers (None when no response came).
    pub fn observe(&self, h: Option<RateHeaders>, now: Instant) {
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        let Some(h) = h else { return };
        if let Some(limit) = h.limit.filter(|l| *l > 0) {
            s.limit = limit;
        }
        if let Some(remaining) = h.remaining {
            // Requests still in flight were counted by us but not yet by the server.
            s.server_remaining = Some(remaining.saturating_sub(s.in_flight));
        }
        if let Some(reset) = h.reset {
            s.server_reset = Some(now + Duration::from_secs(seconds_until(reset)));
        }
    }

    /// A 429: nobody sends for `wait`.
    pub fn pause(&self, wait: Duration, now: Instant) {
        let mut s = self.lock();
        let until = now + wait;
        s.paused_until = Some(s.paused_until.map_or(until, |u| u.max(until)));
    }
}

/// `X-RateLimit-Reset` is Unix seconds by the contract; a small number is read as seconds from now, as some
/// servers send it.
pub fn seconds_until(reset: u64) -> u64 {
    if reset < 1_000_000_000 {
        return reset;
    }
    reset.saturating_sub(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(limit: u32, share: f64) -> Pacer {
        Pacer::new(PacerConfig { limit, share, window: Duration::from_secs(60) })
    }

    #[test]
    fn sends_the_share_of_the_budget_then_waits_for_the_oldest_to_leave_the_window() {
        let p = pacer(120, 0.8);
        let t0 = Instant::now();
        for i in 0..96 {
            assert!(p.try_acquire(t0 + Duration::from_millis(i)).is_ok(), "request {i}");
        }
        let wait = p.try_acquire(t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50) + GUARD);
        assert!(p.try_acquire(t0 + Duration::from_secs(60)).is_err());
        assert!(p.try_acquire(t0 + Duration::from_secs(60) + GUARD).is_ok());
    }

    #[test]
    fn learns_the_limit_from_headers() {
        let p = pacer(120, 0.5);
        assert_eq!(p.budget(), 60);
        p.observe(Some(RateHeaders { limit: Some(600), remaining: Some(599), reset: None }), Instant::now());
        assert_eq!(p.budget(), 300);
    }

    #[test]
    fn waits_for_the_server_reset_when_others_used_the_window() {
        let p = pacer(120, 0.8);
        let t0 = Instant::now();
        let unix_now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        p.observe(Some(RateHeaders { limit: Some(120), remaining: Some(1), reset: Some(unix_now + 20) }), t0);
        assert!(p.try_acquire(t0).is_ok());
        let wait = p.try_acquire(t0).unwrap_err();
        assert!(wait > Duration::from_secs(18) && wait <= Duration::from_secs(20), "{wait:?}");
    }

    #[test]
    fn a_429_pauses_everyone() {
        let p = pacer(120, 0.8);
        let t0 = Instant::now();
        p.pause(Duration::from_secs(7), t0);
        assert_eq!(p.try_acquire(t0 + Duration::from_secs(2)).unwrap_err(), Duration::from_secs(5));
        assert!(p.try_acquire(t0 + Duration::from_secs(7)).is_ok());
    }
}
