//! A participant that lost its connection takes its place back at once with its resume
//! token; one that vanished without a goodbye is noticed within 10 s.

mod common;

use std::time::{Duration, Instant};

use common::{Peer, get_text, offer, server, url};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_returning_participant_with_its_token_is_admitted_while_its_old_socket_lives() {
    let srv = server().await;
    let mut alice = Peer::connect(&srv).await;
    let (_, token) = alice.join_with("r", "alice", json!({})).await;
    let (mut bob, _) = Peer::joined(&srv, "r", "bob").await;
    alice.expect("user-joined").await;

    // Alice's old socket is still connected as far as the server knows; a stranger claiming
    // her id, or presenting a wrong token, is refused.
    let mut mallory = Peer::connect(&srv).await;
    mallory.emit_args(
        "join-room",
        &[
            json!("r"),
            json!("alice"),
            json!({}),
            json!({"resumeToken": "0".repeat(32)}),
        ],
    );
    mallory.expect_error("user-id-taken").await;

    let mut back = Peer::connect(&srv).await;
    let (state, fresh) = back
        .join_with("r", "alice", json!({"resumeToken": token}))
        .await;
    assert_eq!(state["users"][0]["userId"], "bob");
    assert_ne!(fresh, token, "each admission hands out a new token");

    // Signalling for alice reaches the new socket; bob was told nothing (his next event is
    // the offer, not user-left / user-joined), not even when the old socket goes.
    bob.emit("offer", offer("r", Some("alice"), "to-the-new-socket"));
    assert_eq!(
        back.expect("offer").await["offer"]["sdp"],
        "to-the-new-socket"
    );
    alice.close().await;
    wait_for_sockets(&srv, 3).await; // bob, mallory, back: the old socket's end is processed
    back.emit("offer", offer("r", Some("bob"), "still-here"));
    let got = bob.expect("offer").await;
    assert_eq!(
        (got["from"].as_str(), got["offer"]["sdp"].as_str()),
        (Some("alice"), Some("still-here"))
    );

    // The spent token is worthless now.
    let mut replay = Peer::connect(&srv).await;
    replay.emit_args(
        "join-room",
        &[
            json!("r"),
            json!("alice"),
            json!({}),
            json!({"resumeToken": token}),
        ],
    );
    replay.expect_error("user-id-taken").await;
}

/// A client that completes the handshake, joins, and then never answers a ping: what a
/// laptop whose network vanished looks like to the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_stops_answering_is_dropped_within_ten_seconds() {
    let srv = server().await;
    let (mut bob, _) = Peer::joined(&srv, "r", "bob").await;

    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        url(&srv).replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .expect("websocket");
    let open = ws.next().await.expect("open").expect("open packet");
    assert!(open.to_text().expect("text").starts_with('0'));
    ws.send(Message::text("40")).await.expect("connect");
    ws.send(Message::text(r#"42["join-room","r","ghost",{}]"#))
        .await
        .expect("join");
    assert_eq!(bob.expect("user-joined").await["userId"], "ghost");
    // From here on the ghost reads nothing and answers no ping (the socket stays open).
    let silent_since = Instant::now();
    let left = bob.expect("user-left").await;
    let noticed = silent_since.elapsed();
    assert_eq!(left["userId"], "ghost");
    assert!(
        noticed < Duration::from_secs(10),
        "a dead socket was noticed after {noticed:?}"
    );
    drop(ws);
}

/// Waits (at most 5 s) until the server counts `n` sockets in `/metrics`.
async fn wait_for_sockets(srv: &confab_signal::Server, n: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, metrics) = get_text(srv, "/metrics").await;
        let count = metrics
            .lines()
            .find_map(|l| l.strip_prefix("confab_sockets "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        if count == Some(f64::from(n)) {
            return;
        }
        assert!(Instant::now() < deadline, "sockets: {count:?}, want {n}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
