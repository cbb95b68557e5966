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
//! - `touches`: each contact's touches sit in time order under the contact's id, so
//!   a sweep seeks from contact to contact and drops the front of each log older
//!   than the retention; where it has reached is kept in `meta`, and it starts over
//!   at the first contact once past the last.
//!
//! sled frees the pages of removed keys and its segment cleaner rewrites half-empty
//! segments into new ones, so the space pruned is used again: the files stop
//! growing rather than shrink.

use super::keys::{read_u64, touch_key, u64_key};
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

/// Where the sweep of the touch log has reached: the next contact id to look at.
const TOUCHES_SWEPT_TO: &[u8] = b"touches_swept_to";

/// What one pass of pruning lets go: items from before these times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizons {
    /// Dedupe ids received before this.
    pub seen_before: Millis,
    /// Applied deliveries received before this.
    pub inbox_before: Millis,
    /// Touches that occurred before this; `None` keeps every touch.
    pub touches_before: Option<Millis>,
    pub now: Millis,
}

/// What one pass of pruning did, and whether more is waiting.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub seen: usize,
    pub inbox: usize,
    pub listed: usize,
    pub touches: usize,
    /// A chunk was full: call again soon.
    pub more: bool,
}

impl Store {
    /// One bounded pass: at most `chunk` dedupe ids, applied deliveries and ids of
    /// an earlier version to list, and the touch logs of at most `chunk` contacts.
    pub fn prune(&self, horizons: &Horizons, chunk: usize) -> Result<Pruned, StoreError> {
        let listed = self.list_earlier_seen(horizons.now, chunk)?;
        let seen = self.prune_seen(horizons.seen_before, chunk)?;
        let inbox = self.prune_applied_inbox(horizons.inbox_before, chunk)?;
        let touches = match horizons.touches_before {
            Some(before) => self.prune_touches(before, chunk)?,
            None => 0,
        };
        Ok(Pruned {
            seen,
            inbox,
            listed,
            touches,
            // A sweep that dropped nothing has nothing urgent left: it goes on at
            // the pace of the passes.
            more: seen == chunk || inbox == chunk || listed == chunk || touches >= chunk,
        })
    }

    /// Drops touches that occurred before `before` from the logs of the next
    /// contacts of the sweep, at most `chunk` touches and `chunk` contacts; the
    /// touches dropped.
    fn prune_touches(&self, before: Millis, chunk: usize) -> Result<usize, StoreError> {
        let touches = &self.inner.touches;
        let mut next = self
            .inner
            .meta
            .get(TOUCHES_SWEPT_TO)?
            .and_then(|value| read_u64(&value))
            .unwrap_or(0);
        let mut batch = sled::Batch::default();
        let (mut dropped, mut visited) = (0, 0);
        while visited < chunk && dropped < chunk {
            let Some(key) = touches.range(u64_key(next)..).keys().next().transpose()? else {
                // Past the last contact: the next pass starts over.
                next = 0;
                break;
            };
            let Some(contact) = read_u64(&key) else {
                break;
            };
            visited += 1;
            let end = touch_key(contact, before, &[0; 8]);
            let mut whole = true;
            for old in touches
                .range(u64_key(contact).to_vec()..end.to_vec())
                .keys()
            {
                if dropped == chunk {
                    whole = false;
                    break;
                }
                batch.remove(old?);
                dropped += 1;
            }
            if whole {
                next = contact.saturating_add(1);
                if next == 0 {
                    break;
                }
            } else {
                next = contact;
            }
        }
        touches.apply_batch(batch)?;
        self.inner.meta.insert(TOUCHES_SWEPT_TO, &u64_key(next))?;
        Ok(dropped)
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

    fn seen_only(seen_before: Millis, now: Millis) -> Horizons {
        Horizons {
            seen_before,
            inbox_before: 0,
            touches_before: None,
            now,
        }
    }

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
        let first = store.prune(&seen_only(2_500, 10_000), 1).unwrap();
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
        while store.prune(&seen_only(2_500, 10_000), 1).unwrap().more {
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
        store.prune(&seen_only(10_001, 10_000), 100).unwrap();
        assert_eq!(store.inner.seen.len(), 0);
        assert_eq!(store.inner.seen_times.len(), 0);
    }

    #[test]
    fn touches_leave_each_log_oldest_first_as_the_sweep_goes_round_the_contacts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_when_free(&dir.path().join("data")).unwrap();
        // Five contacts, each with touches at 1..=4 seconds; and a touch before 1970.
        for contact in 1..=5u64 {
            for second in 1..=4i64 {
                let key = touch_key(contact, second * 1_000, &[second as u8; 8]);
                store.inner.touches.insert(key, &[1]).unwrap();
            }
        }
        store
            .inner
            .touches
            .insert(touch_key(3, -5_000, &[9; 8]), &[1])
            .unwrap();
        let horizons = Horizons {
            seen_before: 0,
            inbox_before: 0,
            touches_before: Some(2_500),
            now: 10_000,
        };
        let times = |contact: u64| -> Vec<i64> {
            store
                .inner
                .touches
                .scan_prefix(u64_key(contact))
                .keys()
                .map(|key| {
                    let key = key.unwrap();
                    (read_u64(&key[8..16]).unwrap() ^ (1 << 63)) as i64
                })
                .collect()
        };
        // A chunk of three: the first contact whole (two dropped), then one of the
        // second's; the sweep stays on the second.
        let first = store.prune(&horizons, 3).unwrap();
        assert_eq!((first.touches, first.more), (3, true));
        assert_eq!(times(1), [3_000, 4_000]);
        assert_eq!(times(2), [2_000, 3_000, 4_000]);
        assert_eq!(times(4), [1_000, 2_000, 3_000, 4_000]);
        let mut passes = 0;
        while store.prune(&horizons, 3).unwrap().touches > 0 {
            passes += 1;
            assert!(passes < 10, "the sweep goes round and stops dropping");
        }
        for contact in 1..=5 {
            assert_eq!(times(contact), [3_000, 4_000], "contact {contact}");
        }
        // Past the last contact it starts over: a later horizon reaches the first.
        let later = Horizons {
            touches_before: Some(3_500),
            ..horizons
        };
        let mut dropped = 0;
        for _ in 0..10 {
            dropped += store.prune(&later, 3).unwrap().touches;
        }
        assert_eq!(dropped, 5);
        for contact in 1..=5 {
            assert_eq!(times(contact), [4_000], "contact {contact}");
        }
        // No horizon, no sweep.
        let keep = Horizons {
            touches_before: None,
            ..later
        };
        assert_eq!(store.prune(&keep, 3).unwrap().touches, 0);
        assert_eq!(store.inner.touches.len(), 5);
    }
}
