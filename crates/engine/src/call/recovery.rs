//! Finding one participant's link again after it was lost, without I/O (time is an input).
//! The ladder, cheapest rung first:
//!
//! 1. **Wait.** ICE keeps checking the pair it had; a short outage (a blackout of seconds)
//!    comes back by itself, and the participant is shown as *reconnecting* meanwhile.
//! 2. **ICE restart.** The side that made the link's first offer offers new ICE credentials
//!    [`ICE_RESTART_AFTER`] after the loss (at once when ICE says `failed`), gathering on the
//!    interfaces it has *now*: what a laptop that changed networks needs. Repeated while the
//!    link stays lost, [`ICE_RESTART_BASE`] doubling up to [`ICE_RESTART_CAP`] apart.
//! 3. **Removal.** A participant unreachable for [`PARTICIPANT_TIMEOUT`] is removed from the
//!    call as if it had left (process killed, network cut for good, no goodbye). A
//!    participant that comes back later joins again like anyone else.
//!
//! An ICE restart needs signalling (the offer and answer go through the server). While this
//! side's own signalling is down — its network is the one that failed — restarts wait: an
//! offer that cannot be delivered would only give ICE new credentials the other side never
//! learns, and the old pair could no longer come back by itself when the network does
//! (measured: a 10 s blackout then never recovered). Once signalling is back, the lost link
//! gets [`ICE_RESTART_AFTER`] to recover by itself before the first restart. When this
//! side's own network changed (another address), it restarts at once, whichever side made
//! the first offer: only it knows its old candidates are gone.
//!
//! ```text
//!  Connecting ──connected──▶ Connected ──disconnected/failed──▶ Lost{since}
//!  Lost ──connected──▶ Connected        Lost ──(PARTICIPANT_TIMEOUT)──▶ Removed
//! ```
//!
//! A link whose ICE connected but which does not come up (its DTLS handshake never ends) is
//! **started over**: a new peer connection (a new DTLS certificate, so the other side sees a
//! new session and replaces its own) offered afresh, by the side that made the first offer
//! [`HANDSHAKE_TIMEOUT`] after ICE connected, by the other after
//! [`HANDSHAKE_TIMEOUT_ANSWERING`] (only when the first side's new offer never came). The
//! same happens at once to a link whose peer connection is found dead
//! ([`Recovery::on_connection_gone`]). Why: webrtc-rs's DTLS client gives up after eight
//! unanswered ClientHellos a second apart, and its peer connection's driver then stops for
//! good; every later offer or answer on it fails, and ICE restarts cannot revive it. Seen in
//! CI on a loaded two-core machine: a link lost mid-call never came back, the other side's
//! restarts failing every 3 s until the test gave up.
//!
//! A link whose ICE never connects is left to ICE: it fails after webrtc-rs's ICE failed
//! timeout, the failure is reported as an error (a relay refusing our login, a network that
//! lets nothing through: starting over would not help, and would hide it), and the server's
//! `user-left` removes a participant that left.

use std::time::{Duration, Instant};

use super::events::ParticipantState;

/// How long a lost link is left to recover by itself before the first ICE restart. A
/// blackout shorter than this never costs a renegotiation.
pub const ICE_RESTART_AFTER: Duration = Duration::from_secs(2);
/// Gap after the first ICE restart; doubles with each one…
pub const ICE_RESTART_BASE: Duration = Duration::from_secs(1);
/// …up to this, so that once the network is back the next restart is at most this far away
/// (media must resume within 5 s of the network's return).
pub const ICE_RESTART_CAP: Duration = Duration::from_secs(3);
/// A participant unreachable this long is removed from everyone's view.
pub const PARTICIPANT_TIMEOUT: Duration = Duration::from_secs(15);
/// A link whose ICE connected this long ago and that is still not up is started over by the
/// side that made the first offer. The handshakes after ICE (DTLS, then the data channel's
/// SCTP) take well under 2 s even through a 150 kb/s link with 3 % loss or a TURN relay;
/// webrtc-rs's DTLS client gives up after 8 s.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The answering side's wait before it starts a link over itself: long enough that the
/// offering side's new offer (at [`HANDSHAKE_TIMEOUT`]) arrives first when that side is
/// alive, so the two never replace each other's new links in turn.
pub const HANDSHAKE_TIMEOUT_ANSWERING: Duration = Duration::from_secs(16);
/// After a peer connection is found dead, the pause before its replacement is offered (a
/// replacement failing as well is retried this far apart, never in a tight loop).
pub const REBUILD_PAUSE: Duration = Duration::from_millis(500);

/// What the peer connection says about the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkHealth {
    Connected,
    /// No traffic for ICE's disconnected timeout; may come back by itself.
    Disconnected,
    /// ICE gave up on every pair.
    Failed,
}

/// What the actor must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Tell the application the participant's new state.
    State(ParticipantState),
    /// Offer new ICE credentials (only on the restarting side).
    RestartIce,
    /// Remove the participant from the call.
    Remove,
    /// Replace the link with a new peer connection and offer it (the link never connected,
    /// or its peer connection died).
    Rebuild,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not connected yet; started over at `rebuild_at` (set once ICE connected, or when the
    /// peer connection is found dead).
    Connecting {
        rebuild_at: Option<Instant>,
    },
    Connected,
    Lost {
        since: Instant,
        next_restart: Option<Instant>,
        restarts: u32,
    },
    Removed,
}

/// The recovery state of one participant's link.
#[derive(Debug)]
pub struct Recovery {
    /// This side restarts ICE (it made the link's first offer); the other side only waits.
    restarts_ice: bool,
    /// This side's signalling connection works (restarts can be delivered).
    signalling_up: bool,
    /// This side's network changed: the restart is due the moment signalling allows.
    restart_at_once: bool,
    phase: Phase,
}

impl Recovery {
    /// A new link; `restarts_ice`: this side made its first offer.
    pub fn new(restarts_ice: bool) -> Self {
        Self {
            restarts_ice,
            signalling_up: true,
            restart_at_once: false,
            phase: Phase::Connecting { rebuild_at: None },
        }
    }

    /// ICE found a working pair at `now`: the handshakes after it have
    /// [`HANDSHAKE_TIMEOUT`] to bring a link that never connected up.
    pub fn on_ice_connected(&mut self, now: Instant) {
        if let Phase::Connecting { rebuild_at: None } = self.phase {
            let wait = match self.restarts_ice {
                true => HANDSHAKE_TIMEOUT,
                false => HANDSHAKE_TIMEOUT_ANSWERING,
            };
            self.phase = Phase::Connecting {
                rebuild_at: Some(now + wait),
            };
        }
    }

    /// The link's peer connection was found dead at `now` (an offer or answer on it failed
    /// because its driver had stopped): it is replaced after [`REBUILD_PAUSE`], whichever
    /// side made the first offer — only this side knows.
    pub fn on_connection_gone(&mut self, now: Instant) -> Vec<Action> {
        let was_connected = match self.phase {
            Phase::Removed => return Vec::new(),
            Phase::Connecting {
                rebuild_at: Some(at),
            } if at <= now + REBUILD_PAUSE => {
                return Vec::new(); // already due
            }
            Phase::Connecting { .. } => false,
            Phase::Connected | Phase::Lost { .. } => true,
        };
        self.phase = Phase::Connecting {
            rebuild_at: Some(now + REBUILD_PAUSE),
        };
        match was_connected {
            true => vec![Action::State(ParticipantState::Reconnecting)],
            false => Vec::new(),
        }
    }

    /// This side's signalling went down (`false`) or is back in the room (`true`) at `now`.
    pub fn on_signalling(&mut self, now: Instant, up: bool) {
        self.signalling_up = up;
        let Phase::Lost {
            since,
            next_restart,
            restarts,
        } = self.phase
        else {
            return;
        };
        if !up {
            return;
        }
        // Back with the link still lost. Restart at once when this side's network changed
        // (the old pair is gone for good), when a restart was already tried during this loss
        // (its new credentials replaced the old pair's), or when this side is not the one
        // that restarts (the other's restarts could not reach it while it was away, and the
        // next may be seconds off). Otherwise the old pair gets its chance first.
        let at_once = self.restart_at_once || restarts > 0 || next_restart.is_none();
        let at = if at_once {
            now
        } else {
            now + ICE_RESTART_AFTER
        };
        self.phase = Phase::Lost {
            since,
            next_restart: Some(at),
            restarts,
        };
    }

    /// This side's own network changed (addresses came or went): restart ICE now, or as soon
    /// as signalling is back, whatever the link's state (it may not have noticed yet).
    pub fn on_network_change(&mut self, now: Instant) -> Vec<Action> {
        match self.phase {
            Phase::Connected | Phase::Lost { .. } => {
                let since = match self.phase {
                    Phase::Lost { since, .. } => since,
                    _ => now,
                };
                let was_connected = self.phase == Phase::Connected;
                self.restart_at_once = true;
                self.phase = Phase::Lost {
                    since,
                    next_restart: Some(now),
                    restarts: 0,
                };
                let mut out = Vec::new();
                if was_connected {
                    out.push(Action::State(ParticipantState::Reconnecting));
                }
                out.extend(self.handle_timeout(now));
                out
            }
            _ => Vec::new(),
        }
    }

    /// The state the application shows.
    pub fn state(&self) -> ParticipantState {
        match self.phase {
            Phase::Connecting { .. } => ParticipantState::Connecting,
            Phase::Connected => ParticipantState::Connected,
            Phase::Lost { .. } => ParticipantState::Reconnecting,
            Phase::Removed => ParticipantState::Left,
        }
    }

    /// The peer connection reported `health` at `now`.
    pub fn on_link(&mut self, now: Instant, health: LinkHealth) -> Vec<Action> {
        match (self.phase, health) {
            (Phase::Removed, _) => Vec::new(),
            (Phase::Connected, LinkHealth::Connected) => Vec::new(),
            (_, LinkHealth::Connected) => {
                self.phase = Phase::Connected;
                self.restart_at_once = false;
                vec![Action::State(ParticipantState::Connected)]
            }
            (Phase::Connecting { .. }, _) => Vec::new(),
            (Phase::Connected, lost) => {
                let first = match lost {
                    LinkHealth::Failed => now,
                    _ => now + ICE_RESTART_AFTER,
                };
                self.phase = Phase::Lost {
                    since: now,
                    next_restart: self.restarts_ice.then_some(first),
                    restarts: 0,
                };
                let mut out = vec![Action::State(ParticipantState::Reconnecting)];
                out.extend(self.handle_timeout(now));
                out
            }
            (
                Phase::Lost {
                    since,
                    next_restart: Some(at),
                    restarts,
                },
                LinkHealth::Failed,
            ) if at > now && restarts == 0 => {
                // Failed while still waiting for the first restart: no point waiting longer.
                self.phase = Phase::Lost {
                    since,
                    next_restart: Some(now),
                    restarts,
                };
                self.handle_timeout(now)
            }
            (Phase::Lost { .. }, _) => Vec::new(),
        }
    }

    /// When [`Self::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            // A new offer needs signalling: none is due while it is down (the rejoin starts
            // never-connected links over anyway).
            Phase::Connecting { rebuild_at } => rebuild_at.filter(|_| self.signalling_up),
            Phase::Lost {
                since,
                next_restart,
                ..
            } => {
                let removal = since + PARTICIPANT_TIMEOUT;
                // No restart is due while signalling is down: only the removal.
                let restart = next_restart.filter(|_| self.signalling_up);
                Some(restart.map_or(removal, |r| r.min(removal)))
            }
            _ => None,
        }
    }

    /// Time passed: start the link over, restart ICE or remove the participant when due.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        if let Phase::Connecting { rebuild_at } = self.phase {
            if rebuild_at.is_none_or(|at| now < at) || !self.signalling_up {
                return Vec::new();
            }
            // The actor replaces this link (and this state with it); should it not, the
            // next attempt is a whole handshake time away.
            self.phase = Phase::Connecting {
                rebuild_at: Some(now + HANDSHAKE_TIMEOUT),
            };
            return vec![Action::Rebuild];
        }
        let Phase::Lost {
            since,
            next_restart,
            restarts,
        } = self.phase
        else {
            return Vec::new();
        };
        if now >= since + PARTICIPANT_TIMEOUT {
            self.phase = Phase::Removed;
            return vec![Action::State(ParticipantState::Left), Action::Remove];
        }
        match next_restart {
            Some(at) if now >= at && self.signalling_up => {
                self.restart_at_once = false;
                self.phase = Phase::Lost {
                    since,
                    next_restart: Some(now + restart_gap(restarts)),
                    restarts: restarts + 1,
                };
                vec![Action::RestartIce]
            }
            _ => Vec::new(),
        }
    }
}

/// The wait after restart `n` (from 0).
fn restart_gap(n: u32) -> Duration {
    ICE_RESTART_BASE
        .saturating_mul(1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX))
        .min(ICE_RESTART_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected(restarts_ice: bool, t0: Instant) -> Recovery {
        let mut r = Recovery::new(restarts_ice);
        assert_eq!(
            r.on_link(t0, LinkHealth::Connected),
            [Action::State(ParticipantState::Connected)]
        );
        r
    }

    /// Runs the machine from `from` to `to` in 100 ms steps, as the actor's timer would.
    fn run(r: &mut Recovery, from: Instant, to: Instant) -> Vec<(Duration, Action)> {
        let mut out = Vec::new();
        let mut now = from;
        while now <= to {
            if r.poll_timeout().is_some_and(|t| t <= now) {
                out.extend(r.handle_timeout(now).into_iter().map(|a| (now - from, a)));
            }
            now += Duration::from_millis(100);
        }
        out
    }

    #[test]
    fn a_short_blackout_recovers_without_a_restart() {
        let t0 = Instant::now();
        let mut r = connected(true, t0);
        assert_eq!(
            r.on_link(t0, LinkHealth::Disconnected),
            [Action::State(ParticipantState::Reconnecting)]
        );
        assert!(run(&mut r, t0, t0 + Duration::from_millis(1900)).is_empty());
        let back = t0 + Duration::from_millis(1950);
        assert_eq!(
            r.on_link(back, LinkHealth::Connected),
            [Action::State(ParticipantState::Connected)]
        );
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn restarts_back_off_then_cap_while_the_link_stays_lost() {
        let t0 = Instant::now();
        let mut r = connected(true, t0);
        r.on_link(t0, LinkHealth::Disconnected);
        let restarts: Vec<u64> = run(&mut r, t0, t0 + Duration::from_secs(14))
            .into_iter()
            .filter(|(_, a)| *a == Action::RestartIce)
            .map(|(at, _)| at.as_millis() as u64)
            .collect();
        assert_eq!(restarts, [2000, 3000, 5000, 8000, 11000, 14000]);
    }

    #[test]
    fn failed_restarts_at_once() {
        let t0 = Instant::now();
        let mut r = connected(true, t0);
        r.on_link(t0, LinkHealth::Disconnected);
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(r.on_link(t1, LinkHealth::Failed), [Action::RestartIce]);
        let mut fresh = connected(true, t0);
        assert_eq!(
            fresh.on_link(t0, LinkHealth::Failed),
            [
                Action::State(ParticipantState::Reconnecting),
                Action::RestartIce
            ]
        );
    }

    #[test]
    fn only_the_restarting_side_restarts_and_both_remove_after_the_timeout() {
        let t0 = Instant::now();
        for restarts_ice in [true, false] {
            let mut r = connected(restarts_ice, t0);
            r.on_link(t0, LinkHealth::Disconnected);
            let actions = run(&mut r, t0, t0 + Duration::from_secs(20));
            let restarted = actions.iter().any(|(_, a)| *a == Action::RestartIce);
            assert_eq!(restarted, restarts_ice);
            let removed: Vec<_> = actions
                .iter()
                .filter(|(_, a)| *a == Action::Remove)
                .collect();
            assert_eq!(removed.len(), 1);
            assert_eq!(removed[0].0, PARTICIPANT_TIMEOUT);
            assert_eq!(r.state(), ParticipantState::Left);
            assert!(
                r.on_link(t0, LinkHealth::Connected).is_empty(),
                "removed is final"
            );
        }
    }

    #[test]
    fn no_restart_while_this_sides_signalling_is_down_then_one_after_it_is_back() {
        let t0 = Instant::now();
        let mut r = connected(true, t0);
        r.on_link(t0, LinkHealth::Disconnected);
        r.on_signalling(t0 + Duration::from_millis(500), false);
        let during = run(&mut r, t0, t0 + Duration::from_secs(9));
        assert!(
            !during.iter().any(|(_, a)| *a == Action::RestartIce),
            "{during:?}"
        );
        let back = t0 + Duration::from_secs(9);
        r.on_signalling(back, true);
        let after = run(&mut r, back, back + Duration::from_secs(3));
        let first = after.iter().find(|(_, a)| *a == Action::RestartIce);
        assert_eq!(first.map(|(at, _)| *at), Some(ICE_RESTART_AFTER));
    }

    #[test]
    fn after_a_restart_that_could_not_be_delivered_the_next_one_follows_the_rejoin_at_once() {
        let t0 = Instant::now();
        let mut r = connected(true, t0);
        r.on_link(t0, LinkHealth::Disconnected);
        // Signalling looked fine at first: a restart went out (and was lost)…
        let tried = run(&mut r, t0, t0 + Duration::from_millis(2500));
        assert!(tried.iter().any(|(_, a)| *a == Action::RestartIce));
        // …then signalling noticed it was down, and came back.
        r.on_signalling(t0 + Duration::from_secs(9), false);
        let back = t0 + Duration::from_secs(11);
        r.on_signalling(back, true);
        assert_eq!(r.handle_timeout(back), [Action::RestartIce]);
    }

    #[test]
    fn the_side_that_does_not_restart_does_so_once_back_from_its_own_outage() {
        let t0 = Instant::now();
        let mut r = connected(false, t0);
        r.on_link(t0, LinkHealth::Disconnected);
        r.on_signalling(t0 + Duration::from_secs(9), false);
        assert!(run(&mut r, t0, t0 + Duration::from_secs(10)).is_empty());
        let back = t0 + Duration::from_secs(11);
        r.on_signalling(back, true);
        assert_eq!(r.handle_timeout(back), [Action::RestartIce]);
    }

    #[test]
    fn a_network_change_restarts_at_once_on_either_side() {
        let t0 = Instant::now();
        for restarts_ice in [true, false] {
            let mut r = connected(restarts_ice, t0);
            assert_eq!(
                r.on_network_change(t0),
                [
                    Action::State(ParticipantState::Reconnecting),
                    Action::RestartIce
                ]
            );
        }
        let mut waiting = connected(false, t0);
        waiting.on_signalling(t0, false);
        assert_eq!(
            waiting.on_network_change(t0),
            [Action::State(ParticipantState::Reconnecting)],
            "the restart waits for signalling"
        );
        let back = t0 + Duration::from_secs(1);
        waiting.on_signalling(back, true);
        assert_eq!(
            waiting.handle_timeout(back),
            [Action::RestartIce],
            "at once"
        );
    }

    #[test]
    fn a_link_whose_handshake_never_ends_is_started_over_first_by_the_side_that_offered() {
        let t0 = Instant::now();
        let mut offering = Recovery::new(true);
        let mut answering = Recovery::new(false);
        // Nothing happens before ICE connects…
        let t1 = t0 + Duration::from_secs(30);
        assert!(run(&mut offering, t0, t1).is_empty());
        // …then the handshakes have their time.
        offering.on_ice_connected(t1);
        answering.on_ice_connected(t1);
        // ICE's own failure afterwards changes nothing: the handshake time decides.
        assert!(offering.on_link(t1, LinkHealth::Failed).is_empty());
        assert_eq!(offering.state(), ParticipantState::Connecting);
        let end = t1 + HANDSHAKE_TIMEOUT_ANSWERING + Duration::from_secs(1);
        assert_eq!(
            run(&mut offering, t1, end),
            [(HANDSHAKE_TIMEOUT, Action::Rebuild)]
        );
        assert_eq!(
            run(&mut answering, t1, end),
            [(HANDSHAKE_TIMEOUT_ANSWERING, Action::Rebuild)]
        );
        assert!(HANDSHAKE_TIMEOUT_ANSWERING >= HANDSHAKE_TIMEOUT + Duration::from_secs(5));
    }

    #[test]
    fn a_link_whose_ice_never_connects_is_left_to_ice_and_the_server() {
        let t0 = Instant::now();
        let mut r = Recovery::new(true);
        assert!(r.on_link(t0, LinkHealth::Failed).is_empty());
        assert_eq!(r.state(), ParticipantState::Connecting);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn a_link_that_connects_in_time_is_never_started_over() {
        let t0 = Instant::now();
        let mut r = Recovery::new(true);
        r.on_ice_connected(t0);
        let t1 = t0 + HANDSHAKE_TIMEOUT - Duration::from_millis(100);
        assert_eq!(
            r.on_link(t1, LinkHealth::Connected),
            [Action::State(ParticipantState::Connected)]
        );
        assert_eq!(r.poll_timeout(), None);
        // ICE connecting again later (after a restart) starts no clock.
        r.on_ice_connected(t1);
        assert!(run(&mut r, t1, t1 + Duration::from_secs(60)).is_empty());
    }

    #[test]
    fn no_new_link_is_offered_while_signalling_is_down() {
        let t0 = Instant::now();
        let mut r = Recovery::new(true);
        r.on_ice_connected(t0);
        r.on_signalling(t0, false);
        assert_eq!(r.poll_timeout(), None);
        assert!(r.handle_timeout(t0 + HANDSHAKE_TIMEOUT * 2).is_empty());
        r.on_signalling(t0 + HANDSHAKE_TIMEOUT * 2, true);
        assert_eq!(
            r.handle_timeout(t0 + HANDSHAKE_TIMEOUT * 2),
            [Action::Rebuild]
        );
    }

    #[test]
    fn a_dead_peer_connection_is_replaced_soon_on_either_side() {
        let t0 = Instant::now();
        for restarts_ice in [true, false] {
            let mut r = connected(restarts_ice, t0);
            assert_eq!(
                r.on_connection_gone(t0),
                [Action::State(ParticipantState::Reconnecting)]
            );
            assert_eq!(
                run(&mut r, t0, t0 + Duration::from_secs(3)),
                [(REBUILD_PAUSE, Action::Rebuild)]
            );
            // One that never connected is replaced too, without a state change to show.
            let mut fresh = Recovery::new(restarts_ice);
            assert!(fresh.on_connection_gone(t0).is_empty());
            assert_eq!(
                run(&mut fresh, t0, t0 + Duration::from_secs(3)),
                [(REBUILD_PAUSE, Action::Rebuild)]
            );
            // Found dead again while its replacement is already due: that one stays.
            let mut twice = Recovery::new(restarts_ice);
            twice.on_connection_gone(t0);
            assert!(
                twice
                    .on_connection_gone(t0 + Duration::from_millis(100))
                    .is_empty()
            );
            assert_eq!(twice.poll_timeout(), Some(t0 + REBUILD_PAUSE));
        }
    }
}
