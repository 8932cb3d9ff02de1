//! Call recording (issue 11): what is recorded goes into one MP4 that plays everywhere and
//! survives a crash of the recorder. This crate has no I/O of its own beyond a `Write`.

pub mod compose;
pub mod fmp4;
pub mod layout;
pub mod recorder;

pub use fmp4::{Fmp4Writer, RecordError};
pub use recorder::{Feeder, Input, Recording, Summary};
