//! What waits in the outbox for one contact, sink by sink: the console shows what
//! each CRM is about to receive, and why it has not yet.

use super::keys::outbox_key;
use super::{OutboxEntry, Store, StoreError};

impl Store {
    /// The entry waiting for `sink` about the contact, if any.
    pub fn pending_for_contact(
        &self,
        sink: &str,
        contact: u64,
    ) -> Result<Option<OutboxEntry>, StoreError> {
        let key = outbox_key(sink, contact);
        let stored = self.inner.outbox.get(&key)?;
        match stored.as_deref().and_then(|bytes| self.unseal(bytes)) {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|_| {
                StoreError::Corrupt {
                    tree: "outbox",
                    key: format!("{key:?}"),
                }
            })?)),
            None => Ok(None),
        }
    }

    /// The first delivery not yet applied: its time tells how far the pipeline lags.
    pub fn oldest_unapplied(&self) -> Result<Option<crate::model::Millis>, StoreError> {
        Ok(self
            .inbox_after(self.cursor(), 1)?
            .first()
            .map(|(_, entry)| entry.received_at))
    }
}
