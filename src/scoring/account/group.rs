//! A buying group's sums, changed one member at a time.
//!
//! Every sum decays exactly by itself: a member's contribution `100 · √(raw / scale)`
//! decays at twice the half-life of `raw`, and the short and long memories are plain
//! decayed sums. So a member's change is taken out at its old value and put in at the
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
    pub raw: f64,
    pub fast: f64,
    pub slow: f64,
    pub last_touch_at: Option<Millis>,
    /// Their latest touch, if their score then reached `engaged_score`.
    pub engaged_at: Option<Millis>,
    pub title: Option<String>,
    pub company: Option<String>,
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
            let raw_then = decay(attention.raw, attention.as_of, *at, config.half_life_days);
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
        }
    }

    /// `100 · √(raw / score_scale)` at `at`; nothing for attention below zero.
    pub fn contribution(&self, at: Millis, config: &ScoringConfig) -> f64 {
        let raw = decay(self.raw, self.as_of, at, config.half_life_days);
        100.0 * (raw.max(0.0) / config.score_scale).sqrt()
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
    /// Σ members' contributions.
    pub breadth: f64,
    /// Per role: Σ contributions of the members holding it.
    pub roles: BTreeMap<String, f64>,
    /// Σ members' short and long memories, for the trend.
    pub fast: f64,
    pub slow: f64,
    /// Members by the UTC day they were last engaged on, for the last 30 days.
    pub engaged_days: BTreeMap<i64, u32>,
    /// A company name a member gave, for what reasons call the account.
    pub company: Option<String>,
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
        let contribution = sign * member.contribution(at, config);
        // Rounding must not leave a sum below zero once its members are gone.
        self.breadth = (self.breadth + contribution).max(0.0);
        for role in member.roles(config) {
            let sum = self.roles.entry(role).or_default();
            *sum = (*sum + contribution).max(0.0);
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
