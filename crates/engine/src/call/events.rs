//! The call's interface to its application: [`Command`]s in through a [`CallHandle`],
//! [`CallEvent`]s out through [`CallEvents`], both bounded.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use confab_media::frame::VideoFrame;
use confab_media::source::VideoSourceSpec;
use tokio::sync::mpsc;

/// Events queued for the application. The application reads them as they come; this bound
/// only matters when it stalls, and then [`EventSink`]'s policy decides what is dropped.
pub const EVENT_QUEUE: usize = 4096;
/// Room kept free for control events: per-frame media events (frames, audio levels, access
/// units, pictures, statistics) are dropped once fewer than this many slots are free, so a
/// stalled application loses old pictures, never a chat message, a join or a transfer's end.
pub const CONTROL_HEADROOM: usize = 1024;
/// Commands queued for the call; beyond it [`CallHandle::send`] refuses (the call is stuck).
pub const COMMAND_QUEUE: usize = 256;

/// A decoded 20 ms audio frame counts as sound from this peak on (−30 dBFS): far above
/// Opus's comfort noise and loss concealment, far below a voice or the synthetic tone
/// (−6 dBFS). What reports and tests count as "heard", not just "received".
pub const AUDIBLE_PEAK: u16 = 1036;

/// The application's end of a call's events.
pub type CallEvents = mpsc::Receiver<CallEvent>;

/// How a remote participant's link is doing, as everyone's UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantState {
    /// In the room; the peer connection is being set up.
    Connecting,
    /// Media can flow.
    Connected,
    /// The link was lost (ICE disconnected or failed); ICE restarts are being tried. The
    /// participant is removed if it stays unreachable for
    /// [`super::recovery::PARTICIPANT_TIMEOUT`].
    Reconnecting,
    /// Gone: left, removed by the server, or unreachable for too long.
    Left,
}

impl ParticipantState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Reconnecting => "reconnecting",
            Self::Left => "left",
        }
    }
}

/// The signalling connection's state. Media and chat keep flowing over the peer connections
/// while it is not connected; only new participants and renegotiations wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignallingState {
    /// Connected and in the room (the first time).
    Connected,
    /// The connection was lost; attempt `attempt` (from 1) starts after `delay_ms`.
    Reconnecting { attempt: u32, delay_ms: u64 },
    /// Connected again and back in the room under the same id; the participants were
    /// reconciled with the room's list.
    Rejoined,
}

impl SignallingState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Reconnecting { .. } => "reconnecting",
            Self::Rejoined => "rejoined",
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
    /// The signalling connection changed state (lost, reconnecting, back).
    Signalling(SignallingState),
    /// Someone is in the room (already there when we joined, or arrived after).
    ParticipantJoined {
        id: String,
        name: String,
    },
    /// A participant's link changed state; `Left` comes with [`CallEvent::ParticipantLeft`].
    ParticipantState {
        id: String,
        state: ParticipantState,
    },
    ParticipantLeft {
        id: String,
    },
    /// The peer connection to `id` is up (the first time; again after a reconnection comes
    /// as [`CallEvent::ParticipantState`] only).
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
    /// preview), with [`super::VideoDelivery::Encoded`]. Each id's first one is a keyframe.
    EncodedVideo {
        id: String,
        keyframe: bool,
        data: Arc<[u8]>,
    },
    /// A decoded picture from `id`, with [`super::VideoDelivery::Pictures`].
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
    /// `id` started (`on`) or stopped recording the call (its `recording` message).
    ParticipantRecording {
        id: String,
        on: bool,
    },
    /// This side started recording the call into `path` ([`Command::StartRecording`]).
    RecordingStarted {
        path: PathBuf,
    },
    /// The recording ended: asked to, when leaving, or by itself (`error`: a write failed,
    /// the disk is full); the file plays up to where it ended.
    RecordingStopped {
        path: PathBuf,
        duration: std::time::Duration,
        bytes: u64,
        /// Pictures and audio the recorder could not take in time.
        dropped_inputs: u64,
        error: Option<String>,
    },
    /// Something went wrong that did not end the call.
    Error {
        message: String,
    },
    /// The call is over (the application left).
    Left,
}

impl CallEvent {
    /// Per-frame events: a stalled application can lose some without losing meaning.
    fn is_media(&self) -> bool {
        matches!(
            self,
            CallEvent::VideoFrame { .. }
                | CallEvent::AudioFrame { .. }
                | CallEvent::LocalAudio { .. }
                | CallEvent::EncodedVideo { .. }
                | CallEvent::Picture { .. }
                | CallEvent::Stats { .. }
        )
    }
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
    /// The application could not decode `id`'s video (with [`super::VideoDelivery::Encoded`]):
    /// ask that participant for a keyframe (PLI), and forward nothing until it arrives.
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
    /// Records the call (this side's view: everyone's video in the grid, everyone's audio)
    /// into a new MP4 at this path; [`CallEvent::RecordingStarted`] or an error says how.
    StartRecording(PathBuf),
    /// Ends the recording ([`CallEvent::RecordingStopped`]). Leaving ends it too.
    StopRecording,
    Leave,
}

/// Commands a running call. Cloning shares the call.
#[derive(Clone)]
pub struct CallHandle {
    pub(crate) tx: mpsc::Sender<Command>,
}

impl CallHandle {
    /// Queues `command`. Once the call has ended there is nothing left to command, and that
    /// is not an error; a call that stopped taking commands is logged.
    pub fn send(&self, command: Command) {
        if let Err(mpsc::error::TrySendError::Full(command)) = self.tx.try_send(command) {
            tracing::error!(
                "the call is not taking commands ({COMMAND_QUEUE} queued); dropped {command:?}"
            );
        }
    }

    /// False once the call has ended (its actor is gone).
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }
}

/// Where the call's parts report to the application: a bounded queue with a drop policy
/// (per-frame media first, see [`CONTROL_HEADROOM`]), so a stalled application never makes
/// the call's memory grow. Cloned into every part that reports.
#[derive(Clone)]
pub(crate) struct EventSink {
    tx: mpsc::Sender<CallEvent>,
    dropped: Arc<AtomicU64>,
}

impl EventSink {
    pub(crate) fn new() -> (Self, CallEvents) {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let sink = Self {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        (sink, rx)
    }

    pub(crate) fn emit(&self, event: CallEvent) {
        if event.is_media() && self.tx.capacity() <= CONTROL_HEADROOM {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.tx.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("the application is not reading call events; dropped {event:?}");
            }
            // The application stopped listening: it has left.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Something went wrong that does not end the call: logged and reported.
    pub(crate) fn error(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::warn!("{message}");
        self.emit(CallEvent::Error { message });
    }

    /// Events dropped so far because the application did not keep up.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stalled_application_loses_media_events_before_control_events() {
        let (sink, mut rx) = EventSink::new();
        for _ in 0..EVENT_QUEUE {
            sink.emit(CallEvent::LocalAudio { peak: 1 });
        }
        let media_kept = EVENT_QUEUE - CONTROL_HEADROOM;
        assert_eq!(sink.dropped() as usize, CONTROL_HEADROOM);
        for i in 0..CONTROL_HEADROOM {
            sink.emit(CallEvent::Chat {
                from: "a".into(),
                id: i.to_string(),
                text: "hi".into(),
            });
        }
        assert_eq!(sink.dropped() as usize, CONTROL_HEADROOM, "no chat dropped");
        sink.emit(CallEvent::Left);
        assert_eq!(
            sink.dropped() as usize,
            CONTROL_HEADROOM + 1,
            "full is full"
        );
        let mut chats = 0;
        for _ in 0..EVENT_QUEUE {
            if let Some(CallEvent::Chat { .. }) = rx.recv().await {
                chats += 1;
            }
        }
        assert_eq!(chats, CONTROL_HEADROOM);
        assert!(media_kept > 0);
    }
}
