//! confab-app: the desktop shell. Thin Tauri commands over `confab_engine::call`; the engine's
//! events reach the UI over a Channel in the browser backend's event shapes (`bridge`).
//! No call logic lives here.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod bench;
mod bridge;
mod invite;
mod settings;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use clap::Parser;
use confab_engine::call::{self, CallConfig, CallHandle, Command, VideoDelivery};
use confab_engine::link::LinkConfig;
use serde::Serialize;
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::{Emitter, Manager, State};
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_dialog::DialogExt;
use tokio::sync::Mutex;

use bridge::UiEvent;
use confab_engine::webrtc::peer_connection::RTCIceServer;
use confab_media::source::{DeviceInfo, VideoSourceSpec};
use settings::{RunOverrides, Settings};

/// Command-line arguments, like an invite link.
#[derive(Debug, Clone, Parser, Serialize)]
#[command(
    name = "confab-app",
    version,
    about = "Confab: video calls between people in a room"
)]
struct Args {
    /// Signalling server URL; without one the app hosts its own.
    #[arg(long, env = "CONFAB_SERVER")]
    server: Option<String>,
    /// The room to join (1–64 letters, digits, . _ -).
    #[arg(long)]
    room: Option<String>,
    /// Your id in the room and your display name.
    #[arg(long)]
    name: Option<String>,
    /// The room's secret, when it has one. Other local users can read command lines (`ps`);
    /// CONFAB_SECRET in the environment cannot be read by them.
    #[arg(long, env = "CONFAB_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Join at once (needs --room and --name).
    #[arg(long)]
    join: bool,
    /// Where the embedded signalling server listens when no --server is given.
    #[arg(long, env = "CONFAB_EMBEDDED_BIND", default_value = "127.0.0.1:0")]
    #[serde(skip)]
    embedded_bind: SocketAddr,
    /// Local addresses ICE binds (`0.0.0.0:0`: every interface but loopback).
    #[arg(
        long = "ice-bind",
        env = "CONFAB_ICE_BIND",
        default_value = "0.0.0.0:0"
    )]
    #[serde(skip)]
    ice_bind: Vec<String>,
    /// Where accepted files are written (instead of the saved setting).
    #[arg(long, env = "CONFAB_DOWNLOAD_DIR")]
    #[serde(skip)]
    download_dir: Option<PathBuf>,
    /// Camera for this run: an id from the device list, or `synthetic` (the test pattern).
    #[arg(long)]
    #[serde(skip)]
    camera: Option<String>,
    /// Microphone for this run: an ALSA device, or `synthetic` (a test tone).
    #[arg(long)]
    #[serde(skip)]
    mic: Option<String>,
    /// Speakers for this run: an ALSA device, or `none`.
    #[arg(long)]
    #[serde(skip)]
    speakers: Option<String>,
    /// Where settings are kept (default: the platform's config folder for the app).
    #[arg(long, env = "CONFAB_CONFIG_DIR")]
    #[serde(skip)]
    config_dir: Option<PathBuf>,
    /// Benchmark (bench/tiles-bench.sh): joining shows this many synthetic participants'
    /// video instead of calling anyone.
    #[arg(long, hide = true, default_value_t = 0)]
    bench_tiles: usize,
    /// The benchmark's video size, WIDTHxHEIGHT.
    #[arg(long, hide = true, default_value = "1280x720", value_parser = parse_size)]
    #[serde(skip)]
    bench_size: (usize, usize),
    /// What the benchmark's participants send.
    #[arg(long, hide = true, value_enum, default_value = "encoded")]
    #[serde(skip)]
    bench_video: BenchVideo,
}

/// The frames-to-tiles candidates (BENCHMARKS.md).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BenchVideo {
    /// No video: the app's cost with the tiles idle (the benchmark's anchor).
    None,
    /// Access units, decoded by the page (WebCodecs).
    Encoded,
    /// Access units, decoded by the page and here too.
    Twice,
    /// Decoded here, I420 pictures to the page (`new VideoFrame`).
    Pictures,
}

fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let (w, h) = s.split_once('x').ok_or("WIDTHxHEIGHT")?;
    let parse = |v: &str| v.parse::<usize>().map_err(|e| e.to_string());
    let (w, h) = (parse(w)?, parse(h)?);
    if w == 0 || h == 0 || w % 2 == 1 || h % 2 == 1 || w > 3840 || h > 2160 {
        return Err("even sizes up to 3840x2160".into());
    }
    Ok((w, h))
}

/// What runs behind a joined UI.
enum Engine {
    Call(CallHandle),
    /// The tiles benchmark's senders, stopped by setting this.
    Bench(Arc<AtomicBool>),
}

struct Session {
    engine: Engine,
    me: String,
    /// The link others open to join this call (empty in a benchmark).
    invite: String,
    chat_seq: AtomicU64,
    events: Channel<UiEvent>,
}

struct AppState {
    session: Mutex<Option<Session>>,
    /// The embedded signalling server, started on the first join without --server.
    embedded: Mutex<Option<confab_signal::Server>>,
    settings: Mutex<Settings>,
    settings_path: PathBuf,
    /// Why the saved settings could not be read (shown once; the defaults are in use).
    settings_problem: Option<String>,
    /// The user's download folder, where accepted files go unless a setting says otherwise.
    downloads: PathBuf,
    /// The command line's choices that win over the settings, until the settings panel
    /// changes that field.
    this_run: Mutex<RunOverrides>,
}

/// What the join form holds; `server` empty or absent: host one here.
#[derive(Debug, serde::Deserialize)]
struct JoinRequest {
    server: Option<String>,
    room: String,
    name: String,
    secret: Option<String>,
    /// How the page draws video: `encoded` (it decodes H.264 with WebCodecs) or `pictures`
    /// (it cannot; decoded here and sent as I420).
    #[serde(default)]
    video: VideoPath,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum VideoPath {
    #[default]
    Encoded,
    Pictures,
}

#[derive(Serialize)]
struct Joined {
    /// The server the call runs through (the embedded one's URL when hosting).
    server: String,
    /// The link browser guests open to join this room.
    invite: String,
    /// Nobody on another machine can open `invite` (the server listens on loopback only).
    this_machine_only: bool,
    /// What the call sends as video and sound, as the local tile says it
    /// ("Synthetic camera (no camera found)", …).
    camera: String,
    microphone: String,
    /// Device problems the call worked around, for the chat log.
    notices: Vec<String>,
}

/// The capture device for a microphone choice: `synthetic` is none (the call's tone), no
/// choice is the system's default.
fn mic_device(choice: Option<&str>) -> Option<String> {
    match choice {
        Some("synthetic") => None,
        Some(m) => Some(m.to_owned()),
        None => Some("default".to_owned()),
    }
}

/// The playback device for a speakers choice: `none` plays nothing.
fn speakers_device(choice: Option<&str>) -> Option<String> {
    match choice {
        Some("none") => None,
        Some(s) => Some(s.to_owned()),
        None => Some("default".to_owned()),
    }
}

/// The video source for a camera choice (`synthetic`, an id, or none: the first camera), from
/// the cameras that exist now, and how the local tile names it. With no such camera the
/// synthetic pattern is sent, and said.
async fn camera_source(choice: Option<&str>) -> (VideoSourceSpec, String) {
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

/// A directory of files served to browser guests: `env` when set (not empty), else the installed
/// package's `/usr/share/confab/<name>` (found beside the binary, so any prefix works).
fn asset_dir(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(env).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?.join("share/confab").join(name);
    dir.is_dir().then_some(dir)
}

fn valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The arguments the app was started with (the UI prefills its form and joins on `join`).
#[tauri::command]
fn startup_args(args: State<'_, Args>) -> Args {
    args.inner().clone()
}

#[tauri::command]
async fn join(
    app: State<'_, AppState>,
    args: State<'_, Args>,
    request: JoinRequest,
    on_event: Channel<UiEvent>,
    on_video: Channel<InvokeResponseBody>,
) -> Result<Joined, String> {
    let JoinRequest {
        server,
        room,
        name,
        secret,
        video,
    } = request;
    if !valid_id(&room) || !valid_id(&name) {
        return Err("room and name: 1–64 letters, digits, . _ -".into());
    }
    let mut session = app.session.lock().await;
    if session.is_some() {
        return Err("already in a call".into());
    }
    let me_name = name.clone();
    let request_server = server.clone().filter(|s| !s.trim().is_empty());
    let delivery = match video {
        VideoPath::Pictures => VideoDelivery::Pictures,
        VideoPath::Encoded => VideoDelivery::Encoded,
    };
    if args.bench_tiles > 0 {
        let stop = Arc::new(AtomicBool::new(false));
        let (width, height) = args.bench_size;
        let spec = bench::BenchSpec {
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
        let (me, flag) = (name.clone(), stop.clone());
        tauri::async_runtime::spawn_blocking(move || {
            bench::start(spec, &me, &events, on_video, flag)
        })
        .await
        .map_err(|e| e.to_string())??;
        *session = Some(Session {
            engine: Engine::Bench(stop),
            me: name,
            invite: String::new(),
            chat_seq: AtomicU64::new(0),
            events: on_event,
        });
        return Ok(Joined {
            server: "(benchmark)".into(),
            invite: String::new(),
            this_machine_only: true,
            camera: "Synthetic camera".into(),
            microphone: "Synthetic tone".into(),
            notices: Vec::new(),
        });
    }
    let (server, invite_base, this_machine_only) = match server.filter(|s| !s.trim().is_empty()) {
        Some(url) => {
            let local = url::Url::parse(&url).is_ok_and(|u| match u.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            });
            (url.clone(), url, local)
        }
        None => {
            let mut embedded = app.embedded.lock().await;
            if embedded.is_none() {
                // Browser guests get the UI from disk: the checkout's (scripts/run.sh sets
                // these) or the installed package's; the app's own copy is compiled into it.
                let config = confab_signal::Config {
                    ui_dir: asset_dir("CONFAB_UI_DIR", "ui"),
                    socketio_client_dir: asset_dir(
                        "CONFAB_SOCKETIO_CLIENT_DIR",
                        "socket.io-client",
                    ),
                    ..Default::default()
                };
                let s = confab_signal::Server::start(args.embedded_bind, config)
                    .await
                    .map_err(|e| format!("hosting the signalling server: {e}"))?;
                *embedded = Some(s);
            }
            let addr = embedded
                .as_ref()
                .map(|s| s.local_addr())
                .ok_or("no server")?;
            let lan = match addr.ip().is_unspecified() {
                true => local_ip_address::local_ip().ok(),
                false => None,
            };
            let urls = invite::hosted_urls(addr, lan);
            (urls.own, urls.invite, urls.this_machine_only)
        }
    };
    let settings = app.settings.lock().await.clone();
    let mut config = CallConfig::new(&server, &room, &name);
    config.secret = secret.clone().filter(|s| !s.is_empty());
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
    };
    config.accept_files = false;
    config.video_delivery = delivery;
    let this_run = app.this_run.lock().await.clone();
    config.download_dir = this_run
        .download_dir
        .clone()
        .or_else(|| settings.download_dir.clone())
        .unwrap_or_else(|| app.downloads.clone());
    if let Some(kbps) = settings.max_bitrate_kbps {
        config.video.bitrate_bps = kbps * 1000;
    }
    let (camera, mut microphone) = media_for(&this_run, &settings, &mut config).await;
    let mut notices = Vec::new();
    let joined = match call::join(config.clone()).await {
        // A microphone or speaker that cannot be opened (none, or no sound server) must
        // not keep the user out of the call: join without them, and say so.
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
    let (handle, mut events) = joined.map_err(|e| e.to_string())?;
    let me = name.clone();
    let forward = on_event.clone();
    tauri::async_runtime::spawn(async move {
        let mut levels = bridge::AudioLevels::default();
        while let Some(event) = events.recv().await {
            // Raw bytes, never JSON: video is the one stream that would swamp the IPC.
            let video = match &event {
                call::CallEvent::EncodedVideo { id, keyframe, data } => Some(
                    bridge::access_unit_message(id, *keyframe, data, bridge::now_ms_f64()),
                ),
                call::CallEvent::Picture { id, frame } => {
                    Some(bridge::picture_message(id, frame, bridge::now_ms_f64()))
                }
                _ => None,
            };
            if let Some(message) = video {
                let _ = on_video.send(InvokeResponseBody::Raw(message));
                continue;
            }
            let level = match &event {
                call::CallEvent::AudioFrame { id, peak, .. } => {
                    levels.push(id, *peak, std::time::Instant::now())
                }
                call::CallEvent::LocalAudio { peak } => {
                    levels.push(&me, *peak, std::time::Instant::now())
                }
                call::CallEvent::ParticipantLeft { id } => {
                    levels.forget(id);
                    None
                }
                _ => None,
            };
            if let Some(level) = level {
                if forward.send(level).is_err() {
                    break;
                }
                continue;
            }
            if let Some(ui) = bridge::ui_event(&me, &event) {
                if forward.send(ui).is_err() {
                    break; // the page went away
                }
            }
        }
    });
    let invite = invite::invite_link(&invite_base, &room, secret.as_deref());
    *session = Some(Session {
        engine: Engine::Call(handle),
        me: name,
        invite: invite.clone(),
        chat_seq: AtomicU64::new(0),
        events: on_event,
    });
    {
        // Remembered for the next start's join form.
        let mut saved = app.settings.lock().await;
        saved.room = Some(room);
        saved.name = Some(me_name);
        saved.server = request_server;
        if let Err(e) = saved.save(&app.settings_path) {
            notices.push(e.to_string());
        }
    }
    Ok(Joined {
        server,
        invite,
        this_machine_only,
        camera,
        microphone,
        notices,
    })
}

impl Session {
    fn send(&self, c: Command) {
        match (&self.engine, c) {
            (Engine::Call(handle), c) => handle.send(c),
            (Engine::Bench(stop), Command::Leave) => stop.store(true, Ordering::Relaxed),
            (Engine::Bench(_), _) => {}
        }
    }
}

async fn command(app: &State<'_, AppState>, c: Command) -> Result<(), String> {
    match app.session.lock().await.as_ref() {
        Some(s) => {
            s.send(c);
            Ok(())
        }
        None => Err("not in a call".into()),
    }
}

#[tauri::command]
async fn leave(app: State<'_, AppState>) -> Result<(), String> {
    if let Some(s) = app.session.lock().await.take() {
        s.send(Command::Leave);
    }
    Ok(())
}

/// The page could not decode `id`'s video: its decoder waits for a keyframe, which this asks
/// the participant for.
#[tauri::command]
async fn request_keyframe(app: State<'_, AppState>, id: String) -> Result<(), String> {
    command(&app, Command::RequestKeyframe(id)).await
}

#[tauri::command]
async fn set_camera(app: State<'_, AppState>, on: bool) -> Result<(), String> {
    command(&app, Command::SetCamera(on)).await
}

#[tauri::command]
async fn set_mic(app: State<'_, AppState>, on: bool) -> Result<(), String> {
    command(&app, Command::SetMic(on)).await
}

#[tauri::command]
async fn share_screen(app: State<'_, AppState>, on: bool) -> Result<bool, String> {
    command(&app, Command::ShareScreen(on)).await.map(|()| on)
}

#[tauri::command]
async fn send_chat(app: State<'_, AppState>, text: String) -> Result<(), String> {
    let guard = app.session.lock().await;
    let s = guard.as_ref().ok_or("not in a call")?;
    let seq = s.chat_seq.fetch_add(1, Ordering::Relaxed);
    s.send(Command::SendChat(text.clone()));
    let _ = s.events.send(bridge::own_chat(&s.me, seq, &text));
    Ok(())
}

/// Offers a file to everyone in the call. The file picker ends here too (`pick_and_send_file`).
#[tauri::command]
async fn send_file(app: State<'_, AppState>, path: PathBuf) -> Result<(), String> {
    if !path.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    command(&app, Command::SendFile(path)).await
}

/// Opens the native file picker and sends the chosen file; `false` when nothing was chosen.
#[tauri::command]
async fn pick_and_send_file(
    window: tauri::Window,
    app: State<'_, AppState>,
) -> Result<bool, String> {
    let picked = window
        .dialog()
        .file()
        .set_parent(&window)
        .blocking_pick_file();
    let Some(path) = picked.and_then(|p| p.into_path().ok()) else {
        return Ok(false);
    };
    send_file(app, path).await.map(|()| true)
}

#[tauri::command]
async fn accept_transfer(app: State<'_, AppState>, id: String) -> Result<(), String> {
    command(&app, Command::AcceptTransfer(id)).await
}

#[tauri::command]
async fn decline_transfer(app: State<'_, AppState>, id: String) -> Result<(), String> {
    command(&app, Command::DeclineTransfer(id)).await
}

#[tauri::command]
async fn cancel_transfer(app: State<'_, AppState>, id: String) -> Result<(), String> {
    command(&app, Command::CancelTransfer(id)).await
}

#[derive(Serialize)]
struct SettingsView {
    settings: Settings,
    /// Why the saved settings could not be read, if they could not.
    problem: Option<String>,
    /// Where files go when no folder is set.
    default_download_dir: PathBuf,
    /// What this run's command line chose instead of the saved settings: the panel says so,
    /// or it would show devices that are not the ones in use.
    this_run: RunOverrides,
}

#[tauri::command]
async fn get_settings(app: State<'_, AppState>) -> Result<SettingsView, String> {
    Ok(SettingsView {
        settings: app.settings.lock().await.clone(),
        problem: app.settings_problem.clone(),
        default_download_dir: app.downloads.clone(),
        this_run: app.this_run.lock().await.clone(),
    })
}

/// Validates and keeps `settings`; devices, the bitrate cap and the download folder apply to
/// a running call at once, echo cancellation and ICE servers from the next call. Returns the
/// command line's overrides still in force (those of the fields changed here are gone).
#[tauri::command]
async fn save_settings(
    app: State<'_, AppState>,
    settings: Settings,
) -> Result<RunOverrides, String> {
    settings.validate().map_err(|e| e.to_string())?;
    let mut saved = app.settings.lock().await;
    // The last call's server, room and name are the app's to keep, not the form's.
    let settings = Settings {
        server: saved.server.clone(),
        room: saved.room.clone(),
        name: saved.name.clone(),
        ..settings
    };
    let camera_changed = saved.camera != settings.camera;
    let bitrate_changed = saved.max_bitrate_kbps != settings.max_bitrate_kbps;
    let downloads_changed = saved.download_dir != settings.download_dir;
    let sound_changed =
        saved.microphone != settings.microphone || saved.speakers != settings.speakers;
    settings
        .save(&app.settings_path)
        .map_err(|e| e.to_string())?;
    let this_run = {
        let mut this_run = app.this_run.lock().await;
        this_run.yield_to_changes(&saved, &settings);
        this_run.clone()
    };
    *saved = settings.clone();
    drop(saved);
    // Probing cameras blocks: done before the session is locked.
    let source = match camera_changed {
        true => Some(camera_source(settings.camera.as_deref()).await.0),
        false => None,
    };
    if let Some(s) = app.session.lock().await.as_ref() {
        if let Some(source) = source {
            s.send(Command::SetVideoSource(source));
        }
        if sound_changed {
            // The one not changed stays what is in use (perhaps the command line's).
            s.send(Command::SetAudioDevices {
                mic: mic_device(this_run.microphone(&settings)),
                speakers: speakers_device(this_run.speakers(&settings)),
            });
        }
        if downloads_changed {
            s.send(Command::SetDownloadDir(
                settings
                    .download_dir
                    .clone()
                    .unwrap_or_else(|| app.downloads.clone()),
            ));
        }
        if bitrate_changed {
            if let Some(kbps) = settings.max_bitrate_kbps {
                s.send(Command::SetMaxBitrate(kbps * 1000));
            }
        }
    }
    Ok(this_run)
}

#[derive(Serialize)]
struct Devices {
    cameras: Vec<DeviceInfo>,
    /// Why cameras could not be listed (no V4L2, …), if they could not.
    camera_problem: Option<String>,
    microphones: Vec<String>,
    speakers: Vec<String>,
}

/// What the pickers offer. Probing devices blocks (V4L2, ALSA), so it runs off the async
/// workers.
#[tauri::command]
async fn list_devices() -> Result<Devices, String> {
    tauri::async_runtime::spawn_blocking(|| {
        let (cameras, camera_problem) = match confab_media::source::camera::list() {
            Ok(c) => (c, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        Devices {
            cameras,
            camera_problem,
            microphones: confab_media::audio_io::input_devices(),
            speakers: confab_media::audio_io::output_devices(),
        }
    })
    .await
    .map_err(|e| e.to_string())
}

/// Puts this call's invite link on the system clipboard and returns it. Done here because
/// WebKit refuses the page's `navigator.clipboard`, and a capability for the clipboard
/// plugin would let the page write any text there, not only the invite.
#[tauri::command]
async fn copy_invite(handle: tauri::AppHandle, app: State<'_, AppState>) -> Result<String, String> {
    let invite = app
        .session
        .lock()
        .await
        .as_ref()
        .map(|s| s.invite.clone())
        .filter(|i| !i.is_empty())
        .ok_or("not in a call")?;
    handle
        .clipboard()
        .write_text(invite.clone())
        .map_err(|e| format!("copying the invite link: {e}"))?;
    Ok(invite)
}

/// The app's window shows the app only. Without this a link (the invite, for one) would load
/// its page in place of the app, with the call still running and no way back.
fn stays_in_the_app<R: tauri::Runtime>() -> tauri::plugin::TauriPlugin<R> {
    tauri::plugin::Builder::new("stays-in-the-app")
        .on_navigation(|webview, url| {
            let ours = url.scheme() == "tauri" || url.host_str() == Some("tauri.localhost");
            if !ours {
                tracing::warn!(%url, "the window does not leave the app");
                // The page says so in the chat log.
                let _ = webview.emit("navigation-refused", url.as_str());
            }
            ours
        })
        .build()
}

/// The native folder picker, for the download folder; `None` when cancelled.
#[tauri::command]
async fn choose_download_dir(window: tauri::Window) -> Result<Option<PathBuf>, String> {
    let picked = window
        .dialog()
        .file()
        .set_parent(&window)
        .blocking_pick_folder();
    Ok(picked.and_then(|p| p.into_path().ok()))
}

fn main() {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONFAB_LOG")
                .unwrap_or_else(|_| "info,webrtc=warn,rtc=warn".into()),
        )
        .init();
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(stays_in_the_app())
        .setup(|app| {
            // WebKitGTK composites with GL, which without a GPU is llvmpipe: one canvas
            // redrawn at 30 fps then costs about a core and 4 tiles fall behind. Policy
            // `Never` draws in software directly (FINDINGS: 14–17 % for the same canvas).
            let args = app.state::<Args>();
            let config_dir = match &args.config_dir {
                Some(dir) => dir.clone(),
                None => app.path().app_config_dir()?,
            };
            let settings_path = config_dir.join("settings.json");
            let (settings, settings_problem) = match Settings::load(&settings_path) {
                Ok(s) => (s, None),
                Err(e) => {
                    tracing::warn!("{e}");
                    (Settings::default(), Some(e.to_string()))
                }
            };
            let downloads = app
                .path()
                .download_dir()
                .unwrap_or_else(|_| std::env::temp_dir().join("confab-downloads"));
            app.manage(AppState {
                session: Mutex::new(None),
                embedded: Mutex::new(None),
                settings: Mutex::new(settings),
                settings_path,
                settings_problem,
                downloads,
                this_run: Mutex::new(RunOverrides {
                    camera: args.camera.clone(),
                    microphone: args.mic.clone(),
                    speakers: args.speakers.clone(),
                    download_dir: args.download_dir.clone(),
                }),
            });
            #[cfg(target_os = "linux")]
            if let Some(webview) = app.get_webview_window("main") {
                webview.with_webview(|w| {
                    use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
                    if let Some(settings) = WebViewExt::settings(&w.inner()) {
                        settings
                            .set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
                    }
                })?;
            }
            Ok(())
        })
        .manage(args)
        .invoke_handler(tauri::generate_handler![
            startup_args,
            join,
            leave,
            set_camera,
            set_mic,
            share_screen,
            send_chat,
            send_file,
            pick_and_send_file,
            accept_transfer,
            decline_transfer,
            cancel_transfer,
            request_keyframe,
            get_settings,
            save_settings,
            list_devices,
            choose_download_dir,
            copy_invite,
        ])
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::Destroyed = event {
                let state = window.app_handle().state::<AppState>();
                if let Ok(mut s) = state.session.try_lock() {
                    if let Some(s) = s.take() {
                        s.send(Command::Leave);
                    }
                }
            }
        })
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("running the Tauri application");
}
