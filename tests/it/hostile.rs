//! The front door under attack, for real: the built binary takes gzip bombs, bodies
//! sent a byte at a time and a crowd of strangers, while its memory is read from
//! `/proc/<pid>/status` and real deliveries are still answered.

use crate::crash::{free_port, wait_healthy, Binary};
use crate::harness::*;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PIPEDRIVE: &str = r#"
[sources.pipedrive]
kind = "pipedrive"
username = "hooks"
password = "pipedrive-password"
"#;

/// Starts `attentiond serve` with the test config, `server` keys replacing the body
/// limit, and the Pipedrive source (HTTP Basic, checked before the body).
fn spawn(dir: &std::path::Path, server: &str) -> Binary {
    let port = free_port();
    let text = config_text(dir, PIPEDRIVE)
        .replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        .replace("max_body_bytes = 65536", server);
    let config = dir.join("attentiond.toml");
    std::fs::write(&config, text).expect("config");
    let log = std::fs::File::create(dir.join("daemon.log")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_attentiond"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start attentiond");
    Binary {
        child,
        base: format!("http://127.0.0.1:{port}"),
        config,
    }
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// Samples a process's resident memory until stopped; the highest value seen.
struct PeakRss {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PeakRss {
    fn watch(pid: u32) -> PeakRss {
        let peak = Arc::new(AtomicU64::new(rss(pid)));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak, stop) = (peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss(pid), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        PeakRss {
            peak,
            stop,
            thread: Some(thread),
        }
    }

    fn peak(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("sampler");
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// 1 MB of gzip that inflates to 1,000 MiB of zeros, made by `gzip -9` once and kept
/// beside the build.
fn gzip_bomb() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bomb-1000MiB.gz");
    if let Ok(bomb) = std::fs::read(&path) {
        return bomb;
    }
    let made = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c 1048576000 /dev/zero | gzip -9 > {0}.part && mv {0}.part {0}",
            path.display()
        ))
        .status()
        .expect("gzip");
    assert!(made.success(), "gzip -9 made no bomb");
    std::fs::read(&path).expect("bomb")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

/// "Create person" of Pipedrive's webhooks v2 examples
/// (pipedrive.readme.io/docs/webhooks-v2-migration-guide), with fresh ids and times.
fn pipedrive_person(event_id: &str, id: u64, email: &str) -> String {
    serde_json::json!({
        "data": {
            "add_time": now_rfc3339(), "custom_fields": {},
            "emails": [{"label": "work", "value": email, "primary": true}],
            "first_name": "Dana", "id": id, "label": null, "last_name": "Reyes", "name": "Dana Reyes",
            "owner_id": 12415231, "update_time": now_rfc3339(), "visible_to": "3"
        },
        "previous": null,
        "meta": {
            "action": "create", "company_id": "8087566", "correlation_id": format!("corr-{event_id}"),
            "entity_id": id.to_string(), "entity": "person", "id": event_id, "is_bulk_edit": false,
            "timestamp": now_rfc3339(), "type": "general", "user_id": "12415231", "version": "2.0",
            "webhook_id": "4710827", "webhook_owner_id": "12094821", "change_source": "app",
            "attempt": 1, "host": "pd-us.pipedrive.com"
        }
    })
    .to_string()
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Sends `head` and `body` on a raw connection and reads the status line of the
/// answer; the body may be cut short by the answer, as a refusal does.
async fn raw_request(address: &str, head: &str, body: &[u8]) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    stream.write_all(head.as_bytes()).await.ok()?;
    let _ = stream.write_all(body).await;
    read_status(&mut stream).await
}

async fn read_status(stream: &mut tokio::net::TcpStream) -> Option<u16> {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

fn head(path: &str, length: usize, extra: &[(String, String)]) -> String {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n"
    );
    for (key, value) in extra {
        head.push_str(&format!("{key}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gzip_bombs_cost_no_more_than_the_body_limit_and_strangers_none() {
    let bomb = Arc::new(gzip_bomb());
    assert!(bomb.len() < 1_100_000, "{} bytes", bomb.len());
    let dir = tempfile::tempdir().unwrap();
    let daemon = spawn(dir.path(), "max_body_bytes = 1048576");
    wait_healthy(&daemon.base).await;
    let address = daemon.base.trim_start_matches("http://").to_string();
    let pid = daemon.child.id();
    // A real delivery first, so that what start-up allocates is in the baseline.
    let client = reqwest::Client::new();
    let warm = touch_body("warm@example.com", "page_view", &now_rfc3339());
    let headers = sign_standard(SITE_SECRET, &delivery_id("bomb"), unix_now(), &warm);
    let mut request = client
        .post(format!("{}/webhooks/site", daemon.base))
        .body(warm);
    for (key, value) in &headers {
        request = request.header(key, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
    let before = rss(pid);
    let peak = PeakRss::watch(pid);

    // 16 bombs to a signed source (the body must be inflated to check its signature)
    // and 16 to Pipedrive without its Basic credentials (refused before the body).
    let mut attacks = Vec::new();
    for n in 0..32 {
        let (bomb, address) = (bomb.clone(), address.clone());
        attacks.push(tokio::spawn(async move {
            let (path, credentials) = if n % 2 == 0 {
                let signed = sign_standard(SITE_SECRET, &format!("bomb-{n}"), unix_now(), "{}");
                ("/webhooks/site", signed)
            } else {
                ("/webhooks/pipedrive", Vec::new())
            };
            let mut extra = credentials;
            extra.push(("content-encoding".into(), "gzip".into()));
            let status = raw_request(&address, &head(path, bomb.len(), &extra), &bomb).await;
            (path, status)
        }));
    }
    // Real deliveries are answered meanwhile, a gzip one among them.
    let body = touch_body("during-bomb@example.com", "form_submit", &now_rfc3339());
    let mut signed = sign_standard(SITE_SECRET, &delivery_id("bomb"), unix_now(), &body);
    signed.push(("content-encoding".into(), "gzip".into()));
    let packed = gzip(body.as_bytes());
    let mut request = client
        .post(format!("{}/webhooks/site", daemon.base))
        .header("content-type", "application/json")
        .body(packed);
    for (key, value) in &signed {
        request = request.header(key, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
    let good = pipedrive_person("bomb-check", 9, "pd@example.com");
    let answer = client
        .post(format!("{}/webhooks/pipedrive", daemon.base))
        .header("authorization", basic("hooks", "pipedrive-password"))
        .header("content-type", "application/json")
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    for attack in attacks {
        let (path, status) = attack.await.unwrap();
        let expected = if path == "/webhooks/site" {
            // Inflated up to the limit, then refused; or turned away when the budget
            // for strangers was spent by the others.
            [413, 503]
        } else {
            [401, 401]
        };
        assert!(
            status.is_some_and(|status| expected.contains(&status)),
            "{path}: {status:?}"
        );
    }
    let peak = peak.peak();
    let grown = peak.saturating_sub(before);
    eprintln!(
        "gzip bombs: RSS {} MiB before, {} MiB at the peak",
        before / MIB,
        peak / MIB
    );
    // Each of 16 inflations stops at 1 MiB of output: tens of MiB at most, where
    // inflating whole took 130–270 MB each.
    assert!(grown < 96 * MIB, "RSS grew by {} MiB", grown / MIB);
    daemon_still_serves(&daemon.base).await;
}

/// A signed touch is still acknowledged.
async fn daemon_still_serves(base: &str) {
    let body = touch_body("after@example.com", "page_view", &now_rfc3339());
    let headers = sign_standard(SITE_SECRET, &delivery_id("after"), unix_now(), &body);
    let mut request = reqwest::Client::new()
        .post(format!("{base}/webhooks/site"))
        .header("content-type", "application/json")
        .body(body);
    for (key, value) in &headers {
        request = request.header(key, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_bodies_hold_no_declared_memory_and_time_out() {
    const CONNECTIONS: usize = 400;
    let dir = tempfile::tempdir().unwrap();
    let daemon = spawn(
        dir.path(),
        "max_body_bytes = 1048576\nbody_timeout_secs = 3",
    );
    wait_healthy(&daemon.base).await;
    daemon_still_serves(&daemon.base).await;
    let address = daemon.base.trim_start_matches("http://").to_string();
    let pid = daemon.child.id();
    let before = rss(pid);

    // Each declares a body of 1,000,000 bytes and sends a byte every half second.
    let mut slow = Vec::new();
    for n in 0..CONNECTIONS {
        let address = address.clone();
        slow.push(tokio::spawn(async move {
            let signed = sign_standard(SITE_SECRET, &format!("slow-{n}"), unix_now(), "{}");
            let mut stream = tokio::net::TcpStream::connect(&address).await.ok()?;
            stream
                .write_all(head("/webhooks/site", 1_000_000, &signed).as_bytes())
                .await
                .ok()?;
            let started = tokio::time::Instant::now();
            // A byte every half second until the daemon answers (or 20 s, which would
            // be a failure); the answer is looked for before each byte is sent, so that
            // nothing is sent to a connection the daemon has closed.
            while started.elapsed() < Duration::from_secs(20) {
                let mut peek = [0u8; 1];
                if tokio::time::timeout(Duration::from_millis(500), stream.peek(&mut peek))
                    .await
                    .is_ok()
                {
                    break;
                }
                if stream.write_all(b" ").await.is_err() {
                    break;
                }
            }
            read_status(&mut stream).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let held = rss(pid);
    // Real deliveries are answered while the slow ones hang on.
    daemon_still_serves(&daemon.base).await;
    let mut statuses = Vec::new();
    for connection in slow {
        statuses.push(connection.await.unwrap());
    }
    eprintln!(
        "{CONNECTIONS} slow bodies: RSS {} MiB before, {} MiB while held",
        before / MIB,
        held / MIB
    );
    // Reserving the declared length took about 1 MiB a connection.
    let grown = held.saturating_sub(before);
    assert!(
        grown < 64 * MIB,
        "{CONNECTIONS} slow connections grew RSS by {} MiB",
        grown / MIB
    );
    let mut answers = std::collections::BTreeMap::new();
    for status in &statuses {
        *answers.entry(format!("{status:?}")).or_insert(0) += 1;
    }
    assert_eq!(answers.get("Some(408)"), Some(&CONNECTIONS), "{answers:?}");
    daemon_still_serves(&daemon.base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strangers_share_one_memory_budget_and_known_senders_pass() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = spawn(
        dir.path(),
        "max_body_bytes = 262144\nbody_timeout_secs = 3\nmax_unverified_bytes = 1048576",
    );
    wait_healthy(&daemon.base).await;
    let address = daemon.base.trim_start_matches("http://").to_string();

    // Strangers each send 100 KB of a 200 KB body and wait: each holds a share.
    let mut held = Vec::new();
    let mut refused = None;
    for n in 0..20 {
        let signed = sign_standard(SITE_SECRET, &format!("crowd-{n}"), unix_now(), "{}");
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(head("/webhooks/site", 200_000, &signed).as_bytes())
            .await
            .unwrap();
        let _ = stream.write_all(&[b' '; 100_000]).await;
        let mut peek = [0u8; 1];
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(300), stream.peek(&mut peek)).await
        {
            let mut answer = vec![0u8; 4096];
            let read = stream.read(&mut answer).await.unwrap();
            refused = Some((n, String::from_utf8_lossy(&answer[..read]).into_owned()));
            break;
        }
        held.push(stream);
    }
    let (n, answer) = refused.expect("the budget was never spent");
    assert!(n >= 3, "refused after {n} strangers: {answer}");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 5"),
        "{answer}"
    );
    assert!(answer.contains("application/problem+json"), "{answer}");

    // A sender whose credentials are in the head is no stranger: it passes.
    let good = pipedrive_person("crowd-pd", 10, "crowd@example.com");
    let answer = reqwest::Client::new()
        .post(format!("{}/webhooks/pipedrive", daemon.base))
        .header("authorization", basic("hooks", "pipedrive-password"))
        .header("content-type", "application/json")
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    // Once the strangers time out, their share is free again.
    drop(held);
    tokio::time::sleep(Duration::from_millis(500)).await;
    daemon_still_serves(&daemon.base).await;
}

#[tokio::test]
async fn log_lines_quote_what_was_sent_only_in_short() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = spawn(dir.path(), "max_body_bytes = 262144");
    wait_healthy(&daemon.base).await;
    let client = reqwest::Client::new();
    // A 60 KB kind name, a 60 KB HubSpot value where a number belongs, a 4 KB path.
    let body = touch_body("log@example.com", &"k".repeat(60_000), &now_rfc3339());
    let headers = sign_standard(SITE_SECRET, "log-1", unix_now(), &body);
    let mut request = client
        .post(format!("{}/webhooks/site", daemon.base))
        .body(body);
    for (key, value) in &headers {
        request = request.header(key, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 400);
    let body =
        serde_json::json!([{"eventId": "x".repeat(60_000), "subscriptionType": "contact.creation",
        "objectId": 1, "occurredAt": 1}])
        .to_string();
    let uri = format!("{}/webhooks/hubspot", daemon.base);
    let now = chrono::Utc::now().timestamp_millis();
    let headers = sign_hubspot_v3(HUBSPOT_SECRET, "POST", &uri, &body, now);
    let mut request = client.post(&uri).body(body);
    for (key, value) in &headers {
        request = request.header(key, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 400);
    let name = "n".repeat(4_000);
    let answer = client
        .post(format!("{}/webhooks/{name}", daemon.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);

    let log = std::fs::read_to_string(dir.path().join("daemon.log")).expect("log");
    let refused = log
        .lines()
        .filter(|l| l.contains("Webhook refused"))
        .count();
    assert_eq!(refused, 2, "{log}");
    assert!(log.contains("Webhook for an unknown source"), "{log}");
    for line in log.lines() {
        assert!(line.len() < 1024, "a log line of {} bytes", line.len());
    }
}

/// Credentials and signature headers outside the body are checked before a byte of
/// it is read: a request that declares a body and never sends it is answered at once,
/// with the reason, not after the body timeout.
#[tokio::test]
async fn what_the_head_lacks_is_refused_before_the_body_is_read() {
    let daemon = Daemon::start(PIPEDRIVE);
    let address = daemon.base.trim_start_matches("http://").to_string();
    let stale = sign_hubspot_v3(
        HUBSPOT_SECRET,
        "POST",
        &format!("{}/webhooks/hubspot", daemon.base),
        "[]",
        chrono::Utc::now().timestamp_millis() - 3_600_000,
    );
    let unsigned: Vec<(String, String)> = Vec::new();
    let wrong_basic = vec![("authorization".to_string(), basic("hooks", "wrong"))];
    for (path, headers) in [
        ("/webhooks/site", &unsigned),
        ("/webhooks/hubspot", &stale),
        ("/webhooks/hubspot", &unsigned),
        ("/webhooks/pipedrive", &unsigned),
        ("/webhooks/pipedrive", &wrong_basic),
    ] {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(head(path, 60_000, headers).as_bytes())
            .await
            .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(30), read_status(&mut stream))
            .await
            .expect("an answer");
        assert_eq!(status, Some(401), "{path} {headers:?}");
    }
    let metrics = daemon.metrics().await;
    assert!(
        metrics.contains(r#"attentiond_webhooks_total{source="hubspot",status="401"} 2"#),
        "{metrics}"
    );
}
