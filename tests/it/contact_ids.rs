//! Contact ids as people and links see them (`c_<n>`): given one after another,
//! never given twice, not even after a merge took the newest one away, a `kill -9`,
//! or a copy of the store put back from a backup.

use crate::crash::{free_port, spawn_binary, wait_healthy, Binary};
use crate::harness::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

async fn send(base: &str, body: &str) {
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("{base}/webhooks/site"))
        .body(body.to_string());
    for (key, value) in sign_standard(SITE_SECRET, &delivery_id("ids"), unix_now(), body) {
        request = request.header(key, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200, "{body}");
}

/// Sends a touch for `email` and returns the id the person was given.
async fn new_person(base: &str, email: &str) -> u64 {
    send(base, &touch_body(email, "form_submit", &now_rfc3339())).await;
    id_of(base, email).await
}

async fn id_of(base: &str, key: &str) -> u64 {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let response = client
            .get(format!("{base}/api/v1/contacts/{key}"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            let view: serde_json::Value = response.json().await.unwrap();
            let id = view["id"].as_str().unwrap().to_string();
            return id
                .strip_prefix("c_")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("contact id {id} is not c_<n>"));
        }
        assert!(std::time::Instant::now() < deadline, "{key} never appeared");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn stop(mut daemon: Binary, signal: Signal) {
    kill(Pid::from_raw(daemon.child.id() as i32), signal).unwrap();
    daemon.child.wait().unwrap();
}

async fn start(dir: &std::path::Path) -> Binary {
    let daemon = spawn_binary(dir, free_port());
    wait_healthy(&daemon.base).await;
    daemon
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_ids_follow_on_across_restarts_and_are_never_given_twice() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path()).await;
    let first = new_person(&daemon.base, "ids-ann@example.com").await;
    let second = new_person(&daemon.base, "ids-bob@example.com").await;
    assert_eq!(second, first + 1, "ids are given one after another");
    stop(daemon, Signal::SIGTERM);

    // A restart continues where the last person left off, not millions further.
    let daemon = start(dir.path()).await;
    let third = new_person(&daemon.base, "ids-cid@example.com").await;
    assert_eq!(third, second + 1, "a restart does not skip ids");

    // An anonymous visitor gets the newest id, then turns out to be Cid: the
    // visitor's contact is merged away, and with it the highest id in the store.
    let visitor = r#"{"type":"touch","data":{"anonymous_id":"ids-visitor","kind":"pricing_view","occurred_at":"OCCURRED"}}"#
        .replace("OCCURRED", &now_rfc3339());
    send(&daemon.base, &visitor).await;
    let merged_away = id_of(&daemon.base, "anon:ids-visitor").await;
    assert_eq!(merged_away, third + 1);
    send(
        &daemon.base,
        r#"{"type":"identify","data":{"anonymous_id":"ids-visitor","email":"ids-cid@example.com"}}"#,
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while id_of(&daemon.base, "anon:ids-visitor").await != third {
        assert!(std::time::Instant::now() < deadline, "never merged");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Killed outright: the next person after the restart still gets a fresh id.
    stop(daemon, Signal::SIGKILL);
    let daemon = start(dir.path()).await;
    let fourth = new_person(&daemon.base, "ids-dee@example.com").await;
    assert_eq!(
        fourth,
        merged_away + 1,
        "the merged-away id is not given again"
    );
    stop(daemon, Signal::SIGTERM);

    // A backup of the stopped store, then more people, then the backup put back.
    let backup = dir.path().join("backup");
    copy_dir(&dir.path().join("data"), &backup);
    let daemon = start(dir.path()).await;
    new_person(&daemon.base, "ids-eve@example.com").await;
    stop(daemon, Signal::SIGTERM);
    std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    std::fs::rename(&backup, dir.path().join("data")).unwrap();
    let daemon = start(dir.path()).await;
    assert_eq!(id_of(&daemon.base, "ids-dee@example.com").await, fourth);
    let after_restore = new_person(&daemon.base, "ids-fay@example.com").await;
    for (held, email) in [
        (first, "ids-ann"),
        (second, "ids-bob"),
        (third, "ids-cid"),
        (fourth, "ids-dee"),
    ] {
        assert_ne!(after_restore, held, "{email}'s id given to someone else");
        assert_eq!(
            id_of(&daemon.base, &format!("{email}@example.com")).await,
            held
        );
    }
    assert_eq!(after_restore, fourth + 1);
    stop(daemon, Signal::SIGTERM);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
