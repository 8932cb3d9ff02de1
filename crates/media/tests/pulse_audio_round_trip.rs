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
            "--latency-msec=20",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("parec");
    // A monitor's recording starts up to ~2 s after parec connects (measured here: first
    // bytes after 0.7-1.8 s), so the tone starts only once the first bytes have arrived, and
    // the recording is read while the tone plays.
    let mut stdout = parec.stdout.take().expect("piped");
    let (recording, first_bytes) = std::sync::mpsc::channel();
    let recorder = std::thread::spawn(move || {
        let mut raw = vec![0u8; (SAMPLE_RATE as usize) * 2 * (SECONDS as usize + 1)];
        let first = stdout.read(&mut raw)?;
        let _ = recording.send(());
        // The pipe stays open until parec is stopped, or parec complains of a broken pipe.
        stdout.read_exact(&mut raw[first..]).map(|()| (raw, stdout))
    });
    first_bytes
        .recv_timeout(Duration::from_secs(10))
        .expect("parec records within 10 s");
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
    let (raw, _open_until_parec_stops) = recorder
        .join()
        .expect("recorder thread")
        .expect("the tone's seconds and one more recorded");
    parec.kill().expect("stop parec");
    let _ = parec.wait();
    let samples: Vec<i16> = raw
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    // Where the tone is, in 20 ms windows: the monitor records silence before the playback
    // starts and after it ends, and a gap on a starved machine would show as a split run.
    let runs = loud_runs(&samples, 960);
    let (start, len) = runs.iter().copied().max_by_key(|r| r.1).unwrap_or_default();
    let heard: usize = runs.iter().map(|r| r.1).sum();
    let diagnosis = format!(
        "loud runs (start s, length s): {:?}, after {:?}",
        runs.iter()
            .map(|(s, l)| (*s as f64 / 48_000.0, *l as f64 / 48_000.0))
            .collect::<Vec<_>>(),
        started.elapsed()
    );
    assert!(
        heard * 10 >= 8 * SECONDS as usize * SAMPLE_RATE as usize && len >= SAMPLE_RATE as usize,
        "less than 80 % of the tone recorded, or no whole second of it: {diagnosis}"
    );
    eprintln!("{diagnosis}");
    // Skip the run's first 100 ms (the output's start-up).
    let f = dominant_frequency(&samples[start + 4800..start + len]).expect("a tone was recorded");
    assert!((f - 523.0).abs() <= 2.0, "recorded {f:.2} Hz; {diagnosis}");
}

/// Runs of consecutive `window`-sample windows whose peak is above 1000, as (start, length).
fn loud_runs(samples: &[i16], window: usize) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, w) in samples.chunks(window).enumerate() {
        if w.iter().all(|s| s.unsigned_abs() <= 1000) {
            continue;
        }
        match runs.last_mut() {
            Some((start, len)) if *start + *len == i * window => *len += w.len(),
            _ => runs.push((i * window, w.len())),
        }
    }
    runs
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
