//! `confab netem` between a participant's host and the switch does to a real call what its
//! profile says, as the call's own statistics measure it: delay shows in the round-trip time,
//! loss in the receiver's loss, a narrow rate caps what arrives — and a perfect profile gives
//! the call back. The congestion-control work measures against this tool, so it is tested
//! first. Needs root and ethtool: run by the README's test command (`-- --ignored`).

mod common;

use std::time::{Duration, Instant};

use common::netcall::{SETUP, join, serve, video_from};
use common::netns::{Lan, Recorded};
use serde_json::Value;

/// How long each profile is measured for (after `SETTLE`).
const MEASURE: Duration = Duration::from_secs(6);
/// Time for queues and the statistics (1 s windows, RTCP every ~1 s) to reflect a change.
const SETTLE: Duration = Duration::from_secs(3);
/// How long the sender's estimate may take to climb from the narrow link's 300 kb/s back
/// above 500 kb/s once the link clears (measured 6.9 s idle, 8.8 s with both cores busy;
/// CI once averaged only 398 kb/s over the 9 s after clearing: GCC ramps up without probing).
const CLIMB_BACK: Duration = Duration::from_secs(40);

/// The `stats` lines `who` printed about participant `of` during the next `MEASURE` after
/// `SETTLE`.
fn measure(who: &Recorded, of: &'static str) -> Vec<Value> {
    std::thread::sleep(SETTLE);
    let from = Instant::now();
    std::thread::sleep(MEASURE);
    let lines = who.json_between(from, Instant::now(), |v| {
        v["event"] == "stats" && v["id"] == of
    });
    assert!(
        lines.len() >= 4,
        "stats about {of} every second, got {} lines",
        lines.len()
    );
    lines
}

fn median(lines: &[Value], key: &str) -> f64 {
    let mut values: Vec<f64> = lines.iter().filter_map(|v| v[key].as_f64()).collect();
    assert!(!values.is_empty(), "no {key} in {lines:?}");
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn mean(lines: &[Value], key: &str) -> f64 {
    let values: Vec<f64> = lines.iter().filter_map(|v| v[key].as_f64()).collect();
    assert!(!values.is_empty(), "no {key} in {lines:?}");
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
#[ignore = "needs root and ethtool: run by scripts/test.sh"]
fn the_link_emulator_delays_loses_and_narrows_a_real_call() {
    let mut lan = Lan::new("em");
    let server_host = lan.host("srv");
    let _server = serve(&server_host);
    let alice_host = lan.host("a");
    let (bob_host, mut link) = lan.host_behind_link("b", "none", "none");
    let alice = join(&alice_host, &server_host, "alice");
    let bob = join(&bob_host, &server_host, "bob");
    let t0 = Instant::now() - Duration::from_secs(1);
    alice.first_after(t0, SETUP, "alice decoding bob", video_from("bob"));
    bob.first_after(t0, SETUP, "bob decoding alice", video_from("alice"));

    let clear_rtt = median(&measure(&alice, "bob"), "rtt_ms");
    let clear = measure(&bob, "alice");
    let clear_rate = mean(&clear, "bitrate_in_bps");
    let clear_loss = mean(&clear, "loss");

    link.set("both", "delay=100ms");
    let delayed_rtt = median(&measure(&alice, "bob"), "rtt_ms");

    link.set("both", "none");
    let before = link.stats();
    link.set("down", "loss=10%");
    let loss = mean(&measure(&bob, "alice"), "loss");
    let after = link.stats();
    let count = |s: &Value, key: &str| s["down"][key].as_u64().expect("counter") as f64;
    let dropped = 1.0
        - (count(&after, "sent") - count(&before, "sent"))
            / (count(&after, "received") - count(&before, "received"));

    link.set("down", "rate=300kbit,queue=50");
    let narrow_rate = mean(&measure(&bob, "alice"), "bitrate_in_bps");

    link.set("down", "none");
    let back = Instant::now();
    bob.first_after(
        back,
        Duration::from_secs(10),
        "alice's video after the link cleared",
        video_from("alice"),
    );
    // The estimator climbs back from the narrow link's rate multiplicatively (GCC: about
    // 8 % a second without probing), so the time to get back above 500 kb/s depends on the
    // machine's load: a 9 s window's mean was 398 kb/s once on CI's 2 cores. What must hold
    // is that it does climb back, within a bound.
    let climbed = bob.first_after(back, CLIMB_BACK, "alice's video back above 500 kb/s", |v| {
        v["event"] == "stats" && v["id"] == "alice" && v["bitrate_in_bps"].as_f64() > Some(500e3)
    });
    let climb_secs = (climbed - back).as_secs_f64();
    let back_rate = mean(&measure(&bob, "alice"), "bitrate_in_bps");

    let stats = link.stats();
    eprintln!(
        "clear: rtt {clear_rtt:.1} ms, {:.0} kb/s in; delay 100 ms each way: rtt {delayed_rtt:.1} ms; \
         10 % loss down: {:.1} % dropped, receiver measured {:.1} % (clear: {:.2} %); 300 kbit/s down: {:.0} kb/s in; cleared: above 500 kb/s after {climb_secs:.1} s, then {:.0} kb/s in; \
         emulator {stats}",
        clear_rate / 1e3,
        dropped * 100.0,
        loss * 100.0,
        clear_loss * 100.0,
        narrow_rate / 1e3,
        back_rate / 1e3
    );
    assert!(clear_rtt < 20.0, "rtt on a clear link {clear_rtt} ms");
    assert!(
        (195.0..300.0).contains(&delayed_rtt),
        "rtt with 100 ms each way: {delayed_rtt} ms"
    );
    assert!(
        (0.06..0.14).contains(&dropped),
        "the emulator dropped {dropped}"
    );
    // What the receiver counts as lost is visible but less than what was dropped: NACKed
    // packets come again and fill most gaps (measured 2.0-2.8 % of the 8 % dropped; a
    // fixed lower bound of 2 % failed at 1.98 %).
    assert!(
        loss > 0.005 && loss < dropped && clear_loss < 0.005,
        "measured loss {loss} of {dropped} dropped (clear link: {clear_loss})"
    );
    assert!(
        clear_rate > 500e3,
        "alice's video on a clear link: {clear_rate} b/s"
    );
    assert!(
        narrow_rate < 330e3 && narrow_rate > 100e3,
        "through 300 kbit/s: {narrow_rate} b/s"
    );
    assert!(
        back_rate > narrow_rate * 1.5,
        "after the link cleared: {back_rate} b/s (narrow: {narrow_rate} b/s)"
    );
    for direction in ["up", "down"] {
        assert_eq!(stats[direction]["send_errors"], 0, "{stats}");
        assert_eq!(stats[direction]["overflowed"], 0, "{stats}");
        assert!(stats[direction]["sent"].as_u64() > Some(1_000), "{stats}");
    }
}
