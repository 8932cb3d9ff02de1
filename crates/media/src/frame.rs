//! Raw media as it moves between sources, codecs and sinks.

/// A picture in I420 (planar Y, then U and V at half resolution), the format openh264 and
/// WebRTC decoders produce and encoders take, so no conversion sits on the hot path.
#[derive(Clone, PartialEq, Eq)]
pub struct VideoFrame {
    pub width: usize,
    pub height: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
    /// Wall-clock capture time in microseconds since the Unix epoch: comparable across
    /// processes on one machine, which glass-to-glass latency needs.
    pub capture_us: u64,
}

impl VideoFrame {
    /// A black frame. Width and height must be even (4:2:0 subsampling).
    pub fn black(width: usize, height: usize) -> Self {
        assert!(
            width.is_multiple_of(2) && height.is_multiple_of(2),
            "I420 needs even dimensions, got {width}x{height}"
        );
        Self {
            width,
            height,
            y: vec![16; width * height],
            u: vec![128; width * height / 4],
            v: vec![128; width * height / 4],
            capture_us: 0,
        }
    }

    pub fn chroma_width(&self) -> usize {
        self.width / 2
    }
}

impl std::fmt::Debug for VideoFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoFrame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("capture_us", &self.capture_us)
            .finish_non_exhaustive()
    }
}

/// Samples at 48 kHz, interleaved, `channels` per frame.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioFrame {
    pub samples: Vec<i16>,
    pub channels: usize,
    pub capture_us: u64,
}

/// The one sample rate of the audio pipeline (Opus's native rate).
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples per channel in one 20 ms frame at 48 kHz.
pub const SAMPLES_PER_FRAME: usize = 960;

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
