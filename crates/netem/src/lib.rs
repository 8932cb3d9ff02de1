//! A link emulator for Confab's tests and benchmarks: the kernel on these machines has no
//! `sch_netem`, so delay, jitter, loss and a rate-limited, bounded queue are applied in user
//! space by a forwarder between two interfaces ([`forwarder`]), each direction driven by the
//! `str0m-netem` model with a [`profile`] read from text (`delay=100ms,loss=3%` or a preset
//! such as `hd-moderate`). `confab netem` runs it; `crates/cli/tests/common/netns.rs` puts
//! one between a host and its network.

pub mod forwarder;
pub mod profile;

pub use forwarder::{Counters, Direction, Forwarder, ForwarderError};
pub use profile::{LinkProfile, PRESETS, ProfileError};
