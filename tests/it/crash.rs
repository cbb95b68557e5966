//! The durability promise, tested for real: the built binary is killed with SIGKILL
//! in the middle of a stream of deliveries; nothing acknowledged is lost, and
//! re-sending everything afterwards counts every delivery exactly once.

use crate::harness::*;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CONTACTS: usize = 100;
const PER_CONTACT: usize = 30;
const CLIENTS: usize = 32;

pub struct Binary {
    pub child: Child,
    pub base: String,
    pub config: std::path::PathBuf,
}

/// A test that fails half-way still stops the daemon it started.
impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes a config for `dir` listening on `port` and starts `attentiond serve`.
pub fn spawn_binary(dir: &std::path::Path, port: u16) -> Binary {
    spawn_binary_with(dir, port, |_| {})
}

/// As [`spawn_binary`], with `prepare` adjusting the command first.
pub fn spawn_binary_with(
    dir: &std::path::Path,
    port: u16,
    prepare: impl FnOnce(&mut Command),
) -> Binary {
    let text = config_text(dir, "").replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    let config = dir.join("attentiond.toml");
    std::fs::write(&config, text).unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("daemon.log"))
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_attentiond"));
    command
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(log);
    prepare(&mut command);
    let child = command.spawn().expect("start attentiond");
    Binary {
        child,
        base: format!("http://127.0.0.1:{port}"),
        config,
    }
}

pub async fn wait_healthy(base: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await {
            if response.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "daemon never became healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn drained(base: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("attentiond_inbox_pending 0\n") {
            return;
        }
        assert!(Instant::now() < deadline, "pipeline never drained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn touch_counts(base: &str) -> Vec<u64> {
    let client = reqwest::Client::new();
    let mut counts = Vec::new();
    for contact in 0..CONTACTS {
        let response = client
            .get(format!("{base}/api/v1/contacts/crash{contact}@example.com"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        counts.push(match response.status().as_u16() {
            200 => response.json::<serde_json::Value>().await.unwrap()["touch_count"]
                .as_u64()
                .unwrap(),
            _ => 0,
        });
    }
    counts
}

/// Sends every delivery once from `CLIENTS` concurrent clients; returns which were
/// acknowledged. `on_ack` sees the running count.
async fn send_all(base: &str, on_ack: impl Fn(usize) + Send + Sync + 'static) -> Vec<bool> {
    let total = CONTACTS * PER_CONTACT;
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(Mutex::new(vec![false; total]));
    let count = Arc::new(AtomicUsize::new(0));
    let on_ack = Arc::new(on_ack);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (next, acked, count, on_ack, client, base) = (
            next.clone(),
            acked.clone(),
            count.clone(),
            on_ack.clone(),
            client.clone(),
            base.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= total {
                    return;
                }
                let body = touch_body(
                    &format!("crash{}@example.com", n % CONTACTS),
                    "page_view",
                    &now_rfc3339(),
                );
                let id = format!("crash-{n}");
                let mut request = client
                    .post(format!("{base}/webhooks/site"))
                    .body(body.clone());
                for (key, value) in sign_standard(SITE_SECRET, &id, unix_now(), &body) {
                    request = request.header(key, value);
                }
                if let Ok(response) = request.send().await {
                    if response.status() == 200 {
                        acked.lock().unwrap()[n] = true;
                        on_ack(count.fetch_add(1, Ordering::SeqCst) + 1);
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_nothing_acknowledged_and_counts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let first = spawn_binary(dir.path(), port);
    wait_healthy(&first.base).await;
    let pid = first.child.id();
    let killed = Arc::new(std::sync::Once::new());
    let base = first.base.clone();
    let acked = send_all(&base, move |count| {
        if count >= 1000 {
            killed.call_once(|| {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            });
        }
    })
    .await;
    let mut first = first;
    let status = first.child.wait().unwrap();
    assert!(
        !status.success(),
        "the daemon was killed, not stopped: {status:?}"
    );
    let acked_total = acked.iter().filter(|a| **a).count();
    assert!(
        (1000..CONTACTS * PER_CONTACT).contains(&acked_total),
        "killed mid-stream after {acked_total} acks"
    );

    let mut second = spawn_binary(dir.path(), port);
    wait_healthy(&second.base).await;
    drained(&second.base).await;
    let after_crash = touch_counts(&second.base).await;
    for contact in 0..CONTACTS {
        let acknowledged = (0..PER_CONTACT)
            .filter(|i| acked[i * CONTACTS + contact])
            .count() as u64;
        assert!(
            after_crash[contact] >= acknowledged,
            "contact {contact}: {acknowledged} acknowledged but {} applied after kill -9",
            after_crash[contact]
        );
        assert!(after_crash[contact] <= PER_CONTACT as u64);
    }

    // The senders retry everything, as platforms do after failures.
    let resent = send_all(&second.base, |_| {}).await;
    assert!(
        resent.iter().all(|a| *a),
        "every redelivery is acknowledged"
    );
    drained(&second.base).await;
    let exact = touch_counts(&second.base).await;
    assert_eq!(exact, vec![PER_CONTACT as u64; CONTACTS]);
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}
