//! A tree plus the writes one delivery has made to it so far.
//!
//! The pipeline is the only writer of the trees a round changes, so it reads them
//! directly and keeps its own writes here; at the end every overlay becomes one
//! batch and all batches commit in one transaction. Nothing is read inside the
//! transaction, which sled cannot do while iterating.

use super::vault::Vault;
use super::StoreError;
use sled::{Batch, IVec, Tree};
use std::collections::BTreeMap;

/// Whose key seals the value under a tree key, if anyone's.
pub type KeyOf = fn(&[u8]) -> Option<u64>;

pub struct Overlay<'t> {
    tree: &'t Tree,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Values of a tree holding personal data are kept plain here and sealed under
    /// their person's key when the round is written.
    sealing: Option<(&'t Vault, KeyOf)>,
}

impl<'t> Overlay<'t> {
    /// Nothing written yet.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    pub fn new(tree: &'t Tree) -> Overlay<'t> {
        Overlay {
            tree,
            writes: BTreeMap::new(),
            sealing: None,
        }
    }

    /// An overlay whose values are read unsealed and written sealed under the key
    /// `key_of` names for each tree key.
    pub fn sealed(tree: &'t Tree, vault: &'t Vault, key_of: KeyOf) -> Overlay<'t> {
        Overlay {
            sealing: Some((vault, key_of)),
            ..Overlay::new(tree)
        }
    }

    /// A value sealed under a destroyed key reads as missing: its person is erased.
    pub fn get(&self, key: impl AsRef<[u8]>) -> sled::Result<Option<IVec>> {
        match self.writes.get(key.as_ref()) {
            Some(Some(value)) => Ok(Some(IVec::from(value.as_slice()))),
            Some(None) => Ok(None),
            None => {
                let stored = self.tree.get(key)?;
                Ok(match (stored, self.sealing) {
                    (Some(bytes), Some((vault, _))) => {
                        vault.unseal(&bytes).map(|plain| IVec::from(plain.as_ref()))
                    }
                    (stored, _) => stored,
                })
            }
        }
    }

    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl Into<Vec<u8>>) {
        self.writes
            .insert(key.as_ref().to_vec(), Some(value.into()));
    }

    /// Removes and returns what was there.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) -> sled::Result<Option<IVec>> {
        let previous = self.get(key.as_ref())?;
        self.delete(key);
        Ok(previous)
    }

    /// Removes without looking: reading what was there costs a walk down the tree
    /// (and an unsealing) that a caller who does not need it should not pay.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) {
        self.writes.insert(key.as_ref().to_vec(), None);
    }

    /// Keys under `prefix`, as the tree will hold them after this delivery.
    pub fn keys_with_prefix(&self, prefix: &[u8]) -> sled::Result<Vec<Vec<u8>>> {
        let mut keys = Vec::new();
        for key in self.tree.scan_prefix(prefix).keys() {
            let key = key?;
            if !matches!(self.writes.get(key.as_ref()), Some(None)) {
                keys.push(key.to_vec());
            }
        }
        for (key, value) in self.writes.range(prefix.to_vec()..) {
            if !key.starts_with(prefix) {
                break;
            }
            if value.is_some() {
                keys.push(key.clone());
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// The writes so far, in key order: `None` for a removal.
    pub fn written(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.writes
            .iter()
            .map(|(key, value)| (key.as_slice(), value.as_deref()))
    }

    /// Every entry of the tree as it will be, for small trees only.
    pub fn entries(&self) -> sled::Result<Vec<(Vec<u8>, IVec)>> {
        let mut out = Vec::new();
        for key in self.keys_with_prefix(&[])? {
            if let Some(value) = self.get(&key)? {
                out.push((key, value));
            }
        }
        Ok(out)
    }

    /// The tree and this overlay's writes as one batch for it.
    pub fn into_tree_and_batch(self) -> Result<(&'t Tree, Batch), StoreError> {
        let tree = self.tree;
        Ok((tree, self.into_batch()?))
    }

    pub fn into_batch(self) -> Result<Batch, StoreError> {
        let mut batch = Batch::default();
        for (key, value) in self.writes {
            match value {
                Some(value) => {
                    let value = match self.sealing {
                        Some((vault, key_of)) => match key_of(&key) {
                            Some(id) => vault.seal(id, &value)?,
                            None => value,
                        },
                        None => value,
                    };
                    batch.insert(key, value)
                }
                None => batch.remove(key),
            }
        }
        Ok(batch)
    }
}
