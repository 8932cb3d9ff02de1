//! The wire between two interfaces: every Ethernet frame that arrives on one is sent out of the
//! other after the impairment model of its direction has had it (dropped, delayed, queued
//! behind the link's rate). ARP, TCP and UDP cross alike, so the two sides see one link.
//!
//! Run in a namespace of its own, between two veth ends with no addresses; the hosts on
//! either side must not offload checksums or segmentation (`ethtool -K … tx off tso off gso
//! off`): a frame read from a packet socket carries what the sender's kernel left for the
//! hardware to finish.
//!
//! Per direction: a reader thread (blocking reads; frames go to the scheduler through a
//! bounded queue and are counted and dropped when it is full, as a NIC's ring does) and a
//! scheduler thread (the model, woken by the next frame or the next departure).

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use afpacket::sync::RawPacketStream;
use str0m_netem::{Input, Netem, Output};

use crate::profile::LinkProfile;

/// Frames waiting between a reader and its scheduler: ~2 s of a 10 Mb/s stream of full
/// frames. More means the scheduler is not keeping up, and a real NIC would drop them too.
pub const READ_QUEUE: usize = 2_048;

/// Largest frame read: a jumbo frame; with offloads off a veth carries at most MTU + 14.
const MAX_FRAME: usize = 9_216;

/// How long a scheduler sleeps with nothing queued before it looks for a new profile.
const IDLE_WAKE: Duration = Duration::from_millis(200);

/// Classic BPF for the packet sockets: drop what the interface *sends* (our own writes, seen
/// again by the socket bound to it, would otherwise be forwarded back), keep what it
/// receives. `ld [pkttype]; jeq #PACKET_OUTGOING, drop, keep`.
const IGNORE_OUTGOING: [(u16, u8, u8, u32); 4] = [
    // BPF_LD | BPF_B | BPF_ABS from the ancillary area: SKF_AD_OFF (-0x1000) + SKF_AD_PKTTYPE (4).
    (0x30, 0, 0, 0xffff_f004),
    // BPF_JMP | BPF_JEQ | BPF_K: PACKET_OUTGOING is 4.
    (0x15, 0, 1, 4),
    // BPF_RET | BPF_K 0: drop.
    (0x06, 0, 0, 0),
    // BPF_RET | BPF_K: keep up to 256 KiB.
    (0x06, 0, 0, 0x0004_0000),
];

/// Which way frames go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the inner interface (the impaired host's side) to the outer one.
    Up,
    /// From the outer interface to the inner one.
    Down,
}

/// Why the forwarder could not start.
#[derive(Debug, thiserror::Error)]
pub enum ForwarderError {
    #[error(
        "opening a packet socket on {iface}: {source} (needs CAP_NET_RAW, and the interface must exist in this namespace)"
    )]
    Socket {
        iface: String,
        source: std::io::Error,
    },
}

/// Counters of one direction.
#[derive(Debug, Default)]
pub struct Counters {
    /// Frames read from the receiving interface.
    pub received: AtomicU64,
    /// Frames sent out of the other interface.
    pub sent: AtomicU64,
    /// Frames dropped because the reader's queue to the scheduler was full.
    pub overflowed: AtomicU64,
    /// Frames the other interface refused (counted, then dropped).
    pub send_errors: AtomicU64,
}

impl Counters {
    /// `received, sent, overflowed, send_errors` now.
    pub fn snapshot(&self) -> [u64; 4] {
        [
            self.received.load(Ordering::Relaxed),
            self.sent.load(Ordering::Relaxed),
            self.overflowed.load(Ordering::Relaxed),
            self.send_errors.load(Ordering::Relaxed),
        ]
    }
}

enum ToScheduler {
    Frame(Instant, Vec<u8>),
    Profile(LinkProfile),
}

/// A running forwarder. Its threads live as long as the process (blocking reads cannot be
/// interrupted); it is meant to be the whole of a `confab netem` process.
pub struct Forwarder {
    up: SyncSender<ToScheduler>,
    down: SyncSender<ToScheduler>,
    /// Counters of the up and down directions.
    pub counters: [Arc<Counters>; 2],
}

impl Forwarder {
    /// Starts forwarding between `inner` and `outer` with the given profiles.
    pub fn start(
        inner: &str,
        outer: &str,
        up: LinkProfile,
        down: LinkProfile,
    ) -> Result<Self, ForwarderError> {
        let inner_socket = Arc::new(open(inner)?);
        let outer_socket = Arc::new(open(outer)?);
        let up_counters = Arc::new(Counters::default());
        let down_counters = Arc::new(Counters::default());
        let up_tx = direction(
            inner_socket.clone(),
            outer_socket.clone(),
            up,
            up_counters.clone(),
        );
        let down_tx = direction(outer_socket, inner_socket, down, down_counters.clone());
        Ok(Self {
            up: up_tx,
            down: down_tx,
            counters: [up_counters, down_counters],
        })
    }

    /// Changes a direction's profile; frames already queued keep their departure times.
    pub fn set(&self, which: Direction, profile: LinkProfile) {
        let tx = match which {
            Direction::Up => &self.up,
            Direction::Down => &self.down,
        };
        // Blocks while the scheduler's queue is full: a profile change is never dropped.
        let _ = tx.send(ToScheduler::Profile(profile));
    }
}

fn open(iface: &str) -> Result<RawPacketStream, ForwarderError> {
    let fail = |source| ForwarderError::Socket {
        iface: iface.to_owned(),
        source,
    };
    let mut socket = RawPacketStream::new().map_err(fail)?;
    socket
        .set_bpf_filter(IGNORE_OUTGOING.to_vec())
        .map_err(fail)?;
    socket.bind(iface).map_err(fail)?;
    socket.set_promisc(iface, true).map_err(fail)?;
    // Frames that arrived between socket() and the filter were not filtered.
    socket.drain();
    Ok(socket)
}

/// Starts one direction's reader and scheduler; returns the scheduler's inbox.
fn direction(
    from: Arc<RawPacketStream>,
    to: Arc<RawPacketStream>,
    profile: LinkProfile,
    counters: Arc<Counters>,
) -> SyncSender<ToScheduler> {
    let (tx, rx) = std::sync::mpsc::sync_channel(READ_QUEUE);
    let reader_tx = tx.clone();
    let reader_counters = counters.clone();
    std::thread::spawn(move || read_frames(&from, &reader_tx, &reader_counters));
    std::thread::spawn(move || schedule(rx, &to, profile, &counters));
    tx
}

fn read_frames(from: &RawPacketStream, to: &SyncSender<ToScheduler>, counters: &Counters) {
    let mut buf = vec![0u8; MAX_FRAME];
    loop {
        let mut socket: &RawPacketStream = from;
        let Ok(n) = socket.read(&mut buf) else {
            // A packet socket's read fails only when the interface goes away.
            return;
        };
        counters.received.fetch_add(1, Ordering::Relaxed);
        match to.try_send(ToScheduler::Frame(Instant::now(), buf[..n].to_vec())) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                counters.overflowed.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

fn schedule(
    inbox: Receiver<ToScheduler>,
    to: &RawPacketStream,
    profile: LinkProfile,
    counters: &Counters,
) {
    let mut model: Netem<Vec<u8>> = Netem::new(profile.to_netem());
    loop {
        let now = Instant::now();
        let wait = model
            .poll_timeout()
            .saturating_duration_since(now)
            .min(IDLE_WAKE);
        match inbox.recv_timeout(wait) {
            Ok(ToScheduler::Frame(arrived, frame)) => {
                model.handle_input(Input::Packet(arrived, frame))
            }
            Ok(ToScheduler::Profile(profile)) => model.set_config(profile.to_netem()),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        model.handle_input(Input::Timeout(Instant::now()));
        while let Some(out) = model.poll_output() {
            // Timeouts are read from `poll_timeout` above instead.
            if let Output::Packet(frame) = out {
                let mut socket: &RawPacketStream = to;
                // A packet socket sends a frame whole or not at all.
                match socket.write(&frame) {
                    Ok(n) if n == frame.len() => counters.sent.fetch_add(1, Ordering::Relaxed),
                    _ => counters.send_errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }
    }
}
