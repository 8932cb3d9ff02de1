//! `confab`: the command-line face of Confab.
//!
//! `confab serve` runs the signalling server with the browser UI; `confab join` is the headless
//! peer (demo participant, test bot).

mod join;
mod netem;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use confab_signal::{Config, Server};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "confab", version, about = "Confab video calls")]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, env = "CONFAB_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the signalling server and serve the browser UI.
    Serve(ServeArgs),
    /// Join a room as a headless participant.
    Join(Box<join::JoinArgs>),
    /// List the cameras, screens, microphones and speakers `confab join` can use, as JSON.
    Devices,
    /// Emulate an impaired link (delay, jitter, loss, rate, queue) between two interfaces,
    /// for tests and benchmarks in network namespaces. Needs CAP_NET_RAW.
    Netem(netem::NetemArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen one is printed).
    #[arg(long, env = "CONFAB_BIND", default_value = "127.0.0.1:3000")]
    bind: SocketAddr,
    /// Largest accepted event, in bytes of JSON.
    #[arg(long, env = "CONFAB_MAX_PAYLOAD", default_value_t = confab_signal::DEFAULT_MAX_PAYLOAD)]
    max_payload: usize,
    /// Participants per room.
    #[arg(long, env = "CONFAB_ROOM_CAPACITY", default_value_t = confab_signal::DEFAULT_ROOM_CAPACITY)]
    room_capacity: usize,
    /// Sustained events per second per socket.
    #[arg(long, env = "CONFAB_RATE_LIMIT", default_value_t = confab_signal::DEFAULT_RATE_LIMIT_PER_SEC)]
    rate_limit: f64,
    /// Events a socket may send in one burst.
    #[arg(long, env = "CONFAB_RATE_BURST", default_value_t = confab_signal::DEFAULT_RATE_LIMIT_BURST)]
    rate_burst: f64,
    /// The browser UI directory (default: the repository's `ui/`).
    #[arg(long, env = "CONFAB_UI_DIR")]
    ui_dir: Option<PathBuf>,
    /// Directory with `socket.io.min.js` (default: `node_modules/socket.io-client/dist` next
    /// to the UI directory, installed by the set-up script).
    #[arg(long, env = "CONFAB_SOCKETIO_CLIENT_DIR")]
    socketio_client_dir: Option<PathBuf>,
    /// Share rooms with other `confab serve` nodes through this Redis (7 or later), e.g.
    /// `redis://127.0.0.1:6379`. Without it this server is a node of its own. See
    /// docs/cluster.md.
    #[arg(long, env = "CONFAB_REDIS")]
    redis: Option<String>,
}

/// What is logged unless CONFAB_LOG says otherwise. webrtc-rs's packet handler warns for
/// every SRTP packet it drops as a replay — each retransmission that arrives after its
/// original, hundreds a minute through loss (195 lines in a 20 s benchmark call) — and for
/// packets that come before the keys: normal events of a call, not news, so only its errors.
const DEFAULT_LOG: &str =
    "info,socketioxide=warn,engineioxide=warn,rtc::peer_connection::handler=error";

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter =
        EnvFilter::try_from_env("CONFAB_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => fmt.init(),
        LogFormat::Json => fmt.json().init(),
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Join(args) => runtime.block_on(join::run(*args)),
        Command::Devices => devices(),
        Command::Netem(args) => netem::run(args),
    }
}

/// Each kind separately: one missing subsystem (no X display, no sound server) must not
/// hide the others, so failures are reported in place of that kind's list.
fn devices() -> anyhow::Result<()> {
    use confab_media::{audio_io, source};
    let listed = |r: Result<Vec<source::DeviceInfo>, source::SourceError>| match r {
        Ok(list) => serde_json::json!(list),
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    };
    let report = serde_json::json!({
        "cameras": listed(source::camera::list()),
        "screens": listed(source::screen::list()),
        "microphones": audio_io::input_devices(),
        "speakers": audio_io::output_devices(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// The repository root when running from a checkout: the UI and npm packages live there.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let ui_dir = args.ui_dir.unwrap_or_else(|| repo_root().join("ui"));
    let socketio_client_dir = args
        .socketio_client_dir
        .unwrap_or_else(|| ui_dir.join("../node_modules/socket.io-client/dist"));
    let config = Config {
        max_payload: args.max_payload,
        room_capacity: args.room_capacity,
        rate_limit_per_sec: args.rate_limit,
        rate_limit_burst: args.rate_burst,
        ui_dir: Some(ui_dir),
        socketio_client_dir: Some(socketio_client_dir),
        redis: args.redis,
    };
    // A page that loads and then fails ("io is not defined") is worse than no server.
    if let Some(problem) = config.guest_page_problem() {
        anyhow::bail!("not serving: {problem}");
    }
    let server = Server::start(args.bind, config)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    // Tests and scripts read this line to learn the chosen port.
    println!("confab serve listening on http://{}", server.local_addr());
    tracing::info!(addr = %server.local_addr(), "listening");
    shutdown_signal().await;
    server.shutdown().await.context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
