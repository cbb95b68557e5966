//! The key file: one random key per person (and per span of the inbox), kept outside
//! sled so that destroying one really removes it.
//!
//! sled writes every new version of a value to the end of its log and frees the old
//! bytes only when it reclaims a whole segment, so a deleted value can stay readable
//! in the files for a long time. Everything personal is therefore sealed under a key
//! that lives here instead: erasing a person overwrites their key's slot in place and
//! syncs the file, after which every copy of their records sled still holds, current
//! or stale, is noise. The file also holds the store's secret for keyed hashes of
//! identities, so that keys of the `identities` tree name nobody.
//!
//! Layout: `MAGIC`, the 32-byte secret, then slots of `SLOT` bytes: key id (u64),
//! key (32 bytes), and a check (first 8 bytes of SHA-256 of both), so that a slot
//! torn by a crash or overwritten with zeros reads as free.

use hmac::{Hmac, Mac};
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

const MAGIC: &[u8; 8] = b"ATDKEYS1";
const HEADER: u64 = 8 + 32;
const SLOT: u64 = 48;
/// File name inside the store directory.
pub const FILE: &str = "attentiond.keys";

/// First byte of a sealed value: neither postcard records (format bytes 1, 2) nor
/// JSON (`{`) nor an inbox entry's length start with it.
pub const SEALED: u8 = 0xA5;
/// Key ids at and above this are the inbox's; below, a contact's id.
pub const INBOX_KEYS: u64 = 1 << 63;
const TAG: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("key file {0} is not an attentiond key file")]
    Foreign(String),
    #[error("no key {0}: it was destroyed")]
    NoKey(u64),
    #[error("cannot seal a record")]
    Seal,
    #[error("the key file has no room for another key")]
    Full,
}

struct Slots {
    file: File,
    keys: Keys,
    free: Vec<u64>,
    count: u64,
    /// Slots written since the last sync.
    dirty: bool,
}

/// A key and the slot it is written in.
#[derive(Clone, Copy)]
struct Held {
    key: [u8; 32],
    slot: u32,
}

/// Contacts' ids are given in order from 1, so their keys sit in a vector by id: at a
/// million people, a hash map of the same keys kept 76 B a person more resident
/// (`cargo bench --bench pipeline`, footprint). Any other id (the inbox's spans, from
/// `INBOX_KEYS` up, or one far past the end, such as a new person's key written into a
/// slot freed by an erasure and read back at open before the ids below it) goes to the
/// map; lookups try both.
#[derive(Default)]
struct Keys {
    by_id: Vec<Option<Held>>,
    others: HashMap<u64, Held>,
}

/// How far past the end of the vector a new id may land and still go in it.
const DENSE_REACH: u64 = 1 << 16;

impl Keys {
    fn get(&self, id: u64) -> Option<Held> {
        let dense = usize::try_from(id).ok().and_then(|at| self.by_id.get(at));
        match dense {
            Some(Some(held)) => Some(*held),
            _ => self.others.get(&id).copied(),
        }
    }

    fn insert(&mut self, id: u64, held: Held) {
        if id < INBOX_KEYS && id < self.by_id.len() as u64 + DENSE_REACH {
            let at = id as usize;
            if at >= self.by_id.len() {
                self.by_id.resize(at + 1, None);
            }
            self.by_id[at] = Some(held);
        } else {
            self.others.insert(id, held);
        }
    }

    fn remove(&mut self, id: u64) -> Option<Held> {
        let dense = usize::try_from(id)
            .ok()
            .and_then(|at| self.by_id.get_mut(at));
        match dense.and_then(Option::take) {
            Some(held) => Some(held),
            None => self.others.remove(&id),
        }
    }

    fn ids(&self) -> Vec<u64> {
        let held = self
            .by_id
            .iter()
            .enumerate()
            .filter(|(_, held)| held.is_some());
        held.map(|(id, _)| id as u64)
            .chain(self.others.keys().copied())
            .collect()
    }
}

/// [`Vault::hash`] ready to use: a copy of the keyed state per text skips keying.
pub struct KeyedHash(Hmac<Sha256>);

impl KeyedHash {
    pub fn hash(&self, text: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(text);
        mac.finalize().into_bytes().into()
    }
}

pub struct Vault {
    path: String,
    secret: [u8; 32],
    slots: Mutex<Slots>,
}

fn check(id: u64, key: &[u8; 32]) -> [u8; 8] {
    let digest = Sha256::new()
        .chain_update(id.to_be_bytes())
        .chain_update(key)
        .finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

impl Vault {
    /// Opens the key file in `dir`, making it (with a new secret) if missing.
    pub fn open(dir: &Path) -> Result<Vault, VaultError> {
        let path = dir.join(FILE);
        let shown = path.display().to_string();
        let io = |source| VaultError::Io {
            path: shown.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true);
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let mut secret = [0u8; 32];
        if (bytes.len() as u64) < HEADER {
            rand::rngs::OsRng.fill_bytes(&mut secret);
            let mut header = MAGIC.to_vec();
            header.extend_from_slice(&secret);
            file.set_len(0).map_err(io)?;
            file.write_all_at(&header, 0).map_err(io)?;
            file.sync_all().map_err(io)?;
            if let Ok(parent) = File::open(dir) {
                let _ = parent.sync_all();
            }
            bytes = header;
        }
        if &bytes[..8] != MAGIC {
            return Err(VaultError::Foreign(shown));
        }
        secret.copy_from_slice(&bytes[8..HEADER as usize]);
        let mut keys = Keys::default();
        let mut free = Vec::new();
        let count = (bytes.len() as u64 - HEADER) / SLOT;
        keys.by_id.reserve(count as usize);
        for slot in 0..count {
            let at = (HEADER + slot * SLOT) as usize;
            let raw = &bytes[at..at + SLOT as usize];
            let id = u64::from_be_bytes(raw[..8].try_into().unwrap_or_default());
            let mut key = [0u8; 32];
            key.copy_from_slice(&raw[8..40]);
            let held = u32::try_from(slot).ok().map(|slot| Held { key, slot });
            match held {
                Some(held) if raw[40..48] == check(id, &key) && keys.get(id).is_none() => {
                    keys.insert(id, held)
                }
                _ => free.push(slot),
            }
        }
        Ok(Vault {
            path: shown,
            secret,
            slots: Mutex::new(Slots {
                file,
                keys,
                free,
                count,
                dirty: false,
            }),
        })
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn io(&self, source: std::io::Error) -> VaultError {
        VaultError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// The key of `id`, made now if it has none. A new key is on disk only after the
    /// next [`Vault::sync`], which must come before anything sealed under it is.
    pub fn ensure(&self, id: u64) -> Result<[u8; 32], VaultError> {
        let mut slots = self.slots();
        if let Some(held) = slots.keys.get(id) {
            return Ok(held.key);
        }
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let slot = match slots.free.last() {
            Some(slot) => *slot,
            None => slots.count,
        };
        let held = Held {
            key,
            slot: u32::try_from(slot).map_err(|_| VaultError::Full)?,
        };
        let mut raw = Vec::with_capacity(SLOT as usize);
        raw.extend_from_slice(&id.to_be_bytes());
        raw.extend_from_slice(&key);
        raw.extend_from_slice(&check(id, &key));
        slots
            .file
            .write_all_at(&raw, HEADER + slot * SLOT)
            .map_err(|error| self.io(error))?;
        if slots.free.pop().is_none() {
            slots.count += 1;
        }
        slots.keys.insert(id, held);
        slots.dirty = true;
        Ok(key)
    }

    pub fn key(&self, id: u64) -> Option<[u8; 32]> {
        self.slots().keys.get(id).map(|held| held.key)
    }

    pub fn has(&self, id: u64) -> bool {
        self.slots().keys.get(id).is_some()
    }

    /// Makes the keys made so far durable.
    pub fn sync(&self) -> Result<(), VaultError> {
        let mut slots = self.slots();
        if slots.dirty {
            slots.file.sync_data().map_err(|error| self.io(error))?;
            slots.dirty = false;
        }
        Ok(())
    }

    /// Overwrites the keys' slots with zeros and syncs: whatever was sealed under
    /// them can no longer be read by anyone. Returns how many there were.
    pub fn destroy(&self, ids: &[u64]) -> Result<usize, VaultError> {
        let mut slots = self.slots();
        let mut destroyed = 0;
        for id in ids {
            if let Some(Held { slot, .. }) = slots.keys.remove(*id) {
                let slot = u64::from(slot);
                slots
                    .file
                    .write_all_at(&[0u8; SLOT as usize], HEADER + slot * SLOT)
                    .map_err(|error| self.io(error))?;
                slots.free.push(slot);
                destroyed += 1;
            }
        }
        if destroyed > 0 || slots.dirty {
            slots.file.sync_data().map_err(|error| self.io(error))?;
            slots.dirty = false;
        }
        Ok(destroyed)
    }

    /// Every key id held, for sweeping keys nothing uses any more.
    pub fn ids(&self) -> Vec<u64> {
        self.slots().keys.ids()
    }

    /// A keyed hash: the same text always gives the same bytes in this store, and
    /// the bytes tell nothing of the text without the secret.
    pub fn hash(&self, text: &[u8]) -> [u8; 32] {
        self.hasher().hash(text)
    }

    /// The keyed hash with its key set up once, for many texts in a row.
    pub fn hasher(&self) -> KeyedHash {
        KeyedHash(
            <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
                .expect("HMAC takes a key of any length"),
        )
    }

    /// `SEALED`, key id, nonce, then the value encrypted and authenticated under the
    /// key (ChaCha20-Poly1305, the key id as associated data).
    pub fn seal(&self, id: u64, plain: &[u8]) -> Result<Vec<u8>, VaultError> {
        let key = self.ensure(id)?;
        let sealing = LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &key).map_err(|_| VaultError::Seal)?,
        );
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(1 + 8 + NONCE_LEN + plain.len() + TAG);
        out.push(SEALED);
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&nonce);
        let start = out.len();
        out.extend_from_slice(plain);
        let mut body = out.split_off(start);
        sealing
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(id.to_be_bytes()),
                &mut body,
            )
            .map_err(|_| VaultError::Seal)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// The plain value: `bytes` themselves when not sealed (records written before
    /// sealing), `None` when sealed under a destroyed key or tampered with.
    pub fn unseal<'b>(&self, bytes: &'b [u8]) -> Option<std::borrow::Cow<'b, [u8]>> {
        let Some(id) = sealed_by(bytes) else {
            return Some(std::borrow::Cow::Borrowed(bytes));
        };
        let key = self.key(id)?;
        let opening = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &key).ok()?);
        let nonce: [u8; NONCE_LEN] = bytes.get(9..9 + NONCE_LEN)?.try_into().ok()?;
        let mut body = bytes.get(9 + NONCE_LEN..)?.to_vec();
        let plain = opening
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(id.to_be_bytes()),
                &mut body,
            )
            .ok()?;
        let len = plain.len();
        body.truncate(len);
        Some(std::borrow::Cow::Owned(body))
    }
}

/// The key id a sealed value was sealed under; `None` for a plain value.
pub fn sealed_by(bytes: &[u8]) -> Option<u64> {
    if bytes.first() != Some(&SEALED) || bytes.len() < 9 + NONCE_LEN + TAG {
        return None;
    }
    Some(u64::from_be_bytes(bytes[1..9].try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destroyed_key_leaves_its_values_unreadable_and_its_bytes_gone_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let sealed = vault.seal(7, b"ann@acme.com").unwrap();
        assert!(!sealed.windows(3).any(|w| w == b"ann"));
        assert_eq!(vault.unseal(&sealed).unwrap().as_ref(), b"ann@acme.com");
        vault.sync().unwrap();
        let key = vault.key(7).unwrap();
        // Reopened, the key is still there.
        let vault = Vault::open(dir.path()).unwrap();
        assert_eq!(vault.unseal(&sealed).unwrap().as_ref(), b"ann@acme.com");
        assert_eq!(vault.destroy(&[7]).unwrap(), 1);
        assert!(vault.unseal(&sealed).is_none());
        let file = std::fs::read(dir.path().join(FILE)).unwrap();
        assert!(!file.windows(32).any(|w| w == key));
        let vault = Vault::open(dir.path()).unwrap();
        assert!(vault.unseal(&sealed).is_none());
        // Its slot is used again.
        vault.seal(8, b"x").unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join(FILE)).unwrap().len(),
            HEADER + SLOT
        );
    }

    #[test]
    fn plain_values_from_before_sealing_read_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        assert_eq!(vault.unseal(b"{\"a\":1}").unwrap().as_ref(), b"{\"a\":1}");
        let mut sealed = vault.seal(1, b"hello").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(vault.unseal(&sealed).is_none());
    }

    #[test]
    fn keys_of_people_far_ids_and_inbox_spans_are_found_again_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let far = 1 << 40;
        let span = INBOX_KEYS + 3;
        let ids = [1, 2, 5, far, span];
        let keys: Vec<[u8; 32]> = ids.iter().map(|id| vault.ensure(*id).unwrap()).collect();
        assert_eq!(
            vault.ensure(5).unwrap(),
            keys[2],
            "a second ensure keeps the key"
        );
        assert!(!vault.has(3) && !vault.has(far + 1));
        vault.sync().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        for (id, key) in ids.iter().zip(&keys) {
            assert_eq!(vault.key(*id), Some(*key), "key {id}");
        }
        let mut held = vault.ids();
        held.sort_unstable();
        assert_eq!(held, ids);
        assert_eq!(vault.destroy(&[2, far, span, 9]).unwrap(), 3);
        assert_eq!(vault.ids(), [1, 5]);
        // The freed slots are reused, and what they held is gone for good.
        let fresh = vault.ensure(7).unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        assert_eq!(vault.key(7), Some(fresh));
        assert_eq!(
            (vault.key(2), vault.key(far), vault.key(span)),
            (None, None, None)
        );
        assert_eq!(
            std::fs::metadata(dir.path().join(FILE)).unwrap().len(),
            HEADER + 5 * SLOT
        );
    }
}
