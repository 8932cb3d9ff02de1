//! What a file transfer actually delivers to one participant: the bytes SCTP has
//! acknowledged (handed to the channel, minus what it still holds), as a rate.
//!
//! Why measured rather than the share the file was given (`pace`): transport-wide feedback
//! covers RTP only, so the link's estimator is told what the data channel adds
//! (`congestion::Estimate::set_data_rate`). SCTP through loss moves less than its share
//! (webrtc-rs's minimum retransmission timeout is 1 s): counting the share as delivered
//! inflated the estimate, which gave data a larger share still.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The rate is taken over this much of the latest readings: long enough to span a few
/// 16 KiB chunks on a narrow link, short enough to follow a transfer that starts or stops.
pub const WINDOW: Duration = Duration::from_secs(1);

/// File bytes handed to one link's data channel so far; counted by the sending task.
#[derive(Debug, Clone, Default)]
pub struct Handed(Arc<AtomicU64>);

impl Handed {
    pub fn add(&self, bytes: usize) {
        self.0.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Readings of acknowledged bytes → bits per second over [`WINDOW`]; no clock of its own.
#[derive(Debug, Default)]
pub struct DeliveredRate {
    readings: VecDeque<(Instant, u64)>,
}

impl DeliveredRate {
    /// Records that `acknowledged` bytes (cumulative) had been delivered at `now`; returns the
    /// rate over the window (0 until two readings span some time).
    pub fn update(&mut self, now: Instant, acknowledged: u64) -> f64 {
        // Cumulative: a reading below the last (a message that is not a file chunk still
        // outstanding) is not a negative rate.
        let acknowledged = self
            .readings
            .back()
            .map_or(acknowledged, |&(_, last)| acknowledged.max(last));
        self.readings.push_back((now, acknowledged));
        while self.readings.len() > 2
            && self
                .readings
                .get(1)
                .is_some_and(|&(t, _)| now.duration_since(t) >= WINDOW)
        {
            self.readings.pop_front();
        }
        let (Some(&(from, first)), Some(&(to, last))) =
            (self.readings.front(), self.readings.back())
        else {
            return 0.0;
        };
        let span = to.duration_since(from).as_secs_f64();
        if span <= 0.0 {
            return 0.0;
        }
        (last - first) as f64 * 8.0 / span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_over_the_last_second_of_acknowledgements() {
        let mut rate = DeliveredRate::default();
        let t = Instant::now();
        assert_eq!(rate.update(t, 0), 0.0);
        // 12,500 bytes every 250 ms: 400 kb/s.
        let mut last = 0.0;
        for k in 1..=8u32 {
            last = rate.update(t + Duration::from_millis(250) * k, 12_500 * u64::from(k));
        }
        assert!((last - 400_000.0).abs() < 1.0, "{last}");
        // SCTP stalls (a retransmission timeout): within a second the rate reads 0.
        for k in 9..=13u32 {
            last = rate.update(t + Duration::from_millis(250) * k, 100_000);
        }
        assert_eq!(last, 0.0);
    }

    #[test]
    fn a_reading_below_the_last_is_not_a_negative_rate() {
        let mut rate = DeliveredRate::default();
        let t = Instant::now();
        rate.update(t, 50_000);
        let r = rate.update(t + Duration::from_millis(500), 40_000);
        assert_eq!(r, 0.0);
        // 40,000 bytes over the second since the first reading.
        let r = rate.update(t + Duration::from_secs(1), 90_000);
        assert!((r - 320_000.0).abs() < 1.0, "{r}");
    }
}
