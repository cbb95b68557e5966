//! Scores out to HubSpot: batching, latest wins, 429/5xx, per-record errors, restarts.

use crate::fake_hubspot::{FakeHubspot, TOKEN};
use crate::harness::*;
use std::time::Duration;

fn sink_config(fake: &FakeHubspot, flush_ms: u64, max_attempts: u32) -> String {
    format!(
        r#"
[sinks.hubspot]
kind = "hubspot"
base_url = "{}"
access_token = "{TOKEN}"
flush_interval_ms = {flush_ms}
max_attempts = {max_attempts}
"#,
        fake.base
    )
}

fn inputs_for(fake: &FakeHubspot, id: &str) -> Vec<serde_json::Value> {
    fake.requests()
        .iter()
        .flat_map(|r| r.body["inputs"].as_array().cloned().unwrap_or_default())
        .filter(|input| input["id"] == id)
        .collect()
}

#[tokio::test]
async fn a_rep_sees_the_score_on_the_hubspot_contact() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&sink_config(&fake, 200, 5));
    assert_eq!(
        daemon
            .post_site(
                "s1",
                &touch_body("rep@example.com", "meeting_booked", &now_rfc3339())
            )
            .await
            .status(),
        200
    );
    fake.wait_for("rep@example.com written", |f| {
        f.contact("rep@example.com").is_some()
    })
    .await;
    let written = fake.contact("rep@example.com").unwrap();
    let view = daemon.contact("rep@example.com").await.unwrap();
    assert_eq!(written["attention_score"], view["score"].to_string());
    assert_eq!(written["attention_trend"], "rising");
    // Attention first, then the stage the meeting brought the contact to.
    let stage = view["qualification_stage"].as_str().unwrap();
    assert_eq!(stage, "mql");
    assert_eq!(
        written["attention_reasons"],
        format!(
            "meeting booked today; mql since {}",
            &view["stage_changed_at"].as_str().unwrap()[..10]
        )
    );
    assert_eq!(written["attention_last_touch_at"], view["last_touch_at"]);
    assert_eq!(written["attention_qualification_stage"], stage);
    assert_eq!(
        written["attention_stage_changed_at"],
        view["stage_changed_at"]
    );
    assert_eq!(written["attention_matrix"], view["attention_matrix"]);
    assert_eq!(written["attention_fit_grade"], view["fit_grade"]);
    let request = &fake.requests()[0];
    assert_eq!(
        request.authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(request.body["inputs"][0]["idProperty"], "email");
}

#[tokio::test]
async fn five_hundred_touches_in_one_interval_become_one_input() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&sink_config(&fake, 4000, 5));
    let sends: Vec<_> = (0..500)
        .map(|i| {
            let body = touch_body(
                "busy@example.com",
                if i % 2 == 0 {
                    "page_view"
                } else {
                    "email_click"
                },
                &now_rfc3339(),
            );
            let daemon = &daemon;
            async move {
                daemon
                    .post_site(&format!("busy-{i}"), &body)
                    .await
                    .status()
                    .as_u16()
            }
        })
        .collect();
    let statuses = futures_util::future::join_all(sends).await;
    assert!(statuses.iter().all(|s| *s == 200));
    daemon.drained().await;
    let view = daemon.contact("busy@example.com").await.unwrap();
    assert_eq!(view["touch_count"], 500);
    fake.wait_for("busy@example.com written", |f| {
        f.contact("busy@example.com").is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        inputs_for(&fake, "busy@example.com").len(),
        1,
        "{:?}",
        fake.requests()
    );
    assert_eq!(
        fake.contact("busy@example.com").unwrap()["attention_score"],
        view["score"].to_string()
    );
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_says() {
    let fake = FakeHubspot::start();
    // HubSpot's 429 body (developers.hubspot.com/docs/api/usage-details).
    fake.script(
        429,
        &[("Retry-After", "2")],
        serde_json::json!({"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT", "correlationId": "c-1", "policyName": "TEN_SECONDLY_ROLLING", "requestId": "r-1"}),
    );
    let daemon = Daemon::start(&sink_config(&fake, 100, 5));
    daemon
        .post_site(
            "r1",
            &touch_body("limited@example.com", "form_submit", &now_rfc3339()),
        )
        .await;
    fake.wait_for("limited@example.com written", |f| {
        f.contact("limited@example.com").is_some()
    })
    .await;
    let requests = fake.requests();
    assert_eq!(requests[0].answered, 429);
    assert_eq!(requests[1].answered, 200);
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?}"
    );
    let metrics = daemon.metrics().await;
    assert!(
        metrics.contains(r#"attentiond_sink_requests_total{sink="hubspot",status="429"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_hubspot_recovers() {
    let fake = FakeHubspot::start();
    for _ in 0..2 {
        fake.script(500, &[], serde_json::json!({"status": "error", "message": "internal error", "correlationId": "c-2", "category": "INTERNAL_ERROR"}));
    }
    let daemon = Daemon::start(&sink_config(&fake, 100, 2));
    daemon
        .post_site(
            "e1",
            &touch_body("patient@example.com", "form_submit", &now_rfc3339()),
        )
        .await;
    fake.wait_for("patient@example.com written", |f| {
        f.contact("patient@example.com").is_some()
    })
    .await;
    let answered: Vec<u16> = fake.requests().iter().map(|r| r.answered).collect();
    assert_eq!(answered, vec![500, 500, 200]);
    // Outages do not count against a record: nothing was parked although
    // max_attempts is 2.
    assert!(daemon.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_record_hubspot_refuses_is_parked_without_holding_back_others() {
    let fake = FakeHubspot::start();
    fake.forget("unknown@example.com");
    let daemon = Daemon::start(&sink_config(&fake, 300, 2));
    daemon
        .post_site(
            "p1",
            &touch_body("known@example.com", "form_submit", &now_rfc3339()),
        )
        .await;
    daemon
        .post_site(
            "p2",
            &touch_body("unknown@example.com", "form_submit", &now_rfc3339()),
        )
        .await;
    fake.wait_for("known@example.com written", |f| {
        f.contact("known@example.com").is_some()
    })
    .await;
    assert!(fake.requests().iter().any(|r| r.answered == 207));

    let letters = daemon.wait_dead_letters().await;
    let letter = &letters[0];
    assert_eq!(letter["sink"], "hubspot");
    assert_eq!(letter["attempts"], 2);
    assert_eq!(
        letter["identities"],
        serde_json::json!(["email:unknown@example.com"])
    );
    assert!(
        letter["error"]
            .as_str()
            .unwrap()
            .contains("OBJECT_NOT_FOUND"),
        "{letter}"
    );
    assert_eq!(inputs_for(&fake, "unknown@example.com").len(), 2);
    assert!(
        letter["fields"]["last_touch_at"]
            .as_str()
            .unwrap()
            .ends_with('Z'),
        "{letter}"
    );

    // The same record failing again replaces its dead letter instead of adding one.
    daemon
        .post_site(
            "p3",
            &touch_body("unknown@example.com", "meeting_booked", &now_rfc3339()),
        )
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while inputs_for(&fake, "unknown@example.com").len() < 4 {
        assert!(std::time::Instant::now() < deadline, "never retried");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = daemon.dead_letters().await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["id"], letter["id"]);
    // Both people are at example.com: the account line comes first, then theirs.
    let reasons = again[0]["fields"]["reasons"].as_array().unwrap();
    assert_eq!(reasons[0], "2 people from example.com engaged this week");
    assert!(
        reasons[1].as_str().unwrap().contains("meeting booked"),
        "{again:?}"
    );

    let id = letter["id"].as_str().unwrap();
    let deleted = daemon
        .client
        .delete(format!("{}/api/v1/dead-letters/{id}", daemon.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(daemon.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_dead_letter_can_be_retried_once_the_crm_is_fixed() {
    let fake = FakeHubspot::start();
    fake.script(400, &[], serde_json::json!({"status": "error", "message": "Property values were not valid: attention_score does not exist", "correlationId": "c-3", "category": "VALIDATION_ERROR"}));
    let daemon = Daemon::start(&sink_config(&fake, 100, 1));
    daemon
        .post_site(
            "d1",
            &touch_body("fixme@example.com", "form_submit", &now_rfc3339()),
        )
        .await;
    let letters = daemon.wait_dead_letters().await;
    assert!(letters[0]["error"]
        .as_str()
        .unwrap()
        .contains("attention_score does not exist"));
    let retried = daemon
        .client
        .post(format!("{}/api/v1/dead-letters/retry", daemon.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    fake.wait_for("fixme@example.com written", |f| {
        f.contact("fixme@example.com").is_some()
    })
    .await;
}

#[tokio::test]
async fn a_batch_refused_whole_is_retried_record_by_record() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&sink_config(&fake, 1500, 5));
    fake.script(400, &[], serde_json::json!({"status": "error", "message": "Invalid input", "correlationId": "c-4", "category": "VALIDATION_ERROR"}));
    daemon
        .post_site(
            "b1",
            &touch_body("one@example.com", "form_submit", &now_rfc3339()),
        )
        .await;
    daemon
        .post_site(
            "b2",
            &touch_body("two@example.com", "form_submit", &now_rfc3339()),
        )
        .await;
    fake.wait_for("both written", |f| {
        f.contact("one@example.com").is_some() && f.contact("two@example.com").is_some()
    })
    .await;
    let sizes: Vec<usize> = fake
        .requests()
        .iter()
        .map(|r| r.body["inputs"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![2, 1, 1]);
}

#[tokio::test]
async fn large_changes_go_in_batches_of_at_most_one_hundred() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&sink_config(&fake, 3000, 5));
    let sends: Vec<_> = (0..250)
        .map(|i| {
            let daemon = &daemon;
            async move {
                daemon
                    .post_site(
                        &format!("many-{i}"),
                        &touch_body(&format!("p{i}@example.com"), "email_click", &now_rfc3339()),
                    )
                    .await
                    .status()
                    .as_u16()
            }
        })
        .collect();
    assert!(futures_util::future::join_all(sends)
        .await
        .iter()
        .all(|s| *s == 200));
    fake.wait_for("250 written", |f| {
        (0..250).all(|i| f.contact(&format!("p{i}@example.com")).is_some())
    })
    .await;
    let requests = fake.requests();
    assert!(requests
        .iter()
        .all(|r| r.body["inputs"].as_array().unwrap().len() <= 100));
    assert!(requests.len() >= 3);
}

#[tokio::test]
async fn queued_scores_survive_a_restart_while_hubspot_is_down() {
    let fake = FakeHubspot::start();
    for _ in 0..1000 {
        fake.script(503, &[], serde_json::json!({"status": "error", "message": "Service Unavailable", "correlationId": "c-5"}));
    }
    let daemon = Daemon::start(&sink_config(&fake, 100, 5));
    daemon
        .post_site(
            "o1",
            &touch_body("outage@example.com", "form_submit", &now_rfc3339()),
        )
        .await;
    fake.wait_for("a failed attempt", |f| !f.requests().is_empty())
        .await;
    let dir = daemon.stop();
    let recovered = FakeHubspot::start();
    let daemon = Daemon::start_in(dir, &sink_config(&recovered, 100, 5));
    recovered
        .wait_for("outage@example.com written after restart", |f| {
            f.contact("outage@example.com").is_some()
        })
        .await;
    assert!(fake.contact("outage@example.com").is_none());
    drop(daemon);
}

#[tokio::test]
async fn fading_through_decay_alone_reaches_hubspot() {
    let fake = FakeHubspot::start();
    let extra = format!(
        "{}\n[scoring]\nrefresh_interval_secs = 1\n",
        sink_config(&fake, 100, 5)
    );
    let daemon = Daemon::start(&extra);
    // Happened 23:59:57 ago: "today" now, "1d ago" in three seconds, with no new touch.
    let almost_a_day = (chrono::Utc::now() - chrono::Duration::seconds(86_400 - 3)).to_rfc3339();
    daemon
        .post_site(
            "f1",
            &touch_body("fading@example.com", "form_submit", &almost_a_day),
        )
        .await;
    fake.wait_for("first push", |f| f.contact("fading@example.com").is_some())
        .await;
    let reasons = |f: &FakeHubspot| {
        f.contact("fading@example.com")
            .and_then(|c| c["attention_reasons"].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    assert!(
        reasons(&fake).starts_with("form submit today; "),
        "{}",
        reasons(&fake)
    );
    fake.wait_for("refreshed push", |f| {
        reasons(f).starts_with("form submit 1d ago; ")
    })
    .await;
    assert_eq!(inputs_for(&fake, "fading@example.com").len(), 2);
    assert_eq!(
        daemon.contact("fading@example.com").await.unwrap()["touch_count"],
        1
    );
}

#[tokio::test]
async fn nothing_about_an_erased_contact_is_pushed_again() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&sink_config(&fake, 100, 5));
    let uri = format!("{}/webhooks/hubspot", daemon.base);
    let send = |event_id: u64, subscription: &str, extra: serde_json::Value| {
        let mut event = serde_json::json!({"eventId": event_id, "subscriptionId": 1, "portalId": 1, "appId": 1,
            "occurredAt": chrono::Utc::now().timestamp_millis(), "subscriptionType": subscription,
            "attemptNumber": 0, "objectId": 7001, "changeSource": "CRM"});
        event
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        let body = serde_json::json!([event]).to_string();
        let headers = sign_hubspot_v3(
            HUBSPOT_SECRET,
            "POST",
            &uri,
            &body,
            chrono::Utc::now().timestamp_millis(),
        );
        let daemon = &daemon;
        async move {
            daemon
                .post("/webhooks/hubspot", &headers, &body)
                .await
                .status()
                .as_u16()
        }
    };
    let now_ms = chrono::Utc::now().timestamp_millis().to_string();
    assert_eq!(
        send(
            1,
            "contact.propertyChange",
            serde_json::json!({"propertyName": "recent_conversion_date", "propertyValue": now_ms})
        )
        .await,
        200
    );
    fake.wait_for("pushed once", |f| f.contact("7001").is_some())
        .await;
    let before = inputs_for(&fake, "7001").len();
    assert_eq!(
        send(2, "contact.privacyDeletion", serde_json::json!({})).await,
        200
    );
    assert_eq!(
        send(
            3,
            "contact.propertyChange",
            serde_json::json!({"propertyName": "hs_email_last_click_date", "propertyValue": now_ms})
        )
        .await,
        200
    );
    daemon.drained().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(inputs_for(&fake, "7001").len(), before);
    assert!(daemon.contact("hubspot:7001").await.is_none());
}
