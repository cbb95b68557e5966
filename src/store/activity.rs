//! What the console remembers of each source's deliveries and each sink's writes
//! (hourly counts, last delivery, last success), kept across restarts. The records
//! are the console's own; the store only keeps them under their names.

use super::{Store, StoreError};

impl Store {
    /// Every kept activity record: name → bytes.
    pub fn activity(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut records = Vec::new();
        for item in self.inner.activity.iter() {
            let (key, value) = item?;
            records.push((String::from_utf8_lossy(&key).into_owned(), value.to_vec()));
        }
        Ok(records)
    }

    pub fn save_activity(&self, name: &str, record: &[u8]) -> Result<(), StoreError> {
        self.inner.activity.insert(name.as_bytes(), record)?;
        Ok(())
    }
}
