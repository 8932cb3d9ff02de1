// Hosts on one machine for the JavaScript tests, as crates/cli/tests/common/netns.rs builds
// them for the Rust ones: network namespaces joined by veth pairs to a bridge in a "switch"
// namespace, on 10.77.0.0/24, plus a control link from the test's own namespace to a host
// (10.78.0.0/24) for driving what runs there (WebKitWebDriver). Addresses of these namespaces
// only; nothing leaves the machine. Needs root (ip netns, nft).

import { execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { CONFAB } from "./harness.mjs";

function run(cmd, args, input) {
  execFileSync(cmd, args, { input, stdio: [input === undefined ? "ignore" : "pipe", "ignore", "pipe"] });
}

const ip = (...args) => run("ip", args);

/**
 * Checksums and segmentation in software: a frame crossing `confab netem` must be complete
 * (crates/cli/tests/common/netns.rs says why).
 */
function noOffloads(ns, iface) {
  run("ip", ["netns", "exec", ns, "ethtool", "-K", iface, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]);
}

export class Lan {
  /** `tag` keeps the namespaces of concurrent tests apart. */
  constructor(tag) {
    this.tag = `${tag}${process.pid % 100000}`;
    this.namespaces = [];
    this.next = 1;
    this.switch = this.namespace(`cfsw-${this.tag}`);
    ip("-n", this.switch, "link", "add", "br0", "type", "bridge");
    ip("-n", this.switch, "link", "set", "br0", "up");
    // Deleted even when a test fails without reaching its `after`.
    process.once("exit", () => this.destroy());
  }

  namespace(name) {
    try {
      ip("netns", "del", name);
    } catch {}
    ip("netns", "add", name);
    ip("-n", name, "link", "set", "lo", "up");
    this.namespaces.push(name);
    return name;
  }

  /** A new host at 10.77.0.N: `{ ns, addr }`. */
  host(role) {
    const n = this.next++;
    const ns = this.namespace(`cf${role}-${this.tag}`);
    // IPv4 only: an IPv6 link-local address appears a second or two after the link comes up,
    // and Chromium aborts the loads in flight on that change (ERR_NETWORK_CHANGED).
    for (const key of ["all", "default"]) run("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", `net.ipv6.conf.${key}.disable_ipv6=1`]);
    this.plug(ns, n);
    return this.address(ns, n);
  }

  /**
   * A new host whose link to the switch goes through `confab netem` (in a namespace of its
   * own) with the profiles `up` (from the host) and `down` (to it): `{ host, link }`, where
   * `link.set(direction, profile)` changes it (direction up, down or both) and resolves once
   * applied. The emulator stops when this process exits (its stdin closes).
   */
  async hostBehindLink(role, up, down) {
    const n = this.next++;
    const ns = this.namespace(`cf${role}-${this.tag}`);
    for (const key of ["all", "default"]) run("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", `net.ipv6.conf.${key}.disable_ipv6=1`]);
    const middle = this.namespace(`cfl${role}-${this.tag}`);
    run("ip", ["netns", "exec", middle, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]);
    // host eth0 <-> middle "inner"; middle "outer" <-> the switch.
    const a = `cfi${n}${this.tag}`.slice(0, 15);
    const b = `cfm${n}${this.tag}`.slice(0, 15);
    ip("link", "add", a, "type", "veth", "peer", "name", b);
    ip("link", "set", a, "netns", ns);
    ip("-n", ns, "link", "set", a, "name", "eth0");
    ip("-n", ns, "link", "set", "eth0", "up");
    noOffloads(ns, "eth0");
    ip("link", "set", b, "netns", middle);
    ip("-n", middle, "link", "set", b, "name", "inner");
    this.plug(middle, n, "outer");
    for (const end of ["inner", "outer"]) {
      ip("-n", middle, "link", "set", end, "up");
      noOffloads(middle, end);
    }
    const child = spawn("ip", ["netns", "exec", middle, CONFAB, "netem", "--inner", "inner", "--outer", "outer", "--up", up, "--down", down], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const waiting = [];
    createInterface({ input: child.stdout }).on("line", (line) => {
      const w = waiting.shift();
      if (w) w(JSON.parse(line));
    });
    const next = () => new Promise((resolve) => waiting.push(resolve));
    const ready = await next();
    if (ready.event !== "ready") throw new Error(`confab netem: ${JSON.stringify(ready)}`);
    const link = {
      async set(direction, profile) {
        const reply = next();
        child.stdin.write(`${direction} ${profile}\n`);
        const r = await reply;
        if (r.event !== "applied") throw new Error(`confab netem refused ${profile}: ${JSON.stringify(r)}`);
      },
      async stats() {
        const reply = next();
        child.stdin.write("stats\n");
        return reply;
      },
      stop() {
        child.stdin.end();
      },
    };
    return { host: this.address(ns, n), link };
  }

  /** A veth from `ns` (named `name` there, offloads off) to the switch's bridge. */
  plug(ns, n, name = "eth0") {
    const inside = `cfj${n}${this.tag}`.slice(0, 15);
    const outside = `cfo${n}${this.tag}`.slice(0, 15);
    ip("link", "add", inside, "type", "veth", "peer", "name", outside);
    ip("link", "set", inside, "netns", ns);
    ip("link", "set", outside, "netns", this.switch);
    ip("-n", ns, "link", "set", inside, "name", name);
    ip("-n", ns, "link", "set", name, "up");
    noOffloads(ns, name);
    ip("-n", this.switch, "link", "set", outside, "master", "br0");
    ip("-n", this.switch, "link", "set", outside, "up");
    noOffloads(this.switch, outside);
  }

  address(ns, n) {
    const addr = `10.77.0.${n}`;
    ip("-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0");
    return { ns, addr };
  }

  /**
   * A point-to-point link from this process's namespace to `host`, outside the LAN; returns
   * the host's address on it. Blackouts and address changes leave it alone.
   */
  control(host) {
    const mine = `cfc${this.tag}`.slice(0, 15);
    const theirs = `cfd${this.tag}`.slice(0, 15);
    ip("link", "add", mine, "type", "veth", "peer", "name", theirs);
    this.controlLink = mine;
    ip("link", "set", theirs, "netns", host.ns);
    ip("-n", host.ns, "link", "set", theirs, "name", "ctl");
    ip("addr", "add", "10.78.0.1/24", "dev", mine);
    ip("link", "set", mine, "up");
    ip("-n", host.ns, "addr", "add", "10.78.0.2/24", "dev", "ctl");
    ip("-n", host.ns, "link", "set", "ctl", "up");
    return "10.78.0.2";
  }

  /** Drops every packet in and out of the host's LAN interface until restore(). */
  blackout(host) {
    const rules = `table inet blackout {
      chain input { type filter hook input priority 0; iifname "eth0" drop; }
      chain output { type filter hook output priority 0; oifname "eth0" drop; }
    }\n`;
    run("ip", ["netns", "exec", host.ns, "nft", "-f", "-"], rules);
  }

  restore(host) {
    run("ip", ["netns", "exec", host.ns, "nft", "delete", "table", "inet", "blackout"]);
  }

  /** Moves the host to `addr` (the new address added, then the old one removed). */
  changeAddress(host, addr) {
    run("ip", ["netns", "exec", host.ns, "sysctl", "-q", "-w", "net.ipv4.conf.eth0.promote_secondaries=1"]);
    ip("-n", host.ns, "addr", "add", `${addr}/24`, "dev", "eth0");
    ip("-n", host.ns, "addr", "del", `${host.addr}/24`, "dev", "eth0");
    host.addr = addr;
  }

  /**
   * Removes the control link from this process's namespace, then the namespaces. The link
   * goes first and explicitly: deleting the host's namespace did not take its veth end here
   * with it — measured still up with 10.78.0.1 (and an IPv6 link-local address) a minute
   * after this file's last test, with no process left in that namespace. Every later test
   * file in the same runner then had a second interface that browsers and the app gather
   * candidates on, and that could vanish mid-test: a network change, the kind that makes
   * Chromium abort page loads with ERR_NETWORK_CHANGED (seen in sessions 12 and 14, cause
   * not proven).
   */
  destroy() {
    if (this.controlLink) {
      try {
        ip("link", "del", this.controlLink);
      } catch {}
      this.controlLink = null;
    }
    for (const ns of this.namespaces.splice(0).reverse()) {
      try {
        ip("netns", "del", ns);
      } catch {}
    }
  }
}
