//! The sled store: trees, typed records, the durable inbox with group commit.
//!
//! Trees: `inbox` (seq → delivery), `seen` (source/event id → seq), `contacts`,
//! `identities` (identity key → contact), `touches` (contact/time/id → touch),
//! `outcomes` (contact or account/time/id → outcome),
//! `outbox` (sink/contact → latest fields), `dead_letters`, `erased`, `meta` (cursor).

mod commit;
mod outbox;
pub mod records;

pub use commit::GroupCommit;
pub use outbox::Pending;
pub use records::{
    Account, AccountVisible, Contact, DeadLetter, InboxEntry, OutboxEntry, ProfileField,
    StageChange, StoredOutcome, StoredTouch,
};

use crate::model::{ContactKey, Identity, Millis};
use crate::sources::Accepted;
use records::{decode_inbox, encode_inbox, read_u64, seen_key, u64_key};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

const CURSOR: &[u8] = b"cursor";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store is locked by another attentiond process (is the daemon running?): {0}")]
    Locked(String),
    #[error("store: cannot encode a record: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("store: cannot encode a contact record: {0}")]
    EncodeContact(#[from] postcard::Error),
    #[error("store: corrupt record in `{tree}` at key {key}")]
    Corrupt { tree: &'static str, key: String },
    #[error("store: the write could not be made durable: {0}")]
    NotDurable(String),
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(error: sled::transaction::TransactionError<StoreError>) -> Self {
        match error {
            sled::transaction::TransactionError::Abort(inner) => inner,
            sled::transaction::TransactionError::Storage(inner) => StoreError::Sled(inner),
        }
    }
}

/// What happened to a delivery at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Written to the inbox under this sequence number, and flushed.
    Stored(u64),
    /// Every event in it was already processed: nothing written.
    Duplicate,
    /// It carried nothing we use (e.g. a `contact.creation`): nothing written.
    Empty,
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub db: sled::Db,
    pub inbox: sled::Tree,
    pub seen: sled::Tree,
    pub contacts: sled::Tree,
    pub identities: sled::Tree,
    pub touches: sled::Tree,
    pub outcomes: sled::Tree,
    pub outbox: sled::Tree,
    pub dead_letters: sled::Tree,
    pub erased: sled::Tree,
    pub meta: sled::Tree,
    /// Account key → [`Account`]: members and what was last pushed.
    pub accounts: sled::Tree,
    /// Serializes sequence allocation with the insert, so the inbox never has a hole
    /// below a sequence number the pipeline has seen.
    append_lock: Mutex<()>,
    last_seq: AtomicU64,
    /// Highest sequence number known to be on disk; the pipeline reads up to it.
    durable_seq: AtomicU64,
    durable_changed: (Mutex<()>, Condvar),
    cursor: AtomicU64,
    /// Set once a flush fails. sled refuses every write after an I/O error until the
    /// database is opened again, so the daemon watches this and exits to be restarted.
    failure: tokio::sync::watch::Sender<Option<String>>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(path, 512)
    }

    /// Opens with a cache of at most `cache_mb` MiB (`store.cache_mb`).
    pub fn open_with_cache(path: &Path, cache_mb: u64) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_mb.max(16) * 1024 * 1024)
            // Durability comes from explicit group-commit flushes; the background
            // flush only bounds how much non-acknowledged state a crash can drop.
            .flush_every_ms(Some(1000))
            .open()
            .map_err(|error| match error {
                sled::Error::Io(ref io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("lock") =>
                {
                    StoreError::Locked(format!("{}: {io}", path.display()))
                }
                other => StoreError::Sled(other),
            })?;
        let tree = |name: &str| db.open_tree(name);
        let inner = Inner {
            inbox: tree("inbox")?,
            seen: tree("seen")?,
            contacts: tree("contacts")?,
            identities: tree("identities")?,
            touches: tree("touches")?,
            outcomes: tree("outcomes")?,
            outbox: tree("outbox")?,
            dead_letters: tree("dead_letters")?,
            erased: tree("erased")?,
            meta: tree("meta")?,
            accounts: tree("accounts")?,
            db,
            append_lock: Mutex::new(()),
            last_seq: AtomicU64::new(0),
            durable_seq: AtomicU64::new(0),
            durable_changed: (Mutex::new(()), Condvar::new()),
            cursor: AtomicU64::new(0),
            failure: tokio::sync::watch::Sender::new(None),
        };
        let cursor = inner
            .meta
            .get(CURSOR)?
            .and_then(|v| read_u64(&v))
            .unwrap_or(0);
        let last_inbox = inner
            .inbox
            .last()?
            .and_then(|(key, _)| read_u64(&key))
            .unwrap_or(0);
        let last = cursor.max(last_inbox);
        inner.cursor.store(cursor, Ordering::SeqCst);
        inner.last_seq.store(last, Ordering::SeqCst);
        // Everything that survived the restart is on disk.
        inner.durable_seq.store(last, Ordering::SeqCst);
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    pub(crate) fn trees(&self) -> &Inner {
        &self.inner
    }

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
            if !self
                .inner
                .seen
                .contains_key(seen_key(source, &event.provider_id))?
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
        commit.wait_durable().await?;
        Ok(Appended::Stored(seq))
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
            match decode_inbox(&value) {
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

    pub fn flush(&self) -> Result<(), StoreError> {
        if let Err(error) = self.inner.db.flush() {
            let reason = error.to_string();
            let first = self.inner.failure.send_if_modified(|failure| {
                let first = failure.is_none();
                failure.get_or_insert(reason);
                first
            });
            if first {
                tracing::error!(
                    message = "The store cannot write any more; attentiond stops so that its service manager restarts it. Everything acknowledged is on disk.",
                    %error
                );
            }
            return Err(error.into());
        }
        Ok(())
    }

    /// Why the store stopped writing, once a flush has failed.
    pub fn failure(&self) -> Option<String> {
        self.inner.failure.borrow().clone()
    }

    /// Resolves with the reason once a flush fails; never resolves otherwise.
    pub fn failed(&self) -> impl std::future::Future<Output = String> + use<> {
        let mut failure = self.inner.failure.subscribe();
        async move {
            match failure.wait_for(Option::is_some).await {
                Ok(reason) => reason.clone().unwrap_or_default(),
                Err(_) => std::future::pending().await,
            }
        }
    }

    pub fn contact_id_for(&self, identity: &Identity) -> Result<Option<u64>, StoreError> {
        Ok(self
            .inner
            .identities
            .get(identity.key().as_bytes())?
            .and_then(|v| read_u64(&v)))
    }

    pub fn contact(&self, id: u64) -> Result<Option<Contact>, StoreError> {
        match self.inner.contacts.get(u64_key(id))? {
            Some(bytes) => Ok(Some(Contact::from_bytes(&bytes).ok_or_else(|| {
                StoreError::Corrupt {
                    tree: "contacts",
                    key: id.to_string(),
                }
            })?)),
            None => Ok(None),
        }
    }

    /// The contact a user's key names, if known.
    pub fn find_contact(&self, key: &ContactKey) -> Result<Option<Contact>, StoreError> {
        let id = match key {
            ContactKey::Id(id) => *id,
            ContactKey::Identity(identity) => match self.contact_id_for(identity)? {
                Some(id) => id,
                None => return Ok(None),
            },
        };
        self.contact(id)
    }

    /// The buying group kept under an account key.
    pub fn account(&self, key: &str) -> Result<Option<Account>, StoreError> {
        match self.inner.accounts.get(key.as_bytes())? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|_| {
                StoreError::Corrupt {
                    tree: "accounts",
                    key: key.to_string(),
                }
            })?)),
            None => Ok(None),
        }
    }

    pub fn touches_of(&self, contact: u64) -> Result<Vec<StoredTouch>, StoreError> {
        let mut touches = Vec::new();
        for item in self.inner.touches.scan_prefix(u64_key(contact)) {
            let (key, value) = item?;
            touches.push(
                StoredTouch::from_bytes(&value).ok_or_else(|| StoreError::Corrupt {
                    tree: "touches",
                    key: format!("{key:?}"),
                })?,
            );
        }
        Ok(touches)
    }

    pub fn outcomes_of(&self, contact: u64) -> Result<Vec<StoredOutcome>, StoreError> {
        self.outcomes_under(&records::contact_outcome_prefix(contact))
    }

    /// Outcomes kept under an account (no contact known).
    pub fn account_outcomes(&self, account: &str) -> Result<Vec<StoredOutcome>, StoreError> {
        self.outcomes_under(&records::account_outcome_prefix(account))
    }

    /// Outcomes kept under an opportunity (neither contact nor account known).
    pub fn opportunity_outcomes(
        &self,
        opportunity: &str,
    ) -> Result<Vec<StoredOutcome>, StoreError> {
        self.outcomes_under(&records::opportunity_outcome_prefix(opportunity))
    }

    fn outcomes_under(&self, prefix: &[u8]) -> Result<Vec<StoredOutcome>, StoreError> {
        let mut outcomes = Vec::new();
        for item in self.inner.outcomes.scan_prefix(prefix) {
            let (key, value) = item?;
            outcomes.push(
                serde_json::from_slice(&value).map_err(|_| StoreError::Corrupt {
                    tree: "outcomes",
                    key: format!("{key:?}"),
                })?,
            );
        }
        Ok(outcomes)
    }

    pub fn is_erased(&self, identity: &Identity) -> Result<bool, StoreError> {
        Ok(self
            .inner
            .erased
            .contains_key(records::erased_key(identity))?)
    }

    /// Bytes the store's files take, for the operator's disk alert.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.size_on_disk()?)
    }

    pub fn generate_id(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.generate_id()?)
    }
}
