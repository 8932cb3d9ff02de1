//! The joiner offers; when it sends no media, the first offer has no audio or video m-line
//! for the media of those already in the room. They renegotiate to add it: a media-less
//! latecomer still sees and hears the participant who was there first, and chat works both
//! ways over the same data channel.

mod common;

use common::next_where;
use confab_engine::call::{self, CallConfig, CallEvent, Command};
use confab_signal::{Config, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_less_latecomer_receives_the_media_of_whoever_was_there_first() {
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());
    let (alice, mut alice_events) = call::join(CallConfig::new(&url, "r", "alice"))
        .await
        .expect("alice");
    next_where(&mut alice_events, |e| matches!(e, CallEvent::Joined { .. })).await;

    let mut b = CallConfig::new(&url, "r", "bob");
    b.video_source = None;
    b.synthetic_audio = false;
    let (bob, mut bob_events) = call::join(b).await.expect("bob");

    let frame = next_where(
        &mut bob_events,
        |e| matches!(e, CallEvent::VideoFrame { id, frame_number: Some(_), .. } if id == "alice"),
    )
    .await;
    assert!(matches!(frame, CallEvent::VideoFrame { width: 640, .. }));
    next_where(
        &mut bob_events,
        |e| matches!(e, CallEvent::AudioFrame { id, peak, .. } if id == "alice" && *peak > 1000),
    )
    .await;

    // The pair's one channel survived the renegotiation.
    bob.send(Command::SendChat("hi alice".into()));
    alice.send(Command::SendChat("hi bob".into()));
    next_where(
        &mut alice_events,
        |e| matches!(e, CallEvent::Chat { from, text, .. } if from == "bob" && text == "hi alice"),
    )
    .await;
    next_where(
        &mut bob_events,
        |e| matches!(e, CallEvent::Chat { from, text, .. } if from == "alice" && text == "hi bob"),
    )
    .await;

    alice.send(Command::Leave);
    bob.send(Command::Leave);
    server.shutdown().await.expect("server");
}
