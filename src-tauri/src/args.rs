//! The app's command line: an invite link's fields, where things bind, this run's devices,
//! and the hidden benchmark switches.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use serde::Serialize;

/// Command-line arguments, like an invite link.
#[derive(Debug, Clone, Parser, Serialize)]
#[command(
    name = "confab-app",
    version,
    about = "Confab: video calls between people in a room"
)]
pub struct Args {
    /// Signalling server URL; without one the app hosts its own.
    #[arg(long, env = "CONFAB_SERVER")]
    pub server: Option<String>,
    /// The room to join (1–64 letters, digits, . _ -).
    #[arg(long)]
    pub room: Option<String>,
    /// Your id in the room and your display name.
    #[arg(long)]
    pub name: Option<String>,
    /// The room's secret, when it has one. Other local users can read command lines (`ps`);
    /// CONFAB_SECRET in the environment cannot be read by them.
    #[arg(long, env = "CONFAB_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Join at once (needs --room and --name).
    #[arg(long)]
    pub join: bool,
    /// Where the embedded signalling server listens when no --server is given.
    #[arg(long, env = "CONFAB_EMBEDDED_BIND", default_value = "127.0.0.1:0")]
    #[serde(skip)]
    pub embedded_bind: SocketAddr,
    /// Local addresses ICE binds (`0.0.0.0:0`: every interface but loopback).
    #[arg(
        long = "ice-bind",
        env = "CONFAB_ICE_BIND",
        default_value = "0.0.0.0:0"
    )]
    #[serde(skip)]
    pub ice_bind: Vec<String>,
    /// Where accepted files are written (instead of the saved setting).
    #[arg(long, env = "CONFAB_DOWNLOAD_DIR")]
    #[serde(skip)]
    pub download_dir: Option<PathBuf>,
    /// Camera for this run: an id from the device list, or `synthetic` (the test pattern).
    #[arg(long)]
    #[serde(skip)]
    pub camera: Option<String>,
    /// Microphone for this run: an ALSA device, or `synthetic` (a test tone).
    #[arg(long)]
    #[serde(skip)]
    pub mic: Option<String>,
    /// Speakers for this run: an ALSA device, or `none`.
    #[arg(long)]
    #[serde(skip)]
    pub speakers: Option<String>,
    /// Where settings are kept (default: the platform's config folder for the app).
    #[arg(long, env = "CONFAB_CONFIG_DIR")]
    #[serde(skip)]
    pub config_dir: Option<PathBuf>,
    /// Benchmark (bench/tiles-bench.sh): joining shows this many synthetic participants'
    /// video instead of calling anyone.
    #[arg(long, hide = true, default_value_t = 0)]
    pub bench_tiles: usize,
    /// The benchmark's video size, WIDTHxHEIGHT.
    #[arg(long, hide = true, default_value = "1280x720", value_parser = parse_size)]
    #[serde(skip)]
    pub bench_size: (usize, usize),
    /// What the benchmark's participants send.
    #[arg(long, hide = true, value_enum, default_value = "encoded")]
    #[serde(skip)]
    pub bench_video: BenchVideo,
}

/// The frames-to-tiles candidates (BENCHMARKS.md).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BenchVideo {
    /// No video: the app's cost with the tiles idle (the benchmark's anchor).
    None,
    /// Access units, decoded by the page (WebCodecs).
    Encoded,
    /// Access units, decoded by the page and here too.
    Twice,
    /// Decoded here, I420 pictures to the page (`new VideoFrame`).
    Pictures,
}

pub fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let (w, h) = s.split_once('x').ok_or("WIDTHxHEIGHT")?;
    let parse = |v: &str| v.parse::<usize>().map_err(|e| e.to_string());
    let (w, h) = (parse(w)?, parse(h)?);
    if w == 0 || h == 0 || w % 2 == 1 || h % 2 == 1 || w > 3840 || h > 2160 {
        return Err("even sizes up to 3840x2160".into());
    }
    Ok((w, h))
}
