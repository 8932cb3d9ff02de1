//! Routing of offer / answer / ice-candidate / data-channel-message between participants.

mod common;

use common::{Peer, offer, server};
use serde_json::json;

async fn three_in_a_room() -> (confab_signal::Server, Peer, Peer, Peer) {
    let srv = server().await;
    let (mut a, _) = Peer::joined(&srv, "r", "alice").await;
    let (mut b, _) = Peer::joined(&srv, "r", "bob").await;
    let (c, _) = Peer::joined(&srv, "r", "carol").await;
    a.expect("user-joined").await;
    a.expect("user-joined").await;
    b.expect("user-joined").await;
    (srv, a, b, c)
}

#[tokio::test]
async fn signalling_with_to_reaches_only_that_participant() {
    let (_srv, a, mut b, mut c) = three_in_a_room().await;
    a.emit("offer", offer("r", Some("carol"), "offer-for-carol"));
    a.emit(
        "answer",
        json!({"roomId": "r", "to": "carol", "answer": {"type": "answer", "sdp": "ans"}}),
    );
    a.emit("ice-candidate", json!({"roomId": "r", "to": "carol",
        "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}}));
    // Then one message for bob: if any of the above had leaked to him, he would see it first.
    a.emit("offer", offer("r", Some("bob"), "offer-for-bob"));

    assert_eq!(c.expect("offer").await["offer"]["sdp"], "offer-for-carol");
    assert_eq!(c.expect("answer").await["answer"]["sdp"], "ans");
    let cand = c.expect("ice-candidate").await;
    assert_eq!(cand["candidate"]["sdpMLineIndex"], 0);
    assert_eq!(cand["from"], "alice");
    assert_eq!(cand["to"], "carol");
    assert_eq!(b.expect("offer").await["offer"]["sdp"], "offer-for-bob");
}

#[tokio::test]
async fn the_server_stamps_from_so_nobody_speaks_as_someone_else() {
    let (_srv, a, mut b, _c) = three_in_a_room().await;
    let mut forged = offer("r", Some("bob"), "x");
    forged["from"] = json!("carol");
    a.emit("offer", forged);
    let got = b.expect("offer").await;
    assert_eq!(got["from"], "alice");
    assert_eq!(got["roomId"], "r");
}

#[tokio::test]
async fn without_to_an_event_goes_to_everyone_else_in_the_room() {
    let (_srv, mut a, mut b, mut c) = three_in_a_room().await;
    c.emit("offer", offer("r", None, "to-all"));
    assert_eq!(a.expect("offer").await["offer"]["sdp"], "to-all");
    assert_eq!(b.expect("offer").await["offer"]["sdp"], "to-all");
    // Not echoed to the sender: its next event is the reply to its own next action.
    c.emit("offer", json!(null));
    c.expect_error("invalid-payload").await;
}

#[tokio::test]
async fn data_channel_messages_are_relayed_with_a_server_timestamp() {
    let (_srv, a, mut b, mut c) = three_in_a_room().await;
    a.emit(
        "data-channel-message",
        json!({"roomId": "r", "message": "<b>hi</b>", "type": "chat"}),
    );
    for peer in [&mut b, &mut c] {
        let got = peer.expect("data-channel-message").await;
        assert_eq!(got["message"], "<b>hi</b>");
        assert_eq!(got["type"], "chat");
        assert_eq!(got["from"], "alice");
        let ts = got["timestamp"].as_str().expect("timestamp string");
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
            "RFC 3339 UTC with milliseconds like toISOString(): {ts}"
        );
    }
}

#[tokio::test]
async fn one_senders_events_arrive_in_the_order_sent() {
    let (_srv, a, mut b, _c) = three_in_a_room().await;
    a.emit("offer", offer("r", Some("bob"), "first"));
    for i in 0..150 {
        a.emit("ice-candidate", json!({"roomId": "r", "to": "bob",
            "candidate": {"candidate": format!("candidate:{i} 1 udp 1 127.0.0.1 {i} typ host"), "sdpMid": "0"}}));
    }
    a.emit(
        "ice-candidate",
        json!({"roomId": "r", "to": "bob", "candidate": null}),
    );
    assert_eq!(b.expect("offer").await["offer"]["sdp"], "first");
    for i in 0..150 {
        let c = b.expect("ice-candidate").await;
        let text = c["candidate"]["candidate"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            text.starts_with(&format!("candidate:{i} ")),
            "#{i} arrived as {text}"
        );
    }
    assert_eq!(b.expect("ice-candidate").await["candidate"], json!(null));
}
