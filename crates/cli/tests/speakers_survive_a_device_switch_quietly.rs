//! Playing a call through PulseAudio (behind ALSA) while the system's output device changes
//! — as when headphones are plugged in — keeps the call's audio and writes one warning, not
//! a flood: each switch made ALSA's PulseAudio plugin fail `snd_pcm_avail_delay` dozens of
//! times, and every failure was a log line (245 lines for six switches, measured; issue 10).
//! Needs the null sinks of scripts/pulse-setup.sh; run by scripts/test.sh.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_confab");
/// Back and forth between the two null sinks, this many times, once the call plays.
const SWITCHES: usize = 6;
/// Lines the speakers may log for the whole call: the first error (later ones are summed up
/// at most once a minute, `confab_media::stream_errors::SUMMARY_EVERY`).
const MAX_SPEAKER_LINES: usize = 2;

fn pactl(args: &[&str]) -> String {
    let out = Command::new("pactl").args(args).output().expect("pactl");
    assert!(
        out.status.success(),
        "pactl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// Kills the server this test started, by its PID, also when an assertion fails.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs the PulseAudio null sinks of scripts/pulse-setup.sh; run by scripts/test.sh"]
fn switching_the_default_output_mid_call_logs_once_and_the_audio_goes_on() {
    let default_sink = pactl(&["get-default-sink"]).trim().to_owned();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = Server(
        Command::new(BIN)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("confab serve"),
    );
    // The joins start once the server listens (it says so on stdout), not before.
    let stdout = server.0.stdout.take().expect("piped stdout");
    let (listening, ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if line.contains("listening on") {
                let _ = listening.send(());
            }
        }
    });
    ready
        .recv_timeout(Duration::from_secs(20))
        .expect("confab serve listening within 20 s");
    let dir = std::env::temp_dir().join(format!("confab-switch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let report = dir.join("listener.json");
    let tone = Command::new(BIN)
        .args([
            "join", "--server", &url, "--room", "switch", "--name", "tone",
        ])
        .args(["--synthetic-video", "--synthetic-audio", "--duration", "16"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the tone's confab join");
    // The listener plays on the system's default output, wherever it points now: no
    // PULSE_SINK pinning it to one sink.
    let listener = Command::new(BIN)
        .args([
            "join", "--server", &url, "--room", "switch", "--name", "listener",
        ])
        .args([
            "--synthetic-video",
            "--speakers",
            "default",
            "--mic",
            "default",
        ])
        .args(["--duration", "14", "--progress", "--report"])
        .arg(&report)
        .env_remove("PULSE_SINK")
        .env_remove("PULSE_SOURCE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the listener's confab join");
    let pid = listener.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(listener.wait_with_output());
    });
    // Switch once the tone plays: its frames arrive from 1-2 s after joining.
    std::thread::sleep(Duration::from_secs(4));
    let other = if default_sink == "confab_out" {
        "confab_mic"
    } else {
        "confab_out"
    };
    let started = Instant::now();
    for _ in 0..SWITCHES {
        pactl(&["set-default-sink", other]);
        std::thread::sleep(Duration::from_millis(500));
        pactl(&["set-default-sink", &default_sink]);
        std::thread::sleep(Duration::from_millis(500));
    }
    let switching = started.elapsed();
    let output = match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => output.expect("the listener's output"),
        Err(_) => panic!("the listener (pid {pid}) did not end within 60 s"),
    };
    let mut tone = tone;
    let _ = tone.wait();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "listener: {}\n{stderr}",
        output.status
    );
    let speaker_lines: Vec<&str> = stderr.lines().filter(|l| l.contains("speakers:")).collect();
    eprintln!(
        "{SWITCHES} switches in {switching:?}: {} speaker lines {speaker_lines:#?}",
        speaker_lines.len()
    );
    assert!(
        speaker_lines.len() <= MAX_SPEAKER_LINES,
        "the speakers flooded the log: {} lines",
        speaker_lines.len()
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the report")).expect("JSON");
    let audible = report["participants"]["tone"]["audio_frames_audible"]
        .as_u64()
        .unwrap_or(0);
    // 14 s at 50 frames a second, less joining: the tone went on through the switches.
    assert!(audible > 400, "audible frames from the tone: {report}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
