//! Cameras through nokhwa (V4L2 on Linux). Frames arrive on the camera's own clock, as MJPEG
//! or YUYV; nokhwa decodes them to RGB and [`Converter`] scales them to I420.
//!
//! No camera exists on the build machines and none can be faked there (FINDINGS.md), so
//! what tests can check here is listing and the error for a missing camera; the pipeline
//! behind this source is the one the synthetic source exercises.

use nokhwa::Camera;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

use super::{DeviceInfo, SourceError, VideoSource};
use crate::convert::{Converter, PixelLayout};
use crate::frame::{VideoFrame, now_us};

pub struct CameraSource {
    camera: Camera,
    max: (usize, usize),
    converter: Converter,
}

/// The cameras present (empty, not an error, where there are none).
pub fn list() -> Result<Vec<DeviceInfo>, SourceError> {
    let cameras =
        nokhwa::query(ApiBackend::Auto).map_err(|e| SourceError::Camera(e.to_string()))?;
    Ok(cameras
        .iter()
        .map(|c| DeviceInfo {
            id: c.index().to_string(),
            name: c.human_name(),
        })
        .collect())
}

impl CameraSource {
    /// `device`: an index ("0") or (part of) a camera's name; `None` is the first camera.
    /// Asks for the format closest to `max` at `fps` (MJPEG where offered: it is what
    /// USB cameras deliver at 720p30).
    pub fn open(device: Option<&str>, max: (usize, usize), fps: u32) -> Result<Self, SourceError> {
        let cameras = list()?;
        let names = || {
            let all: Vec<_> = cameras
                .iter()
                .map(|c| format!("{} {}", c.id, c.name))
                .collect();
            if all.is_empty() {
                "none found".to_owned()
            } else {
                all.join(", ")
            }
        };
        let wanted = device.unwrap_or("");
        let chosen = cameras
            .iter()
            .find(|c| c.id == wanted || (!wanted.is_empty() && c.name.contains(wanted)))
            .or_else(|| device.is_none().then(|| cameras.first()).flatten())
            .ok_or_else(|| SourceError::NoSuchCamera(wanted.to_owned(), names()))?;
        let index = chosen
            .id
            .parse::<u32>()
            .map(CameraIndex::Index)
            .unwrap_or_else(|_| CameraIndex::String(chosen.id.clone()));
        let format =
            RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(CameraFormat::new(
                Resolution::new(max.0 as u32, max.1 as u32),
                FrameFormat::MJPEG,
                fps,
            )));
        let mut camera =
            Camera::new(index, format).map_err(|e| SourceError::Camera(e.to_string()))?;
        camera
            .open_stream()
            .map_err(|e| SourceError::Camera(e.to_string()))?;
        Ok(Self {
            camera,
            max,
            converter: Converter::default(),
        })
    }
}

impl VideoSource for CameraSource {
    fn next_frame(&mut self) -> Result<VideoFrame, SourceError> {
        let buffer = self
            .camera
            .frame()
            .map_err(|e| SourceError::Camera(e.to_string()))?;
        let capture_us = now_us();
        let rgb = buffer
            .decode_image::<RgbFormat>()
            .map_err(|e| SourceError::Camera(e.to_string()))?;
        Ok(self.converter.to_i420(
            rgb.as_raw(),
            rgb.width() as usize,
            rgb.height() as usize,
            PixelLayout::Rgb,
            self.max,
            capture_us,
        )?)
    }

    fn self_paced(&self) -> bool {
        true
    }
}

impl Drop for CameraSource {
    fn drop(&mut self) {
        // Releases the device (the camera light goes off) when the source is switched away.
        let _ = self.camera.stop_stream();
    }
}
