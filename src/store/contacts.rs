//! Reading people, accounts and their logs: for the views, the rescore and the
//! decay refresh. Writes go through a [`super::Round`].

use super::keys::{
    account_outcome_prefix, contact_outcome_prefix, erased_key, opportunity_outcome_prefix,
    read_u64, u64_key,
};
use super::{Contact, Store, StoreError, StoredOutcome, StoredTouch};
use crate::model::{ContactKey, Identity};
use std::iter::Peekable;
use std::sync::atomic::Ordering;

impl Store {
    pub fn contact_id_for(&self, identity: &Identity) -> Result<Option<u64>, StoreError> {
        let identities = &self.inner.identities;
        let found = match identities.get(self.identity_key(identity))? {
            Some(value) => Some(value),
            // Mapped before identities were kept as keyed hashes.
            None => identities.get(identity.key().as_bytes())?,
        };
        Ok(found.and_then(|v| read_u64(&v)))
    }

    /// A contact whose key was destroyed reads as gone: it was erased.
    pub fn contact(&self, id: u64) -> Result<Option<Contact>, StoreError> {
        let stored = self.inner.contacts.get(u64_key(id))?;
        match stored.as_deref().and_then(|bytes| self.unseal(bytes)) {
            Some(bytes) => Ok(Some(Contact::from_bytes(&bytes).ok_or_else(|| {
                StoreError::Corrupt {
                    tree: "contacts",
                    key: id.to_string(),
                }
            })?)),
            None => Ok(None),
        }
    }

    /// The contact a user's key names, if known.
    pub fn find_contact(&self, key: &ContactKey) -> Result<Option<Contact>, StoreError> {
        let id = match key {
            ContactKey::Id(id) => *id,
            ContactKey::Identity(identity) => match self.contact_id_for(identity)? {
                Some(id) => id,
                None => return Ok(None),
            },
        };
        self.contact(id)
    }

    pub fn touches_of(&self, contact: u64) -> Result<Vec<StoredTouch>, StoreError> {
        let mut touches = Vec::new();
        for item in self.inner.touches.scan_prefix(u64_key(contact)) {
            let (key, value) = item?;
            let Some(value) = self.unseal(&value) else {
                continue;
            };
            touches.push(
                StoredTouch::from_bytes(&value).ok_or_else(|| StoreError::Corrupt {
                    tree: "touches",
                    key: format!("{key:?}"),
                })?,
            );
        }
        Ok(touches)
    }

    pub fn outcomes_of(&self, contact: u64) -> Result<Vec<StoredOutcome>, StoreError> {
        self.outcomes_under(&contact_outcome_prefix(contact))
    }

    /// Outcomes kept under an account (no contact known).
    pub fn account_outcomes(&self, account: &str) -> Result<Vec<StoredOutcome>, StoreError> {
        self.outcomes_under(&account_outcome_prefix(account))
    }

    /// Outcomes kept under an opportunity (neither contact nor account known).
    pub fn opportunity_outcomes(
        &self,
        opportunity: &str,
    ) -> Result<Vec<StoredOutcome>, StoreError> {
        self.outcomes_under(&opportunity_outcome_prefix(opportunity))
    }

    fn outcomes_under(&self, prefix: &[u8]) -> Result<Vec<StoredOutcome>, StoreError> {
        let mut outcomes = Vec::new();
        for item in self.inner.outcomes.scan_prefix(prefix) {
            let (key, value) = item?;
            outcomes.push(
                serde_json::from_slice(&value).map_err(|_| StoreError::Corrupt {
                    tree: "outcomes",
                    key: format!("{key:?}"),
                })?,
            );
        }
        Ok(outcomes)
    }

    pub fn is_erased(&self, identity: &Identity) -> Result<bool, StoreError> {
        Ok(self.inner.erased.contains_key(erased_key(identity))?)
    }

    /// Every contact id, in order.
    pub fn contact_ids(&self) -> impl Iterator<Item = Result<u64, StoreError>> + '_ {
        self.inner
            .contacts
            .iter()
            .keys()
            .filter_map(|key| match key {
                Ok(key) => read_u64(&key).map(Ok),
                Err(error) => Some(Err(error.into())),
            })
    }

    /// The highest contact id given out so far, 0 for none. Ids are given in
    /// sequence, so this is the count give or take the merged-away.
    pub fn highest_contact_id(&self) -> Result<u64, StoreError> {
        Ok(match self.inner.contacts.last()? {
            Some((key, _)) => read_u64(&key).unwrap_or(0),
            None => 0,
        })
    }

    pub fn has_contacts(&self) -> bool {
        !self.inner.contacts.is_empty()
    }

    /// How many people the store holds: `None` until counted ([`Self::set_people`]),
    /// then kept by every round that adds or removes one.
    pub fn people(&self) -> Option<u64> {
        u64::try_from(self.inner.people.load(Ordering::SeqCst)).ok()
    }

    /// The people counted by a walk over every contact (the decay refresh).
    pub fn set_people(&self, counted: u64) {
        let counted = i64::try_from(counted).unwrap_or(i64::MAX);
        self.inner.people.store(counted, Ordering::SeqCst);
    }

    pub(super) fn people_changed(&self, change: i64) {
        if change != 0 {
            // Not counted yet: the count that comes will include this round.
            let _ = self
                .inner
                .people
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |people| {
                    (people >= 0).then(|| (people + change).max(0))
                });
        }
    }

    /// Walks the contacts with ids in `[from, to)`, each with its touch log in time
    /// order, and writes back those whose record `visit` changed, one by one: for a
    /// rescore, which is redone whole if interrupted.
    ///
    /// Both trees are keyed by contact id first, so one pass over each walks them in
    /// step: the touch log of contact n follows that of contact n − 1.
    pub fn rewrite_contacts(
        &self,
        from: u64,
        to: u64,
        mut visit: impl FnMut(&mut Contact, &mut TouchLog<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let (low, high) = (u64_key(from), u64_key(to));
        let mut touches = self.inner.touches.range(low..high).peekable();
        for item in self.inner.contacts.range(low..high) {
            let (key, stored) = item?;
            let Some(value) = self.unseal(&stored) else {
                continue;
            };
            let mut contact = Contact::from_bytes(&value).ok_or_else(|| StoreError::Corrupt {
                tree: "contacts",
                key: format!("{key:?}"),
            })?;
            let mut log = TouchLog {
                touches: &mut touches,
                owner: contact.id,
                store: self,
            };
            visit(&mut contact, &mut log)?;
            // What the visit left unread is this contact's, not the next one's.
            for touch in log.by_ref() {
                touch?;
            }
            let encoded = contact.to_bytes()?;
            if encoded != value.as_ref() {
                self.inner
                    .contacts
                    .insert(&key, self.seal(contact.id, &encoded)?)?;
            }
            self.reindex_contact(&contact)?;
        }
        Ok(())
    }
}

/// One contact's touch log, read in step with the contacts.
pub struct TouchLog<'a> {
    touches: &'a mut Peekable<sled::Iter>,
    owner: u64,
    store: &'a Store,
}

impl Iterator for TouchLog<'_> {
    type Item = Result<StoredTouch, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let owner = match self.touches.peek()? {
                Ok((key, _)) => read_u64(key),
                Err(_) => None,
            };
            match owner {
                // A log without a contact (merged away mid-write): not ours.
                Some(owner) if owner < self.owner => {
                    self.touches.next();
                }
                Some(owner) if owner > self.owner => return None,
                _ => break,
            }
        }
        let (key, bytes) = match self.touches.next()? {
            Ok(item) => item,
            Err(error) => return Some(Err(error.into())),
        };
        let corrupt = || StoreError::Corrupt {
            tree: "touches",
            key: format!("{key:?}"),
        };
        Some(
            self.store
                .unseal(&bytes)
                .and_then(|bytes| StoredTouch::from_bytes(&bytes))
                .ok_or_else(corrupt),
        )
    }
}
