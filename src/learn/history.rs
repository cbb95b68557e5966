//! The history learning and the report read: every person's touches as the current
//! scoring counts them (caps and noise rules as a rep's score has them), what is
//! known of them, the buying groups, and every opportunity with when it was created
//! and closed, its amount and who is linked to it. Read from the store once.

use crate::model::{Millis, OutcomeKind, TouchKind};
use crate::scoring::{self, LoggedTouch, ScoringConfig};
use crate::store::{Contact, Holder, Store, StoreError};
use std::collections::{BTreeMap, BTreeSet};

/// One touch as counted.
#[derive(Debug, Clone)]
pub struct Counted {
    /// Index into [`TouchKind::ALL`].
    pub kind: usize,
    pub at: Millis,
    /// What caps and noise rules leave of the touch: 1 for a touch that counts in
    /// full, 0 for one held back.
    pub units: f64,
    /// Points it added to raw attention at the long memory (`half_life_days`),
    /// and at the short one.
    pub points: f64,
    pub short_points: f64,
}

/// One person: their record and their touches, oldest first.
#[derive(Debug, Clone)]
pub struct Person {
    pub contact: Contact,
    pub touches: Vec<Counted>,
}

/// One opportunity as the history shows it.
#[derive(Debug, Clone, Default)]
pub struct Deal {
    pub key: String,
    /// The first `opportunity_created` outcome.
    pub created: Option<Millis>,
    /// The last `won` or `lost`.
    pub closed: Option<Millis>,
    pub won: bool,
    pub amount: Option<f64>,
    pub currency: Option<String>,
    /// Contacts and accounts an outcome of it is kept under.
    pub people: BTreeSet<u64>,
    pub accounts: BTreeSet<String>,
}

#[derive(Debug, Default)]
pub struct History {
    pub people: BTreeMap<u64, Person>,
    /// Account key → its members' contact ids.
    pub members: BTreeMap<String, Vec<u64>>,
    pub deals: BTreeMap<String, Deal>,
    /// The oldest and newest touch, if any.
    pub first_touch: Option<Millis>,
    pub last_touch: Option<Millis>,
    /// Opportunity keys by the contact and by the account they are kept under.
    by_person: BTreeMap<u64, Vec<String>>,
    by_account: BTreeMap<String, Vec<String>>,
}

impl History {
    /// The newest touch or opportunity creation: where snapshots end.
    pub fn last_event(&self) -> Option<Millis> {
        let created = self.deals.values().filter_map(|d| d.created).max();
        match (self.last_touch, created) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// The opportunities a person is linked to themselves.
    pub fn own_deals(&self, id: u64) -> Vec<&Deal> {
        self.deals_of(self.by_person.get(&id))
    }

    /// The opportunities of an account's buying group: the account's own and its
    /// members'.
    pub fn account_deals(&self, account: &str) -> Vec<&Deal> {
        let mut keys: Vec<String> = self.by_account.get(account).cloned().unwrap_or_default();
        for id in self.members.get(account).into_iter().flatten() {
            keys.extend(self.by_person.get(id).into_iter().flatten().cloned());
        }
        keys.sort_unstable();
        keys.dedup();
        self.deals_of(Some(&keys))
    }

    /// The opportunities of a person: their own and their account's.
    pub fn deals_of_person(&self, id: u64) -> Vec<&Deal> {
        let mut keys: Vec<String> = self.by_person.get(&id).cloned().unwrap_or_default();
        let account = self
            .people
            .get(&id)
            .and_then(|p| p.contact.account_key.as_ref());
        keys.extend(
            account
                .and_then(|a| self.by_account.get(a))
                .into_iter()
                .flatten()
                .cloned(),
        );
        keys.sort_unstable();
        keys.dedup();
        self.deals_of(Some(&keys))
    }

    fn deals_of(&self, keys: Option<&Vec<String>>) -> Vec<&Deal> {
        keys.into_iter()
            .flatten()
            .filter_map(|key| self.deals.get(key))
            .collect()
    }
}

/// Counts one contact's log under `config`, in the order the touches happened.
pub fn count_log(
    touches: &[crate::store::StoredTouch],
    email: Option<&str>,
    config: &ScoringConfig,
) -> Vec<Counted> {
    let logged: Vec<LoggedTouch<'_>> = touches
        .iter()
        .map(|t| LoggedTouch {
            id: &t.id,
            kind: t.kind,
            at: t.occurred_at,
            properties: t.properties.as_ref(),
        })
        .collect();
    let (_, counted) = scoring::replay(&logged, email, config);
    let mut log: Vec<Counted> = touches
        .iter()
        .zip(counted)
        .map(|(touch, counted)| Counted {
            kind: kind_index(touch.kind),
            at: touch.occurred_at,
            // A kind the scoring gives nothing takes no place under its caps, so
            // what is left of it is not comparable: it is not learned from.
            units: if config.worth(touch.kind) == 0.0 {
                0.0
            } else {
                counted.share
            },
            points: counted.weight - counted.short,
            short_points: counted.short,
        })
        .collect();
    log.sort_by_key(|c| c.at);
    log
}

pub fn kind_index(kind: TouchKind) -> usize {
    TouchKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_default()
}

/// Reads every contact, touch and outcome.
pub fn read(store: &Store, config: &ScoringConfig) -> Result<History, StoreError> {
    let mut history = History::default();
    for id in store.contact_ids() {
        let id = id?;
        let Some(contact) = store.contact(id)? else {
            continue;
        };
        let touches = store.touches_of(id)?;
        let log = count_log(&touches, contact.email(), config);
        if let (Some(first), Some(last)) = (log.first(), log.last()) {
            history.first_touch = Some(history.first_touch.map_or(first.at, |t| t.min(first.at)));
            history.last_touch = Some(history.last_touch.map_or(last.at, |t| t.max(last.at)));
        }
        if let Some(key) = &contact.account_key {
            history.members.entry(key.clone()).or_default().push(id);
        }
        history.people.insert(
            id,
            Person {
                contact,
                touches: log,
            },
        );
    }
    for (holder, stored) in store.all_outcomes()? {
        let outcome = &stored.outcome;
        let Some(key) = outcome.opportunity.clone() else {
            continue;
        };
        let deal = history.deals.entry(key.clone()).or_insert_with(|| Deal {
            key,
            ..Deal::default()
        });
        match holder {
            Holder::Contact(id) => {
                if deal.people.insert(id) {
                    history
                        .by_person
                        .entry(id)
                        .or_default()
                        .push(deal.key.clone());
                }
            }
            Holder::Account(account) => {
                if deal.accounts.insert(account.clone()) {
                    history
                        .by_account
                        .entry(account)
                        .or_default()
                        .push(deal.key.clone());
                }
            }
            Holder::Opportunity(_) => {}
        }
        if let Some(amount) = outcome.amount.filter(|a| a.is_finite()) {
            deal.amount = Some(amount);
            deal.currency = outcome.currency.clone().or(deal.currency.take());
        }
        match outcome.kind {
            OutcomeKind::OpportunityCreated => {
                deal.created = Some(
                    deal.created
                        .map_or(outcome.occurred_at, |c| c.min(outcome.occurred_at)),
                )
            }
            kind if kind.closes() => {
                if deal.closed.is_none_or(|c| c <= outcome.occurred_at) {
                    deal.won = kind == OutcomeKind::Won;
                }
                deal.closed = Some(
                    deal.closed
                        .map_or(outcome.occurred_at, |c| c.max(outcome.occurred_at)),
                )
            }
            _ => {}
        }
    }
    Ok(history)
}
