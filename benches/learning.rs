//! Learning proved on a market with known truth, through the real webhook path.
//! The simulator (`attentiond simulate`) writes a year of a market whose buying
//! journeys are hidden; every line is posted to the daemon on 127.0.0.1 as a signed
//! Standard Webhooks delivery to a `standard` source, the daemon applies them, and
//! then, the daemon stopped, `attentiond learn` learns, `--apply` puts the learned
//! scoring in force, and `learn` again measures it. The tables: AUC and top-decile
//! lift of the default scoring against the learned one, for people and accounts, on
//! the same validation weeks; the simulator's true drivers beside the learned
//! weights' order. It fails (exit 1) unless the learned score's AUC for people is at
//! least 0.05 above the default's.
//!
//! ```text
//! cargo bench --bench learning
//! LEARN_ACCOUNTS=300 LEARN_DAYS=365 LEARN_SEED=7 LEARN_CONCURRENCY=32 cargo bench --bench learning
//! ```

use attentiond::learn::simulate::{generate, Market, TRUE_DRIVERS};
use serde_json::Value;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// What the learned score must add to the default's AUC for people.
const MUST_GAIN: f64 = 0.05;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}=`{text}` is not a valid number")),
        Err(_) => default,
    }
}

fn config_text(store: &std::path::Path) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
log_format = "json"

[store]
path = "{}"

[sources.site]
kind = "standard"
secret = "{SECRET}"
"#,
        store.display()
    )
}

struct Daemon {
    address: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<anyhow::Result<()>>,
}

fn start(config: &str) -> Daemon {
    let config = attentiond::config::Config::from_toml(config).expect("the bench config is valid");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let address = listener.local_addr().expect("a local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(attentiond::server::run(config, listener, async {
            let _ = stopped.await;
        }))
    });
    Daemon {
        address,
        stop,
        thread,
    }
}

/// The line's payload as a webhook body (its `id` becomes the delivery's
/// `webhook-id`), signed as a Standard Webhooks sender signs it.
fn delivery(signer: &standardwebhooks::Webhook, line: &Value) -> (String, i64, String, String) {
    let mut payload = line.clone();
    let id = payload
        .as_object_mut()
        .and_then(|o| o.remove("id"))
        .and_then(|id| id.as_str().map(str::to_string))
        .expect("every simulated line has an id");
    let body = payload.to_string();
    let timestamp = chrono::Utc::now().timestamp();
    let signature = signer
        .sign(&id, timestamp, body.as_bytes())
        .expect("the body is UTF-8");
    (id, timestamp, signature, body)
}

/// Posts every line on `concurrency` connections; a 503 or 429 (the daemon's
/// backpressure) is retried after its `Retry-After`, as a sender would.
async fn post_all(address: SocketAddr, lines: Arc<Vec<Value>>, concurrency: usize) -> u64 {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let signer = Arc::new(standardwebhooks::Webhook::new(SECRET).expect("the secret is valid"));
    let url = format!("http://{address}/webhooks/site");
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, signer, url, lines, next) = (
                client.clone(),
                signer.clone(),
                url.clone(),
                lines.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                let mut retried = 0u64;
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(line) = lines.get(index) else {
                        return retried;
                    };
                    loop {
                        let (id, timestamp, signature, body) = delivery(&signer, line);
                        let answer = client
                            .post(&url)
                            .header("webhook-id", id)
                            .header("webhook-timestamp", timestamp.to_string())
                            .header("webhook-signature", signature)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await
                            .expect("the daemon answers");
                        let status = answer.status().as_u16();
                        if status == 503 || status == 429 {
                            retried += 1;
                            let wait = answer
                                .headers()
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok()?.parse().ok())
                                .unwrap_or(1);
                            tokio::time::sleep(Duration::from_secs(wait)).await;
                            continue;
                        }
                        assert!(
                            answer.status().is_success(),
                            "delivery {index} refused: {status} {}",
                            answer.text().await.unwrap_or_default()
                        );
                        break;
                    }
                }
            })
        })
        .collect();
    let mut retried = 0;
    for task in tasks {
        retried += task.await.expect("a sender task");
    }
    retried
}

async fn wait_drained(address: SocketAddr) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        if let Ok(answer) = client.get(format!("http://{address}/metrics")).send().await {
            let text = answer.text().await.unwrap_or_default();
            if text
                .lines()
                .any(|line| line == "attentiond_inbox_pending 0")
            {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the pipeline did not apply every delivery within 10 minutes");
}

/// `attentiond --config <config> <args>`: stdout, or a panic with stderr.
fn attentiond(config: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_attentiond"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run attentiond");
    assert!(
        output.status.success(),
        "attentiond {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The suggestion `learn --json` prints (before its last line of advice).
fn learned(config: &std::path::Path, args: &[&str]) -> Value {
    let mut all = vec!["learn", "--json"];
    all.extend_from_slice(args);
    let out = attentiond(config, &all);
    let end = out.rfind('}').expect("a JSON suggestion") + 1;
    serde_json::from_str(&out[..end]).expect("the suggestion is JSON")
}

fn row(name: &str, metrics: &Value) -> String {
    format!(
        "| {name:<58} | {:>5.3} | {:>15.2} |",
        metrics["auc"].as_f64().unwrap_or(f64::NAN),
        metrics["top_decile_lift"].as_f64().unwrap_or(f64::NAN)
    )
}

fn memories(suggestion: &Value) -> String {
    match suggestion["short_half_life_days"].as_f64() {
        Some(short) => format!("{short} d + {} d", suggestion["half_life_days"]),
        None => format!("half-life {} d", suggestion["half_life_days"]),
    }
}

fn main() {
    let market = Market {
        accounts: env_or("LEARN_ACCOUNTS", 300),
        days: env_or("LEARN_DAYS", 365),
        seed: env_or("LEARN_SEED", 7),
    };
    let concurrency: usize = env_or("LEARN_CONCURRENCY", 32);
    let lines = generate(&market, chrono::Utc::now().timestamp_millis());
    println!(
        "learning: a market of {} accounts over {} days (seed {}): {} deliveries, {concurrency} connections",
        market.accounts,
        market.days,
        market.seed,
        lines.len()
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config_path = dir.path().join("attentiond.toml");
    let config = config_text(&dir.path().join("data"));
    std::fs::write(&config_path, &config).expect("write the config");

    let daemon = start(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a client runtime");
    let started = Instant::now();
    let count = lines.len();
    let retried = runtime.block_on(post_all(daemon.address, Arc::new(lines), concurrency));
    let posted = started.elapsed();
    runtime.block_on(wait_drained(daemon.address));
    let applied = started.elapsed();
    let _ = daemon.stop.send(());
    daemon
        .thread
        .join()
        .expect("the daemon thread")
        .expect("the daemon stopped cleanly");
    println!(
        "webhooks: {count} acknowledged in {posted:.1?} ({:.0}/s, {retried} retried after 503), all applied after {applied:.1?}",
        count as f64 / posted.as_secs_f64()
    );

    let started = Instant::now();
    let default = learned(&config_path, &[]);
    let learning = started.elapsed();
    let two = learned(&config_path, &["--memories", "2", "--bootstrap", "5"]);
    let applied = attentiond(&config_path, &["learn", "--apply", "--bootstrap", "5"]);
    let applied_line = applied
        .lines()
        .find(|l| l.starts_with("applied as"))
        .unwrap_or_default()
        .to_string();
    // Learning again measures the scoring now in force on the same validation weeks.
    let after = learned(&config_path, &["--bootstrap", "1"]);
    println!("learn: {learning:.1?}; {applied_line}");
    println!(
        "validation: {} to {} ({} training snapshots, {} followed by an opportunity)",
        default["window"]["validate_from"]
            .as_str()
            .unwrap_or_default(),
        default["window"]["validate_to"]
            .as_str()
            .unwrap_or_default(),
        default["window"]["train_rows"],
        default["window"]["train_positives"]
    );

    println!();
    println!("| {:<58} | {:>5} | {:>15} |", "", "AUC", "top-decile lift");
    println!("|{:-<60}|{:->7}|{:->17}|", "", "", "");
    let people_default = &default["people"]["current"];
    let people_learned = &after["people"]["current"];
    println!(
        "{}",
        row("people, default scoring (half-life 14 d)", people_default)
    );
    println!(
        "{}",
        row(
            &format!("people, learned scoring applied ({})", memories(&default)),
            people_learned
        )
    );
    println!(
        "{}",
        row(
            &format!(
                "people, learned with two memories ({}), validated",
                memories(&two)
            ),
            &two["people"]["learned"]
        )
    );
    println!(
        "{}",
        row(
            "accounts, default account score",
            &default["accounts"]["current"]
        )
    );
    println!(
        "{}",
        row(
            "accounts, account score under the learned scoring",
            &after["accounts"]["current"]
        )
    );
    println!(
        "{}",
        row(
            "accounts, model of members' attention and breadth",
            &default["accounts"]["learned"]
        )
    );

    let weights: Vec<(String, f64)> = default["weights"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|w| {
                    let worth =
                        w["weight"].as_f64().unwrap_or(0.0) + w["short"].as_f64().unwrap_or(0.0);
                    (w["kind"].as_str().unwrap_or_default().to_string(), worth)
                })
                .collect()
        })
        .unwrap_or_default();
    println!();
    println!(
        "| true order | simulator's driver | learned points per touch | learned rank of 21 kinds |"
    );
    println!("|---|---|---|---|");
    let mut learned_points = Vec::new();
    for (order, kind) in TRUE_DRIVERS.iter().enumerate() {
        let rank = weights.iter().position(|(k, _)| k == kind);
        let points = rank.map_or(0.0, |r| weights[r].1);
        learned_points.push(points);
        println!(
            "| {} | {kind} | {points:.1} | {} |",
            order + 1,
            rank.map_or("–".to_string(), |r| (r + 1).to_string())
        );
    }
    let kept = learned_points.windows(2).all(|w| w[0] > w[1]);
    println!(
        "learned order of the true drivers: {}; learned first: {} ({:.1})",
        if kept {
            "the true order"
        } else {
            "NOT the true order"
        },
        weights.first().map_or("", |(k, _)| k.as_str()),
        weights.first().map_or(0.0, |(_, p)| *p)
    );

    let gain = people_learned["auc"].as_f64().unwrap_or(0.0)
        - people_default["auc"].as_f64().unwrap_or(1.0);
    println!();
    if gain >= MUST_GAIN {
        println!("PASS: the learned score's AUC for people is {gain:.3} above the default's (at least {MUST_GAIN})");
    } else {
        println!("FAIL: the learned score's AUC for people is {gain:.3} above the default's; at least {MUST_GAIN} was expected");
        std::process::exit(1);
    }
}
