//! A tree plus the writes one delivery has made to it so far.
//!
//! The pipeline is the only writer of the trees a round changes, so it reads them
//! directly and keeps its own writes here; at the end every overlay becomes one
//! batch and all batches commit in one transaction. Nothing is read inside the
//! transaction, which sled cannot do while iterating.

use sled::{Batch, IVec, Tree};
use std::collections::BTreeMap;

pub struct Overlay<'t> {
    tree: &'t Tree,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
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
        }
    }

    pub fn get(&self, key: impl AsRef<[u8]>) -> sled::Result<Option<IVec>> {
        match self.writes.get(key.as_ref()) {
            Some(Some(value)) => Ok(Some(IVec::from(value.as_slice()))),
            Some(None) => Ok(None),
            None => self.tree.get(key),
        }
    }

    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl Into<Vec<u8>>) {
        self.writes
            .insert(key.as_ref().to_vec(), Some(value.into()));
    }

    /// Removes and returns what was there.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) -> sled::Result<Option<IVec>> {
        let previous = self.get(key.as_ref())?;
        self.writes.insert(key.as_ref().to_vec(), None);
        Ok(previous)
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
    pub fn into_tree_and_batch(self) -> (&'t Tree, Batch) {
        let tree = self.tree;
        (tree, self.into_batch())
    }

    pub fn into_batch(self) -> Batch {
        let mut batch = Batch::default();
        for (key, value) in self.writes {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        batch
    }
}
