//! Where the call's signalling runs: the server the user named, or the one this app hosts
//! (started on the first join without a server, kept for the app's lifetime), and the links
//! others open to join.

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::sync::Mutex;

use crate::invite;

/// The server a call connects to and how others reach it.
pub struct Signalling {
    /// What this app connects to (the embedded server over loopback when hosting).
    pub server: String,
    /// The base of the invite link.
    pub invite_base: String,
    /// Nobody on another machine can open the invite (loopback only).
    pub this_machine_only: bool,
}

/// The user's server, or this app's own, started on `bind` if it is not running yet.
pub async fn signalling_for(
    requested: Option<String>,
    embedded: &Mutex<Option<confab_signal::Server>>,
    bind: SocketAddr,
) -> Result<Signalling, String> {
    if let Some(url) = requested.filter(|s| !s.trim().is_empty()) {
        let local = url::Url::parse(&url).is_ok_and(|u| match u.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        });
        return Ok(Signalling {
            server: url.clone(),
            invite_base: url,
            this_machine_only: local,
        });
    }
    let mut embedded = embedded.lock().await;
    if embedded.is_none() {
        // Browser guests get the UI from disk: the checkout's (scripts/run.sh sets these) or
        // the installed package's; the app's own copy is compiled into it.
        let mut config = confab_signal::Config {
            ui_dir: asset_dir("CONFAB_UI_DIR", "ui"),
            socketio_client_dir: asset_dir("CONFAB_SOCKETIO_CLIENT_DIR", "socket.io-client"),
            ..Default::default()
        };
        // Without the guests' Socket.IO client their page cannot work: the app still hosts
        // its own call, and serves guests no page rather than a broken one.
        if let Some(problem) = config.guest_page_problem() {
            tracing::warn!("hosting without the browser guests' page: {problem}");
            config.ui_dir = None;
        }
        let s = confab_signal::Server::start(bind, config)
            .await
            .map_err(|e| format!("hosting the signalling server: {e}"))?;
        *embedded = Some(s);
    }
    let addr = embedded
        .as_ref()
        .map(|s| s.local_addr())
        .ok_or("no server")?;
    let lan = match addr.ip().is_unspecified() {
        true => local_ip_address::local_ip().ok(),
        false => None,
    };
    let urls = invite::hosted_urls(addr, lan);
    Ok(Signalling {
        server: urls.own,
        invite_base: urls.invite,
        this_machine_only: urls.this_machine_only,
    })
}

/// A directory of files served to browser guests: `env` when set (not empty), else the installed
/// package's `/usr/share/confab/<name>` (found beside the binary, so any prefix works).
fn asset_dir(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(env).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?.join("share/confab").join(name);
    dir.is_dir().then_some(dir)
}
