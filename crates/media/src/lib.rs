//! confab-media: sources, codecs and sinks, with no WebRTC dependency.
//!
//! Sources produce [`frame::VideoFrame`]s and [`frame::AudioFrame`]s, encoders turn them into
//! access units and packets, decoders turn those back into frames. The engine moves the
//! encoded data over WebRTC; this crate never sees a network.

pub mod audio_io;
pub mod codec;
pub mod convert;
pub mod frame;
pub mod mixer;
pub mod pipeline;
pub mod source;
pub mod stream_errors;
pub mod voice;
