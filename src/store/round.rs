//! A round: the pipeline's writes to the store, read back as they will be, then
//! committed together with the cursor in one sled transaction, so that a crash
//! replays a whole round or none of it.
//!
//! The methods speak of contacts, identities, touches, outcomes, accounts and the
//! outbox; which tree and which key hold each is this module's business alone.

use super::index::IndexRound;
use super::keys;
use super::keys::{
    account_outbox_key, account_outcome_prefix, contact_outcome_prefix, erased_key,
    opportunity_outcome_prefix, outbox_key, outbox_turn_key, outcome_key, read_u64, seen_key,
    touch_key, u64_key,
};
use super::overlay::Overlay;
use super::{
    Contact, DeadLetter, OutboxEntry, Store, StoreError, StoredOutcome, StoredTouch, CURSOR,
    NEXT_CONTACT_ID,
};
use crate::model::{Identity, Millis};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

/// Where a touch stands in a contact's log; handed back to rewrite its weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TouchKey(Vec<u8>);

/// Whom an outcome is kept under: its contact, else its account, else its
/// opportunity (a CRM deal whose people are not known yet).
#[derive(Debug, Clone, Copy)]
pub enum OutcomeOwner<'a> {
    Contact(u64),
    Account(&'a str),
    Opportunity(&'a str),
}

pub struct Round<'s> {
    pub(super) store: &'s Store,
    pub(super) contacts: Overlay<'s>,
    pub(super) identities: Overlay<'s>,
    pub(super) touches: Overlay<'s>,
    /// Also holds opportunity records (`super::opportunities`).
    pub(super) outcomes: Overlay<'s>,
    pub(super) seen: Overlay<'s>,
    pub(super) seen_times: Overlay<'s>,
    pub(super) outbox: Overlay<'s>,
    pub(super) outbox_turns: Overlay<'s>,
    pub(super) erased: Overlay<'s>,
    pub(super) meta: Overlay<'s>,
    pub(super) dead_letters: Overlay<'s>,
    pub(super) accounts: Overlay<'s>,
    pub(super) account_members: Overlay<'s>,
    pub(super) accounts_relined: Overlay<'s>,
    pub(super) account_domains: Overlay<'s>,
    pub(super) index: IndexRound<'s>,
}

fn corrupt(tree: &'static str, key: &[u8]) -> StoreError {
    StoreError::Corrupt {
        tree,
        key: format!("{key:?}"),
    }
}

impl Store {
    /// A round of writes that reads its own writes. The pipeline is the only writer
    /// of the trees a round changes, so nothing it read can change under it.
    pub fn round(&self) -> Round<'_> {
        let trees = &self.inner;
        Round {
            store: self,
            contacts: Overlay::sealed(&trees.contacts, &trees.vault, keys::contact_key_of),
            identities: Overlay::new(&trees.identities),
            touches: Overlay::sealed(&trees.touches, &trees.vault, keys::contact_key_of),
            outcomes: Overlay::new(&trees.outcomes),
            seen: Overlay::new(&trees.seen),
            seen_times: Overlay::new(&trees.seen_times),
            outbox: Overlay::sealed(&trees.outbox, &trees.vault, keys::outbox_contact_of),
            outbox_turns: Overlay::new(&trees.outbox_turns),
            erased: Overlay::new(&trees.erased),
            meta: Overlay::new(&trees.meta),
            dead_letters: Overlay::sealed(&trees.dead_letters, &trees.vault, |_| None),
            accounts: Overlay::new(&trees.accounts),
            account_members: Overlay::sealed(
                &trees.account_members,
                &trees.vault,
                keys::account_member_contact_of,
            ),
            accounts_relined: Overlay::new(&trees.accounts_relined),
            account_domains: Overlay::new(&trees.account_domains),
            index: IndexRound::new(&trees.index, &trees.vault),
        }
    }
}

impl<'s> Round<'s> {
    pub fn contact(&self, id: u64) -> Result<Option<Contact>, StoreError> {
        let key = u64_key(id);
        match self.contacts.get(key)? {
            Some(bytes) => Ok(Some(
                Contact::from_bytes(&bytes).ok_or_else(|| corrupt("contacts", &key))?,
            )),
            None => Ok(None),
        }
    }

    pub fn has_contact(&self, id: u64) -> Result<bool, StoreError> {
        Ok(self.contacts.get(u64_key(id))?.is_some())
    }

    pub fn put_contact(&mut self, contact: &Contact) -> Result<(), StoreError> {
        self.contacts
            .insert(u64_key(contact.id), contact.to_bytes()?);
        self.index.contact(contact.id);
        Ok(())
    }

    pub fn remove_contact(&mut self, id: u64) {
        self.contacts.delete(u64_key(id));
        self.index.contact(id);
    }

    /// An id no contact has had: ids only grow, one at a time, and the counter
    /// commits with the contact that got the id.
    pub fn new_contact_id(&mut self) -> Result<u64, StoreError> {
        let counted = self
            .meta
            .get(NEXT_CONTACT_ID)?
            .and_then(|value| read_u64(&value))
            .unwrap_or(0);
        let id = counted.max(self.store.inner.contact_id_floor);
        self.meta.insert(NEXT_CONTACT_ID, u64_key(id + 1));
        Ok(id)
    }

    /// The contact an identity was last given to (which may since have gone).
    pub fn identity(&self, identity: &Identity) -> Result<Option<u64>, StoreError> {
        let found = match self.identities.get(self.store.identity_key(identity))? {
            Some(value) => Some(value),
            // Mapped before identities were kept as keyed hashes.
            None => self.identities.get(identity.key().as_bytes())?,
        };
        Ok(found.and_then(|value| read_u64(&value)))
    }

    /// The contact a person linked to an opportunity is now: by the keyed hash the
    /// link holds, or by the identity key links held before.
    pub fn linked(&self, link: &str) -> Result<Option<u64>, StoreError> {
        let key = match link
            .strip_prefix('#')
            .and_then(|hash| hex::decode(hash).ok())
        {
            Some(hash) => [b"#".as_slice(), &hash].concat(),
            None => match Identity::parse_user_key(link) {
                Some(identity) => return self.identity(&identity),
                None => return Ok(None),
            },
        };
        Ok(self.identities.get(key)?.and_then(|value| read_u64(&value)))
    }

    pub fn map_identity(&mut self, identity: &Identity, contact: u64) {
        self.identities
            .insert(self.store.identity_key(identity), u64_key(contact));
    }

    pub fn unmap_identity(&mut self, identity: &Identity) {
        self.identities.delete(self.store.identity_key(identity));
        self.identities.delete(identity.key().as_bytes());
    }

    pub fn is_erased(&self, identity: &Identity) -> Result<bool, StoreError> {
        Ok(self.erased.get(erased_key(identity))?.is_some())
    }

    /// Remembers only a hash of the identity, so that later events about the person
    /// are dropped without keeping who they were.
    pub fn mark_erased(&mut self, identity: &Identity, at: Millis) {
        self.erased.insert(erased_key(identity), u64_key(at as u64));
    }

    /// Whether the event with this provider id from this source was applied before.
    pub fn seen(&self, source: &str, provider_id: &str) -> Result<bool, StoreError> {
        Ok(self.seen.get(seen_key(source, provider_id))?.is_some()
            || self
                .seen
                .get(keys::legacy_seen_key(source, provider_id))?
                .is_some())
    }

    /// Remembers the event as applied, listed under when its delivery was received
    /// so that it is forgotten after the retention (`retention.rs`).
    pub fn mark_seen(&mut self, source: &str, provider_id: &str, seq: u64, received_at: Millis) {
        let key = seen_key(source, provider_id);
        self.seen_times.insert(
            super::retention::seen_time_key(received_at, &key),
            Vec::new(),
        );
        self.seen.insert(key, u64_key(seq));
    }

    /// Adds or replaces a touch in the contact's log, which is ordered by time.
    pub fn put_touch(
        &mut self,
        contact: u64,
        id: &[u8; 8],
        touch: &StoredTouch,
    ) -> Result<(), StoreError> {
        self.touches
            .insert(touch_key(contact, touch.occurred_at, id), touch.to_bytes()?);
        Ok(())
    }

    /// The contact's touch log in time order, as this round leaves it.
    pub fn touch_log(&self, contact: u64) -> Result<Vec<(TouchKey, StoredTouch)>, StoreError> {
        let mut log = Vec::new();
        for key in self.touches.keys_with_prefix(&u64_key(contact))? {
            if let Some(bytes) = self.touches.get(&key)? {
                let touch =
                    StoredTouch::from_bytes(&bytes).ok_or_else(|| corrupt("touches", &key))?;
                log.push((TouchKey(key), touch));
            }
        }
        Ok(log)
    }

    /// Writes a touch of the log back where it stood (its weight or notes changed).
    pub fn rewrite_touch(&mut self, key: &TouchKey, touch: &StoredTouch) -> Result<(), StoreError> {
        self.touches.insert(&key.0, touch.to_bytes()?);
        Ok(())
    }

    /// Moves one contact's touch log to another (a merge).
    pub fn move_touches(&mut self, from: u64, to: u64) -> Result<(), StoreError> {
        for key in self.touches.keys_with_prefix(&u64_key(from))? {
            if let Some(value) = self.touches.remove(&key)? {
                let mut moved = key;
                moved[..8].copy_from_slice(&to.to_be_bytes());
                self.touches.insert(moved, value.to_vec());
            }
        }
        Ok(())
    }

    pub fn remove_touches(&mut self, contact: u64) -> Result<(), StoreError> {
        for key in self.touches.keys_with_prefix(&u64_key(contact))? {
            self.touches.delete(key);
        }
        Ok(())
    }

    pub fn put_outcome(
        &mut self,
        owner: OutcomeOwner<'_>,
        occurred_at: Millis,
        id: &[u8; 8],
        outcome: &StoredOutcome,
    ) -> Result<(), StoreError> {
        let prefix = match owner {
            OutcomeOwner::Contact(contact) => contact_outcome_prefix(contact),
            OutcomeOwner::Account(account) => account_outcome_prefix(account),
            OutcomeOwner::Opportunity(opportunity) => opportunity_outcome_prefix(opportunity),
        };
        self.outcomes.insert(
            outcome_key(&prefix, occurred_at, id),
            serde_json::to_vec(outcome)?,
        );
        Ok(())
    }

    /// Moves one contact's outcomes to another (a merge).
    pub fn move_outcomes(&mut self, from: u64, to: u64) -> Result<(), StoreError> {
        let (from_prefix, to_prefix) = (contact_outcome_prefix(from), contact_outcome_prefix(to));
        for key in self.outcomes.keys_with_prefix(&from_prefix)? {
            if let Some(value) = self.outcomes.remove(&key)? {
                let mut moved = to_prefix.clone();
                moved.extend_from_slice(&key[from_prefix.len()..]);
                self.outcomes.insert(moved, value.to_vec());
            }
        }
        Ok(())
    }

    pub fn remove_outcomes(&mut self, contact: u64) -> Result<(), StoreError> {
        for key in self
            .outcomes
            .keys_with_prefix(&contact_outcome_prefix(contact))?
        {
            self.outcomes.delete(key);
        }
        Ok(())
    }

    /// Puts a record's latest fields in a sink's outbox, replacing what was waiting
    /// but keeping its turn: it is as old as the first change not yet written.
    pub fn queue(&mut self, sink: &str, entry: &OutboxEntry) -> Result<(), StoreError> {
        let key = match &entry.account {
            Some(account) => account_outbox_key(sink, account),
            None => outbox_key(sink, entry.contact),
        };
        let waiting = self
            .outbox
            .get(&key)?
            .and_then(|bytes| serde_json::from_slice::<OutboxEntry>(&bytes).ok());
        let queued_at = waiting.map_or(entry.queued_at, |waiting| waiting.queued_at);
        let kept = OutboxEntry {
            queued_at,
            ..entry.clone()
        };
        // The turn is written again even when it exists: a sink may settle the
        // waiting value, and remove its turn, before this round commits, and an entry
        // without a turn would never be taken.
        self.outbox_turns
            .insert(outbox_turn_key(&key, sink, queued_at), Vec::new());
        self.outbox.insert(key, serde_json::to_vec(&kept)?);
        Ok(())
    }

    /// Whether a write of the contact waits in the sink's outbox.
    pub fn is_queued(&self, sink: &str, contact: u64) -> Result<bool, StoreError> {
        Ok(self.outbox.get(outbox_key(sink, contact))?.is_some())
    }

    /// Drops what waits for a sink about a contact.
    pub fn unqueue_contact(&mut self, sink: &str, contact: u64) -> Result<(), StoreError> {
        let key = outbox_key(sink, contact);
        if let Some(bytes) = self.outbox.remove(&key)? {
            if let Ok(waiting) = serde_json::from_slice::<OutboxEntry>(&bytes) {
                self.outbox_turns
                    .delete(outbox_turn_key(&key, sink, waiting.queued_at));
            }
        }
        Ok(())
    }

    pub fn remove_dead_letters_of(&mut self, contact: u64) -> Result<(), StoreError> {
        for (key, value) in self.dead_letters.entries()? {
            let letter: DeadLetter =
                serde_json::from_slice(&value).map_err(|_| corrupt("dead_letters", &key))?;
            if letter.contact == contact && letter.account.is_none() {
                self.dead_letters.delete(key);
            }
        }
        Ok(())
    }

    /// Whether the round has written anything.
    pub fn is_empty(&self) -> bool {
        self.overlays().iter().all(|overlay| overlay.is_empty())
    }

    fn overlays(&self) -> [&Overlay<'_>; 16] {
        [
            &self.contacts,
            &self.identities,
            &self.touches,
            &self.outcomes,
            &self.seen,
            &self.seen_times,
            &self.outbox,
            &self.outbox_turns,
            &self.erased,
            &self.meta,
            &self.dead_letters,
            &self.accounts,
            &self.account_members,
            &self.accounts_relined,
            &self.account_domains,
            self.index.overlay(),
        ]
    }

    /// Each tree written to, with its writes as one batch; in the same order
    /// whatever was written, so that transactions take their locks alike.
    fn into_batches(self) -> Result<Vec<(&'s sled::Tree, sled::Batch)>, StoreError> {
        [
            self.contacts,
            self.identities,
            self.touches,
            self.outcomes,
            self.seen,
            self.seen_times,
            self.outbox,
            self.outbox_turns,
            self.erased,
            self.meta,
            self.dead_letters,
            self.accounts,
            self.account_members,
            self.accounts_relined,
            self.account_domains,
            self.index.into_overlay(),
        ]
        .into_iter()
        .filter(|overlay| !overlay.is_empty())
        .map(Overlay::into_tree_and_batch)
        .collect()
    }

    /// Commits every write of the round, and the cursor past the deliveries it
    /// applied, in one transaction: all or nothing.
    pub fn commit(mut self, cursor: Option<u64>) -> Result<(), StoreError> {
        let people = self
            .index
            .settle(self.store, &self.contacts, &self.touches)?;
        if let Some(seq) = cursor {
            self.meta.insert(CURSOR, u64_key(seq));
        } else if self.is_empty() {
            return Ok(());
        }
        let store = self.store;
        let (trees, batches): (Vec<&sled::Tree>, Vec<sled::Batch>) =
            self.into_batches()?.into_iter().unzip();
        // Keys made for new people reach the disk before anything sealed under them.
        store.inner.vault.sync()?;
        trees
            .as_slice()
            .transaction(|views: &Vec<TransactionalTree>| {
                for (view, batch) in views.iter().zip(&batches) {
                    view.apply_batch(batch)?;
                }
                Ok::<(), ConflictableTransactionError<StoreError>>(())
            })?;
        if let Some(seq) = cursor {
            store.set_cursor_cached(seq);
        }
        store.people_changed(people);
        Ok(())
    }

    /// Writes each tree's part on its own, without one transaction around them: for
    /// work that is redone whole if interrupted (a rescore), where a transaction
    /// would cost more than the work.
    pub fn apply(mut self) -> Result<(), StoreError> {
        let people = self
            .index
            .settle(self.store, &self.contacts, &self.touches)?;
        let store = self.store;
        let batches = self.into_batches()?;
        store.inner.vault.sync()?;
        for (tree, batch) in batches {
            tree.apply_batch(batch)?;
        }
        store.people_changed(people);
        Ok(())
    }
}
