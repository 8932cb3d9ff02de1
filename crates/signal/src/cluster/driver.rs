//! The pub/sub connection behind socketioxide-redis's adapter: the crate's own `RedisDriver`
//! over a connection that comes back after Redis restarts.
//!
//! Written here rather than used from the crate because its `RedisDriver` holds a
//! `MultiplexedConnection`, which stays broken once Redis restarts (no reconnection, no
//! resubscription: the node would go deaf for good), and its `FredDriver` cannot be built
//! with this workspace (fred 10's `redis-protocol` pins `cookie-factory = 0.3.2`, PipeWire's
//! `libspa` needs 0.3.3). redis-rs's `ConnectionManager` reconnects with a backoff and, with
//! automatic resubscription, subscribes again to every channel once it is back — which is
//! all this file adds to the crate's driver.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, FromRedisValue, PushInfo, PushKind};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

/// Each attempt to reach Redis gives up after this long…
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// …and a command waits this long for its reply: while Redis hangs, a participant's event
/// fails within about this time instead of waiting for it (the sender gets an error; a
/// Redis that is down refuses at once). 2 s was too short for the load benchmark's burst —
/// 10k clients offering to 3 room-mates at once queue 30k publishes on a node's connection.
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Reconnection attempts per failed command before it fails (each later command tries
/// again), and the longest pause between two.
const RECONNECT_ATTEMPTS: usize = 3;
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(500);

/// How the node's connections to Redis behave: bounded waits, reconnection with backoff.
pub(crate) fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(RECONNECT_ATTEMPTS)
        .set_max_delay(RECONNECT_MAX_DELAY)
}

type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// socketioxide-redis's [`Driver`] over a reconnecting, resubscribing connection.
#[derive(Clone)]
pub struct ManagedDriver {
    handlers: Handlers,
    conn: ConnectionManager,
    /// Shared by every clone: [`ManagedDriver::is_unused`] counts them.
    clones: Arc<()>,
    gate: Arc<Mutex<Gate>>,
}

impl ManagedDriver {
    /// Connects (RESP3: messages arrive as pushes on the same connection).
    pub async fn connect(client: redis::Client) -> redis::RedisResult<Self> {
        let handlers: Handlers = Arc::default();
        let dispatch = handlers.clone();
        let config = manager_config()
            .set_push_sender(move |push: PushInfo| {
                deliver(push, &dispatch);
                Ok::<(), std::convert::Infallible>(())
            })
            .set_automatic_resubscription();
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            handlers,
            conn,
            clones: Arc::new(()),
            gate: Arc::new(Mutex::new(Gate::Open)),
        })
    }
}

/// Hands a published message to the adapter's stream for its channel. A full stream drops
/// the message with a warning (the adapter's `stream_buffer` sizes it; see `super`).
fn deliver(push: PushInfo, handlers: &Handlers) {
    if !matches!(push.kind, PushKind::Message | PushKind::SMessage) || push.data.len() < 2 {
        return;
    }
    let mut data = push.data.into_iter();
    let (Some(chan), Some(payload)) = (data.next(), data.next()) else {
        return;
    };
    let (Ok(chan), Ok(payload)) = (
        String::from_redis_value(chan),
        Vec::<u8>::from_redis_value(payload),
    ) else {
        tracing::warn!("cluster: a pub/sub message that is not (channel, bytes)");
        return;
    };
    let handlers = handlers.read().unwrap_or_else(|p| p.into_inner());
    if let Some(tx) = handlers.get(&chan)
        && let Err(e) = tx.try_send((chan, payload))
    {
        tracing::warn!("cluster: pub/sub message dropped: {e}");
    }
}

impl ManagedDriver {
    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The check found Redis away: nothing is published until it is back and the grace
    /// has passed.
    pub fn went_down(&self) {
        *self.gate() = Gate::Down;
    }

    /// The check found Redis back after [`ManagedDriver::went_down`].
    pub fn came_back(&self) {
        *self.gate() = Gate::Until(Instant::now() + RECOVERY_GRACE);
    }

    /// True when this is the last handle (the server that used the others has stopped).
    pub fn is_unused(&self) -> bool {
        Arc::strong_count(&self.clones) == 1
    }

    /// Sends a PING on the subscribing connection. The manager reconnects (and subscribes
    /// again) only when a command fails or finds the connection gone; a node that publishes
    /// nothing would otherwise stay deaf after Redis restarts until its own first event. Run
    /// every [`LISTEN_CHECK`] by the node.
    pub async fn ping(&self) -> redis::RedisResult<()> {
        redis::cmd("PING")
            .query_async::<()>(&mut self.conn.clone())
            .await
    }
}

/// How often a node checks that its subscribing connection is up: after Redis comes back,
/// a node hears published events again within about this (plus reconnection).
pub const LISTEN_CHECK: Duration = Duration::from_millis(500);

/// After Redis comes back, a node publishes nothing for this long: the other nodes are
/// subscribed again within about [`LISTEN_CHECK`] of its return, and what is published
/// before one of them listens is lost without anyone knowing (pub/sub keeps nothing). Such
/// events are refused instead, and their senders get `server-unavailable` (measured without
/// this: one offer in three restarts lost, sent ~0.1 s after Redis was back).
pub const RECOVERY_GRACE: Duration = Duration::from_millis(1200);

/// Whether this node may publish: see [`RECOVERY_GRACE`].
#[derive(Debug, Clone, Copy)]
enum Gate {
    Open,
    /// The last check found Redis away.
    Down,
    /// Redis is back; publishing resumes at this instant.
    Until(Instant),
}

impl Driver for ManagedDriver {
    type Error = redis::RedisError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        let open = {
            let mut gate = self.gate();
            match *gate {
                Gate::Open => true,
                Gate::Down => false,
                Gate::Until(t) if Instant::now() >= t => {
                    *gate = Gate::Open;
                    true
                }
                Gate::Until(_) => false,
            }
        };
        if !open {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "Redis is away or has just come back; the other nodes may not be listening yet",
            )));
        }
        self.conn.clone().publish::<_, _, i64>(chan, val).await?;
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        let (tx, rx) = mpsc::channel(size);
        // Registered first: a message may arrive as soon as the subscription is confirmed.
        self.handlers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(chan.clone(), tx);
        self.conn.clone().subscribe(chan.as_str()).await?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        self.handlers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&chan);
        self.conn.clone().unsubscribe(chan).await
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let (_, count): (String, u16) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(chan)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(count)
    }
}
