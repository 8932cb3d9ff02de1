//! A link whose DTLS handshake never completes: webrtc-rs's driver stops for good, and the
//! engine must recognise the dead connection from what its next offer reports (the call's
//! recovery then replaces the link: `recovery.rs`; the whole call is tested in
//! `crates/cli/tests/call_starts_over_a_failed_setup.rs`). Between the two links sits a UDP
//! relay in this test that passes ICE's STUN and drops DTLS (first byte 20-63, RFC 7983):
//! the answerer, DTLS's client, gives up after eight unanswered ClientHellos a second apart.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_engine::link::{Link, LinkConfig, LinkEvent};
use confab_engine::webrtc::peer_connection::{PeerConnection, RTCSessionDescription};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// The handshake gives up after ~8 s; this leaves room for a loaded machine.
const GIVE_UP_WITHIN: Duration = Duration::from_secs(30);

/// Relays between `target` and whoever else sends to the returned address, dropping DTLS.
async fn relay_without_dtls(target: SocketAddr) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("relay socket");
    let addr = socket.local_addr().expect("relay address");
    tokio::spawn(async move {
        let mut other: Option<SocketAddr> = None;
        let mut buf = vec![0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            if (20..=63).contains(&buf[0]) {
                continue; // DTLS
            }
            let to = if from == target {
                match other {
                    Some(o) => o,
                    None => continue,
                }
            } else {
                other = Some(from);
                target
            };
            let _ = socket.send_to(&buf[..n], to).await;
        }
    });
    addr
}

/// Hands `from`'s candidates to `to`, each address replaced by its relay's.
fn forward_through_relays(mut from: mpsc::Receiver<LinkEvent>, to: Arc<dyn PeerConnection>) {
    tokio::spawn(async move {
        while let Some(event) = from.recv().await {
            let LinkEvent::Candidate(mut c) = event else {
                continue;
            };
            // "candidate:… 1 udp PRIORITY 127.0.0.1 PORT typ host …"
            let mut fields: Vec<String> = c.candidate.split(' ').map(str::to_owned).collect();
            let real: SocketAddr = format!("{}:{}", fields[4], fields[5])
                .parse()
                .expect("a host candidate's address");
            let relay = relay_without_dtls(real).await;
            fields[5] = relay.port().to_string();
            c.candidate = fields.join(" ");
            // The remote may be dead by now: that is what this test waits for.
            let _ = to.add_ice_candidate(c).await;
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_handshake_failed_is_known_to_be_gone() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONFAB_TEST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
    let (alice, alice_events) = Link::new(&LinkConfig::loopback(), true)
        .await
        .expect("alice");
    let (bob, bob_events) = Link::new(&LinkConfig::loopback(), false)
        .await
        .expect("bob");
    let offer = alice.local_offer(false).await.expect("offer");
    bob.pc.set_remote_description(offer).await.expect("offer");
    let answer = bob.local_answer().await.expect("answer");
    assert!(
        answer.sdp.contains("a=setup:active"),
        "bob is the DTLS client"
    );
    alice
        .pc
        .set_remote_description(answer)
        .await
        .expect("answer");
    // Bob reaches alice only through the relay; alice learns bob's (relayed) address from
    // his checks, so every packet between them crosses it.
    forward_through_relays(alice_events, bob.pc.clone());
    drop(bob_events);

    // An offer (what the call's recovery makes next) works until the driver stops, then
    // fails in the way `connection_gone` recognises. Plain offers, taken back at once: an
    // ICE restart's new credentials would restart the checks the handshake waits on.
    let started = Instant::now();
    let mut attempts = 0;
    let err = loop {
        attempts += 1;
        match bob.local_offer(false).await {
            Ok(_) => {
                // Back to stable, as an offer the other side never answered is taken back.
                bob.pc
                    .set_local_description(RTCSessionDescription::rollback(None).expect("rollback"))
                    .await
                    .expect("rollback");
            }
            Err(e) => break e,
        }
        assert!(
            started.elapsed() < GIVE_UP_WITHIN,
            "bob's connection still works after {attempts} offers in {GIVE_UP_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(err.connection_gone(), "not recognised as gone: {err}");
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "failed after {:?}, before the handshake could have given up: {err}",
        started.elapsed()
    );
}
