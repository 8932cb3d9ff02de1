//! The call's actor: one task that owns every part of the call (participants, media,
//! devices, chat, transfers) and reacts to what arrives — signalling, commands, link and
//! channel events, decoded media, timers — so no state is shared behind locks. The select
//! loop only dispatches; each part's logic lives in its own module.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_media::frame::{AudioFrame, now_us};
use confab_media::pipeline::VideoOut;
use confab_media::source::synthetic::read_stamp;
use confab_protocol::{AppMessage, IceCandidateInit, RecordingState};
use confab_record::Input;
use tokio::sync::mpsc;
use webrtc::data_channel::DataChannelEvent;
use webrtc::peer_connection::{RTCPeerConnectionState, StatsSelector};

use super::allocation::ALLOCATION_INTERVAL;
use super::audio_devices::{AudioDevices, MicFrames};
use super::chat::ChatLog;
use super::config::{CallConfig, VideoDelivery};
use super::events::{CallEvent, Command, EventSink, ParticipantState};
use super::media_out::{MediaOut, peak};
use super::negotiation::OfferKind;
use super::network::{NETWORK_POLL, NetworkWatch, local_addresses};
use super::participant::{ChannelPump, Participants, receive_track};
use super::recovery::{Action, LinkHealth};
use super::signalling::{SignalIn, SignalSender};
use super::transfers::Transfers;
use crate::link::{LinkError, LinkEvent};
use crate::receive::Received;
use crate::transfer::receiver::WriterReport;

/// Internal events queued for the actor. The tasks that feed it (links, channel readers,
/// media receivers, transfers) wait when it is full: backpressure, never growth.
pub(super) const INTERNAL_QUEUE: usize = 1024;
/// How often connection statistics are read and reported.
const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// A participant announced by `user-joined` is expected to offer (the joiner offers). If it
/// has not within this time, this side offers instead: it happens when the server dropped
/// the participant (ping timeout) while its process was frozen or its network gone, and it
/// came back believing its old link still works. The offer from a new session replaces that
/// link on its side (`negotiation`, new DTLS identity). A normal join's offer arrives in
/// milliseconds.
pub(super) const OFFER_IF_SILENT: Duration = Duration::from_secs(3);

/// Everything the actor waits on besides signalling and commands, tagged by participant and
/// link generation.
pub(super) enum Internal {
    Link(String, u64, LinkEvent),
    Channel(String, u64, DataChannelEvent),
    Media(String, u64, Received),
    /// A file to send has been hashed (off the actor: hashing 1 GB takes seconds).
    Hashed(PathBuf, Result<(u64, String), String>),
    /// A sender task's progress, or its end (`Some(result)`).
    Sending(String, u64, Option<Result<(), String>>),
    /// A receiving transfer's writer reports.
    Writer(String, WriterReport),
}

/// The channels the actor selects over.
pub(super) struct Inputs {
    pub signal: mpsc::Receiver<SignalIn>,
    pub commands: mpsc::Receiver<Command>,
    pub internal: mpsc::Receiver<Internal>,
    pub video: Option<mpsc::Receiver<VideoOut>>,
    pub mic: MicFrames,
}

pub(super) struct Actor {
    pub config: CallConfig,
    pub events: EventSink,
    pub internal: mpsc::Sender<Internal>,
    pub signal: SignalSender,
    pub participants: Participants,
    /// Everyone the room has told us about, with display names (links or not).
    pub names: HashMap<String, String>,
    pub chat: ChatLog,
    pub media: MediaOut,
    pub audio: AudioDevices,
    pub transfers: Transfers,
    /// A new microphone's frames, for the run loop to take.
    pub mic_swap: Option<MicFrames>,
    /// Events the application had not read in time, as last logged.
    pub dropped_events: u64,
    /// Participants announced without a link yet, and when this side offers if they do not.
    pub expecting_offer: HashMap<String, Instant>,
    /// This machine's addresses, to notice a network change.
    pub network: NetworkWatch,
    /// Our signalling connection is up (in the room).
    pub signalling_up: bool,
    /// The call being recorded, when it is.
    pub recording: Option<super::recording::ActiveRecording>,
}

impl Actor {
    pub async fn run(mut self, mut inputs: Inputs) {
        let mut audio_tick = tokio::time::interval(Duration::from_millis(20));
        audio_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut stats_tick = tokio::time::interval(STATS_INTERVAL);
        stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut allocation_tick = tokio::time::interval(ALLOCATION_INTERVAL);
        allocation_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut network_tick = tokio::time::interval(NETWORK_POLL);
        network_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let wake = self
                .participants
                .map
                .values()
                .filter_map(|p| p.recovery.poll_timeout())
                .chain(self.expecting_offer.values().copied())
                .min();
            let video = &mut inputs.video;
            let mic = &mut inputs.mic;
            tokio::select! {
                msg = inputs.signal.recv() => match msg {
                    Some(msg) => self.on_signal(msg).await,
                    None => {
                        self.events.error("the signalling task ended");
                        break;
                    }
                },
                cmd = inputs.commands.recv() => match cmd {
                    Some(Command::Leave) | None => break,
                    Some(cmd) => self.on_command(cmd).await,
                },
                Some(event) = inputs.internal.recv() => self.on_internal(event).await,
                out = async { video.as_mut().expect("guarded").recv().await }, if video.is_some() => {
                    match out {
                        Some(out) => self.on_video(out).await,
                        None => *video = None,
                    }
                }
                _ = audio_tick.tick(), if self.media.audio.is_some() && mic.is_none() => {
                    self.media.send_audio(None, &self.participants).await
                }
                frame = async { mic.as_mut().expect("guarded").recv().await }, if mic.is_some() => {
                    match frame {
                        Some(frame) => self.on_mic(frame).await,
                        None => {
                            self.events.error("the microphone stopped");
                            *mic = None;
                        }
                    }
                }
                _ = stats_tick.tick() => {
                    self.report_stats().await;
                    if self.check_recording() {
                        self.announce_recording().await;
                    }
                }
                _ = allocation_tick.tick() => self.allocate().await,
                _ = network_tick.tick() => {
                    let addresses = tokio::task::spawn_blocking(local_addresses)
                        .await
                        .unwrap_or_default();
                    if self.network.changed(addresses) {
                        self.on_network_change().await;
                    }
                }
                () = sleep_until(wake), if wake.is_some() => self.on_timeout(Instant::now()).await,
            }
            if let Some(next) = self.mic_swap.take() {
                inputs.mic = next;
            }
        }
        self.stop_recording();
        self.signal.leave();
        self.participants.close_all().await;
        self.events.emit(CallEvent::Left);
    }

    async fn on_mic(&mut self, frame: AudioFrame) {
        self.media.send_audio(Some(frame), &self.participants).await;
    }

    // ---- links, channels, media ------------------------------------------------------------

    async fn on_internal(&mut self, event: Internal) {
        match event {
            Internal::Link(id, generation, e) => {
                if self.participants.current(&id, generation).is_some() {
                    self.on_link(id, generation, e).await;
                }
            }
            Internal::Channel(id, generation, e) => {
                if self.participants.current(&id, generation).is_some() {
                    self.on_channel(id, e).await;
                }
            }
            Internal::Media(id, generation, r) => {
                if self.participants.current(&id, generation).is_some() {
                    self.on_media(id, r);
                }
            }
            Internal::Hashed(path, result) => {
                self.transfers.offer(path, result, &self.participants).await
            }
            Internal::Sending(id, bytes, end) => self.transfers.on_sending(&id, bytes, end),
            Internal::Writer(id, report) => {
                self.transfers
                    .on_writer(&id, report, &self.participants)
                    .await
            }
        }
    }

    async fn on_link(&mut self, id: String, generation: u64, event: LinkEvent) {
        match event {
            LinkEvent::Candidate(c) => {
                // Browsers match candidates to m-lines by index; with max-bundle every
                // candidate belongs to the first one.
                let candidate = IceCandidateInit {
                    candidate: c.candidate,
                    sdp_mid: None,
                    sdp_mline_index: Some(0),
                    username_fragment: c.username_fragment,
                };
                if let Err(e) = self.signal.candidate(&id, candidate) {
                    tracing::debug!(%id, "candidate not sent: {e}");
                }
            }
            LinkEvent::State(state) => self.on_link_state(&id, state).await,
            LinkEvent::Track(track) => {
                let Some(p) = self.participants.get(&id) else {
                    return;
                };
                let request = p.keyframe_requests.clone();
                let delivery = self.config.video_delivery;
                receive_track(id, generation, track, request, delivery, &self.internal).await;
            }
            LinkEvent::KeyframeRequest => {
                tracing::debug!(%id, "keyframe requested");
                if let Some(p) = self.participants.get_mut(&id) {
                    p.keyframe_requests_in += 1;
                }
                self.media.request_keyframe(Instant::now());
            }
            LinkEvent::DataChannel(channel) => {
                let Some(p) = self.participants.get_mut(&id) else {
                    return;
                };
                if p.link.channel.is_some() {
                    // Not ours to keep: the pair already has its channel.
                    let _ = channel.close().await;
                    return;
                }
                p.link.channel = Some(channel.clone());
                let pump = ChannelPump {
                    id: id.clone(),
                    generation,
                    drained: p.drained.clone(),
                    routes: p.chunk_routes.clone(),
                    internal: self.internal.clone(),
                };
                pump.start(channel);
            }
            LinkEvent::NegotiationNeeded => self.make_offer(&id, OfferKind::Renegotiation).await,
            LinkEvent::GatheringComplete => {}
            LinkEvent::IceConnected => {
                if let Some(p) = self.participants.get_mut(&id) {
                    p.recovery.on_ice_connected(Instant::now());
                }
            }
        }
    }

    async fn on_link_state(&mut self, id: &str, state: RTCPeerConnectionState) {
        tracing::debug!(me = %self.config.name, %id, %state, "link state");
        let now = Instant::now();
        let Some(p) = self.participants.get_mut(id) else {
            return;
        };
        let health = match state {
            RTCPeerConnectionState::Connected => LinkHealth::Connected,
            RTCPeerConnectionState::Disconnected => LinkHealth::Disconnected,
            RTCPeerConnectionState::Failed => LinkHealth::Failed,
            _ => return,
        };
        let first_connection = health == LinkHealth::Connected && !p.ever_connected;
        if health == LinkHealth::Failed && !p.ever_connected {
            self.events.error(format!("connection to {id} failed"));
        }
        p.connected = health == LinkHealth::Connected;
        p.ever_connected |= p.connected;
        let actions = p.recovery.on_link(now, health);
        if p.connected {
            // A newcomer needs a keyframe to start decoding; so may a receiver whose link
            // just came back.
            self.media.request_keyframe(now);
        }
        if first_connection {
            self.events.emit(CallEvent::Connected { id: id.to_owned() });
        }
        self.apply_recovery(id, actions).await;
    }

    /// Signalling was lost: restarts wait for it, and offers in flight are taken back (they
    /// may never have left this machine; nobody will answer them).
    pub(super) async fn signalling_down(&mut self) {
        self.signalling_up = false;
        let now = Instant::now();
        for (id, p) in self.participants.map.iter_mut() {
            p.recovery.on_signalling(now, false);
            if p.negotiation.offer_outstanding() {
                tracing::debug!(%id, "taking back an offer signalling may not have carried");
                p.take_back_offer().await;
            }
        }
    }

    /// This machine's addresses changed: reconnect signalling from the new ones at once, and
    /// restart ICE on every link as soon as we are back in the room.
    async fn on_network_change(&mut self) {
        tracing::info!(me = %self.config.name, "the network changed: reconnecting");
        self.signal.reconnect_now();
        if self.signalling_up {
            self.signalling_down().await;
        }
        let now = Instant::now();
        let ids: Vec<String> = self.participants.map.keys().cloned().collect();
        for id in ids {
            if let Some(p) = self.participants.get_mut(&id) {
                let actions = p.recovery.on_network_change(now);
                self.apply_recovery(&id, actions).await;
            }
        }
    }

    async fn on_timeout(&mut self, now: Instant) {
        let silent: Vec<String> = self
            .expecting_offer
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in silent {
            self.expecting_offer.remove(&id);
            if self.names.contains_key(&id) && self.participants.get(&id).is_none() {
                tracing::info!(%id, "no offer from a participant that joined: offering");
                self.connect_to(&id).await;
            }
        }
        let due: Vec<String> = self
            .participants
            .map
            .iter()
            .filter(|(_, p)| p.recovery.poll_timeout().is_some_and(|t| t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            if let Some(p) = self.participants.get_mut(&id) {
                let actions = p.recovery.handle_timeout(now);
                self.apply_recovery(&id, actions).await;
            }
        }
    }

    async fn apply_recovery(&mut self, id: &str, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::State(ParticipantState::Left) => {} // with the removal below
                Action::State(state) => self.events.emit(CallEvent::ParticipantState {
                    id: id.to_owned(),
                    state,
                }),
                Action::RestartIce => {
                    tracing::info!(%id, "restarting ICE");
                    self.make_offer(id, OfferKind::IceRestart).await;
                }
                Action::Remove => {
                    tracing::info!(%id, "unreachable for too long: removed");
                    self.drop_participant(id).await;
                }
                Action::Rebuild => self.rebuild_link(id).await,
            }
        }
    }

    /// Replaces `id`'s link with a new peer connection and offers it: the new DTLS
    /// certificate tells the other side it is a new session, and it replaces its own link
    /// (`OfferVerdict::NewSession`; the browser guest's page does the same). Transfers on the
    /// old link fail; the participant stays in the call.
    async fn rebuild_link(&mut self, id: &str) {
        tracing::info!(%id, "starting the link over with a new peer connection");
        self.transfers.peer_gone(id, &self.participants);
        self.participants.remove(id).await;
        self.connect_to(id).await;
    }

    /// `id`'s peer connection was found dead (an offer or answer on it failed for that
    /// reason): it is replaced shortly, by the recovery timer.
    pub(super) fn link_gone(&mut self, id: &str) {
        let Some(p) = self.participants.get_mut(id) else {
            return;
        };
        tracing::info!(%id, "the link's peer connection has stopped: replacing it");
        for action in p.recovery.on_connection_gone(Instant::now()) {
            if let Action::State(state) = action {
                self.events.emit(CallEvent::ParticipantState {
                    id: id.to_owned(),
                    state,
                });
            }
        }
    }

    async fn on_channel(&mut self, id: String, event: DataChannelEvent) {
        match event {
            DataChannelEvent::OnOpen => {
                let state = AppMessage::MediaState(self.media.state());
                let Some(p) = self.participants.get_mut(&id) else {
                    return;
                };
                if p.channel_open {
                    return; // reported by both the ready-state check and the event
                }
                p.channel_open = true;
                let _ = p.send(&state).await;
                if self.recording.is_some() {
                    // Whoever joins while the call is recorded is told at once.
                    let _ = p
                        .send(&AppMessage::Recording(RecordingState { on: true }))
                        .await;
                }
                self.events.emit(CallEvent::ChannelOpen { id });
            }
            DataChannelEvent::OnClose => {
                if let Some(p) = self.participants.get_mut(&id) {
                    p.channel_open = false;
                }
            }
            DataChannelEvent::OnMessage(m) => {
                let Some(p) = self.participants.get_mut(&id) else {
                    return;
                };
                if let Err(report) = p.admit_message(Instant::now()) {
                    if let Some(dropped) = report {
                        self.events.error(format!(
                            "{id} sends messages faster than {} a second: {dropped} dropped",
                            super::limits::MESSAGES_PER_SECOND
                        ));
                    }
                    return;
                }
                if !m.is_string {
                    // Chunks of accepted transfers never get here (the channel's reader
                    // hands them to their writer); this one was not a chunk at all.
                    return self.events.error(format!("malformed chunk from {id}"));
                }
                match serde_json::from_slice::<AppMessage>(&m.data) {
                    Ok(msg) => self.on_app_message(&id, msg).await,
                    Err(e) => self
                        .events
                        .error(format!("unreadable message from {id}: {e}")),
                }
            }
            _ => {}
        }
    }

    /// A message from `from` on the data channel or the signalling fallback.
    pub(super) async fn on_app_message(&mut self, from: &str, msg: AppMessage) {
        match msg {
            AppMessage::Chat(chat) => {
                if let Err(length) = super::limits::check_chat_length(&chat.text) {
                    return self.events.error(format!(
                        "a chat message from {from} is {length} characters long (at most {} \
                         are shown): dropped",
                        super::limits::MAX_CHAT_CHARS
                    ));
                }
                // Exactly once, whichever path delivered it first.
                if self.chat.first_time(from, &chat.id) {
                    self.events.emit(CallEvent::Chat {
                        from: from.to_owned(),
                        id: chat.id,
                        text: chat.text,
                    });
                }
            }
            AppMessage::MediaState(state) => {
                self.record(Input::Media {
                    id: from.to_owned(),
                    video: state.video,
                    screen: state.screen,
                });
                self.events.emit(CallEvent::MediaState {
                    id: from.to_owned(),
                    video: state.video,
                    audio: state.audio,
                    screen: state.screen,
                })
            }
            AppMessage::Recording(state) => self.events.emit(CallEvent::ParticipantRecording {
                id: from.to_owned(),
                on: state.on,
            }),
            AppMessage::Unknown => {}
            transfer => {
                self.transfers
                    .on_message(from, transfer, &self.participants)
                    .await;
                // A transfer may have started (or ended): its share of the link at once.
                self.allocate().await;
            }
        }
    }

    fn on_media(&mut self, id: String, received: Received) {
        match received {
            Received::Frame(frame) => {
                if let Some(p) = self.participants.get_mut(&id) {
                    p.frames_decoded += 1;
                }
                let stamp = read_stamp(&frame);
                self.events.emit(CallEvent::VideoFrame {
                    id: id.clone(),
                    width: frame.width,
                    height: frame.height,
                    frame_number: stamp.map(|s| s.frame_number),
                    latency_ms: stamp.map(|s| s.age_ms(now_us())),
                });
                let frame = Arc::new(frame);
                if self.recording.is_some() {
                    self.record(Input::Picture {
                        id: id.clone(),
                        frame: frame.clone(),
                    });
                }
                if self.config.video_delivery == VideoDelivery::Pictures {
                    self.events.emit(CallEvent::Picture { id, frame });
                }
            }
            Received::Encoded { data, keyframe } => {
                if !self.config.video_delivery.decodes()
                    && let Some(p) = self.participants.get_mut(&id)
                {
                    p.frames_decoded += 1;
                }
                if !self.config.video_delivery.decodes() {
                    // Nobody decodes it here: the recorder does, for its grid.
                    self.record_encoded(&id, &data, keyframe);
                }
                self.events
                    .emit(CallEvent::EncodedVideo { id, keyframe, data });
            }
            Received::Audio(frame) => {
                self.audio.play(&id, &frame);
                if self.recording.is_some() {
                    self.record(Input::Audio {
                        id: id.clone(),
                        frame: frame.clone(),
                    });
                }
                self.events.emit(CallEvent::AudioFrame {
                    id,
                    samples: frame.samples.len(),
                    peak: peak(&frame.samples),
                });
            }
            Received::DecodeError(e) => {
                self.events.error(format!("decoding media from {id}: {e}"));
            }
        }
    }

    async fn on_video(&mut self, out: VideoOut) {
        match out {
            VideoOut::Encoded(au) => self.media.send_video(au, &mut self.participants).await,
            VideoOut::SourceOpened { screen } => self.events.emit(CallEvent::LocalVideo { screen }),
            VideoOut::SourceFailed(reason) => {
                if self.media.sharing_screen() {
                    self.events.error(format!("sharing the screen: {reason}"));
                    self.media.screen_failed();
                    self.broadcast_media_state().await;
                } else {
                    self.events.error(format!("video source: {reason}"));
                }
            }
        }
    }

    async fn broadcast_media_state(&self) {
        let own = self.media.state();
        self.record(Input::Media {
            id: self.config.name.clone(),
            video: own.video,
            screen: own.screen,
        });
        let state = AppMessage::MediaState(own);
        for p in self.participants.map.values().filter(|p| p.channel_open) {
            let _ = p.send(&state).await;
        }
    }

    /// Congestion control's periodic step: the lowest estimate over the connected
    /// participants decides what the one encoder sends; a file being sent gets its share.
    async fn allocate(&mut self) {
        self.measure_data().await;
        let connected = || self.participants.map.values().filter(|p| p.connected);
        let estimate = connected()
            .map(|p| p.link.estimate.bitrate())
            .reduce(f64::min);
        let loss = connected()
            .map(|p| p.link.estimate.loss())
            .fold(0.0, f64::max);
        let sending = self.transfers.sending_any();
        let allocation = self.media.allocate(Instant::now(), estimate, loss, sending);
        self.transfers.pace.set_rate(allocation.data_bps);
    }

    /// Tells each link's estimator what its data channel delivered of our files lately
    /// (transport-wide feedback sees RTP only): bytes handed to the channel minus what SCTP
    /// still holds unacknowledged.
    async fn measure_data(&mut self) {
        let now = Instant::now();
        for p in self.participants.map.values_mut().filter(|p| p.connected) {
            let handed = p.data_handed.total();
            let Some(channel) = p.link.channel.as_ref().filter(|_| handed > 0) else {
                continue;
            };
            let Ok(outstanding) = channel.outstanding_bytes().await else {
                continue;
            };
            let rate = p
                .data_delivered
                .update(now, handed.saturating_sub(outstanding as u64));
            p.link.estimate.set_data_rate(rate);
        }
    }

    async fn report_stats(&mut self) {
        let dropped = self.events.dropped();
        if dropped > self.dropped_events {
            tracing::warn!(
                "the application is not keeping up: {} call events dropped in the last second",
                dropped - self.dropped_events
            );
            self.dropped_events = dropped;
        }
        let mut out = Vec::new();
        let sent = self.media.sent_format();
        for (id, p) in self
            .participants
            .map
            .iter_mut()
            .filter(|(_, p)| p.connected)
        {
            let report = p
                .link
                .pc
                .get_stats(Instant::now(), StatsSelector::None)
                .await;
            let totals = crate::stats::Totals::from_report(&report);
            let mut stats = p.meter.update(Instant::now(), totals, p.frames_decoded);
            stats.keyframe_requests_in = p.keyframe_requests_in;
            let estimate = &p.link.estimate;
            stats.available_bps = estimate.measured().then(|| estimate.bitrate());
            stats.loss_out = estimate.loss();
            if let Some(((w, h), fps)) = sent {
                (stats.sent_width, stats.sent_height) = (Some(w), Some(h));
                stats.sent_fps = Some(f64::from(fps));
            }
            stats.quality = crate::stats::Quality::assess(
                stats.loss.max(stats.loss_out),
                stats.rtt_ms,
                stats.available_bps,
            );
            out.push((id.clone(), stats));
        }
        for (id, stats) in out {
            self.events.emit(CallEvent::Stats { id, stats });
        }
    }

    // ---- commands --------------------------------------------------------------------------

    async fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::SendChat(text) => self.send_chat(text).await,
            Command::SendFile(path) => self.transfers.send(path),
            Command::AcceptTransfer(id) => self.transfers.accept(&id, &self.participants).await,
            Command::DeclineTransfer(id) => self.transfers.decline(&id, &self.participants).await,
            Command::CancelTransfer(id) => {
                self.transfers.cancel(&id, true, &self.participants).await
            }
            Command::SetCamera(on) => {
                self.media.set_camera(on);
                self.broadcast_media_state().await;
            }
            Command::ShareScreen(on) => match self.media.share_screen(on) {
                Ok(()) => self.broadcast_media_state().await,
                Err(e) => self.events.error(e),
            },
            Command::SetVideoSource(spec) => self.media.set_camera_source(spec),
            Command::SetMaxBitrate(bps) => self.media.set_max_bitrate(bps),
            Command::SetDownloadDir(dir) => self.transfers.download_dir = dir,
            Command::SetAudioDevices { mic, speakers } => self.set_audio_devices(mic, speakers),
            Command::RequestKeyframe(id) => {
                if let Some(p) = self.participants.get(&id) {
                    p.keyframe_requests.restart.notify_one();
                }
            }
            Command::SetMic(on) => {
                self.media.set_mic(on);
                self.broadcast_media_state().await;
            }
            Command::StartRecording(path) => {
                self.start_recording(path);
                self.announce_recording().await;
            }
            Command::StopRecording => {
                self.stop_recording();
                self.announce_recording().await;
            }
            Command::Leave => {}
        }
    }

    async fn send_chat(&mut self, text: String) {
        let id = self.chat.next_id(&self.config.name);
        self.chat.first_time(&self.config.name, &id);
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .ok();
        let msg = AppMessage::Chat(confab_protocol::Chat { id, text, ts });
        for (pid, p) in &self.participants.map {
            if p.channel_open {
                if let Err(e) = p.send(&msg).await {
                    self.events.error(format!("chat to {pid}: {e}"));
                }
            } else {
                let value = serde_json::to_value(&msg).expect("a chat message serialises");
                if let Err(e) = self.signal.message(pid, value, "chat") {
                    self.events.error(format!("chat to {pid}: {e}"));
                }
            }
        }
    }

    fn set_audio_devices(&mut self, mic: Option<String>, speakers: Option<String>) {
        if self.media.audio.is_none() && mic.is_some() {
            return self
                .events
                .error("this call sends no audio: no microphone to switch to");
        }
        match self.audio.switch(mic.as_deref(), speakers.as_deref()) {
            Ok(frames) => {
                self.media.use_tone(frames.is_none());
                self.mic_swap = Some(frames);
                self.config.mic = mic;
                self.config.speakers = speakers;
            }
            Err(e) => self.events.error(e),
        }
    }
}

/// Adds this side's tracks (video when it sends video, audio when it sends audio) to `p`'s
/// link.
pub(super) async fn add_local_tracks(
    p: &mut super::participant::Participant,
    me: &str,
    media: &MediaOut,
) -> Result<(), LinkError> {
    if media.video.is_some() {
        p.link.add_video_track(me).await?;
    }
    if media.audio.is_some() {
        p.link.add_audio_track(me).await?;
    }
    Ok(())
}

/// Resolves at `at`; never without one (the select branch is disabled then anyway).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
