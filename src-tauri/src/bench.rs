//! The frames-to-tiles benchmark's source (`--bench-tiles N`, run by bench/tiles-bench.sh).
//! Instead of a call, N synthetic participants send 30 fps video to the page as the same
//! messages a call's video becomes, into the same tiles, so what the app and the webview
//! spend on drawing video is measured alone: no network, and no senders encoding on the
//! same two cores. Each tile loops two seconds of the test pattern, encoded once up front.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use confab_engine::call::VideoDelivery;
use confab_media::codec::h264::{H264Decoder, H264Encoder, H264Settings};
use confab_media::source::synthetic::TestPattern;
use serde_json::json;
use tauri::ipc::{Channel, InvokeResponseBody};

use crate::args::{Args, BenchVideo};
use crate::bridge::{self, UiEvent};
use crate::{Engine, Joined, Session};

const FPS: f64 = 30.0;

/// The looped access units: (keyframe, Annex B).
type Loop = Arc<Vec<(bool, Vec<u8>)>>;
const LOOP_FRAMES: usize = 60;

/// What to feed the page.
#[derive(Debug, Clone, Copy)]
pub struct BenchSpec {
    pub tiles: usize,
    pub width: usize,
    pub height: usize,
    /// `None`: the tiles, and no video.
    pub delivery: Option<VideoDelivery>,
}

/// Announces the synthetic participants on `events` and sends their video on `video` until
/// `stop` is set or the page goes away. Returns once the senders run.
pub fn start(
    spec: BenchSpec,
    me: &str,
    events: &Channel<UiEvent>,
    video: Channel<InvokeResponseBody>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let send = |v| events.send(UiEvent(v)).map_err(|e| e.to_string());
    send(json!({"type": "joined", "room": "bench", "user": me}))?;
    for i in 0..spec.tiles {
        let id = format!("tile-{}", i + 1);
        send(json!({"type": "participant-joined", "id": id, "name": id}))?;
        send(
            json!({"type": "media-state", "id": id, "video": true, "audio": false, "screen": false}),
        )?;
    }
    let Some(delivery) = spec.delivery else {
        return Ok(());
    };
    let units = encode_loop(spec.width, spec.height)?;
    let start = Instant::now();
    for i in 0..spec.tiles {
        let units = units.clone();
        let video = video.clone();
        let stop = stop.clone();
        let id = format!("tile-{}", i + 1);
        std::thread::Builder::new()
            .name(id.clone())
            .spawn(move || feed(&id, delivery, &units, start, &video, &stop))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// One tile's sender: the loop's access units at 30 fps, each stamped when it is "received",
/// decoded here first where the delivery says so (a call decodes as it receives, so that
/// time is part of what the tile adds).
fn feed(
    id: &str,
    delivery: VideoDelivery,
    units: &[(bool, Vec<u8>)],
    start: Instant,
    video: &Channel<InvokeResponseBody>,
    stop: &AtomicBool,
) {
    let mut decoder = match delivery {
        VideoDelivery::Encoded => None,
        _ => match H264Decoder::new() {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::error!("bench decoder: {e}");
                return;
            }
        },
    };
    for n in 0u64.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        // Paced against the start, not the previous frame, so pacing errors do not add up.
        let due = start + Duration::from_secs_f64(n as f64 / FPS);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let (keyframe, data) = &units[n as usize % units.len()];
        let sent = bridge::now_ms_f64();
        let decoded = decoder.as_mut().and_then(|d| d.decode(data).ok().flatten());
        let message = match (delivery, decoded) {
            (VideoDelivery::Pictures, Some(frame)) => bridge::picture_message(id, &frame, sent),
            (VideoDelivery::Pictures, None) => continue,
            _ => bridge::access_unit_message(id, *keyframe, data, sent),
        };
        if video.send(InvokeResponseBody::Raw(message)).is_err() {
            return;
        }
    }
}

/// Two seconds of the pattern as access units, starting with a keyframe (so every pass of
/// the loop starts with one and a decoder can always follow).
fn encode_loop(width: usize, height: usize) -> Result<Loop, String> {
    let mut encoder = H264Encoder::new(H264Settings {
        // The rate a call's sender picks for this size (a larger size, a higher rate).
        bitrate_bps: (width * height * 3) as u32,
        max_fps: FPS as f32,
        keyframe_interval: LOOP_FRAMES as u32,
        screen: false,
    })
    .map_err(|e| e.to_string())?;
    let mut pattern = TestPattern::new(width, height);
    let mut units = Vec::with_capacity(LOOP_FRAMES);
    while units.len() < LOOP_FRAMES {
        if units.is_empty() {
            encoder.request_keyframe();
        }
        if let Some(au) = encoder
            .encode(&pattern.next_frame())
            .map_err(|e| e.to_string())?
        {
            units.push((au.keyframe, au.data));
        }
    }
    Ok(Arc::new(units))
}

/// The join command in a benchmark run: the synthetic participants instead of a call.
pub async fn join(
    args: &Args,
    me: &str,
    on_event: Channel<UiEvent>,
    on_video: Channel<InvokeResponseBody>,
) -> Result<(Session, Joined), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let (width, height) = args.bench_size;
    let spec = BenchSpec {
        tiles: args.bench_tiles,
        width,
        height,
        delivery: match args.bench_video {
            BenchVideo::None => None,
            BenchVideo::Encoded => Some(VideoDelivery::Encoded),
            BenchVideo::Twice => Some(VideoDelivery::EncodedAndSummaries),
            BenchVideo::Pictures => Some(VideoDelivery::Pictures),
        },
    };
    let events = on_event.clone();
    let (name, flag) = (me.to_owned(), stop.clone());
    tauri::async_runtime::spawn_blocking(move || start(spec, &name, &events, on_video, flag))
        .await
        .map_err(|e| e.to_string())??;
    let session = Session {
        engine: Engine::Bench(stop),
        me: me.to_owned(),
        room: "benchmark".into(),
        invite: String::new(),
        chat_seq: AtomicU64::new(0),
        events: on_event,
    };
    let joined = Joined {
        server: "(benchmark)".into(),
        invite: String::new(),
        this_machine_only: true,
        camera: "Synthetic camera".into(),
        microphone: "Synthetic tone".into(),
        notices: Vec::new(),
    };
    Ok((session, joined))
}
