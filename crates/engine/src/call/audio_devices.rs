//! The microphone and the speakers: opened at join, switched during the call, sharing one
//! echo canceller (it compares what the speakers play with what the microphone hears).

use confab_media::audio_io::{Capture, Playback};
use confab_media::frame::AudioFrame;
use confab_media::voice::VoiceProcessor;
use tokio::sync::mpsc;

use super::CallError;
use super::config::CallConfig;

pub(super) struct AudioDevices {
    voice_processing: bool,
    /// Shared by microphone and speakers (the canceller's far-end reference), when on.
    voice: Option<VoiceProcessor>,
    /// Kept alive for the call: dropping it stops the microphone.
    capture: Option<Capture>,
    pub playback: Option<Playback>,
}

/// A newly opened microphone's frames; `None`: no microphone (the tone plays).
pub(super) type MicFrames = Option<mpsc::Receiver<AudioFrame>>;

impl AudioDevices {
    /// Opens what `config` names.
    pub fn open(config: &CallConfig) -> Result<(Self, MicFrames), CallError> {
        let voice = match (&config.mic, config.voice_processing) {
            (Some(_), true) => Some(VoiceProcessor::new()?),
            _ => None,
        };
        let (capture, frames) = match &config.mic {
            Some(device) => {
                let (c, f) = Capture::start(Some(device), voice.clone())?;
                (Some(c), Some(f))
            }
            None => (None, None),
        };
        let playback = match &config.speakers {
            Some(device) => Some(Playback::start(Some(device), voice.clone())?),
            None => None,
        };
        let devices = Self {
            voice_processing: config.voice_processing,
            voice,
            capture,
            playback,
        };
        Ok((devices, frames))
    }

    /// Opens the new devices first, so that a failure leaves the call as it was; on success
    /// returns the new microphone's frames.
    pub fn switch(
        &mut self,
        mic: Option<&str>,
        speakers: Option<&str>,
    ) -> Result<MicFrames, String> {
        if mic.is_some() && self.voice_processing && self.voice.is_none() {
            self.voice =
                Some(VoiceProcessor::new().map_err(|e| format!("echo cancellation: {e}"))?);
        }
        let captured = match mic {
            Some(device) => Some(
                Capture::start(Some(device), self.voice.clone())
                    .map_err(|e| format!("microphone {device}: {e}"))?,
            ),
            None => None,
        };
        let playback = match speakers {
            Some(device) => Some(
                Playback::start(Some(device), self.voice.clone())
                    .map_err(|e| format!("speakers {device}: {e}"))?,
            ),
            None => None,
        };
        let (capture, frames) = match captured {
            Some((capture, frames)) => (Some(capture), Some(frames)),
            None => (None, None),
        };
        self.capture = capture;
        self.playback = playback;
        Ok(frames)
    }

    /// Plays a participant's decoded audio.
    pub fn play(&self, id: &str, frame: &AudioFrame) {
        if let Some(playback) = &self.playback {
            playback.push(id, frame);
        }
    }

    /// A participant is gone: its playback queue goes too.
    pub fn forget(&self, id: &str) {
        if let Some(playback) = &self.playback {
            playback.remove(id);
        }
    }
}
