//! `confab join`: the headless peer — demo participant, test bot, benchmark client.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

use anyhow::{Context, bail};
use confab_engine::call::{self, CallConfig, CallEvent, Command, Direction, TransferInfo};
use confab_engine::link::LinkConfig;
use confab_engine::webrtc::peer_connection::RTCIceServer;
use confab_media::source::VideoSourceSpec;
use serde::Serialize;

#[derive(clap::Args)]
pub struct JoinArgs {
    /// Signalling server, e.g. http://127.0.0.1:3000. Repeat it with the other nodes of a
    /// cluster (`confab serve --redis`): when the first cannot be reached the others are
    /// tried in turn, and the call keeps its place in the room.
    #[arg(long, env = "CONFAB_SERVER", required = true)]
    server: Vec<String>,
    #[arg(long, env = "CONFAB_ROOM")]
    room: String,
    /// The participant's id in the room and its display name.
    #[arg(long, env = "CONFAB_NAME")]
    name: String,
    /// The room's secret, when it has one (CONFAB_SECRET keeps it out of `ps`).
    #[arg(long, env = "CONFAB_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Camera to send: an index ("0") or (part of) its name; see `confab devices`.
    #[arg(long, conflicts_with = "synthetic_video")]
    camera: Option<String>,
    /// Send the synthetic test pattern (frame numbers and capture times readable by receivers).
    #[arg(long)]
    synthetic_video: bool,
    /// Share a screen (optionally by name) from the start, on the video track.
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    screen: Option<String>,
    /// Largest picture sent, WIDTHxHEIGHT (the test pattern's exact size).
    #[arg(long, default_value = "640x480", value_parser = parse_size)]
    video_size: (usize, usize),
    /// Video bitrate cap in kbit/s.
    #[arg(long, default_value_t = 1000)]
    max_bitrate: u32,
    /// Microphone to send (a device name from the sound server, or "default").
    #[arg(long, conflicts_with = "synthetic_audio")]
    mic: Option<String>,
    /// Play the participants' audio on this output (a device name, or "default").
    #[arg(long)]
    speakers: Option<String>,
    /// Turn off echo cancellation and noise suppression on the microphone.
    #[arg(long)]
    no_voice_processing: bool,
    /// Send a 440 Hz tone.
    #[arg(long)]
    synthetic_audio: bool,
    /// Mark every 1.01 s on the synthetic sources for measuring audio/video sync: the
    /// pattern flashes white and the tone sounds for its first 200 ms, silent otherwise.
    #[arg(long)]
    sync_marks: bool,
    /// A chat message to send once every remote participant's chat channel is open
    /// (repeatable; sent in order).
    #[arg(long = "chat")]
    chat: Vec<String>,
    /// A file to offer to every participant once their channels are open (repeatable).
    #[arg(long = "send-file")]
    send_files: Vec<PathBuf>,
    /// Accept every offered file (otherwise offers are declined: there is nobody to ask).
    #[arg(long)]
    accept_files: bool,
    /// Where accepted files go.
    #[arg(long, default_value = ".")]
    download_dir: PathBuf,
    /// Record the call from the start into this MP4 (a new file: an existing one is never
    /// overwritten): everyone's video in the app's grid, everyone's audio mixed. The file
    /// plays while it is written; leaving finishes it.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Stop recording after this many seconds and stay in the call (default: record until
    /// leaving).
    #[arg(long, requires = "record")]
    record_for: Option<f64>,
    /// STUN/TURN server, e.g. stun:host:3478 or turn:user:pass@host:3478 (repeatable).
    #[arg(long = "ice-server")]
    ice_servers: Vec<String>,
    /// Only relay candidates.
    #[arg(long)]
    relay_only: bool,
    /// Bandwidth estimator: `confab` (the default) or `gcc` (webrtc-rs's as shipped), for
    /// the impaired-link benchmark's comparison.
    #[arg(long, default_value = "confab")]
    estimator: confab_engine::congestion::EstimatorKind,
    /// Local address to gather candidates on (repeatable). Default: every interface except
    /// loopback; pass 127.0.0.1:0 for calls on this machine.
    #[arg(long = "bind", default_value = "0.0.0.0:0")]
    bind: Vec<String>,
    /// Stay this many seconds (default: until Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// Write a JSON report here on exit.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Print progress as JSON lines on stdout: participants, connections, chat, and every
    /// 30th decoded video frame per participant (for scripts and tests to wait on).
    #[arg(long)]
    progress: bool,
}

#[derive(Default, Serialize)]
struct ParticipantReport {
    video_frames_decoded: u64,
    last_frame_number: Option<u32>,
    audio_frames_decoded: u64,
    /// Decoded frames whose loudest sample reaches [`call::AUDIBLE_PEAK`]: sound, not silence or
    /// packet-loss concealment.
    audio_frames_audible: u64,
    chat_received: Vec<String>,
}

#[derive(Serialize)]
struct TransferReport {
    name: String,
    size: u64,
    sha256: String,
    direction: &'static str,
    status: &'static str,
    path: Option<PathBuf>,
    peer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// From the first byte moving to the end (throughput = size / this).
    #[serde(skip_serializing_if = "Option::is_none")]
    elapsed_ms: Option<u64>,
}

impl From<&TransferInfo> for TransferReport {
    fn from(t: &TransferInfo) -> Self {
        Self {
            name: t.name.clone(),
            size: t.size,
            sha256: t.sha256.clone(),
            direction: match t.direction {
                Direction::Sent => "sent",
                Direction::Received => "received",
            },
            status: t.status.as_str(),
            path: t.path.clone(),
            peer: t.peer.clone(),
            reason: t.reason.clone(),
            elapsed_ms: None,
        }
    }
}

/// The last statistics of a participant, plus glass-to-glass latency from the synthetic
/// stamps of its frames (capture on its side → decoded here; meaningful on one machine).
#[derive(Serialize)]
struct StatsReport {
    #[serde(flatten)]
    last: confab_engine::stats::ParticipantStats,
    latency_ms_p50: Option<u32>,
    latency_ms_p95: Option<u32>,
    latency_samples: usize,
}

#[derive(Default, Serialize)]
struct Report {
    participants: BTreeMap<String, ParticipantReport>,
    transfers: Vec<TransferReport>,
    stats: BTreeMap<String, StatsReport>,
    errors: Vec<String>,
}

/// `turn:user:pass@host:port` → an ICE server with credentials.
fn ice_server(url: &str) -> RTCIceServer {
    if let Some((scheme, rest)) = url.split_once(':')
        && let Some((creds, host)) = rest.rsplit_once('@')
        && let Some((user, pass)) = creds.split_once(':')
    {
        return RTCIceServer {
            urls: vec![format!("{scheme}:{host}")],
            username: user.to_owned(),
            credential: pass.to_owned(),
        };
    }
    RTCIceServer {
        urls: vec![url.to_owned()],
        ..Default::default()
    }
}

fn parse_size(text: &str) -> Result<(usize, usize), String> {
    let parsed = text
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<usize>().ok()?, h.parse::<usize>().ok()?)));
    match parsed {
        Some((w, h)) if (256..=3840).contains(&w) && (80..=2160).contains(&h) => {
            Ok((w & !1, h & !1))
        }
        _ => Err(format!(
            "{text:?} is not WIDTHxHEIGHT between 256x80 and 3840x2160"
        )),
    }
}

pub async fn run(args: JoinArgs) -> anyhow::Result<()> {
    if args.max_bitrate < 50 {
        bail!(
            "--max-bitrate {} kbit/s is too low for video (50 at least)",
            args.max_bitrate
        );
    }
    let mut config = CallConfig::new(&args.server[0], &args.room, &args.name);
    config.other_servers = args.server[1..].to_vec();
    config.secret = args.secret.clone();
    let (width, height) = args.video_size;
    config.screen_source = VideoSourceSpec::Screen {
        monitor: args.screen.clone().filter(|m| !m.is_empty()),
        max: (1280, 720),
    };
    config.video_source = if let Some(device) = &args.camera {
        Some(VideoSourceSpec::Camera {
            device: Some(device.clone()),
            max: (width, height),
            fps: 30,
        })
    } else if args.synthetic_video {
        Some(VideoSourceSpec::Synthetic {
            width,
            height,
            sync_marks: args.sync_marks,
        })
    } else if args.screen.is_some() {
        Some(config.screen_source.clone())
    } else {
        None
    };
    config.video.bitrate_bps = args.max_bitrate * 1000;
    config.synthetic_audio = args.synthetic_audio;
    config.tone_sync_marks = args.sync_marks;
    config.mic = args.mic.clone();
    config.speakers = args.speakers.clone();
    config.voice_processing = !args.no_voice_processing;
    config.download_dir = args.download_dir.clone();
    config.accept_files = args.accept_files;
    config.link = LinkConfig {
        bind: args.bind.clone(),
        ice_servers: args.ice_servers.iter().map(|u| ice_server(u)).collect(),
        relay_only: args.relay_only,
        estimator: args.estimator,
    };
    // Registered before joining and kept for the whole call: a `ctrl_c()` future made afresh
    // on each loop turn misses a signal that arrives while an event is being handled (one
    // `confab join` in twenty never left after SIGINT that way).
    let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let joined_at = std::time::Instant::now();
    let (handle, mut events) = call::join(config).await.context("joining the call")?;
    if args.screen.is_some() {
        handle.send(Command::ShareScreen(true));
    }
    if let Some(path) = &args.record {
        handle.send(Command::StartRecording(path.clone()));
    }

    let deadline = async {
        match args.duration {
            Some(secs) => tokio::time::sleep(Duration::from_secs_f64(secs)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let record_end = async {
        match args.record_for {
            Some(secs) => tokio::time::sleep(Duration::from_secs_f64(secs)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(record_end);
    let mut recording_ended = false;
    let mut report = Report::default();
    let mut present = BTreeSet::new();
    let mut open = BTreeSet::new();
    let mut last_stats: BTreeMap<String, confab_engine::stats::ParticipantStats> = BTreeMap::new();
    // When each participant's last video frame was decoded (`--progress` marks resumptions).
    let mut last_video: BTreeMap<String, Duration> = BTreeMap::new();
    let mut latencies: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut greeted = args.chat.is_empty() && args.send_files.is_empty();
    // Latest state of each transfer, in the order they started.
    let mut transfers: Vec<TransferInfo> = Vec::new();
    // When each transfer's bytes started to move, and how long they took (throughput).
    let mut moving_since: BTreeMap<String, std::time::Instant> = BTreeMap::new();
    let mut moving_for: BTreeMap<String, Duration> = BTreeMap::new();
    let mut leaving = false;
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = &mut deadline, if !leaving => {
                leaving = true;
                handle.send(Command::Leave);
                continue;
            }
            _ = &mut record_end, if !recording_ended => {
                recording_ended = true;
                handle.send(Command::StopRecording);
                continue;
            }
            _ = interrupt.recv(), if !leaving => {
                leaving = true;
                handle.send(Command::Leave);
                continue;
            }
            _ = terminate.recv(), if !leaving => {
                leaving = true;
                handle.send(Command::Leave);
                continue;
            }
        };
        let Some(event) = event else { break };
        if args.progress {
            progress(&event, &report, &mut last_video, joined_at.elapsed());
        }
        match event {
            CallEvent::ParticipantJoined { id, name } => {
                tracing::info!(%id, %name, "participant joined");
                report.participants.entry(id.clone()).or_default();
                present.insert(id);
            }
            CallEvent::ParticipantLeft { id } => {
                tracing::info!(%id, "participant left");
                present.remove(&id);
                open.remove(&id);
            }
            CallEvent::ChannelOpen { id } => {
                open.insert(id);
            }
            CallEvent::VideoFrame {
                id,
                frame_number,
                latency_ms,
                ..
            } => {
                if let Some(ms) = latency_ms {
                    latencies.entry(id.clone()).or_default().push(ms);
                }
                let p = report.participants.entry(id).or_default();
                p.video_frames_decoded += 1;
                if frame_number.is_some() {
                    p.last_frame_number = frame_number;
                }
            }
            CallEvent::AudioFrame { id, peak, .. } => {
                let p = report.participants.entry(id).or_default();
                p.audio_frames_decoded += 1;
                if peak >= call::AUDIBLE_PEAK {
                    p.audio_frames_audible += 1;
                }
            }
            CallEvent::Chat { from, text, .. } => {
                tracing::info!(%from, "chat received");
                report
                    .participants
                    .entry(from)
                    .or_default()
                    .chat_received
                    .push(text);
            }
            CallEvent::Error { message } => {
                tracing::warn!("{message}");
                report.errors.push(message);
            }
            CallEvent::Stats { id, stats } => {
                last_stats.insert(id, stats);
            }
            CallEvent::Transfer(t) => {
                if args.progress && t.status.is_finished() {
                    println!(
                        "{}",
                        serde_json::json!({"event": "transfer", "name": t.name, "peer": t.peer,
                            "direction": TransferReport::from(&t).direction,
                            "status": t.status.as_str(), "sha256": t.sha256,
                            "ms": joined_at.elapsed().as_millis() as u64})
                    );
                }
                if t.direction == Direction::Received
                    && t.status == call::TransferStatus::Offered
                    && !args.accept_files
                {
                    handle.send(Command::DeclineTransfer(t.id.clone()));
                }
                if matches!(
                    t.status,
                    call::TransferStatus::Sending | call::TransferStatus::Receiving
                ) {
                    moving_since
                        .entry(t.id.clone())
                        .or_insert_with(std::time::Instant::now);
                }
                if t.status.is_finished()
                    && let Some(start) = moving_since.get(&t.id)
                {
                    moving_for.insert(t.id.clone(), start.elapsed());
                }
                match transfers.iter_mut().find(|x| x.id == t.id) {
                    Some(x) => *x = t,
                    None => transfers.push(t),
                }
            }
            CallEvent::Left => break,
            _ => {}
        }
        if !greeted && !present.is_empty() && present.iter().all(|p| open.contains(p)) {
            for text in &args.chat {
                handle.send(Command::SendChat(text.clone()));
            }
            for path in &args.send_files {
                handle.send(Command::SendFile(path.clone()));
            }
            greeted = true;
        }
    }
    report.transfers = transfers
        .iter()
        .map(|t| TransferReport {
            elapsed_ms: moving_for.get(&t.id).map(|d| d.as_millis() as u64),
            ..TransferReport::from(t)
        })
        .collect();
    for (id, last) in last_stats {
        let mut samples = latencies.remove(&id).unwrap_or_default();
        samples.sort_unstable();
        let pick = |q: f64| {
            (!samples.is_empty())
                .then(|| samples[((samples.len() - 1) as f64 * q).round() as usize])
        };
        report.stats.insert(
            id,
            StatsReport {
                last,
                latency_ms_p50: pick(0.5),
                latency_ms_p95: pick(0.95),
                latency_samples: samples.len(),
            },
        );
    }
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report).context("serialising the report")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Video after this long without a frame is printed at once (a resumption), whatever the
/// sampling: recovery times are measured from it.
const VIDEO_GAP: Duration = Duration::from_millis(500);

/// One JSON line per notable event, with `ms` since the call was joined (benchmarks time
/// join → first frame with it). Decoded video is sampled (the first frame, every 30th, and
/// the first after a gap of [`VIDEO_GAP`]) so the output stays readable.
fn progress(
    event: &CallEvent,
    report: &Report,
    last_video: &mut BTreeMap<String, Duration>,
    since_join: Duration,
) {
    let count = |id: &str| {
        report
            .participants
            .get(id)
            .map_or(0, |p| p.video_frames_decoded)
    };
    let line = match event {
        CallEvent::Joined { room } => serde_json::json!({"event": "joined", "room": room}),
        CallEvent::ParticipantJoined { id, .. } => {
            serde_json::json!({"event": "participant-joined", "id": id})
        }
        CallEvent::ParticipantLeft { id } => {
            serde_json::json!({"event": "participant-left", "id": id})
        }
        CallEvent::Connected { id } => serde_json::json!({"event": "connected", "id": id}),
        CallEvent::ParticipantState { id, state } => {
            serde_json::json!({"event": "participant-state", "id": id, "state": state.as_str()})
        }
        CallEvent::Signalling(state) => {
            let mut line = serde_json::json!({"event": "signalling", "state": state.as_str()});
            if let call::SignallingState::Reconnecting { attempt, delay_ms } = state {
                line["attempt"] = serde_json::json!(attempt);
                line["delay_ms"] = serde_json::json!(delay_ms);
            }
            line
        }
        CallEvent::ChannelOpen { id } => serde_json::json!({"event": "channel-open", "id": id}),
        CallEvent::Chat { from, text, .. } => {
            serde_json::json!({"event": "chat", "from": from, "text": text})
        }
        // Counted before this frame is added to the report: the first, then every 30th.
        CallEvent::VideoFrame {
            id, width, height, ..
        } if count(id) == 0
            || (count(id) + 1) % 30 == 0
            || last_video
                .get(id)
                .is_none_or(|t| since_join.saturating_sub(*t) >= VIDEO_GAP) =>
        {
            let mut line = serde_json::json!({"event": "video", "from": id,
                "frames": count(id) + 1, "width": width, "height": height});
            // After a gap: how long there was no frame (what a recovery measurement reads).
            if let Some(gap) = last_video
                .get(id)
                .map(|t| since_join.saturating_sub(*t))
                .filter(|gap| *gap >= VIDEO_GAP)
            {
                line["gap_ms"] = serde_json::json!(gap.as_millis() as u64);
            }
            last_video.insert(id.clone(), since_join);
            line
        }
        CallEvent::VideoFrame { id, .. } => {
            last_video.insert(id.clone(), since_join);
            return;
        }
        CallEvent::MediaState {
            id,
            video,
            audio,
            screen,
        } => serde_json::json!({"event": "media-state", "id": id, "video": video,
            "audio": audio, "screen": screen}),
        CallEvent::Error { message } => serde_json::json!({"event": "error", "message": message}),
        CallEvent::ParticipantRecording { id, on } => {
            serde_json::json!({"event": "participant-recording", "id": id, "on": on})
        }
        CallEvent::RecordingStarted { path } => {
            serde_json::json!({"event": "recording", "state": "started", "path": path})
        }
        CallEvent::RecordingStopped {
            path,
            duration,
            bytes,
            dropped_inputs,
            error,
        } => serde_json::json!({"event": "recording", "state": "stopped", "path": path,
            "seconds": duration.as_secs_f64(), "bytes": bytes, "dropped": dropped_inputs,
            "error": error}),
        CallEvent::Stats { id, stats } => {
            let mut line = serde_json::json!(stats);
            line["event"] = "stats".into();
            line["id"] = id.as_str().into();
            // Audio so far from this participant: decoded 20 ms frames, and those loud
            // enough to hear (what an "audio stays continuous" check counts).
            if let Some(p) = report.participants.get(id) {
                line["audio_frames"] = p.audio_frames_decoded.into();
                line["audio_audible"] = p.audio_frames_audible.into();
            }
            line
        }
        _ => return,
    };
    let mut line = line;
    line["ms"] = serde_json::json!(since_join.as_millis() as u64);
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_urls_carry_their_credentials() {
        let s = ice_server("turn:alice:s3cret@turn.example:3478");
        assert_eq!(s.urls, ["turn:turn.example:3478"]);
        assert_eq!(
            (s.username.as_str(), s.credential.as_str()),
            ("alice", "s3cret")
        );
        let plain = ice_server("stun:stun.example:3478");
        assert_eq!(plain.urls, ["stun:stun.example:3478"]);
        assert!(plain.username.is_empty());
    }
}
