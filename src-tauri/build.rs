//! The Tauri config lives at the repository's top level (the product's fixed layout), so the
//! build points tauri-build at it instead of the default `src-tauri/tauri.conf.json`.

fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
        .expect("tauri-build: reading ../tauri.conf.json and the capabilities");
}
