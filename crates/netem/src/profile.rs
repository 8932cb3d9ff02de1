//! What a link does to the frames crossing it in one direction, written as a short text
//! (`delay=100ms,loss=3%,rate=2000kbit,queue=50`) or a named preset, and turned into the
//! impairment model's configuration.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use str0m_netem::{Bitrate, DataSize, GilbertElliot, NetemConfig, Probability, RandomLoss};

/// Bytes one queued packet is counted as when a queue is given in packets (a full Ethernet
/// frame: media packets are ~1,200 bytes, so a queue of N holds at least N of them).
pub const PACKET_BYTES: u64 = 1_514;

/// Queue length (packets) of a rate-limited link when the profile gives none: Linux's
/// default `txqueuelen` is 1,000, netem's `limit` too; libwebrtc's tests mostly use 50.
pub const DEFAULT_QUEUE_PACKETS: u64 = 1_000;

/// The named profiles: those libwebrtc's full-stack tests and Pion's vnet use (the anchors
/// of `../shared/FINDINGS.md`), and the two ends of the scale.
pub const PRESETS: &[(&str, &str)] = &[
    ("none", ""),
    ("blackout", "loss=100%"),
    // libwebrtc full_stack_tests: "HD moderate limits".
    ("hd-moderate", "rate=2000kbit,delay=100ms,queue=50,loss=3%"),
    // libwebrtc: 5 % loss with a 50 ms queue delay.
    ("loss5", "delay=50ms,loss=5%"),
    // libwebrtc: 3 % loss at 500 kb/s.
    ("lossy-500k", "rate=500kbit,loss=3%,queue=50"),
    // libwebrtc: a 150 kb/s link.
    ("narrow-150k", "rate=150kbit,queue=50"),
    // libwebrtc: screen share over 500 kb/s, 200 ms, 5 % loss.
    ("screenshare", "rate=500kbit,delay=200ms,loss=5%,queue=50"),
    // Pion vnet: "very bad network".
    ("very-bad", "rate=1000kbit,delay=500ms,loss=10%"),
];

/// One direction of a link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkProfile {
    /// One-way delay added to every frame.
    pub delay: Duration,
    /// Up to this much more or less delay, at random per frame (frames may reorder, as with
    /// netem).
    pub jitter: Duration,
    /// Fraction of frames lost on arrival, 0.0–1.0.
    pub loss: f32,
    /// Average length of a loss burst in frames; `None`: each frame is lost independently.
    pub burst: Option<f32>,
    /// Link rate in bits per second; `None`: unlimited.
    pub rate_bps: Option<u64>,
    /// Frames that may wait for the link (beyond those in flight for `delay`) before the tail
    /// is dropped; only with a rate.
    pub queue_packets: u64,
    /// Seed of the model's random numbers: the same seed loses the same frames.
    pub seed: u64,
}

impl Default for LinkProfile {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            burst: None,
            rate_bps: None,
            queue_packets: DEFAULT_QUEUE_PACKETS,
            seed: 1,
        }
    }
}

/// Why a profile could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProfileError {
    #[error("unknown profile or setting {0:?} (presets: {presets}; settings: delay, jitter, loss, burst, rate, queue, seed)", presets = preset_names())]
    Unknown(String),
    #[error("{key}={value:?}: {why}")]
    Value {
        key: String,
        value: String,
        why: &'static str,
    },
}

fn preset_names() -> String {
    PRESETS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for LinkProfile {
    type Err = ProfileError;

    /// A preset name and/or `key=value` settings, separated by commas or spaces; later
    /// settings override earlier ones (`hd-moderate,loss=5%`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut profile = LinkProfile::default();
        for item in text
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            match item.split_once('=') {
                None => {
                    let (_, settings) = PRESETS
                        .iter()
                        .find(|(name, _)| *name == item)
                        .ok_or_else(|| ProfileError::Unknown(item.to_owned()))?;
                    profile = settings.parse()?;
                }
                Some((key, value)) => profile.set(key, value)?,
            }
        }
        Ok(profile)
    }
}

impl LinkProfile {
    fn set(&mut self, key: &str, value: &str) -> Result<(), ProfileError> {
        let bad = |why| ProfileError::Value {
            key: key.to_owned(),
            value: value.to_owned(),
            why,
        };
        match key {
            "delay" => {
                self.delay = parse_duration(value).ok_or_else(|| bad("a time like 100ms"))?
            }
            "jitter" => {
                self.jitter = parse_duration(value).ok_or_else(|| bad("a time like 10ms"))?
            }
            "loss" => {
                self.loss = value
                    .strip_suffix('%')
                    .and_then(|p| p.parse::<f32>().ok())
                    .filter(|p| (0.0..=100.0).contains(p))
                    .map(|p| p / 100.0)
                    .ok_or_else(|| bad("a percentage from 0% to 100%"))?
            }
            "burst" => {
                self.burst = Some(
                    value
                        .parse::<f32>()
                        .ok()
                        .filter(|b| *b >= 1.0)
                        .ok_or_else(|| bad("an average burst length of at least 1 frame"))?,
                )
            }
            "rate" => {
                self.rate_bps = Some(
                    parse_rate(value)
                        .ok_or_else(|| bad("a rate above zero like 500kbit, 2mbit or 64000bit"))?,
                )
            }
            "queue" => {
                self.queue_packets = value
                    .parse::<u64>()
                    .ok()
                    .filter(|q| *q >= 1)
                    .ok_or_else(|| bad("a number of packets, at least 1"))?
            }
            "seed" => self.seed = value.parse().map_err(|_| bad("a whole number"))?,
            _ => return Err(ProfileError::Unknown(format!("{key}={value}"))),
        }
        Ok(())
    }

    /// The model's configuration. With a rate, the model's buffer holds what is in flight
    /// for `delay` at that rate plus `queue_packets` frames, so a long delay alone never
    /// drops (netem's `limit` counts only the queue, too).
    pub fn to_netem(&self) -> NetemConfig {
        let mut config = NetemConfig::new()
            .latency(self.delay)
            .jitter(self.jitter)
            .seed(self.seed);
        if self.loss > 0.0 {
            config = match self.burst {
                // Lose whole bursts of `burst` frames on average, as often as the average
                // loss needs: bad / (good + bad) = loss.
                Some(burst) if self.loss < 1.0 => config.loss(
                    GilbertElliot::new()
                        .bad_duration(burst)
                        .good_duration(burst * (1.0 - self.loss) / self.loss)
                        .loss_in_bad(Probability::ONE),
                ),
                _ => config.loss(RandomLoss::new(Probability::new(self.loss))),
            };
        }
        if let Some(rate) = self.rate_bps {
            let in_flight = (rate as f64 / 8.0 * (self.delay + self.jitter).as_secs_f64()) as u64;
            let buffer = in_flight + self.queue_packets * PACKET_BYTES;
            config = config.link(
                Bitrate::bps(rate),
                DataSize::bytes(i64::try_from(buffer).unwrap_or(i64::MAX)),
            );
        }
        config
    }
}

impl fmt::Display for LinkProfile {
    /// The profile in the syntax it is read from (only what differs from a perfect link).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.delay.is_zero() {
            parts.push(format!("delay={}ms", self.delay.as_millis()));
        }
        if !self.jitter.is_zero() {
            parts.push(format!("jitter={}ms", self.jitter.as_millis()));
        }
        if self.loss > 0.0 {
            parts.push(format!("loss={}%", self.loss * 100.0));
        }
        if let Some(burst) = self.burst {
            parts.push(format!("burst={burst}"));
        }
        if let Some(rate) = self.rate_bps {
            parts.push(format!("rate={rate}bit"));
            parts.push(format!("queue={}", self.queue_packets));
        }
        if parts.is_empty() {
            parts.push("none".to_owned());
        }
        f.write_str(&parts.join(","))
    }
}

fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = split_unit(text);
    let value: f64 = number.parse().ok().filter(|v: &f64| *v >= 0.0)?;
    let seconds = match unit {
        "ms" => value / 1_000.0,
        "s" => value,
        "us" => value / 1_000_000.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

fn parse_rate(text: &str) -> Option<u64> {
    let (number, unit) = split_unit(text);
    let value: f64 = number.parse().ok()?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "bit" | "bps" => 1.0,
        "kbit" | "kbps" => 1e3,
        "mbit" | "mbps" => 1e6,
        "gbit" | "gbps" => 1e9,
        _ => return None,
    };
    let bps = value * scale;
    (1.0..1e12).contains(&bps).then_some(bps as u64)
}

fn split_unit(text: &str) -> (&str, &str) {
    let at = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text.split_at(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read_with_units() {
        let p: LinkProfile = "delay=100ms jitter=5ms,loss=3%,rate=2mbit,queue=50,seed=9"
            .parse()
            .expect("valid");
        assert_eq!(p.delay, Duration::from_millis(100));
        assert_eq!(p.jitter, Duration::from_millis(5));
        assert!((p.loss - 0.03).abs() < 1e-6);
        assert_eq!(p.rate_bps, Some(2_000_000));
        assert_eq!(p.queue_packets, 50);
        assert_eq!(p.seed, 9);
        assert_eq!(
            "rate=500kbit".parse::<LinkProfile>().map(|p| p.rate_bps),
            Ok(Some(500_000))
        );
        assert_eq!(
            "delay=1.5s".parse::<LinkProfile>().map(|p| p.delay),
            Ok(Duration::from_millis(1500))
        );
    }

    #[test]
    fn presets_parse_and_later_settings_override_them() {
        for (name, _) in PRESETS {
            name.parse::<LinkProfile>().expect(name);
        }
        let p: LinkProfile = "hd-moderate,loss=5%".parse().expect("valid");
        assert_eq!(p.rate_bps, Some(2_000_000));
        assert_eq!(p.delay, Duration::from_millis(100));
        assert!((p.loss - 0.05).abs() < 1e-6);
        assert_eq!("".parse::<LinkProfile>(), Ok(LinkProfile::default()));
        assert_eq!("none".parse::<LinkProfile>(), Ok(LinkProfile::default()));
    }

    #[test]
    fn mistakes_are_named() {
        assert!(
            matches!("dealy=5ms".parse::<LinkProfile>(), Err(ProfileError::Unknown(k)) if k == "dealy=5ms")
        );
        assert!(matches!(
            "lan".parse::<LinkProfile>(),
            Err(ProfileError::Unknown(_))
        ));
        for bad in [
            "loss=3",
            "loss=150%",
            "rate=0kbit",
            "rate=fast",
            "delay=5",
            "queue=0",
            "burst=0.5",
        ] {
            let err = bad.parse::<LinkProfile>().expect_err(bad);
            assert!(matches!(err, ProfileError::Value { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn display_reads_back_as_the_same_profile() {
        for text in [
            "none",
            "delay=100ms,jitter=10ms,loss=2.5%,burst=3",
            "rate=150000bit,queue=50",
        ] {
            let p: LinkProfile = text.parse().expect(text);
            assert_eq!(p.to_string(), text);
            assert_eq!(p.to_string().parse::<LinkProfile>(), Ok(p));
        }
    }

    /// The model loses what the profile says, in bursts when asked (seeded: exact counts
    /// would pin the model's implementation; the averages are what the profile promises).
    #[test]
    fn the_model_loses_the_fraction_asked_for() {
        for text in ["loss=10%", "loss=10%,burst=4"] {
            let profile: LinkProfile = text.parse().expect(text);
            let mut model = str0m_netem::Netem::<Vec<u8>>::new(profile.to_netem());
            let start = std::time::Instant::now();
            let sent = 20_000;
            let mut received = 0;
            for i in 0..sent {
                let now = start + Duration::from_millis(i);
                model.handle_input(str0m_netem::Input::Packet(now, vec![0; 100]));
                while let Some(out) = model.poll_output() {
                    if matches!(out, str0m_netem::Output::Packet(_)) {
                        received += 1;
                    }
                }
            }
            let lost = 1.0 - received as f64 / sent as f64;
            assert!((0.08..0.12).contains(&lost), "{text}: lost {lost}");
        }
    }

    /// With a rate, frames leave no faster than the rate, and a queue that overflows drops
    /// the tail instead of growing.
    #[test]
    fn a_rate_limited_link_paces_and_bounds_its_queue() {
        let profile: LinkProfile = "rate=1mbit,queue=10".parse().expect("valid");
        let mut model = str0m_netem::Netem::<Vec<u8>>::new(profile.to_netem());
        let start = std::time::Instant::now();
        // 100 frames of 1,250 bytes (10 kbit each) arrive at once: the link carries one per
        // 10 ms, and only the queue's worth is kept.
        for _ in 0..100 {
            model.handle_input(str0m_netem::Input::Packet(start, vec![0; 1_250]));
        }
        assert!(model.queue_len() <= 13, "queue {}", model.queue_len());
        let mut departures = Vec::new();
        let mut now = start;
        while !model.is_empty() {
            now = model.poll_timeout().max(now);
            model.handle_input(str0m_netem::Input::Timeout(now));
            while let Some(out) = model.poll_output() {
                if matches!(out, str0m_netem::Output::Packet(_)) {
                    departures.push(now - start);
                }
            }
        }
        for pair in departures.windows(2) {
            assert!(
                pair[1] - pair[0] >= Duration::from_micros(9_900),
                "{departures:?}"
            );
        }
    }
}
