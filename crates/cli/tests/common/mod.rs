//! Helpers shared by the CLI's integration tests.

pub mod netcall;
pub mod netns;
pub mod recorder;
