//! The lobby's preview in the app: before joining, the camera (or the synthetic pattern) as
//! the call would send it, and the microphone's level, so that a user sees both work before
//! anyone else does (issue 10). The engine owns the devices (the webview has no camera of its
//! own here), so pictures reach the page as the bridge's picture messages for the local tile
//! (id "", the lobby's) and levels as numbers.
//!
//! One preview at a time; joining stops it first (a camera has one reader at a time), and so
//! does leaving the lobby's page. Both loops end within a frame of [`Preview::stop`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use confab_media::audio_io::Capture;
use confab_media::convert::I420Scaler;
use confab_media::frame::AudioFrame;
use confab_media::source::VideoSourceSpec;
use confab_media::source::synthetic::Tone;
use tauri::ipc::{Channel, InvokeResponseBody};

use crate::bridge::{now_ms_f64, picture_message};

/// The largest preview picture: the lobby's tile is at most 640 px wide.
pub const PREVIEW_MAX: (usize, usize) = (640, 480);
/// Pictures a second: enough to see that it moves, at a fraction of a call's cost.
pub const PREVIEW_FPS: u32 = 15;
/// How often the microphone's loudest sample reaches the meter.
pub const LEVEL_EVERY: Duration = Duration::from_millis(100);
/// The synthetic microphone's tone: the call's (engine `AudioOut`), 440 Hz.
const TONE_HZ: f64 = 440.0;
/// The tone's frames are 20 ms; the synthetic microphone is paced at that.
const TONE_FRAME: Duration = Duration::from_millis(20);

/// What the preview shows: which camera and microphone (`None`: the synthetic tone).
pub struct Sources {
    pub camera: VideoSourceSpec,
    pub mic: Option<String>,
}

/// A running preview; stopped when dropped.
pub struct Preview {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Preview {
    /// Starts showing `sources`: pictures to `video`, levels (0..1, the loudest sample of each
    /// [`LEVEL_EVERY`]) to `levels`. A device that cannot be opened sends one error on
    /// `problems` and the rest of the preview goes on.
    pub fn start(
        sources: Sources,
        video: Channel<InvokeResponseBody>,
        levels: Channel<f64>,
        problems: Channel<String>,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let camera_stop = stop.clone();
        let camera_problems = problems.clone();
        let camera = std::thread::spawn(move || {
            if let Err(e) = pictures(&sources.camera, &video, &camera_stop) {
                let _ = camera_problems.send(format!("Camera preview: {e}"));
            }
        });
        let mic_stop = stop.clone();
        let mic = std::thread::spawn(move || {
            if let Err(e) = microphone(sources.mic.as_deref(), &levels, &mic_stop) {
                let _ = problems.send(format!("Microphone preview: {e}"));
            }
        });
        Self {
            stop,
            threads: vec![camera, mic],
        }
    }

    /// Stops and waits for both loops (each ends within a frame).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Preview {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The camera's pictures, scaled to [`PREVIEW_MAX`], at most [`PREVIEW_FPS`] a second.
fn pictures(
    spec: &VideoSourceSpec,
    video: &Channel<InvokeResponseBody>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut source = spec.open().map_err(|e| e.to_string())?;
    let mut scaler = I420Scaler::default();
    let every = Duration::from_secs(1) / PREVIEW_FPS;
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let frame = source.next_frame().map_err(|e| e.to_string())?;
        let now = Instant::now();
        if now < next {
            // A camera runs at its own rate: its extra pictures are skipped; the pattern is
            // paced here.
            if source.self_paced() {
                continue;
            }
            std::thread::sleep(next - now);
        }
        next = Instant::now() + every;
        let frame = scaler.fit(frame, PREVIEW_MAX).map_err(|e| e.to_string())?;
        if video
            .send(InvokeResponseBody::Raw(picture_message(
                "",
                &frame,
                now_ms_f64(),
            )))
            .is_err()
        {
            return Ok(()); // the page is gone
        }
    }
    Ok(())
}

/// The microphone's level (or the synthetic tone's, which the call would send instead).
fn microphone(
    device: Option<&str>,
    levels: &Channel<f64>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut meter = Meter::default();
    match device {
        Some(device) => {
            let (_capture, mut frames) =
                Capture::start(Some(device), None).map_err(|e| e.to_string())?;
            while !stop.load(Ordering::Relaxed) {
                // Frames come every 20 ms; a silent device may send none, so look again soon.
                match frames.try_recv() {
                    Ok(frame) => meter.push(&frame, Instant::now(), levels),
                    Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                        std::thread::sleep(TONE_FRAME / 2)
                    }
                    Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                        return Err("the microphone stopped".into());
                    }
                }
            }
        }
        None => {
            let mut tone = Tone::new(TONE_HZ);
            while !stop.load(Ordering::Relaxed) {
                meter.push(&tone.next_frame(), Instant::now(), levels);
                std::thread::sleep(TONE_FRAME);
            }
        }
    }
    Ok(())
}

/// The loudest sample over each [`LEVEL_EVERY`], as 0..1.
#[derive(Default)]
struct Meter {
    since: Option<Instant>,
    loudest: u16,
}

impl Meter {
    fn push(&mut self, frame: &AudioFrame, now: Instant, levels: &Channel<f64>) {
        let peak = frame
            .samples
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap_or(0);
        self.loudest = self.loudest.max(peak);
        let since = *self.since.get_or_insert(now);
        if now.duration_since(since) >= LEVEL_EVERY {
            let _ = levels.send(f64::from(self.loudest) / 32768.0);
            self.since = Some(now);
            self.loudest = 0;
        }
    }
}
