//! Secondary indexes for the console's lists: contacts and accounts sorted and
//! filtered without reading every record.
//!
//! Each contact and account has a card (`cards.rs`) and stands under one entry per
//! sort and filter. A round keeps them in the same transaction as the records: the
//! contacts it wrote are indexed when it commits, from the records as they stand then
//! and the touches written with them (a person's sources); accounts are indexed as
//! they are put. The rescore, which writes contacts one by one, indexes them likewise.
//! A store from before the index, or one whose half-life or ladder changed, is indexed
//! anew by [`Store::ensure_index`] at start.

mod cards;
mod query;
#[cfg(test)]
mod tests;

pub use cards::{
    parse_trend, score_key, search_term, AccountCard, AccountSort, ContactCard, ContactSort,
    IndexSettings,
};
pub use query::{AccountQuery, ContactFilter, ContactQuery, Page};

use super::keys::read_u64;
use super::overlay::Overlay;
use super::vault::Vault;
use super::{Account, Contact, Store, StoreError, StoredTouch};
use cards::{card_key, ACCOUNT, CONTACT};
use sled::IVec;
use std::collections::{BTreeMap, BTreeSet};

/// Named anew when cards became sealed, so that an index from before is rebuilt.
const SETTINGS: &[u8] = b"index_settings_sealed";
/// Contacts written per batch while the index is built anew.
const REBUILD_BATCH: usize = 2048;

/// A build of the index under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexProgress {
    /// People the build has indexed so far.
    pub indexed: u64,
    /// People in the store, once counted.
    pub contacts: Option<u64>,
}

/// Where index writes go: a round's overlay, or a batch applied straight away.
trait Writes {
    fn read(&self, key: &[u8]) -> Result<Option<IVec>, StoreError>;
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>);
    fn delete(&mut self, key: Vec<u8>);
}

impl Writes for Overlay<'_> {
    fn read(&self, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        Ok(self.get(key)?)
    }
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.insert(key, value);
    }
    fn delete(&mut self, key: Vec<u8>) {
        Overlay::delete(self, key);
    }
}

/// Writes collected in a batch; reads see the tree as it was.
struct Direct<'t> {
    tree: &'t sled::Tree,
    store: &'t Store,
    batch: sled::Batch,
}

impl Writes for Direct<'_> {
    fn read(&self, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        Ok(self.tree.get(key)?.and_then(|bytes| {
            self.store
                .unseal(&bytes)
                .map(|plain| IVec::from(plain.as_ref()))
        }))
    }
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        let value = match contact_card_of(&key) {
            // A card that cannot be sealed is left out: the list skips the person
            // until the next write, which is better than a card in the clear.
            Some(id) => match self.store.seal(id, &value) {
                Ok(sealed) => sealed,
                Err(error) => {
                    tracing::error!(message = "Cannot seal an index card.", %error);
                    return;
                }
            },
            None => value,
        };
        self.batch.insert(key, value);
    }
    fn delete(&mut self, key: Vec<u8>) {
        self.batch.remove(key);
    }
}

/// A contact's card names the person (email, name): it is sealed under their key.
/// Entries hold no personal data and stay plain.
pub(super) fn contact_card_of(key: &[u8]) -> Option<u64> {
    match key {
        [CONTACT, cards::CARD, id @ ..] if id.len() == 8 => super::keys::read_u64(id),
        _ => None,
    }
}

/// Swaps a card and its entries: entries that stay are not written again.
fn replace(
    writes: &mut impl Writes,
    card: Vec<u8>,
    old: Vec<Vec<u8>>,
    new: Option<(Vec<u8>, Vec<Vec<u8>>)>,
) -> Result<(), StoreError> {
    let new_entries: BTreeSet<Vec<u8>> = new
        .as_ref()
        .map(|(_, entries)| entries.iter().cloned().collect())
        .unwrap_or_default();
    let old: BTreeSet<Vec<u8>> = old.into_iter().collect();
    for key in old.difference(&new_entries) {
        writes.delete(key.clone());
    }
    for key in new_entries.difference(&old) {
        writes.put(key.clone(), Vec::new());
    }
    match new {
        Some((bytes, _)) => writes.put(card, bytes),
        None => writes.delete(card),
    }
    Ok(())
}

fn encode<T: serde::Serialize>(card: &T) -> Result<Vec<u8>, StoreError> {
    Ok(postcard::to_stdvec(card)?)
}

/// A stored card, `None` when missing or unreadable (its entries are then checked
/// against nothing and skipped by every list).
fn stored<T: serde::de::DeserializeOwned>(
    writes: &impl Writes,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    Ok(writes
        .read(key)?
        .and_then(|bytes| postcard::from_bytes(&bytes).ok()))
}

/// Indexes a contact as it now stands (`None`: gone), adding `sources` to the ones
/// its card already names. Returns how the number of indexed people changed: 1 for a
/// new card, -1 for one removed.
fn index_contact(
    writes: &mut impl Writes,
    vault: &Vault,
    settings: &IndexSettings,
    id: u64,
    contact: Option<&Contact>,
    sources: &BTreeSet<String>,
) -> Result<i64, StoreError> {
    let key = card_key(CONTACT, &id.to_be_bytes());
    let old: Option<ContactCard> = stored(writes, &key)?;
    let change = i64::from(contact.is_some()) - i64::from(old.is_some());
    let new = contact.map(|contact| {
        let mut all: BTreeSet<String> = old
            .as_ref()
            .map(|card| card.sources.iter().cloned().collect())
            .unwrap_or_default();
        all.extend(sources.iter().cloned());
        ContactCard::of(contact, all.into_iter().collect())
    });
    if old == new {
        return Ok(change);
    }
    // Hashing every prefix costs more than the rest of the card: terms that stayed
    // keep their entries untouched.
    let terms_changed =
        old.as_ref().map(|card| &card.terms) != new.as_ref().map(|card| &card.terms);
    let hasher = terms_changed.then(|| vault.hasher());
    let entries = |card: &ContactCard| {
        let mut entries = card.entries(settings);
        if let Some(hasher) = &hasher {
            entries.extend(card.term_entries(|text| hasher.hash(text)));
        }
        entries
    };
    let old_entries = old.as_ref().map(entries).unwrap_or_default();
    let new = match new {
        Some(card) => Some((encode(&card)?, entries(&card))),
        None => None,
    };
    replace(writes, key, old_entries, new)?;
    Ok(change)
}

fn index_account(
    writes: &mut impl Writes,
    key: &str,
    account: Option<&Account>,
) -> Result<(), StoreError> {
    let card_at = card_key(ACCOUNT, key.as_bytes());
    let old: Option<AccountCard> = stored(writes, &card_at)?;
    let new = account.map(AccountCard::of);
    if old == new {
        return Ok(());
    }
    let old_entries = old.map(|card| card.entries()).unwrap_or_default();
    let new = match new {
        Some(card) => Some((encode(&card)?, card.entries())),
        None => None,
    };
    replace(writes, card_at, old_entries, new)
}

/// A round's index writes: accounts as they are put, contacts when it commits.
pub struct IndexRound<'s> {
    overlay: Overlay<'s>,
    vault: &'s Vault,
    contacts: BTreeSet<u64>,
}

impl<'s> IndexRound<'s> {
    pub fn new(tree: &'s sled::Tree, vault: &'s super::vault::Vault) -> IndexRound<'s> {
        IndexRound {
            overlay: Overlay::sealed(tree, vault, contact_card_of),
            vault,
            contacts: BTreeSet::new(),
        }
    }

    /// The contact was written or removed: it is indexed at the end of the round.
    pub fn contact(&mut self, id: u64) {
        self.contacts.insert(id);
    }

    pub fn account(&mut self, key: &str, account: Option<&Account>) -> Result<(), StoreError> {
        index_account(&mut self.overlay, key, account)
    }

    /// Indexes every contact the round wrote, as the round leaves it; returns how
    /// the number of people changed.
    pub fn settle(
        &mut self,
        store: &Store,
        contacts: &Overlay<'_>,
        touches: &Overlay<'_>,
    ) -> Result<i64, StoreError> {
        if self.contacts.is_empty() {
            return Ok(0);
        }
        let settings = store.index_settings();
        let mut sources: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
        for (key, value) in touches.written() {
            let (Some(owner), Some(bytes)) = (read_u64(key), value) else {
                continue;
            };
            if self.contacts.contains(&owner) {
                if let Some(touch) = StoredTouch::from_bytes(bytes) {
                    sources.entry(owner).or_default().insert(touch.source);
                }
            }
        }
        let none = BTreeSet::new();
        let mut change = 0;
        for id in std::mem::take(&mut self.contacts) {
            let contact = match contacts.get(id.to_be_bytes())? {
                Some(bytes) => {
                    Some(
                        Contact::from_bytes(&bytes).ok_or_else(|| StoreError::Corrupt {
                            tree: "contacts",
                            key: id.to_string(),
                        })?,
                    )
                }
                None => None,
            };
            let found = sources.get(&id).unwrap_or(&none);
            change += index_contact(
                &mut self.overlay,
                self.vault,
                &settings,
                id,
                contact.as_ref(),
                found,
            )?;
        }
        Ok(change)
    }

    pub fn overlay(&self) -> &Overlay<'s> {
        &self.overlay
    }

    pub fn into_overlay(self) -> Overlay<'s> {
        self.overlay
    }
}

impl Store {
    /// What the index is built with.
    pub fn index_settings(&self) -> IndexSettings {
        match self.inner.index_settings.read() {
            Ok(settings) => settings.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_index_settings(&self, settings: IndexSettings) {
        match self.inner.index_settings.write() {
            Ok(mut held) => *held = settings,
            Err(poisoned) => *poisoned.into_inner() = settings,
        }
    }

    /// How far the index is while it is being built anew, `None` once it is whole:
    /// lists read meanwhile hold only the people indexed so far.
    pub fn index_progress(&self) -> Result<Option<IndexProgress>, StoreError> {
        if self.inner.meta.contains_key(SETTINGS)? {
            return Ok(None);
        }
        Ok(Some(IndexProgress {
            indexed: self
                .inner
                .indexed
                .load(std::sync::atomic::Ordering::Relaxed),
            contacts: self.people(),
        }))
    }

    /// The settings the index was last built with, if it was ever built whole.
    fn built_index_settings(&self) -> Option<IndexSettings> {
        let bytes = self.inner.meta.get(SETTINGS).ok()??;
        serde_json::from_slice(&bytes).ok()
    }

    /// Loads the index settings at open. A store without contacts has a whole
    /// (empty) index already.
    pub(super) fn load_index_settings(&self) -> Result<(), StoreError> {
        match self.built_index_settings() {
            Some(settings) => self.set_index_settings(settings),
            None if self.inner.contacts.is_empty() => {
                let settings = IndexSettings::default();
                self.inner
                    .meta
                    .insert(SETTINGS, serde_json::to_vec(&settings)?)?;
                self.set_index_settings(settings);
            }
            None => {}
        }
        Ok(())
    }

    /// Builds the index anew unless it was built whole with these settings. Returns
    /// whether it did. `progress(contacts done)` is called between chunks: the
    /// pipeline applies deliveries there, whose rounds index what they write with
    /// these settings already, so a chunk that comes after them finds their cards.
    pub fn ensure_index(
        &self,
        settings: IndexSettings,
        progress: impl FnMut(usize),
    ) -> Result<bool, StoreError> {
        if self.built_index_settings().as_ref() == Some(&settings) {
            self.set_index_settings(settings);
            return Ok(false);
        }
        let contacts = self.inner.contacts.len();
        tracing::info!(message = "Building the console's indexes.", contacts);
        // Counted here rather than by the first refresh, which comes after the
        // build: the lists say meanwhile how many people they will hold.
        if self.people().is_none() {
            self.set_people(contacts as u64);
        }
        self.inner.meta.remove(SETTINGS)?;
        self.inner
            .indexed
            .store(0, std::sync::atomic::Ordering::Relaxed);
        self.inner.index.clear()?;
        self.set_index_settings(settings.clone());
        self.rebuild_contacts(&settings, progress)?;
        let mut writes = Direct {
            store: self,
            tree: &self.inner.index,
            batch: sled::Batch::default(),
        };
        for item in self.inner.accounts.iter() {
            let (key, _) = item?;
            let key = String::from_utf8_lossy(&key).into_owned();
            let account = self.account(&key)?;
            index_account(&mut writes, &key, account.as_ref())?;
        }
        self.inner.index.apply_batch(writes.batch)?;
        self.inner
            .meta
            .insert(SETTINGS, serde_json::to_vec(&settings)?)?;
        Ok(true)
    }

    /// Every contact with the sources of its touch log, read in step.
    fn rebuild_contacts(
        &self,
        settings: &IndexSettings,
        mut progress: impl FnMut(usize),
    ) -> Result<(), StoreError> {
        let mut touches = self.inner.touches.iter().peekable();
        let mut writes = Direct {
            store: self,
            tree: &self.inner.index,
            batch: sled::Batch::default(),
        };
        let mut in_batch = 0;
        let mut done = 0;
        for item in self.inner.contacts.iter() {
            let (key, stored) = item?;
            let Some(value) = self.unseal(&stored) else {
                continue;
            };
            let contact = Contact::from_bytes(&value).ok_or_else(|| StoreError::Corrupt {
                tree: "contacts",
                key: format!("{key:?}"),
            })?;
            let mut sources = BTreeSet::new();
            while let Some(Ok((touch_key, bytes))) = touches.peek() {
                match read_u64(touch_key) {
                    Some(owner) if owner < contact.id => {}
                    Some(owner) if owner == contact.id => {
                        let plain = self.unseal(bytes);
                        if let Some(touch) = plain.and_then(|plain| StoredTouch::from_bytes(&plain))
                        {
                            sources.insert(touch.source);
                        }
                    }
                    _ => break,
                }
                touches.next();
            }
            index_contact(
                &mut writes,
                &self.inner.vault,
                settings,
                contact.id,
                Some(&contact),
                &sources,
            )?;
            in_batch += 1;
            if in_batch == REBUILD_BATCH {
                let batch = std::mem::take(&mut writes.batch);
                self.inner.index.apply_batch(batch)?;
                done += in_batch;
                in_batch = 0;
                self.inner
                    .indexed
                    .store(done as u64, std::sync::atomic::Ordering::Relaxed);
                progress(done);
            }
        }
        self.inner.index.apply_batch(writes.batch)?;
        Ok(())
    }

    /// Indexes a contact written outside a round (the rescore).
    pub(super) fn reindex_contact(&self, contact: &Contact) -> Result<(), StoreError> {
        let mut writes = Direct {
            store: self,
            tree: &self.inner.index,
            batch: sled::Batch::default(),
        };
        let settings = self.index_settings();
        index_contact(
            &mut writes,
            &self.inner.vault,
            &settings,
            contact.id,
            Some(contact),
            &BTreeSet::new(),
        )?;
        self.inner.index.apply_batch(writes.batch)?;
        Ok(())
    }
}
