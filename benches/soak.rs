//! Soak: the built binary under mixed traffic at a steady rate for `SOAK_SECS`
//! (default 1800), with what a long run meets: a CRM outage (a fake HubSpot
//! answering 503 and 429 with `Retry-After` for a minute), a SIGKILL and restart,
//! and a burst of large HubSpot batches. Resident memory and the store's size on
//! disk are sampled over time and printed as a table; at the end every acknowledged
//! event must be in the store once.
//!
//! ```text
//! cargo bench --bench soak
//! SOAK_SECS=300 SOAK_RATE=40 cargo bench --bench soak
//! SOAK_RETENTION_SECS=600 cargo bench --bench soak  # raw bodies, ids, touches kept 10 min
//! ```
//!
//! Time is compressed: raw bodies, dedupe ids and touches are kept
//! `SOAK_RETENTION_SECS` (a sixth of the run unless set) instead of days, so that
//! the store reaches within the run the steady state a daemon reaches after its
//! retentions have passed: as much forgotten as added.
//!
//! Traffic, per second at `SOAK_RATE` deliveries: site touches (Standard Webhooks)
//! over a pool of 2,000 people; every tenth delivery a Segment batch of 100 calls
//! (`POST /v1/batch`, as Segment's libraries send it); every fifth a HubSpot batch of
//! 10 `contact.propertyChange` events (developers.hubspot.com/docs/api/webhooks,
//! "Example payload") about a pool of 20,000 HubSpot contacts; the burst names the
//! whole pool. Every population is bounded, so after warm-up no new person comes
//! and only touches add to what the store holds.

use actix_web::{web, App, HttpResponse, HttpServer};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WRITE_KEY: &str = "soak-write-key";
const HUBSPOT_SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
const SITE_PEOPLE: u64 = 2_000;
/// HubSpot contacts the traffic is about: a portal's people, met again and again, so
/// that after warm-up the population stops growing and only touches add up.
const HUBSPOT_PEOPLE: u64 = 20_000;
const HUBSPOT_FIRST_ID: u64 = 10_000_000;
const BURST_DELIVERIES: u64 = 8;
const BURST_EVENTS: u64 = 2_500;

impl Acked {
    fn count_hubspot(&mut self, first: u64, count: u64) {
        for i in 0..count {
            *self
                .hubspot
                .entry(HUBSPOT_FIRST_ID + (first + i) % HUBSPOT_PEOPLE)
                .or_default() += 1;
        }
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// What the traffic got acknowledged, to check the store against at the end.
#[derive(Default)]
struct Acked {
    /// Site person → touches acknowledged.
    site: HashMap<u64, u64>,
    /// HubSpot object id → events acknowledged about it.
    hubspot: HashMap<u64, u64>,
    segment_events: u64,
    deliveries: u64,
    refused: u64,
}

/// The fake HubSpot: batch updates of contacts and companies; during an outage every
/// call gets 503 or 429 with `Retry-After`, as HubSpot's API answers under load
/// (developers.hubspot.com/docs/api/usage-details).
#[derive(Default)]
struct Crm {
    outage: AtomicBool,
    written: AtomicU64,
    refused: AtomicU64,
}

fn start_crm(crm: Arc<Crm>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake CRM");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                let crm = crm.clone();
                App::new().route(
                    "/crm/v3/objects/{object}/batch/update",
                    web::post().to(move |body: web::Json<serde_json::Value>| {
                        let crm = crm.clone();
                        async move {
                            if crm.outage.load(Ordering::Relaxed) {
                                let n = crm.refused.fetch_add(1, Ordering::Relaxed);
                                return if n.is_multiple_of(2) {
                                    HttpResponse::ServiceUnavailable()
                                        .insert_header(("Retry-After", "5"))
                                        .json(serde_json::json!({"status": "error",
                                            "message": "Service Unavailable", "category": "SERVICE_UNAVAILABLE"}))
                                } else {
                                    HttpResponse::TooManyRequests()
                                        .insert_header(("Retry-After", "5"))
                                        .json(serde_json::json!({"status": "error",
                                            "message": "You have reached your ten_secondly_rolling limit.",
                                            "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}))
                                };
                            }
                            let inputs = body["inputs"].as_array().cloned().unwrap_or_default();
                            crm.written
                                .fetch_add(inputs.len() as u64, Ordering::Relaxed);
                            HttpResponse::Ok().json(serde_json::json!({
                                "status": "COMPLETE", "results": inputs,
                                "startedAt": "2026-12-06T00:00:00Z", "completedAt": "2026-12-06T00:00:00Z"
                            }))
                        }
                    }),
                )
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .expect("listen")
            .run();
            let _ = server.await;
        })
    });
    base
}

fn spawn(dir: &Path, port: u16, crm: &str, retention_secs: u64) -> Child {
    let config = dir.join("attentiond.toml");
    let days = retention_secs as f64 / 86_400.0;
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nadmin_token = \"soak\"\nmax_body_bytes = 1048576\n\
             max_inbox_backlog = 10000000\n\
             [store]\npath = {:?}\ncache_mb = 128\n\
             inbox_retention_days = {days}\ndedupe_retention_days = {days}\ntouch_retention_days = {days}\n\
             [sources.site]\nkind = \"standard\"\nsecret = \"{SECRET}\"\n\
             [sources.segment]\nkind = \"segment\"\nkey = \"{WRITE_KEY}\"\n\
             [sources.hubspot]\nkind = \"hubspot\"\nclient_secret = \"{HUBSPOT_SECRET}\"\n\
             [sinks.hubspot]\nkind = \"hubspot\"\nbase_url = \"{crm}\"\naccess_token = \"soak\"\n",
            dir.join("data").display().to_string()
        ),
    )
    .expect("write the config");
    let log = std::fs::File::create(dir.join("daemon.log")).expect("the log");
    Command::new(env!("CARGO_BIN_EXE_attentiond"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start attentiond")
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn dir_mib(path: &Path) -> f64 {
    let mut total = 0u64;
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => total += (dir_mib(&entry.path()) * 1048576.0) as u64,
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total as f64 / 1048576.0
}

async fn metric(client: &reqwest::Client, base: &str, name: &str) -> Option<f64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let mut sum = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(name) {
            if rest.starts_with(' ') || rest.starts_with('{') {
                let value: f64 = rest.rsplit(' ').next()?.parse().ok()?;
                sum = Some(sum.unwrap_or(0.0) + value);
            }
        }
    }
    sum
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("attentiond not healthy within 120 s");
}

struct Delivery {
    path: &'static str,
    headers: Vec<(String, String)>,
    body: String,
}

fn site(n: u64, signer: &standardwebhooks::Webhook) -> (Delivery, u64) {
    let person = n % SITE_PEOPLE;
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let body = format!(
        r#"{{"type":"touch","data":{{"email":"soak{person}@company{}.com","kind":"page_view","occurred_at":"{at}"}}}}"#,
        person % 200
    );
    let id = format!("soak_{n}");
    let timestamp = chrono::Utc::now().timestamp();
    let signature = signer.sign(&id, timestamp, body.as_bytes()).expect("UTF-8");
    let headers = vec![
        ("webhook-id".into(), id),
        ("webhook-timestamp".into(), timestamp.to_string()),
        ("webhook-signature".into(), signature),
    ];
    (
        Delivery {
            path: "/webhooks/site",
            headers,
            body,
        },
        person,
    )
}

fn segment(n: u64) -> Delivery {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let messages: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let person = (n * 100 + i) % 20_000;
            serde_json::json!({"type": "track", "event": "Pricing Viewed",
                "messageId": format!("soak-seg-{n}-{i}"), "userId": format!("u{person}"),
                "timestamp": at, "context": {"traits": {"email": format!("seg{person}@company{}.com", person % 500)}}})
        })
        .collect();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{WRITE_KEY}:"));
    Delivery {
        path: "/webhooks/segment/v1/batch",
        headers: vec![("authorization".into(), format!("Basic {auth}"))],
        body: serde_json::json!({"batch": messages, "sentAt": at}).to_string(),
    }
}

/// HubSpot delivery `n`: a batch naming `count` contacts of the pool from `first`
/// on, one email click each, with event ids of its own.
fn hubspot(base: &str, n: u64, first: u64, count: u64) -> Delivery {
    let now = now_ms();
    let events: Vec<serde_json::Value> = (0..count)
        .map(|i| {
            let id = HUBSPOT_FIRST_ID + (first + i) % HUBSPOT_PEOPLE;
            serde_json::json!({"objectId": id, "propertyName": "hs_email_last_click_date",
                "propertyValue": (now - 1_000).to_string(), "changeSource": "EMAIL",
                "eventId": n.wrapping_mul(100_000) + i, "subscriptionId": 25, "portalId": 62515, "appId": 54321,
                "occurredAt": now, "subscriptionType": "contact.propertyChange", "attemptNumber": 0})
        })
        .collect();
    let body = serde_json::Value::Array(events).to_string();
    let uri = format!("{base}/webhooks/hubspot");
    let timestamp = now_ms();
    let mut mac = Hmac::<Sha256>::new_from_slice(HUBSPOT_SECRET.as_bytes()).expect("any key");
    mac.update(format!("POST{uri}{body}{timestamp}").as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    Delivery {
        path: "/webhooks/hubspot",
        headers: vec![
            ("X-HubSpot-Signature-v3".into(), signature),
            ("X-HubSpot-Request-Timestamp".into(), timestamp.to_string()),
        ],
        body,
    }
}

/// Sends until acknowledged, as platforms retry: a refused or unanswered delivery
/// (the daemon restarting) is sent again after a second, for up to two minutes.
async fn send(client: &reqwest::Client, base: &str, make: impl Fn() -> Delivery) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let delivery = make();
        let mut request = client
            .post(format!("{base}{}", delivery.path))
            .header("content-type", "application/json")
            .body(delivery.body);
        for (key, value) in delivery.headers {
            request = request.header(key, value);
        }
        if let Ok(response) = request.send().await {
            if response.status().is_success() {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    false
}

fn main() {
    let seconds: u64 = env_or("SOAK_SECS", 1800);
    let rate: u64 = env_or("SOAK_RATE", 40);
    let retention: u64 = env_or("SOAK_RETENTION_SECS", (seconds / 6).max(60));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(soak(seconds, rate, retention));
}

async fn soak(seconds: u64, rate: u64, retention: u64) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let crm = Arc::new(Crm::default());
    let crm_base = start_crm(crm.clone());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let mut daemon = spawn(dir.path(), port, &crm_base, retention);
    wait_healthy(&client, &base).await;
    let acked = Arc::new(Mutex::new(Acked::default()));
    let signer = Arc::new(standardwebhooks::Webhook::new(SECRET).expect("the secret"));
    let started = Instant::now();
    let total = Duration::from_secs(seconds);
    let (outage_at, kill_at, burst_at) = (seconds * 3 / 10, seconds / 2, seconds * 7 / 10);
    eprintln!(
        "soak: {seconds} s at {rate} deliveries/s; CRM outage at {outage_at} s for 60 s, \
         SIGKILL at {kill_at} s, burst of {BURST_DELIVERIES}×{BURST_EVENTS} at {burst_at} s; \
         raw bodies, dedupe ids and touches kept {retention} s"
    );

    // The steady traffic: one task per delivery slot, at most 64 in flight.
    let sender = {
        let (client, base, acked, signer) =
            (client.clone(), base.clone(), acked.clone(), signer.clone());
        tokio::spawn(async move {
            let limit = Arc::new(tokio::sync::Semaphore::new(64));
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
            let mut n = 0u64;
            while started.elapsed() < total {
                tick.tick().await;
                let permit = limit.clone().acquire_owned().await.expect("open");
                let (client, base, acked, signer) =
                    (client.clone(), base.clone(), acked.clone(), signer.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    if n % 10 == 9 {
                        let ok = send(&client, &base, || segment(n)).await;
                        let mut acked = acked.lock().expect("acked");
                        if ok {
                            acked.segment_events += 100;
                            acked.deliveries += 1
                        } else {
                            acked.refused += 1
                        }
                    } else if n % 5 == 4 {
                        let first = (n / 5 * 10) % HUBSPOT_PEOPLE;
                        let ok = send(&client, &base, || hubspot(&base, n, first, 10)).await;
                        let mut acked = acked.lock().expect("acked");
                        if ok {
                            acked.count_hubspot(first, 10);
                            acked.deliveries += 1
                        } else {
                            acked.refused += 1
                        }
                    } else {
                        // The same delivery id on every attempt: a redelivery, as platforms send.
                        let person = n % SITE_PEOPLE;
                        let ok = send(&client, &base, || site(n, &signer).0).await;
                        let mut acked = acked.lock().expect("acked");
                        if ok {
                            *acked.site.entry(person).or_default() += 1;
                            acked.deliveries += 1
                        } else {
                            acked.refused += 1
                        }
                    }
                });
                n += 1;
            }
            let _ = limit.acquire_many(64).await;
        })
    };

    println!(
        "\n{:>7} {:>9} {:>10} {:>11} {:>9} {:>9}  event",
        "t (s)", "RSS MiB", "store MiB", "inbox pend", "outbox", "CRM rec"
    );
    let mut events: Vec<(u64, &str)> = vec![
        (outage_at, "CRM outage begins"),
        (outage_at + 60, "CRM back"),
        (kill_at, "SIGKILL, restart"),
        (burst_at, "burst of large HubSpot batches"),
    ];
    events.sort();
    let mut samples: Vec<(f64, f64, f64)> = Vec::new();
    let mut next_sample = 0u64;
    let sample_every = (seconds / 30).max(5);
    while started.elapsed() < total {
        let now = started.elapsed().as_secs();
        let mut note = String::new();
        while let Some((at, what)) = events.first().copied() {
            if at > now {
                break;
            }
            events.remove(0);
            if !note.is_empty() {
                note.push_str("; ");
            }
            note.push_str(what);
            match what {
                "CRM outage begins" => crm.outage.store(true, Ordering::Relaxed),
                "CRM back" => crm.outage.store(false, Ordering::Relaxed),
                "SIGKILL, restart" => {
                    daemon.kill().expect("SIGKILL");
                    daemon.wait().expect("reaped");
                    daemon = spawn(dir.path(), port, &crm_base, retention);
                    wait_healthy(&client, &base).await;
                }
                _ => {
                    let (client, base, acked) = (client.clone(), base.clone(), acked.clone());
                    tokio::spawn(async move {
                        for b in 0..BURST_DELIVERIES {
                            let first = b * BURST_EVENTS;
                            let delivery = 1_000_000_000 + b;
                            if send(&client, &base, || {
                                hubspot(&base, delivery, first, BURST_EVENTS)
                            })
                            .await
                            {
                                let mut acked = acked.lock().expect("acked");
                                acked.count_hubspot(first, BURST_EVENTS);
                                acked.deliveries += 1;
                            }
                        }
                    });
                }
            }
        }
        if now >= next_sample || !note.is_empty() {
            let pid = daemon.id();
            let rss = rss_mib(pid);
            let disk = dir_mib(&dir.path().join("data"));
            let pending = metric(&client, &base, "attentiond_inbox_pending")
                .await
                .unwrap_or(f64::NAN);
            let outbox = metric(&client, &base, "attentiond_outbox_pending")
                .await
                .unwrap_or(f64::NAN);
            println!(
                "{now:>7} {rss:>9.0} {disk:>10.1} {pending:>11.0} {outbox:>9.0} {:>9}  {note}",
                crm.written.load(Ordering::Relaxed)
            );
            samples.push((now as f64, rss, disk));
            if now >= next_sample {
                next_sample = now + sample_every;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    sender.await.expect("the sender");

    // Drained: nothing pending in the inbox, the CRM has every change.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let pending = metric(&client, &base, "attentiond_inbox_pending").await;
        let outbox = metric(&client, &base, "attentiond_outbox_pending").await;
        if pending == Some(0.0) && outbox.is_some_and(|o| o == 0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not drained within 10 minutes: inbox {pending:?}, outbox {outbox:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let quarantined = metric(&client, &base, "attentiond_quarantined_deliveries").await;
    let pid = daemon.id();
    println!(
        "{:>7} {:>9.0} {:>10.1} {:>11} {:>9} {:>9}  drained",
        started.elapsed().as_secs(),
        rss_mib(pid),
        dir_mib(&dir.path().join("data")),
        0,
        0,
        crm.written.load(Ordering::Relaxed)
    );
    {
        let child = &mut daemon;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("SIGTERM");
        assert!(child.wait().expect("stopped").success(), "a clean stop");
    }

    // Warm-up lasts until the first items pass their retention (a fifth of the run at
    // least); flat means the last third holds no more than the stretch before it.
    let after = |from: f64| samples.iter().filter(move |s| s.0 >= from);
    let max = |from: f64, to: f64, pick: fn(&(f64, f64, f64)) -> f64| {
        after(from)
            .filter(|s| s.0 < to)
            .map(pick)
            .fold(0.0, f64::max)
    };
    let secs = seconds as f64;
    let warm = (retention as f64).max(secs / 5.0).min(secs * 2.0 / 3.0);
    println!(
        "\nafter warm-up ({warm:.0} s): RSS peak MiB {:.0} up to two thirds, {:.0} in the last third; \
         store peak MiB {:.1} up to two thirds, {:.1} in the last third",
        max(warm, secs * 2.0 / 3.0, |s| s.1),
        max(secs * 2.0 / 3.0, secs + 1.0, |s| s.1),
        max(warm, secs * 2.0 / 3.0, |s| s.2),
        max(secs * 2.0 / 3.0, secs + 1.0, |s| s.2),
    );

    // Nothing acknowledged lost or doubled.
    let acked = acked.lock().expect("acked");
    let store = attentiond::store::Store::open(&dir.path().join("data")).expect("the store");
    let mut site_checked = 0;
    for (person, count) in &acked.site {
        let key = attentiond::model::ContactKey::parse(&format!(
            "soak{person}@company{}.com",
            person % 200
        ))
        .expect("an email");
        let contact = store
            .find_contact(&key)
            .expect("readable")
            .expect("every acknowledged person");
        let log = store.touches_of(contact.id).expect("the touch log").len() as u64;
        assert!(
            log <= *count,
            "site person {person}: {log} touches in the log, {count} acknowledged"
        );
        assert_eq!(
            contact.touch_count, *count,
            "site person {person}: counted vs acknowledged"
        );
        site_checked += 1;
    }
    for (id, count) in &acked.hubspot {
        let key = attentiond::model::ContactKey::parse(&format!("hubspot:{id}")).expect("a key");
        let contact = store
            .find_contact(&key)
            .expect("readable")
            .unwrap_or_else(|| panic!("hubspot:{id} lost"));
        assert_eq!(
            contact.touch_count, *count,
            "hubspot:{id}: counted vs acknowledged"
        );
    }
    // The log holds each touch once (its key is the touch's id) and only what the
    // retention keeps, with a minute's slack for the sweep.
    let (mut counted, mut logged, mut contacts) = (0u64, 0u64, 0u64);
    let oldest_kept = now_ms() - (retention as i64 + 60) * 1000;
    for id in store.contact_ids() {
        let id = id.expect("an id");
        let contact = store.contact(id).expect("readable").expect("present");
        let log = store.touches_of(id).expect("log");
        assert!(
            log.len() as u64 <= contact.touch_count,
            "contact {id}: more touches logged than counted"
        );
        if let Some(old) = log.iter().find(|touch| touch.occurred_at < oldest_kept) {
            panic!(
                "contact {id}: a touch of {} outlived the retention",
                old.occurred_at
            );
        }
        counted += contact.touch_count;
        logged += log.len() as u64;
        contacts += 1;
    }
    println!(
        "\nacknowledged: {} deliveries ({} site touches over {site_checked} people, {} HubSpot events, {} Segment events); \
         {} never acknowledged; store: {contacts} contacts, {counted} touches counted, each once, {logged} still in the log; quarantined {:?}; \
         CRM: {} records written, {} calls refused during the outage",
        acked.deliveries,
        acked.site.values().sum::<u64>(),
        acked.hubspot.values().sum::<u64>(),
        acked.segment_events,
        acked.refused,
        quarantined,
        crm.written.load(Ordering::Relaxed),
        crm.refused.load(Ordering::Relaxed),
    );
    assert_eq!(quarantined, Some(0.0), "nothing parked");
    drop(store);

    // What `attentiond compact` gives back of the files the run left, and that the
    // compacted store holds every touch once still.
    let before = dir_mib(&dir.path().join("data"));
    let compacting = Instant::now();
    let compacted = Command::new(env!("CARGO_BIN_EXE_attentiond"))
        .arg("--config")
        .arg(dir.path().join("attentiond.toml"))
        .arg("compact")
        .output()
        .expect("attentiond compact");
    assert!(
        compacted.status.success(),
        "compact: {}",
        String::from_utf8_lossy(&compacted.stderr)
    );
    let took = compacting.elapsed().as_secs_f64();
    let after = dir_mib(&dir.path().join("data"));
    let store = attentiond::store::Store::open(&dir.path().join("data")).expect("the store");
    let (mut recounted, mut relogged) = (0u64, 0u64);
    for id in store.contact_ids() {
        let id = id.expect("an id");
        recounted += store
            .contact(id)
            .expect("readable")
            .expect("present")
            .touch_count;
        relogged += store.touches_of(id).expect("log").len() as u64;
    }
    assert_eq!(
        (recounted, relogged),
        (counted, logged),
        "compaction kept every touch once"
    );
    println!(
        "compact: store {before:.1} MiB before, {after:.1} MiB after ({:.0} bytes per touch) in {took:.0} s",
        after * 1_048_576.0 / counted.max(1) as f64
    );
    // What each tree holds, as the compaction counted it.
    for line in String::from_utf8_lossy(&compacted.stderr).lines() {
        if line.contains("copied and checked") {
            println!("{line}");
        }
    }
}
