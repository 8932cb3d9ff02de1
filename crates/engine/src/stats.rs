//! Connection statistics per participant, from webrtc-rs's W3C stats report: totals are read
//! once a second and turned into rates against the previous reading.

use std::time::Instant;

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::statistics::report::{RTCStatsReport, RTCStatsReportEntry};

/// RTP clock rates of what Confab receives (codecs.rs): H.264 and Opus.
const VIDEO_CLOCK_HZ: f64 = 90_000.0;
const AUDIO_CLOCK_HZ: f64 = 48_000.0;

/// Inbound jitter in seconds. webrtc-rs 0.21 reports the RTCP receiver report's figure as is,
/// in RTP timestamp units, although its field says seconds (98 read as 98 s for video).
fn jitter_seconds(kind: RtpCodecKind, reported: f64) -> f64 {
    match kind {
        RtpCodecKind::Audio => reported / AUDIO_CLOCK_HZ,
        _ => reported / VIDEO_CLOCK_HZ,
    }
}

/// Cumulative counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub packets_in: u64,
    pub packets_lost: i64,
    /// Largest inbound jitter over the streams, seconds.
    pub jitter: f64,
    /// Current round-trip time of the nominated candidate pair, seconds.
    pub rtt: Option<f64>,
}

impl Totals {
    pub fn from_report(report: &RTCStatsReport) -> Self {
        let mut t = Totals::default();
        for entry in report.iter() {
            match entry {
                RTCStatsReportEntry::InboundRtp(s) => {
                    t.bytes_in += s.bytes_received;
                    let r = &s.received_rtp_stream_stats;
                    t.packets_in += r.packets_received;
                    t.packets_lost += r.packets_lost;
                    t.jitter = t
                        .jitter
                        .max(jitter_seconds(r.rtp_stream_stats.kind, r.jitter));
                }
                RTCStatsReportEntry::OutboundRtp(s) => {
                    t.bytes_out += s.sent_rtp_stream_stats.bytes_sent;
                }
                RTCStatsReportEntry::IceCandidatePair(p)
                    if p.nominated && p.current_round_trip_time > 0.0 =>
                {
                    t.rtt = Some(p.current_round_trip_time);
                }
                _ => {}
            }
        }
        t
    }
}

/// What the UI and the report show for one participant.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct ParticipantStats {
    pub bitrate_in_bps: f64,
    pub bitrate_out_bps: f64,
    pub rtt_ms: Option<f64>,
    /// Lost ÷ (received + lost) since the previous reading.
    pub loss: f64,
    pub jitter_ms: f64,
    /// Frames this side decoded per second.
    pub fps: f64,
    pub frames_decoded: u64,
    /// Keyframe requests (PLI, FIR) this participant has sent us on this link, counted by
    /// the call: webrtc-rs 0.21's own `pliCount` and `nackCount` stay 0 (its handler never
    /// feeds inbound RTCP to its statistics).
    pub keyframe_requests_in: u64,
    /// What congestion control estimates the path to this participant carries (send side,
    /// from its transport-wide feedback); `None` until its first feedback.
    pub available_bps: Option<f64>,
    /// The fraction of what we send that this participant reports lost.
    pub loss_out: f64,
    /// The video we send everyone now: size and frame rate (one encoder for the call).
    pub sent_width: Option<usize>,
    pub sent_height: Option<usize>,
    pub sent_fps: Option<f64>,
    /// The connection to this participant at a glance (the tile's indicator).
    pub quality: Quality,
}

/// How a connection is doing, for a tile's indicator: from loss either way, the round trip
/// and the estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    #[default]
    Good,
    Fair,
    Poor,
}

/// Loss (either direction) above which a connection is fair, and poor: FEC and NACK repair
/// the first without a visible effect; beyond the second, freezes and concealed audio show.
pub const FAIR_LOSS: f64 = 0.02;
pub const POOR_LOSS: f64 = 0.08;
/// Round trips above which a conversation starts to feel delayed, and talks over itself
/// (ITU-T G.114's 150 ms one way is a 300 ms round trip).
pub const FAIR_RTT_MS: f64 = 300.0;
pub const POOR_RTT_MS: f64 = 600.0;
/// Estimates below which video falls to 360p, and to 240p at a low frame rate
/// (`call::allocation::LADDER`).
pub const FAIR_AVAILABLE_BPS: f64 = 400_000.0;
pub const POOR_AVAILABLE_BPS: f64 = 150_000.0;

impl Quality {
    pub fn assess(loss: f64, rtt_ms: Option<f64>, available_bps: Option<f64>) -> Self {
        let rtt = rtt_ms.unwrap_or(0.0);
        let available = available_bps.unwrap_or(f64::INFINITY);
        if loss > POOR_LOSS || rtt > POOR_RTT_MS || available < POOR_AVAILABLE_BPS {
            Quality::Poor
        } else if loss > FAIR_LOSS || rtt > FAIR_RTT_MS || available < FAIR_AVAILABLE_BPS {
            Quality::Fair
        } else {
            Quality::Good
        }
    }
}

/// Turns successive readings into rates.
#[derive(Debug, Default)]
pub struct RateMeter {
    last: Option<(Instant, Totals, u64)>,
}

impl RateMeter {
    /// `frames_decoded` is this side's own count of decoded frames from the participant.
    pub fn update(&mut self, now: Instant, t: Totals, frames_decoded: u64) -> ParticipantStats {
        let mut s = ParticipantStats {
            rtt_ms: t.rtt.map(|r| r * 1000.0),
            jitter_ms: t.jitter * 1000.0,
            frames_decoded,
            ..Default::default()
        };
        if let Some((then, prev, prev_frames)) = self.last {
            let dt = now.saturating_duration_since(then).as_secs_f64();
            if dt > 0.0 {
                s.bitrate_in_bps = t.bytes_in.saturating_sub(prev.bytes_in) as f64 * 8.0 / dt;
                s.bitrate_out_bps = t.bytes_out.saturating_sub(prev.bytes_out) as f64 * 8.0 / dt;
                s.fps = frames_decoded.saturating_sub(prev_frames) as f64 / dt;
                let lost = (t.packets_lost - prev.packets_lost).max(0) as f64;
                let got = t.packets_in.saturating_sub(prev.packets_in) as f64;
                if lost + got > 0.0 {
                    s.loss = lost / (lost + got);
                }
            }
        }
        self.last = Some((now, t, frames_decoded));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn jitter_in_timestamp_units_becomes_seconds_at_the_codec_clock() {
        // 90 units of a 90 kHz clock and 48 of a 48 kHz one are both 1 ms.
        assert!((jitter_seconds(RtpCodecKind::Video, 90.0) - 0.001).abs() < 1e-12);
        assert!((jitter_seconds(RtpCodecKind::Audio, 48.0) - 0.001).abs() < 1e-12);
    }

    #[test]
    fn quality_is_the_worst_of_loss_round_trip_and_estimate() {
        assert_eq!(Quality::assess(0.0, Some(40.0), Some(2e6)), Quality::Good);
        assert_eq!(Quality::assess(0.0, None, None), Quality::Good);
        assert_eq!(Quality::assess(0.03, Some(40.0), Some(2e6)), Quality::Fair);
        assert_eq!(Quality::assess(0.0, Some(350.0), Some(2e6)), Quality::Fair);
        assert_eq!(Quality::assess(0.0, Some(40.0), Some(300e3)), Quality::Fair);
        assert_eq!(Quality::assess(0.1, Some(40.0), Some(2e6)), Quality::Poor);
        assert_eq!(Quality::assess(0.0, Some(700.0), Some(2e6)), Quality::Poor);
        assert_eq!(Quality::assess(0.0, Some(40.0), Some(100e3)), Quality::Poor);
    }

    #[test]
    fn rates_come_from_the_difference_between_readings() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        let first = m.update(
            t0,
            Totals {
                bytes_in: 1000,
                ..Default::default()
            },
            0,
        );
        assert_eq!(first.bitrate_in_bps, 0.0, "no rate from a single reading");
        let later = Totals {
            bytes_in: 126_000,
            bytes_out: 62_500,
            packets_in: 95,
            packets_lost: 5,
            jitter: 0.004,
            rtt: Some(0.012),
        };
        let s = m.update(t0 + Duration::from_secs(1), later, 30);
        assert_eq!(s.bitrate_in_bps, 1_000_000.0);
        assert_eq!(s.bitrate_out_bps, 500_000.0);
        assert_eq!(s.fps, 30.0);
        assert!((s.loss - 0.05).abs() < 1e-9);
        assert_eq!(s.rtt_ms, Some(12.0));
        assert!((s.jitter_ms - 4.0).abs() < 1e-9);
    }
}
