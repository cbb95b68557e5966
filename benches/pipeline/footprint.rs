//! (4) Memory per contact and disk per touch, at 100 k and 1 M contacts: contacts of
//! 1,000 company domains, two touches each, applied by the pipeline's own step on a
//! store with the daemon's default cache (`PIPELINE_CACHE_MB` to compare another),
//! in a child process so that nothing else the bench did counts in its memory. The
//! inbox's copy of each raw body is not in these figures: it is kept
//! `store.inbox_retention_days` for audit, then pruned.

use crate::served::{disk_use, rss};
use attentiond::model::{Event, EventBody, Identity, Touch, TouchKind};
use attentiond::pipeline::{apply_deliveries, Context};
use attentiond::scoring::ScoringConfig;
use attentiond::store::compact::{compact_telling, Progress};
use attentiond::store::{InboxEntry, Store, StoreError};
use std::process::Command;

pub const CHILD: &str = "PIPELINE_FOOTPRINT_CONTACTS";

pub struct Footprint {
    pub contacts: u64,
    pub touches: u64,
    pub rss_bytes: u64,
    pub disk_bytes: u64,
    /// The same store after `attentiond compact`'s step.
    pub compacted_bytes: u64,
    pub seconds: f64,
}

/// Runs in the child: loads, flushes, and prints one line of figures.
pub fn child(contacts: u64) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cache_mb = crate::env_or("PIPELINE_CACHE_MB", attentiond::store::DEFAULT_CACHE_MB);
    eprintln!("  store cache {cache_mb} MiB");
    let store = Store::open_with_cache(&dir.path().join("data"), cache_mb).expect("store");
    let config = ScoringConfig::default();
    let sinks = Default::default();
    let now = attentiond::clock::now_millis();
    let started = std::time::Instant::now();
    let kinds = [TouchKind::PageView, TouchKind::EmailClick];
    let mut seq = 0u64;
    let mut made = 0u64;
    let touches = contacts * 2;
    while made < touches {
        let mut deliveries = Vec::with_capacity(256);
        while deliveries.len() < 256 && made < touches {
            let contact = made % contacts;
            seq += 1;
            deliveries.push((
                seq,
                InboxEntry {
                    source: "site".into(),
                    received_at: now,
                    events: vec![Event {
                        provider_id: format!("f{made}"),
                        body: EventBody::Touch(Touch {
                            who: vec![Identity::email(&format!(
                                "person{contact}@company{}.com",
                                contact % 1000
                            ))],
                            kind: kinds[(made / contacts) as usize % 2],
                            occurred_at: now - 86_400_000 + (made / contacts) as i64 * 3_600_000,
                            account: None,
                            properties: None,
                        }),
                    }],
                },
            ));
            made += 1;
        }
        let context = Context {
            store: &store,
            scoring: &config,
            sinks: &sinks,
            now,
        };
        apply_deliveries(&context, &deliveries).expect("applied");
    }
    store.flush().expect("flushed");
    let seconds = started.elapsed().as_secs_f64();
    let (rss, disk) = (rss(), disk_use(&dir.path().join("data")));
    drop(store);
    let (compacted, trees) = compacted(&dir.path().join("data"));
    println!("{contacts} {touches} {rss} {disk} {compacted} {seconds:.1}");
    if std::env::var_os(TREES).is_some() {
        live_bytes_by_tree(&trees, touches);
    }
}

/// Bytes of the store at `path` once compacted, when sled's flusher has let go of
/// it, and what the compaction copied of each tree.
fn compacted(path: &std::path::Path) -> (u64, Vec<(String, u64, u64)>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut trees = Vec::new();
        let copied = |progress| {
            if let Progress::Copied {
                tree,
                entries,
                bytes,
            } = progress
            {
                trees.push((tree, entries, bytes))
            }
        };
        match compact_telling(path, copied) {
            Ok(done) => return (done.after, trees),
            Err(StoreError::Locked(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(error) => panic!("compaction failed: {error}"),
        }
    }
}

pub const TREES: &str = "PIPELINE_FOOTPRINT_TREES";

/// Where the disk goes: each tree's keys and values, per touch, against what the
/// files hold (the rest is sled's log: superseded page versions not yet reclaimed).
fn live_bytes_by_tree(trees: &[(String, u64, u64)], touches: u64) {
    for (name, entries, bytes) in trees {
        eprintln!(
            "  {name:<18} {entries:>9} entries {:>8.0} B/touch live",
            *bytes as f64 / touches as f64
        );
    }
    let total: u64 = trees.iter().map(|tree| tree.2).sum();
    eprintln!(
        "  {:<18} {:>27.0} B/touch live",
        "all trees",
        total as f64 / touches as f64
    );
}

pub fn run(contacts: u64) -> Option<Footprint> {
    let exe = std::env::current_exe().ok()?;
    let output = Command::new(exe)
        .env(CHILD, contacts.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last()?;
    let mut fields = line.split_whitespace();
    let mut next = || fields.next()?.parse::<f64>().ok();
    Some(Footprint {
        contacts: next()? as u64,
        touches: next()? as u64,
        rss_bytes: next()? as u64,
        disk_bytes: next()? as u64,
        compacted_bytes: next()? as u64,
        seconds: next()?,
    })
}
