//! Looks at a finished (or cut short) recording the way a user's player would: through
//! ffprobe and ffmpeg (apt: ffmpeg), not through our own demuxer — a file our code reads back
//! but players refuse is exactly the failure recordings are known for. Used by the tests and
//! the benchmark; the app itself never needs it.

use std::path::Path;
use std::process::{Command, Output};

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0} could not run (is ffmpeg installed? apt: ffmpeg): {1}")]
    Spawn(&'static str, std::io::Error),
    #[error("{tool} failed on {file}: {stderr}")]
    Failed {
        tool: &'static str,
        file: String,
        stderr: String,
    },
    #[error("{0} printed something unexpected: {1:?}")]
    Unexpected(&'static str, String),
}

fn run(
    tool: &'static str,
    path: &Path,
    before: &[&str],
    after: &[&str],
) -> Result<Output, ProbeError> {
    let out = Command::new(tool)
        .args(["-v", "error"])
        .args(before)
        .arg("-i")
        .arg(path)
        .args(after)
        .output()
        .map_err(|e| ProbeError::Spawn(tool, e))?;
    if !out.status.success() {
        return Err(ProbeError::Failed {
            tool,
            file: path.display().to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(out)
}

/// One ffprobe `-show_entries` query (e.g. `format=duration`), one line per value.
pub fn ffprobe(path: &Path, entries: &str) -> Result<String, ProbeError> {
    let out = run(
        "ffprobe",
        path,
        &[],
        &["-show_entries", entries, "-of", "csv=p=0"],
    )?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The file's duration as ffprobe reads it, in seconds.
pub fn duration(path: &Path) -> Result<f64, ProbeError> {
    let text = ffprobe(path, "format=duration")?;
    text.parse()
        .map_err(|_| ProbeError::Unexpected("ffprobe", text))
}

/// The codecs of the file's streams, in order (`["h264", "opus"]` for a recording).
pub fn codecs(path: &Path) -> Result<Vec<String>, ProbeError> {
    Ok(ffprobe(path, "stream=codec_name")?
        .lines()
        .map(str::to_owned)
        .collect())
}

/// Every video frame decoded: one hash per frame (a moving picture has many different ones)
/// and what ffmpeg complained about while decoding (empty for a clean file).
pub struct DecodedVideo {
    pub frame_hashes: Vec<String>,
    pub complaints: String,
}

pub fn decode_video(path: &Path) -> Result<DecodedVideo, ProbeError> {
    let out = run("ffmpeg", path, &[], &["-map", "0:v", "-f", "framemd5", "-"])?;
    Ok(DecodedVideo {
        frame_hashes: String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_owned()))
            .collect(),
        complaints: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// The audio track decoded to 48 kHz mono samples, from its first sample as presented (the
/// Opus pre-skip already removed).
pub fn decode_audio(path: &Path) -> Result<Vec<i16>, ProbeError> {
    let out = run(
        "ffmpeg",
        path,
        &[],
        &[
            "-map", "0:a", "-f", "s16le", "-ac", "1", "-ar", "48000", "-",
        ],
    )?;
    Ok(out
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect())
}

/// When the stream of `kind` (`"v"` or `"a"`) starts on the file's timeline, in seconds.
pub fn start_time(path: &Path, kind: &str) -> Result<f64, ProbeError> {
    let out = run(
        "ffprobe",
        path,
        &["-select_streams", kind],
        &["-show_entries", "stream=start_time", "-of", "csv=p=0"],
    )?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    text.parse()
        .map_err(|_| ProbeError::Unexpected("ffprobe", text))
}

/// Every video frame's presentation time (seconds) and mean brightness (luma 0–255 over the
/// whole picture), in order: what a flash looks like to a viewer.
pub fn frame_brightness(path: &Path) -> Result<Vec<(f64, f64)>, ProbeError> {
    let times = run(
        "ffprobe",
        path,
        &["-select_streams", "v"],
        &["-show_entries", "frame=pts_time", "-of", "csv=p=0"],
    )?;
    let times: Vec<f64> = String::from_utf8_lossy(&times.stdout)
        .lines()
        .map(|l| {
            l.trim()
                .trim_end_matches(',')
                .parse()
                .map_err(|_| ProbeError::Unexpected("ffprobe", l.to_owned()))
        })
        .collect::<Result<_, _>>()?;
    // Small grey pictures, every frame as decoded (no frame rate conversion).
    const W: usize = 32;
    const H: usize = 18;
    let pixels = run(
        "ffmpeg",
        path,
        &[],
        &[
            "-map",
            "0:v",
            "-fps_mode",
            "passthrough",
            "-vf",
            &format!("scale={W}:{H},format=gray"),
            "-f",
            "rawvideo",
            "-",
        ],
    )?;
    let means: Vec<f64> = pixels
        .stdout
        .chunks_exact(W * H)
        .map(|f| f.iter().map(|&p| f64::from(p)).sum::<f64>() / (W * H) as f64)
        .collect();
    if means.len() != times.len() {
        return Err(ProbeError::Unexpected(
            "ffmpeg",
            format!(
                "{} frames decoded, {} frame times",
                means.len(),
                times.len()
            ),
        ));
    }
    Ok(times.into_iter().zip(means).collect())
}

/// The frame shown at `seconds` into the file, as RGB (3 bytes a pixel, rows top to bottom),
/// with its width and height; `png`, when given, also gets it as a picture to look at.
pub fn frame_rgb_at(
    path: &Path,
    seconds: f64,
    png: Option<&Path>,
) -> Result<(usize, usize, Vec<u8>), ProbeError> {
    let at = format!("{seconds:.3}");
    let size = run(
        "ffprobe",
        path,
        &["-select_streams", "v"],
        &["-show_entries", "stream=width,height", "-of", "csv=p=0"],
    )?;
    let size = String::from_utf8_lossy(&size.stdout).trim().to_owned();
    let (width, height) = size
        .split_once(',')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .ok_or_else(|| ProbeError::Unexpected("ffprobe", size.clone()))?;
    let rgb = run(
        "ffmpeg",
        path,
        &["-ss", &at],
        &["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
    )?
    .stdout;
    if rgb.len() != width * height * 3 {
        return Err(ProbeError::Unexpected(
            "ffmpeg",
            format!("{} bytes for a {width}x{height} frame at {at} s", rgb.len()),
        ));
    }
    if let Some(png) = png {
        let png = png.to_string_lossy().into_owned();
        run(
            "ffmpeg",
            path,
            &["-ss", &at],
            &["-frames:v", "1", "-y", &png],
        )?;
    }
    Ok((width, height, rgb))
}

/// Audio/video sync of a recording of sync marks (a participant whose pattern flashes white
/// while its tone sounds, see `confab_media::source::synthetic`): for every flash, when its
/// first bright frame is shown minus when its beep's first loud sample is heard, in seconds
/// (positive: the picture is late). `frames` from [`frame_brightness`]; `audio` from
/// [`decode_audio`], its first sample at `audio_start` seconds.
///
/// A flash starts at a frame brighter than halfway between the darkest and the brightest
/// frame after one darker; a beep at the first sample louder than [`BEEP_LEVEL`] after at
/// least [`BEEP_QUIET_BEFORE`] without one. A flash with no beep within half a second (or
/// the other way round) is left out: the caller checks how many were paired.
pub fn sync_offsets(frames: &[(f64, f64)], audio: &[i16], audio_start: f64) -> Vec<f64> {
    let flashes = flash_onsets(frames);
    let beeps = beep_onsets(audio, audio_start);
    flashes
        .iter()
        .filter_map(|&flash| {
            beeps
                .iter()
                .map(|&beep| flash - beep)
                .filter(|offset| offset.abs() < 0.5)
                .min_by(|a, b| a.abs().total_cmp(&b.abs()))
        })
        .collect()
}

/// A sample this loud is the beep (the tone is at half of full scale; speech-free silence
/// between beeps decodes to near zero).
pub const BEEP_LEVEL: u16 = 3000;
/// Quiet this long before a loud sample makes it a beep's start, not a beep's middle.
pub const BEEP_QUIET_BEFORE: f64 = 0.3;

fn flash_onsets(frames: &[(f64, f64)]) -> Vec<f64> {
    let (lo, hi) = frames
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &(_, b)| {
            (lo.min(b), hi.max(b))
        });
    if hi - lo < 20.0 {
        return Vec::new(); // no flash at all
    }
    let mid = (lo + hi) / 2.0;
    frames
        .windows(2)
        .filter(|w| w[0].1 < mid && w[1].1 >= mid)
        .map(|w| w[1].0)
        .collect()
}

fn beep_onsets(audio: &[i16], audio_start: f64) -> Vec<f64> {
    let quiet = (BEEP_QUIET_BEFORE * 48_000.0) as usize;
    let mut onsets = Vec::new();
    let mut last_loud: Option<usize> = None;
    for (i, s) in audio.iter().enumerate() {
        if s.unsigned_abs() > BEEP_LEVEL {
            if last_loud.is_none_or(|l| i - l > quiet) && i > quiet {
                onsets.push(audio_start + i as f64 / 48_000.0);
            }
            last_loud = Some(i);
        }
    }
    onsets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_pair_each_flash_with_its_beep() {
        // 15 fps; flashes start at the frames at 1.0 s and 2.0 s (well, the first frame at or
        // after them); beeps at 0.98 s and 2.05 s; a beep at 3.5 s has no flash.
        let frames: Vec<(f64, f64)> = (0..60)
            .map(|n| {
                let t = f64::from(n) / 15.0;
                let lit = (1.0..1.2).contains(&t) || (2.0..2.2).contains(&t);
                (t, if lit { 200.0 } else { 80.0 })
            })
            .collect();
        let mut audio = vec![0i16; 48_000 * 4];
        for (from, to) in [(0.98, 1.18), (2.05, 2.25), (3.5, 3.7)] {
            for (i, s) in audio
                .iter_mut()
                .enumerate()
                .take((to * 48_000.0) as usize)
                .skip((from * 48_000.0) as usize)
            {
                *s = if i % 2 == 0 { 8000 } else { -8000 };
            }
        }
        let offsets = sync_offsets(&frames, &audio, 0.0);
        assert_eq!(offsets.len(), 2, "{offsets:?}");
        // The flash shows at frame 15 (1.0 s) and frame 30 (2.0 s).
        assert!((offsets[0] - 0.02).abs() < 1e-3, "{offsets:?}");
        assert!((offsets[1] + 0.05).abs() < 1e-3, "{offsets:?}");
        // The audio's own start time moves every beep.
        let shifted = sync_offsets(&frames, &audio, 0.01);
        assert!((shifted[0] - 0.01).abs() < 1e-3, "{shifted:?}");
    }

    #[test]
    fn no_flash_no_offsets() {
        let frames: Vec<(f64, f64)> = (0..30).map(|n| (f64::from(n) / 15.0, 90.0)).collect();
        assert!(sync_offsets(&frames, &[4000; 48_000], 0.0).is_empty());
    }
}
