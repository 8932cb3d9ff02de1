//! Shared set-up for the signalling integration tests: a real server on an ephemeral loopback
//! port and real Socket.IO clients talking to it over websockets.

#![allow(dead_code)]

use std::time::Duration;

use confab_signal::{Config, Server};
use confab_sio::{Client, Incoming};
use serde_json::{Value, json};

/// Upper bound on waiting for any single event; generous because CI machines are loaded.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn server() -> Server {
    server_with(Config::default()).await
}

pub async fn server_with(config: Config) -> Server {
    Server::start("127.0.0.1:0".parse().expect("literal address"), config)
        .await
        .expect("binding an ephemeral loopback port")
}

pub fn url(server: &Server) -> String {
    format!("http://{}", server.local_addr())
}

pub struct Peer {
    pub client: Client,
    rx: confab_sio::Events,
}

impl Peer {
    pub async fn connect(server: &Server) -> Peer {
        let (client, rx) = confab_sio::connect(&url(server))
            .await
            .expect("connecting to the test server");
        Peer { client, rx }
    }

    /// Connects and joins `room` as `user`, returning the `room-state` it receives.
    pub async fn joined(server: &Server, room: &str, user: &str) -> (Peer, Value) {
        let mut p = Peer::connect(server).await;
        let state = p.join(room, user).await;
        (p, state)
    }

    /// Joins and returns the room-state without its resume token (checked to be there).
    pub async fn join(&mut self, room: &str, user: &str) -> Value {
        self.join_with(room, user, json!({})).await.0
    }

    /// Joins with `options` (the fourth argument) and returns the room-state without its
    /// resume token, and the token.
    pub async fn join_with(&mut self, room: &str, user: &str, options: Value) -> (Value, String) {
        let mut args = vec![json!(room), json!(user), json!({"name": user})];
        if options != json!({}) {
            args.push(options);
        }
        self.emit_args("join-room", &args);
        let mut state = self.expect("room-state").await;
        let token = state
            .as_object_mut()
            .and_then(|o| o.remove("resumeToken"))
            .and_then(|t| t.as_str().map(str::to_owned))
            .expect("every room-state carries a resume token");
        assert!(
            token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
            "{token}"
        );
        (state, token)
    }

    pub fn emit(&self, name: &str, arg: Value) {
        self.client
            .emit(name, &arg)
            .expect("client connection is open");
    }

    pub fn emit_args(&self, name: &str, args: &[Value]) {
        self.client
            .emit_args(name, args)
            .expect("client connection is open");
    }

    /// The next thing the server sends, whatever it is.
    pub async fn next(&mut self) -> Incoming {
        tokio::time::timeout(EVENT_TIMEOUT, self.rx.recv())
            .await
            .expect("timed out waiting for the server")
            .expect("the client task ended without a Disconnected notice")
    }

    /// Asserts that the next event is `name` and returns its first argument.
    pub async fn expect(&mut self, name: &str) -> Value {
        match self.next().await {
            Incoming::Event { name: got, args } if got == name => {
                args.into_iter().next().unwrap_or(Value::Null)
            }
            other => panic!("expected {name}, got {other:?}"),
        }
    }

    /// The next event, which must be `name`, waiting up to `within`.
    pub async fn expect_within(&mut self, name: &str, within: Duration) -> Value {
        let next = tokio::time::timeout(within, self.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {name} within {within:?}"))
            .expect("the client task ended without a Disconnected notice");
        match next {
            Incoming::Event { name: got, args } if got == name => {
                args.into_iter().next().unwrap_or(Value::Null)
            }
            other => panic!("expected {name}, got {other:?}"),
        }
    }

    /// Asserts the next event is an `error` with `code`.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let err = self.expect("error").await;
        assert_eq!(err["code"], code, "error event: {err}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
        err
    }

    /// Closes this client's connection and waits until it is closed.
    pub async fn close(self) -> String {
        let Peer { client, mut rx } = self;
        client.disconnect();
        loop {
            match tokio::time::timeout(EVENT_TIMEOUT, rx.recv()).await {
                Ok(Some(Incoming::Disconnected { reason })) => return reason,
                Ok(Some(_)) => {}
                Ok(None) => panic!("the client task ended without a Disconnected notice"),
                Err(_) => panic!("timed out closing the client"),
            }
        }
    }

    pub async fn expect_disconnected(&mut self) -> String {
        match self.next().await {
            Incoming::Disconnected { reason } => reason,
            other => panic!("expected a disconnect, got {other:?}"),
        }
    }
}

pub fn offer(room: &str, to: Option<&str>, sdp: &str) -> Value {
    let mut v = json!({"roomId": room, "from": "whoever", "offer": {"type": "offer", "sdp": sdp}});
    if let Some(to) = to {
        v["to"] = json!(to);
    }
    v
}

pub async fn get_json(server: &Server, path: &str) -> Value {
    reqwest::get(format!("{}{path}", url(server)))
        .await
        .expect("HTTP request to the test server")
        .json()
        .await
        .expect("JSON body")
}

pub async fn get_text(server: &Server, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("{}{path}", url(server)))
        .await
        .expect("HTTP request to the test server");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("text body"))
}
