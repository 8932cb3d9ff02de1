//! confab-app: the desktop shell. Thin Tauri commands over `confab_engine::call`; the engine's
//! events reach the UI over a Channel in the browser backend's event shapes (`bridge`).
//! No call logic lives here.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod args;
mod bench;
mod bridge;
mod call_config;
mod hosting;
mod invite;
mod notify;
mod preview;
mod recordings;
mod settings;
mod test_sound;
mod window_place;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use clap::Parser;
use confab_engine::call::{CallHandle, Command, VideoDelivery};
use serde::Serialize;
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::{Emitter, Manager, State};
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_dialog::DialogExt;
use tokio::sync::Mutex;

use args::Args;
use bridge::UiEvent;
use call_config::{camera_source, mic_device, speakers_device};
use confab_media::source::DeviceInfo;
use settings::{RunOverrides, Settings};

/// What runs behind a joined UI.
enum Engine {
    Call(CallHandle),
    /// The tiles benchmark's senders, stopped by setting this.
    Bench(Arc<AtomicBool>),
}

struct Session {
    engine: Engine,
    me: String,
    /// The room, for the recordings' names.
    room: String,
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
    /// The user's videos folder (recordings go below it unless the settings say otherwise).
    videos: PathBuf,
    /// The files recorded since the app started (the only ones `show_recording` reveals).
    recorded: Mutex<Vec<PathBuf>>,
    /// The lobby's camera and microphone preview, while it runs.
    preview: Mutex<Option<preview::Preview>>,
    /// The window's moves and resizes, written to the settings once they settle.
    window_place: std::sync::Mutex<window_place::Debounce>,
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

/// The window's title outside a call (tauri.conf.json's); in a call it names the room.
const WINDOW_TITLE: &str = "Confab";

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

/// Joins a room (hosting the server when the request names none) and starts carrying the
/// call's events to the page. A call that ended on its own (not left) does not block this.
#[tauri::command]
async fn join(
    window: tauri::Window,
    app: State<'_, AppState>,
    args: State<'_, Args>,
    request: JoinRequest,
    on_event: Channel<UiEvent>,
    on_video: Channel<InvokeResponseBody>,
) -> Result<Joined, String> {
    if !valid_id(&request.room) || !valid_id(&request.name) {
        return Err("room and name: 1–64 letters, digits, . _ -".into());
    }
    let mut session = app.session.lock().await;
    if session.as_ref().is_some_and(Session::is_running) {
        return Err("already in a call".into());
    }
    // The call opens the camera the preview holds.
    stop_preview_now(&app).await;
    if args.bench_tiles > 0 {
        let (new, joined) = bench::join(&args, &request.name, on_event, on_video).await?;
        *session = Some(new);
        return Ok(joined);
    }
    let requested_server = request.server.clone().filter(|s| !s.trim().is_empty());
    let signalling =
        hosting::signalling_for(request.server.clone(), &app.embedded, args.embedded_bind).await?;
    let settings = app.settings.lock().await.clone();
    let this_run = app.this_run.lock().await.clone();
    let call_request = call_config::Request {
        server: &signalling.server,
        room: &request.room,
        name: &request.name,
        secret: request.secret.as_deref(),
        delivery: match request.video {
            VideoPath::Pictures => VideoDelivery::Pictures,
            VideoPath::Encoded => VideoDelivery::Encoded,
        },
    };
    let (config, camera, microphone) =
        call_config::call_config(&call_request, &args, &settings, &this_run, &app.downloads).await;
    let call = call_config::join(config, microphone).await?;
    tauri::async_runtime::spawn(bridge::forward(
        request.name.clone(),
        call.events,
        on_event.clone(),
        on_video,
        notify::desktop(&window),
    ));
    let invite = invite::invite_link(
        &signalling.invite_base,
        &request.room,
        request.secret.as_deref(),
    );
    // The window (and the taskbar) names the room, as the call apps people know do.
    let _ = window.set_title(&format!("{} — Confab", request.room));
    *session = Some(Session {
        engine: Engine::Call(call.handle),
        me: request.name.clone(),
        room: request.room.clone(),
        invite: invite.clone(),
        chat_seq: AtomicU64::new(0),
        events: on_event,
    });
    let mut notices = call.notices;
    {
        // Remembered for the next start's join form.
        let mut saved = app.settings.lock().await;
        saved.room = Some(request.room);
        saved.name = Some(request.name);
        saved.server = requested_server;
        if let Err(e) = saved.save(&app.settings_path) {
            notices.push(e.to_string());
        }
    }
    Ok(Joined {
        server: signalling.server,
        invite,
        this_machine_only: signalling.this_machine_only,
        camera,
        microphone: call.microphone,
        notices,
    })
}

impl Session {
    /// False once the call ended by itself (its engine is gone) or the benchmark stopped.
    fn is_running(&self) -> bool {
        match &self.engine {
            Engine::Call(handle) => handle.is_running(),
            Engine::Bench(stop) => !stop.load(Ordering::Relaxed),
        }
    }

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
async fn leave(window: tauri::Window, app: State<'_, AppState>) -> Result<(), String> {
    if let Some(s) = app.session.lock().await.take() {
        s.send(Command::Leave);
    }
    let _ = window.set_title(WINDOW_TITLE);
    Ok(())
}

/// Starts the lobby's preview of the camera and microphone a join would use (restarting it
/// when it runs: the settings may have changed them); says which they are.
#[tauri::command]
async fn start_preview(
    app: State<'_, AppState>,
    on_video: Channel<InvokeResponseBody>,
    on_level: Channel<f64>,
    on_problem: Channel<String>,
) -> Result<String, String> {
    if app
        .session
        .lock()
        .await
        .as_ref()
        .is_some_and(Session::is_running)
    {
        return Err("in a call: the call shows the camera".into());
    }
    stop_preview_now(&app).await;
    let settings = app.settings.lock().await.clone();
    let this_run = app.this_run.lock().await.clone();
    let (camera, camera_label) = camera_source(this_run.camera(&settings)).await;
    let mic = mic_device(this_run.microphone(&settings));
    let mic_label = mic
        .clone()
        .map_or("Synthetic tone".to_owned(), |m| format!("Microphone: {m}"));
    *app.preview.lock().await = Some(preview::Preview::start(
        preview::Sources { camera, mic },
        on_video,
        on_level,
        on_problem,
    ));
    Ok(format!("{camera_label} · {mic_label}"))
}

/// Starts recording the call into a new file in the recordings folder (the settings', or
/// the user's videos folder's `Confab`), named after the room and the time; says which file.
/// The engine's `recording` event follows (the page shows the indicator from it).
#[tauri::command]
async fn start_recording(app: State<'_, AppState>) -> Result<String, String> {
    let dir = app.settings.lock().await.recordings_dir.clone();
    let dir = recordings::folder(dir.as_deref(), app.videos.clone());
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let session = app.session.lock().await;
    let s = session
        .as_ref()
        .filter(|s| s.is_running())
        .ok_or("not in a call")?;
    let name = recordings::file_name(&s.room, chrono::Local::now());
    let path = recordings::unused(&dir, &name)
        .ok_or_else(|| format!("{}: no free name for {name}", dir.display()))?;
    s.send(Command::StartRecording(path.clone()));
    app.recorded.lock().await.push(path.clone());
    Ok(path.display().to_string())
}

#[tauri::command]
async fn stop_recording(app: State<'_, AppState>) -> Result<(), String> {
    command(&app, Command::StopRecording).await
}

/// Shows a finished recording in the file manager. Only files this app recorded: the page
/// cannot make it open anything else.
#[tauri::command]
async fn show_recording(
    handle: tauri::AppHandle,
    app: State<'_, AppState>,
    path: String,
) -> Result<(), String> {
    use tauri_plugin_opener::OpenerExt;
    let path = PathBuf::from(path);
    if !app.recorded.lock().await.contains(&path) {
        return Err("not a recording of this app".into());
    }
    handle
        .opener()
        .reveal_item_in_dir(&path)
        .map_err(|e| e.to_string())
}

/// Plays a short tone on `speakers`, a choice from the settings' list ("" is the system's
/// default output), so the person hears whether they chose the right ones.
#[tauri::command]
async fn play_test_sound(speakers: String) -> Result<(), String> {
    let device = match speakers.as_str() {
        "none" => return Err("No speakers chosen (None): nothing to play on".into()),
        "" => None,
        name => Some(name.to_owned()),
    };
    tauri::async_runtime::spawn_blocking(move || test_sound::play(device.as_deref()))
        .await
        .map_err(|e| e.to_string())?
}

#[tauri::command]
async fn stop_preview(app: State<'_, AppState>) -> Result<(), String> {
    stop_preview_now(&app).await;
    Ok(())
}

/// Stops the preview, if one runs, and waits for its devices to close (within a frame).
async fn stop_preview_now(app: &State<'_, AppState>) {
    if let Some(running) = app.preview.lock().await.take() {
        let _ = tauri::async_runtime::spawn_blocking(move || running.stop()).await;
    }
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
    /// Where recordings go when no folder is set.
    default_recordings_dir: PathBuf,
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
        default_recordings_dir: recordings::folder(None, app.videos.clone()),
        this_run: app.this_run.lock().await.clone(),
    })
}

/// Validates and keeps `settings`; devices, the bitrate cap and the download folder apply to
/// a running call at once, echo cancellation and ICE servers from the next call. Returns the
/// command line's overrides still in force (those of the fields changed here are gone).
#[tauri::command]
async fn save_settings(
    app: State<'_, AppState>,
    notifications: State<'_, notify::Wanted>,
    settings: Settings,
) -> Result<RunOverrides, String> {
    settings.validate().map_err(|e| e.to_string())?;
    let mut saved = app.settings.lock().await;
    // The last call's server, room and name are the app's to keep, not the form's.
    let settings = Settings {
        server: saved.server.clone(),
        room: saved.room.clone(),
        name: saved.name.clone(),
        window: saved.window,
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
    notifications.set(settings.notifications_on());
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

/// The window's smallest size (tauri.conf.json's minWidth/minHeight), physical pixels at
/// scale 1: a saved size is never restored below it.
const MIN_WINDOW: (u32, u32) = (720, 480);

/// Opens the window where it was last time, when that is still on a monitor.
fn restore_window_place(window: &tauri::WebviewWindow, saved: Option<window_place::WindowPlace>) {
    let Some(saved) = saved else { return };
    let monitors: Vec<window_place::Area> = window
        .available_monitors()
        .unwrap_or_default()
        .iter()
        .map(|m| window_place::Area {
            x: m.position().x,
            y: m.position().y,
            width: m.size().width,
            height: m.size().height,
        })
        .collect();
    let (width, height, position) = window_place::restore(saved, &monitors, MIN_WINDOW);
    let _ = window.set_size(tauri::PhysicalSize::new(width, height));
    if let Some((x, y)) = position {
        let _ = window.set_position(tauri::PhysicalPosition::new(x, y));
    }
}

/// The window moved or was resized: remembered, written once it settles.
fn window_changed(window: &tauri::Window) {
    let (Ok(position), Ok(size)) = (window.outer_position(), window.inner_size()) else {
        return;
    };
    let place = window_place::WindowPlace {
        x: position.x,
        y: position.y,
        width: size.width,
        height: size.height,
    };
    let state = window.app_handle().state::<AppState>();
    state
        .window_place
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .changed(place, std::time::Instant::now());
}

/// Writes the window's place into the settings when a move or resize has settled. Looks
/// every quarter second (window_place::SETTLE is half a second); runs as long as the app.
async fn write_window_place(handle: tauri::AppHandle) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        tick.tick().await;
        let state = handle.state::<AppState>();
        let due = state
            .window_place
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .due(std::time::Instant::now());
        // A settings file that could not be read is not overwritten until the user saves
        // (settings.rs); the window's place waits too.
        if let Some(place) = due.filter(|_| state.settings_problem.is_none()) {
            let mut settings = state.settings.lock().await;
            settings.window = Some(place);
            if let Err(e) = settings.save(&state.settings_path) {
                tracing::warn!("remembering the window's place: {e}");
            }
        }
    }
}

fn main() {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONFAB_LOG")
                // As `confab`'s (crates/cli/src/main.rs DEFAULT_LOG): webrtc-rs's SRTP replay
                // drops are normal in a call through loss, not warnings for a user.
                .unwrap_or_else(|_| {
                    "info,webrtc=warn,rtc=warn,rtc::peer_connection::handler=error".into()
                }),
        )
        .init();
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
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
            let saved_place = settings.window;
            app.manage(notify::Wanted::new(settings.notifications_on()));
            let downloads = app
                .path()
                .download_dir()
                .unwrap_or_else(|_| std::env::temp_dir().join("confab-downloads"));
            let videos = app
                .path()
                .video_dir()
                .or_else(|_| app.path().home_dir().map(|h| h.join("Videos")))
                .unwrap_or_else(|_| std::env::temp_dir().join("confab-videos"));
            app.manage(AppState {
                videos,
                recorded: Mutex::new(Vec::new()),
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
                preview: Mutex::new(None),
                window_place: std::sync::Mutex::new(window_place::Debounce::default()),
            });
            if let Some(window) = app.get_webview_window("main") {
                restore_window_place(&window, saved_place);
            }
            tauri::async_runtime::spawn(write_window_place(app.handle().clone()));
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
            start_preview,
            stop_preview,
            play_test_sound,
            start_recording,
            stop_recording,
            show_recording,
        ])
        .on_window_event(|window, event| {
            if matches!(
                event,
                tauri::WindowEvent::Resized(_) | tauri::WindowEvent::Moved(_)
            ) {
                window_changed(window);
            }
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
