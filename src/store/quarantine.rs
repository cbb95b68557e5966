//! The quarantine: deliveries the pipeline could not apply after repeated attempts,
//! parked out of the inbox's way with the error, so that the deliveries behind them
//! are applied. Parking moves the entry out of the inbox and the cursor past it in
//! one transaction; a retry appends it to the inbox again under a new sequence
//! number; a drop forgets it.
//!
//! Before each round the pipeline also notes here which deliveries it is applying
//! and how often it has tried them (`meta` key `attempt`), so that a delivery that
//! kills the process every time it is applied is recognised after a restart and
//! parked like any other.

use super::keys::{read_u64, u64_key};
use super::{Store, StoreError, CURSOR};
use crate::model::Millis;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::sync::atomic::Ordering;

const ATTEMPT: &[u8] = b"attempt";

/// A parked delivery as listed: what it was, why it failed, how often it was tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parked {
    /// The sequence number it had in the inbox; the id to retry or drop it by.
    pub id: u64,
    pub source: String,
    pub received_at: Millis,
    pub parked_at: Millis,
    pub attempts: u32,
    /// The last error the pipeline met applying it.
    pub error: String,
    /// Events in it (0 when the entry itself could not be read).
    pub events: usize,
    /// Bytes of the stored entry, raw body included.
    pub bytes: usize,
}

/// The deliveries a round is applying, and how many times that exact round was
/// begun: kept across restarts, so a round that crashed the process counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub first: u64,
    pub last: u64,
    pub attempts: u32,
    #[serde(default)]
    pub error: Option<String>,
}

/// Quarantine values: the u32 length of the [`Parked`] JSON, that JSON, then the
/// inbox value exactly as it was stored, so that a retry appends it unchanged.
fn encode(parked: &Parked, inbox_value: &[u8]) -> Result<Vec<u8>, StoreError> {
    let meta = serde_json::to_vec(parked)?;
    let mut out = Vec::with_capacity(4 + meta.len() + inbox_value.len());
    out.extend_from_slice(&(meta.len() as u32).to_be_bytes());
    out.extend_from_slice(&meta);
    out.extend_from_slice(inbox_value);
    Ok(out)
}

fn decode(bytes: &[u8]) -> Option<(Parked, &[u8])> {
    let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let parked = serde_json::from_slice(bytes.get(4..4 + len)?).ok()?;
    Some((parked, bytes.get(4 + len..)?))
}

fn corrupt(id: u64) -> StoreError {
    StoreError::Corrupt {
        tree: "quarantine",
        key: id.to_string(),
    }
}

impl Store {
    /// The round the pipeline last began and did not see through, if it noted one.
    pub fn attempt(&self) -> Result<Option<Attempt>, StoreError> {
        Ok(self
            .inner
            .meta
            .get(ATTEMPT)?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    pub fn note_attempt(&self, attempt: &Attempt) -> Result<(), StoreError> {
        self.inner
            .meta
            .insert(ATTEMPT, serde_json::to_vec(attempt)?)?;
        Ok(())
    }

    /// Parks the delivery right after the cursor: it leaves the inbox for the
    /// quarantine, and the cursor moves past it, in one transaction.
    pub fn park(
        &self,
        seq: u64,
        error: &str,
        attempts: u32,
        now: Millis,
    ) -> Result<(), StoreError> {
        let cursor = self.cursor();
        if seq != cursor + 1 {
            return Err(StoreError::Corrupt {
                tree: "inbox",
                key: format!("{seq} is not the next delivery after {cursor}"),
            });
        }
        let key = u64_key(seq);
        let value = self.inner.inbox.get(key)?.unwrap_or_default();
        let (source, received_at, events) = match self.read_inbox(&value) {
            Some((entry, _)) => (entry.source, entry.received_at, entry.events.len()),
            None => (String::new(), 0, 0),
        };
        let parked = Parked {
            id: seq,
            source,
            received_at,
            parked_at: now,
            attempts,
            error: error.to_string(),
            events,
            bytes: value.len(),
        };
        let record = encode(&parked, &value)?;
        (&self.inner.inbox, &self.inner.quarantine, &self.inner.meta).transaction(
            |(inbox, quarantine, meta)| {
                inbox.remove(&key)?;
                quarantine.insert(&key, record.as_slice())?;
                meta.insert(CURSOR, &key)?;
                meta.remove(ATTEMPT)?;
                Ok::<(), ConflictableTransactionError<StoreError>>(())
            },
        )?;
        self.set_cursor_cached(seq);
        Ok(())
    }

    /// Every parked delivery, oldest first.
    pub fn quarantined(&self) -> Result<Vec<Parked>, StoreError> {
        let mut out = Vec::new();
        for item in self.inner.quarantine.iter() {
            let (key, value) = item?;
            let id = read_u64(&key).unwrap_or_default();
            out.push(decode(&value).ok_or_else(|| corrupt(id))?.0);
        }
        Ok(out)
    }

    /// When the delivery longest in the quarantine was parked.
    pub fn oldest_parked_at(&self) -> Result<Option<Millis>, StoreError> {
        Ok(match self.inner.quarantine.first()? {
            Some((_, value)) => decode(&value).map(|(parked, _)| parked.parked_at),
            None => None,
        })
    }

    /// How many deliveries wait in the quarantine.
    /// The inbox values parked deliveries keep, as they were stored.
    pub(super) fn quarantined_inbox_values(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut values = Vec::new();
        for item in self.inner.quarantine.iter() {
            let (_, bytes) = item?;
            if let Some((_, value)) = decode(&bytes) {
                values.push(value.to_vec());
            }
        }
        Ok(values)
    }

    pub fn quarantined_count(&self) -> usize {
        self.inner.quarantine.len()
    }

    /// Puts a parked delivery back at the end of the inbox, unchanged, under a new
    /// sequence number; returns it, `None` when nothing is parked under `id`. The
    /// caller makes it durable (a flush, or the group commit) before the pipeline
    /// can see it.
    pub fn retry_quarantined(&self, id: u64) -> Result<Option<u64>, StoreError> {
        let key = u64_key(id);
        let Some(bytes) = self.inner.quarantine.get(key)? else {
            return Ok(None);
        };
        let (_, value) = decode(&bytes).ok_or_else(|| corrupt(id))?;
        let _guard = self
            .inner
            .append_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let seq = self.inner.last_seq.load(Ordering::SeqCst) + 1;
        let result =
            (&self.inner.inbox, &self.inner.quarantine).transaction(|(inbox, quarantine)| {
                if quarantine.remove(&key)?.is_none() {
                    return Err(ConflictableTransactionError::Abort(()));
                }
                inbox.insert(&u64_key(seq), value)?;
                Ok(())
            });
        match result {
            Ok(()) => {
                self.inner.last_seq.store(seq, Ordering::SeqCst);
                Ok(Some(seq))
            }
            // Dropped or retried by someone else meanwhile.
            Err(TransactionError::Abort(())) => Ok(None),
            Err(TransactionError::Storage(error)) => Err(error.into()),
        }
    }

    /// Forgets a parked delivery; whether there was one.
    pub fn drop_quarantined(&self, id: u64) -> Result<bool, StoreError> {
        Ok(self.inner.quarantine.remove(u64_key(id))?.is_some())
    }

    /// Makes a retried delivery visible to the pipeline once it is on disk, when no
    /// group commit runs (the daemon is stopped).
    pub fn flush_appended(&self) -> Result<(), StoreError> {
        self.flush()?;
        self.mark_durable(self.last_seq());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::{decode_inbox, encode_inbox};
    use crate::store::InboxEntry;

    #[test]
    fn a_parked_delivery_leaves_the_inbox_with_the_cursor_past_it_and_comes_back_on_retry() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_when_free(&dir.path().join("data")).unwrap();
        let entry = InboxEntry {
            source: "site".into(),
            received_at: 7,
            events: Vec::new(),
        };
        for seq in 1..=2 {
            let value = encode_inbox(&entry, b"raw body").unwrap();
            store.inner.inbox.insert(u64_key(seq), value).unwrap();
        }
        store.inner.last_seq.store(2, Ordering::SeqCst);
        store.flush_appended().unwrap();
        assert!(store.park(2, "boom", 5, 100).is_err(), "only the next one");
        store.park(1, "boom", 5, 100).unwrap();
        assert_eq!(store.cursor(), 1);
        assert!(store.inner.inbox.get(u64_key(1)).unwrap().is_none());
        let parked = store.quarantined().unwrap();
        assert_eq!(parked.len(), 1);
        assert_eq!(
            (parked[0].id, parked[0].error.as_str(), parked[0].attempts),
            (1, "boom", 5)
        );
        let again = store.retry_quarantined(1).unwrap().unwrap();
        assert_eq!(again, 3);
        let (read, body) = decode_inbox(&store.inner.inbox.get(u64_key(3)).unwrap().unwrap())
            .map(|(e, b)| (e, b.to_vec()))
            .unwrap();
        assert_eq!(
            (read.source.as_str(), body.as_slice()),
            ("site", &b"raw body"[..])
        );
        assert_eq!(store.quarantined_count(), 0);
        assert_eq!(store.retry_quarantined(1).unwrap(), None);
        assert!(!store.drop_quarantined(1).unwrap());
    }
}
