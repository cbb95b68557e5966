//! The delivery loop every sink shares, as an operator relies on it: outages and
//! restarts during them, the token bucket, concurrency, and dead letters from the
//! command line. None of it depends on the vendor, so it is exercised through one
//! fake CRM, HubSpot's.

use crate::fake_crm::Answer;
use crate::fake_hubspot::FakeHubspot;
use crate::harness::*;
use crate::sink_scenarios::CrmUnderTest;
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn sink(fake: &FakeHubspot, extra: &str) -> String {
    fake.config(&format!("flush_interval_ms = 100\n{extra}"))
}

/// Keeps sending touches to `emails`, round robin, until `until`; returns how many.
async fn keep_touching(daemon: &Daemon, emails: &[String], prefix: &str, until: Instant) -> usize {
    let kinds = ["email_click", "page_view", "form_submit", "pricing_view"];
    let mut sent = 0;
    while Instant::now() < until {
        let email = &emails[sent % emails.len()];
        let kind = kinds[(sent / emails.len()) % kinds.len()];
        let status = daemon
            .post_site(
                &format!("{prefix}-{sent}"),
                &touch_body(email, kind, &now_rfc3339()),
            )
            .await
            .status();
        assert_eq!(status, 200);
        sent += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    sent
}

/// Waits until HubSpot holds, for every contact, exactly what attentiond shows now.
async fn wait_all_latest(daemon: &Daemon, fake: &FakeHubspot, emails: &[String], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mut stale = Vec::new();
        for email in emails {
            let view = daemon.contact(email).await.expect("contact known");
            let written = fake.contact(email);
            let current = written.as_ref().is_some_and(|w| {
                w["attention_score"].as_str() == Some(view["score"].to_string().as_str())
                    && w["attention_last_touch_at"] == view["last_touch_at"]
            });
            if !current {
                stale.push(email.clone());
            }
        }
        if stale.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still stale in HubSpot: {stale:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The last value written per contact never goes back: each later write carries a
/// last touch at least as recent as the one before.
fn assert_never_older(fake: &FakeHubspot) {
    let mut last: HashMap<String, String> = HashMap::new();
    for request in fake.batches().iter().filter(|r| r.answered == 200) {
        for input in request.body["inputs"].as_array().unwrap() {
            let id = input["id"].as_str().unwrap().to_string();
            let at = input["properties"]["attention_last_touch_at"]
                .as_str()
                .unwrap()
                .to_string();
            if let Some(before) = last.get(&id) {
                assert!(at >= *before, "{id}: {at} written after {before}");
            }
            last.insert(id, at);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_long_outage_loses_nothing_and_the_latest_value_wins() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&sink(&fake, ""));
    let emails: Vec<String> = (0..8).map(|i| format!("out{i}@example.com")).collect();
    fake.outage_for(Duration::from_secs(60));
    let outage_ends = Instant::now() + Duration::from_secs(60);
    let sent = keep_touching(&daemon, &emails, "o", outage_ends).await;
    assert!(
        sent > 100,
        "touches kept arriving during the outage: {sent}"
    );
    assert!(
        fake.batches().iter().all(|r| r.answered == 503),
        "nothing got through during the outage"
    );
    wait_all_latest(&daemon, &fake, &emails, Duration::from_secs(90)).await;
    assert_never_older(&fake);
    let metrics = daemon.metrics().await;
    assert!(
        metrics.contains(r#"attentiond_sink_requests_total{sink="hubspot",status="503"}"#),
        "{metrics}"
    );
    assert!(daemon.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_the_outage_loses_nothing_either() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&sink(&fake, ""));
    let emails: Vec<String> = (0..6).map(|i| format!("restart{i}@example.com")).collect();
    fake.outage_for(Duration::from_secs(60));
    let started = Instant::now();
    keep_touching(&daemon, &emails, "r1", started + Duration::from_secs(25)).await;
    let dir = daemon.stop();
    let daemon = Daemon::start_in(dir, &sink(&fake, ""));
    keep_touching(&daemon, &emails, "r2", started + Duration::from_secs(60)).await;
    wait_all_latest(&daemon, &fake, &emails, Duration::from_secs(90)).await;
    assert_never_older(&fake);
    for email in &emails {
        let view = daemon.contact(email).await.unwrap();
        assert!(view["touch_count"].as_u64().unwrap() > 10, "{view}");
    }
}

#[tokio::test]
async fn the_token_bucket_spaces_requests_as_configured() {
    let fake = FakeHubspot::start();
    // Two requests per second, one contact per request: 8 contacts take ~3 s.
    let daemon = Daemon::start(&sink(
        &fake,
        "batch_size = 1\nconcurrency = 1\nrate_limit = { requests = 2, per_secs = 1 }",
    ));
    for i in 0..8 {
        daemon
            .post_site(
                &format!("tb-{i}"),
                &touch_body(&format!("tb{i}@example.com"), "form_submit", &now_rfc3339()),
            )
            .await;
    }
    fake.wait_for("8 contacts", |f| f.batches().len() >= 8)
        .await;
    let times: Vec<Instant> = fake.batches().iter().map(|r| r.at).collect();
    // A bucket of 2 refilling one every 500 ms: any three requests span ≥ ~0.5 s, and
    // the eight span at least 3 s.
    for window in times.windows(3) {
        assert!(
            window[2] - window[0] >= Duration::from_millis(450),
            "{:?}",
            window[2] - window[0]
        );
    }
    assert!(times[7] - times[0] >= Duration::from_millis(2900));
}

#[tokio::test]
async fn requests_run_concurrently_up_to_the_limit() {
    let fake = FakeHubspot::start();
    fake.set_latency(Duration::from_millis(400));
    let daemon = Daemon::start(&sink(&fake, "batch_size = 10\nconcurrency = 4"));
    for i in 0..40 {
        daemon
            .post_site(
                &format!("cc-{i}"),
                &touch_body(&format!("cc{i}@example.com"), "form_submit", &now_rfc3339()),
            )
            .await;
    }
    daemon.drained().await;
    fake.wait_for("40 contacts", |f| {
        (0..40).all(|i| f.contact(&format!("cc{i}@example.com")).is_some())
    })
    .await;
    let requests = fake.batches();
    // Answer times of one round of 4 parallel calls lie within a few ms of each other.
    let mut most_at_once = 0;
    for request in &requests {
        let overlapping = requests
            .iter()
            .filter(|other| {
                other.at <= request.at && request.at - other.at < Duration::from_millis(150)
            })
            .count();
        most_at_once = most_at_once.max(overlapping);
    }
    assert!(
        (2..=4).contains(&most_at_once),
        "{most_at_once} calls answered together"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_retried_from_the_command_line() {
    let fake = FakeHubspot::start();
    fake.script(Answer::json(
        400,
        serde_json::json!({"status": "error", "message": "Property values were not valid: attention_score", "category": "VALIDATION_ERROR"}),
    ));
    let daemon = Daemon::start(&sink(&fake, "max_attempts = 1"));
    daemon
        .post_site(
            "dl-1",
            &touch_body("parked@example.com", "form_submit", &now_rfc3339()),
        )
        .await;
    let letters = daemon.wait_dead_letters().await;
    let id = letters[0]["id"].as_str().unwrap().to_string();
    let dir = daemon.stop();
    let config = write_config(dir.path(), &sink(&fake, ""));
    let config = config.to_str().unwrap();

    let (code, stdout, stderr) = run_attentiond(&["--config", config, "dead-letters", "list"], &[]);
    assert_eq!(code, 0, "{stderr}");
    let listing: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listing["dead_letters"][0]["id"], id.as_str());
    assert!(listing["dead_letters"][0]["error"]
        .as_str()
        .unwrap()
        .contains("VALIDATION_ERROR: Property values were not valid"));

    let (code, _, stderr) = run_attentiond(&["--config", config, "dead-letters", "retry"], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--all"), "{stderr}");
    let (code, stdout, stderr) =
        run_attentiond(&["--config", config, "dead-letters", "retry", &id], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("queued again"), "{stdout}");

    // Back in the outbox: the restarted daemon writes it.
    let daemon = Daemon::start_in(dir, &sink(&fake, ""));
    fake.wait_for("parked contact written", |f| {
        f.contact("parked@example.com").is_some()
    })
    .await;
    assert!(daemon.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_deleted_from_the_command_line() {
    let fake = FakeHubspot::start();
    fake.script(Answer::json(
        400,
        serde_json::json!({"status": "error", "message": "Property values were not valid: attention_score", "category": "VALIDATION_ERROR"}),
    ));
    let daemon = Daemon::start(&sink(&fake, "max_attempts = 1"));
    daemon
        .post_site(
            "dl-delete-1",
            &touch_body("forgotten@example.com", "form_submit", &now_rfc3339()),
        )
        .await;
    let id = daemon.wait_dead_letters().await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = daemon.stop();
    let config = write_config(dir.path(), &sink(&fake, ""));
    let config = config.to_str().unwrap();
    let (code, stdout, stderr) =
        run_attentiond(&["--config", config, "dead-letters", "delete", &id], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("deleted"), "{stdout}");
    let (code, stdout, _) = run_attentiond(&["--config", config, "dead-letters", "list"], &[]);
    assert_eq!(code, 0);
    let listing: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listing["dead_letters"], serde_json::json!([]));
    let (code, _, stderr) =
        run_attentiond(&["--config", config, "dead-letters", "delete", &id], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no dead letter"), "{stderr}");
    // Deleted, not queued: the restarted daemon does not write it.
    let daemon = Daemon::start_in(dir, &sink(&fake, ""));
    daemon.drained().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(fake.contact("forgotten@example.com").is_none());
    assert!(daemon.dead_letters().await.is_empty());
}
