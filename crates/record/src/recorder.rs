//! A running recording: a thread of its own that takes the call's decoded pictures and audio
//! ([`Input`]), composes the grid ([`crate::compose`]) and mixes the audio (confab-media's
//! `Mixer`, the speakers' own) on one clock, encodes them (openh264, Opus) and writes the
//! file ([`crate::fmp4`]).
//!
//! The call never waits for it: inputs go through a bounded queue and are dropped, counted,
//! when it is full — except pictures, of which only each participant's latest is kept (a
//! mailbox the compositor empties at each frame): a queue of 720p pictures behind a busy
//! recorder held ~1.4 MB each (measured: the recording process grew by 44–110 MiB at 720p,
//! varying with how far behind it fell), and the compositor only ever shows the newest.
//!
//! A busy machine makes the recording's frame rate drop (a frame whose time has passed is
//! skipped, the previous one lasts longer) rather than the call stutter; the thread runs at a
//! lower priority than the call's ([`NICENESS`]). A write that fails (the disk is full) ends
//! the recording with that error and a file cut back to its last whole fragment, which plays;
//! the call goes on.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use confab_media::audio_io::Mixer;
use confab_media::codec::h264::{H264Decoder, H264Encoder, H264Settings};
use confab_media::codec::opus::OpusEncoder;
use confab_media::frame::{AudioFrame, SAMPLES_PER_FRAME, VideoFrame};

use crate::compose::{Compositor, Tile};
use crate::fmp4::{Fmp4Writer, RecordError};

/// The recording's picture: 720p, the grid the app shows at that size.
pub const SIZE: (usize, usize) = (1280, 720);
/// Frames a second composed and encoded: enough for a meeting, and half the call's own
/// encoding work at the same size (a recorder must not take the call's CPU).
pub const FPS: u32 = 15;
/// The recording's video bitrate: a 720p grid of talking heads at 15 fps.
pub const VIDEO_BPS: u32 = 1_500_000;
/// The mixed audio's bitrate (mono speech and music of a call).
pub const AUDIO_BPS: i32 = 48_000;
/// A keyframe this often: seeking in the file lands near where asked.
pub const KEYFRAME_EVERY: Duration = Duration::from_secs(2);
/// Inputs waiting for the recorder's thread; more are dropped (and counted). About a second
/// of a six-person call's audio (50 frames a second each) and encoded video (30 each).
pub const INPUT_QUEUE: usize = 512;
/// One audio packet: 20 ms.
const PACKET: Duration = Duration::from_millis(20);
/// The recorder thread's niceness (0 is the call's, 19 the least): when the cores are busy the
/// scheduler gives a call's thread ~9 times the recorder's share (CFS weights 1024 and 110),
/// so the recording's frame rate drops (frames whose time passed are skipped) before the
/// call's does. Not 19: the recording should still move on a machine that is merely busy.
pub const NICENESS: i32 = 10;
/// [`NICENESS`] in thread-priority's portable scale (0–99), which it maps onto niceness as
/// `trunc(39 × (1 − p/99)) − 20` for Linux's normal scheduling policy: 22 → 10. The test
/// below reads the result back from the kernel.
const PORTABLE_PRIORITY: u8 = 22;

/// What the recording hears of the call.
#[derive(Debug)]
pub enum Input {
    /// Someone is in the call (oneself included, first), shown under `name`.
    Joined {
        id: String,
        name: String,
    },
    Left {
        id: String,
    },
    /// `id`'s camera (or shared screen) is on or off, and whether it is a screen.
    Media {
        id: String,
        video: bool,
        screen: bool,
    },
    /// `id`'s latest decoded picture (it replaces the one before if that was not shown yet).
    Picture {
        id: String,
        frame: Arc<VideoFrame>,
    },
    /// `id`'s next H.264 access unit (Annex B), when the call does not decode video itself
    /// (the desktop app's webview does): the recorder decodes it, every one in order (each
    /// depends on the one before), and shows the latest picture.
    EncodedVideo {
        id: String,
        data: Arc<[u8]>,
    },
    /// `id`'s next decoded (or captured) 20 ms of audio, mono 48 kHz.
    Audio {
        id: String,
        frame: AudioFrame,
    },
}

/// How a recording ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub path: PathBuf,
    pub duration: Duration,
    pub bytes: u64,
    pub video_frames: u64,
    /// Inputs dropped because the recorder could not keep up.
    pub dropped_inputs: u64,
    /// Why it stopped before it was asked to (a write failed), if it did.
    pub error: Option<String>,
}

/// A recording in progress. Dropping it without [`Recording::stop`] stops it too.
pub struct Recording {
    inputs: Option<Feeder>,
    thread: Option<JoinHandle<Summary>>,
    stop: Arc<AtomicBool>,
}

/// Hands inputs to a recording from any thread (the call's actor, the capture thread), never
/// waiting: cloned freely; the recording ends when it is stopped, whatever feeders remain.
#[derive(Clone)]
pub struct Feeder {
    tx: SyncSender<Input>,
    dropped: Arc<AtomicU64>,
    pictures: Pictures,
}

/// Each participant's newest picture not shown yet.
type Pictures = Arc<Mutex<HashMap<String, Arc<VideoFrame>>>>;

impl Feeder {
    /// Gives `input` to the recorder; false when it was dropped (the queue is full, or the
    /// recording has ended). A picture always replaces that participant's previous one.
    pub fn feed(&self, input: Input) -> bool {
        if let Input::Picture { id, frame } = input {
            self.pictures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(id, frame);
            return true;
        }
        match self.tx.try_send(input) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

impl Recording {
    /// Starts recording to `path` (created; an existing file is never overwritten).
    pub fn start(path: &Path) -> Result<Self, RecordError> {
        let file = File::options().write(true).create_new(true).open(path)?;
        let (tx, rx) = sync_channel(INPUT_QUEUE);
        let path = path.to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let pictures = Pictures::default();
        let shown = pictures.clone();
        let thread = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || run(rx, &shown, BufWriter::new(file), path, &stopped))?;
        Ok(Self {
            inputs: Some(Feeder {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
                pictures,
            }),
            thread: Some(thread),
            stop,
        })
    }

    /// Hands `input` to the recorder without waiting; false when it was dropped.
    pub fn feed(&self, input: Input) -> bool {
        self.inputs.as_ref().is_some_and(|f| f.feed(input))
    }

    /// A feeder for another thread.
    pub fn feeder(&self) -> Option<Feeder> {
        self.inputs.clone()
    }

    /// Whether the recorder stopped by itself (a write failed).
    pub fn has_ended(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops, writes the end of the file, and says how it went.
    pub fn stop(mut self) -> Summary {
        self.finish()
    }

    fn finish(&mut self) -> Summary {
        let dropped = self
            .inputs
            .take()
            .map_or(0, |f| f.dropped.load(Ordering::Relaxed));
        // Told by a flag, not by the queue closing: feeders held elsewhere (a capture thread)
        // keep the queue open. The thread looks at it every 20 ms at most.
        self.stop.store(true, Ordering::Relaxed);
        let mut summary = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(summary)) => summary,
            Some(Err(_)) | None => Summary {
                path: PathBuf::new(),
                duration: Duration::ZERO,
                bytes: 0,
                video_frames: 0,
                dropped_inputs: 0,
                error: Some("the recorder stopped unexpectedly".into()),
            },
        };
        summary.dropped_inputs += dropped;
        summary
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.finish();
        }
    }
}

/// One participant as the recorder knows it.
struct Participant {
    name: String,
    video: bool,
    screen: bool,
    picture: Option<Arc<VideoFrame>>,
    /// For [`Input::EncodedVideo`]; made on the first access unit.
    decoder: Option<H264Decoder>,
}

/// The recorder's thread: until the queue closes or a write fails.
fn run(
    inputs: Receiver<Input>,
    pictures: &Mutex<HashMap<String, Arc<VideoFrame>>>,
    out: BufWriter<File>,
    path: PathBuf,
    stop: &AtomicBool,
) -> Summary {
    lower_priority();
    let mut summary = Summary {
        path,
        duration: Duration::ZERO,
        bytes: 0,
        video_frames: 0,
        dropped_inputs: 0,
        error: None,
    };
    let mut state = match Pipeline::new(out) {
        Ok(state) => state,
        Err(e) => {
            summary.error = Some(e.to_string());
            return summary;
        }
    };
    let start = Instant::now();
    let frame_interval = Duration::from_secs(1) / FPS;
    let mut packets: u32 = 0;
    let mut next_frame = start;
    let outcome = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        let next_packet = start + PACKET * (packets + 1);
        let due = next_packet.min(next_frame);
        match inputs.recv_timeout(due.saturating_duration_since(Instant::now())) {
            Ok(input) => {
                state.apply(input);
                if Instant::now() < due {
                    continue;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break Ok(()),
        }
        let now = Instant::now();
        // Every 20 ms of audio whose end has passed (several after a stall: the audio track
        // stays continuous, the mix holds silence where nothing came).
        let mut result = Ok(());
        while result.is_ok() && start + PACKET * (packets + 1) <= now {
            result = state.audio_packet();
            packets += 1;
        }
        if result.is_ok() && now >= next_frame {
            let newest = std::mem::take(
                &mut *pictures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            for (id, frame) in newest {
                // Someone not (or no longer) in the call: dropped with the map.
                if let Some(p) = state.participant(&id) {
                    p.picture = Some(frame);
                }
            }
            // Shown from half a frame earlier than composed: what it shows arrived at some
            // point since the frame before, on average half an interval ago (the sync test's
            // flashes measured 33 ms late without this, as a 15 fps sample-and-hold predicts).
            let at = (now - start).saturating_sub(frame_interval / 2);
            result = state.video_frame(at);
            summary.video_frames += 1;
            next_frame += frame_interval;
            if next_frame <= now {
                // Behind (a busy machine): skip the frames whose time has passed.
                next_frame = now + frame_interval;
            }
        }
        if let Err(e) = result {
            break Err(e);
        }
    };
    summary.duration = PACKET * packets;
    if let Err(e) = outcome.and_then(|()| state.writer.finish()) {
        summary.error = Some(describe(&e));
    }
    summary.bytes = state.writer.complete_len();
    if summary.error.is_some() {
        // A write that failed (the disk full) may have left part of a fragment: cut the file
        // back to its last whole one, which players read to the end (a file ending inside a
        // fragment's boxes is one ffmpeg refuses altogether). What was buffered is dropped.
        let (file, _unwritten) = state.writer.into_inner().into_parts();
        if let Err(e) = file.set_len(summary.bytes) {
            summary.error = summary.error.map(|first| {
                format!("{first}; then cutting the file to its last whole fragment: {e}")
            });
        }
    }
    summary
}

/// Makes the calling thread (the recorder's) yield to the call's ([`NICENESS`]). Raising
/// niceness needs no privilege; if it fails anyway the recording runs at normal priority.
fn lower_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue};
    let result = ThreadPriorityValue::try_from(PORTABLE_PRIORITY)
        .map_err(|e| format!("{e:?}"))
        .and_then(|p| {
            thread_priority::set_current_thread_priority(ThreadPriority::Crossplatform(p))
                .map_err(|e| format!("{e:?}"))
        });
    if let Err(e) = result {
        eprintln!("recorder: running at normal priority (could not lower it: {e})");
    }
}

/// What the user is told when the recording stopped by itself: a full disk said plainly (it
/// is the common case, and the OS's words for it vary), anything else as it came.
fn describe(e: &RecordError) -> String {
    match e {
        RecordError::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
            format!("the disk is full; the recording up to here is kept ({io})")
        }
        other => other.to_string(),
    }
}

/// The mixer, compositor, encoders and writer of one recording.
struct Pipeline {
    writer: Fmp4Writer<BufWriter<File>>,
    participants: Vec<(String, Participant)>,
    mixer: Mixer,
    compositor: Compositor,
    video: H264Encoder,
    audio: OpusEncoder,
    samples: Vec<i16>,
}

impl Pipeline {
    fn new(out: BufWriter<File>) -> Result<Self, RecordError> {
        let codec = |e: confab_media::codec::CodecError| RecordError::Mux(e.to_string());
        Ok(Self {
            writer: Fmp4Writer::new(out),
            participants: Vec::new(),
            mixer: Mixer::default(),
            compositor: Compositor::new(SIZE.0, SIZE.1),
            video: H264Encoder::new(H264Settings {
                bitrate_bps: VIDEO_BPS,
                max_fps: FPS as f32,
                keyframe_interval: FPS * KEYFRAME_EVERY.as_secs() as u32,
                screen: false,
            })
            .map_err(codec)?,
            audio: OpusEncoder::new(AUDIO_BPS).map_err(codec)?,
            samples: vec![0; SAMPLES_PER_FRAME],
        })
    }

    fn participant(&mut self, id: &str) -> Option<&mut Participant> {
        self.participants
            .iter_mut()
            .find(|(known, _)| known == id)
            .map(|(_, p)| p)
    }

    fn apply(&mut self, input: Input) {
        match input {
            Input::Joined { id, name } => match self.participant(&id) {
                Some(p) => p.name = name,
                None => self.participants.push((
                    id,
                    Participant {
                        name,
                        video: true,
                        screen: false,
                        picture: None,
                        decoder: None,
                    },
                )),
            },
            Input::Left { id } => {
                self.participants.retain(|(known, _)| *known != id);
                self.mixer.remove(&id);
            }
            Input::Media { id, video, screen } => {
                if let Some(p) = self.participant(&id) {
                    p.video = video;
                    p.screen = screen;
                }
            }
            // Pictures come through the mailbox (`Feeder::feed`), not the queue.
            Input::Picture { .. } => {}
            Input::EncodedVideo { id, data } => {
                if let Some(p) = self.participant(&id) {
                    if p.decoder.is_none() {
                        p.decoder = H264Decoder::new().ok();
                    }
                    // A frame that does not decode (lost before it, or before the first
                    // keyframe) leaves the previous picture up.
                    if let Some(Ok(Some(frame))) = p.decoder.as_mut().map(|d| d.decode(&data)) {
                        p.picture = Some(Arc::new(frame));
                    }
                }
            }
            Input::Audio { id, frame } => {
                if frame.channels == 1 && self.participant(&id).is_some() {
                    self.mixer.push(&id, &frame.samples);
                }
            }
        }
    }

    fn audio_packet(&mut self) -> Result<(), RecordError> {
        self.mixer.mix(&mut self.samples);
        let frame = AudioFrame {
            samples: self.samples.clone(),
            channels: 1,
            capture_us: 0,
        };
        let packet = self
            .audio
            .encode(&frame)
            .map_err(|e| RecordError::Mux(e.to_string()))?;
        self.writer.push_audio(&packet)
    }

    fn video_frame(&mut self, at: Duration) -> Result<(), RecordError> {
        let tiles: Vec<Tile> = self
            .participants
            .iter()
            .map(|(_, p)| Tile {
                name: &p.name,
                picture: p.picture.as_deref().filter(|_| p.video),
                screen: p.screen && p.video,
            })
            .collect();
        let frame = self
            .compositor
            .compose(&tiles)
            .map_err(|e| RecordError::Mux(e.to_string()))?;
        match self
            .video
            .encode(&frame)
            .map_err(|e| RecordError::Mux(e.to_string()))?
        {
            Some(au) => self.writer.push_video(&au.data, au.keyframe, at),
            None => Ok(()), // the encoder's rate control skipped it
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flood of pictures (far more than the queue holds) is never dropped and never piles
    /// up: each replaces the one before.
    #[test]
    fn pictures_replace_each_other_instead_of_queueing() {
        let dir = std::env::temp_dir().join(format!("confab-pictures-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let rec = Recording::start(&dir.join("p.mp4")).expect("start");
        let feeder = rec.feeder().expect("feeder");
        for n in 0..4 * INPUT_QUEUE {
            let frame = Arc::new(VideoFrame::black(1280, 720));
            assert!(feeder.feed(Input::Picture {
                id: format!("p{}", n % 3),
                frame
            }));
            assert!(feeder.pictures.lock().expect("lock").len() <= 3);
        }
        let summary = rec.stop();
        assert_eq!(summary.dropped_inputs, 0, "{summary:?}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    /// The thread that calls it ends up at [`NICENESS`] (read back from the kernel).
    #[test]
    fn the_recorder_yields_to_the_call() {
        let nice = std::thread::spawn(|| {
            lower_priority();
            let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
            // Field 19 (nice), counted after the command name's closing parenthesis.
            let after = &stat[stat.rfind(')').expect("comm") + 2..];
            after
                .split(' ')
                .nth(16)
                .expect("nice")
                .parse::<i32>()
                .expect("a number")
        })
        .join()
        .expect("thread");
        assert_eq!(nice, NICENESS);
    }

    #[test]
    fn a_full_disk_is_said_plainly() {
        let full = RecordError::Io(std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert!(describe(&full).starts_with("the disk is full; the recording up to here is kept"));
        let other = RecordError::Io(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert_eq!(describe(&other), other.to_string());
    }
}
