//! What the UI sees of a call: engine events translated into the event shapes the browser
//! backend emits (ui/backend-browser.js), so one UI serves both. Pure functions, no Tauri:
//! tested here without a window.

use confab_engine::call::{CallEvent, CallEvents, Direction, SignallingState, TransferInfo};
use confab_media::frame::VideoFrame;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One event for the UI, serialised as `{type: …, …}` like the browser backend's events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UiEvent(pub Value);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn transfer(t: &TransferInfo) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "size": t.size,
        "sha256": t.sha256,
        "peer": t.peer,
        "direction": match t.direction { Direction::Sent => "sent", Direction::Received => "received" },
        "status": t.status.as_str(),
        "bytes": t.bytes,
        "reason": t.reason,
        "path": t.path.as_ref().map(|p| p.display().to_string()),
    })
}

/// The UI event for an engine event; `None` for those the UI does not show (per-frame and
/// per-packet events would flood the IPC).
pub fn ui_event(me: &str, event: &CallEvent) -> Option<UiEvent> {
    let v = match event {
        CallEvent::Joined { room } => json!({"type": "joined", "room": room, "user": me}),
        CallEvent::ParticipantJoined { id, name } => {
            json!({"type": "participant-joined", "id": id, "name": name})
        }
        CallEvent::ParticipantLeft { id } => json!({"type": "participant-left", "id": id}),
        CallEvent::ParticipantState { id, state } => {
            json!({"type": "participant-state", "id": id, "state": state.as_str()})
        }
        CallEvent::Signalling(state) => {
            let mut v = json!({"type": "signalling", "state": state.as_str()});
            if let SignallingState::Reconnecting { attempt, delay_ms } = state {
                v["attempt"] = json!(attempt);
                v["delayMs"] = json!(delay_ms);
            }
            v
        }
        CallEvent::MediaState {
            id,
            video,
            audio,
            screen,
        } => {
            json!({"type": "media-state", "id": id, "video": video, "audio": audio, "screen": screen})
        }
        CallEvent::LocalVideo { screen } => json!({"type": "local-video", "screen": screen}),
        CallEvent::Chat { from, id, text } => {
            json!({"type": "chat", "id": id, "from": from, "text": text, "ts": now_ms(), "mine": false})
        }
        CallEvent::Transfer(t) => json!({"type": "transfer", "transfer": transfer(t)}),
        CallEvent::Stats { id, stats } => json!({
            "type": "stats",
            "id": id,
            "state": "connected",
            "bitrateIn": stats.bitrate_in_bps,
            "bitrateOut": stats.bitrate_out_bps,
            "rtt": stats.rtt_ms.map(|ms| ms / 1000.0),
            "loss": stats.loss,
            "fps": stats.fps.round(),
            "framesDecoded": stats.frames_decoded,
            "available": stats.available_bps,
            "lossOut": stats.loss_out,
            "sentWidth": stats.sent_width,
            "sentHeight": stats.sent_height,
            "sentFps": stats.sent_fps,
            "quality": stats.quality,
        }),
        CallEvent::Error { message } => json!({"type": "error", "message": message}),
        CallEvent::ParticipantRecording { id, on } => {
            json!({"type": "recording", "id": id, "on": on})
        }
        CallEvent::RecordingStarted { path } => {
            json!({"type": "recording", "id": me, "on": true, "path": path})
        }
        CallEvent::RecordingStopped {
            path,
            duration,
            error,
            ..
        } => json!({"type": "recording", "id": me, "on": false, "path": path,
            "seconds": duration.as_secs_f64(), "error": error}),
        CallEvent::Left => json!({"type": "left"}),
        // Connected, ChannelOpen, VideoFrame, AudioFrame, and whatever the engine adds.
        _ => return None,
    };
    Some(UiEvent(v))
}

/// The UI's entry for a chat message this participant sent (the engine does not echo it).
pub fn own_chat(me: &str, seq: u64, text: &str) -> UiEvent {
    UiEvent(json!({
        "type": "chat", "id": format!("{me}-local-{seq}"), "from": me, "text": text,
        "ts": now_ms(), "mine": true,
    }))
}

/// Carries a call's events to the page until the call or the page ends: video as raw bytes on
/// `video` (never JSON: it is the one stream that would swamp the IPC), audio levels
/// throttled, everything else through [`ui_event`] on `events`.
/// `notify` sees every other event first (desktop notifications: `notify.rs`).
pub async fn forward(
    me: String,
    mut call: CallEvents,
    events: tauri::ipc::Channel<UiEvent>,
    video: tauri::ipc::Channel<tauri::ipc::InvokeResponseBody>,
    mut notify: impl FnMut(&CallEvent) + Send,
) {
    let mut levels = AudioLevels::default();
    while let Some(event) = call.recv().await {
        let raw = match &event {
            CallEvent::EncodedVideo { id, keyframe, data } => {
                Some(access_unit_message(id, *keyframe, data, now_ms_f64()))
            }
            CallEvent::Picture { id, frame } => Some(picture_message(id, frame, now_ms_f64())),
            _ => None,
        };
        if let Some(message) = raw {
            let _ = video.send(tauri::ipc::InvokeResponseBody::Raw(message));
            continue;
        }
        notify(&event);
        let level = match &event {
            CallEvent::AudioFrame { id, peak, .. } => levels.push(id, *peak, Instant::now()),
            CallEvent::LocalAudio { peak } => levels.push(&me, *peak, Instant::now()),
            CallEvent::ParticipantLeft { id } => {
                levels.forget(id);
                None
            }
            _ => None,
        };
        let ui = level.or_else(|| ui_event(&me, &event));
        if let Some(ui) = ui
            && events.send(ui).is_err()
        {
            return; // the page went away
        }
    }
}

/// How often a participant's audio level reaches the UI: often enough for a speaking
/// indicator that follows speech, rarely enough not to matter on the IPC.
const LEVEL_INTERVAL: Duration = Duration::from_millis(200);

/// Turns per-frame audio peaks (50 a second per participant) into `audio-level` events, at
/// most one per [`LEVEL_INTERVAL`] each: the loudest peak since the previous one, 0–1.
#[derive(Default)]
pub struct AudioLevels {
    pending: HashMap<String, (Instant, u16)>,
}

impl AudioLevels {
    pub fn push(&mut self, id: &str, peak: u16, now: Instant) -> Option<UiEvent> {
        let (since, loudest) = self.pending.entry(id.to_owned()).or_insert((now, 0));
        *loudest = (*loudest).max(peak);
        if now.duration_since(*since) < LEVEL_INTERVAL {
            return None;
        }
        let level = f64::from(*loudest) / f64::from(i16::MAX as u16 + 1);
        *since = now;
        *loudest = 0;
        Some(UiEvent(
            json!({"type": "audio-level", "id": id, "level": (level * 1000.0).round() / 1000.0}),
        ))
    }

    pub fn forget(&mut self, id: &str) {
        self.pending.remove(id);
    }
}

/// What a video message carries after its header.
const KIND_ACCESS_UNIT: u8 = 0;
const KIND_PICTURE: u8 = 1;

/// Milliseconds since the Unix epoch, fractional: the page compares it with
/// `performance.timeOrigin + performance.now()` to measure the latency the app adds.
pub fn now_ms_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// `[kind: u8][id length: u8][id][sent: f64 LE, ms since the epoch]`. Ids are at most 64
/// bytes (the server enforces it), so one byte holds the length.
fn header(kind: u8, id: &str, sent_ms: f64, extra: usize) -> Vec<u8> {
    let id = &id.as_bytes()[..id.len().min(255)];
    let mut out = Vec::with_capacity(10 + id.len() + extra);
    out.push(kind);
    out.push(id.len() as u8);
    out.extend_from_slice(id);
    out.extend_from_slice(&sent_ms.to_le_bytes());
    out
}

/// One access unit for the page's WebCodecs decoder: header, `[keyframe: u8][Annex B]`.
pub fn access_unit_message(id: &str, keyframe: bool, data: &[u8], sent_ms: f64) -> Vec<u8> {
    let mut out = header(KIND_ACCESS_UNIT, id, sent_ms, 1 + data.len());
    out.push(u8::from(keyframe));
    out.extend_from_slice(data);
    out
}

/// One decoded picture, for a webview without an H.264 decoder: header,
/// `[width: u16 LE][height: u16 LE][Y][U][V]` (I420, planes without padding).
pub fn picture_message(id: &str, frame: &VideoFrame, sent_ms: f64) -> Vec<u8> {
    let planes = frame.y.len() + frame.u.len() + frame.v.len();
    let mut out = header(KIND_PICTURE, id, sent_ms, 4 + planes);
    out.extend_from_slice(&(frame.width as u16).to_le_bytes());
    out.extend_from_slice(&(frame.height as u16).to_le_bytes());
    out.extend_from_slice(&frame.y);
    out.extend_from_slice(&frame.u);
    out.extend_from_slice(&frame.v);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_text_is_passed_as_data_for_textcontent_never_rewritten() {
        let e = CallEvent::Chat {
            from: "mallory".into(),
            id: "m-1".into(),
            text: "<img src=x onerror=alert(1)>".into(),
        };
        let UiEvent(v) = ui_event("alice", &e).expect("shown");
        assert_eq!(v["type"], "chat");
        assert_eq!(v["text"], "<img src=x onerror=alert(1)>");
        assert_eq!(v["mine"], false);
    }

    #[test]
    fn per_frame_events_do_not_reach_the_ui() {
        let e = CallEvent::AudioFrame {
            id: "bob".into(),
            samples: 960,
            peak: 100,
        };
        assert_eq!(ui_event("alice", &e), None);
    }

    #[test]
    fn an_access_unit_message_carries_id_send_time_keyframe_flag_and_the_data() {
        let m = access_unit_message("bob", true, &[0, 0, 0, 1, 0x65], 1.5);
        let mut want = vec![KIND_ACCESS_UNIT, 3, b'b', b'o', b'b'];
        want.extend_from_slice(&1.5f64.to_le_bytes());
        want.extend_from_slice(&[1, 0, 0, 0, 1, 0x65]);
        assert_eq!(m, want);
    }

    #[test]
    fn a_picture_message_carries_size_and_the_three_planes_in_order() {
        let mut frame = VideoFrame::black(4, 2);
        frame.y.fill(1);
        frame.u.fill(2);
        frame.v.fill(3);
        let m = picture_message("al", &frame, 0.0);
        let body = &m[2 + 2 + 8..];
        assert_eq!(m[0], KIND_PICTURE);
        assert_eq!(&body[..4], &[4, 0, 2, 0]);
        assert_eq!(&body[4..], &[1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 3]);
    }

    #[test]
    fn audio_levels_are_throttled_and_carry_the_loudest_peak_between_reports() {
        let mut levels = AudioLevels::default();
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        assert_eq!(levels.push("bob", 100, ms(0)), None);
        assert_eq!(levels.push("bob", 16384, ms(20)), None);
        assert_eq!(
            levels.push("carol", 5, ms(20)),
            None,
            "each participant separately"
        );
        let UiEvent(v) = levels
            .push("bob", 10, ms(200))
            .expect("one report after 200 ms");
        assert_eq!(v, json!({"type": "audio-level", "id": "bob", "level": 0.5}));
        assert_eq!(levels.push("bob", 10, ms(220)), None);
        let UiEvent(v) = levels.push("bob", 0, ms(400)).unwrap();
        assert_eq!(
            v["level"], 0.0,
            "the loudest since the last report, not ever"
        );
    }

    #[test]
    fn joined_names_the_local_participant() {
        let UiEvent(v) = ui_event("alice", &CallEvent::Joined { room: "r".into() }).unwrap();
        assert_eq!(v, json!({"type": "joined", "room": "r", "user": "alice"}));
    }
}
