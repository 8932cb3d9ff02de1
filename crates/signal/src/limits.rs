//! Input limits: identifier syntax and the per-socket rate limit.

use std::time::Instant;

/// Longest room or participant id, in characters.
pub const MAX_ID_LEN: usize = 64;

/// Room and participant ids are 1–64 characters of `[A-Za-z0-9._-]`: safe in URLs, file
/// names, log lines and HTML attributes without escaping.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A token bucket, with time as an input so it is tested without sleeping.
///
/// Holds up to `burst` tokens, refills at `per_sec`; each event takes one. Signalling is
/// bursty (a renegotiation sends an offer and a dozen candidates at once) but its sustained
/// rate is low, so a generous burst with a modest rate rejects floods without touching calls.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    burst: f64,
    per_sec: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(now: Instant, per_sec: f64, burst: f64) -> Self {
        Self {
            tokens: burst,
            burst,
            per_sec,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ids_accept_the_safe_set_only() {
        assert!(is_valid_id("user-abc_1.2"));
        assert!(is_valid_id(&"a".repeat(64)));
        for bad in [
            "",
            &"a".repeat(65),
            "a b",
            "<script>",
            "ä",
            "a/b",
            "a\0b",
            "../x",
        ] {
            assert!(!is_valid_id(bad), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn bucket_allows_a_burst_then_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(t0, 10.0, 5.0);
        assert_eq!((0..8).filter(|_| b.try_take(t0)).count(), 5);
        assert!(!b.try_take(t0));
        let t1 = t0 + Duration::from_millis(300);
        assert_eq!((0..8).filter(|_| b.try_take(t1)).count(), 3);
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!(
            (0..8).filter(|_| b.try_take(t2)).count(),
            5,
            "refill caps at burst"
        );
    }
}
