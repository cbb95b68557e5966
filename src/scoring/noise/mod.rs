//! Noise rules: never reward what is easy to fake.
//!
//! A touch's weight is discounted when the facts its source reported (user agent,
//! IP, send time) or the contact's recent history (clicks seconds apart) say a
//! machine made it, and it counts nothing when the contact's address is one of our
//! own or a test address. Every rule that fires leaves a short note, so the touch
//! log can say why a touch counted less. `docs/scoring.md#noise-rules` has the
//! defaults, the evidence behind them and worked numbers.
//!
//! Each rule lives in its own file with the evidence behind it: `machine` (user
//! agents and networks of machines), `early` (opens and clicks seconds after
//! sending), `burst` (clicks seconds apart) and `addresses` (our own and test
//! addresses); `config` holds their settings. This file weighs a touch against all
//! of them and counts it.

mod addresses;
mod burst;
mod config;
mod early;
#[cfg(test)]
mod fixtures;
mod machine;

pub use config::{default_repeat_factor, default_weekly_cap, NoiseConfig};
pub use machine::{MachineNetwork, MachineUserAgent};

use super::{touch_factor, Attention, ScoringConfig};
use crate::model::{Millis, TouchKind};
use addresses::excluded;
use burst::burst;
use early::seconds_after_send;
use machine::machine_source;

/// How much of its kind's weight a touch earns before the day and week rules, and
/// every reason it is less than all of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Weighing {
    pub factor: f64,
    pub notes: Vec<String>,
}

/// A touch as counted: what it added to raw attention and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    /// What it counts fresh: its points at both memories.
    pub weight: f64,
    /// Of which at the short memory (0 without `[scoring.short_memory]`).
    pub short: f64,
    /// The share of its kind's weights it kept after noise rules, caps and repeats.
    pub share: f64,
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
    if config.worth(kind) < 0.0 {
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
    let parts = attention.add_parts(kind, at, weighing.factor, config);
    Counted {
        weight: parts.long + parts.short,
        short: parts.short,
        share: parts.share,
        notes: weighing.notes,
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{counted, APPLE_MAIL, CHROME, HOUR, MONDAY};
    use super::*;
    use serde_json::json;

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
