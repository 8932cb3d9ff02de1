//! A call's events with their arrival times, recorded in the background, and waits on them
//! that fail with a message instead of hanging.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use confab_engine::call::{self, CallEvent};
use tokio::sync::Notify;

/// Upper bound on any wait; generous because CI machines are loaded.
pub const WAIT: Duration = Duration::from_secs(45);

/// Everything a call reported, with when.
#[derive(Default)]
pub struct Log {
    pub events: Vec<(Instant, CallEvent)>,
}

#[derive(Clone)]
pub struct Recorder {
    log: Arc<Mutex<Log>>,
    changed: Arc<Notify>,
}

impl Recorder {
    pub fn start(mut events: call::CallEvents) -> Self {
        let r = Recorder {
            log: Arc::default(),
            changed: Arc::new(Notify::new()),
        };
        let (log, changed) = (r.log.clone(), r.changed.clone());
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                log.lock().expect("log").events.push((Instant::now(), e));
                changed.notify_waiters();
            }
        });
        r
    }

    /// Waits until `pred` holds over the log; panics after [`WAIT`] with `what`.
    pub async fn until<T>(&self, what: &str, pred: impl Fn(&Log) -> Option<T>) -> T {
        tokio::time::timeout(WAIT, async {
            loop {
                let wake = self.changed.notified();
                if let Some(t) = pred(&self.log.lock().expect("log")) {
                    return t;
                }
                wake.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// When the first event matching `pred` after `since` arrived.
    pub async fn first_after(
        &self,
        what: &str,
        since: Instant,
        pred: impl Fn(&CallEvent) -> bool,
    ) -> Instant {
        self.until(what, |log| {
            log.events
                .iter()
                .find(|(at, e)| *at >= since && pred(e))
                .map(|(at, _)| *at)
        })
        .await
    }

    /// The events matching `pred` that arrived between `from` and `to`, with their times.
    pub fn matching(
        &self,
        from: Instant,
        to: Instant,
        pred: impl Fn(&CallEvent) -> bool,
    ) -> Vec<(Instant, CallEvent)> {
        self.log
            .lock()
            .expect("log")
            .events
            .iter()
            .filter(|(at, e)| *at >= from && *at <= to && pred(e))
            .cloned()
            .collect()
    }

    /// Arrival times of decoded frames from `id` between `from` and `to`.
    pub fn frames(&self, id: &str, from: Instant, to: Instant) -> Vec<Instant> {
        self.log
            .lock()
            .expect("log")
            .events
            .iter()
            .filter(|(at, e)| {
                *at >= from
                    && *at <= to
                    && matches!(e, CallEvent::VideoFrame { id: f, .. } if f == id)
            })
            .map(|(at, _)| *at)
            .collect()
    }

    pub fn left(&self) -> Vec<String> {
        self.log
            .lock()
            .expect("log")
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                CallEvent::ParticipantLeft { id } => Some(id.clone()),
                _ => None,
            })
            .collect()
    }
}

pub fn video_from(id: &'static str) -> impl Fn(&CallEvent) -> bool {
    move |e| matches!(e, CallEvent::VideoFrame { id: f, .. } if f == id)
}

pub fn chat(text: &'static str) -> impl Fn(&CallEvent) -> bool {
    move |e| matches!(e, CallEvent::Chat { text: t, .. } if t == text)
}

pub fn largest_gap(frames: &[Instant]) -> Duration {
    frames
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or(Duration::MAX)
}
