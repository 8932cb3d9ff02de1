//! Camera and microphone toggles reach the other participant as media state, and video
//! resumes when the camera comes back on.

mod common;

use common::next_where;
use confab_engine::call::{self, CallConfig, CallEvent, Command};
use confab_signal::{Config, Server};

fn frame_from(e: &CallEvent, who: &str) -> Option<u32> {
    match e {
        CallEvent::VideoFrame {
            id, frame_number, ..
        } if id == who => *frame_number,
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muting_is_seen_remotely_and_video_resumes_after_unmuting() {
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());
    let (alice, _alice_events) = call::join(CallConfig::new(&url, "t", "alice"))
        .await
        .expect("alice");
    let (bob, mut bob_events) = call::join(CallConfig::new(&url, "t", "bob"))
        .await
        .expect("bob");

    // Video flows first.
    next_where(&mut bob_events, |e| frame_from(e, "alice").is_some()).await;

    alice.send(Command::SetCamera(false));
    alice.send(Command::SetMic(false));
    let muted = next_where(
        &mut bob_events,
        |e| matches!(e, CallEvent::MediaState { id, video: false, audio: false, .. } if id == "alice"),
    )
    .await;
    assert!(matches!(muted, CallEvent::MediaState { .. }));

    // Camera back on: bob sees the state, then frames again.
    alice.send(Command::SetCamera(true));
    next_where(
        &mut bob_events,
        |e| matches!(e, CallEvent::MediaState { id, video: true, .. } if id == "alice"),
    )
    .await;
    let resumed = next_where(&mut bob_events, |e| frame_from(e, "alice").is_some()).await;
    assert!(frame_from(&resumed, "alice").is_some());

    alice.send(Command::Leave);
    bob.send(Command::Leave);
    server.shutdown().await.expect("server");
}

/// A participant with no camera and no microphone at all (a listener) is seen with both
/// off, so its tile shows "camera off" and its initial instead of an empty black picture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_without_sources_is_seen_with_camera_and_mic_off() {
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());
    let mut listener = CallConfig::new(&url, "t", "carol");
    listener.video_source = None;
    listener.synthetic_audio = false;
    let (carol, _carol_events) = call::join(listener).await.expect("carol");
    let (bob, mut bob_events) = call::join(CallConfig::new(&url, "t", "bob"))
        .await
        .expect("bob");
    let state = next_where(
        &mut bob_events,
        |e| matches!(e, CallEvent::MediaState { id, .. } if id == "carol"),
    )
    .await;
    assert!(
        matches!(
            state,
            CallEvent::MediaState {
                video: false,
                audio: false,
                screen: false,
                ..
            }
        ),
        "{state:?}"
    );
    carol.send(Command::Leave);
    bob.send(Command::Leave);
    server.shutdown().await.expect("server");
}
