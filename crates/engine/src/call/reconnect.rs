//! How the signalling client retries after losing its connection, without I/O: a delay per
//! attempt, doubling from [`RECONNECT_BASE`] up to [`RECONNECT_CAP`], with full jitter (the
//! delay is uniform between zero and that ceiling) so that the clients of a restarted server
//! do not all come back in the same millisecond. The model is LiveKit's
//! `reconnect_strategy.rs` (300 ms doubling, full jitter); its 7 s cap is lowered here because
//! a participant must be back in the room within 5 s of the server being reachable again, and
//! the worst case is one full ceiling of waiting plus the handshake.
//!
//! Signalling retries never give up while the call runs: the peer connections carry the call
//! meanwhile, and the user can always leave.

use std::time::Duration;

/// The first attempt's ceiling.
pub const RECONNECT_BASE: Duration = Duration::from_millis(300);
/// No attempt waits longer than this.
pub const RECONNECT_CAP: Duration = Duration::from_secs(4);
/// One attempt (websocket, Engine.IO and Socket.IO handshakes) may take this long: a server
/// whose host vanished answers no SYN, and waiting for TCP's own timeout would take minutes.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// Attempts so far, and the delay before the next one.
#[derive(Debug, Default, Clone)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// Attempts made since the last success.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The ceiling of attempt `n` (from 0): base × 2ⁿ, capped.
    pub fn ceiling(n: u32) -> Duration {
        RECONNECT_BASE
            .saturating_mul(1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX))
            .min(RECONNECT_CAP)
    }

    /// Counts an attempt and returns how long to wait before making it; `unit` is a uniform
    /// random number in [0, 1) (an input, so the policy is tested without randomness).
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let ceiling = Self::ceiling(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// A connection succeeded: the next loss starts from the base again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A uniform random number in [0, 1) from the operating system's generator (jitter needs no
/// more; falls back to the clock's nanoseconds if the generator is unavailable).
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        bytes[..4].copy_from_slice(&nanos.to_le_bytes());
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// The signalling servers a participant may use: the one it was given first, then the other
/// nodes of the same cluster (`confab join --server A --server B …`). An attempt goes to the
/// current one; each failed attempt moves on to the next, wrapping, so a participant whose
/// node died is back through another within one round of attempts while the room (kept in
/// Redis) still holds its place for its resume token. A single server is simply retried.
#[derive(Debug, Clone)]
pub struct Servers {
    urls: Vec<String>,
    current: usize,
}

impl Servers {
    pub fn new(first: &str, others: &[String]) -> Self {
        let mut urls = vec![first.to_owned()];
        urls.extend(others.iter().filter(|u| u.as_str() != first).cloned());
        Self { urls, current: 0 }
    }

    /// Where the next attempt goes.
    pub fn current(&self) -> &str {
        &self.urls[self.current]
    }

    /// How many there are (never none): a first connection tries each once.
    pub fn count(&self) -> usize {
        self.urls.len()
    }

    /// The attempt on [`Servers::current`] failed: the next goes to the next server.
    pub fn failed(&mut self) {
        self.current = (self.current + 1) % self.urls.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps() {
        let ceilings: Vec<u64> = (0..8)
            .map(|n| Backoff::ceiling(n).as_millis() as u64)
            .collect();
        assert_eq!(ceilings, [300, 600, 1200, 2400, 4000, 4000, 4000, 4000]);
        assert_eq!(Backoff::ceiling(u32::MAX), RECONNECT_CAP, "no overflow");
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let mut b = Backoff::default();
        assert_eq!(b.next_delay(0.0), Duration::ZERO);
        assert_eq!(b.next_delay(0.5), Duration::from_millis(300));
        assert_eq!(b.next_delay(1.0), Duration::from_millis(1200));
        assert_eq!(b.attempt(), 3);
        b.reset();
        assert_eq!(b.next_delay(1.0), RECONNECT_BASE);
    }

    #[test]
    fn the_longest_wait_leaves_a_second_to_rejoin_within_five() {
        assert!(RECONNECT_CAP + Duration::from_secs(1) <= Duration::from_secs(5));
    }

    #[test]
    fn random_units_are_in_range_and_vary() {
        let draws: Vec<f64> = (0..64).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        assert!(draws.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn failed_attempts_go_round_the_servers_from_the_first() {
        let mut servers = Servers::new(
            "http://a",
            &["http://b".into(), "http://a".into(), "http://c".into()],
        );
        assert_eq!(servers.count(), 3, "the first is not listed twice");
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(servers.current().to_owned());
            servers.failed();
        }
        assert_eq!(seen, ["http://a", "http://b", "http://c", "http://a"]);
        let mut single = Servers::new("http://a", &[]);
        single.failed();
        assert_eq!(single.current(), "http://a");
    }
}
