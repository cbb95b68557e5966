//! Attention as marketing's measure: total attention and accounts in market week by
//! week, new qualified people month by month against the target, the opportunities
//! created with the attention before them, and the days from a person's first
//! qualification to their opportunity.

use super::timeline::{any_within, Timelines};
use crate::clock::rfc3339;
use crate::learn::History;
use crate::model::{Millis, MILLIS_PER_DAY};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

const DAY: Millis = MILLIS_PER_DAY as Millis;
const WEEK: Millis = 7 * DAY;
/// Days before an opportunity whose attention is said to come before it.
const BEFORE_DAYS: f64 = 30.0;

#[derive(Debug, Clone, Serialize)]
pub struct Week {
    pub at: Millis,
    /// Everyone's raw attention (below zero counts as zero) at the date.
    pub attention: f64,
    /// People engaged (score at a touch reaching the accounts' `engaged_score`) in
    /// the 7 days up to the date.
    pub people_engaged: usize,
    /// Accounts with two or more of them: a buying group at work.
    pub accounts_in_market: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Month {
    /// `2026-03`.
    pub month: String,
    /// People who reached the qualified stage for the first time.
    pub qualified: usize,
    pub opportunities: usize,
    /// Of those, how many had someone engaged in the 30 days before.
    pub with_attention: usize,
    pub amount: f64,
}

/// One opportunity and the attention before it.
#[derive(Debug, Clone, Serialize)]
pub struct DealRow {
    pub key: String,
    pub created: Millis,
    pub amount: Option<f64>,
    pub currency: Option<String>,
    /// `won`, `lost` or `open`.
    pub status: &'static str,
    /// People linked to it, or members of an account linked to it.
    pub people: usize,
    /// Of those, engaged in the 30 days before it was created.
    pub engaged_before: usize,
    /// Points their touches added in the 30 days before it was created.
    pub attention_before: f64,
    /// The highest score among them when it was created.
    pub top_score: u8,
    /// Days to its creation from the qualification of the first of them to qualify
    /// (each person's latest entry into the qualified stage before it).
    pub days_from_qualified: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    pub label: String,
    pub count: usize,
}

pub struct Measured {
    pub weeks: Vec<Week>,
    pub months: Vec<Month>,
    pub deals: Vec<DealRow>,
    pub days_to_opportunity: Vec<Bucket>,
    pub median_days: Option<f64>,
}

/// Weekly dates back from the newest event (or `now`, if sooner) to a week after
/// the first touch, oldest first.
pub fn weeks(history: &History, now: Millis) -> Vec<Millis> {
    let (Some(first), Some(last)) = (history.first_touch, history.last_event()) else {
        return Vec::new();
    };
    let mut at = last.min(now);
    let mut dates = Vec::new();
    while at >= first + WEEK {
        dates.push(at);
        at -= WEEK;
    }
    dates.reverse();
    dates
}

fn month_of(at: Millis) -> String {
    rfc3339(at).chars().take(7).collect()
}

/// The months from `first`'s to `last`'s, oldest first.
fn months_between(first: Millis, last: Millis) -> Vec<String> {
    let mut months = Vec::new();
    let mut at = first;
    while month_of(at) <= month_of(last) {
        let month = month_of(at);
        if months.last() != Some(&month) {
            months.push(month);
        }
        at += DAY;
    }
    months
}

pub fn measure(history: &History, weeks: &[Millis], timelines: &Timelines) -> Measured {
    let weeks: Vec<Week> = weeks
        .iter()
        .map(|&at| {
            let mut attention = 0.0;
            let mut engaged: BTreeSet<u64> = BTreeSet::new();
            for (id, timeline) in &timelines.people {
                if let Some(point) = timelines.at(*id, at) {
                    attention += point.raw.max(0.0);
                }
                if any_within(&timeline.engaged, at, 7.0) {
                    engaged.insert(*id);
                }
            }
            let accounts_in_market = history
                .members
                .values()
                .filter(|ids| ids.iter().filter(|id| engaged.contains(id)).count() >= 2)
                .count();
            Week {
                at,
                attention,
                people_engaged: engaged.len(),
                accounts_in_market,
            }
        })
        .collect();

    let mut deals = Vec::new();
    for deal in history.deals.values() {
        let Some(created) = deal.created else {
            continue;
        };
        let mut linked: BTreeSet<u64> = deal.people.clone();
        for account in &deal.accounts {
            linked.extend(history.members.get(account).into_iter().flatten());
        }
        let mut row = DealRow {
            key: deal.key.clone(),
            created,
            amount: deal.amount,
            currency: deal.currency.clone(),
            status: match deal.closed {
                Some(_) if deal.won => "won",
                Some(_) => "lost",
                None => "open",
            },
            people: linked.len(),
            engaged_before: 0,
            attention_before: 0.0,
            top_score: 0,
            days_from_qualified: None,
        };
        let from = created - (BEFORE_DAYS * MILLIS_PER_DAY) as Millis;
        for id in &linked {
            let Some(timeline) = timelines.people.get(id) else {
                continue;
            };
            if any_within(&timeline.engaged, created, BEFORE_DAYS) {
                row.engaged_before += 1;
            }
            row.attention_before += timeline
                .touches
                .iter()
                .filter(|t| t.at > from && t.at <= created)
                .map(|t| t.points)
                .sum::<f64>();
            if let Some(score) = timeline.at_deals.get(&deal.key) {
                row.top_score = row.top_score.max(*score);
            }
            // Their latest qualification up to it: an old one, left and regained
            // since, belongs to another episode.
            let entered = timeline.qualified.partition_point(|q| *q <= created);
            if let Some(qualified) = entered.checked_sub(1).map(|i| timeline.qualified[i]) {
                let days = (created - qualified) as f64 / MILLIS_PER_DAY;
                row.days_from_qualified =
                    Some(row.days_from_qualified.map_or(days, |d: f64| d.max(days)));
            }
        }
        deals.push(row);
    }
    deals.sort_by_key(|d| std::cmp::Reverse(d.created));

    let mut months: BTreeMap<String, Month> = BTreeMap::new();
    if let (Some(first), Some(last)) = (history.first_touch, history.last_event()) {
        for month in months_between(first, last) {
            months.insert(
                month.clone(),
                Month {
                    month,
                    qualified: 0,
                    opportunities: 0,
                    with_attention: 0,
                    amount: 0.0,
                },
            );
        }
    }
    for timeline in timelines.people.values() {
        if let Some(month) = timeline
            .qualified
            .first()
            .and_then(|q| months.get_mut(&month_of(*q)))
        {
            month.qualified += 1;
        }
    }
    for deal in &deals {
        if let Some(month) = months.get_mut(&month_of(deal.created)) {
            month.opportunities += 1;
            month.with_attention += usize::from(deal.engaged_before > 0);
            month.amount += deal.amount.unwrap_or(0.0);
        }
    }

    let limits = [
        (7.0, "0–7 days"),
        (30.0, "8–30 days"),
        (60.0, "31–60 days"),
        (90.0, "61–90 days"),
    ];
    let mut buckets: Vec<Bucket> = limits
        .iter()
        .map(|(_, label)| Bucket {
            label: label.to_string(),
            count: 0,
        })
        .chain(["over 90 days", "not qualified"].map(|label| Bucket {
            label: label.to_string(),
            count: 0,
        }))
        .collect();
    let mut days: Vec<f64> = Vec::new();
    for deal in &deals {
        let index = match deal.days_from_qualified {
            Some(d) => {
                days.push(d);
                limits
                    .iter()
                    .position(|(limit, _)| d < limit + 1.0)
                    .unwrap_or(limits.len())
            }
            None => limits.len() + 1,
        };
        buckets[index].count += 1;
    }
    days.sort_by(f64::total_cmp);
    let median_days = match days.len() {
        0 => None,
        n if n % 2 == 1 => Some(days[n / 2]),
        n => Some((days[n / 2 - 1] + days[n / 2]) / 2.0),
    };
    Measured {
        weeks,
        months: months.into_values().collect(),
        deals,
        days_to_opportunity: buckets,
        median_days,
    }
}
