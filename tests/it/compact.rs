//! `attentiond compact` on a store the daemon wrote: after it the daemon serves the
//! same people, still refuses redeliveries and gives the next id in turn, and the
//! directory is smaller. While the daemon runs, compact refuses and says why.

use crate::crash::{free_port, spawn_binary, wait_healthy, Binary};
use crate::harness::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

const PEOPLE: usize = 60;
const DELIVERIES: usize = 1_200;

async fn post(base: &str, id: &str, body: &str) -> serde_json::Value {
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("{base}/webhooks/site"))
        .body(body.to_string());
    for (key, value) in sign_standard(SITE_SECRET, id, unix_now(), body) {
        request = request.header(key, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{body}");
    response.json().await.unwrap()
}

async fn drained(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let metrics = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("attentiond_inbox_pending 0\n") {
            return;
        }
        assert!(Instant::now() < deadline, "pipeline never drained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each person's id and touch count, as the API gives them.
async fn people(base: &str) -> Vec<(String, u64)> {
    let client = reqwest::Client::new();
    let mut found = Vec::new();
    for person in 0..PEOPLE {
        let view: serde_json::Value = client
            .get(format!(
                "{base}/api/v1/contacts/compact{person}@example.com"
            ))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        found.push((
            view["id"].as_str().unwrap().to_string(),
            view["touch_count"].as_u64().unwrap(),
        ));
    }
    found
}

fn body(delivery: usize) -> String {
    let kinds = ["page_view", "email_open", "email_click", "pricing_view"];
    touch_body(
        &format!("compact{}@example.com", delivery % PEOPLE),
        kinds[delivery % kinds.len()],
        &rfc3339_from_now(-((delivery as i64) * 60)),
    )
}

fn stop(mut daemon: Binary) {
    kill(Pid::from_raw(daemon.child.id() as i32), Signal::SIGTERM).unwrap();
    assert!(daemon.child.wait().unwrap().success(), "a clean stop");
}

fn store_bytes(path: &std::path::Path) -> u64 {
    attentiond::store::compact::directory_bytes(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_store_serves_the_same_people_in_less_space() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = spawn_binary(dir.path(), free_port());
    wait_healthy(&daemon.base).await;
    for chunk in (0..DELIVERIES).collect::<Vec<_>>().chunks(20) {
        let sends = chunk.iter().map(|&delivery| {
            let base = daemon.base.clone();
            async move { post(&base, &format!("msg_compact_{delivery}"), &body(delivery)).await }
        });
        futures_util::future::join_all(sends).await;
        // Rounds as small as the traffic's: what leaves sled's files larger than the data.
        drained(&daemon.base).await;
    }
    let before = people(&daemon.base).await;
    assert_eq!(
        before.iter().map(|(_, count)| count).sum::<u64>(),
        DELIVERIES as u64
    );

    let config = daemon.config.to_str().unwrap().to_string();
    let (code, _, stderr) = run_attentiond(&["--config", &config, "compact"], &[]);
    assert_eq!(code, 1, "compact while the daemon runs: {stderr}");
    assert!(stderr.contains("the daemon holds the store"), "{stderr}");
    assert!(stderr.contains("stop it"), "{stderr}");
    assert!(
        !stderr.contains("compacting the store"),
        "it never said it was compacting: {stderr}"
    );

    stop(daemon);
    let store = dir.path().join("data");
    let bytes_before = store_bytes(&store);
    let (code, stdout, stderr) = run_attentiond(&["--config", &config, "compact"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("compacted the store"), "{stdout}");
    assert!(
        stderr.contains("compacting the store") && stderr.contains("copied and checked touches"),
        "it says how far it got: {stderr}"
    );
    let bytes_after = store_bytes(&store);
    assert!(
        bytes_after < bytes_before,
        "{bytes_after} bytes after compaction, {bytes_before} before"
    );
    eprintln!("store: {bytes_before} bytes before compact, {bytes_after} after");

    let daemon = spawn_binary(dir.path(), free_port());
    wait_healthy(&daemon.base).await;
    assert_eq!(
        people(&daemon.base).await,
        before,
        "the same people, the same touches"
    );
    // A platform's retry of a delivery already applied still counts once.
    let retried = post(&daemon.base, "msg_compact_0", &body(0)).await;
    assert_eq!(retried["status"], "duplicate", "{retried}");
    // A new person gets the id after the last one.
    let newest = before
        .iter()
        .filter_map(|(id, _)| id.strip_prefix("c_")?.parse::<u64>().ok())
        .max()
        .unwrap();
    post(
        &daemon.base,
        "msg_compact_newcomer",
        &touch_body("compact-newcomer@example.com", "page_view", &now_rfc3339()),
    )
    .await;
    drained(&daemon.base).await;
    let view: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/contacts/compact-newcomer@example.com",
            daemon.base
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["id"], format!("c_{}", newest + 1));
    stop(daemon);
}
