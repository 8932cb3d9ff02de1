//! The capture-and-encode thread with the synthetic source (no camera exists here), decoded
//! with openh264: frames in order, source switches, drops under back-pressure, failures.

use std::time::{Duration, Instant};

use confab_media::codec::h264::{AccessUnit, H264Decoder, H264Settings};
use confab_media::pipeline::{ENCODED_QUEUE, VideoOut, VideoPipeline};
use confab_media::source::VideoSourceSpec;
use confab_media::source::synthetic::read_stamp;
use tokio::sync::mpsc;

fn synthetic(width: usize, height: usize) -> VideoSourceSpec {
    VideoSourceSpec::Synthetic {
        width,
        height,
        sync_marks: false,
    }
}

fn start(spec: VideoSourceSpec) -> (VideoPipeline, mpsc::Receiver<VideoOut>) {
    let (tx, rx) = mpsc::channel(ENCODED_QUEUE);
    let pipeline = VideoPipeline::start(spec, H264Settings::default(), tx).expect("pipeline");
    (pipeline, rx)
}

/// The next encoded frame, skipping status reports; panics on a source failure.
fn next_au(rx: &mut mpsc::Receiver<VideoOut>) -> AccessUnit {
    loop {
        match rx.blocking_recv().expect("pipeline running") {
            VideoOut::Encoded(au) => return au,
            VideoOut::SourceFailed(e) => panic!("source failed: {e}"),
            VideoOut::SourceOpened { .. } => {}
        }
    }
}

#[test]
fn synthetic_frames_come_out_encoded_in_order_starting_with_a_keyframe() {
    let (_pipeline, mut rx) = start(synthetic(320, 240));
    let mut decoder = H264Decoder::new().expect("decoder");
    let first = next_au(&mut rx);
    assert!(first.keyframe, "the first frame must be a keyframe");
    let mut last = None;
    for au in std::iter::once(first).chain((0..29).map(|_| next_au(&mut rx))) {
        let frame = decoder
            .decode(&au.data)
            .expect("decode")
            .expect("a picture");
        let stamp = read_stamp(&frame).expect("a readable stamp");
        assert!(
            last < Some(stamp.frame_number),
            "out of order: {last:?} then {stamp:?}"
        );
        last = Some(stamp.frame_number);
    }
}

#[test]
fn switching_the_source_starts_the_new_picture_with_a_keyframe_at_its_size() {
    let (pipeline, mut rx) = start(synthetic(320, 240));
    let mut decoder = H264Decoder::new().expect("decoder");
    for _ in 0..5 {
        let au = next_au(&mut rx);
        decoder.decode(&au.data).expect("decode");
    }
    pipeline.switch_source(synthetic(640, 480));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no frame at the new size");
        let au = next_au(&mut rx);
        let frame = decoder
            .decode(&au.data)
            .expect("decode")
            .expect("a picture");
        if frame.width == 640 {
            assert!(
                au.keyframe,
                "the first frame of the new source is not a keyframe"
            );
            assert_eq!(frame.height, 480);
            break;
        }
    }
}

#[test]
fn a_sender_that_falls_behind_loses_stale_frames_and_resumes_on_a_keyframe() {
    let (pipeline, mut rx) = start(synthetic(320, 240));
    // Read nothing until the thread has had to drop a frame.
    let deadline = Instant::now() + Duration::from_secs(10);
    while pipeline.dropped() == 0 {
        assert!(
            Instant::now() < deadline,
            "nothing dropped with a full queue"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The frames queued before the drop decode in sequence; the first frame after the gap
    // must be a keyframe (its reference was dropped).
    let mut decoder = H264Decoder::new().expect("decoder");
    let mut last: Option<u32> = None;
    for _ in 0..ENCODED_QUEUE + 8 {
        let au = next_au(&mut rx);
        let frame = decoder
            .decode(&au.data)
            .expect("decode")
            .expect("a picture");
        let number = read_stamp(&frame).expect("stamp").frame_number;
        if let Some(previous) = last
            && number > previous + 1
        {
            assert!(
                au.keyframe,
                "frame {number} after the gap is not a keyframe"
            );
            return;
        }
        last = Some(number);
    }
    panic!(
        "no gap in the frames although {} were dropped",
        pipeline.dropped()
    );
}

#[test]
fn a_missing_camera_is_reported_with_the_cameras_that_exist() {
    let (pipeline, mut rx) = start(VideoSourceSpec::Camera {
        device: Some("no-such-camera".into()),
        max: (640, 480),
        fps: 30,
    });
    match rx.blocking_recv().expect("a report") {
        VideoOut::SourceFailed(message) => {
            assert!(message.contains("no-such-camera"), "{message}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    // The thread survives the failure and carries on with another source.
    pipeline.switch_source(synthetic(320, 240));
    assert!(next_au(&mut rx).keyframe);
}

#[test]
fn turning_video_off_stops_frames_and_on_again_resumes_with_a_keyframe() {
    let (pipeline, mut rx) = start(synthetic(320, 240));
    next_au(&mut rx);
    pipeline.set_enabled(false);
    // What was queued before the switch drains; then nothing more comes.
    while recv_within(&mut rx, Duration::from_millis(300)).is_some() {}
    assert!(
        recv_within(&mut rx, Duration::from_millis(500)).is_none(),
        "frames kept coming with video off"
    );
    pipeline.set_enabled(true);
    assert!(next_au(&mut rx).keyframe);
}

/// The next report within `wait`, if any (the absence of frames can only be checked over
/// a time window).
fn recv_within(rx: &mut mpsc::Receiver<VideoOut>, wait: Duration) -> Option<VideoOut> {
    let deadline = Instant::now() + wait;
    loop {
        match rx.try_recv() {
            Ok(out) => return Some(out),
            Err(mpsc::error::TryRecvError::Disconnected) => panic!("pipeline stopped"),
            Err(mpsc::error::TryRecvError::Empty) if Instant::now() >= deadline => return None,
            Err(mpsc::error::TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}
