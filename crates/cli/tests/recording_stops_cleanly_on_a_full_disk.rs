//! A recording whose disk fills up: the recorder stops with a clear message, the file it
//! leaves plays (cut back to its last whole fragment), and the call goes on undisturbed.
//!
//! The disk is real: bob runs in a mount namespace of his own where the recordings folder is a
//! [`DISK`]-sized tmpfs, so his writes fail with ENOSPC as on a full drive (the namespace's
//! shell copies the file out for ffprobe once bob has left). Needs root for the mount.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::netns::{BIN, Recorded};
use confab_record::probe;

/// The recordings folder's size: a few seconds of a recorded call.
const DISK: &str = "1m";
/// From the recording's start to the disk being full, on a slow machine.
const FULL_WITHIN: Duration = Duration::from_secs(20);
/// Bob's time in the call: the disk full, then long enough to see the call go on.
const BOB_STAYS: Duration = Duration::from_secs(32);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root (a tmpfs mounted in a mount namespace): run by scripts/test.sh"]
async fn a_full_disk_ends_the_recording_not_the_call() {
    let (server, url) = common::local::server().await;
    let (disk, out) = (
        common::local::scratch("full-disk"),
        common::local::scratch("full-out"),
    );
    let mut alice = Command::new(BIN);
    alice
        .args([
            "join", "--server", &url, "--room", "full", "--name", "alice",
        ])
        .args([
            "--bind",
            "127.0.0.1:0",
            "--synthetic-video",
            "--synthetic-audio",
        ])
        .args(["--duration", "60"]);
    let alice = Recorded::spawn(alice);
    let script = "mount -t tmpfs -o size=\"$1\" confab-full \"$2\" || exit 90; \
                  \"$3\" join --server \"$4\" --room full --name bob --bind 127.0.0.1:0 \
                  --duration \"$6\" --progress --record \"$2/call.mp4\"; \
                  status=$?; cp \"$2/call.mp4\" \"$5/\" || exit 91; exit $status";
    let mut bob = Command::new("unshare");
    bob.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
        DISK,
    ])
    .arg(&disk)
    .arg(BIN)
    .arg(&url)
    .arg(&out)
    .arg(BOB_STAYS.as_secs().to_string());
    let mut bob = Recorded::spawn(bob);
    let begin = Instant::now();
    let from_alice = |v: &serde_json::Value| v["event"] == "video" && v["from"] == "alice";
    bob.first_after(begin, FULL_WITHIN, "alice's video at bob", from_alice);
    let (stopped_at, stopped) =
        bob.first_json_after(begin, FULL_WITHIN, "the recording ending", |v| {
            v["event"] == "recording" && v["state"] == "stopped"
        });
    let error = stopped["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        error.starts_with("the disk is full") && error.contains("No space left on device"),
        "the recording should end with the disk full: {stopped}"
    );
    let recorded = stopped["seconds"].as_f64().expect("seconds");
    let bytes = stopped["bytes"].as_u64().expect("bytes");
    assert!(recorded >= 1.0, "stopped after {recorded} s: {stopped}");

    // The call goes on: alice's video keeps coming (a line every 30 frames), her tone keeps
    // being heard, and nothing else went wrong.
    let frames_at = |v: &serde_json::Value| v["frames"].as_u64().unwrap_or(0);
    let (_, before) =
        bob.first_json_after(stopped_at, Duration::from_secs(10), "video", from_alice);
    let (_, after) = bob.first_json_after(
        stopped_at + Duration::from_secs(3),
        Duration::from_secs(10),
        "alice's video 3 s after the recording stopped",
        from_alice,
    );
    assert!(
        frames_at(&after) >= frames_at(&before) + 60,
        "alice's video slowed down after the disk filled: {before} then {after}"
    );
    let audible = |since| {
        bob.first_json_after(since, Duration::from_secs(10), "stats about alice", |v| {
            v["event"] == "stats" && v["id"] == "alice"
        })
        .1["audio_audible"]
            .as_u64()
            .unwrap_or(0)
    };
    let heard_then = audible(stopped_at);
    let heard_later = audible(stopped_at + Duration::from_secs(3));
    assert!(
        heard_later >= heard_then + 100,
        "alice's tone stopped being heard: {heard_then} then {heard_later} frames"
    );
    let errors = bob.json_between(begin, Instant::now(), |v| v["event"] == "error");
    assert!(
        errors.is_empty(),
        "errors beside the recording's: {errors:?}"
    );
    drop(alice);
    // Bob leaves when his time is up; the namespace's shell copies the file out.
    let status = tokio::task::spawn_blocking(move || bob.child.wait())
        .await
        .expect("bob")
        .expect("bob's exit");
    assert!(
        status.code() != Some(90) && status.code() != Some(91),
        "{status:?}"
    );

    // The file is what the summary says, and it plays to within a fragment or two of it.
    let file = out.join("call.mp4");
    let size = std::fs::metadata(&file)
        .expect("the recording copied out")
        .len();
    assert_eq!(size, bytes, "the file's size and the summary's");
    let duration = probe::duration(&file).expect("ffprobe");
    eprintln!(
        "disk full after {recorded:.1} s recorded ({bytes} bytes): {error}; {duration:.2} s play"
    );
    assert!(
        duration >= recorded - 2.5,
        "{duration} s playable of {recorded} s recorded"
    );
    let video = probe::decode_video(&file).expect("ffmpeg");
    assert_eq!(video.complaints, "", "ffmpeg's complaints");
    assert!(
        video.frame_hashes.len() >= 10,
        "{} frames",
        video.frame_hashes.len()
    );
    server.shutdown().await.expect("server");
    for dir in [disk, out] {
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
