//! Hostile and malformed input: every case earns the sender an `error` event, reaches no one
//! else, and leaves the server serving.

mod common;

use common::{Peer, get_json, get_text, offer, server, server_with};
use confab_signal::Config;
use serde_json::{Value, json};

/// After a rejected event, a valid one from the same sender must be the next thing the
/// recipient sees: proof that nothing from the bad event reached it.
async fn assert_nothing_leaked(sender: &Peer, recipient: &mut Peer, marker: &str) {
    sender.emit("offer", offer("r", Some("bob"), marker));
    let got = recipient.expect("offer").await;
    assert_eq!(got["offer"]["sdp"], marker);
}

async fn pair() -> (confab_signal::Server, Peer, Peer) {
    let srv = server().await;
    let (mut a, _) = Peer::joined(&srv, "r", "alice").await;
    let (b, _) = Peer::joined(&srv, "r", "bob").await;
    a.expect("user-joined").await;
    (srv, a, b)
}

#[tokio::test]
async fn a_null_ice_candidate_payload_is_rejected_and_the_server_lives_on() {
    let (srv, mut a, mut b) = pair().await;
    a.emit("ice-candidate", Value::Null);
    a.expect_error("invalid-payload").await;
    assert_nothing_leaked(&a, &mut b, "after-null").await;
    let (status, body) = get_text(&srv, "/healthz").await;
    assert_eq!((status, body.trim()), (200, "ok"));
}

#[tokio::test]
async fn wrong_types_and_missing_fields_are_rejected() {
    let (_srv, mut a, mut b) = pair().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("offer", json!("just a string"), "invalid-payload"),
        ("offer", json!(42), "invalid-payload"),
        ("offer", json!([1, 2]), "invalid-payload"),
        (
            "offer",
            json!({"roomId": "r", "to": "bob"}),
            "invalid-payload",
        ),
        (
            "offer",
            json!({"roomId": "r", "to": "bob", "offer": "v=0"}),
            "invalid-payload",
        ),
        (
            "offer",
            json!({"roomId": "r", "to": "bob", "offer": {"type": 1, "sdp": "v=0"}}),
            "invalid-payload",
        ),
        (
            "answer",
            json!({"roomId": "r", "to": "bob", "answer": null}),
            "invalid-payload",
        ),
        (
            "ice-candidate",
            json!({"roomId": "r", "to": "bob"}),
            "invalid-payload",
        ),
        (
            "ice-candidate",
            json!({"roomId": "r", "to": "bob", "candidate": "a=candidate"}),
            "invalid-payload",
        ),
        (
            "data-channel-message",
            json!({"roomId": "r"}),
            "invalid-payload",
        ),
        (
            "offer",
            json!({"roomId": 7, "to": "bob", "offer": {"type": "offer", "sdp": "x"}}),
            "invalid-payload",
        ),
        (
            "offer",
            json!({"roomId": "r", "to": ["bob"], "offer": {"type": "offer", "sdp": "x"}}),
            "invalid-payload",
        ),
        (
            "offer",
            json!({"roomId": "r", "to": "../../bob", "offer": {"type": "offer", "sdp": "x"}}),
            "invalid-id",
        ),
        (
            "offer",
            json!({"roomId": "r", "to": "nobody", "offer": {"type": "offer", "sdp": "x"}}),
            "unknown-recipient",
        ),
        (
            "offer",
            json!({"roomId": "elsewhere", "to": "bob", "offer": {"type": "offer", "sdp": "x"}}),
            "not-in-room",
        ),
        ("no-such-event", json!({}), "unknown-event"),
    ];
    for (event, payload, code) in cases {
        a.emit(event, payload.clone());
        let err = a.expect_error(code).await;
        assert!(err["message"].is_string(), "{event} {payload}: {err}");
    }
    a.emit_args("offer", &[]);
    a.expect_error("invalid-payload").await;
    assert_nothing_leaked(&a, &mut b, "after-bad-types").await;
}

#[tokio::test]
async fn join_room_rejects_bad_ids_and_bad_arguments() {
    let srv = server().await;
    let mut p = Peer::connect(&srv).await;
    let long = "x".repeat(65);
    let cases: Vec<(Vec<Value>, &str)> = vec![
        (vec![], "invalid-payload"),
        (vec![json!("r")], "invalid-payload"),
        (vec![json!(null), json!("u")], "invalid-payload"),
        (vec![json!("r"), json!(5)], "invalid-payload"),
        (vec![json!(""), json!("u")], "invalid-id"),
        (vec![json!(long), json!("u")], "invalid-id"),
        (
            vec![json!("r"), json!("<img src=x onerror=alert(1)>")],
            "invalid-id",
        ),
        (vec![json!("r"), json!("a b")], "invalid-id"),
        (
            vec![json!("r"), json!("u"), json!("not an object")],
            "invalid-payload",
        ),
        (
            vec![json!("r"), json!("u"), json!({}), json!({"secret": 5})],
            "invalid-payload",
        ),
        (
            vec![json!("r"), json!("u"), json!({}), json!({"secret": ""})],
            "invalid-payload",
        ),
    ];
    for (args, code) in cases {
        p.emit_args("join-room", &args);
        p.expect_error(code).await;
    }
    assert_eq!(get_json(&srv, "/api/rooms").await["totalRooms"], 0);
    // The same socket can still join properly afterwards.
    assert_eq!(p.join("r", "u").await, json!({"users": []}));
}

#[tokio::test]
async fn signalling_before_joining_is_rejected() {
    let srv = server().await;
    let mut p = Peer::connect(&srv).await;
    p.emit("offer", offer("r", Some("bob"), "x"));
    p.expect_error("not-in-room").await;
}

#[tokio::test]
async fn oversized_payloads_are_rejected_without_reaching_anyone() {
    let srv = server_with(Config {
        max_payload: 8 * 1024,
        ..Config::default()
    })
    .await;
    let (mut a, _) = Peer::joined(&srv, "r", "alice").await;
    let (mut b, _) = Peer::joined(&srv, "r", "bob").await;
    a.expect("user-joined").await;
    a.emit("offer", offer("r", Some("bob"), &"x".repeat(9 * 1024)));
    a.expect_error("payload-too-large").await;
    // Far beyond the transport limit the connection itself is cut; others are unaffected.
    a.emit(
        "offer",
        offer("r", Some("bob"), &"y".repeat(2 * 1024 * 1024)),
    );
    a.expect_disconnected().await;
    assert_eq!(b.expect("user-left").await["userId"], "alice");
    let (mut c, _) = Peer::joined(&srv, "r", "carol").await;
    assert_eq!(b.expect("user-joined").await["userId"], "carol");
    c.emit("offer", offer("r", Some("bob"), "small"));
    assert_eq!(b.expect("offer").await["offer"]["sdp"], "small");
    let _ = &mut c;
}

#[tokio::test]
async fn malformed_packets_close_only_that_connection() {
    let (srv, _a, mut b) = pair().await;
    let (mut m, _) = Peer::joined(&srv, "r", "mallory").await;
    b.expect("user-joined").await;
    m.client.send_raw("42[not json".into()).expect("open");
    m.expect_disconnected().await;
    assert_eq!(b.expect("user-left").await["userId"], "mallory");
    let (status, _) = get_text(&srv, "/healthz").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn binary_attachments_are_rejected() {
    let (_srv, mut a, mut b) = pair().await;
    // A Socket.IO BINARY_EVENT with one placeholder, followed by its attachment frame.
    a.client
        .send_raw(r#"451-["offer",{"_placeholder":true,"num":0}]"#.into())
        .expect("open");
    a.client.send_raw("4".into()).expect("open");
    let next = a.next().await;
    match next {
        confab_sio::Incoming::Event { name, args } if name == "error" => {
            assert_eq!(args[0]["code"], "binary-not-supported");
            assert_nothing_leaked(&a, &mut b, "after-binary").await;
        }
        // Engine-level rejection of the attachment frame also acceptable: the sender is cut.
        confab_sio::Incoming::Disconnected { .. } => {
            assert_eq!(b.expect("user-left").await["userId"], "alice");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_flooding_socket_is_rate_limited_and_others_keep_working() {
    let srv = server_with(Config {
        rate_limit_per_sec: 1.0,
        rate_limit_burst: 20.0,
        ..Config::default()
    })
    .await;
    let (mut a, _) = Peer::joined(&srv, "r", "alice").await;
    let (mut b, _) = Peer::joined(&srv, "r", "bob").await;
    a.expect("user-joined").await;
    for i in 0..40 {
        a.emit(
            "data-channel-message",
            json!({"message": format!("m{i}"), "type": "chat"}),
        );
    }
    let mut limited = 0;
    let mut delivered = 0;
    // Exactly 40 replies-or-deliveries happen: 19 reach bob (the join took one token), the
    // rest come back to alice as rate-limited errors.
    for _ in 0..21 {
        a.expect_error("rate-limited").await;
        limited += 1;
    }
    for i in 0..19 {
        let got = b.expect("data-channel-message").await;
        assert_eq!(got["message"], format!("m{i}"));
        delivered += 1;
    }
    assert_eq!((delivered, limited), (19, 21));
    // Bob is not limited by alice's flood.
    b.emit("offer", offer("r", Some("alice"), "bob-ok"));
    assert_eq!(a.expect("offer").await["offer"]["sdp"], "bob-ok");
}
