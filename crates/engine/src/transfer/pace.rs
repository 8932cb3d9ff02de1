//! The pace file chunks leave at while congestion control gives the data channel a share of
//! the link (`call::allocation::DATA_SHARE`).
//!
//! Why the application paces SCTP: webrtc-rs's SCTP has its own loss-based congestion window,
//! which grows until the bottleneck queue overflows — on a narrow link a file transfer then
//! takes the whole link and the queue it builds delays audio and video by seconds (the
//! delay-based estimate falls, video with it). Paced at its share, a transfer never builds
//! that queue. One pace is shared by every transfer of the call.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bytes that may leave at once after an idle spell: one 16 KiB chunk and its framing. A
/// larger burst is a queue on a narrow link (64 KiB is half a second at 1 Mbit/s), which
/// congestion control reads as congestion (`congestion::QUEUE_ALARM`).
pub const BURST_BYTES: f64 = 17.0 * 1024.0;

/// A token bucket in bytes; no clock of its own (sans-IO).
#[derive(Debug)]
pub struct Bucket {
    /// Bits per second; `None`: unpaced.
    rate: Option<f64>,
    tokens: f64,
    at: Option<Instant>,
}

impl Default for Bucket {
    fn default() -> Self {
        Self {
            rate: None,
            tokens: BURST_BYTES,
            at: None,
        }
    }
}

impl Bucket {
    pub fn set_rate(&mut self, bits_per_second: Option<f64>) {
        self.rate = bits_per_second.filter(|r| *r > 0.0);
    }

    /// Takes `bytes` from the bucket at `now`; returns how long the sender must wait before
    /// sending them (zero when they may go now). Debt is allowed, so a chunk larger than the
    /// bucket still goes, after its time.
    pub fn take(&mut self, now: Instant, bytes: usize) -> Duration {
        let Some(rate) = self.rate else {
            self.at = Some(now);
            return Duration::ZERO;
        };
        let bytes_per_second = rate / 8.0;
        if let Some(at) = self.at {
            let refill = now.saturating_duration_since(at).as_secs_f64() * bytes_per_second;
            self.tokens = (self.tokens + refill).min(BURST_BYTES);
        }
        self.at = Some(now);
        self.tokens -= bytes as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / bytes_per_second)
        }
    }
}

/// The call's shared pace.
#[derive(Debug, Clone, Default)]
pub struct DataPace(Arc<Mutex<Bucket>>);

impl DataPace {
    pub fn set_rate(&self, bits_per_second: Option<f64>) {
        self.lock().set_rate(bits_per_second);
    }

    /// The rate now, bits per second (`None`: unpaced).
    pub fn rate(&self) -> Option<f64> {
        self.lock().rate
    }

    /// Waits until `bytes` may be sent.
    pub async fn wait(&self, bytes: usize) {
        let wait = self.lock().take(Instant::now(), bytes);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpaced_sends_at_once_and_paced_spreads_chunks_at_the_rate() {
        let mut b = Bucket::default();
        let t = Instant::now();
        assert_eq!(b.take(t, 1_000_000), Duration::ZERO);
        // 128 kb/s = 16 KiB/s: after the burst, each 16 KiB chunk waits a second more.
        b.set_rate(Some(131_072.0));
        let mut waits = Vec::new();
        for _ in 0..4 {
            waits.push(b.take(t, 16 * 1024).as_millis());
        }
        assert_eq!(waits, [0, 937, 1937, 2937]);
    }

    #[test]
    fn an_idle_bucket_refills_up_to_the_burst_only() {
        let mut b = Bucket::default();
        b.set_rate(Some(131_072.0));
        let t = Instant::now();
        assert_eq!(b.take(t, 17 * 1024), Duration::ZERO);
        // An hour idle buys one burst, not an hour of sending.
        let later = t + Duration::from_secs(3600);
        assert_eq!(b.take(later, 17 * 1024), Duration::ZERO);
        assert_eq!(b.take(later, 16 * 1024), Duration::from_secs(1));
    }
}
