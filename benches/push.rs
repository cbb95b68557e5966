//! Push benchmark: how fast changed contacts reach a CRM that answers every call in
//! 100 ms, and how many API calls 1,000 changed contacts cost. The CRM is a fake
//! HubSpot batch update endpoint on 127.0.0.1 (200 with `results`, like HubSpot).
//!
//! ```text
//! cargo bench --bench push
//! PUSH_CONTACTS=5000 PUSH_LATENCY_MS=250 cargo bench --bench push
//! ```
//!
//! For each setting, 1,000 contacts get a touch while the CRM answers 503, so that all
//! of them wait in the outbox; then the CRM comes back, and the clock runs from the
//! first call it accepts to the moment it holds all of them.

use actix_web::{web, App, HttpResponse, HttpServer};
use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Default)]
struct Crm {
    down: bool,
    calls: usize,
    first: Option<Instant>,
    last: Option<Instant>,
    written: HashSet<String>,
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn start_crm(latency: Duration) -> (String, Arc<Mutex<Crm>>) {
    let state = Arc::new(Mutex::new(Crm::default()));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake CRM");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let shared = state.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                let shared = shared.clone();
                App::new().route(
                    "/crm/v3/objects/contacts/batch/update",
                    web::post().to(move |body: web::Json<serde_json::Value>| {
                        let shared = shared.clone();
                        async move {
                            if shared.lock().expect("state").down {
                                return HttpResponse::ServiceUnavailable().finish();
                            }
                            let arrived = Instant::now();
                            actix_web::rt::time::sleep(latency).await;
                            let inputs = body["inputs"].as_array().cloned().unwrap_or_default();
                            let mut crm = shared.lock().expect("state");
                            crm.calls += 1;
                            crm.first.get_or_insert(arrived);
                            crm.last = Some(Instant::now());
                            for input in &inputs {
                                if let Some(id) = input["id"].as_str() {
                                    crm.written.insert(id.to_string());
                                }
                            }
                            HttpResponse::Ok().json(serde_json::json!({
                                "status": "COMPLETE", "results": inputs,
                                "startedAt": "2026-11-23T00:00:00Z", "completedAt": "2026-11-23T00:00:00Z"
                            }))
                        }
                    }),
                )
            })
            .workers(2)
            .listen(listener)
            .expect("listen")
            .run()
            .await
        })
    });
    (base, state)
}

fn main() {
    let contacts = env_or("PUSH_CONTACTS", 1000);
    let latency = Duration::from_millis(env_or("PUSH_LATENCY_MS", 100));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!(
        "{contacts} changed contacts, CRM latency {} ms",
        latency.as_millis()
    );
    for (concurrency, batch) in [(1, 100), (4, 100), (4, 10)] {
        let (crm_base, crm) = start_crm(latency);
        crm.lock().expect("state").down = true;
        let dir = tempfile::tempdir().expect("temp dir");
        let toml = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"bench\"\n\
             [store]\npath = {:?}\n\
             [sources.site]\nkind = \"standard\"\nsecret = \"{SECRET}\"\n\
             [sinks.crm]\nkind = \"hubspot\"\nbase_url = \"{crm_base}\"\naccess_token = \"t\"\n\
             flush_interval_ms = 500\nbatch_size = {batch}\nconcurrency = {concurrency}\n\
             rate_limit = {{ requests = 100, per_secs = 10 }}\n",
            dir.path().join("data").display().to_string()
        );
        let config = attentiond::config::Config::from_toml(&toml).expect("config");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind attentiond");
        let url = format!(
            "http://{}/webhooks/site",
            listener.local_addr().expect("address")
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let daemon = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(attentiond::server::run(
                config,
                listener,
                async {
                    let _ = stopped.await;
                },
            ))
        });
        runtime.block_on(async {
            let client = reqwest::Client::new();
            let signer = standardwebhooks::Webhook::new(SECRET).expect("secret");
            tokio::time::sleep(Duration::from_millis(300)).await;
            for n in 0..contacts {
                let id = format!("push_{n}");
                let body = format!(
                    r#"{{"type":"touch","data":{{"email":"p{n}@example.com","kind":"form_submit","occurred_at":"{}"}}}}"#,
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                let timestamp = chrono::Utc::now().timestamp();
                let signature = signer.sign(&id, timestamp, body.as_bytes()).expect("sign");
                let response = client
                    .post(&url)
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body)
                    .send()
                    .await
                    .expect("post");
                assert!(response.status().is_success());
            }
        });
        // Everything is queued once the pipeline has applied it.
        std::thread::sleep(Duration::from_secs(2));
        crm.lock().expect("state").down = false;
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let done = crm.lock().expect("state").written.len() as u64 >= contacts;
            if done || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let crm = crm.lock().expect("state");
        let span = match (crm.first, crm.last) {
            (Some(first), Some(last)) => last.duration_since(first),
            _ => Duration::ZERO,
        };
        println!(
            "concurrency {concurrency}, batch {batch:>3}: {} records in {:.2} s = {:.0} records/s, {} calls ({:.0} per 1,000 contacts)",
            crm.written.len(),
            span.as_secs_f64(),
            crm.written.len() as f64 / span.as_secs_f64().max(1e-9),
            crm.calls,
            crm.calls as f64 * 1000.0 / crm.written.len().max(1) as f64
        );
        let _ = stop.send(());
        let _ = daemon.join();
    }
}
