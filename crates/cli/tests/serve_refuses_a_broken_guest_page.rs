//! `confab serve` where npm's socket.io-client is missing (no `scripts/setup.sh`, a partial
//! install) refuses to start and says why, instead of serving browser guests a page that
//! loads and then fails with "io is not defined" (issue 10).

use std::process::{Command, Stdio};
use std::time::Duration;

/// How long the refusal may take: it comes before binding anything.
const REFUSED_WITHIN: Duration = Duration::from_secs(20);

#[test]
fn serve_without_the_socketio_client_refuses_to_start_and_says_why() {
    let empty = std::env::temp_dir().join(format!("confab-no-client-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("temp dir");
    let child = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["serve", "--bind", "127.0.0.1:0", "--socketio-client-dir"])
        .arg(&empty)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("confab serve");
    let pid = child.id();
    let (done, exited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match exited.recv_timeout(REFUSED_WITHIN) {
        Ok(output) => output.expect("output"),
        Err(_) => {
            // Still serving: stop the server this test started, by its PID.
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("confab serve still running after {REFUSED_WITHIN:?} without a client");
        }
    };
    let status = output.status;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!status.success(), "exit status {status}");
    assert!(
        stderr.contains("socket.io.min.js") && stderr.contains("browser guests"),
        "the reason: {stderr}"
    );
    assert!(
        !stdout.contains("listening"),
        "it must not have served: {stdout}"
    );
    let _ = std::fs::remove_dir_all(&empty);
}
