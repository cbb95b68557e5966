//! Retention: what the store forgets with time, a bounded chunk at a time so that
//! pruning never holds the pipeline up for long.
//!
//! - `seen` (dedupe ids): each id is also listed in `seen_times` under the time its
//!   delivery was received, so the oldest are one range. An id is forgotten once it
//!   is older than the retention; a copy of its delivery arriving later would be
//!   applied again, so the retention must outlast every platform's retry window.
//!   Ids kept by a version without `seen_times` are listed under the time the
//!   upgraded daemon first met them, and forgotten one retention after that.
//! - `inbox`: applied deliveries and their raw bodies, after their own retention.
//!
//! sled frees the pages of removed keys and its segment cleaner rewrites half-empty
//! segments into new ones, so the space pruned is used again: the files stop
//! growing rather than shrink.

use super::keys::{read_u64, u64_key};
use super::{Store, StoreError};
use crate::model::Millis;

/// Where the listing of ids kept by an earlier version has reached.
const SEEN_LISTED_AFTER: &[u8] = b"seen_listed_after";
/// Set once every id kept by an earlier version is listed in `seen_times`.
const SEEN_LISTED: &[u8] = b"seen_listed";

/// `seen_times` keys: the received time (milliseconds, big-endian, times before 1970
/// as 0), then the `seen` key.
pub fn seen_time_key(at: Millis, seen_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + seen_key.len());
    key.extend_from_slice(&u64_key(at.max(0) as u64));
    key.extend_from_slice(seen_key);
    key
}

/// What one pass of pruning did, and whether more is waiting.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub seen: usize,
    pub inbox: usize,
    pub listed: usize,
    /// A chunk was full: call again soon.
    pub more: bool,
}

impl Store {
    /// One bounded pass: at most `chunk` dedupe ids received before
    /// `seen_before`, at most `chunk` applied deliveries received before
    /// `inbox_before`, and at most `chunk` ids of an earlier version listed.
    pub fn prune(
        &self,
        seen_before: Millis,
        inbox_before: Millis,
        now: Millis,
        chunk: usize,
    ) -> Result<Pruned, StoreError> {
        let listed = self.list_earlier_seen(now, chunk)?;
        let seen = self.prune_seen(seen_before, chunk)?;
        let inbox = self.prune_applied_inbox(inbox_before, chunk)?;
        Ok(Pruned {
            seen,
            inbox,
            listed,
            more: seen == chunk || inbox == chunk || listed == chunk,
        })
    }

    fn prune_seen(&self, before: Millis, chunk: usize) -> Result<usize, StoreError> {
        let end = u64_key(before.max(0) as u64);
        let mut seen = sled::Batch::default();
        let mut times = sled::Batch::default();
        let mut count = 0;
        for item in self.inner.seen_times.range(..end.as_slice()).take(chunk) {
            let (key, _) = item?;
            seen.remove(&key[8..]);
            times.remove(key);
            count += 1;
        }
        // The id first: a crash in between leaves a time entry that the next pass
        // removes, never an id that no pass would find.
        self.inner.seen.apply_batch(seen)?;
        self.inner.seen_times.apply_batch(times)?;
        Ok(count)
    }

    /// Drops applied deliveries received before `before`, oldest first.
    fn prune_applied_inbox(&self, before: Millis, chunk: usize) -> Result<usize, StoreError> {
        let mut batch = sled::Batch::default();
        let mut count = 0;
        for item in self
            .inner
            .inbox
            .range(..=u64_key(self.cursor()))
            .take(chunk)
        {
            let (key, value) = item?;
            match self.read_inbox(&value) {
                Some((entry, _)) if entry.received_at >= before => break,
                // An unreadable entry has no time; it was applied, it goes.
                _ => batch.remove(key),
            }
            count += 1;
        }
        self.inner.inbox.apply_batch(batch)?;
        Ok(count)
    }

    /// Lists in `seen_times`, under `now`, ids an earlier version kept without a
    /// time; a chunk per call until all are.
    fn list_earlier_seen(&self, now: Millis, chunk: usize) -> Result<usize, StoreError> {
        let meta = &self.inner.meta;
        if meta.contains_key(SEEN_LISTED)? {
            return Ok(0);
        }
        let after = meta.get(SEEN_LISTED_AFTER)?;
        let range = match &after {
            Some(after) => self.inner.seen.range::<&[u8], _>((
                std::ops::Bound::Excluded(after.as_ref()),
                std::ops::Bound::Unbounded,
            )),
            None => self.inner.seen.iter(),
        };
        let mut times = sled::Batch::default();
        let mut last = None;
        let mut count = 0;
        for item in range.take(chunk) {
            let (key, _) = item?;
            times.insert(seen_time_key(now, &key), &[]);
            last = Some(key);
            count += 1;
        }
        self.inner.seen_times.apply_batch(times)?;
        match last {
            Some(last) if count == chunk => {
                meta.insert(SEEN_LISTED_AFTER, last)?;
            }
            _ => {
                meta.insert(SEEN_LISTED, &[])?;
                meta.remove(SEEN_LISTED_AFTER)?;
            }
        }
        Ok(count)
    }

    /// When the oldest item each pruned tree keeps was received (parked, for the
    /// quarantine): `inbox`, `seen`, `quarantine`.
    pub fn oldest_retained(&self) -> Result<Vec<(&'static str, Option<Millis>)>, StoreError> {
        let inbox = match self.inner.inbox.first()? {
            Some((_, value)) => self.read_inbox(&value).map(|(entry, _)| entry.received_at),
            None => None,
        };
        let seen = self
            .inner
            .seen_times
            .first()?
            .and_then(|(key, _)| read_u64(&key))
            .map(|at| at as Millis);
        let parked = self.oldest_parked_at()?;
        Ok(vec![
            ("inbox", inbox),
            ("seen", seen),
            ("quarantine", parked),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys::seen_key;

    #[test]
    fn ids_are_forgotten_oldest_first_a_chunk_at_a_time_and_earlier_ones_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_when_free(&dir.path().join("data")).unwrap();
        // Kept by an earlier version: in `seen` without a time.
        store
            .inner
            .seen
            .insert(seen_key("site", "old"), &u64_key(1))
            .unwrap();
        for (id, at) in [("a", 1_000), ("b", 2_000), ("c", 3_000)] {
            store
                .inner
                .seen
                .insert(seen_key("site", id), &u64_key(2))
                .unwrap();
            store
                .inner
                .seen_times
                .insert(seen_time_key(at, &seen_key("site", id)), &[])
                .unwrap();
        }
        let first = store.prune(2_500, 0, 10_000, 1).unwrap();
        assert_eq!((first.listed, first.seen, first.more), (1, 1, true));
        assert!(!store
            .inner
            .seen
            .contains_key(seen_key("site", "a"))
            .unwrap());
        assert!(store
            .inner
            .seen
            .contains_key(seen_key("site", "b"))
            .unwrap());
        let mut passes = 0;
        while store.prune(2_500, 0, 10_000, 1).unwrap().more {
            passes += 1;
            assert!(passes < 10);
        }
        assert!(!store
            .inner
            .seen
            .contains_key(seen_key("site", "b"))
            .unwrap());
        assert!(store
            .inner
            .seen
            .contains_key(seen_key("site", "c"))
            .unwrap());
        // The earlier version's id was listed under the upgrade's time.
        assert!(store
            .inner
            .seen
            .contains_key(seen_key("site", "old"))
            .unwrap());
        assert_eq!(store.oldest_retained().unwrap()[1], ("seen", Some(3_000)));
        store.prune(10_001, 0, 10_000, 100).unwrap();
        assert_eq!(store.inner.seen.len(), 0);
        assert_eq!(store.inner.seen_times.len(), 0);
    }
}
