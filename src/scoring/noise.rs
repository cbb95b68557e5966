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
        for (index, rule) in self.machine_user_agents.iter().enumerate() {
            if rule.pattern.trim().is_empty() || rule.name.trim().is_empty() {
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
    if let Some(user_agent) = text(properties, "user_agent") {
        if let Some(rule) = noise
            .machine_user_agents
            .iter()
            .find(|rule| glob_matches(&rule.pattern, user_agent))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Monday 2026-09-21 00:00 UTC.
    const MONDAY: Millis = 1_789_948_800_000;
    const HOUR: Millis = 3_600_000;
    const DAY: Millis = 24 * HOUR;
    /// What Apple Mail sends when it loads images itself (Privacy Protection off).
    const APPLE_MAIL: &str =
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)";
    /// Gmail loads images through its proxy when the message is opened.
    const GMAIL_PROXY: &str =
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";
    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

    fn counted(
        attention: &mut Attention,
        kind: TouchKind,
        at: Millis,
        properties: serde_json::Value,
        email: &str,
        config: &ScoringConfig,
    ) -> Counted {
        count(attention, kind, at, Some(&properties), Some(email), config)
    }

    #[test]
    fn an_apple_privacy_prefetch_counts_nothing_and_leaves_the_days_first_open() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        // Mail Privacy Protection fetched the pixel at 08:00 through Private Relay.
        let prefetch = counted(
            &mut attention,
            TouchKind::EmailOpen,
            MONDAY + 8 * HOUR,
            json!({"user_agent": "Mozilla/5.0", "ip": "146.75.168.133"}),
            "ann@acme.com",
            &config,
        );
        assert_eq!(prefetch.weight, 0.0);
        assert_eq!(
            prefetch.notes,
            vec!["machine open (Apple Mail Privacy Protection)"]
        );
        // Ann reads it on a Mac without Privacy Protection at 09:00: the day's first.
        let read = counted(
            &mut attention,
            TouchKind::EmailOpen,
            MONDAY + 9 * HOUR,
            json!({"user_agent": APPLE_MAIL, "ip": "203.0.113.7"}),
            "ann@acme.com",
            &config,
        );
        assert_eq!(read.weight, 1.0);
        assert!(read.notes.is_empty(), "{:?}", read.notes);
        // And once more in Gmail: the second open of the day counts half.
        let again = counted(
            &mut attention,
            TouchKind::EmailOpen,
            MONDAY + 10 * HOUR,
            json!({"user_agent": GMAIL_PROXY, "ip": "66.249.84.10"}),
            "ann@acme.com",
            &config,
        );
        assert_eq!(again.weight, 0.5);
        assert_eq!(again.notes, vec!["2nd email open of the day counts 50%"]);
        assert_eq!(attention.kinds[&TouchKind::EmailOpen].count, 3);
    }

    #[test]
    fn configured_networks_mark_opens_and_clicks_from_them() {
        let mut config = ScoringConfig::default();
        config.noise.machine_networks = vec![
            MachineNetwork {
                cidr: "17.0.0.0/8".into(),
                name: "Apple network".into(),
            },
            MachineNetwork {
                cidr: "2a01:111:f400::/48".into(),
                name: "Microsoft 365 filtering".into(),
            },
        ];
        config.noise.machine_click_factor = 0.25;
        let weigh_at = |kind, ip: &str| {
            let properties = json!({"user_agent": CHROME, "ip": ip});
            let attention = Attention::default();
            weigh(kind, MONDAY, Some(&properties), None, &attention, &config)
        };
        let open = weigh_at(TouchKind::EmailOpen, "17.58.63.40");
        assert_eq!(open.factor, 0.0);
        assert_eq!(open.notes, vec!["machine open (Apple network)"]);
        // An IPv4 address written the IPv6 way is the same address.
        assert_eq!(
            weigh_at(TouchKind::EmailOpen, "::ffff:17.1.2.3").factor,
            0.0
        );
        let click = weigh_at(TouchKind::EmailClick, "2a01:111:f400:7e1b::5");
        assert_eq!(click.factor, 0.25);
        assert_eq!(click.notes, vec!["machine click (Microsoft 365 filtering)"]);
        assert_eq!(weigh_at(TouchKind::EmailOpen, "18.0.0.1").factor, 1.0);
        assert_eq!(weigh_at(TouchKind::EmailOpen, "not an address").factor, 1.0);
        // Other kinds are not judged by where they came from.
        assert_eq!(weigh_at(TouchKind::FormSubmit, "17.58.63.40").factor, 1.0);
    }

    #[test]
    fn opens_and_clicks_seconds_after_sending_are_a_scanners() {
        let config = ScoringConfig::default();
        let sent = MONDAY + 9 * HOUR;
        let mut attention = Attention::default();
        // A gateway fetched the pixel 4 s after Mandrill sent the message.
        let scan = counted(
            &mut attention,
            TouchKind::EmailOpen,
            sent + 4_000,
            json!({"user_agent": CHROME, "sent_at": sent}),
            "bo@acme.com",
            &config,
        );
        assert_eq!(scan.weight, 0.0);
        assert_eq!(scan.notes, vec!["opened 4 s after sending"]);
        // Bo opened it two minutes later.
        let read = counted(
            &mut attention,
            TouchKind::EmailOpen,
            sent + 120_000,
            json!({"user_agent": CHROME, "sent_at": sent}),
            "bo@acme.com",
            &config,
        );
        assert_eq!(read.weight, 1.0);
        // The send time may also be an RFC 3339 time (the `standard` source).
        let properties = json!({"sent_at": "2026-09-21T09:00:00Z"});
        let early = weigh(
            TouchKind::EmailClick,
            sent + 59_999,
            Some(&properties),
            None,
            &Attention::default(),
            &config,
        );
        assert_eq!(early.factor, 0.0);
        assert_eq!(early.notes, vec!["clicked 59 s after sending"]);
        let off = ScoringConfig {
            noise: NoiseConfig {
                min_seconds_after_send: 0,
                ..NoiseConfig::default()
            },
            ..ScoringConfig::default()
        };
        let attention = Attention::default();
        let on_time = weigh(
            TouchKind::EmailClick,
            sent + 1,
            Some(&properties),
            None,
            &attention,
            &off,
        );
        assert_eq!(on_time.factor, 1.0);
    }

    #[test]
    fn a_scanner_clicking_six_links_in_two_seconds_earns_two_clicks_worth() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        let start = MONDAY + 9 * HOUR;
        let weights: Vec<f64> = (0..6)
            .map(|i| {
                let link = format!("https://acme.example/page-{i}");
                counted(
                    &mut attention,
                    TouchKind::EmailClick,
                    start + i * 400,
                    json!({"user_agent": CHROME, "url": link}),
                    "cy@acme.com",
                    &config,
                )
                .weight
            })
            .collect();
        // 3, then 3 × 0.5, then every click from the third on is in a burst.
        assert_eq!(weights, vec![3.0, 1.5, 0.0, 0.0, 0.0, 0.0]);
        let one_more = weigh(
            TouchKind::EmailClick,
            start + 2_400,
            None,
            None,
            &attention,
            &config,
        );
        assert_eq!(
            one_more.notes,
            vec!["7 clicks within 10 s: links followed by a machine"]
        );
        // A person clicking three links over five minutes: 3 + 1.5 + 0.75.
        let mut person = Attention::default();
        let total: f64 = [0, 120_000, 300_000]
            .iter()
            .map(|offset| person.add(TouchKind::EmailClick, start + offset, &config))
            .sum();
        assert_eq!(total, 5.25);
    }

    #[test]
    fn a_scanner_clicking_at_delivery_earns_nothing() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        let sent = MONDAY + 9 * HOUR;
        let total: f64 = (0..6)
            .map(|i| {
                counted(
                    &mut attention,
                    TouchKind::EmailClick,
                    sent + 1_000 + i * 400,
                    json!({"user_agent": CHROME, "sent_at": sent}),
                    "cy@acme.com",
                    &config,
                )
                .weight
            })
            .sum();
        assert_eq!(total, 0.0);
    }

    #[test]
    fn internal_and_test_addresses_count_nothing() {
        let mut config = ScoringConfig::default();
        config.noise.internal_domains = vec!["acme.com".into()];
        config.noise.test_domains = vec!["example.com".into(), "test".into()];
        let weigh_for = |kind, email: &str| {
            let attention = Attention::default();
            weigh(kind, MONDAY, None, Some(email), &attention, &config)
        };
        let own = weigh_for(TouchKind::FormSubmit, "ann@acme.com");
        assert_eq!(own.factor, 0.0);
        assert_eq!(own.notes, vec!["internal address (acme.com)"]);
        assert_eq!(
            weigh_for(TouchKind::FormSubmit, "ann@Mail.ACME.com").factor,
            0.0
        );
        assert_eq!(
            weigh_for(TouchKind::FormSubmit, "ann@notacme.com").factor,
            1.0
        );
        let qa = weigh_for(TouchKind::DemoRequest, "qa+42@staging.test");
        assert_eq!(qa.notes, vec!["test address (test)"]);
        assert_eq!(qa.factor, 0.0);
        // Excluded means excluded: a colleague's unsubscribe is no signal either.
        assert_eq!(
            weigh_for(TouchKind::Unsubscribe, "ann@acme.com").factor,
            0.0
        );
        assert_eq!(
            weigh_for(TouchKind::FormSubmit, "ann@example.com").factor,
            0.0
        );
    }

    #[test]
    fn the_default_lists_exclude_no_address() {
        let config = ScoringConfig::default();
        let attention = Attention::default();
        for email in ["ann@example.com", "qa@staging.test", "me@localhost"] {
            let weighing = weigh(
                TouchKind::FormSubmit,
                MONDAY,
                None,
                Some(email),
                &attention,
                &config,
            );
            assert_eq!(weighing.factor, 1.0, "{email}");
        }
    }

    #[test]
    fn repeats_halve_until_the_daily_cap() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        let outcomes: Vec<Counted> = (0..12)
            .map(|i| {
                counted(
                    &mut attention,
                    TouchKind::PageView,
                    MONDAY + 9 * HOUR + i * 60_000,
                    json!({"url": "/docs"}),
                    "di@acme.com",
                    &config,
                )
            })
            .collect();
        let total: f64 = outcomes.iter().map(|c| c.weight).sum();
        // 1 + 0.5 + … + 0.5^9 for the 10 the daily cap allows.
        assert!((total - 1.998046875).abs() < 1e-12, "{total}");
        assert_eq!(
            outcomes[2].notes,
            vec!["3rd page view of the day counts 25%"]
        );
        assert_eq!(
            outcomes[9].notes,
            vec!["10th page view of the day counts 0.2%"]
        );
        assert_eq!(outcomes[10].weight, 0.0);
        assert_eq!(
            outcomes[10].notes,
            vec!["daily cap of 10 page views reached"]
        );
        // Kinds without a default repeat factor count in full every time.
        let mut forms = Attention::default();
        let total: f64 = (0..3)
            .map(|i| forms.add(TouchKind::FormSubmit, MONDAY + i * HOUR, &config))
            .sum();
        assert_eq!(total, 30.0);
    }

    #[test]
    fn repeat_factors_are_set_globally_or_per_kind() {
        let mut config = ScoringConfig::default();
        config.noise.repeat_factor = Some(0.8);
        config
            .noise
            .repeat_factors
            .insert(TouchKind::EmailOpen, 1.0);
        let mut attention = Attention::default();
        let forms: Vec<f64> = (0..2)
            .map(|i| attention.add(TouchKind::FormSubmit, MONDAY + i * HOUR, &config))
            .collect();
        assert_eq!(forms, vec![10.0, 8.0]);
        let opens: Vec<f64> = (0..3)
            .map(|i| attention.add(TouchKind::EmailOpen, MONDAY + i * HOUR, &config))
            .collect();
        // No diminishing for opens, but still their daily cap of 2.
        assert_eq!(opens, vec![1.0, 1.0, 0.0]);
    }

    #[test]
    fn the_weekly_cap_counts_three_busy_days() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        let mut per_day = Vec::new();
        for day in 0..8 {
            let counted: f64 = [9, 15]
                .iter()
                .map(|hour| {
                    attention.add(
                        TouchKind::EmailOpen,
                        MONDAY + day * DAY + hour * HOUR,
                        &config,
                    )
                })
                .sum();
            per_day.push(counted);
        }
        // Monday to Wednesday use the 6 opens a week allows; the next Monday is a new week.
        assert_eq!(per_day, vec![1.5, 1.5, 1.5, 0.0, 0.0, 0.0, 0.0, 1.5]);
        let thursday = weigh(
            TouchKind::EmailOpen,
            MONDAY + 3 * DAY + 9 * HOUR,
            None,
            None,
            &attention,
            &config,
        );
        assert_eq!(thursday.notes, vec!["weekly cap of 6 email opens reached"]);
    }

    #[test]
    fn negative_touches_keep_their_full_penalty() {
        let mut config = ScoringConfig::default();
        // Even caps and repeat factors configured for a negative kind do not apply.
        config.daily_caps.insert(TouchKind::Unsubscribe, 1);
        config.noise.weekly_caps.insert(TouchKind::Unsubscribe, 1);
        config
            .noise
            .repeat_factors
            .insert(TouchKind::Unsubscribe, 0.5);
        let mut attention = Attention::default();
        for i in 0..40 {
            attention.add(TouchKind::EmailOpen, MONDAY + i * 1_000, &config);
        }
        let first = attention.add(TouchKind::Unsubscribe, MONDAY + HOUR, &config);
        let second = attention.add(TouchKind::Unsubscribe, MONDAY + 2 * HOUR, &config);
        assert_eq!((first, second), (-15.0, -15.0));
        // A machine-looking spam complaint is still a spam complaint.
        let complaint = counted(
            &mut attention,
            TouchKind::SpamComplaint,
            MONDAY + 3 * HOUR,
            json!({"user_agent": "Mozilla/5.0", "sent_at": MONDAY + 3 * HOUR - 1_000}),
            "ed@acme.com",
            &config,
        );
        assert_eq!(complaint.weight, -25.0);
        assert!(complaint.notes.is_empty());
        // 1.5 for the opens, −15 − 15 − 25 for the rest, three hours of decay at most.
        let raw = attention.raw_at(MONDAY + 3 * HOUR, &config);
        assert!((raw - (1.5 - 55.0)).abs() < 0.2, "{raw}");
    }

    #[test]
    fn partial_factors_keep_a_share_and_the_strongest_evidence_wins() {
        let mut config = ScoringConfig::default();
        config.noise.machine_open_factor = 0.2;
        config.noise.early_factor = 0.5;
        let attention = Attention::default();
        let properties = json!({"user_agent": "mozilla/5.0 ", "sent_at": MONDAY - 10_000});
        let both = weigh(
            TouchKind::EmailOpen,
            MONDAY,
            Some(&properties),
            None,
            &attention,
            &config,
        );
        assert_eq!(both.factor, 0.2);
        assert_eq!(
            both.notes,
            vec![
                "machine open (Apple Mail Privacy Protection)",
                "opened 10 s after sending"
            ]
        );
        let mut attention = Attention::default();
        assert_eq!(
            attention.add_scaled(TouchKind::EmailOpen, MONDAY, both.factor, &config),
            0.2
        );
    }

    #[test]
    fn webinar_minutes_are_explained() {
        let config = ScoringConfig::default();
        let properties = json!({"minutes": 30});
        let weighing = weigh(
            TouchKind::WebinarAttended,
            MONDAY,
            Some(&properties),
            None,
            &Attention::default(),
            &config,
        );
        assert_eq!(weighing.factor, 0.5);
        assert_eq!(weighing.notes, vec!["attended 30 of 60 minutes"]);
    }

    #[test]
    fn user_agent_patterns_match_the_whole_agent() {
        assert!(glob_matches("Mozilla/5.0", " MOZILLA/5.0 "));
        assert!(!glob_matches("Mozilla/5.0", APPLE_MAIL));
        assert!(!glob_matches("Mozilla/5.0", GMAIL_PROXY));
        assert!(glob_matches(
            "*barracuda*",
            "Mozilla/5.0 (Barracuda Link Protection)"
        ));
        assert!(glob_matches("python-requests/*", "python-requests/2.31.0"));
        assert!(glob_matches("*ab*ab", "xxabyyab"));
        assert!(!glob_matches("*ab*ab", "xxab"));
        assert!(glob_matches("*", "anything"));
    }

    #[test]
    fn networks_contain_their_addresses() {
        let apple = parse_cidr("17.0.0.0/8").unwrap();
        assert!(apple.contains("17.255.1.2".parse().unwrap()));
        assert!(!apple.contains("18.0.0.0".parse().unwrap()));
        assert!(!apple.contains("::1".parse().unwrap()));
        let one = parse_cidr("203.0.113.7").unwrap();
        assert!(one.contains("203.0.113.7".parse().unwrap()));
        assert!(!one.contains("203.0.113.8".parse().unwrap()));
        let everything = parse_cidr("0.0.0.0/0").unwrap();
        assert!(everything.contains("198.51.100.1".parse().unwrap()));
        assert_eq!(parse_cidr("17.0.0.0/33"), None);
        assert_eq!(parse_cidr("17.0.0/8"), None);
        assert_eq!(parse_cidr("17.0.0.0/x"), None);
    }

    #[test]
    fn settings_out_of_range_are_named() {
        let check = |change: &dyn Fn(&mut NoiseConfig)| {
            let mut noise = NoiseConfig::default();
            change(&mut noise);
            noise.validate().unwrap_err().0
        };
        assert_eq!(
            check(&|n| n.machine_open_factor = 1.5),
            "machine_open_factor"
        );
        assert_eq!(check(&|n| n.early_factor = -0.1), "early_factor");
        assert_eq!(check(&|n| n.repeat_factor = Some(2.0)), "repeat_factor");
        assert_eq!(
            check(&|n| {
                n.repeat_factors.insert(TouchKind::PageView, f64::NAN);
            }),
            "repeat_factors.page_view"
        );
        assert_eq!(check(&|n| n.burst_clicks = 1), "burst_clicks");
        assert_eq!(check(&|n| n.burst_clicks = 21), "burst_clicks");
        assert_eq!(check(&|n| n.burst_seconds = 0), "burst_seconds");
        assert_eq!(
            check(&|n| n.machine_networks = vec![MachineNetwork {
                cidr: "17/8".into(),
                name: "Apple".into()
            }]),
            "machine_networks[0].cidr"
        );
        assert_eq!(
            check(&|n| n.machine_user_agents[0].pattern = " ".into()),
            "machine_user_agents[0]"
        );
        assert_eq!(
            check(&|n| n.test_domains = vec![".".into()]),
            "test_domains"
        );
        assert_eq!(NoiseConfig::default().validate(), Ok(()));
    }

    /// The worked example in docs/scoring.md#noise-rules.
    #[test]
    fn dees_monday_from_the_docs() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        let sent = MONDAY + 8 * HOUR;
        let mut step = |at: Millis, kind, user_agent: &str| {
            let properties = json!({"user_agent": user_agent, "sent_at": sent});
            counted(
                &mut attention,
                kind,
                at,
                properties,
                "dee@acme.com",
                &config,
            )
        };
        let gateway: Vec<Counted> = (0..6)
            .map(|i| step(sent + 3_000 + i * 400, TouchKind::EmailClick, CHROME))
            .collect();
        assert!(gateway.iter().all(|c| c.weight == 0.0));
        assert_eq!(gateway[0].notes, vec!["clicked 3 s after sending"]);
        assert_eq!(
            gateway[2].notes,
            vec![
                "clicked 3 s after sending",
                "3 clicks within 10 s: links followed by a machine"
            ]
        );
        let prefetch = step(sent + 120_000, TouchKind::EmailOpen, "Mozilla/5.0");
        assert_eq!(
            (prefetch.weight, prefetch.notes),
            (
                0.0,
                vec!["machine open (Apple Mail Privacy Protection)".to_string()]
            )
        );
        let minute = 60_000;
        let dee = [
            (sent + 75 * minute, TouchKind::EmailOpen, 1.0),
            (sent + 76 * minute, TouchKind::EmailClick, 3.0),
            (sent + 76 * minute + 5_000, TouchKind::EmailClick, 1.5),
            (sent + 340 * minute, TouchKind::EmailOpen, 0.5),
            (sent + 540 * minute, TouchKind::EmailOpen, 0.0),
        ];
        for (at, kind, expected) in dee {
            assert_eq!(
                step(at, kind, APPLE_MAIL).weight,
                expected,
                "{kind} at {at}"
            );
        }
        let raw = attention.raw_at(sent + 540 * minute, &config);
        // 6 before decay, 5.91 by 17:00.
        assert!((raw - 5.91).abs() < 0.005, "{raw}");
        assert_eq!(super::super::score(raw, &config), 21);
    }
}
