//! Desktop notifications for what happens in a call while the window is not in front: a chat
//! message, someone joining, a file offered. What to say and when to stay quiet is decided
//! by [`Notifier`] without Tauri (time is an input, tested below); [`desktop`] is the glue
//! that `bridge::forward` calls, showing notices through tauri-plugin-notification (the
//! desktop's notification server, over D-Bus), unless the settings turned them off
//! ([`Wanted`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use confab_engine::call::{CallEvent, Direction, TransferStatus};

/// At most this many notifications at once…
pub const BURST: u32 = 3;
/// …then one more each this long: a participant flooding the chat (the engine admits 20
/// messages a second) must not bury the desktop in notifications. What is held back is
/// counted and said in the next one.
pub const REFILL: Duration = Duration::from_secs(5);
/// A chat message is cut to this many characters in its notification (the chat shows it all).
pub const BODY_CHARS: usize = 160;

/// One notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

/// Decides the notifications for one call's events.
#[derive(Debug)]
pub struct Notifier {
    names: HashMap<String, String>,
    tokens: u32,
    refilled: Instant,
    held_back: u32,
}

impl Notifier {
    pub fn new(now: Instant) -> Self {
        Self {
            names: HashMap::new(),
            tokens: BURST,
            refilled: now,
            held_back: 0,
        }
    }

    /// The notification for `event` at `now`, if it deserves one; `quiet` says whether the
    /// person wants none now — the window is in front (they see the call already) or they
    /// turned notifications off: nothing is shown, nothing counted, but the names of those
    /// who join are still learnt for later notices. Asked only for events worth a notice.
    pub fn on_event(
        &mut self,
        event: &CallEvent,
        quiet: impl FnOnce() -> bool,
        now: Instant,
    ) -> Option<Notice> {
        if let CallEvent::ParticipantJoined { id, name } = event {
            self.names.insert(id.clone(), name.clone());
        }
        let notice = self.notice(event)?;
        if quiet() {
            return None;
        }
        self.refill(now);
        if self.tokens == 0 {
            self.held_back += 1;
            return None;
        }
        self.tokens -= 1;
        let held = std::mem::take(&mut self.held_back);
        Some(match held {
            0 => notice,
            n => Notice {
                body: format!("{} (and {n} more while you were away)", notice.body),
                ..notice
            },
        })
    }

    fn refill(&mut self, now: Instant) {
        let since = now.saturating_duration_since(self.refilled);
        let earned = (since.as_millis() / REFILL.as_millis()) as u32;
        if earned > 0 {
            self.tokens = (self.tokens + earned).min(BURST);
            self.refilled += REFILL * earned;
        }
        if self.tokens == BURST {
            self.refilled = now;
        }
    }

    fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }

    /// What `event` would say, focus and rate aside.
    fn notice(&self, event: &CallEvent) -> Option<Notice> {
        match event {
            CallEvent::Chat { from, text, .. } => Some(Notice {
                title: self.name(from).to_owned(),
                body: shorten(text, BODY_CHARS),
            }),
            CallEvent::ParticipantJoined { name, .. } => Some(Notice {
                title: format!("{name} joined the call"),
                body: String::new(),
            }),
            CallEvent::Transfer(t)
                if t.direction == Direction::Received && t.status == TransferStatus::Offered =>
            {
                Some(Notice {
                    title: format!("{} offers a file", self.name(&t.peer)),
                    body: format!("{} ({})", t.name, human_size(t.size)),
                })
            }
            _ => None,
        }
    }
}

/// `text` on one line, cut at `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// Escapes the characters the notification spec's body markup gives meaning to: peer text
/// is shown as text, never as markup (a server that takes markup turns `&lt;` back into `<`).
fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Whether the desktop's notification server renders markup in bodies (asked once; D-Bus).
fn server_takes_markup() -> bool {
    static TAKES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TAKES.get_or_init(|| {
        notify_rust::get_capabilities()
            .map(|caps| caps.iter().any(|c| c == "body-markup"))
            .unwrap_or(false)
    })
}

/// Whether the person wants desktop notifications at all: the settings' switch, managed as
/// app state so that a change applies to the call in progress.
#[derive(Debug)]
pub struct Wanted(AtomicBool);

impl Wanted {
    pub fn new(on: bool) -> Self {
        Self(AtomicBool::new(on))
    }

    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The function `bridge::forward` gives each event to: shows the [`Notifier`]'s notices for
/// `window`'s call while that window is not focused and notifications are [`Wanted`].
pub fn desktop(window: &tauri::Window) -> impl FnMut(&CallEvent) + Send + 'static {
    use tauri::Manager;
    use tauri_plugin_notification::NotificationExt;
    let app = window.app_handle().clone();
    let label = window.label().to_owned();
    let mut notifier = Notifier::new(Instant::now());
    move |event| {
        let quiet = || {
            // Not managed (never, once the app has started): notifications stay on.
            !app.try_state::<Wanted>().is_none_or(|w| w.get())
                || app
                    .get_webview_window(&label)
                    .and_then(|w| w.is_focused().ok())
                    .unwrap_or(true)
        };
        let Some(notice) = notifier.on_event(event, quiet, Instant::now()) else {
            return;
        };
        let app = app.clone();
        // Asking the server's capabilities is a blocking D-Bus call.
        tauri::async_runtime::spawn_blocking(move || {
            let body = match server_takes_markup() {
                true => escape_markup(&notice.body),
                false => notice.body,
            };
            let mut builder = app.notification().builder().title(notice.title);
            if !body.is_empty() {
                builder = builder.body(body);
            }
            if let Err(e) = builder.show() {
                tracing::warn!("notification not shown: {e}");
            }
        });
    }
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} bytes"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_engine::call::TransferInfo;

    fn chat(from: &str, text: &str) -> CallEvent {
        CallEvent::Chat {
            from: from.into(),
            id: "1".into(),
            text: text.into(),
        }
    }

    fn joined(id: &str, name: &str) -> CallEvent {
        CallEvent::ParticipantJoined {
            id: id.into(),
            name: name.into(),
        }
    }

    #[test]
    fn chat_joins_and_offered_files_are_said_with_names() {
        let t0 = Instant::now();
        let mut n = Notifier::new(t0);
        assert_eq!(
            n.on_event(&joined("b1", "Bob"), || false, t0),
            Some(Notice {
                title: "Bob joined the call".into(),
                body: String::new()
            })
        );
        assert_eq!(
            n.on_event(&chat("b1", "<b>hi</b>\nthere"), || false, t0),
            Some(Notice {
                title: "Bob".into(),
                body: "<b>hi</b> there".into()
            }),
            "the text as it is, on one line (the notification server shows it as text)"
        );
        let offer = TransferInfo {
            id: "t".into(),
            peer: "b1".into(),
            name: "notes.pdf".into(),
            size: 2_500_000,
            sha256: String::new(),
            direction: Direction::Received,
            status: TransferStatus::Offered,
            bytes: 0,
            path: None,
            reason: None,
        };
        assert_eq!(
            n.on_event(&CallEvent::Transfer(offer.clone()), || false, t0),
            Some(Notice {
                title: "Bob offers a file".into(),
                body: "notes.pdf (2.5 MB)".into()
            })
        );
        let progress = TransferInfo {
            status: TransferStatus::Receiving,
            ..offer
        };
        assert_eq!(
            n.on_event(&CallEvent::Transfer(progress), || false, t0),
            None
        );
        assert_eq!(n.on_event(&CallEvent::Left, || false, t0), None);
    }

    #[test]
    fn names_learnt_while_quiet_title_later_notices() {
        // Notifications off (or the window in front) when Bob joins, on when he writes.
        let t0 = Instant::now();
        let mut n = Notifier::new(t0);
        assert_eq!(n.on_event(&joined("b1", "Bob"), || true, t0), None);
        assert_eq!(
            n.on_event(&chat("b1", "hi"), || false, t0).map(|x| x.title),
            Some("Bob".into())
        );
    }

    #[test]
    fn nothing_while_the_window_is_in_front() {
        let t0 = Instant::now();
        let mut n = Notifier::new(t0);
        for _ in 0..10 {
            assert_eq!(n.on_event(&chat("a", "hi"), || true, t0), None);
        }
        // Nothing was used up or held back meanwhile.
        assert_eq!(
            n.on_event(&chat("a", "hi"), || false, t0).map(|x| x.body),
            Some("hi".into())
        );
    }

    #[test]
    fn a_flood_gives_a_burst_then_one_each_refill_counting_the_rest() {
        let t0 = Instant::now();
        let mut n = Notifier::new(t0);
        let shown: Vec<Notice> = (0..50)
            .filter_map(|i| n.on_event(&chat("a", &format!("m{i}")), || false, t0))
            .collect();
        assert_eq!(shown.len(), BURST as usize);
        let next = n
            .on_event(&chat("a", "late"), || false, t0 + REFILL)
            .expect("one more after the refill");
        assert_eq!(next.body, "late (and 47 more while you were away)");
        assert_eq!(n.on_event(&chat("a", "x"), || false, t0 + REFILL), None);
    }

    #[test]
    fn markup_in_peer_text_is_escaped_for_servers_that_render_it() {
        assert_eq!(
            escape_markup("<img src=x onerror=1> & <b>"),
            "&lt;img src=x onerror=1&gt; &amp; &lt;b&gt;"
        );
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "é".repeat(BODY_CHARS + 10);
        let cut = shorten(&long, BODY_CHARS);
        assert_eq!(cut.chars().count(), BODY_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(shorten("short", BODY_CHARS), "short");
    }
}
