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

/// Shorter interruptions are not marked by `confab join --progress` (nor the guest script):
/// a video line after `since` + this without a gap mark means media never stopped for longer.
pub const MARKED_GAP: Duration = Duration::from_millis(500);

/// When `a` and `b` both decode each other's video again after an interruption that started
/// at `since` (each side's first video line marked with a gap: see `confab join
/// --progress`), within `within`; each is (its progress lines, its id). Frames still in
/// flight just after `since` do not count as media resuming; when a side's first video line
/// after `since` + [`MARKED_GAP`] carries no gap mark, its media never stopped for as long
/// as that, and `since` + [`MARKED_GAP`] is taken (an upper bound).
pub fn media_both_ways(
    a: (&Recorded, &'static str),
    b: (&Recorded, &'static str),
    since: Instant,
    within: Duration,
) -> Instant {
    let resumed = |who: &Recorded, me: &str, other: &'static str| {
        let (at, line) = who.first_json_after(
            since + MARKED_GAP + Duration::from_millis(100),
            within,
            &format!("{me} decoding {other} again"),
            move |v| v["event"] == "video" && v["from"] == other,
        );
        if line["gap_ms"].is_u64() {
            at
        } else {
            since + MARKED_GAP
        }
    };
    resumed(a.0, a.1, b.1).max(resumed(b.0, b.1, a.1))
}

/// When `who` first shows participant `id` in `state` after `since`.
pub fn shows_state(
    who: &Recorded,
    id: &'static str,
    state: &'static str,
    since: Instant,
    within: Duration,
) -> Instant {
    who.first_after(since, within, &format!("{id} {state}"), move |v| {
        v["event"] == "participant-state" && v["id"] == id && v["state"] == state
    })
}

/// A browser guest: headless Chromium running the browser UI served by `confab serve`
/// (`tests/js/lib/guest.mjs`), on `host`, printing `confab join --progress`-shaped lines.
/// Its browser is closed on drop (stdin closed, then a bounded wait), not left running.
pub struct Guest {
    progress: Recorded,
    stdin: Option<std::process::ChildStdin>,
}

impl Guest {
    pub fn join(host: &Host, server: &Host, name: &str) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/js/lib/guest.mjs");
        let mut c = host.ns.command("node");
        c.args([script, "--server", &format!("http://{}:3000", server.addr)]);
        c.args(["--room", "net", "--name", name]);
        c.stdin(std::process::Stdio::piped());
        let mut progress = Recorded::spawn(c);
        let stdin = progress.child.stdin.take();
        Self { progress, stdin }
    }
}

impl std::ops::Deref for Guest {
    type Target = Recorded;
    fn deref(&self) -> &Recorded {
        &self.progress
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        drop(self.stdin.take()); // the script closes its browser and exits
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.progress.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Recorded's own drop kills it.
    }
}
