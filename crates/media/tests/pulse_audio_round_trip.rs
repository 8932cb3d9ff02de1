//! Real audio devices through a real sound server: a PulseAudio null sink stands in for the
//! speakers and another for the microphone (scripts/pulse-setup.sh creates them, and
//! scripts/test.sh runs these tests with PULSE_SINK=confab_out PULSE_SOURCE=confab_mic.monitor).
//! Ignored in a plain `cargo test`, where no sound server is guaranteed.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use confab_media::audio_io::{Capture, Playback};
use confab_media::frame::SAMPLE_RATE;
use confab_media::source::synthetic::{Tone, dominant_frequency};

const SECONDS: u64 = 3;

fn tone_bytes(freq: f64, seconds: u64) -> Vec<u8> {
    let mut tone = Tone::new(freq);
    let frames = seconds * 50;
    (0..frames)
        .flat_map(|_| tone.next_frame().samples)
        .flat_map(|s| s.to_le_bytes())
        .collect()
}

#[test]
#[ignore = "needs the PulseAudio null sinks of scripts/pulse-setup.sh; run by scripts/test.sh"]
fn a_tone_played_through_the_speakers_is_recorded_from_the_sink_monitor() {
    let playback = Playback::start(None, None).expect("default output (PULSE_SINK=confab_out)");
    let mut parec = Command::new("parec")
        .args([
            "-d",
            "confab_out.monitor",
            "--raw",
            "--format=s16le",
            "--rate=48000",
            "--channels=1",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("parec");
    let mut tone = Tone::new(523.0);
    let started = Instant::now();
    // Feed at exactly real time (as frames arrive from a call), a little ahead of the device.
    for i in 0..SECONDS * 50 {
        playback.push("remote", &tone.next_frame());
        let due =
            started + Duration::from_millis(20 * (i + 1)).saturating_sub(Duration::from_millis(40));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let mut stdout = parec.stdout.take().expect("piped");
    let mut raw = vec![0u8; (SAMPLE_RATE as usize) * 2 * 2];
    stdout.read_exact(&mut raw).expect("two seconds recorded");
    parec.kill().expect("stop parec");
    let _ = parec.wait();
    let samples: Vec<i16> = raw
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    // Measure from where the tone starts (the monitor records silence until then), skipping
    // the first 100 ms of it.
    let start = samples
        .iter()
        .position(|s| s.unsigned_abs() > 1000)
        .expect("the tone reached the sink");
    let tone_part = &samples[(start + 4800).min(samples.len())..];
    assert!(
        tone_part.len() > SAMPLE_RATE as usize / 2,
        "too little tone recorded"
    );
    let f = dominant_frequency(tone_part).expect("a tone was recorded");
    assert!(
        (f - 523.0).abs() <= 2.0,
        "recorded {f:.2} Hz after {:?}",
        started.elapsed()
    );
}

#[test]
#[ignore = "needs the PulseAudio null sinks of scripts/pulse-setup.sh; run by scripts/test.sh"]
fn a_tone_played_into_the_sink_is_captured_by_the_microphone() {
    let (_capture, mut frames) =
        Capture::start(None, None).expect("default input (PULSE_SOURCE=confab_mic.monitor)");
    let mut pacat = Command::new("pacat")
        .args([
            "-d",
            "confab_mic",
            "--raw",
            "--format=s16le",
            "--rate=48000",
            "--channels=1",
            "--latency-msec=50",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("pacat");
    let bytes = tone_bytes(440.0, SECONDS);
    let mut stdin = pacat.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&bytes);
    });
    let mut got: Vec<i16> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(SECONDS + 5);
    while got.len() < SAMPLE_RATE as usize * 2 && Instant::now() < deadline {
        match frames.try_recv() {
            Ok(f) => {
                // Silence before the tone arrives does not count.
                if got.is_empty() && f.samples.iter().all(|s| s.unsigned_abs() < 500) {
                    continue;
                }
                got.extend(f.samples);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    let _ = writer.join();
    let _ = pacat.kill();
    let _ = pacat.wait();
    assert!(
        got.len() >= SAMPLE_RATE as usize,
        "captured only {} samples",
        got.len()
    );
    let f = dominant_frequency(&got[4800..]).expect("the tone was captured");
    assert!((f - 440.0).abs() <= 2.0, "captured {f:.2} Hz");
}
