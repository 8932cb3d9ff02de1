//! confab-engine: the call, without Tauri, so it runs headless (CLI, tests, bots).
//!
//! [`call::join`] joins a room on a signalling server and runs the call: one [`link::Link`]
//! (webrtc-rs peer connection) per remote participant, media encoded once and sent to all,
//! decoded media and chat reported as [`call::CallEvent`]s.

mod assemble;
pub mod call;
pub mod codecs;
pub mod congestion;
pub mod link;
pub mod receive;
pub mod runtime;
pub mod stats;
pub mod transfer;

pub use webrtc;
