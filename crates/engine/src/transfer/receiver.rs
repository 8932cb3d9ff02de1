//! The receiving end of a transfer: a state machine over a hidden part file
//! ([`Incoming`]), and the task that runs it off the call's task ([`spawn_writer`]): writing
//! and hashing a gigabyte takes seconds, which the call's media cannot wait for.
//!
//! `Offered → (Declined | Receiving) → Verifying → Done`; any state → `Cancelled | Failed`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{Offer, TransferError, sanitize_file_name};

/// Chunks queued for one transfer's writer: 64 × 16 KiB = 1 MiB. When it is full the data
/// channel's reader waits, and SCTP's flow control slows the sender to the disk's pace.
pub const WRITER_QUEUE: usize = 64;
/// The writer reports progress at most this often.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// What a writer is handed, in the channel's order.
#[derive(Debug)]
pub enum WriterMsg {
    Chunk(bytes::Bytes),
    /// The sender said `file-end`: verify and move the file into place.
    Finish,
}

/// What a writer reports.
#[derive(Debug)]
pub enum WriterReport {
    /// Bytes written so far.
    Progress(u64),
    /// The end: the file's final path, or why it failed (nothing is left on disk then).
    Done(Result<PathBuf, TransferError>),
}

/// Runs an accepted `incoming` on a blocking thread: writes and hashes each chunk, and on
/// [`WriterMsg::Finish`] verifies and places the file. Dropping the returned sender without
/// `Finish` (a cancel, a vanished peer) discards the part file. `report` is called from the
/// writer's thread.
pub fn spawn_writer(
    mut incoming: Incoming,
    report: impl Fn(WriterReport) + Send + 'static,
) -> mpsc::Sender<WriterMsg> {
    let (tx, mut rx) = mpsc::channel(WRITER_QUEUE);
    tokio::task::spawn_blocking(move || {
        let mut last = Instant::now();
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                WriterMsg::Chunk(chunk) => {
                    if let Err(e) = incoming.on_chunk(&chunk) {
                        report(WriterReport::Done(Err(e)));
                        return;
                    }
                    if last.elapsed() >= PROGRESS_INTERVAL {
                        last = Instant::now();
                        report(WriterReport::Progress(incoming.received()));
                    }
                }
                WriterMsg::Finish => {
                    report(WriterReport::Done(incoming.on_end()));
                    return;
                }
            }
        }
        incoming.cancel();
    });
    tx
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Offered,
    Receiving,
    Verifying,
    Done,
    Declined,
    Cancelled,
    Failed,
}

impl State {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            State::Done | State::Declined | State::Cancelled | State::Failed
        )
    }
}

/// The receiving end of one transfer.
pub struct Incoming {
    pub offer: Offer,
    state: State,
    dir: PathBuf,
    part: Option<(PathBuf, File)>,
    hasher: Sha256,
    received: u64,
}

impl Incoming {
    pub fn new(offer: Offer, download_dir: &Path) -> Self {
        Self {
            offer,
            state: State::Offered,
            dir: download_dir.to_owned(),
            part: None,
            hasher: Sha256::new(),
            received: 0,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The hidden file the bytes go to while receiving.
    pub fn part_path(&self) -> Option<&Path> {
        self.part.as_ref().map(|(path, _)| path.as_path())
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    /// Moves a transfer not yet accepted to another download folder: the user's choice at the
    /// moment of accepting counts, not the one when the offer arrived.
    pub fn set_download_dir(&mut self, dir: &Path) {
        if self.state == State::Offered {
            self.dir = dir.to_owned();
        }
    }

    /// Starts receiving into a hidden temporary file in the download folder (same file
    /// system, so the final rename is atomic).
    pub fn accept(&mut self) -> Result<(), TransferError> {
        if self.state != State::Offered {
            return Err(TransferError::NotReceiving(self.state));
        }
        fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(format!(".confab-{}.part", self.offer.id));
        let file = File::options().write(true).create_new(true).open(&path)?;
        self.part = Some((path, file));
        self.state = State::Receiving;
        Ok(())
    }

    pub fn decline(&mut self) {
        if self.state == State::Offered {
            self.state = State::Declined;
        }
    }

    /// Appends a chunk. Chunks that arrive when not receiving (after a cancel or a failure)
    /// are refused and change nothing.
    pub fn on_chunk(&mut self, payload: &[u8]) -> Result<(), TransferError> {
        if self.state != State::Receiving {
            return Err(TransferError::NotReceiving(self.state));
        }
        let declared = self.offer.size;
        if self.received + payload.len() as u64 > declared {
            return self.fail(TransferError::TooMuchData { declared });
        }
        let (_, file) = self.part.as_mut().expect("receiving has a part file");
        if let Err(e) = file.write_all(payload) {
            return self.fail(e.into());
        }
        self.hasher.update(payload);
        self.received += payload.len() as u64;
        Ok(())
    }

    /// The sender says it sent everything: verify and move into place. Returns the final path.
    pub fn on_end(&mut self) -> Result<PathBuf, TransferError> {
        if self.state != State::Receiving {
            return Err(TransferError::NotReceiving(self.state));
        }
        self.state = State::Verifying;
        if self.received != self.offer.size {
            let e = TransferError::SizeMismatch {
                received: self.received,
                declared: self.offer.size,
            };
            return self.fail(e).map(|()| PathBuf::new());
        }
        let digest = std::mem::take(&mut self.hasher).finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        if hex != self.offer.sha256 {
            return self
                .fail(TransferError::HashMismatch)
                .map(|()| PathBuf::new());
        }
        let (part, file) = self.part.take().expect("verifying has a part file");
        if let Err(e) = file.sync_all() {
            self.part = Some((part, file));
            return self.fail(e.into()).map(|()| PathBuf::new());
        }
        drop(file);
        match place(&part, &self.dir, &sanitize_file_name(&self.offer.name)) {
            Ok(dest) => {
                self.state = State::Done;
                Ok(dest)
            }
            Err(e) => {
                let _ = fs::remove_file(&part);
                self.state = State::Failed;
                Err(e.into())
            }
        }
    }

    /// Either side cancelled: drop what arrived.
    pub fn cancel(&mut self) {
        if !self.state.is_finished() {
            self.discard();
            self.state = State::Cancelled;
        }
    }

    /// The peer vanished or the channel closed mid-transfer.
    pub fn abort(&mut self, _reason: &str) {
        if !self.state.is_finished() {
            self.discard();
            self.state = State::Failed;
        }
    }

    fn fail(&mut self, e: TransferError) -> Result<(), TransferError> {
        self.discard();
        self.state = State::Failed;
        Err(e)
    }

    fn discard(&mut self) {
        if let Some((path, file)) = self.part.take() {
            drop(file);
            let _ = fs::remove_file(path);
        }
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        self.discard();
    }
}

/// Moves `part` to `dir/name`, or `dir/name (1)`, `(2)`… without ever replacing a file: a
/// hard link fails if the target exists, which makes "pick a free name and claim it" atomic
/// even against another writer. (std has no rename-without-replace.)
fn place(part: &Path, dir: &Path, name: &str) -> io::Result<PathBuf> {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    for n in 0..1000 {
        let candidate = if n == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{stem} ({n}){ext}"))
        };
        match fs::hard_link(part, &candidate) {
            Ok(()) => {
                fs::remove_file(part)?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("no free name for {name}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> String {
        Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn offer(name: &str, data: &[u8]) -> Offer {
        Offer {
            id: "t-1".into(),
            name: name.into(),
            size: data.len() as u64,
            sha256: sha(data),
        }
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("confab-transfer-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("temp dir");
        d
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_download_folder_chosen_before_accepting_is_where_the_file_lands() {
        let first = tmpdir("first");
        let chosen = tmpdir("chosen");
        let data = b"moved";
        let mut t = Incoming::new(offer("f.txt", data), &first);
        t.set_download_dir(&chosen);
        t.accept().expect("accept");
        t.set_download_dir(&first); // too late: receiving already
        t.on_chunk(data).expect("chunk");
        assert_eq!(t.on_end().expect("verified"), chosen.join("f.txt"));
        assert_eq!(fs::read_dir(&first).expect("dir").count(), 0);
    }

    #[test]
    fn a_verified_file_lands_under_its_name_without_clobbering() {
        let dir = tmpdir("ok");
        fs::write(dir.join("report.pdf"), b"already here").expect("existing file");
        let data = b"hello world";
        let mut t = Incoming::new(offer("report.pdf", data), &dir);
        t.accept().expect("accept");
        t.on_chunk(&data[..5]).expect("chunk");
        t.on_chunk(&data[5..]).expect("chunk");
        let path = t.on_end().expect("verified");
        assert_eq!(path, dir.join("report (1).pdf"));
        assert_eq!(fs::read(&path).expect("read"), data);
        assert_eq!(
            fs::read(dir.join("report.pdf")).expect("read"),
            b"already here"
        );
        assert_eq!(entries(&dir), ["report (1).pdf", "report.pdf"]);
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn a_path_traversal_name_stays_in_the_download_folder() {
        let dir = tmpdir("traversal");
        let data = b"x";
        let mut t = Incoming::new(offer("../../escaped", data), &dir);
        t.accept().expect("accept");
        t.on_chunk(data).expect("chunk");
        let path = t.on_end().expect("verified");
        assert_eq!(path.parent(), Some(dir.as_path()));
        assert!(!dir.parent().expect("parent").join("escaped").exists());
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn a_lying_size_or_a_wrong_hash_fails_and_leaves_nothing() {
        let dir = tmpdir("lies");
        let data = b"0123456789";
        // Declares 4 bytes, sends 10.
        let mut short = Incoming::new(
            Offer {
                size: 4,
                ..offer("a", data)
            },
            &dir,
        );
        short.accept().expect("accept");
        assert_eq!(
            short.on_chunk(data),
            Err(TransferError::TooMuchData { declared: 4 })
        );
        assert_eq!(short.state(), State::Failed);
        // Declares 20 bytes, sends 10 and ends.
        let mut long = Incoming::new(
            Offer {
                id: "t-2".into(),
                size: 20,
                ..offer("b", data)
            },
            &dir,
        );
        long.accept().expect("accept");
        long.on_chunk(data).expect("chunk");
        assert!(matches!(
            long.on_end(),
            Err(TransferError::SizeMismatch { .. })
        ));
        // Right size, wrong content.
        let mut forged = Incoming::new(
            Offer {
                id: "t-3".into(),
                ..offer("c", data)
            },
            &dir,
        );
        forged.accept().expect("accept");
        forged.on_chunk(b"9876543210").expect("chunk");
        assert_eq!(forged.on_end(), Err(TransferError::HashMismatch));
        assert_eq!(
            entries(&dir),
            Vec::<String>::new(),
            "no partial or bogus file remains"
        );
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn declined_cancelled_and_aborted_transfers_write_nothing_and_refuse_late_chunks() {
        let dir = tmpdir("cancel");
        let data = b"abcdef";
        let mut declined = Incoming::new(offer("d", data), &dir);
        declined.decline();
        assert_eq!(
            declined.on_chunk(data),
            Err(TransferError::NotReceiving(State::Declined))
        );
        let mut cancelled = Incoming::new(
            Offer {
                id: "t-4".into(),
                ..offer("e", data)
            },
            &dir,
        );
        cancelled.accept().expect("accept");
        cancelled.on_chunk(&data[..3]).expect("chunk");
        cancelled.cancel();
        assert_eq!(
            cancelled.on_chunk(&data[3..]),
            Err(TransferError::NotReceiving(State::Cancelled))
        );
        let mut vanished = Incoming::new(
            Offer {
                id: "t-5".into(),
                ..offer("f", data)
            },
            &dir,
        );
        vanished.accept().expect("accept");
        vanished.on_chunk(&data[..2]).expect("chunk");
        vanished.abort("the peer left");
        assert_eq!(vanished.state(), State::Failed);
        assert_eq!(entries(&dir), Vec::<String>::new());
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[tokio::test]
    async fn the_writer_task_writes_verifies_and_places_off_the_callers_task() {
        let dir = tmpdir("writer");
        let data = vec![7u8; 100_000];
        let mut t = Incoming::new(offer("big.bin", &data), &dir);
        t.accept().expect("accept");
        let (done_tx, mut done_rx) = mpsc::channel(1024);
        let writer = spawn_writer(t, move |r| {
            let _ = done_tx.blocking_send(r);
        });
        for chunk in data.chunks(16 * 1024) {
            writer
                .send(WriterMsg::Chunk(bytes::Bytes::copy_from_slice(chunk)))
                .await
                .expect("writer running");
        }
        writer
            .send(WriterMsg::Finish)
            .await
            .expect("writer running");
        let path = loop {
            match done_rx.recv().await.expect("a report") {
                WriterReport::Done(result) => break result.expect("verified"),
                WriterReport::Progress(_) => {}
            }
        };
        assert_eq!(fs::read(&path).expect("read"), data);
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[tokio::test]
    async fn a_writer_dropped_before_the_end_leaves_nothing() {
        let dir = tmpdir("writer-drop");
        let data = b"abcdef";
        let mut t = Incoming::new(offer("x", data), &dir);
        t.accept().expect("accept");
        let (done_tx, mut done_rx) = mpsc::channel(1024);
        let writer = spawn_writer(t, move |r| {
            let _ = done_tx.blocking_send(r);
        });
        writer
            .send(WriterMsg::Chunk(bytes::Bytes::from_static(b"abc")))
            .await
            .expect("writer running");
        drop(writer);
        assert!(
            done_rx.recv().await.is_none(),
            "no verdict for a cancelled transfer"
        );
        assert_eq!(entries(&dir), Vec::<String>::new());
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}
