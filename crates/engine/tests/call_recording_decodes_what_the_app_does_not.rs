//! The desktop app's calls do not decode video in the engine (its webview does:
//! `VideoDelivery::Encoded`); a recording made there must still show everyone's picture.
//! Bob (encoded delivery, no camera of his own) records a call with alice (test pattern,
//! tone): the file's frames change (only alice's decoded picture can move them), and it plays.

mod common;

use std::process::Command;
use std::time::Duration;

use common::next_where;
use confab_engine::call::{self, CallConfig, CallEvent, Command as CallCommand, VideoDelivery};
use confab_signal::{Config, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_without_decoding_in_the_call_shows_the_others_picture() {
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());
    let dir = std::env::temp_dir().join(format!("confab-rec-encoded-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("bob.mp4");
    let (alice, _alice_events) = call::join(CallConfig::new(&url, "enc", "alice"))
        .await
        .expect("alice");
    let mut config = CallConfig::new(&url, "enc", "bob");
    config.video_delivery = VideoDelivery::Encoded;
    config.video_source = None;
    config.synthetic_audio = false;
    let (bob, mut bob_events) = call::join(config).await.expect("bob");
    // Alice's video reaches bob (as access units), then bob records for 3 s.
    next_where(
        &mut bob_events,
        |e| matches!(e, CallEvent::EncodedVideo { id, .. } if id == "alice"),
    )
    .await;
    bob.send(CallCommand::StartRecording(file.clone()));
    next_where(&mut bob_events, |e| {
        matches!(e, CallEvent::RecordingStarted { .. })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    bob.send(CallCommand::StopRecording);
    let stopped = next_where(&mut bob_events, |e| {
        matches!(e, CallEvent::RecordingStopped { .. })
    })
    .await;
    let CallEvent::RecordingStopped { error, .. } = &stopped else {
        unreachable!()
    };
    assert_eq!(error, &None, "{stopped:?}");

    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&file)
        .args(["-map", "0:v", "-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg (apt: ffmpeg)");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "ffmpeg's complaints"
    );
    let hashes: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_owned()))
        .collect();
    let distinct: std::collections::HashSet<&String> = hashes.iter().collect();
    assert!(hashes.len() >= 20, "{} frames in 3 s", hashes.len());
    assert!(
        distinct.len() * 2 > hashes.len(),
        "alice's picture does not move in the recording: {} distinct of {}",
        distinct.len(),
        hashes.len()
    );
    alice.send(CallCommand::Leave);
    bob.send(CallCommand::Leave);
    server.shutdown().await.expect("server");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
