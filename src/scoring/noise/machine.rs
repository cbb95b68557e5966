//! Machine opens and clicks: the user agents and networks whose opens and clicks
//! machines make. A privacy proxy fetching every image, or a scanner following every
//! link, does so whether or not anyone reads the message, so its touches say
//! nothing about the person it went to.

use super::NoiseConfig;
use serde::Deserialize;
use std::net::IpAddr;

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

/// Apple Mail Privacy Protection fetches every image of a message through Apple's
/// proxies as soon as the message reaches the device, whether or not anyone reads
/// it, and sends the bare user agent `Mozilla/5.0` (ua-parser/uap-core#509; the
/// SocketLabs and Word to the Wise write-ups describe the prefetch). A mail client
/// or browser a person uses always says more than that.
pub(super) fn default_machine_user_agents() -> Vec<MachineUserAgent> {
    vec![MachineUserAgent {
        pattern: "Mozilla/5.0".into(),
        name: "Apple Mail Privacy Protection".into(),
    }]
}

fn text<'a>(properties: Option<&'a serde_json::Value>, name: &str) -> Option<&'a str> {
    properties
        .and_then(|p| p.get(name))
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

pub(super) fn machine_source<'a>(
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
pub(super) struct Cidr {
    network: IpAddr,
    prefix: u32,
}

impl Cidr {
    pub(super) fn contains(&self, address: IpAddr) -> bool {
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

pub(super) fn parse_cidr(text: &str) -> Option<Cidr> {
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{counted, APPLE_MAIL, CHROME, GMAIL_PROXY, HOUR, MONDAY};
    use super::*;
    use crate::model::TouchKind;
    use crate::scoring::{weigh, Attention, ScoringConfig};
    use serde_json::json;

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
}
