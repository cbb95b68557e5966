//! The sled store: trees, typed records, the durable inbox with group commit.
//!
//! Trees: `inbox` (seq → delivery), `seen` (source/event id → seq), `seen_times`
//! (received time/seen key, for retention), `contacts`,
//! `identities` (identity key → contact), `touches` (contact/time/id → touch),
//! `outcomes` (contact, account or opportunity/time/id → outcome; opportunity →
//! its record),
//! `outbox` (sink/contact → latest fields), `outbox_sent` (sink/contact → digest of
//! what the sink last wrote), `dead_letters`, `erased`, `meta` (cursor), `quarantine`
//! (deliveries parked after failing).

mod accounts;
mod activity;
mod commit;
pub mod compact;
mod contact_formats;
mod contacts;
mod forget;
mod inbox;
pub mod index;
mod keys;
mod local;
mod opportunities;
mod outbox;
mod overlay;
mod pending;
mod quarantine;
mod records;
mod retention;
mod round;
mod vault;
mod versions;

pub use commit::GroupCommit;
pub use contacts::TouchLog;
pub use forget::{Forget, ForgetNote};
pub use keys::touch_id;
pub use opportunities::{Holder, LinkedPerson, Opportunity};
pub use outbox::Pending;
pub use quarantine::{Attempt, Parked};
pub use records::{
    Account, AccountVisible, Contact, DeadLetter, InboxEntry, OutboxEntry, ProfileField,
    StageChange, StoredOutcome, StoredTouch,
};
pub use retention::{Horizons, Pruned};
pub use round::{OutcomeOwner, Round, TouchKey};
pub use versions::{LearnedScoring, ScoringVersion};

use crate::model::Identity;
use keys::read_u64;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

const CURSOR: &[u8] = b"cursor";
const SCORING_VERSION: &[u8] = b"scoring_version";
/// The next contact id to give, committed in the round that gives one, so that an
/// id is never given twice and a restart continues where the last round stopped.
const NEXT_CONTACT_ID: &[u8] = b"next_contact_id";

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
    #[error("store: {0}")]
    Vault(#[from] vault::VaultError),
    #[error("store: {0}")]
    Io(#[from] std::io::Error),
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

/// The inbox key deliveries are being sealed under, and how many so far.
#[derive(Debug, Default)]
struct InboxKey {
    id: u64,
    used: u64,
}

/// sled's cache budget (`store.cache_mb`). sled counts the pages it caches at their
/// size on disk, and holds several times that in memory: at 1,000,000 people, 64 MiB
/// kept 1,121 B a person resident and 24 MiB 972 B, with the same load time and new
/// contacts applied as fast (`cargo bench --bench pipeline`, footprint and sustained;
/// docs/operations.md, Memory).
pub const DEFAULT_CACHE_MB: u64 = 24;

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    inbox: sled::Tree,
    seen: sled::Tree,
    /// Received time, `seen` key → nothing: the dedupe ids oldest first, for
    /// pruning (`retention.rs`).
    seen_times: sled::Tree,
    contacts: sled::Tree,
    identities: sled::Tree,
    touches: sled::Tree,
    outcomes: sled::Tree,
    outbox: sled::Tree,
    dead_letters: sled::Tree,
    erased: sled::Tree,
    meta: sled::Tree,
    /// Account key → [`Account`]: members and what was last pushed.
    accounts: sled::Tree,
    /// An outbox entry's turn (see `keys::outbox_turn_key`) → nothing: the order in
    /// which sinks take their entries, oldest first.
    outbox_turns: sled::Tree,
    /// Account key, 0, contact id → that member's part of the account.
    account_members: sled::Tree,
    /// Account key → the member to resume after, for accounts whose line in their
    /// members' reasons changed and has not reached every member yet.
    accounts_relined: sled::Tree,
    /// Email domain → the CRM account its people were seen in, so that a colleague
    /// known only by email joins that buying group rather than one of the domain.
    account_domains: sled::Tree,
    /// Outbox key → digest of what the sink last wrote for that record, so that the
    /// same values are not written again.
    outbox_sent: sled::Tree,
    /// The console's secondary indexes (`index/`), and what they are built with.
    index: sled::Tree,
    index_settings: std::sync::RwLock<index::IndexSettings>,
    /// People indexed so far by a build of the index under way.
    indexed: AtomicU64,
    /// The console's record of deliveries and writes (`activity.rs`).
    activity: sled::Tree,
    /// Deliveries the pipeline could not apply, parked with their error
    /// (`quarantine.rs`).
    quarantine: sled::Tree,
    /// Serializes sequence allocation with the insert, so the inbox never has a hole
    /// below a sequence number the pipeline has seen; holds the key deliveries are
    /// sealed under.
    append_lock: Mutex<InboxKey>,
    next_inbox_key: AtomicU64,
    /// The keys personal data is sealed under, outside sled (`vault.rs`).
    vault: vault::Vault,
    last_seq: AtomicU64,
    /// Highest sequence number known to be on disk; the pipeline reads up to it.
    durable_seq: AtomicU64,
    durable_changed: (Mutex<()>, Condvar),
    cursor: AtomicU64,
    /// How many people there are, -1 until counted (`contacts.rs`).
    people: AtomicI64,
    /// No contact id below this may be given: above every id the store holds at open.
    contact_id_floor: u64,
    /// Set once a flush fails. sled refuses every write after an I/O error until the
    /// database is opened again, so the daemon watches this and exits to be restarted.
    failure: tokio::sync::watch::Sender<Option<String>>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(path, DEFAULT_CACHE_MB)
    }

    /// Opens a store a test has just dropped: sled's flusher thread lets go of the
    /// files up to a flush interval after the last handle is gone.
    #[cfg(test)]
    pub(crate) fn open_when_free(path: &Path) -> Result<Store, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match Store::open(path) {
                Err(StoreError::Locked(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                opened => return opened,
            }
        }
    }

    /// Opens with a cache of at most `cache_mb` MiB (`store.cache_mb`).
    pub fn open_with_cache(path: &Path, cache_mb: u64) -> Result<Store, StoreError> {
        compact::finish_interrupted(path)?;
        // Durability comes from explicit group-commit flushes; the background
        // flush only bounds how much non-acknowledged state a crash can drop.
        let db = open_sled(path, cache_mb, Some(1000))?;
        let vault = vault::Vault::open(path)?;
        let tree = |name: &str| db.open_tree(name);
        let mut inner = Inner {
            inbox: tree("inbox")?,
            seen: tree("seen")?,
            seen_times: tree("seen_times")?,
            contacts: tree("contacts")?,
            identities: tree("identities")?,
            touches: tree("touches")?,
            outcomes: tree("outcomes")?,
            outbox: tree("outbox")?,
            dead_letters: tree("dead_letters")?,
            erased: tree("erased")?,
            meta: tree("meta")?,
            accounts: tree("accounts")?,
            account_members: tree("account_members")?,
            outbox_turns: tree("outbox_turns")?,
            accounts_relined: tree("accounts_relined")?,
            account_domains: tree("account_domains")?,
            outbox_sent: tree("outbox_sent")?,
            index: tree("index")?,
            activity: tree("activity")?,
            quarantine: tree("quarantine")?,
            index_settings: std::sync::RwLock::new(index::IndexSettings::default()),
            indexed: AtomicU64::new(0),
            db,
            append_lock: Mutex::new(InboxKey::default()),
            next_inbox_key: AtomicU64::new(0),
            vault,
            last_seq: AtomicU64::new(0),
            durable_seq: AtomicU64::new(0),
            durable_changed: (Mutex::new(()), Condvar::new()),
            cursor: AtomicU64::new(0),
            people: AtomicI64::new(-1),
            contact_id_floor: 1,
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
        inner.contact_id_floor = contact_id_floor(&inner, cursor)?;
        // An empty store is counted already; others wait for a walk over them.
        if inner.contacts.is_empty() {
            inner.people = AtomicI64::new(0);
        }
        inner.cursor.store(cursor, Ordering::SeqCst);
        inner.last_seq.store(last, Ordering::SeqCst);
        // Everything that survived the restart is on disk.
        inner.durable_seq.store(last, Ordering::SeqCst);
        let store = Store {
            inner: Arc::new(inner),
        };
        store.give_outbox_entries_their_turns()?;
        store.finish_noted_forgets()?;
        store.seal_plain_account_members()?;
        store.sweep_keys()?;
        store.load_index_settings()?;
        Ok(store)
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

    /// Whether the store still answers reads and writes (for `/readyz`).
    pub fn is_readable(&self) -> bool {
        self.failure().is_none() && self.inner.meta.get(CURSOR).is_ok()
    }

    /// The scoring version the store was last scored with, if any.
    pub fn scoring_version(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .inner
            .meta
            .get(SCORING_VERSION)?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    pub fn set_scoring_version(&self, version: &str) -> Result<(), StoreError> {
        self.inner
            .meta
            .insert(SCORING_VERSION, version.as_bytes())?;
        Ok(())
    }

    /// Bytes the store's files take, for the operator's disk alert.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.size_on_disk()?)
    }

    /// The key an identity is kept under in `identities`: a keyed hash, so that the
    /// tree's keys name nobody.
    pub(crate) fn identity_key(&self, identity: &Identity) -> Vec<u8> {
        let mut key = vec![b'#'];
        key.extend_from_slice(&self.inner.vault.hash(identity.key().as_bytes()));
        key
    }

    /// How an opportunity names a linked person: the keyed hash of the identity, so
    /// that the link outlives merges and names nobody once they are erased.
    pub fn link_of(&self, identity: &Identity) -> String {
        format!(
            "#{}",
            hex::encode(self.inner.vault.hash(identity.key().as_bytes()))
        )
    }

    /// A value sealed under a contact's key.
    pub(crate) fn seal(&self, contact: u64, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        Ok(self.inner.vault.seal(contact, plain)?)
    }

    /// A stored value as written; `None` when its person was erased.
    pub(crate) fn unseal<'b>(&self, bytes: &'b [u8]) -> Option<std::borrow::Cow<'b, [u8]>> {
        self.inner.vault.unseal(bytes)
    }
}

/// sled's database in `path`, a lock held by another process reported as such.
fn open_sled(
    path: &Path,
    cache_mb: u64,
    flush_every_ms: Option<u64>,
) -> Result<sled::Db, StoreError> {
    sled::Config::new()
        .path(path)
        .cache_capacity(cache_mb.max(16) * 1024 * 1024)
        .flush_every_ms(flush_every_ms)
        .open()
        .map_err(|error| match error {
            sled::Error::Io(ref io)
                if io.kind() == std::io::ErrorKind::WouldBlock
                    || io.to_string().contains("lock") =>
            {
                StoreError::Locked(format!("{}: {io}", path.display()))
            }
            other => StoreError::Sled(other),
        })
}

/// Above every contact id the store holds (a copy restored from a backup may hold
/// ids its counter has not reached). A store written before the counter was kept
/// got its ids from sled's generator, which may have given ids that have since gone
/// (merged or erased): its next value is above all of them.
fn contact_id_floor(inner: &Inner, cursor: u64) -> Result<u64, StoreError> {
    let highest = match inner.contacts.last()? {
        Some((key, _)) => read_u64(&key).unwrap_or(0),
        None => 0,
    };
    let counted = inner.meta.get(NEXT_CONTACT_ID)?.and_then(|v| read_u64(&v));
    let legacy = if counted.is_none() && (highest > 0 || cursor > 0) {
        inner.db.generate_id()?
    } else {
        1
    };
    Ok((highest + 1).max(legacy))
}
