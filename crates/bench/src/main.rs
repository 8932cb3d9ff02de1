//! `confab-bench signal`: N Socket.IO clients in rooms of 4 against a signalling server, or
//! against the nodes of a cluster (`--server` and `--server-pid` repeated: client i uses
//! server i mod their count, so every room of 4 spans the nodes).
//!
//! Phases: connect every client; join (each client's join-room → room-state latency); then
//! rounds of offers, where every client sends a ~5 KB offer to each of its room-mates and the
//! round ends when every expected delivery has arrived. Each offer carries its send time, so
//! every delivery gives a relay latency (and, in a cluster, those between clients of
//! different nodes are reported apart). The servers' CPU time (from /proc/PID/stat) over the
//! offer phase divided by the offers sent gives CPU per relayed offer; their VmRSS after the
//! offers gives memory. Prints one JSON line of results.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use confab_protocol::{JoinRoom, OfferBody, SessionDescription, Signal, UserData, event};
use confab_sio::Incoming;
use futures_util::future::join_all;
use serde_json::json;
use tokio::sync::{Barrier, Semaphore};

/// Participants per room in the benchmark.
const ROOM_SIZE: usize = 4;
/// Connections opened at once while ramping up.
const CONNECT_CONCURRENCY: usize = 256;

#[derive(Parser)]
#[command(about = "Signalling load benchmark")]
struct Args {
    /// Server URL, e.g. http://127.0.0.1:3000 (repeated: the nodes of a cluster).
    #[arg(long, required = true)]
    server: Vec<String>,
    /// PID of each server process, for CPU and memory readings.
    #[arg(long, required = true)]
    server_pid: Vec<u32>,
    /// PID of the cluster's Redis: its CPU over the offer phase is reported apart.
    #[arg(long)]
    redis_pid: Option<u32>,
    /// Number of clients.
    #[arg(long)]
    clients: usize,
    /// Offer rounds (each client sends one offer to each room-mate per round).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Deliveries each offer causes: 1 when the server routes by `to`, ROOM_SIZE-1 when it
    /// broadcasts to the room (the reference server).
    #[arg(long, default_value_t = 1)]
    deliveries_per_offer: usize,
    /// Bytes of SDP per offer.
    #[arg(long, default_value_t = 5000)]
    offer_bytes: usize,
    /// Label for the output line.
    #[arg(long, default_value = "server")]
    label: String,
    /// Give up on a phase after this many seconds.
    #[arg(long, default_value_t = 120)]
    phase_timeout: u64,
}

fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).context("reading server stat")?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').context("malformed stat")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // Linux reports in USER_HZ, 100 on every mainstream configuration.
    Ok(ticks as f64 / 100.0)
}

fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    let kb: f64 = line
        .split_whitespace()
        .nth(1)
        .context("no value")?
        .parse()?;
    Ok(kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// An offer's relay latency from the send time leading its SDP, and whether its sender (by
/// its id `u{index}`) used another node than the receiver.
fn relay_latency(
    base: Instant,
    args: &[serde_json::Value],
    nodes: usize,
    my_node: usize,
) -> Option<(f64, bool)> {
    let body = args.first()?;
    let sent: u128 = body["offer"]["sdp"]
        .as_str()?
        .split(';')
        .next()?
        .parse()
        .ok()?;
    let from: usize = body["from"].as_str()?.strip_prefix('u')?.parse().ok()?;
    let ms = (base.elapsed().as_micros().saturating_sub(sent)) as f64 / 1000.0;
    Some((ms, from % nodes != my_node))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.clients % ROOM_SIZE != 0 {
        bail!("--clients must be a multiple of {ROOM_SIZE}");
    }
    if args.server.len() != args.server_pid.len() {
        bail!("one --server-pid per --server");
    }
    let nodes = args.server.len();
    let timeout = Duration::from_secs(args.phase_timeout);
    let pids = args.server_pid.clone();
    let cpu_all = move || -> anyhow::Result<f64> { pids.iter().map(|p| cpu_seconds(*p)).sum() };
    let rss_all =
        |pids: &[u32]| -> anyhow::Result<Vec<f64>> { pids.iter().map(|p| rss_mib(*p)).collect() };
    let rss_idle = rss_all(&args.server_pid)?;
    let base = Instant::now();

    // Connect.
    let t0 = Instant::now();
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let connects = (0..args.clients).map(|i| {
        let gate = gate.clone();
        let url = args.server[i % nodes].clone();
        async move {
            let _permit = gate.acquire().await.expect("semaphore is never closed");
            confab_sio::connect(&url).await
        }
    });
    let mut clients = Vec::with_capacity(args.clients);
    for r in tokio::time::timeout(timeout, join_all(connects))
        .await
        .context("connecting timed out")?
    {
        clients.push(r.context("connecting a client")?);
    }
    let connect_secs = t0.elapsed().as_secs_f64();
    let rss_connected = rss_all(&args.server_pid)?;

    let sdp = "a".repeat(args.offer_bytes);
    let offers_received = Arc::new(AtomicU64::new(0));
    let rounds = args.rounds;
    let expected_per_round = (ROOM_SIZE - 1) * args.deliveries_per_offer;
    let join_barrier = Arc::new(Barrier::new(args.clients + 1));
    let round_barrier = Arc::new(Barrier::new(args.clients + 1));

    let mut tasks = Vec::with_capacity(args.clients);
    for (i, (client, mut rx)) in clients.into_iter().enumerate() {
        let room = format!("bench-{}", i / ROOM_SIZE);
        let me = format!("u{i}");
        let mates: Vec<String> = (0..ROOM_SIZE)
            .map(|k| (i / ROOM_SIZE) * ROOM_SIZE + k)
            .filter(|&k| k != i)
            .map(|k| format!("u{k}"))
            .collect();
        let sdp = sdp.clone();
        let received = offers_received.clone();
        let join_barrier = join_barrier.clone();
        let round_barrier = round_barrier.clone();
        let my_node = i % nodes;
        tasks.push(tokio::spawn(async move {
            // Join and time the room-state.
            let sent = Instant::now();
            let join = JoinRoom {
                room_id: room.clone(),
                user_id: me.clone(),
                user_data: UserData {
                    name: Some(me.clone()),
                },
                options: Default::default(),
            };
            client.emit_args(event::JOIN_ROOM, &join.to_args())?;
            loop {
                match rx.recv().await {
                    Some(Incoming::Event { name, .. }) if name == event::ROOM_STATE => break,
                    Some(Incoming::Event { .. }) => {}
                    _ => bail!("disconnected while joining"),
                }
            }
            let join_latency = sent.elapsed().as_secs_f64();
            join_barrier.wait().await;
            // Everyone has joined: offers now.
            let mut pending = 0usize;
            // (relay latency in ms, whether sender and receiver are on different nodes)
            let mut relays: Vec<(f64, bool)> = Vec::with_capacity(rounds * expected_per_round);
            for _ in 0..rounds {
                round_barrier.wait().await;
                for to in &mates {
                    // The send time leads the SDP, padded to the offer's size.
                    let stamp = format!("{};", base.elapsed().as_micros());
                    let offer = Signal {
                        room_id: room.clone(),
                        from: me.clone(),
                        to: Some(to.clone()),
                        body: OfferBody {
                            offer: SessionDescription {
                                kind: "offer".to_owned(),
                                sdp: stamp + &sdp[..sdp.len().saturating_sub(24)],
                            },
                        },
                    };
                    client.emit(event::OFFER, &offer)?;
                }
                pending += expected_per_round;
                while pending > 0 {
                    match rx.recv().await {
                        Some(Incoming::Event { name, args }) if name == event::OFFER => {
                            pending -= 1;
                            received.fetch_add(1, Ordering::Relaxed);
                            if let Some(relay) = relay_latency(base, &args, nodes, my_node) {
                                relays.push(relay);
                            }
                        }
                        Some(Incoming::Event { name, args }) if name == event::ERROR => {
                            bail!("server error: {:?}", args.first())
                        }
                        Some(Incoming::Event { .. }) => {}
                        _ => bail!("disconnected during offers"),
                    }
                }
            }
            round_barrier.wait().await;
            Ok::<_, anyhow::Error>((join_latency, relays, client))
        }));
    }

    tokio::time::timeout(timeout, join_barrier.wait())
        .await
        .context("join phase timed out")?;
    let rss_joined = rss_all(&args.server_pid)?;
    let cpu0 = cpu_all()?;
    let redis0 = args.redis_pid.map(cpu_seconds).transpose()?;
    let t_offers = Instant::now();
    for _ in 0..=rounds {
        tokio::time::timeout(timeout, round_barrier.wait())
            .await
            .context("offer round timed out")?;
    }
    let offer_secs = t_offers.elapsed().as_secs_f64();
    let cpu1 = cpu_all()?;
    let redis_cpu = match (redis0, args.redis_pid) {
        (Some(c0), Some(pid)) => Some(cpu_seconds(pid)? - c0),
        _ => None,
    };
    let rss_after = rss_all(&args.server_pid)?;

    let mut latencies = Vec::with_capacity(args.clients);
    let mut relay_all = Vec::new();
    let mut relay_cross = Vec::new();
    let mut keep = Vec::with_capacity(args.clients);
    for t in tasks {
        let (lat, relays, client) = t.await.context("client task panicked")??;
        latencies.push(lat * 1000.0);
        for (ms, cross) in relays {
            relay_all.push(ms);
            if cross {
                relay_cross.push(ms);
            }
        }
        keep.push(client);
    }
    for v in [&mut latencies, &mut relay_all, &mut relay_cross] {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    let offers_sent = (args.clients * (ROOM_SIZE - 1) * rounds) as f64;
    let deliveries = offers_received.load(Ordering::Relaxed) as f64;
    let cpu = cpu1 - cpu0;
    let out = json!({
        "label": args.label,
        "clients": args.clients,
        "nodes": nodes,
        "connect_s": connect_secs,
        "join_p50_ms": percentile(&latencies, 0.50),
        "join_p99_ms": percentile(&latencies, 0.99),
        "relay_p50_ms": percentile(&relay_all, 0.50),
        "relay_p99_ms": percentile(&relay_all, 0.99),
        "relay_cross_node_p50_ms": percentile(&relay_cross, 0.50),
        "relay_cross_node_p99_ms": percentile(&relay_cross, 0.99),
        "offers_sent": offers_sent,
        "deliveries": deliveries,
        "offer_phase_s": offer_secs,
        "offers_per_s": offers_sent / offer_secs,
        "deliveries_per_s": deliveries / offer_secs,
        "server_cpu_s": cpu,
        "cpu_us_per_offer": cpu * 1e6 / offers_sent,
        "cpu_us_per_delivery": cpu * 1e6 / deliveries,
        "redis_cpu_s": redis_cpu,
        "redis_cpu_us_per_offer": redis_cpu.map(|c| c * 1e6 / offers_sent),
        // Totals over the nodes, and each node's own.
        "rss_idle_mib": rss_idle.iter().sum::<f64>(),
        "rss_connected_mib": rss_connected.iter().sum::<f64>(),
        "rss_joined_mib": rss_joined.iter().sum::<f64>(),
        "rss_after_mib": rss_after.iter().sum::<f64>(),
        "rss_after_per_node_mib": rss_after,
    });
    println!("{out}");
    drop(keep);
    Ok(())
}
