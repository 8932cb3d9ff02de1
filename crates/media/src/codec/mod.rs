//! Codecs: H.264 video (openh264) and Opus audio.

pub mod h264;
pub mod opus;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("H.264: {0}")]
    H264(String),
    #[error("Opus: {0}")]
    Opus(#[from] ::opus::Error),
    #[error("an audio frame must hold {expected} samples per channel, got {got}")]
    FrameSize { expected: usize, got: usize },
}
