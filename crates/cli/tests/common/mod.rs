//! Helpers shared by the CLI's integration tests.

pub mod local;
pub mod netcall;
pub mod netns;
pub mod recorder;
