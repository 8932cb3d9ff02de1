//! What the nodes of a cluster share in Redis: the rooms, and which nodes are alive.
//!
//! Keys (all under [`PREFIX`]):
//! - `room:{id}` — a room as JSON ([`crate::rooms::RoomSnapshot`]); `rooms` — the set of ids.
//! - `node:{uid}` — present while the node lives: written every [`NODE_REFRESH`] with an
//!   expiry of [`NODE_TTL`], so a node that dies (killed, frozen, cut off) is gone within it;
//!   `nodes` — every node that has not been swept yet.
//! - `sweep:{uid}` — the surviving node that removes a dead node's participants claims it
//!   first, so one does.
//!
//! A room changes by compare-and-set: a node reads it, decides with [`crate::rooms::Rooms`],
//! and writes back only if nobody wrote in between ([`Store::replace`], one Lua script);
//! otherwise it reads again. Nodes never lock a room, so a node dying mid-event blocks nobody.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use socketioxide::socket::Sid;

/// After a command fails because its connection was gone, it is tried once more this much
/// later: redis-rs's manager reconnects in the background after such a failure, so the first
/// event after Redis comes back would otherwise fail although Redis is there.
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// Runs `op`, and once more after [`RETRY_AFTER`] if it failed for want of a connection.
pub async fn retried<T, F: Future<Output = redis::RedisResult<T>>>(
    mut op: impl FnMut() -> F,
) -> redis::RedisResult<T> {
    match op().await {
        Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() => {
            tokio::time::sleep(RETRY_AFTER).await;
            op().await
        }
        other => other,
    }
}

/// Namespace of every key the cluster writes.
pub const PREFIX: &str = "confab:";
/// A node's liveness key expires this long after its last refresh: its participants leave
/// every room within about this plus [`SWEEP_INTERVAL`] of its death (the issue asks 15 s).
pub const NODE_TTL: Duration = Duration::from_secs(9);
/// How often a node refreshes its liveness key (three refreshes may be lost in a row).
pub const NODE_REFRESH: Duration = Duration::from_secs(2);
/// How often a node looks for dead nodes to sweep.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(2);
/// How long a sweep claim holds before another node may take it over (the sweeper died).
const SWEEP_CLAIM: Duration = Duration::from_secs(30);

fn room_key(id: &str) -> String {
    format!("{PREFIX}room:{id}")
}

fn node_key(node: NodeId) -> String {
    format!("{PREFIX}node:{node}")
}

/// A room's stored JSON, or `None` when nobody is in it.
pub type Stored = Option<String>;

/// One room's compare-and-set: what the node read and what it writes.
pub struct Change<'a> {
    pub room_id: &'a str,
    pub read: &'a Stored,
    pub write: Stored,
}

/// Writes every room of the event if each still holds what was read, else nothing.
/// KEYS: the rooms' keys, then the set of room ids. ARGV: per room what was read ('' for
/// nothing) and what to write ('' to delete), then the rooms' ids.
const REPLACE: &str = r"
local n = #KEYS - 1
for i = 1, n do
  if (redis.call('GET', KEYS[i]) or '') ~= ARGV[2 * i - 1] then return 0 end
end
for i = 1, n do
  local write = ARGV[2 * i]
  if write == '' then
    redis.call('DEL', KEYS[i])
    redis.call('SREM', KEYS[n + 1], ARGV[2 * n + i])
  else
    redis.call('SET', KEYS[i], write)
    redis.call('SADD', KEYS[n + 1], ARGV[2 * n + i])
  end
end
return 1
";

/// The node's handle on the shared state.
#[derive(Clone)]
pub struct Store {
    conn: ConnectionManager,
    replace: Script,
    node: NodeId,
}

impl Store {
    pub fn new(conn: ConnectionManager, node: NodeId) -> Self {
        Self {
            conn,
            replace: Script::new(REPLACE),
            node,
        }
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The rooms as stored now.
    pub async fn read(&self, room_ids: &[&str]) -> redis::RedisResult<Vec<Stored>> {
        if room_ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = room_ids.iter().map(|id| room_key(id)).collect();
        redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.conn.clone())
            .await
    }

    /// Applies `changes` if no room changed since it was read; false when one did (read
    /// again and decide again).
    pub async fn replace(&self, changes: &[Change<'_>]) -> redis::RedisResult<bool> {
        let mut invocation = self.replace.prepare_invoke();
        for c in changes {
            invocation.key(room_key(c.room_id));
        }
        invocation.key(format!("{PREFIX}rooms"));
        for c in changes {
            invocation.arg(c.read.as_deref().unwrap_or(""));
            invocation.arg(c.write.as_deref().unwrap_or(""));
        }
        for c in changes {
            invocation.arg(c.room_id);
        }
        let done: i64 = invocation.invoke_async(&mut self.conn.clone()).await?;
        Ok(done == 1)
    }

    /// Keeps the connection up (see `super::keep_listening`).
    pub async fn ping(&self) -> redis::RedisResult<()> {
        redis::cmd("PING")
            .query_async::<()>(&mut self.conn.clone())
            .await
    }

    /// Every room id.
    pub async fn room_ids(&self) -> redis::RedisResult<Vec<String>> {
        self.conn.clone().smembers(format!("{PREFIX}rooms")).await
    }

    /// Says this node is alive for another [`NODE_TTL`].
    pub async fn refresh(&self) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        let _: () = conn
            .pset_ex(node_key(self.node), 1, NODE_TTL.as_millis() as u64)
            .await?;
        let _: () = conn
            .sadd(format!("{PREFIX}nodes"), self.node.to_string())
            .await?;
        Ok(())
    }

    /// Which of `nodes` are alive (this node always is).
    pub async fn alive(&self, nodes: &HashSet<NodeId>) -> redis::RedisResult<HashSet<NodeId>> {
        let others: Vec<NodeId> = nodes.iter().copied().filter(|n| *n != self.node).collect();
        let mut alive: HashSet<NodeId> = HashSet::from([self.node]);
        if others.is_empty() {
            return Ok(alive);
        }
        let keys: Vec<String> = others.iter().map(|n| node_key(*n)).collect();
        let found: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.conn.clone())
            .await?;
        alive.extend(
            others
                .into_iter()
                .zip(found)
                .filter_map(|(n, v)| v.map(|_| n)),
        );
        Ok(alive)
    }

    /// Nodes that were part of the cluster and are no longer alive, with their sweep
    /// claimed by this node (each dead node is claimed by one survivor).
    pub async fn claim_dead(&self) -> redis::RedisResult<Vec<NodeId>> {
        let mut conn = self.conn.clone();
        let listed: Vec<String> = conn.smembers(format!("{PREFIX}nodes")).await?;
        let listed: HashSet<NodeId> = listed.iter().filter_map(|n| n.parse().ok()).collect();
        let alive = self.alive(&listed).await?;
        let mut claimed = Vec::new();
        for node in listed.difference(&alive) {
            let claim: Option<String> = redis::cmd("SET")
                .arg(format!("{PREFIX}sweep:{node}"))
                .arg(self.node.to_string())
                .arg("NX")
                .arg("PX")
                .arg(SWEEP_CLAIM.as_millis() as u64)
                .query_async(&mut conn)
                .await?;
            if claim.is_some() {
                claimed.push(*node);
            }
        }
        Ok(claimed)
    }

    /// A swept node is forgotten.
    pub async fn forget(&self, node: NodeId) -> redis::RedisResult<()> {
        let _: () = self
            .conn
            .clone()
            .srem(format!("{PREFIX}nodes"), node.to_string())
            .await?;
        Ok(())
    }
}

/// A node of the cluster: random, new each time a node starts (a restarted node is a new
/// node; its predecessor's participants are swept like any dead node's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct NodeId(u64);

impl NodeId {
    pub fn random() -> Self {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("the operating system's random generator is available");
        Self(u64::from_le_bytes(bytes))
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::str::FromStr for NodeId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u64::from_str_radix(s, 16).map(Self)
    }
}

/// A participant as the cluster stores it: which node holds its socket, and whether that
/// socket was connected when the room was last written.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Remote {
    pub node: NodeId,
    pub sid: Sid,
    pub connected: bool,
}

impl crate::rooms::Peer for Remote {
    fn is_live(&self) -> bool {
        self.connected
    }
}
