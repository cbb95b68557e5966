//! (2) Signal → CRM: touches at a steady rate over 5,000 contacts, and how long each
//! takes to reach a fake HubSpot (batch update, 100 ms per call, the sink held to
//! HubSpot Professional's 150 requests per 10 s). A touch has reached the CRM when a
//! write of its contact carries a last touch at or after it. (3) CRM calls per 100
//! changed contacts: calls made ÷ contact writes that carried a new touch × 100.

use crate::served::{self, wait_healthy, SECRET};
use actix_web::{web, App, HttpResponse, HttpServer};
use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CONTACTS: u64 = 5_000;

#[derive(Default)]
struct Crm {
    calls: u64,
    /// Contact writes that carried a touch newer than the contact's last write.
    new_touch_writes: u64,
    other_writes: u64,
    /// Per email: touches sent and not yet written (time, when sent).
    pending: HashMap<String, VecDeque<(i64, Instant)>>,
    /// Per email: the newest last touch written.
    written: HashMap<String, i64>,
    latencies_ms: Vec<f64>,
    /// Per object type: calls and records written.
    by_object: HashMap<String, (u64, u64)>,
    /// Touches the daemon did not acknowledge (a 503 under backpressure, a timeout):
    /// no write is waited for.
    refused: u64,
}

pub struct Latency {
    pub rate: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub unwritten: usize,
    pub refused: u64,
    pub calls_per_100: f64,
    pub resent_share: f64,
    /// Per object type: calls and records per call.
    pub by_object: Vec<(String, u64, f64)>,
}

fn start_crm(state: Arc<Mutex<Crm>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake CRM");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                let state = state.clone();
                App::new().route(
                    "/crm/v3/objects/{object}/batch/update",
                    web::post().to(move |object: web::Path<String>, body: web::Json<serde_json::Value>| {
                        let state = state.clone();
                        async move {
                            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
                            let arrived = Instant::now();
                            let inputs = body["inputs"].as_array().cloned().unwrap_or_default();
                            let mut crm = state.lock().expect("state");
                            crm.calls += 1;
                            let object = object.into_inner();
                            let counts = crm.by_object.entry(object.clone()).or_default();
                            counts.0 += 1;
                            counts.1 += inputs.len() as u64;
                            // Company writes carry the account's figures, not a
                            // contact's touch: counted as calls, not as re-sends.
                            if object == "contacts" {
                                for input in &inputs {
                                    record(&mut crm, input, arrived);
                                }
                            }
                            HttpResponse::Ok().json(serde_json::json!({
                                "status": "COMPLETE", "results": inputs,
                                "startedAt": "2026-12-06T00:00:00Z", "completedAt": "2026-12-06T00:00:00Z"
                            }))
                        }
                    }),
                )
            })
            .workers(2)
            .disable_signals()
            .listen(listener)
            .expect("listen")
            .run();
            let _ = server.await;
        })
    });
    base
}

fn record(crm: &mut Crm, input: &serde_json::Value, arrived: Instant) {
    let Some(email) = input["id"].as_str() else {
        return;
    };
    let Some(last) = input["properties"]["attention_last_touch_at"]
        .as_str()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.timestamp_millis())
    else {
        crm.other_writes += 1;
        return;
    };
    let newer = crm.written.get(email).is_none_or(|known| last > *known);
    if newer {
        crm.new_touch_writes += 1;
        crm.written.insert(email.to_string(), last);
    } else {
        crm.other_writes += 1;
    }
    let mut reached = Vec::new();
    if let Some(pending) = crm.pending.get_mut(email) {
        while pending.front().is_some_and(|(at, _)| *at <= last) {
            if let Some((_, sent)) = pending.pop_front() {
                reached.push(arrived.duration_since(sent).as_secs_f64() * 1000.0);
            }
        }
    }
    crm.latencies_ms.extend(reached);
}

fn email_of_n(n: u64) -> String {
    format!("lat{}@company{}.com", n % CONTACTS, n % 1000)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub async fn run(client: &reqwest::Client, rate: f64, seconds: f64) -> Latency {
    let state = Arc::new(Mutex::new(Crm::default()));
    let base = start_crm(state.clone());
    let daemon = served::attentiond(&format!(
        "[sinks.hubspot]\nkind = \"hubspot\"\nbase_url = \"{base}\"\naccess_token = \"bench\"\n\
         rate_limit = {{ requests = 150, per_secs = 10.0 }}\n"
    ));
    wait_healthy(client, &daemon).await;
    let signer = Arc::new(standardwebhooks::Webhook::new(SECRET).expect("the secret is valid"));
    let total = (rate * seconds) as u64;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let url = daemon.url("/webhooks/site");
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (client, signer, next, state, url) = (
                client.clone(),
                signer.clone(),
                next.clone(),
                state.clone(),
                url.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    let due = started + Duration::from_secs_f64(n as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                    let email = email_of_n(n);
                    let millis = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as i64);
                    let at = chrono::DateTime::from_timestamp_millis(millis)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                        .unwrap_or_default();
                    let kind = ["page_view", "email_click", "pricing_view"][(n % 3) as usize];
                    let body = format!(
                        r#"{{"type":"touch","data":{{"email":"{email}","kind":"{kind}","occurred_at":"{at}"}}}}"#
                    );
                    let id = format!("lat_{n}");
                    let timestamp = millis / 1000;
                    let signature = signer.sign(&id, timestamp, body.as_bytes()).expect("utf-8");
                    let sent = Instant::now();
                    state
                        .lock()
                        .expect("state")
                        .pending
                        .entry(email)
                        .or_default()
                        .push_back((millis, sent));
                    let acknowledged = client
                        .post(&url)
                        .header("webhook-id", id)
                        .header("webhook-timestamp", timestamp.to_string())
                        .header("webhook-signature", signature)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .is_ok_and(|response| response.status().is_success());
                    if !acknowledged {
                        let mut crm = state.lock().expect("state");
                        crm.refused += 1;
                        if let Some(pending) = crm.pending.get_mut(&email_of_n(n)) {
                            pending.retain(|(at, when)| (*at, *when) != (millis, sent));
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    // What is still on its way gets a minute to arrive.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let waiting: usize = state
            .lock()
            .expect("state")
            .pending
            .values()
            .map(VecDeque::len)
            .sum();
        if waiting == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    daemon.stop();
    let crm = state.lock().expect("state");
    let mut latencies = crm.latencies_ms.clone();
    latencies.sort_by(f64::total_cmp);
    let writes = crm.new_touch_writes + crm.other_writes;
    Latency {
        rate,
        p50: percentile(&latencies, 50.0) / 1000.0,
        p95: percentile(&latencies, 95.0) / 1000.0,
        p99: percentile(&latencies, 99.0) / 1000.0,
        unwritten: crm.pending.values().map(VecDeque::len).sum(),
        refused: crm.refused,
        calls_per_100: crm.calls as f64 * 100.0 / (crm.new_touch_writes.max(1) as f64),
        resent_share: crm.other_writes as f64 / writes.max(1) as f64,
        by_object: crm
            .by_object
            .iter()
            .map(|(object, (calls, records))| {
                (
                    object.clone(),
                    *calls,
                    *records as f64 / (*calls).max(1) as f64,
                )
            })
            .collect(),
    }
}
