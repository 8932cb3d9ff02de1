//! `confab join` end to end: two processes call each other through a real server over
//! loopback, and the report of one shows the other's video, audio and glass-to-glass latency.

mod common;

use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_carries_frames_and_glass_to_glass_latency() {
    let (server, url) = common::local::server().await;
    let dir = std::env::temp_dir().join(format!("confab-join-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let peer = |name: &str, seconds: &str| {
        Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(["join", "--server", &url, "--room", "r", "--name", name])
            .args([
                "--bind",
                "127.0.0.1:0",
                "--synthetic-video",
                "--synthetic-audio",
            ])
            .args(["--duration", seconds, "--report"])
            .arg(dir.join(format!("{name}.json")))
            .spawn()
            .expect("confab join")
    };
    let mut alice = peer("alice", "8");
    let mut bob = peer("bob", "6");
    let waited = tokio::task::spawn_blocking(move || (alice.wait(), bob.wait()))
        .await
        .expect("joined");
    assert!(waited.0.expect("alice").success() && waited.1.expect("bob").success());

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("bob.json")).expect("bob's report"))
            .expect("JSON");
    let alice = &report["participants"]["alice"];
    assert!(
        alice["video_frames_decoded"].as_u64() > Some(30),
        "{report}"
    );
    assert!(
        alice["audio_frames_audible"].as_u64() > Some(50),
        "the tone was heard, not just packets counted: {report}"
    );
    let stats = &report["stats"]["alice"];
    assert!(stats["latency_samples"].as_u64() > Some(30), "{report}");
    let p50 = stats["latency_ms_p50"].as_u64().expect("a median latency");
    assert!(p50 < 1000, "glass-to-glass p50 {p50} ms");
    server.shutdown().await.expect("server");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
