//! A call where multicast is unavailable (a network namespace with only loopback, as in a
//! sandbox, a container or a machine without a default route) logs nothing at ERROR level:
//! every call used to start with webrtc-rs's `ERROR … No such device (os error 19)`, its
//! failed attempt to open an mDNS socket before the engine fell back (issue 10).

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::netns::{BIN, Netns, Recorded};

/// How long each participant stays: enough to connect and decode a few dozen frames.
const CALL_SECONDS: &str = "6";
/// Upper bound on the whole call, server start included (CI machines are loaded).
const WITHIN: Duration = Duration::from_secs(60);

fn join(ns: &Netns, name: &str, report: &std::path::Path) -> std::thread::JoinHandle<Output> {
    let mut c: Command = ns.command(BIN);
    c.args([
        "join",
        "--server",
        "http://127.0.0.1:3000",
        "--room",
        "quiet",
    ])
    .args(["--name", name, "--synthetic-video", "--synthetic-audio"])
    .args(["--duration", CALL_SECONDS, "--report"])
    .arg(report)
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let child = c.spawn().expect("confab join");
    std::thread::spawn(move || child.wait_with_output().expect("confab join's output"))
}

#[test]
#[ignore = "needs root (ip netns): run by scripts/test.sh"]
fn a_call_without_multicast_logs_no_error() {
    let ns = Netns::new("confab-quiet".into());
    let mut serve = ns.command(BIN);
    serve.args(["serve", "--bind", "127.0.0.1:3000"]);
    let server = Recorded::spawn(serve);
    server.first_line_after(
        Instant::now() - Duration::from_secs(1),
        WITHIN,
        "the server listening",
        |l| l.contains("listening on"),
    );
    let dir = std::env::temp_dir().join(format!("confab-quiet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let alice = join(&ns, "alice", &dir.join("alice.json"));
    let bob = join(&ns, "bob", &dir.join("bob.json"));
    for (name, out) in [("alice", alice), ("bob", bob)] {
        let out = out.join().expect("the join thread");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {}\n{stderr}", out.status);
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
        assert!(errors.is_empty(), "{name} logged errors: {errors:#?}");
        // The call itself worked: the quiet log is not that of a call that never started.
        let report: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join(format!("{name}.json"))).expect("the report"),
        )
        .expect("JSON");
        let other = if name == "alice" { "bob" } else { "alice" };
        assert!(
            report["participants"][other]["video_frames_decoded"].as_u64() > Some(30),
            "{name} decoded {other}'s video: {report}"
        );
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
