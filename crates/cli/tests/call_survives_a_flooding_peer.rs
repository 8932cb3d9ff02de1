//! A hostile participant ("mallory": a real webrtc-rs peer connection and Socket.IO client
//! driven by hand, not the engine's call) connects to alice and floods her with what a peer
//! can send: a chat message longer than any client allows, file offers beyond the pending cap
//! and one larger than any disk, thousands of chat messages, keyframe requests in a loop, and
//! signalling events past the server's rate limit — all at once for the floods. Alice and
//! mallory get clear errors and declines with reasons; alice's call with carol goes on with
//! no video gap over 500 ms either way, audible audio, and carol's chat shown exactly once.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::recorder::{Recorder, WAIT, largest_gap, video_from};
use confab_engine::call::{self, AUDIBLE_PEAK, CallConfig, CallEvent, CallHandle, Command};
use confab_engine::link::{Link, LinkConfig, LinkEvent};
use confab_engine::receive::{self, KeyframeRequests, Received, VideoOutput};
use confab_engine::webrtc::data_channel::{DataChannel, DataChannelEvent};
use confab_engine::webrtc::media_stream::track_remote::TrackRemote;
use confab_engine::webrtc::peer_connection::{RTCIceCandidateInit, RTCSessionDescription};
use confab_media::source::VideoSourceSpec;
use confab_signal::protocol::{
    AnswerBody, AppMessage, CandidateBody, Chat, ErrorEvent, FileOffer, IceCandidateInit, JoinRoom,
    OfferBody, SessionDescription, Signal, UserData, event,
};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::{Notify, mpsc};

const ROOM: &str = "flood";
/// Chat messages in mallory's flood: 25 s of the allowed rate, sent as fast as SCTP takes them.
const CHAT_FLOOD: usize = 5_000;
/// How long mallory asks for keyframes, and how often.
const PLI_FLOOD: Duration = Duration::from_secs(3);
const PLI_EVERY: Duration = Duration::from_millis(2);
/// Signalling events mallory sends alice through the server (its limit: 50/s, burst 200).
const SIGNAL_FLOOD: usize = 1_000;

async fn join(url: &str, name: &str) -> (CallHandle, Recorder) {
    let mut config = CallConfig::new(url, ROOM, name);
    // Two encoders and four decoders share two cores in CI: keep the picture small.
    config.video_source = Some(VideoSourceSpec::Synthetic {
        width: 320,
        height: 240,
        sync_marks: false,
    });
    let (handle, events) = call::join(config).await.expect("join");
    (handle, Recorder::start(events))
}

fn error_containing(text: &'static str) -> impl Fn(&CallEvent) -> bool {
    move |e| matches!(e, CallEvent::Error { message } if message.contains(text))
}

/// What mallory saw.
#[derive(Default)]
struct MalloryLog {
    /// Messages alice sent on the data channel.
    messages: Vec<AppMessage>,
    /// Arrival times of alice's keyframes.
    keyframes: Vec<Instant>,
    /// Error events from the server.
    server_errors: Vec<ErrorEvent>,
}

impl MalloryLog {
    /// File offers alice declined with a reason containing `reason`.
    fn declines(&self, reason: &str) -> usize {
        self.messages
            .iter()
            .filter(|m| {
                matches!(m, AppMessage::FileDecline(d)
                    if d.reason.as_deref().is_some_and(|r| r.contains(reason)))
            })
            .count()
    }
}

/// A participant that speaks the protocol by hand, so it can break the rules.
struct Mallory {
    sio: confab_sio::Client,
    channel: Arc<dyn DataChannel>,
    video: Arc<dyn TrackRemote>,
    log: Arc<Mutex<MalloryLog>>,
    changed: Arc<Notify>,
}

impl Mallory {
    /// Joins the room and connects to `target` only; returns once the data channel is open
    /// and `target`'s video arrives.
    async fn join(url: &str, target: &'static str) -> Self {
        let (sio, mut incoming) = confab_sio::connect(url).await.expect("mallory connects");
        let join = JoinRoom {
            room_id: ROOM.into(),
            user_id: "mallory".into(),
            user_data: UserData {
                name: Some("mallory".into()),
            },
            options: Default::default(),
        };
        sio.emit_args(event::JOIN_ROOM, &join.to_args())
            .expect("join-room");
        let (mut link, mut link_events) = Link::new(&LinkConfig::loopback(), true)
            .await
            .expect("mallory's link");
        link.add_video_track("mallory").await.expect("video track");
        link.add_audio_track("mallory").await.expect("audio track");
        let offer = link.local_offer(false).await.expect("offer");
        let signal = |body| Signal {
            room_id: ROOM.into(),
            from: "mallory".into(),
            to: Some(target.into()),
            body,
        };
        sio.emit(
            event::OFFER,
            &signal(OfferBody {
                offer: SessionDescription {
                    kind: "offer".into(),
                    sdp: offer.sdp,
                },
            }),
        )
        .expect("offer");

        let log: Arc<Mutex<MalloryLog>> = Arc::default();
        let changed = Arc::new(Notify::new());
        let channel = link.channel.clone().expect("the offering side's channel");
        let (open_tx, mut open_rx) = mpsc::channel(1);
        let (video_tx, mut video_rx) = mpsc::channel(1);
        let (pc, sio_out, log_in, changed_in) =
            (link.pc.clone(), sio.clone(), log.clone(), changed.clone());
        // Signalling and link events, until the test ends.
        tokio::spawn(async move {
            let _link = link; // keeps the peer connection alive
            loop {
                tokio::select! {
                    Some(incoming) = incoming.recv() => {
                        if let Some(answer) = incoming.arg_of(event::ANSWER) {
                            let a: Signal<AnswerBody> = serde_json::from_value(answer.clone()).expect("answer");
                            let d = RTCSessionDescription::answer(a.body.answer.sdp).expect("answer SDP");
                            pc.set_remote_description(d).await.expect("alice's answer applies");
                        } else if let Some(c) = incoming.arg_of(event::ICE_CANDIDATE) {
                            let c: Signal<CandidateBody> = serde_json::from_value(c.clone()).expect("candidate");
                            if let Some(c) = c.body.candidate {
                                let _ = pc.add_ice_candidate(RTCIceCandidateInit {
                                    candidate: c.candidate,
                                    sdp_mid: c.sdp_mid,
                                    sdp_mline_index: c.sdp_mline_index,
                                    username_fragment: c.username_fragment,
                                    ..Default::default()
                                }).await;
                            }
                        } else if let Some(e) = incoming.arg_of(event::ERROR) {
                            if let Ok(e) = serde_json::from_value::<ErrorEvent>(e.clone()) {
                                log_in.lock().expect("log").server_errors.push(e);
                                changed_in.notify_waiters();
                            }
                        }
                    }
                    Some(e) = link_events.recv() => match e {
                        LinkEvent::Candidate(c) => {
                            let _ = sio_out.emit(event::ICE_CANDIDATE, &Signal {
                                room_id: ROOM.into(),
                                from: "mallory".into(),
                                to: Some(target.into()),
                                body: CandidateBody { candidate: Some(IceCandidateInit {
                                    candidate: c.candidate,
                                    sdp_mid: c.sdp_mid,
                                    sdp_mline_index: c.sdp_mline_index,
                                    username_fragment: c.username_fragment,
                                })},
                            });
                        }
                        LinkEvent::Track(track)
                            if track.kind().await == RtpCodecKind::Video =>
                        {
                            let _ = video_tx.send(track).await;
                        }
                        _ => {}
                    },
                    else => return,
                }
            }
        });
        // The channel: alice's messages, and when it opens.
        let (log_dc, changed_dc, reader) = (log.clone(), changed.clone(), channel.clone());
        tokio::spawn(async move {
            while let Some(e) = reader.poll().await {
                match e {
                    DataChannelEvent::OnOpen => {
                        let _ = open_tx.try_send(());
                    }
                    DataChannelEvent::OnMessage(m) if m.is_string => {
                        if let Ok(msg) = serde_json::from_slice::<AppMessage>(&m.data) {
                            log_dc.lock().expect("log").messages.push(msg);
                            changed_dc.notify_waiters();
                        }
                    }
                    _ => {}
                }
            }
        });
        tokio::time::timeout(WAIT, open_rx.recv())
            .await
            .expect("mallory's channel opens in time");
        let video: Arc<dyn TrackRemote> = tokio::time::timeout(WAIT, video_rx.recv())
            .await
            .expect("alice's video in time")
            .expect("a video track");
        // Alice's video as access units (not decoded): its keyframes are counted.
        let (frames_tx, mut frames_rx) = mpsc::channel(64);
        tokio::spawn(receive::video(
            video.clone(),
            frames_tx,
            VideoOutput {
                decode: false,
                forward: true,
            },
            KeyframeRequests::default(),
        ));
        let (log_kf, changed_kf) = (log.clone(), changed.clone());
        tokio::spawn(async move {
            while let Some(r) = frames_rx.recv().await {
                if let Received::Encoded { keyframe: true, .. } = r {
                    log_kf.lock().expect("log").keyframes.push(Instant::now());
                    changed_kf.notify_waiters();
                }
            }
        });
        let mallory = Self {
            sio,
            channel,
            video,
            log,
            changed,
        };
        mallory
            .until("alice's first keyframe", |l| !l.keyframes.is_empty())
            .await;
        mallory
    }

    async fn send(&self, msg: &AppMessage) {
        self.channel
            .send_text(&msg.to_text())
            .await
            .expect("mallory's channel takes the message");
    }

    async fn until(&self, what: &str, pred: impl Fn(&MalloryLog) -> bool) {
        tokio::time::timeout(WAIT, async {
            loop {
                let wake = self.changed.notified();
                if pred(&self.log.lock().expect("log")) {
                    return;
                }
                wake.await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            let log = self.log.lock().expect("log");
            panic!(
                "mallory: timed out waiting for {what}; alice's messages: {:?}",
                log.messages
            )
        });
    }

    fn keyframes_between(&self, from: Instant, to: Instant) -> usize {
        let log = self.log.lock().expect("log");
        log.keyframes
            .iter()
            .filter(|t| **t >= from && **t <= to)
            .count()
    }
}

fn file_offer(id: &str, size: u64) -> AppMessage {
    AppMessage::FileOffer(FileOffer {
        id: id.into(),
        name: "<img src=x onerror=alert(1)>.txt".into(),
        size,
        sha256: "0".repeat(64),
        mime: "text/plain".into(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_gets_clear_errors_and_the_call_goes_on_for_everyone_else() {
    let (_server, url) = common::local::server().await;
    let (_alice, alice_log) = join(&url, "alice").await;
    let (carol, carol_log) = join(&url, "carol").await;
    let t0 = Instant::now();
    alice_log
        .first_after("alice decoding carol", t0, video_from("carol"))
        .await;
    carol_log
        .first_after("carol decoding alice", t0, video_from("alice"))
        .await;
    let mallory = Mallory::join(&url, "alice").await;

    // A chat message longer than any client allows: refused, with its length.
    let start = Instant::now();
    mallory
        .send(&AppMessage::Chat(Chat {
            id: "long".into(),
            text: "x".repeat(5_000),
            ts: None,
        }))
        .await;
    alice_log
        .first_after(
            "the long message refused",
            start,
            error_containing("mallory is 5000 characters long"),
        )
        .await;

    // Offers past the cap of pending ones, and one larger than any disk: declined, with why.
    mallory.send(&file_offer("huge", 1 << 60)).await;
    for i in 0..20 {
        mallory.send(&file_offer(&format!("f{i}"), 1_000)).await;
    }
    mallory
        .until("12 offers declined as too many, one as too large", |l| {
            l.declines("already waiting for an answer") >= 12
                && l.declines("not enough disk space") == 1
        })
        .await;
    let pending = alice_log
        .matching(start, Instant::now(), |e| {
            matches!(e, CallEvent::Transfer(t)
                if t.peer == "mallory" && t.status == call::TransferStatus::Offered)
        })
        .len();
    assert_eq!(pending, 8, "offers left waiting for alice's answer");

    // The floods, at once.
    let pli_ssrc = mallory.video.ssrcs().await[0];
    let flood_start = Instant::now();
    let chat_flood = async {
        for i in 0..CHAT_FLOOD {
            mallory
                .send(&AppMessage::Chat(Chat {
                    id: format!("m{i}"),
                    text: format!("flood {i}"),
                    ts: None,
                }))
                .await;
            if i == CHAT_FLOOD / 2 {
                carol.send(Command::SendChat("still here".into()));
            }
        }
    };
    let pli_flood = async {
        let mut tick = tokio::time::interval(PLI_EVERY);
        let pli_start = Instant::now();
        while pli_start.elapsed() < PLI_FLOOD {
            tick.tick().await;
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: pli_ssrc,
            };
            mallory
                .video
                .write_rtcp(vec![Box::new(pli)])
                .await
                .expect("mallory's PLI goes out");
        }
        (pli_start, Instant::now())
    };
    let signal_flood = async {
        let mut refused_locally = 0;
        for i in 0..SIGNAL_FLOOD {
            let garbage = Signal {
                room_id: ROOM.into(),
                from: "mallory".into(),
                to: Some("alice".into()),
                body: CandidateBody {
                    candidate: Some(IceCandidateInit {
                        candidate: format!("candidate:{i} garbage"),
                        sdp_mid: None,
                        sdp_mline_index: Some(0),
                        username_fragment: None,
                    }),
                },
            };
            if mallory.sio.emit(event::ICE_CANDIDATE, &garbage).is_err() {
                refused_locally += 1; // the client's own bounded queue was full
            }
            tokio::task::yield_now().await;
        }
        refused_locally
    };
    let ((), (pli_start, pli_end), _) = tokio::join!(chat_flood, pli_flood, signal_flood);
    let flood_end = Instant::now();

    // Alice said what mallory did, and kept the rate.
    alice_log
        .first_after(
            "alice's flooding error",
            flood_start,
            error_containing("mallory sends messages faster than 50 a second"),
        )
        .await;
    alice_log
        .first_after("carol's chat during the flood", flood_start, |e| {
            matches!(e, CallEvent::Chat { from, text, .. } if from == "carol" && text == "still here")
        })
        .await;
    mallory
        .until("the server's rate-limit error", |l| {
            l.server_errors
                .iter()
                .any(|e| e.code == confab_signal::protocol::ErrorCode::RateLimited)
        })
        .await;
    // Everything mallory sent has arrived or been dropped once its last message is answered.
    let settled = Instant::now() + Duration::from_secs(2);
    tokio::time::sleep_until(settled.into()).await; // a window to count in, not a wait for an event
    let flood_secs = (settled - flood_start).as_secs_f64();
    let shown = alice_log
        .matching(
            flood_start,
            settled,
            |e| matches!(e, CallEvent::Chat { from, .. } if from == "mallory"),
        )
        .len();
    let from_carol = alice_log
        .matching(
            flood_start,
            settled,
            |e| matches!(e, CallEvent::Chat { from, .. } if from == "carol"),
        )
        .len();
    let keyframes_flooded = mallory.keyframes_between(pli_start, pli_end);

    // Meanwhile, alice and carol: video both ways without a gap, audio audible.
    let gap_at_carol = largest_gap(&carol_log.frames("alice", flood_start, flood_end));
    let gap_at_alice = largest_gap(&alice_log.frames("carol", flood_start, flood_end));
    let audible_at_carol = carol_log
        .matching(flood_start, flood_end, |e| {
            matches!(e, CallEvent::AudioFrame { id, peak, .. } if id == "alice" && *peak >= AUDIBLE_PEAK)
        })
        .len();
    let expected_audio = (flood_end - flood_start).as_secs_f64() * 50.0;
    eprintln!(
        "flood of {:.1} s: alice showed {shown} of {CHAT_FLOOD} chat messages; {keyframes_flooded} keyframes \
         in {PLI_FLOOD:?} of PLIs every {PLI_EVERY:?}; largest video gap carol<-alice {gap_at_carol:?}, \
         alice<-carol {gap_at_alice:?}; audible audio at carol {audible_at_carol} of ~{expected_audio:.0}",
        (flood_end - flood_start).as_secs_f64()
    );
    let allowed = 200.0 + 50.0 * flood_secs;
    assert!(
        shown as f64 <= allowed && shown >= 100,
        "alice showed {shown} of mallory's messages in {flood_secs:.1} s (allowed: {allowed:.0})"
    );
    assert_eq!(from_carol, 1, "carol's message shown exactly once");
    assert!(
        (4..=12).contains(&keyframes_flooded),
        "{keyframes_flooded} keyframes in {PLI_FLOOD:?} of keyframe requests (one per 300 ms at most)"
    );
    assert!(
        gap_at_carol < Duration::from_millis(500) && gap_at_alice < Duration::from_millis(500),
        "video gaps during the flood: carol<-alice {gap_at_carol:?}, alice<-carol {gap_at_alice:?}"
    );
    assert!(
        audible_at_carol as f64 >= 0.8 * expected_audio,
        "audible audio at carol: {audible_at_carol} frames of ~{expected_audio:.0}"
    );
}
