//! A buying group's sums, changed one member at a time.
//!
//! Every sum decays exactly by itself: a member's contribution `100 · √(raw / scale)`
//! decays at twice the half-life of `raw`, and the trend's fast and slow sums are
//! plain decayed sums. A scoring with a short memory gives a member a part at each
//! memory, and the group keeps each memory's sums apart, each decaying at twice its
//! own half-life. So a member's change is taken out at its old value and put in at the
//! new, each decayed to the group's time, and no other member is read.

use crate::model::{Millis, MILLIS_PER_DAY};
use crate::scoring::{decay, Attention, ScoringConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Days of engagement a group remembers: "engaged" counts people of the last 30.
pub(super) const ENGAGED_DAYS: i64 = 30;

/// One member as the account needs them: their decayed sums at `as_of`, kept beside
/// the account so that taking out their old contribution is exact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: u64,
    pub as_of: Millis,
    /// Their attention's long memory (`half_life_days`) at `as_of`.
    pub raw: f64,
    pub fast: f64,
    pub slow: f64,
    pub last_touch_at: Option<Millis>,
    /// Their latest touch, if their score then reached `engaged_score`.
    pub engaged_at: Option<Millis>,
    pub title: Option<String>,
    pub company: Option<String>,
    /// Their attention's short memory (`short_memory.half_life_days`) at `as_of`;
    /// 0 without short weights.
    pub short: f64,
}

impl Member {
    pub fn of(
        id: u64,
        attention: &Attention,
        title: Option<&str>,
        company: Option<&str>,
        config: &ScoringConfig,
    ) -> Member {
        let last_touch_at = attention.last_touch_at();
        let engaged_at = last_touch_at.filter(|at| {
            let raw_then = attention.raw_at(*at, config);
            crate::scoring::score(raw_then, config) >= config.accounts.engaged_score.max(1)
        });
        Member {
            id,
            as_of: attention.as_of,
            raw: attention.raw,
            fast: attention.fast,
            slow: attention.slow,
            last_touch_at,
            engaged_at,
            title: title.map(str::to_string),
            company: company.map(str::to_string),
            short: attention.short,
        }
    }

    /// Their raw attention at `at`, both memories: what their own score is made of.
    pub fn raw_at(&self, at: Millis, config: &ScoringConfig) -> f64 {
        decay(self.raw, self.as_of, at, config.half_life_days)
            + decay(
                self.short,
                self.as_of,
                at,
                config.short_memory.half_life_days,
            )
    }

    /// Their part of the account at `at`, one per memory: `100 · √(raw / score_scale)`
    /// of the long memory and of the short one. Long attention below zero counts
    /// nothing, as with one memory, unless the member also has a short part: then it
    /// counts against by the same root (a learned scoring's attention that faded
    /// without follow-up), so that their part is above zero exactly when their own
    /// attention is (`√short ≥ √−long` ⇔ `short + long ≥ 0`). A short part, once
    /// there, stays above zero until the next touch, so which rule applies does not
    /// change with time and each part decays exactly by itself.
    pub fn contribution(&self, at: Millis, config: &ScoringConfig) -> (f64, f64) {
        let root = |raw: f64| 100.0 * (raw / config.score_scale).sqrt();
        let long = decay(self.raw, self.as_of, at, config.half_life_days);
        let short = decay(
            self.short,
            self.as_of,
            at,
            config.short_memory.half_life_days,
        );
        let long_part = if long >= 0.0 {
            root(long)
        } else if self.short > 0.0 {
            -root(-long)
        } else {
            0.0
        };
        (long_part, root(short.max(0.0)))
    }

    pub fn roles(&self, config: &ScoringConfig) -> Vec<String> {
        self.title
            .as_deref()
            .map(|title| config.accounts.roles_of(title))
            .unwrap_or_default()
    }
}

/// The sums of an account over its members, exact as of `as_of`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub as_of: Millis,
    pub members: u32,
    /// Σ members' contributions of their long memory.
    pub breadth: f64,
    /// Per role: Σ long-memory contributions of the members holding it.
    pub roles: BTreeMap<String, f64>,
    /// Σ members' short and long memories, for the trend.
    pub fast: f64,
    pub slow: f64,
    /// Members by the UTC day they were last engaged on, for the last 30 days.
    pub engaged_days: BTreeMap<i64, u32>,
    /// A company name a member gave, for what reasons call the account.
    pub company: Option<String>,
    /// The same sums of the members' short memory (all 0 without short weights).
    pub breadth_short: f64,
    pub roles_short: BTreeMap<String, f64>,
}

fn day_of(at: Millis) -> i64 {
    at.div_euclid(MILLIS_PER_DAY as i64)
}

impl Group {
    /// Brings the sums to `now`. Call before adding or removing members, so that
    /// every contribution is taken at the same time.
    pub fn decay_to(&mut self, now: Millis, config: &ScoringConfig) {
        if now <= self.as_of {
            return;
        }
        let twice = 2.0 * config.half_life_days;
        self.breadth = decay(self.breadth, self.as_of, now, twice);
        for sum in self.roles.values_mut() {
            *sum = decay(*sum, self.as_of, now, twice);
        }
        let twice_short = 2.0 * config.short_memory.half_life_days;
        self.breadth_short = decay(self.breadth_short, self.as_of, now, twice_short);
        for sum in self.roles_short.values_mut() {
            *sum = decay(*sum, self.as_of, now, twice_short);
        }
        self.fast = decay(self.fast, self.as_of, now, config.fast_half_life_days);
        self.slow = decay(self.slow, self.as_of, now, config.slow_half_life_days);
        let oldest = day_of(now) - ENGAGED_DAYS;
        self.engaged_days = self.engaged_days.split_off(&oldest);
        self.as_of = now;
    }

    pub fn add(&mut self, member: &Member, config: &ScoringConfig) {
        self.apply(member, 1.0, config);
        self.members += 1;
        if self.company.is_none() {
            self.company = member.company.clone();
        }
        if let Some(day) = self.engaged_day(member) {
            *self.engaged_days.entry(day).or_default() += 1;
        }
    }

    pub fn remove(&mut self, member: &Member, config: &ScoringConfig) {
        self.members = self.members.saturating_sub(1);
        if self.members == 0 {
            // Exactly empty, whatever rounding left over.
            *self = Group {
                as_of: self.as_of,
                ..Group::default()
            };
            return;
        }
        self.apply(member, -1.0, config);
        if let Some(day) = self.engaged_day(member) {
            if let Some(count) = self.engaged_days.get_mut(&day) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.engaged_days.remove(&day);
                }
            }
        }
    }

    fn apply(&mut self, member: &Member, sign: f64, config: &ScoringConfig) {
        let at = self.as_of;
        let (long, short) = member.contribution(at, config);
        // A long part may be below zero (see `Member::contribution`), so the sums are
        // not held at zero here: rounding is, where they are read, and by the reset
        // when the last member leaves.
        self.breadth += sign * long;
        self.breadth_short += sign * short;
        for role in member.roles(config) {
            *self.roles.entry(role.clone()).or_default() += sign * long;
            if short > 0.0 {
                *self.roles_short.entry(role).or_default() += sign * short;
            }
        }
        self.fast += sign * decay(member.fast, member.as_of, at, config.fast_half_life_days);
        self.slow += sign * decay(member.slow, member.as_of, at, config.slow_half_life_days);
    }

    fn engaged_day(&self, member: &Member) -> Option<i64> {
        // The same window `decay_to` keeps, so that a day counted in is found again
        // when its member leaves, or was pruned by then.
        let day = day_of(member.engaged_at?);
        (day >= day_of(self.as_of) - ENGAGED_DAYS).then_some(day)
    }

    /// People engaged within the last `days` days (today included) as of `now`.
    pub fn engaged_within(&self, days: i64, now: Millis) -> usize {
        let today = day_of(now);
        self.engaged_days
            .range(today - days + 1..)
            .map(|(_, count)| *count as usize)
            .sum()
    }
}
