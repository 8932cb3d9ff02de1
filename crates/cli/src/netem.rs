//! `confab netem`: the link emulator between two interfaces, for tests and benchmarks on
//! machines whose kernel has no `sch_netem` (see `confab_netem`).
//!
//! It prints `{"event":"ready",…}` once both sockets are open, reads control lines on stdin
//! (`up PROFILE`, `down PROFILE`, `both PROFILE`, `stats`) and answers each with one JSON
//! line, and exits with its counters when stdin closes, so it never outlives the test or
//! script that started it.

use std::io::BufRead;

use anyhow::Context;
use confab_netem::{Direction, Forwarder, LinkProfile};
use serde_json::json;

#[derive(clap::Args)]
pub struct NetemArgs {
    /// The interface on the impaired host's side ("up" is from it, "down" is to it).
    #[arg(long)]
    inner: String,
    /// The interface on the network's side.
    #[arg(long)]
    outer: String,
    /// What the link does to frames from the host: a preset and/or settings, e.g.
    /// `delay=100ms,jitter=10ms,loss=3%,burst=2,rate=2mbit,queue=50`, `hd-moderate`.
    #[arg(long, default_value = "none")]
    up: LinkProfile,
    /// What the link does to frames to the host.
    #[arg(long, default_value = "none")]
    down: LinkProfile,
}

pub fn run(args: NetemArgs) -> anyhow::Result<()> {
    let forwarder = Forwarder::start(&args.inner, &args.outer, args.up, args.down)
        .context("starting the link emulator")?;
    println!(
        "{}",
        json!({"event": "ready", "up": args.up.to_string(), "down": args.down.to_string()})
    );
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading control lines")?;
        let reply = match control(&forwarder, line.trim()) {
            Ok(reply) => reply,
            Err(e) => json!({"event": "error", "line": line, "message": e.to_string()}),
        };
        println!("{reply}");
    }
    println!("{}", stats(&forwarder));
    Ok(())
}

fn control(forwarder: &Forwarder, line: &str) -> anyhow::Result<serde_json::Value> {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let directions: &[Direction] = match verb {
        "stats" => return Ok(stats(forwarder)),
        "up" => &[Direction::Up],
        "down" => &[Direction::Down],
        "both" => &[Direction::Up, Direction::Down],
        other => anyhow::bail!("unknown command {other:?} (up, down, both, stats)"),
    };
    let profile: LinkProfile = rest.parse()?;
    for d in directions {
        forwarder.set(*d, profile);
    }
    Ok(json!({"event": "applied", "to": verb, "profile": profile.to_string()}))
}

fn stats(forwarder: &Forwarder) -> serde_json::Value {
    let one = |i: usize| {
        let [received, sent, overflowed, send_errors] = forwarder.counters[i].snapshot();
        json!({"received": received, "sent": sent, "overflowed": overflowed, "send_errors": send_errors})
    };
    json!({"event": "stats", "up": one(0), "down": one(1)})
}
