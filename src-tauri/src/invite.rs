//! The addresses of a server this app hosts: the one the app itself connects to, and the one
//! it puts in the invite link. They differ when the server listens on every interface
//! (`--embedded-bind 0.0.0.0:3000`): the app reaches it over loopback, others at this
//! machine's network address, and `0.0.0.0` is neither. No Tauri here: tested without a window.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Where the app and others reach a server bound to `bound`; `lan` is this machine's
/// address on its default route, when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedUrls {
    /// What the app connects to.
    pub own: String,
    /// What the invite link starts with.
    pub invite: String,
    /// Only this machine can reach the server (a loopback address, or no network address to
    /// offer): the page says so beside the link.
    pub this_machine_only: bool,
}

pub fn hosted_urls(bound: SocketAddr, lan: Option<IpAddr>) -> HostedUrls {
    let url = |ip: IpAddr| format!("http://{}", SocketAddr::new(ip, bound.port()));
    if !bound.ip().is_unspecified() {
        return HostedUrls {
            own: url(bound.ip()),
            invite: url(bound.ip()),
            this_machine_only: bound.ip().is_loopback(),
        };
    }
    let loopback = match bound {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    match lan.filter(|ip| !ip.is_loopback() && !ip.is_unspecified()) {
        Some(ip) => HostedUrls {
            own: url(loopback),
            invite: url(ip),
            this_machine_only: false,
        },
        None => HostedUrls {
            own: url(loopback),
            invite: url(loopback),
            this_machine_only: true,
        },
    }
}

/// `server/?room=ROOM[&secret=S]`, with the secret percent-encoded: the link is all a guest
/// needs to join a room that has one.
pub fn invite_link(server: &str, room: &str, secret: Option<&str>) -> String {
    let mut link = match url::Url::parse(server) {
        Ok(u) => u,
        // A server URL the engine could connect to always parses; if not, the plain form.
        Err(_) => return format!("{server}/?room={room}"),
    };
    link.set_path("/");
    link.set_fragment(None);
    {
        let mut q = link.query_pairs_mut();
        q.clear().append_pair("room", room);
        if let Some(s) = secret.filter(|s| !s.is_empty()) {
            q.append_pair("secret", s);
        }
    }
    link.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_on_every_interface_is_offered_at_the_network_address() {
        let lan = "192.168.1.20".parse().ok();
        let urls = hosted_urls("0.0.0.0:3000".parse().unwrap(), lan);
        assert_eq!(urls.own, "http://127.0.0.1:3000");
        assert_eq!(urls.invite, "http://192.168.1.20:3000");
        assert!(!urls.this_machine_only);
    }

    #[test]
    fn a_loopback_server_or_no_network_is_for_this_machine_only() {
        let lan = "10.0.0.5".parse().ok();
        let on_loopback = hosted_urls("127.0.0.1:4000".parse().unwrap(), lan);
        assert_eq!(on_loopback.invite, "http://127.0.0.1:4000");
        assert!(on_loopback.this_machine_only);
        let offline = hosted_urls("[::]:4000".parse().unwrap(), None);
        assert_eq!(offline.own, "http://[::1]:4000");
        assert_eq!(offline.invite, "http://[::1]:4000");
        assert!(offline.this_machine_only);
    }

    #[test]
    fn a_server_on_one_address_is_reached_there_by_everyone() {
        let urls = hosted_urls("10.0.0.5:3000".parse().unwrap(), None);
        assert_eq!(
            (urls.own.as_str(), urls.invite.as_str()),
            ("http://10.0.0.5:3000", "http://10.0.0.5:3000")
        );
        assert!(!urls.this_machine_only);
    }

    #[test]
    fn the_link_carries_room_and_encoded_secret() {
        assert_eq!(
            invite_link("http://h:3000", "standup", None),
            "http://h:3000/?room=standup"
        );
        assert_eq!(
            invite_link("http://h:3000/", "standup", Some("a&b c")),
            "http://h:3000/?room=standup&secret=a%26b+c"
        );
        assert_eq!(
            invite_link("http://h:3000", "r", Some("")),
            "http://h:3000/?room=r",
            "an empty secret is no secret"
        );
    }
}
