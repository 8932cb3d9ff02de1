//! Offer/answer with one participant (JSEP, RFC 8829 §3–5), without I/O: this module decides,
//! the actor talks to webrtc-rs and the server and reports back. Unit-tested below.
//!
//! Roles, as in the browser UI: the participant that joins offers to everyone already in the
//! room; later offers (renegotiation, ICE restart) may come from either side. When both offer
//! at once (glare) the *polite* side — the one with the greater id — rolls its own offer back
//! and answers theirs; the impolite side ignores the incoming offer and waits for its answer
//! ("perfect negotiation", W3C WebRTC §10.7).
//!
//! States (JSEP's signalling state, as this side sees it):
//!
//! ```text
//!  Stable ──offer_sent──▶ HaveLocalOffer ──remote_answer_applied──▶ Stable
//!  Stable ──remote offer: Accept──▶ (apply, answer) ──answer_sent──▶ Stable
//!  HaveLocalOffer ──remote offer──▶ polite: Accept{rollback}  |  impolite: Ignore
//! ```
//!
//! An ICE restart wanted while an exchange is under way is queued and offered as soon as
//! the exchange ends. Candidates that arrive before any remote description are buffered (at
//! most [`MAX_PENDING_CANDIDATES`], oldest dropped) and handed back once one is applied. An
//! offer whose DTLS fingerprint differs from the one already negotiated is a **new session**:
//! the participant's process restarted under the same id, and its link must be replaced.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Candidates kept while no remote description is set. A browser gathers a few per interface;
/// a peer that sends thousands before its offer gets the last ones kept.
pub const MAX_PENDING_CANDIDATES: usize = 64;

/// An offer unanswered this long is taken as lost (the other side's connection to the server
/// was down when it was relayed): a new ICE restart may replace it. A healthy round trip
/// through the server takes milliseconds.
pub const OFFER_ANSWER_TIMEOUT: Duration = Duration::from_millis(2500);

/// Why an offer is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferKind {
    /// The first offer of a link (the joiner's).
    Initial,
    /// Tracks changed after the first exchange.
    Renegotiation,
    /// New ICE credentials: the link was lost and is being found again.
    IceRestart,
}

/// What to do with an offer that arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferVerdict {
    /// Apply it and answer; roll our own outstanding offer back first when `rollback`.
    Accept { rollback: bool },
    /// Glare and we are impolite: our offer stands, theirs is dropped.
    Ignore,
    /// Another DTLS identity than the negotiated one: replace the link, then accept.
    NewSession,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signalling {
    Stable,
    /// Our offer of this kind, sent at this time, awaits its answer.
    HaveLocalOffer(OfferKind, Instant),
}

/// An offer to make now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub kind: OfferKind,
    /// Roll the unanswered outstanding offer back first.
    pub rollback_first: bool,
}

/// The negotiation with one participant. `C` is a remote ICE candidate.
#[derive(Debug)]
pub struct Negotiation<C> {
    polite: bool,
    state: Signalling,
    /// A remote description has been applied at least once.
    remote_set: bool,
    pending: VecDeque<C>,
    queued_restart: bool,
    /// The remote DTLS fingerprint negotiated so far.
    fingerprint: Option<String>,
}

impl<C> Negotiation<C> {
    /// `polite`: this side yields in glare (its id is the greater one).
    pub fn new(polite: bool) -> Self {
        Self {
            polite,
            state: Signalling::Stable,
            remote_set: false,
            pending: VecDeque::new(),
            queued_restart: false,
            fingerprint: None,
        }
    }

    /// Whether this side yields in glare.
    pub fn polite(&self) -> bool {
        self.polite
    }

    /// An offer of `kind` is wanted at `now`. Returns what to create now, or `None`: an ICE
    /// restart during an exchange is queued (see [`Self::exchange_done`]) unless our offer has
    /// gone unanswered for [`OFFER_ANSWER_TIMEOUT`] (then it is replaced); a renegotiation
    /// before the first exchange completes, or during one, is not needed (the first offer
    /// carries every track; webrtc-rs raises negotiation-needed again after an exchange if
    /// still needed).
    pub fn want_offer(&mut self, kind: OfferKind, now: Instant) -> Option<Planned> {
        let plan = |rollback_first| {
            Some(Planned {
                kind,
                rollback_first,
            })
        };
        match (kind, self.state) {
            (OfferKind::Initial, Signalling::Stable) if !self.remote_set => plan(false),
            (OfferKind::Initial, _) => None,
            (OfferKind::Renegotiation, Signalling::Stable) if self.remote_set => plan(false),
            (OfferKind::Renegotiation, _) => None,
            (OfferKind::IceRestart, Signalling::Stable) if self.remote_set => plan(false),
            (OfferKind::IceRestart, Signalling::HaveLocalOffer(_, sent))
                if self.remote_set
                    && now.saturating_duration_since(sent) >= OFFER_ANSWER_TIMEOUT =>
            {
                plan(true)
            }
            (OfferKind::IceRestart, _) => {
                self.queued_restart = true;
                None
            }
        }
    }

    /// Our offer of `kind` is the local description and was signalled at `now`.
    pub fn offer_sent(&mut self, kind: OfferKind, now: Instant) {
        self.state = Signalling::HaveLocalOffer(kind, now);
        if kind == OfferKind::IceRestart {
            self.queued_restart = false;
        }
    }

    /// Creating or signalling our offer failed: back to stable, nothing outstanding.
    pub fn offer_failed(&mut self) {
        self.state = Signalling::Stable;
    }

    /// An offer arrived carrying the DTLS `fingerprint` (`a=fingerprint`, when present).
    pub fn on_remote_offer(&mut self, fingerprint: Option<&str>) -> OfferVerdict {
        if let (Some(known), Some(new)) = (&self.fingerprint, fingerprint)
            && known != new
        {
            return OfferVerdict::NewSession;
        }
        match self.state {
            Signalling::Stable => OfferVerdict::Accept { rollback: false },
            Signalling::HaveLocalOffer(..) if !self.polite => OfferVerdict::Ignore,
            Signalling::HaveLocalOffer(ours, _) => {
                // Ours is rolled back; an ICE restart is still wanted after their exchange.
                if ours == OfferKind::IceRestart {
                    self.queued_restart = true;
                }
                self.state = Signalling::Stable;
                OfferVerdict::Accept { rollback: true }
            }
        }
    }

    /// A remote offer is applied: returns the buffered candidates to add now.
    pub fn remote_offer_applied(&mut self, fingerprint: Option<&str>) -> Vec<C> {
        self.remote_applied(fingerprint)
    }

    /// An answer arrived: true when one was expected (we have an offer outstanding);
    /// otherwise it is stale (a rolled-back offer's) and must be dropped.
    pub fn on_remote_answer(&self) -> bool {
        matches!(self.state, Signalling::HaveLocalOffer(..))
    }

    /// The remote answer is applied: returns the buffered candidates, and the exchange is
    /// over (then call [`Self::exchange_done`]).
    pub fn remote_answer_applied(&mut self, fingerprint: Option<&str>) -> Vec<C> {
        self.state = Signalling::Stable;
        self.remote_applied(fingerprint)
    }

    /// An exchange ended (we answered, or our offer was answered): an ICE restart queued
    /// meanwhile is due now.
    pub fn exchange_done(&mut self) -> Option<OfferKind> {
        if self.queued_restart && self.state == Signalling::Stable && self.remote_set {
            Some(OfferKind::IceRestart)
        } else {
            None
        }
    }

    /// A remote candidate arrived: `Some` to add it now, `None` when it was buffered.
    pub fn on_candidate(&mut self, candidate: C) -> Option<C> {
        if self.remote_set {
            return Some(candidate);
        }
        if self.pending.len() == MAX_PENDING_CANDIDATES {
            self.pending.pop_front();
        }
        self.pending.push_back(candidate);
        None
    }

    /// Whether an offer of ours awaits its answer.
    pub fn offer_outstanding(&self) -> bool {
        matches!(self.state, Signalling::HaveLocalOffer(..))
    }

    fn remote_applied(&mut self, fingerprint: Option<&str>) -> Vec<C> {
        self.remote_set = true;
        if let Some(f) = fingerprint {
            self.fingerprint = Some(f.to_owned());
        }
        self.pending.drain(..).collect()
    }
}

/// The DTLS certificate fingerprint a session description names (`a=fingerprint:`, session
/// or first media level): it identifies the remote endpoint's process across renegotiations
/// and ICE restarts.
pub fn dtls_fingerprint(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=fingerprint:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    type N = Negotiation<u32>;

    fn now() -> Instant {
        Instant::now()
    }

    fn planned(kind: OfferKind) -> Option<Planned> {
        Some(Planned {
            kind,
            rollback_first: false,
        })
    }

    #[test]
    fn the_joiner_offers_once_and_the_answer_completes_the_exchange() {
        let mut n = N::new(false);
        assert_eq!(
            n.want_offer(OfferKind::Initial, now()),
            planned(OfferKind::Initial)
        );
        n.offer_sent(OfferKind::Initial, now());
        assert_eq!(
            n.want_offer(OfferKind::Initial, now()),
            None,
            "one first offer"
        );
        assert!(n.on_remote_answer());
        assert!(n.remote_answer_applied(Some("sha-256 AA")).is_empty());
        assert_eq!(n.exchange_done(), None);
        assert!(!n.on_remote_answer(), "a second answer is stale");
    }

    #[test]
    fn candidates_wait_for_the_remote_description_then_flow() {
        let mut n = N::new(true);
        assert_eq!(n.on_candidate(1), None);
        assert_eq!(n.on_candidate(2), None);
        assert_eq!(
            n.on_remote_offer(Some("f")),
            OfferVerdict::Accept { rollback: false }
        );
        assert_eq!(n.remote_offer_applied(Some("f")), vec![1, 2]);
        assert_eq!(n.on_candidate(3), Some(3), "after the description: at once");
    }

    #[test]
    fn buffered_candidates_are_bounded_keeping_the_newest() {
        let mut n = N::new(true);
        for c in 0..(MAX_PENDING_CANDIDATES as u32 + 10) {
            assert_eq!(n.on_candidate(c), None);
        }
        let kept = n.remote_offer_applied(None);
        assert_eq!(kept.len(), MAX_PENDING_CANDIDATES);
        assert_eq!(kept[0], 10);
    }

    #[test]
    fn glare_the_polite_side_rolls_back_and_the_impolite_side_ignores() {
        let mut polite = N::new(true);
        let mut impolite = N::new(false);
        for n in [&mut polite, &mut impolite] {
            n.on_remote_offer(Some("f"));
            n.remote_offer_applied(Some("f"));
            assert_eq!(
                n.want_offer(OfferKind::Renegotiation, now()),
                planned(OfferKind::Renegotiation)
            );
            n.offer_sent(OfferKind::Renegotiation, now());
        }
        assert_eq!(
            polite.on_remote_offer(Some("f")),
            OfferVerdict::Accept { rollback: true }
        );
        assert!(!polite.offer_outstanding());
        assert_eq!(impolite.on_remote_offer(Some("f")), OfferVerdict::Ignore);
        assert!(
            impolite.offer_outstanding(),
            "its offer still awaits the answer"
        );
    }

    #[test]
    fn renegotiation_waits_for_the_first_exchange_and_never_stacks() {
        let mut n = N::new(false);
        assert_eq!(
            n.want_offer(OfferKind::Renegotiation, now()),
            None,
            "nothing negotiated yet"
        );
        n.want_offer(OfferKind::Initial, now());
        n.offer_sent(OfferKind::Initial, now());
        assert_eq!(n.want_offer(OfferKind::Renegotiation, now()), None, "busy");
        n.remote_answer_applied(None);
        assert_eq!(
            n.want_offer(OfferKind::Renegotiation, now()),
            planned(OfferKind::Renegotiation)
        );
    }

    #[test]
    fn an_ice_restart_during_an_exchange_is_queued_then_offered() {
        let mut n = N::new(false);
        n.want_offer(OfferKind::Initial, now());
        n.offer_sent(OfferKind::Initial, now());
        assert_eq!(
            n.want_offer(OfferKind::IceRestart, now()),
            None,
            "queued, not lost"
        );
        n.remote_answer_applied(Some("f"));
        assert_eq!(n.exchange_done(), Some(OfferKind::IceRestart));
        n.offer_sent(OfferKind::IceRestart, now());
        n.remote_answer_applied(Some("f"));
        assert_eq!(n.exchange_done(), None, "offered once");
    }

    #[test]
    fn a_polite_side_rolling_back_its_ice_restart_restarts_after_their_exchange() {
        let mut n = N::new(true);
        n.on_remote_offer(Some("f"));
        n.remote_offer_applied(Some("f"));
        assert_eq!(
            n.want_offer(OfferKind::IceRestart, now()),
            planned(OfferKind::IceRestart)
        );
        n.offer_sent(OfferKind::IceRestart, now());
        assert_eq!(
            n.on_remote_offer(Some("f")),
            OfferVerdict::Accept { rollback: true }
        );
        n.remote_offer_applied(Some("f"));
        assert_eq!(n.exchange_done(), Some(OfferKind::IceRestart));
    }

    #[test]
    fn an_ice_restart_unanswered_for_too_long_is_replaced() {
        let t0 = Instant::now();
        let mut n = N::new(false);
        n.want_offer(OfferKind::Initial, t0);
        n.offer_sent(OfferKind::Initial, t0);
        n.remote_answer_applied(Some("f"));
        n.want_offer(OfferKind::IceRestart, t0);
        n.offer_sent(OfferKind::IceRestart, t0);
        let soon = t0 + OFFER_ANSWER_TIMEOUT / 2;
        assert_eq!(
            n.want_offer(OfferKind::IceRestart, soon),
            None,
            "still waiting"
        );
        let late = t0 + OFFER_ANSWER_TIMEOUT;
        assert_eq!(
            n.want_offer(OfferKind::IceRestart, late),
            Some(Planned {
                kind: OfferKind::IceRestart,
                rollback_first: true
            })
        );
        assert_eq!(
            n.want_offer(OfferKind::Renegotiation, late),
            None,
            "only a restart replaces a lost offer"
        );
    }

    #[test]
    fn another_dtls_identity_is_a_new_session() {
        let mut n = N::new(true);
        n.on_remote_offer(Some("sha-256 AA"));
        n.remote_offer_applied(Some("sha-256 AA"));
        assert_eq!(
            n.on_remote_offer(Some("sha-256 AA")),
            OfferVerdict::Accept { rollback: false }
        );
        assert_eq!(
            n.on_remote_offer(Some("sha-256 BB")),
            OfferVerdict::NewSession
        );
    }

    #[test]
    fn the_fingerprint_is_read_from_the_sdp() {
        let sdp = "v=0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:sha-256 AB:CD\r\n";
        assert_eq!(dtls_fingerprint(sdp), Some("sha-256 AB:CD"));
        assert_eq!(dtls_fingerprint("v=0\r\n"), None);
    }
}
