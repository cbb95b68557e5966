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
