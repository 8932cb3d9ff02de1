//! Calls between hosts in network namespaces (a switch, a server host, two participants'
//! hosts; `common/netns.rs`), through real `confab serve` and `confab join` processes, while
//! a participant's network misbehaves: a 10 s blackout, an address change (a network switch),
//! a network cut for good. Needs root and nftables: run by the README's test command
//! (`cargo test … -- --ignored`), not by a plain `cargo test`.

mod common;

use std::time::{Duration, Instant};

use common::netcall::{SETUP, is, join, media_both_ways, serve, video_from};
use common::netns::{Host, Lan, Recorded};

/// A call between alice and bob on their own hosts; returns once each decodes the other.
fn call(lan: &mut Lan) -> (Host, Recorded, Host, Recorded, Host, Recorded) {
    let server_host = lan.host("srv");
    let server = serve(&server_host);
    let alice_host = lan.host("a");
    let bob_host = lan.host("b");
    let alice = join(&alice_host, &server_host, "alice");
    let bob = join(&bob_host, &server_host, "bob");
    let t0 = Instant::now() - Duration::from_secs(1);
    alice.first_after(t0, SETUP, "alice decoding bob", video_from("bob"));
    bob.first_after(t0, SETUP, "bob decoding alice", video_from("alice"));
    (server_host, server, alice_host, alice, bob_host, bob)
}

#[test]
#[ignore = "needs root and nftables: run by scripts/test.sh"]
fn a_ten_second_blackout_shows_reconnecting_and_media_comes_back_without_leaving() {
    let mut lan = Lan::new("bo");
    let (_sh, _server, _ah, alice, bob_host, bob) = call(&mut lan);

    let dark = Instant::now();
    bob_host.blackout();
    let reconnecting = alice.first_after(dark, Duration::from_secs(10), "bob reconnecting", |v| {
        v["event"] == "participant-state" && v["id"] == "bob" && v["state"] == "reconnecting"
    });
    std::thread::sleep(Duration::from_secs(10).saturating_sub(dark.elapsed()));
    let light = Instant::now();
    bob_host.restore();
    let back = media_both_ways(&alice, &bob, light, Duration::from_secs(20));
    let left = alice.count(dark, Instant::now(), is("participant-left", "id", "bob"));

    let shown = reconnecting - dark;
    let resumed = back - light;
    eprintln!(
        "blackout 10 s: reconnecting shown after {shown:?}; media both ways {resumed:?} after the end"
    );
    assert!(
        shown < Duration::from_secs(5),
        "reconnecting shown after {shown:?}"
    );
    assert!(
        resumed < Duration::from_secs(5),
        "media resumed {resumed:?} after the blackout"
    );
    assert_eq!(left, 0, "bob never left the room");
}

#[test]
#[ignore = "needs root and nftables: run by scripts/test.sh"]
fn a_participant_that_changes_address_comes_back_through_an_ice_restart() {
    let mut lan = Lan::new("mv");
    let (_sh, _server, _ah, alice, mut bob_host, bob) = call(&mut lan);

    let moved = Instant::now();
    bob_host.change_address("10.77.0.200");
    let back = media_both_ways(&alice, &bob, moved, Duration::from_secs(30));
    let resumed = back - moved;
    eprintln!("address change: media both ways {resumed:?} after the move");
    assert!(
        resumed < Duration::from_secs(10),
        "media resumed {resumed:?} after the move"
    );
}

#[test]
#[ignore = "needs root and nftables: run by scripts/test.sh"]
fn a_participant_cut_off_for_good_is_gone_within_fifteen_seconds() {
    let mut lan = Lan::new("cut");
    let (_sh, _server, _ah, alice, bob_host, _bob) = call(&mut lan);
    let cut = Instant::now();
    bob_host.blackout();
    let gone = alice.first_after(
        cut,
        Duration::from_secs(30),
        "bob gone",
        is("participant-left", "id", "bob"),
    );
    let after = gone - cut;
    eprintln!("cut for good: gone after {after:?}");
    assert!(after <= Duration::from_secs(16), "gone after {after:?}");
}
