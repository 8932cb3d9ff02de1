//! A signalling server in the test's own process, on loopback, for tests whose participants
//! are `confab join` processes on this machine; and a scratch directory per test.

#![allow(dead_code)]

use std::path::PathBuf;

use confab_signal::{Config, Server};

/// A server with the default configuration on a free loopback port, and its URL.
pub async fn server() -> (Server, String) {
    let server = Server::start("127.0.0.1:0".parse().expect("addr"), Config::default())
        .await
        .expect("server");
    let url = format!("http://{}", server.local_addr());
    (server, url)
}

/// An empty directory of this test's own (`confab-TAG-PID` in the system's temp dir).
pub fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("confab-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
