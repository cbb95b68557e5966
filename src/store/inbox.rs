//! The inbox: verified deliveries appended under sequence numbers and made durable
//! by the group commit; the pipeline reads them in order up to the durable
//! watermark, and applied ones are pruned after the retention.

/// Deliveries sealed under one inbox key.
const INBOX_SPAN: u64 = 1024;

use super::keys::{legacy_seen_key, read_u64, seen_key, u64_key};
use super::records::{decode_inbox, encode_inbox};
use super::vault::INBOX_KEYS;
use super::{Appended, GroupCommit, InboxEntry, InboxKey, Store, StoreError};
use crate::model::Millis;
use crate::sources::Accepted;
use std::sync::atomic::Ordering;

impl Store {
    /// Writes a verified delivery to the inbox and returns once it is on disk.
    pub async fn append(
        &self,
        commit: &GroupCommit,
        source: &str,
        accepted: Accepted,
        body: &[u8],
        now: Millis,
    ) -> Result<Appended, StoreError> {
        let result = self
            .append_durably(commit, source, accepted, body, now)
            .await;
        if let Err(StoreError::Sled(_)) = result {
            // After an I/O error sled refuses every write, and only a flush says so
            // for sure; a store that cannot write tells the daemon to stop.
            let _ = self.flush();
        }
        result
    }

    async fn append_durably(
        &self,
        commit: &GroupCommit,
        source: &str,
        accepted: Accepted,
        body: &[u8],
        now: Millis,
    ) -> Result<Appended, StoreError> {
        let events = accepted.into_events();
        if events.is_empty() {
            return Ok(Appended::Empty);
        }
        let mut already_seen = true;
        for event in &events {
            let seen = &self.inner.seen;
            if !seen.contains_key(seen_key(source, &event.provider_id))?
                && !seen.contains_key(legacy_seen_key(source, &event.provider_id))?
            {
                already_seen = false;
                break;
            }
        }
        if already_seen {
            // Its first copy may have been applied but not yet flushed: answer only
            // once a flush has covered it, like any other acknowledgement.
            commit.wait_durable().await?;
            return Ok(Appended::Duplicate);
        }
        let value = encode_inbox(
            &InboxEntry {
                source: source.to_string(),
                received_at: now,
                events,
            },
            body,
        )?;
        let seq = self.insert_inbox(&value)?;
        commit.wait_durable().await?;
        Ok(Appended::Stored(seq))
    }

    /// Seals an encoded delivery under the inbox's current key and writes it under
    /// the next sequence number.
    pub(super) fn insert_inbox(&self, plain: &[u8]) -> Result<u64, StoreError> {
        let mut key = self
            .inner
            .append_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let id = self.inbox_key(&mut key)?;
        let value = self.inner.vault.seal(id, plain)?;
        let seq = self.inner.last_seq.load(Ordering::SeqCst) + 1;
        self.inner.inbox.insert(u64_key(seq), value)?;
        self.inner.last_seq.store(seq, Ordering::SeqCst);
        Ok(seq)
    }

    /// The key new deliveries are sealed under: a span of the inbox shares one, so
    /// that forgetting a person re-seals one span rather than the whole inbox.
    fn inbox_key(&self, current: &mut InboxKey) -> Result<u64, StoreError> {
        if current.id == 0 || current.used >= INBOX_SPAN || !self.inner.vault.has(current.id) {
            current.id = self.new_inbox_key()?;
            current.used = 0;
        }
        current.used += 1;
        Ok(current.id)
    }

    /// A key never used before for the inbox, on disk before anything is sealed
    /// under it.
    pub(super) fn new_inbox_key(&self) -> Result<u64, StoreError> {
        let next = self
            .inner
            .vault
            .ids()
            .into_iter()
            .filter(|id| *id >= INBOX_KEYS)
            .max()
            .map_or(INBOX_KEYS, |id| id + 1)
            .max(self.inner.next_inbox_key.load(Ordering::SeqCst));
        self.inner.next_inbox_key.store(next + 1, Ordering::SeqCst);
        self.inner.vault.ensure(next)?;
        self.inner.vault.sync()?;
        Ok(next)
    }

    /// An inbox value as the entry and the raw body; `None` if unreadable (or its
    /// key was destroyed).
    pub(super) fn read_inbox(&self, value: &[u8]) -> Option<(InboxEntry, Vec<u8>)> {
        let plain = self.inner.vault.unseal(value)?;
        let (entry, body) = decode_inbox(&plain)?;
        Some((entry, body.to_vec()))
    }

    pub fn last_seq(&self) -> u64 {
        self.inner.last_seq.load(Ordering::SeqCst)
    }

    pub fn cursor(&self) -> u64 {
        self.inner.cursor.load(Ordering::SeqCst)
    }

    pub(crate) fn set_cursor_cached(&self, seq: u64) {
        self.inner.cursor.store(seq, Ordering::SeqCst);
    }

    pub fn inbox_pending(&self) -> u64 {
        self.last_seq().saturating_sub(self.cursor())
    }

    pub fn durable_seq(&self) -> u64 {
        self.inner.durable_seq.load(Ordering::SeqCst)
    }

    /// Called by the group commit after a flush that covered `seq`.
    pub(crate) fn mark_durable(&self, seq: u64) {
        self.inner.durable_seq.fetch_max(seq, Ordering::SeqCst);
        let (lock, condvar) = &self.inner.durable_changed;
        let _guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        condvar.notify_all();
    }

    /// Blocks the calling (pipeline) thread until more is durable or `timeout` passes.
    pub fn wait_for_durable_beyond(&self, seq: u64, timeout: std::time::Duration) {
        let (lock, condvar) = &self.inner.durable_changed;
        let guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.durable_seq() > seq {
            return;
        }
        let _ = condvar.wait_timeout(guard, timeout);
    }

    pub(crate) fn wake_pipeline(&self) {
        let (lock, condvar) = &self.inner.durable_changed;
        let _guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        condvar.notify_all();
    }

    /// The durable inbox entries after `after`, oldest first, at most `limit`.
    pub fn inbox_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, InboxEntry)>, StoreError> {
        let upto = self.durable_seq();
        let mut out = Vec::new();
        if upto <= after {
            return Ok(out);
        }
        for item in self
            .inner
            .inbox
            .range(u64_key(after + 1)..=u64_key(upto))
            .take(limit)
        {
            let (key, value) = item?;
            let seq = read_u64(&key).ok_or(StoreError::Corrupt {
                tree: "inbox",
                key: format!("{key:?}"),
            })?;
            match self.read_inbox(&value) {
                Some((entry, _body)) => out.push((seq, entry)),
                None => {
                    // A record we cannot read must not stall the pipeline forever;
                    // it is skipped loudly and pruned with the others later.
                    tracing::error!(message = "Unreadable inbox entry skipped.", seq);
                    out.push((
                        seq,
                        InboxEntry {
                            source: String::new(),
                            received_at: 0,
                            events: Vec::new(),
                        },
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The next durable deliveries after `after`, oldest first: at most `deliveries`
    /// of them, stopping before the one that would take the round past `events`
    /// events or `bytes` stored bytes. The first is always taken, however large: the
    /// pipeline applies a delivery larger than a round in parts. A first entry that
    /// cannot be read is an error, so that the pipeline counts it as a failed attempt
    /// and, after enough of them, parks it instead of skipping it unseen.
    pub fn inbox_round(
        &self,
        after: u64,
        deliveries: usize,
        events: usize,
        bytes: usize,
    ) -> Result<Vec<(u64, InboxEntry)>, StoreError> {
        let upto = self.durable_seq();
        let mut out: Vec<(u64, InboxEntry)> = Vec::new();
        if upto <= after {
            return Ok(out);
        }
        let (mut held_events, mut held_bytes) = (0usize, 0usize);
        for item in self.inner.inbox.range(u64_key(after + 1)..=u64_key(upto)) {
            let (key, value) = item?;
            let corrupt = || StoreError::Corrupt {
                tree: "inbox",
                key: format!("{key:?}"),
            };
            let seq = read_u64(&key).ok_or_else(corrupt)?;
            let Some((entry, _body)) = self.read_inbox(&value) else {
                if out.is_empty() {
                    return Err(corrupt());
                }
                break;
            };
            let full = held_events + entry.events.len() > events
                || held_bytes + value.len() > bytes
                || out.len() >= deliveries;
            if full && !out.is_empty() {
                break;
            }
            held_events += entry.events.len();
            held_bytes += value.len();
            out.push((seq, entry));
        }
        Ok(out)
    }

    /// When the oldest delivery not yet applied was received: how far the pipeline
    /// lags.
    pub fn oldest_pending_at(&self) -> Result<Option<Millis>, StoreError> {
        let Some((_, value)) = self.inner.inbox.get_gt(u64_key(self.cursor()))? else {
            return Ok(None);
        };
        Ok(self.read_inbox(&value).map(|(entry, _)| entry.received_at))
    }
}
