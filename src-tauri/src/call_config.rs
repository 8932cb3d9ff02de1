//! From the user's settings, this run's command line and a join request to the engine's
//! [`CallConfig`]: which camera, microphone and speakers, which ICE servers and bindings,
//! where files go; and joining with a fallback when the sound devices cannot be opened.

use std::path::Path;

use confab_engine::call::{self, CallConfig, CallEvents, CallHandle, VideoDelivery};
use confab_engine::link::LinkConfig;
use confab_engine::webrtc::peer_connection::RTCIceServer;
use confab_media::source::{DeviceInfo, VideoSourceSpec};

use crate::args::Args;
use crate::settings::{RunOverrides, Settings};

/// The capture device for a microphone choice: `synthetic` is none (the call's tone), no
/// choice is the system's default.
pub fn mic_device(choice: Option<&str>) -> Option<String> {
    match choice {
        Some("synthetic") => None,
        Some(m) => Some(m.to_owned()),
        None => Some("default".to_owned()),
    }
}

/// The playback device for a speakers choice: `none` plays nothing.
pub fn speakers_device(choice: Option<&str>) -> Option<String> {
    match choice {
        Some("none") => None,
        Some(s) => Some(s.to_owned()),
        None => Some("default".to_owned()),
    }
}

/// The video source for a camera choice (`synthetic`, an id, or none: the first camera), from
/// the cameras that exist now, and how the local tile names it. With no such camera the
/// synthetic pattern is sent, and said.
pub async fn camera_source(choice: Option<&str>) -> (VideoSourceSpec, String) {
    let camera = if choice == Some("synthetic") {
        None
    } else {
        let cameras = tauri::async_runtime::spawn_blocking(confab_media::source::camera::list)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        match choice {
            Some(id) => cameras.into_iter().find(|c| c.id == id),
            None => cameras.into_iter().next(),
        }
    };
    match camera {
        Some(DeviceInfo { id, name }) => (
            VideoSourceSpec::Camera {
                device: Some(id),
                max: (1280, 720),
                fps: 30,
            },
            name,
        ),
        None => (
            VideoSourceSpec::Synthetic {
                width: 640,
                height: 480,
                sync_marks: false,
            },
            if choice == Some("synthetic") {
                "Synthetic camera".to_owned()
            } else {
                "Synthetic camera (no camera found)".to_owned()
            },
        ),
    }
}

/// The camera, microphone and speakers a join uses, from the arguments (this run only), the
/// settings, and what exists.
async fn media_for(
    this_run: &RunOverrides,
    settings: &Settings,
    config: &mut CallConfig,
) -> (String, String) {
    let (source, camera_label) = camera_source(this_run.camera(settings)).await;
    config.video_source = Some(source);
    config.mic = mic_device(this_run.microphone(settings));
    config.speakers = speakers_device(this_run.speakers(settings));
    config.synthetic_audio = true; // the tone when there is no microphone
    config.voice_processing = settings.voice_processing.unwrap_or(true);
    let mic_label = config
        .mic
        .clone()
        .map_or("Synthetic tone".to_owned(), |m| format!("Microphone: {m}"));
    (camera_label, mic_label)
}

/// What a join needs besides the settings.
pub struct Request<'a> {
    pub server: &'a str,
    pub room: &'a str,
    pub name: &'a str,
    pub secret: Option<&'a str>,
    pub delivery: VideoDelivery,
}

/// The call's configuration; also returns how the local tile names the camera and the
/// microphone.
pub async fn call_config(
    request: &Request<'_>,
    args: &Args,
    settings: &Settings,
    this_run: &RunOverrides,
    downloads: &Path,
) -> (CallConfig, String, String) {
    let mut config = CallConfig::new(request.server, request.room, request.name);
    config.secret = request.secret.filter(|s| !s.is_empty()).map(str::to_owned);
    config.link = LinkConfig {
        bind: args.ice_bind.clone(),
        ice_servers: settings
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: vec![s.url.clone()],
                username: s.username.clone(),
                credential: s.credential.clone(),
            })
            .collect(),
        relay_only: settings.relay_only,
        estimator: Default::default(),
    };
    config.accept_files = false;
    config.video_delivery = request.delivery;
    config.download_dir = this_run
        .download_dir
        .clone()
        .or_else(|| settings.download_dir.clone())
        .unwrap_or_else(|| downloads.to_owned());
    if let Some(kbps) = settings.max_bitrate_kbps {
        config.video.bitrate_bps = kbps * 1000;
    }
    let (camera, microphone) = media_for(this_run, settings, &mut config).await;
    (config, camera, microphone)
}

/// A joined call, and what the user should be told about its devices.
pub struct Joined {
    pub handle: CallHandle,
    pub events: CallEvents,
    /// The microphone label, changed when the call fell back to the tone.
    pub microphone: String,
    pub notices: Vec<String>,
}

/// Joins; a microphone or speaker that cannot be opened (none, or no sound server) must not
/// keep the user out of the call: it joins without them, and says so.
pub async fn join(mut config: CallConfig, microphone: String) -> Result<Joined, String> {
    let mut notices = Vec::new();
    let mut microphone = microphone;
    let joined = match call::join(config.clone()).await {
        Err(call::CallError::Audio(e)) if config.mic.is_some() || config.speakers.is_some() => {
            notices.push(format!(
                "Sound devices unavailable ({e}): sending a test tone, not playing sound."
            ));
            microphone = "Synthetic tone (no microphone)".to_owned();
            config.mic = None;
            config.speakers = None;
            call::join(config).await
        }
        other => other,
    };
    let (handle, events) = joined.map_err(|e| e.to_string())?;
    Ok(Joined {
        handle,
        events,
        microphone,
        notices,
    })
}
