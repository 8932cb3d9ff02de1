//! Two calls join one room on a real `confab-signal` server over loopback: each decodes the
//! other's synthetic video (stamps readable, frame numbers increasing) and audio, and a chat
//! message arrives exactly once.

mod common;

use common::{Seen, WAIT, until};
use confab_engine::call::{self, CallConfig, CallEvent, Command};
use confab_signal::{Config, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_calls_decode_each_others_video_and_audio_and_chat_once() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONFAB_TEST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());

    let (alice, mut alice_events) = call::join(CallConfig::new(&url, "r", "alice"))
        .await
        .expect("alice joins");
    let mut a = Seen::default();
    // Alice is alone until bob arrives; bob then offers to her.
    let (bob, mut bob_events) = call::join(CallConfig::new(&url, "r", "bob"))
        .await
        .expect("bob joins");
    let mut b = Seen::default();

    let enough = |peer: &'static str| {
        move |s: &Seen| {
            s.frames.get(peer).is_some_and(|f| f.len() >= 45)
                && s.audio.get(peer).is_some_and(|n| *n >= 50)
                && s.channel_open.iter().any(|p| p == peer)
        }
    };
    until(&mut alice_events, &mut a, enough("bob")).await;
    until(&mut bob_events, &mut b, enough("alice")).await;
    for (who, seen) in [("bob", &a), ("alice", &b)] {
        let frames = &seen.frames[who];
        assert!(
            frames.windows(2).all(|w| w[1] > w[0]),
            "frame numbers from {who} must increase: {frames:?}"
        );
    }

    // Statistics: bob's media arriving at alice shows as inbound bitrate and decoded fps.
    until(&mut alice_events, &mut a, |s| {
        s.stats
            .get("bob")
            .is_some_and(|st| st.bitrate_in_bps > 10_000.0 && st.fps > 5.0 && st.frames_decoded > 0)
    })
    .await;
    let mut lat = a.latency.clone();
    lat.sort_unstable();
    assert!(
        lat[lat.len() / 2] < 1000,
        "median glass-to-glass on loopback should be well under a second: {lat:?}"
    );

    alice.send(Command::SendChat("hello <b>bob</b>".into()));
    until(&mut bob_events, &mut b, |s| !s.chat.is_empty()).await;
    // A later message from bob to alice is a barrier: anything duplicated would have arrived.
    bob.send(Command::SendChat("hi alice".into()));
    until(&mut alice_events, &mut a, |s| !s.chat.is_empty()).await;
    alice.send(Command::SendChat("second".into()));
    until(&mut bob_events, &mut b, |s| s.chat.len() >= 2).await;
    assert_eq!(
        b.chat,
        [
            ("alice".to_owned(), "hello <b>bob</b>".to_owned()),
            ("alice".to_owned(), "second".to_owned())
        ]
    );
    assert_eq!(a.chat, [("bob".to_owned(), "hi alice".to_owned())]);

    alice.send(Command::Leave);
    tokio::time::timeout(WAIT, async {
        loop {
            match bob_events.recv().await.expect("bob's call running") {
                CallEvent::ParticipantLeft { id } => {
                    assert_eq!(id, "alice");
                    break;
                }
                CallEvent::Error { message } => panic!("{message}"),
                _ => {}
            }
        }
    })
    .await
    .expect("bob sees alice leave");
    bob.send(Command::Leave);
    server.shutdown().await.expect("server stops");
}
