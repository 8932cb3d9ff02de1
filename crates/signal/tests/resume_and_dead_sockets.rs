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
    // bob, mallory, back: the old socket's end is processed.
    wait_for_sockets(&srv, 3, Duration::from_secs(5)).await;
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
/// laptop whose network vanished looks like to the server. The server notices within 10 s,
/// holds its place (it may come back with its token) and lets the room know it left once it
/// has been unreachable for 15 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_stops_answering_is_noticed_within_ten_seconds_and_gone_within_fifteen() {
    let srv = server().await;
    let (mut bob, _) = Peer::joined(&srv, "r", "bob").await;

    let (ws, _) = ghost(&srv, "ghost").await;
    assert_eq!(bob.expect("user-joined").await["userId"], "ghost");
    // From here on the ghost reads nothing and answers no ping (the socket stays open).
    let silent_since = Instant::now();
    wait_for_sockets(&srv, 1, Duration::from_secs(10)).await;
    let noticed = silent_since.elapsed();
    let left = bob
        .expect_within("user-left", Duration::from_secs(15))
        .await;
    let gone = silent_since.elapsed();
    assert_eq!(left["userId"], "ghost");
    assert!(
        gone >= noticed + confab_signal::PARTICIPANT_HOLD - Duration::from_millis(100),
        "held {:?} after noticing, not {:?}",
        gone - noticed,
        confab_signal::PARTICIPANT_HOLD
    );
    assert!(gone < Duration::from_secs(15), "gone after {gone:?}");
    drop(ws);
}

/// A participant whose socket went silent comes back (a network switch) with its token
/// while the server still holds its place: nobody is told anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_participant_that_comes_back_in_time_resumes_unannounced() {
    let srv = server().await;
    let (mut bob, _) = Peer::joined(&srv, "r", "bob").await;
    let (mut ws, token) = ghost(&srv, "carol").await;
    assert_eq!(bob.expect("user-joined").await["userId"], "carol");
    let silent_since = Instant::now();
    wait_for_sockets(&srv, 1, Duration::from_secs(10)).await;
    // Meanwhile an offer for carol cannot be delivered, and bob is told so at once.
    bob.emit("offer", offer("r", Some("carol"), "lost"));
    let err = bob.expect_error("recipient-unreachable").await;
    assert_eq!(
        (err["to"].as_str(), err["event"].as_str()),
        (Some("carol"), Some("offer"))
    );
    let mut back = Peer::connect(&srv).await;
    let (state, _) = back
        .join_with("r", "carol", json!({"resumeToken": token}))
        .await;
    assert_eq!(state["users"][0]["userId"], "bob");
    // Past the hold: still nobody told carol left, and signalling reaches her new socket.
    tokio::time::sleep(confab_signal::PARTICIPANT_HOLD).await;
    bob.emit("offer", offer("r", Some("carol"), "welcome-back"));
    assert_eq!(back.expect("offer").await["offer"]["sdp"], "welcome-back");
    // Bob's next event is carol's offer, not a user-left for her old socket's expiry.
    back.emit("offer", offer("r", Some("bob"), "thanks"));
    let got = bob.expect("offer").await;
    assert_eq!(got["from"], "carol");
    assert!(silent_since.elapsed() > confab_signal::PARTICIPANT_HOLD);
    let _ = ws.close(None).await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw client that joins room `r` as `user` and from then on reads nothing and answers no
/// ping (the socket stays open); returns it and its resume token.
async fn ghost(srv: &confab_signal::Server, user: &str) -> (Ws, String) {
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        url(srv).replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .expect("websocket");
    let open = ws.next().await.expect("open").expect("open packet");
    assert!(open.to_text().expect("text").starts_with('0'));
    ws.send(Message::text("40")).await.expect("connect");
    // As a real client does: the join goes out once the namespace is connected.
    let mut seen = Vec::new();
    loop {
        let msg = ws.next().await;
        let Some(Ok(msg)) = msg else {
            panic!("the connection ended during the handshake: {msg:?}; seen {seen:?}");
        };
        let text = msg.to_text().expect("text").to_owned();
        seen.push(text.clone());
        if text.starts_with("40") {
            break;
        }
    }
    ws.send(Message::text(format!(
        r#"42["join-room","r","{user}",{{}}]"#
    )))
    .await
    .expect("join");
    loop {
        let msg = ws.next().await;
        let Some(Ok(msg)) = msg else {
            panic!("the connection ended before room-state: {msg:?}; seen {seen:?}");
        };
        let text = msg.to_text().expect("text").to_owned();
        seen.push(text.clone());
        if let Some(body) = text.strip_prefix("42") {
            let v: serde_json::Value = serde_json::from_str(body).expect("an event");
            if v[0] == "room-state" {
                let token = v[1]["resumeToken"].as_str().expect("a token").to_owned();
                return (ws, token);
            }
        }
    }
}

/// Waits (at most `within`) until the server counts `n` sockets in `/metrics`.
async fn wait_for_sockets(srv: &confab_signal::Server, n: u32, within: Duration) {
    let deadline = Instant::now() + within;
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
