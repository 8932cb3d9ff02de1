//! `confab join --record`: a real call (two processes through a real server over loopback,
//! openh264 and Opus) recorded by one of them into one MP4. Checked with ffprobe and ffmpeg
//! (apt: ffmpeg): the time recorded (within 0.5 s), every frame decoding without a complaint,
//! a moving picture, the other participant's 440 Hz tone audible. And a recorder killed with
//! SIGKILL leaves a file that plays up to its last second or two.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use confab_media::source::synthetic::dominant_frequency;
use confab_record::probe;

fn join(url: &str, room: &str, name: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["join", "--server", url, "--room", room, "--name", name])
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .expect("confab join")
}

fn ffprobe_duration(path: &Path) -> f64 {
    probe::duration(path).expect("ffprobe")
}

/// (frame hashes, ffmpeg's complaints) for the video; the audio as 48 kHz mono samples.
fn decode(path: &Path) -> (Vec<String>, String, Vec<i16>) {
    let video = probe::decode_video(path).expect("ffmpeg");
    let samples = probe::decode_audio(path).expect("ffmpeg");
    (video.frame_hashes, video.complaints, samples)
}

/// The 440 Hz tone is heard in the second half of `samples` (the call is up by then).
fn assert_tone(samples: &[i16]) {
    let late = &samples[samples.len() / 2..];
    let peak = late.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(peak > 5000, "the tone's peak in the recording: {peak}");
    let f = dominant_frequency(late).expect("a tone");
    assert!((f - 440.0).abs() <= 3.0, "{f:.1} Hz heard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_call_plays_with_its_picture_and_sound() {
    let (server, url) = common::local::server().await;
    let dir = common::local::scratch("record-whole");
    let file = dir.join("call.mp4");
    let mut alice = join(
        &url,
        "rec",
        "alice",
        &["--synthetic-video", "--synthetic-audio", "--duration", "10"],
    );
    // Bob's progress says when his recording started and stopped (ms since he joined): the
    // time recorded, measured outside the recorder.
    let bob = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["join", "--server", &url, "--room", "rec", "--name", "bob"])
        .args([
            "--bind",
            "127.0.0.1:0",
            "--synthetic-video",
            "--duration",
            "6",
            "--progress",
        ])
        .args(["--record", file.to_str().expect("utf-8 path")])
        .output();
    let (a, b) = tokio::task::spawn_blocking(move || (alice.wait(), bob))
        .await
        .expect("joined");
    let b = b.expect("bob");
    assert!(a.expect("alice").success() && b.status.success());
    let at = |state: &str| {
        String::from_utf8_lossy(&b.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["event"] == "recording" && v["state"] == state)
            .and_then(|v| v["ms"].as_u64())
            .unwrap_or_else(|| panic!("no recording {state} in bob's progress"))
    };
    let recorded = Duration::from_millis(at("stopped") - at("started"));
    let duration = ffprobe_duration(&file);
    assert!(
        (duration - recorded.as_secs_f64()).abs() <= 0.5,
        "{duration} s in the file for {recorded:?} recorded"
    );
    let (frames, complaints, samples) = decode(&file);
    assert_eq!(complaints, "", "ffmpeg's complaints");
    assert!(
        frames.len() >= 5 * 10,
        "{} frames in ~6 s at 15 fps",
        frames.len()
    );
    let distinct: std::collections::HashSet<&String> = frames.iter().collect();
    assert!(
        distinct.len() * 2 > frames.len(),
        "the picture hardly moves: {} distinct of {}",
        distinct.len(),
        frames.len()
    );
    assert_tone(&samples);
    // Started again on the same file: refused, the recording kept.
    let again = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args([
            "join", "--server", &url, "--room", "rec2", "--name", "carol",
        ])
        .args(["--bind", "127.0.0.1:0", "--duration", "1", "--progress"])
        .args(["--record", file.to_str().expect("utf-8")])
        .output()
        .expect("confab join");
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(
        said.contains("recording to") && said.contains("exists"),
        "no refusal: {said}"
    );
    assert!(
        (ffprobe_duration(&file) - duration).abs() < 0.01,
        "the file changed"
    );
    server.shutdown().await.expect("server");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorder_killed_mid_call_leaves_a_file_that_plays() {
    let (server, url) = common::local::server().await;
    let dir = common::local::scratch("record-killed");
    let file = dir.join("killed.mp4");
    let mut alice = join(
        &url,
        "kill",
        "alice",
        &["--synthetic-video", "--synthetic-audio", "--duration", "12"],
    );
    let mut bob = join(
        &url,
        "kill",
        "bob",
        &["--record", file.to_str().expect("utf-8 path")],
    );
    // Recording for 6 s (the file exists as soon as it starts), then SIGKILL: no goodbye.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !file.exists() {
        assert!(Instant::now() < deadline, "no recording file within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;
    bob.kill().expect("SIGKILL");
    let _ = bob.wait();
    let recorded = started.elapsed();
    let duration = ffprobe_duration(&file);
    assert!(
        duration >= recorded.as_secs_f64() - 2.5,
        "{duration} s playable of {recorded:?} recorded before the kill"
    );
    let (frames, _torn_end, samples) = decode(&file);
    assert!(frames.len() >= 3 * 10, "{} frames decoded", frames.len());
    assert_tone(&samples);
    let _ = alice.kill();
    let _ = alice.wait();
    server.shutdown().await.expect("server");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
