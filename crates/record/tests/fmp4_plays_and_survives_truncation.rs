//! A recording written by `Fmp4Writer` from real encoders (openh264 on the test pattern, Opus
//! on a 440 Hz tone) plays: ffprobe reads both tracks with the duration written, and ffmpeg
//! decodes every frame without an error. Cut after any fragment (what a killed recorder leaves:
//! each fragment is one write) or inside any fragment's media data (a write torn by a power
//! cut), the file opens and plays every frame of its whole fragments.

use std::path::{Path, PathBuf};
use std::time::Duration;

use confab_media::codec::h264::{H264Encoder, H264Settings};
use confab_media::codec::opus::OpusEncoder;
use confab_media::source::synthetic::{TestPattern, Tone};
use confab_record::{Fmp4Writer, probe};

const SECONDS: u32 = 4;
const FPS: u32 = 30;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("confab-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(name)
}

/// Writes `SECONDS` of pattern and tone; returns the number of video frames written.
fn record(path: &Path) -> usize {
    let file = std::fs::File::create(path).expect("create");
    let mut writer = Fmp4Writer::new(std::io::BufWriter::new(file));
    let mut encoder = H264Encoder::new(H264Settings {
        bitrate_bps: 800_000,
        max_fps: FPS as f32,
        keyframe_interval: 60,
        screen: false,
    })
    .expect("encoder");
    let mut opus = OpusEncoder::new(32_000).expect("opus");
    let mut pattern = TestPattern::new(640, 480);
    let mut tone = Tone::new(440.0);
    let mut frames = 0;
    // 20 ms audio steps; a video frame whenever its time has come (30 fps).
    for step in 0..SECONDS * 50 {
        let now = Duration::from_millis(u64::from(step) * 20);
        writer
            .push_audio(&opus.encode(&tone.next_frame()).expect("opus packet"))
            .expect("audio");
        while Duration::from_micros(frames as u64 * 1_000_000 / u64::from(FPS)) <= now {
            let at = Duration::from_micros(frames as u64 * 1_000_000 / u64::from(FPS));
            frames += 1;
            if let Some(au) = encoder.encode(&pattern.next_frame()).expect("encode") {
                writer.push_video(&au.data, au.keyframe, at).expect("video");
            }
        }
    }
    writer.finish().expect("finish");
    drop(writer.into_inner());
    frames
}

/// (offset, size, type) of each top-level box.
fn top_level_boxes(bytes: &[u8]) -> Vec<(usize, usize, [u8; 4])> {
    let mut boxes = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind: [u8; 4] = bytes[at + 4..at + 8].try_into().expect("4 bytes");
        assert!(size >= 8, "a box of {size} bytes at {at}");
        boxes.push((at, size, kind));
        at += size;
    }
    boxes
}

#[test]
fn a_recording_plays_whole_and_cut_short() {
    let path = scratch("whole.mp4");
    let written = record(&path);
    assert_eq!(probe::codecs(&path).expect("ffprobe"), ["h264", "opus"]);
    let duration = probe::duration(&path).expect("ffprobe");
    assert!(
        (duration - f64::from(SECONDS)).abs() <= 0.1,
        "{duration} s for {SECONDS} s recorded"
    );
    let video = probe::decode_video(&path).expect("ffmpeg");
    let (decoded, errors) = (video.frame_hashes.len(), video.complaints);
    eprintln!("{duration} s, {decoded} of {written} frames decoded");
    assert_eq!(errors, "", "ffmpeg's complaints");
    assert!(
        decoded >= written * 9 / 10,
        "{decoded} of {written} frames decoded"
    );

    // Killed: the file ends after a whole fragment (the writer writes each in one go); or,
    // torn mid-write, inside a fragment's media data. Both play every whole fragment.
    let bytes = std::fs::read(&path).expect("read");
    let boxes = top_level_boxes(&bytes);
    let mut cuts = Vec::new();
    for (at, size, kind) in &boxes {
        if kind == b"mdat" {
            cuts.push((at + size / 2, "inside a fragment's data"));
            cuts.push((at + size, "after a fragment"));
        }
    }
    assert!(cuts.len() >= 6, "fragments: {boxes:?}");
    let cut = scratch("cut.mp4");
    let mut failures = Vec::new();
    // Frames in the file cut after the last whole fragment: a later cut decodes them all.
    let mut whole = 0;
    for (at, what) in cuts {
        std::fs::write(&cut, &bytes[..at]).expect("write");
        let expected = whole;
        let decoded = match probe::decode_video(&cut) {
            Ok(video) => video.frame_hashes.len(),
            Err(e) => {
                failures.push(format!("cut {what} at {at} bytes: {e}"));
                continue;
            }
        };
        if decoded < expected {
            failures.push(format!(
                "cut {what} at {at} bytes: {decoded} frames (at least {expected})"
            ));
        }
        if what == "after a fragment" {
            whole = decoded;
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        whole >= written * 9 / 10,
        "{whole} frames in the whole fragments"
    );
    std::fs::remove_dir_all(path.parent().expect("dir")).expect("cleanup");
}
