//! File transfer over the pair's data channel, in the browser UI's wire format
//! (`ui/transfer.js`), so Rust peers and browser guests exchange files both ways.
//!
//! Messages are JSON text: `file-offer {id, name, size, sha256, mime}`, `file-accept {id}`,
//! `file-decline {id}`, `file-cancel {id}`, `file-end {id}`, `file-result {id, ok, reason}`.
//! Chunks are binary: `[id length: u8][id: ASCII][payload]`.
//!
//! The wire format is here; the receiving side (state machine, and the task that writes and
//! hashes off the call's task) is [`receiver`], the sending side (hashing a file, streaming it
//! with backpressure) is [`sender`]; [`pace`] spaces its chunks at congestion control's share
//! for data and [`delivered`] measures what actually got through, for the estimator.
//!
//! Receiving side, per transfer:
//! `Offered → (Declined | Receiving) → Verifying → Done`; any state → `Cancelled | Failed`.
//! Bytes go to a hidden temporary file in the download folder while they arrive, hashed on the
//! way; only a transfer whose size and SHA-256 both match is renamed — atomically, under a
//! sanitised name that never replaces an existing file — to where a user would look for it.
//! Everything else removes the temporary file, so nothing that looks complete is left behind.

pub mod delivered;
pub mod pace;
pub mod receiver;
pub mod sender;

use std::io;

use confab_protocol::FileOffer;
use serde_json::Value;

pub use receiver::{Incoming, State};

/// Payload bytes per chunk: the browser UI's size, under every implementation's message limit.
pub const CHUNK_SIZE: usize = 16 * 1024;
/// Longest file name kept after sanitising, in bytes (ext4 allows 255).
pub(crate) const MAX_NAME_BYTES: usize = 200;
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
    /// Reads and validates a `file-offer` message (tests and tools; the call reads the typed
    /// message and calls [`Offer::validate`]).
    pub fn parse(v: &Value) -> Result<Self, TransferError> {
        let offer: FileOffer =
            serde_json::from_value(v.clone()).map_err(|_| TransferError::BadOffer("fields"))?;
        Self::validate(offer)
    }

    /// Validates a `file-offer`. Ids are the UI's UUID alphabet; the hash is 64 lowercase hex
    /// digits; the name is any non-empty string up to 10 000 characters.
    pub fn validate(offer: FileOffer) -> Result<Self, TransferError> {
        let FileOffer {
            id,
            name,
            size,
            sha256,
            ..
        } = offer;
        if id.is_empty()
            || id.len() > MAX_ID_LEN
            || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(TransferError::BadOffer("id"));
        }
        if name.is_empty() || name.chars().count() > 10_000 {
            return Err(TransferError::BadOffer("name"));
        }
        if sha256.len() != 64
            || !sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(TransferError::BadOffer("sha256"));
        }
        Ok(Self {
            id,
            name,
            size,
            sha256,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn chunk_frames_round_trip_and_malformed_frames_are_refused() {
        let f = frame_chunk("abc", b"payload");
        assert_eq!(parse_chunk(&f), Some(("abc", &b"payload"[..])));
        assert_eq!(parse_chunk(&[]), None);
        assert_eq!(parse_chunk(&[0, 1, 2]), None);
        assert_eq!(parse_chunk(&[5, b'a']), None);
    }
}
