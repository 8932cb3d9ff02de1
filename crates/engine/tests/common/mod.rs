//! Shared helpers for the call tests: what a call has seen, and waiting on its events.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use confab_engine::call::CallEvent;
use confab_engine::call::{AUDIBLE_PEAK, CallEvents};
use confab_engine::stats::ParticipantStats;

/// Upper bound on any wait; generous because CI machines are loaded.
pub const WAIT: Duration = Duration::from_secs(45);

/// Everything a call reported, per participant.
#[derive(Default, Debug)]
pub struct Seen {
    /// Stamped frame numbers of decoded frames, in arrival order.
    pub frames: HashMap<String, Vec<u32>>,
    /// Audible decoded audio frames (peak ≥ `AUDIBLE_PEAK`).
    pub audio: HashMap<String, usize>,
    pub chat: Vec<(String, String)>,
    pub channel_open: Vec<String>,
    pub stats: HashMap<String, ParticipantStats>,
    /// Glass-to-glass latencies of decoded frames, ms.
    pub latency: Vec<u32>,
}

/// Records events into `seen` until `done` holds; panics on a call error or after [`WAIT`].
pub async fn until(events: &mut CallEvents, seen: &mut Seen, done: impl Fn(&Seen) -> bool) {
    tokio::time::timeout(WAIT, async {
        while !done(seen) {
            match events.recv().await.expect("call running") {
                CallEvent::VideoFrame {
                    id,
                    frame_number,
                    latency_ms,
                    ..
                } => {
                    let n = frame_number.expect("synthetic frames carry a readable stamp");
                    seen.latency.extend(latency_ms);
                    seen.frames.entry(id).or_default().push(n);
                }
                CallEvent::AudioFrame { id, samples, peak } => {
                    assert_eq!(samples, 960, "20 ms at 48 kHz");
                    // Sound, not packets: silence and loss concealment do not count.
                    if peak >= AUDIBLE_PEAK {
                        *seen.audio.entry(id).or_default() += 1;
                    }
                }
                CallEvent::Chat { from, text, .. } => seen.chat.push((from, text)),
                CallEvent::ChannelOpen { id } => seen.channel_open.push(id),
                CallEvent::Stats { id, stats } => {
                    seen.stats.insert(id, stats);
                }
                CallEvent::Error { message } => panic!("call error: {message}"),
                _ => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out; seen so far: {seen:?}"));
}

/// The next event matching `pred`, within [`WAIT`]; panics on call errors.
pub async fn next_where(events: &mut CallEvents, pred: impl Fn(&CallEvent) -> bool) -> CallEvent {
    tokio::time::timeout(WAIT, async {
        loop {
            let e = events.recv().await.expect("call running");
            if let CallEvent::Error { message } = &e {
                panic!("call error: {message}");
            }
            if pred(&e) {
                return e;
            }
        }
    })
    .await
    .expect("event in time")
}
