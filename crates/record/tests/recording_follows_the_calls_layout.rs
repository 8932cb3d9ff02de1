//! The recording's grid changes as the call's does: someone joins, turns the camera off,
//! shares a screen (which takes the large place), changes resolution, leaves, stops sharing.
//! Each participant sends a picture of one colour, so a frame read back from the file (ffmpeg)
//! says who is where: the colour at each tile's centre is checked against the layout the app
//! would show for those tiles (`confab_record::layout`, itself checked against `ui/layout.js`).
//! One frame of each phase is saved under target/e2e to look at.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_media::frame::VideoFrame;
use confab_record::layout::{Rect, TILE_ASPECT, place_tiles};
use confab_record::{Input, Recording, probe};

/// How long each phase lasts; its middle frame is checked.
const PHASE: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Colour {
    Red,
    Green,
    Blue,
    Yellow,
    /// A tile without a picture (or the background).
    Grey,
}

impl Colour {
    /// Limited-range BT.601 Y, U, V.
    fn yuv(self) -> (u8, u8, u8) {
        match self {
            Colour::Red => (81, 90, 240),
            Colour::Green => (145, 54, 34),
            Colour::Blue => (41, 240, 110),
            Colour::Yellow => (210, 16, 146),
            Colour::Grey => (40, 128, 128),
        }
    }

    fn frame(self, width: usize, height: usize) -> Arc<VideoFrame> {
        let mut f = VideoFrame::black(width, height);
        let (y, u, v) = self.yuv();
        f.y.fill(y);
        f.u.fill(u);
        f.v.fill(v);
        Arc::new(f)
    }

    /// The colour an RGB pixel is closest to.
    fn of(rgb: &[u8]) -> Colour {
        let (r, g, b) = (i32::from(rgb[0]), i32::from(rgb[1]), i32::from(rgb[2]));
        let known = [
            (Colour::Red, (255, 0, 0)),
            (Colour::Green, (0, 255, 0)),
            (Colour::Blue, (0, 0, 255)),
            (Colour::Yellow, (255, 255, 0)),
            (Colour::Grey, (30, 30, 30)),
        ];
        known
            .iter()
            .min_by_key(|(_, (kr, kg, kb))| (r - kr).pow(2) + (g - kg).pow(2) + (b - kb).pow(2))
            .map(|(c, _)| *c)
            .expect("colours")
    }
}

/// One phase: what is fed at its start, then who the recording should show in which order
/// (the layout's order: a shared screen first) and whether a screen has the large place.
struct Phase {
    what: &'static str,
    feed: Vec<Input>,
    expect: Vec<Colour>,
    focus: bool,
}

fn joined(id: &str) -> Input {
    Input::Joined {
        id: id.into(),
        name: id.into(),
    }
}

fn media(id: &str, video: bool, screen: bool) -> Input {
    Input::Media {
        id: id.into(),
        video,
        screen,
    }
}

#[test]
fn the_grid_follows_joins_leaves_mutes_screens_and_resolutions() {
    use Colour::*;
    let mut phases = [
        Phase {
            what: "two-people",
            feed: vec![joined("me"), joined("bob")],
            expect: vec![Red, Green],
            focus: false,
        },
        Phase {
            what: "carol-joined",
            feed: vec![joined("carol")],
            expect: vec![Red, Green, Blue],
            focus: false,
        },
        Phase {
            what: "bob-camera-off",
            feed: vec![media("bob", false, false)],
            expect: vec![Red, Grey, Blue],
            focus: false,
        },
        Phase {
            what: "carol-shares-her-screen",
            feed: vec![media("carol", true, true)],
            expect: vec![Yellow, Red, Grey],
            focus: true,
        },
        Phase {
            what: "bob-left-me-at-720p",
            feed: vec![Input::Left { id: "bob".into() }],
            expect: vec![Yellow, Red],
            focus: true,
        },
        Phase {
            what: "carol-stopped-sharing",
            feed: vec![media("carol", true, false)],
            expect: vec![Red, Blue],
            focus: false,
        },
    ];

    let dir = std::env::temp_dir().join(format!("confab-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("layout.mp4");
    let rec = Recording::start(&path).expect("start");
    let started = Instant::now();
    let mut step = 0u32;
    for (n, phase) in phases.iter_mut().enumerate() {
        for input in std::mem::take(&mut phase.feed) {
            assert!(rec.feed(input));
        }
        let phase_end = started + PHASE * (n as u32 + 1);
        // Pictures at 25 fps until the phase ends, each participant in its colour at its
        // resolution of the moment: mine goes from 640x480 to 1280x720, carol's camera is
        // 320x240 and her screen 1920x1080.
        while Instant::now() < phase_end {
            let my_size = if n >= 4 { (1280, 720) } else { (640, 480) };
            let carol = if phase.focus {
                Yellow.frame(1920, 1080)
            } else {
                Blue.frame(320, 240)
            };
            for (id, frame) in [
                ("me", Red.frame(my_size.0, my_size.1)),
                ("bob", Green.frame(640, 480)),
                ("carol", carol),
            ] {
                rec.feed(Input::Picture {
                    id: id.into(),
                    frame,
                });
            }
            step += 1;
            let due = started + Duration::from_millis(40) * step;
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
    }
    let summary = rec.stop();
    assert_eq!(summary.error, None, "{summary:?}");
    assert_eq!(summary.dropped_inputs, 0, "{summary:?}");

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e");
    std::fs::create_dir_all(&shots).expect("shots dir");
    let mut wrong = Vec::new();
    for (n, phase) in phases.iter().enumerate() {
        let middle = PHASE.as_secs_f64() * (n as f64 + 0.5);
        let png = shots.join(format!("recording-layout-{n}-{}.png", phase.what));
        let (width, height, rgb) = probe::frame_rgb_at(&path, middle, Some(&png)).expect("a frame");
        assert_eq!((width, height), (1280, 720));
        let rects = place_tiles(
            phase.expect.len() as i64,
            width as f64,
            height as f64,
            phase.focus,
            TILE_ASPECT,
        );
        let at = |x: i64, y: i64| {
            let i = (y as usize * width + x as usize) * 3;
            Colour::of(&rgb[i..i + 3])
        };
        let seen: Vec<Colour> = rects
            .iter()
            .map(|r: &Rect| at(r.x + r.width / 2, r.y + r.height / 4))
            .collect();
        if seen != phase.expect {
            wrong.push(format!(
                "{} (at {middle:.2} s): tiles show {seen:?}, expected {:?} in {rects:?}",
                phase.what, phase.expect
            ));
        }
        // Nothing drawn outside the tiles: the corners are background.
        assert_eq!(at(2, 2), Colour::Grey, "{}", phase.what);
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
