//! A call: one room on a signalling server, one [`Link`] per remote participant (mesh).
//!
//! `join(config)` returns a [`CallHandle`] that takes commands and a stream of [`CallEvent`]s.
//! Everything runs in one actor task that owns the participants, so no state is shared
//! behind locks: signalling events, link events, data-channel messages, decoded media and the
//! media clock all arrive on channels the actor selects over.
//!
//! Negotiation matches the browser UI: the joiner offers to everyone already in the room (the
//! room-state), the others answer; the offering side opens the pair's one data channel.
//! Media is encoded once per call and the same access units go to every participant.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rtc::data_channel::RTCDataChannelState;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    RTCIceCandidateInit, RTCPeerConnectionState, RTCSdpType, RTCSessionDescription,
};

use confab_media::audio_io::{Capture, Playback};
use confab_media::codec::h264::{AccessUnit, H264Settings};
use confab_media::codec::opus::OpusEncoder;
use confab_media::frame::now_us;
use confab_media::frame::{AudioFrame, VideoFrame};
use confab_media::pipeline::{ENCODED_QUEUE, VideoOut, VideoPipeline};
use confab_media::source::VideoSourceSpec;
use confab_media::source::synthetic::{Tone, read_stamp};
use confab_media::voice::VoiceProcessor;
use confab_sio::Incoming;
use webrtc::peer_connection::StatsSelector;

use crate::link::{self, Link, LinkConfig, LinkError, LinkEvent};
use crate::receive::{self, Received};
use crate::transfer;

/// Socket.IO event names (the reference design's, shared with the server and the UI).
mod ev {
    pub const JOIN_ROOM: &str = "join-room";
    pub const LEAVE_ROOM: &str = "leave-room";
    pub const ROOM_STATE: &str = "room-state";
    pub const USER_JOINED: &str = "user-joined";
    pub const USER_LEFT: &str = "user-left";
    pub const OFFER: &str = "offer";
    pub const ANSWER: &str = "answer";
    pub const ICE_CANDIDATE: &str = "ice-candidate";
    pub const DATA_CHANNEL_MESSAGE: &str = "data-channel-message";
    pub const ERROR: &str = "error";
}

/// A keyframe at least this often (10 s at 30 fps), besides the ones asked for: whenever a
/// participant connects, and on every PLI/FIR from a receiver. A safety net for a receiver
/// that never asks (and bounds how long it shows a broken picture).
pub const KEYFRAME_INTERVAL_FRAMES: u32 = 300;

/// Decoded frames a participant may queue before older ones are dropped: latency over
/// completeness.
const RECEIVE_QUEUE: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("signalling: {0}")]
    Signalling(#[from] confab_sio::ClientError),
    #[error("peer connection: {0}")]
    Link(#[from] LinkError),
    #[error("codec: {0}")]
    Codec(#[from] confab_media::codec::CodecError),
    #[error("audio device: {0}")]
    Audio(#[from] confab_media::audio_io::AudioError),
    #[error(transparent)]
    Voice(#[from] confab_media::voice::VoiceError),
}

/// What to send. The synthetic sources go through the same pipeline, encoders and tracks as
/// devices.
#[derive(Debug, Clone)]
pub struct CallConfig {
    pub server: String,
    pub room: String,
    /// The participant's id in the room and its display name.
    pub name: String,
    pub secret: Option<String>,
    /// The camera (or test pattern) to send; `None` sends no video at all (and then there is
    /// no video track to share a screen on: that needs renegotiation, not done yet).
    pub video_source: Option<VideoSourceSpec>,
    /// What the screen-share toggle switches the video track to.
    pub screen_source: VideoSourceSpec,
    pub synthetic_audio: bool,
    /// Capture this microphone (a cpal device name, or "default") instead of the tone.
    pub mic: Option<String>,
    /// Play every participant's audio on this output (a cpal device name, or "default").
    pub speakers: Option<String>,
    /// Echo cancellation and noise suppression on the microphone (on by default).
    pub voice_processing: bool,
    pub video: H264Settings,
    pub link: LinkConfig,
    /// Where accepted files are written.
    pub download_dir: PathBuf,
    /// Accept every offered file without asking (bots, tests).
    pub accept_files: bool,
    /// What the application gets of the video (the CLI and tests: summaries; the desktop app:
    /// access units for WebCodecs, or pictures where the webview cannot decode H.264).
    pub video_delivery: VideoDelivery,
}

/// What the application receives of each participant's video. Decoding here costs 6–8 % of a
/// core per 720p30 stream (BENCHMARKS.md, codec-bench), so a UI that decodes itself should
/// not pay for it twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VideoDelivery {
    /// Decoded here; one [`CallEvent::VideoFrame`] per frame (size, synthetic stamp, latency).
    #[default]
    Summaries,
    /// The access units as they arrived ([`CallEvent::EncodedVideo`], from each participant's
    /// first keyframe, and this side's own for the preview), not decoded here. The application
    /// reports undecodable video with [`Command::RequestKeyframe`].
    Encoded,
    /// `Encoded` and `Summaries` both: the frames are decoded twice (here and by the UI).
    EncodedAndSummaries,
    /// Decoded here and handed over as pictures ([`CallEvent::Picture`]) as well as summaries,
    /// for a UI that cannot decode H.264 itself. No local preview.
    Pictures,
}

impl VideoDelivery {
    fn forwards_encoded(self) -> bool {
        matches!(self, Self::Encoded | Self::EncodedAndSummaries)
    }

    fn decodes(self) -> bool {
        !matches!(self, Self::Encoded)
    }
}

impl CallConfig {
    pub fn new(server: &str, room: &str, name: &str) -> Self {
        Self {
            server: server.to_owned(),
            room: room.to_owned(),
            name: name.to_owned(),
            secret: None,
            video_source: Some(VideoSourceSpec::Synthetic {
                width: 640,
                height: 480,
            }),
            screen_source: VideoSourceSpec::Screen {
                monitor: None,
                max: (1280, 720),
            },
            synthetic_audio: true,
            mic: None,
            speakers: None,
            voice_processing: true,
            video: H264Settings {
                keyframe_interval: KEYFRAME_INTERVAL_FRAMES,
                ..H264Settings::default()
            },
            link: LinkConfig::loopback(),
            download_dir: std::env::temp_dir().join("confab-downloads"),
            accept_files: false,
            video_delivery: VideoDelivery::Summaries,
        }
    }
}

/// What happens in the call, in the order it happens.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CallEvent {
    /// The server admitted us to the room.
    Joined {
        room: String,
    },
    /// Someone is in the room (already there when we joined, or arrived after).
    ParticipantJoined {
        id: String,
        name: String,
    },
    ParticipantLeft {
        id: String,
    },
    /// The peer connection to `id` is up.
    Connected {
        id: String,
    },
    /// The pair's data channel opened: chat and files can go to `id` now.
    ChannelOpen {
        id: String,
    },
    /// A decoded video frame from `id`, with the synthetic stamp's frame number when present.
    VideoFrame {
        id: String,
        width: usize,
        height: usize,
        frame_number: Option<u32>,
        /// Capture → decoded, from the synthetic stamp's wall-clock time (same machine only).
        latency_ms: Option<u32>,
    },
    /// Connection statistics for `id`, once a second.
    Stats {
        id: String,
        stats: crate::stats::ParticipantStats,
    },
    /// A decoded 20 ms audio frame from `id`.
    AudioFrame {
        id: String,
        samples: usize,
        /// Largest absolute sample: what a speaking indicator shows, and how a test knows
        /// that sound (not just packets) arrived.
        peak: u16,
    },
    /// A 20 ms frame from this side's microphone (not the tone), while it is on, whether or
    /// not anyone is connected: what "your microphone works" indicators show.
    LocalAudio {
        peak: u16,
    },
    /// One H.264 access unit (Annex B) from `id` (this participant's own name for the local
    /// preview), with [`VideoDelivery::Encoded`]. Each id's first one is a keyframe.
    EncodedVideo {
        id: String,
        keyframe: bool,
        data: Arc<[u8]>,
    },
    /// A decoded picture from `id`, with [`VideoDelivery::Pictures`].
    Picture {
        id: String,
        frame: Arc<VideoFrame>,
    },
    Chat {
        from: String,
        id: String,
        text: String,
    },
    MediaState {
        id: String,
        video: bool,
        audio: bool,
        /// The video shows a screen, not a camera.
        screen: bool,
    },
    /// Our own video source opened (`screen`: a shared screen) and is being sent.
    LocalVideo {
        screen: bool,
    },
    /// A file transfer changed state or made progress (progress at most every 100 ms).
    Transfer(TransferInfo),
    /// Something went wrong that did not end the call.
    Error {
        message: String,
    },
    /// The call is over (leave, or the signalling connection ended).
    Left,
}

/// The state of one file transfer, as the UI and the report show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferInfo {
    pub id: String,
    /// The other participant.
    pub peer: String,
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub direction: Direction,
    pub status: TransferStatus,
    pub bytes: u64,
    /// Where a received file was written.
    pub path: Option<PathBuf>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Sent,
    Received,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferStatus {
    Offered,
    Sending,
    Receiving,
    Verifying,
    Done,
    Failed,
    Declined,
    Cancelled,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Offered => "offered",
            TransferStatus::Sending => "sending",
            TransferStatus::Receiving => "receiving",
            TransferStatus::Verifying => "verifying",
            TransferStatus::Done => "done",
            TransferStatus::Failed => "failed",
            TransferStatus::Declined => "declined",
            TransferStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TransferStatus::Done
                | TransferStatus::Failed
                | TransferStatus::Declined
                | TransferStatus::Cancelled
        )
    }
}

#[derive(Debug)]
pub enum Command {
    SendChat(String),
    /// Offers a file to every participant whose channel is open (one transfer each).
    SendFile(PathBuf),
    AcceptTransfer(String),
    DeclineTransfer(String),
    CancelTransfer(String),
    SetCamera(bool),
    SetMic(bool),
    /// Switches the video track between the screen and the camera (no renegotiation).
    ShareScreen(bool),
    /// Another camera (device selection), used from now on whenever the screen is not shared.
    SetVideoSource(VideoSourceSpec),
    /// A cap on the video bitrate (bits per second), applied to the running encoder.
    SetMaxBitrate(u32),
    /// The application could not decode `id`'s video (with [`VideoDelivery::Encoded`]): ask
    /// that participant for a keyframe (PLI), and forward nothing until it arrives.
    RequestKeyframe(String),
    /// Where files accepted from now on are written.
    SetDownloadDir(PathBuf),
    /// Switches the microphone (`None`: the synthetic tone) and the speakers (`None`: none)
    /// during the call, on the same audio track. A device that cannot be opened is reported
    /// ([`CallEvent::Error`]) and the previous ones stay.
    SetAudioDevices {
        mic: Option<String>,
        speakers: Option<String>,
    },
    Leave,
}

#[derive(Clone)]
pub struct CallHandle {
    tx: mpsc::UnboundedSender<Command>,
}

impl CallHandle {
    pub fn send(&self, command: Command) {
        // The actor is gone only after the call ended; nothing is left to command then.
        let _ = self.tx.send(command);
    }
}

struct Participant {
    name: String,
    link: Link,
    remote_set: bool,
    /// We sent an offer and have no answer yet (glare detection, and no second offer on top).
    offer_pending: bool,
    /// Candidates that arrived before the remote description.
    pending: Vec<RTCIceCandidateInit>,
    connected: bool,
    channel_open: bool,
    /// Woken when the channel's queue drains below the low-water mark.
    drained: Arc<Notify>,
    meter: crate::stats::RateMeter,
    /// Frames decoded here, or with [`VideoDelivery::Encoded`] frames received: the fps
    /// the statistics show.
    frames_decoded: u64,
    /// Wakes this participant's video receiver to ask for a keyframe.
    keyframe_request: Arc<Notify>,
    /// No video goes to this participant until a keyframe does.
    awaiting_keyframe: bool,
}

/// Everything the actor waits on besides signalling and commands, tagged by participant.
enum Internal {
    Link(String, LinkEvent),
    Channel(String, DataChannelEvent),
    Media(String, Received),
    /// A file to send has been hashed (off the actor: hashing 1 GB takes seconds).
    Hashed(PathBuf, Result<(u64, String), String>),
    /// A sender task's progress, or its end (`Some(result)`).
    Sending(String, u64, Option<Result<(), String>>),
}

/// Joins the room and runs the call until it is left.
pub async fn join(
    config: CallConfig,
) -> Result<(CallHandle, mpsc::UnboundedReceiver<CallEvent>), CallError> {
    let (client, incoming) = confab_sio::connect(&config.server).await?;
    let mut args = vec![
        json!(config.room),
        json!(config.name),
        json!({"name": config.name}),
    ];
    if let Some(secret) = &config.secret {
        args.push(json!({"secret": secret}));
    }
    client.emit_args(ev::JOIN_ROOM, &args)?;

    let (video, video_rx) = match &config.video_source {
        Some(spec) => {
            let (tx, rx) = mpsc::channel(ENCODED_QUEUE);
            (
                Some(VideoPipeline::start(spec.clone(), config.video, tx)?),
                Some(rx),
            )
        }
        None => (None, None),
    };
    // One processor for both directions: the canceller compares what the speakers play
    // with what the microphone hears.
    let voice = match (&config.mic, config.voice_processing) {
        (Some(_), true) => Some(VoiceProcessor::new()?),
        _ => None,
    };
    let mic = match &config.mic {
        Some(device) => Some(Capture::start(Some(device), voice.clone())?),
        None => None,
    };
    let audio = if config.synthetic_audio || mic.is_some() {
        let tone = mic.is_none().then(|| Tone::new(SYNTHETIC_TONE_HZ));
        Some(std::sync::Mutex::new((tone, OpusEncoder::new(32_000)?)))
    } else {
        None
    };
    let playback = match &config.speakers {
        Some(device) => Some(Playback::start(Some(device), voice.clone())?),
        None => None,
    };
    let (capture, mic_rx) = match mic {
        Some((capture, rx)) => (Some(capture), Some(rx)),
        None => (None, None),
    };
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (internal_tx, internal_rx) = mpsc::unbounded_channel();
    let actor = Actor {
        config,
        client,
        events: events_tx,
        internal: internal_tx,
        participants: HashMap::new(),
        names: HashMap::new(),
        seen_chat: HashSet::new(),
        video,
        audio,
        playback,
        voice,
        capture,
        mic_swap: None,
        camera_on: true,
        sharing_screen: false,
        last_video_capture_us: None,
        local_preview_started: false,
        mic_on: true,
        incoming: HashMap::new(),
        outgoing: HashMap::new(),
        transfer_seq: 0,
    };
    tokio::spawn(actor.run(incoming, cmd_rx, internal_rx, video_rx, mic_rx));
    Ok((CallHandle { tx: cmd_tx }, events_rx))
}

struct Actor {
    config: CallConfig,
    client: confab_sio::Client,
    events: mpsc::UnboundedSender<CallEvent>,
    internal: mpsc::UnboundedSender<Internal>,
    participants: HashMap<String, Participant>,
    names: HashMap<String, String>,
    seen_chat: HashSet<String>,
    video: Option<VideoPipeline>,
    /// In a mutex only because libopus's encoder is `Send` but not `Sync`, and the actor's
    /// future must be `Send`; only the actor ever locks it.
    audio: Option<std::sync::Mutex<(Option<Tone>, OpusEncoder)>>,
    playback: Option<Playback>,
    /// Shared by microphone and speakers (the canceller's far-end reference), when on.
    voice: Option<VoiceProcessor>,
    /// Kept alive for the call: dropping it stops the microphone.
    capture: Option<Capture>,
    /// A new microphone's frames (`Some(None)`: back to the tone), for the run loop to take.
    mic_swap: Option<Option<mpsc::Receiver<AudioFrame>>>,
    camera_on: bool,
    sharing_screen: bool,
    /// Capture time of the last access unit sent: the next one's RTP duration.
    last_video_capture_us: Option<u64>,
    /// The local preview (forwarded access units) starts at a keyframe, like a remote decoder.
    local_preview_started: bool,
    mic_on: bool,
    incoming: HashMap<String, IncomingTransfer>,
    outgoing: HashMap<String, OutgoingTransfer>,
    transfer_seq: u64,
}

struct IncomingTransfer {
    peer: String,
    inner: transfer::Incoming,
    info: TransferInfo,
    last_progress: Instant,
}

struct OutgoingTransfer {
    path: PathBuf,
    info: TransferInfo,
    cancel: Arc<AtomicBool>,
}

/// How often connection statistics are read and reported.
const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// Progress events at most this often per transfer.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// Bytes read from disk at once by a sending task (then cut into chunks).
const READ_BLOCK: usize = 1024 * 1024;
/// The largest absolute sample: what level indicators show.
fn peak(samples: &[i16]) -> u16 {
    samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0)
}

/// What the call sends without a microphone (tests listen for it).
pub const SYNTHETIC_TONE_HZ: f64 = 440.0;

impl Actor {
    async fn run(
        mut self,
        mut incoming: mpsc::UnboundedReceiver<Incoming>,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut internal: mpsc::UnboundedReceiver<Internal>,
        mut video: Option<mpsc::Receiver<VideoOut>>,
        mut mic: Option<mpsc::Receiver<AudioFrame>>,
    ) {
        let mut audio_tick = tokio::time::interval(Duration::from_millis(20));
        audio_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut stats_tick = tokio::time::interval(STATS_INTERVAL);
        stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                msg = incoming.recv() => match msg {
                    Some(Incoming::Event { name, args }) => self.on_signal(&name, args).await,
                    Some(Incoming::Disconnected { reason }) => {
                        self.error(format!("signalling ended: {reason}"));
                        break;
                    }
                    None => break,
                },
                cmd = commands.recv() => match cmd {
                    Some(Command::Leave) | None => break,
                    Some(cmd) => self.on_command(cmd).await,
                },
                Some(event) = internal.recv() => self.on_internal(event).await,
                out = async { video.as_mut().expect("guarded").recv().await }, if video.is_some() => {
                    match out {
                        Some(out) => self.on_video(out).await,
                        None => video = None,
                    }
                }
                _ = audio_tick.tick(), if self.audio.is_some() && mic.is_none() => {
                    self.send_audio_frame(None).await
                }
                frame = async { mic.as_mut().expect("guarded").recv().await }, if mic.is_some() => {
                    match frame {
                        Some(frame) => self.send_audio_frame(Some(frame)).await,
                        None => {
                            self.error("the microphone stopped".into());
                            mic = None;
                        }
                    }
                }
                _ = stats_tick.tick() => self.report_stats().await,
            }
            if let Some(next) = self.mic_swap.take() {
                mic = next;
            }
        }
        let _ = self.client.emit_args(ev::LEAVE_ROOM, &[]);
        for (_, p) in self.participants.drain() {
            let _ = p.link.pc.close().await;
        }
        self.client.clone().disconnect();
        self.emit(CallEvent::Left);
    }

    fn emit(&self, event: CallEvent) {
        let _ = self.events.send(event);
    }

    fn error(&self, message: String) {
        tracing::warn!("{message}");
        self.emit(CallEvent::Error { message });
    }

    async fn on_signal(&mut self, name: &str, args: Vec<Value>) {
        let arg = args.into_iter().next().unwrap_or(Value::Null);
        tracing::debug!(me = %self.config.name, event = name, from = ?arg.get("from"), "signal");
        match name {
            ev::ROOM_STATE => {
                self.emit(CallEvent::Joined {
                    room: self.config.room.clone(),
                });
                let users = arg["users"].as_array().cloned().unwrap_or_default();
                for user in users {
                    let Some(id) = user["userId"].as_str().map(str::to_owned) else {
                        continue;
                    };
                    self.note_participant(&id, &user["userData"]);
                    if let Err(e) = self.offer_to(&id).await {
                        self.error(format!("offering to {id}: {e}"));
                    }
                }
            }
            ev::USER_JOINED => {
                if let Some(id) = arg["userId"].as_str() {
                    let id = id.to_owned();
                    self.note_participant(&id, &arg["userData"]);
                }
            }
            ev::USER_LEFT => {
                if let Some(id) = arg["userId"].as_str() {
                    self.drop_participant(id).await;
                }
            }
            ev::OFFER | ev::ANSWER => {
                let (Some(from), Some(sdp)) = (
                    arg["from"].as_str().map(str::to_owned),
                    arg[name]["sdp"].as_str().map(str::to_owned),
                ) else {
                    return self.error(format!("malformed {name}"));
                };
                let result = if name == ev::OFFER {
                    self.on_offer(&from, sdp).await
                } else {
                    self.on_answer(&from, sdp).await
                };
                if let Err(e) = result {
                    self.error(format!("{name} from {from}: {e}"));
                }
            }
            ev::ICE_CANDIDATE => {
                let Some(from) = arg["from"].as_str() else {
                    return;
                };
                let candidate = &arg["candidate"];
                let Some(text) = candidate["candidate"].as_str() else {
                    return; // end of candidates
                };
                if text.is_empty() {
                    return;
                }
                let init = RTCIceCandidateInit {
                    candidate: text.to_owned(),
                    sdp_mid: candidate["sdpMid"].as_str().map(str::to_owned),
                    sdp_mline_index: candidate["sdpMLineIndex"].as_u64().map(|i| i as u16),
                    username_fragment: candidate["usernameFragment"].as_str().map(str::to_owned),
                    ..Default::default()
                };
                let Some(p) = self.participants.get_mut(from) else {
                    return;
                };
                if p.remote_set {
                    if let Err(e) = p.link.pc.add_ice_candidate(init).await {
                        let message = format!("candidate from {from}: {e}");
                        self.error(message);
                    }
                } else {
                    p.pending.push(init);
                }
            }
            ev::DATA_CHANNEL_MESSAGE => {
                if let (Some(from), Some(message)) = (arg["from"].as_str(), arg.get("message")) {
                    let from = from.to_owned();
                    self.on_app_message(&from, message.clone());
                }
            }
            ev::ERROR => {
                self.error(format!(
                    "server: {} {}",
                    arg["code"].as_str().unwrap_or("?"),
                    arg["message"].as_str().unwrap_or("")
                ));
            }
            _ => {}
        }
    }

    fn note_participant(&mut self, id: &str, user_data: &Value) {
        if id == self.config.name || self.names.contains_key(id) {
            return;
        }
        let name = user_data["name"].as_str().unwrap_or(id).to_owned();
        self.names.insert(id.to_owned(), name.clone());
        self.emit(CallEvent::ParticipantJoined {
            id: id.to_owned(),
            name,
        });
    }

    /// Creates the link to `id` and starts its event pump (and its channel's, when this side
    /// opens the channel).
    async fn new_link(&mut self, id: &str, offering: bool) -> Result<Link, CallError> {
        let (link, mut events) = Link::new(&self.config.link, offering).await?;
        let tx = self.internal.clone();
        let who = id.to_owned();
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                if tx.send(Internal::Link(who.clone(), e)).is_err() {
                    return;
                }
            }
        });
        Ok(link)
    }

    fn pump_channel(&self, id: &str, channel: Arc<dyn DataChannel>, drained: Arc<Notify>) {
        let tx = self.internal.clone();
        let who = id.to_owned();
        tokio::spawn(async move {
            let _ = channel
                .set_buffered_amount_low_threshold(link::SEND_LOW_WATER as u32)
                .await;
            // An adopted channel may be open before anyone polls it: report that first.
            if matches!(channel.ready_state().await, Ok(RTCDataChannelState::Open))
                && tx
                    .send(Internal::Channel(who.clone(), DataChannelEvent::OnOpen))
                    .is_err()
            {
                return;
            }
            while let Some(e) = channel.poll().await {
                if matches!(e, DataChannelEvent::OnBufferedAmountLow) {
                    drained.notify_waiters();
                    continue;
                }
                if tx.send(Internal::Channel(who.clone(), e)).is_err() {
                    return;
                }
            }
            // The channel is gone: wake any sender so it notices.
            drained.notify_waiters();
        });
    }

    async fn add_local_tracks(&self, link: &mut Link) -> Result<(), CallError> {
        if self.video.is_some() {
            link.add_video_track(&self.config.name).await?;
        }
        if self.audio.is_some() {
            link.add_audio_track(&self.config.name).await?;
        }
        Ok(())
    }

    async fn offer_to(&mut self, id: &str) -> Result<(), CallError> {
        if self.participants.contains_key(id) {
            return Ok(());
        }
        let mut link = self.new_link(id, true).await?;
        self.add_local_tracks(&mut link).await?;
        // Tracks of the answerer that this offer has no m-line for are added by the
        // answerer's renegotiation (`renegotiate`). (Offering receive-only transceivers
        // instead made the data channel of two media-less participants fail to open in ~1
        // of 4 runs with webrtc-rs.)
        let offer = link.local_offer().await?;
        self.signal(ev::OFFER, id, &offer);
        let channel = link.channel.clone();
        self.insert(id, link);
        if let Some(p) = self.participants.get_mut(id) {
            p.offer_pending = true;
        }
        if let Some(channel) = channel {
            let drained = self.participants[id].drained.clone();
            self.pump_channel(id, channel, drained);
        }
        Ok(())
    }

    async fn on_offer(&mut self, from: &str, sdp: String) -> Result<(), CallError> {
        let offer = RTCSessionDescription::offer(sdp).map_err(LinkError::from)?;
        if !self.participants.contains_key(from) {
            self.note_participant(from, &Value::Null);
            let link = self.new_link(from, false).await?;
            self.insert(from, link);
        }
        let mut link_needs_tracks = false;
        {
            let polite = self.config.name.as_str() > from;
            let p = self.participants.get_mut(from).expect("inserted above");
            if p.offer_pending {
                // Glare: both sides offered at once. Same rule as the browser UI: the side
                // with the greater id is polite, drops its own offer and takes theirs; the
                // other ignores the incoming one and waits for its answer.
                if !polite {
                    tracing::debug!(%from, "offer collision: ignoring theirs");
                    return Ok(());
                }
                p.link
                    .pc
                    .set_local_description(
                        RTCSessionDescription::rollback(None).map_err(LinkError::from)?,
                    )
                    .await
                    .map_err(LinkError::from)?;
                p.offer_pending = false;
            }
            p.link
                .pc
                .set_remote_description(offer)
                .await
                .map_err(LinkError::from)?;
            if !p.remote_set {
                link_needs_tracks = true;
            }
            p.remote_set = true;
        }
        if link_needs_tracks {
            // Answering side: our tracks take the transceivers the offer created.
            let mut p = self.participants.remove(from).expect("present");
            let added = self.add_local_tracks(&mut p.link).await;
            self.participants.insert(from.to_owned(), p);
            added?;
        }
        let p = self.participants.get_mut(from).expect("present");
        for c in std::mem::take(&mut p.pending) {
            let _ = p.link.pc.add_ice_candidate(c).await;
        }
        let answer = p.link.local_answer().await?;
        self.signal(ev::ANSWER, from, &answer);
        Ok(())
    }

    async fn on_answer(&mut self, from: &str, sdp: String) -> Result<(), CallError> {
        let Some(p) = self.participants.get_mut(from) else {
            return Ok(());
        };
        let answer = RTCSessionDescription::answer(sdp).map_err(LinkError::from)?;
        p.link
            .pc
            .set_remote_description(answer)
            .await
            .map_err(LinkError::from)?;
        p.remote_set = true;
        p.offer_pending = false;
        for c in std::mem::take(&mut p.pending) {
            let _ = p.link.pc.add_ice_candidate(c).await;
        }
        Ok(())
    }

    /// Offers again to `id` when the link has something new to negotiate: on the answering
    /// side, tracks the first offer had no m-line for (the offerer sent no media of that
    /// kind). Not before the first exchange is complete (the first offer carries
    /// everything), and not while our own offer is outstanding (webrtc-rs raises the event
    /// again once the exchange is over, if still needed).
    async fn renegotiate(&mut self, id: &str) -> Result<(), CallError> {
        let Some(p) = self.participants.get_mut(id) else {
            return Ok(());
        };
        if !p.remote_set
            || p.offer_pending
            || p.link.pc.pending_remote_description().await.is_some()
        {
            return Ok(());
        }
        let offer = p.link.local_offer().await?;
        p.offer_pending = true;
        tracing::debug!(%id, "renegotiating");
        self.signal(ev::OFFER, id, &offer);
        Ok(())
    }

    fn insert(&mut self, id: &str, link: Link) {
        self.participants.insert(
            id.to_owned(),
            Participant {
                name: self.names.get(id).cloned().unwrap_or_else(|| id.to_owned()),
                link,
                remote_set: false,
                offer_pending: false,
                pending: Vec::new(),
                connected: false,
                channel_open: false,
                drained: Arc::new(Notify::new()),
                meter: Default::default(),
                frames_decoded: 0,
                keyframe_request: Arc::new(Notify::new()),
                awaiting_keyframe: true,
            },
        );
    }

    fn signal(&self, kind: &str, to: &str, desc: &RTCSessionDescription) {
        tracing::debug!(me = %self.config.name, %kind, %to, "signalling");
        let sdp_type = match desc.sdp_type {
            RTCSdpType::Offer => "offer",
            RTCSdpType::Answer => "answer",
            RTCSdpType::Pranswer => "pranswer",
            _ => "rollback",
        };
        let payload = json!({
            "roomId": self.config.room,
            "to": to,
            kind: {"type": sdp_type, "sdp": desc.sdp},
        });
        if let Err(e) = self.client.emit(kind, &payload) {
            self.error(format!("sending {kind}: {e}"));
        }
    }

    async fn drop_participant(&mut self, id: &str) {
        self.names.remove(id);
        if let Some(playback) = &self.playback {
            playback.remove(id);
        }
        let gone = "the participant left".to_owned();
        let incoming: Vec<String> = self
            .incoming
            .iter()
            .filter(|(_, t)| t.peer == id && !t.info.status.is_finished())
            .map(|(k, _)| k.clone())
            .collect();
        for tid in incoming {
            if let Some(t) = self.incoming.get_mut(&tid) {
                t.inner.abort(&gone);
            }
            self.set_incoming(&tid, TransferStatus::Failed, Some(gone.clone()));
        }
        let outgoing: Vec<String> = self
            .outgoing
            .iter()
            .filter(|(_, t)| t.info.peer == id && !t.info.status.is_finished())
            .map(|(k, _)| k.clone())
            .collect();
        for tid in outgoing {
            if let Some(t) = self.outgoing.get(&tid) {
                t.cancel.store(true, Ordering::Relaxed);
            }
            self.set_outgoing(&tid, TransferStatus::Failed, Some(gone.clone()));
        }
        if let Some(p) = self.participants.remove(id) {
            let _ = p.link.pc.close().await;
        }
        self.emit(CallEvent::ParticipantLeft { id: id.to_owned() });
    }

    async fn on_internal(&mut self, event: Internal) {
        match event {
            Internal::Link(id, LinkEvent::Candidate(c)) => {
                // Browsers match candidates to m-lines by index; with max-bundle every
                // candidate belongs to the first one.
                let payload = json!({
                    "roomId": self.config.room,
                    "to": id,
                    "candidate": {
                        "candidate": c.candidate,
                        "sdpMid": Value::Null,
                        "sdpMLineIndex": 0,
                        "usernameFragment": c.username_fragment,
                    },
                });
                let _ = self.client.emit(ev::ICE_CANDIDATE, &payload);
            }
            Internal::Link(id, LinkEvent::State(state)) => match state {
                RTCPeerConnectionState::Connected => {
                    if let Some(p) = self.participants.get_mut(&id)
                        && !p.connected
                    {
                        p.connected = true;
                        // A newcomer needs a keyframe to start decoding.
                        if let Some(video) = &self.video {
                            video.request_keyframe();
                        }
                        self.emit(CallEvent::Connected { id });
                    }
                }
                RTCPeerConnectionState::Failed => {
                    self.error(format!("connection to {id} failed"));
                }
                _ => {}
            },
            Internal::Link(id, LinkEvent::Track(track)) => self.receive_track(id, track).await,
            Internal::Link(id, LinkEvent::KeyframeRequest) => {
                tracing::debug!(%id, "keyframe requested");
                if let Some(video) = &self.video {
                    video.request_keyframe();
                }
            }
            Internal::Link(id, LinkEvent::DataChannel(channel)) => {
                let adopt = match self.participants.get_mut(&id) {
                    Some(p) if p.link.channel.is_none() => {
                        p.link.channel = Some(channel.clone());
                        Some(p.drained.clone())
                    }
                    _ => None,
                };
                if let Some(drained) = adopt {
                    self.pump_channel(&id, channel, drained);
                } else {
                    // Not ours to keep: the pair already has its channel.
                    let _ = channel.close().await;
                }
            }
            Internal::Link(id, LinkEvent::NegotiationNeeded) => {
                if let Err(e) = self.renegotiate(&id).await {
                    self.error(format!("renegotiating with {id}: {e}"));
                }
            }
            Internal::Link(..) => {}
            Internal::Channel(id, DataChannelEvent::OnOpen) => {
                let state = self.media_state();
                let Some(p) = self.participants.get_mut(&id) else {
                    return;
                };
                if p.channel_open {
                    return; // reported by both the ready-state check and the event
                }
                p.channel_open = true;
                if let Some(channel) = &p.link.channel {
                    let _ = channel.send_text(&state.to_string()).await;
                }
                self.emit(CallEvent::ChannelOpen { id });
            }
            Internal::Channel(id, DataChannelEvent::OnMessage(m)) => {
                if !m.is_string {
                    self.on_chunk(&id, &m.data).await;
                } else if let Ok(v) = serde_json::from_slice::<Value>(&m.data) {
                    self.on_transfer_message(&id, &v).await;
                    self.on_app_message(&id, v);
                }
            }
            Internal::Hashed(path, result) => self.offer_file(path, result).await,
            Internal::Sending(id, bytes, end) => self.on_sending(id, bytes, end),
            Internal::Channel(..) => {}
            Internal::Media(id, Received::Frame(frame)) => {
                if let Some(p) = self.participants.get_mut(&id) {
                    p.frames_decoded += 1;
                }
                let stamp = read_stamp(&frame);
                self.emit(CallEvent::VideoFrame {
                    id: id.clone(),
                    width: frame.width,
                    height: frame.height,
                    frame_number: stamp.map(|s| s.frame_number),
                    latency_ms: stamp.map(|s| s.age_ms(now_us())),
                });
                if self.config.video_delivery == VideoDelivery::Pictures {
                    self.emit(CallEvent::Picture {
                        id,
                        frame: Arc::new(frame),
                    });
                }
            }
            Internal::Media(id, Received::Encoded { data, keyframe }) => {
                if !self.config.video_delivery.decodes() {
                    if let Some(p) = self.participants.get_mut(&id) {
                        p.frames_decoded += 1;
                    }
                }
                self.emit(CallEvent::EncodedVideo { id, keyframe, data });
            }
            Internal::Media(id, Received::Audio(frame)) => {
                if let Some(playback) = &self.playback {
                    playback.push(&id, &frame);
                }
                self.emit(CallEvent::AudioFrame {
                    id,
                    samples: frame.samples.len(),
                    peak: peak(&frame.samples),
                });
            }
            Internal::Media(id, Received::DecodeError(e)) => {
                self.error(format!("decoding media from {id}: {e}"));
            }
        }
    }

    async fn receive_track(&self, id: String, track: Arc<dyn TrackRemote>) {
        let kind = track.kind().await;
        let (tx, mut rx) = mpsc::channel(RECEIVE_QUEUE);
        match kind {
            RtpCodecKind::Video => {
                let Some(request) = self
                    .participants
                    .get(&id)
                    .map(|p| p.keyframe_request.clone())
                else {
                    return;
                };
                tokio::spawn(receive::video(
                    track,
                    tx,
                    receive::VideoOutput {
                        decode: self.config.video_delivery.decodes(),
                        forward: self.config.video_delivery.forwards_encoded(),
                    },
                    request,
                ));
            }
            RtpCodecKind::Audio => {
                tokio::spawn(receive::audio(track, tx));
            }
            _ => return,
        }
        let internal = self.internal.clone();
        tokio::spawn(async move {
            while let Some(r) = rx.recv().await {
                if internal.send(Internal::Media(id.clone(), r)).is_err() {
                    return;
                }
            }
        });
    }

    /// A JSON message from `from` on the data channel or the signalling fallback.
    fn on_app_message(&mut self, from: &str, v: Value) {
        match v["t"].as_str() {
            Some("chat") => {
                let (Some(id), Some(text)) = (v["id"].as_str(), v["text"].as_str()) else {
                    return;
                };
                // Exactly once, whichever path delivered it first.
                if !self.seen_chat.insert(id.to_owned()) {
                    return;
                }
                self.emit(CallEvent::Chat {
                    from: from.to_owned(),
                    id: id.to_owned(),
                    text: text.to_owned(),
                });
            }
            Some("media-state") => self.emit(CallEvent::MediaState {
                id: from.to_owned(),
                video: v["video"].as_bool() != Some(false),
                audio: v["audio"].as_bool() != Some(false),
                screen: v["screen"].as_bool() == Some(true),
            }),
            _ => {}
        }
    }

    async fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::SendChat(text) => {
                let id = message_id(&self.config.name, self.seen_chat.len());
                self.seen_chat.insert(id.clone());
                let ts = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                let msg = json!({"t": "chat", "id": id, "text": text, "ts": ts});
                for (pid, p) in &self.participants {
                    if let (true, Some(channel)) = (p.channel_open, &p.link.channel) {
                        if let Err(e) = channel.send_text(&msg.to_string()).await {
                            self.error(format!("chat to {pid}: {e}"));
                        }
                    } else {
                        let payload = json!({"roomId": self.config.room, "to": pid, "message": msg, "type": "chat"});
                        let _ = self.client.emit(ev::DATA_CHANNEL_MESSAGE, &payload);
                    }
                }
            }
            Command::SendFile(path) => {
                let internal = self.internal.clone();
                tokio::task::spawn_blocking(move || {
                    let result = hash_file(&path).map_err(|e| e.to_string());
                    let _ = internal.send(Internal::Hashed(path, result));
                });
            }
            Command::AcceptTransfer(id) => self.accept(&id).await,
            Command::DeclineTransfer(id) => {
                if let Some(t) = self.incoming.get_mut(&id)
                    && t.inner.state() == transfer::State::Offered
                {
                    t.inner.decline();
                    let peer = t.peer.clone();
                    self.set_incoming(&id, TransferStatus::Declined, None);
                    self.send_json(&peer, &json!({"t": "file-decline", "id": id}))
                        .await;
                }
            }
            Command::CancelTransfer(id) => self.cancel_transfer(&id, true).await,
            Command::SetCamera(on) => {
                self.camera_on = on;
                if let Some(video) = &self.video {
                    video.set_enabled(on || self.sharing_screen);
                }
                self.broadcast_media_state().await;
            }
            Command::ShareScreen(on) => {
                let Some(video) = &self.video else {
                    return self.error(
                        "this call sends no video, so there is no track to share a screen on"
                            .into(),
                    );
                };
                self.sharing_screen = on;
                match (on, &self.config.video_source) {
                    (true, _) => video.switch_source(self.config.screen_source.clone()),
                    (false, Some(camera)) => video.switch_source(camera.clone()),
                    (false, None) => {}
                }
                video.set_enabled(on || self.camera_on);
                self.broadcast_media_state().await;
            }
            Command::SetVideoSource(spec) => {
                if let Some(video) = &self.video
                    && !self.sharing_screen
                {
                    video.switch_source(spec.clone());
                }
                self.config.video_source = Some(spec);
            }
            Command::SetMaxBitrate(bps) => {
                self.config.video.bitrate_bps = bps;
                if let Some(video) = &self.video {
                    video.set_rate(bps, self.config.video.max_fps);
                }
            }
            Command::SetDownloadDir(dir) => self.config.download_dir = dir,
            Command::SetAudioDevices { mic, speakers } => self.set_audio_devices(mic, speakers),
            Command::RequestKeyframe(id) => {
                if let Some(p) = self.participants.get(&id) {
                    p.keyframe_request.notify_one();
                }
            }
            Command::SetMic(on) => {
                self.mic_on = on;
                self.broadcast_media_state().await;
            }
            Command::Leave => {}
        }
    }

    async fn broadcast_media_state(&self) {
        let state = self.media_state();
        for p in self.participants.values().filter(|p| p.channel_open) {
            if let Some(channel) = &p.link.channel {
                let _ = channel.send_text(&state.to_string()).await;
            }
        }
    }

    fn media_state(&self) -> Value {
        json!({
            "t": "media-state",
            "video": self.camera_on || self.sharing_screen,
            "audio": self.mic_on,
            "screen": self.sharing_screen,
        })
    }

    async fn on_video(&mut self, out: VideoOut) {
        match out {
            VideoOut::Encoded(au) => self.send_video(au).await,
            VideoOut::SourceOpened { screen } => self.emit(CallEvent::LocalVideo { screen }),
            VideoOut::SourceFailed(reason) => {
                if self.sharing_screen {
                    // Back to the camera rather than sending nothing.
                    self.error(format!("sharing the screen: {reason}"));
                    self.sharing_screen = false;
                    if let (Some(video), Some(camera)) = (&self.video, &self.config.video_source) {
                        video.switch_source(camera.clone());
                        video.set_enabled(self.camera_on);
                    }
                    self.broadcast_media_state().await;
                } else {
                    self.error(format!("video source: {reason}"));
                }
            }
        }
    }

    /// Sends one access unit to every connected participant; its RTP duration is the time
    /// since the previous one was captured (sources are not all paced evenly).
    async fn send_video(&mut self, au: AccessUnit) {
        let duration = match self.last_video_capture_us.replace(au.capture_us) {
            Some(previous) if au.capture_us > previous => {
                Duration::from_micros((au.capture_us - previous).min(1_000_000))
            }
            _ => Duration::from_secs_f32(1.0 / self.config.video.max_fps.max(1.0)),
        };
        if !(self.camera_on || self.sharing_screen) {
            return;
        }
        if self.config.video_delivery.forwards_encoded() {
            self.local_preview_started |= au.keyframe;
            if self.local_preview_started {
                self.emit(CallEvent::EncodedVideo {
                    id: self.config.name.clone(),
                    keyframe: au.keyframe,
                    data: Arc::from(au.data.as_slice()),
                });
            }
        }
        for p in self.participants.values_mut().filter(|p| p.connected) {
            // P frames are useless to a participant that has not had a keyframe yet (its
            // decoder has no parameter sets); one was requested when it connected.
            if p.awaiting_keyframe && !au.keyframe {
                continue;
            }
            p.awaiting_keyframe = false;
            if let Err(e) = p.link.send_video(&au, duration).await {
                tracing::debug!("video to {}: {e}", p.name);
            }
        }
    }

    /// Encodes and sends one 20 ms frame: `captured` from the microphone, or the next frame of
    /// the tone.
    async fn send_audio_frame(&mut self, captured: Option<AudioFrame>) {
        if let Some(frame) = captured.as_ref().filter(|_| self.mic_on) {
            self.emit(CallEvent::LocalAudio {
                peak: peak(&frame.samples),
            });
        }
        if !self.participants.values().any(|p| p.connected) {
            return;
        }
        let Some(audio) = &self.audio else { return };
        let encoded = {
            let mut guard = audio.lock().unwrap_or_else(|p| p.into_inner());
            let (tone, encoder) = &mut *guard;
            let Some(mut frame) = captured.or_else(|| tone.as_mut().map(Tone::next_frame)) else {
                return;
            };
            if !self.mic_on {
                frame.samples.fill(0);
            }
            encoder.encode(&frame)
        };
        let packet = match encoded {
            Ok(p) => p,
            Err(e) => return self.error(format!("encoding audio: {e}")),
        };
        for p in self.participants.values().filter(|p| p.connected) {
            if let Err(e) = p.link.send_audio(&packet).await {
                tracing::debug!("audio to {}: {e}", p.name);
            }
        }
    }
}

impl Actor {
    /// Opens the new devices first, so that a failure leaves the call as it was.
    fn set_audio_devices(&mut self, mic: Option<String>, speakers: Option<String>) {
        if self.audio.is_none() && mic.is_some() {
            return self.error("this call sends no audio: no microphone to switch to".into());
        }
        if mic.is_some() && self.config.voice_processing && self.voice.is_none() {
            match VoiceProcessor::new() {
                Ok(v) => self.voice = Some(v),
                Err(e) => return self.error(format!("echo cancellation: {e}")),
            }
        }
        let captured = match &mic {
            Some(device) => match Capture::start(Some(device), self.voice.clone()) {
                Ok(c) => Some(c),
                Err(e) => return self.error(format!("microphone {device}: {e}")),
            },
            None => None,
        };
        let playback = match &speakers {
            Some(device) => match Playback::start(Some(device), self.voice.clone()) {
                Ok(p) => Some(p),
                Err(e) => return self.error(format!("speakers {device}: {e}")),
            },
            None => None,
        };
        if let Some(audio) = &self.audio {
            let mut guard = audio.lock().unwrap_or_else(|p| p.into_inner());
            guard.0 = captured.is_none().then(|| Tone::new(SYNTHETIC_TONE_HZ));
        }
        let (capture, frames) = match captured {
            Some((capture, frames)) => (Some(capture), Some(frames)),
            None => (None, None),
        };
        self.capture = capture;
        self.mic_swap = Some(frames);
        self.playback = playback;
        self.config.mic = mic;
        self.config.speakers = speakers;
    }

    async fn report_stats(&mut self) {
        let mut out = Vec::new();
        for (id, p) in self.participants.iter_mut().filter(|(_, p)| p.connected) {
            let report = p
                .link
                .pc
                .get_stats(Instant::now(), StatsSelector::None)
                .await;
            let totals = crate::stats::Totals::from_report(&report);
            out.push((
                id.clone(),
                p.meter.update(Instant::now(), totals, p.frames_decoded),
            ));
        }
        for (id, stats) in out {
            self.emit(CallEvent::Stats { id, stats });
        }
    }

    async fn send_json(&self, peer: &str, v: &Value) {
        if let Some(channel) = self
            .participants
            .get(peer)
            .and_then(|p| p.link.channel.clone())
            && let Err(e) = channel.send_text(&v.to_string()).await
        {
            self.error(format!("to {peer}: {e}"));
        }
    }

    fn next_transfer_id(&mut self) -> String {
        self.transfer_seq += 1;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{:x}-{:x}-{}", nanos, std::process::id(), self.transfer_seq)
    }

    async fn offer_file(&mut self, path: PathBuf, hashed: Result<(u64, String), String>) {
        let (size, sha256) = match hashed {
            Ok(h) => h,
            Err(e) => return self.error(format!("cannot send {}: {e}", path.display())),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_owned());
        let peers: Vec<String> = self
            .participants
            .iter()
            .filter(|(_, p)| p.channel_open)
            .map(|(id, _)| id.clone())
            .collect();
        if peers.is_empty() {
            return self.error(format!("nobody to send {name} to yet"));
        }
        for peer in peers {
            let id = self.next_transfer_id();
            let info = TransferInfo {
                id: id.clone(),
                peer: peer.clone(),
                name: name.clone(),
                size,
                sha256: sha256.clone(),
                direction: Direction::Sent,
                status: TransferStatus::Offered,
                bytes: 0,
                path: Some(path.clone()),
                reason: None,
            };
            self.outgoing.insert(
                id.clone(),
                OutgoingTransfer {
                    path: path.clone(),
                    info: info.clone(),
                    cancel: Arc::new(AtomicBool::new(false)),
                },
            );
            self.emit(CallEvent::Transfer(info));
            let offer = json!({"t": "file-offer", "id": id, "name": name, "size": size,
                               "sha256": sha256, "mime": ""});
            self.send_json(&peer, &offer).await;
        }
    }

    async fn on_transfer_message(&mut self, from: &str, v: &Value) {
        let Some(kind) = v["t"].as_str() else { return };
        let id = v["id"].as_str().unwrap_or_default().to_owned();
        match kind {
            "file-offer" => {
                let offer = match transfer::Offer::parse(v) {
                    Ok(o) => o,
                    Err(e) => return self.error(format!("file offer from {from}: {e}")),
                };
                if self.incoming.contains_key(&offer.id) {
                    return self.error(format!("{from} reused transfer id {}", offer.id));
                }
                let info = TransferInfo {
                    id: offer.id.clone(),
                    peer: from.to_owned(),
                    name: transfer::sanitize_file_name(&offer.name),
                    size: offer.size,
                    sha256: offer.sha256.clone(),
                    direction: Direction::Received,
                    status: TransferStatus::Offered,
                    bytes: 0,
                    path: None,
                    reason: None,
                };
                let tid = offer.id.clone();
                self.incoming.insert(
                    tid.clone(),
                    IncomingTransfer {
                        peer: from.to_owned(),
                        inner: transfer::Incoming::new(offer, &self.config.download_dir),
                        info: info.clone(),
                        last_progress: Instant::now(),
                    },
                );
                self.emit(CallEvent::Transfer(info));
                if self.config.accept_files {
                    self.accept(&tid).await;
                }
            }
            "file-accept" => {
                let Some(t) = self.outgoing.get(&id) else {
                    return;
                };
                if t.info.peer != from || t.info.status != TransferStatus::Offered {
                    return;
                }
                self.start_sending(id).await;
            }
            "file-decline"
                if self.outgoing.get(&id).is_some_and(|t| {
                    t.info.peer == from && t.info.status == TransferStatus::Offered
                }) =>
            {
                self.set_outgoing(&id, TransferStatus::Declined, None);
            }
            "file-cancel" => {
                let mine = self.outgoing.get(&id).is_some_and(|t| t.info.peer == from)
                    || self.incoming.get(&id).is_some_and(|t| t.peer == from);
                if mine {
                    self.cancel_transfer(&id, false).await;
                }
            }
            "file-end" => {
                let Some(t) = self.incoming.get_mut(&id) else {
                    return;
                };
                if t.peer != from {
                    return;
                }
                t.info.bytes = t.inner.received();
                let result = t.inner.on_end();
                let verdict = match result {
                    Ok(path) => {
                        if let Some(t) = self.incoming.get_mut(&id) {
                            t.info.path = Some(path);
                        }
                        self.set_incoming(&id, TransferStatus::Done, None);
                        json!({"t": "file-result", "id": id, "ok": true})
                    }
                    Err(e) => {
                        self.set_incoming(&id, TransferStatus::Failed, Some(e.to_string()));
                        json!({"t": "file-result", "id": id, "ok": false, "reason": e.to_string()})
                    }
                };
                self.send_json(from, &verdict).await;
            }
            "file-result" => {
                if !self
                    .outgoing
                    .get(&id)
                    .is_some_and(|t| t.info.peer == from && !t.info.status.is_finished())
                {
                    return;
                }
                if v["ok"].as_bool() == Some(true) {
                    self.set_outgoing(&id, TransferStatus::Done, None);
                } else {
                    let reason = v["reason"]
                        .as_str()
                        .unwrap_or("the receiver rejected the file")
                        .chars()
                        .take(200)
                        .collect();
                    self.set_outgoing(&id, TransferStatus::Failed, Some(reason));
                }
            }
            _ => {}
        }
    }

    async fn accept(&mut self, id: &str) {
        let Some(t) = self.incoming.get_mut(id) else {
            return;
        };
        if t.inner.state() != transfer::State::Offered {
            return;
        }
        let peer = t.peer.clone();
        t.inner.set_download_dir(&self.config.download_dir);
        match t.inner.accept() {
            Ok(()) => {
                self.set_incoming(id, TransferStatus::Receiving, None);
                self.send_json(&peer, &json!({"t": "file-accept", "id": id}))
                    .await;
            }
            Err(e) => {
                self.set_incoming(id, TransferStatus::Failed, Some(e.to_string()));
                self.send_json(&peer, &json!({"t": "file-decline", "id": id}))
                    .await;
            }
        }
    }

    async fn cancel_transfer(&mut self, id: &str, tell_peer: bool) {
        let peer = if let Some(t) = self.outgoing.get(id) {
            if t.info.status.is_finished() {
                return;
            }
            t.cancel.store(true, Ordering::Relaxed);
            let peer = t.info.peer.clone();
            self.set_outgoing(id, TransferStatus::Cancelled, None);
            peer
        } else if let Some(t) = self.incoming.get_mut(id) {
            if t.info.status.is_finished() {
                return;
            }
            t.inner.cancel();
            let peer = t.peer.clone();
            self.set_incoming(id, TransferStatus::Cancelled, None);
            peer
        } else {
            return;
        };
        if tell_peer {
            self.send_json(&peer, &json!({"t": "file-cancel", "id": id}))
                .await;
        }
    }

    async fn on_chunk(&mut self, from: &str, frame: &[u8]) {
        let Some((id, payload)) = transfer::parse_chunk(frame) else {
            return self.error(format!("malformed chunk from {from}"));
        };
        let Some(t) = self.incoming.get_mut(id) else {
            return;
        };
        if t.peer != from || t.inner.state() != transfer::State::Receiving {
            return; // late chunks after a cancel or failure change nothing
        }
        let id = id.to_owned();
        match t.inner.on_chunk(payload) {
            Ok(()) => {
                t.info.bytes = t.inner.received();
                if t.last_progress.elapsed() >= PROGRESS_INTERVAL {
                    t.last_progress = Instant::now();
                    let info = t.info.clone();
                    self.emit(CallEvent::Transfer(info));
                }
            }
            Err(e) => {
                let reason = e.to_string();
                self.set_incoming(&id, TransferStatus::Failed, Some(reason.clone()));
                let verdict = json!({"t": "file-result", "id": id, "ok": false, "reason": reason});
                self.send_json(from, &verdict).await;
            }
        }
    }

    async fn start_sending(&mut self, id: String) {
        let Some(t) = self.outgoing.get(&id) else {
            return;
        };
        let Some((channel, drained)) = self
            .participants
            .get(&t.info.peer)
            .and_then(|p| Some((p.link.channel.clone()?, p.drained.clone())))
        else {
            return self.set_outgoing(&id, TransferStatus::Failed, Some("no channel".into()));
        };
        let path = t.path.clone();
        let cancel = t.cancel.clone();
        let size = t.info.size;
        self.set_outgoing(&id, TransferStatus::Sending, None);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let result = send_file(&id, &path, size, channel, &drained, &cancel, &internal).await;
            let _ = internal.send(Internal::Sending(id, size, Some(result)));
        });
    }

    fn on_sending(&mut self, id: String, bytes: u64, end: Option<Result<(), String>>) {
        let Some(t) = self.outgoing.get_mut(&id) else {
            return;
        };
        if t.info.status.is_finished() {
            return;
        }
        t.info.bytes = bytes;
        match end {
            None => {
                let info = t.info.clone();
                self.emit(CallEvent::Transfer(info));
            }
            // Sent everything: now waiting for the receiver's verdict (file-result).
            Some(Ok(())) => self.set_outgoing(&id, TransferStatus::Verifying, None),
            Some(Err(e)) => self.set_outgoing(&id, TransferStatus::Failed, Some(e)),
        }
    }

    fn set_incoming(&mut self, id: &str, status: TransferStatus, reason: Option<String>) {
        if let Some(t) = self.incoming.get_mut(id) {
            t.info.status = status;
            t.info.reason = reason;
            t.info.bytes = t.inner.received();
            let info = t.info.clone();
            self.emit(CallEvent::Transfer(info));
        }
    }

    fn set_outgoing(&mut self, id: &str, status: TransferStatus, reason: Option<String>) {
        if let Some(t) = self.outgoing.get_mut(id) {
            t.info.status = status;
            t.info.reason = reason;
            let info = t.info.clone();
            self.emit(CallEvent::Transfer(info));
        }
    }
}

/// Streams `path` as framed chunks, pausing while more than the high-water mark is queued on
/// the channel until it reports having drained below the low-water mark.
async fn send_file(
    id: &str,
    path: &Path,
    size: u64,
    channel: Arc<dyn DataChannel>,
    drained: &Notify,
    cancel: &AtomicBool,
    progress: &mpsc::UnboundedSender<Internal>,
) -> Result<(), String> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| e.to_string())?;
    let mut block = vec![0u8; READ_BLOCK];
    let mut sent = 0u64;
    let mut last = Instant::now();
    while sent < size {
        if cancel.load(Ordering::Relaxed) {
            return Err("cancelled".into());
        }
        let n = file.read(&mut block).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("the file shrank to {sent} bytes while sending"));
        }
        for chunk in block[..n].chunks(transfer::CHUNK_SIZE) {
            while channel
                .outstanding_bytes()
                .await
                .map_err(|e| e.to_string())?
                > link::SEND_HIGH_WATER
            {
                // Register before re-checking so a drain between the check and the wait is
                // not missed; the timeout only guards against a channel that closes silently.
                let wake = drained.notified();
                if channel
                    .outstanding_bytes()
                    .await
                    .map_err(|e| e.to_string())?
                    <= link::SEND_HIGH_WATER
                {
                    break;
                }
                if tokio::time::timeout(Duration::from_secs(1), wake)
                    .await
                    .is_err()
                    && cancel.load(Ordering::Relaxed)
                {
                    return Err("cancelled".into());
                }
            }
            let frame = transfer::frame_chunk(id, chunk);
            channel
                .send(bytes::BytesMut::from(&frame[..]))
                .await
                .map_err(|e| e.to_string())?;
        }
        sent += n as u64;
        if last.elapsed() >= PROGRESS_INTERVAL {
            last = Instant::now();
            let _ = progress.send(Internal::Sending(id.to_owned(), sent, None));
        }
    }
    channel
        .send_text(&json!({"t": "file-end", "id": id}).to_string())
        .await
        .map_err(|e| e.to_string())
}

/// Size and SHA-256 (hex) of a file, read in blocks so any size fits in memory.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; READ_BLOCK];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            break;
        }
        hasher.update(&block[..n]);
        size += n as u64;
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((size, hex))
}

/// A chat message id unique across the room: the sender's id, the process and a counter.
fn message_id(user: &str, n: usize) -> String {
    format!("{user}-{}-{n}", std::process::id())
}
