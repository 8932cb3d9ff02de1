//! The recording's grid is the app's: `confab_record::layout` and `ui/layout.js` give the same
//! rectangles for every tile count, frame size, aspect and view tried (node runs the UI's
//! module; CI has node for the UI's own tests).

use std::process::Command;

use confab_record::layout::{Rect, TILE_ASPECT, place_tiles};

const SIZES: [(f64, f64); 6] = [
    (1280.0, 720.0),
    (1920.0, 1080.0),
    (640.0, 480.0),
    (800.0, 600.0),
    (2560.0, 720.0),
    (720.0, 1280.0),
];
const ASPECTS: [f64; 3] = [TILE_ASPECT, 4.0 / 3.0, 21.0 / 9.0];

#[test]
fn every_rectangle_is_the_uis() {
    let layout_js = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/layout.js");
    let mut cases = Vec::new();
    for count in 1..=6 {
        for (width, height) in SIZES {
            for aspect in ASPECTS {
                for focus in [false, true] {
                    cases.push((count, width, height, aspect, focus));
                }
            }
        }
    }
    let script = format!(
        "import {{ placeTiles }} from {path:?};\n\
         const cases = {cases};\n\
         console.log(JSON.stringify(cases.map(([n, w, h, aspect, focus]) => \
           placeTiles(n, w, h, {{ focus, aspect }}).map((r) => [r.x, r.y, r.width, r.height]))));",
        path = format!("file://{layout_js}"),
        cases = serde_json::to_string(&cases).expect("json"),
    );
    let out = Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "node: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ui: Vec<Vec<[i64; 4]>> = serde_json::from_slice(&out.stdout).expect("the UI's rectangles");
    assert_eq!(ui.len(), cases.len());
    for ((count, width, height, aspect, focus), from_ui) in cases.iter().zip(ui) {
        let ours: Vec<[i64; 4]> = place_tiles(*count, *width, *height, *focus, *aspect)
            .iter()
            .map(
                |&Rect {
                     x,
                     y,
                     width,
                     height,
                 }| [x, y, width, height],
            )
            .collect();
        assert_eq!(
            ours, from_ui,
            "{count} tiles, {width}×{height}, aspect {aspect:.3}, focus {focus}"
        );
    }
}
