//! The outbox's doors: the pipeline queues a record's latest fields under (sink,
//! record); a sink takes what is due, oldest first, then settles each entry it sent.
//! Settling compares with the bytes taken, so a value that replaced the entry while it
//! was in flight is never lost. Dead letters are the entries a sink gave up on.
//!
//! Each entry also has a turn in `outbox_turns`, ordered by when it was first queued:
//! a newer value replacing a waiting one keeps its turn, so a record that keeps
//! changing is not pushed to the back, and one that changed once is not starved by
//! busier ones.

use super::keys::{
    dead_letter_id, entry_outbox_key, outbox_key_of_turn, outbox_prefix, outbox_records_prefix,
    outbox_turn_key, u64_key,
};
use super::{DeadLetter, OutboxEntry, Store, StoreError};
use crate::fields::Records;
use crate::model::Millis;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

/// An entry taken for sending, and the exact bytes it was read as.
#[derive(Debug, Clone)]
pub struct Pending {
    read: sled::IVec,
    pub entry: OutboxEntry,
}

impl Store {
    /// Up to `limit` of a sink's entries of one kind that are due at `now`, those
    /// queued first first. An entry that cannot be read is dropped with a log line
    /// rather than block the sink.
    pub fn outbox_due(
        &self,
        sink: &str,
        records: Records,
        limit: usize,
        now: Millis,
    ) -> Result<Vec<Pending>, StoreError> {
        let mut due = Vec::new();
        self.walk_turns(sink, records, |pending| {
            if pending.entry.not_before <= now {
                due.push(pending);
            }
            due.len() < limit
        })?;
        Ok(due)
    }

    /// How many of a sink's entries of one kind are due at `now`.
    pub fn outbox_due_count(&self, sink: &str, records: Records, now: Millis) -> usize {
        let mut count = 0;
        let walked = self.walk_turns(sink, records, |pending| {
            count += usize::from(pending.entry.not_before <= now);
            true
        });
        if let Err(error) = walked {
            tracing::error!(message = "Cannot read the outbox.", sink, %error);
        }
        count
    }

    /// Goes through a sink's entries of one kind in turn, while `visit` says so.
    fn walk_turns(
        &self,
        sink: &str,
        records: Records,
        mut visit: impl FnMut(Pending) -> bool,
    ) -> Result<(), StoreError> {
        let outbox = &self.inner.outbox;
        for turn in self
            .inner
            .outbox_turns
            .scan_prefix(outbox_records_prefix(sink, records))
            .keys()
        {
            let turn = turn?;
            let Some(key) = outbox_key_of_turn(&turn, sink) else {
                self.inner.outbox_turns.remove(turn)?;
                continue;
            };
            let Some(value) = outbox.get(&key)? else {
                // Its entry went (delivered, or its contact merged away or erased).
                self.inner.outbox_turns.remove(turn)?;
                continue;
            };
            let plain = self.unseal(&value);
            let Some(Ok(entry)) = plain.map(|plain| serde_json::from_slice::<OutboxEntry>(&plain))
            else {
                tracing::error!(message = "Unreadable outbox entry dropped.", sink);
                outbox.remove(&key)?;
                self.inner.outbox_turns.remove(turn)?;
                continue;
            };
            if !visit(Pending { read: value, entry }) {
                break;
            }
        }
        Ok(())
    }

    /// Gives every outbox entry without one its turn at open: a store written before
    /// turns were kept, or a dead letter put back just before a crash.
    pub(super) fn give_outbox_entries_their_turns(&self) -> Result<(), StoreError> {
        let mut given = 0usize;
        for item in self.inner.outbox.iter() {
            let (key, value) = item?;
            let Some(Ok(entry)) = self
                .unseal(&value)
                .map(|plain| serde_json::from_slice::<OutboxEntry>(&plain))
            else {
                continue;
            };
            let Some(sink) = key.split(|byte| *byte == 0).next() else {
                continue;
            };
            let sink = String::from_utf8_lossy(sink);
            let turn = outbox_turn_key(&key, &sink, entry.queued_at);
            if !self.inner.outbox_turns.contains_key(&turn)? {
                self.inner.outbox_turns.insert(turn, &[])?;
                given += 1;
            }
        }
        if given > 0 {
            tracing::info!(
                message = "Outbox entries given back their turn.",
                entries = given
            );
        }
        Ok(())
    }

    /// Records waiting for a sink, and when the oldest of them was queued.
    pub fn outbox_stats(&self, sink: &str) -> (usize, Option<Millis>) {
        let mut pending = 0;
        let mut oldest: Option<Millis> = None;
        for value in self
            .inner
            .outbox
            .scan_prefix(outbox_prefix(sink))
            .values()
            .flatten()
        {
            pending += 1;
            if let Some(Ok(entry)) = self
                .unseal(&value)
                .map(|plain| serde_json::from_slice::<OutboxEntry>(&plain))
            {
                oldest = Some(oldest.map_or(entry.queued_at, |o| o.min(entry.queued_at)));
            }
        }
        (pending, oldest)
    }

    /// Whether the sink's last write of this record was exactly `digest` (of the
    /// values as the sink writes them): then there is nothing to write.
    pub fn outbox_already_written(
        &self,
        sink: &str,
        entry: &OutboxEntry,
        digest: &[u8],
    ) -> Result<bool, StoreError> {
        let key = entry_outbox_key(sink, entry);
        Ok(self.inner.outbox_sent.get(key)?.as_deref() == Some(digest))
    }

    /// The entry needs no writing (the sink gave up on it, or holds its values
    /// already): it leaves the outbox unless a newer value replaced it meanwhile.
    /// Returns whether it left.
    pub fn outbox_delivered(&self, sink: &str, pending: &Pending) -> Result<bool, StoreError> {
        self.settle_delivered(sink, pending, None)
    }

    /// The CRM took the entry, whose values as written have this `digest`: it leaves
    /// the outbox (unless a newer value replaced it meanwhile) and the digest is kept,
    /// in one transaction. Returns whether it left.
    pub fn outbox_written(
        &self,
        sink: &str,
        pending: &Pending,
        digest: &[u8],
    ) -> Result<bool, StoreError> {
        self.settle_delivered(sink, pending, Some(digest))
    }

    fn settle_delivered(
        &self,
        sink: &str,
        pending: &Pending,
        digest: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let key = entry_outbox_key(sink, &pending.entry);
        let turn = outbox_turn_key(&key, sink, pending.entry.queued_at);
        let trees = (
            &self.inner.outbox,
            &self.inner.outbox_turns,
            &self.inner.outbox_sent,
        );
        let result = trees.transaction(|(outbox, turns, sent)| {
            if outbox.get(&key)?.as_deref() != Some(pending.read.as_ref()) {
                return Ok(false);
            }
            outbox.remove(key.as_slice())?;
            turns.remove(turn.as_slice())?;
            if let Some(digest) = digest {
                sent.insert(key.as_slice(), digest)?;
            }
            Ok::<bool, ConflictableTransactionError<()>>(true)
        });
        match result {
            Ok(left) => Ok(left),
            Err(TransactionError::Storage(error)) => Err(error.into()),
            Err(TransactionError::Abort(())) => Ok(false),
        }
    }

    /// The CRM refused the entry this time: it waits until `not_before`, unless a
    /// newer value replaced it meanwhile.
    pub fn outbox_retry_later(
        &self,
        sink: &str,
        pending: &Pending,
        not_before: Millis,
        error: &str,
    ) -> Result<(), StoreError> {
        let mut retry = pending.entry.clone();
        retry.attempts += 1;
        retry.not_before = not_before;
        retry.last_error = Some(error.to_string());
        let key = entry_outbox_key(sink, &pending.entry);
        let _ = self.inner.outbox.compare_and_swap(
            &key,
            Some(&pending.read),
            Some(self.seal_entry(&retry)?),
        )?;
        Ok(())
    }

    /// The CRM refused the entry for good: it moves to the dead letters with the
    /// CRM's words, replacing an older letter of the same record. Returns whether it
    /// moved (not if a newer value replaced it meanwhile: that one still has to go).
    pub fn outbox_park(
        &self,
        sink: &str,
        pending: &Pending,
        error: &str,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let entry = &pending.entry;
        let letter = DeadLetter {
            id: dead_letter_id(sink, entry.contact, entry.account.as_deref()),
            sink: sink.to_string(),
            contact: entry.contact,
            account: entry.account.clone(),
            identities: entry.identities.clone(),
            fields: entry.fields.clone(),
            error: error.to_string(),
            attempts: entry.attempts + 1,
            failed_at: now,
        };
        if !self.outbox_delivered(sink, pending)? {
            return Ok(false);
        }
        let encoded = serde_json::to_vec(&letter)?;
        let encoded = match letter.account {
            Some(_) => encoded,
            None => self.seal(letter.contact, &encoded)?,
        };
        self.inner
            .dead_letters
            .insert(u64_key(letter.id), encoded)?;
        Ok(true)
    }

    /// An outbox entry as stored: a person's sealed under their key.
    fn seal_entry(&self, entry: &OutboxEntry) -> Result<Vec<u8>, StoreError> {
        let encoded = serde_json::to_vec(entry)?;
        match entry.account {
            Some(_) => Ok(encoded),
            None => self.seal(entry.contact, &encoded),
        }
    }

    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let mut out = Vec::new();
        for item in self.inner.dead_letters.iter() {
            let (key, value) = item?;
            // A letter about a person erased since reads as nothing.
            let Some(value) = self.unseal(&value) else {
                continue;
            };
            out.push(
                serde_json::from_slice(&value).map_err(|_| StoreError::Corrupt {
                    tree: "dead_letters",
                    key: format!("{key:?}"),
                })?,
            );
        }
        Ok(out)
    }

    /// Puts a dead letter back in its sink's outbox, unless a newer value is queued.
    /// Returns whether there was such a letter.
    pub fn retry_dead_letter(&self, id: u64, now: Millis) -> Result<bool, StoreError> {
        let Some(stored) = self.inner.dead_letters.get(u64_key(id))? else {
            return Ok(false);
        };
        let Some(bytes) = self.unseal(&stored) else {
            self.inner.dead_letters.remove(u64_key(id))?;
            return Ok(false);
        };
        let letter: DeadLetter =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::Corrupt {
                tree: "dead_letters",
                key: id.to_string(),
            })?;
        let entry = OutboxEntry {
            contact: letter.contact,
            account: letter.account,
            identities: letter.identities,
            fields: letter.fields,
            queued_at: now,
            attempts: 0,
            not_before: 0,
            last_error: None,
        };
        let key = entry_outbox_key(&letter.sink, &entry);
        let queued = self.inner.outbox.compare_and_swap(
            &key,
            None as Option<&[u8]>,
            Some(self.seal_entry(&entry)?),
        )?;
        if queued.is_ok() {
            self.inner
                .outbox_turns
                .insert(outbox_turn_key(&key, &letter.sink, now), &[])?;
        }
        self.inner.dead_letters.remove(u64_key(id))?;
        Ok(true)
    }

    /// Returns whether there was such a letter.
    pub fn delete_dead_letter(&self, id: u64) -> Result<bool, StoreError> {
        Ok(self.inner.dead_letters.remove(u64_key(id))?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{FieldValue, PushFields};
    use crate::model::Identity;

    fn fields(score: i64) -> PushFields {
        PushFields::from([("score".to_string(), FieldValue::Number(score))])
    }

    fn queue(store: &Store, contact: u64, score: i64, at: Millis) {
        let mut round = store.round();
        // A contact of its own: keys of people who do not exist are swept at open.
        round
            .put_contact(&crate::store::Contact::new(contact, at))
            .unwrap();
        let entry = OutboxEntry::for_contact(
            contact,
            vec![Identity::email(&format!("c{contact}@acme.com"))],
            fields(score),
            at,
        );
        round.queue("crm", &entry).unwrap();
        round.commit(None).unwrap();
    }

    fn due_order(store: &Store) -> Vec<(u64, i64)> {
        store
            .outbox_due("crm", Records::Contacts, 10, 1_000_000)
            .unwrap()
            .into_iter()
            .map(|pending| match pending.entry.fields["score"] {
                FieldValue::Number(score) => (pending.entry.contact, score),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn sinks_take_the_oldest_change_first_and_a_newer_value_keeps_its_turn() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        // Contact 9 changed first; 1 and 5 after.
        queue(&store, 9, 10, 100);
        queue(&store, 1, 20, 200);
        queue(&store, 5, 30, 300);
        assert_eq!(due_order(&store), [(9, 10), (1, 20), (5, 30)]);
        // Contact 9 changes again: the newer value waits in the older turn.
        queue(&store, 9, 11, 400);
        assert_eq!(due_order(&store), [(9, 11), (1, 20), (5, 30)]);
        assert_eq!(store.outbox_stats("crm"), (3, Some(100)));
        // Written: it leaves the outbox and its turn with it.
        let taken = store
            .outbox_due("crm", Records::Contacts, 1, 1_000_000)
            .unwrap();
        assert!(store.outbox_delivered("crm", &taken[0]).unwrap());
        assert_eq!(due_order(&store), [(1, 20), (5, 30)]);
        assert_eq!(store.inner.outbox_turns.len(), 2);
        // A value queued while one was in flight stays, in its turn, to be written.
        let taken = store
            .outbox_due("crm", Records::Contacts, 1, 1_000_000)
            .unwrap();
        queue(&store, 1, 21, 500);
        assert!(!store.outbox_delivered("crm", &taken[0]).unwrap());
        assert_eq!(due_order(&store), [(1, 21), (5, 30)]);
    }

    #[test]
    fn a_value_queued_while_the_sink_settled_the_one_waiting_keeps_a_turn() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        queue(&store, 3, 1, 100);
        let taken = store
            .outbox_due("crm", Records::Contacts, 1, 1_000_000)
            .unwrap();
        let mut round = store.round();
        let newer =
            OutboxEntry::for_contact(3, vec![Identity::email("c3@acme.com")], fields(2), 300);
        round.queue("crm", &newer).unwrap();
        // The CRM took the older value while the round was still open.
        assert!(store.outbox_delivered("crm", &taken[0]).unwrap());
        round.commit(None).unwrap();
        assert_eq!(due_order(&store), [(3, 2)]);
    }

    #[test]
    fn a_store_from_before_turns_gets_them_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        {
            let store = Store::open(&path).unwrap();
            queue(&store, 2, 1, 200);
            queue(&store, 7, 2, 100);
            store.inner.outbox_turns.clear().unwrap();
            store.flush().unwrap();
        }
        let store = Store::open_when_free(&path).unwrap();
        assert_eq!(due_order(&store), [(7, 2), (2, 1)]);
    }
}
