//! Microphone capture and speaker playback through cpal (ALSA; PulseAudio and PipeWire through
//! their ALSA plugins).
//!
//! Both run at the pipeline's format — 48 kHz mono — and let the sound server resample. cpal
//! streams may not cross threads, so each lives on a thread of its own that owns it until the
//! handle is dropped. Playback mixes every remote participant: each has a short queue, the
//! output callback sums what is queued, and a queue that grows beyond its bound drops its
//! oldest samples (latency over completeness).

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use tokio::sync::mpsc;

use crate::frame::{AudioFrame, SAMPLE_RATE, SAMPLES_PER_FRAME, now_us};
use crate::stream_errors::StreamErrors;
use crate::voice::VoiceProcessor;

/// cpal's period: 10 ms. A fixed size also avoids ALSA's `snd_pcm_avail_delay` errors that the
/// default size produced here (FINDINGS.md).
const PERIOD_FRAMES: u32 = 480;
pub use crate::mixer::{MAX_QUEUED_SAMPLES, Mixer};

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("no audio device named {0:?}")]
    NoDevice(String),
    #[error("audio device: {0}")]
    Device(String),
}

fn device(input: bool, name: Option<&str>) -> Result<cpal::Device, AudioError> {
    let host = cpal::default_host();
    let wanted = name.filter(|n| *n != "default");
    match wanted {
        None => if input {
            host.default_input_device()
        } else {
            host.default_output_device()
        }
        .ok_or_else(|| AudioError::NoDevice("default".into())),
        Some(name) => {
            let mut devices = if input {
                host.input_devices()
            } else {
                host.output_devices()
            }
            .map_err(|e| AudioError::Device(e.to_string()))?;
            devices
                .find(|d| pcm_id(d).is_some_and(|n| n == name))
                .ok_or_else(|| AudioError::NoDevice(name.to_owned()))
        }
    }
}

/// The name a user picks a device by: ALSA's PCM id (`default`, `pulse`, `hw:CARD=…`), which
/// stays the same across runs, unlike the human description.
fn pcm_id(d: &cpal::Device) -> Option<String> {
    d.id().ok().map(|id| id.id().to_owned())
}

/// Names of the capture devices, default first.
pub fn input_devices() -> Vec<String> {
    names(true)
}

/// Names of the playback devices, default first.
pub fn output_devices() -> Vec<String> {
    names(false)
}

fn names(input: bool) -> Vec<String> {
    let host = cpal::default_host();
    let devices = if input {
        host.input_devices()
    } else {
        host.output_devices()
    };
    let mut out = vec!["default".to_owned()];
    if let Ok(devices) = devices {
        out.extend(
            devices
                .filter_map(|d| pcm_id(&d))
                .filter(|n| n != "default"),
        );
    }
    out
}

fn config() -> cpal::StreamConfig {
    cpal::StreamConfig {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        buffer_size: cpal::BufferSize::Fixed(PERIOD_FRAMES),
    }
}

/// Runs `build` on a new thread that keeps the stream alive until the returned sender is
/// dropped; reports whether the stream started.
fn stream_thread(
    build: impl FnOnce() -> Result<cpal::Stream, AudioError> + Send + 'static,
) -> Result<std_mpsc::Sender<()>, AudioError> {
    let (ready_tx, ready_rx) = std_mpsc::channel();
    let (stop_tx, stop_rx) = std_mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("confab-audio".into())
        .spawn(move || {
            let stream = match build().and_then(|s| {
                s.play().map_err(|e| AudioError::Device(e.to_string()))?;
                Ok(s)
            }) {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(()));
                    s
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            // Blocks until the handle is dropped (its sender disconnects).
            let _ = stop_rx.recv();
            drop(stream);
        })
        .map_err(|e| AudioError::Device(e.to_string()))?;
    ready_rx
        .recv()
        .map_err(|_| AudioError::Device("audio thread ended".into()))??;
    Ok(stop_tx)
}

/// A running microphone. Dropping it stops the capture.
pub struct Capture {
    _stop: std_mpsc::Sender<()>,
}

impl Capture {
    /// Captures `device` (`None` or `"default"`: the default input) as 20 ms mono frames,
    /// cleaned by `voice` (echo cancellation, noise suppression) when given.
    pub fn start(
        device_name: Option<&str>,
        voice: Option<VoiceProcessor>,
    ) -> Result<(Self, mpsc::Receiver<AudioFrame>), AudioError> {
        let dev = device(true, device_name)?;
        let (tx, rx) = mpsc::channel(50);
        let stop = stream_thread(move || {
            let mut pending: Vec<i16> = Vec::with_capacity(SAMPLES_PER_FRAME * 2);
            let mut voice = voice;
            let mut cleaned: Vec<f32> = Vec::with_capacity(SAMPLES_PER_FRAME);
            dev.build_input_stream(
                config(),
                move |data: &[f32], _| {
                    let data = match voice.as_mut() {
                        Some(voice) => {
                            cleaned.clear();
                            voice.process_capture(data, &mut cleaned);
                            cleaned.as_slice()
                        }
                        None => data,
                    };
                    pending.extend(data.iter().map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16));
                    while pending.len() >= SAMPLES_PER_FRAME {
                        let samples: Vec<i16> = pending.drain(..SAMPLES_PER_FRAME).collect();
                        // A full queue means the consumer is behind: drop, never block the
                        // audio thread.
                        let _ = tx.try_send(AudioFrame {
                            samples,
                            channels: 1,
                            capture_us: now_us(),
                        });
                    }
                },
                StreamErrors::callback("microphone"),
                None,
            )
            .map_err(|e| AudioError::Device(e.to_string()))
        })?;
        Ok((Self { _stop: stop }, rx))
    }
}

/// A running speaker output mixing every participant. Dropping it stops playback.
#[derive(Clone)]
pub struct Playback {
    mixer: Arc<Mutex<Mixer>>,
    _stop: Arc<std_mpsc::Sender<()>>,
}

impl Playback {
    /// Plays on `device` (`None` or `"default"`: the default output); what is played is
    /// also given to `voice`, the echo canceller of the microphone, when given.
    pub fn start(
        device_name: Option<&str>,
        voice: Option<VoiceProcessor>,
    ) -> Result<Self, AudioError> {
        let dev = device(false, device_name)?;
        let mixer = Arc::new(Mutex::new(Mixer::default()));
        let m = mixer.clone();
        let stop = stream_thread(move || {
            let mut voice = voice;
            dev.build_output_stream(
                config(),
                move |out: &mut [f32], _| {
                    // The lock is only ever held for a copy; a poisoned one still has samples.
                    m.lock().unwrap_or_else(|p| p.into_inner()).fill(out);
                    if let Some(voice) = voice.as_mut() {
                        voice.analyze_render(out);
                    }
                },
                StreamErrors::callback("speakers"),
                None,
            )
            .map_err(|e| AudioError::Device(e.to_string()))
        })?;
        Ok(Self {
            mixer,
            _stop: Arc::new(stop),
        })
    }

    /// Queues a decoded frame from `source` (a participant id).
    pub fn push(&self, source: &str, frame: &AudioFrame) {
        self.mixer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(source, &frame.samples);
    }

    /// Forgets a participant who left.
    pub fn remove(&self, source: &str) {
        self.mixer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(source);
    }
}
