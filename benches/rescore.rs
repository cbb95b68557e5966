//! Rescore benchmark: 1,000,000 synthetic touches for 100,000 contacts, recomputed
//! from the touch log as `attentiond rescore` and a start with a changed config do:
//! under changed weights (every score changes), under the same settings again, and
//! with the weights changed back.
//!
//! ```text
//! cargo bench --bench rescore
//! RESCORE_CONTACTS=10000 RESCORE_TOUCHES=100000 cargo bench --bench rescore
//! RESCORE_CACHE_MB=256 cargo bench --bench rescore      # store.cache_mb; default 1024
//! RESCORE_STORE=/tmp/rescore-store cargo bench --bench rescore  # load once, reuse after
//! ```
//!
//! A kept store ends each run back under the default weights, the state it was
//! loaded in, so the three runs measure the same work every time.

use attentiond::model::{Event, EventBody, Identity, Touch, TouchKind, MILLIS_PER_DAY};
use attentiond::pipeline::{apply_deliveries, rescore, Context};
use attentiond::scoring::ScoringConfig;
use attentiond::store::{InboxEntry, Store};
use std::collections::BTreeMap;
use std::time::Instant;

/// The allocator the binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let contacts = env_or("RESCORE_CONTACTS", 100_000) as u64;
    let touches = env_or("RESCORE_TOUCHES", 1_000_000) as u64;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = std::env::var_os("RESCORE_STORE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("data"));
    let loaded = path.join("conf").exists();
    let cache_mb = env_or("RESCORE_CACHE_MB", 1024) as u64;
    let store = Store::open_with_cache(&path, cache_mb).expect("store");
    let sinks = BTreeMap::new();
    let original = ScoringConfig::default();
    let now = attentiond::clock::now_millis();
    let kinds = [
        TouchKind::EmailOpen,
        TouchKind::EmailClick,
        TouchKind::PageView,
        TouchKind::PricingView,
        TouchKind::FormSubmit,
        TouchKind::WebinarAttended,
        TouchKind::MeetingBooked,
    ];

    let started = Instant::now();
    let per_delivery = 100u64;
    let mut seq = 0u64;
    let mut made = if loaded { touches } else { 0 };
    while made < touches {
        let mut deliveries = Vec::new();
        for _ in 0..64 {
            let mut events = Vec::new();
            for _ in 0..per_delivery.min(touches - made) {
                let n = made;
                // 60 days of history in time order (as webhooks mostly arrive),
                // contacts round robin.
                let contact = n % contacts;
                let span = 60 * MILLIS_PER_DAY as u64;
                let at = now - span as i64 + (n * span / touches) as i64;
                events.push(Event {
                    provider_id: format!("t{n}"),
                    body: EventBody::Touch(Touch {
                        who: vec![Identity::email(&format!(
                            "p{contact}@company{}.com",
                            contact % 5000
                        ))],
                        kind: kinds[(n % kinds.len() as u64) as usize],
                        occurred_at: at,
                        account: None,
                        properties: None,
                    }),
                });
                made += 1;
            }
            if events.is_empty() {
                break;
            }
            seq += 1;
            deliveries.push((
                seq,
                InboxEntry {
                    source: "bench".into(),
                    received_at: now,
                    events,
                },
            ));
        }
        let context = Context {
            store: &store,
            scoring: &original,
            sinks: &sinks,
            now,
        };
        apply_deliveries(&context, &deliveries).expect("apply");
    }
    if loaded {
        println!("reusing the store in {}", path.display());
    } else {
        store.flush().expect("flush");
        println!(
            "loaded {made} touches for {contacts} contacts in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    let mut changed = ScoringConfig::default();
    for kind in kinds {
        changed.weights.insert(kind, changed.weight(kind) * 1.5);
    }
    for (label, config) in [
        ("changed weights", &changed),
        ("same settings again", &changed),
        ("weights changed back", &original),
    ] {
        let context = Context {
            store: &store,
            scoring: config,
            sinks: &sinks,
            now,
        };
        let started = Instant::now();
        let done = rescore::rescore(&context, |_, _| {}).expect("rescore");
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "rescore ({label}): {} contacts, {} touches in {seconds:.2} s = {:.0} touches/s",
            done.contacts,
            done.touches,
            done.touches as f64 / seconds
        );
    }
    store.flush().expect("flush");
}
