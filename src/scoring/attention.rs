//! Exact exponential decay, stored as value + as-of time.
//!
//! A decayed sum is linear, so `Σ wᵢ·½^((t−tᵢ)/h)` can be kept as one number `A` valid
//! at `as_of` and read at any `t` as `A·½^((t−as_of)/h)`. A late touch (older than
//! `as_of`) is added pre-decayed to `as_of`; nothing is approximated, whatever the
//! order in which touches arrive. Raw attention is two such sums, one per memory
//! (the short one is empty unless `[scoring.short_memory]` gives weights).

use super::ScoringConfig;
use crate::model::{Millis, TouchKind, MILLIS_PER_DAY};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many recent touch times of a kind are kept for "3 clicks this week".
pub(super) const RECENT_PER_KIND: usize = 20;
/// Cap counters older than this many days before the newest are dropped.
const CAP_MEMORY_DAYS: i64 = 35;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attention {
    /// The time at which the sums below are exact.
    pub as_of: Millis,
    /// Decayed sum at `half_life_days`: the long memory's part of the attention
    /// that becomes the score.
    pub raw: f64,
    /// Decayed sum at `fast_half_life_days`, for the trend.
    pub fast: f64,
    /// Decayed sum at `slow_half_life_days`, for the trend.
    pub slow: f64,
    /// Per kind: contribution to `raw`, counts and recent times, for reasons.
    pub kinds: BTreeMap<TouchKind, KindStats>,
    /// Touches counted per kind and day (days since 1970-01-01 UTC), for the daily
    /// caps and repeat factors.
    #[serde(default, with = "super::counters")]
    pub daily: Counters,
    /// Time and counted weight of the touches of the last 7 days, for the velocity.
    #[serde(default)]
    pub week: Vec<(Millis, f64)>,
    /// Touches counted per kind and week (weeks from Monday 00:00 UTC), for the
    /// weekly caps.
    #[serde(default, with = "super::counters")]
    pub weekly: Counters,
    /// Decayed sum at `short_memory.half_life_days`: the short memory's part of raw
    /// attention.
    #[serde(default)]
    pub short: f64,
    /// Time and short-memory weight of the touches of the last 7 days that have
    /// one, for the velocity.
    #[serde(default)]
    pub week_short: Vec<(Millis, f64)>,
}

/// Touches counted per kind and period (a day or a week number).
pub type Counters = BTreeMap<(TouchKind, i64), u32>;

/// What the day and week rules make of the next counted touch of a kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// Share of its weight the touch keeps: 0 when a cap is reached.
    pub multiplier: f64,
    /// Why it is less than 1, in words a rep can read.
    pub note: Option<String>,
}

/// The window `attention_velocity` looks back over.
pub const VELOCITY_DAYS: i64 = 7;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KindStats {
    /// This kind's part of `raw`, at `as_of`.
    pub contribution: f64,
    /// Touches of this kind, counted or capped.
    pub count: u64,
    pub last_at: Millis,
    /// Newest times first, at most [`RECENT_PER_KIND`].
    pub recent: Vec<Millis>,
    /// This kind's part of `short`, at `as_of`.
    #[serde(default)]
    pub short: f64,
}

/// What a touch added: the share of its kind's weights it kept (after noise rules,
/// caps and repeats) and the points at each memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parts {
    pub share: f64,
    pub long: f64,
    pub short: f64,
}

/// `value` at `from`, read at `to`: halved every `half_life_days`.
pub fn decay(value: f64, from: Millis, to: Millis, half_life_days: f64) -> f64 {
    if value == 0.0 {
        return 0.0;
    }
    let days = (to - from) as f64 / MILLIS_PER_DAY;
    value * 0.5f64.powf(days / half_life_days)
}

fn day_key(kind: TouchKind, at: Millis) -> (TouchKind, i64) {
    (kind, day_of(at))
}

fn day_of(at: Millis) -> i64 {
    at.div_euclid(MILLIS_PER_DAY as i64)
}

fn week_key(kind: TouchKind, at: Millis) -> (TouchKind, i64) {
    (kind, week_of(at))
}

/// Weeks start on Monday 00:00 UTC, as ISO weeks do: day 0 (1970-01-01) was a
/// Thursday, so shifting by 3 days puts every Monday on a multiple of 7.
fn week_of(at: Millis) -> i64 {
    (day_of(at) + 3).div_euclid(7)
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// `0.25` → `25%`, `0.125` → `12.5%`.
fn percent(share: f64) -> String {
    let value = (share * 1000.0).round() / 10.0;
    format!("{value}%")
}

impl Attention {
    /// Records a touch and returns the weight it was counted with (0 when capped).
    pub fn add(&mut self, kind: TouchKind, at: Millis, config: &ScoringConfig) -> f64 {
        self.add_scaled(kind, at, 1.0, config)
    }

    /// Like [`Attention::add`] with the kind's weights multiplied by `factor`
    /// (e.g. a webinar attended for half its length, or 0 for a machine open);
    /// returns what the touch counts fresh, both memories together.
    pub fn add_scaled(
        &mut self,
        kind: TouchKind,
        at: Millis,
        factor: f64,
        config: &ScoringConfig,
    ) -> f64 {
        let parts = self.add_parts(kind, at, factor, config);
        parts.long + parts.short
    }

    /// Records a touch whose kind's weights are multiplied by `factor`. A kind
    /// worth something ([`ScoringConfig::worth`]) then passes the day and week
    /// rules ([`Attention::slot`]); a touch with factor 0 takes no slot, so a
    /// prefetch never uses up a person's first open of the day. Penalties skip those
    /// rules: a penalty is never capped, diminished or turned into a reward.
    pub fn add_parts(
        &mut self,
        kind: TouchKind,
        at: Millis,
        factor: f64,
        config: &ScoringConfig,
    ) -> Parts {
        let share = if factor == 0.0 {
            0.0
        } else if config.worth(kind) * factor > 0.0 {
            factor * self.take_slot(kind, at, config)
        } else {
            factor
        };
        let parts = Parts {
            share,
            long: config.weight(kind) * share,
            short: config.short_weight(kind) * share,
        };
        self.add_weighted(kind, at, parts, config);
        parts
    }

    /// What the daily cap, the weekly cap and the repeat factor make of the next
    /// positive touch of `kind` at `at`, given the touches counted so far.
    pub fn slot(&self, kind: TouchKind, at: Millis, config: &ScoringConfig) -> Slot {
        let full = Slot {
            multiplier: 1.0,
            note: None,
        };
        if config.worth(kind) < 0.0 {
            return full;
        }
        let today = self.daily.get(&day_key(kind, at)).copied().unwrap_or(0);
        if let Some(cap) = config.daily_cap(kind) {
            if today >= cap {
                return Slot {
                    multiplier: 0.0,
                    note: Some(format!("daily cap of {cap} {} reached", kind.plural())),
                };
            }
        }
        if let Some(cap) = config.noise.weekly_cap(kind) {
            let this_week = self.weekly.get(&week_key(kind, at)).copied().unwrap_or(0);
            if this_week >= cap {
                return Slot {
                    multiplier: 0.0,
                    note: Some(format!("weekly cap of {cap} {} reached", kind.plural())),
                };
            }
        }
        let repeat = config.noise.repeat_factor(kind);
        if today == 0 || repeat >= 1.0 {
            return full;
        }
        let multiplier = repeat.powi(today as i32);
        Slot {
            multiplier,
            note: Some(format!(
                "{} {} of the day counts {}",
                ordinal(today + 1),
                kind.label(),
                percent(multiplier)
            )),
        }
    }

    /// Takes the slot [`Attention::slot`] describes and returns its multiplier.
    fn take_slot(&mut self, kind: TouchKind, at: Millis, config: &ScoringConfig) -> f64 {
        let multiplier = self.slot(kind, at, config).multiplier;
        if multiplier == 0.0 {
            return 0.0;
        }
        // Counters only where a rule reads them, so uncapped kinds cost nothing.
        if config.daily_cap(kind).is_some() || config.noise.repeat_factor(kind) < 1.0 {
            *self.daily.entry(day_key(kind, at)).or_insert(0) += 1;
        }
        if config.noise.weekly_cap(kind).is_some() {
            *self.weekly.entry(week_key(kind, at)).or_insert(0) += 1;
        }
        multiplier
    }

    /// Whether the cap counters of `at`'s day and week are still kept: they are for
    /// the days [`CAP_MEMORY_DAYS`] back from the newest touch.
    pub fn remembers_counters_of(&self, at: Millis) -> bool {
        let newest = self.last_touch_at().map_or(day_of(self.as_of), |last| {
            day_of(last).max(day_of(self.as_of))
        });
        let newest_week = (newest + 3).div_euclid(7);
        let (day, week) = (day_of(at), (day_of(at) + 3).div_euclid(7));
        newest - day <= CAP_MEMORY_DAYS && newest_week - week <= CAP_MEMORY_DAYS / 7
    }

    fn prune_counters(&mut self, at: Millis) {
        let newest = day_of(at).max(day_of(self.as_of));
        self.daily
            .retain(|(_, day), _| newest - day <= CAP_MEMORY_DAYS);
        let newest_week = (newest + 3).div_euclid(7);
        self.weekly
            .retain(|(_, week), _| newest_week - week <= CAP_MEMORY_DAYS / 7);
    }

    fn add_weighted(&mut self, kind: TouchKind, at: Millis, parts: Parts, config: &ScoringConfig) {
        if self.kinds.is_empty() && self.raw == 0.0 && self.as_of == 0 {
            self.as_of = at;
        }
        if at > self.as_of {
            self.advance(at, config);
        }
        // Counters age out from the newest day on, after every touch, so that what
        // is kept does not depend on the order touches came in.
        self.prune_counters(at);
        let as_of = self.as_of;
        let short_half_life = config.short_memory.half_life_days;
        let (long, short) = (parts.long, parts.short);
        self.raw += decay(long, at, as_of, config.half_life_days);
        self.short += decay(short, at, as_of, short_half_life);
        // The trend compares what touches are worth fresh, both memories together.
        let worth = long + short;
        self.fast += decay(worth, at, as_of, config.fast_half_life_days);
        self.slow += decay(worth, at, as_of, config.slow_half_life_days);
        let this_week = at > as_of - VELOCITY_DAYS * MILLIS_PER_DAY as i64;
        if long != 0.0 && this_week {
            self.week.push((at, long));
        }
        if short != 0.0 && this_week {
            self.week_short.push((at, short));
        }
        let stats = self.kinds.entry(kind).or_default();
        stats.contribution += decay(long, at, as_of, config.half_life_days);
        stats.short += decay(short, at, as_of, short_half_life);
        stats.count += 1;
        stats.last_at = stats.last_at.max(at);
        let position = stats.recent.partition_point(|&t| t > at);
        stats.recent.insert(position, at);
        stats.recent.truncate(RECENT_PER_KIND);
    }

    /// Moves the exact point forward; values read the same at every time afterwards.
    pub fn advance(&mut self, to: Millis, config: &ScoringConfig) {
        if to <= self.as_of {
            return;
        }
        let from = self.as_of;
        // One factor per half-life, shared by every sum that decays with it.
        let factor = decay(1.0, from, to, config.half_life_days);
        let short_factor = if self.short != 0.0 || self.kinds.values().any(|k| k.short != 0.0) {
            decay(1.0, from, to, config.short_memory.half_life_days)
        } else {
            1.0
        };
        self.raw *= factor;
        self.short *= short_factor;
        self.fast = decay(self.fast, from, to, config.fast_half_life_days);
        self.slow = decay(self.slow, from, to, config.slow_half_life_days);
        for stats in self.kinds.values_mut() {
            stats.contribution *= factor;
            stats.short *= short_factor;
        }
        let horizon = to - VELOCITY_DAYS * MILLIS_PER_DAY as i64;
        self.week.retain(|(at, _)| *at > horizon);
        self.week_short.retain(|(at, _)| *at > horizon);
        self.as_of = to;
    }

    /// Raw attention at `now`: both memories.
    pub fn raw_at(&self, now: Millis, config: &ScoringConfig) -> f64 {
        decay(self.raw, self.as_of, now, config.half_life_days)
            + decay(
                self.short,
                self.as_of,
                now,
                config.short_memory.half_life_days,
            )
    }

    pub fn fast_at(&self, now: Millis, config: &ScoringConfig) -> f64 {
        decay(self.fast, self.as_of, now, config.fast_half_life_days)
    }

    pub fn slow_at(&self, now: Millis, config: &ScoringConfig) -> f64 {
        decay(self.slow, self.as_of, now, config.slow_half_life_days)
    }

    pub fn contribution_at(&self, kind: TouchKind, now: Millis, config: &ScoringConfig) -> f64 {
        self.kinds
            .get(&kind)
            .map(|stats| {
                decay(stats.contribution, self.as_of, now, config.half_life_days)
                    + decay(
                        stats.short,
                        self.as_of,
                        now,
                        config.short_memory.half_life_days,
                    )
            })
            .unwrap_or(0.0)
    }

    /// Change of raw attention over the last 7 days: raw now minus raw a week ago.
    /// Raw a week ago follows exactly from raw now and the touches since, because
    /// each memory's sum decays uniformly: `sum(t−7d) = (sum(t) − Σ recent decayed)
    /// / ½^(7/h)`, for the long and the short memory each.
    pub fn velocity_at(&self, now: Millis, config: &ScoringConfig) -> f64 {
        let horizon = now - VELOCITY_DAYS * MILLIS_PER_DAY as i64;
        let week_ago = |sum: f64, week: &[(Millis, f64)], half_life: f64| {
            if sum == 0.0 && week.is_empty() {
                return 0.0;
            }
            let now_sum = decay(sum, self.as_of, now, half_life);
            let recent: f64 = week
                .iter()
                .filter(|(at, _)| *at > horizon && *at <= now)
                .map(|(at, weight)| decay(*weight, *at, now, half_life))
                .sum();
            (now_sum - recent) / 0.5f64.powf(VELOCITY_DAYS as f64 / half_life)
        };
        let then = week_ago(self.raw, &self.week, config.half_life_days)
            + week_ago(
                self.short,
                &self.week_short,
                config.short_memory.half_life_days,
            );
        self.raw_at(now, config) - then
    }

    pub fn last_touch_at(&self) -> Option<Millis> {
        self.kinds.values().map(|stats| stats.last_at).max()
    }

    /// Folds another contact's attention into this one (identity merge). Exact, since
    /// both sums are linear: align both to the later `as_of` and add.
    pub fn merge(&mut self, mut other: Attention, config: &ScoringConfig) {
        if other.kinds.is_empty() && other.raw == 0.0 {
            self.merge_counters(other.daily, other.weekly);
            return;
        }
        if self.kinds.is_empty() && self.raw == 0.0 && self.as_of == 0 {
            self.as_of = other.as_of;
        }
        let to = self.as_of.max(other.as_of);
        self.advance(to, config);
        other.advance(to, config);
        self.raw += other.raw;
        self.short += other.short;
        self.fast += other.fast;
        self.slow += other.slow;
        for (kind, theirs) in other.kinds {
            let ours = self.kinds.entry(kind).or_default();
            ours.contribution += theirs.contribution;
            ours.short += theirs.short;
            ours.count += theirs.count;
            ours.last_at = ours.last_at.max(theirs.last_at);
            ours.recent.extend(theirs.recent);
            ours.recent.sort_unstable_by(|a, b| b.cmp(a));
            ours.recent.truncate(RECENT_PER_KIND);
        }
        self.week.extend(other.week);
        self.week.sort_unstable_by_key(|(at, _)| *at);
        self.week_short.extend(other.week_short);
        self.week_short.sort_unstable_by_key(|(at, _)| *at);
        self.merge_counters(other.daily, other.weekly);
    }

    fn merge_counters(&mut self, daily: Counters, weekly: Counters) {
        for (key, count) in daily {
            *self.daily.entry(key).or_insert(0) += count;
        }
        for (key, count) in weekly {
            *self.weekly.entry(key).or_insert(0) += count;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: Millis = MILLIS_PER_DAY as Millis;
    const NOW: Millis = 1_790_000_000_000;

    fn brute_force(touches: &[(Millis, f64)], now: Millis, half_life: f64) -> f64 {
        touches
            .iter()
            .map(|(at, w)| w * 0.5f64.powf((now - at) as f64 / MILLIS_PER_DAY / half_life))
            .sum()
    }

    #[test]
    fn a_touch_loses_half_its_weight_per_half_life() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        attention.add(TouchKind::FormSubmit, NOW, &config);
        assert!((attention.raw_at(NOW, &config) - 10.0).abs() < 1e-9);
        assert!((attention.raw_at(NOW + 14 * DAY, &config) - 5.0).abs() < 1e-9);
        assert!((attention.raw_at(NOW + 28 * DAY, &config) - 2.5).abs() < 1e-9);
    }

    #[test]
    fn a_late_touch_decays_from_when_it_happened() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        attention.add(TouchKind::EmailClick, NOW, &config);
        // Arrives now, happened two half-lives ago.
        attention.add(TouchKind::FormSubmit, NOW - 28 * DAY, &config);
        let expected = 3.0 + 10.0 / 4.0;
        assert!((attention.raw_at(NOW, &config) - expected).abs() < 1e-9);
    }

    #[test]
    fn forty_opens_in_a_day_count_one_and_a_half() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        let counted: Vec<f64> = (0..40)
            .map(|i| attention.add(TouchKind::EmailOpen, NOW + i * 1000, &config))
            .collect();
        // The first in full, the second at the repeat factor 0.5, then the daily cap.
        assert_eq!(&counted[..3], &[1.0, 0.5, 0.0]);
        assert_eq!(counted.iter().sum::<f64>(), 1.5);
        assert_eq!(attention.kinds[&TouchKind::EmailOpen].count, 40);
        // The next day counts again.
        assert_eq!(attention.add(TouchKind::EmailOpen, NOW + DAY, &config), 1.0);
    }

    #[test]
    fn merging_two_contacts_equals_one_contact_with_all_touches() {
        let config = ScoringConfig::default();
        let mut anonymous = Attention::default();
        anonymous.add(TouchKind::PricingView, NOW - 5 * DAY, &config);
        let mut known = Attention::default();
        known.add(TouchKind::FormSubmit, NOW - DAY, &config);
        known.merge(anonymous, &config);
        let mut together = Attention::default();
        together.add(TouchKind::FormSubmit, NOW - DAY, &config);
        together.add(TouchKind::PricingView, NOW - 5 * DAY, &config);
        assert!((known.raw_at(NOW, &config) - together.raw_at(NOW, &config)).abs() < 1e-9);
        assert_eq!(known.kinds.len(), 2);
    }

    #[test]
    fn velocity_is_the_change_of_raw_attention_over_seven_days() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        // A form 20 days ago, a meeting booked 2 days ago.
        attention.add(TouchKind::FormSubmit, NOW - 20 * DAY, &config);
        attention.add(TouchKind::MeetingBooked, NOW - 2 * DAY, &config);
        let half = |days: f64| 0.5f64.powf(days / 14.0);
        let now = 10.0 * half(20.0) + 20.0 * half(2.0);
        let week_ago = 10.0 * half(13.0);
        let velocity = attention.velocity_at(NOW, &config);
        assert!((velocity - (now - week_ago)).abs() < 1e-9, "{velocity}");
        assert!(velocity > 16.0);
        // Three quiet weeks later attention only fades: velocity is negative.
        let later = NOW + 21 * DAY;
        attention.advance(later, &config);
        let expected = attention.raw_at(later, &config) * (1.0 - 1.0 / half(7.0));
        assert!((attention.velocity_at(later, &config) - expected).abs() < 1e-9);
        assert!(attention.velocity_at(later, &config) < 0.0);
    }

    #[test]
    fn counters_written_as_kind_at_day_strings_still_read() {
        let old = r#"{"as_of":0,"raw":0.0,"fast":0.0,"slow":0.0,"kinds":{},
            "daily":{"email_click@20769":2,"email_open@20751":1},
            "weekly":{"email_click@w2967":3}}"#;
        let attention: Attention = serde_json::from_str(old).unwrap();
        assert_eq!(attention.daily[&(TouchKind::EmailClick, 20769)], 2);
        assert_eq!(attention.daily[&(TouchKind::EmailOpen, 20751)], 1);
        assert_eq!(attention.weekly[&(TouchKind::EmailClick, 2967)], 3);
        let again: Attention =
            serde_json::from_slice(&serde_json::to_vec(&attention).unwrap()).unwrap();
        assert_eq!(again, attention);
        let unknown = old.replace("email_open@", "email_teleport@");
        assert!(serde_json::from_str::<Attention>(&unknown).is_err());
    }

    /// Demo requests and forms count more while recent; a meeting booked counts
    /// only while recent; an unsubscribe keeps its one, long memory.
    fn two_memories() -> ScoringConfig {
        let mut config = ScoringConfig::default();
        let short = &mut config.short_memory.weights;
        short.insert(TouchKind::DemoRequest, 30.0);
        short.insert(TouchKind::FormSubmit, 4.0);
        short.insert(TouchKind::MeetingBooked, 25.0);
        config.weights.insert(TouchKind::MeetingBooked, 0.0);
        config
    }

    /// Each touch's part at `now`: `long × ½^(age/14) + short × ½^(age/3)`.
    fn by_hand(touches: &[(TouchKind, Millis)], now: Millis, config: &ScoringConfig) -> f64 {
        touches
            .iter()
            .filter(|(_, at)| *at <= now)
            .map(|(kind, at)| {
                let days = (now - at) as f64 / MILLIS_PER_DAY;
                config.weight(*kind) * 0.5f64.powf(days / 14.0)
                    + config.short_weight(*kind) * 0.5f64.powf(days / 3.0)
            })
            .sum()
    }

    #[test]
    fn with_two_memories_each_touch_adds_its_weight_at_each() {
        let config = two_memories();
        let touches = [
            (TouchKind::FormSubmit, NOW - 20 * DAY),
            (TouchKind::DemoRequest, NOW - 2 * DAY),
            (TouchKind::MeetingBooked, NOW - DAY),
            (TouchKind::Unsubscribe, NOW - 9 * DAY),
        ];
        let mut attention = Attention::default();
        // Counted fresh: both memories together.
        let counted: Vec<f64> = touches
            .iter()
            .map(|(kind, at)| attention.add(*kind, *at, &config))
            .collect();
        assert_eq!(counted, vec![14.0, 50.0, 25.0, -15.0]);
        for later in [0, 3 * DAY, 30 * DAY] {
            let now = NOW + later;
            let raw = attention.raw_at(now, &config);
            assert!(
                (raw - by_hand(&touches, now, &config)).abs() < 1e-9,
                "{raw}"
            );
            // The kinds' parts add up to it, each shown on its own.
            let parts: f64 = touches
                .iter()
                .map(|(kind, _)| attention.contribution_at(*kind, now, &config))
                .sum();
            assert!((parts - raw).abs() < 1e-9);
            let demo = by_hand(&touches[1..2], now, &config);
            assert!(
                (attention.contribution_at(TouchKind::DemoRequest, now, &config) - demo).abs()
                    < 1e-9
            );
            // The velocity is raw now less raw a week before, both memories exact.
            let week_ago = by_hand(&touches, now - 7 * DAY, &config);
            let velocity = attention.velocity_at(now, &config);
            assert!((velocity - (raw - week_ago)).abs() < 1e-9, "{velocity}");
        }
        // A meeting booked a day ago: 25 × ½^(1/3) = 19.8 now, nothing left at the
        // long memory; a month on, 25 × ½^10 = 0.02.
        let meeting = attention.contribution_at(TouchKind::MeetingBooked, NOW, &config);
        assert!((meeting - 25.0 * 0.5f64.powf(1.0 / 3.0)).abs() < 1e-9);
        assert!(
            attention.contribution_at(TouchKind::MeetingBooked, NOW + 30 * DAY, &config) < 0.025
        );
    }

    #[test]
    fn merging_two_memories_is_exact() {
        let config = two_memories();
        let mut a = Attention::default();
        a.add(TouchKind::DemoRequest, NOW - 3 * DAY, &config);
        let mut b = Attention::default();
        b.add(TouchKind::FormSubmit, NOW - DAY, &config);
        b.add(TouchKind::MeetingBooked, NOW - 5 * DAY, &config);
        a.merge(b, &config);
        let touches = [
            (TouchKind::DemoRequest, NOW - 3 * DAY),
            (TouchKind::FormSubmit, NOW - DAY),
            (TouchKind::MeetingBooked, NOW - 5 * DAY),
        ];
        let raw = a.raw_at(NOW, &config);
        assert!((raw - by_hand(&touches, NOW, &config)).abs() < 1e-9);
        let velocity = a.velocity_at(NOW, &config);
        assert!((velocity - (raw - by_hand(&touches, NOW - 7 * DAY, &config))).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn any_arrival_order_gives_the_exact_decayed_sum_at_both_memories(
            offsets in proptest::collection::vec((0i64..400 * DAY, 0usize..4), 1..60)
        ) {
            let config = two_memories();
            let kinds = [TouchKind::FormSubmit, TouchKind::MeetingBooked, TouchKind::Unsubscribe, TouchKind::DemoRequest];
            let mut attention = Attention::default();
            let touches: Vec<(TouchKind, Millis)> = offsets.iter().map(|(offset, k)| (kinds[*k], NOW - offset)).collect();
            for (kind, at) in &touches {
                attention.add(*kind, *at, &config);
            }
            let exact = by_hand(&touches, NOW, &config);
            prop_assert!((exact - attention.raw_at(NOW, &config)).abs() <= 1e-9 * exact.abs().max(1.0));
        }

        #[test]
        fn any_arrival_order_gives_the_exact_decayed_sum(
            offsets in proptest::collection::vec((0i64..400 * DAY, 0usize..4), 1..60)
        ) {
            let config = ScoringConfig::default();
            let kinds = [TouchKind::FormSubmit, TouchKind::MeetingBooked, TouchKind::Unsubscribe, TouchKind::EmailReply];
            let mut attention = Attention::default();
            let mut log = Vec::new();
            for (offset, k) in &offsets {
                let at = NOW - offset;
                let w = attention.add(kinds[*k], at, &config);
                log.push((at, w));
            }
            {
                let half_life = config.half_life_days;
                let exact = brute_force(&log, NOW, half_life);
                let ours = attention.raw_at(NOW, &config);
                prop_assert!((exact - ours).abs() <= 1e-9 * exact.abs().max(1.0));
            }
            let exact_fast = brute_force(&log, NOW, config.fast_half_life_days);
            prop_assert!((exact_fast - attention.fast_at(NOW, &config)).abs() <= 1e-9 * exact_fast.abs().max(1.0));
        }
    }
}
