//! The training set: snapshots at weekly dates over the history. Each person's (and
//! account's) features are computed from the touch log *as of that date only*; the
//! label is whether an opportunity was created within the horizon after it. People
//! and accounts with an opportunity open at the date are left out: they are already
//! in the pipeline.

use crate::model::{Millis, OutcomeKind, TouchKind, MILLIS_PER_DAY};
use crate::scoring::{self, LoggedTouch, ScoringConfig};
use crate::store::{Holder, Store, StoreError};
use std::collections::{BTreeMap, BTreeSet};

/// Half-lives (days) the features are kept at; memories are chosen among them.
pub const MEMORIES: [f64; 5] = [3.0, 7.0, 14.0, 30.0, 60.0];
const WEEK: Millis = 7 * MILLIS_PER_DAY as Millis;

/// One person or account at one date.
#[derive(Debug, Clone)]
pub struct Row {
    pub at: Millis,
    /// The contact id, or the account's index in [`Dataset::accounts`].
    pub entity: u64,
    /// Per memory (index into [`MEMORIES`]), per kind (index into `kinds`): the
    /// counted units of that kind, decayed to `at`. Counted units are what caps and
    /// noise rules leave of a touch (1 for a touch that counts in full).
    pub decayed: Vec<Vec<f64>>,
    /// The current score's raw attention at `at`.
    pub current: f64,
    pub fit_points: f64,
    /// Accounts: engaged people and buying-group roles they cover, at `at`.
    pub engaged: f64,
    pub roles: f64,
    /// Opportunities created in `(at, at + horizon]`, with their amounts.
    pub label: bool,
}

#[derive(Debug, Default)]
pub struct Dataset {
    pub kinds: Vec<TouchKind>,
    pub people: Vec<Row>,
    pub accounts: Vec<Row>,
    pub account_keys: Vec<String>,
    /// Snapshot dates, oldest first.
    pub dates: Vec<Millis>,
    /// Opportunities created in the history, for the refusal threshold.
    pub opportunities: usize,
}

/// What one opportunity did, as seen by one person or account.
#[derive(Debug, Clone, Copy, Default)]
struct Opened {
    created: Option<Millis>,
    closed: Option<Millis>,
}

/// Opportunity key → when it was created and closed, per holder.
type Pipelines = BTreeMap<String, Opened>;

/// Each person's and each account's opportunities.
type Holders = (BTreeMap<u64, Pipelines>, BTreeMap<String, Pipelines>);

fn pipelines_of(store: &Store) -> Result<Holders, StoreError> {
    let mut people: BTreeMap<u64, Pipelines> = BTreeMap::new();
    let mut accounts: BTreeMap<String, Pipelines> = BTreeMap::new();
    for (holder, stored) in store.all_outcomes()? {
        let outcome = &stored.outcome;
        let Some(opportunity) = outcome.opportunity.clone() else {
            continue;
        };
        let pipelines = match holder {
            Holder::Contact(id) => people.entry(id).or_default(),
            Holder::Account(key) => accounts.entry(key).or_default(),
            Holder::Opportunity(_) => continue,
        };
        let opened = pipelines.entry(opportunity).or_default();
        match outcome.kind {
            OutcomeKind::OpportunityCreated => {
                opened.created = Some(
                    opened
                        .created
                        .map_or(outcome.occurred_at, |c| c.min(outcome.occurred_at)),
                )
            }
            kind if kind.closes() => {
                opened.closed = Some(
                    opened
                        .closed
                        .map_or(outcome.occurred_at, |c| c.max(outcome.occurred_at)),
                )
            }
            _ => {}
        }
    }
    Ok((people, accounts))
}

/// Whether an opportunity is open at `at`, and whether one is created in the window.
fn label(pipelines: Option<&Pipelines>, at: Millis, horizon: Millis) -> (bool, bool) {
    let mut open = false;
    let mut created = false;
    for opened in pipelines.into_iter().flat_map(|p| p.values()) {
        let Some(when) = opened.created else { continue };
        if when <= at && opened.closed.is_none_or(|closed| closed > at) {
            open = true;
        }
        if when > at && when <= at + horizon {
            created = true;
        }
    }
    (open, created)
}

/// One contact's touches as counted units at their times, from a replay of its log
/// under the current scoring (caps and noise rules as a rep's score has them).
struct Counted {
    kind: usize,
    at: Millis,
    units: f64,
    points: f64,
}

/// Builds the snapshots of people and accounts: weekly dates from the first touch
/// plus `warmup_days` to the last outcome or touch minus the horizon.
pub fn build(
    store: &Store,
    config: &ScoringConfig,
    horizon_days: f64,
    now: Millis,
) -> Result<Dataset, StoreError> {
    let horizon = (horizon_days * MILLIS_PER_DAY) as Millis;
    let kinds: Vec<TouchKind> = TouchKind::ALL.to_vec();
    let kind_index: BTreeMap<TouchKind, usize> =
        kinds.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let (people_pipelines, account_pipelines) = pipelines_of(store)?;
    let mut logs: BTreeMap<u64, Vec<Counted>> = BTreeMap::new();
    let mut profiles = BTreeMap::new();
    let mut members: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let (mut first, mut last) = (Millis::MAX, Millis::MIN);
    for id in store.contact_ids() {
        let id = id?;
        let Some(contact) = store.contact(id)? else {
            continue;
        };
        let touches = store.touches_of(id)?;
        let logged: Vec<LoggedTouch<'_>> = touches
            .iter()
            .map(|t| LoggedTouch {
                id: &t.id,
                kind: t.kind,
                at: t.occurred_at,
                properties: t.properties.as_ref(),
            })
            .collect();
        let (_, counted) = scoring::replay(&logged, contact.email(), config);
        let mut log = Vec::with_capacity(touches.len());
        for (touch, counted) in touches.iter().zip(counted) {
            let base = config.weight(touch.kind);
            let units = if base == 0.0 {
                0.0
            } else {
                counted.weight / base
            };
            first = first.min(touch.occurred_at);
            last = last.max(touch.occurred_at);
            log.push(Counted {
                kind: kind_index[&touch.kind],
                at: touch.occurred_at,
                units,
                points: counted.weight,
            });
        }
        log.sort_by_key(|c| c.at);
        logs.insert(id, log);
        if let Some(key) = &contact.account_key {
            members.entry(key.clone()).or_default().push(id);
        }
        profiles.insert(id, contact);
    }
    for pipelines in people_pipelines.values().chain(account_pipelines.values()) {
        for opened in pipelines.values() {
            if let Some(created) = opened.created {
                last = last.max(created);
            }
        }
    }
    let mut dataset = Dataset {
        kinds,
        ..Dataset::default()
    };
    dataset.opportunities = people_pipelines
        .values()
        .chain(account_pipelines.values())
        .flat_map(|p| {
            p.iter()
                .filter(|(_, o)| o.created.is_some())
                .map(|(k, _)| k.clone())
        })
        .collect::<BTreeSet<_>>()
        .len();
    if first == Millis::MAX {
        return Ok(dataset);
    }
    // Four weeks of history before the first snapshot, so that memories have filled.
    let end = last.min(now) - horizon;
    let mut at = first + 4 * WEEK;
    while at <= end {
        dataset.dates.push(at);
        at += WEEK;
    }
    let ln = |h: f64| std::f64::consts::LN_2 / (h * MILLIS_PER_DAY);
    let rates: Vec<f64> = MEMORIES.iter().map(|h| ln(*h)).collect();
    let baseline_rate = ln(config.half_life_days);
    let decayed_at = |log: &[Counted], at: Millis| -> (Vec<Vec<f64>>, f64, Option<Millis>) {
        let mut decayed = vec![vec![0.0; TouchKind::ALL.len()]; MEMORIES.len()];
        let mut current = 0.0;
        let mut newest = None;
        for touch in log.iter().take_while(|t| t.at <= at) {
            let age = (at - touch.at) as f64;
            for (m, rate) in rates.iter().enumerate() {
                decayed[m][touch.kind] += touch.units * (-rate * age).exp();
            }
            current += touch.points * (-baseline_rate * age).exp();
            newest = Some(touch.at);
        }
        (decayed, current, newest)
    };
    let accounts = &config.accounts;
    for (index, (key, ids)) in members.iter().enumerate() {
        dataset.account_keys.push(key.clone());
        for &date in &dataset.dates {
            let mut rows = Vec::with_capacity(ids.len());
            for id in ids {
                let (decayed, current, newest) = decayed_at(&logs[id], date);
                rows.push((*id, decayed, current, newest));
            }
            let mut pipelines: Pipelines = account_pipelines.get(key).cloned().unwrap_or_default();
            for id in ids {
                for (opportunity, opened) in people_pipelines.get(id).into_iter().flatten() {
                    pipelines.entry(opportunity.clone()).or_insert(*opened);
                }
            }
            let (open, label) = self::label(Some(&pipelines), date, horizon);
            if open || rows.iter().all(|(_, _, _, newest)| newest.is_none()) {
                continue;
            }
            let mut decayed = vec![vec![0.0; TouchKind::ALL.len()]; MEMORIES.len()];
            let mut members_now = Vec::new();
            let mut engaged = 0.0;
            let mut roles = BTreeSet::new();
            for (id, theirs, current, newest) in &rows {
                for (sum, mine) in decayed.iter_mut().zip(theirs) {
                    for (a, b) in sum.iter_mut().zip(mine) {
                        *a += b;
                    }
                }
                let contact = &profiles[id];
                let title = contact
                    .profile
                    .get("title")
                    .filter(|field| field.at <= date)
                    .map(|field| field.value.clone());
                let is_engaged = scoring::score(*current, config) >= accounts.engaged_score;
                if is_engaged {
                    engaged += 1.0;
                    if let Some(title) = &title {
                        roles.extend(accounts.roles_of(title));
                    }
                }
                members_now.push(scoring::account::Member {
                    id: *id,
                    as_of: date,
                    raw: *current,
                    fast: 0.0,
                    slow: 0.0,
                    last_touch_at: *newest,
                    engaged_at: newest.filter(|_| is_engaged),
                    title,
                    company: None,
                });
            }
            let mut group = scoring::account::Group::default();
            group.decay_to(date, config);
            for member in &members_now {
                group.add(member, config);
            }
            let scored = scoring::account::score_group(key, &group, date, config);
            dataset.accounts.push(Row {
                at: date,
                entity: index as u64,
                decayed,
                current: scored.raw,
                fit_points: 0.0,
                engaged,
                roles: roles.len() as f64,
                label,
            });
        }
    }
    for (id, log) in &logs {
        let contact = &profiles[id];
        for &date in &dataset.dates {
            let (decayed, current, newest) = decayed_at(log, date);
            if newest.is_none() {
                continue;
            }
            let (open, label) = self::label(people_pipelines.get(id), date, horizon);
            if open {
                continue;
            }
            // Only what was known at the date: a field stated later is unknown.
            let profile: BTreeMap<String, String> = contact
                .profile
                .iter()
                .filter(|(_, field)| field.at <= date)
                .map(|(name, field)| (name.clone(), field.value.clone()))
                .collect();
            let fit = scoring::fit::fit(&profile, contact.email(), &config.fit);
            dataset.people.push(Row {
                at: date,
                entity: *id,
                decayed,
                current,
                fit_points: fit.points,
                engaged: 0.0,
                roles: 0.0,
                label,
            });
        }
    }
    Ok(dataset)
}
