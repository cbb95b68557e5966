//! Load benchmark: how many signed Standard Webhooks deliveries per second the daemon
//! acknowledges durably (200 = on disk), and at what latency, next to a bare actix-web
//! server answering the same requests with an empty 200. The ratio between the two is
//! the cost of verifying, storing and fsyncing each delivery.
//!
//! After the daemon's run it also waits for `attentiond_inbox_pending 0` on `/metrics`,
//! to show how long the pipeline needs to apply everything that was acknowledged.
//!
//! ```text
//! cargo bench --bench load
//! LOAD_SECONDS=30 LOAD_CONCURRENCY=128 cargo bench --bench load
//! ```
//!
//! `LOAD_SECONDS` (default 10) is the measured duration of each run, after a short
//! warm-up; `LOAD_CONCURRENCY` (default 64) is the number of keep-alive connections,
//! each sending its next request as soon as the previous one is answered.

use actix_web::{web, App, HttpResponse, HttpServer};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const DISTINCT_EMAILS: u64 = 1000;
const WARM_UP: Duration = Duration::from_millis(1500);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// What one run measured: latencies of acknowledged requests in the measured window.
#[derive(Default)]
struct Run {
    latencies_us: Vec<u32>,
    /// Every 2xx, warm-up included: what the pipeline has to apply.
    acked_all: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        self.latencies_us[rank.clamp(1, self.latencies_us.len()) - 1] as f64 / 1000.0
    }

    fn print(&self, name: &str) {
        println!(
            "{name:<12} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>8}",
            self.per_second(),
            self.percentile_ms(50.0),
            self.percentile_ms(99.0),
            self.percentile_ms(100.0),
            self.errors
        );
        if let Some(error) = &self.first_error {
            println!("{:<12} first error: {error}", "");
        }
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}=`{text}` is not a valid number")),
        Err(_) => default,
    }
}

fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}

/// Sends signed deliveries on `concurrency` connections; only requests started after
/// the warm-up count, so connection set-up and first-touch allocations stay out.
async fn drive(client: &reqwest::Client, url: &str, concurrency: usize, seconds: u64) -> Run {
    let signer = Arc::new(standardwebhooks::Webhook::new(SECRET).expect("the secret is valid"));
    let measure_from = Instant::now() + WARM_UP;
    let measure_until = measure_from + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..concurrency)
        .map(|worker| {
            let (client, url, signer) = (client.clone(), url.to_string(), signer.clone());
            tokio::spawn(async move {
                let mut run = Run {
                    latencies_us: Vec::with_capacity(1 << 16),
                    ..Run::default()
                };
                for n in 0u64.. {
                    let id = format!("msg_{worker}_{n}");
                    let email = (worker as u64 * 7919 + n) % DISTINCT_EMAILS;
                    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                    let body = format!(
                        r#"{{"type":"touch","timestamp":"2026-11-23T10:00:00Z","data":{{"email":"user{email}@example.com","kind":"page_view","occurred_at":"{now}"}}}}"#
                    );
                    let timestamp = unix_seconds();
                    let signature = signer
                        .sign(&id, timestamp, body.as_bytes())
                        .expect("the body is UTF-8");
                    let started = Instant::now();
                    if started >= measure_until {
                        break;
                    }
                    let outcome = client
                        .post(&url)
                        .header("webhook-id", &id)
                        .header("webhook-timestamp", timestamp.to_string())
                        .header("webhook-signature", signature)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    let failure = match outcome {
                        Ok(response) if response.status().is_success() => {
                            // Reading the body keeps the connection reusable.
                            let _ = response.bytes().await;
                            None
                        }
                        Ok(response) => {
                            let status = response.status();
                            let text = response.text().await.unwrap_or_default();
                            Some(format!("{status}: {}", text.trim()))
                        }
                        Err(error) => Some(format!("request failed: {error}")),
                    };
                    if failure.is_none() {
                        run.acked_all += 1;
                    }
                    if started < measure_from {
                        continue;
                    }
                    match failure {
                        None => run
                            .latencies_us
                            .push(started.elapsed().as_micros().min(u32::MAX as u128) as u32),
                        Some(message) => {
                            run.errors += 1;
                            run.first_error.get_or_insert(message);
                        }
                    }
                }
                run
            })
        })
        .collect();
    let mut total = Run::default();
    for task in tasks {
        let run = task.await.expect("a load task panicked");
        total.latencies_us.extend(run.latencies_us);
        total.acked_all += run.acked_all;
        total.errors += run.errors;
        total.first_error = total.first_error.or(run.first_error);
    }
    // Includes the tail of requests still in flight at the deadline, so the rate is
    // never flattered.
    total.elapsed = measure_from.elapsed();
    total.latencies_us.sort_unstable();
    total
}

/// A server on its own thread and actix system, as the binary runs it.
struct Served {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    thread: JoinHandle<anyhow::Result<()>>,
}

impl Served {
    fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.thread.join().expect("the server thread panicked")
    }
}

fn start_attentiond(store: &std::path::Path) -> Served {
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"bench\"\n\
         [store]\npath = {:?}\n\
         [sources.site]\nkind = \"standard\"\nsecret = \"{SECRET}\"\n",
        store.display().to_string()
    );
    let config = attentiond::config::Config::from_toml(&toml).expect("the bench config is valid");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port for attentiond");
    let address = listener.local_addr().expect("the listener has an address");
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(attentiond::server::run(config, listener, async {
            let _ = stopped.await;
        }))
    });
    Served {
        address,
        stop,
        thread,
    }
}

fn start_bare() -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port for the bare server");
    let address = listener.local_addr().expect("the listener has an address");
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(|| {
                App::new().route(
                    "/webhooks/site",
                    web::post().to(|| async { HttpResponse::Ok().finish() }),
                )
            })
            .workers(2)
            .disable_signals()
            .listen(listener)?
            .run();
            let handle = server.handle();
            actix_web::rt::spawn(async move {
                let _ = stopped.await;
                handle.stop(true).await;
            });
            server.await?;
            Ok(())
        })
    });
    Served {
        address,
        stop,
        thread,
    }
}

/// The store opens before the listener is served; wait so the warm-up measures
/// requests rather than start-up.
async fn wait_healthy(client: &reqwest::Client, address: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = client.get(format!("http://{address}/healthz")).send().await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "attentiond did not become healthy within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `/metrics` until nothing acknowledged is left to apply; returns how long that
/// took and the touches the pipeline applied in total (warm-up included).
async fn wait_drained(client: &reqwest::Client, address: SocketAddr) -> Option<(Duration, u64)> {
    let started = Instant::now();
    while started.elapsed() < DRAIN_TIMEOUT {
        if let Ok(response) = client.get(format!("http://{address}/metrics")).send().await {
            let text = response.text().await.unwrap_or_default();
            if text
                .lines()
                .any(|line| line == "attentiond_inbox_pending 0")
            {
                let applied = text
                    .lines()
                    .filter(|line| line.starts_with("attentiond_touches_total"))
                    .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
                    .sum();
                return Some((started.elapsed(), applied));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Bytes the files under `path` take on disk (allocated blocks, not apparent length).
fn disk_use(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => disk_use(&entry.path()),
            Ok(meta) => meta.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

fn main() {
    let seconds: u64 = env_or("LOAD_SECONDS", 10);
    let concurrency: usize = env_or("LOAD_CONCURRENCY", 64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build the client runtime");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build the HTTP client");
    println!("load: {concurrency} connections, {seconds} s measured after a {WARM_UP:?} warm-up");

    let dir = tempfile::tempdir().expect("create a temporary directory");
    let daemon = start_attentiond(&dir.path().join("data"));
    let address = daemon.address;
    let (ours, drained) = runtime.block_on(async {
        wait_healthy(&client, address).await;
        let url = format!("http://{address}/webhooks/site");
        let run = drive(&client, &url, concurrency, seconds).await;
        (run, wait_drained(&client, address).await)
    });
    daemon.stop().expect("attentiond shut down cleanly");
    let store_bytes = disk_use(&dir.path().join("data"));

    let bare = start_bare();
    let url = format!("http://{}/webhooks/site", bare.address);
    let theirs = runtime.block_on(drive(&client, &url, concurrency, seconds));
    bare.stop().expect("the bare server shut down cleanly");
    drop(runtime);

    println!();
    println!(
        "{:<12} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "server", "acked/s", "p50 ms", "p99 ms", "max ms", "errors"
    );
    ours.print("attentiond");
    theirs.print("bare actix");
    println!();
    if theirs.per_second() > 0.0 {
        println!(
            "throughput attentiond / bare actix: {:.2}",
            ours.per_second() / theirs.per_second()
        );
    }
    match drained {
        Some((took, applied)) => println!(
            "pipeline drained {took:.2?} after the load stopped; {applied} touches applied of {} acked (warm-up included)",
            ours.acked_all
        ),
        None => println!("pipeline NOT drained within {DRAIN_TIMEOUT:?}: inbox still pending"),
    }
    if let Some(per_delivery) = store_bytes.checked_div(ours.acked_all) {
        println!(
            "store on disk after the run: {:.1} MiB, {per_delivery} bytes per acknowledged delivery \
             (inbox kept for audit, dedupe key, contact, touch)",
            store_bytes as f64 / (1024.0 * 1024.0),
        );
    }
    println!("targets: >= 5,000 durable acks/s, p99 < 25 ms on 2 cores");

    if ours.latencies_us.is_empty() {
        eprintln!("attentiond acknowledged no delivery; see the first error above");
        std::process::exit(1);
    }
}
