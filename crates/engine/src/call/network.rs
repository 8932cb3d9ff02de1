//! Noticing that this machine's network changed (a laptop moving from one network to
//! another: addresses come and go), so the call can reconnect signalling and restart ICE at
//! once instead of waiting for timeouts. Polled: one `getifaddrs` a second is cheap, and a
//! netlink listener would be Linux-only code for the same answer a second sooner.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

/// How often the interfaces' addresses are read.
pub const NETWORK_POLL: Duration = Duration::from_secs(1);

/// The addresses seen last, and whether a new reading differs.
#[derive(Debug, Default)]
pub struct NetworkWatch {
    last: Option<BTreeSet<IpAddr>>,
}

impl NetworkWatch {
    /// A new reading; true when it differs from the previous one (never for the first).
    pub fn changed(&mut self, now: BTreeSet<IpAddr>) -> bool {
        match self.last.replace(now) {
            Some(before) => Some(&before) != self.last.as_ref(),
            None => false,
        }
    }
}

/// This machine's addresses that a call can use: every interface's, but loopback and IPv6
/// link-local (neither reaches another machine).
pub fn local_addresses() -> BTreeSet<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return BTreeSet::new();
    };
    addrs
        .filter_map(|a| a.address)
        .filter_map(|s| {
            if let Some(v4) = s.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .filter(|ip| {
            !ip.is_loopback()
                && !matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(addrs: &[&str]) -> BTreeSet<IpAddr> {
        addrs
            .iter()
            .map(|a| a.parse().expect("an address"))
            .collect()
    }

    #[test]
    fn only_a_different_set_of_addresses_is_a_change() {
        let mut w = NetworkWatch::default();
        assert!(
            !w.changed(set(&["10.0.0.2"])),
            "the first reading is the baseline"
        );
        assert!(!w.changed(set(&["10.0.0.2"])));
        assert!(
            w.changed(set(&["10.0.0.2", "192.168.1.5"])),
            "an address came"
        );
        assert!(w.changed(set(&["192.168.1.5"])), "one went");
        assert!(!w.changed(set(&["192.168.1.5"])));
    }

    #[test]
    fn this_machine_has_no_loopback_among_its_call_addresses() {
        assert!(local_addresses().iter().all(|ip| !ip.is_loopback()));
    }
}
