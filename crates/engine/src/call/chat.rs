//! Chat: message ids, and showing each message exactly once whichever path delivered it
//! (the data channel, or the signalling fallback while a channel cannot open).
//!
//! De-duplication is per `(sender, id)`, with the sender as the server or the pair's own
//! channel names it, so nobody can suppress another participant's messages by sending their
//! ids first; and it remembers at most [`SEEN_PER_SENDER`] ids per sender, so a peer sending
//! endless distinct ids costs bounded memory.

use std::collections::{HashMap, HashSet, VecDeque};

/// Message ids remembered per sender. A duplicate arrives within seconds of the original (the
/// two paths race); 512 messages is far more than a person sends in that time.
pub const SEEN_PER_SENDER: usize = 512;

#[derive(Debug, Default)]
struct Seen {
    ids: HashSet<String>,
    order: VecDeque<String>,
}

/// The chat state of a call.
#[derive(Debug, Default)]
pub struct ChatLog {
    seen: HashMap<String, Seen>,
    sent: u64,
}

impl ChatLog {
    /// True the first time `from` sends `id`; false for a repeat.
    pub fn first_time(&mut self, from: &str, id: &str) -> bool {
        let seen = self.seen.entry(from.to_owned()).or_default();
        if seen.ids.contains(id) {
            return false;
        }
        if seen.order.len() == SEEN_PER_SENDER
            && let Some(oldest) = seen.order.pop_front()
        {
            seen.ids.remove(&oldest);
        }
        seen.ids.insert(id.to_owned());
        seen.order.push_back(id.to_owned());
        true
    }

    /// A participant left: its ids are forgotten.
    pub fn forget(&mut self, from: &str) {
        self.seen.remove(from);
    }

    /// A fresh id for a message of ours: unique across the room (our id, the process, a
    /// counter).
    pub fn next_id(&mut self, me: &str) -> String {
        self.sent += 1;
        format!("{me}-{}-{}", std::process::id(), self.sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_shown_once_whichever_path_brings_it_first() {
        let mut log = ChatLog::default();
        assert!(log.first_time("alice", "m1"));
        assert!(!log.first_time("alice", "m1"));
    }

    #[test]
    fn one_sender_cannot_suppress_anothers_ids() {
        let mut log = ChatLog::default();
        assert!(log.first_time("mallory", "bob-1"));
        assert!(
            log.first_time("bob", "bob-1"),
            "bob's own message still shows"
        );
    }

    #[test]
    fn memory_per_sender_is_bounded_forgetting_the_oldest() {
        let mut log = ChatLog::default();
        for i in 0..(SEEN_PER_SENDER + 100) {
            assert!(log.first_time("flood", &i.to_string()));
        }
        assert_eq!(log.seen["flood"].ids.len(), SEEN_PER_SENDER);
        assert!(log.first_time("flood", "0"), "the oldest was forgotten");
        assert!(!log.first_time("flood", &(SEEN_PER_SENDER + 99).to_string()));
        log.forget("flood");
        assert!(log.seen.is_empty());
    }

    #[test]
    fn own_ids_are_distinct() {
        let mut log = ChatLog::default();
        assert_ne!(log.next_id("me"), log.next_id("me"));
    }
}
