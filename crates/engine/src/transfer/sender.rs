//! The sending end of a transfer: the file's size and SHA-256 for the offer (read in blocks,
//! on a blocking thread), then its chunks streamed with the channel's backpressure.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use confab_protocol::{AppMessage, TransferRef};
use tokio::sync::Notify;
use webrtc::data_channel::DataChannel;

use super::{CHUNK_SIZE, frame_chunk};
use crate::link;

/// Bytes read from disk at once (then cut into chunks).
pub const READ_BLOCK: usize = 1024 * 1024;
/// Progress is reported at most this often.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Size and SHA-256 (hex) of a file, read in blocks so any size fits in memory.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; READ_BLOCK];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            break;
        }
        hasher.update(&block[..n]);
        size += n as u64;
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((size, hex))
}

/// Streams `path` as framed chunks of transfer `id`, pausing while more than the high-water
/// mark is queued on the channel until it reports having drained below the low-water mark,
/// then sends `file-end`; each chunk leaves at `pace` (congestion control's share for data)
/// and is counted in `handed`.
/// `progress` gets the bytes sent so far, at most every 100 ms.
#[allow(clippy::too_many_arguments)]
pub async fn send_file(
    id: &str,
    path: &Path,
    size: u64,
    channel: Arc<dyn DataChannel>,
    drained: &Notify,
    pace: &super::pace::DataPace,
    handed: &super::delivered::Handed,
    cancel: &AtomicBool,
    progress: impl Fn(u64),
) -> Result<(), String> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| e.to_string())?;
    let mut block = vec![0u8; READ_BLOCK];
    let mut sent = 0u64;
    let mut last = Instant::now();
    while sent < size {
        if cancel.load(Ordering::Relaxed) {
            return Err("cancelled".into());
        }
        let n = file.read(&mut block).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("the file shrank to {sent} bytes while sending"));
        }
        for chunk in block[..n].chunks(CHUNK_SIZE) {
            while channel
                .outstanding_bytes()
                .await
                .map_err(|e| e.to_string())?
                > link::SEND_HIGH_WATER
            {
                // Register before re-checking so a drain between the check and the wait is
                // not missed; the timeout only guards against a channel that closes silently.
                let wake = drained.notified();
                if channel
                    .outstanding_bytes()
                    .await
                    .map_err(|e| e.to_string())?
                    <= link::SEND_HIGH_WATER
                {
                    break;
                }
                if tokio::time::timeout(Duration::from_secs(1), wake)
                    .await
                    .is_err()
                    && cancel.load(Ordering::Relaxed)
                {
                    return Err("cancelled".into());
                }
            }
            let frame = frame_chunk(id, chunk);
            pace.wait(frame.len()).await;
            channel
                .send(bytes::BytesMut::from(&frame[..]))
                .await
                .map_err(|e| e.to_string())?;
            handed.add(frame.len());
        }
        sent += n as u64;
        if last.elapsed() >= PROGRESS_INTERVAL {
            last = Instant::now();
            progress(sent);
        }
    }
    let end = AppMessage::FileEnd(TransferRef { id: id.to_owned() });
    channel
        .send_text(&end.to_text())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
