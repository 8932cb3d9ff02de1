//! One recording on disk: H.264 video and Opus audio in a fragmented MP4, written as it goes.
//!
//! The file is an init segment (`ftyp` + `moov`, the two tracks' sample entries) and then a
//! `moof` + `mdat` fragment about every [`FRAGMENT`] of video. Each fragment goes to the file in
//! one write, so a recorder killed at any moment leaves a file of whole fragments that players
//! read to the end (issue 11: nothing lost on a crash). A file torn inside a fragment's media
//! data (a power cut mid-write) plays up to there too; torn inside its boxes, ffmpeg refuses it. No index is needed at the
//! end; [`Fmp4Writer::finish`] writes the last fragment and a random-access index (`mfra`)
//! that helps seeking.
//!
//! The muxing is shiguredo_mp4's (`Fmp4SegmentMuxer`, sans-I/O: it lays out the boxes, this
//! writes them); this file only gathers samples into fragments and gives each its duration.
//!
//! Time: both tracks start together at the recording's start. Video samples carry their
//! presentation time (µs since the start) and last until the next one — so a frame rate that
//! varies, or a pause, is kept as it was. Audio is a continuous run of 20 ms Opus packets
//! (silence included): the mixer behind it never skips.

use std::io::Write;
use std::num::NonZeroU32;
use std::time::Duration;

use shiguredo_mp4::TrackKind;
use shiguredo_mp4::bitstream::h264::{self, H264SampleEntryConfig, LengthSize};
use shiguredo_mp4::bitstream::opus::{ChannelCount, OpusSampleEntryConfig, build_opus_box};
use shiguredo_mp4::boxes::SampleEntry;
use shiguredo_mp4::mux::{Fmp4SegmentMuxer, MuxError, Sample};

/// About this much video goes into one fragment: at most this much is lost when the
/// recorder is killed, and a fragment's boxes cost ~100 bytes, nothing at this size.
pub const FRAGMENT: Duration = Duration::from_secs(1);
/// The video track's clock (RTP's for video, so no rounding of 90 kHz timestamps).
pub const VIDEO_TIMESCALE: u32 = 90_000;
/// The audio track's clock: Opus always decodes at 48 kHz.
pub const AUDIO_TIMESCALE: u32 = 48_000;
/// One Opus packet: 20 ms at 48 kHz (what confab-media's encoder makes).
pub const OPUS_PACKET_SAMPLES: u32 = 960;
/// Samples the decoder drops at the start: libopus's encoder lookahead at 48 kHz
/// (`OPUS_GET_LOOKAHEAD` of the VoIP encoder), so audio and video start together.
pub const OPUS_PRE_SKIP: u16 = 312;
/// The last video sample's duration when nothing follows it (the end of the recording).
const LAST_FRAME: Duration = Duration::from_millis(33);

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("writing the recording: {0}")]
    Io(#[from] std::io::Error),
    #[error("MP4: {0}")]
    Mux(String),
    #[error("H.264 keyframe without usable SPS/PPS: {0}")]
    ParameterSets(String),
    #[error("video frame at {at:?} is not after the previous one at {previous:?}")]
    TimeWentBack { previous: Duration, at: Duration },
}

impl From<MuxError> for RecordError {
    fn from(e: MuxError) -> Self {
        RecordError::Mux(e.to_string())
    }
}

impl From<shiguredo_mp4::Error> for RecordError {
    fn from(e: shiguredo_mp4::Error) -> Self {
        RecordError::Mux(e.to_string())
    }
}

/// A video sample waiting for the next one (which gives its duration).
struct PendingVideo {
    data: Vec<u8>,
    at: Duration,
    keyframe: bool,
    entry: Option<SampleEntry>,
}

/// Writes one recording to `out` (a file, usually) progressively.
pub struct Fmp4Writer<W: Write> {
    out: W,
    muxer: Fmp4SegmentMuxer,
    /// The init segment is written (with the first fragment).
    started: bool,
    /// The video's sample entry, from the first keyframe's parameter sets (given with that
    /// first sample; later frames use it).
    video_entry: Option<SampleEntry>,
    /// The audio's, until the first audio sample takes it.
    audio_entry: Option<SampleEntry>,
    /// The newest video sample, whose duration is not known yet.
    last_video: Option<PendingVideo>,
    /// Complete samples (duration known) of the fragment being gathered, with their bytes.
    video: Vec<(Sample, Vec<u8>)>,
    audio: Vec<(Sample, Vec<u8>)>,
    /// Video time gathered into `video` so far.
    gathered: Duration,
    /// Bytes written to `out` so far (the file's size).
    written: u64,
}

impl<W: Write> Fmp4Writer<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            muxer: Fmp4SegmentMuxer::new().expect("a muxer with default options"),
            started: false,
            video_entry: None,
            audio_entry: Some(SampleEntry::Opus(build_opus_box(&OpusSampleEntryConfig {
                channel_count: ChannelCount::Mono,
                pre_skip: OPUS_PRE_SKIP,
                input_sample_rate: AUDIO_TIMESCALE,
                output_gain: 0,
            }))),
            last_video: None,
            video: Vec::new(),
            audio: Vec::new(),
            gathered: Duration::ZERO,
            written: 0,
        }
    }

    /// One H.264 access unit (Annex B, as confab-media's encoder makes them) shown `at` after
    /// the recording's start. Frames before the first keyframe cannot be decoded and are
    /// dropped; the first keyframe's parameter sets describe the track.
    pub fn push_video(
        &mut self,
        annexb: &[u8],
        keyframe: bool,
        at: Duration,
    ) -> Result<(), RecordError> {
        let mut entry = None;
        if self.video_entry.is_none() {
            if !keyframe {
                return Ok(());
            }
            let avc1 = h264::build_avc1_box_from_annexb(
                annexb,
                &H264SampleEntryConfig {
                    length_size: LengthSize::FourBytes,
                },
            )
            .map_err(|e| RecordError::ParameterSets(e.to_string()))?;
            entry = Some(SampleEntry::Avc1(avc1));
            self.video_entry = entry.clone();
        }
        if let Some(previous) = self.last_video.take() {
            if at <= previous.at {
                let err = RecordError::TimeWentBack {
                    previous: previous.at,
                    at,
                };
                self.last_video = Some(previous);
                return Err(err);
            }
            let duration = at - previous.at;
            self.complete_video(previous, duration)?;
        }
        let data = h264::annexb_to_length_prefixed(annexb, LengthSize::FourBytes)?;
        self.last_video = Some(PendingVideo {
            data,
            at,
            keyframe,
            entry,
        });
        if self.gathered >= FRAGMENT {
            self.write_fragment()?;
        }
        Ok(())
    }

    /// One 20 ms Opus packet, the next in the audio's continuous run.
    pub fn push_audio(&mut self, packet: &[u8]) -> Result<(), RecordError> {
        let sample = Sample {
            track_kind: TrackKind::Audio,
            sample_entry: self.audio_entry.take(),
            keyframe: true,
            timescale: NonZeroU32::new(AUDIO_TIMESCALE).expect("non-zero"),
            duration: OPUS_PACKET_SAMPLES,
            composition_time_offset: None,
            data_offset: 0,
            data_size: packet.len(),
        };
        self.audio.push((sample, packet.to_vec()));
        // Video that stopped coming (a stalled compositor) must not hold audio in memory
        // without bound: after two fragments' worth it is written on its own.
        if self.started && self.audio.len() as u32 * 20 >= 2 * FRAGMENT.as_millis() as u32 {
            self.write_fragment()?;
        }
        Ok(())
    }

    /// Bytes in the file up to the end of its last whole fragment (or index): where to cut a
    /// file whose last write failed (a full disk writes part of it), so that it ends on a
    /// fragment boundary and plays.
    pub fn complete_len(&self) -> u64 {
        self.written
    }

    /// Writes what is gathered and the index, and flushes. Called once, at the end; after it
    /// failed, [`Fmp4Writer::complete_len`] says where the last whole fragment ends.
    pub fn finish(&mut self) -> Result<(), RecordError> {
        if let Some(last) = self.last_video.take() {
            self.complete_video(last, LAST_FRAME)?;
        }
        if !self.video.is_empty() || !self.audio.is_empty() {
            self.write_fragment()?;
        }
        if self.started {
            let mfra = self.muxer.mfra_bytes()?;
            self.out.write_all(&mfra)?;
            self.out.flush()?;
            self.written += mfra.len() as u64;
        }
        self.out.flush()?;
        Ok(())
    }

    /// The output, as it is.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn complete_video(
        &mut self,
        pending: PendingVideo,
        duration: Duration,
    ) -> Result<(), RecordError> {
        let ticks = (duration.as_micros() * u128::from(VIDEO_TIMESCALE) / 1_000_000).max(1);
        let sample = Sample {
            track_kind: TrackKind::Video,
            sample_entry: pending.entry,
            keyframe: pending.keyframe,
            timescale: NonZeroU32::new(VIDEO_TIMESCALE).expect("non-zero"),
            duration: u32::try_from(ticks).unwrap_or(u32::MAX),
            composition_time_offset: None,
            data_offset: 0,
            data_size: pending.data.len(),
        };
        self.video.push((sample, pending.data));
        self.gathered += duration;
        Ok(())
    }

    /// Writes the gathered samples as one `moof` + `mdat` (after the init segment, the first
    /// time) and flushes it to the file.
    fn write_fragment(&mut self) -> Result<(), RecordError> {
        // The first fragment waits until both tracks have a sample: the init segment, written
        // before it, describes only the tracks seen by then.
        if !self.started && (self.video.is_empty() || self.audio.is_empty()) {
            return Ok(());
        }
        let mut samples = Vec::with_capacity(self.video.len() + self.audio.len());
        let mut payload = Vec::new();
        for (mut sample, data) in self.video.drain(..).chain(self.audio.drain(..)) {
            sample.data_offset = payload.len() as u64;
            payload.extend_from_slice(&data);
            samples.push(sample);
        }
        let header = self.muxer.create_media_segment_metadata(&samples)?;
        let mut fragment = Vec::with_capacity(header.len() + payload.len());
        if !self.started {
            fragment.extend_from_slice(&self.muxer.init_segment_bytes()?);
            self.started = true;
        }
        fragment.extend_from_slice(&header);
        fragment.extend_from_slice(&payload);
        // One write for the whole fragment (boxes and data): a process killed at any moment
        // leaves whole fragments only, since a write to a regular file is not cut short by a
        // signal. A file ending inside a fragment's boxes is one ffmpeg refuses to open at
        // all (measured: cuts landing in a moof), while one ending inside its data plays.
        self.out.write_all(&fragment)?;
        self.out.flush()?;
        self.written += fragment.len() as u64;
        self.gathered = Duration::ZERO;
        Ok(())
    }
}
