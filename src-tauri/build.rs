//! The Tauri config lives at the repository's top level (the product's fixed layout), so the
//! build points tauri-build at it instead of the default `src-tauri/tauri.conf.json`.
//! The app's commands are declared here so that each gets a permission (`allow-join`, …) and
//! the window's capability (capabilities/default.json) can list exactly the ones it may call.

const COMMANDS: &[&str] = &[
    "startup_args",
    "join",
    "leave",
    "set_camera",
    "set_mic",
    "share_screen",
    "send_chat",
    "send_file",
    "pick_and_send_file",
    "accept_transfer",
    "decline_transfer",
    "cancel_transfer",
    "request_keyframe",
    "get_settings",
    "save_settings",
    "list_devices",
    "choose_download_dir",
    "copy_invite",
    "start_preview",
    "stop_preview",
    "play_test_sound",
    "start_recording",
    "stop_recording",
    "show_recording",
];

fn main() {
    // The window embeds ui/ as it is now; without the generated icons its page would load
    // without its controls, so say how to make them instead of building a broken app.
    println!("cargo:rerun-if-changed=../ui/icons.js");
    assert!(
        std::path::Path::new("../ui/icons.js").is_file(),
        "ui/icons.js is missing: run scripts/setup.sh (or `node scripts/build-icons.mjs` after `npm ci`)"
    );
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .config_path("../tauri.conf.json")
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build: reading ../tauri.conf.json and the capabilities");
}
