//! confab-engine: the call, without Tauri, so it runs headless (CLI, tests, bots).
//!
//! This first slice holds the media plumbing of one peer connection ([`link`]): the codecs
//! Confab negotiates, an H.264 sending track and the receiving side that turns RTP back into
//! decoded frames. The call itself (signalling, perfect negotiation, chat, transfers) builds
//! on it.

pub mod codecs;
pub mod link;
pub mod video_rx;

pub use webrtc;
