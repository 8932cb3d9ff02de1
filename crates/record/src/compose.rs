//! The recording's picture: every participant's latest frame composed into the grid the app
//! shows ([`crate::layout`]), each tile with its name, in one I420 frame for the recording's
//! encoder.
//!
//! A tile keeps its picture's aspect (a shared screen at its own, letterboxed inside the
//! tile); a participant whose camera is off shows its initial; a shared screen takes the
//! large place of the speaker view, as on the app's stage. Names are drawn with DejaVu Sans
//! (the `dejavu` crate embeds it: a recording looks the same on any machine) rasterised by
//! fontdue, and cached per name and size.
//!
//! Scaling reuses confab-media's `I420Scaler`; everything else here is filling rectangles of
//! the three planes.

use std::collections::HashMap;

use confab_media::convert::{ConvertError, I420Scaler};
use confab_media::frame::VideoFrame;

use crate::layout::{Rect, TILE_ASPECT, place_tiles};

/// The recording's background and a tile's, as I420 (Y, U, V): the app's dark stage.
const BACKGROUND: (u8, u8, u8) = (20, 128, 128);
const TILE: (u8, u8, u8) = (40, 128, 128);
/// The name label's box (darker than any tile) and its text.
const LABEL_BOX_Y: u8 = 16;
const LABEL_TEXT_Y: u8 = 235;
/// The name's height: this share of the tile's height, within bounds.
const LABEL_SHARE: f32 = 0.06;
const LABEL_MIN_PX: f32 = 12.0;
const LABEL_MAX_PX: f32 = 28.0;
/// The initial of a participant without video: this share of the tile's height.
const INITIAL_SHARE: f32 = 0.35;

/// One participant as the recording shows it.
#[derive(Debug, Clone, Copy)]
pub struct Tile<'a> {
    pub name: &'a str,
    /// The latest picture; `None` while the camera is off (or none arrived yet).
    pub picture: Option<&'a VideoFrame>,
    /// A shared screen: it takes the large place.
    pub screen: bool,
}

/// Composes frames of a fixed size.
pub struct Compositor {
    width: usize,
    height: usize,
    scaler: I420Scaler,
    font: fontdue::Font,
    /// Rasterised text (coverage masks) by (text, pixel size).
    labels: HashMap<(String, u32), Mask>,
}

/// A coverage mask (0 = none, 255 = full), `width` × `height`.
#[derive(Clone)]
struct Mask {
    width: usize,
    height: usize,
    alpha: Vec<u8>,
}

impl Compositor {
    /// A compositor for `width` × `height` frames (even).
    pub fn new(width: usize, height: usize) -> Self {
        let font =
            fontdue::Font::from_bytes(dejavu::sans::regular(), fontdue::FontSettings::default())
                .expect("DejaVu Sans parses");
        Self {
            width,
            height,
            scaler: I420Scaler::default(),
            font,
            labels: HashMap::new(),
        }
    }

    /// The tiles in the order they are placed: a shared screen first (it is the large one).
    pub fn order<'a>(tiles: &[Tile<'a>]) -> (Vec<Tile<'a>>, bool) {
        let mut ordered: Vec<Tile<'a>> = tiles.to_vec();
        ordered.sort_by_key(|t| !t.screen);
        let focus = ordered.first().is_some_and(|t| t.screen);
        (ordered, focus)
    }

    /// One frame of the recording showing `tiles` (in the app's order: oneself first).
    pub fn compose(&mut self, tiles: &[Tile]) -> Result<VideoFrame, ConvertError> {
        let mut out = VideoFrame::black(self.width, self.height);
        fill(&mut out, full(self.width, self.height), BACKGROUND);
        let (ordered, focus) = Self::order(tiles);
        let rects = place_tiles(
            ordered.len() as i64,
            self.width as f64,
            self.height as f64,
            focus,
            TILE_ASPECT,
        );
        for (tile, rect) in ordered.iter().zip(rects) {
            self.draw_tile(&mut out, tile, even(rect))?;
        }
        Ok(out)
    }

    fn draw_tile(
        &mut self,
        out: &mut VideoFrame,
        tile: &Tile,
        rect: Rect,
    ) -> Result<(), ConvertError> {
        if rect.width < 4 || rect.height < 4 {
            return Ok(());
        }
        fill(out, rect, TILE);
        match tile.picture {
            Some(picture) if picture.width >= 2 && picture.height >= 2 => {
                let inner = fit(picture.width, picture.height, rect);
                let scaled = self
                    .scaler
                    .scale_to(picture, (inner.width as usize, inner.height as usize))?;
                blit(out, &scaled, inner);
            }
            _ => {
                let initial: String = tile
                    .name
                    .chars()
                    .next()
                    .map(|c| c.to_uppercase().collect())
                    .unwrap_or_default();
                let px = (rect.height as f32 * INITIAL_SHARE).max(LABEL_MIN_PX);
                let mask = self.text(&initial, px);
                let x = rect.x + (rect.width - mask.width as i64) / 2;
                let y = rect.y + (rect.height - mask.height as i64) / 2;
                draw_mask(out, &mask, x, y, 160, rect);
            }
        }
        let px = (rect.height as f32 * LABEL_SHARE).clamp(LABEL_MIN_PX, LABEL_MAX_PX);
        let mask = self.text(tile.name, px);
        let pad = (px / 3.0).ceil() as i64;
        let label = Rect {
            x: rect.x + pad,
            y: rect.y + rect.height - mask.height as i64 - 3 * pad,
            width: (mask.width as i64 + 2 * pad).min(rect.width - 2 * pad),
            height: mask.height as i64 + 2 * pad,
        };
        // Neutral chroma too: the picture's colour under the box would tint the text.
        fill(out, clip(label, rect), (LABEL_BOX_Y, 128, 128));
        draw_mask(
            out,
            &mask,
            label.x + pad,
            label.y + pad,
            LABEL_TEXT_Y,
            clip(label, rect),
        );
        Ok(())
    }

    /// `text` rasterised at `px` on one line (cached).
    fn text(&mut self, text: &str, px: f32) -> Mask {
        let key = (text.to_owned(), px.round() as u32);
        if let Some(mask) = self.labels.get(&key) {
            return mask.clone();
        }
        let line = self
            .font
            .horizontal_line_metrics(px)
            .map_or((px * 0.8, px * 1.2), |m| (m.ascent, m.new_line_size));
        let glyphs: Vec<(fontdue::Metrics, Vec<u8>)> =
            text.chars().map(|c| self.font.rasterize(c, px)).collect();
        let width: f32 = glyphs.iter().map(|(m, _)| m.advance_width).sum();
        let (width, height) = (width.ceil().max(1.0) as usize, line.1.ceil() as usize);
        let mut alpha = vec![0u8; width * height];
        let mut pen = 0.0f32;
        for (m, bitmap) in &glyphs {
            let left = (pen + m.xmin as f32).round() as i64;
            let top = (line.0 - m.height as f32 - m.ymin as f32).round() as i64;
            for row in 0..m.height {
                for col in 0..m.width {
                    let (x, y) = (left + col as i64, top + row as i64);
                    if x >= 0 && y >= 0 && (x as usize) < width && (y as usize) < height {
                        let a = &mut alpha[y as usize * width + x as usize];
                        *a = (*a).max(bitmap[row * m.width + col]);
                    }
                }
            }
            pen += m.advance_width;
        }
        let mask = Mask {
            width,
            height,
            alpha,
        };
        // Names come and go with participants; a few dozen sizes at most.
        if self.labels.len() > 256 {
            self.labels.clear();
        }
        self.labels.insert(key, mask.clone());
        mask
    }
}

fn full(width: usize, height: usize) -> Rect {
    Rect {
        x: 0,
        y: 0,
        width: width as i64,
        height: height as i64,
    }
}

/// `r` with even corners (4:2:0 chroma covers 2×2 luma).
fn even(r: Rect) -> Rect {
    let x = r.x & !1;
    let y = r.y & !1;
    Rect {
        x,
        y,
        width: (r.x + r.width - x) & !1,
        height: (r.y + r.height - y) & !1,
    }
}

fn clip(r: Rect, within: Rect) -> Rect {
    let x0 = r.x.max(within.x);
    let y0 = r.y.max(within.y);
    let x1 = (r.x + r.width).min(within.x + within.width);
    let y1 = (r.y + r.height).min(within.y + within.height);
    Rect {
        x: x0,
        y: y0,
        width: (x1 - x0).max(0),
        height: (y1 - y0).max(0),
    }
}

/// The largest rectangle of a `w` × `h` picture's aspect inside `tile`, centred (even).
fn fit(w: usize, h: usize, tile: Rect) -> Rect {
    let scale = (tile.width as f64 / w as f64).min(tile.height as f64 / h as f64);
    let width = ((w as f64 * scale) as i64).max(2);
    let height = ((h as f64 * scale) as i64).max(2);
    even(Rect {
        x: tile.x + (tile.width - width) / 2,
        y: tile.y + (tile.height - height) / 2,
        width,
        height,
    })
}

fn fill(out: &mut VideoFrame, r: Rect, (y, u, v): (u8, u8, u8)) {
    fill_luma(out, r, y);
    let r = even(r);
    let cw = out.chroma_width();
    for row in (r.y / 2)..((r.y + r.height) / 2) {
        let start = row as usize * cw + (r.x / 2) as usize;
        let end = start + (r.width / 2) as usize;
        out.u[start..end].fill(u);
        out.v[start..end].fill(v);
    }
}

fn fill_luma(out: &mut VideoFrame, r: Rect, y: u8) {
    for row in r.y..(r.y + r.height) {
        let start = row as usize * out.width + r.x as usize;
        out.y[start..start + r.width as usize].fill(y);
    }
}

/// Copies `picture` (already `r`'s size) to `r`.
fn blit(out: &mut VideoFrame, picture: &VideoFrame, r: Rect) {
    let (w, cw, ocw) = (r.width as usize, r.width as usize / 2, out.chroma_width());
    for row in 0..r.height as usize {
        let dst = (r.y as usize + row) * out.width + r.x as usize;
        out.y[dst..dst + w].copy_from_slice(&picture.y[row * picture.width..][..w]);
    }
    for row in 0..r.height as usize / 2 {
        let dst = (r.y as usize / 2 + row) * ocw + r.x as usize / 2;
        let src = row * picture.chroma_width();
        out.u[dst..dst + cw].copy_from_slice(&picture.u[src..src + cw]);
        out.v[dst..dst + cw].copy_from_slice(&picture.v[src..src + cw]);
    }
}

/// Blends `mask` in luma `value` at (`x`, `y`), only inside `within`.
fn draw_mask(out: &mut VideoFrame, mask: &Mask, x: i64, y: i64, value: u8, within: Rect) {
    for row in 0..mask.height as i64 {
        for col in 0..mask.width as i64 {
            let (px, py) = (x + col, y + row);
            if px < within.x
                || py < within.y
                || px >= within.x + within.width
                || py >= within.y + within.height
            {
                continue;
            }
            let a = u32::from(mask.alpha[(row * mask.width as i64 + col) as usize]);
            let dst = &mut out.y[py as usize * out.width + px as usize];
            *dst = ((u32::from(*dst) * (255 - a) + u32::from(value) * a) / 255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(width: usize, height: usize, y: u8) -> VideoFrame {
        let mut f = VideoFrame::black(width, height);
        f.y.fill(y);
        f
    }

    fn luma(f: &VideoFrame, x: i64, y: i64) -> u8 {
        f.y[y as usize * f.width + x as usize]
    }

    #[test]
    fn each_picture_lands_in_its_tile_keeping_its_aspect() {
        let mut c = Compositor::new(1280, 720);
        let a = solid(640, 480, 200);
        let b = solid(320, 240, 100);
        let out = c
            .compose(&[
                Tile {
                    name: "alice",
                    picture: Some(&a),
                    screen: false,
                },
                Tile {
                    name: "bob",
                    picture: Some(&b),
                    screen: false,
                },
            ])
            .expect("compose");
        let rects = place_tiles(2, 1280.0, 720.0, false, TILE_ASPECT);
        for (rect, expected) in rects.iter().zip([200u8, 100]) {
            // The centre of each tile is its picture (4:3 inside a 16:9 tile: pillarboxed).
            let (cx, cy) = (rect.x + rect.width / 2, rect.y + rect.height / 2);
            assert_eq!(luma(&out, cx, cy), expected, "{rect:?}");
            // Its left edge is the tile's own colour (the pillarbox), not the picture.
            assert_eq!(luma(&out, rect.x + 2, cy), TILE.0, "{rect:?}");
        }
        // Between the tiles: the background.
        assert_eq!(luma(&out, 2, 2), BACKGROUND.0);
    }

    #[test]
    fn a_name_is_written_on_its_tile_and_a_camera_off_shows_the_initial() {
        let mut c = Compositor::new(1280, 720);
        let out = c
            .compose(&[Tile {
                name: "zoë",
                picture: None,
                screen: false,
            }])
            .expect("compose");
        let rect = place_tiles(1, 1280.0, 720.0, false, TILE_ASPECT)[0];
        let bright = |r: Rect| {
            (r.y..r.y + r.height)
                .flat_map(|y| (r.x..r.x + r.width).map(move |x| (x, y)))
                .filter(|&(x, y)| luma(&out, x, y) > 120)
                .count()
        };
        // The initial, large in the middle.
        let middle = Rect {
            x: rect.x + rect.width / 3,
            y: rect.y + rect.height / 3,
            width: rect.width / 3,
            height: rect.height / 3,
        };
        assert!(bright(middle) > 500, "{} bright pixels", bright(middle));
        // The name, bottom left.
        let corner = Rect {
            x: rect.x,
            y: rect.y + rect.height * 4 / 5,
            width: rect.width / 4,
            height: rect.height / 5,
        };
        assert!(bright(corner) > 50, "{} bright pixels", bright(corner));
    }

    #[test]
    fn a_shared_screen_takes_the_large_place() {
        let mut c = Compositor::new(1280, 720);
        let cam = solid(640, 480, 90);
        let screen = solid(1920, 1080, 210);
        let out = c
            .compose(&[
                Tile {
                    name: "me",
                    picture: Some(&cam),
                    screen: false,
                },
                Tile {
                    name: "sharer",
                    picture: Some(&screen),
                    screen: true,
                },
            ])
            .expect("compose");
        let rects = place_tiles(2, 1280.0, 720.0, true, TILE_ASPECT);
        let main = rects[0];
        assert_eq!(
            luma(&out, main.x + main.width / 2, main.y + main.height / 2),
            210
        );
        assert!(main.width > rects[1].width * 3);
    }
}
