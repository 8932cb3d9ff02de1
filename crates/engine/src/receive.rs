//! The receiving side: RTP → H.264 access units (`assemble`) → decoded frames, and RTP → Opus packets (RFC 7587: one packet per RTP payload)
//! → decoded audio.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use tokio::sync::{Notify, mpsc};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use crate::assemble::{Assembled, FrameAssembler};
use confab_media::codec::h264::{H264Decoder, is_keyframe};
use confab_media::codec::opus::OpusDecoder;
use confab_media::frame::{AudioFrame, VideoFrame};

/// How long a frame with a missing packet waits for its retransmission (NACK) before it is
/// given up and a keyframe asked for: a retransmission takes a round trip plus the NACK
/// generator's 100 ms tick, a keyframe more. At 200 ms, a link with a 200 ms round trip and
/// 3 % loss gave up nearly every loss (8.7 fps, 21 freezes in 20 s: `bench/impaired.mjs`).
const MAX_REASSEMBLY_WAIT: Duration = Duration::from_millis(500);
/// A receiver that cannot decode asks for a keyframe (PLI) at most this often: the keyframe
/// takes a round trip to arrive, and asking again meanwhile only costs the sender bitrate.
const PLI_INTERVAL: Duration = Duration::from_millis(500);

/// What the receiver reports for each access unit.
#[derive(Debug)]
pub enum Received {
    Frame(VideoFrame),
    Audio(AudioFrame),
    /// An access unit as it arrived, for an application that decodes it itself (only when
    /// asked for, and only from the first keyframe on).
    Encoded {
        data: Arc<[u8]>,
        keyframe: bool,
    },
    /// The decoder rejected an access unit (corrupt, or a P frame without its reference).
    DecodeError(String),
}

/// What a video receiver reports of each access unit.
#[derive(Debug, Clone, Copy)]
pub struct VideoOutput {
    /// Decode here: `Received::Frame` (and decode errors, which ask for a keyframe).
    pub decode: bool,
    /// Report the access units themselves (`Received::Encoded`).
    pub forward: bool,
}

/// How a video receiver is told to ask its sender for a keyframe (PLI; at most one per
/// [`PLI_INTERVAL`] whoever asks).
#[derive(Clone, Default)]
pub struct KeyframeRequests {
    /// Whoever decodes the forwarded access units could not: the receiver skips to the next
    /// keyframe (forwarding nothing until then) and asks for one.
    pub restart: Arc<Notify>,
    /// Someone beside the main consumer needs one (a recording that lost access units): the
    /// receiver asks, and goes on forwarding what comes meanwhile.
    pub ask: Arc<Notify>,
}

/// Reads a video `track` until it ends and sends what `output` asks for on `out`, from the
/// first keyframe on. Runs until the track ends or `out` is closed; `requests` make it ask
/// the sender for a keyframe.
pub async fn video(
    track: Arc<dyn TrackRemote>,
    out: mpsc::Sender<Received>,
    output: VideoOutput,
    requests: KeyframeRequests,
) {
    let mut assembler = FrameAssembler::new(MAX_REASSEMBLY_WAIT);
    let decoder = if output.decode {
        H264Decoder::new().map(Some).map_err(|e| e.to_string())
    } else {
        Ok(None)
    };
    // Until the first keyframe there is nothing to decode against: what arrives before it
    // (the sender's frames in flight when we connected) is skipped, not reported as errors.
    // The same after a lost frame: what follows references it.
    let mut started = false;
    pump(
        track,
        out,
        decoder,
        Some(requests),
        move |decoder, input| {
            let mut results = Vec::new();
            let mut wants_keyframe = false;
            let packet = match input {
                Input::Packet(packet) => packet,
                Input::KeyframeWanted { restart } => {
                    started = started && !restart;
                    return (results, true);
                }
            };
            for assembled in assembler.push(Instant::now(), packet) {
                let data = match assembled {
                    Assembled::Frame { data, .. } => data,
                    Assembled::Lost => {
                        started = false;
                        continue;
                    }
                };
                started = started || is_keyframe(&data);
                if !started {
                    // The keyframe to start from was missed (lost, sent before this track was
                    // read, or a frame since was lost): ask for another.
                    wants_keyframe = true;
                    continue;
                }
                if output.forward {
                    results.push(Received::Encoded {
                        data: Arc::from(data.as_slice()),
                        keyframe: is_keyframe(&data),
                    });
                }
                let Some(decoder) = decoder.as_mut() else {
                    continue;
                };
                match decoder.decode(&data) {
                    Ok(Some(frame)) => results.push(Received::Frame(frame)),
                    Ok(None) => {}
                    Err(e) => {
                        wants_keyframe = true;
                        started = false;
                        results.push(Received::DecodeError(e.to_string()));
                    }
                }
            }
            (results, wants_keyframe)
        },
    )
    .await;
}

/// Reads an audio `track` until it ends, decoding every Opus packet.
pub async fn audio(track: Arc<dyn TrackRemote>, out: mpsc::Sender<Received>) {
    let decoder = OpusDecoder::new().map_err(|e| e.to_string());
    pump(track, out, decoder, None, |decoder, input| {
        let Input::Packet(packet) = input else {
            return (Vec::new(), false);
        };
        if packet.payload.is_empty() {
            return (Vec::new(), false);
        }
        let result = match decoder.decode(&packet.payload) {
            Ok(frame) => Received::Audio(frame),
            Err(e) => Received::DecodeError(e.to_string()),
        };
        (vec![result], false)
    })
    .await;
}

/// What the receiver's decode step is handed.
enum Input {
    Packet(rtc::rtp::Packet),
    /// A keyframe is wanted ([`KeyframeRequests`]); `restart` when what was forwarded could
    /// not be decoded.
    KeyframeWanted {
        restart: bool,
    },
}

/// Hands every RTP packet of `track` to `decode` and forwards what it produces, until the
/// track ends or `out` is closed. A decoder that could not be created is reported once.
/// `decode` also says whether the sender should be asked for a keyframe (PLI).
async fn pump<D>(
    track: Arc<dyn TrackRemote>,
    out: mpsc::Sender<Received>,
    decoder: Result<D, String>,
    keyframe_requests: Option<KeyframeRequests>,
    mut decode: impl FnMut(&mut D, Input) -> (Vec<Received>, bool),
) {
    let mut last_pli: Option<Instant> = None;
    let mut decoder = match decoder {
        Ok(d) => d,
        Err(e) => {
            let _ = out.send(Received::DecodeError(e)).await;
            return;
        }
    };
    let mut ssrc = None;
    loop {
        let input = tokio::select! {
            event = track.poll() => match event {
                Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                    ssrc = Some(packet.header.ssrc);
                    Input::Packet(packet)
                }
                Some(_) => continue,
                None => break,
            },
            restart = wanted(&keyframe_requests) => Input::KeyframeWanted { restart },
        };
        let (results, wants_keyframe) = decode(&mut decoder, input);
        let Some(ssrc) = ssrc else {
            continue; // nothing received yet: nobody to ask
        };
        if wants_keyframe && last_pli.is_none_or(|t| t.elapsed() >= PLI_INTERVAL) {
            last_pli = Some(Instant::now());
            let request = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            };
            if let Err(e) = track.write_rtcp(vec![Box::new(request)]).await {
                tracing::debug!("PLI: {e}");
            }
        }
        for result in results {
            if out.send(result).await.is_err() {
                return;
            }
        }
    }
}

/// Resolves when one of `requests` is notified (true: a restart); never without them.
async fn wanted(requests: &Option<KeyframeRequests>) -> bool {
    match requests {
        Some(r) => tokio::select! {
            () = r.restart.notified() => true,
            () = r.ask.notified() => false,
        },
        None => std::future::pending().await,
    }
}
