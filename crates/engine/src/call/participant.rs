//! One remote participant: its link (peer connection and data channel), where its
//! negotiation and recovery stand, and the tasks that carry its events to the actor.
//!
//! Every task is tagged with the participant's id and the link's *generation*: when a link is
//! replaced (the participant's process restarted under the same id) the old link's late
//! events are recognised and dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use confab_protocol::AppMessage;
use rtc::data_channel::RTCDataChannelState;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::{Notify, mpsc};
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{RTCIceCandidateInit, RTCSessionDescription};

use super::actor::Internal;
use super::config::VideoDelivery;
use super::limits::{DropReport, TokenBucket};
use super::negotiation::Negotiation;
use super::recovery::Recovery;
use super::transfers::ChunkRoutes;
use crate::link::{self, Link, LinkConfig, LinkError};
use crate::receive::{self, KeyframeRequests};
use crate::stats::RateMeter;
use crate::transfer::delivered::{DeliveredRate, Handed};
use crate::transfer::receiver::WriterMsg;

/// Decoded frames a participant may queue before its receiver waits: latency over
/// completeness (the receiver drops what it cannot deliver in time).
const RECEIVE_QUEUE: usize = 8;

pub(super) struct Participant {
    pub name: String,
    /// Which link this is; events of older links of the same id are dropped.
    pub generation: u64,
    pub link: Link,
    pub negotiation: Negotiation<RTCIceCandidateInit>,
    pub recovery: Recovery,
    /// Media flows (the link is connected now).
    pub connected: bool,
    /// The link has been connected at least once.
    pub ever_connected: bool,
    /// Our tracks are on the link (the offerer's at once, the answerer's with its answer).
    pub tracks_added: bool,
    pub channel_open: bool,
    /// Woken when the channel's queue drains below the low-water mark.
    pub drained: Arc<Notify>,
    pub meter: RateMeter,
    /// Frames decoded here, or with [`VideoDelivery::Encoded`] frames received: the fps
    /// the statistics show.
    pub frames_decoded: u64,
    /// Keyframe requests this participant sent us on this link (the statistics show them).
    pub keyframe_requests_in: u64,
    /// Wakes this participant's video receiver to ask for a keyframe.
    pub keyframe_requests: KeyframeRequests,
    /// The recording lost one of this participant's access units (its queue was full): it
    /// gets none until the next keyframe, which was asked for (without it the recorder's
    /// decoder would show a broken picture until then).
    pub recording_awaits_keyframe: bool,
    /// No video goes to this participant until a keyframe does.
    pub awaiting_keyframe: bool,
    /// Its text messages: at most [`super::limits::MESSAGES_PER_SECOND`].
    pub messages: TokenBucket,
    pub flood: DropReport,
    /// Its accepted transfers' writers, for the channel's reader.
    pub chunk_routes: ChunkRoutes,
    /// File bytes handed to its channel, and what of them SCTP delivered (for the estimator).
    pub data_handed: Handed,
    pub data_delivered: DeliveredRate,
}

impl Participant {
    /// Sends an app message on the pair's channel, when it is open.
    pub async fn send(&self, msg: &AppMessage) -> Result<(), String> {
        match (&self.link.channel, self.channel_open) {
            (Some(channel), true) => channel
                .send_text(&msg.to_text())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            _ => Err("the data channel is not open".to_owned()),
        }
    }

    /// Takes our unanswered offer back (a rollback of the local description), so that the next
    /// one can go out: it was lost, or will never be answered.
    pub async fn take_back_offer(&mut self) {
        if let Ok(rollback) = RTCSessionDescription::rollback(None) {
            let _ = self.link.pc.set_local_description(rollback).await;
        }
        self.negotiation.offer_failed();
    }

    /// A message from this participant may be handled now (within its rate).
    pub fn admit_message(&mut self, now: Instant) -> Result<(), Option<u64>> {
        if self.messages.take(now) {
            Ok(())
        } else {
            Err(self.flood.dropped(now))
        }
    }
}

/// The participants of a call, by id.
#[derive(Default)]
pub(super) struct Participants {
    pub map: HashMap<String, Participant>,
    generations: u64,
}

impl Participants {
    pub fn get(&self, id: &str) -> Option<&Participant> {
        self.map.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Participant> {
        self.map.get_mut(id)
    }

    /// The participant `id` if `generation` is its current link.
    pub fn current(&mut self, id: &str, generation: u64) -> Option<&mut Participant> {
        self.map.get_mut(id).filter(|p| p.generation == generation)
    }

    pub fn connected(&self) -> impl Iterator<Item = (&String, &Participant)> {
        self.map.iter().filter(|(_, p)| p.connected)
    }

    /// Ids whose data channel is open.
    pub fn with_open_channel(&self) -> Vec<String> {
        self.map
            .iter()
            .filter(|(_, p)| p.channel_open)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Sends `msg` to `to`'s channel.
    pub async fn send(&self, to: &str, msg: &AppMessage) -> Result<(), String> {
        match self.map.get(to) {
            Some(p) => p.send(msg).await,
            None => Err(format!("{to} is not in the call")),
        }
    }

    /// Creates the link to `id` (replacing any other) and starts its event pump (and its
    /// channel's, when this side opens the channel). `offering`: this side sends the first
    /// offer, creates the channel and restarts ICE when the link is lost.
    pub async fn create(
        &mut self,
        id: &str,
        name: String,
        me: &str,
        config: &LinkConfig,
        offering: bool,
        internal: &mpsc::Sender<Internal>,
    ) -> Result<&mut Participant, LinkError> {
        self.generations += 1;
        let generation = self.generations;
        let (link, mut events) = Link::new(config, offering).await?;
        let tx = internal.clone();
        let who = id.to_owned();
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                if tx
                    .send(Internal::Link(who.clone(), generation, e))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let drained = Arc::new(Notify::new());
        let chunk_routes = ChunkRoutes::default();
        if let Some(channel) = &link.channel {
            let pump = ChannelPump {
                id: id.to_owned(),
                generation,
                drained: drained.clone(),
                routes: chunk_routes.clone(),
                internal: internal.clone(),
            };
            pump.start(channel.clone());
        }
        let participant = Participant {
            name,
            generation,
            link,
            // The browser UI's rule: the greater id yields in glare.
            negotiation: Negotiation::new(me > id),
            recovery: Recovery::new(offering),
            connected: false,
            ever_connected: false,
            tracks_added: false,
            channel_open: false,
            drained,
            meter: RateMeter::default(),
            frames_decoded: 0,
            keyframe_requests_in: 0,
            keyframe_requests: KeyframeRequests::default(),
            recording_awaits_keyframe: false,
            awaiting_keyframe: true,
            messages: TokenBucket::messages(),
            flood: DropReport::default(),
            chunk_routes,
            data_handed: Handed::default(),
            data_delivered: DeliveredRate::default(),
        };
        if let Some(old) = self.map.insert(id.to_owned(), participant) {
            let _ = old.link.pc.close().await;
        }
        Ok(self.map.get_mut(id).expect("inserted above"))
    }

    /// Removes `id` and closes its link; its transfers' writers stop.
    pub async fn remove(&mut self, id: &str) -> Option<Participant> {
        let p = self.map.remove(id)?;
        p.chunk_routes.clear();
        let _ = p.link.pc.close().await;
        Some(p)
    }

    /// Closes every link (leaving the call).
    pub async fn close_all(&mut self) {
        for (_, p) in self.map.drain() {
            let _ = p.link.pc.close().await;
        }
    }
}

/// Reads one data channel for the actor: text messages and open/close go to the actor;
/// file chunks go straight to their transfer's writer; `OnBufferedAmountLow` wakes the file
/// sender. Each hand-over is awaited, so a peer sending faster than this side can take is
/// slowed down by SCTP's flow control instead of filling memory.
pub(super) struct ChannelPump {
    pub id: String,
    pub generation: u64,
    pub drained: Arc<Notify>,
    pub routes: ChunkRoutes,
    pub internal: mpsc::Sender<Internal>,
}

impl ChannelPump {
    /// Runs until the channel closes or the actor is gone.
    pub fn start(self, channel: Arc<dyn DataChannel>) {
        tokio::spawn(self.run(channel));
    }

    async fn to_actor(&self, e: DataChannelEvent) -> bool {
        self.internal
            .send(Internal::Channel(self.id.clone(), self.generation, e))
            .await
            .is_ok()
    }

    async fn run(self, channel: Arc<dyn DataChannel>) {
        let _ = channel
            .set_buffered_amount_low_threshold(link::SEND_LOW_WATER as u32)
            .await;
        // An adopted channel may be open before anyone polls it: report that first.
        if matches!(channel.ready_state().await, Ok(RTCDataChannelState::Open))
            && !self.to_actor(DataChannelEvent::OnOpen).await
        {
            return;
        }
        while let Some(e) = channel.poll().await {
            match e {
                DataChannelEvent::OnBufferedAmountLow => self.drained.notify_waiters(),
                DataChannelEvent::OnMessage(m) if !m.is_string => {
                    match crate::transfer::parse_chunk(&m.data) {
                        Some((tid, payload)) => {
                            // No writer: a chunk after a cancel or failure, dropped.
                            if let Some(writer) = self.routes.writer(tid) {
                                let chunk = bytes::Bytes::copy_from_slice(payload);
                                let _ = writer.send(WriterMsg::Chunk(chunk)).await;
                            }
                        }
                        None => {
                            if !self.to_actor(DataChannelEvent::OnMessage(m)).await {
                                return;
                            }
                        }
                    }
                }
                e => {
                    if !self.to_actor(e).await {
                        return;
                    }
                }
            }
        }
        // The channel is gone: wake any sender so it notices.
        self.drained.notify_waiters();
    }
}

/// Starts decoding (or forwarding) a remote track of participant `id`.
pub(super) async fn receive_track(
    id: String,
    generation: u64,
    track: Arc<dyn TrackRemote>,
    keyframe_requests: KeyframeRequests,
    delivery: VideoDelivery,
    internal: &mpsc::Sender<Internal>,
) {
    let kind = track.kind().await;
    let (tx, mut rx) = mpsc::channel(RECEIVE_QUEUE);
    match kind {
        RtpCodecKind::Video => {
            tokio::spawn(receive::video(
                track,
                tx,
                receive::VideoOutput {
                    decode: delivery.decodes(),
                    forward: delivery.forwards_encoded(),
                },
                keyframe_requests,
            ));
        }
        RtpCodecKind::Audio => {
            tokio::spawn(receive::audio(track, tx));
        }
        _ => return,
    }
    let internal = internal.clone();
    tokio::spawn(async move {
        while let Some(r) = rx.recv().await {
            if internal
                .send(Internal::Media(id.clone(), generation, r))
                .await
                .is_err()
            {
                return;
            }
        }
    });
}
