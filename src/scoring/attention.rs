//! Exact exponential decay, stored as value + as-of time.
//!
//! A decayed sum is linear, so `Σ wᵢ·½^((t−tᵢ)/h)` can be kept as one number `A` valid
//! at `as_of` and read at any `t` as `A·½^((t−as_of)/h)`. A late touch (older than
//! `as_of`) is added pre-decayed to `as_of`; nothing is approximated, whatever the
//! order in which touches arrive.

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
    /// Decayed sum at `half_life_days`: the attention that becomes the score.
    pub raw: f64,
    /// Decayed sum at `fast_half_life_days`, for the trend.
    pub fast: f64,
    /// Decayed sum at `slow_half_life_days`, for the trend.
    pub slow: f64,
    /// Per kind: contribution to `raw`, counts and recent times, for reasons.
    pub kinds: BTreeMap<TouchKind, KindStats>,
    /// Touches counted per kind and day (days since 1970-01-01 UTC), for the daily
    /// caps and repeat factors.
    #[serde(default, with = "counters")]
    pub daily: Counters,
    /// Time and counted weight of the touches of the last 7 days, for the velocity.
    #[serde(default)]
    pub week: Vec<(Millis, f64)>,
    /// Touches counted per kind and week (weeks from Monday 00:00 UTC), for the
    /// weekly caps.
    #[serde(default, with = "counters")]
    pub weekly: Counters,
}

/// Touches counted per kind and period (a day or a week number).
pub type Counters = BTreeMap<(TouchKind, i64), u32>;

/// Counters are kept as `[kind, period, count]` triples. Records written before
/// that kept a map of `"kind@day"` and `"kind@w<week>"` strings, which JSON
/// still reads.
mod counters {
    use super::Counters;
    use crate::model::TouchKind;
    use serde::de::{Deserializer, Error, MapAccess, SeqAccess, Visitor};
    use serde::ser::{SerializeSeq, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(counters: &Counters, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(counters.len()))?;
        for ((kind, period), count) in counters {
            seq.serialize_element(&(kind, period, count))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Counters, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(CountersVisitor)
        } else {
            deserializer.deserialize_seq(CountersVisitor)
        }
    }

    struct CountersVisitor;

    impl<'de> Visitor<'de> for CountersVisitor {
        type Value = Counters;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("[kind, period, count] triples")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Counters, A::Error> {
            let mut counters = Counters::new();
            while let Some((kind, period, count)) = seq.next_element::<(TouchKind, i64, u32)>()? {
                counters.insert((kind, period), count);
            }
            Ok(counters)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Counters, A::Error> {
            let mut counters = Counters::new();
            while let Some((key, count)) = map.next_entry::<String, u32>()? {
                let parsed = key.rsplit_once('@').and_then(|(kind, period)| {
                    let period = period.strip_prefix('w').unwrap_or(period);
                    Some((TouchKind::parse(kind)?, period.parse::<i64>().ok()?))
                });
                let key = parsed.ok_or_else(|| A::Error::custom(format!("counter {key:?}")))?;
                counters.insert(key, count);
            }
            Ok(counters)
        }
    }
}

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

    /// Like [`Attention::add`] with the kind's weight multiplied by `factor` (e.g. a
    /// webinar attended for half its length, or 0 for a machine open). A positive
    /// weight then passes the day and week rules ([`Attention::slot`]); a touch
    /// with factor 0 takes no slot, so a prefetch never uses up a person's first
    /// open of the day. Negative weights skip those rules: a penalty is never
    /// capped, diminished or turned into a reward.
    pub fn add_scaled(
        &mut self,
        kind: TouchKind,
        at: Millis,
        factor: f64,
        config: &ScoringConfig,
    ) -> f64 {
        let base = config.weight(kind) * factor;
        let weight = if factor == 0.0 {
            0.0
        } else if base > 0.0 {
            base * self.take_slot(kind, at, config)
        } else {
            base
        };
        self.add_weighted(kind, at, weight, config);
        weight
    }

    /// What the daily cap, the weekly cap and the repeat factor make of the next
    /// positive touch of `kind` at `at`, given the touches counted so far.
    pub fn slot(&self, kind: TouchKind, at: Millis, config: &ScoringConfig) -> Slot {
        let full = Slot {
            multiplier: 1.0,
            note: None,
        };
        if config.weight(kind) < 0.0 {
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

    fn add_weighted(&mut self, kind: TouchKind, at: Millis, weight: f64, config: &ScoringConfig) {
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
        self.raw += decay(weight, at, as_of, config.half_life_days);
        self.fast += decay(weight, at, as_of, config.fast_half_life_days);
        self.slow += decay(weight, at, as_of, config.slow_half_life_days);
        if weight != 0.0 && at > as_of - VELOCITY_DAYS * MILLIS_PER_DAY as i64 {
            self.week.push((at, weight));
        }
        let stats = self.kinds.entry(kind).or_default();
        stats.contribution += decay(weight, at, as_of, config.half_life_days);
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
        self.raw *= factor;
        self.fast = decay(self.fast, from, to, config.fast_half_life_days);
        self.slow = decay(self.slow, from, to, config.slow_half_life_days);
        for stats in self.kinds.values_mut() {
            stats.contribution *= factor;
        }
        let horizon = to - VELOCITY_DAYS * MILLIS_PER_DAY as i64;
        self.week.retain(|(at, _)| *at > horizon);
        self.as_of = to;
    }

    pub fn raw_at(&self, now: Millis, config: &ScoringConfig) -> f64 {
        decay(self.raw, self.as_of, now, config.half_life_days)
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
            .map(|stats| decay(stats.contribution, self.as_of, now, config.half_life_days))
            .unwrap_or(0.0)
    }

    /// Change of raw attention over the last 7 days: raw now minus raw a week ago.
    /// Raw a week ago follows exactly from raw now and the touches since, because the
    /// sum decays uniformly: `raw(t−7d) = (raw(t) − Σ recent decayed) / ½^(7/h)`.
    pub fn velocity_at(&self, now: Millis, config: &ScoringConfig) -> f64 {
        let horizon = now - VELOCITY_DAYS * MILLIS_PER_DAY as i64;
        let recent: f64 = self
            .week
            .iter()
            .filter(|(at, _)| *at > horizon && *at <= now)
            .map(|(at, weight)| decay(*weight, *at, now, config.half_life_days))
            .sum();
        let raw_now = self.raw_at(now, config);
        let week_decay = 0.5f64.powf(VELOCITY_DAYS as f64 / config.half_life_days);
        raw_now - (raw_now - recent) / week_decay
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
        self.fast += other.fast;
        self.slow += other.slow;
        for (kind, theirs) in other.kinds {
            let ours = self.kinds.entry(kind).or_default();
            ours.contribution += theirs.contribution;
            ours.count += theirs.count;
            ours.last_at = ours.last_at.max(theirs.last_at);
            ours.recent.extend(theirs.recent);
            ours.recent.sort_unstable_by(|a, b| b.cmp(a));
            ours.recent.truncate(RECENT_PER_KIND);
        }
        self.week.extend(other.week);
        self.week.sort_unstable_by_key(|(at, _)| *at);
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

    proptest! {
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
