//! confab-app: the desktop shell. At this stage it opens the shared UI; the call engine and
//! its Tauri commands arrive with the desktop issue (the UI says so when it runs here).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    tauri::Builder::default()
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("running the Tauri application");
}
