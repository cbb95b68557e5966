//! The load: signed deliveries of four shapes, sent open loop at a set rate (each
//! delivery at its own time, as platforms send, whether or not the daemon keeps up)
//! or closed loop as fast as answers come (for the bare reference).

use crate::served::{Served, SECRET, WRITE_KEY};
use base64::Engine;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Workload {
    /// Every delivery a new contact: 100 k contacts over 1,000 company domains.
    NewContacts,
    /// Ten touches per contact, one after the other.
    TenPerContact,
    /// 5,000 contacts, touches up to ten minutes late and out of order.
    OutOfOrder,
    /// Segment Tracking API batches of 100 track and page calls.
    SegmentBatches,
}

pub const WORKLOADS: [Workload; 4] = [
    Workload::NewContacts,
    Workload::TenPerContact,
    Workload::OutOfOrder,
    Workload::SegmentBatches,
];

const KINDS: [&str; 6] = [
    "page_view",
    "email_open",
    "email_click",
    "pricing_view",
    "form_submit",
    "content_download",
];

pub struct Request {
    pub path: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn at_seconds_ago(seconds: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::NewContacts => "a new contact each",
            Workload::TenPerContact => "ten per contact",
            Workload::OutOfOrder => "out of time order",
            Workload::SegmentBatches => "Segment batches of 100",
        }
    }

    pub fn events_per_delivery(self) -> u64 {
        match self {
            Workload::SegmentBatches => 100,
            _ => 1,
        }
    }

    /// Delivery number `n` of run `run` (runs differ in ids, so none is a redelivery).
    pub fn request(self, run: u64, n: u64, signer: &standardwebhooks::Webhook) -> Request {
        if self == Workload::SegmentBatches {
            return segment_batch(run, n);
        }
        let (email, kind, late) = match self {
            Workload::NewContacts => (
                format!("r{run}n{n}@company{}.com", n % 1000),
                "form_submit",
                0,
            ),
            Workload::TenPerContact => (
                format!("r{run}p{}@company{}.com", n / 10, (n / 10) % 1000),
                KINDS[(n % 6) as usize],
                0,
            ),
            _ => (
                format!("r{run}o{}@company{}.com", n % 5000, n % 1000),
                KINDS[(n % 6) as usize],
                ((n * 7919) % 600) as i64,
            ),
        };
        let body = format!(
            r#"{{"type":"touch","data":{{"email":"{email}","kind":"{kind}","occurred_at":"{}"}}}}"#,
            at_seconds_ago(late)
        );
        let id = format!("msg_{run}_{n}");
        let timestamp = unix_seconds();
        let signature = signer
            .sign(&id, timestamp, body.as_bytes())
            .expect("the body is UTF-8");
        Request {
            path: "/webhooks/site",
            headers: vec![
                ("webhook-id", id),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", signature),
            ],
            body,
        }
    }
}

/// A batch as Segment's libraries send it (`POST /v1/batch`, write key as the Basic
/// user name): track and page calls of 20,000 people.
fn segment_batch(run: u64, n: u64) -> Request {
    let at = at_seconds_ago(0);
    let messages: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let person = (n * 100 + i) % 20_000;
            let email = format!("r{run}s{person}@company{}.com", person % 1000);
            let id = format!("seg-{run}-{n}-{i}");
            if i % 2 == 0 {
                serde_json::json!({"type": "track", "event": "Pricing Viewed", "messageId": id,
                    "userId": format!("u{person}"), "timestamp": at,
                    "context": {"traits": {"email": email}}})
            } else {
                serde_json::json!({"type": "page", "name": "Docs", "messageId": id,
                    "userId": format!("u{person}"), "timestamp": at,
                    "properties": {"path": "/docs/start"},
                    "context": {"traits": {"email": email}}})
            }
        })
        .collect();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{WRITE_KEY}:"));
    Request {
        path: "/webhooks/segment/v1/batch",
        headers: vec![("authorization", format!("Basic {auth}"))],
        body: serde_json::json!({"batch": messages, "sentAt": at}).to_string(),
    }
}

#[derive(Debug, Default, Clone)]
pub struct Sent {
    pub acked: u64,
    pub deferred: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

impl Sent {
    fn add(&mut self, other: Sent) {
        self.acked += other.acked;
        self.deferred += other.deferred;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

async fn send(client: &reqwest::Client, base: &str, request: Request) -> Result<u16, String> {
    let mut builder = client
        .post(format!("{base}{}", request.path))
        .header("content-type", "application/json")
        .body(request.body);
    for (name, value) in request.headers {
        builder = builder.header(name, value);
    }
    match builder.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            if status == 200 || status == 503 {
                Ok(status)
            } else {
                Err(format!("{status}: {}", text.trim()))
            }
        }
        Err(error) => Err(format!("request failed: {error}")),
    }
}

/// Which deliveries go when: numbers `first..first + rate × seconds` of run `run`,
/// at `rate` per second.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub run: u64,
    pub first: u64,
    pub rate: f64,
    pub seconds: f64,
}

/// Sends the scheduled deliveries of `workload`, each at its time, from `connections`
/// tasks.
pub async fn open_loop(
    client: &reqwest::Client,
    served: &Served,
    workload: Workload,
    schedule: Schedule,
    connections: usize,
) -> Sent {
    let Schedule {
        run,
        first,
        rate,
        seconds,
    } = schedule;
    let signer = Arc::new(standardwebhooks::Webhook::new(SECRET).expect("the secret is valid"));
    let total = (rate * seconds) as u64;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let base = format!("http://{}", served.address);
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, signer, next, base) =
                (client.clone(), signer.clone(), next.clone(), base.clone());
            tokio::spawn(async move {
                let mut sent = Sent::default();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= total {
                        break;
                    }
                    let due = started + Duration::from_secs_f64(index as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                    let request = workload.request(run, first + index, &signer);
                    match send(&client, &base, request).await {
                        Ok(200) => sent.acked += 1,
                        Ok(_) => sent.deferred += 1,
                        Err(error) => {
                            sent.errors += 1;
                            sent.first_error.get_or_insert(error);
                        }
                    }
                }
                sent
            })
        })
        .collect();
    let mut sent = Sent::default();
    for task in tasks {
        sent.add(task.await.expect("a sender panicked"));
    }
    sent.elapsed = started.elapsed();
    sent
}

/// Sends as fast as answers come for `seconds`: the most a server acknowledges.
pub async fn closed_loop(
    client: &reqwest::Client,
    served: &Served,
    workload: Workload,
    seconds: f64,
    connections: usize,
) -> Sent {
    let signer = Arc::new(standardwebhooks::Webhook::new(SECRET).expect("the secret is valid"));
    let next = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let base = format!("http://{}", served.address);
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, signer, next, base) =
                (client.clone(), signer.clone(), next.clone(), base.clone());
            tokio::spawn(async move {
                let mut sent = Sent::default();
                while Instant::now() < until {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    match send(&client, &base, workload.request(0, index, &signer)).await {
                        Ok(200) => sent.acked += 1,
                        Ok(_) => sent.deferred += 1,
                        Err(error) => {
                            sent.errors += 1;
                            sent.first_error.get_or_insert(error);
                        }
                    }
                }
                sent
            })
        })
        .collect();
    let mut sent = Sent::default();
    for task in tasks {
        sent.add(task.await.expect("a sender panicked"));
    }
    sent.elapsed = started.elapsed();
    sent
}
