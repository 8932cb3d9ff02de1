//! Screen capture through xcap: X11 directly, Wayland through the desktop portal and
//! PipeWire (README). Each call captures the whole monitor once (14–30 ms for 1080p under
//! Xvfb, FINDINGS.md), so the pipeline paces it at the video frame rate.

use xcap::Monitor;

use super::{DeviceInfo, SourceError, VideoSource};
use crate::convert::{Converter, PixelLayout};
use crate::frame::{VideoFrame, now_us};

pub struct ScreenSource {
    monitor: Monitor,
    max: (usize, usize),
    converter: Converter,
}

/// The screens that can be shared, primary first.
pub fn list() -> Result<Vec<DeviceInfo>, SourceError> {
    let mut monitors = Monitor::all().map_err(|e| SourceError::Screen(e.to_string()))?;
    monitors.sort_by_key(|m| !m.is_primary().unwrap_or(false));
    Ok(monitors
        .iter()
        .map(|m| {
            let name = m.name().unwrap_or_default();
            let size = format!(
                "{}x{}",
                m.width().unwrap_or_default(),
                m.height().unwrap_or_default()
            );
            DeviceInfo {
                id: name.clone(),
                name: format!("{name} ({size})"),
            }
        })
        .collect())
}

impl ScreenSource {
    /// `monitor`: (part of) a screen's name; `None` is the primary screen (or the first).
    pub fn open(monitor: Option<&str>, max: (usize, usize)) -> Result<Self, SourceError> {
        let monitors = Monitor::all().map_err(|e| SourceError::Screen(e.to_string()))?;
        let names = || {
            monitors
                .iter()
                .filter_map(|m| m.name().ok())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let chosen = match monitor {
            Some(wanted) => monitors
                .iter()
                .find(|m| m.name().is_ok_and(|n| n.contains(wanted)))
                .ok_or_else(|| SourceError::NoSuchScreen(wanted.to_owned(), names()))?,
            None => monitors
                .iter()
                .find(|m| m.is_primary().unwrap_or(false))
                .or(monitors.first())
                .ok_or_else(|| SourceError::NoSuchScreen("primary".into(), "none".into()))?,
        };
        Ok(Self {
            monitor: chosen.clone(),
            max,
            converter: Converter::default(),
        })
    }
}

impl VideoSource for ScreenSource {
    fn next_frame(&mut self) -> Result<VideoFrame, SourceError> {
        let capture_us = now_us();
        let image = self
            .monitor
            .capture_image()
            .map_err(|e| SourceError::Screen(e.to_string()))?;
        Ok(self.converter.to_i420(
            image.as_raw(),
            image.width() as usize,
            image.height() as usize,
            PixelLayout::Rgba,
            self.max,
            capture_us,
        )?)
    }
}
