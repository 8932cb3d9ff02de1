//! Where media comes from. Every device has a synthetic twin so the same pipeline runs on
//! machines without a camera, microphone or display.
//!
//! Video sources are described by a [`VideoSourceSpec`] (plain data, `Send`) and opened on the
//! thread that captures from them: a nokhwa camera is not `Send`, and a capture thread that
//! owns its device can block on it without stalling anything else.

pub mod camera;
pub mod screen;
pub mod synthetic;

use crate::frame::VideoFrame;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("no camera matches {0:?} (cameras: {1})")]
    NoSuchCamera(String, String),
    #[error("camera: {0}")]
    Camera(String),
    #[error("no screen matches {0:?} (screens: {1})")]
    NoSuchScreen(String, String),
    #[error("screen capture: {0}")]
    Screen(String),
    #[error(transparent)]
    Convert(#[from] crate::convert::ConvertError),
}

/// A source of pictures, owned by one capture thread.
pub trait VideoSource {
    /// The next picture. A camera blocks until the device delivers one; other sources
    /// return at once and are paced by the caller (see [`VideoSource::self_paced`]).
    fn next_frame(&mut self) -> Result<VideoFrame, SourceError>;

    /// True when [`VideoSource::next_frame`] waits for the device's own clock.
    fn self_paced(&self) -> bool {
        false
    }
}

/// Which source to open, and at what size: pictures are scaled to fit `max` (keeping their
/// aspect ratio), never enlarged.
#[derive(Debug, Clone, PartialEq)]
pub enum VideoSourceSpec {
    /// The stamped test pattern (exactly `width`×`height`), with sync marks (a white flash at
    /// the start of every 1.01 s, see [`synthetic`]) when `sync_marks`.
    Synthetic {
        width: usize,
        height: usize,
        sync_marks: bool,
    },
    /// A camera by index ("0") or by (part of) its name; `None` is the first camera.
    Camera {
        device: Option<String>,
        max: (usize, usize),
        fps: u32,
    },
    /// A screen by (part of) its name; `None` is the primary screen.
    Screen {
        monitor: Option<String>,
        max: (usize, usize),
    },
}

impl VideoSourceSpec {
    pub fn open(&self) -> Result<Box<dyn VideoSource>, SourceError> {
        Ok(match self {
            VideoSourceSpec::Synthetic {
                width,
                height,
                sync_marks,
            } => {
                Box::new(synthetic::TestPattern::new(*width, *height).with_sync_marks(*sync_marks))
            }
            VideoSourceSpec::Camera { device, max, fps } => {
                Box::new(camera::CameraSource::open(device.as_deref(), *max, *fps)?)
            }
            VideoSourceSpec::Screen { monitor, max } => {
                Box::new(screen::ScreenSource::open(monitor.as_deref(), *max)?)
            }
        })
    }

    pub fn is_screen(&self) -> bool {
        matches!(self, VideoSourceSpec::Screen { .. })
    }
}

/// A device as a picker shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceInfo {
    /// What to pass back to open it.
    pub id: String,
    pub name: String,
}

impl VideoSource for synthetic::TestPattern {
    fn next_frame(&mut self) -> Result<VideoFrame, SourceError> {
        Ok(synthetic::TestPattern::next_frame(self))
    }
}
