//! Opportunities (deals) as learning needs them beyond their outcomes: the people
//! and accounts linked to each, its amount, and whether its people still have to be
//! looked up in its CRM. Kept in the `outcomes` tree beside the outcome logs, under
//! `r` + opportunity, so that a round writes both in one transaction.

use super::keys::{opportunity_outcome_prefix, opportunity_record_key, OPPORTUNITY_RECORD};
use super::{Round, Store, StoreError, StoredOutcome};
use crate::model::Millis;
use serde::{Deserialize, Serialize};

/// One opportunity and who is linked to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Opportunity {
    /// `hubspot-deal:9001`, `salesforce:006…`, `pipedrive:8`, or a sender's own id.
    pub key: String,
    /// People linked to it, by identity key (`hubspot:51`, `email:ann@acme.com`):
    /// identities outlive merges, and erased people stop resolving.
    #[serde(default)]
    pub people: Vec<LinkedPerson>,
    /// Accounts linked to it (`hubspot-company:42`, `domain:acme.com`).
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub amount: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub stage: Option<String>,
    /// Set when an outcome arrived naming nobody: its people are to be looked up in
    /// the CRM. Cleared by a lookup read at or after this time.
    #[serde(default)]
    pub lookup_wanted_at: Option<Millis>,
    /// When the CRM was last read for its people.
    #[serde(default)]
    pub looked_up_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkedPerson {
    pub identity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

impl Opportunity {
    pub fn new(key: &str) -> Opportunity {
        Opportunity {
            key: key.to_string(),
            ..Opportunity::default()
        }
    }

    /// Adds a person unless linked already (a newer role replaces an older one);
    /// whether they are new to it.
    pub fn link_person(
        &mut self,
        identity: String,
        role: Option<String>,
        primary: Option<bool>,
    ) -> bool {
        match self.people.iter_mut().find(|p| p.identity == identity) {
            Some(known) => {
                if role.is_some() {
                    known.role = role;
                }
                if primary.is_some() {
                    known.primary = primary;
                }
                false
            }
            None => {
                self.people.push(LinkedPerson {
                    identity,
                    role,
                    primary,
                });
                true
            }
        }
    }

    /// Adds an account unless linked already; whether it is new to it.
    pub fn link_account(&mut self, account: &str) -> bool {
        if self.accounts.iter().any(|known| known == account) {
            return false;
        }
        self.accounts.push(account.to_string());
        true
    }

    /// Whether its people are still to be looked up in its CRM.
    pub fn waits_for_lookup(&self) -> bool {
        match (self.lookup_wanted_at, self.looked_up_at) {
            (Some(wanted), Some(read)) => read < wanted,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

fn corrupt(key: &[u8]) -> StoreError {
    StoreError::Corrupt {
        tree: "outcomes",
        key: String::from_utf8_lossy(key).into_owned(),
    }
}

impl Round<'_> {
    pub fn opportunity(&self, key: &str) -> Result<Option<Opportunity>, StoreError> {
        let record_key = opportunity_record_key(key);
        match self.outcomes.get(&record_key)? {
            Some(bytes) => Ok(Some(
                serde_json::from_slice(&bytes).map_err(|_| corrupt(&record_key))?,
            )),
            None => Ok(None),
        }
    }

    pub fn put_opportunity(&mut self, opportunity: &Opportunity) -> Result<(), StoreError> {
        self.outcomes.insert(
            opportunity_record_key(&opportunity.key),
            serde_json::to_vec(opportunity)?,
        );
        Ok(())
    }

    /// Every outcome kept under the opportunity, oldest first.
    pub fn opportunity_log(&self, key: &str) -> Result<Vec<StoredOutcome>, StoreError> {
        let mut log = Vec::new();
        for entry in self
            .outcomes
            .keys_with_prefix(&opportunity_outcome_prefix(key))?
        {
            if let Some(bytes) = self.outcomes.get(&entry)? {
                log.push(serde_json::from_slice(&bytes).map_err(|_| corrupt(&entry))?);
            }
        }
        Ok(log)
    }
}

/// Where an outcome was found when reading them all: whom it is kept under.
#[derive(Debug, Clone, PartialEq)]
pub enum Holder {
    Contact(u64),
    Account(String),
    Opportunity(String),
}

impl Store {
    pub fn opportunity(&self, key: &str) -> Result<Option<Opportunity>, StoreError> {
        let record_key = opportunity_record_key(key);
        match self.inner.outcomes.get(&record_key)? {
            Some(bytes) => Ok(Some(
                serde_json::from_slice(&bytes).map_err(|_| corrupt(&record_key))?,
            )),
            None => Ok(None),
        }
    }

    /// Every opportunity whose key starts with `prefix` (`hubspot-deal:`, or `` for
    /// all), in key order.
    pub fn opportunities(&self, prefix: &str) -> Result<Vec<Opportunity>, StoreError> {
        let mut found = Vec::new();
        for item in self
            .inner
            .outcomes
            .scan_prefix(opportunity_record_key(prefix))
        {
            let (key, bytes) = item?;
            found.push(serde_json::from_slice(&bytes).map_err(|_| corrupt(&key))?);
        }
        Ok(found)
    }

    /// Opportunities of one CRM (`hubspot-deal:`) whose people are still to be
    /// looked up, longest waiting first, at most `limit`.
    pub fn opportunities_waiting(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Opportunity>, StoreError> {
        let mut waiting: Vec<Opportunity> = self
            .opportunities(prefix)?
            .into_iter()
            .filter(Opportunity::waits_for_lookup)
            .collect();
        waiting.sort_by_key(|o| o.lookup_wanted_at);
        waiting.truncate(limit);
        Ok(waiting)
    }

    /// Every outcome with whom it is kept under: for learning, which reads them all.
    pub fn all_outcomes(&self) -> Result<Vec<(Holder, StoredOutcome)>, StoreError> {
        let mut all = Vec::new();
        for item in self.inner.outcomes.iter() {
            let (key, bytes) = item?;
            let holder = match key.first() {
                Some(b'c') => {
                    let id = key
                        .get(1..9)
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_be_bytes)
                        .ok_or_else(|| corrupt(&key))?;
                    Holder::Contact(id)
                }
                Some(&tag @ (b'a' | b'o')) => {
                    let end = key
                        .iter()
                        .skip(1)
                        .position(|&b| b == 0)
                        .ok_or_else(|| corrupt(&key))?;
                    let name = String::from_utf8_lossy(&key[1..1 + end]).into_owned();
                    if tag == b'a' {
                        Holder::Account(name)
                    } else {
                        Holder::Opportunity(name)
                    }
                }
                Some(&OPPORTUNITY_RECORD) => continue,
                _ => return Err(corrupt(&key)),
            };
            all.push((
                holder,
                serde_json::from_slice(&bytes).map_err(|_| corrupt(&key))?,
            ));
        }
        Ok(all)
    }
}
