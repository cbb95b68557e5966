//! The outbox's doors: the pipeline queues a record's latest fields under (sink,
//! record); a sink takes what is due, then settles each entry it sent. Settling
//! compares with the bytes taken, so a value that replaced the entry while it was
//! in flight is never lost. Dead letters are the entries a sink gave up on.

use super::keys::{
    dead_letter_id, entry_outbox_key, outbox_prefix, outbox_records_prefix, u64_key,
};
use super::{DeadLetter, OutboxEntry, Store, StoreError};
use crate::fields::Records;
use crate::model::Millis;

/// An entry taken for sending, and the exact bytes it was read as.
#[derive(Debug, Clone)]
pub struct Pending {
    read: sled::IVec,
    pub entry: OutboxEntry,
}

impl Store {
    /// Up to `limit` of a sink's entries of one kind that are due at `now`. An entry
    /// that cannot be read is dropped with a log line rather than block the sink.
    pub fn outbox_due(
        &self,
        sink: &str,
        records: Records,
        limit: usize,
        now: Millis,
    ) -> Result<Vec<Pending>, StoreError> {
        let outbox = &self.inner.outbox;
        let mut due = Vec::new();
        for item in outbox.scan_prefix(outbox_records_prefix(sink, records)) {
            let (key, value) = item?;
            let Ok(entry) = serde_json::from_slice::<OutboxEntry>(&value) else {
                tracing::error!(message = "Unreadable outbox entry dropped.", sink);
                outbox.remove(key)?;
                continue;
            };
            if entry.not_before > now {
                continue;
            }
            due.push(Pending { read: value, entry });
            if due.len() == limit {
                break;
            }
        }
        Ok(due)
    }

    /// How many of a sink's entries of one kind are due at `now`.
    pub fn outbox_due_count(&self, sink: &str, records: Records, now: Millis) -> usize {
        self.inner
            .outbox
            .scan_prefix(outbox_records_prefix(sink, records))
            .values()
            .filter_map(Result::ok)
            .filter_map(|value| serde_json::from_slice::<OutboxEntry>(&value).ok())
            .filter(|entry| entry.not_before <= now)
            .count()
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
            if let Ok(entry) = serde_json::from_slice::<OutboxEntry>(&value) {
                oldest = Some(oldest.map_or(entry.queued_at, |o| o.min(entry.queued_at)));
            }
        }
        (pending, oldest)
    }

    /// The CRM took the entry: it leaves the outbox unless a newer value replaced it
    /// meanwhile. Returns whether it left.
    pub fn outbox_delivered(&self, sink: &str, pending: &Pending) -> Result<bool, StoreError> {
        let key = entry_outbox_key(sink, &pending.entry);
        Ok(self
            .inner
            .outbox
            .compare_and_swap(&key, Some(&pending.read), None as Option<&[u8]>)?
            .is_ok())
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
            Some(serde_json::to_vec(&retry)?),
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
        self.inner
            .dead_letters
            .insert(u64_key(letter.id), serde_json::to_vec(&letter)?)?;
        Ok(true)
    }

    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let mut out = Vec::new();
        for item in self.inner.dead_letters.iter() {
            let (key, value) = item?;
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
        let Some(bytes) = self.inner.dead_letters.get(u64_key(id))? else {
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
        let _ = self.inner.outbox.compare_and_swap(
            &key,
            None as Option<&[u8]>,
            Some(serde_json::to_vec(&entry)?),
        )?;
        self.inner.dead_letters.remove(u64_key(id))?;
        Ok(true)
    }

    /// Returns whether there was such a letter.
    pub fn delete_dead_letter(&self, id: u64) -> Result<bool, StoreError> {
        Ok(self.inner.dead_letters.remove(u64_key(id))?.is_some())
    }
}
