//! confab-app: the desktop shell. Thin Tauri commands over `confab_engine::call`; the engine's
//! events reach the UI over a Channel in the browser backend's event shapes (`bridge`).
//! No call logic lives here.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod bridge;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Parser;
use confab_engine::call::{self, CallConfig, CallHandle, Command};
use confab_engine::link::LinkConfig;
use serde::Serialize;
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::{Manager, State};
use tauri_plugin_dialog::DialogExt;
use tokio::sync::Mutex;

use bridge::UiEvent;

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
    #[arg(long)]
    room: Option<String>,
    /// Your id in the room and your display name.
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
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
    /// Where accepted files are written.
    #[arg(long, env = "CONFAB_DOWNLOAD_DIR")]
    #[serde(skip)]
    download_dir: Option<PathBuf>,
}

struct Session {
    handle: CallHandle,
    me: String,
    chat_seq: AtomicU64,
    events: Channel<UiEvent>,
}

#[derive(Default)]
struct AppState {
    session: Mutex<Option<Session>>,
    /// The embedded signalling server, started on the first join without --server.
    embedded: Mutex<Option<confab_signal::Server>>,
}

/// What the join form holds; `server` empty or absent: host one here.
#[derive(Debug, serde::Deserialize)]
struct JoinRequest {
    server: Option<String>,
    room: String,
    name: String,
    secret: Option<String>,
}

#[derive(Serialize)]
struct Joined {
    /// The server the call runs through (the embedded one's URL when hosting).
    server: String,
    /// The link browser guests open to join this room.
    invite: String,
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
    } = request;
    if !valid_id(&room) || !valid_id(&name) {
        return Err("room and name: 1–64 letters, digits, . _ -".into());
    }
    let mut session = app.session.lock().await;
    if session.is_some() {
        return Err("already in a call".into());
    }
    let server = match server.filter(|s| !s.trim().is_empty()) {
        Some(url) => url,
        None => {
            let mut embedded = app.embedded.lock().await;
            if embedded.is_none() {
                // Browser guests get the UI only where it is on disk (scripts/run.sh points
                // at the checkout); the app's own copy is compiled into it.
                let config = confab_signal::Config {
                    ui_dir: std::env::var_os("CONFAB_UI_DIR").map(PathBuf::from),
                    socketio_client_dir: std::env::var_os("CONFAB_SOCKETIO_CLIENT_DIR")
                        .map(PathBuf::from),
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
            format!("http://{addr}")
        }
    };
    let mut config = CallConfig::new(&server, &room, &name);
    config.secret = secret.filter(|s| !s.is_empty());
    config.link = LinkConfig {
        bind: args.ice_bind.clone(),
        ..LinkConfig::loopback()
    };
    config.accept_files = false;
    config.forward_video = true;
    if let Some(dir) = &args.download_dir {
        config.download_dir = dir.clone();
    }
    let (handle, mut events) = call::join(config).await.map_err(|e| e.to_string())?;
    let me = name.clone();
    let forward = on_event.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(event) = events.recv().await {
            if let call::CallEvent::EncodedVideo { id, keyframe, data } = &event {
                // Raw bytes, never JSON: video is the one stream that would swamp the IPC.
                let _ = on_video.send(InvokeResponseBody::Raw(bridge::video_message(
                    id, *keyframe, data,
                )));
                continue;
            }
            if let Some(ui) = bridge::ui_event(&me, &event) {
                if forward.send(ui).is_err() {
                    break; // the page went away
                }
            }
        }
    });
    *session = Some(Session {
        handle,
        me: name,
        chat_seq: AtomicU64::new(0),
        events: on_event,
    });
    let invite = format!("{server}/?room={room}");
    Ok(Joined { server, invite })
}

async fn command(app: &State<'_, AppState>, c: Command) -> Result<(), String> {
    match app.session.lock().await.as_ref() {
        Some(s) => {
            s.handle.send(c);
            Ok(())
        }
        None => Err("not in a call".into()),
    }
}

#[tauri::command]
async fn leave(app: State<'_, AppState>) -> Result<(), String> {
    if let Some(s) = app.session.lock().await.take() {
        s.handle.send(Command::Leave);
    }
    Ok(())
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
    s.handle.send(Command::SendChat(text.clone()));
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
        .setup(|app| {
            // WebKitGTK composites with GL, which without a GPU is llvmpipe: one canvas
            // redrawn at 30 fps then costs about a core and 4 tiles fall behind. Policy
            // `Never` draws in software directly (FINDINGS: 14–17 % for the same canvas).
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
        .manage(AppState::default())
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
        ])
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::Destroyed = event {
                let state = window.app_handle().state::<AppState>();
                if let Ok(mut s) = state.session.try_lock() {
                    if let Some(s) = s.take() {
                        s.handle.send(Command::Leave);
                    }
                }
            }
        })
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("running the Tauri application");
}
