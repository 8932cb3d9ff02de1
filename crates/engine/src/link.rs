//! One peer connection to one remote participant, and its events as a channel.
//!
//! webrtc-rs 0.21 reports events through one handler trait; [`Forward`] turns them into
//! [`LinkEvent`]s on a channel so the call logic is a plain loop over events (no callbacks
//! holding locks).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::interceptor::{
    Attribute, CongestionControlBuilder, Interceptor, NackGeneratorBuilder, NackResponderBuilder,
    PacerBuilder, Packet, Slot, StreamInfo, TaggedPacket, TwccSenderBuilder,
};
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_simulcast_extension_headers, configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::sansio::Protocol;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::mpsc;
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::RTCSessionDescription;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCBundlePolicy,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceConnectionState, RTCIceGatheringState,
    RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
    RTCRtcpMuxPolicy, Registry, SettingEngineBuilder,
};
use webrtc::rtp_transceiver::RtpSender;

use confab_media::codec::h264::AccessUnit;

use crate::codecs;
use crate::congestion::{self, Estimate, EstimatorKind, Reporting};

/// The label of the one data channel every pair shares. The offering side creates it (in-band,
/// RFC 8832 DCEP) and the answering side adopts it from `on_data_channel`, so there is exactly
/// one per pair. (Negotiating it out of band with a fixed id on both sides raced in webrtc-rs
/// when it answered a browser: data the browser sent on the stream before webrtc-rs had
/// registered its own end was dropped, "data channel not existed".)
pub const CHANNEL_LABEL: &str = "confab";
/// A file sender pauses while more than this is queued on the channel…
pub const SEND_HIGH_WATER: usize = 4 * 1024 * 1024;
/// …and resumes when the channel reports the queue below this (`OnBufferedAmountLow`).
/// (webrtc-rs's own send-buffer limit is not used: with it set, a call carrying media stalled
/// before its channel opened.)
pub const SEND_LOW_WATER: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("webrtc: {0}")]
    WebRtc(#[from] rtc::shared::error::Error),
    #[error("the peer connection has no {0} sender")]
    NoSender(&'static str),
}

impl LinkError {
    /// The peer connection is dead: its driver task has stopped, so nothing done with it can
    /// work again and the link must be replaced.
    ///
    /// When: webrtc-rs 0.21 stops a connection's driver for good on an error inside it — a
    /// DTLS handshake whose eight ClientHellos went unanswered is one — and offers no way to
    /// ask whether it still runs. Every later `set_local_description` then fails to wake the
    /// driver and reports the channel's `SendError` as `Error::Other("SendError(…)")`; this
    /// recognises that text (checked against a handshake that really fails in
    /// `tests/link_whose_dtls_handshake_fails.rs`).
    pub fn connection_gone(&self) -> bool {
        matches!(self, LinkError::WebRtc(rtc::shared::error::Error::Other(s)) if s.starts_with("SendError("))
    }
}

/// Where and how a link gathers candidates.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Local addresses to bind; `0.0.0.0:0` means every interface except loopback.
    pub bind: Vec<String>,
    pub ice_servers: Vec<RTCIceServer>,
    /// Only relay (TURN) candidates: hides the host address from the remote side.
    pub relay_only: bool,
    /// The bandwidth estimator every link runs (see [`crate::congestion`]).
    pub estimator: EstimatorKind,
}

impl LinkConfig {
    /// Binds 127.0.0.1 only: every candidate is loopback (tests, benchmarks).
    pub fn loopback() -> Self {
        Self {
            bind: vec!["127.0.0.1:0".to_owned()],
            ice_servers: Vec::new(),
            relay_only: false,
            estimator: EstimatorKind::default(),
        }
    }
}

/// What a link reports.
pub enum LinkEvent {
    /// A local candidate to trickle to the remote side.
    Candidate(RTCIceCandidateInit),
    GatheringComplete,
    NegotiationNeeded,
    State(RTCPeerConnectionState),
    /// ICE found a working pair (again): the DTLS and SCTP handshakes come next.
    IceConnected,
    /// A remote track started; its RTP is read with [`crate::receive`].
    Track(Arc<dyn TrackRemote>),
    /// The remote side opened a data channel (the answering side's pair channel).
    DataChannel(Arc<dyn DataChannel>),
    /// The remote side cannot decode our video (PLI or FIR): it needs a keyframe.
    KeyframeRequest,
}

impl std::fmt::Debug for LinkEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkEvent::Candidate(c) => write!(f, "Candidate({})", c.candidate),
            LinkEvent::GatheringComplete => f.write_str("GatheringComplete"),
            LinkEvent::NegotiationNeeded => f.write_str("NegotiationNeeded"),
            LinkEvent::State(s) => write!(f, "State({s})"),
            LinkEvent::IceConnected => f.write_str("IceConnected"),
            LinkEvent::Track(_) => f.write_str("Track"),
            LinkEvent::DataChannel(_) => f.write_str("DataChannel"),
            LinkEvent::KeyframeRequest => f.write_str("KeyframeRequest"),
        }
    }
}

/// Link events queued for the application. The handler waits when it is full (those events
/// are few and local: candidates, state changes, tracks); keyframe requests, which a remote
/// peer can send in a flood, are dropped instead when it is full (a keyframe is coming).
pub const LINK_EVENT_QUEUE: usize = 256;

struct Forward(mpsc::Sender<LinkEvent>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Forward {
    async fn on_negotiation_needed(&self) {
        let _ = self.0.send(LinkEvent::NegotiationNeeded).await;
    }
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(init) => {
                let _ = self.0.send(LinkEvent::Candidate(init)).await;
            }
            Err(e) => tracing::warn!("cannot serialise a local candidate: {e}"),
        }
    }
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.0.send(LinkEvent::GatheringComplete).await;
        }
    }
    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        if state == RTCIceConnectionState::Connected {
            let _ = self.0.send(LinkEvent::IceConnected).await;
        }
    }
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.0.send(LinkEvent::State(state)).await;
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.0.send(LinkEvent::Track(track)).await;
    }
    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let _ = self.0.send(LinkEvent::DataChannel(channel)).await;
    }
}

/// A track we send on, with what `write_sample` needs.
struct TrackOut {
    track: Arc<TrackLocalStaticSample>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
}

impl TrackOut {
    async fn write(
        &self,
        data: &[u8],
        duration: Duration,
        fallback_pt: u8,
    ) -> Result<(), LinkError> {
        let payload_type = self
            .sender
            .get_parameters()
            .await?
            .rtp_parameters
            .codecs
            .first()
            .map(|c| c.payload_type)
            .unwrap_or(fallback_pt);
        self.track
            .sample_writer(self.ssrc, payload_type)
            .write_sample(&Sample {
                data: bytes::Bytes::copy_from_slice(data),
                duration,
                ..Sample::new(Instant::now())
            })
            .await?;
        Ok(())
    }
}

pub struct Link {
    pub pc: Arc<dyn PeerConnection>,
    /// Where the link's own tasks (keyframe requests) report.
    events: mpsc::Sender<LinkEvent>,
    /// The pair's one data channel (chat, media state, files): created here on the offering
    /// side, adopted from [`LinkEvent::DataChannel`] on the answering side.
    pub channel: Option<Arc<dyn DataChannel>>,
    video: Option<TrackOut>,
    audio: Option<TrackOut>,
    /// What the path to the remote side is estimated to carry (send-side, from its feedback).
    pub estimate: Estimate,
}

impl Link {
    /// `offering`: this side will send the first offer, so it creates the pair's channel.
    pub async fn new(
        config: &LinkConfig,
        offering: bool,
    ) -> Result<(Self, mpsc::Receiver<LinkEvent>), LinkError> {
        let (tx, rx) = mpsc::channel(LINK_EVENT_QUEUE);
        let handler: Arc<dyn PeerConnectionEventHandler> = Arc::new(Forward(tx.clone()));
        let (pc, estimate) = build_pc(config, handler, mdns_mode()).await?;
        let channel = if offering {
            Some(
                pc.create_data_channel(
                    CHANNEL_LABEL,
                    Some(rtc::data_channel::RTCDataChannelInit {
                        ordered: true,
                        ..Default::default()
                    }),
                )
                .await?,
            )
        } else {
            None
        };
        Ok((
            Self {
                pc,
                events: tx,
                channel,
                video: None,
                audio: None,
                estimate,
            },
            rx,
        ))
    }

    async fn add_track(&self, stream_id: &str, kind: RtpCodecKind) -> Result<TrackOut, LinkError> {
        let ssrc = rand_ssrc();
        let (codec, label) = match kind {
            RtpCodecKind::Audio => (codecs::opus_codec(), "audio"),
            _ => (codecs::h264_codec(), "video"),
        };
        let track = Arc::new(TrackLocalStaticSample::new(
            Instant::now(),
            MediaStreamTrack::new(
                stream_id.to_owned(),
                format!("{stream_id}-{label}"),
                label.to_owned(),
                kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    codec,
                    ..Default::default()
                }],
            ),
        )?);
        let sender = self
            .pc
            .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await?;
        Ok(TrackOut {
            track,
            sender,
            ssrc,
        })
    }

    /// Adds the H.264 track this link sends camera or screen on. Keyframe requests about it
    /// arrive as [`LinkEvent::KeyframeRequest`].
    pub async fn add_video_track(&mut self, stream_id: &str) -> Result<(), LinkError> {
        let video = self.add_track(stream_id, RtpCodecKind::Video).await?;
        let (track, events) = (video.track.clone(), self.events.clone());
        // Ends when the track is unbound (the connection closed) or the call is gone.
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                let TrackLocalEvent::OnRtcpPacket(_) = event else {
                    continue;
                };
                // Only keyframe requests are delivered (see KeyframeRequests).
                if let Err(mpsc::error::TrySendError::Closed(_)) =
                    events.try_send(LinkEvent::KeyframeRequest)
                {
                    return;
                }
            }
        });
        self.video = Some(video);
        Ok(())
    }

    /// Adds the Opus track this link sends the microphone on.
    pub async fn add_audio_track(&mut self, stream_id: &str) -> Result<(), LinkError> {
        self.audio = Some(self.add_track(stream_id, RtpCodecKind::Audio).await?);
        Ok(())
    }

    /// Creates an offer and makes it the local description: what is then signalled. With
    /// `ice_restart` the offer carries new ICE credentials and candidates are gathered afresh
    /// on the interfaces there are now (RFC 8829 §4.1.10).
    pub async fn local_offer(&self, ice_restart: bool) -> Result<RTCSessionDescription, LinkError> {
        let options = ice_restart.then_some(RTCOfferOptions { ice_restart: true });
        let offer = self.pc.create_offer(options).await?;
        self.pc.set_local_description(offer.clone()).await?;
        Ok(offer)
    }

    /// Creates the answer to the remote offer and makes it the local description.
    pub async fn local_answer(&self) -> Result<RTCSessionDescription, LinkError> {
        let answer = self.pc.create_answer(None).await?;
        self.pc.set_local_description(answer.clone()).await?;
        Ok(answer)
    }

    /// Sends one access unit; `duration` advances the RTP clock (1/fps).
    pub async fn send_video(&self, au: &AccessUnit, duration: Duration) -> Result<(), LinkError> {
        let video = self.video.as_ref().ok_or(LinkError::NoSender("video"))?;
        video
            .write(&au.data, duration, codecs::H264_PAYLOAD_TYPE)
            .await
    }

    /// Sends one 20 ms Opus packet.
    pub async fn send_audio(&self, packet: &[u8]) -> Result<(), LinkError> {
        let audio = self.audio.as_ref().ok_or(LinkError::NoSender("audio"))?;
        audio
            .write(packet, Duration::from_millis(20), codecs::OPUS_PAYLOAD_TYPE)
            .await
    }
}

/// How often ICE pings while checking (see `build_pc`); libwebrtc paces checks at ~50 ms.
const ICE_CHECK_INTERVAL: Duration = Duration::from_millis(25);
/// Attempts per pair: 1.4 s at `ICE_CHECK_INTERVAL`, as webrtc-rs's default 7 × 200 ms.
const ICE_MAX_BINDING_REQUESTS: u16 = 56;

/// No traffic on the selected pair for this long makes ICE `disconnected` (webrtc-rs: 5 s):
/// the participant shows as reconnecting, and recovery starts (`call::recovery`). Consent
/// checks every [`ICE_KEEPALIVE`] keep a quiet but live pair above it.
const ICE_DISCONNECTED_TIMEOUT: Duration = Duration::from_millis(2500);
/// ICE gives up on every pair after this long without any (webrtc-rs's 25 s): the ICE restart
/// ladder has been at work long before.
const ICE_FAILED_TIMEOUT: Duration = Duration::from_secs(25);
/// How often a pair is checked while media is quiet (webrtc-rs: 2 s).
const ICE_KEEPALIVE: Duration = Duration::from_secs(1);

/// How long a peer-reflexive pair waits for a better one before it is nominated.
const ACCEPTANCE_WAIT: Duration = Duration::from_millis(100);
/// How long a relayed pair waits for a direct one (when direct ones are allowed).
const RELAY_ACCEPTANCE_WAIT: Duration = Duration::from_millis(1000);

/// How many times one lost packet is asked for again (NACK). webrtc-rs's generator asks every
/// 100 ms for every missing packet, without limit, by default: on a lossy link longer than a
/// 100 ms round trip each loss was asked for several times before its first retransmission
/// could arrive, and the retransmissions, lost in turn, fed a storm (measured with
/// `bench/impaired.mjs`: 14 Mb/s sent on a 1 Mb/s link). Three tries cover a loss rate of
/// 10 % to one packet in a thousand.
pub const NACKS_PER_PACKET: u16 = 3;

/// webrtc-rs's default interceptors (`register_default_interceptors`: NACK, simulcast
/// header extensions, a TWCC receiver, RTCP reports) with the NACK generator bounded by
/// [`NACKS_PER_PACKET`], and send-side congestion control: the send history, TWCC sequence
/// numbers on what we send, the pacer and `estimator` (in the TWCC receiver's place, which
/// it includes); `transport-cc` feedback and its header extension are offered for audio and
/// video so that the remote reports arrivals, and estimates its own sending from ours.
fn interceptors(
    engine: &mut MediaEngine,
    estimator: EstimatorKind,
) -> Result<(Registry, Estimate), LinkError> {
    configure_simulcast_extension_headers(engine)?;
    let registry = Registry::new()
        .with(Slot::NackResponder, NackResponderBuilder::new().build())
        .with(
            Slot::NackGenerator,
            NackGeneratorBuilder::new()
                .with_max_nacks_per_packet(NACKS_PER_PACKET)
                .build(),
        );
    // What `configure_congestion_control(.., CongestionFeedback::Twcc, ..)` sets up, but with
    // a longer send history: see `congestion::HISTORY_HORIZON`.
    let registry = configure_twcc_receiver_only(registry, engine)?;
    let (estimator, estimate) = Reporting::new(estimator);
    let registry = registry
        .with(
            Slot::CongestionControl,
            CongestionControlBuilder::new(estimator)
                .with_prune_horizon(congestion::HISTORY_HORIZON)
                .build(),
        )
        .with(Slot::TwccSender, TwccSenderBuilder::new().build())
        .with(
            Slot::Pacer,
            PacerBuilder::new()
                .with_target_bitrate(congestion::START_BITRATE * congestion::PACING_FACTOR)
                .build(),
        );
    Ok((configure_rtcp_reports(registry), estimate))
}

/// Whether this link resolves browsers' `.local` candidates (mDNS), decided before the
/// peer connection is built, each time one is.
///
/// Resolving needs a multicast socket. Where none can be opened (no multicast route: a
/// loopback-only network namespace, a sandbox, a machine without a default route) the call
/// still works with IP candidates. Building with mDNS on and falling back when that failed
/// worked too, but webrtc-rs logs the failure at ERROR level first ("No such device (os
/// error 19)"), a line at the start of every call that means nothing to a user; so the
/// socket webrtc-rs would open is tried here first, and dropped.
fn mdns_mode() -> MulticastDnsMode {
    match rtc::mdns::MulticastSocket::new().into_std() {
        Ok(_) => MulticastDnsMode::QueryOnly,
        Err(e) => {
            tracing::debug!("mDNS unavailable ({e}); gathering without it");
            MulticastDnsMode::Disabled
        }
    }
}

async fn build_pc(
    config: &LinkConfig,
    handler: Arc<dyn PeerConnectionEventHandler>,
    mdns: MulticastDnsMode,
) -> Result<(Arc<dyn PeerConnection>, Estimate), LinkError> {
    let mut engine = codecs::media_engine()?;
    let (registry, estimate) = interceptors(&mut engine, config.estimator)?;
    // Last in the chain, after the interceptors that act on RTCP themselves.
    let registry = registry.with(Slot::from(14_000), KeyframeRequests::default());
    let rtc_config = RTCConfigurationBuilder::new()
        .with_ice_servers(config.ice_servers.clone())
        .with_ice_transport_policy(if config.relay_only {
            RTCIceTransportPolicy::Relay
        } else {
            RTCIceTransportPolicy::All
        })
        .with_bundle_policy(RTCBundlePolicy::MaxBundle)
        .with_rtcp_mux_policy(RTCRtcpMuxPolicy::Require)
        .build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(rtc_config)
        .with_media_engine(engine)
        .with_interceptor_registry(registry)
        .with_setting_engine(
            SettingEngineBuilder::new()
                .with_multicast_dns_mode(mdns)
                // webrtc-rs pings candidate pairs only on its check timer (200 ms by default),
                // not when a candidate arrives, and joining waited two ticks for it (measured:
                // ICE checking → connected 200 ms, then DTLS start another 200 ms). A shorter
                // tick with proportionally more attempts keeps the 1.4 s give-up time.
                .with_ice_connection_attempts(
                    Some(ICE_CHECK_INTERVAL),
                    Some(ICE_MAX_BINDING_REQUESTS),
                )
                .with_ice_timeouts(
                    Some(ICE_DISCONNECTED_TIMEOUT),
                    Some(ICE_FAILED_TIMEOUT),
                    Some(ICE_KEEPALIVE),
                )
                // An ICE restart gathers on fresh sockets, on the interfaces there are now: a
                // laptop that moved to another network has other addresses (webrtc#868).
                .with_discard_local_candidates_during_ice_restart(true)
                // webrtc-rs waits before nominating a pair whose remote is peer-reflexive (1 s)
                // or relayed (2 s), in case a better pair turns up. A prflx remote is usually
                // just a host candidate whose signalling message has not arrived yet; libwebrtc
                // does not wait, and a join stalled a full second on it here. With relay-only
                // there is nothing better to wait for.
                .with_prflx_acceptance_min_wait(Some(ACCEPTANCE_WAIT))
                .with_relay_acceptance_min_wait(Some(if config.relay_only {
                    Duration::ZERO
                } else {
                    RELAY_ACCEPTANCE_WAIT
                }))
                .build(),
        )
        .with_handler(handler)
        .with_udp_addrs(config.bind.clone())
        .with_runtime(Arc::new(crate::runtime::BigBufferRuntime::default()))
        .build()
        .await?;
    Ok((Arc::new(pc), estimate))
}

/// An SSRC unlikely to collide with the remote side's (RFC 3550 §8.1 picks at random).
fn rand_ssrc() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let seq = SSRC_SEQ.fetch_add(0x9E37_79B9, std::sync::atomic::Ordering::Relaxed);
    nanos ^ seq ^ std::process::id().rotate_left(16)
}

static SSRC_SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0x1234_5678);

/// Hands inbound keyframe requests (PLI, FIR) to the application and nothing else of the
/// inbound RTCP: webrtc-rs delivers RTCP to a sending track only when an interceptor marks
/// it `DeliverToApplication`, and the rest (reports, NACK, feedback) is for the interceptors
/// that already acted on it. (The pattern of webrtc-rs's `rtcp-processing` example.)
#[derive(Default)]
struct KeyframeRequests {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            let requests: Vec<_> = packets
                .iter()
                .filter(|p| {
                    let any = p.as_any();
                    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
                })
                .cloned()
                .collect();
            if requests.is_empty() {
                return Ok(());
            }
            msg.message.packet = Packet::Rtcp(requests);
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl Interceptor for KeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}
