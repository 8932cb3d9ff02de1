//! Packed RGB(A) pictures from cameras and screens → the encoder's I420, scaled to fit.
//!
//! Scaling is done by `fast_image_resize` (SIMD convolution) and colour conversion by `yuv`
//! (SIMD, BT.601 limited range: what an H.264 stream without colour information is assumed
//! to carry, so browsers and our decoder show the colours that were captured).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use yuv::{
    BufferStoreMut, YuvConversionMode, YuvPlanarImageMut, YuvRange, YuvStandardMatrix,
    rgb_to_yuv420, rgba_to_yuv420,
};

use crate::frame::VideoFrame;

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("a {width}x{height} {layout:?} picture needs {needed} bytes, got {got}")]
    ShortBuffer {
        width: usize,
        height: usize,
        layout: PixelLayout,
        needed: usize,
        got: usize,
    },
    #[error("cannot scale {0}x{1} to fit {2}x{3}")]
    Size(usize, usize, usize, usize),
    #[error("scaling: {0}")]
    Scale(String),
    #[error("colour conversion: {0}")]
    Colour(String),
}

/// How the bytes of a packed picture are laid out (8 bits per component, rows without
/// padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelLayout {
    /// Screens (xcap).
    Rgba,
    /// Decoded camera frames (nokhwa).
    Rgb,
}

impl PixelLayout {
    fn bytes_per_pixel(self) -> usize {
        match self {
            PixelLayout::Rgba => 4,
            PixelLayout::Rgb => 3,
        }
    }

    fn resize_type(self) -> PixelType {
        match self {
            PixelLayout::Rgba => PixelType::U8x4,
            PixelLayout::Rgb => PixelType::U8x3,
        }
    }
}

/// The largest even size with the picture's aspect ratio that fits in `max` without
/// enlarging it (an encoder gains nothing from upscaling).
pub fn fit_within(width: usize, height: usize, max: (usize, usize)) -> (usize, usize) {
    let scale = (max.0 as f64 / width as f64)
        .min(max.1 as f64 / height as f64)
        .min(1.0);
    let even = |v: f64| ((v as usize) & !1).max(2);
    (even(width as f64 * scale), even(height as f64 * scale))
}

/// Converts frames of one source; keeps the scaler's buffers between frames.
#[derive(Default)]
pub struct Converter {
    resizer: Resizer,
    scaled: Vec<u8>,
}

impl Converter {
    /// `data` is a `width`×`height` picture in `layout`; the result fits in `max` (see
    /// [`fit_within`]), stamped with `capture_us`.
    pub fn to_i420(
        &mut self,
        data: &[u8],
        width: usize,
        height: usize,
        layout: PixelLayout,
        max: (usize, usize),
        capture_us: u64,
    ) -> Result<VideoFrame, ConvertError> {
        let bpp = layout.bytes_per_pixel();
        let needed = width * height * bpp;
        if width == 0 || height == 0 || data.len() < needed {
            return Err(ConvertError::ShortBuffer {
                width,
                height,
                layout,
                needed,
                got: data.len(),
            });
        }
        if max.0 < 2 || max.1 < 2 {
            return Err(ConvertError::Size(width, height, max.0, max.1));
        }
        let (w, h) = fit_within(width, height, max);
        let packed: &[u8] = if (w, h) == (width, height) {
            &data[..needed]
        } else {
            let src = ImageRef::new(width as u32, height as u32, data, layout.resize_type())
                .map_err(|e| ConvertError::Scale(e.to_string()))?;
            self.scaled.resize(w * h * bpp, 0);
            let mut dst =
                Image::from_slice_u8(w as u32, h as u32, &mut self.scaled, layout.resize_type())
                    .map_err(|e| ConvertError::Scale(e.to_string()))?;
            bilinear(&mut self.resizer, &src, &mut dst)?;
            &self.scaled
        };
        let mut frame = VideoFrame::black(w, h);
        frame.capture_us = capture_us;
        let mut planar = YuvPlanarImageMut {
            y_plane: BufferStoreMut::Borrowed(&mut frame.y),
            y_stride: w as u32,
            u_plane: BufferStoreMut::Borrowed(&mut frame.u),
            u_stride: (w / 2) as u32,
            v_plane: BufferStoreMut::Borrowed(&mut frame.v),
            v_stride: (w / 2) as u32,
            width: w as u32,
            height: h as u32,
        };
        let stride = (w * bpp) as u32;
        let (range, matrix, mode) = (
            YuvRange::Limited,
            YuvStandardMatrix::Bt601,
            YuvConversionMode::Balanced,
        );
        match layout {
            PixelLayout::Rgba => rgba_to_yuv420(&mut planar, packed, stride, range, matrix, mode),
            PixelLayout::Rgb => rgb_to_yuv420(&mut planar, packed, stride, range, matrix, mode),
        }
        .map_err(|e| ConvertError::Colour(e.to_string()))?;
        Ok(frame)
    }
}

/// Scales I420 frames down, plane by plane; keeps the scaler's buffers between frames.
///
/// Why: congestion control lowers the sent resolution (720p → 480p → 360p → 240p) when the
/// bitrate cannot carry it, and the sources deliver their own size (the test pattern, a camera
/// opened at its mode). Each plane is an 8-bit image, so `fast_image_resize`'s `U8` convolution
/// does the work (no colour conversion on the way).
#[derive(Default)]
pub struct I420Scaler {
    resizer: Resizer,
}

impl I420Scaler {
    /// `frame` scaled to fit in `max` (see [`fit_within`]); the frame itself when it fits.
    pub fn fit(
        &mut self,
        frame: VideoFrame,
        max: (usize, usize),
    ) -> Result<VideoFrame, ConvertError> {
        if max.0 < 2 || max.1 < 2 {
            return Err(ConvertError::Size(frame.width, frame.height, max.0, max.1));
        }
        let (w, h) = fit_within(frame.width, frame.height, max);
        if (w, h) == (frame.width, frame.height) {
            return Ok(frame);
        }
        let mut out = VideoFrame::black(w, h);
        out.capture_us = frame.capture_us;
        let (cw, ch) = (frame.chroma_width(), frame.height.div_ceil(2));
        let (ocw, och) = (out.chroma_width(), h.div_ceil(2));
        self.plane(&frame.y, (frame.width, frame.height), &mut out.y, (w, h))?;
        self.plane(&frame.u, (cw, ch), &mut out.u, (ocw, och))?;
        self.plane(&frame.v, (cw, ch), &mut out.v, (ocw, och))?;
        Ok(out)
    }

    /// `frame` scaled to exactly `size` (even; up or down), keeping nothing of its aspect:
    /// the caller chose `size` (a recording's tile, which keeps the picture's aspect itself).
    pub fn scale_to(
        &mut self,
        frame: &VideoFrame,
        (w, h): (usize, usize),
    ) -> Result<VideoFrame, ConvertError> {
        if w < 2 || h < 2 || !w.is_multiple_of(2) || !h.is_multiple_of(2) {
            return Err(ConvertError::Size(frame.width, frame.height, w, h));
        }
        let mut out = VideoFrame::black(w, h);
        out.capture_us = frame.capture_us;
        let (cw, ch) = (frame.chroma_width(), frame.height.div_ceil(2));
        self.plane(&frame.y, (frame.width, frame.height), &mut out.y, (w, h))?;
        self.plane(&frame.u, (cw, ch), &mut out.u, (w / 2, h / 2))?;
        self.plane(&frame.v, (cw, ch), &mut out.v, (w / 2, h / 2))?;
        Ok(out)
    }

    fn plane(
        &mut self,
        src: &[u8],
        (sw, sh): (usize, usize),
        dst: &mut [u8],
        (dw, dh): (usize, usize),
    ) -> Result<(), ConvertError> {
        let src = ImageRef::new(sw as u32, sh as u32, &src[..sw * sh], PixelType::U8)
            .map_err(|e| ConvertError::Scale(e.to_string()))?;
        let mut dst =
            Image::from_slice_u8(dw as u32, dh as u32, &mut dst[..dw * dh], PixelType::U8)
                .map_err(|e| ConvertError::Scale(e.to_string()))?;
        bilinear(&mut self.resizer, &src, &mut dst)
    }
}

/// Scales `src` into `dst`. Bilinear: a downscale for video, where Lanczos's sharpness costs
/// 2-3× the time for no visible gain after the encoder.
fn bilinear(resizer: &mut Resizer, src: &ImageRef, dst: &mut Image) -> Result<(), ConvertError> {
    resizer
        .resize(
            src,
            dst,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear)),
        )
        .map_err(|e| ConvertError::Scale(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(width: usize, height: usize, rgba: [u8; 4]) -> Vec<u8> {
        rgba.iter()
            .copied()
            .cycle()
            .take(width * height * 4)
            .collect()
    }

    #[test]
    fn pure_colours_land_on_their_bt601_limited_range_values() {
        let mut c = Converter::default();
        let red = c
            .to_i420(
                &solid(64, 48, [255, 0, 0, 255]),
                64,
                48,
                PixelLayout::Rgba,
                (64, 48),
                7,
            )
            .expect("convert");
        // BT.601 limited: red is Y 81, U 90, V 240 (±2 for rounding).
        assert!((i32::from(red.y[100]) - 81).abs() <= 2, "Y {}", red.y[100]);
        assert!((i32::from(red.u[10]) - 90).abs() <= 2, "U {}", red.u[10]);
        assert!((i32::from(red.v[10]) - 240).abs() <= 2, "V {}", red.v[10]);
        assert_eq!(red.capture_us, 7);
        let white = c
            .to_i420(
                &solid(64, 48, [255; 4]),
                64,
                48,
                PixelLayout::Rgba,
                (64, 48),
                0,
            )
            .expect("convert");
        assert!((i32::from(white.y[0]) - 235).abs() <= 2, "Y {}", white.y[0]);
    }

    #[test]
    fn a_large_screen_is_scaled_to_fit_keeping_its_aspect_ratio() {
        let mut c = Converter::default();
        let (w, h) = (1920, 1080);
        // Left half black, right half white: the edge must stay in the middle.
        let data: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                if i % w < w / 2 {
                    [0, 0, 0, 255]
                } else {
                    [255; 4]
                }
            })
            .collect();
        let f = c
            .to_i420(&data, w, h, PixelLayout::Rgba, (1280, 720), 0)
            .expect("convert");
        assert_eq!((f.width, f.height), (1280, 720));
        let row = 360 * f.width;
        assert!(f.y[row + 600] < 30 && f.y[row + 680] > 220);
        let f = c
            .to_i420(&data, w, h, PixelLayout::Rgba, (640, 640), 0)
            .expect("convert");
        assert_eq!((f.width, f.height), (640, 360));
    }

    #[test]
    fn rgb_pictures_convert_like_rgba_ones() {
        let mut c = Converter::default();
        let rgb: Vec<u8> = [0u8, 0, 255]
            .iter()
            .copied()
            .cycle()
            .take(32 * 32 * 3)
            .collect();
        let blue = c
            .to_i420(&rgb, 32, 32, PixelLayout::Rgb, (32, 32), 0)
            .expect("convert");
        // BT.601 limited: blue is Y 41, U 240, V 110.
        assert!((i32::from(blue.y[0]) - 41).abs() <= 2, "Y {}", blue.y[0]);
        assert!((i32::from(blue.u[0]) - 240).abs() <= 2, "U {}", blue.u[0]);
    }

    #[test]
    fn short_buffers_and_odd_sizes_are_errors_or_evened_not_panics() {
        let mut c = Converter::default();
        assert!(matches!(
            c.to_i420(&[0; 10], 64, 48, PixelLayout::Rgba, (64, 48), 0),
            Err(ConvertError::ShortBuffer { needed: 12288, .. })
        ));
        assert!(c.to_i420(&[], 0, 0, PixelLayout::Rgb, (64, 48), 0).is_err());
        assert!(
            c.to_i420(&[0; 16], 2, 2, PixelLayout::Rgba, (0, 0), 0)
                .is_err()
        );
        // A 641×481 window becomes 640×480 (I420 needs even sizes).
        let f = c
            .to_i420(
                &solid(641, 481, [9, 9, 9, 255]),
                641,
                481,
                PixelLayout::Rgba,
                (2000, 2000),
                0,
            )
            .expect("odd size");
        assert_eq!((f.width, f.height), (640, 480));
    }
}
