//! File transfer over the pair's data channel, in the browser UI's wire format
//! (`ui/transfer.js`), so Rust peers and browser guests exchange files both ways.
//!
//! Messages are JSON text: `file-offer {id, name, size, sha256, mime}`, `file-accept {id}`,
//! `file-decline {id}`, `file-cancel {id}`, `file-end {id}`, `file-result {id, ok, reason}`.
//! Chunks are binary: `[id length: u8][id: ASCII][payload]`.
//!
//! Receiving side, per transfer:
//! `Offered → (Declined | Receiving) → Verifying → Done`; any state → `Cancelled | Failed`.
//! Bytes go to a hidden temporary file in the download folder while they arrive, hashed on the
//! way; only a transfer whose size and SHA-256 both match is renamed — atomically, under a
//! sanitised name that never replaces an existing file — to where a user would look for it.
//! Everything else removes the temporary file, so nothing that looks complete is left behind.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Payload bytes per chunk: the browser UI's size, under every implementation's message limit.
pub const CHUNK_SIZE: usize = 16 * 1024;
/// Longest file name kept after sanitising, in bytes (ext4 allows 255).
const MAX_NAME_BYTES: usize = 200;
/// Longest transfer id accepted (the UI uses 36-character UUIDs).
const MAX_ID_LEN: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransferError {
    #[error("malformed file offer: {0}")]
    BadOffer(&'static str),
    #[error("more data than the declared {declared} bytes")]
    TooMuchData { declared: u64 },
    #[error("size mismatch: received {received} of {declared} bytes")]
    SizeMismatch { received: u64, declared: u64 },
    #[error("SHA-256 mismatch: the file was corrupted or altered")]
    HashMismatch,
    #[error("the transfer is {0:?}, not receiving")]
    NotReceiving(State),
    #[error("file system: {0}")]
    Io(String),
}

impl From<io::Error> for TransferError {
    fn from(e: io::Error) -> Self {
        TransferError::Io(e.to_string())
    }
}

/// A file offer as it arrives from a peer, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: String,
    /// As the peer sent it (display only); [`sanitize_file_name`] makes the one used on disk.
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

impl Offer {
    /// Validates a `file-offer` message. Ids are the UI's UUID alphabet; the hash is 64
    /// lowercase hex digits; the name is any non-empty string up to 10 000 characters.
    pub fn parse(v: &Value) -> Result<Self, TransferError> {
        let id = v["id"].as_str().ok_or(TransferError::BadOffer("id"))?;
        if id.is_empty()
            || id.len() > MAX_ID_LEN
            || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(TransferError::BadOffer("id"));
        }
        let name = v["name"].as_str().ok_or(TransferError::BadOffer("name"))?;
        if name.is_empty() || name.chars().count() > 10_000 {
            return Err(TransferError::BadOffer("name"));
        }
        let size = v["size"].as_u64().ok_or(TransferError::BadOffer("size"))?;
        let sha256 = v["sha256"]
            .as_str()
            .ok_or(TransferError::BadOffer("sha256"))?;
        if sha256.len() != 64
            || !sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(TransferError::BadOffer("sha256"));
        }
        Ok(Self {
            id: id.to_owned(),
            name: name.to_owned(),
            size,
            sha256: sha256.to_owned(),
        })
    }
}

/// A name that is safe as one path component on Linux, macOS and Windows: no separators, no
/// control characters or NUL, no leading dots (hidden files, `..`), no reserved device names
/// (`CON`, `NUL`, `COM1`…), at most 200 bytes (keeping the extension), never empty.
pub fn sanitize_file_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    s = s
        .trim_matches(|c: char| c == '.' || c.is_whitespace())
        .to_owned();
    let stem = s.split('.').next().unwrap_or("").to_ascii_lowercase();
    let reserved = matches!(stem.as_str(), "con" | "prn" | "aux" | "nul")
        || ((stem.starts_with("com") || stem.starts_with("lpt"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    if reserved {
        s.insert(0, '_');
    }
    if s.len() > MAX_NAME_BYTES {
        let ext = s
            .rfind('.')
            .map(|i| &s[i..])
            .filter(|e| e.len() <= 16)
            .unwrap_or("")
            .to_owned();
        let mut cut = MAX_NAME_BYTES - ext.len();
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str(&ext);
    }
    if s.is_empty() {
        "download".to_owned()
    } else {
        s
    }
}

/// Where the UI expects chunk ids and payloads: `[len][id][payload]`.
pub fn parse_chunk(frame: &[u8]) -> Option<(&str, &[u8])> {
    let (&len, rest) = frame.split_first()?;
    let len = usize::from(len);
    if len == 0 || rest.len() < len {
        return None;
    }
    let id = std::str::from_utf8(&rest[..len]).ok()?;
    Some((id, &rest[len..]))
}

pub fn frame_chunk(id: &str, payload: &[u8]) -> Vec<u8> {
    let id = id.as_bytes();
    let mut out = Vec::with_capacity(1 + id.len() + payload.len());
    out.push(u8::try_from(id.len()).expect("transfer ids are at most 64 bytes"));
    out.extend_from_slice(id);
    out.extend_from_slice(payload);
    out
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
    use serde_json::json;

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
    fn hostile_names_become_one_safe_component() {
        let long = "a".repeat(10_000) + ".txt";
        let cases = [
            ("../../x", "_.._x"),
            ("/etc/passwd", "_etc_passwd"),
            ("a\0b", "a_b"),
            ("CON", "_CON"),
            ("con.txt", "_con.txt"),
            ("COM1", "_COM1"),
            ("...", "download"),
            ("", "download"),
            ("  .hidden  ", "hidden"),
            ("ok name.pdf", "ok name.pdf"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_file_name(input), want, "{input:?}");
        }
        let s = sanitize_file_name(&long);
        assert!(
            s.len() <= MAX_NAME_BYTES && s.ends_with(".txt"),
            "{}",
            s.len()
        );
        let multibyte = "é".repeat(300);
        assert!(sanitize_file_name(&multibyte).len() <= MAX_NAME_BYTES);
    }

    #[test]
    fn offers_with_bad_fields_are_rejected() {
        let good = json!({"id": "abc-1", "name": "f", "size": 3, "sha256": "a".repeat(64)});
        assert!(Offer::parse(&good).is_ok());
        for (field, value) in [
            ("id", json!("../x")),
            ("id", json!("x".repeat(65))),
            ("name", json!("")),
            ("name", json!("n".repeat(10_001))),
            ("size", json!(-1)),
            ("size", json!("3")),
            ("sha256", json!("A".repeat(64))),
            ("sha256", json!("a".repeat(63))),
        ] {
            let mut v = good.clone();
            v[field] = value;
            assert!(Offer::parse(&v).is_err(), "{field} = {}", v[field]);
        }
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

    #[test]
    fn chunk_frames_round_trip_and_malformed_frames_are_refused() {
        let f = frame_chunk("abc", b"payload");
        assert_eq!(parse_chunk(&f), Some(("abc", &b"payload"[..])));
        assert_eq!(parse_chunk(&[]), None);
        assert_eq!(parse_chunk(&[0, 1, 2]), None);
        assert_eq!(parse_chunk(&[5, b'a']), None);
    }
}
