//! The noise rules' settings: what each rule looks for and how much of its weight a
//! touch keeps when one matches, the weekly caps and repeat factors the day and
//! week rules in `attention` read, their defaults, and the checks that name a bad
//! setting by its key.

use super::addresses::normalize_domain;
use super::machine::{default_machine_user_agents, parse_cidr, MachineNetwork, MachineUserAgent};
use crate::model::TouchKind;
use crate::scoring::attention::RECENT_PER_KIND;
use serde::Deserialize;
use std::collections::BTreeMap;

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
        if self.burst_clicks == 1 || self.burst_clicks as usize > RECENT_PER_KIND {
            return Err((
                "burst_clicks".into(),
                format!("must be 0 (off) or from 2 to {}", RECENT_PER_KIND),
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{counted, DAY, HOUR, MONDAY};
    use super::*;
    use crate::scoring::{weigh, Attention, Counted, ScoringConfig};
    use serde_json::json;

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
}
