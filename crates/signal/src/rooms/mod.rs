//! Room membership and routing, without I/O.
//!
//! [`Rooms`] decides who is in which room and who must be told what; it returns the messages
//! to deliver instead of sending them, so the rules (takeover, secrets, capacity, routing by
//! `to`) are unit-tested without sockets, and the server sends outside its lock.
//!
//! Identity rule: a participant is `(room, userId)`. A second socket that claims a userId whose
//! socket is still live is rejected with `user-id-taken`; if the holder's socket is gone (a
//! disconnect the server has not processed yet), the newcomer replaces it and the room sees
//! `user-left` for the old one followed by `user-joined` for the new one.
//!
//! Resume rule: every admitted participant gets a fresh, unguessable resume token in its
//! `room-state`. A socket that presents the current token of `(room, userId)` takes that
//! participant's place at once, live old socket or not, and nobody else is told: the
//! participant's peer connections never stopped, only its signalling connection did. A wrong
//! token changes nothing (the identity rule above applies).

use std::collections::HashMap;
use std::hash::Hash;

use serde_json::Value;

use crate::protocol::{
    ErrorCode, RoomState, RoomSummary, RoomUser, RoomsResponse, UserJoined, UserLeft,
};

/// A socket as the room logic sees it: something to deliver to, which may have gone away.
pub trait Peer: Clone {
    /// False once the underlying connection is closed, even if its disconnect has not been
    /// processed yet.
    fn is_live(&self) -> bool;
}

/// What one peer must be told after a membership change. Serialises as its payload alone
/// (untagged), sent under [`Notice::event`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Notice {
    RoomState(RoomState),
    UserJoined(UserJoined),
    UserLeft(UserLeft),
}

impl Notice {
    /// The Socket.IO event this notice is sent as.
    pub fn event(&self) -> &'static str {
        match self {
            Notice::RoomState(_) => crate::protocol::event::ROOM_STATE,
            Notice::UserJoined(_) => crate::protocol::event::USER_JOINED,
            Notice::UserLeft(_) => crate::protocol::event::USER_LEFT,
        }
    }
}

/// A rejection: the code for the client and a sentence for a human.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub code: ErrorCode,
    pub message: String,
    /// Whom the rejected event was for, when that matters to the sender.
    pub to: Option<String>,
}

impl Rejection {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            to: None,
        }
    }
}

/// Where a relayed event goes.
#[derive(Debug)]
pub struct Route<'a, P> {
    pub room_id: &'a str,
    /// The sender's joined id: the value the server stamps as `from`.
    pub from: &'a str,
    pub recipients: Vec<&'a P>,
}

struct Member<K, P> {
    key: K,
    user_id: String,
    user_data: Value,
    peer: P,
    /// What this participant presents to resume its place (see the module doc).
    resume_token: String,
}

/// What a joiner presents besides its ids: the room's secret, and the resume token of an
/// earlier admission.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    pub secret: Option<&'a str>,
    pub resume_token: Option<&'a str>,
}

/// Random bytes in a resume token: 128 bits, as a session cookie.
const RESUME_TOKEN_BYTES: usize = 16;

/// A new resume token: hex of [`RESUME_TOKEN_BYTES`] from the operating system's generator.
fn new_resume_token() -> String {
    let mut bytes = [0u8; RESUME_TOKEN_BYTES];
    getrandom::fill(&mut bytes).expect("the operating system's random generator is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares a presented token with the stored one in time independent of where they differ.
fn tokens_match(stored: &str, presented: &str) -> bool {
    stored.len() == presented.len()
        && stored
            .bytes()
            .zip(presented.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

struct Room<K, P> {
    secret: Option<String>,
    /// In joining order, so `room-state` lists participants the way they arrived.
    members: Vec<Member<K, P>>,
}

/// All rooms of one server. `K` identifies a socket, `P` is how to reach it.
pub struct Rooms<K, P> {
    rooms: HashMap<String, Room<K, P>>,
    /// Which room a socket is in: a socket is in at most one room at a time.
    joined: HashMap<K, String>,
    capacity: usize,
}

impl<K: Copy + Eq + Hash, P: Peer> Rooms<K, P> {
    pub fn new(capacity: usize) -> Self {
        Self {
            rooms: HashMap::new(),
            joined: HashMap::new(),
            capacity,
        }
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    pub fn participant_count(&self) -> usize {
        self.joined.len()
    }

    /// [`Rooms::admit`] with only a secret (no resume token).
    pub fn join(
        &mut self,
        key: K,
        peer: P,
        room_id: &str,
        user_id: &str,
        user_data: Value,
        secret: Option<&str>,
    ) -> Result<Vec<(P, Notice)>, Rejection> {
        let credentials = Credentials {
            secret,
            resume_token: None,
        };
        self.admit(key, peer, room_id, user_id, user_data, credentials)
    }

    /// Joins `key` to `room_id` as `user_id`, leaving any room it was in first.
    ///
    /// Joining the room it is already in under the same id refreshes `userData` and re-sends
    /// `room-state` without disturbing the others. A valid resume token takes the
    /// participant's place back silently (module doc). On rejection nothing changes: the
    /// socket stays where it was.
    pub fn admit(
        &mut self,
        key: K,
        peer: P,
        room_id: &str,
        user_id: &str,
        user_data: Value,
        credentials: Credentials<'_>,
    ) -> Result<Vec<(P, Notice)>, Rejection> {
        let current = self.joined.get(&key).cloned();
        let mut out = Vec::new();
        let secret = credentials.secret;

        if let Some(room) = self.rooms.get_mut(room_id) {
            if room.secret.is_some() && room.secret.as_deref() != secret {
                return Err(Rejection::new(
                    ErrorCode::WrongSecret,
                    format!("room {room_id} needs its secret"),
                ));
            }
            if current.as_deref() == Some(room_id) {
                let me = room
                    .members
                    .iter_mut()
                    .find(|m| m.key == key)
                    .expect("a socket recorded as joined is a member of its room");
                if me.user_id == user_id {
                    me.user_data = user_data;
                    let state = room_state(room, key);
                    out.push((peer, Notice::RoomState(state)));
                    return Ok(out);
                }
            }
            let resumes = credentials.resume_token.is_some_and(|presented| {
                room.members
                    .iter()
                    .any(|m| m.user_id == user_id && tokens_match(&m.resume_token, presented))
            });
            if resumes {
                if current.is_some() {
                    out.extend(self.leave(key));
                }
                let room = self
                    .rooms
                    .get_mut(room_id)
                    .expect("the room holds the resuming participant, so leaving left it");
                let me = room
                    .members
                    .iter_mut()
                    .find(|m| m.user_id == user_id)
                    .expect("found above");
                self.joined.remove(&me.key);
                me.key = key;
                me.peer = peer.clone();
                me.user_data = user_data;
                self.joined.insert(key, room_id.to_owned());
                out.push((peer, Notice::RoomState(room_state(room, key))));
                return Ok(out);
            }
            if let Some(holder) = room
                .members
                .iter()
                .find(|m| m.user_id == user_id && m.key != key)
                && holder.peer.is_live()
            {
                return Err(Rejection::new(
                    ErrorCode::UserIdTaken,
                    format!("{user_id} is already in room {room_id}"),
                ));
            }
            let others = room
                .members
                .iter()
                .filter(|m| m.key != key && m.user_id != user_id)
                .count();
            if others >= self.capacity {
                return Err(Rejection::new(
                    ErrorCode::RoomFull,
                    format!("room {room_id} is full ({} participants)", self.capacity),
                ));
            }
        }

        // Admitted: leave the old membership, evict a dead holder of the id, then join.
        if current.is_some() {
            out.extend(self.leave(key));
        }
        if let Some(stale) = self
            .rooms
            .get(room_id)
            .and_then(|r| r.members.iter().find(|m| m.user_id == user_id))
            .map(|m| m.key)
        {
            out.extend(self.leave(stale));
        }

        let room = self
            .rooms
            .entry(room_id.to_owned())
            .or_insert_with(|| Room {
                secret: secret.map(str::to_owned),
                members: Vec::new(),
            });
        room.members.push(Member {
            key,
            user_id: user_id.to_owned(),
            user_data: user_data.clone(),
            peer: peer.clone(),
            resume_token: String::new(),
        });
        let joined = UserJoined {
            user_id: user_id.to_owned(),
            user_data,
            room_size: room.members.len(),
        };
        for m in room.members.iter().filter(|m| m.key != key) {
            out.push((m.peer.clone(), Notice::UserJoined(joined.clone())));
        }
        out.push((peer, Notice::RoomState(room_state(room, key))));
        self.joined.insert(key, room_id.to_owned());
        Ok(out)
    }

    /// Removes `key` from its room (if any) and tells the others; an emptied room disappears.
    pub fn leave(&mut self, key: K) -> Vec<(P, Notice)> {
        let Some(room_id) = self.joined.remove(&key) else {
            return Vec::new();
        };
        let room = self
            .rooms
            .get_mut(&room_id)
            .expect("a socket recorded as joined names an existing room");
        let Some(pos) = room.members.iter().position(|m| m.key == key) else {
            return Vec::new();
        };
        let gone = room.members.remove(pos);
        if room.members.is_empty() {
            self.rooms.remove(&room_id);
            return Vec::new();
        }
        let left = UserLeft {
            user_id: gone.user_id,
        };
        room.members
            .iter()
            .map(|m| (m.peer.clone(), Notice::UserLeft(left.clone())))
            .collect()
    }

    /// Who receives an event `key` relays. `to` picks one participant; without it, everyone
    /// else in the room (the reference client's broadcast). `room_id`, when the sender names
    /// one, must be the room it joined.
    pub fn route(
        &self,
        key: K,
        room_id: Option<&str>,
        to: Option<&str>,
    ) -> Result<Route<'_, P>, Rejection> {
        let Some(joined) = self.joined.get(&key) else {
            return Err(Rejection::new(
                ErrorCode::NotInRoom,
                "join a room before sending signalling messages",
            ));
        };
        if let Some(named) = room_id
            && named != joined
        {
            return Err(Rejection::new(
                ErrorCode::NotInRoom,
                format!("you are not in room {named}"),
            ));
        }
        let room = &self.rooms[joined];
        let from = &room
            .members
            .iter()
            .find(|m| m.key == key)
            .expect("a socket recorded as joined is a member of its room")
            .user_id;
        let recipients = match to {
            Some(to) => {
                let Some(target) = room
                    .members
                    .iter()
                    .find(|m| m.user_id == to && m.key != key)
                else {
                    return Err(Rejection::new(
                        ErrorCode::UnknownRecipient,
                        format!("{to} is not in room {joined}"),
                    ));
                };
                vec![&target.peer]
            }
            None => room
                .members
                .iter()
                .filter(|m| m.key != key)
                .map(|m| &m.peer)
                .collect(),
        };
        Ok(Route {
            room_id: joined,
            from,
            recipients,
        })
    }

    /// The public room list: rooms with a secret are not listed.
    pub fn summary(&self) -> RoomsResponse {
        let mut rooms: Vec<RoomSummary> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.secret.is_none())
            .map(|(id, r)| RoomSummary {
                room_id: id.clone(),
                user_count: r.members.len(),
                users: r.members.iter().map(|m| m.user_id.clone()).collect(),
            })
            .collect();
        rooms.sort_by(|a, b| a.room_id.cmp(&b.room_id));
        RoomsResponse {
            total_rooms: rooms.len(),
            rooms,
        }
    }
}

/// The room as `except` sees it, with a fresh resume token for `except` (each admission
/// replaces the last token: a token works once).
fn room_state<K: Eq, P>(room: &mut Room<K, P>, except: K) -> RoomState {
    let token = new_resume_token();
    if let Some(me) = room.members.iter_mut().find(|m| m.key == except) {
        me.resume_token = token.clone();
    }
    RoomState {
        resume_token: Some(token),
        users: room
            .members
            .iter()
            .filter(|m| m.key != except)
            .map(|m| RoomUser {
                user_id: m.user_id.clone(),
                user_data: m.user_data.clone(),
            })
            .collect(),
    }
}

mod snapshot;
#[cfg(test)]
mod tests;

pub use snapshot::{MemberSnapshot, RoomSnapshot};
