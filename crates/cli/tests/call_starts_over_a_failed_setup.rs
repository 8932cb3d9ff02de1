//! A call whose DTLS handshakes are lost while it is being set up (a firewall or middlebox
//! that passes ICE's STUN but drops DTLS for a while, or a machine too loaded to answer):
//! webrtc-rs's DTLS client gives up after eight ClientHellos a second apart and its peer
//! connection stops for good. Without the engine starting such a link over, the two
//! participants stayed "connecting" forever; with it, the call connects once DTLS passes
//! again, and video flows both ways.
//!
//! Real processes (`confab serve`, two `confab join`) in a loopback-only network namespace;
//! an nftables rule there drops every UDP datagram whose first byte says DTLS (20-63, RFC
//! 7983's demultiplexing) for [`DTLS_BLOCKED`], then is deleted.

mod common;

use std::time::{Duration, Instant};

use common::netns::{BIN, Netns, Recorded, run};

/// Longer than the DTLS client's 8 s of retransmissions: its connection dies.
const DTLS_BLOCKED: Duration = Duration::from_secs(12);
/// From DTLS passing again to video both ways: the next start-over (at most the setup
/// timeout apart) plus a handshake, on a loaded CI machine.
const CONNECTED_WITHIN: Duration = Duration::from_secs(25);
const WITHIN: Duration = Duration::from_secs(30);

const DROP_DTLS: &str = "table inet dtls {\n\
     chain output { type filter hook output priority 0; udp length > 8 @th,64,8 20-63 drop; }\n\
     }\n";

fn join(ns: &Netns, name: &str) -> Recorded {
    let mut c = ns.command(BIN);
    c.args([
        "join",
        "--server",
        "http://127.0.0.1:3000",
        "--room",
        "dtls",
    ])
    .args(["--name", name, "--bind", "127.0.0.1:0"])
    .args(["--synthetic-video", "--synthetic-audio", "--progress"]);
    Recorded::spawn(c)
}

#[test]
#[ignore = "needs root (ip netns, nftables): run by scripts/test.sh"]
fn a_call_whose_handshakes_were_lost_connects_once_they_pass() {
    let ns = Netns::new("confab-dtls".into());
    let mut serve = ns.command(BIN);
    serve.args(["serve", "--bind", "127.0.0.1:3000"]);
    let server = Recorded::spawn(serve);
    server.first_line_after(
        Instant::now() - Duration::from_secs(1),
        WITHIN,
        "the server listening",
        |l| l.contains("listening on"),
    );
    run(
        "ip",
        &["netns", "exec", &ns.name, "nft", "-f", "-"],
        Some(DROP_DTLS),
    );
    let t0 = Instant::now();
    let alice = join(&ns, "alice");
    let bob = join(&ns, "bob");
    // ICE itself works: each side hears of the other and starts its link.
    for (me, other) in [(&alice, "bob"), (&bob, "alice")] {
        me.first_after(t0, WITHIN, "the other participant", |v| {
            v["event"] == "participant-joined" && v["id"] == other
        });
    }
    let blocked_until = t0 + DTLS_BLOCKED;
    std::thread::sleep(blocked_until.saturating_duration_since(Instant::now()));
    // Nobody connected while DTLS could not pass (the rule works).
    for me in [&alice, &bob] {
        assert_eq!(
            me.count(t0, Instant::now(), |v| v["event"] == "connected"),
            0,
            "connected through the blocked handshake"
        );
    }
    run(
        "ip",
        &[
            "netns", "exec", &ns.name, "nft", "delete", "table", "inet", "dtls",
        ],
        None,
    );
    let open = Instant::now();
    for (me, other) in [(&alice, "bob"), (&bob, "alice")] {
        me.first_after(open, CONNECTED_WITHIN, "the link connected", |v| {
            v["event"] == "connected" && v["id"] == other
        });
        me.first_after(open, CONNECTED_WITHIN, "video decoded", |v| {
            v["event"] == "video" && v["from"] == other
        });
    }
    drop(server);
}
