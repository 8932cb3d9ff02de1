//! Screen capture from a real X server: scripts/test.sh runs this under Xvfb (`xvfb-run`).
//! A full-screen `xmessage` window of a known colour is put on the display (the root
//! window's own background is not what GetImage returns under Xvfb), and the captured,
//! scaled, converted picture must have that colour.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use confab_media::source::VideoSource;
use confab_media::source::screen::{ScreenSource, list};

/// A borderless window covering the screen in `colour`; killed (by PID) on drop.
struct Paint(Child);

impl Paint {
    fn new(colour: &str) -> Self {
        let child = Command::new("xmessage")
            .args([
                "-bg",
                colour,
                "-fg",
                colour,
                "-geometry",
                "4000x4000+0+0",
                " ",
            ])
            .spawn()
            .expect("xmessage (x11-utils)");
        Self(child)
    }
}

impl Drop for Paint {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs an X server (DISPLAY) and xmessage; run by scripts/test.sh under xvfb-run"]
fn the_shared_screen_shows_what_is_on_the_display_scaled_to_fit() {
    let screens = list().expect("list screens");
    assert!(!screens.is_empty(), "no screen under DISPLAY");
    let mut source = ScreenSource::open(None, (640, 640)).expect("open the primary screen");
    // BT.601 limited range: red is Y 81, blue Y 41.
    for (colour, luma) in [("red", 81), ("blue", 41)] {
        let _window = Paint::new(colour);
        // Mapping the window has no event this process can see: poll the capture, bounded.
        let deadline = Instant::now() + Duration::from_secs(10);
        let centre = loop {
            let frame = source.next_frame().expect("capture");
            assert_eq!(frame.width, 640, "scaled to the width limit");
            assert!(frame.height <= 640 && frame.height.is_multiple_of(2));
            let centre = frame.y[(frame.height / 2) * frame.width + frame.width / 2];
            if (i32::from(centre) - luma).abs() <= 3 || Instant::now() > deadline {
                break centre;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            (i32::from(centre) - luma).abs() <= 3,
            "{colour}: centre luma {centre}, expected {luma}"
        );
    }
    assert!(
        ScreenSource::open(Some("no-such-screen"), (640, 480)).is_err(),
        "an unknown screen name opened"
    );
}
