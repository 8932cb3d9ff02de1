//! Hosts on one machine for tests of what crosses a network: network namespaces joined by
//! veth pairs to a bridge in a "switch" namespace, on 10.77.0.0/24 (addresses of these
//! namespaces only; nothing leaves the machine). Needs root (`ip netns`, `nft`).
//!
//! Impairments are what a real network does to a host: a blackout (nftables drops every
//! packet in and out, the interface stays up), an address change (a laptop moving to
//! another network: the new address is added, the old one removed), and a poor link (delay,
//! jitter, loss, a narrow rate: `confab netem` in a namespace between the host and the
//! switch, [`Lan::host_behind_link`]).

#![allow(dead_code)]

use std::io::{BufRead, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The `confab` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_confab");

/// Runs `ip ARGS`, panicking with its stderr when it fails.
pub fn ip(args: &[&str]) {
    run("ip", args, None);
}

/// Runs `program ARGS` (with `stdin` fed to it), panicking with its stderr when it fails.
pub fn run(program: &str, args: &[&str], stdin: Option<&str>) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .expect("writing stdin");
    }
    let out = child.wait_with_output().expect("waiting");
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace, deleted on drop (also when a test panics).
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: String) -> Self {
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        Self { name }
    }

    /// `ip -n NAME ARGS`.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// `sysctl -w SETTING` in this namespace.
    pub fn sysctl(&self, setting: &str) {
        run(
            "ip",
            &["netns", "exec", &self.name, "sysctl", "-q", "-w", setting],
            None,
        );
    }

    /// A command that runs in this namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// One host on the LAN: its namespace, its interface (`eth0`) and address.
pub struct Host {
    pub ns: Netns,
    pub addr: String,
}

impl Host {
    /// Drops every packet in and out (not loopback) until [`Host::restore`]; the interface
    /// stays up, as when a Wi-Fi network stops passing traffic.
    pub fn blackout(&self) {
        let rules = "table inet blackout {\n\
             chain input { type filter hook input priority 0; iifname != \"lo\" drop; }\n\
             chain output { type filter hook output priority 0; oifname != \"lo\" drop; }\n\
             }\n";
        run(
            "ip",
            &["netns", "exec", &self.ns.name, "nft", "-f", "-"],
            Some(rules),
        );
    }

    pub fn restore(&self) {
        run(
            "ip",
            &[
                "netns",
                "exec",
                &self.ns.name,
                "nft",
                "delete",
                "table",
                "inet",
                "blackout",
            ],
            None,
        );
    }

    /// Moves the host to `new` (another address on the LAN): the new one is added, then the
    /// old one removed, as when a laptop joins another network.
    pub fn change_address(&mut self, new: &str) {
        // Without this, removing the interface's first address removes every other address
        // of its subnet with it, and the host is left with none.
        self.ns.sysctl("net.ipv4.conf.eth0.promote_secondaries=1");
        self.ns
            .ip(&["addr", "add", &format!("{new}/24"), "dev", "eth0"]);
        self.ns
            .ip(&["addr", "del", &format!("{}/24", self.addr), "dev", "eth0"]);
        self.addr = new.to_owned();
    }
}

/// A switch (a bridge in its own namespace) and the hosts plugged into it.
pub struct Lan {
    pub switch: Netns,
    tag: String,
    next: u8,
}

impl Lan {
    /// `tag` keeps the namespaces of concurrent tests apart.
    pub fn new(tag: &str) -> Self {
        let tag = format!("{tag}{}", std::process::id() % 100_000);
        let switch = Netns::new(format!("cfsw-{tag}"));
        switch.ip(&["link", "add", "br0", "type", "bridge"]);
        switch.ip(&["link", "set", "br0", "up"]);
        Self {
            switch,
            tag,
            next: 1,
        }
    }

    /// A new host at 10.77.0.N.
    pub fn host(&mut self, role: &str) -> Host {
        let (n, ns) = self.new_host_ns(role);
        let outside = self.plug_in(&ns, "eth0", &format!("cfo{n}{}", self.tag));
        ip(&["link", "set", &outside, "netns", &self.switch.name]);
        self.switch.ip(&["link", "set", &outside, "master", "br0"]);
        self.switch.ip(&["link", "set", &outside, "up"]);
        no_offloads(&self.switch, &outside);
        self.address(n, ns)
    }

    /// A new host whose link to the switch goes through `confab netem` in a namespace of
    /// its own, starting with the profiles `up` (from the host) and `down` (to it).
    pub fn host_behind_link(&mut self, role: &str, up: &str, down: &str) -> (Host, Link) {
        let (n, ns) = self.new_host_ns(role);
        let middle = Netns::new(format!("cfl{role}-{}", self.tag));
        // The middle only forwards frames: no addresses, no IPv6 of its own to answer with.
        middle.sysctl("net.ipv6.conf.all.disable_ipv6=1");
        middle.sysctl("net.ipv6.conf.default.disable_ipv6=1");
        let inner = self.plug_in(&ns, "eth0", &format!("cfm{n}{}", self.tag));
        ip(&["link", "set", &inner, "netns", &middle.name]);
        middle.ip(&["link", "set", &inner, "name", "inner"]);
        let (to_switch, outside) = (
            short(&format!("cfx{n}{}", self.tag)),
            short(&format!("cfo{n}{}", self.tag)),
        );
        ip(&[
            "link", "add", &to_switch, "type", "veth", "peer", "name", &outside,
        ]);
        ip(&["link", "set", &to_switch, "netns", &middle.name]);
        middle.ip(&["link", "set", &to_switch, "name", "outer"]);
        ip(&["link", "set", &outside, "netns", &self.switch.name]);
        self.switch.ip(&["link", "set", &outside, "master", "br0"]);
        self.switch.ip(&["link", "set", &outside, "up"]);
        no_offloads(&self.switch, &outside);
        for end in ["inner", "outer"] {
            middle.ip(&["link", "set", end, "up"]);
            no_offloads(&middle, end);
        }
        let link = Link::start(middle, up, down);
        (self.address(n, ns), link)
    }

    fn new_host_ns(&mut self, role: &str) -> (u8, Netns) {
        let n = self.next;
        self.next += 1;
        let ns = Netns::new(format!("cf{role}-{}", self.tag));
        // IPv4 only: an IPv6 link-local address appears a second or two after the link comes
        // up, and Chromium aborts the loads in flight on that change (ERR_NETWORK_CHANGED):
        // a guest page then lacks a module and never joins.
        ns.sysctl("net.ipv6.conf.all.disable_ipv6=1");
        ns.sysctl("net.ipv6.conf.default.disable_ipv6=1");
        (n, ns)
    }

    /// A veth pair: one end moved into `ns` as `name` (offloads off), the other (returned)
    /// left in this namespace under `other`.
    fn plug_in(&self, ns: &Netns, name: &str, other: &str) -> String {
        let inside = short(&format!("cfi{}", &other[3..]));
        let other = short(other);
        ip(&[
            "link", "add", &inside, "type", "veth", "peer", "name", &other,
        ]);
        ip(&["link", "set", &inside, "netns", &ns.name]);
        ns.ip(&["link", "set", &inside, "name", name]);
        ns.ip(&["link", "set", name, "up"]);
        no_offloads(ns, name);
        other
    }

    fn address(&self, n: u8, ns: Netns) -> Host {
        let addr = format!("10.77.0.{n}");
        ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
        Host { ns, addr }
    }
}

/// Interface names are at most 15 bytes.
fn short(name: &str) -> String {
    name.chars().take(15).collect()
}

/// Checksums and segmentation done in software: a frame that crosses `confab netem` (read
/// from a packet socket, written to another interface) must be complete, not left for a
/// NIC to finish. Applied to every interface so a host's behaviour does not depend on
/// whether it is behind a link.
fn no_offloads(ns: &Netns, iface: &str) {
    run(
        "ip",
        &[
            "netns", "exec", &ns.name, "ethtool", "-K", iface, "tx", "off", "tso", "off", "gso",
            "off", "gro", "off",
        ],
        None,
    );
}

/// `confab netem` between a host and the switch; stopped (and its namespace deleted) on drop.
pub struct Link {
    process: Recorded,
    control: std::process::ChildStdin,
    pub ns: Netns,
}

impl Link {
    fn start(ns: Netns, up: &str, down: &str) -> Self {
        let mut c = ns.command(BIN);
        c.args([
            "netem", "--inner", "inner", "--outer", "outer", "--up", up, "--down", down,
        ]);
        c.stdin(Stdio::piped());
        let since = Instant::now();
        let mut process = Recorded::spawn(c);
        let control = process.child.stdin.take().expect("piped stdin");
        process.first_line_after(
            since,
            Duration::from_secs(10),
            "the link emulator ready",
            |l| l.contains("\"ready\""),
        );
        Self {
            process,
            control,
            ns,
        }
    }

    /// Changes what the link does: `direction` is `up`, `down` or `both`; returns once the
    /// emulator applied it.
    pub fn set(&mut self, direction: &str, profile: &str) {
        let since = Instant::now();
        writeln!(self.control, "{direction} {profile}").expect("writing to the link emulator");
        self.process
            .first_line_after(since, Duration::from_secs(5), "the profile applied", |l| {
                l.contains("\"applied\"")
            });
    }

    /// The emulator's counters: `{"up": {received, sent, overflowed, send_errors}, "down": …}`.
    pub fn stats(&mut self) -> serde_json::Value {
        let since = Instant::now();
        writeln!(self.control, "stats").expect("writing to the link emulator");
        let at = self
            .process
            .first_line_after(since, Duration::from_secs(5), "stats", |l| {
                l.contains("\"stats\"")
            });
        let lines = self
            .process
            .lines
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (_, line) = lines
            .iter()
            .find(|(t, l)| *t == at && l.contains("\"stats\""))
            .expect("stats line");
        serde_json::from_str(line).expect("stats JSON")
    }
}

/// Output lines with their arrival times.
pub type Lines = Vec<(Instant, String)>;

/// A child process whose stdout lines are recorded with their arrival time; killed on drop.
pub struct Recorded {
    pub child: Child,
    /// The lines, and a condition notified at each new one.
    pub lines: Arc<(Mutex<Lines>, Condvar)>,
}

impl Recorded {
    pub fn spawn(mut command: Command) -> Self {
        // CONFAB_TEST_STDERR=1 shows the processes' logs (debugging a failure).
        let stderr = if std::env::var_os("CONFAB_TEST_STDERR").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawning");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines: Arc<(Mutex<Lines>, Condvar)> = Arc::default();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                sink.0
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((Instant::now(), line));
                sink.1.notify_all();
            }
        });
        Self { child, lines }
    }

    /// The first recorded JSON line at or after `since` for which `pred` holds, within
    /// `within` (panics otherwise).
    pub fn first_after(
        &self,
        since: Instant,
        within: Duration,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> Instant {
        self.first_line_after(since, within, what, |line| {
            serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| pred(&v))
        })
    }

    /// Like [`Self::first_after`], with the line itself.
    pub fn first_json_after(
        &self,
        since: Instant,
        within: Duration,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> (Instant, serde_json::Value) {
        let at = self.first_after(since, within, what, &pred);
        let lines = self
            .lines
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let value = lines
            .iter()
            .filter(|(t, _)| *t == at)
            .filter_map(|(_, l)| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| pred(v))
            .expect("the line just found");
        (at, value)
    }

    /// The first recorded line at or after `since` for which `pred` holds, within `within`.
    pub fn first_line_after(
        &self,
        since: Instant,
        within: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> Instant {
        let deadline = Instant::now() + within;
        let (lock, changed) = &*self.lines;
        let mut lines = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            let found = lines.iter().find(|(at, line)| *at >= since && pred(line));
            if let Some((at, _)) = found {
                return *at;
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "no {what} within {within:?}; the last lines: {:?}",
                lines
                    .iter()
                    .rev()
                    .take(8)
                    .map(|(_, l)| l)
                    .collect::<Vec<_>>()
            );
            lines = changed
                .wait_timeout(lines, deadline - now)
                .expect("lines")
                .0;
        }
    }

    /// The recorded JSON lines matching `pred` between `from` and `to`.
    pub fn json_between(
        &self,
        from: Instant,
        to: Instant,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        self.lines
            .0
            .lock()
            .expect("lines")
            .iter()
            .filter(|(at, _)| *at >= from && *at <= to)
            .filter_map(|(_, line)| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|v| pred(v))
            .collect()
    }

    /// Every recorded JSON line matching `pred` between `from` and `to`.
    pub fn count(
        &self,
        from: Instant,
        to: Instant,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> usize {
        self.lines
            .0
            .lock()
            .expect("lines")
            .iter()
            .filter(|(at, line)| {
                *at >= from
                    && *at <= to
                    && serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| pred(&v))
            })
            .count()
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
