//! Accounts and buying groups: the attention of a company, rewarding breadth.
//!
//! Buyers are groups. Five people from one company each moderately engaged say more
//! than one person clicking everything, so each person counts with the square root of
//! their attention, and each buying-group role their attention covers adds points:
//!
//! `cᵢ = 100 · √(rawᵢ / score_scale)` for each member (their decayed raw attention)
//! `account raw = Σ cᵢ + role_points × Σ_roles (1 − e^(−Σ_{i in role} cᵢ / c_engaged))`
//! `account score = 100 · (1 − e^(−account raw / accounts.score_scale))`, at most 99.
//!
//! There is no threshold a person must pass to count, so the score has no cliff. And
//! since the square root of an exponential decay is the same decay at twice the
//! half-life, every sum above decays exactly by itself: an account keeps its sums
//! (a [`Group`]) and changes them one member at a time, without reading the others.
//!
//! `docs/scoring.md#accounts` has worked examples.

mod group;
mod score;
#[cfg(test)]
mod tests;

pub use group::{Group, Member};
pub use score::{member_score, score_group, AccountScore, MemberScore};

use super::fit::contains_word;
use super::ScoringConfig;
use std::collections::BTreeMap;

/// What reasons call an account: its domain, else the company a member gave.
pub fn account_name(key: &str, group: &Group) -> String {
    if let Some(domain) = key.strip_prefix("domain:") {
        return domain.to_string();
    }
    group.company.clone().unwrap_or_else(|| key.to_string())
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// Buying-group roles: role → words of the job title that make it. A title may
    /// make several roles (a CFO decides and holds the budget).
    #[serde(default = "default_roles")]
    pub roles: BTreeMap<String, Vec<String>>,
    /// The contact score at which a person counts as engaged: in the account's
    /// counts of people, and one person there covers 63 % of a role.
    #[serde(default = "default_engaged_score")]
    pub engaged_score: u8,
    /// Raw account points for each role fully covered.
    #[serde(default = "default_role_points")]
    pub role_points: f64,
    /// Raw account attention at which the account score reaches 63.
    #[serde(default = "default_score_scale")]
    pub score_scale: f64,
    /// Group people by their email domain when no CRM account or Segment group is
    /// known (free-mail, competitor, internal and test domains never make an
    /// account).
    #[serde(default = "default_by_email_domain")]
    pub by_email_domain: bool,
    /// Universities and schools (`*.edu`, `*.edu.<cc>`, `*.ac.<cc>`) make no account
    /// from their email domain: students and researchers read a lot and buy little.
    #[serde(default = "default_by_email_domain")]
    pub skip_academic_domains: bool,
    /// More email domains that never make an account.
    #[serde(default)]
    pub skip_domains: Vec<String>,
    /// Seconds at least between two pushes of a changed account line ("4 people from
    /// acme.com engaged this week") to members who did nothing themselves. A member
    /// who touches gets the current line at once.
    #[serde(default = "default_member_line_interval_secs")]
    pub member_line_interval_secs: u64,
}

impl Default for AccountConfig {
    fn default() -> Self {
        AccountConfig {
            roles: default_roles(),
            engaged_score: default_engaged_score(),
            role_points: default_role_points(),
            score_scale: default_score_scale(),
            by_email_domain: default_by_email_domain(),
            skip_academic_domains: default_by_email_domain(),
            skip_domains: Vec::new(),
            member_line_interval_secs: default_member_line_interval_secs(),
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
fn default_member_line_interval_secs() -> u64 {
    3600
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
        if self.engaged_score >= 100 {
            return Err(("accounts.engaged_score".into(), "must be below 100".into()));
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
/// said, else `domain:<email domain>` unless that domain makes no account. A bare
/// domain a source gives as the account (`"account": "acme.com"`) is that domain's
/// account, not one of its own.
pub fn account_key(
    stated: Option<&str>,
    email: Option<&str>,
    config: &ScoringConfig,
) -> Option<String> {
    if let Some(account) = stated.map(str::trim).filter(|a| !a.is_empty()) {
        if !account.contains(':') && account.contains('.') && !account.contains(' ') {
            return Some(format!("domain:{}", account.to_lowercase()));
        }
        return Some(account.to_string());
    }
    if !config.accounts.by_email_domain {
        return None;
    }
    company_domain(email, config).map(|domain| format!("domain:{domain}"))
}

/// The domain of a work email that stands for the person's company, unless that
/// domain makes no account (free mail, competitors, schools, …).
pub fn company_domain(email: Option<&str>, config: &ScoringConfig) -> Option<String> {
    let domain = email?.rsplit_once('@')?.1.trim().to_lowercase();
    (!domain.is_empty() && !skipped_domain(&domain, config)).then_some(domain)
}

/// Domains whose people are not a buying group of a customer: free mail, competitors,
/// our own and test addresses, schools, and any the operator lists.
fn skipped_domain(domain: &str, config: &ScoringConfig) -> bool {
    let listed = |list: &[String]| {
        list.iter().any(|entry| {
            let entry = entry.trim().trim_start_matches('@');
            domain.eq_ignore_ascii_case(entry)
                || domain
                    .strip_suffix(entry)
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    };
    listed(&config.fit.free_mail_domains)
        || listed(&config.fit.competitor_domains)
        || listed(&config.noise.internal_domains)
        || listed(&config.noise.test_domains)
        || listed(&config.accounts.skip_domains)
        || (config.accounts.skip_academic_domains && academic(domain))
}

/// `mit.edu`, `cs.stanford.edu`, `unimelb.edu.au`, `ox.ac.uk`.
fn academic(domain: &str) -> bool {
    let labels: Vec<&str> = domain.rsplit('.').collect();
    match labels.as_slice() {
        ["edu", ..] => true,
        [country, second, _, ..] if country.len() == 2 => matches!(*second, "edu" | "ac"),
        _ => false,
    }
}

/// A count as members' reasons say it: exact up to 10, then `10+`, `20+`, `50+`,
/// `100+`… A change of the line reaches every member's CRM record, so in a large
/// account a new person engaging changes it only at those steps.
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
