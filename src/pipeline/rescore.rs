//! Rescoring: every contact recomputed from its touch log under the current
//! `[scoring]`, then every account; changed fields are queued for the CRMs.
//!
//! It runs at start when the scoring version (a hash of `[scoring]`) differs from the
//! one the store was scored with, and on `attentiond rescore`.

use super::apply::{commit, decode, encode, join_account, queue, update_accounts, Context};
use super::overlay::Overlay;
use crate::scoring::{self, Attention, ScoringConfig};
use crate::store::records::u64_key;
use crate::store::{Contact, StoreError, StoredTouch};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Contacts recomputed per commit.
const CHUNK: usize = 2048;
const VERSION_KEY: &[u8] = b"scoring_version";

/// A short hash of everything in `[scoring]` that changes a score; the refresh
/// interval does not.
pub fn scoring_version(config: &ScoringConfig) -> String {
    let mut relevant = config.clone();
    relevant.refresh_interval_secs = 0;
    let digest = Sha256::digest(format!("{relevant:?}").as_bytes());
    hex::encode(&digest[..6])
}

/// The version the store was last scored with, if any.
pub fn stored_version(context: &Context<'_>) -> Result<Option<String>, StoreError> {
    Ok(context
        .store
        .trees()
        .meta
        .get(VERSION_KEY)?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

pub fn record_version(context: &Context<'_>) -> Result<(), StoreError> {
    context
        .store
        .trees()
        .meta
        .insert(VERSION_KEY, scoring_version(context.scoring).as_bytes())?;
    Ok(())
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Rescored {
    pub contacts: usize,
    pub touches: usize,
    /// Contacts whose CRM fields changed and were queued.
    pub queued: usize,
}

/// Recomputes everything. `progress(done, total)` is called after each chunk.
pub fn rescore(
    context: &Context<'_>,
    mut progress: impl FnMut(usize, usize),
) -> Result<Rescored, StoreError> {
    let trees = context.store.trees();
    let total = trees.contacts.len();
    let mut done = Rescored::default();
    let mut after: Option<Vec<u8>> = None;
    let mut dirty_accounts = BTreeSet::new();
    loop {
        let range = match &after {
            Some(key) => trees.contacts.range::<&[u8], _>((
                std::ops::Bound::Excluded(key.as_slice()),
                std::ops::Bound::Unbounded,
            )),
            None => trees.contacts.iter(),
        };
        let mut chunk = Vec::with_capacity(CHUNK);
        for item in range.take(CHUNK) {
            chunk.push(item?);
        }
        let Some((last, _)) = chunk.last() else {
            break;
        };
        after = Some(last.to_vec());
        let mut contacts = Overlay::new(&trees.contacts);
        let mut touches = Overlay::new(&trees.touches);
        let mut outbox = Overlay::new(&trees.outbox);
        let mut accounts = Overlay::new(&trees.accounts);
        for (key, value) in &chunk {
            let mut contact: Contact = decode("contacts", key, value)?;
            let mut attention = Attention::default();
            let email = contact.email().map(str::to_owned);
            // The log is keyed by time then id, the order a replay counts in.
            for item in trees.touches.scan_prefix(u64_key(contact.id)) {
                let (touch_key, bytes) = item?;
                let mut touch: StoredTouch = decode("touches", &touch_key, &bytes)?;
                let counted = scoring::count(
                    &mut attention,
                    touch.kind,
                    touch.occurred_at,
                    touch.properties.as_ref(),
                    email.as_deref(),
                    context.scoring,
                );
                done.touches += 1;
                if counted.weight != touch.weight || counted.notes != touch.notes {
                    touch.weight = counted.weight;
                    touch.notes = counted.notes;
                    touches.insert(&touch_key, encode(&touch)?);
                }
            }
            contact.attention = attention;
            join_account(context, &mut accounts, &mut contact, &mut dirty_accounts)?;
            if let Some(account) = &contact.account_key {
                dirty_accounts.insert(account.clone());
            }
            if queue(context, &mut outbox, &mut contact)? {
                done.queued += 1;
            }
            contacts.insert(key, encode(&contact)?);
            done.contacts += 1;
        }
        commit(
            &[
                &trees.contacts,
                &trees.touches,
                &trees.outbox,
                &trees.accounts,
            ],
            vec![
                contacts.into_batch(),
                touches.into_batch(),
                outbox.into_batch(),
                accounts.into_batch(),
            ],
        )?;
        progress(done.contacts, total);
    }
    let mut contacts = Overlay::new(&trees.contacts);
    let mut outbox = Overlay::new(&trees.outbox);
    let mut accounts = Overlay::new(&trees.accounts);
    update_accounts(
        context,
        &mut contacts,
        &mut accounts,
        &mut outbox,
        dirty_accounts,
    )?;
    commit(
        &[&trees.outbox, &trees.accounts],
        vec![outbox.into_batch(), accounts.into_batch()],
    )?;
    record_version(context)?;
    context.store.flush()?;
    Ok(done)
}
