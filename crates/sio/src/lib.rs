//! A small Socket.IO v5 client (Engine.IO v4, websocket transport only).
//!
//! Why hand-written: rust_socketio 0.6, the only maintained crate, lost 6–30 % of pipelined
//! acks and panicked in our measurements (FINDINGS.md). Signalling needs a tiny subset of the
//! protocol — connect to the main namespace, emit events, receive events, answer pings — which
//! fits in one file on top of tokio-tungstenite.
//!
//! Protocols: <https://socket.io/docs/v4/engine-io-protocol/> (packet types `0` open, `1`
//! close, `2` ping, `3` pong, `4` message) and <https://socket.io/docs/v4/socket-io-protocol/>
//! (inside a message: `0` connect, `1` disconnect, `2` event, `4` connect error).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// How long the Engine.IO and Socket.IO handshakes may take before connecting fails.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Events received and not yet taken by the application. When it is full the reader stops
/// reading the socket (backpressure to the server, whose own queue then refuses emits), so a
/// flooding server cannot grow this client's memory.
pub const INCOMING_QUEUE: usize = 1024;
/// Packets the application may queue for sending; beyond it `emit` fails with
/// [`ClientError::Backlog`] instead of growing memory while the server is slow or gone.
pub const OUTGOING_QUEUE: usize = 1024;
/// Used when the server's open packet names no ping interval or timeout (Engine.IO's
/// defaults).
const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(25);
const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// The receiving end of a connection's events.
pub type Events = mpsc::Receiver<Incoming>;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid server URL {0:?}: expected http://, https://, ws:// or wss://")]
    BadUrl(String),
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("handshake: {0}")]
    Handshake(String),
    #[error("the server refused the namespace connection: {0}")]
    Refused(String),
    #[error("the connection is closed")]
    Closed,
    #[error("encoding an event: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("{OUTGOING_QUEUE} packets are already waiting to be sent")]
    Backlog,
}

/// What the server sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// An event with its arguments.
    Event { name: String, args: Vec<Value> },
    /// The connection ended (server disconnect, transport close or error, or the server
    /// stopped pinging: Engine.IO's ping interval plus timeout without a packet); nothing
    /// follows.
    Disconnected { reason: String },
}

impl Incoming {
    /// The first argument of an event named `name`.
    pub fn arg_of(&self, name: &str) -> Option<&Value> {
        match self {
            Incoming::Event { name: n, args } if n == name => args.first(),
            _ => None,
        }
    }
}

/// A connected client. Cloning shares the connection.
#[derive(Clone, Debug)]
pub struct Client {
    out: mpsc::Sender<Message>,
    sid: String,
}

/// Connects to `url` (e.g. `http://127.0.0.1:3000`) and joins the main namespace.
pub async fn connect(url: &str) -> Result<(Client, Events), ClientError> {
    let ws_url = engine_url(url)?;
    let (mut ws, _) = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        // Nagle off: signalling is small messages in quick succession (offer, then candidates),
        // and with Nagle each one after the first waited ~40 ms for the previous one's ACK.
        tokio_tungstenite::connect_async_with_config(ws_url.as_str(), None, true),
    )
    .await
    .map_err(|_| ClientError::Handshake("timed out opening the websocket".into()))??;

    // Engine.IO open packet, then Socket.IO CONNECT to "/" and its acknowledgement.
    let (sid, silence) = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let open = next_text(&mut ws).await?;
        let Some(body) = open.strip_prefix('0') else {
            return Err(ClientError::Handshake(format!(
                "expected open packet, got {open:.40}"
            )));
        };
        let silence = max_silence(body);
        ws.send(Message::text("40")).await?;
        loop {
            let text = next_text(&mut ws).await?;
            if text == "2" {
                ws.send(Message::text("3")).await?;
            } else if let Some(body) = text.strip_prefix("40") {
                let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                return Ok((v["sid"].as_str().unwrap_or_default().to_owned(), silence));
            } else if let Some(body) = text.strip_prefix("44") {
                return Err(ClientError::Refused(body.to_owned()));
            }
        }
    })
    .await
    .map_err(|_| ClientError::Handshake("timed out waiting for the namespace".into()))??;

    let (out_tx, mut out_rx) = mpsc::channel::<Message>(OUTGOING_QUEUE);
    let (in_tx, in_rx) = mpsc::channel::<Incoming>(INCOMING_QUEUE);
    tokio::spawn(async move {
        // The server pings every interval; silence for interval + timeout means it (or the
        // network to it) is gone, even when no TCP reset ever arrives.
        let deadline = tokio::time::sleep(silence);
        tokio::pin!(deadline);
        let reason = loop {
            tokio::select! {
                () = &mut deadline => break "ping timeout".to_owned(),
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(text))) => {
                        deadline.as_mut().reset(tokio::time::Instant::now() + silence);
                        if text.as_str() == "2" {
                            if ws.send(Message::text("3")).await.is_err() {
                                break "transport error".to_owned();
                            }
                        } else if let Some(reason) = handle_text(text.as_str(), &in_tx).await {
                            break reason;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => break "transport close".to_owned(),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break format!("transport error: {e}"),
                },
                out = out_rx.recv() => match out {
                    Some(msg) => {
                        if let Err(e) = ws.send(msg).await {
                            break format!("transport error: {e}");
                        }
                    }
                    None => {
                        let _ = ws.send(Message::text("41")).await;
                        let _ = ws.close(None).await;
                        break "client disconnect".to_owned();
                    }
                },
            }
        };
        let _ = in_tx.send(Incoming::Disconnected { reason }).await;
    });
    Ok((Client { out: out_tx, sid }, in_rx))
}

/// How long the server may stay silent: its ping interval plus its ping timeout, from the
/// Engine.IO open packet's JSON.
fn max_silence(open: &str) -> Duration {
    let v: Value = serde_json::from_str(open).unwrap_or(Value::Null);
    let ms = |key: &str, default: Duration| {
        v[key]
            .as_u64()
            .map(Duration::from_millis)
            .unwrap_or(default)
    };
    ms("pingInterval", DEFAULT_PING_INTERVAL) + ms("pingTimeout", DEFAULT_PING_TIMEOUT)
}

/// Returns `Some(reason)` when the server ended the session.
async fn handle_text(text: &str, events: &mpsc::Sender<Incoming>) -> Option<String> {
    if let Some(body) = text.strip_prefix("42") {
        // An event packet may carry an ack id before the array; this client asks for none.
        let body = body.trim_start_matches(|c: char| c.is_ascii_digit());
        if let Ok(Value::Array(mut items)) = serde_json::from_str::<Value>(body)
            && let Some(Value::String(name)) = items.first().cloned()
        {
            items.remove(0);
            // A client that dropped its receiver only wants to stay connected.
            let _ = events.send(Incoming::Event { name, args: items }).await;
        } else {
            tracing::debug!("ignoring malformed event packet {text:.80}");
        }
        None
    } else if text.starts_with("41") {
        Some("server disconnect".to_owned())
    } else if text.starts_with('1') {
        Some("server closed the session".to_owned())
    } else {
        None
    }
}

async fn next_text<S>(ws: &mut S) -> Result<String, ClientError>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
            Some(Ok(Message::Close(_))) | None => return Err(ClientError::Closed),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

fn engine_url(url: &str) -> Result<String, ClientError> {
    let trimmed = url.trim_end_matches('/');
    let rest = if let Some(r) = trimmed.strip_prefix("http://") {
        format!("ws://{r}")
    } else if let Some(r) = trimmed.strip_prefix("https://") {
        format!("wss://{r}")
    } else if trimmed.starts_with("ws://") || trimmed.starts_with("wss://") {
        trimmed.to_owned()
    } else {
        return Err(ClientError::BadUrl(url.to_owned()));
    };
    Ok(format!("{rest}/socket.io/?EIO=4&transport=websocket"))
}

impl Client {
    /// The Socket.IO session id the server assigned.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// Emits `name` with one argument.
    pub fn emit<T: Serialize + ?Sized>(&self, name: &str, arg: &T) -> Result<(), ClientError> {
        let text = format!("42{}", serde_json::to_string(&(name, arg))?);
        self.send_raw(text)
    }

    /// Emits `name` with any number of arguments.
    pub fn emit_args(&self, name: &str, args: &[Value]) -> Result<(), ClientError> {
        let mut packet = vec![Value::String(name.to_owned())];
        packet.extend_from_slice(args);
        self.send_raw(format!("42{}", serde_json::to_string(&packet)?))
    }

    /// Sends an Engine.IO text frame as is. For tests that need malformed packets.
    pub fn send_raw(&self, text: String) -> Result<(), ClientError> {
        self.out.try_send(Message::text(text)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ClientError::Backlog,
            mpsc::error::TrySendError::Closed(_) => ClientError::Closed,
        })
    }

    /// Gives up this handle; once every clone is gone the client leaves the namespace and
    /// closes the websocket (the receiver then yields [`Incoming::Disconnected`]).
    pub fn disconnect(self) {
        drop(self.out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_url_maps_http_to_websocket_path() {
        assert_eq!(
            engine_url("http://127.0.0.1:3000/").unwrap(),
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
        );
        assert!(engine_url("ftp://x").is_err());
    }

    #[test]
    fn silence_allowed_is_the_servers_ping_interval_plus_timeout() {
        assert_eq!(
            max_silence(r#"{"sid":"x","pingInterval":4000,"pingTimeout":5000}"#),
            Duration::from_secs(9)
        );
        assert_eq!(max_silence("garbage"), Duration::from_secs(45));
    }

    #[tokio::test]
    async fn event_packets_are_decoded_and_malformed_ones_ignored() {
        let (tx, mut rx) = mpsc::channel(4);
        assert!(
            handle_text(r#"42["room-state",{"users":[]}]"#, &tx)
                .await
                .is_none()
        );
        assert!(handle_text(r#"42[oops"#, &tx).await.is_none());
        assert_eq!(
            handle_text("41", &tx).await.as_deref(),
            Some("server disconnect")
        );
        let got = rx.try_recv().unwrap();
        assert_eq!(
            got.arg_of("room-state"),
            Some(&serde_json::json!({"users": []}))
        );
        assert!(rx.try_recv().is_err());
    }
}
