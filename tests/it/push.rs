//! The shared push loop as an operator relies on it: outages, restarts during them, rate
//! limits, concurrency, company (account) records, `setup-crm` and `dead-letters`.

use crate::fake_hubspot::{FakeHubspot, TOKEN};
use crate::harness::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn sink(fake: &FakeHubspot, extra: &str) -> String {
    format!(
        r#"
[sinks.hubspot]
kind = "hubspot"
base_url = "{}"
access_token = "{TOKEN}"
flush_interval_ms = 100
{extra}
"#,
        fake.base
    )
}

fn profile_body(email: &str, account: &str, fields: serde_json::Value) -> String {
    serde_json::json!({"type": "profile", "data": {"email": email, "account": account, "fields": fields}})
        .to_string()
}

fn touch_at_account(email: &str, kind: &str, account: &str) -> String {
    serde_json::json!({"type": "touch", "data": {
        "email": email, "kind": kind, "occurred_at": now_rfc3339(), "account": account}})
    .to_string()
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
    for request in fake.requests().iter().filter(|r| r.answered == 200) {
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
    fake.outage(Duration::from_secs(60));
    let outage_ends = Instant::now() + Duration::from_secs(60);
    let sent = keep_touching(&daemon, &emails, "o", outage_ends).await;
    assert!(
        sent > 100,
        "touches kept arriving during the outage: {sent}"
    );
    assert!(
        fake.requests().iter().all(|r| r.answered == 503),
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
    fake.outage(Duration::from_secs(60));
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
    fake.wait_for("8 contacts", |f| f.requests().len() >= 8)
        .await;
    let times: Vec<Instant> = fake.requests().iter().map(|r| r.at).collect();
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
    let requests = fake.requests();
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

#[tokio::test]
async fn company_records_get_the_account_fields() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&sink(&fake, ""));
    let account = "hubspot-company:4242";
    for (i, (email, title)) in [
        ("cto@acme.io", "CTO"),
        ("dev@acme.io", "Senior Engineer"),
        ("buyer@acme.io", "Procurement Manager"),
    ]
    .iter()
    .enumerate()
    {
        daemon
            .post_site(
                &format!("p-{i}"),
                &profile_body(
                    email,
                    account,
                    serde_json::json!({"title": title, "company": "Acme"}),
                ),
            )
            .await;
        daemon
            .post_site(
                &format!("t-{i}"),
                &touch_at_account(email, "webinar_attended", account),
            )
            .await;
    }
    daemon.drained().await;
    let view: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/accounts/{account}", daemon.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["people_engaged"], 3);
    assert_eq!(view["members"].as_array().unwrap().len(), 3);
    fake.wait_for("company 4242 written", |f| {
        f.company("4242")
            .is_some_and(|c| c["attention_people_engaged"] == "3")
    })
    .await;
    let company = fake.company("4242").unwrap();
    assert_eq!(company["attention_score"], view["score"].to_string());
    assert_eq!(company["attention_trend"], "rising");
    assert!(
        company["attention_reasons"]
            .as_str()
            .unwrap()
            .starts_with("3 people from Acme engaged this week"),
        "{company:?}"
    );
    let call = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/crm/v3/objects/companies/batch/update")
        .expect("a companies batch call");
    assert_eq!(call.body["inputs"][0]["id"], "4242");
    assert!(call.body["inputs"][0].get("idProperty").is_none());
    // People whose account is a domain are not HubSpot companies: no call names them.
    assert!(fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("companies"))
        .all(|r| r.body["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|input| input["id"] == "4242")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_crm_creates_the_hubspot_properties_once() {
    let fake = FakeHubspot::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("attentiond.toml");
    std::fs::write(&config, config_text(dir.path(), &sink(&fake, ""))).unwrap();
    let config = config.to_str().unwrap();

    let (code, stdout, stderr) = run_attentiond(
        &["--config", config, "setup-crm", "hubspot", "--dry-run"],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("would send POST") && stdout.contains("/crm/v3/properties/contacts"),
        "{stdout}"
    );
    assert!(stdout.contains(r#""name":"attention_score""#), "{stdout}");
    assert!(
        fake.property_names().is_empty(),
        "a dry run changes nothing"
    );

    let (code, stdout, stderr) = run_attentiond(&["--config", config, "setup-crm", "hubspot"], &[]);
    assert_eq!(code, 0, "{stderr}");
    let created = fake.property_names();
    assert!(created.contains(&"contacts/attention_score".to_string()));
    assert!(created.contains(&"contacts/attention_qualification_stage".to_string()));
    assert!(created.contains(&"contacts/attention_stage_changed_at".to_string()));
    assert!(created.contains(&"companies/attention_people_engaged".to_string()));
    let contact_fields = created
        .iter()
        .filter(|n| n.starts_with("contacts/"))
        .count();
    let company_fields = created
        .iter()
        .filter(|n| n.starts_with("companies/"))
        .count();
    assert_eq!((contact_fields, company_fields), (9, 4), "{created:?}");
    assert!(
        stdout.contains(&format!("{} created, 0 already there", 9 + 4 + 2)),
        "{stdout}"
    );

    let (code, stdout, stderr) = run_attentiond(&["--config", config, "setup-crm", "hubspot"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("0 created, {} already there", 9 + 4 + 2)),
        "{stdout}"
    );
    let posts = fake
        .all_requests()
        .iter()
        .filter(|r| r.path.starts_with("/crm/v3/properties") && !r.body.is_null())
        .count();
    assert_eq!(posts, 9 + 4 + 2, "the second run posted nothing");

    let (code, _, stderr) = run_attentiond(&["--config", config, "setup-crm", "nosuch"], &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no sink `nosuch`") && stderr.contains("hubspot"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_retried_from_the_command_line() {
    let fake = FakeHubspot::start();
    fake.script(
        400,
        &[],
        serde_json::json!({"status": "error", "message": "Property values were not valid: attention_score", "category": "VALIDATION_ERROR"}),
    );
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
    let config = dir.path().join("attentiond.toml");
    std::fs::write(&config, config_text(dir.path(), &sink(&fake, ""))).unwrap();
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
