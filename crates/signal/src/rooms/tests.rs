//! The room rules, without sockets.

use super::*;
use serde_json::json;
use std::cell::Cell;
use std::rc::Rc;

#[derive(Clone, Debug, PartialEq)]
struct TestPeer {
    name: &'static str,
    live: Rc<Cell<bool>>,
}

impl TestPeer {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            live: Rc::new(Cell::new(true)),
        }
    }
}

impl Peer for TestPeer {
    fn is_live(&self) -> bool {
        self.live.get()
    }
}

fn join(
    rooms: &mut Rooms<u32, TestPeer>,
    key: u32,
    room: &str,
    user: &'static str,
) -> Result<Vec<(TestPeer, Notice)>, Rejection> {
    rooms.join(key, TestPeer::new(user), room, user, json!({}), None)
}

fn names(out: &[(TestPeer, Notice)]) -> Vec<(&'static str, &'static str)> {
    out.iter()
        .map(|(p, n)| {
            let kind = match n {
                Notice::RoomState(_) => "room-state",
                Notice::UserJoined(_) => "user-joined",
                Notice::UserLeft(_) => "user-left",
            };
            (p.name, kind)
        })
        .collect()
}

#[test]
fn joiner_gets_the_others_and_the_others_get_user_joined() {
    let mut rooms = Rooms::new(8);
    let (a, b) = (TestPeer::new("a"), TestPeer::new("b"));
    rooms
        .join(1, a, "r", "alice", json!({"name": "A"}), None)
        .unwrap();
    let out = rooms.join(2, b, "r", "bob", json!({}), None).unwrap();
    assert_eq!(names(&out), [("a", "user-joined"), ("b", "room-state")]);
    let Notice::RoomState(state) = &out[1].1 else {
        panic!()
    };
    assert_eq!(state.users.len(), 1);
    assert_eq!(state.users[0].user_id, "alice");
    assert_eq!(state.users[0].user_data, json!({"name": "A"}));
    let Notice::UserJoined(j) = &out[0].1 else {
        panic!()
    };
    assert_eq!(j.room_size, 2);
}

#[test]
fn joining_another_room_leaves_the_first() {
    let mut rooms = Rooms::new(8);
    let (a, b) = (TestPeer::new("a"), TestPeer::new("b"));
    rooms
        .join(1, a.clone(), "r1", "alice", json!({}), None)
        .unwrap();
    rooms
        .join(2, b.clone(), "r1", "bob", json!({}), None)
        .unwrap();
    let out = rooms.join(2, b, "r2", "bob", json!({}), None).unwrap();
    assert_eq!(names(&out), [("a", "user-left"), ("b", "room-state")]);
    assert_eq!(rooms.room_count(), 2);
    assert_eq!(rooms.participant_count(), 2);
}

#[test]
fn last_leaver_removes_the_room() {
    let mut rooms = Rooms::new(8);
    rooms
        .join(1, TestPeer::new("a"), "r", "alice", json!({}), None)
        .unwrap();
    assert!(rooms.leave(1).is_empty());
    assert_eq!(rooms.room_count(), 0);
    assert!(rooms.summary().rooms.is_empty());
}

#[test]
fn live_holder_of_a_user_id_cannot_be_taken_over() {
    let mut rooms = Rooms::new(8);
    rooms
        .join(1, TestPeer::new("a"), "r", "alice", json!({}), None)
        .unwrap();
    let err = rooms
        .join(2, TestPeer::new("mallory"), "r", "alice", json!({}), None)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::UserIdTaken);
    let route = rooms.route(1, None, None).unwrap();
    assert!(
        route.recipients.is_empty(),
        "mallory must not be in the room"
    );
}

#[test]
fn dead_holder_of_a_user_id_is_replaced() {
    let mut rooms = Rooms::new(8);
    let old = TestPeer::new("old");
    let b = TestPeer::new("b");
    rooms
        .join(1, old.clone(), "r", "alice", json!({}), None)
        .unwrap();
    rooms.join(3, b, "r", "bob", json!({}), None).unwrap();
    old.live.set(false);
    let out = rooms
        .join(2, TestPeer::new("new"), "r", "alice", json!({}), None)
        .unwrap();
    assert_eq!(
        names(&out),
        [
            ("b", "user-left"),
            ("b", "user-joined"),
            ("new", "room-state")
        ]
    );
    assert_eq!(rooms.participant_count(), 2);
    let route = rooms.route(3, None, Some("alice")).unwrap();
    assert_eq!(route.recipients[0].name, "new");
}

#[test]
fn full_room_rejects_and_keeps_the_joiner_where_it_was() {
    let mut rooms = Rooms::new(2);
    join(&mut rooms, 1, "r", "a").unwrap();
    join(&mut rooms, 2, "r", "b").unwrap();
    join(&mut rooms, 3, "other", "c").unwrap();
    let err = join(&mut rooms, 3, "r", "c").unwrap_err();
    assert_eq!(err.code, ErrorCode::RoomFull);
    assert_eq!(rooms.route(3, None, None).unwrap().room_id, "other");
}

#[test]
fn secret_rooms_need_the_secret_and_are_not_listed() {
    let mut rooms = Rooms::new(8);
    rooms
        .join(1, TestPeer::new("a"), "s", "a", json!({}), Some("pw"))
        .unwrap();
    join(&mut rooms, 2, "open", "b").unwrap();
    for wrong in [None, Some("nope")] {
        let err = rooms
            .join(3, TestPeer::new("c"), "s", "c", json!({}), wrong)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::WrongSecret);
    }
    rooms
        .join(3, TestPeer::new("c"), "s", "c", json!({}), Some("pw"))
        .unwrap();
    let listed = rooms.summary();
    assert_eq!(listed.total_rooms, 1);
    assert_eq!(listed.rooms[0].room_id, "open");
}

#[test]
fn route_by_to_reaches_only_that_participant_and_stamps_the_sender() {
    let mut rooms = Rooms::new(8);
    for (k, n) in [(1, "a"), (2, "b"), (3, "c")] {
        rooms
            .join(k, TestPeer::new(n), "r", n, json!({}), None)
            .unwrap();
    }
    let route = rooms.route(1, Some("r"), Some("c")).unwrap();
    assert_eq!(route.from, "a");
    assert_eq!(route.recipients.len(), 1);
    assert_eq!(route.recipients[0].name, "c");
    let all = rooms.route(1, None, None).unwrap();
    let names: Vec<_> = all.recipients.iter().map(|p| p.name).collect();
    assert_eq!(names, ["b", "c"]);
}

#[test]
fn route_rejects_strangers_other_rooms_and_self() {
    let mut rooms = Rooms::new(8);
    join(&mut rooms, 1, "r", "a").unwrap();
    assert_eq!(
        rooms.route(9, None, None).unwrap_err().code,
        ErrorCode::NotInRoom
    );
    assert_eq!(
        rooms.route(1, Some("elsewhere"), None).unwrap_err().code,
        ErrorCode::NotInRoom
    );
    assert_eq!(
        rooms.route(1, None, Some("a")).unwrap_err().code,
        ErrorCode::UnknownRecipient
    );
}

#[test]
fn rejoining_the_same_room_refreshes_without_notifying_others() {
    let mut rooms = Rooms::new(8);
    join(&mut rooms, 1, "r", "a").unwrap();
    join(&mut rooms, 2, "r", "b").unwrap();
    let out = rooms
        .join(2, TestPeer::new("b"), "r", "b", json!({"x": 1}), None)
        .unwrap();
    assert_eq!(names(&out), [("b", "room-state")]);
    let again = join(&mut rooms, 3, "r", "c").unwrap();
    let Notice::RoomState(state) = &again.last().unwrap().1 else {
        panic!()
    };
    assert_eq!(state.users[1].user_data, json!({"x": 1}));
}

/// `key` joins `room` as `user` presenting `token` (no secret).
fn resume(
    rooms: &mut Rooms<u32, TestPeer>,
    key: u32,
    peer: &'static str,
    room: &str,
    user: &str,
    token: &str,
) -> Result<Vec<(TestPeer, Notice)>, Rejection> {
    let credentials = Credentials {
        secret: None,
        resume_token: Some(token),
    };
    rooms.admit(key, TestPeer::new(peer), room, user, json!({}), credentials)
}

fn token_of(out: &[(TestPeer, Notice)]) -> String {
    out.iter()
        .find_map(|(_, n)| match n {
            Notice::RoomState(s) => s.resume_token.clone(),
            _ => None,
        })
        .expect("every admission hands out a resume token")
}

#[test]
fn a_resume_token_takes_the_place_back_silently_even_from_a_live_socket() {
    let mut rooms = Rooms::new(8);
    let alice = join(&mut rooms, 1, "r", "alice").unwrap();
    join(&mut rooms, 2, "r", "bob").unwrap();
    let token = token_of(&alice);
    assert_eq!(token.len(), 2 * RESUME_TOKEN_BYTES);
    let out = resume(&mut rooms, 3, "alice2", "r", "alice", &token).unwrap();
    assert_eq!(
        names(&out),
        [("alice2", "room-state")],
        "bob is told nothing"
    );
    let fresh = token_of(&out);
    assert_ne!(fresh, token, "a token works once");
    assert_eq!(rooms.participant_count(), 2);
    assert_eq!(
        rooms.route(2, None, Some("alice")).unwrap().recipients[0].name,
        "alice2"
    );
    // The old socket's late disconnect does not remove the resumed participant.
    assert!(rooms.leave(1).is_empty());
    assert_eq!(
        rooms
            .route(2, None, Some("alice"))
            .unwrap()
            .recipients
            .len(),
        1
    );
    // The spent token no longer works: the live holder keeps its id.
    let err = resume(&mut rooms, 4, "mallory", "r", "alice", &token).unwrap_err();
    assert_eq!(err.code, ErrorCode::UserIdTaken);
}

#[test]
fn a_wrong_resume_token_or_another_ids_token_is_refused() {
    let mut rooms = Rooms::new(8);
    join(&mut rooms, 1, "r", "alice").unwrap();
    let bob = join(&mut rooms, 2, "r", "bob").unwrap();
    let bobs = token_of(&bob);
    for presented in ["0".repeat(2 * RESUME_TOKEN_BYTES), bobs] {
        let err = resume(&mut rooms, 3, "mallory", "r", "alice", &presented).unwrap_err();
        assert_eq!(err.code, ErrorCode::UserIdTaken);
    }
}

#[test]
fn a_resume_still_needs_the_rooms_secret() {
    let mut rooms = Rooms::new(8);
    let alice = rooms
        .join(1, TestPeer::new("a"), "s", "alice", json!({}), Some("pw"))
        .unwrap();
    let token = token_of(&alice);
    let credentials = Credentials {
        secret: None,
        resume_token: Some(&token),
    };
    let err = rooms
        .admit(2, TestPeer::new("a2"), "s", "alice", json!({}), credentials)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::WrongSecret);
}
