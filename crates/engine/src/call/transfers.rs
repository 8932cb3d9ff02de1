//! The call's file transfers: offers both ways, accept / decline / cancel, the sender tasks,
//! and the receivers' writer tasks (fed straight from the data channel's reader, see
//! [`super::participant::ChannelPump`], so chunks never pass through the call's task).
//! Finished transfers are reported once and forgotten: nothing a peer sends accumulates.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use confab_protocol::{AppMessage, FileDecline, FileOffer, FileResult, TransferRef};
use tokio::sync::mpsc;

use super::actor::Internal;
use super::events::{CallEvent, Direction, EventSink, TransferInfo, TransferStatus};
use super::limits::MAX_PENDING_OFFERS;
use super::participant::Participants;
use crate::transfer::pace::DataPace;
use crate::transfer::receiver::{WriterMsg, WriterReport, spawn_writer};
use crate::transfer::sender::{hash_file, send_file};
use crate::transfer::{self, Incoming, Offer};

/// Progress events at most this often per transfer.
const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

struct Receiving {
    peer: String,
    info: TransferInfo,
    /// Until accepted (then the writer task owns it).
    offered: Option<Incoming>,
    /// The hidden part file, once accepted.
    part: Option<PathBuf>,
    last_progress: Instant,
}

struct Sending {
    path: PathBuf,
    info: TransferInfo,
    cancel: Arc<AtomicBool>,
}

pub(super) struct Transfers {
    events: EventSink,
    internal: mpsc::Sender<Internal>,
    pub download_dir: PathBuf,
    accept_files: bool,
    incoming: HashMap<String, Receiving>,
    outgoing: HashMap<String, Sending>,
    seq: u64,
    /// The pace every sender keeps (set from `allocation` while files are being sent).
    pub pace: DataPace,
}

impl Transfers {
    pub fn new(
        events: EventSink,
        internal: mpsc::Sender<Internal>,
        download_dir: PathBuf,
        accept_files: bool,
    ) -> Self {
        Self {
            events,
            internal,
            download_dir,
            accept_files,
            incoming: HashMap::new(),
            outgoing: HashMap::new(),
            seq: 0,
            pace: DataPace::default(),
        }
    }

    /// The user wants to send `path`: hash it off the call's task, then offer it.
    pub fn send(&self, path: PathBuf) {
        let internal = self.internal.clone();
        tokio::task::spawn_blocking(move || {
            let result = hash_file(&path).map_err(|e| e.to_string());
            let _ = internal.blocking_send(Internal::Hashed(path, result));
        });
    }

    fn next_id(&mut self) -> String {
        self.seq += 1;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{:x}-{:x}-{}", nanos, std::process::id(), self.seq)
    }

    /// A file was hashed: offer it to everyone whose channel is open (one transfer each).
    pub async fn offer(
        &mut self,
        path: PathBuf,
        hashed: Result<(u64, String), String>,
        participants: &Participants,
    ) {
        let (size, sha256) = match hashed {
            Ok(h) => h,
            Err(e) => {
                return self
                    .events
                    .error(format!("cannot send {}: {e}", path.display()));
            }
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_owned());
        let peers = participants.with_open_channel();
        if peers.is_empty() {
            return self.events.error(format!("nobody to send {name} to yet"));
        }
        for peer in peers {
            let id = self.next_id();
            let info = TransferInfo {
                id: id.clone(),
                peer: peer.clone(),
                name: name.clone(),
                size,
                sha256: sha256.clone(),
                direction: Direction::Sent,
                status: TransferStatus::Offered,
                bytes: 0,
                path: Some(path.clone()),
                reason: None,
            };
            self.events.emit(CallEvent::Transfer(info.clone()));
            self.outgoing.insert(
                id.clone(),
                Sending {
                    path: path.clone(),
                    info,
                    cancel: Arc::new(AtomicBool::new(false)),
                },
            );
            let offer = AppMessage::FileOffer(FileOffer {
                id,
                name: name.clone(),
                size,
                sha256: sha256.clone(),
                mime: String::new(),
            });
            if let Err(e) = participants.send(&peer, &offer).await {
                self.events.error(format!("offering {name} to {peer}: {e}"));
            }
        }
    }

    /// A transfer message from `from`.
    pub async fn on_message(&mut self, from: &str, msg: AppMessage, participants: &Participants) {
        match msg {
            AppMessage::FileOffer(offer) => self.on_offer(from, offer, participants).await,
            AppMessage::FileAccept(TransferRef { id }) if self.offered_to(&id, from) => {
                self.start_sending(&id, participants);
            }
            AppMessage::FileDecline(FileDecline { id, reason }) if self.offered_to(&id, from) => {
                let reason = reason.map(|r| r.chars().take(200).collect());
                self.set_outgoing(&id, TransferStatus::Declined, reason);
            }
            AppMessage::FileCancel(TransferRef { id }) => {
                let theirs = self.outgoing.get(&id).is_some_and(|t| t.info.peer == from)
                    || self.incoming.get(&id).is_some_and(|t| t.peer == from);
                if theirs {
                    self.cancel(&id, false, participants).await;
                }
            }
            AppMessage::FileEnd(TransferRef { id }) => {
                let Some(t) = self.incoming.get_mut(&id) else {
                    return;
                };
                if t.peer != from || t.info.status != TransferStatus::Receiving {
                    return;
                }
                // Every chunk before `file-end` is already in the writer's queue (the reader
                // queued each before reading on); `Finish` goes in behind them.
                let writer = participants
                    .get(from)
                    .and_then(|p| p.chunk_routes.take(&id));
                let Some(writer) = writer else { return };
                t.info.status = TransferStatus::Verifying;
                self.events.emit(CallEvent::Transfer(t.info.clone()));
                tokio::spawn(async move {
                    let _ = writer.send(WriterMsg::Finish).await;
                });
            }
            AppMessage::FileResult(FileResult { id, ok, reason }) => {
                if !self
                    .outgoing
                    .get(&id)
                    .is_some_and(|t| t.info.peer == from && !t.info.status.is_finished())
                {
                    return;
                }
                if ok {
                    self.set_outgoing(&id, TransferStatus::Done, None);
                } else {
                    let reason = reason
                        .unwrap_or_else(|| "the receiver rejected the file".to_owned())
                        .chars()
                        .take(200)
                        .collect();
                    self.set_outgoing(&id, TransferStatus::Failed, Some(reason));
                }
            }
            _ => {}
        }
    }

    /// Whether our transfer `id` was offered to `peer` and awaits its answer.
    fn offered_to(&self, id: &str, peer: &str) -> bool {
        self.outgoing
            .get(id)
            .is_some_and(|t| t.info.peer == peer && t.info.status == TransferStatus::Offered)
    }

    async fn on_offer(&mut self, from: &str, offer: FileOffer, participants: &Participants) {
        let offer_id = offer.id.clone();
        let offer = match Offer::validate(offer) {
            Ok(o) => o,
            Err(e) => return self.events.error(format!("file offer from {from}: {e}")),
        };
        if self.incoming.contains_key(&offer.id) {
            return self
                .events
                .error(format!("{from} reused transfer id {}", offer.id));
        }
        let waiting = self
            .incoming
            .values()
            .filter(|t| t.peer == from && t.info.status == TransferStatus::Offered)
            .count();
        let refusal = if waiting >= MAX_PENDING_OFFERS {
            Some(format!(
                "{MAX_PENDING_OFFERS} offers from {from} are already waiting for an answer"
            ))
        } else {
            match free_space(&self.download_dir) {
                Some(free) if free < offer.size => Some(format!(
                    "not enough disk space: the file needs {} bytes, {free} are free",
                    offer.size
                )),
                _ => None,
            }
        };
        let info = TransferInfo {
            id: offer.id.clone(),
            peer: from.to_owned(),
            name: transfer::sanitize_file_name(&offer.name),
            size: offer.size,
            sha256: offer.sha256.clone(),
            direction: Direction::Received,
            status: TransferStatus::Offered,
            bytes: 0,
            path: None,
            reason: None,
        };
        if let Some(reason) = refusal {
            self.events.emit(CallEvent::Transfer(TransferInfo {
                status: TransferStatus::Declined,
                reason: Some(reason.clone()),
                ..info
            }));
            let decline = AppMessage::FileDecline(FileDecline {
                id: offer_id,
                reason: Some(reason),
            });
            let _ = participants.send(from, &decline).await;
            return;
        }
        self.events.emit(CallEvent::Transfer(info.clone()));
        let tid = offer.id.clone();
        self.incoming.insert(
            tid.clone(),
            Receiving {
                peer: from.to_owned(),
                info,
                offered: Some(Incoming::new(offer, &self.download_dir)),
                part: None,
                last_progress: Instant::now(),
            },
        );
        if self.accept_files {
            self.accept(&tid, participants).await;
        }
    }

    /// The user accepts `id`: its writer starts and the sender is told.
    pub async fn accept(&mut self, id: &str, participants: &Participants) {
        let Some(t) = self.incoming.get_mut(id) else {
            return;
        };
        let Some(mut incoming) = t.offered.take() else {
            return;
        };
        let peer = t.peer.clone();
        incoming.set_download_dir(&self.download_dir);
        let routes = participants.get(&peer).map(|p| p.chunk_routes.clone());
        let reply = match (incoming.accept(), routes) {
            (Ok(()), Some(routes)) => {
                t.part = incoming.part_path().map(Path::to_owned);
                let internal = self.internal.clone();
                let tid = id.to_owned();
                let writer = spawn_writer(incoming, move |report| {
                    let msg = Internal::Writer(tid.clone(), report);
                    // Progress may be dropped when the call is busy; the verdict may not.
                    if matches!(msg, Internal::Writer(_, WriterReport::Progress(_))) {
                        let _ = internal.try_send(msg);
                    } else {
                        let _ = internal.blocking_send(msg);
                    }
                });
                routes.insert(id, writer);
                self.set_incoming(id, TransferStatus::Receiving, None);
                AppMessage::FileAccept(TransferRef { id: id.to_owned() })
            }
            (Err(e), _) => {
                self.set_incoming(id, TransferStatus::Failed, Some(e.to_string()));
                AppMessage::FileDecline(FileDecline {
                    id: id.to_owned(),
                    reason: Some(e.to_string()),
                })
            }
            (Ok(()), None) => {
                self.set_incoming(id, TransferStatus::Failed, Some("the sender left".into()));
                return;
            }
        };
        if let Err(e) = participants.send(&peer, &reply).await {
            self.events.error(format!("to {peer}: {e}"));
        }
    }

    /// The user declines `id`.
    pub async fn decline(&mut self, id: &str, participants: &Participants) {
        let Some(t) = self.incoming.get_mut(id) else {
            return;
        };
        if t.offered.take().is_none() {
            return;
        }
        let peer = t.peer.clone();
        self.set_incoming(id, TransferStatus::Declined, None);
        let decline = AppMessage::FileDecline(FileDecline {
            id: id.to_owned(),
            reason: None,
        });
        let _ = participants.send(&peer, &decline).await;
    }

    /// Cancels `id` (either direction); `tell_peer` for a cancel of ours (not the peer's).
    pub async fn cancel(&mut self, id: &str, tell_peer: bool, participants: &Participants) {
        let peer = if let Some(t) = self.outgoing.get(id) {
            t.cancel.store(true, Ordering::Relaxed);
            let peer = t.info.peer.clone();
            self.set_outgoing(id, TransferStatus::Cancelled, None);
            peer
        } else if let Some(t) = self.incoming.get(id) {
            if t.info.status == TransferStatus::Verifying {
                return; // every byte is here: the writer's verdict stands
            }
            let peer = t.peer.clone();
            self.stop_receiving(id, participants);
            self.set_incoming(id, TransferStatus::Cancelled, None);
            peer
        } else {
            return;
        };
        if tell_peer {
            let cancel = AppMessage::FileCancel(TransferRef { id: id.to_owned() });
            let _ = participants.send(&peer, &cancel).await;
        }
    }

    fn start_sending(&mut self, id: &str, participants: &Participants) {
        let Some(t) = self.outgoing.get(id) else {
            return;
        };
        let Some((channel, drained, handed)) = participants.get(&t.info.peer).and_then(|p| {
            Some((
                p.link.channel.clone()?,
                p.drained.clone(),
                p.data_handed.clone(),
            ))
        }) else {
            return self.set_outgoing(id, TransferStatus::Failed, Some("no channel".into()));
        };
        let path = t.path.clone();
        let cancel = t.cancel.clone();
        let size = t.info.size;
        // Paced from its first chunk: until the next allocation (at most
        // `allocation::ALLOCATION_INTERVAL` away) gives data its share, at the floor. Unpaced,
        // a 2 MB file went into SCTP's send buffer at once and then took the whole link.
        if self.pace.rate().is_none() {
            self.pace.set_rate(Some(super::allocation::DATA_MIN_BPS));
        }
        let pace = self.pace.clone();
        self.set_outgoing(id, TransferStatus::Sending, None);
        let internal = self.internal.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            let progress = |sent| {
                let _ = internal.try_send(Internal::Sending(id.clone(), sent, None));
            };
            let result = send_file(
                &id, &path, size, channel, &drained, &pace, &handed, &cancel, progress,
            )
            .await;
            let _ = internal
                .send(Internal::Sending(id, size, Some(result)))
                .await;
        });
    }

    /// Whether a file is being sent now (congestion control then gives data a share): until
    /// the receiver's verdict, not only until the last chunk is handed to the channel — SCTP
    /// may still hold megabytes of it (`link::SEND_HIGH_WATER`). Counting only the handing,
    /// media took the whole link back while a 2 MB file was still queued, which then took
    /// 92 s instead of ~70 (measured, `call_fits_a_narrow_link`).
    pub fn sending_any(&self) -> bool {
        self.outgoing.values().any(|t| {
            matches!(
                t.info.status,
                TransferStatus::Sending | TransferStatus::Verifying
            )
        })
    }

    /// A sender task's progress, or its end (`Some(result)`).
    pub fn on_sending(&mut self, id: &str, bytes: u64, end: Option<Result<(), String>>) {
        let Some(t) = self.outgoing.get_mut(id) else {
            return;
        };
        t.info.bytes = bytes;
        match end {
            None => self.events.emit(CallEvent::Transfer(t.info.clone())),
            // Sent everything: now waiting for the receiver's verdict (file-result).
            Some(Ok(())) => self.set_outgoing(id, TransferStatus::Verifying, None),
            Some(Err(e)) => self.set_outgoing(id, TransferStatus::Failed, Some(e)),
        }
    }

    /// A writer's progress or verdict; the verdict goes to the sender as `file-result`.
    pub async fn on_writer(&mut self, id: &str, report: WriterReport, participants: &Participants) {
        let Some(t) = self.incoming.get_mut(id) else {
            return;
        };
        match report {
            WriterReport::Progress(bytes) => {
                t.info.bytes = bytes;
                if t.last_progress.elapsed() >= PROGRESS_INTERVAL
                    && t.info.status == TransferStatus::Receiving
                {
                    t.last_progress = Instant::now();
                    self.events.emit(CallEvent::Transfer(t.info.clone()));
                }
            }
            WriterReport::Done(result) => {
                let peer = t.peer.clone();
                if let Some(p) = participants.get(&peer) {
                    p.chunk_routes.take(id);
                }
                let verdict = match result {
                    Ok(path) => {
                        t.info.bytes = t.info.size;
                        t.info.path = Some(path);
                        self.set_incoming(id, TransferStatus::Done, None);
                        FileResult {
                            id: id.to_owned(),
                            ok: true,
                            reason: None,
                        }
                    }
                    Err(e) => {
                        self.set_incoming(id, TransferStatus::Failed, Some(e.to_string()));
                        FileResult {
                            id: id.to_owned(),
                            ok: false,
                            reason: Some(e.to_string()),
                        }
                    }
                };
                let _ = participants
                    .send(&peer, &AppMessage::FileResult(verdict))
                    .await;
            }
        }
    }

    /// Stops `id`'s writer and removes its part file now, so that nothing is on disk once
    /// the end is reported. (The writer drops its sender and finds the file already gone;
    /// unlinking a file it still writes to is safe.)
    fn stop_receiving(&mut self, id: &str, participants: &Participants) {
        let Some(t) = self.incoming.get_mut(id) else {
            return;
        };
        if let Some(p) = participants.get(&t.peer) {
            p.chunk_routes.take(id);
        }
        if let Some(part) = t.part.take() {
            let _ = std::fs::remove_file(part);
        }
    }

    /// `peer` left: its transfers fail (a received file being verified is not affected).
    pub fn peer_gone(&mut self, peer: &str, participants: &Participants) {
        let gone = "the participant left".to_owned();
        let incoming: Vec<String> = self
            .incoming
            .iter()
            .filter(|(_, t)| t.peer == peer && t.info.status != TransferStatus::Verifying)
            .map(|(k, _)| k.clone())
            .collect();
        for id in incoming {
            self.stop_receiving(&id, participants);
            self.set_incoming(&id, TransferStatus::Failed, Some(gone.clone()));
        }
        let outgoing: Vec<String> = self
            .outgoing
            .iter()
            .filter(|(_, t)| t.info.peer == peer)
            .map(|(k, _)| k.clone())
            .collect();
        for id in outgoing {
            if let Some(t) = self.outgoing.get(&id) {
                t.cancel.store(true, Ordering::Relaxed);
            }
            self.set_outgoing(&id, TransferStatus::Failed, Some(gone.clone()));
        }
    }

    /// Reports `id`'s new status; a finished transfer is forgotten.
    fn set_incoming(&mut self, id: &str, status: TransferStatus, reason: Option<String>) {
        if let Some(t) = self.incoming.get_mut(id) {
            t.info.status = status;
            t.info.reason = reason;
            self.events.emit(CallEvent::Transfer(t.info.clone()));
            if status.is_finished() {
                self.incoming.remove(id);
            }
        }
    }

    fn set_outgoing(&mut self, id: &str, status: TransferStatus, reason: Option<String>) {
        if let Some(t) = self.outgoing.get_mut(id) {
            t.info.status = status;
            t.info.reason = reason;
            self.events.emit(CallEvent::Transfer(t.info.clone()));
            if status.is_finished() {
                self.outgoing.remove(id);
            }
        }
    }
}

/// Bytes free for an unprivileged writer in `dir` (or the closest existing folder above it,
/// where `dir` is yet to be created); `None` when that cannot be told.
fn free_space(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|p| p.exists())?;
    let stats = nix::sys::statvfs::statvfs(existing).ok()?;
    Some(
        stats
            .blocks_available()
            .saturating_mul(stats.fragment_size()),
    )
}

/// Where chunks of one participant's accepted transfers go: its data channel's reader looks
/// a chunk's transfer id up here and hands the chunk to that transfer's writer.
#[derive(Clone, Default)]
pub(super) struct ChunkRoutes(Arc<std::sync::Mutex<HashMap<String, mpsc::Sender<WriterMsg>>>>);

impl ChunkRoutes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::Sender<WriterMsg>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, id: &str, writer: mpsc::Sender<WriterMsg>) {
        self.lock().insert(id.to_owned(), writer);
    }

    /// Removes and returns `id`'s writer (its last sender: dropping it ends the writer).
    pub fn take(&self, id: &str) -> Option<mpsc::Sender<WriterMsg>> {
        self.lock().remove(id)
    }

    /// The writer for a chunk of `id`, if that transfer is receiving.
    pub fn writer(&self, id: &str) -> Option<mpsc::Sender<WriterMsg>> {
        self.lock().get(id).cloned()
    }

    /// Every writer stops (the participant left); each discards its part file.
    pub fn clear(&self) {
        self.lock().clear();
    }
}
