//! A recording written by `Fmp4Writer` from real encoders (openh264 on the test pattern, Opus
//! on a 440 Hz tone) plays: ffprobe reads both tracks with the duration written, and ffmpeg
//! decodes every frame without an error. Cut short (as a killed recorder leaves it, mid
//! fragment), the file still plays up to its last whole fragment.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use confab_media::codec::h264::{H264Encoder, H264Settings};
use confab_media::codec::opus::OpusEncoder;
use confab_media::source::synthetic::{TestPattern, Tone};
use confab_record::Fmp4Writer;
use confab_record::fmp4::FRAGMENT;

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
    frames
}

fn ffprobe(path: &Path, entries: &str) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", entries, "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe (apt: ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Decodes the whole file; returns (video frames decoded, ffmpeg's error output).
fn decode(path: &Path) -> (usize, String) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:v", "-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg");
    assert!(out.status.success(), "ffmpeg failed: {out:?}");
    let frames = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    (frames, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_recording_plays_whole_and_cut_short() {
    let path = scratch("whole.mp4");
    let written = record(&path);
    let streams = ffprobe(&path, "stream=codec_name");
    assert_eq!(streams.lines().collect::<Vec<_>>(), ["h264", "opus"]);
    let duration: f64 = ffprobe(&path, "format=duration")
        .parse()
        .expect("a duration");
    assert!(
        (duration - f64::from(SECONDS)).abs() <= 0.1,
        "{duration} s for {SECONDS} s recorded"
    );
    let (decoded, errors) = decode(&path);
    eprintln!("{duration} s, {decoded} of {written} frames decoded");
    assert_eq!(errors, "", "ffmpeg's complaints");
    assert!(
        decoded >= written * 9 / 10,
        "{decoded} of {written} frames decoded"
    );

    // Killed mid-fragment: the file ends inside the last fragment's data.
    let bytes = std::fs::read(&path).expect("read");
    let cut = scratch("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4]).expect("write");
    // Whole fragments before the cut: at least all but the torn one and the one before.
    let whole_fragments = f64::from(SECONDS) * 3.0 / 4.0 - 2.0 * FRAGMENT.as_secs_f64();
    // Every frame of the whole fragments before the cut decodes (ffmpeg may complain of the
    // torn one at the end: that is the part a crash loses).
    let (decoded, _torn) = decode(&cut);
    eprintln!("cut at 3/4: {decoded} frames decoded");
    assert!(
        decoded as f64 >= whole_fragments * f64::from(FPS),
        "{decoded} frames decoded from a file cut at 3/4 of {SECONDS} s"
    );
    std::fs::remove_dir_all(path.parent().expect("dir")).expect("cleanup");
}
