//! Forgetting a person in the files, once a round has deleted their records: their
//! keys are destroyed, which leaves every copy sled still holds of their contact,
//! touches, outbox entries, dead letters and card unreadable; and the inbox spans
//! that held a delivery naming them are sealed anew without it and their old key
//! destroyed, which does the same for the raw bodies.
//!
//! The round that deletes the records also writes a note of what is left to forget,
//! sealed under a key of its own; a crash before the forgetting is done leaves the
//! note, and the next open finishes it before anything else runs.

use super::keys::{read_u64, u64_key};
use super::records::encode_inbox;
use super::vault::sealed_by;
use super::{InboxEntry, Store, StoreError};
use crate::model::{Event, EventBody, Identity};
use std::collections::BTreeSet;

/// Where notes of forgetting still to be done stand in `meta`, by their key id.
const FORGET_NOTE: &[u8] = b"forget_note/";

fn forget_note_key(id: u64) -> Vec<u8> {
    let mut key = FORGET_NOTE.to_vec();
    key.extend_from_slice(&u64_key(id));
    key
}

/// Whom to forget: contact keys to destroy, and what names them in a delivery.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
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

/// A note of forgetting written with the round that deleted the records.
#[must_use = "the forgetting is finished with `Store::forget_noted`"]
pub struct ForgetNote(Option<u64>);

impl Store {
    /// Writes in `round` what is left to forget once it commits, sealed under a key
    /// of its own: if the process dies before [`Store::forget_noted`], the next open
    /// finishes it.
    pub fn note_forget(
        &self,
        round: &mut super::Round<'_>,
        forget: &Forget,
    ) -> Result<ForgetNote, StoreError> {
        if forget.is_empty() {
            return Ok(ForgetNote(None));
        }
        let id = self.new_inbox_key()?;
        let sealed = self.inner.vault.seal(id, &serde_json::to_vec(forget)?)?;
        round.meta.insert(forget_note_key(id), sealed);
        Ok(ForgetNote(Some(id)))
    }

    /// Forgets what the committed round noted, then the note and its key.
    pub fn forget_noted(&self, note: ForgetNote, forget: &Forget) -> Result<(), StoreError> {
        self.forget(forget)?;
        if let ForgetNote(Some(id)) = note {
            self.drop_forget_note(id)?;
        }
        Ok(())
    }

    fn drop_forget_note(&self, id: u64) -> Result<(), StoreError> {
        self.inner.meta.remove(forget_note_key(id))?;
        self.flush()?;
        self.inner.vault.destroy(&[id])?;
        Ok(())
    }

    /// Finishes the forgetting a crash cut short. Run at open, before anything
    /// else reads or writes.
    pub(super) fn finish_noted_forgets(&self) -> Result<(), StoreError> {
        let notes: Vec<(u64, sled::IVec)> = self
            .inner
            .meta
            .scan_prefix(FORGET_NOTE)
            .filter_map(|item| item.ok())
            .filter_map(|(key, value)| Some((read_u64(&key[FORGET_NOTE.len()..])?, value)))
            .collect();
        for (id, sealed) in notes {
            let forget = self
                .unseal(&sealed)
                .and_then(|plain| serde_json::from_slice::<Forget>(&plain).ok());
            if let Some(forget) = forget {
                tracing::info!(
                    message = "Finishing an erasure a stop cut short.",
                    contacts = forget.contacts.len()
                );
                self.forget(&forget)?;
            }
            self.drop_forget_note(id)?;
        }
        Ok(())
    }

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
        // A note of forgetting still to do is sealed under a key of its own.
        for item in self.inner.meta.scan_prefix(FORGET_NOTE) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::decode_inbox;

    fn delivery(store: &Store, seq: u64, span: u64, body: &str) {
        let entry = InboxEntry {
            source: "site".into(),
            received_at: 1,
            events: Vec::new(),
        };
        let plain = encode_inbox(&entry, body.as_bytes()).unwrap();
        store
            .inner
            .inbox
            .insert(u64_key(seq), store.inner.vault.seal(span, &plain).unwrap())
            .unwrap();
    }

    fn bodies(store: &Store) -> Vec<String> {
        store
            .inner
            .inbox
            .iter()
            .map(|item| {
                let (_, value) = item.unwrap();
                let plain = store.unseal(&value).expect("readable");
                let (_, body) = decode_inbox(&plain).expect("an inbox value");
                String::from_utf8_lossy(body).into_owned()
            })
            .collect()
    }

    #[test]
    fn an_erasure_cut_short_by_a_crash_is_finished_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let span;
        {
            let store = Store::open(&path).unwrap();
            span = store.new_inbox_key().unwrap();
            delivery(&store, 1, span, r#"{"email":"erin.erased@example.com"}"#);
            delivery(&store, 2, span, r#"{"email":"kept.person@example.com"}"#);
            let mut forget = Forget::default();
            forget.identity(&Identity::email("erin.erased@example.com"));
            let mut round = store.round();
            let _note = store.note_forget(&mut round, &forget).unwrap();
            round.commit(None).unwrap();
            store.flush().unwrap();
            // The process dies here, before the inbox is sealed anew.
        }
        let store = Store::open_when_free(&path).unwrap();
        assert_eq!(
            bodies(&store),
            ["", r#"{"email":"kept.person@example.com"}"#]
        );
        assert!(
            !store.inner.vault.has(span),
            "the old span's key is destroyed"
        );
        assert_eq!(store.inner.meta.scan_prefix(FORGET_NOTE).count(), 0);
    }

    #[test]
    fn a_finished_erasure_leaves_no_note_and_no_key_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        let span = store.new_inbox_key().unwrap();
        delivery(&store, 1, span, r#"{"email":"erin.erased@example.com"}"#);
        let mut forget = Forget::default();
        forget.identity(&Identity::email("erin.erased@example.com"));
        let mut round = store.round();
        let note = store.note_forget(&mut round, &forget).unwrap();
        let ForgetNote(Some(note_key)) = note else {
            panic!("a note is written for a person to forget");
        };
        round.commit(None).unwrap();
        store
            .forget_noted(ForgetNote(Some(note_key)), &forget)
            .unwrap();
        assert_eq!(bodies(&store), [""]);
        assert_eq!(store.inner.meta.scan_prefix(FORGET_NOTE).count(), 0);
        assert!(!store.inner.vault.has(note_key));
    }
}
