//! Bounds on what one participant can make this side do, without I/O: a token bucket per
//! participant for data-channel messages, and the named limits the call enforces. A peer
//! over a limit gets its excess dropped and one clear error per second reported; the call
//! goes on for everyone else.

use std::time::{Duration, Instant};

/// Text messages (chat, media state, file control) a participant may send per second…
pub const MESSAGES_PER_SECOND: f64 = 50.0;
/// …with bursts up to this many (a user pasting a few lines, a transfer's control
/// messages). File chunks are binary and paced by SCTP's flow control instead.
pub const MESSAGE_BURST: f64 = 200.0;
/// Keyframes forced by receivers' PLI/FIR, at most one per this interval per encoder: a
/// keyframe costs several times a normal frame's bits, and a receiver (or a hostile peer)
/// asking in a loop would otherwise turn the stream into keyframes only.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(300);
/// Longest chat message shown, in characters: the UI's input takes no more (`maxlength`),
/// so a longer one comes from a modified client and is dropped with an error, not shown.
pub const MAX_CHAT_CHARS: usize = 4_000;
/// Offers from one participant that may wait for the user's answer at once; later ones are
/// declined with a reason.
pub const MAX_PENDING_OFFERS: usize = 8;

/// `Err(length)` when a chat text is longer than [`MAX_CHAT_CHARS`].
pub fn check_chat_length(text: &str) -> Result<(), usize> {
    // Counting stops early: a long text costs no more than the limit to check.
    match text.chars().take(MAX_CHAT_CHARS + 1).count() {
        n if n > MAX_CHAT_CHARS => Err(text.chars().count()),
        _ => Ok(()),
    }
}

/// A classic token bucket, time as an input.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            last: None,
        }
    }

    /// The bucket for a participant's text messages.
    pub fn messages() -> Self {
        Self::new(MESSAGES_PER_SECOND, MESSAGE_BURST)
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let earned = now.saturating_duration_since(last).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + earned).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// At most one event per `interval` passes (keyframe requests).
#[derive(Debug, Clone)]
pub struct MinInterval {
    interval: Duration,
    last: Option<Instant>,
}

impl MinInterval {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
        }
    }

    pub fn allow(&mut self, now: Instant) -> bool {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.interval => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

/// Counts what was dropped from one source and says so at most once per second.
#[derive(Debug, Default)]
pub struct DropReport {
    dropped: u64,
    last_report: Option<Instant>,
}

impl DropReport {
    /// Counts one drop; returns the count to report when a report is due.
    pub fn dropped(&mut self, now: Instant) -> Option<u64> {
        self.dropped += 1;
        match self.last_report {
            Some(last) if now.saturating_duration_since(last) < Duration::from_secs(1) => None,
            _ => {
                self.last_report = Some(now);
                Some(std::mem::take(&mut self.dropped))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_longer_than_the_ui_allows_is_refused_with_its_length() {
        assert_eq!(check_chat_length(&"é".repeat(MAX_CHAT_CHARS)), Ok(()));
        assert_eq!(
            check_chat_length(&"é".repeat(MAX_CHAT_CHARS + 1)),
            Err(MAX_CHAT_CHARS + 1)
        );
        assert_eq!(check_chat_length(""), Ok(()));
    }

    #[test]
    fn the_bucket_allows_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::messages();
        let burst = (0..1000).filter(|_| b.take(t0)).count();
        assert_eq!(burst, MESSAGE_BURST as usize);
        let later = t0 + Duration::from_secs(1);
        let refilled = (0..1000).filter(|_| b.take(later)).count();
        assert_eq!(refilled, MESSAGES_PER_SECOND as usize);
    }

    #[test]
    fn keyframe_requests_pass_once_per_interval() {
        let t0 = Instant::now();
        let mut k = MinInterval::new(KEYFRAME_REQUEST_INTERVAL);
        let passed: Vec<bool> = (0..10)
            .map(|i| k.allow(t0 + Duration::from_millis(100) * i))
            .collect();
        assert_eq!(
            passed,
            [
                true, false, false, true, false, false, true, false, false, true
            ]
        );
    }

    #[test]
    fn drops_are_reported_at_most_once_a_second_with_their_count() {
        let t0 = Instant::now();
        let mut r = DropReport::default();
        assert_eq!(r.dropped(t0), Some(1));
        for i in 1..10 {
            assert_eq!(r.dropped(t0 + Duration::from_millis(50 * i)), None);
        }
        assert_eq!(r.dropped(t0 + Duration::from_secs(1)), Some(10));
    }
}
