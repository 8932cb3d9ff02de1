//! A call's audio end to end through a real sound server: a 440 Hz tone is played into the
//! `confab_mic` null sink, alice's call captures it from that sink's monitor as her microphone,
//! Opus and WebRTC carry it to bob, bob's call plays it on `confab_out`, and the tone is
//! recorded back from `confab_out`'s monitor. Run by scripts/test.sh after
//! scripts/pulse-setup.sh, with PULSE_SOURCE=confab_mic.monitor and PULSE_SINK=confab_out.
//! Also: switching microphone and speakers during a call, and the local microphone level.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use confab_engine::call::{self, CallConfig, CallEvent, Command as CallCommand};
use confab_media::frame::SAMPLE_RATE;
use confab_media::source::synthetic::{Tone, dominant_frequency};
use confab_signal::{Config, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the PulseAudio null sinks of scripts/pulse-setup.sh; run by scripts/test.sh"]
async fn a_tone_into_alices_microphone_comes_out_of_bobs_speakers() {
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());
    let mut a = CallConfig::new(&url, "audio", "alice");
    a.video_source = None;
    a.synthetic_audio = false;
    a.mic = Some("default".into());
    // A steady tone is exactly what noise suppression removes; this test is about the device
    // path (echo cancellation and noise suppression have tests of their own).
    a.voice_processing = false;
    let mut b = CallConfig::new(&url, "audio", "bob");
    b.video_source = None;
    b.synthetic_audio = false;
    b.speakers = Some("default".into());
    // Bob (nothing to send) is there first; alice joins and offers her audio.
    let (bob, mut bob_events) = call::join(b).await.expect("bob with speakers");
    tokio::time::timeout(Duration::from_secs(10), async {
        while !matches!(bob_events.recv().await, Some(CallEvent::Joined { .. })) {}
    })
    .await
    .expect("bob joined");
    let (alice, _alice_events) = call::join(a).await.expect("alice with a microphone");

    // The tone plays into alice's "microphone" for the whole test.
    let mut pacat = play_into_mic(440.0, 12);

    // Wait until bob decodes the tone itself (half a second of loud frames in a row: alice's
    // microphone is silent until pacat's stream starts), then record bob's speakers.
    tokio::time::timeout(Duration::from_secs(30), async {
        let mut loud_in_a_row = 0;
        while loud_in_a_row < 25 {
            match bob_events.recv().await.expect("bob's call running") {
                CallEvent::AudioFrame { id, peak, .. } if id == "alice" => {
                    loud_in_a_row = if peak > 8000 { loud_in_a_row + 1 } else { 0 };
                }
                CallEvent::Error { message } => panic!("bob: {message}"),
                _ => {}
            }
        }
    })
    .await
    .expect("bob decodes alice's tone");
    let samples = tokio::task::spawn_blocking(|| record_bobs_speakers(2.0))
        .await
        .expect("recorder");
    let _ = pacat.kill();
    let _ = pacat.wait();

    let loud = samples.iter().filter(|s| s.unsigned_abs() > 2000).count();
    let first_loud = samples.iter().position(|s| s.unsigned_abs() > 2000);
    assert!(
        loud > samples.len() / 2,
        "bob's speakers were mostly silent ({loud} of {} samples loud, the first at {first_loud:?})",
        samples.len()
    );
    let f = dominant_frequency(&samples).expect("a tone on bob's speakers");
    assert!((f - 440.0).abs() <= 2.0, "bob's speakers played {f:.2} Hz");

    alice.send(CallCommand::Leave);
    bob.send(CallCommand::Leave);
    server.shutdown().await.expect("server");
}

/// Plays `seconds` of a `hz` tone into the `confab_mic` null sink, whose monitor is alice's
/// microphone. Kill the returned pacat when done.
fn play_into_mic(hz: f64, seconds: usize) -> Child {
    let mut pacat = Command::new("pacat")
        .args([
            "-d",
            "confab_mic",
            "--raw",
            "--format=s16le",
            "--rate=48000",
            "--channels=1",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("pacat");
    let mut tone = Tone::new(hz);
    let bytes: Vec<u8> = (0..50 * seconds)
        .flat_map(|_| tone.next_frame().samples)
        .flat_map(|s| s.to_le_bytes())
        .collect();
    let mut stdin = pacat.stdin.take().expect("piped");
    std::thread::spawn(move || {
        let _ = stdin.write_all(&bytes);
    });
    pacat
}

/// Records `seconds` of `confab_out`'s monitor (what bob's speakers play).
fn record_bobs_speakers(seconds: f64) -> Vec<i16> {
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
    let mut raw = vec![0u8; (f64::from(SAMPLE_RATE) * seconds) as usize * 2];
    parec
        .stdout
        .take()
        .expect("piped")
        .read_exact(&mut raw)
        .expect("recorded");
    let _ = parec.kill();
    let _ = parec.wait();
    raw.chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Records bob's speakers half a second at a time until `done` holds for a recording, at most
/// `tries` times (a device switch has no event to wait for: its effect is the sound).
async fn until_heard(tries: usize, done: impl Fn(&[i16]) -> bool) -> Vec<i16> {
    let mut last = Vec::new();
    for _ in 0..tries {
        last = tokio::task::spawn_blocking(|| record_bobs_speakers(0.5))
            .await
            .expect("recorder");
        if done(&last) {
            break;
        }
    }
    last
}

fn loud_share(samples: &[i16]) -> f64 {
    samples.iter().filter(|s| s.unsigned_abs() > 2000).count() as f64 / samples.len() as f64
}

fn is_tone(samples: &[i16], hz: f64) -> bool {
    loud_share(samples) > 0.5 && dominant_frequency(samples).is_some_and(|f| (f - hz).abs() <= 2.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the PulseAudio null sinks of scripts/pulse-setup.sh; run by scripts/test.sh"]
async fn microphone_and_speakers_switch_during_the_call() {
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());
    // Alice starts without a microphone (the call's tone), bob without speakers.
    let mut a = CallConfig::new(&url, "switch", "alice");
    a.video_source = None;
    a.voice_processing = false; // a steady tone is what noise suppression removes
    let mut b = CallConfig::new(&url, "switch", "bob");
    b.video_source = None;
    b.synthetic_audio = false;
    let (bob, mut bob_events) = call::join(b).await.expect("bob");
    tokio::time::timeout(Duration::from_secs(10), async {
        while !matches!(bob_events.recv().await, Some(CallEvent::Joined { .. })) {}
    })
    .await
    .expect("bob joined");
    let (alice, mut alice_events) = call::join(a).await.expect("alice");
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match bob_events.recv().await.expect("bob's call running") {
                CallEvent::AudioFrame { id, peak, .. } if id == "alice" && peak > 8000 => break,
                CallEvent::Error { message } => panic!("bob: {message}"),
                _ => {}
            }
        }
    })
    .await
    .expect("bob decodes alice's tone");
    assert!(
        loud_share(
            &tokio::task::spawn_blocking(|| record_bobs_speakers(0.5))
                .await
                .expect("rec")
        ) < 0.01,
        "bob has no speakers yet, so nothing plays"
    );

    // Bob turns his speakers on: alice's synthetic tone plays.
    bob.send(CallCommand::SetAudioDevices {
        mic: None,
        speakers: Some("default".into()),
    });
    let heard = until_heard(20, |s| is_tone(s, call::SYNTHETIC_TONE_HZ)).await;
    assert!(
        is_tone(&heard, call::SYNTHETIC_TONE_HZ),
        "bob's new speakers: {:.0} % loud, {:?} Hz",
        loud_share(&heard) * 100.0,
        dominant_frequency(&heard)
    );

    // Alice switches to her microphone, into which 660 Hz is playing.
    let mut pacat = play_into_mic(660.0, 20);
    alice.send(CallCommand::SetAudioDevices {
        mic: Some("default".into()),
        speakers: None,
    });
    let heard = until_heard(20, |s| is_tone(s, 660.0)).await;
    // Alice's own call shows her microphone's level (her "it works" indicator).
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match alice_events.recv().await.expect("alice's call running") {
                CallEvent::LocalAudio { peak } if peak > 8000 => break,
                CallEvent::Error { message } => panic!("alice: {message}"),
                _ => {}
            }
        }
    })
    .await
    .expect("alice's microphone level");
    let _ = pacat.kill();
    let _ = pacat.wait();
    assert!(
        is_tone(&heard, 660.0),
        "bob hears alice's microphone: {:.0} % loud, {:?} Hz",
        loud_share(&heard) * 100.0,
        dominant_frequency(&heard)
    );

    // A device that does not exist is refused and the call keeps what it had.
    alice.send(CallCommand::SetAudioDevices {
        mic: Some("no-such-device".into()),
        speakers: None,
    });
    let refused = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(CallEvent::Error { message }) = alice_events.recv().await {
                break message;
            }
        }
    })
    .await
    .expect("the refusal");
    assert!(refused.contains("no-such-device"), "{refused}");

    alice.send(CallCommand::Leave);
    bob.send(CallCommand::Leave);
    server.shutdown().await.expect("server");
}
