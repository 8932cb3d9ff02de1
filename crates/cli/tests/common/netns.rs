//! Hosts on one machine for tests of what crosses a network: network namespaces joined by
//! veth pairs to a bridge in a "switch" namespace, on 10.77.0.0/24 (addresses of these
//! namespaces only; nothing leaves the machine). Needs root (`ip netns`, `nft`).
//!
//! Impairments are what a real network does to a host: a blackout (nftables drops every
//! packet in and out, the interface stays up), an address change (a laptop moving to
//! another network: the new address is added, the old one removed).

#![allow(dead_code)]

use std::io::{BufRead, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Runs `ip ARGS`, panicking with its stderr when it fails.
pub fn ip(args: &[&str]) {
    run("ip", args, None);
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) {
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
        run(
            "ip",
            &[
                "netns",
                "exec",
                &self.ns.name,
                "sysctl",
                "-q",
                "-w",
                "net.ipv4.conf.eth0.promote_secondaries=1",
            ],
            None,
        );
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
        let n = self.next;
        self.next += 1;
        let ns = Netns::new(format!("cf{role}-{}", self.tag));
        let (inside, outside) = (format!("cfi{n}{}", self.tag), format!("cfo{n}{}", self.tag));
        // Interface names are at most 15 bytes.
        let inside = inside.chars().take(15).collect::<String>();
        let outside = outside.chars().take(15).collect::<String>();
        ip(&[
            "link", "add", &inside, "type", "veth", "peer", "name", &outside,
        ]);
        ip(&["link", "set", &inside, "netns", &ns.name]);
        ip(&["link", "set", &outside, "netns", &self.switch.name]);
        ns.ip(&["link", "set", &inside, "name", "eth0"]);
        let addr = format!("10.77.0.{n}");
        ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
        ns.ip(&["link", "set", "eth0", "up"]);
        self.switch.ip(&["link", "set", &outside, "master", "br0"]);
        self.switch.ip(&["link", "set", &outside, "up"]);
        Host { ns, addr }
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
                sink.0.lock().expect("lines").push((Instant::now(), line));
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
        let mut lines = lock.lock().expect("lines");
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
