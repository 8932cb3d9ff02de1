//! Sums the audio of several sources (participants) into one stream. The speakers' output
//! uses it, and so does a recording's audio track (confab-record), so both hear the call
//! alike.
//!
//! Each source has a queue: what it sent and the mix has not read yet. A queue's length is
//! delay. Sources and reader run on different clocks, so a queue fills up when a burst
//! arrives (a stall on the receiving side, the network handing over several packets at
//! once) and, since the source then sends exactly as fast as the reader reads, stays that long
//! for good: a recording measured here had its sound 98 ms behind its picture from one stall
//! at the start. So a queue that has not once been shorter than [`STANDING_KEEP`] for a
//! whole [`STANDING_WINDOW`] of mixing is cut back to it (its oldest samples dropped).
//! Jitter keeps a queue's low point near zero and is never cut; only a standing queue is.
//! A source's first audio is cut at once, at the first read: what piled up before the mix
//! heard it at all (the burst a call's first packets arrive in) has no reason to be delay.
//!
//! A cut is no step in the waveform: over [`CUT_FADE`] the audio it skips fades into the
//! audio it keeps (a hard cut of a tone jumped by up to twice its amplitude from one sample
//! to the next — a click each time, at most twice a second).
//!
//! Written here rather than taken from a library: what does this in WebRTC stacks (NetEq's
//! time-stretching jitter buffer) is not available as a Rust crate; a faded cut at most twice
//! a second is far less audible than a tenth of a second of lag.
//! Time is the number of samples mixed, so the policy is tested without a clock.

use std::collections::{HashMap, VecDeque};

use crate::frame::SAMPLE_RATE;

/// Most audio a participant may have queued before the oldest is dropped: 200 ms.
pub const MAX_QUEUED_SAMPLES: usize = SAMPLE_RATE as usize / 5;
/// What a standing queue is cut back to: 10 ms of margin against the next late packet.
pub const STANDING_KEEP: usize = SAMPLE_RATE as usize / 100;
/// How long a queue must stay above [`STANDING_KEEP`] to be cut: half a second of mixing
/// (25 packets: jitter would have emptied it at least once by then).
pub const STANDING_WINDOW: usize = SAMPLE_RATE as usize / 2;
/// How long a cut fades from the skipped audio into the kept: 2 ms, long enough that a tone
/// moves no faster across the cut than it does by itself, short enough not to be heard as
/// two sounds at once.
pub const CUT_FADE: usize = SAMPLE_RATE as usize / 500;

/// Drops the oldest `n` samples of `q`, fading what would have played next into what now
/// plays next over [`CUT_FADE`] samples (fewer when fewer are left after the cut).
fn cut(q: &mut VecDeque<i16>, n: usize) {
    let n = n.min(q.len());
    let fade = CUT_FADE.min(q.len() - n).min(n);
    for i in 0..fade {
        let kept = (i + 1) as f32 / (fade + 1) as f32;
        let mixed = f32::from(q[i]) * (1.0 - kept) + f32::from(q[n + i]) * kept;
        q[n + i] = mixed.round() as i16;
    }
    q.drain(..n);
}

#[derive(Default)]
struct Queue {
    samples: VecDeque<i16>,
    /// The shortest this queue has been, after a read, in the current window.
    low: Option<usize>,
    /// Read at least once (a fresh source's backlog is cut at its first read).
    heard: bool,
}

/// See the module's documentation.
#[derive(Default)]
pub struct Mixer {
    queues: HashMap<String, Queue>,
    /// Samples mixed in the current window.
    window_read: usize,
}

impl Mixer {
    /// Queues `samples` (mono, 48 kHz) from `source`; beyond [`MAX_QUEUED_SAMPLES`] the
    /// oldest are dropped (a source that got ahead must not add delay without bound).
    pub fn push(&mut self, source: &str, samples: &[i16]) {
        let q = &mut self.queues.entry(source.to_owned()).or_default().samples;
        q.extend(samples.iter().copied());
        let excess = q.len().saturating_sub(MAX_QUEUED_SAMPLES);
        cut(q, excess);
    }

    /// The next sample of the mix: the sum of every source's next one (silence where a source
    /// has nothing queued), clamped.
    fn next(&mut self) -> i16 {
        let mut sum = 0i32;
        for q in self.queues.values_mut() {
            if let Some(s) = q.samples.pop_front() {
                sum += i32::from(s);
            }
        }
        sum.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
    }

    /// After `read` samples were mixed: notes each queue's low point, and at the end of a
    /// window cuts the queues that stood.
    fn after_read(&mut self, read: usize) {
        for q in self.queues.values_mut() {
            if !q.heard {
                q.heard = true;
                let excess = q.samples.len().saturating_sub(STANDING_KEEP);
                q.samples.drain(..excess);
            }
            let len = q.samples.len();
            q.low = Some(q.low.map_or(len, |low| low.min(len)));
        }
        self.window_read += read;
        if self.window_read < STANDING_WINDOW {
            return;
        }
        self.window_read = 0;
        for q in self.queues.values_mut() {
            if let Some(low) = q.low.take()
                && low > STANDING_KEEP
            {
                cut(&mut q.samples, low - STANDING_KEEP);
            }
        }
    }

    /// Fills `out` with the mix, as the output device takes it.
    pub fn fill(&mut self, out: &mut [f32]) {
        for o in out.iter_mut() {
            *o = f32::from(self.next()) / 32768.0;
        }
        self.after_read(out.len());
    }

    /// Fills `out` with the mix as 16-bit samples (an encoder's input).
    pub fn mix(&mut self, out: &mut [i16]) {
        for o in out.iter_mut() {
            *o = self.next();
        }
        self.after_read(out.len());
    }

    /// Forgets `source` (a participant that left) and what it had queued.
    pub fn remove(&mut self, source: &str) {
        self.queues.remove(source);
    }

    /// How much `source` has queued: the delay the mix adds to it, in samples.
    pub fn queued(&self, source: &str) -> usize {
        self.queues.get(source).map_or(0, |q| q.samples.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKET: usize = 960; // 20 ms

    #[test]
    fn mixer_sums_sources_and_clamps() {
        let mut m = Mixer::default();
        m.push("a", &[1000, 30000, -30000]);
        m.push("b", &[500, 30000, -30000, 7]);
        let mut out = [0f32; 5];
        m.fill(&mut out);
        let got: Vec<i32> = out.iter().map(|s| (s * 32768.0).round() as i32).collect();
        assert_eq!(got, [1500, 32767, -32768, 7, 0]);
    }

    #[test]
    fn a_queue_that_falls_behind_drops_its_oldest_audio() {
        let mut m = Mixer::default();
        let long: Vec<i16> = (0..(MAX_QUEUED_SAMPLES + 100))
            .map(|i| (i % 1000) as i16)
            .collect();
        m.push("a", &long);
        assert_eq!(m.queued("a"), MAX_QUEUED_SAMPLES);
        assert_eq!(
            m.queues["a"].samples[CUT_FADE],
            (100 + CUT_FADE) as i16,
            "the first 100 samples were dropped (what follows faded in)"
        );
    }

    /// A source's first audio arrived as a burst: the mix starts with the margin only.
    #[test]
    fn a_new_sources_backlog_is_cut_at_once() {
        let mut m = Mixer::default();
        let mut out = [0i16; PACKET];
        m.push("a", &[1; PACKET]);
        m.mix(&mut out);
        m.push("a", &[1; PACKET]);
        m.push("b", &[2; 7 * PACKET]);
        m.mix(&mut out);
        assert_eq!(
            m.queued("b"),
            STANDING_KEEP,
            "b's burst is cut at its first read"
        );
        assert_eq!(
            out, [3; PACKET],
            "the first packet of the burst was still played"
        );
    }

    /// A source that got 100 ms ahead once (a burst after a stall), then sends as fast as the
    /// mix reads: within two windows its delay is back to the margin, and no audio is lost
    /// after that.
    #[test]
    fn a_standing_queue_is_cut_back_to_the_margin() {
        let mut m = Mixer::default();
        let mut out = [0i16; PACKET];
        m.push("a", &[1; PACKET]);
        m.mix(&mut out);
        m.push("a", &[1; 5 * PACKET]);
        m.mix(&mut out);
        for _ in 0..2 * STANDING_WINDOW / PACKET {
            m.push("a", &[1; PACKET]);
            m.mix(&mut out);
        }
        assert!(m.queued("a") <= STANDING_KEEP, "{} queued", m.queued("a"));
        for _ in 0..3 * STANDING_WINDOW / PACKET {
            m.push("a", &[1; PACKET]);
            m.mix(&mut out);
            assert_eq!(out, [1; PACKET], "nothing missing once cut");
        }
    }

    /// A tone whose standing queue is cut moves across the cut no faster than it does by
    /// itself: a faded cut, not the click of a step in the waveform.
    #[test]
    fn a_cut_is_no_step_in_the_waveform() {
        const AMPLITUDE: f64 = 10_000.0;
        const HZ: f64 = 440.0;
        let tone = |from: usize, n: usize| -> Vec<i16> {
            (from..from + n)
                .map(|i| {
                    let t = i as f64 / f64::from(SAMPLE_RATE);
                    (AMPLITUDE * (2.0 * std::f64::consts::PI * HZ * t).sin()) as i16
                })
                .collect()
        };
        // The most a 440 Hz tone moves from one sample to the next, by itself.
        let natural = AMPLITUDE * 2.0 * std::f64::consts::PI * HZ / f64::from(SAMPLE_RATE);
        let mut m = Mixer::default();
        let mut out = [0i16; PACKET];
        let mut sent = 0;
        m.push("a", &tone(sent, PACKET));
        sent += PACKET;
        m.mix(&mut out);
        // 70 ms ahead (not a whole number of the tone's periods), then in step with the mix.
        m.push("a", &tone(sent, 3 * PACKET + 480));
        sent += 3 * PACKET + 480;
        let mut heard = Vec::new();
        let mut cut_seen = false;
        for _ in 0..2 * STANDING_WINDOW / PACKET {
            m.push("a", &tone(sent, PACKET));
            sent += PACKET;
            m.mix(&mut out);
            heard.extend_from_slice(&out);
            cut_seen |= m.queued("a") <= STANDING_KEEP;
        }
        assert!(cut_seen, "the standing queue was cut");
        let steepest = heard
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .unwrap();
        assert!(
            f64::from(steepest) < 1.5 * natural,
            "a step of {steepest} across the cut; the tone by itself moves at most {natural:.0}"
        );
    }

    /// A jittery source (packets two at a time, then none) runs dry now and then: never cut,
    /// nothing of it lost.
    #[test]
    fn jitter_is_not_cut() {
        let mut m = Mixer::default();
        let mut out = [0i16; PACKET];
        m.push("a", &[0; PACKET]);
        m.mix(&mut out);
        let mut pushed = 0;
        let mut heard = 0;
        for step in 0..5 * STANDING_WINDOW / PACKET {
            if step % 2 == 0 {
                m.push("a", &[1; 2 * PACKET]);
                pushed += 2 * PACKET;
            }
            m.mix(&mut out);
            heard += out.iter().filter(|&&s| s == 1).count();
        }
        assert_eq!(
            pushed - heard,
            m.queued("a"),
            "every sample heard or still queued"
        );
        assert!(m.queued("a") <= PACKET);
    }

    /// Cutting one source's standing queue leaves another's (jittery) queue alone.
    #[test]
    fn sources_are_cut_each_on_its_own() {
        let mut m = Mixer::default();
        let mut out = [0i16; PACKET];
        m.push("late", &[1; 6 * PACKET]);
        for step in 0..STANDING_WINDOW / PACKET + 1 {
            m.push("late", &[1; PACKET]);
            if step % 2 == 0 {
                m.push("jittery", &[2; 2 * PACKET]);
            }
            m.mix(&mut out);
        }
        assert!(m.queued("late") <= STANDING_KEEP);
        assert!(m.queued("jittery") <= PACKET);
    }
}
