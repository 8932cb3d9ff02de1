//! What a call sends and how: [`CallConfig`], filled by the CLI's flags or the desktop app's
//! settings (`src-tauri/src/call_config.rs`).

use std::path::PathBuf;

use confab_media::codec::h264::H264Settings;
use confab_media::source::VideoSourceSpec;

use crate::link::LinkConfig;

/// A keyframe at least this often (10 s at 30 fps), besides the ones asked for: whenever a
/// participant connects, and on every PLI/FIR from a receiver. A safety net for a receiver
/// that never asks (and bounds how long it shows a broken picture).
pub const KEYFRAME_INTERVAL_FRAMES: u32 = 300;

/// What the call sends without a microphone (tests listen for it).
pub const SYNTHETIC_TONE_HZ: f64 = 440.0;

/// What to send. The synthetic sources go through the same pipeline, encoders and tracks as
/// devices.
#[derive(Debug, Clone)]
pub struct CallConfig {
    pub server: String,
    /// The other nodes of `server`'s cluster, tried in turn when `server` cannot be reached
    /// (see [`super::reconnect::Servers`]); empty for a single server.
    pub other_servers: Vec<String>,
    pub room: String,
    /// The participant's id in the room and its display name.
    pub name: String,
    pub secret: Option<String>,
    /// The camera (or test pattern) to send; `None` sends no video at all (and then there is
    /// no video track to share a screen on).
    pub video_source: Option<VideoSourceSpec>,
    /// What the screen-share toggle switches the video track to.
    pub screen_source: VideoSourceSpec,
    pub synthetic_audio: bool,
    /// The tone sounds only in the sync marks (the first 200 ms of every 1.01 s), for
    /// measuring audio/video sync against a pattern that flashes then (see
    /// `confab_media::source::synthetic`).
    pub tone_sync_marks: bool,
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
    /// Decoded here; one [`super::CallEvent::VideoFrame`] per frame (size, synthetic stamp,
    /// latency).
    #[default]
    Summaries,
    /// The access units as they arrived ([`super::CallEvent::EncodedVideo`], from each
    /// participant's first keyframe, and this side's own for the preview), not decoded here.
    /// The application reports undecodable video with [`super::Command::RequestKeyframe`].
    Encoded,
    /// `Encoded` and `Summaries` both: the frames are decoded twice (here and by the UI).
    EncodedAndSummaries,
    /// Decoded here and handed over as pictures ([`super::CallEvent::Picture`]) as well as
    /// summaries, for a UI that cannot decode H.264 itself. No local preview.
    Pictures,
}

impl VideoDelivery {
    pub(crate) fn forwards_encoded(self) -> bool {
        matches!(self, Self::Encoded | Self::EncodedAndSummaries)
    }

    pub(crate) fn decodes(self) -> bool {
        !matches!(self, Self::Encoded)
    }
}

impl CallConfig {
    pub fn new(server: &str, room: &str, name: &str) -> Self {
        Self {
            server: server.to_owned(),
            other_servers: Vec::new(),
            room: room.to_owned(),
            name: name.to_owned(),
            secret: None,
            video_source: Some(VideoSourceSpec::Synthetic {
                width: 640,
                height: 480,
                sync_marks: false,
            }),
            screen_source: VideoSourceSpec::Screen {
                monitor: None,
                max: (1280, 720),
            },
            synthetic_audio: true,
            tone_sync_marks: false,
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
