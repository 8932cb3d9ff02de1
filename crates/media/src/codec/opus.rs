//! Opus at 48 kHz in 20 ms frames (RTP timestamp +960 per frame), mono.

use opus::{Application, Bitrate, Channels};

use super::CodecError;
use crate::frame::{AudioFrame, SAMPLE_RATE, SAMPLES_PER_FRAME};

/// Largest Opus packet the encoder may produce (RFC 6716 §3.2.1 allows 1275 bytes per frame).
const MAX_PACKET: usize = 1275;

pub struct OpusEncoder {
    inner: opus::Encoder,
}

impl OpusEncoder {
    pub fn new(bitrate_bps: i32) -> Result<Self, CodecError> {
        let mut inner = opus::Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip)?;
        inner.set_bitrate(Bitrate::Bits(bitrate_bps))?;
        inner.set_inband_fec(true)?;
        Ok(Self { inner })
    }

    /// Tells the encoder how many packets in a hundred the network loses, so that in-band FEC
    /// spends enough of the bitrate on redundancy to cover them (libopus ignores FEC at 0 %).
    pub fn set_expected_loss(&mut self, percent: u8) -> Result<(), CodecError> {
        self.inner
            .set_packet_loss_perc(i32::from(percent.min(100)))?;
        Ok(())
    }

    /// Encodes one 20 ms mono frame.
    pub fn encode(&mut self, frame: &AudioFrame) -> Result<Vec<u8>, CodecError> {
        if frame.channels != 1 || frame.samples.len() != SAMPLES_PER_FRAME {
            return Err(CodecError::FrameSize {
                expected: SAMPLES_PER_FRAME,
                got: frame.samples.len() / frame.channels.max(1),
            });
        }
        Ok(self.inner.encode_vec(&frame.samples, MAX_PACKET)?)
    }
}

pub struct OpusDecoder {
    inner: opus::Decoder,
}

impl OpusDecoder {
    pub fn new() -> Result<Self, CodecError> {
        Ok(Self {
            inner: opus::Decoder::new(SAMPLE_RATE, Channels::Mono)?,
        })
    }

    /// Decodes one packet; an empty `packet` conceals a lost one.
    pub fn decode(&mut self, packet: &[u8]) -> Result<AudioFrame, CodecError> {
        // 120 ms is the longest frame Opus can carry.
        let mut samples = vec![0i16; SAMPLES_PER_FRAME * 6];
        let n = self.inner.decode(packet, &mut samples, false)?;
        samples.truncate(n);
        Ok(AudioFrame {
            samples,
            channels: 1,
            capture_us: 0,
        })
    }
}
