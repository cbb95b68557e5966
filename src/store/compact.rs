//! Compaction: the store written again into a new directory, holding only what is
//! live, then put in place of the old one.
//!
//! sled appends every changed page to its log and reclaims a segment only once at
//! most half of it is still live. Trees that only grow in the middle (touches,
//! dedupe ids, index entries) leave most segments just above that line, so the files
//! settle at several times the data they hold. Writing every tree afresh in key order
//! packs the pages; it is also what removes values an older version wrote in clear
//! (docs/privacy.md).
//!
//! The swap survives a crash at any point: the new directory is complete and marked
//! before the old one is moved aside, and [`finish_interrupted`] (run by every open)
//! completes or undoes whatever step a crash cut short.

use super::keys::{read_u64, u64_key};
use super::{StoreError, NEXT_CONTACT_ID};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Written last into a finished copy: a copy without it was cut short.
const FINISHED: &str = "compacted";
/// Entries written per batch while copying a tree.
const BATCH: usize = 10_000;
/// Bytes written through one handle of the copy before it is opened again.
const REOPEN_BYTES: usize = 256 << 20;

/// How far a compaction has got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The store is held, `bytes` of it; the copy is being written.
    Begun { bytes: u64 },
    /// One tree written into the copy and checked: its keys, and their bytes with
    /// their values'.
    Copied {
        tree: String,
        entries: u64,
        bytes: u64,
    },
}

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    /// Bytes of the store directory before and after.
    pub before: u64,
    pub after: u64,
    /// Keys and values copied, over every tree.
    pub entries: u64,
}

/// Writes the store at `path` again, live data only, and swaps it in. The store must
/// not be open: the caller holds no handle, and another process holding it gets
/// [`StoreError::Locked`].
pub fn compact(path: &Path) -> Result<Compacted, StoreError> {
    compact_telling(path, |_| {})
}

/// [`compact`], telling how far it has got.
pub fn compact_telling(
    path: &Path,
    mut told: impl FnMut(Progress),
) -> Result<Compacted, StoreError> {
    finish_interrupted(path)?;
    let before = directory_bytes(path)?;
    // The old store stays locked until the copy has taken its place, so that a
    // daemon started meanwhile cannot write where nobody will look again.
    let old = super::open_sled(path, 64, Some(1000))?;
    told(Progress::Begun { bytes: before });
    let building = sibling(path, "compacting");
    if building.exists() {
        std::fs::remove_dir_all(&building)?;
    }
    let entries = match build_copy(&old, path, &building, &mut told) {
        Ok(entries) => entries,
        Err(error) => {
            // A full disk is the likely cause: give the space back at once.
            let _ = std::fs::remove_dir_all(&building);
            return Err(error);
        }
    };

    let retired = sibling(path, "precompact");
    std::fs::rename(path, &retired)?;
    sync_parent(path)?;
    std::fs::rename(&building, path)?;
    sync_parent(path)?;
    drop(old);
    finish_interrupted(path)?;
    Ok(Compacted {
        before,
        after: directory_bytes(path)?,
        entries,
    })
}

/// A finished, marked copy of the store at `path` in `building`.
fn build_copy(
    old: &sled::Db,
    path: &Path,
    building: &Path,
    told: &mut dyn FnMut(Progress),
) -> Result<u64, StoreError> {
    let entries = copy_trees(old, building, REOPEN_BYTES, told)?;
    copy_other_files(path, building)?;
    write_synced(&building.join(FINISHED), b"")?;
    take_owner_and_mode(path, building)?;
    sync_directory(building)?;
    Ok(entries)
}

/// Completes a compaction a crash interrupted, or drops a copy it left unfinished.
/// Safe to run at every open: with nothing left behind it does nothing.
pub(super) fn finish_interrupted(path: &Path) -> Result<(), StoreError> {
    let building = sibling(path, "compacting");
    let retired = sibling(path, "precompact");
    if !path.exists() {
        if building.join(FINISHED).exists() {
            // Cut between the two renames: the finished copy is the store.
            std::fs::rename(&building, path)?;
            sync_parent(path)?;
        } else if retired.exists() {
            std::fs::rename(&retired, path)?;
            sync_parent(path)?;
        }
    }
    if retired.exists() && path.join(FINISHED).exists() {
        std::fs::remove_dir_all(&retired)?;
    }
    if building.exists() {
        std::fs::remove_dir_all(&building)?;
    }
    if path.join(FINISHED).exists() {
        std::fs::remove_file(path.join(FINISHED))?;
    }
    Ok(())
}

/// Copies every tree of `old` into a new database at `building`.
fn copy_trees(
    old: &sled::Db,
    building: &Path,
    reopen_bytes: usize,
    told: &mut dyn FnMut(Progress),
) -> Result<u64, StoreError> {
    let mut new = super::open_sled(building, 64, None)?;
    let mut entries = 0;
    let mut since_open = 0;
    for name in old.tree_names() {
        let from = old.open_tree(&name)?;
        let mut to = new.open_tree(&name)?;
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        let mut read = Fingerprint::default();
        for entry in from.iter() {
            let (key, value) = entry?;
            read.add(&key, &value);
            since_open += key.len() + value.len();
            batch.insert(key, value);
            pending += 1;
            if pending == BATCH {
                to.apply_batch(std::mem::take(&mut batch))?;
                entries += pending as u64;
                pending = 0;
                if since_open > reopen_bytes {
                    // A sled handle's memory grows with what it has written; a new
                    // handle starts small.
                    new.flush()?;
                    drop(to);
                    drop(new);
                    new = reopen(building)?;
                    to = new.open_tree(&name)?;
                    since_open = 0;
                }
            }
        }
        to.apply_batch(batch)?;
        entries += pending as u64;
        // sled's own checksum holds one epoch for the whole scan, so nothing it
        // reads can be freed before the end: memory the size of the tree.
        let mut written = Fingerprint::default();
        for entry in to.iter() {
            let (key, value) = entry?;
            written.add(&key, &value);
        }
        if read != written {
            return Err(StoreError::Corrupt {
                tree: "compaction",
                key: String::from_utf8_lossy(&name).into_owned(),
            });
        }
        told(Progress::Copied {
            tree: String::from_utf8_lossy(&name).into_owned(),
            entries: read.entries,
            bytes: read.bytes,
        });
    }
    // A store from before the contact counter was kept takes its ids from sled's
    // generator, which a new directory starts again from zero.
    let meta = new.open_tree("meta")?;
    if meta.get(NEXT_CONTACT_ID)?.is_none() {
        let highest = match new.open_tree("contacts")?.last()? {
            Some((key, _)) => read_u64(&key).unwrap_or(0),
            None => 0,
        };
        let next = old.generate_id()?.max(highest + 1).max(1);
        meta.insert(NEXT_CONTACT_ID, &u64_key(next))?;
    }
    new.flush()?;
    Ok(entries)
}

/// What a tree holds, in order, to tell a faithful copy from one that is not.
#[derive(Default, PartialEq, Eq)]
struct Fingerprint {
    entries: u64,
    bytes: u64,
    hash: u64,
}

impl Fingerprint {
    fn add(&mut self, key: &[u8], value: &[u8]) {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.hash.hash(&mut hasher);
        key.hash(&mut hasher);
        value.hash(&mut hasher);
        self.hash = hasher.finish();
        self.entries += 1;
        self.bytes += (key.len() + value.len()) as u64;
    }
}

/// Opens the copy again once the handle just dropped has let go of its lock.
fn reopen(building: &Path) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match super::open_sled(building, 64, None) {
            Err(StoreError::Locked(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            opened => return opened,
        }
    }
}

/// sled's own files are written anew; everything else (the key file) is copied.
fn copy_other_files(from: &Path, to: &Path) -> Result<(), StoreError> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if is_sleds(&name) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            return Err(StoreError::Corrupt {
                tree: "compaction",
                key: format!("unexpected directory {}", entry.path().display()),
            });
        }
        let target = to.join(&name);
        std::fs::copy(entry.path(), &target)?;
        std::fs::File::open(&target)?.sync_all()?;
    }
    Ok(())
}

/// Run as root on a service's store, the copy would otherwise belong to root and the
/// service could not open it.
fn take_owner_and_mode(from: &Path, to: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt as _;
    let metadata = std::fs::metadata(from)?;
    std::fs::set_permissions(to, metadata.permissions())?;
    let (uid, gid) = (metadata.uid(), metadata.gid());
    let mut paths = vec![to.to_path_buf()];
    while let Some(path) = paths.pop() {
        std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                paths.push(entry?.path());
            }
        }
    }
    Ok(())
}

fn is_sleds(name: &OsString) -> bool {
    let name = name.to_string_lossy();
    name == "db" || name == "conf" || name == "blobs" || name.starts_with("snap.")
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(OsString::from).unwrap_or_default();
    name.push(format!(".{suffix}"));
    path.with_file_name(name)
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)?;
    std::fs::File::open(path)?.sync_all()
}

fn sync_directory(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        Some(parent) => sync_directory(parent),
        None => sync_directory(Path::new(".")),
    }
}

/// Bytes of the files under `path`.
pub fn directory_bytes(path: &Path) -> Result<u64, StoreError> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        total += if metadata.is_dir() {
            directory_bytes(&entry.path())?
        } else {
            metadata.len()
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// Retries while a handle this process just dropped still holds the lock.
    fn when_free<T>(mut attempt: impl FnMut() -> Result<T, StoreError>) -> T {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match attempt() {
                Err(StoreError::Locked(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                done => return done.unwrap(),
            }
        }
    }

    fn touches(dir: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
        let store = when_free(|| Store::open(dir));
        let tree = store.inner.db.open_tree("touches").unwrap();
        tree.iter()
            .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A store written the way the pipeline writes: rounds of keys landing all over
    /// a growing tree, each round flushed. sled packs this pattern worst.
    fn filled(dir: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
        {
            let store = Store::open(dir).unwrap();
            let tree = store.inner.db.open_tree("touches").unwrap();
            let people = store.inner.db.open_tree("people").unwrap();
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            for round in 0..150u64 {
                let mut batch = sled::Batch::default();
                let mut rewritten = sled::Batch::default();
                for _ in 0..400 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    batch.insert(&state.to_be_bytes(), vec![state as u8; 100]);
                    // Each touch also rewrites its person's record.
                    rewritten.insert(&(state % 2_000).to_be_bytes(), vec![round as u8; 600]);
                }
                tree.apply_batch(batch).unwrap();
                people.apply_batch(rewritten).unwrap();
                store.flush().unwrap();
            }
            store
                .inner
                .meta
                .insert(NEXT_CONTACT_ID, &u64_key(42))
                .unwrap();
            store.flush().unwrap();
        }
        touches(dir)
    }

    #[test]
    fn a_compacted_store_holds_the_same_data_in_less_space() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        let held = filled(&dir);
        let keys_before = std::fs::read(dir.join(crate::store::vault::FILE)).unwrap();
        let mut told = Vec::new();
        let done = when_free(|| compact_telling(&dir, |tree| told.push(tree)));
        let live: u64 = held.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
        assert!(
            told.contains(&Progress::Copied {
                tree: "touches".into(),
                entries: held.len() as u64,
                bytes: live,
            }),
            "{told:?}"
        );
        assert!(
            done.after * 2 < done.before,
            "{} bytes after, {} before",
            done.after,
            done.before
        );
        assert_eq!(touches(&dir), held);
        assert_eq!(
            std::fs::read(dir.join(crate::store::vault::FILE)).unwrap(),
            keys_before,
            "the key file comes along"
        );
        let names: Vec<_> = std::fs::read_dir(parent.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["data"], "nothing is left beside the store");
        assert!(!dir.join(FINISHED).exists());
        let store = when_free(|| Store::open(&dir));
        assert_eq!(
            store.inner.meta.get(NEXT_CONTACT_ID).unwrap().as_deref(),
            Some(&u64_key(42)[..]),
            "the contact counter is carried over"
        );
    }

    #[test]
    fn a_store_from_before_the_counter_keeps_its_next_id_above_sleds() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        {
            let db = super::super::open_sled(&dir, 16, Some(1000)).unwrap();
            for _ in 0..500 {
                db.generate_id().unwrap();
            }
            db.flush().unwrap();
        }
        when_free(|| compact(&dir));
        let db = when_free(|| super::super::open_sled(&dir, 16, Some(1000)));
        let next = db
            .open_tree("meta")
            .unwrap()
            .get(NEXT_CONTACT_ID)
            .unwrap()
            .and_then(|v| read_u64(&v))
            .unwrap();
        assert!(next >= 500, "next id {next} would give an id again");
    }

    #[test]
    fn a_crash_between_the_renames_is_finished_at_the_next_open() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        let held = filled(&dir);
        // The state a crash after the first rename leaves: the old store moved aside,
        // the finished copy not yet in its place.
        let building = sibling(&dir, "compacting");
        {
            let old = when_free(|| super::super::open_sled(&dir, 16, Some(1000)));
            build_copy(&old, &dir, &building, &mut |_| {}).unwrap();
        }
        std::fs::rename(&dir, sibling(&dir, "precompact")).unwrap();

        assert_eq!(touches(&dir), held);
        let names: Vec<_> = std::fs::read_dir(parent.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["data"]);
    }

    #[test]
    fn a_copy_cut_short_is_dropped_and_the_store_is_untouched() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        let held = filled(&dir);
        let building = sibling(&dir, "compacting");
        std::fs::create_dir_all(&building).unwrap();
        std::fs::write(building.join("db"), b"half a copy").unwrap();

        assert_eq!(touches(&dir), held);
        assert!(!building.exists());
    }

    fn files_holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut paths = vec![dir.to_path_buf()];
        while let Some(path) = paths.pop() {
            if path.is_dir() {
                paths.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            } else if std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|window| window == needle)
            {
                found.push(path);
            }
        }
        found
    }

    #[test]
    fn a_value_deleted_before_the_compaction_is_in_no_file_after_it() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        let marker = b"dana.rivera.plain@example.com";
        {
            let store = Store::open(&dir).unwrap();
            let tree = store.inner.db.open_tree("contacts").unwrap();
            tree.insert(b"old-record", &marker[..]).unwrap();
            store.flush().unwrap();
            tree.remove(b"old-record").unwrap();
            tree.insert(b"other", &b"kept"[..]).unwrap();
            store.flush().unwrap();
        }
        assert!(
            !files_holding(&dir, marker).is_empty(),
            "sled keeps the deleted value in its log"
        );
        when_free(|| compact(&dir));
        assert_eq!(files_holding(parent.path(), marker), Vec::<PathBuf>::new());
        let store = when_free(|| Store::open(&dir));
        let tree = store.inner.db.open_tree("contacts").unwrap();
        assert_eq!(tree.get(b"other").unwrap().as_deref(), Some(&b"kept"[..]));
    }

    #[test]
    fn a_copy_written_through_many_handles_holds_every_entry() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        let held = filled(&dir);
        let copy = parent.path().join("copy");
        {
            let old = when_free(|| super::super::open_sled(&dir, 16, Some(1000)));
            // 60,000 touches of about 110 bytes: the copy is opened again some 25 times.
            let entries = copy_trees(&old, &copy, 256 << 10, &mut |_| {}).unwrap();
            assert!(entries > held.len() as u64);
        }
        let copied = when_free(|| super::super::open_sled(&copy, 16, Some(1000)));
        let touches: Vec<(Vec<u8>, Vec<u8>)> = copied
            .open_tree("touches")
            .unwrap()
            .iter()
            .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(touches, held);
    }
}
