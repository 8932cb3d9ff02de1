//! Audio/video sync of a recording, measured: alice sends sync marks (her test pattern
//! flashes white and her tone beeps for the first 200 ms of every 1.01 s, both from the same
//! clock), bob records the call, and the file is read back through ffprobe/ffmpeg. Each
//! flash's first bright frame is compared with its beep's first loud sample: everything
//! between alice's sources and the file (encoders, the network, jitter buffers, decoders, the
//! recorder's mixer and compositor, the muxer's timestamps) is in the offset.

mod common;

use std::process::Command;

use confab_record::probe;

/// Sync a viewer does not notice, as the issue asks (ITU-R BT.1359 puts detectability at
/// 45 ms of audio lead and 125 ms of lag).
const MAX_OFFSET: f64 = 0.060;
/// Seconds recorded: a flash each, the first few while the call settles.
const RECORD_FOR: u64 = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flashes_and_beeps_stay_together_in_the_file() {
    let (server, url) = common::local::server().await;
    let dir = common::local::scratch("record-sync");
    let file = dir.join("sync.mp4");
    let join = move |name: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(["join", "--server", &url, "--room", "sync", "--name", name])
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .output()
    };
    let alice_duration = (RECORD_FOR + 6).to_string();
    let bob_duration = (RECORD_FOR + 3).to_string();
    let record_for = RECORD_FOR.to_string();
    let file_arg = file.to_str().expect("utf-8 path").to_owned();
    let (alice, bob) = tokio::task::spawn_blocking(move || {
        std::thread::scope(|s| {
            let alice = s.spawn(|| {
                join(
                    "alice",
                    &[
                        "--synthetic-video",
                        "--synthetic-audio",
                        "--sync-marks",
                        "--duration",
                        &alice_duration,
                    ],
                )
            });
            // The first second or two of bob's recording may be without her (the call being
            // set up): those marks are not paired, and the count below allows for them.
            let bob = join(
                "bob",
                &[
                    "--duration",
                    &bob_duration,
                    "--record",
                    &file_arg,
                    "--record-for",
                    &record_for,
                ],
            );
            (alice.join().expect("alice's thread"), bob)
        })
    })
    .await
    .expect("joined");
    let (alice, bob) = (alice.expect("alice"), bob.expect("bob"));
    assert!(alice.status.success(), "alice: {alice:?}");
    assert!(bob.status.success(), "bob: {bob:?}");

    let frames = probe::frame_brightness(&file).expect("frames");
    let audio = probe::decode_audio(&file).expect("audio");
    let audio_start = probe::start_time(&file, "a").expect("audio start");
    let video_start = probe::start_time(&file, "v").expect("video start");
    let offsets = probe::sync_offsets(&frames, &audio, audio_start);
    let mean = offsets.iter().sum::<f64>() / offsets.len().max(1) as f64;
    let ms: Vec<i64> = offsets
        .iter()
        .map(|o| (o * 1000.0).round() as i64)
        .collect();
    eprintln!(
        "sync: {} flashes paired with their beeps, offsets (ms, + = picture late) {ms:?}, \
         mean {:.1} ms; streams start at video {video_start:.3} s, audio {audio_start:.3} s",
        offsets.len(),
        mean * 1000.0
    );
    assert!(
        offsets.len() as u64 >= RECORD_FOR - 4,
        "only {} of ~{RECORD_FOR} flashes paired with a beep",
        offsets.len()
    );
    assert!(
        mean.abs() <= MAX_OFFSET,
        "the picture is {:.0} ms off the sound on average",
        mean * 1000.0
    );
    // One flash may land a recording frame (67 ms at 15 fps) later than the average.
    let worst = offsets.iter().fold(0.0f64, |w, o| w.max((o - mean).abs()));
    assert!(
        worst <= 1.0 / 15.0 + 0.030,
        "a flash {:.0} ms away from the average offset",
        worst * 1000.0
    );
    server.shutdown().await.expect("server");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
