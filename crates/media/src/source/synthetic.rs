//! Synthetic sources: the stand-ins for a camera and a microphone on machines that have
//! neither. They produce frames exactly like the real devices and go through the same
//! pipeline; what they add is a picture and a sound a receiver can check.
//!
//! The test pattern carries a *stamp*: the frame number and the capture time drawn as
//! black/white 16×16 blocks (one per bit, aligned to H.264 macroblocks so compression keeps
//! them readable), with a CRC-8 and a sync byte. [`read_stamp`] recovers it from a decoded
//! frame, so a receiver can verify that frames arrive in order and measure glass-to-glass
//! latency.
//!
//! With *sync marks* both sources mark every [`SYNC_MARK_PERIOD_US`] (about a second) the same way: the pattern
//! flashes white and the tone sounds for the first [`SYNC_MARK_LENGTH`] of it, silent
//! otherwise. A recording (or any receiver) measures audio/video sync as the offset between
//! a flash's first frame and its beep's first sample.

use crate::frame::{AudioFrame, SAMPLE_RATE, SAMPLES_PER_FRAME, VideoFrame, now_us};

/// Side of one stamp block, in luma pixels: one H.264 macroblock.
const BLOCK: usize = 16;
/// Stamp blocks per row; the stamp is 5 rows of 16 blocks (256×80 pixels, top left).
const BLOCKS_PER_ROW: usize = 16;
const STAMP_BITS: usize = 80;
const SYNC: u8 = 0xA5;

/// What the stamp says about a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub frame_number: u32,
    /// Capture time in milliseconds since the Unix epoch, modulo 2³².
    pub capture_ms: u32,
}

impl Stamp {
    /// Milliseconds from capture to `now_us`, correct across the 2³² ms wrap.
    pub fn age_ms(&self, now_us: u64) -> u32 {
        ((now_us / 1000) as u32).wrapping_sub(self.capture_ms)
    }
}

/// CRC-8 (polynomial 0x07) over the stamp's payload: a torn or corrupted frame fails it.
fn crc8(bytes: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in bytes {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn stamp_bytes(s: Stamp) -> [u8; 10] {
    let mut out = [0u8; 10];
    out[..4].copy_from_slice(&s.frame_number.to_be_bytes());
    out[4..8].copy_from_slice(&s.capture_ms.to_be_bytes());
    out[8] = crc8(&out[..8]);
    out[9] = SYNC;
    out
}

/// Draws `stamp` into the frame's top-left corner. The frame must be at least 256×80.
pub fn write_stamp(frame: &mut VideoFrame, stamp: Stamp) {
    let bytes = stamp_bytes(stamp);
    for bit in 0..STAMP_BITS {
        let on = bytes[bit / 8] & (0x80 >> (bit % 8)) != 0;
        let (bx, by) = (bit % BLOCKS_PER_ROW, bit / BLOCKS_PER_ROW);
        let luma = if on { 235 } else { 16 };
        for row in by * BLOCK..(by + 1) * BLOCK {
            let start = row * frame.width + bx * BLOCK;
            frame.y[start..start + BLOCK].fill(luma);
        }
        let cw = frame.chroma_width();
        for row in by * BLOCK / 2..(by + 1) * BLOCK / 2 {
            let start = row * cw + bx * BLOCK / 2;
            frame.u[start..start + BLOCK / 2].fill(128);
            frame.v[start..start + BLOCK / 2].fill(128);
        }
    }
}

/// Block sides [`read_stamp`] tries, largest first: the pattern's own and those congestion
/// control's resolution ladder scales it to (¾, ½, ⅜ of 640×480: 480×360, 320×240, 240×180).
const READ_BLOCKS: [usize; 4] = [BLOCK, BLOCK * 3 / 4, BLOCK / 2, BLOCK * 3 / 8];

/// Reads a stamp back from a (decoded) frame, also from one the sender scaled down; `None`
/// when the blocks do not form a valid stamp (a frame from another source, or a corrupted
/// one: the CRC and the sync byte make a misread at the wrong scale fail).
pub fn read_stamp(frame: &VideoFrame) -> Option<Stamp> {
    READ_BLOCKS
        .iter()
        .find_map(|&block| read_stamp_at(frame, block))
}

fn read_stamp_at(frame: &VideoFrame, block: usize) -> Option<Stamp> {
    if frame.width < block * BLOCKS_PER_ROW || frame.height < block * STAMP_BITS / BLOCKS_PER_ROW {
        return None;
    }
    // The inner half of the block: its edges blur into the neighbours under compression.
    let (inner_from, inner_to) = (block / 4, block - block / 4);
    let inner = (inner_to - inner_from) as u32;
    let mut bytes = [0u8; 10];
    for bit in 0..STAMP_BITS {
        let (bx, by) = (bit % BLOCKS_PER_ROW, bit / BLOCKS_PER_ROW);
        let mut sum = 0u32;
        for row in by * block + inner_from..by * block + inner_to {
            let start = row * frame.width + bx * block + inner_from;
            sum += frame.y[start..start + inner_to - inner_from]
                .iter()
                .map(|&p| u32::from(p))
                .sum::<u32>();
        }
        if sum / (inner * inner) > 125 {
            bytes[bit / 8] |= 0x80 >> (bit % 8);
        }
    }
    (bytes[9] == SYNC && bytes[8] == crc8(&bytes[..8])).then(|| Stamp {
        frame_number: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        capture_ms: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
    })
}

/// Sync marks repeat every 1.01 s of wall-clock time: not a whole number of frames at 15, 25 or
/// 30 fps, so successive flashes fall at every phase of a capture's or a recording's frame
/// clock (each 10 ms later in it) and an average over a dozen measures the sync, not the luck
/// of one phase (at exactly 1 s, every flash of a run waited the same part of a frame).
pub const SYNC_MARK_PERIOD_US: u64 = 1_010_000;
/// How long each flash and beep lasts: several frames of even a 15 fps recording.
pub const SYNC_MARK_LENGTH_US: u64 = 200_000;

/// Whether the instant `us` (microseconds since the Unix epoch) is inside a sync mark.
pub fn in_sync_mark(us: u64) -> bool {
    us % SYNC_MARK_PERIOD_US < SYNC_MARK_LENGTH_US
}

/// A moving test picture with a stamp: diagonal colour bands that scroll, and a box that
/// bounces, so consecutive frames differ everywhere and motion is visible in a screenshot.
pub struct TestPattern {
    width: usize,
    height: usize,
    frame_number: u32,
    sync_marks: bool,
}

impl TestPattern {
    /// `width` and `height` must be even and at least 256×80.
    pub fn new(width: usize, height: usize) -> Self {
        assert!(
            width >= 256 && height >= 80 && width.is_multiple_of(2) && height.is_multiple_of(2)
        );
        Self {
            width,
            height,
            frame_number: 0,
            sync_marks: false,
        }
    }

    /// The pattern, white (stamp apart) for the first [`SYNC_MARK_LENGTH_US`] of every period.
    pub fn with_sync_marks(mut self, on: bool) -> Self {
        self.sync_marks = on;
        self
    }

    /// Renders the next frame, stamped with its number and the current time.
    pub fn next_frame(&mut self) -> VideoFrame {
        self.next_frame_at(now_us())
    }

    /// Renders the next frame as captured at `capture_us` (microseconds since the epoch).
    pub fn next_frame_at(&mut self, capture_us: u64) -> VideoFrame {
        let n = self.frame_number;
        self.frame_number = self.frame_number.wrapping_add(1);
        let mut f = VideoFrame::black(self.width, self.height);
        let shift = (n as usize * 4) % 256;
        for row in 0..self.height {
            for col in 0..self.width {
                f.y[row * self.width + col] = (((col + row + shift) % 256) as u8 / 2) + 40;
            }
        }
        let cw = f.chroma_width();
        for row in 0..self.height / 2 {
            for col in 0..cw {
                f.u[row * cw + col] = ((col * 2 + shift) % 256) as u8 / 2 + 64;
                f.v[row * cw + col] = ((row * 2 + 255 - shift) % 256) as u8 / 2 + 64;
            }
        }
        // A bright box bouncing horizontally across the lower half.
        let span = self.width - 64;
        let phase = (n as usize * 8) % (2 * span);
        let x0 = if phase < span {
            phase
        } else {
            2 * span - phase
        };
        let y0 = self.height / 2;
        for row in y0..(y0 + 64).min(self.height) {
            f.y[row * self.width + x0..row * self.width + x0 + 64].fill(235);
        }
        f.capture_us = capture_us;
        if self.sync_marks && in_sync_mark(f.capture_us) {
            f.y.fill(235);
            f.u.fill(128);
            f.v.fill(128);
        }
        let stamp = Stamp {
            frame_number: n,
            capture_ms: (f.capture_us / 1000) as u32,
        };
        write_stamp(&mut f, stamp);
        f
    }
}

/// A sine tone, the microphone's stand-in: 20 ms frames of 48 kHz mono.
pub struct Tone {
    frequency: f64,
    amplitude: f64,
    sample_index: u64,
    sync_marks: bool,
}

impl Tone {
    pub fn new(frequency: f64) -> Self {
        Self {
            frequency,
            amplitude: 0.5 * f64::from(i16::MAX),
            sample_index: 0,
            sync_marks: false,
        }
    }

    /// The tone only for the first [`SYNC_MARK_LENGTH_US`] of every period, silence between.
    pub fn with_sync_marks(mut self, on: bool) -> Self {
        self.sync_marks = on;
        self
    }

    /// The next 20 ms. Like a microphone's, they are the 20 ms that ended now: with sync
    /// marks, sample `i` sounded at `capture_us - 20 ms + i / 48 kHz`.
    pub fn next_frame(&mut self) -> AudioFrame {
        self.next_frame_at(now_us())
    }

    /// The next 20 ms, as captured at `capture_us` (microseconds since the epoch).
    pub fn next_frame_at(&mut self, capture_us: u64) -> AudioFrame {
        let frame_us = SAMPLES_PER_FRAME as u64 * 1_000_000 / u64::from(SAMPLE_RATE);
        let first_us = capture_us.saturating_sub(frame_us);
        let samples = (0..SAMPLES_PER_FRAME)
            .map(|i| {
                let at_us = first_us + i as u64 * 1_000_000 / u64::from(SAMPLE_RATE);
                if self.sync_marks && !in_sync_mark(at_us) {
                    return 0;
                }
                let t = (self.sample_index + i as u64) as f64 / f64::from(SAMPLE_RATE);
                (self.amplitude * (2.0 * std::f64::consts::PI * self.frequency * t).sin()) as i16
            })
            .collect();
        self.sample_index += SAMPLES_PER_FRAME as u64;
        AudioFrame {
            samples,
            channels: 1,
            capture_us,
        }
    }
}

/// The frequency of a tone in mono `samples` at 48 kHz: the median spacing of its rising zero
/// crossings (interpolated between samples). The median makes it robust to what a real audio
/// path adds — a gap where playback ran dry, a burst of concealment — which would skew a plain
/// count of crossings; on a clean tone it is exact to well under 0.1 Hz.
pub fn dominant_frequency(samples: &[i16]) -> Option<f64> {
    let mut crossings = Vec::new();
    for i in 1..samples.len() {
        let (a, b) = (f64::from(samples[i - 1]), f64::from(samples[i]));
        if a < 0.0 && b >= 0.0 {
            crossings.push((i - 1) as f64 + (-a) / (b - a));
        }
    }
    let mut periods: Vec<f64> = crossings.windows(2).map(|w| w[1] - w[0]).collect();
    if periods.is_empty() {
        return None;
    }
    periods.sort_by(f64::total_cmp);
    let median = periods[periods.len() / 2];
    Some(f64::from(SAMPLE_RATE) / median)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_through_a_frame() {
        let mut p = TestPattern::new(320, 240);
        let _ = p.next_frame();
        let f = p.next_frame();
        let s = read_stamp(&f).expect("a fresh frame carries a stamp");
        assert_eq!(s.frame_number, 1);
        assert!(s.age_ms(now_us()) < 1000);
    }

    #[test]
    fn a_damaged_stamp_is_rejected() {
        let mut f = TestPattern::new(320, 240).next_frame();
        // Flip one block (bit 3): the CRC no longer matches.
        for row in 4..12 {
            let start = row * f.width + 3 * BLOCK + 4;
            for p in &mut f.y[start..start + 8] {
                *p = 255 - *p;
            }
        }
        assert_eq!(read_stamp(&f), None);
        assert_eq!(read_stamp(&VideoFrame::black(320, 240)), None);
    }

    #[test]
    fn the_stamp_is_read_from_every_rung_of_the_resolution_ladder() {
        let mut scaler = crate::convert::I420Scaler::default();
        let mut p = TestPattern::new(640, 480);
        for (max, expect) in [
            ((640, 480), (640, 480)),
            ((640, 360), (480, 360)),
            ((426, 240), (320, 240)),
            ((320, 180), (240, 180)),
        ] {
            let f = p.next_frame();
            let want = read_stamp(&f).expect("the original's stamp");
            let scaled = scaler.fit(f, max).expect("scale");
            assert_eq!((scaled.width, scaled.height), expect);
            assert_eq!(read_stamp(&scaled), Some(want), "at {expect:?}");
        }
        // Too small for any block size the reader knows: no stamp rather than a wrong one.
        let tiny = scaler.fit(p.next_frame(), (160, 120)).expect("scale");
        assert_eq!(read_stamp(&tiny), None);
    }

    #[test]
    fn sync_marks_flash_and_beep_in_the_same_part_of_each_second() {
        let second = 1_790_000_000 * SYNC_MARK_PERIOD_US;
        assert!(in_sync_mark(second));
        assert!(in_sync_mark(second + SYNC_MARK_LENGTH_US - 1));
        assert!(!in_sync_mark(second + SYNC_MARK_LENGTH_US));
        let mut pattern = TestPattern::new(320, 240).with_sync_marks(true);
        let white = |f: &VideoFrame| f.y[f.y.len() - 1] == 235 && f.y[f.width * 100] == 235;
        assert!(!white(&pattern.next_frame_at(second - 1)));
        let flash = pattern.next_frame_at(second);
        assert!(white(&flash));
        assert!(read_stamp(&flash).is_some(), "the stamp stays on a flash");
        assert!(white(
            &pattern.next_frame_at(second + SYNC_MARK_LENGTH_US - 1)
        ));
        assert!(!white(&pattern.next_frame_at(second + SYNC_MARK_LENGTH_US)));
        assert!(!white(&TestPattern::new(320, 240).next_frame_at(second)));

        // A frame captured 10 ms into the second: its first 10 ms are silent, the rest sound.
        let mut tone = Tone::new(440.0).with_sync_marks(true);
        let a = tone.next_frame_at(second + 10_000);
        let loud = |s: &[i16]| s.iter().filter(|s| s.unsigned_abs() > 1000).count();
        assert_eq!(loud(&a.samples[..480]), 0);
        assert!(loud(&a.samples[480..]) > 480 * 9 / 10);
        // The last 20 ms of the mark sound; the 20 ms after it are silent.
        let end = second + SYNC_MARK_LENGTH_US;
        assert!(loud(&tone.next_frame_at(end).samples) > 960 * 9 / 10);
        assert_eq!(loud(&tone.next_frame_at(end + 20_000).samples), 0);
        assert!(loud(&Tone::new(440.0).next_frame_at(end + 20_000).samples) > 900);
    }

    #[test]
    fn consecutive_pattern_frames_differ() {
        let mut p = TestPattern::new(320, 240);
        let (a, b) = (p.next_frame(), p.next_frame());
        let changed = a.y.iter().zip(&b.y).filter(|(x, y)| x != y).count();
        assert!(
            changed > a.y.len() / 2,
            "only {changed} luma samples changed"
        );
    }

    #[test]
    fn a_gap_in_the_tone_does_not_move_the_measured_frequency() {
        let mut tone = Tone::new(440.0);
        let mut samples: Vec<i16> = (0..25).flat_map(|_| tone.next_frame().samples).collect();
        samples.extend(std::iter::repeat_n(0, 4800)); // 100 ms of playback running dry
        samples.extend((0..25).flat_map(|_| tone.next_frame().samples));
        let f = dominant_frequency(&samples).expect("a tone");
        assert!((f - 440.0).abs() < 0.1, "measured {f}");
    }

    #[test]
    fn tone_frequency_is_measured_within_a_tenth_of_a_hertz() {
        let mut tone = Tone::new(440.0);
        let samples: Vec<i16> = (0..50).flat_map(|_| tone.next_frame().samples).collect();
        let f = dominant_frequency(&samples).expect("a tone has zero crossings");
        assert!((f - 440.0).abs() < 0.1, "measured {f}");
    }
}
