//! How errors of a running audio stream reach the log.
//!
//! cpal calls a stream's error callback from its audio thread for every failed poll, and some
//! set-ups fail polls continuously while sound plays correctly: ALSA's PulseAudio plugin
//! answers `snd_pcm_avail_delay` with `I/O error (5)` ~150 times a second at times, and in
//! bursts of hundreds whenever the system's output device changes (FINDINGS.md). Logged one
//! by one they flood a terminal or a journal within minutes, so each stream reports its first
//! error at once and then at most one line per [`SUMMARY_EVERY`], saying how many were held
//! back. Sans-I/O: the caller gives the time.

use std::time::{Duration, Instant};

/// The shortest time between two logged errors of one stream after the first.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// Decides which of a stream's errors are logged; one per stream.
#[derive(Debug, Default)]
pub struct StreamErrors {
    last_logged: Option<Instant>,
    held_back: u64,
    total: u64,
}

impl StreamErrors {
    /// Counts an error that happened at `now`. `Some(n)` when it is to be logged, `n` being
    /// how many were held back since the last logged one; `None` when it is held back.
    pub fn admit(&mut self, now: Instant) -> Option<u64> {
        self.total += 1;
        match self.last_logged {
            Some(at) if now.saturating_duration_since(at) < SUMMARY_EVERY => {
                self.held_back += 1;
                None
            }
            _ => {
                self.last_logged = Some(now);
                Some(std::mem::take(&mut self.held_back))
            }
        }
    }

    /// Every error counted so far, logged or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The error callback for a cpal stream of `what` ("speakers", "microphone"): logs
    /// through [`StreamErrors::admit`] at WARN.
    pub fn callback(what: &'static str) -> impl FnMut(cpal::Error) + Send + 'static {
        let mut errors = Self::default();
        move |e| {
            if let Some(held_back) = errors.admit(Instant::now()) {
                if held_back == 0 {
                    tracing::warn!("{what}: {e}");
                } else {
                    tracing::warn!(
                        "{what}: {e} ({held_back} more errors in the last {} s, not logged)",
                        SUMMARY_EVERY.as_secs()
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_error_is_logged_at_once_then_one_per_interval_with_the_count_held_back() {
        let t0 = Instant::now();
        let mut errors = StreamErrors::default();
        assert_eq!(errors.admit(t0), Some(0));
        // A flood: 150 a second for two intervals.
        let mut logged = Vec::new();
        for i in 1..=(150 * 2 * SUMMARY_EVERY.as_secs()) {
            let now = t0 + Duration::from_millis(1000 * i / 150);
            if let Some(held) = errors.admit(now) {
                logged.push((now - t0, held));
            }
        }
        assert_eq!(
            logged,
            vec![
                (SUMMARY_EVERY, 150 * SUMMARY_EVERY.as_secs() - 1),
                (2 * SUMMARY_EVERY, 150 * SUMMARY_EVERY.as_secs() - 1),
            ]
        );
        assert_eq!(errors.total(), 1 + 150 * 2 * SUMMARY_EVERY.as_secs());
    }

    #[test]
    fn an_error_after_a_quiet_interval_is_logged_at_once() {
        let t0 = Instant::now();
        let mut errors = StreamErrors::default();
        assert_eq!(errors.admit(t0), Some(0));
        assert_eq!(errors.admit(t0 + Duration::from_secs(1)), None);
        assert_eq!(
            errors.admit(t0 + SUMMARY_EVERY + Duration::from_secs(5)),
            Some(1)
        );
        assert_eq!(errors.admit(t0 + 3 * SUMMARY_EVERY), Some(0));
    }
}
