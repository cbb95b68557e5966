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

/// Each thread of process `pid`: its id, name and nice value (`/proc/<pid>/task/*/stat`,
/// proc(5): the name in parentheses is field 2, nice is field 19).
fn threads_and_nice(pid: u32) -> Vec<(u32, String, i32)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("the daemon's threads") {
        let task = task.expect("a thread");
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue; // a thread that ended meanwhile
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let after: Vec<&str> = stat[close + 2..].split(' ').collect();
        // Fields from 3 on: state is field 3, so nice (field 19) is the 17th after the name.
        let nice = after[16].parse().expect("a nice value");
        let id = task
            .file_name()
            .to_string_lossy()
            .parse()
            .expect("a thread id");
        threads.push((id, stat[open + 1..close].to_string(), nice));
    }
    threads
}

/// The daemon's own nice (its main thread's, whose id is the process's), the
/// pipeline's, and every HTTP worker's.
fn priorities(pid: u32) -> (i32, i32, Vec<i32>) {
    let threads = threads_and_nice(pid);
    let nice_of = |name: &str| -> Vec<i32> {
        threads
            .iter()
            .filter(|thread| thread.1 == name)
            .map(|thread| thread.2)
            .collect()
    };
    let main = threads
        .iter()
        .find(|thread| thread.0 == pid)
        .map(|thread| thread.2)
        .expect("the main thread");
    let pipeline = *nice_of("pipeline").first().expect("a pipeline thread");
    // Each worker runs on an arbiter of its own, named `actix-rt|system:0|arbiter:1`
    // and cut to 15 bytes.
    let workers = nice_of("actix-rt|system");
    assert!(!workers.is_empty(), "no HTTP worker among {threads:?}");
    (main, pipeline, workers)
}

/// When the CPU is short the pipeline runs first: the built daemon's HTTP workers run
/// `server.worker_nice` (10 by default) below the daemon's own priority, the pipeline
/// at it, and the front door still answers. With `worker_nice = 0` all share alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_workers_yield_the_cpu_to_the_pipeline() {
    use crate::crash::{free_port, spawn_binary_with, wait_healthy};
    for (setting, expected_gap) in [(None, 10), (Some("0"), 0), (Some("3"), 3)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let daemon = spawn_binary_with(dir.path(), free_port(), |command| {
            if let Some(nice) = setting {
                command.env("ATTENTIOND__SERVER__WORKER_NICE", nice);
            }
        });
        wait_healthy(&daemon.base).await;
        let (own, pipeline, workers) = priorities(daemon.child.id());
        assert_eq!(pipeline, own, "the pipeline keeps the daemon's priority");
        for worker in &workers {
            assert_eq!(
                *worker,
                (own + expected_gap).min(19),
                "worker_nice {setting:?}: workers {workers:?}, daemon {own}"
            );
        }
        let body = touch_body("nice@example.com", "form_submit", &now_rfc3339());
        let mut request = reqwest::Client::new()
            .post(format!("{}/webhooks/site", daemon.base))
            .body(body.clone());
        for (key, value) in sign_standard(SITE_SECRET, &delivery_id("nice"), unix_now(), &body) {
            request = request.header(key, value);
        }
        let response = request.send().await.expect("the webhook is answered");
        assert_eq!(response.status(), 200, "worker_nice {setting:?}");
    }
}
