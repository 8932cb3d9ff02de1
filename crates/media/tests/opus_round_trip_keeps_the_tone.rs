//! A 440 Hz tone through the real Opus encoder and decoder keeps its pitch within ±2 Hz.

use confab_media::codec::opus::{OpusDecoder, OpusEncoder};
use confab_media::frame::SAMPLES_PER_FRAME;
use confab_media::source::synthetic::{Tone, dominant_frequency};

#[test]
fn tone_survives_the_opus_round_trip_within_two_hertz() {
    let mut tone = Tone::new(440.0);
    let mut encoder = OpusEncoder::new(32_000).expect("encoder");
    let mut decoder = OpusDecoder::new().expect("decoder");
    let mut out = Vec::new();
    for _ in 0..100 {
        let packet = encoder.encode(&tone.next_frame()).expect("encode");
        assert!(
            !packet.is_empty() && packet.len() < 400,
            "{} bytes",
            packet.len()
        );
        let frame = decoder.decode(&packet).expect("decode");
        assert_eq!(frame.samples.len(), SAMPLES_PER_FRAME);
        out.extend(frame.samples);
    }
    // Skip the codec's first 100 ms while it settles.
    let f = dominant_frequency(&out[4800..]).expect("the tone is audible");
    assert!((f - 440.0).abs() <= 2.0, "decoded tone at {f:.2} Hz");
    let peak = out[4800..]
        .iter()
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap_or(0);
    assert!(peak > 8000, "tone came out too quiet: peak {peak}");
}

#[test]
fn a_wrong_frame_size_is_a_clear_error() {
    let mut encoder = OpusEncoder::new(32_000).expect("encoder");
    let mut frame = Tone::new(440.0).next_frame();
    frame.samples.truncate(100);
    let err = encoder
        .encode(&frame)
        .expect_err("100 samples is not a 20 ms frame");
    assert!(err.to_string().contains("960"), "{err}");
}
