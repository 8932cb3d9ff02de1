//! Codec micro-benchmark: what one frame of a call costs in the stages Confab runs per frame
//! — drawing the synthetic pattern, H.264 encoding, H.264 decoding, Opus both ways — in
//! milliseconds per frame and in percent of one core at the call's frame rate. It explains
//! the CPU figure of the call benchmark (bench/call-bench.sh): encode + decode is the floor of
//! a 1:1 call's CPU, whatever the transport does.
//!
//!   cargo run --release -p confab-bench --bin codec-bench [-- FRAMES]

use std::time::{Duration, Instant};

use confab_media::codec::h264::{H264Decoder, H264Encoder, H264Settings};
use confab_media::codec::opus::{OpusDecoder, OpusEncoder};
use confab_media::source::synthetic::{TestPattern, Tone};

fn main() -> anyhow::Result<()> {
    let frames: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(300);
    println!("| stage | size | ms per frame | % of a core at 30 fps |");
    println!("|---|---|---|---|");
    for (w, h, kbps) in [(640, 480, 1000), (1280, 720, 2500)] {
        let mut pattern = TestPattern::new(w, h);
        let mut encoder = H264Encoder::new(H264Settings {
            bitrate_bps: kbps * 1000,
            ..H264Settings::default()
        })?;
        let mut decoder = H264Decoder::new()?;
        let (mut draw, mut enc, mut dec) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let mut decoded = 0;
        for _ in 0..frames {
            let t = Instant::now();
            let frame = pattern.next_frame();
            draw += t.elapsed();
            let t = Instant::now();
            let au = encoder.encode(&frame)?;
            enc += t.elapsed();
            if let Some(au) = au {
                let t = Instant::now();
                decoded += usize::from(decoder.decode(&au.data)?.is_some());
                dec += t.elapsed();
            }
        }
        anyhow::ensure!(
            decoded > frames / 2,
            "only {decoded} of {frames} frames decoded"
        );
        for (stage, total, n) in [
            ("pattern", draw, frames),
            ("H.264 encode", enc, frames),
            ("H.264 decode", dec, decoded),
        ] {
            let ms = total.as_secs_f64() * 1000.0 / n as f64;
            println!("| {stage} | {w}x{h} | {ms:.2} | {:.1} |", ms * 30.0 / 10.0);
        }
    }
    // Audio: 50 frames of 20 ms per second.
    let mut tone = Tone::new(440.0);
    let mut encoder = OpusEncoder::new(32_000)?;
    let mut decoder = OpusDecoder::new()?;
    let t = Instant::now();
    let n = frames * 5;
    for _ in 0..n {
        let packet = encoder.encode(&tone.next_frame())?;
        decoder.decode(&packet)?;
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    println!(
        "| Opus encode + decode (20 ms frames) | mono 48 kHz | {ms:.3} | {:.1} (at 50 frames/s) |",
        ms * 50.0 / 10.0
    );
    Ok(())
}
