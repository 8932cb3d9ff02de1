//! A call: one room on a signalling server, one [`Link`](crate::link::Link) per remote
//! participant (mesh).
//!
//! `join(config)` returns a [`CallHandle`] that takes [`Command`]s and a stream of
//! [`CallEvent`]s. One actor task owns the call ([`actor`]); each part has its own module:
//!
//! | module | what it owns |
//! |---|---|
//! | [`config`] | what to send and how ([`CallConfig`]) |
//! | [`events`] | the application's interface: commands, events, bounded queues |
//! | `actor` | the select loop and the dispatch between the parts |
//! | `room` | membership and the offer/answer/candidate exchange, on the actor's side |
//! | `signalling` | the server connection: typed messages, reconnect and rejoin, reconcile |
//! | [`reconnect`] | the signalling reconnect policy (backoff with jitter) |
//! | [`negotiation`] | offer/answer per participant: glare, rollback, ICE restart (no I/O) |
//! | [`recovery`] | a lost link's ladder: wait, ICE restart, removal (no I/O) |
//! | `participant` | a participant's link and the tasks that read it |
//! | `media_out` | the encoders and what is sent to everyone |
//! | `audio_devices` | microphone and speakers |
//! | [`chat`] | chat ids and de-duplication |
//! | `transfers` | file transfers both ways ([`crate::transfer`] holds the wire format) |
//! | [`limits`] | what one peer may make this side do (rates, caps) |
//! | [`network`] | noticing this machine's addresses change |
//!
//! Negotiation matches the browser UI: the joiner offers to everyone already in the room (the
//! room-state), the others answer; the offering side opens the pair's one data channel.
//! Media is encoded once per call and the same access units go to every participant.

mod actor;
pub mod allocation;
mod audio_devices;
pub mod chat;
pub mod config;
pub mod events;
pub mod limits;
mod media_out;
pub mod negotiation;
pub mod network;
mod participant;
pub mod reconnect;
mod recording;
pub mod recovery;
mod room;
mod signalling;
mod transfers;

use std::collections::HashMap;

use confab_media::codec::opus::OpusEncoder;
use confab_media::pipeline::{ENCODED_QUEUE, VideoPipeline};
use confab_media::source::synthetic::Tone;
use tokio::sync::mpsc;

pub use config::{CallConfig, KEYFRAME_INTERVAL_FRAMES, SYNTHETIC_TONE_HZ, VideoDelivery};
pub use events::{
    AUDIBLE_PEAK, CallEvent, CallEvents, CallHandle, Command, Direction, ParticipantState,
    SignallingState, TransferInfo, TransferStatus,
};

use crate::link::LinkError;

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

/// Joins the room and runs the call until it is left. Fails when the server cannot be
/// reached or a device cannot be opened; once joined, losing the server does not end the call
/// (see `signalling`).
pub async fn join(config: CallConfig) -> Result<(CallHandle, CallEvents), CallError> {
    let (signal, signal_rx) = signalling::connect(&config).await?;

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
    let (audio_devices, mic_rx) = audio_devices::AudioDevices::open(&config)?;
    let audio = if config.synthetic_audio || mic_rx.is_some() {
        Some(media_out::AudioOut {
            tone: mic_rx
                .is_none()
                .then(|| Tone::new(SYNTHETIC_TONE_HZ).with_sync_marks(config.tone_sync_marks)),
            encoder: OpusEncoder::new(32_000)?,
        })
    } else {
        None
    };
    let (cmd_tx, cmd_rx) = mpsc::channel(events::COMMAND_QUEUE);
    let (events, events_rx) = events::EventSink::new();
    let (internal_tx, internal_rx) = mpsc::channel(actor::INTERNAL_QUEUE);
    let actor = actor::Actor {
        media: media_out::MediaOut::new(&config, events.clone(), video, audio),
        transfers: transfers::Transfers::new(
            events.clone(),
            internal_tx.clone(),
            config.download_dir.clone(),
            config.accept_files,
        ),
        config,
        events,
        internal: internal_tx,
        signal,
        participants: participant::Participants::default(),
        names: HashMap::new(),
        chat: chat::ChatLog::default(),
        audio: audio_devices,
        mic_swap: None,
        dropped_events: 0,
        expecting_offer: HashMap::new(),
        network: network::NetworkWatch::default(),
        signalling_up: true,
        recording: None,
    };
    let inputs = actor::Inputs {
        signal: signal_rx,
        commands: cmd_rx,
        internal: internal_rx,
        video: video_rx,
        mic: mic_rx,
    };
    tokio::spawn(actor.run(inputs));
    Ok((CallHandle { tx: cmd_tx }, events_rx))
}
