//! Reassembles H.264 access units from RTP packets (RFC 6184) the moment a frame is whole:
//! its last packet (the RTP marker) is in, and so is every packet back to the end of the
//! previous frame.
//!
//! Why not rtc's `SampleBuilder`: it hands out a frame only once the *next* frame's first
//! packet has arrived (to learn the sample's duration), which adds one frame interval — 33 ms
//! at 30 fps — to every frame, the call's first frame included. Depacketization itself (FU-A,
//! STAP-A) stays rtc's.
//!
//! Packets may arrive out of order or twice (NACK retransmissions). A frame with a packet
//! missing is waited for up to `max_wait`; then it and everything before the next complete
//! frame boundary is given up and reported as [`Assembled::Lost`], so the receiver can stop
//! decoding until a keyframe instead of showing a picture built on missing references.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::rtp::Packet;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::packetizer::Depacketizer;

/// Most packets held while waiting for a missing one: beyond this the wait is given up
/// whatever the time (a 1080p keyframe is ~200 packets).
const MAX_PENDING: usize = 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Assembled {
    /// A whole access unit, Annex B.
    Frame { data: Vec<u8>, timestamp: u32 },
    /// One or more frames were given up (packets lost or malformed): what follows may
    /// reference them.
    Lost,
}

struct Pending {
    arrived: Instant,
    timestamp: u32,
    marker: bool,
    payload: Bytes,
}

pub struct FrameAssembler {
    /// By extended (wrap-free) sequence number.
    pending: BTreeMap<u64, Pending>,
    /// The highest extended sequence number seen, to extend the next 16-bit one.
    highest: Option<u64>,
    /// The first sequence number of the next frame, once known.
    next: Option<u64>,
    max_wait: Duration,
    depacketizer: H264Packet,
}

impl FrameAssembler {
    /// `max_wait`: how long a frame with a missing packet waits for it (a retransmission
    /// takes about a round trip).
    pub fn new(max_wait: Duration) -> Self {
        Self {
            pending: BTreeMap::new(),
            highest: None,
            next: None,
            max_wait,
            depacketizer: H264Packet::default(),
        }
    }

    /// Adds one packet and returns what became complete (or was given up) because of it.
    pub fn push(&mut self, now: Instant, packet: Packet) -> Vec<Assembled> {
        let seq = self.extend(packet.header.sequence_number);
        if self.next.is_some_and(|next| seq < next) {
            return Vec::new(); // late or duplicate: its frame is already out or given up
        }
        self.pending.entry(seq).or_insert(Pending {
            arrived: now,
            timestamp: packet.header.timestamp,
            marker: packet.header.marker,
            payload: packet.payload,
        });
        if self.next.is_none() {
            // The first frame starts at the earliest packet that begins a NAL unit.
            self.next = self
                .pending
                .iter()
                .find(|(_, p)| self.depacketizer.is_partition_head(&p.payload))
                .map(|(&s, _)| s);
        }
        let mut out = Vec::new();
        while let Some(next) = self.next {
            match self.complete_from(next) {
                Some(last) => out.push(self.take(next, last)),
                None if self.overdue(now) => {
                    out.push(Assembled::Lost);
                    self.skip_past_gap(next);
                }
                None => break,
            }
        }
        out
    }

    fn extend(&mut self, seq: u16) -> u64 {
        let ext = match self.highest {
            None => (1 << 16) | u64::from(seq), // room below for packets that arrive late
            Some(highest) => {
                let base = highest & !0xffff;
                // The candidate closest to `highest` among this, the previous and the next cycle.
                [base.wrapping_sub(1 << 16), base, base + (1 << 16)]
                    .into_iter()
                    .map(|b| b | u64::from(seq))
                    .min_by_key(|c| c.abs_diff(highest))
                    .unwrap_or(base | u64::from(seq))
            }
        };
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        ext
    }

    /// The last sequence number of the frame starting at `first`, if every packet is in.
    /// A change of timestamp ends a frame too (a sender that does not set the marker).
    fn complete_from(&self, first: u64) -> Option<u64> {
        let timestamp = self.pending.get(&first)?.timestamp;
        let mut seq = first;
        loop {
            let p = self.pending.get(&seq)?;
            if p.timestamp != timestamp {
                return Some(seq - 1);
            }
            if p.marker {
                return Some(seq);
            }
            seq += 1;
        }
    }

    fn overdue(&self, now: Instant) -> bool {
        self.pending.len() > MAX_PENDING
            || self
                .pending
                .values()
                .next()
                .is_some_and(|oldest| now.duration_since(oldest.arrived) > self.max_wait)
    }

    /// Drops everything up to the first frame end after the gap at `next`; the next frame
    /// starts after it (or is found again from the next packet that begins a NAL unit).
    fn skip_past_gap(&mut self, next: u64) {
        let end = self
            .pending
            .range(next..)
            .find(|(_, p)| p.marker)
            .map(|(&s, _)| s);
        match end {
            Some(end) => {
                self.pending = self.pending.split_off(&(end + 1));
                self.next = Some(end + 1);
            }
            None => {
                self.pending.clear();
                self.next = None;
            }
        }
        self.depacketizer = H264Packet::default();
    }

    fn take(&mut self, first: u64, last: u64) -> Assembled {
        let rest = self.pending.split_off(&(last + 1));
        let frame = std::mem::replace(&mut self.pending, rest);
        self.next = Some(last + 1);
        let timestamp = frame.get(&first).map_or(0, |p| p.timestamp);
        let mut data = Vec::new();
        for p in frame.range(first..).map(|(_, p)| p) {
            match self.depacketizer.depacketize(&p.payload) {
                Ok(nal) => data.extend_from_slice(&nal),
                Err(e) => {
                    tracing::debug!("malformed H.264 payload: {e}");
                    self.depacketizer = H264Packet::default();
                    return Assembled::Lost;
                }
            }
        }
        if data.is_empty() {
            // Padding only, or a fragmented unit whose start was never seen.
            return Assembled::Lost;
        }
        Assembled::Frame { data, timestamp }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtp::header::Header;

    const WAIT: Duration = Duration::from_millis(200);

    /// A single-NAL packet (type 1, non-IDR slice) carrying `tag`.
    fn packet(seq: u16, timestamp: u32, marker: bool, tag: u8) -> Packet {
        Packet {
            header: Header {
                sequence_number: seq,
                timestamp,
                marker,
                ..Default::default()
            },
            payload: Bytes::from(vec![0x41, tag, 0]),
        }
    }

    fn frame_tags(out: &[Assembled]) -> Vec<Vec<u8>> {
        out.iter()
            .map(|a| match a {
                // Annex B: start code, NAL header, tag.
                Assembled::Frame { data, .. } => data
                    .windows(2)
                    .filter(|w| w[0] == 0x41)
                    .map(|w| w[1])
                    .collect(),
                Assembled::Lost => vec![0xff],
            })
            .collect()
    }

    #[test]
    fn a_frame_is_released_by_its_own_last_packet_not_the_next_frames_first() {
        let mut a = FrameAssembler::new(WAIT);
        let t = Instant::now();
        assert!(a.push(t, packet(10, 3000, false, 1)).is_empty());
        let out = a.push(t, packet(11, 3000, true, 2));
        assert_eq!(frame_tags(&out), vec![vec![1, 2]]);
    }

    #[test]
    fn reordered_packets_complete_the_frame_when_the_gap_fills() {
        let mut a = FrameAssembler::new(WAIT);
        let t = Instant::now();
        assert!(a.push(t, packet(20, 1, false, 1)).is_empty());
        assert!(
            a.push(t, packet(22, 1, true, 3)).is_empty(),
            "21 is missing"
        );
        let out = a.push(t, packet(21, 1, false, 2));
        assert_eq!(frame_tags(&out), vec![vec![1, 2, 3]]);
        // A duplicate of a packet already delivered changes nothing.
        assert!(a.push(t, packet(21, 1, false, 2)).is_empty());
        let out = a.push(t, packet(23, 2, true, 4));
        assert_eq!(frame_tags(&out), vec![vec![4]]);
    }

    #[test]
    fn a_frame_missing_a_packet_past_the_wait_is_reported_lost_and_the_next_one_decodes() {
        let mut a = FrameAssembler::new(WAIT);
        let t = Instant::now();
        assert!(a.push(t, packet(1, 1, false, 1)).is_empty());
        // 2 (the end of frame 1) never arrives.
        assert!(a.push(t, packet(3, 2, true, 3)).is_empty());
        let later = t + WAIT + Duration::from_millis(1);
        let out = a.push(later, packet(4, 3, true, 4));
        assert_eq!(out.first(), Some(&Assembled::Lost));
        assert_eq!(frame_tags(&out[1..]), vec![vec![4]]);
        assert_eq!(a.push(later, packet(2, 1, true, 2)), vec![], "too late");
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut a = FrameAssembler::new(WAIT);
        let t = Instant::now();
        assert!(a.push(t, packet(65534, 7, false, 1)).is_empty());
        assert!(a.push(t, packet(65535, 7, false, 2)).is_empty());
        let out = a.push(t, packet(0, 7, true, 3));
        assert_eq!(frame_tags(&out), vec![vec![1, 2, 3]]);
        let out = a.push(t, packet(1, 8, true, 4));
        assert_eq!(frame_tags(&out), vec![vec![4]]);
    }

    #[test]
    fn joining_mid_frame_starts_at_the_first_packet_that_begins_a_nal_unit() {
        let mut a = FrameAssembler::new(WAIT);
        let t = Instant::now();
        // The tail of a fragmented unit (FU-A, end bit set, start bit clear).
        let tail = Packet {
            header: Header {
                sequence_number: 5,
                timestamp: 1,
                marker: true,
                ..Default::default()
            },
            payload: Bytes::from(vec![0x7c, 0x41, 9, 9]),
        };
        assert!(a.push(t, tail).is_empty());
        let out = a.push(t, packet(6, 2, true, 6));
        assert_eq!(frame_tags(&out), vec![vec![6]]);
    }

    #[test]
    fn a_missing_marker_is_covered_by_the_timestamp_change() {
        let mut a = FrameAssembler::new(WAIT);
        let t = Instant::now();
        assert!(a.push(t, packet(1, 1, false, 1)).is_empty());
        let out = a.push(t, packet(2, 2, false, 2));
        assert_eq!(frame_tags(&out), vec![vec![1]]);
    }
}
