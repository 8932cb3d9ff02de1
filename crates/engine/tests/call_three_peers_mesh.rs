//! Three calls in one room form a full mesh: each decodes the synthetic video of both others
//! with readable stamps in increasing order, and a chat message reaches both others once.

mod common;

use common::{Seen, until};
use confab_engine::call::{self, CallConfig, Command};
use confab_media::source::VideoSourceSpec;
use confab_signal::{Config, Server};

const NAMES: [&str; 3] = ["ann", "ben", "cat"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_calls_each_decode_both_others() {
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());
    let mut calls = Vec::new();
    for name in NAMES {
        let mut config = CallConfig::new(&url, "mesh", name);
        // Three encoders and six decoders share two cores in CI: keep the picture small.
        config.video_source = Some(VideoSourceSpec::Synthetic {
            width: 320,
            height: 240,
            sync_marks: false,
        });
        let (handle, events) = call::join(config).await.expect("join");
        calls.push((name, handle, events, Seen::default()));
    }
    for (me, _, events, seen) in &mut calls {
        let others: Vec<&str> = NAMES.iter().copied().filter(|n| n != me).collect();
        until(events, seen, |s| {
            others.iter().all(|o| {
                s.frames.get(*o).is_some_and(|f| f.len() >= 20)
                    && s.audio.get(*o).is_some_and(|n| *n >= 20)
            })
        })
        .await;
        for o in &others {
            let f = &seen.frames[*o];
            assert!(f.windows(2).all(|w| w[1] > w[0]), "{me} from {o}: {f:?}");
        }
    }

    calls[0].1.send(Command::SendChat("hi all".into()));
    for (_, _, events, seen) in calls.iter_mut().skip(1) {
        until(events, seen, |s| !s.chat.is_empty()).await;
    }
    // A second message as a barrier: a duplicate of the first would have arrived before it.
    calls[0].1.send(Command::SendChat("again".into()));
    for (me, _, events, seen) in calls.iter_mut().skip(1) {
        until(events, seen, |s| s.chat.len() >= 2).await;
        assert_eq!(
            seen.chat,
            [
                ("ann".to_owned(), "hi all".to_owned()),
                ("ann".to_owned(), "again".to_owned())
            ],
            "{me}"
        );
    }
    for (_, handle, _, _) in &calls {
        handle.send(Command::Leave);
    }
    server.shutdown().await.expect("server");
}
