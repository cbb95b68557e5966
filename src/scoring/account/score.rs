//! An account's score, trend, counts and reasons, read off its group's sums at `now`.

use super::group::{Group, Member, ENGAGED_DAYS};
use super::{roughly, words};
use crate::model::Millis;
use crate::scoring::{decay, trend_of, ScoringConfig, Trend};

#[derive(Debug, Clone, PartialEq)]
pub struct AccountScore {
    pub score: u8,
    pub raw: f64,
    pub trend: Trend,
    /// People engaged in the last 30 days.
    pub people_engaged: usize,
    /// People engaged in the last 7 days.
    pub engaged_this_week: usize,
    /// Roles the members' attention covers at least half way.
    pub roles_covered: Vec<String>,
    pub roles_missing: Vec<String>,
    pub reasons: Vec<String>,
    /// What every member's reasons say about the account: "4 people from acme.com
    /// engaged this week", once at least two are. One person alone is already
    /// said by their own reasons.
    pub member_line: Option<String>,
}

/// One member as an account page lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberScore {
    pub id: u64,
    pub score: u8,
    pub roles: Vec<String>,
    /// Engaged in the last 30 days.
    pub engaged: bool,
}

/// The contribution of one person at exactly `engaged_score`: one such person covers
/// a role to 1 − 1/e (63 %).
fn engaged_contribution(config: &ScoringConfig) -> f64 {
    let engaged = f64::from(config.accounts.engaged_score.min(99)) / 100.0;
    100.0 * (-(1.0 - engaged).ln()).sqrt()
}

/// How far a role is covered, from 0 to 1, given its members' contributions.
fn coverage(sum: f64, config: &ScoringConfig) -> f64 {
    let unit = engaged_contribution(config);
    if unit <= 0.0 {
        return if sum > 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - (-sum / unit).exp()
}

/// Scores an account from its group, at `now`. `name` is what reasons call it.
pub fn score_group(name: &str, group: &Group, now: Millis, config: &ScoringConfig) -> AccountScore {
    let accounts = &config.accounts;
    let twice = 2.0 * config.half_life_days;
    let twice_short = 2.0 * config.short_memory.half_life_days;
    let at = |sum: f64, half_life: f64| decay(sum, group.as_of, now.max(group.as_of), half_life);
    // Both memories' parts; below zero only by rounding, or by members whose
    // attention faded below zero, who count nothing all together.
    let both = |long: f64, short: f64| (at(long, twice) + at(short, twice_short)).max(0.0);
    let mut raw = both(group.breadth, group.breadth_short);
    let mut roles_covered = Vec::new();
    let mut roles_missing = Vec::new();
    for role in accounts.roles.keys() {
        let part =
            |sums: &std::collections::BTreeMap<String, f64>| sums.get(role).copied().unwrap_or(0.0);
        let covered = coverage(both(part(&group.roles), part(&group.roles_short)), config);
        raw += accounts.role_points * covered;
        if covered >= 0.5 {
            roles_covered.push(role.clone());
        } else {
            roles_missing.push(role.clone());
        }
    }
    let value = 100.0 * (1.0 - (-raw / accounts.score_scale).exp());
    let score = if raw > 0.0 {
        value.round().clamp(0.0, 99.0) as u8
    } else {
        0
    };
    let fast = at(group.fast, config.fast_half_life_days);
    let slow = at(group.slow, config.slow_half_life_days);
    let people_engaged = group.engaged_within(ENGAGED_DAYS, now);
    let engaged_this_week = group.engaged_within(7, now);
    let mut reasons = Vec::new();
    let member_line = (engaged_this_week >= 2).then(|| {
        format!(
            "{} people from {name} engaged this week",
            roughly(engaged_this_week)
        )
    });
    if engaged_this_week > 0 {
        let people = if engaged_this_week == 1 {
            "person"
        } else {
            "people"
        };
        reasons.push(format!(
            "{engaged_this_week} {people} from {name} engaged this week"
        ));
    } else if people_engaged > 0 {
        reasons.push(format!("{people_engaged} engaged at {name}"));
    }
    if !roles_covered.is_empty() {
        reasons.push(format!("roles covered: {}", words(&roles_covered)));
    }
    if people_engaged > 0 && !roles_missing.is_empty() {
        reasons.push(format!("no {} yet", words(&roles_missing)));
    }
    AccountScore {
        score,
        raw,
        trend: trend_of(fast, slow, config),
        people_engaged,
        engaged_this_week,
        roles_covered,
        roles_missing,
        reasons,
        member_line,
    }
}

/// One member's score, roles and whether they were engaged in the last 30 days.
pub fn member_score(member: &Member, now: Millis, config: &ScoringConfig) -> MemberScore {
    let raw = member.raw_at(now, config);
    let window = ENGAGED_DAYS * crate::model::MILLIS_PER_DAY as i64;
    MemberScore {
        id: member.id,
        score: crate::scoring::score(raw, config),
        roles: member.roles(config),
        engaged: member.engaged_at.is_some_and(|at| now - at < window),
    }
}
