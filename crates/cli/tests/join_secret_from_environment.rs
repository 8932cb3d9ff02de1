//! A room's secret given in CONFAB_SECRET (where other local users cannot read it, unlike a
//! command line in `ps`) guards the room exactly as `--secret` does.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

/// `confab join` with `--progress`, the secret only in its environment.
fn join(url: &str, name: &str, secret: &str) -> (Child, BufReader<ChildStdout>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["join", "--server", url, "--room", "locked", "--name", name])
        .args(["--bind", "127.0.0.1:0", "--progress", "--duration", "20"])
        .env("CONFAB_SECRET", secret)
        .stdout(Stdio::piped())
        .spawn()
        .expect("confab join");
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    (child, stdout)
}

/// Reads progress lines until one satisfies `wanted` (then returns it), or until the process
/// ends (then returns None). Every line read is kept in `seen`.
fn until(
    out: &mut BufReader<ChildStdout>,
    seen: &mut Vec<serde_json::Value>,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> Option<serde_json::Value> {
    for line in out.lines() {
        let line: serde_json::Value =
            serde_json::from_str(&line.expect("stdout")).expect("a JSON progress line");
        seen.push(line.clone());
        if wanted(&line) {
            return Some(line);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_from_the_environment_guards_the_room() {
    let (server, url) = common::local::server().await;
    tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        let (mut alice, mut alice_out) = join(&url, "alice", "open-sesame");
        until(&mut alice_out, &mut seen, |l| l["event"] == "joined")
            .expect("alice creates the room with her secret");

        let (mut mallory, mut mallory_out) = join(&url, "mallory", "guess");
        let refused = until(&mut mallory_out, &mut seen, |l| l["event"] == "error");
        let _ = mallory.kill();
        let _ = mallory.wait();
        let refused = refused.unwrap_or_else(|| panic!("no error for a wrong secret: {seen:?}"));
        assert!(
            refused["message"]
                .as_str()
                .is_some_and(|m| m.contains("wrong-secret")),
            "{refused}"
        );
        assert!(
            !seen.iter().any(|l| l["event"] == "participant-joined"),
            "mallory saw someone in the room: {seen:?}"
        );

        let (mut carol, mut carol_out) = join(&url, "carol", "open-sesame");
        let met = until(&mut carol_out, &mut seen, |l| {
            l["event"] == "participant-joined" && l["id"] == "alice"
        });
        for child in [&mut carol, &mut alice] {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert!(
            met.is_some(),
            "carol, with the secret, did not meet alice: {seen:?}"
        );
    })
    .await
    .expect("the joins");
    server.shutdown().await.expect("server");
}
