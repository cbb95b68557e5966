//! The account score: breadth without a cliff, exact incremental sums, and which
//! domains make accounts.

use super::*;
use crate::model::{Millis, TouchKind, MILLIS_PER_DAY};
use crate::scoring::Attention;
use proptest::prelude::*;

const DAY: Millis = MILLIS_PER_DAY as Millis;
const NOW: Millis = 1_790_000_000_000;

fn attention(touches: &[(TouchKind, i64)], config: &ScoringConfig) -> Attention {
    let mut attention = Attention::default();
    for (kind, days_ago) in touches {
        attention.add(*kind, NOW - days_ago * DAY, config);
    }
    attention
}

fn group_of(members: &[Member], now: Millis, config: &ScoringConfig) -> Group {
    let mut group = Group::default();
    group.decay_to(now, config);
    for member in members {
        group.add(member, config);
    }
    group
}

/// A busy person: every day for a week, clicks, opens, pages, pricing, downloads.
fn busy_clicker(config: &ScoringConfig) -> Attention {
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
    attention(&busy, config)
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
        .map(|(i, (attention, title))| Member::of(i as u64, attention, Some(title), None, &config))
        .collect();
    let breadth = score_group("acme.com", &group_of(&members, NOW, &config), NOW, &config);
    let busy = busy_clicker(&config);
    let clicker = Member::of(9, &busy, None, None, &config);
    let lone = score_group(
        "solo.io",
        &group_of(std::slice::from_ref(&clicker), NOW, &config),
        NOW,
        &config,
    );
    assert!(
        crate::scoring::score(busy.raw_at(NOW, &config), &config) >= 95,
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
    // Worked numbers for the lone clicker: raw = 100·√(raw / 25), no role known.
    let expected = 100.0 * (busy.raw_at(NOW, &config) / config.score_scale).sqrt();
    assert!(
        (lone.raw - expected).abs() < 1e-6,
        "{} vs {expected}",
        lone.raw
    );
    assert_eq!(lone.roles_missing.len(), 4);
}

#[test]
fn five_people_with_a_click_and_a_page_each_outrank_thirty_clicks_by_one() {
    let config = ScoringConfig::default();
    let light: Vec<Member> = (0..5)
        .map(|i| {
            let seen = attention(
                &[(TouchKind::EmailClick, 1), (TouchKind::PageView, 2)],
                &config,
            );
            Member::of(i, &seen, None, None, &config)
        })
        .collect();
    let clicks: Vec<(TouchKind, i64)> = (0..30).map(|i| (TouchKind::EmailClick, i % 6)).collect();
    let one = Member::of(9, &attention(&clicks, &config), None, None, &config);
    let five = score_group("five.com", &group_of(&light, NOW, &config), NOW, &config);
    let single = score_group("one.com", &group_of(&[one], NOW, &config), NOW, &config);
    assert!(five.score > 0, "no threshold hides them");
    assert!(
        five.score > single.score,
        "{} vs {}",
        five.score,
        single.score
    );
}

#[test]
fn a_faint_touch_counts_a_little_but_not_as_engaged() {
    let config = ScoringConfig::default();
    let faint = attention(&[(TouchKind::EmailOpen, 20)], &config);
    let members = [Member::of(1, &faint, Some("CEO"), None, &config)];
    let account = score_group("acme.com", &group_of(&members, NOW, &config), NOW, &config);
    assert!(account.score > 0 && account.score < 15, "{}", account.score);
    assert_eq!(account.people_engaged, 0);
    assert!(account.roles_covered.is_empty());
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
            "2", "10", "10+", "10+", "20+", "20+", "50+", "50+", "100+", "100+", "200+", "500+",
            "1000+", "2000+"
        ]
    );
}

#[test]
fn accounts_come_from_the_crm_else_the_work_email_domain() {
    let mut config = ScoringConfig::default();
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
    // Schools, competitors and our own people make no account from their domain.
    for email in [
        "prof@mit.edu",
        "phd@cs.stanford.edu",
        "r@ox.ac.uk",
        "s@unimelb.edu.au",
    ] {
        assert_eq!(account_key(None, Some(email), &config), None, "{email}");
    }
    assert_eq!(
        account_key(None, Some("a@acme.co.uk"), &config).as_deref(),
        Some("domain:acme.co.uk")
    );
    config.fit.competitor_domains = vec!["rival.io".into()];
    config.noise.internal_domains = vec!["example.org".into()];
    config.accounts.skip_domains = vec!["agency.com".into()];
    for email in [
        "spy@rival.io",
        "spy@eu.rival.io",
        "me@example.org",
        "x@agency.com",
    ] {
        assert_eq!(account_key(None, Some(email), &config), None, "{email}");
    }
    // A bare domain given as the account is that domain's account.
    assert_eq!(
        account_key(Some(" Acme.com "), Some("a@other.io"), &config).as_deref(),
        Some("domain:acme.com")
    );
    // A company the CRM names is the CRM's to say, whatever the domain.
    assert_eq!(
        account_key(Some("salesforce:001A"), Some("prof@mit.edu"), &config).as_deref(),
        Some("salesforce:001A")
    );
}

/// One step of an account's life: a member (of five) changes at some day, or leaves.
#[derive(Debug, Clone)]
enum Step {
    Touch { member: u64, kind: usize, day: i64 },
    Leave { member: u64, day: i64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u64..5, 0usize..5, 0i64..60).prop_map(|(member, kind, day)| Step::Touch { member, kind, day }),
        1 => (0u64..5, 0i64..60).prop_map(|(member, day)| Step::Leave { member, day }),
    ]
}

proptest! {
    /// Changing one member at a time, over weeks of decay, gives the group built
    /// afresh from the members as they are at the end.
    #[test]
    fn incremental_sums_equal_a_group_built_afresh(mut steps in prop::collection::vec(step(), 1..40)) {
        let config = ScoringConfig::default();
        let kinds = [
            TouchKind::EmailOpen,
            TouchKind::PageView,
            TouchKind::FormSubmit,
            TouchKind::Unsubscribe,
            TouchKind::MeetingBooked,
        ];
        let titles = ["CEO", "Engineer", "Finance Manager", "", "Intern"];
        steps.sort_by_key(|step| match step {
            Step::Touch { day, .. } | Step::Leave { day, .. } => *day,
        });
        let start = NOW - 60 * DAY;
        let mut people: Vec<Attention> = vec![Attention::default(); 5];
        let mut current: std::collections::BTreeMap<u64, Member> = Default::default();
        let mut group = Group::default();
        let mut at = start;
        for step in &steps {
            match step {
                Step::Touch { member, kind, day } => {
                    at = start + day * DAY;
                    people[*member as usize].add(kinds[*kind], at, &config);
                    let title = titles[*member as usize];
                    let new = Member::of(*member, &people[*member as usize], Some(title).filter(|t| !t.is_empty()), Some("Acme"), &config);
                    group.decay_to(at, &config);
                    if let Some(old) = current.insert(*member, new.clone()) {
                        group.remove(&old, &config);
                    }
                    group.add(&new, &config);
                }
                Step::Leave { member, day } => {
                    at = start + day * DAY;
                    group.decay_to(at, &config);
                    if let Some(old) = current.remove(member) {
                        group.remove(&old, &config);
                    }
                }
            }
        }
        let members: Vec<Member> = current.values().cloned().collect();
        let fresh = group_of(&members, at, &config);
        prop_assert_eq!(group.members, fresh.members);
        prop_assert!((group.breadth - fresh.breadth).abs() < 1e-6 * (1.0 + fresh.breadth));
        prop_assert!((group.fast - fresh.fast).abs() < 1e-6 * (1.0 + fresh.fast.abs()));
        prop_assert!((group.slow - fresh.slow).abs() < 1e-6 * (1.0 + fresh.slow.abs()));
        for (role, sum) in &fresh.roles {
            let kept = group.roles.get(role).copied().unwrap_or(0.0);
            prop_assert!((kept - sum).abs() < 1e-6 * (1.0 + sum), "{} {} vs {}", role, kept, sum);
        }
        let later = at + 3 * DAY;
        let (kept, afresh) = (
            score_group("acme.com", &group, later, &config),
            score_group("acme.com", &fresh, later, &config),
        );
        prop_assert!((kept.raw - afresh.raw).abs() < 1e-6 * (1.0 + afresh.raw));
        prop_assert!(kept.score.abs_diff(afresh.score) <= 1, "rounding at most");
        prop_assert_eq!(kept.people_engaged, afresh.people_engaged);
        prop_assert_eq!(kept.engaged_this_week, afresh.engaged_this_week);
        prop_assert_eq!(kept.roles_covered, afresh.roles_covered);
        prop_assert_eq!(kept.member_line, afresh.member_line);
    }
}
