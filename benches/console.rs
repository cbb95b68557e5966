//! Console list benchmark: a store of 1,000,000 contacts, then the first page of
//! `GET /api/v1/contacts` from the real daemon over HTTP, for several sorts and
//! filters, p50 and p95 of each, beside two references measured in the same run:
//! `GET /healthz` (an HTTP round trip doing nothing) and a plain sled range scan of
//! 50 keys of the contacts tree (the least a page can read).
//!
//! ```text
//! cargo bench --bench console
//! CONSOLE_CONTACTS=100000 cargo bench --bench console
//! CONSOLE_STORE=/tmp/console-store cargo bench --bench console   # fill once, reuse after
//! CONSOLE_REQUESTS=100 cargo bench --bench console                 # requests per query
//! CONSOLE_CACHE_MB=1024 cargo bench --bench console                # store.cache_mb
//! ```

use attentiond::config::Config;
use attentiond::model::{Identity, TouchKind, MILLIS_PER_DAY};
use attentiond::scoring::{self, qualify, Attention, ScoringConfig};
use attentiond::store::{Contact, ProfileField, Store, StoredTouch};
use std::time::{Duration, Instant};

/// The allocator the binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOKEN: &str = "bench-admin-token";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A cheap, repeatable pseudo-random sequence.
fn mix(n: u64) -> u64 {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// One synthetic person: a few touches over 60 days, a profile for some, and the
/// fields the pipeline would have queued for them.
fn contact(n: u64, now: i64, config: &ScoringConfig) -> Contact {
    let kinds = [
        TouchKind::EmailOpen,
        TouchKind::EmailClick,
        TouchKind::PageView,
        TouchKind::PricingView,
        TouchKind::FormSubmit,
        TouchKind::WebinarAttended,
        TouchKind::MeetingBooked,
    ];
    let mut contact = Contact::new(n, now);
    contact.add_identity(Identity::email(&format!("p{n}@company{}.com", n % 20_000)));
    if n.is_multiple_of(3) {
        contact.add_identity(Identity::crm("hubspot", (1_000_000 + n).to_string()));
    }
    let mut attention = Attention::default();
    let touches = 1 + mix(n) % 6;
    for t in 0..touches {
        let r = mix(n * 31 + t);
        let at = now - (r % (60 * MILLIS_PER_DAY as u64)) as i64;
        attention.add(kinds[(r >> 20) as usize % kinds.len()], at, config);
    }
    contact.attention = attention;
    contact.touch_count = touches;
    let field = |value: &str| ProfileField {
        value: value.to_string(),
        source: "bench".into(),
        at: now,
    };
    if n.is_multiple_of(2) {
        let titles = [
            "VP Engineering",
            "Engineer",
            "CFO",
            "Procurement Lead",
            "Intern",
        ];
        contact.profile.insert(
            "title".into(),
            field(titles[(mix(n) >> 7) as usize % titles.len()]),
        );
        contact.profile.insert("company".into(), field("Company"));
        contact
            .profile
            .insert("first_name".into(), field(&format!("Person{n}")));
    }
    contact.account_key = Some(format!("domain:company{}.com", n % 20_000));
    let profile = contact.profile_values();
    let person = qualify::Person {
        attention: &contact.attention,
        profile: &profile,
        email: contact.email(),
        stage: None,
        stage_changed_at: None,
        account: None,
    };
    let verdict = qualify::qualify(&person, now, config);
    let visible = qualify::visible(&person, &verdict, now, config);
    contact.stage = Some(verdict.stage);
    contact.stage_changed_at = verdict.stage_changed_at;
    contact.visible = Some(visible);
    contact
}

/// Opens the store, waiting for an earlier handle's flusher to let go of it.
fn reopen(path: &std::path::Path) -> Store {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Store::open_with_cache(path, 1024) {
            Ok(store) => return store,
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => panic!("the store: {error}"),
        }
    }
}

fn fill(path: &std::path::Path, count: u64, config: &ScoringConfig) {
    let mut store = reopen(path);
    store
        .set_scoring_version(&scoring::version(config))
        .expect("version");
    let now = attentiond::clock::now_millis();
    let started = Instant::now();
    // As many as a pipeline round holds at most (`pipeline.round_max_events`).
    let chunk = 1_000;
    let mut n = 1;
    while n <= count {
        let mut round = store.round();
        for id in n..(n + chunk).min(count + 1) {
            round
                .put_contact(&contact(id, now, config))
                .expect("contact");
            // One in ten also heard of from Calendly.
            if id.is_multiple_of(10) {
                let touch = StoredTouch {
                    id: format!("cal{id}"),
                    kind: TouchKind::MeetingBooked,
                    occurred_at: now - 86_400_000,
                    source: "calendly".into(),
                    weight: 0.0,
                    notes: Vec::new(),
                    properties: None,
                };
                round
                    .put_touch(id, &id.to_be_bytes(), &touch)
                    .expect("touch");
            }
        }
        round.apply().expect("apply");
        n += chunk;
        if (n - 1).is_multiple_of(100_000) {
            println!(
                "  filled {} contacts in {:.0} s",
                n - 1,
                started.elapsed().as_secs_f64()
            );
            // sled keeps what a long stream of writes leaves behind in memory until
            // the handle goes; the daemon's rounds come and go with a process that
            // serves, but one filling a million people at once would not fit.
            store.flush().expect("flush");
            drop(store);
            store = reopen(path);
        }
    }
    store.flush().expect("flush");
    println!(
        "filled {count} contacts (with their indexes) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let at = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[at]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// p95 of 50-key range scans of the contacts tree from scattered places.
fn sled_reference(path: &std::path::Path, count: u64, runs: usize, cache_mb: u64) -> Duration {
    let db = sled::Config::new()
        .path(path)
        .cache_capacity(cache_mb * 1024 * 1024)
        .open()
        .expect("sled");
    let contacts = db.open_tree("contacts").expect("contacts tree");
    let mut samples = Vec::new();
    for run in 0..runs * 4 {
        let from = (mix(run as u64) % count.max(1)).to_be_bytes();
        let started = Instant::now();
        let read = contacts
            .range(from..)
            .take(50)
            .filter_map(Result::ok)
            .count();
        samples.push(started.elapsed());
        assert!(read > 0 || count < 50);
    }
    percentile(&mut samples, 0.95)
}

fn main() {
    let count = env_or("CONSOLE_CONTACTS", 1_000_000) as u64;
    let runs = env_or("CONSOLE_REQUESTS", 40);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = std::env::var_os("CONSOLE_STORE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("data"));
    let config_scoring = ScoringConfig::default();
    if path.join("conf").exists() {
        println!("reusing the store in {}", path.display());
    } else {
        fill(&path, count, &config_scoring);
    }
    // What a daemon on the default settings reads through, or another cache to compare.
    let cache_mb = env_or(
        "CONSOLE_CACHE_MB",
        attentiond::store::DEFAULT_CACHE_MB as usize,
    );
    let scan = sled_reference(&path, count, runs, cache_mb as u64);

    let config = Config::from_toml(&format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"{TOKEN}\"\n\
         [store]\npath = \"{}\"\ncache_mb = {cache_mb}\n\
         [scoring]\nrefresh_interval_secs = 86400\n",
        path.display()
    ))
    .expect("config");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(attentiond::server::run(config, listener, async {
            let _ = stopped.await;
        }))
    });
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        // The daemon's first decay refresh reads every contact; measuring during
        // it would measure the refresh. It is over when the contacts gauge is set.
        let started = Instant::now();
        loop {
            let metrics = client
                .get(format!("{base}/metrics"))
                .send()
                .await
                .and_then(|r| r.error_for_status());
            if let Ok(answer) = metrics {
                let text = answer.text().await.unwrap_or_default();
                if text.contains(&format!("attentiond_contacts {count}")) {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        println!("the daemon's first refresh took {:.0} s", started.elapsed().as_secs_f64());
        let time = |path: String| {
            let client = client.clone();
            async move {
                let mut samples = Vec::new();
                let mut rows = 0;
                for _ in 0..runs {
                    let started = Instant::now();
                    let answer = client
                        .get(&path)
                        .bearer_auth(TOKEN)
                        .send()
                        .await
                        .expect("answer");
                    assert!(answer.status().is_success(), "{path}: {}", answer.status());
                    let body = answer.text().await.expect("body");
                    samples.push(started.elapsed());
                    rows = serde_json::from_str::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|page| page["contacts"].as_array().map(Vec::len))
                        .unwrap_or(0);
                }
                (percentile(&mut samples.clone(), 0.5), percentile(&mut samples, 0.95), rows)
            }
        };
        let (_, health, _) = time(format!("{base}/healthz")).await;
        println!("reference: GET /healthz p95 {:.2} ms", ms(health));
        println!("reference: sled range scan of 50 contacts p95 {:.3} ms", ms(scan));
        println!("{:<60} {:>8} {:>8} {:>5} {:>9}", "first page of /api/v1/contacts", "p50 ms", "p95 ms", "rows", "÷ healthz");
        let mut worst = Duration::ZERO;
        for query in [
            "",
            "sort=last_touch",
            "sort=velocity",
            "sort=stage&order=asc",
            "sort=matrix",
            "trend=rising",
            "fit=A&trend=rising",
            "stage=mql&sort=last_touch",
            "stage=sales_ready&entered_within_days=7",
            "account=domain:company77.com",
            "source=calendly",
            "source=calendly&sort=velocity",
            // Ordered by a rank, filtered by a large range: each rank is read apart.
            "source=calendly&sort=matrix",
            "account=domain:company77.com&sort=trend&order=asc",
            "q=c_4242",
            "q=p4242",
            "q=person1&sort=last_touch",
        ] {
            let (p50, p95, rows) = time(format!("{base}/api/v1/contacts?limit=50&{query}")).await;
            worst = worst.max(p95);
            println!(
                "{:<60} {:>8.2} {:>8.2} {:>5} {:>9.1}",
                if query.is_empty() { "(score, no filter)" } else { query },
                ms(p50),
                ms(p95),
                rows,
                p95.as_secs_f64() / health.as_secs_f64()
            );
        }
        println!(
            "worst first-page p95: {:.2} ms ({:.0}× a 50-key sled scan, {:.1}× /healthz); target < 100 ms",
            ms(worst),
            worst.as_secs_f64() / scan.as_secs_f64(),
            worst.as_secs_f64() / health.as_secs_f64()
        );
    });
    let _ = stop.send(());
    let _ = daemon.join();
}
