//! The video bitrate cap changed during a call (the settings panel's "Video bitrate cap", the
//! CLI's `--max-bitrate`) is what the other side then receives: alice sends at the default
//! 1 Mb/s, is capped at 150 kb/s, and bob's measured inbound rate from her falls to match.

mod common;

use common::{Seen, next_where, until};
use confab_engine::call::{self, CallConfig, CallEvent, Command};
use confab_signal::{Config, Server};

/// Video capped here, plus Opus at 32 kb/s and RTP/SRTP overhead, with room for the encoder's
/// rate control overshooting a little.
const CAP_BPS: u32 = 150_000;
const CAPPED_CEILING_BPS: f64 = 300_000.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bitrate_cap_set_mid_call_is_what_the_other_side_receives() {
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());
    let (alice, _alice_events) = call::join(CallConfig::new(&url, "cap", "alice"))
        .await
        .expect("alice joins");
    let mut bob_config = CallConfig::new(&url, "cap", "bob");
    bob_config.video_source = None;
    let (bob, mut bob_events) = call::join(bob_config).await.expect("bob joins");

    // Uncapped first: well above what the cap will allow.
    let mut seen = Seen::default();
    until(&mut bob_events, &mut seen, |s| {
        s.stats
            .get("alice")
            .is_some_and(|st| st.bitrate_in_bps > 2.0 * CAPPED_CEILING_BPS)
    })
    .await;

    alice.send(Command::SetMaxBitrate(CAP_BPS));
    // Stats arrive once a second; the encoder settles within a few. Three in a row under the
    // ceiling, within 20 reports.
    let mut rates = Vec::new();
    let mut under_in_a_row = 0;
    while under_in_a_row < 3 && rates.len() < 20 {
        let CallEvent::Stats { stats, .. } = next_where(
            &mut bob_events,
            |e| matches!(e, CallEvent::Stats { id, .. } if id == "alice"),
        )
        .await
        else {
            unreachable!("next_where returned what it was asked for")
        };
        rates.push(stats.bitrate_in_bps.round());
        under_in_a_row = if stats.bitrate_in_bps < CAPPED_CEILING_BPS {
            under_in_a_row + 1
        } else {
            0
        };
    }
    assert_eq!(
        under_in_a_row, 3,
        "bob's inbound rate from alice after the cap (bit/s, one a second): {rates:?}"
    );
    // Still video, not silence: frames keep arriving at the lower rate.
    let before = seen.frames.get("alice").map_or(0, Vec::len);
    until(&mut bob_events, &mut seen, |s| {
        s.frames.get("alice").map_or(0, Vec::len) >= before + 30
    })
    .await;

    alice.send(Command::Leave);
    bob.send(Command::Leave);
    server.shutdown().await.expect("server");
}
