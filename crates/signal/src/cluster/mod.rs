//! Several `confab serve` nodes sharing rooms through Redis (`confab serve --redis URL`).
//!
//! - **Delivery** goes through socketioxide-redis's adapter: an event for a participant on
//!   another node is published once and emitted there (see [`hub`]). Its pub/sub connection
//!   comes back and subscribes again after Redis restarts ([`driver`]).
//! - **Membership** lives in Redis ([`store`]): each room as a snapshot the node-independent
//!   rules ([`crate::rooms::Rooms`]) read and write by compare-and-set, so `user-id-taken`,
//!   resume tokens, secrets and capacity hold across nodes exactly as on one.
//! - **A node that dies**: its liveness key expires ([`store::NODE_TTL`]); a surviving node
//!   claims the sweep and its participants leave every room (the others see `user-left`).
//!   The participants themselves reconnect to another node (their client's list of servers,
//!   or a load balancer: docs/cluster.md) and take their places back with their resume tokens.
//! - **Redis away**: every event that needs it fails with `server-unavailable` to its sender
//!   (nothing is half done: a room changes in one script or not at all). Rooms survive a
//!   Redis restart only if Redis persists them (`appendonly yes`, as docs/cluster.md says).
//!
//! Without `--redis` none of this runs: one node keeps its rooms in memory ([`crate::Hub`]).

mod driver;
mod hub;
mod store;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use redis::aio::ConnectionManager;
use socketioxide::SocketIo;
use socketioxide::adapter::Emitter;
use socketioxide::handler::ConnectHandler;
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};

use crate::Config;
pub use driver::ManagedDriver;
pub use hub::ClusterHub;
pub use store::{NODE_REFRESH, NODE_TTL, SWEEP_INTERVAL};

/// socketioxide's adapter on a cluster node.
pub type ClusterAdapter = CustomRedisAdapter<Emitter, ManagedDriver>;

/// Pub/sub messages a node may have received and not yet emitted before it drops one (with
/// a warning). The crate's default, 1024, dropped offers in the load benchmark: every node
/// receives every broadcast, and 10k clients each offering to 3 room-mates at once is 30k
/// messages queued at each node (16k still dropped). tokio's channel allocates as it fills,
/// so an idle node holds none of this; a full one holds at most this many signalling
/// messages (each at most `max_payload`).
const STREAM_BUFFER: usize = 1 << 18;

/// Why a cluster node could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the Redis URL {url:?} is not usable: {source}")]
    Url {
        url: String,
        source: redis::RedisError,
    },
    #[error("cannot reach Redis at {url}: {source}")]
    Connect {
        url: String,
        source: redis::RedisError,
    },
    #[error("the Socket.IO adapter could not subscribe through Redis: {0:?}")]
    Subscribe(String),
}

/// The URL with RESP3 asked for: pub/sub messages arrive as pushes on the connection that
/// subscribed (and socketioxide-redis's protocol needs Redis 7).
fn resp3(url: &str) -> String {
    if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}

/// Builds a cluster node's HTTP application; connects to Redis first.
pub async fn app(
    config: Config,
    url: &str,
) -> Result<(Router, SocketIo<ClusterAdapter>, Arc<ClusterHub>), ClusterError> {
    let client = redis::Client::open(resp3(url)).map_err(|source| ClusterError::Url {
        url: url.to_owned(),
        source,
    })?;
    let connect = |source| ClusterError::Connect {
        url: url.to_owned(),
        source,
    };
    let driver = ManagedDriver::connect(client.clone())
        .await
        .map_err(connect)?;
    let conn = ConnectionManager::new_with_config(client, driver::manager_config())
        .await
        .map_err(connect)?;
    let node = store::NodeId::random();
    let store = store::Store::new(conn, node);
    store.refresh().await.map_err(connect)?;
    tokio::spawn(keep_listening(driver.clone(), store.clone()));

    let adapter = RedisAdapterCtr::new_with_driver(
        driver,
        RedisAdapterConfig::default()
            .with_prefix("confab")
            .with_stream_buffer(STREAM_BUFFER),
    );
    let (layer, io) = crate::socket_io_builder(&config)
        .with_adapter::<ClusterAdapter>(adapter)
        .build_layer();
    let hub = Arc::new(ClusterHub::new(config.clone(), store));
    hub.set_io(io.clone());
    {
        // As on one node: handlers installed in the connect middleware, the socket's task
        // started once it is marked connected (see `crate::app`).
        let connected = hub.clone();
        let installing = hub.clone();
        let install = move |s: socketioxide::extract::SocketRef<ClusterAdapter>| {
            let hub = installing.clone();
            async move {
                hub.on_connect(s);
                Ok::<(), std::convert::Infallible>(())
            }
        };
        io.ns(
            "/",
            {
                async move |s: socketioxide::extract::SocketRef<ClusterAdapter>| {
                    connected.on_connected(s)
                }
            }
            .with(install),
        )
        .await
        .map_err(|e| ClusterError::Subscribe(format!("{e:?}")))?;
    }
    tokio::spawn(keep_alive(Arc::downgrade(&hub)));
    tracing::info!(%node, "cluster node started");

    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/api/rooms", get(rooms));
    let router = crate::static_routes(router, &config)
        .with_state(hub.clone())
        .layer(layer)
        .layer(axum::middleware::map_request(
            crate::detach_from_read_buffer,
        ));
    Ok((router, io, hub))
}

/// Pings the subscribing connection every [`driver::LISTEN_CHECK`] so that it reconnects
/// and subscribes again as soon as Redis is back (see [`ManagedDriver::ping`]), and the
/// store's connection likewise. Ends with the adapter (the last other handle on the driver).
async fn keep_listening(driver: ManagedDriver, store: store::Store) {
    let mut tick = tokio::time::interval(driver::LISTEN_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut down = false;
    loop {
        tick.tick().await;
        if driver.is_unused() {
            return;
        }
        let _ = store.ping().await;
        match driver.ping().await {
            Ok(()) if down => {
                tracing::info!("cluster: Redis is back; listening again");
                driver.came_back();
                down = false;
            }
            Ok(()) => {}
            Err(e) if !down => {
                tracing::warn!("cluster: lost Redis: {e}");
                driver.went_down();
                down = true;
            }
            Err(_) => {}
        }
    }
}

/// Refreshes this node's liveness and sweeps dead nodes, every [`SWEEP_INTERVAL`], until the
/// node stops. A Redis outage only delays both: the next round tries again.
async fn keep_alive(hub: std::sync::Weak<ClusterHub>) {
    let mut tick = tokio::time::interval(SWEEP_INTERVAL.min(NODE_REFRESH));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(hub) = hub.upgrade() else { return };
        if hub.is_shutting_down() {
            return;
        }
        if let Err(e) = hub.store.refresh().await {
            tracing::warn!("cluster: could not refresh this node's liveness: {e}");
            continue;
        }
        match hub.store.claim_dead().await {
            Ok(dead) => {
                for node in dead {
                    match hub.sweep(node).await {
                        Ok(()) => {
                            if let Err(e) = hub.store.forget(node).await {
                                tracing::warn!(%node, "cluster: could not forget a swept node: {e}");
                            }
                        }
                        Err(r) => tracing::warn!(%node, "cluster: sweep failed: {}", r.message),
                    }
                }
            }
            Err(e) => tracing::warn!("cluster: could not look for dead nodes: {e}"),
        }
    }
}

async fn rooms(State(hub): State<Arc<ClusterHub>>) -> Response {
    match hub.rooms().await {
        Ok(rooms) => axum::Json(rooms.listed).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the rooms are kept in Redis, which cannot be reached: {e}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(hub): State<Arc<ClusterHub>>) -> impl IntoResponse {
    let (rooms, participants) = hub.local_counts();
    hub.metrics.rooms.set(rooms as i64);
    hub.metrics.participants.set(participants as i64);
    // Without Redis the cluster's gauges keep their last values; this node's are current.
    if let (Ok(cluster), Some(gauges)) = (hub.rooms().await, &hub.metrics.cluster) {
        gauges.rooms.set(cluster.rooms as i64);
        gauges.participants.set(cluster.participants as i64);
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        hub.metrics.render(),
    )
}
