//! Poison parking, with a real fault: a contact record written in a format this
//! build cannot read, as after rolling back an upgrade that changed the format.
//! Every delivery about that person fails to apply; after `max_attempts` tries each
//! is parked in the quarantine with its error, and the deliveries behind it are
//! applied. Once the record is readable again, the operator drops one parked
//! delivery offline with the CLI and retries the other through the admin API: it
//! is applied, once.

use crate::harness::*;
use std::time::{Duration, Instant};

const EXTRA: &str = "[pipeline]\nmax_attempts = 3\n";

async fn admin(daemon: &Daemon, method: reqwest::Method, path: &str) -> reqwest::Response {
    daemon
        .client
        .request(method, format!("{}/api/v1{path}", daemon.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("admin api")
}

async fn parked(daemon: &Daemon) -> Vec<serde_json::Value> {
    let listing: serde_json::Value = admin(daemon, reqwest::Method::GET, "/quarantine")
        .await
        .json()
        .await
        .unwrap();
    listing["quarantine"].as_array().unwrap().clone()
}

fn gauge(metrics: &str) -> Option<&str> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("attentiond_quarantined_deliveries "))
}

/// Ann's contact record (`c_<ann>`), with its first byte replaced: a record sealed
/// under her key then reads as a plain record of an unknown format.
fn set_format_byte(data: &std::path::Path, ann: u64, byte: Option<u8>) -> u8 {
    // The stopped daemon's last threads may still be letting go of the store.
    let deadline = Instant::now() + Duration::from_secs(10);
    let db = loop {
        match sled::open(data) {
            Ok(db) => break db,
            Err(error) => assert!(Instant::now() < deadline, "{error}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let contacts = db.open_tree("contacts").unwrap();
    let key = ann.to_be_bytes().to_vec();
    let value = contacts.get(&key).unwrap().expect("Ann's record");
    let was = value[0];
    if let Some(byte) = byte {
        let mut changed = value.to_vec();
        changed[0] = byte;
        contacts.insert(key, changed).unwrap();
        db.flush().unwrap();
    }
    was
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_cannot_be_applied_is_parked_and_the_ones_behind_it_are_applied() {
    let daemon = Daemon::start(EXTRA);
    daemon.touch("ann@example.com", "email_click").await;
    let view = daemon
        .wait_contact("ann@example.com", |view| view["touch_count"] == 1)
        .await;
    let ann: u64 = view["id"]
        .as_str()
        .and_then(|id| id.strip_prefix("c_"))
        .and_then(|n| n.parse().ok())
        .expect("Ann's id");
    let dir = daemon.stop();
    let data = dir.path().join("data");
    // A format byte a later version might write; this one knows 1, 2 and JSON.
    let format = set_format_byte(&data, ann, Some(0x7e));

    let daemon = Daemon::start_in(dir, EXTRA);
    daemon.touch("ann@example.com", "form_submit").await;
    daemon.touch("bob@example.com", "email_click").await;
    daemon.touch("ann@example.com", "meeting_booked").await;
    daemon.touch("carol@example.com", "email_click").await;
    for behind in ["bob@example.com", "carol@example.com"] {
        daemon
            .wait_contact(behind, |view| view["touch_count"] == 1)
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let listing = loop {
        let listing = parked(&daemon).await;
        if listing.len() == 2 {
            break listing;
        }
        assert!(Instant::now() < deadline, "parked: {listing:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    daemon.drained().await;
    for entry in &listing {
        assert_eq!(entry["source"], "site");
        assert_eq!(entry["attempts"], 3);
        assert_eq!(entry["events"], 1);
        let error = entry["error"].as_str().unwrap();
        assert!(error.contains("corrupt record in `contacts`"), "{error}");
    }
    assert_eq!(gauge(&daemon.metrics().await), Some("2"));
    let id_of = |n: usize| listing[n]["id"].as_str().unwrap().to_string();
    let (first, second) = (id_of(0), id_of(1));
    // Without the admin token nothing is changed.
    let anonymous = daemon
        .client
        .delete(format!("{}/api/v1/quarantine/{second}", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let dir = daemon.stop();

    // Readable again (rolled forward); the operator works on the store offline.
    set_format_byte(&data, ann, Some(format));
    let config = write_config(dir.path(), EXTRA);
    let config = config.to_str().unwrap();
    let (code, out, err) = run_attentiond(&["--config", config, "quarantine", "list"], &[]);
    assert_eq!(code, 0, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed["quarantine"].as_array().unwrap().len(), 2, "{out}");
    let (code, _, err) = run_attentiond(&["--config", config, "quarantine", "drop", &second], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = run_attentiond(&["--config", config, "quarantine", "drop", &second], &[]);
    assert_eq!(code, 1, "dropped already");

    let daemon = Daemon::start_in(dir, EXTRA);
    assert_eq!(parked(&daemon).await.len(), 1);
    let retried = admin(
        &daemon,
        reqwest::Method::POST,
        &format!("/quarantine/{first}/retry"),
    )
    .await;
    assert_eq!(retried.status(), 200);
    daemon
        .wait_contact("ann@example.com", |view| view["touch_count"] == 2)
        .await;
    daemon.drained().await;
    assert!(parked(&daemon).await.is_empty());
    assert_eq!(gauge(&daemon.metrics().await), Some("0"));
    let again = admin(
        &daemon,
        reqwest::Method::POST,
        &format!("/quarantine/{first}/retry"),
    )
    .await;
    assert_eq!(again.status(), 404);
    assert_eq!(
        daemon.contact("ann@example.com").await.unwrap()["touch_count"],
        2,
        "the dropped one stays dropped"
    );
}
