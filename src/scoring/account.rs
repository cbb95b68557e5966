//! Accounts and buying groups: the attention of a company, rewarding breadth.
//!
//! Buyers are groups. Five people from one company each moderately engaged say more
//! than one person clicking everything, so each engaged person counts with the square
//! root of their score, and each buying-group role covered adds points:
//!
//! `account raw = Σ 10·√scoreᵢ (engaged people) + role_points × roles covered`
//! `account score = 100 · (1 − e^(−raw / score_scale))`, at most 99.
//!
//! `docs/scoring.md#accounts` has worked examples.

use super::fit::contains_word;
use super::{decay, trend_of, Attention, ScoringConfig, Trend};
use crate::model::{Millis, MILLIS_PER_DAY};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What reasons call an account: its domain, else the company a member gave.
pub fn account_name(key: &str, members: &[Member]) -> String {
    if let Some(domain) = key.strip_prefix("domain:") {
        return domain.to_string();
    }
    members
        .iter()
        .find_map(|member| member.company.clone())
        .unwrap_or_else(|| key.to_string())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Buying-group roles: role → words of the job title that make it. A title may
    /// make several roles (a CFO decides and holds the budget).
    #[serde(default = "default_roles")]
    pub roles: BTreeMap<String, Vec<String>>,
    /// Lowest contact score at which a person counts as engaged.
    #[serde(default = "default_engaged_score")]
    pub engaged_score: u8,
    /// Raw account points for each role covered by an engaged person.
    #[serde(default = "default_role_points")]
    pub role_points: f64,
    /// Raw account attention at which the account score reaches 63.
    #[serde(default = "default_score_scale")]
    pub score_scale: f64,
    /// Group people by their email domain when no CRM account or Segment group is
    /// known (free-mail domains never make an account).
    #[serde(default = "default_by_email_domain")]
    pub by_email_domain: bool,
}

impl Default for AccountConfig {
    fn default() -> Self {
        AccountConfig {
            roles: default_roles(),
            engaged_score: default_engaged_score(),
            role_points: default_role_points(),
            score_scale: default_score_scale(),
            by_email_domain: default_by_email_domain(),
        }
    }
}

fn default_roles() -> BTreeMap<String, Vec<String>> {
    let role = |name: &str, words: &[&str]| {
        (
            name.to_string(),
            words.iter().map(|w| w.to_string()).collect(),
        )
    };
    [
        role(
            "decision_maker",
            &[
                "ceo",
                "cto",
                "cio",
                "coo",
                "cfo",
                "chief",
                "founder",
                "owner",
                "president",
                "vp",
                "vice president",
                "head",
                "director",
            ],
        ),
        role("champion", &["manager", "lead", "principal", "team lead"]),
        role(
            "technical",
            &[
                "engineer",
                "engineering",
                "developer",
                "architect",
                "devops",
                "it",
                "security",
                "data",
                "cto",
            ],
        ),
        role(
            "finance",
            &[
                "finance",
                "financial",
                "procurement",
                "purchasing",
                "controller",
                "cfo",
                "accounting",
            ],
        ),
    ]
    .into()
}
fn default_engaged_score() -> u8 {
    15
}
fn default_role_points() -> f64 {
    20.0
}
fn default_score_scale() -> f64 {
    150.0
}
fn default_by_email_domain() -> bool {
    true
}

impl AccountConfig {
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(self.score_scale.is_finite() && self.score_scale > 0.0) {
            return Err((
                "accounts.score_scale".into(),
                "must be a number greater than 0".into(),
            ));
        }
        if !(self.role_points.is_finite() && self.role_points >= 0.0) {
            return Err((
                "accounts.role_points".into(),
                "must be a number of at least 0".into(),
            ));
        }
        Ok(())
    }

    /// The buying-group roles a job title makes.
    pub fn roles_of(&self, title: &str) -> Vec<String> {
        self.roles
            .iter()
            .filter(|(_, words)| words.iter().any(|word| contains_word(title, word)))
            .map(|(role, _)| role.clone())
            .collect()
    }
}

/// The account a person belongs to: the CRM's or Segment's account when a source
/// said, else `domain:<email domain>` unless that is a free-mail domain.
pub fn account_key(
    stated: Option<&str>,
    email: Option<&str>,
    config: &ScoringConfig,
) -> Option<String> {
    if let Some(account) = stated.filter(|a| !a.is_empty()) {
        return Some(account.to_string());
    }
    if !config.accounts.by_email_domain {
        return None;
    }
    let domain = email?.rsplit_once('@')?.1.trim().to_ascii_lowercase();
    let free = config
        .fit
        .free_mail_domains
        .iter()
        .any(|free| free.eq_ignore_ascii_case(&domain));
    (!domain.is_empty() && !free).then(|| format!("domain:{domain}"))
}

/// One member as the account score needs them: their decayed sums at `as_of`, so
/// that an account is rescored without reading every member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: u64,
    pub as_of: Millis,
    pub raw: f64,
    pub fast: f64,
    pub slow: f64,
    #[serde(default)]
    pub last_touch_at: Option<Millis>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
}

impl Member {
    pub fn of(
        id: u64,
        attention: &Attention,
        title: Option<&str>,
        company: Option<&str>,
    ) -> Member {
        Member {
            id,
            as_of: attention.as_of,
            raw: attention.raw,
            fast: attention.fast,
            slow: attention.slow,
            last_touch_at: attention.last_touch_at(),
            title: title.map(str::to_string),
            company: company.map(str::to_string),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountScore {
    pub score: u8,
    pub raw: f64,
    pub trend: Trend,
    /// Members with a score of at least `engaged_score`.
    pub people_engaged: usize,
    /// Engaged members whose latest touch is less than 7 days old.
    pub engaged_this_week: usize,
    pub roles_covered: Vec<String>,
    pub roles_missing: Vec<String>,
    /// Per member: id, score, roles, engaged.
    pub members: Vec<MemberScore>,
    pub reasons: Vec<String>,
    /// What every member's reasons say about the account: "4 people from acme.com
    /// engaged this week", once at least two are. One person alone is already
    /// said by their own reasons.
    pub member_line: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberScore {
    pub id: u64,
    pub score: u8,
    pub roles: Vec<String>,
    pub engaged: bool,
}

/// Scores an account from its members, at `now`. `name` is what reasons call it.
pub fn score_account(
    name: &str,
    members: &[Member],
    now: Millis,
    config: &ScoringConfig,
) -> AccountScore {
    let accounts = &config.accounts;
    let week = 7 * MILLIS_PER_DAY as i64;
    let mut raw = 0.0;
    let mut fast = 0.0;
    let mut slow = 0.0;
    let mut covered = BTreeSet::new();
    let mut people_engaged = 0;
    let mut engaged_this_week = 0;
    let mut scored = Vec::with_capacity(members.len());
    for member in members {
        let raw_now = decay(member.raw, member.as_of, now, config.half_life_days);
        let score = super::score(raw_now, config);
        let roles = member
            .title
            .as_deref()
            .map(|title| accounts.roles_of(title))
            .unwrap_or_default();
        fast += decay(member.fast, member.as_of, now, config.fast_half_life_days);
        slow += decay(member.slow, member.as_of, now, config.slow_half_life_days);
        let engaged = score >= accounts.engaged_score && score > 0;
        if engaged {
            people_engaged += 1;
            raw += 10.0 * f64::from(score).sqrt();
            covered.extend(roles.iter().cloned());
            if member.last_touch_at.is_some_and(|at| now - at < week) {
                engaged_this_week += 1;
            }
        }
        scored.push(MemberScore {
            id: member.id,
            score,
            roles,
            engaged,
        });
    }
    raw += accounts.role_points * covered.len() as f64;
    let value = 100.0 * (1.0 - (-raw / accounts.score_scale).exp());
    let score = if raw > 0.0 {
        value.round().clamp(0.0, 99.0) as u8
    } else {
        0
    };
    let roles_covered: Vec<String> = covered.into_iter().collect();
    let roles_missing: Vec<String> = accounts
        .roles
        .keys()
        .filter(|role| !roles_covered.contains(role))
        .cloned()
        .collect();
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
        members: scored,
        reasons,
        member_line,
    }
}

/// A count as members' reasons say it: exact up to 10, then `10+`, `20+`, `50+`,
/// `100+`… Every change of the line queues every member for the CRMs again, so
/// in a large account a new person engaging changes it only at those steps.
fn roughly(people: usize) -> String {
    if people <= 10 {
        return people.to_string();
    }
    let (mut reached, mut decade) = (10, 10);
    loop {
        for step in [decade, decade * 2, decade * 5] {
            if step > people {
                return format!("{reached}+");
            }
            reached = step;
        }
        decade *= 10;
    }
}

fn words(roles: &[String]) -> String {
    roles
        .iter()
        .map(|role| role.replace('_', " "))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TouchKind;

    const DAY: Millis = MILLIS_PER_DAY as Millis;
    const NOW: Millis = 1_790_000_000_000;

    fn attention(touches: &[(TouchKind, i64)], config: &ScoringConfig) -> Attention {
        let mut attention = Attention::default();
        for (kind, days_ago) in touches {
            attention.add(*kind, NOW - days_ago * DAY, config);
        }
        attention
    }

    #[test]
    fn five_moderately_engaged_people_outrank_one_busy_clicker() {
        let config = ScoringConfig::default();
        // A buying group: each person one or two meaningful touches this week.
        let group: Vec<(Attention, &str)> = vec![
            (
                attention(&[(TouchKind::WebinarAttended, 2)], &config),
                "VP Engineering",
            ),
            (
                attention(&[(TouchKind::ContentDownload, 1)], &config),
                "Engineering Manager",
            ),
            (
                attention(&[(TouchKind::FormSubmit, 3)], &config),
                "Senior Engineer",
            ),
            (
                attention(
                    &[(TouchKind::PricingView, 1), (TouchKind::EmailClick, 1)],
                    &config,
                ),
                "Finance Controller",
            ),
            (
                attention(&[(TouchKind::EmailReply, 2)], &config),
                "Procurement Lead",
            ),
        ];
        let members: Vec<Member> = group
            .iter()
            .enumerate()
            .map(|(i, (attention, title))| Member::of(i as u64, attention, Some(title), None))
            .collect();
        let breadth = score_account("acme.com", &members, NOW, &config);
        // One person, every day for a week: clicks, opens, pages, pricing, downloads.
        let mut busy = Vec::new();
        for day in 0..7 {
            for kind in [
                TouchKind::EmailClick,
                TouchKind::EmailClick,
                TouchKind::EmailClick,
                TouchKind::EmailOpen,
                TouchKind::EmailOpen,
                TouchKind::PricingView,
                TouchKind::ContentDownload,
                TouchKind::PageView,
            ] {
                busy.push((kind, day));
            }
        }
        let busy = attention(&busy, &config);
        let lone = score_account("solo.io", &[Member::of(9, &busy, None, None)], NOW, &config);
        assert!(
            super::super::score(busy.raw_at(NOW, &config), &config) >= 95,
            "the clicker alone is near the top"
        );
        assert!(
            breadth.score > lone.score,
            "{} vs {}",
            breadth.score,
            lone.score
        );
        assert_eq!(breadth.people_engaged, 5);
        assert_eq!(
            breadth.roles_covered,
            ["champion", "decision_maker", "finance", "technical"]
        );
        assert!(breadth.roles_missing.is_empty());
        assert_eq!(
            breadth.reasons[0],
            "5 people from acme.com engaged this week"
        );
        assert_eq!(
            breadth.member_line.as_deref(),
            Some("5 people from acme.com engaged this week")
        );
        // One person is their own reason: members are told nothing more.
        assert_eq!(lone.reasons[0], "1 person from solo.io engaged this week");
        assert_eq!(lone.member_line, None);
        // Worked numbers for the lone clicker: raw = 10·√score, no role known.
        let expected = 10.0 * f64::from(lone.members[0].score).sqrt();
        assert!((lone.raw - expected).abs() < 1e-9);
        assert_eq!(lone.roles_missing.len(), 4);
    }

    #[test]
    fn members_read_large_counts_in_steps() {
        let said: Vec<String> = [
            2, 10, 11, 19, 20, 49, 50, 99, 100, 199, 200, 999, 1000, 2500,
        ]
        .into_iter()
        .map(roughly)
        .collect();
        assert_eq!(
            said,
            [
                "2", "10", "10+", "10+", "20+", "20+", "50+", "50+", "100+", "100+", "200+",
                "500+", "1000+", "2000+"
            ]
        );
    }

    #[test]
    fn people_below_the_engaged_score_do_not_count() {
        let config = ScoringConfig::default();
        let faint = attention(&[(TouchKind::EmailOpen, 20)], &config);
        let members = [Member::of(1, &faint, Some("CEO"), None)];
        let account = score_account("acme.com", &members, NOW, &config);
        assert_eq!(account.score, 0);
        assert_eq!(account.people_engaged, 0);
        assert!(account.roles_covered.is_empty());
    }

    #[test]
    fn accounts_come_from_the_crm_else_the_work_email_domain() {
        let config = ScoringConfig::default();
        assert_eq!(
            account_key(Some("hubspot-company:42"), Some("a@acme.com"), &config).as_deref(),
            Some("hubspot-company:42")
        );
        assert_eq!(
            account_key(None, Some("A@Acme.com"), &config).as_deref(),
            Some("domain:acme.com")
        );
        assert_eq!(account_key(None, Some("someone@gmail.com"), &config), None);
        assert_eq!(account_key(None, None, &config), None);
    }
}
