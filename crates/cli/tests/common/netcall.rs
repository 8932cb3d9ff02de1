//! Real `confab serve` and `confab join` processes on the hosts of a [`Lan`](super::netns::Lan),
//! and what their `--progress` lines say.

#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::netns::{BIN, Host, Recorded};

/// Upper bound on setting a call up; generous because CI machines are loaded.
pub const SETUP: Duration = Duration::from_secs(45);

pub fn serve(host: &Host) -> Recorded {
    let mut c = host.ns.command(BIN);
    c.args(["serve", "--bind", &format!("{}:3000", host.addr)]);
    let server = Recorded::spawn(c);
    let since = Instant::now() - Duration::from_secs(1);
    server.first_line_after(since, SETUP, "the server listening", |l| {
        l.contains("listening on")
    });
    server
}

/// `confab join` on `host`, printing its progress as JSON lines.
pub fn join(host: &Host, server: &Host, name: &str) -> Recorded {
    let mut c: Command = host.ns.command(BIN);
    c.args(["join", "--server", &format!("http://{}:3000", server.addr)]);
    c.args([
        "--room",
        "net",
        "--name",
        name,
        "--progress",
        "--duration",
        "120",
    ]);
    c.args(["--synthetic-video", "--synthetic-audio"]);
    Recorded::spawn(c)
}

pub fn is(event: &'static str, key: &'static str, value: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["event"] == event && v[key] == value
}

pub fn video_from(id: &'static str) -> impl Fn(&Value) -> bool {
    is("video", "from", id)
}

/// When alice and bob both decode each other's video again after `since` (within `within`).
pub fn media_both_ways(
    alice: &Recorded,
    bob: &Recorded,
    since: Instant,
    within: Duration,
) -> Instant {
    let at_alice = alice.first_after(since, within, "bob's video again", video_from("bob"));
    let at_bob = bob.first_after(since, within, "alice's video again", video_from("alice"));
    at_alice.max(at_bob)
}
