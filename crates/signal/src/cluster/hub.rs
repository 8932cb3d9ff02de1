//! A cluster node's Socket.IO hub: the single node's rules ([`Rooms`]) over rooms kept in
//! Redis ([`Store`]), delivery through socketioxide-redis's adapter.
//!
//! Each socket's events are handled one after another by a task of its own: checking a room
//! in Redis takes a round trip, and one sender's events must still reach their recipients in
//! the order they were sent (an ICE candidate never before its offer). Rate limit, size and
//! binary checks happen before the queue, on socketioxide's receive task, as on one node.
//!
//! Delivery: a recipient on this node gets its event straight on its socket; one on another
//! node through the adapter, to the socketioxide room named after its socket id (every
//! socket joins it), which publishes once to every node. A publish that fails (Redis away)
//! fails the event: the sender gets `server-unavailable`, never silence.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use socketioxide::handler::{MessageHandler, Value};
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::{DisconnectReason, Sid, Socket};
use tokio::sync::mpsc;

use super::ClusterAdapter;
use super::store::{Change, NodeId, Remote, Store, Stored, retried};
use crate::Config;
use crate::events::{self, Command, JoinRequest, Refused, RelayRequest};
use crate::limits::TokenBucket;
use crate::metrics::Metrics;
use crate::protocol::{ErrorCode, RoomsResponse, event};
use crate::rooms::{Credentials, Notice, Rejection, RoomSnapshot, Rooms};

/// How many times an event re-reads its rooms after another node wrote them first, before
/// the sender is told to try again. Each attempt is two round trips; a conflict needs two
/// nodes changing one room within that time.
const WRITE_ATTEMPTS: usize = 16;

type ClusterSocket = SocketRef<ClusterAdapter>;
type Snapshot = RoomSnapshot<Sid, Remote>;

/// What a socket's task does next, in the order the socket's events came.
enum Job {
    Event(Value),
    /// The socket is gone; `held` when it stopped answering pings (see
    /// [`crate::PARTICIPANT_HOLD`]).
    Closed {
        held: bool,
    },
}

struct Local {
    /// Kept here rather than looked up through socketioxide (`SocketIo::get_socket`
    /// panics once the server has begun closing its namespaces).
    socket: ClusterSocket,
    queue: mpsc::Sender<Job>,
    /// Taken by the socket's task when the socket is marked connected.
    jobs: Option<mpsc::Receiver<Job>>,
    bucket: TokenBucket,
}

/// The cluster's rooms as one node reads them from Redis.
pub(crate) struct ClusterRooms {
    /// What `GET /api/rooms` answers: rooms without a secret.
    pub listed: RoomsResponse,
    pub rooms: usize,
    pub participants: usize,
}

/// One node of a cluster.
pub struct ClusterHub {
    pub(crate) store: Store,
    io: OnceLock<SocketIo<ClusterAdapter>>,
    config: Config,
    pub(crate) metrics: Metrics,
    sockets: Mutex<HashMap<Sid, Local>>,
    /// The room each of this node's sockets is in, as far as this node knows (another node
    /// may have taken the participant's place: the room in Redis says).
    joined: Mutex<HashMap<Sid, String>>,
    shutting_down: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The refusal when Redis cannot be reached: nothing was done, the client may try again.
fn unavailable(e: &redis::RedisError) -> Rejection {
    tracing::warn!("cluster: Redis: {e}");
    Rejection::new(
        ErrorCode::ServerUnavailable,
        "the server cannot reach its shared state right now; nothing was done, try again",
    )
}

impl ClusterHub {
    pub(crate) fn new(config: Config, store: Store) -> Self {
        Self {
            store,
            io: OnceLock::new(),
            config,
            metrics: Metrics::for_cluster(),
            sockets: Mutex::new(HashMap::new()),
            joined: Mutex::new(HashMap::new()),
            shutting_down: AtomicBool::new(false),
        }
    }

    pub(crate) fn set_io(&self, io: SocketIo<ClusterAdapter>) {
        let _ = self.io.set(io);
    }

    /// Operators addressing sockets on other nodes by their sid rooms; `None` once the
    /// server is closing (socketioxide panics on a closed server's operators, and nobody is
    /// told anything then anyway).
    fn remote(&self, sids: Vec<String>) -> Option<BroadcastOperators<ClusterAdapter>> {
        if self.is_shutting_down() {
            return None;
        }
        let io = self
            .io
            .get()
            .expect("set before the server accepts connections");
        Some(io.to(sids))
    }

    /// This node's socket `sid`, while it is connected.
    fn local_socket(&self, sid: Sid) -> Option<ClusterSocket> {
        lock(&self.sockets).get(&sid).map(|l| l.socket.clone())
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// This node's participants, and the rooms they are in.
    pub(crate) fn local_counts(&self) -> (usize, usize) {
        let joined = lock(&self.joined);
        let rooms: HashSet<&String> = joined.values().collect();
        (rooms.len(), joined.len())
    }

    /// socketioxide's connect middleware: before the client hears it is connected.
    pub(crate) fn on_connect(self: &Arc<Self>, socket: ClusterSocket) {
        // Capacity: a full burst of the rate limit, so only a socket over its limit is
        // refused for a full queue.
        let (queue, jobs) = mpsc::channel(self.config.rate_limit_burst.ceil() as usize + 1);
        let bucket = TokenBucket::new(
            Instant::now(),
            self.config.rate_limit_per_sec,
            self.config.rate_limit_burst,
        );
        lock(&self.sockets).insert(
            socket.id,
            Local {
                socket: socket.clone(),
                queue,
                jobs: Some(jobs),
                bucket,
            },
        );
        socket.join(socket.id.to_string());
        self.metrics.sockets.inc();
        socket.on_fallback(ClusterHandler(self.clone()));
        let hub = self.clone();
        socket.on_disconnect(async move |s: ClusterSocket, reason: DisconnectReason| {
            hub.on_disconnect(&s, reason).await
        });
    }

    /// socketioxide's connect handler: the socket is marked connected, its task starts.
    pub(crate) fn on_connected(self: &Arc<Self>, socket: ClusterSocket) {
        let Some(mut jobs) = lock(&self.sockets)
            .get_mut(&socket.id)
            .and_then(|l| l.jobs.take())
        else {
            return;
        };
        let hub = self.clone();
        tokio::spawn(async move {
            while let Some(job) = jobs.recv().await {
                match job {
                    Job::Event(value) => hub.on_event(&socket, &value).await,
                    Job::Closed { held } => {
                        hub.on_closed(socket.id, held).await;
                        break;
                    }
                }
            }
        });
    }

    async fn on_disconnect(self: &Arc<Self>, socket: &ClusterSocket, reason: DisconnectReason) {
        let local = lock(&self.sockets).remove(&socket.id);
        self.metrics.sockets.dec();
        tracing::debug!(sid = %socket.id, %reason, "socket disconnected");
        let Some(local) = local else { return };
        let held = reason == DisconnectReason::HeartbeatTimeout;
        // Behind the socket's events; a task that never started drops its queue with `local`.
        if local.jobs.is_none() {
            let _ = local.queue.send(Job::Closed { held }).await;
        }
    }

    /// On socketioxide's receive task: the checks that need no Redis, then the queue.
    fn on_event_received(&self, socket: &Socket<ClusterAdapter>, value: Value) {
        let checked =
            events::text(&value).and_then(|raw| events::check_size(raw, self.config.max_payload));
        if let Err(rejection) = checked {
            return self.reject(socket, rejection, None);
        }
        let mut sockets = lock(&self.sockets);
        let Some(local) = sockets.get_mut(&socket.id) else {
            return;
        };
        if !local.bucket.try_take(Instant::now())
            || local.queue.try_send(Job::Event(value)).is_err()
        {
            drop(sockets);
            self.reject(socket, events::rate_limited(), None);
        }
    }

    fn reject(&self, socket: &Socket<ClusterAdapter>, rejection: Rejection, event: Option<&str>) {
        events::reject(&self.metrics, socket, rejection, event);
    }

    async fn on_event(&self, socket: &ClusterSocket, value: &Value) {
        let Ok(raw) = events::text(value) else { return };
        let result = match events::parse(raw) {
            Ok(Command::Join(request)) => self.join(socket, request).await,
            Ok(Command::Leave) => self.leave(socket.id).await.map_err(Refused::from),
            Ok(Command::Relay(request)) => self.relay(socket, &request).await,
            Err(refused) => Err(refused),
        };
        if let Err(refused) = result {
            self.reject(socket, refused.rejection, refused.event.as_deref());
        }
    }

    /// Reads `room_ids` into a [`Rooms`] as they stand: each participant's `connected`
    /// refreshed (this node's sockets as they are now; another node's as stored, and with
    /// `check_nodes` only while that node lives — a relay skips that round trip: a dead
    /// node's participants are swept within seconds, and an event for one meanwhile is
    /// published to nobody).
    async fn read(
        &self,
        room_ids: &[&str],
        check_nodes: bool,
    ) -> Result<(Vec<Stored>, Rooms<Sid, Remote>), redis::RedisError> {
        let stored = retried(|| self.store.read(room_ids)).await?;
        let mut snapshots: Vec<Option<Snapshot>> = Vec::with_capacity(stored.len());
        for (id, json) in room_ids.iter().zip(&stored) {
            let snapshot = match json {
                None => None,
                Some(json) => match serde_json::from_str::<Snapshot>(json) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        // Not ours (another program's key, or a newer version's format):
                        // treated as empty, and overwritten by the next change.
                        tracing::warn!(room = id, "cluster: unreadable room in Redis: {e}");
                        None
                    }
                },
            };
            snapshots.push(snapshot);
        }
        let nodes: HashSet<_> = snapshots
            .iter()
            .flatten()
            .flat_map(|s| s.members.iter().map(|m| m.peer.node))
            .collect();
        let alive = if check_nodes {
            self.store.alive(&nodes).await?
        } else {
            nodes
        };
        let me = self.store.node();
        let mut rooms = Rooms::new(self.config.room_capacity);
        for (id, snapshot) in room_ids.iter().zip(snapshots) {
            let Some(mut snapshot) = snapshot else {
                continue;
            };
            for m in &mut snapshot.members {
                m.peer.connected = if m.peer.node == me {
                    self.local_socket(m.peer.sid).is_some_and(|s| s.connected())
                } else {
                    m.peer.connected && alive.contains(&m.peer.node)
                };
            }
            rooms.import(id, snapshot);
        }
        Ok((stored, rooms))
    }

    /// Reads `room_ids`, lets `decide` change them, and writes them back if nobody else did
    /// meanwhile (else reads and decides again). A refusal writes nothing.
    async fn change<T>(
        &self,
        room_ids: &[&str],
        mut decide: impl FnMut(&mut Rooms<Sid, Remote>) -> Result<T, Rejection>,
    ) -> Result<(T, Rooms<Sid, Remote>), Rejection> {
        for _ in 0..WRITE_ATTEMPTS {
            let (stored, mut rooms) = self
                .read(room_ids, true)
                .await
                .map_err(|e| unavailable(&e))?;
            let out = decide(&mut rooms)?;
            let written: Vec<Stored> = room_ids
                .iter()
                .map(|id| {
                    rooms
                        .export(id)
                        .map(|s| serde_json::to_string(&s).expect("a room always serialises"))
                })
                .collect();
            let changes: Vec<Change<'_>> = room_ids
                .iter()
                .zip(&stored)
                .zip(written)
                .map(|((room_id, read), write)| Change {
                    room_id,
                    read,
                    write,
                })
                .collect();
            if retried(|| self.store.replace(&changes))
                .await
                .map_err(|e| unavailable(&e))?
            {
                return Ok((out, rooms));
            }
        }
        Err(Rejection::new(
            ErrorCode::ServerUnavailable,
            "the room is changing too fast right now; try again",
        ))
    }

    async fn join(&self, socket: &ClusterSocket, request: JoinRequest) -> Result<(), Refused> {
        let JoinRequest {
            room_id,
            user_id,
            user_data,
            options,
        } = request;
        let current = lock(&self.joined).get(&socket.id).cloned();
        let mut ids = vec![room_id.as_str()];
        if let Some(current) = current.as_deref()
            && current != room_id
        {
            ids.push(current);
        }
        let me = Remote {
            node: self.store.node(),
            sid: socket.id,
            connected: true,
        };
        let credentials = Credentials {
            secret: options.secret.as_deref(),
            resume_token: options.resume_token.as_deref(),
        };
        let (notices, rooms) = self
            .change(&ids, |rooms| {
                rooms.admit(
                    socket.id,
                    me,
                    &room_id,
                    &user_id,
                    user_data.clone(),
                    credentials,
                )
            })
            .await
            .map_err(|r| Refused::named(r, event::JOIN_ROOM))?;
        self.remember(socket.id, rooms.room_of(socket.id));
        self.deliver(notices).await;
        tracing::info!(sid = %socket.id, room = %room_id, user = %user_id, "joined");
        Ok(())
    }

    fn remember(&self, sid: Sid, room: Option<&str>) {
        let mut joined = lock(&self.joined);
        match room {
            Some(room) => joined.insert(sid, room.to_owned()),
            None => joined.remove(&sid),
        };
    }

    async fn leave(&self, sid: Sid) -> Result<(), Rejection> {
        let Some(room) = lock(&self.joined).get(&sid).cloned() else {
            return Ok(());
        };
        let (notices, _) = self
            .change(&[room.as_str()], |rooms| Ok(rooms.leave(sid)))
            .await?;
        self.remember(sid, None);
        self.deliver(notices).await;
        Ok(())
    }

    /// The socket's task ends: its participant leaves now, or after the hold.
    async fn on_closed(self: &Arc<Self>, sid: Sid, held: bool) {
        if self.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        if !held {
            if let Err(r) = self.leave(sid).await {
                tracing::warn!(%sid, "cluster: could not leave: {}", r.message);
            }
            return;
        }
        // Held: the room is written again so other nodes see the socket gone (a relay to it
        // is refused as unreachable, its id may be taken over), then it leaves after the hold
        // unless it resumed meanwhile (the room then no longer holds this socket).
        let room = lock(&self.joined).get(&sid).cloned();
        if let Some(room) = room
            && let Err(r) = self.change(&[room.as_str()], |_| Ok(())).await
        {
            tracing::warn!(%sid, "cluster: could not mark a held participant: {}", r.message);
        }
        let hub = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(crate::PARTICIPANT_HOLD).await;
            if let Err(r) = hub.leave(sid).await {
                tracing::warn!(%sid, "cluster: could not leave after the hold: {}", r.message);
            }
        });
    }

    async fn relay(
        &self,
        socket: &ClusterSocket,
        request: &RelayRequest<'_>,
    ) -> Result<(), Refused> {
        let name = request.name;
        let not_joined = || {
            Refused::named(
                Rejection::new(
                    ErrorCode::NotInRoom,
                    "join a room before sending signalling messages",
                ),
                name,
            )
        };
        let room = lock(&self.joined)
            .get(&socket.id)
            .cloned()
            .ok_or_else(not_joined)?;
        let (_, rooms) = self
            .read(&[room.as_str()], false)
            .await
            .map_err(|e| Refused::named(unavailable(&e), name))?;
        let route = rooms
            .route(socket.id, request.room_id.as_deref(), request.to.as_deref())
            .map_err(|r| Refused::named(r, name))?;
        let encoded = request.encode(route.room_id, route.from);
        let me = self.store.node();
        let mut delivered = 0;
        let mut remote = Vec::new();
        for peer in route.recipients {
            if peer.node == me {
                match self.local_socket(peer.sid).map(|s| s.emit(name, &*encoded)) {
                    Some(Ok(())) => delivered += 1,
                    _ => {
                        self.metrics.dropped.inc();
                    }
                }
            } else if peer.connected {
                remote.push(peer.sid.to_string());
            }
        }
        let count = remote.len() as u64;
        if let Some(ops) = (count > 0).then(|| self.remote(remote)).flatten() {
            if let Err(e) = ops.emit(name, &*encoded).await {
                tracing::warn!(event = name, "cluster: relay not published: {e}");
                return Err(Refused::named(
                    Rejection::new(
                        ErrorCode::ServerUnavailable,
                        format!(
                            "the server cannot reach the other servers right now; {name} was not delivered"
                        ),
                    ),
                    name,
                ));
            }
            delivered += count;
        }
        self.metrics.relayed(name, delivered);
        match request.to.as_deref() {
            Some(to) if delivered == 0 => Err(Refused::named(request.unreachable(to), name)),
            _ => Ok(()),
        }
    }

    /// Sends membership notices: this node's sockets directly, the others' through the
    /// adapter, one publish per distinct notice.
    pub(crate) async fn deliver(&self, notices: Vec<(Remote, Notice)>) {
        let me = self.store.node();
        let mut remote: Vec<(Notice, Vec<String>)> = Vec::new();
        for (peer, notice) in notices {
            if peer.node == me {
                let Some(socket) = self.local_socket(peer.sid) else {
                    continue;
                };
                if let Err(e) = socket.emit(notice.event(), &notice) {
                    tracing::debug!(sid = %peer.sid, "membership notice dropped: {e}");
                    self.metrics.dropped.inc();
                }
            } else if peer.connected {
                match remote.iter_mut().find(|(n, _)| *n == notice) {
                    Some((_, to)) => to.push(peer.sid.to_string()),
                    None => remote.push((notice, vec![peer.sid.to_string()])),
                }
            }
        }
        for (notice, to) in remote {
            let Some(ops) = self.remote(to) else { return };
            if let Err(e) = ops.emit(notice.event(), &notice).await {
                tracing::warn!("cluster: membership notice not published: {e}");
                self.metrics.dropped.inc();
            }
        }
    }

    /// The participants of a dead node leave every room (run by the one node that claimed
    /// the sweep).
    pub(crate) async fn sweep(&self, dead: NodeId) -> Result<(), Rejection> {
        let ids = self.store.room_ids().await.map_err(|e| unavailable(&e))?;
        let mut gone = 0;
        for id in &ids {
            let (notices, _) = self
                .change(&[id.as_str()], |rooms| {
                    let keys: Vec<Sid> = rooms
                        .export(id)
                        .map(|s| {
                            s.members
                                .iter()
                                .filter(|m| m.peer.node == dead)
                                .map(|m| m.key)
                                .collect()
                        })
                        .unwrap_or_default();
                    Ok(keys
                        .into_iter()
                        .flat_map(|k| rooms.leave(k))
                        .collect::<Vec<_>>())
                })
                .await?;
            gone += notices.len();
            self.deliver(notices).await;
        }
        tracing::info!(node = %dead, rooms = ids.len(), notices = gone, "cluster: swept a dead node");
        Ok(())
    }

    /// Every room, as `GET /api/rooms` lists them (the same on every node), and the
    /// cluster's counts (secret rooms included).
    pub(crate) async fn rooms(&self) -> Result<ClusterRooms, redis::RedisError> {
        let ids = self.store.room_ids().await?;
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let stored = self.store.read(&id_refs).await?;
        let mut rooms: Rooms<Sid, Remote> = Rooms::new(self.config.room_capacity);
        for (id, json) in id_refs.iter().zip(stored) {
            if let Some(snapshot) = json.and_then(|j| serde_json::from_str::<Snapshot>(&j).ok()) {
                rooms.import(id, snapshot);
            }
        }
        Ok(ClusterRooms {
            listed: rooms.summary(),
            rooms: rooms.room_count(),
            participants: rooms.participant_count(),
        })
    }
}

/// socketioxide's handler trait, implemented by hand as on one node (see `crate::server`).
struct ClusterHandler(Arc<ClusterHub>);

/// Marker type parameter for [`ClusterHandler`]'s `MessageHandler` impl.
struct Queued;

impl MessageHandler<ClusterAdapter, Queued> for ClusterHandler {
    fn call(&self, s: Arc<Socket<ClusterAdapter>>, v: Value, _ack_id: Option<i64>) {
        self.0.on_event_received(&s, v);
    }
}
