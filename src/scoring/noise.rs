//! Noise rules: never reward what is easy to fake.
//!
//! A touch's weight is discounted when the facts its source reported (user agent,
//! IP, send time) or the contact's recent history (clicks seconds apart) say a
//! machine made it, and it counts nothing when the contact's address is one of our
//! own or a test address. Every rule that fires leaves a short note, so the touch
//! log can say why a touch counted less. `docs/scoring.md#noise-rules` has the
//! defaults, the evidence behind them and worked numbers.

use super::{touch_factor, Attention, ScoringConfig};
use crate::model::{Millis, TouchKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseConfig {
    /// Most touches of a kind counted per contact per week (Monday 00:00 UTC to
    /// Monday). Unlisted kinds keep their default; 0 means no cap.
    #[serde(default)]
    pub weekly_caps: BTreeMap<TouchKind, u32>,
    /// When set, the n-th counted touch of any kind on one UTC day counts
    /// `repeat_factor^(n−1)` of its weight, replacing the per-kind defaults.
    #[serde(default)]
    pub repeat_factor: Option<f64>,
    /// Per-kind repeat factors; they win over `repeat_factor` and the defaults.
    #[serde(default)]
    pub repeat_factors: BTreeMap<TouchKind, f64>,
    /// Share of its weight an email open keeps when a machine rule matches it.
    #[serde(default)]
    pub machine_open_factor: f64,
    /// Share of its weight an email click keeps when a machine rule matches it.
    #[serde(default)]
    pub machine_click_factor: f64,
    /// User agents of opens and clicks that machines make. Replaces the default.
    #[serde(default = "default_machine_user_agents")]
    pub machine_user_agents: Vec<MachineUserAgent>,
    /// Networks whose opens and clicks machines make.
    #[serde(default)]
    pub machine_networks: Vec<MachineNetwork>,
    /// Opens and clicks this soon after the message was sent (when the source
    /// reports `sent_at`) are a machine's; 0 turns the rule off.
    #[serde(default = "default_min_seconds_after_send")]
    pub min_seconds_after_send: u64,
    /// Share of its weight an open or click keeps when it came that soon.
    #[serde(default)]
    pub early_factor: f64,
    /// This many email clicks within `burst_seconds` (counting the newest) are a
    /// machine following every link; 0 turns the rule off.
    #[serde(default = "default_burst_clicks")]
    pub burst_clicks: u32,
    #[serde(default = "default_burst_seconds")]
    pub burst_seconds: u64,
    /// Share of its weight a click in such a burst keeps.
    #[serde(default)]
    pub burst_factor: f64,
    /// Our own email domains: their touches count nothing.
    #[serde(default)]
    pub internal_domains: Vec<String>,
    /// Test and placeholder domains: their touches count nothing.
    #[serde(default)]
    pub test_domains: Vec<String>,
}

/// A user agent pattern: matched against the whole user agent, ignoring case and
/// surrounding spaces; `*` stands for any run of characters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineUserAgent {
    pub pattern: String,
    /// What the note calls it: `machine open (<name>)`.
    pub name: String,
}

/// A network in CIDR notation (`17.0.0.0/8`, `2a01:111:f400::/48`) or one address.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineNetwork {
    pub cidr: String,
    pub name: String,
}

impl Default for NoiseConfig {
    fn default() -> Self {
        NoiseConfig {
            weekly_caps: BTreeMap::new(),
            repeat_factor: None,
            repeat_factors: BTreeMap::new(),
            machine_open_factor: 0.0,
            machine_click_factor: 0.0,
            machine_user_agents: default_machine_user_agents(),
            machine_networks: Vec::new(),
            min_seconds_after_send: default_min_seconds_after_send(),
            early_factor: 0.0,
            burst_clicks: default_burst_clicks(),
            burst_seconds: default_burst_seconds(),
            burst_factor: 0.0,
            internal_domains: Vec::new(),
            test_domains: Vec::new(),
        }
    }
}

/// Apple Mail Privacy Protection fetches every image of a message through Apple's
/// proxies as soon as the message reaches the device, whether or not anyone reads
/// it, and sends the bare user agent `Mozilla/5.0` (ua-parser/uap-core#509; the
/// SocketLabs and Word to the Wise write-ups describe the prefetch). A mail client
/// or browser a person uses always says more than that.
fn default_machine_user_agents() -> Vec<MachineUserAgent> {
    vec![MachineUserAgent {
        pattern: "Mozilla/5.0".into(),
        name: "Apple Mail Privacy Protection".into(),
    }]
}

fn default_min_seconds_after_send() -> u64 {
    60
}

fn default_burst_clicks() -> u32 {
    3
}

fn default_burst_seconds() -> u64 {
    10
}

/// Default weekly cap: three capped days' worth of the kinds that have a daily cap.
pub fn default_weekly_cap(kind: TouchKind) -> Option<u32> {
    use TouchKind::*;
    match kind {
        EmailOpen => Some(6),
        EmailClick => Some(9),
        PageView => Some(30),
        SiteVisit => Some(9),
        PricingView => Some(9),
        ContentDownload => Some(9),
        Chat => Some(9),
        Call => Some(15),
        _ => None,
    }
}

/// Default repeat factor: the kinds a machine or a reload repeats for free halve
/// with every repeat on the same day; everything else counts in full.
pub fn default_repeat_factor(kind: TouchKind) -> f64 {
    use TouchKind::*;
    match kind {
        EmailOpen | EmailClick | PageView => 0.5,
        _ => 1.0,
    }
}

impl NoiseConfig {
    pub fn weekly_cap(&self, kind: TouchKind) -> Option<u32> {
        match self.weekly_caps.get(&kind) {
            Some(0) => None,
            Some(cap) => Some(*cap),
            None => default_weekly_cap(kind),
        }
    }

    pub fn repeat_factor(&self, kind: TouchKind) -> f64 {
        self.repeat_factors
            .get(&kind)
            .copied()
            .or(self.repeat_factor)
            .unwrap_or_else(|| default_repeat_factor(kind))
    }

    /// Returns the offending key (under `noise.`) and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let share = |value: f64| (0.0..=1.0).contains(&value);
        for (key, value) in [
            ("machine_open_factor", self.machine_open_factor),
            ("machine_click_factor", self.machine_click_factor),
            ("early_factor", self.early_factor),
            ("burst_factor", self.burst_factor),
        ] {
            if !share(value) {
                return Err((key.into(), "must be between 0 and 1".into()));
            }
        }
        if let Some(value) = self.repeat_factor {
            if !share(value) {
                return Err(("repeat_factor".into(), "must be between 0 and 1".into()));
            }
        }
        for (kind, value) in &self.repeat_factors {
            if !share(*value) {
                return Err((
                    format!("repeat_factors.{kind}"),
                    "must be between 0 and 1".into(),
                ));
            }
        }
        if self.burst_clicks == 1 || self.burst_clicks as usize > super::attention::RECENT_PER_KIND
        {
            return Err((
                "burst_clicks".into(),
                format!(
                    "must be 0 (off) or from 2 to {}",
                    super::attention::RECENT_PER_KIND
                ),
            ));
        }
        if self.burst_clicks > 0 && self.burst_seconds == 0 {
            return Err(("burst_seconds".into(), "must be at least 1".into()));
        }
        for (index, agent) in self.machine_user_agents.iter().enumerate() {
            if agent.pattern.trim().is_empty() || agent.name.trim().is_empty() {
                return Err((
                    format!("machine_user_agents[{index}]"),
                    "needs a pattern and a name".into(),
                ));
            }
        }
        for (index, network) in self.machine_networks.iter().enumerate() {
            if parse_cidr(&network.cidr).is_none() {
                return Err((
                    format!("machine_networks[{index}].cidr"),
                    format!(
                        "`{}` is not an address or a CIDR network such as 17.0.0.0/8",
                        network.cidr
                    ),
                ));
            }
            if network.name.trim().is_empty() {
                return Err((
                    format!("machine_networks[{index}].name"),
                    "must not be empty".into(),
                ));
            }
        }
        for (key, domains) in [
            ("internal_domains", &self.internal_domains),
            ("test_domains", &self.test_domains),
        ] {
            if let Some(bad) = domains.iter().find(|d| normalize_domain(d).is_empty()) {
                return Err((key.into(), format!("`{bad}` is not a domain")));
            }
        }
        Ok(())
    }
}

/// How much of its kind's weight a touch earns before the day and week rules, and
/// every reason it is less than all of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Weighing {
    pub factor: f64,
    pub notes: Vec<String>,
}

/// A touch as counted: the weight it added to raw attention and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    pub weight: f64,
    pub notes: Vec<String>,
}

/// Weighs one touch against its facts and the contact's history.
///
/// - An internal or test address counts nothing, whatever the kind.
/// - Negative kinds keep their full penalty: no other rule applies to them.
/// - Email opens and clicks matched by a machine user agent or network, made
///   within `min_seconds_after_send` of sending, or (clicks) part of a burst keep
///   the smallest factor among the rules that matched; every match is noted.
/// - Webinar minutes scale the weight as [`touch_factor`] says.
///
/// The day and week rules come after, in [`Attention::add_scaled`]; their note is
/// included here when the touch will count at all.
pub fn weigh(
    kind: TouchKind,
    at: Millis,
    properties: Option<&serde_json::Value>,
    email: Option<&str>,
    attention: &Attention,
    config: &ScoringConfig,
) -> Weighing {
    let noise = &config.noise;
    let mut notes = Vec::new();
    if let Some(note) = excluded(email, noise) {
        return Weighing {
            factor: 0.0,
            notes: vec![note],
        };
    }
    let mut factor = touch_factor(kind, properties, config);
    if let Some(minutes) = properties
        .and_then(|p| p.get("minutes"))
        .and_then(|m| m.as_f64())
        .filter(|_| factor < 1.0)
    {
        notes.push(format!(
            "attended {} of {} minutes",
            minutes.max(0.0).round(),
            config.webinar_full_minutes
        ));
    }
    if config.weight(kind) < 0.0 {
        return Weighing { factor, notes };
    }
    let mut machine = 1.0f64;
    if matches!(kind, TouchKind::EmailOpen | TouchKind::EmailClick) {
        let (what, machine_factor) = match kind {
            TouchKind::EmailOpen => ("open", noise.machine_open_factor),
            _ => ("click", noise.machine_click_factor),
        };
        if let Some(name) = machine_source(properties, noise) {
            machine = machine.min(machine_factor);
            notes.push(format!("machine {what} ({name})"));
        }
        if let Some(seconds) = seconds_after_send(at, properties, noise) {
            machine = machine.min(noise.early_factor);
            let verb = if kind == TouchKind::EmailOpen {
                "opened"
            } else {
                "clicked"
            };
            notes.push(format!("{verb} {seconds} s after sending"));
        }
    }
    if kind == TouchKind::EmailClick {
        if let Some(clicks) = burst(at, attention, noise) {
            machine = machine.min(noise.burst_factor);
            notes.push(format!(
                "{clicks} clicks within {} s: links followed by a machine",
                noise.burst_seconds
            ));
        }
    }
    factor *= machine;
    if factor > 0.0 {
        if let Some(note) = attention.slot(kind, at, config).note {
            notes.push(note);
        }
    }
    Weighing { factor, notes }
}

/// Weighs a touch and adds it: the one step both the live pipeline and
/// [`super::replay`] take, so the two cannot count differently.
pub fn count(
    attention: &mut Attention,
    kind: TouchKind,
    at: Millis,
    properties: Option<&serde_json::Value>,
    email: Option<&str>,
    config: &ScoringConfig,
) -> Counted {
    let weighing = weigh(kind, at, properties, email, attention, config);
    let weight = attention.add_scaled(kind, at, weighing.factor, config);
    Counted {
        weight,
        notes: weighing.notes,
    }
}

fn normalize_domain(domain: &str) -> String {
    domain
        .trim()
        .trim_start_matches('@')
        .trim_matches('.')
        .to_ascii_lowercase()
}

/// The domain itself or any subdomain: `example.com` covers `mail.example.com`,
/// and `test` covers every `*.test` address.
fn domain_in(domain: &str, list: &[String]) -> Option<String> {
    list.iter()
        .map(|entry| normalize_domain(entry))
        .find(|entry| {
            domain == entry
                || domain
                    .strip_suffix(entry.as_str())
                    .is_some_and(|head| head.ends_with('.'))
        })
}

fn excluded(email: Option<&str>, noise: &NoiseConfig) -> Option<String> {
    let (_, domain) = email?.rsplit_once('@')?;
    let domain = normalize_domain(domain);
    if let Some(entry) = domain_in(&domain, &noise.internal_domains) {
        return Some(format!("internal address ({entry})"));
    }
    domain_in(&domain, &noise.test_domains).map(|entry| format!("test address ({entry})"))
}

fn text<'a>(properties: Option<&'a serde_json::Value>, name: &str) -> Option<&'a str> {
    properties
        .and_then(|p| p.get(name))
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn machine_source<'a>(
    properties: Option<&serde_json::Value>,
    noise: &'a NoiseConfig,
) -> Option<&'a str> {
    if let Some(agent) = text(properties, "user_agent") {
        if let Some(rule) = noise
            .machine_user_agents
            .iter()
            .find(|rule| glob_matches(&rule.pattern, agent))
        {
            return Some(&rule.name);
        }
    }
    let address = text(properties, "ip")?.parse::<IpAddr>().ok()?;
    noise
        .machine_networks
        .iter()
        .find(|network| parse_cidr(&network.cidr).is_some_and(|net| net.contains(address)))
        .map(|network| network.name.as_str())
}

/// Whole-string match, ignoring ASCII case and surrounding spaces; `*` matches any
/// run of characters.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern = pattern.trim().to_ascii_lowercase();
    let text = text.trim().to_ascii_lowercase();
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(position) => rest = &rest[position + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Cidr {
    network: IpAddr,
    prefix: u32,
}

impl Cidr {
    fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(addr)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix).unwrap_or(0);
                u32::from(net) & mask == u32::from(addr) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(addr)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix).unwrap_or(0);
                u128::from(net) & mask == u128::from(addr) & mask
            }
            _ => false,
        }
    }
}

fn parse_cidr(text: &str) -> Option<Cidr> {
    let text = text.trim();
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix.parse::<u32>().ok()?)),
        None => (text, None),
    };
    let network = address.parse::<IpAddr>().ok()?.to_canonical();
    let bits = if network.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(bits);
    (prefix <= bits).then_some(Cidr { network, prefix })
}

/// When the source reported the send time: milliseconds since the epoch, or an
/// RFC 3339 time.
fn sent_at(properties: Option<&serde_json::Value>) -> Option<Millis> {
    let value = properties?.get("sent_at")?;
    if let Some(millis) = value.as_i64() {
        return Some(millis);
    }
    if let Some(millis) = value.as_f64().filter(|m| m.is_finite()) {
        return Some(millis.round() as Millis);
    }
    chrono::DateTime::parse_from_rfc3339(value.as_str()?.trim())
        .ok()
        .map(|time| time.timestamp_millis())
}

/// Whole seconds after sending, when that is sooner than a person reads mail.
fn seconds_after_send(
    at: Millis,
    properties: Option<&serde_json::Value>,
    noise: &NoiseConfig,
) -> Option<i64> {
    if noise.min_seconds_after_send == 0 {
        return None;
    }
    let elapsed = at - sent_at(properties)?;
    (0..noise.min_seconds_after_send as i64 * 1000)
        .contains(&elapsed)
        .then_some(elapsed / 1000)
}

/// The number of clicks, this one included, in the `burst_seconds` up to `at`,
/// when that makes a burst. Only earlier clicks are looked at, so a click's
/// weight never changes after it was counted.
fn burst(at: Millis, attention: &Attention, noise: &NoiseConfig) -> Option<u32> {
    if noise.burst_clicks == 0 {
        return None;
    }
    let window = noise.burst_seconds as i64 * 1000;
    let earlier = attention
        .kinds
        .get(&TouchKind::EmailClick)
        .map(|stats| {
            stats
                .recent
                .iter()
                .filter(|&&t| t <= at && at - t <= window)
                .count()
        })
        .unwrap_or(0);
    let clicks = earlier as u32 + 1;
    (clicks >= noise.burst_clicks).then_some(clicks)
}
