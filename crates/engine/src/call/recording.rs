//! Recording the call (issue 11): this side's view of it — everyone's pictures in the app's
//! grid, everyone's audio mixed, its own included — into one MP4 that plays while it is being
//! written (confab-record).
//!
//! The actor hands the recorder what it already has: who is in the call and their media
//! state, each participant's decoded pictures and audio, and this side's captured pictures
//! (a tap on the capture thread, at the recording's frame rate) and microphone or tone (in
//! `MediaOut::send_audio`). The recorder runs on a thread of its own and never makes the call
//! wait: what it cannot take in time is dropped and counted.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_record::recorder::FPS;
use confab_record::{Feeder, Input, Recording};

use confab_protocol::{AppMessage, RecordingState};

use super::actor::Actor;
use super::events::CallEvent;

/// This side's own pictures go to the recording at most this often (its frame rate).
const OWN_PICTURE_EVERY: Duration = Duration::from_millis(1000 / FPS as u64);

/// A recording in progress.
pub(super) struct ActiveRecording {
    recording: Recording,
    feeder: Feeder,
    path: PathBuf,
}

impl Actor {
    /// Starts recording to `path` (a new file: an existing one is never overwritten).
    pub(super) fn start_recording(&mut self, path: PathBuf) {
        if self.recording.is_some() {
            return self.events.error("already recording");
        }
        let recording = match Recording::start(&path) {
            Ok(r) => r,
            Err(e) => {
                return self
                    .events
                    .error(format!("recording to {}: {e}", path.display()));
            }
        };
        let Some(feeder) = recording.feeder() else {
            return self.events.error("the recorder did not start");
        };
        // Oneself first (the app's grid starts with the local tile), then the others.
        let me = self.config.name.clone();
        feeder.feed(Input::Joined {
            id: me.clone(),
            name: format!("{me} (recording)"),
        });
        let state = self.media.state();
        feeder.feed(Input::Media {
            id: me.clone(),
            video: state.video,
            screen: state.screen,
        });
        for (id, name) in &self.names {
            feeder.feed(Input::Joined {
                id: id.clone(),
                name: name.clone(),
            });
        }
        if let Some(video) = &self.media.video {
            let own = feeder.clone();
            let mut last: Option<Instant> = None;
            video.set_tap(Some(Box::new(move |frame| {
                let now = Instant::now();
                if last.is_some_and(|at| now.duration_since(at) < OWN_PICTURE_EVERY) {
                    return;
                }
                last = Some(now);
                own.feed(Input::Picture {
                    id: me.clone(),
                    frame: Arc::new(frame.clone()),
                });
            })));
        }
        if !self.config.video_delivery.decodes() {
            // The recorder decodes what the call does not, from a keyframe on: each
            // participant is asked for one (what reaches the page goes on meanwhile).
            for p in self.participants.map.values_mut() {
                p.recording_awaits_keyframe = true;
                p.keyframe_requests.ask.notify_one();
            }
        }
        self.media.recording = Some(feeder.clone());
        self.events
            .emit(CallEvent::RecordingStarted { path: path.clone() });
        self.recording = Some(ActiveRecording {
            recording,
            feeder,
            path,
        });
    }

    /// Tells every participant whose channel is open whether this side records.
    pub(super) async fn announce_recording(&self) {
        let message = AppMessage::Recording(RecordingState {
            on: self.recording.is_some(),
        });
        for p in self.participants.map.values().filter(|p| p.channel_open) {
            let _ = p.send(&message).await;
        }
    }

    /// Stops the recording (if one runs), finishes its file and says how it went.
    pub(super) fn stop_recording(&mut self) {
        let Some(active) = self.recording.take() else {
            return;
        };
        if let Some(video) = &self.media.video {
            video.set_tap(None);
        }
        self.media.recording = None;
        let summary = active.recording.stop();
        self.events.emit(CallEvent::RecordingStopped {
            path: active.path,
            duration: summary.duration,
            bytes: summary.bytes,
            dropped_inputs: summary.dropped_inputs,
            error: summary.error,
        });
    }

    /// Gives participant `id`'s next access unit to the recording (when the call does not
    /// decode video itself, the recorder does). Each depends on the one before: after one is
    /// lost (the recorder's queue full), the rest wait for a keyframe, asked for at once,
    /// rather than decode into a broken picture.
    pub(super) fn record_encoded(&mut self, id: &str, data: &Arc<[u8]>, keyframe: bool) {
        let (Some(active), Some(p)) = (&self.recording, self.participants.get_mut(id)) else {
            return;
        };
        if p.recording_awaits_keyframe && !keyframe {
            return;
        }
        let fed = active.feeder.feed(Input::EncodedVideo {
            id: id.to_owned(),
            data: data.clone(),
        });
        p.recording_awaits_keyframe = !fed;
        if !fed {
            p.keyframe_requests.ask.notify_one();
        }
    }

    /// Gives `input` to the recording, if one runs.
    pub(super) fn record(&self, input: Input) {
        if let Some(active) = &self.recording {
            active.feeder.feed(input);
        }
    }

    /// A recording that stopped by itself (a write failed: the disk is full) is ended and
    /// reported; the call goes on. True when it did.
    pub(super) fn check_recording(&mut self) -> bool {
        let ended = self
            .recording
            .as_ref()
            .is_some_and(|a| a.recording.has_ended());
        if ended {
            self.stop_recording();
        }
        ended
    }
}
