//! A pipeline that falls behind makes the front door say "later": past
//! `server.max_inbox_backlog` pending deliveries, webhooks get 503 with Retry-After,
//! and every delivery acknowledged meanwhile is still applied.

use crate::harness::*;
use attentiond::config::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlogged_inbox_defers_webhooks_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::from_toml(&config_text(dir.path(), "")).expect("config");
    config.server.max_inbox_backlog = 1;
    let daemon = Daemon::start_with(dir, config);
    let ready: serde_json::Value = reqwest::get(format!("{}/readyz", daemon.base))
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["inbox_backlog_limit"], 1, "{ready}");
    assert_eq!(ready["backlogged"], false, "{ready}");

    // Many platforms at once: each acknowledged delivery raises the backlog until the
    // pipeline applies it, so with a bound of one some must wait.
    let emails: Vec<String> = (0..200).map(|n| format!("burst{n}@example.com")).collect();
    let daemon = std::sync::Arc::new(daemon);
    let sends = emails.iter().map(|email| {
        let (daemon, email) = (daemon.clone(), email.clone());
        tokio::spawn(async move {
            let body = touch_body(&email, "form_submit", &now_rfc3339());
            let id = delivery_id("burst");
            let response = daemon.post_site(&id, &body).await;
            let deferred = match response.status().as_u16() {
                200 => false,
                503 => {
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| value.parse::<u64>().ok());
                    assert!(
                        retry_after.is_some_and(|s| s > 0),
                        "503 without Retry-After"
                    );
                    let (_, detail) = problem(response).await;
                    assert!(detail.contains("retry"), "{detail}");
                    true
                }
                other => panic!("unexpected {other}"),
            };
            deferred.then_some((id, body))
        })
    });
    let mut deferred = Vec::new();
    for send in futures_util::future::join_all(sends).await {
        deferred.extend(send.expect("sender"));
    }
    assert!(
        !deferred.is_empty(),
        "nothing was deferred at a backlog bound of one"
    );

    // What was deferred is sent again, as platforms do (the same delivery, under its
    // id), until every one is taken.
    for (id, body) in &deferred {
        loop {
            match daemon.post_site(id, body).await.status().as_u16() {
                200 => break,
                503 => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                other => panic!("unexpected {other}"),
            }
        }
    }
    daemon.drained().await;
    for email in &emails {
        let contact = daemon.contact(email).await.expect("applied");
        assert_eq!(contact["touch_count"], 1, "{email} counted once");
    }
    let metrics = daemon.metrics().await;
    assert!(
        metrics.contains("attentiond_inbox_backlog_limit 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("attentiond_pipeline_lag_seconds 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("attentiond_webhooks_total{source=\"site\",status=\"503\"}"),
        "{metrics}"
    );
}
