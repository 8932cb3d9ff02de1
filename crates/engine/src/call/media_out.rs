//! What this side sends: one video pipeline (camera, test pattern or shared screen, encoded
//! once) and one Opus encoder (microphone or tone), the same packets to every connected
//! participant; the camera, microphone and screen toggles; keyframes on request, limited to
//! one per [`KEYFRAME_REQUEST_INTERVAL`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use confab_media::codec::h264::AccessUnit;
use confab_media::codec::opus::OpusEncoder;
use confab_media::frame::AudioFrame;
use confab_media::pipeline::VideoPipeline;
use confab_media::source::VideoSourceSpec;
use confab_media::source::synthetic::Tone;
use confab_protocol::MediaState;

use super::allocation::{Allocation, Allocator, Inputs as AllocationInputs};
use super::config::{CallConfig, SYNTHETIC_TONE_HZ, VideoDelivery};
use super::events::{CallEvent, EventSink};
use super::limits::{KEYFRAME_REQUEST_INTERVAL, MinInterval};
use super::participant::Participants;

/// The largest absolute sample: what level indicators show.
pub(super) fn peak(samples: &[i16]) -> u16 {
    samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0)
}

/// Audio encoding state: the tone (when there is no microphone) and the encoder.
pub(super) struct AudioOut {
    pub tone: Option<Tone>,
    pub encoder: OpusEncoder,
}

/// The encoder's rate is changed only when the allocation moves by this fraction or more.
pub const RATE_STEP: f64 = 0.1;

pub(super) struct MediaOut {
    me: String,
    events: EventSink,
    pub video: Option<VideoPipeline>,
    /// In a mutex only because libopus's encoder is `Send` but not `Sync`, and the actor's
    /// future must be `Send`; only the actor ever locks it.
    pub audio: Option<Arc<Mutex<AudioOut>>>,
    camera: Option<VideoSourceSpec>,
    /// The tone's sync marks ([`crate::call::CallConfig::tone_sync_marks`]).
    tone_sync_marks: bool,
    screen: VideoSourceSpec,
    bitrate_bps: u32,
    max_fps: f32,
    delivery: VideoDelivery,
    camera_on: bool,
    sharing_screen: bool,
    mic_on: bool,
    /// Capture time of the last access unit sent: the next one's RTP duration.
    last_video_capture_us: Option<u64>,
    /// The local preview (forwarded access units) starts at a keyframe, like a remote decoder.
    local_preview_started: bool,
    keyframe_limit: MinInterval,
    /// A keyframe was asked for while the limit held it back: sent as soon as allowed.
    keyframe_pending: bool,
    allocator: Allocator,
    /// What the encoders were last told (congestion control).
    pub allocation: Option<Allocation>,
    /// The call's recording, when it runs: it hears this side's microphone (or tone).
    pub recording: Option<confab_record::Feeder>,
}

impl MediaOut {
    pub fn new(
        config: &CallConfig,
        events: EventSink,
        video: Option<VideoPipeline>,
        audio: Option<AudioOut>,
    ) -> Self {
        Self {
            me: config.name.clone(),
            events,
            video,
            audio: audio.map(|a| Arc::new(Mutex::new(a))),
            camera: config.video_source.clone(),
            tone_sync_marks: config.tone_sync_marks,
            screen: config.screen_source.clone(),
            bitrate_bps: config.video.bitrate_bps,
            max_fps: config.video.max_fps,
            delivery: config.video_delivery,
            camera_on: true,
            sharing_screen: false,
            mic_on: true,
            last_video_capture_us: None,
            local_preview_started: false,
            keyframe_limit: MinInterval::new(KEYFRAME_REQUEST_INTERVAL),
            keyframe_pending: false,
            allocator: Allocator::default(),
            allocation: None,
            recording: None,
        }
    }

    /// Shares the estimated bandwidth out (`allocation`) and tells the encoders what changed:
    /// the video bitrate, frame rate and largest size, and Opus the loss to protect against.
    /// `estimate_bps` is the lowest over the connected participants, `loss` the highest.
    pub fn allocate(
        &mut self,
        now: Instant,
        estimate_bps: Option<f64>,
        loss: f64,
        sending_file: bool,
    ) -> Allocation {
        let next = self.allocator.update(
            now,
            AllocationInputs {
                estimate_bps,
                loss,
                cap_bps: self.bitrate_bps,
                max_fps: self.max_fps,
                screen: self.sharing_screen,
                sending_file,
            },
        );
        let before = self.allocation;
        // openh264 restarts its rate control on every new rate (measured: re-set four times a
        // second by the estimate's jitter, a 207 kb/s stream came out at 100 kb/s and 5 fps),
        // so small moves are not passed on; what the encoder was last told is kept.
        let rate_moved = before.is_none_or(|b| {
            b.fps != next.fps
                || f64::from(b.video_bps.abs_diff(next.video_bps))
                    >= f64::from(b.video_bps) * RATE_STEP
        });
        let mut kept = next;
        if !rate_moved && let Some(b) = before {
            kept.video_bps = b.video_bps;
        }
        self.allocation = Some(kept);
        let size_moved = before.is_none_or(|b| b.max_size != next.max_size);
        if rate_moved || size_moved {
            tracing::debug!(
                "allocation: estimate {:.0} kb/s → video {} kb/s at {} fps, up to {:?}; data {:?} kb/s",
                estimate_bps.unwrap_or(0.0) / 1e3,
                next.video_bps / 1000,
                next.fps,
                next.max_size,
                next.data_bps.map(|d| (d / 1e3).round())
            );
        }
        if let Some(video) = &self.video {
            if rate_moved {
                video.set_rate(next.video_bps, next.fps);
            }
            if size_moved {
                video.set_max_size(next.max_size);
            }
        }
        if before.is_none_or(|b| b.audio_loss_percent != next.audio_loss_percent)
            && let Some(audio) = &self.audio
        {
            let mut guard = audio.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = guard.encoder.set_expected_loss(next.audio_loss_percent) {
                tracing::warn!("opus expected loss: {e}");
            }
        }
        next
    }

    /// The size video is encoded at now and the frame rate it is allowed.
    pub fn sent_format(&self) -> Option<((usize, usize), f32)> {
        let size = self.video.as_ref()?.encoded_size()?;
        Some((size, self.allocation.map_or(self.max_fps, |a| a.fps)))
    }

    /// What the data channel's `media-state` says about us. A call without a video (or
    /// audio) source says so: the others show its tile as camera (or microphone) off, not an
    /// empty black picture.
    pub fn state(&self) -> MediaState {
        MediaState {
            video: self.video.is_some() && (self.camera_on || self.sharing_screen),
            audio: self.audio.is_some() && self.mic_on,
            screen: self.sharing_screen,
        }
    }

    /// A keyframe for a newcomer or a receiver that lost its picture; at most one per
    /// [`KEYFRAME_REQUEST_INTERVAL`], the rest coalesced into the next allowed one.
    pub fn request_keyframe(&mut self, now: Instant) {
        let Some(video) = &self.video else { return };
        if self.keyframe_limit.allow(now) {
            self.keyframe_pending = false;
            video.request_keyframe();
        } else {
            self.keyframe_pending = true;
        }
    }

    pub fn set_camera(&mut self, on: bool) {
        self.camera_on = on;
        if let Some(video) = &self.video {
            video.set_enabled(on || self.sharing_screen);
        }
    }

    pub fn set_mic(&mut self, on: bool) {
        self.mic_on = on;
    }

    /// Switches the video track to the screen or back to the camera; an error when there is no
    /// video track.
    pub fn share_screen(&mut self, on: bool) -> Result<(), &'static str> {
        let Some(video) = &self.video else {
            return Err("this call sends no video, so there is no track to share a screen on");
        };
        self.sharing_screen = on;
        match (on, &self.camera) {
            (true, _) => video.switch_source(self.screen.clone()),
            (false, Some(camera)) => video.switch_source(camera.clone()),
            (false, None) => {}
        }
        video.set_enabled(on || self.camera_on);
        Ok(())
    }

    /// The screen could not be captured: back to the camera rather than sending nothing.
    pub fn screen_failed(&mut self) {
        self.sharing_screen = false;
        if let (Some(video), Some(camera)) = (&self.video, &self.camera) {
            video.switch_source(camera.clone());
            video.set_enabled(self.camera_on);
        }
    }

    pub fn sharing_screen(&self) -> bool {
        self.sharing_screen
    }

    pub fn set_camera_source(&mut self, spec: VideoSourceSpec) {
        if let Some(video) = &self.video
            && !self.sharing_screen
        {
            video.switch_source(spec.clone());
        }
        self.camera = Some(spec);
    }

    /// The user's cap: applied at once when it is below the current allocation, and an upper
    /// bound of every allocation from now on.
    pub fn set_max_bitrate(&mut self, bps: u32) {
        self.bitrate_bps = bps;
        if let (Some(video), Some(current)) = (&self.video, &mut self.allocation)
            && bps < current.video_bps
        {
            current.video_bps = bps;
            video.set_rate(bps, current.fps);
        }
    }

    /// Back to the tone (`true`) or to captured frames (`false`).
    pub fn use_tone(&self, tone: bool) {
        if let Some(audio) = &self.audio {
            let mut guard = audio.lock().unwrap_or_else(|p| p.into_inner());
            guard.tone =
                tone.then(|| Tone::new(SYNTHETIC_TONE_HZ).with_sync_marks(self.tone_sync_marks));
        }
    }

    /// Sends one access unit to every connected participant; its RTP duration is the time
    /// since the previous one was captured (sources are not all paced evenly).
    pub async fn send_video(&mut self, au: AccessUnit, participants: &mut Participants) {
        if self.keyframe_pending {
            self.request_keyframe(Instant::now());
        }
        let duration = match self.last_video_capture_us.replace(au.capture_us) {
            Some(previous) if au.capture_us > previous => {
                Duration::from_micros((au.capture_us - previous).min(1_000_000))
            }
            _ => Duration::from_secs_f32(1.0 / self.max_fps.max(1.0)),
        };
        if !(self.camera_on || self.sharing_screen) {
            return;
        }
        if self.delivery.forwards_encoded() {
            self.local_preview_started |= au.keyframe;
            if self.local_preview_started {
                self.events.emit(CallEvent::EncodedVideo {
                    id: self.me.clone(),
                    keyframe: au.keyframe,
                    data: Arc::from(au.data.as_slice()),
                });
            }
        }
        for p in participants.map.values_mut().filter(|p| p.connected) {
            // P frames are useless to a participant that has not had a keyframe yet (its
            // decoder has no parameter sets); one was requested when it connected.
            if p.awaiting_keyframe && !au.keyframe {
                continue;
            }
            p.awaiting_keyframe = false;
            if let Err(e) = p.link.send_video(&au, duration).await {
                tracing::debug!("video to {}: {e}", p.name);
            }
        }
    }

    /// Encodes and sends one 20 ms frame: `captured` from the microphone, or the next frame of
    /// the tone.
    pub async fn send_audio(&mut self, captured: Option<AudioFrame>, participants: &Participants) {
        if let Some(frame) = captured.as_ref().filter(|_| self.mic_on) {
            self.events.emit(CallEvent::LocalAudio {
                peak: peak(&frame.samples),
            });
        }
        let nobody = participants.connected().next().is_none();
        if nobody && self.recording.is_none() {
            return;
        }
        let Some(audio) = &self.audio else { return };
        let encoded = {
            let mut guard = audio.lock().unwrap_or_else(|p| p.into_inner());
            let AudioOut { tone, encoder } = &mut *guard;
            let Some(mut frame) = captured.or_else(|| tone.as_mut().map(Tone::next_frame)) else {
                return;
            };
            if !self.mic_on {
                frame.samples.fill(0);
            }
            if let Some(recording) = &self.recording {
                recording.feed(confab_record::Input::Audio {
                    id: self.me.clone(),
                    frame: frame.clone(),
                });
            }
            if nobody {
                return;
            }
            encoder.encode(&frame)
        };
        let packet = match encoded {
            Ok(p) => p,
            Err(e) => return self.events.error(format!("encoding audio: {e}")),
        };
        for (_, p) in participants.connected() {
            if let Err(e) = p.link.send_audio(&packet).await {
                tracing::debug!("audio to {}: {e}", p.name);
            }
        }
    }
}
