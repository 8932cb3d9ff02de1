//! The user's settings: devices, download folder, bitrate cap, ICE servers, notifications,
//! and the last room joined. Kept as JSON in the app's config directory and written whole on every change
//! (to a temporary file, then renamed, so a crash mid-write leaves the old file intact).
//! No Tauri here: tested without a window.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::window_place::WindowPlace;

/// Bounds for the bitrate cap: below 100 kb/s video is unwatchable, above 20 Mb/s pointless
/// for a call.
const BITRATE_KBPS: std::ops::RangeInclusive<u32> = 100..=20_000;
const MAX_TEXT: usize = 512;
const MAX_ICE_SERVERS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} is not valid settings ({1}); using the defaults")]
    Parse(PathBuf, serde_json::Error),
    #[error("writing {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

/// A TURN or STUN server, as RTCIceServer has it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IceServer {
    pub url: String,
    pub username: String,
    pub credential: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    /// A camera id from the device list; `None`: the first camera, or the synthetic one when
    /// there is none.
    pub camera: Option<String>,
    /// A capture device (ALSA PCM id); `None`: "default".
    pub microphone: Option<String>,
    /// A playback device (ALSA PCM id); `None`: "default".
    pub speakers: Option<String>,
    /// Where accepted files go; `None`: the user's download folder.
    pub download_dir: Option<PathBuf>,
    /// Where recordings go; `None`: the user's videos folder, `Confab` below it.
    pub recordings_dir: Option<PathBuf>,
    /// Video bitrate cap in kb/s; `None`: the engine's default.
    pub max_bitrate_kbps: Option<u32>,
    pub ice_servers: Vec<IceServer>,
    /// Only relayed (TURN) candidates: hides this machine's addresses from the others.
    pub relay_only: bool,
    /// Echo cancellation and noise suppression on the microphone.
    pub voice_processing: Option<bool>,
    /// Desktop notifications (chat, joins, files) while the window is not in front; `None`:
    /// on, as people expect of a call app until they say otherwise.
    pub notifications: Option<bool>,
    /// What the join form held last time.
    pub server: Option<String>,
    pub room: Option<String>,
    pub name: Option<String>,
    /// Where the window was, and its size (window_place.rs).
    pub window: Option<WindowPlace>,
}

impl Settings {
    /// Whether the person wants desktop notifications.
    pub fn notifications_on(&self) -> bool {
        self.notifications.unwrap_or(true)
    }

    /// Reads `path`; a missing file is the defaults. A file that cannot be parsed is not
    /// overwritten until the user saves: the error says so, the defaults are used meanwhile.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| SettingsError::Parse(path.to_owned(), e))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(SettingsError::Read(path.to_owned(), e)),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        let write = |e| SettingsError::Write(path.to_owned(), e);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        let tmp = path.with_extension("json.tmp");
        let json = serde_json::to_vec_pretty(self).map_err(|e| write(e.into()))?;
        std::fs::write(&tmp, json).map_err(write)?;
        std::fs::rename(&tmp, path).map_err(write)
    }

    /// Rejects what the user cannot have meant, with a message the UI shows as is.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |m: String| Err(SettingsError::Invalid(m));
        if let Some(kbps) = self.max_bitrate_kbps {
            if !BITRATE_KBPS.contains(&kbps) {
                return invalid(format!(
                    "bitrate cap: {}–{} kb/s",
                    BITRATE_KBPS.start(),
                    BITRATE_KBPS.end()
                ));
            }
        }
        for dir in [&self.download_dir, &self.recordings_dir]
            .into_iter()
            .flatten()
        {
            if !dir.is_absolute() || !dir.is_dir() {
                return invalid(format!("{} is not a folder", dir.display()));
            }
        }
        if self.ice_servers.len() > MAX_ICE_SERVERS {
            return invalid(format!("at most {MAX_ICE_SERVERS} ICE servers"));
        }
        for s in &self.ice_servers {
            let scheme = s.url.split(':').next().unwrap_or_default();
            if !matches!(scheme, "stun" | "stuns" | "turn" | "turns") {
                return invalid(format!(
                    "ICE server {:?}: stun:, stuns:, turn: or turns: URL",
                    s.url
                ));
            }
            if scheme.starts_with("turn") && (s.username.is_empty() || s.credential.is_empty()) {
                return invalid(format!("TURN server {}: username and password", s.url));
            }
        }
        if self.relay_only && !self.ice_servers.iter().any(|s| s.url.starts_with("turn")) {
            return invalid("relay only needs a TURN server".into());
        }
        let texts = [
            &self.camera,
            &self.microphone,
            &self.speakers,
            &self.server,
            &self.room,
            &self.name,
        ];
        let long_ice = self.ice_servers.iter().any(|s| {
            [&s.url, &s.username, &s.credential]
                .iter()
                .any(|t| t.len() > MAX_TEXT)
        });
        if long_ice
            || texts
                .iter()
                .any(|t| t.as_ref().is_some_and(|t| t.len() > MAX_TEXT))
        {
            return invalid(format!("settings text: at most {MAX_TEXT} bytes each"));
        }
        Ok(())
    }
}

/// The app's `--camera`, `--mic`, `--speakers` and `--download-dir`: each wins over its
/// setting for this run, until that setting is changed in the panel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunOverrides {
    pub camera: Option<String>,
    pub microphone: Option<String>,
    pub speakers: Option<String>,
    pub download_dir: Option<PathBuf>,
}

impl RunOverrides {
    pub fn camera<'a>(&'a self, settings: &'a Settings) -> Option<&'a str> {
        self.camera.as_deref().or(settings.camera.as_deref())
    }

    pub fn microphone<'a>(&'a self, settings: &'a Settings) -> Option<&'a str> {
        self.microphone
            .as_deref()
            .or(settings.microphone.as_deref())
    }

    pub fn speakers<'a>(&'a self, settings: &'a Settings) -> Option<&'a str> {
        self.speakers.as_deref().or(settings.speakers.as_deref())
    }

    /// Forgets each override whose setting differs between `before` and `after`: the user
    /// has just chosen that one.
    pub fn yield_to_changes(&mut self, before: &Settings, after: &Settings) {
        if before.camera != after.camera {
            self.camera = None;
        }
        if before.microphone != after.microphone {
            self.microphone = None;
        }
        if before.speakers != after.speakers {
            self.speakers = None;
        }
        if before.download_dir != after.download_dir {
            self.download_dir = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "confab-settings-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn saved_settings_load_back_equal() {
        let path = dir().join("nested/settings.json");
        let s = Settings {
            camera: Some("0".into()),
            download_dir: Some(std::env::temp_dir()),
            max_bitrate_kbps: Some(800),
            ice_servers: vec![IceServer {
                url: "turn:127.0.0.1:3478".into(),
                username: "u".into(),
                credential: "p".into(),
            }],
            relay_only: true,
            notifications: Some(false),
            room: Some("standup".into()),
            ..Default::default()
        };
        s.validate().unwrap();
        s.save(&path).unwrap();
        let back = Settings::load(&path).unwrap();
        assert_eq!(back, s);
        assert!(!back.notifications_on(), "turned off stays off");
        assert!(
            Settings::default().notifications_on(),
            "on until turned off"
        );
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn a_missing_file_is_the_defaults_and_a_corrupt_one_is_an_error_that_keeps_it() {
        let d = dir();
        assert_eq!(
            Settings::load(&d.join("none.json")).unwrap(),
            Settings::default()
        );
        let bad = d.join("bad.json");
        std::fs::write(&bad, b"{\"camera\": 3").unwrap();
        let err = Settings::load(&bad).unwrap_err();
        assert!(matches!(err, SettingsError::Parse(..)), "{err}");
        assert_eq!(std::fs::read(&bad).unwrap(), b"{\"camera\": 3");
    }

    #[test]
    fn unknown_fields_from_a_newer_version_are_ignored() {
        let path = dir().join("newer.json");
        std::fs::write(&path, br#"{"room": "r", "futureThing": [1, 2]}"#).unwrap();
        assert_eq!(Settings::load(&path).unwrap().room.as_deref(), Some("r"));
    }

    #[test]
    fn nonsense_is_rejected_with_a_reason() {
        let cases = [
            Settings {
                max_bitrate_kbps: Some(5),
                ..Default::default()
            },
            Settings {
                download_dir: Some("relative/dir".into()),
                ..Default::default()
            },
            Settings {
                ice_servers: vec![IceServer {
                    url: "http://example.invalid".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            Settings {
                ice_servers: vec![IceServer {
                    url: "turn:127.0.0.1".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            Settings {
                relay_only: true,
                ..Default::default()
            },
            Settings {
                name: Some("x".repeat(MAX_TEXT + 1)),
                ..Default::default()
            },
        ];
        for s in cases {
            let err = s.validate().expect_err("rejected");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn a_command_line_device_wins_until_its_setting_is_changed() {
        let saved = Settings {
            microphone: Some("hw:1".into()),
            speakers: Some("hw:1".into()),
            ..Default::default()
        };
        let mut this_run = RunOverrides {
            microphone: Some("synthetic".into()),
            speakers: Some("none".into()),
            ..Default::default()
        };
        assert_eq!(this_run.microphone(&saved), Some("synthetic"));
        assert_eq!(this_run.camera(&saved), None, "no override, no setting");
        // Only the speakers are chosen in the panel: the microphone stays the command line's.
        let changed = Settings {
            speakers: Some("hw:2".into()),
            ..saved.clone()
        };
        this_run.yield_to_changes(&saved, &changed);
        assert_eq!(this_run.speakers(&changed), Some("hw:2"));
        assert_eq!(this_run.microphone(&changed), Some("synthetic"));
        assert_eq!(this_run.speakers, None);
    }
}
