//! Where the app's recordings go and what they are called: the settings' folder, or the
//! user's videos folder with `Confab` below it; the room's name and the local start time;
//! never an existing file's name. Pure (the clock is an input), tested below.

use std::path::{Path, PathBuf};

/// The folder below the user's videos folder that recordings go to by default.
pub const SUBFOLDER: &str = "Confab";
/// Names tried before giving up on finding a free one ("… (2).mp4" up to this).
const MAX_SUFFIX: u32 = 999;

/// The recordings folder: `setting` when the user chose one, else `videos/Confab` (`videos`:
/// the system's videos folder, or the home folder's `Videos` when it has none).
pub fn folder(setting: Option<&Path>, videos: PathBuf) -> PathBuf {
    match setting {
        Some(dir) => dir.to_owned(),
        None => videos.join(SUBFOLDER),
    }
}

/// `{room} {date} {time}.mp4` for a recording started at `at` (local time). Room names are
/// letters, digits, `.`, `_` and `-` (the join refuses others), so the name needs no escaping.
pub fn file_name(room: &str, at: chrono::DateTime<chrono::Local>) -> String {
    format!("{room} {}.mp4", at.format("%Y-%m-%d %H-%M-%S"))
}

/// `dir/name`, or `dir/stem (2).mp4`, `(3)`, … whichever does not exist yet; `None` when
/// [`MAX_SUFFIX`] names are taken. (The recorder creates the file with `create_new`, so a
/// file appearing in between is refused, never overwritten.)
pub fn unused(dir: &Path, name: &str) -> Option<PathBuf> {
    let first = dir.join(name);
    if !first.exists() {
        return Some(first);
    }
    let stem = name.strip_suffix(".mp4").unwrap_or(name);
    (2..=MAX_SUFFIX)
        .map(|n| dir.join(format!("{stem} ({n}).mp4")))
        .find(|p| !p.exists())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_default_folder_is_below_the_videos_folder() {
        let videos = PathBuf::from("/home/ann/Videos");
        assert_eq!(
            folder(None, videos.clone()),
            PathBuf::from("/home/ann/Videos/Confab")
        );
        assert_eq!(
            folder(Some(Path::new("/data/calls")), videos),
            PathBuf::from("/data/calls")
        );
    }

    #[test]
    fn a_name_says_the_room_and_when() {
        let at = chrono::Local
            .with_ymd_and_hms(2026, 11, 26, 9, 5, 7)
            .single()
            .expect("a local time");
        assert_eq!(
            file_name("team-standup", at),
            "team-standup 2026-11-26 09-05-07.mp4"
        );
    }

    #[test]
    fn an_existing_recording_is_never_reused() {
        let dir = std::env::temp_dir().join(format!("confab-recnames-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let name = "r 2026-11-26 09-05-07.mp4";
        assert_eq!(unused(&dir, name), Some(dir.join(name)));
        std::fs::write(dir.join(name), b"x").expect("write");
        assert_eq!(
            unused(&dir, name),
            Some(dir.join("r 2026-11-26 09-05-07 (2).mp4"))
        );
        std::fs::write(dir.join("r 2026-11-26 09-05-07 (2).mp4"), b"x").expect("write");
        assert_eq!(
            unused(&dir, name),
            Some(dir.join("r 2026-11-26 09-05-07 (3).mp4"))
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
