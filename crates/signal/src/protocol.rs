//! The signalling vocabulary shared by the server, the Rust client and the tests.
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

/// One participant as the room describes it to others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomUser {
    pub user_id: String,
    pub user_data: Value,
}

/// Sent to a joiner: everyone in the room except the joiner, in joining order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomState {
    pub users: Vec<RoomUser>,
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
pub struct JoinOptions {
    /// Set by a room's first joiner; later joiners must present the same secret, and the room
    /// is not listed by `GET /api/rooms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
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
}

impl ErrorCode {
    /// Every code, in declaration order: the label values of the rejection metric.
    pub const ALL: [ErrorCode; 11] = [
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

/// `offer`, `answer` and `ice-candidate` as the server delivers them: `from` is the sender's
/// joined id, stamped by the server; `body` is the event's own field (`offer`, `answer` or
/// `candidate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signal<B> {
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

/// `data-channel-message` as the server delivers it (the fallback path for chat when a data
/// channel cannot open).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataChannelMessage {
    pub room_id: String,
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub message: Value,
    #[serde(rename = "type", default)]
    pub kind: Value,
    /// RFC 3339, set by the server when it relays.
    pub timestamp: String,
}
