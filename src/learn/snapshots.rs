//! The training set: snapshots at weekly dates over the history. Each person's (and
//! account's) features are computed from the touch log *as of that date only*; the
//! label is whether an opportunity was created within the horizon after it. People
//! and accounts with an opportunity open at the date are left out: they are already
//! in the pipeline.

use super::history::{kind_index, Counted, Deal, History};
use crate::model::{Millis, TouchKind, MILLIS_PER_DAY};
use crate::scoring::{self, ScoringConfig};
use crate::store::Contact;
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
    /// Points of every touch up to `at`, without decay: a classic lead score.
    pub points: f64,
    /// Form submits up to `at`: the lead count.
    pub forms: u32,
    /// Bit `k` set when a touch of kind `k` (index into `kinds`) happened in the
    /// 30 days up to `at`.
    pub kinds_30d: u32,
    pub fit_points: f64,
    /// Accounts: engaged people and buying-group roles they cover, at `at`.
    pub engaged: f64,
    pub roles: f64,
    /// Whether an opportunity was created in `(at, at + horizon]`.
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

/// Opportunities of one person or account: when each was created and closed.
type Pipelines<'h> = Vec<&'h Deal>;

/// Whether an opportunity is open at `at`, and whether one is created in the window.
fn label(pipelines: &[&Deal], at: Millis, horizon: Millis) -> (bool, bool) {
    let mut open = false;
    let mut created = false;
    for deal in pipelines {
        let Some(when) = deal.created else { continue };
        if when <= at && deal.closed.is_none_or(|closed| closed > at) {
            open = true;
        }
        if when > at && when <= at + horizon {
            created = true;
        }
    }
    (open, created)
}

/// What a log adds up to at `at`: per memory and kind the decayed units, the
/// current score's raw attention, the undecayed points, the form submits, the
/// kinds done in the 30 days before, and the newest touch.
struct AsOf {
    decayed: Vec<Vec<f64>>,
    current: f64,
    /// The short memory's part of `current`.
    short: f64,
    points: f64,
    forms: u32,
    kinds_30d: u32,
    newest: Option<Millis>,
}

fn as_of(log: &[Counted], at: Millis, config: &ScoringConfig) -> AsOf {
    let ln = |h: f64| std::f64::consts::LN_2 / (h * MILLIS_PER_DAY);
    let rates: Vec<f64> = MEMORIES.iter().map(|h| ln(*h)).collect();
    let (long_rate, short_rate) = (
        ln(config.half_life_days),
        ln(config.short_memory.half_life_days),
    );
    let form = kind_index(TouchKind::FormSubmit);
    let mut state = AsOf {
        decayed: vec![vec![0.0; TouchKind::ALL.len()]; MEMORIES.len()],
        current: 0.0,
        short: 0.0,
        points: 0.0,
        forms: 0,
        kinds_30d: 0,
        newest: None,
    };
    for touch in log.iter().take_while(|t| t.at <= at) {
        let age = (at - touch.at) as f64;
        for (m, rate) in rates.iter().enumerate() {
            state.decayed[m][touch.kind] += touch.units * (-rate * age).exp();
        }
        let short = touch.short_points * (-short_rate * age).exp();
        state.current += touch.points * (-long_rate * age).exp() + short;
        state.short += short;
        state.points += touch.points + touch.short_points;
        if touch.kind == form {
            state.forms += 1;
        }
        if at - touch.at < 30 * MILLIS_PER_DAY as Millis {
            state.kinds_30d |= 1 << touch.kind;
        }
        state.newest = Some(touch.at);
    }
    state
}

/// Weekly dates from four weeks after the first touch (so that memories have
/// filled) to the newest event less the horizon, oldest first.
pub fn dates(history: &History, horizon_days: f64, now: Millis) -> Vec<Millis> {
    let horizon = (horizon_days * MILLIS_PER_DAY) as Millis;
    let (Some(first), Some(last)) = (history.first_touch, history.last_event()) else {
        return Vec::new();
    };
    let end = last.min(now) - horizon;
    let mut dates = Vec::new();
    let mut at = first + 4 * WEEK;
    while at <= end {
        dates.push(at);
        at += WEEK;
    }
    dates
}

/// Builds the snapshots of people and accounts at the weekly [`dates`].
pub fn build(history: &History, config: &ScoringConfig, horizon_days: f64, now: Millis) -> Dataset {
    let horizon = (horizon_days * MILLIS_PER_DAY) as Millis;
    let mut dataset = Dataset {
        kinds: TouchKind::ALL.to_vec(),
        opportunities: history
            .deals
            .values()
            .filter(|d| d.created.is_some())
            .count(),
        dates: dates(history, horizon_days, now),
        ..Dataset::default()
    };
    let accounts = &config.accounts;
    for (index, (key, ids)) in history.members.iter().enumerate() {
        dataset.account_keys.push(key.clone());
        let pipelines: Pipelines = history.account_deals(key);
        for &date in &dataset.dates {
            let states: Vec<(u64, AsOf)> = ids
                .iter()
                .map(|id| (*id, as_of(&history.people[id].touches, date, config)))
                .collect();
            let (open, label) = self::label(&pipelines, date, horizon);
            if open || states.iter().all(|(_, state)| state.newest.is_none()) {
                continue;
            }
            let mut decayed = vec![vec![0.0; TouchKind::ALL.len()]; MEMORIES.len()];
            let (mut points, mut forms, mut kinds_30d) = (0.0, 0, 0);
            let mut members_now = Vec::new();
            let mut engaged = 0.0;
            let mut roles = BTreeSet::new();
            for (id, state) in &states {
                for (sum, mine) in decayed.iter_mut().zip(&state.decayed) {
                    for (a, b) in sum.iter_mut().zip(mine) {
                        *a += b;
                    }
                }
                points += state.points;
                forms += state.forms;
                kinds_30d |= state.kinds_30d;
                let contact = &history.people[id].contact;
                let title = contact
                    .profile
                    .get("title")
                    .filter(|field| field.at <= date)
                    .map(|field| field.value.clone());
                let is_engaged = scoring::score(state.current, config) >= accounts.engaged_score;
                if is_engaged {
                    engaged += 1.0;
                    if let Some(title) = &title {
                        roles.extend(accounts.roles_of(title));
                    }
                }
                members_now.push(scoring::account::Member {
                    id: *id,
                    as_of: date,
                    raw: state.current - state.short,
                    short: state.short,
                    fast: 0.0,
                    slow: 0.0,
                    last_touch_at: state.newest,
                    engaged_at: state.newest.filter(|_| is_engaged),
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
                points,
                forms,
                kinds_30d,
                fit_points: 0.0,
                engaged,
                roles: roles.len() as f64,
                label,
            });
        }
    }
    for (id, person) in &history.people {
        let contact = &person.contact;
        let pipelines = history.own_deals(*id);
        for &date in &dataset.dates {
            let state = as_of(&person.touches, date, config);
            if state.newest.is_none() {
                continue;
            }
            let (open, label) = self::label(&pipelines, date, horizon);
            if open {
                continue;
            }
            dataset.people.push(Row {
                at: date,
                entity: *id,
                decayed: state.decayed,
                current: state.current,
                points: state.points,
                forms: state.forms,
                kinds_30d: state.kinds_30d,
                fit_points: fit_at(contact, date, config).points,
                engaged: 0.0,
                roles: 0.0,
                label,
            });
        }
    }
    dataset
}

/// Fit from what was known at `at` only: a field stated later is unknown.
pub fn fit_at(contact: &Contact, at: Millis, config: &ScoringConfig) -> scoring::fit::Fit {
    let profile: BTreeMap<String, String> = contact
        .profile
        .iter()
        .filter(|(_, field)| field.at <= at)
        .map(|(name, field)| (name.clone(), field.value.clone()))
        .collect();
    scoring::fit::fit(&profile, contact.email(), &config.fit)
}
