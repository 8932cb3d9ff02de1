//! Where the window was and how big, kept in the settings file so the next start opens it
//! the same (issue 10). Written by hand rather than with tauri-plugin-window-state: that
//! plugin keeps its file in the platform's config directory whatever `--config-dir` /
//! `CONFAB_CONFIG_DIR` say, so tests (and a user's second profile) would share one place.
//!
//! Sans-I/O: [`restore`] decides from the saved place and the monitors there are now;
//! [`Debounce`] decides when a move or resize has settled enough to be written.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The window in physical pixels: its outer position and its inner size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowPlace {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

/// A monitor's area, physical pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

/// How much of the window's top edge must be on a monitor for its position to be kept: enough
/// to grab it. A window saved on a monitor that is gone opens where the system puts it.
pub const GRAB_HEIGHT: u32 = 40;
pub const GRAB_WIDTH: u32 = 100;

/// What to restore: the size (never below `min`, never above the largest monitor), and the
/// position when the saved one is still reachable.
pub fn restore(
    saved: WindowPlace,
    monitors: &[Area],
    min: (u32, u32),
) -> (u32, u32, Option<(i32, i32)>) {
    let largest = monitors
        .iter()
        .map(|m| (m.width, m.height))
        .max_by_key(|(w, h)| u64::from(*w) * u64::from(*h));
    let (max_w, max_h) = largest.unwrap_or((u32::MAX, u32::MAX));
    let width = saved.width.clamp(min.0, max_w.max(min.0));
    let height = saved.height.clamp(min.1, max_h.max(min.1));
    let reachable = monitors.iter().any(|m| {
        let left = saved.x.max(m.x);
        let right =
            (i64::from(saved.x) + i64::from(width)).min(i64::from(m.x) + i64::from(m.width));
        let top_inside = saved.y >= m.y
            && i64::from(saved.y) + i64::from(GRAB_HEIGHT) <= i64::from(m.y) + i64::from(m.height);
        right - i64::from(left) >= i64::from(GRAB_WIDTH) && top_inside
    });
    (width, height, reachable.then_some((saved.x, saved.y)))
}

/// A resize or move fires many events while the user drags: the place is written once it has
/// been still for [`SETTLE`].
pub const SETTLE: Duration = Duration::from_millis(500);

#[derive(Debug, Default)]
pub struct Debounce {
    latest: Option<(WindowPlace, Instant)>,
    written: Option<WindowPlace>,
}

impl Debounce {
    /// The window moved or was resized at `now`.
    pub fn changed(&mut self, place: WindowPlace, now: Instant) {
        self.latest = Some((place, now));
    }

    /// The place to write at `now`, if it settled and differs from the last one written.
    pub fn due(&mut self, now: Instant) -> Option<WindowPlace> {
        let (place, at) = self.latest?;
        if now.saturating_duration_since(at) < SETTLE || self.written == Some(place) {
            return None;
        }
        self.written = Some(place);
        Some(place)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCREEN: Area = Area {
        x: 0,
        y: 0,
        width: 1920,
        height: 1080,
    };
    const MIN: (u32, u32) = (720, 480);

    #[test]
    fn a_place_on_a_monitor_is_restored_as_it_was() {
        let saved = WindowPlace {
            x: 100,
            y: 50,
            width: 900,
            height: 650,
        };
        assert_eq!(restore(saved, &[SCREEN], MIN), (900, 650, Some((100, 50))));
    }

    #[test]
    fn a_place_on_a_monitor_that_is_gone_keeps_its_size_but_not_its_position() {
        let saved = WindowPlace {
            x: 2500,
            y: 100,
            width: 900,
            height: 650,
        };
        assert_eq!(restore(saved, &[SCREEN], MIN), (900, 650, None));
        let title_bar_above = WindowPlace {
            x: 100,
            y: -200,
            width: 900,
            height: 650,
        };
        assert_eq!(
            restore(title_bar_above, &[SCREEN], MIN).2,
            None,
            "its top edge cannot be grabbed"
        );
    }

    #[test]
    fn sizes_stay_between_the_minimum_and_the_largest_monitor() {
        let tiny = WindowPlace {
            x: 0,
            y: 0,
            width: 10,
            height: 10,
        };
        assert_eq!(restore(tiny, &[SCREEN], MIN), (720, 480, Some((0, 0))));
        let huge = WindowPlace {
            x: 0,
            y: 0,
            width: 5000,
            height: 4000,
        };
        assert_eq!(restore(huge, &[SCREEN], MIN), (1920, 1080, Some((0, 0))));
        assert_eq!(
            restore(huge, &[], MIN),
            (5000, 4000, None),
            "no monitor known: as saved"
        );
    }

    #[test]
    fn a_drag_is_written_once_when_it_settles() {
        let t0 = Instant::now();
        let mut d = Debounce::default();
        assert_eq!(d.due(t0), None);
        for i in 0..20u32 {
            d.changed(
                WindowPlace {
                    x: 0,
                    y: 0,
                    width: 800 + i,
                    height: 600,
                },
                t0 + Duration::from_millis(u64::from(i) * 20),
            );
            assert_eq!(
                d.due(t0 + Duration::from_millis(u64::from(i) * 20)),
                None,
                "still moving"
            );
        }
        let end = t0 + Duration::from_millis(19 * 20) + SETTLE;
        assert_eq!(
            d.due(end),
            Some(WindowPlace {
                x: 0,
                y: 0,
                width: 819,
                height: 600
            })
        );
        assert_eq!(d.due(end + SETTLE), None, "written once");
    }
}
