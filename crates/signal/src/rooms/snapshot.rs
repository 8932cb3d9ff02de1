//! A room as data: what a cluster node stores in Redis between two events.
//!
//! A cluster node does not keep rooms in memory: for each event it loads the rooms the event
//! touches, lets [`Rooms`] decide exactly as a single node would, and stores what changed
//! (see `crate::cluster`). So the rules stay in one place, and these two functions are the
//! only way in and out.

use std::hash::Hash;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Member, Peer, Room, Rooms};

/// One room, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomSnapshot<K, P> {
    pub secret: Option<String>,
    /// In joining order.
    pub members: Vec<MemberSnapshot<K, P>>,
}

/// One participant, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberSnapshot<K, P> {
    pub key: K,
    pub user_id: String,
    pub user_data: Value,
    pub peer: P,
    pub resume_token: String,
}

impl<K: Copy + Eq + Hash, P: Peer> Rooms<K, P> {
    /// Puts `room_id` in as stored, replacing what was there. A snapshot without members
    /// removes the room (an emptied room does not exist).
    pub fn import(&mut self, room_id: &str, snapshot: RoomSnapshot<K, P>) {
        if let Some(old) = self.rooms.remove(room_id) {
            for m in old.members {
                self.joined.remove(&m.key);
            }
        }
        if snapshot.members.is_empty() {
            return;
        }
        let members = snapshot
            .members
            .into_iter()
            .map(|m| {
                self.joined.insert(m.key, room_id.to_owned());
                Member {
                    key: m.key,
                    user_id: m.user_id,
                    user_data: m.user_data,
                    peer: m.peer,
                    resume_token: m.resume_token,
                }
            })
            .collect();
        self.rooms.insert(
            room_id.to_owned(),
            Room {
                secret: snapshot.secret,
                members,
            },
        );
    }

    /// `room_id` as it stands, or `None` when nobody is in it.
    pub fn export(&self, room_id: &str) -> Option<RoomSnapshot<K, P>> {
        let room = self.rooms.get(room_id)?;
        Some(RoomSnapshot {
            secret: room.secret.clone(),
            members: room
                .members
                .iter()
                .map(|m| MemberSnapshot {
                    key: m.key,
                    user_id: m.user_id.clone(),
                    user_data: m.user_data.clone(),
                    peer: m.peer.clone(),
                    resume_token: m.resume_token.clone(),
                })
                .collect(),
        })
    }

    /// The room `key` is in.
    pub fn room_of(&self, key: K) -> Option<&str> {
        self.joined.get(&key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::{Credentials, Notice};
    use serde_json::json;

    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    struct Stored {
        live: bool,
    }

    impl Peer for Stored {
        fn is_live(&self) -> bool {
            self.live
        }
    }

    /// Every event on a fresh `Rooms` that holds only the stored room, as a cluster node runs.
    fn through_store(
        stored: Option<&str>,
        op: impl FnOnce(&mut Rooms<u32, Stored>) -> Vec<(Stored, Notice)>,
    ) -> (Option<String>, Vec<(Stored, Notice)>) {
        let mut rooms = Rooms::new(8);
        if let Some(json) = stored {
            rooms.import("r", serde_json::from_str(json).expect("stored JSON"));
        }
        let out = op(&mut rooms);
        let after = rooms
            .export("r")
            .map(|s| serde_json::to_string(&s).expect("serialises"));
        (after, out)
    }

    #[test]
    fn a_room_survives_the_store_with_its_rules() {
        let live = Stored { live: true };
        let (stored, _) = through_store(None, |r| {
            r.join(1, live, "r", "alice", json!({"n": 1}), Some("s"))
                .expect("first joiner")
        });
        let (stored, out) = through_store(stored.as_deref(), |r| {
            r.join(2, live, "r", "bob", json!({}), Some("s"))
                .expect("with the secret")
        });
        assert!(matches!(&out[0].1, Notice::UserJoined(j) if j.user_id == "bob"));
        let Notice::RoomState(state) = &out[1].1 else {
            panic!("bob's room-state: {out:?}")
        };
        assert_eq!(state.users[0].user_id, "alice");
        assert_eq!(state.users[0].user_data, json!({"n": 1}));
        let token = state.resume_token.clone().expect("a resume token");

        // The secret and a live holder's id hold after a round trip.
        let (_, _) = through_store(stored.as_deref(), |r| {
            let wrong = r.join(3, live, "r", "carol", json!({}), Some("x"));
            assert!(wrong.is_err(), "wrong secret admitted");
            let taken = r.join(3, live, "r", "alice", json!({}), Some("s"));
            assert!(taken.is_err(), "a live holder's id taken");
            Vec::new()
        });
        // Bob's stored token lets a new socket take his place silently.
        let (stored, out) = through_store(stored.as_deref(), |r| {
            let credentials = Credentials {
                secret: Some("s"),
                resume_token: Some(&token),
            };
            r.admit(4, live, "r", "bob", json!({}), credentials)
                .expect("resumed")
        });
        assert_eq!(out.len(), 1, "only the resumer is told: {out:?}");
        // The last one out removes the room.
        let (stored, _) = through_store(stored.as_deref(), |r| r.leave(4));
        let (stored, out) = through_store(stored.as_deref(), |r| r.leave(1));
        assert_eq!(stored, None);
        assert!(out.is_empty());
    }
}
