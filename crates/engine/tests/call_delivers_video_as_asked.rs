//! What an application receives of the others' video, per `VideoDelivery`, in real calls over
//! loopback: access units only (no decoding here), starting at a keyframe, and a keyframe
//! request from the application reaching the sender; or decoded pictures whose synthetic
//! stamps read back.

mod common;

use std::time::Duration;

use common::next_where;
use confab_engine::call::{self, CallConfig, CallEvent, Command, VideoDelivery};
use confab_media::codec::h264::H264Decoder;
use confab_media::source::synthetic::read_stamp;
use confab_signal::{Config, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_delivery_forwards_access_units_and_keyframe_requests_pictures_decode() {
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());
    let mut a = CallConfig::new(&url, "v", "alice");
    // No periodic keyframes: every keyframe after the first is one somebody asked for.
    a.video.keyframe_interval = 100_000;
    let (alice, _alice_events) = call::join(a).await.expect("alice");

    let mut b = CallConfig::new(&url, "v", "bob");
    b.video_source = None;
    b.video_delivery = VideoDelivery::Encoded;
    let (bob, mut bob_events) = call::join(b).await.expect("bob");

    // Bob's first access unit from alice is a keyframe, and what follows decodes in a
    // decoder of our own (the page's, in the app) into stamped frames. No frame is decoded
    // by the engine itself.
    let mut decoder = H264Decoder::new().expect("decoder");
    let mut units = 0;
    let mut stamped = 0;
    tokio::time::timeout(common::WAIT, async {
        while stamped < 30 {
            match bob_events.recv().await.expect("bob's call") {
                CallEvent::EncodedVideo { id, keyframe, data } if id == "alice" => {
                    assert!(units > 0 || keyframe, "the first access unit is a keyframe");
                    units += 1;
                    if let Some(frame) = decoder.decode(&data).expect("decodes") {
                        assert_eq!((frame.width, frame.height), (640, 480));
                        stamped += usize::from(read_stamp(&frame).is_some());
                    }
                }
                CallEvent::VideoFrame { .. } => panic!("Encoded delivery decoded a frame"),
                CallEvent::Error { message } => panic!("bob: {message}"),
                _ => {}
            }
        }
    })
    .await
    .expect("30 stamped frames from forwarded access units");

    // The application asks for a keyframe (its decoder failed): one arrives well before
    // any periodic one would.
    bob.send(Command::RequestKeyframe("alice".into()));
    let asked = tokio::time::Instant::now();
    next_where(
        &mut bob_events,
        |e| matches!(e, CallEvent::EncodedVideo { id, keyframe: true, .. } if id == "alice"),
    )
    .await;
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "keyframe after {:?}",
        asked.elapsed()
    );

    // Pictures: decoded here and handed over with their pixels.
    let mut c = CallConfig::new(&url, "v", "carol");
    c.video_source = None;
    c.video_delivery = VideoDelivery::Pictures;
    let (carol, mut carol_events) = call::join(c).await.expect("carol");
    let mut pictures = 0;
    tokio::time::timeout(common::WAIT, async {
        while pictures < 10 {
            match carol_events.recv().await.expect("carol's call") {
                CallEvent::Picture { id, frame } if id == "alice" => {
                    assert!(read_stamp(&frame).is_some(), "a stamped picture");
                    pictures += 1;
                }
                CallEvent::EncodedVideo { .. } => {
                    panic!("Pictures delivery forwarded an access unit")
                }
                CallEvent::Error { message } => panic!("carol: {message}"),
                _ => {}
            }
        }
    })
    .await
    .expect("10 pictures");

    for h in [alice, bob, carol] {
        h.send(Command::Leave);
    }
    server.shutdown().await.expect("server");
}
