//! The synthetic pattern through the real openh264 encoder and decoder: every decoded frame
//! carries a readable stamp, frame numbers only increase, and the bitrate stays near target.

use confab_media::codec::h264::{H264Decoder, H264Encoder, H264Settings};
use confab_media::source::synthetic::{TestPattern, read_stamp};

#[test]
fn encoded_pattern_decodes_with_increasing_frame_numbers_and_no_corrupt_frames() {
    let mut pattern = TestPattern::new(640, 480);
    let mut encoder = H264Encoder::new(H264Settings {
        bitrate_bps: 1_500_000,
        max_fps: 30.0,
        ..H264Settings::default()
    })
    .expect("encoder");
    let mut decoder = H264Decoder::new().expect("decoder");

    let mut last = None;
    let mut decoded = 0;
    let mut bytes = 0;
    let mut keyframes = 0;
    for _ in 0..90 {
        let frame = pattern.next_frame();
        let Some(au) = encoder.encode(&frame).expect("encode") else {
            continue;
        };
        bytes += au.data.len();
        keyframes += usize::from(au.keyframe);
        assert!(au.data.starts_with(&[0, 0, 0, 1]), "Annex B start code");
        let Some(picture) = decoder.decode(&au.data).expect("decode") else {
            continue;
        };
        assert_eq!((picture.width, picture.height), (640, 480));
        let stamp = read_stamp(&picture).expect("every decoded frame carries a valid stamp");
        if let Some(prev) = last {
            assert!(
                stamp.frame_number > prev,
                "{} after {prev}",
                stamp.frame_number
            );
        }
        last = Some(stamp.frame_number);
        decoded += 1;
    }
    assert!(decoded >= 80, "only {decoded} of 90 frames decoded");
    assert_eq!(keyframes, 1, "one keyframe at the start, none forced since");
    // 90 frames at 30 fps = 3 s at 1.5 Mb/s ≈ 562 KB; rate control may undershoot.
    assert!(
        bytes < 750_000,
        "{bytes} bytes is far over the 1.5 Mb/s target"
    );
}

#[test]
fn a_keyframe_request_produces_a_keyframe_a_fresh_decoder_can_start_from() {
    let mut pattern = TestPattern::new(320, 240);
    let mut encoder = H264Encoder::new(H264Settings::default()).expect("encoder");
    for _ in 0..10 {
        encoder.encode(&pattern.next_frame()).expect("encode");
    }
    encoder.request_keyframe();
    let au = loop {
        if let Some(au) = encoder.encode(&pattern.next_frame()).expect("encode") {
            break au;
        }
    };
    assert!(au.keyframe);
    let mut late_joiner = H264Decoder::new().expect("decoder");
    let picture = late_joiner
        .decode(&au.data)
        .expect("decode")
        .expect("a keyframe shows");
    assert!(read_stamp(&picture).is_some());
}

#[test]
fn a_p_frame_alone_does_not_decode_into_garbage() {
    let mut pattern = TestPattern::new(320, 240);
    let mut encoder = H264Encoder::new(H264Settings::default()).expect("encoder");
    let mut units = Vec::new();
    for _ in 0..5 {
        if let Some(au) = encoder.encode(&pattern.next_frame()).expect("encode") {
            units.push(au);
        }
    }
    let p_frame = units.iter().find(|au| !au.keyframe).expect("a P frame");
    let mut decoder = H264Decoder::new().expect("decoder");
    // Without its reference the decoder must either refuse or show nothing, never a picture
    // whose stamp reads as a frame.
    if let Ok(Some(picture)) = decoder.decode(&p_frame.data) {
        assert!(read_stamp(&picture).is_none());
    }
}

/// Bytes the encoder produces for `frames` pattern frames.
fn encoded_bytes(encoder: &mut H264Encoder, pattern: &mut TestPattern, frames: usize) -> usize {
    (0..frames)
        .filter_map(|_| encoder.encode(&pattern.next_frame()).expect("encode"))
        .map(|au| au.data.len())
        .sum()
}

#[test]
fn lowering_the_bitrate_mid_stream_shrinks_the_stream_and_survives_a_new_size() {
    let mut encoder = H264Encoder::new(H264Settings {
        bitrate_bps: 2_000_000,
        ..H264Settings::default()
    })
    .expect("encoder");
    let mut pattern = TestPattern::new(640, 480);
    // Let rate control settle, then measure two seconds at each rate.
    encoded_bytes(&mut encoder, &mut pattern, 30);
    let high = encoded_bytes(&mut encoder, &mut pattern, 60);
    encoder.set_rate(200_000, 30.0).expect("set rate");
    encoded_bytes(&mut encoder, &mut pattern, 30);
    let low = encoded_bytes(&mut encoder, &mut pattern, 60);
    assert!(
        low * 4 < high,
        "2 s at 2 Mb/s: {high} bytes; at 200 kb/s: {low} bytes"
    );
    assert!(
        low * 8 < 2 * 200_000 * 2,
        "200 kb/s cap not held: {low} bytes in 2 s"
    );

    // A new picture size (a screen share) keeps the lowered rate.
    let mut wide = TestPattern::new(1280, 720);
    encoded_bytes(&mut encoder, &mut wide, 30);
    let after = encoded_bytes(&mut encoder, &mut wide, 60);
    assert!(
        after * 8 < 2 * 200_000 * 2,
        "rate lost on a size change: {after} bytes in 2 s"
    );
    assert_eq!(encoder.settings().bitrate_bps, 200_000);
    assert!(encoder.set_rate(200_000, 0.0).is_err(), "0 fps accepted");
}

#[test]
fn the_rate_follows_congestion_control_down_and_up_from_before_the_first_frame() {
    let mut encoder = H264Encoder::new(H264Settings::default()).expect("encoder");
    // Before the first frame (openh264 not yet initialised) and then at every step of a
    // rising and falling estimate, at the sizes of the resolution ladder.
    encoder
        .set_rate(200_000, 30.0)
        .expect("before the first frame");
    let mut pattern = TestPattern::new(480, 360);
    encoded_bytes(&mut encoder, &mut pattern, 30);
    let low = encoded_bytes(&mut encoder, &mut pattern, 60);
    for bps in [300_000, 450_000, 675_000, 1_000_000] {
        encoder.set_rate(bps, 30.0).expect("raising");
        encoded_bytes(&mut encoder, &mut pattern, 10);
    }
    encoded_bytes(&mut encoder, &mut pattern, 20);
    let high = encoded_bytes(&mut encoder, &mut pattern, 60);
    assert!(
        high > low * 3,
        "200 kb/s: {low} bytes in 2 s; 1 Mb/s: {high}"
    );
    for bps in [700_000, 400_000, 150_000] {
        encoder.set_rate(bps, 15.0).expect("lowering");
        encoded_bytes(&mut encoder, &mut pattern, 10);
    }
    assert_eq!(encoder.settings().bitrate_bps, 150_000);
}

#[test]
fn keyframes_are_recognised_in_the_byte_stream_and_p_frames_are_not() {
    use confab_media::codec::h264::is_keyframe;
    let mut encoder = H264Encoder::new(H264Settings::default()).expect("encoder");
    let mut pattern = TestPattern::new(320, 240);
    let first = encoder
        .encode(&pattern.next_frame())
        .expect("encode")
        .expect("a frame");
    let second = encoder
        .encode(&pattern.next_frame())
        .expect("encode")
        .expect("a frame");
    assert!(first.keyframe && is_keyframe(&first.data));
    assert!(!second.keyframe && !is_keyframe(&second.data));
    assert!(!is_keyframe(&[]) && !is_keyframe(&[0, 0, 1]));
    // The keyframe's tail from its first IDR slice on (what arrives when its first packets
    // were lost): no parameter sets, so no decoder can start from it.
    let idr = first
        .data
        .windows(4)
        .position(|w| w[..3] == [0, 0, 1] && w[3] & 0x1f == 5)
        .expect("an IDR slice");
    let tail = &first.data[idr..];
    assert!(
        !is_keyframe(tail),
        "IDR slices without SPS/PPS taken for a start"
    );
    let mut decoder = confab_media::codec::h264::H264Decoder::new().expect("decoder");
    assert!(
        decoder.decode(tail).is_err(),
        "openh264 decoded IDR slices without parameter sets"
    );
}
