//! Joining, leaving and the room list, through real Socket.IO clients.

mod common;

use common::{Peer, get_json, offer, server, server_with};
use confab_signal::Config;
use serde_json::json;

#[tokio::test]
async fn joiner_receives_the_others_and_the_others_learn_of_the_joiner() {
    let srv = server().await;
    let (mut alice, state) = Peer::joined(&srv, "room-1", "alice").await;
    assert_eq!(state, json!({"users": []}));

    let (_bob, state) = Peer::joined(&srv, "room-1", "bob").await;
    assert_eq!(
        state,
        json!({"users": [{"userId": "alice", "userData": {"name": "alice"}}]})
    );
    let joined = alice.expect("user-joined").await;
    assert_eq!(
        joined,
        json!({"userId": "bob", "userData": {"name": "bob"}, "roomSize": 2})
    );
}

#[tokio::test]
async fn leaving_and_disconnecting_notify_the_room_and_empty_rooms_disappear() {
    let srv = server().await;
    let (mut alice, _) = Peer::joined(&srv, "r", "alice").await;
    let (bob, _) = Peer::joined(&srv, "r", "bob").await;
    let (carol, _) = Peer::joined(&srv, "r", "carol").await;
    alice.expect("user-joined").await;
    alice.expect("user-joined").await;

    bob.emit_args("leave-room", &[]);
    assert_eq!(alice.expect("user-left").await, json!({"userId": "bob"}));
    carol.client.disconnect();
    assert_eq!(alice.expect("user-left").await, json!({"userId": "carol"}));

    let rooms = get_json(&srv, "/api/rooms").await;
    assert_eq!(
        rooms,
        json!({"totalRooms": 1, "rooms": [{"roomId": "r", "userCount": 1, "users": ["alice"]}]})
    );
    alice.emit_args("leave-room", &[]);
    // leave-room has no reply; a second join proves the leave was processed first.
    let state = alice.join("other", "alice").await;
    assert_eq!(state, json!({"users": []}));
    let rooms = get_json(&srv, "/api/rooms").await;
    assert_eq!(rooms["totalRooms"], 1);
    assert_eq!(rooms["rooms"][0]["roomId"], "other");
}

#[tokio::test]
async fn joining_another_room_leaves_the_first() {
    let srv = server().await;
    let (mut alice, _) = Peer::joined(&srv, "first", "alice").await;
    let (mut bob, _) = Peer::joined(&srv, "first", "bob").await;
    alice.expect("user-joined").await;

    let state = bob.join("second", "bob").await;
    assert_eq!(state, json!({"users": []}));
    assert_eq!(alice.expect("user-left").await, json!({"userId": "bob"}));

    // Bob's signalling now goes nowhere in the first room.
    bob.emit("offer", offer("first", Some("alice"), "v=0"));
    bob.expect_error("not-in-room").await;
}

#[tokio::test]
async fn secret_rooms_are_unlisted_and_refuse_a_wrong_secret() {
    let srv = server().await;
    let mut host = Peer::connect(&srv).await;
    host.emit_args(
        "join-room",
        &[
            json!("hidden"),
            json!("host"),
            json!({}),
            json!({"secret": "s3"}),
        ],
    );
    host.expect("room-state").await;
    let (_open, _) = Peer::joined(&srv, "open", "x").await;

    let rooms = get_json(&srv, "/api/rooms").await;
    assert_eq!(rooms["totalRooms"], 1);
    assert_eq!(rooms["rooms"][0]["roomId"], "open");

    let mut guest = Peer::connect(&srv).await;
    guest.emit_args("join-room", &[json!("hidden"), json!("guest"), json!({})]);
    guest.expect_error("wrong-secret").await;
    guest.emit_args(
        "join-room",
        &[
            json!("hidden"),
            json!("guest"),
            json!({}),
            json!({"secret": "nope"}),
        ],
    );
    guest.expect_error("wrong-secret").await;
    guest.emit_args(
        "join-room",
        &[
            json!("hidden"),
            json!("guest"),
            json!({}),
            json!({"secret": "s3"}),
        ],
    );
    let state = guest.expect("room-state").await;
    assert_eq!(state["users"][0]["userId"], "host");
    assert_eq!(host.expect("user-joined").await["userId"], "guest");
}

#[tokio::test]
async fn a_second_socket_cannot_take_over_a_live_participant() {
    let srv = server().await;
    let (mut alice, _) = Peer::joined(&srv, "r", "alice").await;
    let (mut bob, _) = Peer::joined(&srv, "r", "bob").await;
    alice.expect("user-joined").await;

    let mut mallory = Peer::connect(&srv).await;
    mallory.emit_args("join-room", &[json!("r"), json!("alice"), json!({})]);
    mallory.expect_error("user-id-taken").await;

    // Messages for alice still reach the real alice, and mallory is not in the room.
    bob.emit("offer", offer("r", Some("alice"), "for-alice"));
    let got = alice.expect("offer").await;
    assert_eq!(got["offer"]["sdp"], "for-alice");
    mallory.emit("offer", offer("r", Some("bob"), "x"));
    mallory.expect_error("not-in-room").await;
    let _ = &mut bob;
}

#[tokio::test]
async fn a_participant_whose_socket_is_gone_can_be_replaced() {
    let srv = server().await;
    let (mut bob, _) = Peer::joined(&srv, "r", "bob").await;
    let (alice, _) = Peer::joined(&srv, "r", "alice").await;
    bob.expect("user-joined").await;
    alice.client.disconnect();
    assert_eq!(bob.expect("user-left").await["userId"], "alice");

    let (mut alice2, state) = Peer::joined(&srv, "r", "alice").await;
    assert_eq!(state["users"][0]["userId"], "bob");
    assert_eq!(bob.expect("user-joined").await["userId"], "alice");
    bob.emit("offer", offer("r", Some("alice"), "hello-again"));
    assert_eq!(alice2.expect("offer").await["offer"]["sdp"], "hello-again");
}

#[tokio::test]
async fn a_full_room_rejects_the_next_joiner() {
    let srv = server_with(Config {
        room_capacity: 2,
        ..Config::default()
    })
    .await;
    let (_a, _) = Peer::joined(&srv, "r", "a").await;
    let (_b, _) = Peer::joined(&srv, "r", "b").await;
    let mut c = Peer::connect(&srv).await;
    c.emit_args("join-room", &[json!("r"), json!("c"), json!({})]);
    c.expect_error("room-full").await;
    let rooms = get_json(&srv, "/api/rooms").await;
    assert_eq!(rooms["rooms"][0]["userCount"], 2);
}

/// A client that emits `join-room` the instant its namespace connection is acknowledged must
/// be heard (the server's handlers exist before the acknowledgement is sent; they used to be
/// installed by a task spawned after it, and under load the first event was lost), and its
/// `room-state` must come before any `user-joined` for later joiners (membership notices are
/// queued under the state lock; queued after it, concurrent joins could overtake them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_sent_the_moment_the_socket_connects_is_never_lost() {
    let srv = server().await;
    let joins = (0..200).map(|i| {
        let srv = &srv;
        async move {
            // Peer::joined emits join-room right after connect returns, with no delay.
            let (p, state) = Peer::joined(srv, &format!("race-{}", i % 50), &format!("u{i}")).await;
            assert!(state["users"].is_array());
            p
        }
    });
    let peers = futures_util::future::join_all(joins).await;
    assert_eq!(peers.len(), 200);
    let rooms = get_json(&srv, "/api/rooms").await;
    assert_eq!(rooms["totalRooms"], 50);
}
