//! The Socket.IO hub: validates every event, applies [`Rooms`] and delivers the outcome.
//!
//! Every event of a socket goes through one synchronous handler ([`EventHandler`]) that
//! socketioxide calls on the socket's receive task, so one sender's events are relayed in the
//! order they were sent (socketioxide's own async handlers are spawned as separate tasks and
//! may overtake each other: an ICE candidate must never arrive before its offer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::SocketRef;
use socketioxide::handler::{MessageHandler, Value};
use socketioxide::socket::DisconnectReason;
use socketioxide::socket::{Sid, Socket};

use crate::Config;
use crate::events::{self, Command, JoinRequest, Refused, RelayRequest};
use crate::limits::TokenBucket;
use crate::metrics::Metrics;
use crate::protocol::{RoomsResponse, event};
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
        events::reject(&self.metrics, socket, rejection, event);
    }

    /// Queues membership notices on their sockets. Called with the state lock held, so each
    /// recipient sees membership changes in the order they happened (a joiner's `room-state`
    /// before any `user-joined` that followed its join); `emit` only enqueues, it never waits.
    fn deliver(&self, notices: Vec<(SocketRef, Notice)>) {
        for (peer, notice) in notices {
            if let Err(e) = peer.emit(notice.event(), &notice) {
                tracing::debug!(sid = %peer.id, "membership notice dropped: {e}");
                self.metrics.dropped.inc();
            }
        }
    }

    /// Entry point for every event a socket sends.
    fn on_event(&self, socket: &SocketRef, value: &Value) {
        let raw = match events::text(value) {
            Ok(raw) => raw,
            Err(rejection) => return self.reject(socket, rejection, None),
        };
        let allowed = self
            .lock()
            .buckets
            .get_mut(&socket.id)
            .is_some_and(|b| b.try_take(Instant::now()));
        if !allowed {
            return self.reject(socket, events::rate_limited(), None);
        }
        if let Err(rejection) = events::check_size(raw, self.config.max_payload) {
            return self.reject(socket, rejection, None);
        }
        let result = match events::parse(raw) {
            Ok(Command::Join(request)) => self.join(socket, request),
            Ok(Command::Leave) => {
                self.leave(socket);
                Ok(())
            }
            Ok(Command::Relay(request)) => self.relay(socket, &request),
            Err(refused) => Err(refused),
        };
        if let Err(refused) = result {
            self.reject(socket, refused.rejection, refused.event.as_deref());
        }
    }

    fn join(&self, socket: &SocketRef, request: JoinRequest) -> Result<(), Refused> {
        let JoinRequest {
            room_id,
            user_id,
            user_data,
            options,
        } = request;
        let peer = socket.clone();
        {
            let mut st = self.lock();
            let credentials = Credentials {
                secret: options.secret.as_deref(),
                resume_token: options.resume_token.as_deref(),
            };
            let notices = st
                .rooms
                .admit(socket.id, peer, &room_id, &user_id, user_data, credentials)
                .map_err(|r| Refused::named(r, event::JOIN_ROOM))?;
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

    fn relay(&self, socket: &Socket, request: &RelayRequest<'_>) -> Result<(), Refused> {
        let name = request.name;
        let st = self.lock();
        let route = st
            .rooms
            .route(socket.id, request.room_id.as_deref(), request.to.as_deref())
            .map_err(|r| Refused::named(r, name))?;
        let encoded = request.encode(route.room_id, route.from);
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
        match request.to.as_deref() {
            Some(to) if delivered == 0 => Err(Refused::named(request.unreachable(to), name)),
            _ => Ok(()),
        }
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
