//! confab-signal: the rooms-and-relay signalling server behind `confab serve`.
//!
//! A Socket.IO v5 server (socketioxide on axum) with the reference design's events, fixed:
//! offers, answers and candidates go to their `to` participant only, the server stamps `from`,
//! and bad input gets an `error` event instead of reaching anyone else. It also serves the
//! browser UI (`ui/`) so guests join with their browser's own WebRTC.
//!
//! The server knows nothing of WebRTC: SDP and ICE payloads are relayed as opaque JSON.

pub mod cluster;
mod events;
pub mod limits;
pub mod metrics;
pub use confab_protocol as protocol;
pub mod rooms;
mod server;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use socketioxide::SocketIo;
use socketioxide::extract::SocketRef;
use socketioxide::handler::ConnectHandler;
use tokio::net::TcpListener;
use tower_http::services::{ServeDir, ServeFile};

pub use server::Hub;

/// Default largest event, in bytes of JSON. An SDP offer with a dozen tracks is ~10 KB.
pub const DEFAULT_MAX_PAYLOAD: usize = 64 * 1024;
/// Default participants per room: a mesh beyond this costs each sender too much uplink.
pub const DEFAULT_ROOM_CAPACITY: usize = 8;
/// Default sustained events per second per socket.
pub const DEFAULT_RATE_LIMIT_PER_SEC: f64 = 50.0;
/// Default burst of events per socket (a renegotiation with its candidates comes at once).
pub const DEFAULT_RATE_LIMIT_BURST: f64 = 200.0;

/// How often the server pings each client (Engine.IO). socketioxide's default is 25 s…
pub const PING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(4);
/// …and how long it then waits for the pong before it drops the socket (default 20 s). A
/// participant whose network vanished without a goodbye is noticed within 9 s instead of 45 s,
/// and the room sees `user-left`. Browsers' socket.io-client and confab-sio take both values
/// from the handshake and treat a server that stops pinging as gone just as fast. The cost is
/// one small packet each way per client every 4 s.
pub const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A participant whose socket stopped answering pings keeps its place in its room this much
/// longer (nobody is told it left): long enough to come back with its resume token after a
/// network switch or a short outage, short enough that a participant unreachable for 15 s in
/// all (last pong + ping interval + timeout + this) is gone from the room. A socket that
/// closes (the process exited or was killed) leaves at once.
pub const PARTICIPANT_HOLD: std::time::Duration = std::time::Duration::from_secs(6);

/// Server settings; the CLI maps each to a flag and an environment variable.
#[derive(Debug, Clone)]
pub struct Config {
    pub max_payload: usize,
    pub room_capacity: usize,
    pub rate_limit_per_sec: f64,
    pub rate_limit_burst: f64,
    /// The browser UI to serve at `/`; `None` serves no UI (API and Socket.IO only).
    pub ui_dir: Option<PathBuf>,
    /// The directory holding `socket.io.min.js` from npm's `socket.io-client/dist`, served at
    /// `/vendor/socket.io.min.js`.
    pub socketio_client_dir: Option<PathBuf>,
    /// A Redis URL: this server is then one node of a cluster sharing rooms through it
    /// ([`cluster`]). `None`: one node holding its rooms in memory.
    pub redis: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_payload: DEFAULT_MAX_PAYLOAD,
            room_capacity: DEFAULT_ROOM_CAPACITY,
            rate_limit_per_sec: DEFAULT_RATE_LIMIT_PER_SEC,
            rate_limit_burst: DEFAULT_RATE_LIMIT_BURST,
            ui_dir: None,
            socketio_client_dir: None,
            redis: None,
        }
    }
}

impl Config {
    /// Why browser guests could not use the page this server would serve, if they could not:
    /// the UI is served but its Socket.IO client is not there, so the page would load and then
    /// fail with "io is not defined". Checked before serving, so that such a server refuses
    /// to start instead of handing guests a broken page.
    pub fn guest_page_problem(&self) -> Option<String> {
        let ui_dir = self.ui_dir.as_ref()?;
        let icons = ui_dir.join(UI_ICONS);
        if !icons.is_file() {
            return Some(format!(
                "{} not found: the guests' page would load without its controls (run \
                 scripts/setup.sh, which builds it from npm's lucide-static)",
                icons.display()
            ));
        }
        let client = self
            .socketio_client_dir
            .as_ref()
            .map(|dir| dir.join(SOCKETIO_CLIENT));
        match client {
            Some(file) if file.is_file() => None,
            Some(file) => Some(format!(
                "{} not found: browser guests could not join (run scripts/setup.sh, or point \
                 --socketio-client-dir / CONFAB_SOCKETIO_CLIENT_DIR at socket.io-client's dist)",
                file.display()
            )),
            None => Some(format!(
                "no directory holding {SOCKETIO_CLIENT} given: browser guests could not join"
            )),
        }
    }
}

/// The UI's icons, generated into the UI directory by `scripts/build-icons.mjs` (not
/// committed): the page's module graph fails without it.
pub const UI_ICONS: &str = "icons.js";

/// The browser client's file name in npm's `socket.io-client/dist`.
pub const SOCKETIO_CLIENT: &str = "socket.io.min.js";

/// socketioxide's settings for a signalling server, single node or cluster.
fn socket_io_builder(config: &Config) -> socketioxide::SocketIoBuilder {
    // The transport limit sits well above the application limit so an oversized event still
    // reaches the hub and earns a clear `payload-too-large` error; only far larger frames
    // are cut off by the transport (which closes that one connection).
    let transport_limit = config.max_payload.saturating_mul(4).max(256 * 1024);
    SocketIo::builder()
        .max_payload(transport_limit as u64)
        .ws_max_message_size(transport_limit)
        .ws_max_frame_size(transport_limit)
        // Signalling messages are small; tungstenite grows the buffer for the odd large SDP.
        // The default 4 KiB per connection is most of what an idle participant costs.
        .ws_read_buffer_size(1024)
        .ping_interval(PING_INTERVAL)
        .ping_timeout(PING_TIMEOUT)
        // Packets queued per socket before emits fail. socketioxide's default (128) drops
        // relays when seven peers each send a renegotiation burst; this holds a full room's
        // worth of rate-limit bursts.
        .max_buffer_size(config.room_capacity.max(1) * config.rate_limit_burst.ceil() as usize)
}

/// The routes every server has besides its hub's: `/healthz`, the guests' Socket.IO client
/// and the UI.
fn static_routes<S: Clone + Send + Sync + 'static>(
    mut router: Router<S>,
    config: &Config,
) -> Router<S> {
    router = router.route("/healthz", get(|| async { "ok\n" }));
    if let Some(dir) = &config.socketio_client_dir {
        router = router.route_service(
            "/vendor/socket.io.min.js",
            ServeFile::new(dir.join(SOCKETIO_CLIENT)),
        );
    }
    if let Some(dir) = &config.ui_dir {
        router = router.fallback_service(ServeDir::new(dir));
    }
    router
}

/// Builds the HTTP application: Socket.IO at `/socket.io/`, `/api/rooms`, `/healthz`,
/// `/metrics`, and the UI.
pub fn app(config: Config) -> (Router, SocketIo, Arc<Hub>) {
    let (layer, io) = socket_io_builder(&config).build_layer();
    let hub = Arc::new(Hub::new(config.clone()));
    {
        // Handlers are installed in a connect *middleware*: socketioxide awaits middleware
        // before it sends the CONNECT packet, but spawns the connect handler after sending it,
        // so a client that emits `join-room` the moment it is connected (every client does)
        // could otherwise reach the server before its handlers exist, and be ignored. The
        // connect handler then replays what arrived before the socket was marked connected
        // (`Hub::on_connected`).
        let connected = hub.clone();
        let hub = hub.clone();
        let install = move |s: SocketRef| {
            let hub = hub.clone();
            async move {
                hub.on_connect(s);
                Ok::<(), std::convert::Infallible>(())
            }
        };
        io.ns(
            "/",
            { async move |s: SocketRef| connected.on_connected(&s) }.with(install),
        );
    }

    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/api/rooms", get(rooms));
    let router = static_routes(router, &config);
    let router = router
        .with_state(hub.clone())
        .layer(layer)
        .layer(axum::middleware::map_request(detach_from_read_buffer));
    (router, io, hub)
}

/// Copies the request's URI and headers into allocations of their own.
///
/// hyper parses a request head into `Bytes` slices of its connection read buffer (8–16 KiB),
/// and socketioxide keeps every socket's request parts for the socket's lifetime, which pinned
/// that whole buffer to each connection: ~16 KiB of a ~26 KiB per-connection footprint
/// (measured with massif, BENCHMARKS.md). A few hundred bytes copied once per request free it.
pub(crate) async fn detach_from_read_buffer(
    mut req: axum::extract::Request,
) -> axum::extract::Request {
    let mut headers = http::HeaderMap::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        // Re-parsing bytes that hyper already validated cannot fail.
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    *req.headers_mut() = headers;
    if let Ok(uri) = req.uri().to_string().parse::<http::Uri>() {
        // axum keeps its own clone of the URI before any layer runs.
        if let Some(original) = req.extensions_mut().get_mut::<axum::extract::OriginalUri>() {
            original.0 = uri.clone();
        }
        *req.uri_mut() = uri;
    }
    req
}

async fn rooms(State(hub): State<Arc<Hub>>) -> impl IntoResponse {
    axum::Json(hub.rooms())
}

async fn metrics(State(hub): State<Arc<Hub>>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        hub.metrics.render(),
    )
}

/// A running server. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) and serves in a background task: one node, or
    /// with [`Config::redis`] a cluster node (which first connects to Redis, and fails to
    /// start without it). Refuses a `config` whose guest page could not work
    /// ([`Config::guest_page_problem`]).
    pub async fn start(addr: SocketAddr, config: Config) -> std::io::Result<Self> {
        if let Some(problem) = config.guest_page_problem() {
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, problem));
        }
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let task = match config.redis.clone() {
            None => {
                let (router, io, hub) = app(config);
                tokio::spawn(serve(listener, router, stopped, async move {
                    hub.begin_shutdown();
                    io.close().await;
                }))
            }
            Some(url) => {
                let (router, io, hub) = cluster::app(config, &url)
                    .await
                    .map_err(std::io::Error::other)?;
                tokio::spawn(serve(listener, router, stopped, async move {
                    hub.begin_shutdown();
                    io.close().await;
                }))
            }
        };
        Ok(Self { addr, stop, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Disconnects every socket and waits for the server to finish.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Serves until `shutdown` resolves, then runs `close` (which closes every Socket.IO session)
/// and lets in-flight HTTP requests finish. The rooms are *not* told that anyone left: the
/// participants did not leave, the server did, and their calls go on over their peer
/// connections while their clients reconnect to the server's successor and rejoin.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    close: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Nagle off, as on the client side: relayed candidates otherwise wait ~40 ms for the ACK of
    // the offer before them (measured in a join; see crates/sio).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: closing every session");
            close.await;
        })
        .await
}
