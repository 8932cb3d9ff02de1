//! The HTTP side: health, metrics, the room list, the UI, and graceful shutdown.

mod common;

use common::{Peer, get_text, offer, server, server_with, url};
use confab_signal::Config;
use serde_json::json;

#[tokio::test]
async fn metrics_count_rooms_participants_relays_and_rejections() {
    let srv = server().await;
    let (mut a, _) = Peer::joined(&srv, "r", "alice").await;
    let (mut b, _) = Peer::joined(&srv, "r", "bob").await;
    a.expect("user-joined").await;
    a.emit("offer", offer("r", Some("bob"), "x"));
    b.expect("offer").await;
    b.emit("ice-candidate", json!(null));
    b.expect_error("invalid-payload").await;

    let (status, text) = get_text(&srv, "/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "confab_rooms 1",
        "confab_participants 2",
        "confab_relayed_events_total{event=\"offer\"} 1",
        "confab_rejections_total{reason=\"invalid-payload\"} 1",
        "confab_rejections_total{reason=\"room-full\"} 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[tokio::test]
async fn a_ui_without_its_socketio_client_is_refused_not_served_broken() {
    let dir = std::env::temp_dir().join(format!("confab-ui-noclient-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let broken = Config {
        ui_dir: Some(dir.clone()),
        socketio_client_dir: Some(dir.join("missing")),
        ..Config::default()
    };
    // First the UI's generated icons, then the client.
    let problem = broken.guest_page_problem().expect("a problem");
    assert!(problem.contains("icons.js"), "{problem}");
    std::fs::write(
        dir.join(confab_signal::UI_ICONS),
        "export const ICONS = {};",
    )
    .expect("write");
    let problem = broken.guest_page_problem().expect("a problem");
    assert!(problem.contains("socket.io.min.js"), "{problem}");
    let refused = confab_signal::Server::start("127.0.0.1:0".parse().unwrap(), broken).await;
    let err = refused.err().expect("refused");
    assert!(err.to_string().contains("browser guests"), "{err}");
    // No UI at all (API and Socket.IO only, the app's own calls) needs no client.
    let api_only = Config::default();
    assert_eq!(api_only.guest_page_problem(), None);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn the_ui_and_the_socketio_client_are_served_when_configured() {
    let dir = std::env::temp_dir().join(format!("confab-ui-test-{}", std::process::id()));
    let vendor = dir.join("vendor");
    std::fs::create_dir_all(&vendor).expect("temp dir");
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>Confab</title>",
    )
    .expect("write");
    std::fs::write(vendor.join("socket.io.min.js"), "/* client */").expect("write");
    std::fs::write(
        dir.join(confab_signal::UI_ICONS),
        "export const ICONS = {};",
    )
    .expect("write");
    let srv = server_with(Config {
        ui_dir: Some(dir.clone()),
        socketio_client_dir: Some(vendor.clone()),
        ..Config::default()
    })
    .await;
    let (status, body) = get_text(&srv, "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("<title>Confab</title>"));
    let (status, body) = get_text(&srv, "/vendor/socket.io.min.js").await;
    assert_eq!((status, body.as_str()), (200, "/* client */"));
    let (status, _) = get_text(&srv, "/no-such-file").await;
    assert_eq!(status, 404);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn shutdown_disconnects_every_client_and_stops_listening() {
    let srv = server().await;
    let base = url(&srv);
    let (mut a, _) = Peer::joined(&srv, "r", "alice").await;
    let (mut b, _) = Peer::joined(&srv, "r", "bob").await;
    a.expect("user-joined").await;
    srv.shutdown().await.expect("clean shutdown");
    // The server went away, not the participants: nobody is told the other left (their
    // calls go on while they reconnect to the next server).
    a.expect_disconnected().await;
    b.expect_disconnected().await;
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err());
}
