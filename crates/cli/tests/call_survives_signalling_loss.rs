//! The call outlives its signalling server: `confab serve` killed with SIGKILL mid-call and
//! started again. Media and chat keep flowing over the peer connections meanwhile, both
//! participants rejoin within 5 s of the server's return, and a newcomer reaches everyone.
//! Also: a participant killed with SIGKILL is gone from the others within 5 s.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::recorder::{Recorder, chat, largest_gap, video_from};
use confab_engine::call::{self, CallConfig, CallEvent, CallHandle, SignallingState};

/// Starts `confab serve` on `port` and waits for its "listening" line.
fn serve(port: u16) -> Child {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("confab serve");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reading confab serve's first line");
    assert!(line.contains("listening on"), "confab serve said {line:?}");
    child
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn join(url: &str, name: &str) -> (CallHandle, Recorder) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let (handle, events) = call::join(CallConfig::new(url, "restart", name))
        .await
        .expect("join");
    (handle, Recorder::start(events))
}

fn signalling(state: fn(&SignallingState) -> bool) -> impl Fn(&CallEvent) -> bool {
    move |e| matches!(e, CallEvent::Signalling(s) if state(s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_goes_on_while_the_server_is_killed_and_restarted() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = serve(port);
    let (alice, alice_log) = join(&url, "alice").await;
    let (bob, bob_log) = join(&url, "bob").await;
    let t0 = Instant::now();
    bob_log
        .first_after("bob decoding alice", t0, video_from("alice"))
        .await;
    alice_log
        .first_after("alice decoding bob", t0, video_from("bob"))
        .await;

    // SIGKILL: no goodbye to anyone.
    let killed = Instant::now();
    server.kill().expect("SIGKILL confab serve");
    server.wait().expect("reaped");
    for log in [&alice_log, &bob_log] {
        log.first_after(
            "reconnecting",
            killed,
            signalling(|s| matches!(s, SignallingState::Reconnecting { .. })),
        )
        .await;
    }
    // While the server is gone: chat over the data channel, video both ways.
    alice.send(call::Command::SendChat("while the server is down".into()));
    bob_log
        .first_after(
            "chat during the outage",
            killed,
            chat("while the server is down"),
        )
        .await;
    let outage = Duration::from_secs(3);
    tokio::time::sleep(outage).await; // the outage itself: what is measured is what flows in it

    let restarted_at = Instant::now();
    let mut server = serve(port);
    let mut rejoined = Vec::new();
    for log in [&alice_log, &bob_log] {
        let at = log
            .first_after(
                "rejoined",
                restarted_at,
                signalling(|s| *s == SignallingState::Rejoined),
            )
            .await;
        rejoined.push(at - restarted_at);
    }
    for (who, after) in ["alice", "bob"].iter().zip(&rejoined) {
        assert!(
            *after < Duration::from_secs(5),
            "{who} rejoined {after:?} after the server was back"
        );
    }
    let back = Instant::now();
    let during = bob_log.frames("alice", killed, back);
    assert!(
        during.len() as f64 > 20.0 * (back - killed).as_secs_f64(),
        "{} frames from alice in {:?} without a server",
        during.len(),
        back - killed
    );
    let gap = largest_gap(&during);
    assert!(
        gap < Duration::from_millis(500),
        "video stopped for {gap:?}"
    );
    let gap = largest_gap(&alice_log.frames("bob", killed, back));
    assert!(
        gap < Duration::from_millis(500),
        "video stopped for {gap:?}"
    );

    // A newcomer after the restart reaches everyone, and everyone reaches it.
    let (carol, carol_log) = join(&url, "carol").await;
    let t1 = Instant::now();
    carol_log
        .first_after("carol decoding alice", t1, video_from("alice"))
        .await;
    carol_log
        .first_after("carol decoding bob", t1, video_from("bob"))
        .await;
    alice_log
        .first_after("alice decoding carol", t1, video_from("carol"))
        .await;
    bob_log
        .first_after("bob decoding carol", t1, video_from("carol"))
        .await;
    // Nobody was ever told the others left.
    assert!(
        alice_log.left().is_empty(),
        "alice saw {:?} leave",
        alice_log.left()
    );
    assert!(
        bob_log.left().is_empty(),
        "bob saw {:?} leave",
        bob_log.left()
    );
    eprintln!(
        "rejoined after the restart: alice {:?}, bob {:?}",
        rejoined[0], rejoined[1]
    );

    for h in [alice, bob, carol] {
        h.send(call::Command::Leave);
    }
    server.kill().expect("SIGKILL confab serve");
    server.wait().expect("reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_killed_with_sigkill_is_gone_within_five_seconds() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = serve(port);
    let (alice, alice_log) = join(&url, "alice").await;
    let mut bob = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args([
            "join", "--server", &url, "--room", "restart", "--name", "bob",
        ])
        .args([
            "--bind",
            "127.0.0.1:0",
            "--synthetic-video",
            "--duration",
            "60",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("confab join");
    let t0 = Instant::now();
    alice_log
        .first_after("alice decoding bob", t0, video_from("bob"))
        .await;
    let killed = Instant::now();
    bob.kill().expect("SIGKILL confab join");
    bob.wait().expect("reaped");
    let gone = alice_log
        .first_after(
            "bob gone",
            killed,
            |e| matches!(e, CallEvent::ParticipantLeft { id } if id == "bob"),
        )
        .await;
    let after = gone - killed;
    assert!(
        after < Duration::from_secs(5),
        "bob was gone only {after:?} after SIGKILL"
    );
    eprintln!("SIGKILL → gone: {after:?}");
    alice.send(call::Command::Leave);
    server.kill().expect("SIGKILL confab serve");
    server.wait().expect("reaped");
}
