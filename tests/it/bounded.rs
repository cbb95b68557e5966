//! Memory stays bounded whatever was acknowledged, for real: the built binary runs
//! under a cap on its address space (RLIMIT_AS, idle size plus 512 MiB) and is sent
//! large HubSpot batches, each naming thousands of contacts it has never seen. It
//! drains them all without dying, its peak resident memory stays under a bound, and
//! a SIGKILL in the middle of the drain is followed by a restart that drains the
//! rest: every event counted exactly once.
//!
//! Before rounds were bounded by the events they hold, the same twelve deliveries
//! formed one round whose commit needed more than two gigabytes.

use crate::crash::{free_port, wait_healthy, Binary};
use crate::harness::*;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DELIVERIES: u64 = 12;
const PER_DELIVERY: u64 = 2_500;
/// Room above the idle daemon's address space.
const HEADROOM: u64 = 512 * 1024 * 1024;
/// Peak resident memory allowed (about a third of it is the 64 MiB cache and
/// the bodies in flight).
const RSS_BOUND: u64 = 700 * 1024 * 1024;

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("the daemon's status")
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} of {pid}"))
}

fn spawn(dir: &std::path::Path, port: u16, address_space: Option<u64>) -> Binary {
    let text = config_text(dir, "")
        .replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        .replace("max_body_bytes = 65536", "max_body_bytes = 1048576")
        .replace("[store]\n", "[store]\ncache_mb = 64\n");
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
    if let Some(limit) = address_space {
        // SAFETY: only setrlimit, async-signal-safe, between fork and exec.
        unsafe {
            command.pre_exec(move || {
                use nix::sys::resource::{setrlimit, Resource};
                setrlimit(Resource::RLIMIT_AS, limit, limit)?;
                Ok(())
            });
        }
    }
    Binary {
        child: command.spawn().expect("start attentiond"),
        base: format!("http://127.0.0.1:{port}"),
        config,
    }
}

/// A HubSpot webhook batch as HubSpot sends it (developers.hubspot.com/docs/api/webhooks,
/// "Example payload"): `contact.propertyChange` of `hs_email_last_click_date`, each
/// for a contact not seen before.
fn batch(delivery: u64) -> String {
    let now = chrono::Utc::now().timestamp_millis();
    let events: Vec<serde_json::Value> = (0..PER_DELIVERY)
        .map(|n| {
            let id = delivery * PER_DELIVERY + n;
            serde_json::json!({
                "objectId": 5_000_000 + id, "propertyName": "hs_email_last_click_date",
                "propertyValue": (now - 60_000).to_string(), "changeSource": "EMAIL",
                "eventId": 90_000_000 + id, "subscriptionId": 25, "portalId": 62515,
                "appId": 54321, "occurredAt": now, "subscriptionType": "contact.propertyChange",
                "attemptNumber": 0
            })
        })
        .collect();
    serde_json::Value::Array(events).to_string()
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
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

/// Waits until the inbox holds at most `pending`, checking the daemon lives.
async fn wait_pending(client: &reqwest::Client, binary: &mut Binary, pending: f64, within: u64) {
    let deadline = Instant::now() + Duration::from_secs(within);
    loop {
        if let Some(status) = binary.child.try_wait().unwrap() {
            let log = std::fs::read_to_string(binary.config.with_file_name("daemon.log"))
                .unwrap_or_default();
            let tail: String = log
                .chars()
                .rev()
                .take(3000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            panic!("the daemon died under the memory cap ({status}):\n{tail}");
        }
        if metric(client, &binary.base, "attentiond_inbox_pending")
            .await
            .is_some_and(|now| now <= pending)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the inbox never came down to {pending}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_hubspot_batches_drain_under_a_memory_cap_and_a_kill_mid_drain_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut first = spawn(dir.path(), port, None);
    wait_healthy(&first.base).await;
    let pid = first.child.id();
    let cap = status_kib(pid, "VmSize:") * 1024 + HEADROOM;
    let limited = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--as={cap}:{cap}")])
        .status()
        .expect("prlimit");
    assert!(limited.success(), "prlimit --as");

    let uri = format!("{}/webhooks/hubspot", first.base);
    for delivery in 0..DELIVERIES {
        let body = batch(delivery);
        let headers = sign_hubspot_v3(
            HUBSPOT_SECRET,
            "POST",
            &uri,
            &body,
            chrono::Utc::now().timestamp_millis(),
        );
        let mut request = client
            .post(&uri)
            .header("content-type", "application/json")
            .body(body);
        for (key, value) in headers {
            request = request.header(key, value);
        }
        let status = request.send().await.expect("acknowledged").status();
        assert_eq!(status, 200, "delivery {delivery}");
    }

    // Killed once part of the backlog is applied, in whatever round it is in.
    wait_pending(&client, &mut first, (DELIVERIES - 3) as f64, 300).await;
    let first_peak = status_kib(pid, "VmHWM:") * 1024;
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let mut second = spawn(dir.path(), port, Some(cap));
    wait_healthy(&second.base).await;
    wait_pending(&client, &mut second, 0.0, 300).await;
    let second_peak = status_kib(second.child.id(), "VmHWM:") * 1024;
    assert_eq!(
        metric(&client, &second.base, "attentiond_quarantined_deliveries").await,
        Some(0.0)
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(second.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(second.child.wait().unwrap().success(), "a clean stop");
    for (run, peak) in [("first", first_peak), ("second", second_peak)] {
        assert!(
            peak < RSS_BOUND,
            "{run} run peaked at {} MiB resident",
            peak >> 20
        );
    }

    let store = attentiond::store::Store::open(&dir.path().join("data")).unwrap();
    let mut contacts = 0;
    for id in store.contact_ids() {
        let id = id.unwrap();
        let contact = store.contact(id).unwrap().unwrap();
        assert_eq!(contact.touch_count, 1, "contact {id} counted twice");
        assert_eq!(store.touches_of(id).unwrap().len(), 1, "contact {id}");
        contacts += 1;
    }
    assert_eq!(contacts, DELIVERIES * PER_DELIVERY, "every contact, once");
}
