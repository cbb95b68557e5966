//! Forgetting a person in the files, once a round has deleted their records: their
//! keys are destroyed, which leaves every copy sled still holds of their contact,
//! touches, outbox entries, dead letters and card unreadable; and the inbox spans
//! that held a delivery naming them are sealed anew without it and their old key
//! destroyed, which does the same for the raw bodies.

use super::keys::u64_key;
use super::records::encode_inbox;
use super::vault::sealed_by;
use super::{InboxEntry, Store, StoreError};
use crate::model::{Event, EventBody, Identity};
use std::collections::BTreeSet;

/// Whom to forget: contact keys to destroy, and what names them in a delivery.
#[derive(Debug, Default, Clone)]
pub struct Forget {
    pub contacts: BTreeSet<u64>,
    pub identities: BTreeSet<Identity>,
    /// Their emails, ids, names and phone numbers as text, searched for in the raw
    /// bodies (without regard to case, also form-encoded).
    pub words: BTreeSet<String>,
}

/// Shorter words would match unrelated deliveries (a first name inside another
/// word); a delivery naming the person by a short id is found by its events.
const SHORTEST_WORD: usize = 6;

impl Forget {
    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty() && self.identities.is_empty()
    }

    /// Everything that names this identity in a delivery.
    pub fn identity(&mut self, identity: &Identity) {
        self.identities.insert(identity.clone());
        let value = match identity {
            Identity::Email(email) => email.clone(),
            Identity::Crm { id, .. } => id.clone(),
            Identity::Anonymous(id) => id.clone(),
        };
        self.word(&value);
    }

    pub fn word(&mut self, text: &str) {
        let text = text.trim();
        if text.chars().count() >= SHORTEST_WORD {
            self.words.insert(text.to_lowercase());
        }
    }

    pub fn merge(&mut self, other: Forget) {
        self.contacts.extend(other.contacts);
        self.identities.extend(other.identities);
        self.words.extend(other.words);
    }

    /// The byte patterns searched for: each word, and as a form body encodes it.
    fn patterns(&self) -> Vec<Vec<u8>> {
        let mut patterns = BTreeSet::new();
        for word in &self.words {
            patterns.insert(word.as_bytes().to_vec());
            let encoded: String = form_urlencoded::byte_serialize(word.as_bytes()).collect();
            patterns.insert(encoded.to_lowercase().into_bytes());
        }
        patterns.into_iter().collect()
    }

    fn names(&self, event: &Event, patterns: &[Vec<u8>]) -> bool {
        let who: Vec<&Identity> = match &event.body {
            EventBody::Touch(touch) => touch.who.iter().collect(),
            EventBody::Identify { who } => who.iter().collect(),
            EventBody::Merge { into, from } => std::iter::once(into).chain(from).collect(),
            EventBody::Erase { who } => vec![who],
            EventBody::Outcome(outcome) => outcome.who.iter().chain(&outcome.people).collect(),
            EventBody::Profile(profile) => profile.who.iter().collect(),
        };
        who.iter()
            .any(|identity| self.identities.contains(identity))
            || serde_json::to_vec(event).is_ok_and(|bytes| contains_any(&bytes, patterns))
    }
}

/// Whether any pattern (lowercase) occurs in `bytes`, whatever their case.
fn contains_any(bytes: &[u8], patterns: &[Vec<u8>]) -> bool {
    if patterns.is_empty() {
        return false;
    }
    let lower = bytes.to_ascii_lowercase();
    let lower = String::from_utf8_lossy(&lower).to_lowercase().into_bytes();
    patterns.iter().any(|pattern| {
        !pattern.is_empty() && lower.windows(pattern.len()).any(|window| window == pattern)
    })
}

impl Store {
    /// Destroys the keys of `forget.contacts` and seals anew, without the person,
    /// every inbox span holding a delivery that names them. Call once the round that
    /// deleted their records has committed.
    pub fn forget(&self, forget: &Forget) -> Result<(), StoreError> {
        if forget.is_empty() {
            return Ok(());
        }
        if !forget.identities.is_empty() {
            self.scrub_inbox(forget)?;
        }
        let contacts: Vec<u64> = forget.contacts.iter().copied().collect();
        self.inner.vault.destroy(&contacts)?;
        Ok(())
    }

    fn scrub_inbox(&self, forget: &Forget) -> Result<(), StoreError> {
        let patterns = forget.patterns();
        let affected = |plain: &[u8]| -> bool {
            match super::records::decode_inbox(plain) {
                Some((entry, body)) => {
                    contains_any(body, &patterns)
                        || entry
                            .events
                            .iter()
                            .any(|event| forget.names(event, &patterns))
                }
                None => false,
            }
        };
        let mut spans = BTreeSet::new();
        for item in self.inner.inbox.iter() {
            let (_, value) = item?;
            let Some(plain) = self.unseal(&value) else {
                continue;
            };
            if affected(&plain) {
                spans.extend(sealed_by(&value));
            }
        }
        if spans.is_empty() {
            return Ok(());
        }
        {
            // New deliveries go under a new key from now on, so that no delivery is
            // sealed under a key about to be destroyed.
            let mut current = self
                .inner
                .append_lock
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if spans.contains(&current.id) {
                current.id = 0;
            }
        }
        for span in spans {
            let fresh = self.new_inbox_key()?;
            let mut batch = sled::Batch::default();
            for item in self.inner.inbox.iter() {
                let (key, value) = item?;
                if sealed_by(&value) != Some(span) {
                    continue;
                }
                let Some((mut entry, mut body)) = self.read_inbox(&value) else {
                    continue;
                };
                let plain = encode_inbox(&entry, &body)?;
                if affected(&plain) {
                    // The raw copy is for audit only and cannot be edited safely:
                    // it goes whole; the events naming the person go too.
                    body.clear();
                    entry.events.retain(|event| !forget.names(event, &patterns));
                }
                let scrubbed = encode_inbox(
                    &InboxEntry {
                        source: entry.source,
                        received_at: entry.received_at,
                        events: entry.events,
                    },
                    &body,
                )?;
                batch.insert(key, self.inner.vault.seal(fresh, &scrubbed)?);
            }
            self.inner.inbox.apply_batch(batch)?;
            self.flush()?;
            self.inner.vault.destroy(&[span])?;
        }
        Ok(())
    }

    /// Destroys keys nothing can use any more: those of contacts that no longer
    /// exist (merged away, or erased by a run that stopped before it destroyed
    /// them), and inbox keys no delivery is sealed under. Run at open, while nothing
    /// else writes.
    pub(super) fn sweep_keys(&self) -> Result<(), StoreError> {
        let mut used = BTreeSet::new();
        for item in self.inner.inbox.iter() {
            let (_, value) = item?;
            used.extend(sealed_by(&value));
        }
        // A parked delivery keeps its inbox value as it was sealed, for a retry.
        for value in self.quarantined_inbox_values()? {
            used.extend(sealed_by(&value));
        }
        let mut unused = Vec::new();
        for id in self.inner.vault.ids() {
            let gone = if id >= super::vault::INBOX_KEYS {
                !used.contains(&id)
            } else {
                !self.inner.contacts.contains_key(u64_key(id))?
            };
            if gone {
                unused.push(id);
            }
        }
        if !unused.is_empty() {
            // What a destroyed key sealed must be gone from sled's view first.
            self.flush()?;
            self.inner.vault.destroy(&unused)?;
        }
        Ok(())
    }
}
