//! "Play a test sound" in the settings: a short tone on the chosen speakers, through the same
//! playback path a call's audio takes (cpal and the engine's mixer), so what the person hears
//! is what a call would sound like there. The browser guest's button plays the same tone
//! (ui/guest-devices.js).

use std::time::{Duration, Instant};

use confab_media::audio_io::Playback;
use confab_media::source::synthetic::Tone;

/// How long the tone plays, and its pitch (the guests' `TEST_SOUND_MS`, `TEST_SOUND_HZ`).
pub const TEST_SOUND: Duration = Duration::from_millis(600);
pub const TEST_SOUND_HZ: f64 = 660.0;
/// One frame of the tone: the mixer's unit (20 ms of 48 kHz mono).
const FRAME: Duration = Duration::from_millis(20);
/// How far ahead of the device the frames are queued (a starved device would play gaps).
const LEAD: Duration = Duration::from_millis(40);
/// What the device still holds after the last frame is queued: waited for before closing it,
/// or the tone's end would be cut.
const DRAIN: Duration = Duration::from_millis(200);

/// Plays the tone on `device` (`None`: the default output). Blocks for the tone's length:
/// run it off the async runtime. The frames are queued at the pace they play, as a call's
/// are: the mixer keeps only a short queue per source.
pub fn play(device: Option<&str>) -> Result<(), String> {
    let playback = Playback::start(device, None).map_err(|e| format!("speakers: {e}"))?;
    let mut tone = Tone::new(TEST_SOUND_HZ);
    let frames = (TEST_SOUND.as_millis() / FRAME.as_millis()) as u32;
    let started = Instant::now();
    for i in 1..=frames {
        playback.push("test-sound", &tone.next_frame());
        let due = started + (FRAME * i).saturating_sub(LEAD);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    std::thread::sleep(LEAD + DRAIN);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_media::source::synthetic::dominant_frequency;
    use std::io::Read;
    use std::process::{Command, Stdio};

    /// The tone reaches the speakers: the default output, which scripts/test.sh points at a
    /// PulseAudio null sink (PULSE_SINK=confab_out), recorded from that sink's monitor.
    #[test]
    #[ignore = "needs the PulseAudio null sinks of scripts/pulse-setup.sh; run by scripts/test.sh"]
    fn the_test_sound_is_heard_on_the_speakers() {
        let mut parec = Command::new("parec")
            .args(["-d", "confab_out.monitor", "--raw", "--format=s16le"])
            .args(["--rate=48000", "--channels=1", "--latency-msec=20"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("parec");
        let mut stdout = parec.stdout.take().expect("piped");
        let (first_tx, first) = std::sync::mpsc::channel();
        // The tone and a second around it: 1.6 s of 48 kHz 16-bit mono.
        let recorder = std::thread::spawn(move || {
            let mut raw = vec![0u8; 48_000 * 2 * 16 / 10];
            let n = stdout.read(&mut raw)?;
            let _ = first_tx.send(());
            stdout.read_exact(&mut raw[n..]).map(|()| raw)
        });
        // A monitor records only some time after parec connects: play once it does.
        first
            .recv_timeout(Duration::from_secs(10))
            .expect("parec records within 10 s");
        play(None).expect("the test sound plays");
        let raw = recorder.join().expect("recorder").expect("1.6 s recorded");
        let _ = parec.kill();
        let _ = parec.wait();
        let samples: Vec<i16> = raw
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let loud: Vec<i16> = samples
            .chunks(960)
            .filter(|w| w.iter().any(|s| s.unsigned_abs() > 1000))
            .flatten()
            .copied()
            .collect();
        let heard = Duration::from_millis(loud.len() as u64 / 48);
        assert!(
            heard >= TEST_SOUND * 8 / 10,
            "{heard:?} of the {TEST_SOUND:?} tone heard"
        );
        let f = dominant_frequency(&loud).expect("a tone");
        assert!((f - TEST_SOUND_HZ).abs() <= 3.0, "heard {f:.1} Hz");
    }
}
