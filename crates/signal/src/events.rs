//! What a socket's event asks for, checked: the one place that reads client input.
//!
//! Both hubs (the single node's [`crate::Hub`] and a cluster node's
//! [`crate::cluster::ClusterHub`]) decode every event here first, so a malformed event gets
//! the same clear error whichever server the client reached, and a relayed payload is
//! re-encoded the same way (the server's `from`, no client-supplied extras).

use std::borrow::Cow;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use socketioxide::handler::Value;

use crate::limits::is_valid_id;
use crate::protocol::{ErrorCode, JoinOptions, event};
use crate::rooms::Rejection;

/// A decoded event.
pub(crate) enum Command<'a> {
    Join(JoinRequest),
    Leave,
    Relay(RelayRequest<'a>),
}

/// `join-room`'s arguments, checked.
pub(crate) struct JoinRequest {
    pub room_id: String,
    pub user_id: String,
    pub user_data: serde_json::Value,
    pub options: JoinOptions,
}

/// An offer, answer, candidate or data-channel message to relay.
pub(crate) struct RelayRequest<'a> {
    /// The event name, one of [`crate::metrics::RELAYED_EVENTS`].
    pub name: &'static str,
    pub room_id: Option<Cow<'a, str>>,
    pub to: Option<Cow<'a, str>>,
    body_field: &'static str,
    body: &'a RawValue,
    kind: Option<&'a RawValue>,
}

/// Why an event was refused, and which event it was (when it had a name).
pub(crate) struct Refused {
    pub rejection: Rejection,
    pub event: Option<String>,
}

impl Refused {
    pub fn named(rejection: Rejection, event: &str) -> Self {
        Self {
            rejection,
            event: Some(event.to_owned()),
        }
    }
}

impl From<Rejection> for Refused {
    fn from(rejection: Rejection) -> Self {
        Self {
            rejection,
            event: None,
        }
    }
}

/// The event's JSON text: binary attachments are refused.
pub(crate) fn text(value: &Value) -> Result<&str, Rejection> {
    match value {
        Value::Str(data, bins) if bins.as_ref().is_none_or(|b| b.is_empty()) => Ok(data.as_str()),
        _ => Err(Rejection::new(
            ErrorCode::BinaryNotSupported,
            "binary attachments are not accepted",
        )),
    }
}

/// Tells `socket` its event was refused (the `error` event), and counts it. Both hubs refuse
/// through here.
pub(crate) fn reject<A: socketioxide::adapter::Adapter>(
    metrics: &crate::metrics::Metrics,
    socket: &socketioxide::socket::Socket<A>,
    rejection: Rejection,
    event: Option<&str>,
) {
    metrics.rejected(rejection.code);
    tracing::debug!(sid = %socket.id, code = rejection.code.as_str(), event, "rejected: {}", rejection.message);
    let payload = crate::protocol::ErrorEvent {
        code: rejection.code,
        message: rejection.message,
        event: event.map(str::to_owned),
        to: rejection.to,
    };
    // The sender may already be gone; an error it cannot receive needs no further action.
    let _ = socket.emit(event::ERROR, &payload);
}

/// The refusal for a socket over its rate limit.
pub(crate) fn rate_limited() -> Rejection {
    Rejection::new(ErrorCode::RateLimited, "too many events; slow down")
}

/// Refuses an event over `max_payload` bytes.
pub(crate) fn check_size(raw: &str, max_payload: usize) -> Result<(), Rejection> {
    if raw.len() > max_payload {
        return Err(Rejection::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "event of {} bytes exceeds the limit of {max_payload} bytes",
                raw.len(),
            ),
        ));
    }
    Ok(())
}

/// Decodes an event's JSON array (`[name, args…]`).
pub(crate) fn parse(raw: &str) -> Result<Command<'_>, Refused> {
    // socketioxide has parsed the packet as an array whose first element is a string event
    // name, so this only fails on data it has already accepted as JSON.
    let args: Vec<&RawValue> = serde_json::from_str(raw)
        .map_err(|e| Rejection::new(ErrorCode::InvalidPayload, format!("not JSON: {e}")))?;
    let name: Cow<'_, str> = match args.first().map(|a| serde_json::from_str(a.get())) {
        Some(Ok(name)) => name,
        _ => return Err(invalid("missing event name").into()),
    };
    let named = |rejection: Rejection| Refused {
        rejection,
        event: Some(truncate(&name, 64).to_owned()),
    };
    match name.as_ref() {
        event::JOIN_ROOM => parse_join(&args[1..]).map(Command::Join).map_err(named),
        event::LEAVE_ROOM => Ok(Command::Leave),
        event::OFFER => parse_relay(event::OFFER, &args[1..]).map_err(named),
        event::ANSWER => parse_relay(event::ANSWER, &args[1..]).map_err(named),
        event::ICE_CANDIDATE => parse_relay(event::ICE_CANDIDATE, &args[1..]).map_err(named),
        event::DATA_CHANNEL_MESSAGE => {
            parse_relay(event::DATA_CHANNEL_MESSAGE, &args[1..]).map_err(named)
        }
        other => Err(named(Rejection::new(
            ErrorCode::UnknownEvent,
            format!("unknown event {:?}", truncate(other, 64)),
        ))),
    }
}

fn parse_join(args: &[&RawValue]) -> Result<JoinRequest, Rejection> {
    let [room_id, user_id, rest @ ..] = args else {
        return Err(invalid(
            "join-room takes (roomId, userId, userData[, {secret}])",
        ));
    };
    let room_id = parse_id(room_id, "roomId")?;
    let user_id = parse_id(user_id, "userId")?;
    let user_data = match rest.first() {
        None => serde_json::json!({}),
        Some(raw) => match serde_json::from_str::<serde_json::Value>(raw.get()) {
            Ok(serde_json::Value::Null) => serde_json::json!({}),
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => return Err(invalid("userData must be an object")),
        },
    };
    let options: JoinOptions = match rest.get(1) {
        None => JoinOptions::default(),
        Some(raw) if raw.get() == "null" => JoinOptions::default(),
        Some(raw) => serde_json::from_str(raw.get())
            .map_err(|_| invalid("the fourth argument must be {secret: string}"))?,
    };
    if let Some(secret) = &options.secret
        && (secret.is_empty() || secret.len() > 256)
    {
        return Err(invalid("a secret is 1 to 256 bytes"));
    }
    Ok(JoinRequest {
        room_id,
        user_id,
        user_data,
        options,
    })
}

fn parse_relay<'a>(name: &'static str, args: &[&'a RawValue]) -> Result<Command<'a>, Rejection> {
    let Some(payload) = args.first() else {
        return Err(invalid(format!("{name} needs a payload object")));
    };
    let input: RelayIn<'a> =
        serde_json::from_str(payload.get()).map_err(|e| invalid(format!("{name} payload: {e}")))?;
    for (field, id) in [("roomId", &input.room_id), ("to", &input.to)] {
        if let Some(id) = id
            && !is_valid_id(id)
        {
            return Err(Rejection::new(
                ErrorCode::InvalidId,
                format!("{field} must be 1-64 characters of A-Z a-z 0-9 . _ -"),
            ));
        }
    }
    let (body_field, body) = match name {
        event::OFFER => ("offer", checked_description(input.offer, "offer")?),
        event::ANSWER => ("answer", checked_description(input.answer, "answer")?),
        event::ICE_CANDIDATE => match input.candidate {
            Some(c) if c.get() == "null" || c.get().starts_with('{') => ("candidate", c),
            _ => return Err(invalid("candidate must be an object or null")),
        },
        _ => match input.message {
            Some(m) if m.get() != "null" => ("message", m),
            _ => return Err(invalid("message is missing")),
        },
    };
    let is_chat = name == event::DATA_CHANNEL_MESSAGE;
    Ok(Command::Relay(RelayRequest {
        name,
        room_id: input.room_id,
        to: input.to,
        body_field,
        body,
        kind: if is_chat { input.kind } else { None },
    }))
}

impl RelayRequest<'_> {
    /// The payload every recipient gets: the room and the sender's joined id stamped by the
    /// server, the body as sent, and for chat the server's time. Serialised once, then copied
    /// to each recipient.
    pub fn encode(&self, room_id: &str, from: &str) -> Box<RawValue> {
        let is_chat = self.name == event::DATA_CHANNEL_MESSAGE;
        let field = |f: &str| (self.body_field == f).then_some(self.body);
        let out = Relayed {
            room_id,
            from,
            to: self.to.as_deref(),
            offer: field("offer"),
            answer: field("answer"),
            candidate: field("candidate"),
            message: field("message"),
            kind: self.kind,
            timestamp: is_chat
                .then(|| humantime::format_rfc3339_millis(SystemTime::now()).to_string()),
        };
        serde_json::value::to_raw_value(&out)
            .expect("a struct of strings and JSON values always serialises")
    }

    /// The refusal for an event addressed to one participant whose connection is gone (held
    /// for its return): the sender learns at once that no answer will come.
    pub fn unreachable(&self, to: &str) -> Rejection {
        Rejection {
            to: Some(to.to_owned()),
            ..Rejection::new(
                ErrorCode::RecipientUnreachable,
                format!(
                    "{to} is not connected right now; {} was not delivered",
                    self.name
                ),
            )
        }
    }
}

/// The fields the server reads from a relayed payload. Anything else is dropped, including a
/// client-supplied `from`: the server stamps the sender's joined id.
#[derive(Deserialize)]
struct RelayIn<'a> {
    #[serde(default, rename = "roomId", borrow)]
    room_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    to: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "present")]
    offer: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    answer: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    candidate: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    message: Option<&'a RawValue>,
    #[serde(default, rename = "type", borrow, deserialize_with = "present")]
    kind: Option<&'a RawValue>,
}

/// Keeps a present `null` as `Some("null")`, unlike `Option`'s own impl; absence stays `None`
/// through `#[serde(default)]`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relayed<'a> {
    room_id: &'a str,
    from: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offer: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidate: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a RawValue>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
}

fn checked_description<'a>(
    raw: Option<&'a RawValue>,
    field: &str,
) -> Result<&'a RawValue, Rejection> {
    #[derive(Deserialize)]
    struct Shape<'a> {
        #[serde(rename = "type", borrow)]
        _kind: Cow<'a, str>,
        #[serde(rename = "sdp", borrow)]
        _sdp: Cow<'a, str>,
    }
    let raw = raw.ok_or_else(|| invalid(format!("{field} is missing")))?;
    serde_json::from_str::<Shape<'_>>(raw.get())
        .map_err(|_| invalid(format!("{field} must be {{type: string, sdp: string}}")))?;
    Ok(raw)
}

fn parse_id(raw: &RawValue, what: &str) -> Result<String, Rejection> {
    let id: String =
        serde_json::from_str(raw.get()).map_err(|_| invalid(format!("{what} must be a string")))?;
    if !is_valid_id(&id) {
        return Err(Rejection::new(
            ErrorCode::InvalidId,
            format!("{what} must be 1-64 characters of A-Z a-z 0-9 . _ -"),
        ));
    }
    Ok(id)
}

fn invalid(message: impl Into<String>) -> Rejection {
    Rejection::new(ErrorCode::InvalidPayload, message)
}

/// Cuts hostile event names before they are echoed back or logged.
fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
