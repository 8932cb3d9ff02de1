//! The receiving side: RTP → H.264 access units (RFC 6184 depacketization via rtc's sample
//! builder) → decoded frames, and RTP → Opus packets (RFC 7587: one packet per RTP payload)
//! → decoded audio.

use std::sync::Arc;
use std::time::Instant;

use rtc::media::io::sample_builder::SampleBuilder;
use rtc::rtp::codec::h264::H264Packet;
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use confab_media::codec::h264::H264Decoder;
use confab_media::codec::opus::OpusDecoder;
use confab_media::frame::{AudioFrame, VideoFrame};

/// How many packets the sample builder may hold back waiting for a late one: enough for
/// NACK retransmissions on a lossy link, small enough not to add visible delay.
const MAX_LATE_PACKETS: u16 = 256;

/// What the receiver reports for each access unit.
#[derive(Debug)]
pub enum Received {
    Frame(VideoFrame),
    Audio(AudioFrame),
    /// The decoder rejected an access unit (corrupt, or a P frame without its reference).
    DecodeError(String),
}

/// Reads a video `track` until it ends, decoding every access unit, and sends the results on
/// `out`. Runs until the track ends or `out` is closed.
pub async fn video(track: Arc<dyn TrackRemote>, out: mpsc::Sender<Received>) {
    let mut builder = SampleBuilder::new(MAX_LATE_PACKETS, H264Packet::default(), 90_000);
    let mut decoder = match H264Decoder::new() {
        Ok(d) => d,
        Err(e) => {
            let _ = out.send(Received::DecodeError(e.to_string())).await;
            return;
        }
    };
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else {
            continue;
        };
        builder.push(Instant::now(), packet);
        while let Some(sample) = builder.pop(Instant::now()) {
            let result = match decoder.decode(&sample.data) {
                Ok(Some(frame)) => Received::Frame(frame),
                Ok(None) => continue,
                Err(e) => Received::DecodeError(e.to_string()),
            };
            if out.send(result).await.is_err() {
                return;
            }
        }
    }
}

/// Reads an audio `track` until it ends, decoding every Opus packet.
pub async fn audio(track: Arc<dyn TrackRemote>, out: mpsc::Sender<Received>) {
    let mut decoder = match OpusDecoder::new() {
        Ok(d) => d,
        Err(e) => {
            let _ = out.send(Received::DecodeError(e.to_string())).await;
            return;
        }
    };
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else {
            continue;
        };
        if packet.payload.is_empty() {
            continue;
        }
        let result = match decoder.decode(&packet.payload) {
            Ok(frame) => Received::Audio(frame),
            Err(e) => Received::DecodeError(e.to_string()),
        };
        if out.send(result).await.is_err() {
            return;
        }
    }
}
