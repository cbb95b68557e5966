//! Deliveries made on this machine (an import) with the daemon stopped: appended
//! to the inbox and flushed at once, since no group commit runs, then applied by
//! the pipeline like any other.

use super::keys::{seen_key, u64_key};
use super::records::encode_inbox;
use super::{Appended, InboxEntry, Store, StoreError};
use crate::model::Millis;
use crate::sources::Accepted;
use std::sync::atomic::Ordering;

impl Store {
    /// Appends the events of a delivery that were not applied before, and makes them
    /// durable before returning; with how many were new.
    pub fn append_local(
        &self,
        source: &str,
        accepted: Accepted,
        body: &[u8],
        now: Millis,
    ) -> Result<(Appended, usize), StoreError> {
        let events = accepted.into_events();
        if events.is_empty() {
            return Ok((Appended::Empty, 0));
        }
        let mut unseen = Vec::with_capacity(events.len());
        for event in events {
            if !self
                .inner
                .seen
                .contains_key(seen_key(source, &event.provider_id))?
            {
                unseen.push(event);
            }
        }
        if unseen.is_empty() {
            return Ok((Appended::Duplicate, 0));
        }
        let new = unseen.len();
        let value = encode_inbox(
            &InboxEntry {
                source: source.to_string(),
                received_at: now,
                events: unseen,
            },
            body,
        )?;
        let seq = {
            let _guard = self
                .inner
                .append_lock
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let seq = self.inner.last_seq.load(Ordering::SeqCst) + 1;
            self.inner.inbox.insert(u64_key(seq), value)?;
            self.inner.last_seq.store(seq, Ordering::SeqCst);
            seq
        };
        self.flush()?;
        self.mark_durable(seq);
        Ok((Appended::Stored(seq), new))
    }
}
