//! Relay-only calls through a real TURN server: coturn's `turnserver`, listening on loopback
//! with long-term credentials, relays every packet between two calls that may use nothing
//! but relayed candidates (the settings panel's "Relay only", `confab join --relay-only`).
//! Ignored in a plain `cargo test` (coturn may be missing); scripts/test.sh runs it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command as Process, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Seen, until};
use confab_engine::call::{self, CallConfig};
use confab_engine::link::LinkConfig;
use confab_engine::webrtc::peer_connection::RTCIceServer;
use confab_signal::{Config, Server};

/// A turnserver process and everything it has logged so far.
struct Turn {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Turn {
    fn start(user: &str, password: &str) -> Turn {
        // A port nothing else holds right now (turnserver needs it on its command line).
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free port")
            .port();
        let mut child = Process::new("turnserver")
            .args([
                "-n",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "--simple-log",
                "--verbose",
            ])
            .args(["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
            .arg(format!("--listening-port={port}"))
            // Peers here are loopback addresses, which coturn refuses unless told otherwise.
            .args([
                "--allow-loopback-peers",
                "--lt-cred-mech",
                "--realm=confab.test",
            ])
            .arg(format!("--user={user}:{password}"))
            .arg("--log-file=stdout")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnserver (apt install coturn)");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if line.contains(&format!("UDP listener opened on: 127.0.0.1:{port}")) {
                    let _ = ready_tx.send(());
                }
                kept.lock().expect("log").push(line);
            }
        });
        ready
            .recv_timeout(Duration::from_secs(10))
            .expect("turnserver listening within 10 s");
        Turn { child, port, log }
    }

    fn lines_with(&self, needle: &str) -> usize {
        let log = self.log.lock().expect("log");
        log.iter().filter(|l| l.contains(needle)).count()
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn relay_only(turn: &Turn, user: &str, password: &str) -> LinkConfig {
    LinkConfig {
        ice_servers: vec![RTCIceServer {
            urls: vec![format!("turn:127.0.0.1:{}?transport=udp", turn.port)],
            username: user.to_owned(),
            credential: password.to_owned(),
        }],
        relay_only: true,
        ..LinkConfig::loopback()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs coturn's turnserver (scripts/setup.sh installs it); run by scripts/test.sh"]
async fn relay_only_calls_exchange_video_through_the_turn_server() {
    let turn = Turn::start("confab", "correct horse");
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());
    let mut a = CallConfig::new(&url, "relayed", "alice");
    a.link = relay_only(&turn, "confab", "correct horse");
    let mut b = CallConfig::new(&url, "relayed", "bob");
    b.link = relay_only(&turn, "confab", "correct horse");
    let (alice, mut alice_events) = call::join(a).await.expect("alice joins");
    let (bob, mut bob_events) = call::join(b).await.expect("bob joins");
    let (mut at_alice, mut at_bob) = (Seen::default(), Seen::default());
    until(&mut alice_events, &mut at_alice, |s| {
        s.frames.get("bob").is_some_and(|f| f.len() >= 30)
    })
    .await;
    until(&mut bob_events, &mut at_bob, |s| {
        s.frames.get("alice").is_some_and(|f| f.len() >= 30)
    })
    .await;
    alice.send(call::Command::Leave);
    bob.send(call::Command::Leave);
    server.shutdown().await.expect("server");
    // Both allocated a relay and bound a channel to the other's: the media went through it.
    let allocated = turn.lines_with("ALLOCATE processed, success");
    let bound = turn.lines_with("CHANNEL_BIND processed, success");
    assert!(
        allocated >= 2 && bound >= 2,
        "turnserver saw {allocated} allocations and {bound} channel binds:\n{}",
        turn.log.lock().expect("log").join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs coturn's turnserver (scripts/setup.sh installs it); run by scripts/test.sh"]
async fn relay_only_with_a_refused_turn_login_fails_instead_of_going_direct() {
    let turn = Turn::start("confab", "correct horse");
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());
    let mut a = CallConfig::new(&url, "refused", "alice");
    a.link = relay_only(&turn, "confab", "wrong");
    let mut b = CallConfig::new(&url, "refused", "bob");
    b.link = relay_only(&turn, "confab", "wrong");
    let started = std::time::Instant::now();
    let (alice, mut alice_events) = call::join(a).await.expect("alice joins");
    let (bob, _bob_events) = call::join(b).await.expect("bob joins");
    // Host candidates would connect at once over loopback; relay-only must not use them.
    let outcome = tokio::time::timeout(common::WAIT, async {
        loop {
            match alice_events.recv().await.expect("call running") {
                call::CallEvent::Connected { id } => return Err(id),
                call::CallEvent::VideoFrame { id, .. } => return Err(id),
                call::CallEvent::Error { message } if message.contains("failed") => {
                    return Ok(message);
                }
                _ => {}
            }
        }
    })
    .await
    .expect("the connection fails within the wait");
    eprintln!("{outcome:?} after {:?}", started.elapsed());
    assert_eq!(outcome, Ok("connection to bob failed".to_owned()));
    assert_eq!(turn.lines_with("ALLOCATE processed, success"), 0);
    alice.send(call::Command::Leave);
    bob.send(call::Command::Leave);
    server.shutdown().await.expect("server");
}
