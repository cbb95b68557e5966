//! Retention of dedupe ids: a redelivery inside the window is refused as a
//! duplicate; once the window has passed, the id is forgotten and the same delivery
//! counts again. The window here is three seconds (`dedupe_retention_days` takes
//! fractions); the store's size and the age of what each tree keeps are on
//! `/metrics`.

use crate::harness::*;
use std::time::{Duration, Instant};

/// Three seconds, in days.
const EXTRA: &str = "dedupe_retention_days = 0.0000347\n";

fn gauge(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn a_duplicate_is_refused_inside_the_window_and_its_id_forgotten_after() {
    let dir = tempfile::tempdir().unwrap();
    // The key belongs to [store], which the harness's config opens.
    let text = config_text(dir.path(), "").replace("[store]\n", &format!("[store]\n{EXTRA}"));
    let config = attentiond::config::Config::from_toml(&text).unwrap();
    let daemon = Daemon::start_with(dir, config);
    let body = touch_body("kept@example.com", "email_click", &now_rfc3339());
    let sent = Instant::now();
    assert_eq!(daemon.post_site("msg_kept", &body).await.status(), 200);
    daemon
        .wait_contact("kept@example.com", |view| view["touch_count"] == 1)
        .await;
    let again = daemon.post_site("msg_kept", &body).await;
    assert_eq!(
        again.json::<serde_json::Value>().await.unwrap()["status"],
        "duplicate",
        "inside the window"
    );
    let metrics = daemon.metrics().await;
    assert!(
        gauge(&metrics, "attentiond_store_bytes").unwrap() > 0.0,
        "{metrics}"
    );
    let seen_age = gauge(
        &metrics,
        "attentiond_oldest_retained_seconds{tree=\"seen\"}",
    );
    assert!(seen_age.is_some_and(|age| age < 3.0), "{metrics}");
    assert!(
        gauge(
            &metrics,
            "attentiond_oldest_retained_seconds{tree=\"inbox\"}"
        )
        .is_some(),
        "{metrics}"
    );

    // After the window the id is gone: the same delivery is new again.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let answer = daemon.post_site("msg_kept", &body).await;
        assert_eq!(answer.status(), 200);
        let status = answer.json::<serde_json::Value>().await.unwrap()["status"].clone();
        if status != "duplicate" {
            assert_eq!(status, "accepted");
            break;
        }
        assert!(Instant::now() < deadline, "the id was never forgotten");
    }
    assert!(
        sent.elapsed() >= Duration::from_secs(3),
        "forgotten too early"
    );
    daemon.drained().await;
}

/// Export of the contact's touch log, as the admin API gives it.
async fn logged_touches(daemon: &Daemon, email: &str) -> Vec<serde_json::Value> {
    let export = daemon.admin_get(&format!("contacts/{email}/export")).await;
    export["touches"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn touches_older_than_the_retention_leave_the_log_and_stay_counted() {
    let dir = tempfile::tempdir().unwrap();
    // About nine seconds.
    let text = config_text(dir.path(), "")
        .replace("[store]\n", "[store]\ntouch_retention_days = 0.0001\n");
    let config = attentiond::config::Config::from_toml(&text).unwrap();
    let daemon = Daemon::start_with(dir, config);
    let email = "fading@example.com";
    let old = touch_body(email, "pricing_view", &rfc3339_from_now(-3_600));
    assert_eq!(daemon.post_site("msg_old", &old).await.status(), 200);
    // Times go to the second: the recent touch may be dated up to a second before
    // `sent`, so it may leave from 7.6 s after it.
    let recent = touch_body(email, "email_click", &now_rfc3339());
    let sent = Instant::now();
    assert_eq!(daemon.post_site("msg_recent", &recent).await.status(), 200);
    daemon
        .wait_contact(email, |view| view["touch_count"] == 2)
        .await;

    // The hour-old touch goes within a pass or two; the recent one stays about its
    // nine seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    let kept = loop {
        let log = logged_touches(&daemon, email).await;
        if log.len() < 2 {
            break log;
        }
        assert!(
            Instant::now() < deadline,
            "the old touch never left: {log:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    if sent.elapsed() < Duration::from_secs(7) {
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0]["kind"], "email_click", "{kept:?}");
    }

    // Then the recent one too; what both counted stays.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !logged_touches(&daemon, email).await.is_empty() {
        assert!(Instant::now() < deadline, "the recent touch never left");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        sent.elapsed() >= Duration::from_millis(7_600),
        "a touch left before its retention"
    );
    let view = daemon.contact(email).await.expect("the contact stays");
    assert_eq!(view["touch_count"], 2, "{view}");
    daemon.drained().await;
}
