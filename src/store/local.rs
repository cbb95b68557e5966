//! Deliveries made on this machine (an import) with the daemon stopped: appended
//! to the inbox and flushed at once, since no group commit runs, then applied by
//! the pipeline like any other.

use super::keys::{legacy_seen_key, seen_key};
use super::records::encode_inbox;
use super::{Appended, InboxEntry, Store, StoreError};
use crate::model::Millis;
use crate::sources::Accepted;

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
            let seen = &self.inner.seen;
            if !seen.contains_key(seen_key(source, &event.provider_id))?
                && !seen.contains_key(legacy_seen_key(source, &event.provider_id))?
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
        let seq = self.insert_inbox(&value)?;
        self.flush()?;
        self.mark_durable(seq);
        Ok((Appended::Stored(seq), new))
    }
}
