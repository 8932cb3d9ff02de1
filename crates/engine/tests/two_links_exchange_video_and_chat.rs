//! Two real webrtc-rs peer connections over 127.0.0.1 with trickle ICE: the synthetic pattern
//! goes through openh264, RTP, the network, depacketization and openh264 again, and arrives
//! with every stamp readable and frame numbers increasing; a chat message crosses the shared
//! data channel exactly once.

use std::sync::Arc;
use std::time::Duration;

use confab_engine::link::{Link, LinkConfig, LinkEvent};
use confab_engine::receive::{self, Received};
use confab_engine::webrtc::data_channel::DataChannelEvent;
use confab_engine::webrtc::peer_connection::RTCPeerConnectionState;
use confab_media::codec::h264::{H264Encoder, H264Settings};
use confab_media::source::synthetic::{TestPattern, read_stamp};
use tokio::sync::mpsc;

const FRAMES: usize = 90;
const WAIT: Duration = Duration::from_secs(20);

/// Forwards candidates from one link to the other and reports its connection states.
fn trickle(
    mut events: mpsc::Receiver<LinkEvent>,
    remote: Arc<dyn confab_engine::webrtc::peer_connection::PeerConnection>,
    states: mpsc::UnboundedSender<RTCPeerConnectionState>,
    tracks: Option<mpsc::UnboundedSender<LinkEvent>>,
) {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                LinkEvent::Candidate(c) => {
                    remote
                        .add_ice_candidate(c)
                        .await
                        .expect("remote accepts our candidate");
                }
                LinkEvent::State(s) => {
                    let _ = states.send(s);
                }
                e @ (LinkEvent::Track(_)
                | LinkEvent::DataChannel(_)
                | LinkEvent::KeyframeRequest) => {
                    if let Some(t) = &tracks {
                        let _ = t.send(e);
                    }
                }
                _ => {}
            }
        }
    });
}

async fn wait_connected(states: &mut mpsc::UnboundedReceiver<RTCPeerConnectionState>) {
    tokio::time::timeout(WAIT, async {
        while let Some(s) = states.recv().await {
            assert_ne!(s, RTCPeerConnectionState::Failed, "connection failed");
            if s == RTCPeerConnectionState::Connected {
                return;
            }
        }
        panic!("state stream ended before connecting");
    })
    .await
    .expect("connected in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_and_chat_cross_a_loopback_peer_connection() {
    let (mut alice, alice_events) = Link::new(&LinkConfig::loopback(), true)
        .await
        .expect("alice");
    let (bob, bob_events) = Link::new(&LinkConfig::loopback(), false)
        .await
        .expect("bob");
    alice.add_video_track("alice").await.expect("video track");

    // Candidates gathered so far wait in the event channels; forwarding starts once both
    // sides hold the other's description, as a signalling server's ordering guarantees.
    let (_alice_other, mut b_tracks) = connect(&alice, alice_events, &bob, bob_events).await;
    let offer = alice.pc.local_description().await.expect("alice's offer");
    assert!(
        offer.sdp.contains("profile-level-id=42e01f"),
        "H.264 42e01f offered"
    );

    // Bob adopts the channel alice opened; chat goes over it once both ends report it open.
    let LinkEvent::DataChannel(bob_channel) = tokio::time::timeout(WAIT, b_tracks.recv())
        .await
        .expect("bob is offered alice's channel")
        .expect("event")
    else {
        panic!("the channel comes before any track: alice sends no media yet");
    };
    let alice_channel = alice
        .channel
        .clone()
        .expect("the offerer opened the channel");
    for channel in [&alice_channel, &bob_channel] {
        if matches!(
            channel.ready_state().await,
            Ok(confab_engine::webrtc::data_channel::RTCDataChannelState::Open)
        ) {
            continue;
        }
        tokio::time::timeout(WAIT, async {
            while let Some(e) = channel.poll().await {
                if matches!(e, DataChannelEvent::OnOpen) {
                    return;
                }
            }
        })
        .await
        .expect("data channel opens");
    }
    alice_channel
        .send_text(r#"{"t":"chat","id":"m1","text":"hello bob","ts":0}"#)
        .await
        .expect("send chat");

    // Bob's side: the track, decoded into frames.
    let (frames_tx, mut frames) = mpsc::channel(256);
    let sender = tokio::spawn({
        let mut pattern = TestPattern::new(640, 480);
        let mut encoder = H264Encoder::new(H264Settings::default()).expect("encoder");
        async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(33));
            for _ in 0..FRAMES {
                ticker.tick().await;
                let frame = pattern.next_frame();
                if let Some(au) = encoder.encode(&frame).expect("encode") {
                    alice
                        .send_video(&au, Duration::from_millis(33))
                        .await
                        .expect("send");
                }
            }
            alice
        }
    });
    let track = tokio::time::timeout(WAIT, b_tracks.recv())
        .await
        .expect("bob sees alice's track")
        .expect("track event");
    let LinkEvent::Track(track) = track else {
        unreachable!()
    };
    tokio::spawn(receive::video(
        track,
        frames_tx,
        receive::VideoOutput {
            decode: true,
            forward: false,
        },
        Default::default(),
    ));

    let mut last = None;
    let mut decoded = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    while decoded < FRAMES - 10 {
        let got = tokio::time::timeout_at(deadline, frames.recv())
            .await
            .unwrap_or_else(|_| panic!("only {decoded} frames decoded in time"))
            .expect("receiver running");
        match got {
            Received::Frame(f) => {
                let stamp = read_stamp(&f).expect("every decoded frame carries a valid stamp");
                if let Some(prev) = last {
                    assert!(
                        stamp.frame_number > prev,
                        "{} after {prev}",
                        stamp.frame_number
                    );
                }
                last = Some(stamp.frame_number);
                decoded += 1;
            }
            Received::DecodeError(e) => panic!("decode error: {e}"),
            Received::Audio(_) => unreachable!("no audio track was added"),
            Received::Encoded { .. } => unreachable!("access units were not asked for"),
        }
    }

    let msg = tokio::time::timeout(WAIT, async {
        while let Some(e) = bob_channel.poll().await {
            if let DataChannelEvent::OnMessage(m) = e {
                return m;
            }
        }
        panic!("channel ended");
    })
    .await
    .expect("chat arrives");
    let v: serde_json::Value = serde_json::from_slice(&msg.data).expect("JSON");
    assert_eq!(v["text"], "hello bob");

    let alice = sender.await.expect("sender task");
    alice.pc.close().await.expect("close");
    bob.pc.close().await.expect("close");
}

/// Offer from `alice`, answer from `bob`, candidates trickled both ways; returns the other
/// events of each side (tracks, channels, keyframe requests) once both are connected.
async fn connect(
    alice: &Link,
    alice_events: mpsc::Receiver<LinkEvent>,
    bob: &Link,
    bob_events: mpsc::Receiver<LinkEvent>,
) -> (
    mpsc::UnboundedReceiver<LinkEvent>,
    mpsc::UnboundedReceiver<LinkEvent>,
) {
    let offer = alice.pc.create_offer(None).await.expect("offer");
    alice
        .pc
        .set_local_description(offer.clone())
        .await
        .expect("set offer");
    bob.pc.set_remote_description(offer).await.expect("offer");
    let answer = bob.pc.create_answer(None).await.expect("answer");
    bob.pc
        .set_local_description(answer.clone())
        .await
        .expect("set answer");
    alice
        .pc
        .set_remote_description(answer)
        .await
        .expect("answer");
    let (a_states_tx, mut a_states) = mpsc::unbounded_channel();
    let (b_states_tx, mut b_states) = mpsc::unbounded_channel();
    let (a_other_tx, a_other) = mpsc::unbounded_channel();
    let (b_other_tx, b_other) = mpsc::unbounded_channel();
    trickle(alice_events, bob.pc.clone(), a_states_tx, Some(a_other_tx));
    trickle(bob_events, alice.pc.clone(), b_states_tx, Some(b_other_tx));
    wait_connected(&mut a_states).await;
    wait_connected(&mut b_states).await;
    (a_other, b_other)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_loss_indication_from_the_receiver_reaches_the_sender() {
    let (mut alice, alice_events) = Link::new(&LinkConfig::loopback(), true)
        .await
        .expect("alice");
    let (bob, bob_events) = Link::new(&LinkConfig::loopback(), false)
        .await
        .expect("bob");
    alice.add_video_track("alice").await.expect("video track");
    let (mut alice_other, mut bob_other) = connect(&alice, alice_events, &bob, bob_events).await;

    // Bob learns of the track with its first packets.
    let mut pattern = TestPattern::new(320, 240);
    let mut encoder = H264Encoder::new(H264Settings::default()).expect("encoder");
    let track = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(au) = encoder.encode(&pattern.next_frame()).expect("encode") {
                alice
                    .send_video(&au, Duration::from_millis(33))
                    .await
                    .expect("send");
            }
            tokio::select! {
                Some(LinkEvent::Track(track)) = bob_other.recv() => return track,
                _ = tokio::time::sleep(Duration::from_millis(33)) => {}
            }
        }
    })
    .await
    .expect("bob sees alice's track");

    let ssrc = *track.ssrcs().await.first().expect("the track's SSRC");
    track
        .write_rtcp(vec![Box::new(
            rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            },
        )])
        .await
        .expect("PLI sent");
    tokio::time::timeout(WAIT, async {
        loop {
            match alice_other.recv().await.expect("alice's link running") {
                LinkEvent::KeyframeRequest => return,
                _ => continue,
            }
        }
    })
    .await
    .expect("alice is asked for a keyframe");
}

/// A receiver that joined after the sender's keyframe (here: the keyframe is never sent)
/// has nothing to decode against; it must ask for a keyframe itself, or its picture never
/// starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_missed_the_keyframe_asks_for_one() {
    let (mut alice, alice_events) = Link::new(&LinkConfig::loopback(), true)
        .await
        .expect("alice");
    let (bob, bob_events) = Link::new(&LinkConfig::loopback(), false)
        .await
        .expect("bob");
    alice.add_video_track("alice").await.expect("video track");
    let (mut alice_other, mut bob_other) = connect(&alice, alice_events, &bob, bob_events).await;

    let mut pattern = TestPattern::new(320, 240);
    let mut encoder = H264Encoder::new(H264Settings::default()).expect("encoder");
    let keyframe = encoder.encode(&pattern.next_frame()).expect("encode");
    assert!(
        keyframe.is_some_and(|au| au.keyframe),
        "the dropped frame is the keyframe"
    );
    let (frames_tx, _frames) = mpsc::channel(256);
    let mut receiving = false;
    // Only P frames go out; bob's receiver (not the test) must send the PLI.
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(au) = encoder.encode(&pattern.next_frame()).expect("encode") {
                assert!(!au.keyframe, "nobody asked for a keyframe yet");
                alice
                    .send_video(&au, Duration::from_millis(33))
                    .await
                    .expect("send");
            }
            tokio::select! {
                Some(event) = bob_other.recv(), if !receiving => {
                    if let LinkEvent::Track(track) = event {
                        tokio::spawn(receive::video(
                            track,
                            frames_tx.clone(),
                            receive::VideoOutput {
                                decode: true,
                                forward: false,
                            },
                            Default::default(),
                        ));
                        receiving = true;
                    }
                }
                Some(event) = alice_other.recv() => {
                    if matches!(event, LinkEvent::KeyframeRequest) {
                        return;
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(33)) => {}
            }
        }
    })
    .await
    .expect("bob's receiver asks alice for a keyframe");
}
