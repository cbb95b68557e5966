//! Which attention converts? Per kind of touch: how much more often the people who
//! did it in the last 30 days went on to an opportunity (lift), beside the learned
//! weight and its interval. Per campaign, asset and source: the people and accounts
//! reached, the attention they brought, and the opportunities and pipeline that
//! followed, so that a prize draw bringing many forms and no pipeline shows as such.

use super::timeline::Timelines;
use crate::learn::history::Deal;
use crate::learn::{Dataset, History, Suggestion};
use crate::model::{Millis, TouchKind, MILLIS_PER_DAY};
use crate::scoring::ScoringConfig;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One kind of touch.
#[derive(Debug, Clone, Serialize)]
pub struct KindRow {
    pub kind: TouchKind,
    /// Snapshots of people who did it in the 30 days before, and how many of those
    /// were followed by an opportunity.
    pub rows: usize,
    pub converted: usize,
    /// Their conversion over everyone's; `None` when nobody did it.
    pub lift: Option<f64>,
    /// Points per fresh touch in the scoring in force.
    pub current: f64,
    /// What learning found, when it ran: points per touch with a 95 % interval.
    pub learned: Option<Learned>,
}

pub fn kinds(
    dataset: &Dataset,
    suggestion: Option<&Suggestion>,
    config: &ScoringConfig,
) -> Vec<KindRow> {
    let rows = &dataset.people;
    let total = rows.len();
    let converted_total = rows.iter().filter(|r| r.label).count();
    let overall = if total == 0 {
        0.0
    } else {
        converted_total as f64 / total as f64
    };
    let mut out: Vec<KindRow> = dataset
        .kinds
        .iter()
        .enumerate()
        .filter_map(|(index, kind)| {
            let did: Vec<bool> = rows
                .iter()
                .filter(|r| r.kinds_30d & (1 << index) != 0)
                .map(|r| r.label)
                .collect();
            let learned = suggestion
                .and_then(|s| s.weights.iter().find(|w| w.kind == *kind))
                .filter(|w| w.low != 0.0 || w.high != 0.0)
                .map(|w| Learned {
                    weight: w.worth(),
                    fitted: w.fitted + w.fitted_short,
                    low: w.low,
                    high: w.high,
                    held: w.held(),
                });
            if did.is_empty() && learned.is_none() {
                return None;
            }
            let converted = did.iter().filter(|l| **l).count();
            let lift = (!did.is_empty() && overall > 0.0)
                .then(|| converted as f64 / did.len() as f64 / overall);
            Some(KindRow {
                kind: *kind,
                rows: did.len(),
                converted,
                lift,
                current: config.worth(*kind),
                learned,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.lift
            .unwrap_or(0.0)
            .total_cmp(&a.lift.unwrap_or(0.0))
            .then(a.kind.cmp(&b.kind))
    });
    out
}

/// A kind's learned weight: what a fresh touch counts (both memories, when the
/// suggestion has two).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Learned {
    /// Points per fresh touch in the suggested scoring.
    pub weight: f64,
    /// What the regression found, before a sign the kind cannot take was held at 0.
    pub fitted: f64,
    /// 95 % bootstrap interval of `fitted`.
    pub low: f64,
    pub high: f64,
    /// Whether a sign rule changed what the regression found.
    pub held: bool,
}

/// What one campaign, asset or source reached and what followed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reach {
    pub name: String,
    pub people: usize,
    pub accounts: usize,
    pub touches: usize,
    /// Points its touches added (as counted, before decay).
    pub attention: f64,
    /// Opportunities created for a person reached, or their account, within the
    /// horizon after one of its touches to them; and their amounts added up.
    pub opportunities: usize,
    pub amount: f64,
}

#[derive(Default)]
struct Tally {
    people: BTreeSet<u64>,
    accounts: BTreeSet<String>,
    touches: usize,
    attention: f64,
    deals: BTreeSet<String>,
}

pub struct Reaches {
    pub campaigns: Vec<Reach>,
    pub assets: Vec<Reach>,
    pub sources: Vec<Reach>,
    /// Every touch together: what a campaign is compared with.
    pub everyone: Reach,
}

pub fn reach(history: &History, timelines: &Timelines, horizon_days: f64) -> Reaches {
    let horizon = (horizon_days * MILLIS_PER_DAY) as Millis;
    let mut tallies: [BTreeMap<String, Tally>; 4] = Default::default();
    for (id, person) in &history.people {
        let Some(timeline) = timelines.people.get(id) else {
            continue;
        };
        let deals: Vec<&Deal> = history.deals_of_person(*id);
        for touch in &timeline.touches {
            let followed: Vec<&str> = deals
                .iter()
                .filter(|d| {
                    d.created
                        .is_some_and(|c| c > touch.at && c <= touch.at + horizon)
                })
                .map(|d| d.key.as_str())
                .collect();
            let names = [
                touch.campaign.as_deref(),
                touch.asset.as_deref(),
                Some(touch.source.as_str()),
                Some("every touch"),
            ];
            for (tally, name) in tallies.iter_mut().zip(names) {
                let Some(name) = name else { continue };
                let tally = tally.entry(name.to_string()).or_default();
                tally.people.insert(*id);
                if let Some(account) = &person.contact.account_key {
                    tally.accounts.insert(account.clone());
                }
                tally.touches += 1;
                tally.attention += touch.points;
                tally.deals.extend(followed.iter().map(|k| k.to_string()));
            }
        }
    }
    let [campaigns, assets, sources, everyone] = tallies.map(|tallies| {
        let mut rows: Vec<Reach> = tallies
            .into_iter()
            .map(|(name, tally)| Reach {
                name,
                people: tally.people.len(),
                accounts: tally.accounts.len(),
                touches: tally.touches,
                attention: tally.attention,
                opportunities: tally.deals.len(),
                amount: tally
                    .deals
                    .iter()
                    .filter_map(|key| history.deals.get(key)?.amount)
                    .sum(),
            })
            .collect();
        rows.sort_by(|a, b| b.people.cmp(&a.people).then(a.name.cmp(&b.name)));
        rows
    });
    Reaches {
        campaigns,
        assets,
        sources,
        everyone: everyone.into_iter().next().unwrap_or_default(),
    }
}
