//! H.264 through openh264: Constrained Baseline, Annex B access units, one layer.
//!
//! Built with nasm (set-up installs it): without it openh264 compiles silently with its C
//! fallbacks and encodes 2.6–4.4× slower (FINDINGS.md).

use openh264::OpenH264API;
use openh264::decoder::{Decoder, DecoderConfig};
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Level,
    Profile, RateControlMode, UsageType,
};
use openh264::formats::YUVSource;

use super::CodecError;
use crate::frame::VideoFrame;

/// Encoder settings; the defaults suit a 640×480 camera call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct H264Settings {
    pub bitrate_bps: u32,
    pub max_fps: f32,
    /// Frames between forced keyframes; 0 leaves keyframes to PLI requests and scene cuts.
    pub keyframe_interval: u32,
    /// Screen content: sharper text, fewer frames.
    pub screen: bool,
}

impl Default for H264Settings {
    fn default() -> Self {
        Self {
            bitrate_bps: 1_000_000,
            max_fps: 30.0,
            keyframe_interval: 0,
            screen: false,
        }
    }
}

/// One encoded picture in Annex B byte-stream format (start codes before each NAL unit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessUnit {
    pub data: Vec<u8>,
    pub keyframe: bool,
    pub capture_us: u64,
}

/// Whether an Annex B access unit starts a decodable sequence: it carries the sequence and
/// picture parameter sets and an IDR slice. A receiver that joins mid-stream, or lost a frame,
/// waits for one. An IDR slice alone is not enough: when the first packets of a keyframe are
/// lost (a TURN relay drops them until its permission for the sender exists), the rest still
/// assembles into IDR slices without parameter sets, which openh264 refuses (dsNoParamSets).
///
/// Scanning for start codes by hand: it is the whole of the parsing needed (one byte after
/// each `00 00 01`), not worth a bitstream-parser dependency.
pub fn is_keyframe(annex_b: &[u8]) -> bool {
    let (mut sps, mut pps, mut idr) = (false, false, false);
    for w in annex_b.windows(4).filter(|w| w[..3] == [0, 0, 1]) {
        match w[3] & 0x1f {
            5 => idr = true,
            7 => sps = true,
            8 => pps = true,
            _ => {}
        }
    }
    sps && pps && idr
}

pub struct H264Encoder {
    inner: Encoder,
    settings: H264Settings,
    dimensions: Option<(usize, usize)>,
}

impl H264Encoder {
    pub fn new(settings: H264Settings) -> Result<Self, CodecError> {
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(settings.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(settings.max_fps))
            // Rate control only holds its target when it may skip frames (openh264 warns).
            .skip_frames(true)
            .rate_control_mode(RateControlMode::Bitrate)
            .usage_type(if settings.screen {
                UsageType::ScreenContentRealTime
            } else {
                UsageType::CameraVideoRealTime
            })
            .profile(Profile::Baseline)
            .level(Level::Level_3_1)
            .complexity(Complexity::Low)
            .intra_frame_period(IntraFramePeriod::from_num_frames(
                settings.keyframe_interval,
            ))
            // One thread per encoder: a call runs one encoder per participant already.
            .num_threads(1);
        let inner = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| CodecError::H264(e.to_string()))?;
        Ok(Self {
            inner,
            settings,
            dimensions: None,
        })
    }

    pub fn settings(&self) -> H264Settings {
        self.settings
    }

    /// Changes the target bitrate and frame rate of the running encoder, without a keyframe:
    /// what a bitrate cap from the user or a congestion estimate needs mid-call.
    ///
    /// openh264's safe API has no setter (its `reinit` re-applies the build-time config only
    /// on a resolution change), so this calls `SetOption` through its raw API.
    pub fn set_rate(&mut self, bitrate_bps: u32, max_fps: f32) -> Result<(), CodecError> {
        let bitrate = i32::try_from(bitrate_bps)
            .map_err(|_| CodecError::H264(format!("bitrate {bitrate_bps} out of range")))?;
        if !(max_fps.is_finite() && (1.0..=60.0).contains(&max_fps)) {
            return Err(CodecError::H264(format!(
                "frame rate {max_fps} out of range"
            )));
        }
        let lowering = bitrate_bps < self.settings.bitrate_bps;
        self.settings.bitrate_bps = bitrate_bps;
        self.settings.max_fps = max_fps;
        if self.dimensions.is_none() {
            // The wrapper initialises openh264 at the first frame, from the build-time config:
            // before it, `SetOption` fails, and a new config is all it takes.
            *self = Self::new(self.settings)?;
            return Ok(());
        }
        set_encoder_rate(&mut self.inner, bitrate, max_fps, lowering)
    }

    /// The next frame will be a keyframe (on a PLI, or when a participant joins).
    pub fn request_keyframe(&mut self) {
        self.inner.force_intra_frame();
    }

    /// Encodes one frame; `None` when rate control skipped it.
    pub fn encode(&mut self, frame: &VideoFrame) -> Result<Option<AccessUnit>, CodecError> {
        if self.dimensions != Some((frame.width, frame.height)) {
            // openh264 re-initialises itself on a new size (a screen share, a camera change)
            // with its build-time bitrate; a fresh encoder with the current settings keeps
            // any rate set since, and starts with the keyframe a new size needs anyway.
            if self.dimensions.is_some() {
                *self = Self::new(self.settings)?;
            }
            self.dimensions = Some((frame.width, frame.height));
        }
        let stream = self
            .inner
            .encode(&I420(frame))
            .map_err(|e| CodecError::H264(e.to_string()))?;
        let keyframe = match stream.frame_type() {
            FrameType::Skip | FrameType::Invalid => return Ok(None),
            FrameType::IDR | FrameType::I => true,
            FrameType::P | FrameType::IPMixed => false,
        };
        Ok(Some(AccessUnit {
            data: stream.to_vec(),
            keyframe,
            capture_us: frame.capture_us,
        }))
    }
}

/// The one unsafe block of the workspace: openh264's `SetOption` for rate and frame rate.
#[allow(unsafe_code)]
///
/// openh264 refuses a target above the maximum, so a lower rate sets the target first and a
/// higher one the maxima first.
fn set_encoder_rate(
    encoder: &mut Encoder,
    bitrate: i32,
    max_fps: f32,
    lowering: bool,
) -> Result<(), CodecError> {
    use openh264_sys2::{
        ENCODER_OPTION_BITRATE, ENCODER_OPTION_FRAME_RATE, ENCODER_OPTION_MAX_BITRATE,
        SBitrateInfo, SPATIAL_LAYER_0, SPATIAL_LAYER_ALL,
    };
    let mut target = SBitrateInfo {
        iLayer: SPATIAL_LAYER_ALL,
        iBitrate: bitrate,
    };
    let mut max = target;
    // The one spatial layer's own maximum too: openh264 checks the target against it (not
    // against the overall one) and refuses a target above it.
    let mut layer_max = SBitrateInfo {
        iLayer: SPATIAL_LAYER_0,
        iBitrate: bitrate,
    };
    let mut fps = max_fps;
    // SAFETY: the encoder is initialised (`Encoder::with_api_config` succeeded), each pointer
    // is to a live local of exactly the type openh264 reads for that option (SBitrateInfo for
    // the bitrates, float for the frame rate, codec_app_def.h), and openh264 copies the
    // values before returning; none of these options changes what the safe wrapper relies
    // on (dimensions, layer count, data format).
    let codes = unsafe {
        let api = encoder.raw_api();
        let mut set_max = || {
            [
                api.set_option(ENCODER_OPTION_MAX_BITRATE, (&raw mut max).cast()),
                api.set_option(ENCODER_OPTION_MAX_BITRATE, (&raw mut layer_max).cast()),
            ]
        };
        let (maxes, target) = if lowering {
            let target = api.set_option(ENCODER_OPTION_BITRATE, (&raw mut target).cast());
            (set_max(), target)
        } else {
            let maxes = set_max();
            (
                maxes,
                api.set_option(ENCODER_OPTION_BITRATE, (&raw mut target).cast()),
            )
        };
        [
            maxes[0],
            maxes[1],
            target,
            api.set_option(ENCODER_OPTION_FRAME_RATE, (&raw mut fps).cast()),
        ]
    };
    match codes.iter().find(|&&c| c != 0) {
        Some(code) => Err(CodecError::H264(format!("SetOption failed ({code})"))),
        None => Ok(()),
    }
}

pub struct H264Decoder {
    inner: Decoder,
}

impl H264Decoder {
    pub fn new() -> Result<Self, CodecError> {
        let inner = Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())
            .map_err(|e| CodecError::H264(e.to_string()))?;
        Ok(Self { inner })
    }

    /// Decodes one Annex B access unit; `None` while the decoder has no picture to show
    /// (before the first keyframe).
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<VideoFrame>, CodecError> {
        let Some(yuv) = self
            .inner
            .decode(data)
            .map_err(|e| CodecError::H264(e.to_string()))?
        else {
            return Ok(None);
        };
        let (w, h) = yuv.dimensions();
        let (ys, us, vs) = yuv.strides();
        let mut frame = VideoFrame::black(w, h);
        copy_plane(yuv.y(), ys, &mut frame.y, w, h);
        copy_plane(yuv.u(), us, &mut frame.u, w / 2, h / 2);
        copy_plane(yuv.v(), vs, &mut frame.v, w / 2, h / 2);
        Ok(Some(frame))
    }
}

fn copy_plane(src: &[u8], stride: usize, dst: &mut [u8], width: usize, height: usize) {
    for row in 0..height {
        dst[row * width..(row + 1) * width]
            .copy_from_slice(&src[row * stride..row * stride + width]);
    }
}

/// Lends a [`VideoFrame`]'s planes to openh264 without copying.
struct I420<'a>(&'a VideoFrame);

impl YUVSource for I420<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.0.width, self.0.height)
    }
    fn strides(&self) -> (usize, usize, usize) {
        (self.0.width, self.0.width / 2, self.0.width / 2)
    }
    fn y(&self) -> &[u8] {
        &self.0.y
    }
    fn u(&self) -> &[u8] {
        &self.0.u
    }
    fn v(&self) -> &[u8] {
        &self.0.v
    }
}
