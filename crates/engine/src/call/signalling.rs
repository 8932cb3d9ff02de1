//! The call's signalling connection: joins the room, keeps it joined across server restarts
//! and lost networks, and carries typed messages ([`confab_protocol`]) both ways.
//!
//! Losing the connection does not end the call: the peer connections go on carrying media and
//! chat. A task reconnects with [`Backoff`] (jittered, capped), rejoins the room under the
//! same id presenting the resume token of the last `room-state` (so the server admits it at
//! once, even before noticing the old socket is dead), and hands the actor the new room list
//! to reconcile its participants with ([`reconcile`]).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use confab_protocol::{
    AnswerBody, CandidateBody, DataChannelMessage, ErrorCode, ErrorEvent, IceCandidateInit,
    JoinOptions, JoinRoom, OfferBody, RoomState, RoomUser, SessionDescription, Signal, UserData,
    UserJoined, UserLeft, event,
};
use confab_sio::Incoming;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{Notify, mpsc};

use super::config::CallConfig;
use super::events::SignallingState;
use super::reconnect::{ATTEMPT_TIMEOUT, Backoff, Servers, random_unit};

/// Signalling messages waiting for the actor. A full queue stops the reader (backpressure to
/// the server, which drops for this socket rather than grow).
const SIGNAL_QUEUE: usize = 256;

/// What the server told us, typed.
#[derive(Debug)]
pub(super) enum SignalIn {
    /// We are in the room; `users` are the others. `rejoin`: after a lost connection.
    /// (`resume_token` stays in this module: the session presents it when it rejoins.)
    RoomState {
        users: Vec<RoomUser>,
        rejoin: bool,
        resume_token: Option<String>,
    },
    UserJoined {
        id: String,
        data: UserData,
    },
    UserLeft {
        id: String,
    },
    Offer {
        from: String,
        sdp: String,
    },
    Answer {
        from: String,
        sdp: String,
    },
    /// `None`: the end of the sender's candidates.
    Candidate {
        from: String,
        candidate: Option<IceCandidateInit>,
    },
    /// A chat message (or other app message) relayed because a data channel was not open.
    Message {
        from: String,
        message: Value,
    },
    ServerError(ErrorEvent),
    /// The connection changed state (lost and retrying).
    State(SignallingState),
    /// An event we could not read.
    Malformed {
        event: String,
        error: String,
    },
}

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("signalling is reconnecting")]
    NotConnected,
    #[error(transparent)]
    Client(#[from] confab_sio::ClientError),
}

/// Sends typed messages on whatever connection is current. Every relayed message carries
/// `roomId`, `to` and `from`: Confab's server overwrites `from`; the reference Node server
/// trusts it.
pub(super) struct SignalSender {
    shared: Arc<Shared>,
    room: String,
    me: String,
}

/// What the sender and the session task share.
#[derive(Default)]
struct Shared {
    /// The connection messages go out on; `None` while reconnecting.
    current: Mutex<Option<confab_sio::Client>>,
    /// The call left: the session ends instead of reconnecting.
    left: AtomicBool,
    /// Drop the connection and make a new one now (this side's network changed).
    reconnect: Notify,
}

impl Shared {
    fn current(&self) -> std::sync::MutexGuard<'_, Option<confab_sio::Client>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SignalSender {
    fn emit<T: Serialize>(&self, name: &str, payload: &T) -> Result<(), SendError> {
        let client = self
            .shared
            .current()
            .clone()
            .ok_or(SendError::NotConnected)?;
        client.emit(name, payload)?;
        Ok(())
    }

    fn signal<B: Serialize>(&self, name: &str, to: &str, body: B) -> Result<(), SendError> {
        let signal = Signal {
            room_id: self.room.clone(),
            from: self.me.clone(),
            to: Some(to.to_owned()),
            body,
        };
        self.emit(name, &signal)
    }

    /// An offer (`answer == false`) or answer to `to`.
    pub(super) fn description(&self, to: &str, answer: bool, sdp: String) -> Result<(), SendError> {
        if answer {
            let answer = SessionDescription {
                kind: "answer".to_owned(),
                sdp,
            };
            self.signal(event::ANSWER, to, AnswerBody { answer })
        } else {
            let offer = SessionDescription {
                kind: "offer".to_owned(),
                sdp,
            };
            self.signal(event::OFFER, to, OfferBody { offer })
        }
    }

    pub(super) fn candidate(&self, to: &str, candidate: IceCandidateInit) -> Result<(), SendError> {
        let body = CandidateBody {
            candidate: Some(candidate),
        };
        self.signal(event::ICE_CANDIDATE, to, body)
    }

    /// An app message through the server (chat, when `to`'s channel is not open).
    pub(super) fn message(&self, to: &str, message: Value, kind: &str) -> Result<(), SendError> {
        let msg = DataChannelMessage {
            room_id: self.room.clone(),
            from: self.me.clone(),
            to: Some(to.to_owned()),
            message,
            kind: Value::String(kind.to_owned()),
            timestamp: None,
        };
        self.emit(event::DATA_CHANNEL_MESSAGE, &msg)
    }

    /// Leaves the room and closes the connection (queued packets are sent first).
    pub(super) fn leave(&self) {
        self.shared.left.store(true, Ordering::Relaxed);
        let client = self.shared.current().take();
        if let Some(client) = client {
            let _ = client.emit_args(event::LEAVE_ROOM, &[]);
            client.disconnect();
        }
    }

    /// Drops the connection and reconnects at once, without backoff: this side's network
    /// changed, so the old connection (bound to an address that is gone) is dead even if
    /// nothing has told it yet. Messages fail with [`SendError::NotConnected`] meanwhile.
    pub(super) fn reconnect_now(&self) {
        self.shared.current().take();
        self.shared.reconnect.notify_one();
    }
}

/// Connects and joins (errors of the first connection end the join), then keeps the
/// connection in a task that ends when the returned receiver is dropped.
pub(super) async fn connect(
    config: &CallConfig,
) -> Result<(SignalSender, mpsc::Receiver<SignalIn>), confab_sio::ClientError> {
    let mut servers = Servers::new(&config.server, &config.other_servers);
    let mut attempt = 0;
    let (client, incoming) = loop {
        match confab_sio::connect(servers.current()).await {
            Ok(connected) => break connected,
            // The last server's error is the one reported.
            Err(e) if attempt + 1 >= servers.count() => return Err(e),
            Err(e) => {
                tracing::info!(
                    server = servers.current(),
                    "cannot connect ({e}); trying the next server"
                );
                servers.failed();
                attempt += 1;
            }
        }
    };
    let shared = Arc::new(Shared::default());
    *shared.current() = Some(client.clone());
    let (tx, rx) = mpsc::channel(SIGNAL_QUEUE);
    let session = Session {
        servers,
        join: JoinRoom {
            room_id: config.room.clone(),
            user_id: config.name.clone(),
            user_data: UserData {
                name: Some(config.name.clone()),
            },
            options: JoinOptions {
                secret: config.secret.clone(),
                resume_token: None,
            },
        },
        shared: shared.clone(),
        to_actor: tx,
    };
    tokio::spawn(session.run(client, incoming));
    let sender = SignalSender {
        shared,
        room: config.room.clone(),
        me: config.name.clone(),
    };
    Ok((sender, rx))
}

struct Session {
    servers: Servers,
    join: JoinRoom,
    shared: Arc<Shared>,
    to_actor: mpsc::Sender<SignalIn>,
}

/// How a connection ended.
enum End {
    /// Lost: reconnect.
    Lost(String),
    /// This side's network changed: reconnect at once.
    Renew,
    /// The actor is gone (the call was left): stop.
    CallOver,
}

impl Session {
    async fn run(mut self, mut client: confab_sio::Client, mut incoming: confab_sio::Events) {
        let mut backoff = Backoff::default();
        let mut rejoin = false;
        loop {
            let served = self.serve(&client, &mut incoming, rejoin, &mut backoff);
            let at_once = match served.await {
                End::CallOver => return,
                End::Lost(reason) => {
                    tracing::info!(room = %self.join.room_id, "signalling lost: {reason}");
                    false
                }
                End::Renew => {
                    tracing::info!(room = %self.join.room_id, "network changed: reconnecting");
                    true
                }
            };
            self.shared.current().take();
            if self.shared.left.load(Ordering::Relaxed) {
                return; // the actor left the room and took the connection
            }
            let Some((c, i)) = self.reconnect(&mut backoff, at_once).await else {
                return;
            };
            (client, incoming) = (c, i);
            *self.shared.current() = Some(client.clone());
            rejoin = true;
        }
    }

    /// Joins and relays until the connection ends.
    async fn serve(
        &mut self,
        client: &confab_sio::Client,
        incoming: &mut confab_sio::Events,
        mut rejoin: bool,
        backoff: &mut Backoff,
    ) -> End {
        if let Err(e) = client.emit_args(event::JOIN_ROOM, &self.join.to_args()) {
            return End::Lost(e.to_string());
        }
        loop {
            let msg = tokio::select! {
                () = self.to_actor.closed() => return End::CallOver,
                () = self.shared.reconnect.notified() => return End::Renew,
                msg = incoming.recv() => msg,
            };
            let (name, args) = match msg {
                Some(Incoming::Event { name, args }) => (name, args),
                Some(Incoming::Disconnected { reason }) => return End::Lost(reason),
                None => return End::Lost("connection task ended".to_owned()),
            };
            let Some(parsed) = parse(&name, args, &self.join.user_id) else {
                continue;
            };
            let parsed = match parsed {
                SignalIn::RoomState {
                    users,
                    resume_token,
                    ..
                } => {
                    backoff.reset();
                    if resume_token.is_some() {
                        self.join.options.resume_token = resume_token;
                    }
                    let state = SignalIn::RoomState {
                        users,
                        rejoin,
                        resume_token: None,
                    };
                    rejoin = false;
                    state
                }
                SignalIn::ServerError(e) if e.code == ErrorCode::UserIdTaken && rejoin => {
                    // Our old socket still holds the id and our token did not match (a server
                    // that restarted gave it to nobody, so another client has it, or the
                    // token was spent): try again once the server has dropped the old one.
                    tracing::info!("rejoin refused ({}); retrying", e.message);
                    let delay = backoff.next_delay(random_unit());
                    tokio::time::sleep(delay).await;
                    if let Err(e) = client.emit_args(event::JOIN_ROOM, &self.join.to_args()) {
                        return End::Lost(e.to_string());
                    }
                    continue;
                }
                other => other,
            };
            if self.to_actor.send(parsed).await.is_err() {
                return End::CallOver;
            }
        }
    }

    /// Waits and reconnects until it succeeds; `None` when the call ended meanwhile.
    /// `at_once`: the first attempt without waiting.
    async fn reconnect(
        &mut self,
        backoff: &mut Backoff,
        mut at_once: bool,
    ) -> Option<(confab_sio::Client, confab_sio::Events)> {
        loop {
            let delay = if std::mem::take(&mut at_once) {
                std::time::Duration::ZERO
            } else {
                backoff.next_delay(random_unit())
            };
            let state = SignallingState::Reconnecting {
                attempt: backoff.attempt(),
                delay_ms: delay.as_millis() as u64,
            };
            if self.to_actor.send(SignalIn::State(state)).await.is_err() {
                return None;
            }
            tokio::select! {
                () = self.to_actor.closed() => return None,
                () = tokio::time::sleep(delay) => {}
            }
            let url = self.servers.current().to_owned();
            match tokio::time::timeout(ATTEMPT_TIMEOUT, confab_sio::connect(&url)).await {
                Ok(Ok(connected)) => return Some(connected),
                Ok(Err(e)) => tracing::debug!(server = url, "reconnecting: {e}"),
                Err(_) => tracing::debug!(
                    server = url,
                    "reconnecting: no answer in {ATTEMPT_TIMEOUT:?}"
                ),
            }
            self.servers.failed();
        }
    }
}

/// Reads one event into a [`SignalIn`]; `None` for events that are not for us (the reference
/// Node server sends offers to the whole room, `to` naming the one meant) or not known.
fn parse(name: &str, args: Vec<Value>, me: &str) -> Option<SignalIn> {
    let arg = args.into_iter().next().unwrap_or(Value::Null);
    fn read<T: DeserializeOwned>(name: &str, arg: Value) -> Result<T, SignalIn> {
        serde_json::from_value(arg).map_err(|e| SignalIn::Malformed {
            event: name.to_owned(),
            error: e.to_string(),
        })
    }
    // `None` for a relayed event addressed to someone else (the reference Node server sends
    // them to the whole room); a malformed one stays an error.
    fn for_me<T>(
        me: &str,
        read: Result<T, SignalIn>,
        to: fn(&T) -> &Option<String>,
    ) -> Option<Result<T, SignalIn>> {
        match read {
            Ok(v) if to(&v).as_deref().is_some_and(|to| to != me) => None,
            other => Some(other),
        }
    }
    let parsed = match name {
        event::ROOM_STATE => read::<RoomState>(name, arg).map(|s| SignalIn::RoomState {
            users: s.users,
            rejoin: false,
            resume_token: s.resume_token,
        }),
        event::USER_JOINED => read::<UserJoined>(name, arg).map(|j| SignalIn::UserJoined {
            data: UserData::from_value(&j.user_data),
            id: j.user_id,
        }),
        event::USER_LEFT => {
            read::<UserLeft>(name, arg).map(|l| SignalIn::UserLeft { id: l.user_id })
        }
        event::OFFER => {
            for_me(me, read::<Signal<OfferBody>>(name, arg), |s| &s.to)?.map(|s| SignalIn::Offer {
                from: s.from,
                sdp: s.body.offer.sdp,
            })
        }
        event::ANSWER => for_me(me, read::<Signal<AnswerBody>>(name, arg), |s| &s.to)?.map(|s| {
            SignalIn::Answer {
                from: s.from,
                sdp: s.body.answer.sdp,
            }
        }),
        event::ICE_CANDIDATE => for_me(me, read::<Signal<CandidateBody>>(name, arg), |s| &s.to)?
            .map(|s| SignalIn::Candidate {
                from: s.from,
                candidate: s.body.candidate,
            }),
        event::DATA_CHANNEL_MESSAGE => for_me(me, read::<DataChannelMessage>(name, arg), |m| {
            &m.to
        })?
        .map(|m| SignalIn::Message {
            from: m.from,
            message: m.message,
        }),
        event::ERROR => read::<ErrorEvent>(name, arg).map(SignalIn::ServerError),
        _ => return None,
    };
    Some(parsed.unwrap_or_else(|malformed| malformed))
}

/// What to do with each participant after rejoining the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reconcile {
    /// Listed, and we have a link: keep it as it is (a connected link never noticed the
    /// server was gone).
    Keep(String),
    /// Listed and unknown: a newcomer while we were away; offer to it.
    Connect(String),
    /// Not listed and its link is not connected: it left while we were away.
    Drop(String),
}

/// Compares our participants (`known`: id and whether its link is connected) with the room's
/// list after a rejoin. A participant missing from the list whose link still works is kept:
/// after a server restart the others rejoin one by one, and its own rejoin (or its link's
/// loss, [`super::recovery`]) settles it.
pub(super) fn reconcile(known: &[(String, bool)], listed: &[RoomUser]) -> Vec<Reconcile> {
    let listed_ids: HashSet<&str> = listed.iter().map(|u| u.user_id.as_str()).collect();
    let known_ids: HashSet<&str> = known.iter().map(|(id, _)| id.as_str()).collect();
    let mut out: Vec<Reconcile> = known
        .iter()
        .filter_map(|(id, connected)| {
            if listed_ids.contains(id.as_str()) {
                Some(Reconcile::Keep(id.clone()))
            } else if *connected {
                None
            } else {
                Some(Reconcile::Drop(id.clone()))
            }
        })
        .collect();
    out.extend(
        listed
            .iter()
            .filter(|u| !known_ids.contains(u.user_id.as_str()))
            .map(|u| Reconcile::Connect(u.user_id.clone())),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(id: &str) -> RoomUser {
        RoomUser {
            user_id: id.to_owned(),
            user_data: json!({}),
        }
    }

    #[test]
    fn rejoin_keeps_links_drops_the_departed_and_connects_newcomers() {
        let known = vec![
            ("kept".to_owned(), true),
            ("listed-but-down".to_owned(), false),
            ("gone".to_owned(), false),
            ("not-yet-back".to_owned(), true),
        ];
        let listed = [user("kept"), user("listed-but-down"), user("new")];
        assert_eq!(
            reconcile(&known, &listed),
            [
                Reconcile::Keep("kept".into()),
                Reconcile::Keep("listed-but-down".into()),
                Reconcile::Drop("gone".into()),
                Reconcile::Connect("new".into()),
            ]
        );
    }

    #[test]
    fn offers_for_someone_else_are_not_ours() {
        let offer = json!({"roomId": "r", "from": "a", "to": "c", "offer": {"type": "offer", "sdp": "v=0"}});
        assert!(parse(event::OFFER, vec![offer.clone()], "b").is_none());
        assert!(matches!(
            parse(event::OFFER, vec![offer], "c"),
            Some(SignalIn::Offer { from, .. }) if from == "a"
        ));
    }

    #[test]
    fn malformed_events_are_reported_not_dropped() {
        let bad = json!({"from": "a", "offer": {"sdp": 7}});
        assert!(matches!(
            parse(event::OFFER, vec![bad], "b"),
            Some(SignalIn::Malformed { event, .. }) if event == "offer"
        ));
        assert!(parse("no-such-event", vec![], "b").is_none());
    }

    #[test]
    fn room_state_carries_the_users() {
        let state =
            json!({"users": [{"userId": "x", "userData": {"name": "X"}}], "resumeToken": "t"});
        let Some(SignalIn::RoomState {
            users,
            resume_token,
            ..
        }) = parse(event::ROOM_STATE, vec![state], "me")
        else {
            panic!("room-state not read");
        };
        assert_eq!(
            users,
            [RoomUser {
                user_id: "x".into(),
                user_data: json!({"name": "X"})
            }]
        );
        assert_eq!(resume_token.as_deref(), Some("t"));
    }
}
