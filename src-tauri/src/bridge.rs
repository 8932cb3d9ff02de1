//! What the UI sees of a call: engine events translated into the event shapes the browser
//! backend emits (ui/backend-browser.js), so one UI serves both. Pure functions, no Tauri:
//! tested here without a window.

use confab_engine::call::{CallEvent, Direction, TransferInfo};
use serde::Serialize;
use serde_json::{Value, json};

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
        }),
        CallEvent::Error { message } => json!({"type": "error", "message": message}),
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

/// One access unit for the page's decoder: `[id length: u8][id][keyframe: u8][Annex B]`.
/// Ids are at most 64 bytes (the server enforces it), so one byte holds the length.
pub fn video_message(id: &str, keyframe: bool, data: &[u8]) -> Vec<u8> {
    let id = &id.as_bytes()[..id.len().min(255)];
    let mut out = Vec::with_capacity(2 + id.len() + data.len());
    out.push(id.len() as u8);
    out.extend_from_slice(id);
    out.push(u8::from(keyframe));
    out.extend_from_slice(data);
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
    fn a_video_message_carries_id_keyframe_flag_and_the_access_unit() {
        let m = video_message("bob", true, &[0, 0, 0, 1, 0x65]);
        assert_eq!(m, [3, b'b', b'o', b'b', 1, 0, 0, 0, 1, 0x65]);
    }

    #[test]
    fn joined_names_the_local_participant() {
        let UiEvent(v) = ui_event("alice", &CallEvent::Joined { room: "r".into() }).unwrap();
        assert_eq!(v, json!({"type": "joined", "room": "r", "user": "alice"}));
    }
}
