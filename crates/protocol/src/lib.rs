//! confab-protocol: the one vocabulary of Confab, shared by the server (`confab-signal`), the
//! call engine, the benchmarks and the tests.
//!
//! Two layers, each typed once here:
//! - the **signalling** events (Socket.IO, below), and
//! - the **data-channel** messages the participants exchange directly ([`AppMessage`]): chat,
//!   media state, file transfer. The browser UI speaks the same JSON (`ui/transfer.js`,
//!   `ui/backend-browser.js`).
//!
//! Event names and payload shapes are those of the reference design (a Socket.IO v5 server,
//! <https://socket.io/docs/v4/socket-io-protocol/>), so a stock `socket.io-client` v4 speaks to
//! Confab unchanged. Two deliberate differences, both fixes of the reference's bugs:
//! `offer`/`answer`/`ice-candidate` go to the `to` participant only, and `from` is always
//! stamped by the server with the sender's joined participant id.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Socket.IO event names, one vocabulary for server, client, UI and tests.
pub mod event {
    /// Client → server: `(roomId, userId, userData[, {secret}])`.
    pub const JOIN_ROOM: &str = "join-room";
    /// Client → server: no arguments; leaves the current room.
    pub const LEAVE_ROOM: &str = "leave-room";
    /// Both ways: `{roomId, to, from, offer}`.
    pub const OFFER: &str = "offer";
    /// Both ways: `{roomId, to, from, answer}`.
    pub const ANSWER: &str = "answer";
    /// Both ways: `{roomId, to, from, candidate}` (`candidate: null` marks end of candidates).
    pub const ICE_CANDIDATE: &str = "ice-candidate";
    /// Both ways: `{roomId, to?, from, message, type}`; the server adds `timestamp`.
    pub const DATA_CHANNEL_MESSAGE: &str = "data-channel-message";
    /// Server → others in the room when someone joins.
    pub const USER_JOINED: &str = "user-joined";
    /// Server → others in the room when someone leaves or disconnects.
    pub const USER_LEFT: &str = "user-left";
    /// Server → the joiner: the participants already in the room.
    pub const ROOM_STATE: &str = "room-state";
    /// Server → the sender of a rejected event.
    pub const ERROR: &str = "error";
}

/// The arguments of `join-room`, in the reference design's positional form
/// `(roomId, userId, userData[, options])`.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinRoom {
    pub room_id: String,
    pub user_id: String,
    pub user_data: UserData,
    pub options: JoinOptions,
}

impl JoinRoom {
    /// The event's argument list as Socket.IO sends it; the options are left out when empty
    /// (the reference server's three-argument form).
    pub fn to_args(&self) -> Vec<Value> {
        let mut args = vec![
            Value::String(self.room_id.clone()),
            Value::String(self.user_id.clone()),
            serde_json::to_value(&self.user_data).expect("a struct of strings serialises"),
        ];
        if self.options != JoinOptions::default() {
            args.push(serde_json::to_value(&self.options).expect("a struct of strings serialises"));
        }
        args
    }
}

/// What Confab's clients put in `userData`. The server stores any object and hands it out as
/// it came; this is the part the clients read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserData {
    /// The display name; clients show the user id where there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl UserData {
    /// Reads the part Confab understands from whatever object a peer sent; anything else
    /// (another client's fields, wrong types) gives no name rather than an error.
    pub fn from_value(v: &Value) -> Self {
        Self {
            name: v.get("name").and_then(Value::as_str).map(str::to_owned),
        }
    }
}

/// One participant as the room describes it to others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomUser {
    pub user_id: String,
    pub user_data: Value,
}

/// Sent to a joiner: everyone in the room except the joiner, in joining order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomState {
    pub users: Vec<RoomUser>,
    /// Confab's addition: a secret that lets this participant take its place in the room back
    /// at once after losing its connection, even before the server has noticed the old one is
    /// dead (see [`JoinOptions::resume_token`]). Unguessable; given only to the joiner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_token: Option<String>,
}

/// Sent to the others in a room when a participant joins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserJoined {
    pub user_id: String,
    pub user_data: Value,
    /// Participants in the room including the joiner.
    pub room_size: usize,
}

/// Sent to the others in a room when a participant leaves or its socket goes away.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserLeft {
    pub user_id: String,
}

/// The optional fourth argument of `join-room`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinOptions {
    /// Set by a room's first joiner; later joiners must present the same secret, and the room
    /// is not listed by `GET /api/rooms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The token of an earlier [`RoomState`] for this room and user id: the server admits the
    /// returning participant at once, in place of its old socket, without telling the room
    /// anyone left (their peer connections never stopped). A wrong or stale token is ignored:
    /// the join is then judged like any other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_token: Option<String>,
}

/// Why the server rejected an event. Serialised in kebab-case (`"room-full"`), the `code` of
/// the `error` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// Wrong argument types, missing fields, `null`, or not JSON at all.
    InvalidPayload,
    /// The event's JSON exceeds the configured size limit.
    PayloadTooLarge,
    /// A room or participant id outside 1–64 characters of `[A-Za-z0-9._-]`.
    InvalidId,
    /// The room already holds its capacity of participants.
    RoomFull,
    /// The room has a secret and the joiner did not present it.
    WrongSecret,
    /// Another live socket already is this participant in this room.
    UserIdTaken,
    /// The socket sends events faster than its rate limit allows.
    RateLimited,
    /// A relayed event from a socket that has not joined (or names another room).
    NotInRoom,
    /// `to` names nobody in the sender's room.
    UnknownRecipient,
    /// An event name the server does not know.
    UnknownEvent,
    /// Binary attachments are not part of the signalling protocol.
    BinaryNotSupported,
    /// The `to` participant is in the room but its connection is gone (it may come back with
    /// its resume token): the event was not delivered, and the sender should not wait for a
    /// reply to it.
    RecipientUnreachable,
    /// The server could not reach the state it shares with other servers (a cluster node
    /// without Redis): nothing was done, and the event may be sent again.
    ServerUnavailable,
}

impl ErrorCode {
    /// Every code, in declaration order: the label values of the rejection metric.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::InvalidPayload,
        ErrorCode::PayloadTooLarge,
        ErrorCode::InvalidId,
        ErrorCode::RoomFull,
        ErrorCode::WrongSecret,
        ErrorCode::UserIdTaken,
        ErrorCode::RateLimited,
        ErrorCode::NotInRoom,
        ErrorCode::UnknownRecipient,
        ErrorCode::UnknownEvent,
        ErrorCode::BinaryNotSupported,
        ErrorCode::RecipientUnreachable,
        ErrorCode::ServerUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidPayload => "invalid-payload",
            ErrorCode::PayloadTooLarge => "payload-too-large",
            ErrorCode::InvalidId => "invalid-id",
            ErrorCode::RoomFull => "room-full",
            ErrorCode::WrongSecret => "wrong-secret",
            ErrorCode::UserIdTaken => "user-id-taken",
            ErrorCode::RateLimited => "rate-limited",
            ErrorCode::NotInRoom => "not-in-room",
            ErrorCode::UnknownRecipient => "unknown-recipient",
            ErrorCode::UnknownEvent => "unknown-event",
            ErrorCode::BinaryNotSupported => "binary-not-supported",
            ErrorCode::RecipientUnreachable => "recipient-unreachable",
            ErrorCode::ServerUnavailable => "server-unavailable",
        }
    }
}

/// The payload of the `error` event the server sends to whoever sent a rejected event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    pub code: ErrorCode,
    pub message: String,
    /// The event that was rejected, when the server could read its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Whom the rejected event was for (with `recipient-unreachable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// `GET /api/rooms`, in the reference's JSON shape. Rooms with a secret are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomsResponse {
    pub total_rooms: usize,
    pub rooms: Vec<RoomSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomSummary {
    pub room_id: String,
    pub user_count: usize,
    pub users: Vec<String>,
}

/// A session description as browsers serialise `RTCSessionDescriptionInit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionDescription {
    #[serde(rename = "type")]
    pub kind: String,
    pub sdp: String,
}

/// An ICE candidate as browsers serialise `RTCIceCandidateInit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidateInit {
    pub candidate: String,
    #[serde(default)]
    pub sdp_mid: Option<String>,
    #[serde(default, rename = "sdpMLineIndex")]
    pub sdp_mline_index: Option<u16>,
    #[serde(default)]
    pub username_fragment: Option<String>,
}

/// `offer`, `answer` and `ice-candidate`, both ways. Clients fill `from` with their own id: the
/// reference design's Node server trusts and relays it; Confab's server overwrites it with the
/// sender's joined id. `body` is the event's own field (`offer`, `answer` or `candidate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signal<B> {
    /// Always sent; absent from what the reference Node server relays (read as empty).
    #[serde(default)]
    pub room_id: String,
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(flatten)]
    pub body: B,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferBody {
    pub offer: SessionDescription,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerBody {
    pub answer: SessionDescription,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateBody {
    /// `None` marks the end of candidates.
    pub candidate: Option<IceCandidateInit>,
}

/// `data-channel-message`, both ways: the fallback path for chat when a data channel cannot
/// open. `message` is an [`AppMessage`] from Confab's clients (anything from others).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataChannelMessage {
    /// Always sent; absent from what the reference Node server relays (read as empty).
    #[serde(default)]
    pub room_id: String,
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub message: Value,
    #[serde(rename = "type", default)]
    pub kind: Value,
    /// RFC 3339, set by the server when it relays; clients send none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// A JSON text message on a pair's data channel (or, for chat, in a [`DataChannelMessage`]).
/// Tagged by `t`, in the browser UI's shapes; documented for both in docs/data-channel.md. File chunks are binary frames, not messages:
/// `[id length: u8][id: ASCII][payload]` (confab-engine's `transfer` module).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "kebab-case")]
pub enum AppMessage {
    Chat(Chat),
    MediaState(MediaState),
    /// The sender records the call (`on`), or stopped: everyone shows it on the sender's
    /// tile and in the chat. Sent to every open channel when it changes, and to a channel
    /// that opens while a recording runs.
    Recording(RecordingState),
    /// The sender offers a file; the receiver answers `file-accept` or `file-decline`.
    FileOffer(FileOffer),
    FileAccept(TransferRef),
    FileDecline(FileDecline),
    /// Either side stops a transfer.
    FileCancel(TransferRef),
    /// The sender has sent every chunk; the receiver verifies and answers `file-result`.
    FileEnd(TransferRef),
    FileResult(FileResult),
    /// A message type this version does not know (a newer peer's): ignored.
    #[serde(other)]
    Unknown,
}

impl AppMessage {
    /// The JSON text sent on the channel.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("messages of strings, numbers and booleans serialise")
    }
}

/// A chat message. `id` is unique per sender; receivers show a (sender, id) once, whichever
/// path (data channel or signalling fallback) delivered it first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    pub id: String,
    pub text: String,
    /// Milliseconds since the Unix epoch at the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
}

/// What the sender currently sends. Missing fields mean "on" for video and audio (older
/// peers sent only what changed), "off" for screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaState {
    #[serde(default = "yes")]
    pub video: bool,
    #[serde(default = "yes")]
    pub audio: bool,
    /// The video shows a screen, not a camera.
    #[serde(default)]
    pub screen: bool,
}

fn yes() -> bool {
    true
}

/// Whether the sender is recording the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingState {
    pub on: bool,
}

/// A file offer as the sender describes it; the receiver validates every field before it
/// believes any (confab-engine's `transfer::Offer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileOffer {
    pub id: String,
    pub name: String,
    pub size: u64,
    /// Lowercase hex SHA-256 of the whole file.
    pub sha256: String,
    #[serde(default)]
    pub mime: String,
}

/// The messages that only name a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRef {
    pub id: String,
}

/// The receiver will not take the file; `reason` says why when it was not the user's choice
/// (too many pending offers, not enough disk space).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDecline {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The receiver's verdict after `file-end`: size and SHA-256 matched (`ok`), or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileResult {
    pub id: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn app_messages_read_the_browser_ui_shapes() {
        let chat: AppMessage =
            serde_json::from_value(json!({"t": "chat", "id": "u-1", "text": "<b>hi</b>", "ts": 5}))
                .expect("a browser chat message");
        assert_eq!(
            chat,
            AppMessage::Chat(Chat {
                id: "u-1".into(),
                text: "<b>hi</b>".into(),
                ts: Some(5)
            })
        );
        let state: AppMessage = serde_json::from_value(json!({"t": "media-state", "audio": false}))
            .expect("a partial media state");
        assert_eq!(
            state,
            AppMessage::MediaState(MediaState {
                video: true,
                audio: false,
                screen: false
            })
        );
        let recording: AppMessage = serde_json::from_value(json!({"t": "recording", "on": true}))
            .expect("a recording announcement");
        assert_eq!(
            recording,
            AppMessage::Recording(RecordingState { on: true })
        );
        assert_eq!(
            AppMessage::Recording(RecordingState { on: false }).to_text(),
            r#"{"t":"recording","on":false}"#
        );
        assert!(serde_json::from_value::<AppMessage>(json!({"t": "recording"})).is_err());
        let newer: AppMessage = serde_json::from_value(json!({"t": "hologram", "x": 1}))
            .expect("an unknown type is not an error");
        assert_eq!(newer, AppMessage::Unknown);
        assert!(serde_json::from_value::<AppMessage>(json!({"t": "chat", "id": 3})).is_err());
    }

    #[test]
    fn app_messages_write_what_the_browser_ui_reads() {
        let v: Value = serde_json::from_str(
            &AppMessage::FileResult(FileResult {
                id: "x".into(),
                ok: false,
                reason: Some("hash".into()),
            })
            .to_text(),
        )
        .expect("JSON");
        assert_eq!(
            v,
            json!({"t": "file-result", "id": "x", "ok": false, "reason": "hash"})
        );
    }

    #[test]
    fn join_args_are_positional_and_options_only_when_set() {
        let mut join = JoinRoom {
            room_id: "r".into(),
            user_id: "u".into(),
            user_data: UserData {
                name: Some("U".into()),
            },
            options: JoinOptions::default(),
        };
        assert_eq!(
            join.to_args(),
            vec![json!("r"), json!("u"), json!({"name": "U"})]
        );
        join.options.resume_token = Some("t".into());
        assert_eq!(join.to_args()[3], json!({"resumeToken": "t"}));
    }

    #[test]
    fn what_the_reference_node_server_relays_is_read() {
        // It forwards {offer, from, to} and {answer, from}, without roomId.
        let offer: Signal<OfferBody> = serde_json::from_value(
            json!({"offer": {"type": "offer", "sdp": "v=0"}, "from": "a", "to": "b"}),
        )
        .expect("the reference server's offer");
        assert_eq!((offer.from.as_str(), offer.to.as_deref()), ("a", Some("b")));
        let answer: Signal<AnswerBody> = serde_json::from_value(
            json!({"answer": {"type": "answer", "sdp": "v=0"}, "from": "b"}),
        )
        .expect("the reference server's answer");
        assert_eq!(answer.to, None);
    }

    #[test]
    fn signals_carry_room_to_and_from() {
        let offer = Signal {
            room_id: "r".into(),
            from: "a".into(),
            to: Some("b".into()),
            body: OfferBody {
                offer: SessionDescription {
                    kind: "offer".into(),
                    sdp: "v=0".into(),
                },
            },
        };
        assert_eq!(
            serde_json::to_value(&offer).expect("serialises"),
            json!({"roomId": "r", "from": "a", "to": "b", "offer": {"type": "offer", "sdp": "v=0"}})
        );
    }
}
