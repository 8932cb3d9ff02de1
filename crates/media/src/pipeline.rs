//! The send side of video: one thread that captures from a source, encodes, and hands access
//! units to the async side through a small bounded queue.
//!
//! Why a thread: cameras block until their next frame and H.264 encoding takes milliseconds
//! of CPU per frame; neither belongs on an async runtime. Why the queue drops instead of
//! waiting: a frame that cannot be sent now is stale by the time it could be (latency over
//! completeness); the next frame after a drop is a keyframe, so receivers never decode a
//! P frame whose reference was dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::codec::h264::{AccessUnit, H264Encoder, H264Settings};
use crate::frame::VideoFrame;
use crate::source::{VideoSource, VideoSourceSpec};

/// Encoded frames waiting for the sender; one more means the sender has fallen behind.
pub const ENCODED_QUEUE: usize = 4;

/// What the capture thread reports.
#[derive(Debug)]
pub enum VideoOut {
    Encoded(AccessUnit),
    /// The source could not be opened or stopped delivering; the thread waits for another
    /// source (or to be enabled again, which reopens it).
    SourceFailed(String),
    /// A source is open and delivering.
    SourceOpened {
        screen: bool,
    },
}

/// Sees each captured picture before it is scaled and encoded (a call's recording shows
/// this side's own video with it). Called on the capture thread: it must not block.
pub type FrameTap = Box<dyn FnMut(&VideoFrame) + Send>;

enum Control {
    Tap(Option<FrameTap>),
    Keyframe,
    Rate(u32, f32),
    MaxSize(Option<(usize, usize)>),
    Source(VideoSourceSpec),
    Enabled(bool),
}

/// Handle to the capture-and-encode thread; dropping it stops the thread (and releases the
/// device) after at most one frame.
pub struct VideoPipeline {
    control: std_mpsc::Sender<Control>,
    dropped: Arc<AtomicU64>,
    /// The size of the last encoded frame, `width << 32 | height` (0: none yet).
    encoded_size: Arc<AtomicU64>,
}

impl VideoPipeline {
    pub fn start(
        spec: VideoSourceSpec,
        settings: H264Settings,
        out: mpsc::Sender<VideoOut>,
    ) -> Result<Self, crate::codec::CodecError> {
        let encoder = H264Encoder::new(settings)?;
        let (control, rx) = std_mpsc::channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let encoded_size = Arc::new(AtomicU64::new(0));
        let (counter, size) = (dropped.clone(), encoded_size.clone());
        std::thread::Builder::new()
            .name("confab-video".into())
            .spawn(move || {
                let mut worker = Worker::new(spec, encoder, out, counter);
                worker.encoded_size = size;
                worker.run(rx)
            })
            .map_err(|e| crate::codec::CodecError::H264(format!("capture thread: {e}")))?;
        Ok(Self {
            control,
            dropped,
            encoded_size,
        })
    }

    /// The size frames are encoded at now (after any scaling down); `None` before the first.
    pub fn encoded_size(&self) -> Option<(usize, usize)> {
        let packed = self.encoded_size.load(Ordering::Relaxed);
        (packed != 0).then_some(((packed >> 32) as usize, (packed & 0xffff_ffff) as usize))
    }

    /// Frames larger than `max` are scaled down to fit it (aspect ratio kept) before they are
    /// encoded; `None` sends the source's own size. Congestion control's resolution ladder.
    pub fn set_max_size(&self, max: Option<(usize, usize)>) {
        let _ = self.control.send(Control::MaxSize(max));
    }

    /// Encoded frames dropped because the sender had fallen behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The next frame is a keyframe (a participant connected, or asked with PLI/FIR).
    pub fn request_keyframe(&self) {
        let _ = self.control.send(Control::Keyframe);
    }

    /// New target bitrate and frame rate, applied to the running encoder.
    pub fn set_rate(&self, bitrate_bps: u32, max_fps: f32) {
        let _ = self.control.send(Control::Rate(bitrate_bps, max_fps));
    }

    /// Switches to another source (camera ↔ screen) without touching the call: the same
    /// track carries the new pictures, starting with a keyframe.
    pub fn switch_source(&self, spec: VideoSourceSpec) {
        let _ = self.control.send(Control::Source(spec));
    }

    /// `tap` sees every captured picture from now on (`None`: no longer).
    pub fn set_tap(&self, tap: Option<FrameTap>) {
        let _ = self.control.send(Control::Tap(tap));
    }

    /// Off closes the source (a camera's light goes off) and sends nothing.
    pub fn set_enabled(&self, on: bool) {
        let _ = self.control.send(Control::Enabled(on));
    }
}

/// How long captures may keep failing before the source is given up (the call then falls
/// back from the screen to the camera, or reports the camera lost).
const GIVE_UP_AFTER: Duration = Duration::from_secs(2);
/// Pause after a failed capture.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

struct Worker {
    spec: VideoSourceSpec,
    source: Option<Box<dyn VideoSource>>,
    encoder: H264Encoder,
    out: mpsc::Sender<VideoOut>,
    enabled: bool,
    /// Whether the current spec failed to open: not retried until the spec or state changes.
    failed: bool,
    /// Since when capturing has failed without a frame in between: a source is given up only
    /// after [`GIVE_UP_AFTER`] of that.
    failing_since: Option<Instant>,
    next_tick: Instant,
    dropped: Arc<AtomicU64>,
    encoded_size: Arc<AtomicU64>,
    max_size: Option<(usize, usize)>,
    scaler: crate::convert::I420Scaler,
    tap: Option<FrameTap>,
}

impl Worker {
    fn new(
        spec: VideoSourceSpec,
        encoder: H264Encoder,
        out: mpsc::Sender<VideoOut>,
        dropped: Arc<AtomicU64>,
    ) -> Self {
        Self {
            dropped,
            spec,
            source: None,
            encoder,
            out,
            enabled: true,
            failed: false,
            failing_since: None,
            next_tick: Instant::now(),
            encoded_size: Arc::new(AtomicU64::new(0)),
            max_size: None,
            scaler: crate::convert::I420Scaler::default(),
            tap: None,
        }
    }

    fn run(mut self, control: std_mpsc::Receiver<Control>) {
        loop {
            // Idle (off, or the source failed): block until told something.
            if !self.enabled || self.failed {
                match control.recv() {
                    Ok(c) => self.apply(c),
                    Err(_) => return,
                }
            }
            loop {
                match control.try_recv() {
                    Ok(c) => self.apply(c),
                    Err(std_mpsc::TryRecvError::Empty) => break,
                    Err(std_mpsc::TryRecvError::Disconnected) => return,
                }
            }
            if !self.enabled || self.failed {
                continue;
            }
            if self.source.is_none() && !self.open() {
                continue;
            }
            if !self.step() {
                return;
            }
        }
    }

    fn apply(&mut self, control: Control) {
        match control {
            Control::Tap(tap) => self.tap = tap,
            Control::Keyframe => self.encoder.request_keyframe(),
            Control::Rate(bps, fps) => {
                if let Err(e) = self.encoder.set_rate(bps, fps) {
                    tracing::warn!("video rate {bps} b/s {fps} fps: {e}");
                }
            }
            Control::MaxSize(max) => self.max_size = max,
            Control::Source(spec) => {
                self.spec = spec;
                self.source = None;
                self.failed = false;
            }
            Control::Enabled(on) => {
                self.enabled = on;
                self.failed = false;
                if !on {
                    self.source = None;
                }
            }
        }
    }

    fn open(&mut self) -> bool {
        match self.spec.open() {
            Ok(source) => {
                self.source = Some(source);
                self.failing_since = None;
                // A new picture: receivers need a keyframe to start from.
                self.encoder.request_keyframe();
                self.next_tick = Instant::now();
                let _ = self.out.try_send(VideoOut::SourceOpened {
                    screen: self.spec.is_screen(),
                });
                true
            }
            Err(e) => {
                self.failed = true;
                let _ = self
                    .out
                    .blocking_send(VideoOut::SourceFailed(e.to_string()));
                false
            }
        }
    }

    /// Captures, encodes and queues one frame; false when the receiving side is gone.
    fn step(&mut self) -> bool {
        let Some(source) = self.source.as_mut() else {
            return true;
        };
        if !source.self_paced() {
            let period = Duration::from_secs_f32(1.0 / self.encoder.settings().max_fps);
            let now = Instant::now();
            if self.next_tick > now {
                std::thread::sleep(self.next_tick - now);
            }
            // Behind by more than a frame (a slow capture): skip ahead rather than burst.
            self.next_tick = (self.next_tick + period).max(Instant::now());
        }
        let frame = match source.next_frame() {
            Ok(frame) => {
                self.failing_since = None;
                frame
            }
            Err(e) => {
                let since = *self.failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() < GIVE_UP_AFTER {
                    // Transient: under CPU load the X server refuses xcap's new connection
                    // for one capture ("Connection error"), and the next one works. Skip the
                    // frame and pause a little so a busy server can catch up.
                    tracing::debug!("capture failed, retrying: {e}");
                    std::thread::sleep(RETRY_PAUSE);
                    return true;
                }
                self.source = None;
                self.failed = true;
                self.failing_since = None;
                return self
                    .out
                    .blocking_send(VideoOut::SourceFailed(e.to_string()))
                    .is_ok();
            }
        };
        if let Some(tap) = self.tap.as_mut() {
            tap(&frame);
        }
        let frame = match self.max_size {
            Some(max) => match self.scaler.fit(frame, max) {
                Ok(scaled) => scaled,
                Err(e) => {
                    tracing::warn!("scaling video to {max:?}: {e}");
                    return true;
                }
            },
            None => frame,
        };
        self.encoded_size.store(
            ((frame.width as u64) << 32) | frame.height as u64,
            Ordering::Relaxed,
        );
        let au = match self.encoder.encode(&frame) {
            Ok(Some(au)) => au,
            Ok(None) => return true,
            Err(e) => {
                tracing::warn!("encoding video: {e}");
                return true;
            }
        };
        match self.out.try_send(VideoOut::Encoded(au)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                self.encoder.request_keyframe();
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}
