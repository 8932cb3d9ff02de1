//! Who gets how much of the estimated bandwidth: audio first, video the rest, file transfers
//! a share while they run; and the video format that fits the video's share — a resolution
//! ladder for the camera (720p → 480p → 360p → 240p, then the frame rate), the frame rate
//! alone for a shared screen (text must stay readable). No I/O and no clock: the actor feeds
//! it the estimate and the time every [`ALLOCATION_INTERVAL`] and applies what comes out.
//!
//! One encoder feeds every participant in the mesh, so the estimate used is the lowest of the
//! participants': a participant on a worse link decides for everyone. (A second, smaller
//! encoding for that participant would cost a second encoder's CPU — about as much again as
//! the first at 640×480 — and is not done.)

use std::time::{Duration, Instant};

/// How often the actor re-allocates.
pub const ALLOCATION_INTERVAL: Duration = Duration::from_millis(250);

/// Kept for audio before video gets anything: Opus at 32 kb/s plus the packet overhead of 50
/// packets a second (IP, UDP, SRTP, RTP with its extensions: ~60 bytes each, 24 kb/s).
pub const AUDIO_RESERVE_BPS: f64 = 56_000.0;
/// Video is given this fraction of what is left after audio: the rest absorbs retransmissions,
/// RTCP and the encoder's overshoot on keyframes.
pub const VIDEO_SHARE: f64 = 0.85;
/// While a file is being sent, the data channel is given this fraction of what is left after
/// audio (and video the rest of [`VIDEO_SHARE`]): audio keeps its share untouched, video
/// steps down a rung or two, and a file moves at a known pace instead of taking everything
/// SCTP's window allows (2 MB in ~40 s on a 1 Mbit/s link, measured).
pub const DATA_SHARE: f64 = 0.5;
/// The data channel never gets less than this while a file is being sent.
pub const DATA_MIN_BPS: f64 = 32_000.0;
/// Video is never asked for less than this (openh264 cannot hold lower at 240p).
pub const VIDEO_MIN_BPS: f64 = 40_000.0;

/// A rung of the camera's resolution ladder: the largest size sent, and the video bitrate
/// below which it is left for the next one down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rung {
    pub max_size: (usize, usize),
    pub min_bps: u32,
}

/// The camera's ladder, largest first. The minimum rates keep the test pattern (motion over the
/// whole frame, harder than a face) at 20 fps or more through openh264: measured 640×480 at
/// 600 kb/s 24 fps, 480×360 at 300 kb/s 23 fps, 320×240 at 200 kb/s 30 fps.
pub const LADDER: [Rung; 4] = [
    Rung {
        max_size: (1280, 720),
        min_bps: 1_500_000,
    },
    Rung {
        max_size: (854, 480),
        min_bps: 600_000,
    },
    Rung {
        max_size: (640, 360),
        min_bps: 300_000,
    },
    Rung {
        max_size: (426, 240),
        min_bps: 0,
    },
];

/// On the lowest rung the frame rate falls instead: below these bitrates, these frame rates.
pub const LOW_RATE_FPS: [(u32, f32); 2] = [(120_000, 15.0), (70_000, 10.0)];
/// A shared screen keeps its resolution; below these bitrates it is sent at these frame rates.
pub const SCREEN_FPS: [(u32, f32); 3] = [(1_000_000, 15.0), (500_000, 8.0), (250_000, 4.0)];

/// Going down a rung: the budget stayed below the rung's minimum for this long (one late
/// feedback batch is not a reason)…
pub const DOWN_AFTER: Duration = Duration::from_millis(1000);
/// …going up: the budget stayed this much above the next rung's minimum…
pub const UP_MARGIN: f64 = 1.3;
/// …for this long, and it is at least this long since the last step down (a step up that
/// does not hold costs a visible flip of resolution each way).
pub const UP_AFTER: Duration = Duration::from_secs(4);
pub const UP_AFTER_DOWN: Duration = Duration::from_secs(8);

/// What the allocation is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inputs {
    /// The lowest estimate over the connected participants; `None` with nobody connected.
    pub estimate_bps: Option<f64>,
    /// The highest loss fraction any participant reports for what we send.
    pub loss: f64,
    /// The user's cap on video.
    pub cap_bps: u32,
    /// The frame rate asked for (the user's or the source's).
    pub max_fps: f32,
    pub screen: bool,
    /// A file is being sent.
    pub sending_file: bool,
}

/// What the sender is told.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Allocation {
    pub video_bps: u32,
    pub fps: f32,
    /// `None`: the source's own size (a shared screen).
    pub max_size: Option<(usize, usize)>,
    /// For Opus's in-band FEC.
    pub audio_loss_percent: u8,
    /// The data channel's pace while a file is sent; `None` when none is.
    pub data_bps: Option<f64>,
}

/// The ladder's state.
#[derive(Debug)]
pub struct Allocator {
    rung: usize,
    /// Since when the budget has been below the current rung's minimum.
    below_since: Option<Instant>,
    /// Since when it has been enough for the rung above.
    above_since: Option<Instant>,
    last_down: Option<Instant>,
    /// The first update with an estimate (participants connected).
    started: Option<Instant>,
}

impl Default for Allocator {
    /// Starts on the top rung: the estimate climbs from the start rate to a clear link's in
    /// ~3 s (`congestion`), and a call that opened at 240p and climbed a rung every 4 s would
    /// look poor for its first 10 s on every network. See [`START_GRACE`].
    fn default() -> Self {
        Self {
            rung: 0,
            below_since: None,
            above_since: None,
            last_down: None,
            started: None,
        }
    }
}

/// For this long after the first estimate the ladder does not step down unless the estimate
/// is under [`START_GRACE_FLOOR`] of what it started at: the estimate is still climbing from
/// the start rate.
pub const START_GRACE: Duration = Duration::from_secs(4);
/// A link that is seen to be worse than this fraction of the start rate during the grace is
/// obeyed at once.
pub const START_GRACE_FLOOR: f64 = 0.8;

/// The highest rung `bps` reaches.
fn rung_for(bps: u32) -> usize {
    LADDER
        .iter()
        .position(|r| bps >= r.min_bps)
        .unwrap_or(LADDER.len() - 1)
}

impl Allocator {
    pub fn rung(&self) -> Rung {
        LADDER[self.rung]
    }

    pub fn update(&mut self, now: Instant, inputs: Inputs) -> Allocation {
        let estimate = inputs
            .estimate_bps
            .unwrap_or(crate::congestion::START_BITRATE);
        let after_audio = (estimate - AUDIO_RESERVE_BPS).max(0.0);
        let data_bps = inputs
            .sending_file
            .then(|| (after_audio * DATA_SHARE).max(DATA_MIN_BPS));
        let video_bps = (after_audio * VIDEO_SHARE - data_bps.unwrap_or(0.0))
            .max(VIDEO_MIN_BPS)
            .min(f64::from(inputs.cap_bps))
            .round() as u32;
        let audio_loss_percent = (inputs.loss * 100.0).round().clamp(0.0, 30.0) as u8;
        if inputs.screen {
            let fps = SCREEN_FPS
                .iter()
                .filter(|(below, _)| video_bps < *below)
                .map(|(_, fps)| *fps)
                .fold(inputs.max_fps, f32::min);
            return Allocation {
                video_bps,
                fps,
                max_size: None,
                audio_loss_percent,
                data_bps,
            };
        }
        if inputs.estimate_bps.is_some() {
            self.started.get_or_insert(now);
        }
        let climbing = self.started.is_none_or(|started| {
            now.duration_since(started) < START_GRACE
                && estimate >= crate::congestion::START_BITRATE * START_GRACE_FLOOR
        });
        if !climbing {
            self.step_ladder(now, video_bps);
        }
        let fps = if self.rung == LADDER.len() - 1 {
            LOW_RATE_FPS
                .iter()
                .filter(|(below, _)| video_bps < *below)
                .map(|(_, fps)| *fps)
                .fold(inputs.max_fps, f32::min)
        } else {
            inputs.max_fps
        };
        Allocation {
            video_bps,
            fps,
            max_size: Some(LADDER[self.rung].max_size),
            audio_loss_percent,
            data_bps,
        }
    }

    fn step_ladder(&mut self, now: Instant, video_bps: u32) {
        if video_bps < LADDER[self.rung].min_bps {
            self.above_since = None;
            let since = *self.below_since.get_or_insert(now);
            if now.duration_since(since) >= DOWN_AFTER {
                // Straight to the rung that fits: a link that halved should not take a
                // second per rung to be obeyed.
                self.rung = rung_for(video_bps).max(self.rung + 1).min(LADDER.len() - 1);
                self.below_since = None;
                self.last_down = Some(now);
            }
            return;
        }
        self.below_since = None;
        let Some(up) = self.rung.checked_sub(1) else {
            return;
        };
        if f64::from(video_bps) < f64::from(LADDER[up].min_bps) * UP_MARGIN {
            self.above_since = None;
            return;
        }
        let since = *self.above_since.get_or_insert(now);
        let settled = self
            .last_down
            .is_none_or(|down| now.duration_since(down) >= UP_AFTER_DOWN);
        if now.duration_since(since) >= UP_AFTER && settled {
            self.rung = up;
            self.above_since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(estimate: f64) -> Inputs {
        Inputs {
            estimate_bps: Some(estimate),
            loss: 0.0,
            cap_bps: 2_500_000,
            max_fps: 30.0,
            screen: false,
            sending_file: false,
        }
    }

    /// Runs the allocator every [`ALLOCATION_INTERVAL`] for `for_` at `estimate`.
    fn hold(a: &mut Allocator, t: &mut Instant, for_: Duration, i: Inputs) -> Allocation {
        let mut last = a.update(*t, i);
        let end = *t + for_;
        while *t < end {
            *t += ALLOCATION_INTERVAL;
            last = a.update(*t, i);
        }
        last
    }

    #[test]
    fn audio_is_kept_first_and_video_gets_its_share_of_the_rest_under_the_cap() {
        let mut a = Allocator::default();
        let now = Instant::now();
        let out = a.update(now, inputs(1_056_000.0));
        assert_eq!(out.video_bps, 850_000);
        assert_eq!(out.data_bps, None);
        // The user's cap is an upper bound whatever the estimate.
        let capped = a.update(
            now,
            Inputs {
                cap_bps: 300_000,
                ..inputs(5_000_000.0)
            },
        );
        assert_eq!(capped.video_bps, 300_000);
        // A link narrower than audio's reserve still leaves video its floor.
        assert_eq!(a.update(now, inputs(30_000.0)).video_bps, 40_000);
    }

    #[test]
    fn a_file_being_sent_takes_its_share_from_video_not_from_audio() {
        let mut a = Allocator::default();
        let out = a.update(
            Instant::now(),
            Inputs {
                sending_file: true,
                ..inputs(1_056_000.0)
            },
        );
        assert_eq!(out.data_bps, Some(500_000.0));
        assert_eq!(out.video_bps, 350_000);
        let total = f64::from(out.video_bps) + out.data_bps.unwrap() + AUDIO_RESERVE_BPS;
        assert!(
            total < 1_056_000.0,
            "media and data fit the estimate: {total}"
        );
    }

    #[test]
    fn the_ladder_starts_at_the_top_holds_it_while_the_estimate_climbs_then_follows_it() {
        let mut a = Allocator::default();
        let mut t = Instant::now();
        assert_eq!(a.rung().max_size, (1280, 720));
        // Nobody connected yet: no estimate, nothing moves.
        let none = Inputs {
            estimate_bps: None,
            ..inputs(0.0)
        };
        hold(&mut a, &mut t, Duration::from_secs(10), none);
        assert_eq!(a.rung().max_size, (1280, 720));
        // The start rate, climbing: the top rung is kept through START_GRACE…
        let early = hold(
            &mut a,
            &mut t,
            START_GRACE - ALLOCATION_INTERVAL,
            inputs(450_000.0),
        );
        assert_eq!(early.max_size, Some((1280, 720)));
        // …then a budget that stays at 360p's for DOWN_AFTER is obeyed.
        let down = hold(
            &mut a,
            &mut t,
            DOWN_AFTER + ALLOCATION_INTERVAL,
            inputs(450_000.0),
        );
        assert_eq!(down.max_size, Some((640, 360)));
        // Plenty again: one rung after UP_AFTER_DOWN, the next after UP_AFTER more.
        hold(
            &mut a,
            &mut t,
            UP_AFTER_DOWN - ALLOCATION_INTERVAL * 2,
            inputs(3_000_000.0),
        );
        assert_eq!(a.rung().max_size, (640, 360));
        hold(&mut a, &mut t, ALLOCATION_INTERVAL * 4, inputs(3_000_000.0));
        assert_eq!(a.rung().max_size, (854, 480));
        let top = hold(
            &mut a,
            &mut t,
            UP_AFTER + ALLOCATION_INTERVAL,
            inputs(3_000_000.0),
        );
        assert_eq!(top.max_size, Some((1280, 720)));
        assert_eq!(top.fps, 30.0);
    }

    #[test]
    fn a_link_worse_than_the_start_rate_is_obeyed_during_the_grace() {
        let mut a = Allocator::default();
        let mut t = Instant::now();
        let out = hold(&mut a, &mut t, DOWN_AFTER, inputs(150_000.0));
        assert_eq!(out.max_size, Some((426, 240)));
    }

    #[test]
    fn a_narrowing_link_drops_straight_to_the_rung_that_fits_after_a_second() {
        let mut a = Allocator::default();
        let mut t = Instant::now();
        hold(&mut a, &mut t, Duration::from_secs(10), inputs(3_000_000.0));
        assert_eq!(a.rung().max_size, (1280, 720));
        // A one-report dip is ignored.
        hold(
            &mut a,
            &mut t,
            Duration::from_millis(500),
            inputs(400_000.0),
        );
        hold(
            &mut a,
            &mut t,
            Duration::from_millis(500),
            inputs(3_000_000.0),
        );
        assert_eq!(a.rung().max_size, (1280, 720));
        // 500 kb/s for a second: video gets 377 kb/s, which is 360p's.
        let out = hold(&mut a, &mut t, DOWN_AFTER, inputs(500_000.0));
        assert_eq!(out.max_size, Some((640, 360)));
    }

    #[test]
    fn after_a_step_down_the_ladder_waits_longer_before_climbing_again() {
        let mut a = Allocator::default();
        let mut t = Instant::now();
        hold(&mut a, &mut t, Duration::from_secs(5), inputs(1_000_000.0));
        assert_eq!(a.rung().max_size, (854, 480));
        hold(&mut a, &mut t, DOWN_AFTER, inputs(200_000.0));
        assert_eq!(a.rung().max_size, (426, 240));
        // Enough for 360p again at once, but the step down was < UP_AFTER_DOWN ago.
        hold(
            &mut a,
            &mut t,
            UP_AFTER + ALLOCATION_INTERVAL,
            inputs(600_000.0),
        );
        assert_eq!(
            a.rung().max_size,
            (426, 240),
            "hysteresis after a step down"
        );
        hold(&mut a, &mut t, UP_AFTER_DOWN - UP_AFTER, inputs(600_000.0));
        assert_eq!(a.rung().max_size, (640, 360));
    }

    #[test]
    fn at_the_lowest_rung_the_frame_rate_falls() {
        let mut a = Allocator::default();
        let mut t = Instant::now();
        let out = hold(&mut a, &mut t, Duration::from_secs(2), inputs(150_000.0));
        assert_eq!(out.max_size, Some((426, 240)));
        assert_eq!(out.fps, 15.0, "{out:?}");
        let out = hold(&mut a, &mut t, Duration::from_secs(1), inputs(100_000.0));
        assert_eq!(out.fps, 10.0, "{out:?}");
    }

    #[test]
    fn a_shared_screen_keeps_its_size_and_lowers_its_frame_rate() {
        let mut a = Allocator::default();
        let t = Instant::now();
        let screen = |estimate| Inputs {
            screen: true,
            ..inputs(estimate)
        };
        let wide = a.update(t, screen(3_000_000.0));
        assert_eq!((wide.max_size, wide.fps), (None, 30.0));
        let narrow = a.update(t, screen(400_000.0));
        assert_eq!((narrow.max_size, narrow.fps), (None, 8.0));
    }

    #[test]
    fn measured_loss_sets_opus_expected_loss_capped() {
        let mut a = Allocator::default();
        let t = Instant::now();
        let lossy = |loss| Inputs {
            loss,
            ..inputs(1_000_000.0)
        };
        assert_eq!(a.update(t, lossy(0.031)).audio_loss_percent, 3);
        assert_eq!(a.update(t, lossy(0.6)).audio_loss_percent, 30);
    }
}
