//! A recording fed in real time as a call would feed it — oneself with the test pattern and
//! a 440 Hz tone, a second participant without a camera — plays: ffprobe reads the time
//! recorded (within 0.5 s), ffmpeg decodes every frame without a complaint, the picture moves,
//! and the tone is heard in the mix at its pitch.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_media::source::synthetic::{TestPattern, Tone, dominant_frequency};
use confab_record::{Input, Recording, probe};

const SECONDS: u64 = 3;

fn ffmpeg(args: &[&str], path: &Path, tail: &[&str]) -> (Vec<u8>, String) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error"])
        .args(args)
        .arg("-i")
        .arg(path)
        .args(tail)
        .output()
        .expect("ffmpeg (apt: ffmpeg)");
    assert!(out.status.success(), "ffmpeg failed: {out:?}");
    (
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_recording_of_a_fed_call_plays_moves_and_sounds() {
    let dir = std::env::temp_dir().join(format!("confab-recorder-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("call.mp4");
    let rec = Recording::start(&path).expect("start");
    for (id, name) in [("me", "Me"), ("bob", "Bob")] {
        assert!(rec.feed(Input::Joined {
            id: id.into(),
            name: name.into()
        }));
    }
    rec.feed(Input::Media {
        id: "bob".into(),
        video: false,
        screen: false,
    });
    let mut pattern = TestPattern::new(640, 480);
    let mut tone = Tone::new(440.0);
    let started = Instant::now();
    // 20 ms steps in real time: audio each step, a picture every other one (25 fps).
    for step in 0..SECONDS * 50 {
        rec.feed(Input::Audio {
            id: "me".into(),
            frame: tone.next_frame(),
        });
        if step % 2 == 0 {
            rec.feed(Input::Picture {
                id: "me".into(),
                frame: Arc::new(pattern.next_frame()),
            });
        }
        let due = started + Duration::from_millis(20 * (step + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    let summary = rec.stop();
    let recorded = started.elapsed();
    assert_eq!(summary.error, None, "{summary:?}");
    assert_eq!(summary.dropped_inputs, 0, "{summary:?}");

    let duration = probe::duration(&path).expect("ffprobe");
    assert!(
        (duration - recorded.as_secs_f64()).abs() <= 0.5,
        "{duration} s in the file for {recorded:?} recorded"
    );
    // Every frame decodes, and the picture changes (the pattern moves).
    let video = probe::decode_video(&path).expect("ffmpeg");
    assert_eq!(video.complaints, "", "ffmpeg's complaints");
    let hashes = video.frame_hashes;
    let distinct: std::collections::HashSet<&String> = hashes.iter().collect();
    assert!(
        hashes.len() as u64 >= SECONDS * 10,
        "{} frames for {SECONDS} s at 15 fps",
        hashes.len()
    );
    assert!(
        distinct.len() * 2 > hashes.len(),
        "the picture hardly moves: {} distinct of {}",
        distinct.len(),
        hashes.len()
    );
    // The tone, heard in the mix.
    let samples = probe::decode_audio(&path).expect("ffmpeg");
    let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
    let peak = middle.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(peak > 8000, "the tone's peak in the recording: {peak}");
    let f = dominant_frequency(middle).expect("a tone");
    assert!((f - 440.0).abs() <= 2.0, "{f:.1} Hz heard");
    // A frame of it to look at (target/e2e, with the end-to-end tests' screenshots).
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/e2e");
    std::fs::create_dir_all(shots).expect("shots dir");
    ffmpeg(
        &["-ss", "2"],
        &path,
        &[
            "-frames:v",
            "1",
            "-y",
            &format!("{shots}/recording-fed.png"),
        ],
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
