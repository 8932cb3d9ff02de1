//! Where each participant's picture goes in the recording: the grid the app shows, computed
//! the same way. This is `ui/layout.js` (`gridLayout`, `speakerLayout`, `placeTiles`) in Rust,
//! number for number — the recording must look like the call did, and a test
//! (`tests/layout_matches_the_ui.rs`) runs both on the same inputs and compares every
//! rectangle. Change one, change the other.
//!
//! Pure functions of the frame's size and the tile count, in pixels of the recording.

/// The space between tiles, and around them (the UI's `GAP`, CSS pixels there).
pub const GAP: i64 = 8;
/// The shape tiles take (the UI's `TILE_ASPECT`).
pub const TILE_ASPECT: f64 = 16.0 / 9.0;
/// The narrowest useful thumbnail (the UI's `MIN_TILE_WIDTH`).
pub const MIN_TILE_WIDTH: i64 = 120;

/// A tile's place: left, top, width, height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
}

/// The grid for `n` tiles of `aspect` in `width` × `height`: columns, rows, tile size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub cols: i64,
    pub rows: i64,
    pub tile_width: f64,
    pub tile_height: f64,
}

/// Every column count is tried; the one whose tiles come out widest wins (ties: fewer rows).
pub fn grid_layout(n: i64, width: f64, height: f64, aspect: f64) -> Grid {
    if n <= 0 || width <= 0.0 || height <= 0.0 {
        return Grid {
            cols: 0,
            rows: 0,
            tile_width: 0.0,
            tile_height: 0.0,
        };
    }
    let gap = GAP as f64;
    let mut best: Option<Grid> = None;
    for cols in 1..=n {
        let rows = (n + cols - 1) / cols;
        let cell_width = (width - gap * (cols + 1) as f64) / cols as f64;
        let cell_height = (height - gap * (rows + 1) as f64) / rows as f64;
        if cell_width <= 0.0 || cell_height <= 0.0 {
            continue;
        }
        let tile_width = cell_width.min(cell_height * aspect);
        if best.is_none_or(|b| tile_width > b.tile_width + 0.5) {
            best = Some(Grid {
                cols,
                rows,
                tile_width,
                tile_height: tile_width / aspect,
            });
        }
    }
    match best {
        None => Grid {
            cols: 1,
            rows: n,
            tile_width: 0.0,
            tile_height: 0.0,
        },
        Some(b) => Grid {
            tile_width: b.tile_width.floor(),
            tile_height: b.tile_height.floor(),
            ..b
        },
    }
}

/// Where the speaker view's strip goes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Strip {
    None,
    Below,
    Side { strip_width: f64 },
}

struct Speaker {
    strip: Strip,
    main: (f64, f64),
    thumb: (f64, f64),
}

fn speaker_layout(others: i64, width: f64, height: f64, aspect: f64) -> Speaker {
    if others == 0 {
        let only = grid_layout(1, width, height, aspect);
        return Speaker {
            strip: Strip::None,
            main: (only.tile_width, only.tile_height),
            thumb: (0.0, 0.0),
        };
    }
    let gap = GAP as f64;
    if width / height > 2.0 * aspect {
        let strip_width = ((MIN_TILE_WIDTH + 2 * GAP) as f64).max((width / 5.0).floor());
        let thumb = grid_layout(others, strip_width, height, aspect);
        let main = grid_layout(1, width - strip_width, height, aspect);
        return Speaker {
            strip: Strip::Side { strip_width },
            main: (main.tile_width, main.tile_height),
            thumb: (thumb.tile_width, thumb.tile_height),
        };
    }
    let strip_height =
        ((MIN_TILE_WIDTH as f64 / aspect).ceil() + 2.0 * gap).max((height / 5.0).floor());
    let per_thumb = ((width - gap * (others + 1) as f64) / others as f64)
        .min((strip_height - 2.0 * gap) * aspect)
        .min(width / 4.0);
    let main = grid_layout(1, width, height - strip_height, aspect);
    Speaker {
        strip: Strip::Below,
        main: (main.tile_width, main.tile_height),
        thumb: (per_thumb.floor(), (per_thumb / aspect).floor()),
    }
}

/// Where each of `count` tiles goes on a `width` × `height` frame, in the tiles' order. With
/// `focus` (a shared screen, as the app's stage gives it), the first tile is large and the
/// others share a strip; otherwise a centred grid whose last row is centred too.
pub fn place_tiles(count: i64, width: f64, height: f64, focus: bool, aspect: f64) -> Vec<Rect> {
    if count == 0 {
        return Vec::new();
    }
    let gap = GAP as f64;
    if !focus || count == 1 {
        let g = grid_layout(count, width, height, aspect);
        let grid_height = g.rows as f64 * g.tile_height + (g.rows - 1) as f64 * gap;
        let top = gap.max(((height - grid_height) / 2.0).floor());
        return (0..count)
            .map(|i| {
                let row = i / g.cols;
                let in_row = g.cols.min(count - row * g.cols);
                let row_width = in_row as f64 * g.tile_width + (in_row - 1) as f64 * gap;
                let left = ((width - row_width) / 2.0).floor();
                Rect {
                    x: (left + (i % g.cols) as f64 * (g.tile_width + gap)) as i64,
                    y: (top + row as f64 * (g.tile_height + gap)) as i64,
                    width: g.tile_width as i64,
                    height: g.tile_height as i64,
                }
            })
            .collect();
    }
    let s = speaker_layout(count - 1, width, height, aspect);
    if let Strip::Side { strip_width } = s.strip {
        let main = Rect {
            x: ((width - strip_width - s.main.0) / 2.0).floor() as i64,
            y: ((height - s.main.1) / 2.0).floor() as i64,
            width: s.main.0 as i64,
            height: s.main.1 as i64,
        };
        let thumbs = place_tiles(count - 1, strip_width, height, false, aspect)
            .into_iter()
            .map(|r| Rect {
                x: r.x + (width - strip_width) as i64,
                ..r
            });
        return std::iter::once(main).chain(thumbs).collect();
    }
    let strip_height = s.thumb.1 + 2.0 * gap;
    let main_area = height - strip_height;
    let main = Rect {
        x: ((width - s.main.0) / 2.0).floor() as i64,
        y: gap.max(((main_area - s.main.1) / 2.0).floor()) as i64,
        width: s.main.0 as i64,
        height: s.main.1 as i64,
    };
    let others = count - 1;
    let row_width = others as f64 * s.thumb.0 + (others - 1) as f64 * gap;
    let left = ((width - row_width) / 2.0).floor();
    let thumbs = (0..others).map(|i| Rect {
        x: (left + i as f64 * (s.thumb.0 + gap)) as i64,
        y: (height - strip_height + gap) as i64,
        width: s.thumb.0 as i64,
        height: s.thumb.1 as i64,
    });
    std::iter::once(main).chain(thumbs).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inside(r: &Rect, width: i64, height: i64) -> bool {
        r.x >= 0 && r.y >= 0 && r.x + r.width <= width && r.y + r.height <= height
    }

    #[test]
    fn one_to_six_tiles_fit_a_720p_frame_without_overlap() {
        for count in 1..=6 {
            let rects = place_tiles(count, 1280.0, 720.0, false, TILE_ASPECT);
            assert_eq!(rects.len() as i64, count);
            for (i, a) in rects.iter().enumerate() {
                assert!(inside(a, 1280, 720), "{count}: {a:?}");
                assert!(a.width >= 300, "{count}: tiles of {a:?} are too small");
                for b in &rects[i + 1..] {
                    let apart = a.x + a.width <= b.x
                        || b.x + b.width <= a.x
                        || a.y + a.height <= b.y
                        || b.y + b.height <= a.y;
                    assert!(apart, "{count}: {a:?} overlaps {b:?}");
                }
            }
        }
    }

    #[test]
    fn a_shared_screen_is_large_and_the_others_below_it() {
        let rects = place_tiles(3, 1280.0, 720.0, true, TILE_ASPECT);
        assert!(rects[0].width > 3 * rects[1].width, "{rects:?}");
        assert!(rects[1].y > rects[0].y + rects[0].height - 1, "{rects:?}");
        assert!(rects.iter().all(|r| inside(r, 1280, 720)), "{rects:?}");
    }
}
