//! The room as signalling describes it, on the actor's side: membership (`room-state`,
//! `user-joined`, `user-left`, reconciling after a rejoin) and the offer / answer / candidate
//! exchange with each participant, driven by its [`super::negotiation::Negotiation`].

use std::time::Instant;

use confab_protocol::{AppMessage, ErrorCode, IceCandidateInit, RoomUser, UserData};
use webrtc::peer_connection::{RTCIceCandidateInit, RTCSessionDescription};

use super::actor::{Actor, OFFER_IF_SILENT, add_local_tracks};
use super::events::{CallEvent, ParticipantState, SignallingState};
use super::negotiation::{OfferKind, OfferVerdict, dtls_fingerprint};
use super::signalling::{Reconcile, SignalIn, reconcile};
use crate::link::LinkError;

impl Actor {
    pub(super) async fn on_signal(&mut self, msg: SignalIn) {
        tracing::debug!(me = %self.config.name, ?msg, "signal");
        match msg {
            SignalIn::RoomState { users, rejoin, .. } => self.on_room_state(users, rejoin).await,
            SignalIn::UserJoined { id, data } => self.on_user_joined(&id, &data).await,
            SignalIn::UserLeft { id } => self.drop_participant(&id).await,
            SignalIn::Offer { from, sdp } => match self.on_offer(&from, sdp).await {
                Err(e) if e.connection_gone() => self.link_gone(&from),
                Err(e) => self.events.error(format!("offer from {from}: {e}")),
                Ok(()) => {}
            },
            SignalIn::Answer { from, sdp } => match self.on_answer(&from, sdp).await {
                Err(e) if e.connection_gone() => self.link_gone(&from),
                Err(e) => self.events.error(format!("answer from {from}: {e}")),
                Ok(()) => {}
            },
            SignalIn::Candidate { from, candidate } => self.on_candidate(&from, candidate).await,
            SignalIn::Message { from, message } => {
                // The signalling fallback carries chat (and media state) only.
                match serde_json::from_value::<AppMessage>(message) {
                    Ok(msg @ (AppMessage::Chat(_) | AppMessage::MediaState(_))) => {
                        self.on_app_message(&from, msg).await
                    }
                    Ok(_) => {}
                    Err(e) => self
                        .events
                        .error(format!("unreadable message from {from}: {e}")),
                }
            }
            SignalIn::ServerError(e) if e.code == ErrorCode::RecipientUnreachable => {
                // Its connection is gone for now (it may be coming back): an offer we sent it
                // will never be answered, so take it back and let the next one go out.
                tracing::debug!(to = ?e.to, event = ?e.event, "not delivered: {}", e.message);
                if let (Some(to), Some("offer")) = (e.to.as_deref(), e.event.as_deref())
                    && let Some(p) = self.participants.get_mut(to)
                    && p.negotiation.offer_outstanding()
                {
                    p.take_back_offer().await;
                }
            }
            SignalIn::ServerError(e) => {
                self.events
                    .error(format!("server: {} {}", e.code.as_str(), e.message))
            }
            SignalIn::State(state) => {
                if self.signalling_up {
                    self.signalling_down().await;
                }
                self.events.emit(CallEvent::Signalling(state));
            }
            SignalIn::Malformed { event, error } => self
                .events
                .error(format!("malformed {event} from the server: {error}")),
        }
    }

    pub(super) async fn on_room_state(&mut self, users: Vec<RoomUser>, rejoin: bool) {
        if !rejoin {
            self.events.emit(CallEvent::Joined {
                room: self.config.room.clone(),
            });
            self.events
                .emit(CallEvent::Signalling(SignallingState::Connected));
            for user in &users {
                self.note_participant(&user.user_id, &UserData::from_value(&user.user_data));
                self.connect_to(&user.user_id).await;
            }
            return;
        }
        self.events
            .emit(CallEvent::Signalling(SignallingState::Rejoined));
        self.signalling_up = true;
        let now = Instant::now();
        for p in self.participants.map.values_mut() {
            p.recovery.on_signalling(now, true);
        }
        let known: Vec<(String, bool)> = self
            .names
            .keys()
            .map(|id| {
                let connected = self.participants.get(id).is_some_and(|p| p.connected);
                (id.clone(), connected)
            })
            .collect();
        for step in reconcile(&known, &users) {
            match step {
                Reconcile::Keep(id) => {
                    // A link that never connected may have lost its offer while signalling
                    // was down: the rejoining side offers afresh (as any joiner does).
                    if self
                        .participants
                        .get(&id)
                        .is_none_or(|p| p.recovery.state() == ParticipantState::Connecting)
                    {
                        self.participants.remove(&id).await;
                        self.connect_to(&id).await;
                    }
                }
                Reconcile::Connect(id) => {
                    if let Some(user) = users.iter().find(|u| u.user_id == id) {
                        self.note_participant(&id, &UserData::from_value(&user.user_data));
                    }
                    self.connect_to(&id).await;
                }
                Reconcile::Drop(id) => self.drop_participant(&id).await,
            }
        }
    }

    pub(super) async fn on_user_joined(&mut self, id: &str, data: &UserData) {
        // Someone we still have a link with rejoined after losing its signalling: a link that
        // works is kept; one that never connected is dropped, and the joiner offers afresh.
        if self
            .participants
            .get(id)
            .is_some_and(|p| p.recovery.state() == ParticipantState::Connecting)
        {
            self.participants.remove(id).await;
        }
        self.note_participant(id, data);
        if self.participants.get(id).is_none() {
            self.expecting_offer
                .insert(id.to_owned(), Instant::now() + OFFER_IF_SILENT);
        }
    }

    pub(super) fn note_participant(&mut self, id: &str, data: &UserData) {
        if id == self.config.name || self.names.contains_key(id) {
            return;
        }
        let name = data.name.clone().unwrap_or_else(|| id.to_owned());
        self.names.insert(id.to_owned(), name.clone());
        self.record(confab_record::Input::Joined {
            id: id.to_owned(),
            name: name.clone(),
        });
        self.events.emit(CallEvent::ParticipantJoined {
            id: id.to_owned(),
            name,
        });
    }

    /// Creates a link to `id` as the offering side and offers.
    pub(super) async fn connect_to(&mut self, id: &str) {
        if self.participants.get(id).is_some() {
            return;
        }
        if let Err(e) = self.create_link(id, true).await {
            return self.events.error(format!("offering to {id}: {e}"));
        }
        self.make_offer(id, OfferKind::Initial).await;
    }

    pub(super) async fn create_link(&mut self, id: &str, offering: bool) -> Result<(), LinkError> {
        let name = self.names.get(id).cloned().unwrap_or_else(|| id.to_owned());
        let p = self
            .participants
            .create(
                id,
                name,
                &self.config.name,
                &self.config.link,
                offering,
                &self.internal,
            )
            .await?;
        if offering {
            // The offer carries our tracks; the answerer's are added when it answers (and
            // renegotiated when the offer had no m-line for them).
            add_local_tracks(p, &self.config.name, &self.media).await?;
            p.tracks_added = true;
        }
        self.events.emit(CallEvent::ParticipantState {
            id: id.to_owned(),
            state: ParticipantState::Connecting,
        });
        Ok(())
    }

    /// Offers to `id` if its negotiation allows one of `kind` now.
    pub(super) async fn make_offer(&mut self, id: &str, kind: OfferKind) {
        let Some(p) = self.participants.get_mut(id) else {
            return;
        };
        let now = Instant::now();
        let Some(plan) = p.negotiation.want_offer(kind, now) else {
            return;
        };
        let kind = plan.kind;
        if plan.rollback_first {
            tracing::debug!(%id, "our last offer went unanswered: replacing it");
            p.take_back_offer().await;
        }
        let offer = match p.link.local_offer(kind == OfferKind::IceRestart).await {
            Ok(offer) => offer,
            Err(e) => {
                p.negotiation.offer_failed();
                if e.connection_gone() {
                    return self.link_gone(id);
                }
                return self.events.error(format!("offer to {id}: {e}"));
            }
        };
        tracing::debug!(me = %self.config.name, %id, ?kind, "offering");
        match self.signal.description(id, false, offer.sdp) {
            Ok(()) => p.negotiation.offer_sent(kind, now),
            Err(e) => {
                // Nobody will answer an offer that was not sent: take it back, so that the
                // next attempt (recovery's timer, or the rejoin) can offer again.
                tracing::debug!(%id, "offer not sent: {e}");
                p.take_back_offer().await;
            }
        }
    }

    pub(super) async fn on_offer(&mut self, from: &str, sdp: String) -> Result<(), LinkError> {
        self.expecting_offer.remove(from);
        let fingerprint = dtls_fingerprint(&sdp).map(str::to_owned);
        let offer = RTCSessionDescription::offer(sdp)?;
        if self.participants.get(from).is_none() {
            self.note_participant(from, &UserData::default());
            self.create_link(from, false).await?;
        }
        let verdict = self
            .participants
            .get_mut(from)
            .expect("created above")
            .negotiation
            .on_remote_offer(fingerprint.as_deref());
        match verdict {
            OfferVerdict::Ignore => {
                tracing::debug!(%from, "offer collision: ignoring theirs");
                return Ok(());
            }
            OfferVerdict::NewSession => {
                // The participant restarted under the same id: a new link, as for a stranger.
                tracing::info!(%from, "new session from a known participant: replacing its link");
                self.transfers.peer_gone(from, &self.participants);
                self.participants.remove(from).await;
                self.create_link(from, false).await?;
                let p = self.participants.get_mut(from).expect("created above");
                p.negotiation.on_remote_offer(fingerprint.as_deref());
            }
            OfferVerdict::Accept { rollback: true } => {
                let p = self.participants.get_mut(from).expect("present");
                p.link
                    .pc
                    .set_local_description(RTCSessionDescription::rollback(None)?)
                    .await?;
            }
            OfferVerdict::Accept { rollback: false } => {}
        }
        let p = self.participants.get_mut(from).expect("present");
        p.link.pc.set_remote_description(offer).await?;
        if !p.tracks_added {
            // Answering side: our tracks take the transceivers the offer created.
            add_local_tracks(p, &self.config.name, &self.media).await?;
            p.tracks_added = true;
        }
        for c in p.negotiation.remote_offer_applied(fingerprint.as_deref()) {
            let _ = p.link.pc.add_ice_candidate(c).await;
        }
        let answer = p.link.local_answer().await?;
        if let Err(e) = self.signal.description(from, true, answer.sdp) {
            tracing::debug!(%from, "answer not sent: {e}");
        }
        if let Some(kind) = p.negotiation.exchange_done() {
            self.make_offer(from, kind).await;
        }
        Ok(())
    }

    pub(super) async fn on_answer(&mut self, from: &str, sdp: String) -> Result<(), LinkError> {
        let Some(p) = self.participants.get_mut(from) else {
            return Ok(());
        };
        if !p.negotiation.on_remote_answer() {
            tracing::debug!(%from, "stale answer dropped");
            return Ok(());
        }
        let fingerprint = dtls_fingerprint(&sdp).map(str::to_owned);
        p.link
            .pc
            .set_remote_description(RTCSessionDescription::answer(sdp)?)
            .await?;
        for c in p.negotiation.remote_answer_applied(fingerprint.as_deref()) {
            let _ = p.link.pc.add_ice_candidate(c).await;
        }
        if let Some(kind) = p.negotiation.exchange_done() {
            self.make_offer(from, kind).await;
        }
        Ok(())
    }

    pub(super) async fn on_candidate(&mut self, from: &str, candidate: Option<IceCandidateInit>) {
        let Some(c) = candidate.filter(|c| !c.candidate.is_empty()) else {
            return; // end of candidates
        };
        let init = RTCIceCandidateInit {
            candidate: c.candidate,
            sdp_mid: c.sdp_mid,
            sdp_mline_index: c.sdp_mline_index,
            username_fragment: c.username_fragment,
            ..Default::default()
        };
        let Some(p) = self.participants.get_mut(from) else {
            return;
        };
        if let Some(init) = p.negotiation.on_candidate(init)
            && let Err(e) = p.link.pc.add_ice_candidate(init).await
        {
            tracing::debug!(%from, "candidate: {e}");
        }
    }

    pub(super) async fn drop_participant(&mut self, id: &str) {
        tracing::debug!(me = %self.config.name, %id, "dropping participant");
        self.names.remove(id);
        self.record(confab_record::Input::Left { id: id.to_owned() });
        self.expecting_offer.remove(id);
        self.audio.forget(id);
        self.chat.forget(id);
        self.transfers.peer_gone(id, &self.participants);
        self.participants.remove(id).await;
        tracing::debug!(me = %self.config.name, %id, "dropped participant");
        self.events.emit(CallEvent::ParticipantState {
            id: id.to_owned(),
            state: ParticipantState::Left,
        });
        self.events
            .emit(CallEvent::ParticipantLeft { id: id.to_owned() });
    }
}
