//! Echo cancellation with a real sound server: the "microphone" is the monitor of the sink
//! the speakers play on (scripts/test.sh runs this with PULSE_SINK=confab_out and
//! PULSE_SOURCE=confab_out.monitor), so everything played comes straight back as echo. With
//! the canceller told what is played, the captured echo must be far quieter than with the
//! same processing but no far-end reference. Ignored in a plain `cargo test`.

use std::time::{Duration, Instant};

use confab_media::audio_io::{Capture, Playback};
use confab_media::frame::{AudioFrame, SAMPLE_RATE, SAMPLES_PER_FRAME};
use confab_media::voice::VoiceProcessor;

const SECONDS: usize = 8;
/// The last seconds, after the canceller has converged, are what is measured.
const MEASURED_SECONDS: usize = 3;

/// Speech-like far-end audio: a few partials whose pitch changes every 200 ms, under a
/// syllable-rate envelope (noise suppression would treat a steady tone as noise).
fn far_end(frame: usize) -> AudioFrame {
    let samples = (0..SAMPLES_PER_FRAME)
        .map(|i| {
            let n = frame * SAMPLES_PER_FRAME + i;
            let t = n as f64 / f64::from(SAMPLE_RATE);
            let pitch = [180.0, 220.0, 150.0, 260.0, 200.0][(n / 9600) % 5];
            let envelope = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * 3.0 * t).cos();
            let voice: f64 = [1.0, 0.6, 0.35, 0.2]
                .iter()
                .enumerate()
                .map(|(k, a)| a * (2.0 * std::f64::consts::PI * pitch * (k + 1) as f64 * t).sin())
                .sum();
            (8000.0 * envelope * voice) as i16
        })
        .collect();
    AudioFrame {
        samples,
        channels: 1,
        capture_us: 0,
    }
}

/// Plays the far end for [`SECONDS`] while capturing; returns the level of what was
/// captured over the last [`MEASURED_SECONDS`], in dB relative to full scale.
fn echo_level_db(reference_given: bool) -> f64 {
    let voice = VoiceProcessor::new().expect("audio processing module");
    let playback = Playback::start(None, reference_given.then(|| voice.clone()))
        .expect("default output (PULSE_SINK=confab_out)");
    let (_capture, mut mic) =
        Capture::start(None, Some(voice)).expect("default input (PULSE_SOURCE=confab_out.monitor)");
    let mut captured: Vec<i16> = Vec::new();
    let started = Instant::now();
    // Fed in real time, a little ahead of the device, as frames from a call would be.
    for frame in 0..SECONDS * 50 {
        playback.push("remote", &far_end(frame));
        let due = started + Duration::from_millis(20 * frame as u64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        while let Ok(f) = mic.try_recv() {
            captured.extend(f.samples);
        }
    }
    let tail = &captured[captured
        .len()
        .saturating_sub(MEASURED_SECONDS * SAMPLE_RATE as usize)..];
    assert!(
        tail.len() >= (MEASURED_SECONDS - 1) * SAMPLE_RATE as usize,
        "only {} samples captured",
        captured.len()
    );
    let mean_square = tail.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / tail.len() as f64;
    10.0 * (mean_square.max(1.0) / f64::from(i16::MAX).powi(2)).log10()
}

#[test]
#[ignore = "needs the PulseAudio null sink of scripts/pulse-setup.sh, mic = its monitor; run by scripts/test.sh"]
fn the_canceller_removes_the_speakers_from_the_microphone() {
    let without = echo_level_db(false);
    let with = echo_level_db(true);
    eprintln!("echo: {without:.1} dBFS without the far-end reference, {with:.1} dBFS with it");
    assert!(
        without > -40.0,
        "the echo path is broken: only {without:.1} dBFS captured without cancellation"
    );
    assert!(
        with <= without - 15.0,
        "echo only reduced from {without:.1} to {with:.1} dBFS"
    );
}
