//! File transfer between two calls over real peer connections: a file arrives hash-exact, a
//! declined offer writes nothing, and a sender that vanishes mid-transfer leaves no file that
//! looks complete.

use std::path::{Path, PathBuf};
use std::time::Duration;

use confab_engine::call::CallEvents;
use confab_engine::call::{
    self, CallConfig, CallEvent, CallHandle, Command, Direction, TransferInfo, TransferStatus,
};
use confab_signal::{Config, Server};

const WAIT: Duration = Duration::from_secs(60);

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("confab-call-files-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Pseudo-random bytes (xorshift), so content errors cannot hide in repeated patterns;
/// written a megabyte at a time.
fn write_random(path: &Path, len: usize) {
    use std::io::Write;
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut left = len;
    while left > 0 {
        let block: Vec<u8> = (0..left.min(1 << 20))
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        out.write_all(&block).expect("write test file");
        left -= block.len();
    }
    out.flush().expect("flush");
}

/// Whether two files have the same bytes, compared a block at a time.
fn same_bytes(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (mut a, mut b) = (
        std::fs::File::open(a).expect("open"),
        std::fs::File::open(b).expect("open"),
    );
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = a.read(&mut x).expect("read");
        let mut m = 0;
        while m < n {
            match b.read(&mut y[m..n]).expect("read") {
                0 => return false,
                k => m += k,
            }
        }
        if x[..n] != y[..n] {
            return false;
        }
        if n == 0 {
            return b.read(&mut y).expect("read") == 0;
        }
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Waits for a transfer event matching `pred`, failing on call errors.
async fn transfer_where(
    events: &mut CallEvents,
    pred: impl Fn(&TransferInfo) -> bool,
) -> TransferInfo {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await.expect("call running") {
                CallEvent::Transfer(t) if pred(&t) => return t,
                CallEvent::Error { message } => panic!("call error: {message}"),
                _ => {}
            }
        }
    })
    .await
    .expect("transfer event in time")
}

async fn channel_open(events: &mut CallEvents, peer: &str) {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await.expect("call running") {
                CallEvent::ChannelOpen { id } if id == peer => return,
                CallEvent::Error { message } => panic!("call error: {message}"),
                _ => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("channel to {peer} does not open"));
}

struct Pair {
    server: Server,
    alice: CallHandle,
    alice_events: CallEvents,
    bob: CallHandle,
    bob_events: CallEvents,
}

async fn pair(bob_downloads: &Path, bob_accepts: bool) -> Pair {
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());
    let mut a = CallConfig::new(&url, "files", "alice");
    a.video_source = None;
    a.synthetic_audio = false;
    let mut b = CallConfig::new(&url, "files", "bob");
    b.video_source = None;
    b.synthetic_audio = false;
    b.download_dir = bob_downloads.to_owned();
    b.accept_files = bob_accepts;
    let (alice, mut alice_events) = call::join(a).await.expect("alice");
    let (bob, mut bob_events) = call::join(b).await.expect("bob");
    channel_open(&mut alice_events, "bob").await;
    channel_open(&mut bob_events, "alice").await;
    Pair {
        server,
        alice,
        alice_events,
        bob,
        bob_events,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_file_arrives_hash_exact_under_its_name() {
    let dir = scratch("exact");
    let downloads = dir.join("downloads");
    let source = dir.join("payload.bin");
    write_random(&source, 200 * 1024 * 1024);
    let mut p = pair(&downloads, true).await;

    p.alice.send(Command::SendFile(source.clone()));
    let received = transfer_where(&mut p.bob_events, |t| t.status.is_finished()).await;
    assert_eq!(
        received.status,
        TransferStatus::Done,
        "{:?}",
        received.reason
    );
    assert_eq!(received.direction, Direction::Received);
    let path = received.path.expect("a done transfer has a path");
    assert_eq!(path, downloads.join("payload.bin"));
    assert!(same_bytes(&path, &source), "bytes differ");
    let sent = transfer_where(&mut p.alice_events, |t| t.status.is_finished()).await;
    assert_eq!(
        (sent.status, sent.direction),
        (TransferStatus::Done, Direction::Sent)
    );
    assert_eq!(sent.sha256, received.sha256);
    assert_eq!(files_in(&downloads), ["payload.bin"]);

    p.alice.send(Command::Leave);
    p.bob.send(Command::Leave);
    p.server.shutdown().await.expect("server");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_offer_writes_nothing() {
    let dir = scratch("declined");
    let downloads = dir.join("downloads");
    let source = dir.join("unwanted.bin");
    write_random(&source, 100_000);
    let mut p = pair(&downloads, false).await;

    p.alice.send(Command::SendFile(source));
    let offered = transfer_where(&mut p.bob_events, |t| t.status == TransferStatus::Offered).await;
    assert_eq!(offered.name, "unwanted.bin");
    p.bob.send(Command::DeclineTransfer(offered.id));
    let seen = transfer_where(&mut p.alice_events, |t| t.status.is_finished()).await;
    assert_eq!(seen.status, TransferStatus::Declined);
    assert!(
        files_in(&downloads).is_empty(),
        "{:?}",
        files_in(&downloads)
    );

    p.alice.send(Command::Leave);
    p.bob.send(Command::Leave);
    p.server.shutdown().await.expect("server");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_vanishing_mid_transfer_leaves_no_complete_looking_file() {
    let dir = scratch("vanish");
    let downloads = dir.join("downloads");
    let source = dir.join("big.bin");
    write_random(&source, 64 * 1024 * 1024);
    let mut p = pair(&downloads, true).await;

    p.alice.send(Command::SendFile(source));
    transfer_where(&mut p.bob_events, |t| {
        t.status == TransferStatus::Receiving && t.bytes > 0
    })
    .await;
    p.alice.send(Command::Leave);
    let ended = transfer_where(&mut p.bob_events, |t| t.status.is_finished()).await;
    assert_eq!(ended.status, TransferStatus::Failed);
    assert!(ended.bytes < ended.size, "the sender left before the end");
    assert!(
        files_in(&downloads).is_empty(),
        "{:?}",
        files_in(&downloads)
    );

    p.bob.send(Command::Leave);
    p.server.shutdown().await.expect("server");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// Cancelling from either side ends the transfer on both as cancelled, and the receiver
/// keeps nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn either_side_can_cancel_and_nothing_is_kept() {
    let dir = scratch("cancel");
    let downloads = dir.join("downloads");
    let source = dir.join("long.bin");
    write_random(&source, 64 * 1024 * 1024);
    let mut p = pair(&downloads, true).await;

    for receiver_cancels in [true, false] {
        p.alice.send(Command::SendFile(source.clone()));
        let started = transfer_where(&mut p.bob_events, |t| {
            t.status == TransferStatus::Receiving && t.bytes > 0
        })
        .await;
        if receiver_cancels {
            p.bob.send(Command::CancelTransfer(started.id.clone()));
        } else {
            let sending =
                transfer_where(&mut p.alice_events, |t| t.status == TransferStatus::Sending).await;
            p.alice.send(Command::CancelTransfer(sending.id));
        }
        let at_bob = transfer_where(&mut p.bob_events, |t| {
            t.id == started.id && t.status.is_finished()
        })
        .await;
        let at_alice = transfer_where(&mut p.alice_events, |t| t.status.is_finished()).await;
        let who = if receiver_cancels {
            "receiver"
        } else {
            "sender"
        };
        assert_eq!(at_bob.status, TransferStatus::Cancelled, "{who} cancelled");
        assert_eq!(
            at_alice.status,
            TransferStatus::Cancelled,
            "{who} cancelled"
        );
        assert!(
            files_in(&downloads).is_empty(),
            "{who} cancelled: {:?}",
            files_in(&downloads)
        );
    }

    p.alice.send(Command::Leave);
    p.bob.send(Command::Leave);
    p.server.shutdown().await.expect("server");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
