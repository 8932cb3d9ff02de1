//! Prometheus metrics served at `/metrics`.
//!
//! Counters for every event kind and rejection reason are created at start-up and kept as
//! handles, so the hot relay path increments an atomic and never looks a label up.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::protocol::{ErrorCode, event};

/// The events whose relays are counted, in the order of [`Metrics::relayed`].
pub const RELAYED_EVENTS: [&str; 4] = [
    event::OFFER,
    event::ANSWER,
    event::ICE_CANDIDATE,
    event::DATA_CHANNEL_MESSAGE,
];

type Labels = Vec<(&'static str, &'static str)>;

pub struct Metrics {
    registry: Registry,
    pub rooms: Gauge,
    pub participants: Gauge,
    pub sockets: Gauge,
    /// One counter per entry of [`RELAYED_EVENTS`]; a broadcast counts each delivery.
    relayed: Vec<Counter>,
    /// One counter per entry of [`ErrorCode::ALL`].
    rejected: Vec<Counter>,
    /// Deliveries dropped because a recipient's send buffer was full or it had just closed.
    pub dropped: Counter,
    /// On a cluster node: the whole cluster's counts, read from Redis at each scrape.
    pub cluster: Option<ClusterGauges>,
}

/// What a cluster node reports about the whole cluster (`rooms`, `participants` and `sockets`
/// are then this node's own).
pub struct ClusterGauges {
    pub rooms: Gauge,
    pub participants: Gauge,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("confab");
        let rooms = Gauge::default();
        let participants = Gauge::default();
        let sockets = Gauge::default();
        let dropped = Counter::default();
        registry.register(
            "rooms",
            "Rooms with at least one participant",
            rooms.clone(),
        );
        registry.register(
            "participants",
            "Participants joined to a room",
            participants.clone(),
        );
        registry.register("sockets", "Connected Socket.IO sockets", sockets.clone());
        registry.register(
            "dropped_deliveries",
            "Relayed events not delivered because the recipient could not take them",
            dropped.clone(),
        );
        let relayed_family = Family::<Labels, Counter>::default();
        let relayed = RELAYED_EVENTS
            .iter()
            .map(|e| relayed_family.get_or_create(&vec![("event", *e)]).clone())
            .collect();
        registry.register(
            "relayed_events",
            "Signalling events delivered to a participant",
            relayed_family,
        );
        let rejected_family = Family::<Labels, Counter>::default();
        let rejected = ErrorCode::ALL
            .iter()
            .map(|c| {
                rejected_family
                    .get_or_create(&vec![("reason", c.as_str())])
                    .clone()
            })
            .collect();
        registry.register(
            "rejections",
            "Events rejected with an error, by reason",
            rejected_family,
        );
        Self {
            registry,
            rooms,
            participants,
            sockets,
            relayed,
            rejected,
            dropped,
            cluster: None,
        }
    }

    /// A cluster node's metrics: the cluster's rooms and participants besides the node's.
    pub fn for_cluster() -> Self {
        let mut metrics = Self::new();
        let rooms = Gauge::default();
        let participants = Gauge::default();
        metrics.registry.register(
            "cluster_rooms",
            "Rooms with at least one participant on any node of the cluster",
            rooms.clone(),
        );
        metrics.registry.register(
            "cluster_participants",
            "Participants joined to a room on any node of the cluster",
            participants.clone(),
        );
        metrics.cluster = Some(ClusterGauges {
            rooms,
            participants,
        });
        metrics
    }

    pub fn relayed(&self, event: &str, deliveries: u64) {
        if let Some(i) = RELAYED_EVENTS.iter().position(|e| *e == event) {
            self.relayed[i].inc_by(deliveries);
        }
    }

    pub fn rejected(&self, code: ErrorCode) {
        let i = ErrorCode::ALL
            .iter()
            .position(|c| *c == code)
            .expect("ErrorCode::ALL lists every code");
        self.rejected[i].inc();
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
