//! Call recording (issue 11): what is recorded goes into one MP4 that plays everywhere and
//! survives a crash of the recorder. Its I/O is the file written ([`Recording`]) and, for
//! tests and benchmarks, ffprobe/ffmpeg reading one back ([`probe`]).

pub mod compose;
pub mod fmp4;
pub mod layout;
pub mod probe;
pub mod recorder;

pub use fmp4::{Fmp4Writer, RecordError};
pub use recorder::{Feeder, Input, Recording, Summary};
