//! The Socket.IO hub: validates every event, applies [`Rooms`] and delivers the outcome.
//!
//! Every event of a socket goes through one synchronous handler ([`EventHandler`]) that
//! socketioxide calls on the socket's receive task, so one sender's events are relayed in the
//! order they were sent (socketioxide's own async handlers are spawned as separate tasks and
//! may overtake each other: an ICE candidate must never arrive before its offer).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::SocketRef;
use socketioxide::handler::{MessageHandler, Value};
use socketioxide::socket::DisconnectReason;
use socketioxide::socket::{Sid, Socket};

use crate::Config;
use crate::limits::{TokenBucket, is_valid_id};
use crate::metrics::Metrics;
use crate::protocol::{ErrorCode, ErrorEvent, JoinOptions, RoomsResponse, event};
use crate::rooms::{Credentials, Notice, Peer, Rejection, Rooms};

impl Peer for SocketRef {
    fn is_live(&self) -> bool {
        self.connected()
    }
}

struct HubState {
    rooms: Rooms<Sid, SocketRef>,
    buckets: HashMap<Sid, TokenBucket>,
}

/// Shared state of one signalling server.
pub struct Hub {
    state: Mutex<HubState>,
    /// Events of sockets that socketioxide has acknowledged but not yet marked connected.
    ///
    /// socketioxide sends the CONNECT acknowledgement *before* it marks the socket
    /// connected, and `emit` on a socket not marked connected fails as if it were closed.
    /// A client's `join-room` can arrive in that window (seen under load: the joiner's
    /// `room-state` was dropped and the call never started), so until the connect handler
    /// has run, a socket's events wait here, in order. Held while they are replayed, so a
    /// later event of the same socket cannot overtake them.
    early: Mutex<HashMap<Sid, Vec<Value>>>,
    pub(crate) metrics: Metrics,
    config: Config,
    /// The server is closing every session: nobody is told anyone left.
    shutting_down: std::sync::atomic::AtomicBool,
}

impl Hub {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            state: Mutex::new(HubState {
                rooms: Rooms::new(config.room_capacity),
                buckets: HashMap::new(),
            }),
            early: Mutex::new(HashMap::new()),
            metrics: Metrics::new(),
            config,
            shutting_down: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn early(&self) -> std::sync::MutexGuard<'_, HashMap<Sid, Vec<Value>>> {
        self.early.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        // A panic while holding the lock would be a bug in `Rooms`; the state it guards is
        // still consistent enough to keep serving rather than take every call down with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn rooms(&self) -> RoomsResponse {
        self.lock().rooms.summary()
    }

    pub(crate) fn on_connect(self: &Arc<Self>, socket: SocketRef) {
        let bucket = TokenBucket::new(
            Instant::now(),
            self.config.rate_limit_per_sec,
            self.config.rate_limit_burst,
        );
        self.lock().buckets.insert(socket.id, bucket);
        self.early().insert(socket.id, Vec::new());
        self.metrics.sockets.inc();
        socket.on_fallback(EventHandler(self.clone()));
        let hub = self.clone();
        socket.on_disconnect(async move |s: SocketRef, reason: DisconnectReason| {
            hub.on_disconnect(&s, reason)
        });
    }

    /// socketioxide's connect handler: runs once the socket is marked connected, so the
    /// events that arrived before can be handled now.
    pub(crate) fn on_connected(&self, socket: &SocketRef) {
        let mut early = self.early();
        for value in early.remove(&socket.id).unwrap_or_default() {
            self.on_event(socket, &value);
        }
    }

    /// Handles `value` now, or keeps it for [`Hub::on_connected`] while the socket is not
    /// marked connected yet.
    fn on_event_in_order(&self, socket: &SocketRef, value: Value) {
        let mut early = self.early();
        if let Some(queued) = early.get_mut(&socket.id) {
            if !socket.connected() {
                queued.push(value);
                return;
            }
            // Connected, but the connect handler has not run yet: replay here.
            for earlier in early.remove(&socket.id).unwrap_or_default() {
                self.on_event(socket, &earlier);
            }
            self.on_event(socket, &value);
            return;
        }
        drop(early);
        self.on_event(socket, &value);
    }

    /// From now on sockets that go away leave their rooms silently (see [`crate::serve`]).
    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// A socket went away. One that stopped answering pings (its network vanished, or its
    /// process is frozen) keeps its place in the room for [`crate::PARTICIPANT_HOLD`]: it
    /// may come back with its resume token, and its calls may still be running. Any other end
    /// (a closed connection: the process exited or was killed, or left) is final at once.
    fn on_disconnect(self: &Arc<Self>, socket: &SocketRef, reason: DisconnectReason) {
        self.early().remove(&socket.id);
        let held = reason == DisconnectReason::HeartbeatTimeout;
        let shutting_down = self
            .shutting_down
            .load(std::sync::atomic::Ordering::Relaxed);
        {
            let mut st = self.lock();
            st.buckets.remove(&socket.id);
            // Held: the member stays with its dead socket (events for it are not delivered);
            // a resume moves it to the new socket, and then the expiry below finds nothing.
            if !held {
                let notices = st.rooms.leave(socket.id);
                self.update_gauges(&st);
                if !shutting_down {
                    self.deliver(notices);
                }
            }
        }
        if held {
            let hub = self.clone();
            let sid = socket.id;
            tokio::spawn(async move {
                tokio::time::sleep(crate::PARTICIPANT_HOLD).await;
                let mut st = hub.lock();
                let notices = st.rooms.leave(sid);
                hub.update_gauges(&st);
                hub.deliver(notices);
            });
        }
        self.metrics.sockets.dec();
        tracing::debug!(sid = %socket.id, %reason, "socket disconnected");
    }

    fn update_gauges(&self, st: &HubState) {
        self.metrics.rooms.set(st.rooms.room_count() as i64);
        self.metrics
            .participants
            .set(st.rooms.participant_count() as i64);
    }

    fn reject(&self, socket: &Socket, rejection: Rejection, event: Option<&str>) {
        self.metrics.rejected(rejection.code);
        tracing::debug!(sid = %socket.id, code = rejection.code.as_str(), event, "rejected: {}", rejection.message);
        let payload = ErrorEvent {
            code: rejection.code,
            message: rejection.message,
            event: event.map(str::to_owned),
            to: rejection.to,
        };
        // The sender may already be gone; an error it cannot receive needs no further action.
        let _ = socket.emit(event::ERROR, &payload);
    }

    /// Queues membership notices on their sockets. Called with the state lock held, so each
    /// recipient sees membership changes in the order they happened (a joiner's `room-state`
    /// before any `user-joined` that followed its join); `emit` only enqueues, it never waits.
    fn deliver(&self, notices: Vec<(SocketRef, Notice)>) {
        for (peer, notice) in notices {
            let sent = match &notice {
                Notice::RoomState(p) => peer.emit(event::ROOM_STATE, p),
                Notice::UserJoined(p) => peer.emit(event::USER_JOINED, p),
                Notice::UserLeft(p) => peer.emit(event::USER_LEFT, p),
            };
            if let Err(e) = sent {
                tracing::debug!(sid = %peer.id, "membership notice dropped: {e}");
                self.metrics.dropped.inc();
            }
        }
    }

    /// Entry point for every event a socket sends.
    fn on_event(&self, socket: &SocketRef, value: &Value) {
        let raw = match value {
            Value::Str(data, bins) if bins.as_ref().is_none_or(|b| b.is_empty()) => data.as_str(),
            _ => {
                return self.reject(
                    socket,
                    Rejection::new(
                        ErrorCode::BinaryNotSupported,
                        "binary attachments are not accepted",
                    ),
                    None,
                );
            }
        };
        let allowed = self
            .lock()
            .buckets
            .get_mut(&socket.id)
            .is_some_and(|b| b.try_take(Instant::now()));
        if !allowed {
            return self.reject(
                socket,
                Rejection::new(ErrorCode::RateLimited, "too many events; slow down"),
                None,
            );
        }
        if raw.len() > self.config.max_payload {
            return self.reject(
                socket,
                Rejection::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "event of {} bytes exceeds the limit of {} bytes",
                        raw.len(),
                        self.config.max_payload
                    ),
                ),
                None,
            );
        }
        // socketioxide has parsed the packet as an array whose first element is a string event
        // name, so this only fails on data it has already accepted as JSON.
        let args: Vec<&RawValue> = match serde_json::from_str(raw) {
            Ok(args) => args,
            Err(e) => {
                return self.reject(
                    socket,
                    Rejection::new(ErrorCode::InvalidPayload, format!("not JSON: {e}")),
                    None,
                );
            }
        };
        let name: Cow<'_, str> = match args.first().map(|a| serde_json::from_str(a.get())) {
            Some(Ok(name)) => name,
            _ => {
                return self.reject(
                    socket,
                    Rejection::new(ErrorCode::InvalidPayload, "missing event name"),
                    None,
                );
            }
        };
        let result = match name.as_ref() {
            event::JOIN_ROOM => self.join(socket, &args[1..]),
            event::LEAVE_ROOM => {
                self.leave(socket);
                Ok(())
            }
            event::OFFER | event::ANSWER | event::ICE_CANDIDATE | event::DATA_CHANNEL_MESSAGE => {
                self.relay(socket, &name, &args[1..])
            }
            other => Err(Rejection::new(
                ErrorCode::UnknownEvent,
                format!("unknown event {:?}", truncate(other, 64)),
            )),
        };
        if let Err(rejection) = result {
            self.reject(socket, rejection, Some(truncate(&name, 64)));
        }
    }

    fn join(&self, socket: &SocketRef, args: &[&RawValue]) -> Result<(), Rejection> {
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

        let peer = socket.clone();
        {
            let mut st = self.lock();
            let credentials = Credentials {
                secret: options.secret.as_deref(),
                resume_token: options.resume_token.as_deref(),
            };
            let notices =
                st.rooms
                    .admit(socket.id, peer, &room_id, &user_id, user_data, credentials)?;
            self.update_gauges(&st);
            self.deliver(notices);
        }
        tracing::info!(sid = %socket.id, room = %room_id, user = %user_id, "joined");
        Ok(())
    }

    fn leave(&self, socket: &Socket) {
        let mut st = self.lock();
        let notices = st.rooms.leave(socket.id);
        self.update_gauges(&st);
        self.deliver(notices);
    }

    fn relay(&self, socket: &Socket, name: &str, args: &[&RawValue]) -> Result<(), Rejection> {
        let Some(payload) = args.first() else {
            return Err(invalid(format!("{name} needs a payload object")));
        };
        let input: RelayIn<'_> = serde_json::from_str(payload.get())
            .map_err(|e| invalid(format!("{name} payload: {e}")))?;
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

        let st = self.lock();
        let route = st
            .rooms
            .route(socket.id, input.room_id.as_deref(), input.to.as_deref())?;
        let out = Relayed {
            room_id: route.room_id,
            from: route.from,
            to: input.to.as_deref(),
            offer: (body_field == "offer").then_some(body),
            answer: (body_field == "answer").then_some(body),
            candidate: (body_field == "candidate").then_some(body),
            message: (body_field == "message").then_some(body),
            kind: if is_chat { input.kind } else { None },
            timestamp: is_chat
                .then(|| humantime::format_rfc3339_millis(SystemTime::now()).to_string()),
        };
        // Serialised once, then copied to each recipient.
        let encoded = serde_json::value::to_raw_value(&out)
            .expect("a struct of strings and JSON values always serialises");
        let recipients: Vec<SocketRef> = route.recipients.into_iter().cloned().collect();
        drop(st);

        let mut delivered = 0;
        for peer in &recipients {
            match peer.emit(name, &*encoded) {
                Ok(()) => delivered += 1,
                Err(e) => {
                    tracing::debug!(sid = %peer.id, event = name, "relay dropped: {e}");
                    self.metrics.dropped.inc();
                }
            }
        }
        self.metrics.relayed(name, delivered);
        tracing::trace!(sid = %socket.id, event = name, delivered, "relayed");
        match input.to.as_deref() {
            // Addressed to one participant whose connection is gone (held for its return): the
            // sender learns at once that no answer will come, instead of waiting for one.
            Some(to) if delivered == 0 => Err(Rejection {
                to: Some(to.to_owned()),
                ..Rejection::new(
                    ErrorCode::RecipientUnreachable,
                    format!("{to} is not connected right now; {name} was not delivered"),
                )
            }),
            _ => Ok(()),
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

/// socketioxide's handler trait, implemented by hand so the handler runs synchronously on the
/// socket's receive task (see the module doc for why order matters).
struct EventHandler(Arc<Hub>);

/// Marker type parameter for [`EventHandler`]'s `MessageHandler` impl.
struct Ordered;

impl MessageHandler<LocalAdapter, Ordered> for EventHandler {
    fn call(&self, s: Arc<Socket<LocalAdapter>>, v: Value, _ack_id: Option<i64>) {
        self.0.on_event_in_order(&SocketRef::from(s), v);
    }
}
