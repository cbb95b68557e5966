//! Webhooks in: what a site sending signed touches sees, good and bad.

use crate::harness::*;

#[tokio::test]
async fn a_signed_touch_is_acknowledged_scored_and_explained() {
    let daemon = Daemon::start("");
    let response = daemon
        .post_site(
            "msg_1",
            &touch_body("Ann@Example.com", "form_submit", &now_rfc3339()),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["status"],
        "accepted"
    );

    let view = daemon
        .wait_contact("ann@example.com", |v| v["touch_count"] == 1)
        .await;
    assert!(view["id"].as_str().unwrap().starts_with("c_"));
    assert_eq!(view["emails"], serde_json::json!(["ann@example.com"]));
    assert_eq!(view["trend"], "rising");
    let score = view["score"].as_u64().unwrap();
    assert!(
        (30..=40).contains(&score),
        "one fresh form submit scores about 33, got {score}"
    );
    assert!((view["raw"].as_f64().unwrap() - 10.0).abs() < 0.01);
    // Score 33 passes the `engaged` bar of 20: the stage says so, with when.
    assert_eq!(view["qualification_stage"], "engaged");
    // In words, day and month: "engaged since 7 Dec".
    let since = chrono::DateTime::parse_from_rfc3339(view["stage_changed_at"].as_str().unwrap())
        .unwrap()
        .format("%-d %b");
    assert_eq!(
        view["reasons"],
        serde_json::json!(["form submit today", format!("engaged since {since}")])
    );
    assert_eq!(view["stage_history"][0]["to"], "engaged");
    assert!(view["stage_history"][0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("score 33 ≥ 20"));
    let touch = &view["touches"][0];
    assert_eq!(touch["kind"], "form_submit");
    assert_eq!(touch["source"], "site");
    assert_eq!(touch["weight"], 10.0);
    assert!(view["last_touch_at"].as_str().unwrap().ends_with('Z'));
    // Nothing known about the person yet: neutral fit, and what to ask for.
    assert_eq!(view["fit_grade"], "C");
    assert_eq!(view["fit_missing"], serde_json::json!(["title", "company"]));
    assert_eq!(view["attention_matrix"], "C3");
}

#[tokio::test]
async fn a_late_touch_decays_from_when_it_happened() {
    let daemon = Daemon::start("");
    let four_weeks_ago = (chrono::Utc::now() - chrono::Duration::days(28)).to_rfc3339();
    let response = daemon
        .post_site(
            "msg_late",
            &touch_body("late@example.com", "form_submit", &four_weeks_ago),
        )
        .await;
    assert_eq!(response.status(), 200);
    let view = daemon
        .wait_contact("late@example.com", |v| v["touch_count"] == 1)
        .await;
    // Two half-lives of 14 days: a quarter of the weight is left.
    assert!((view["raw"].as_f64().unwrap() - 2.5).abs() < 0.01, "{view}");
    assert_eq!(view["trend"], "fading");
}

#[tokio::test]
async fn a_redelivery_counts_once_even_when_concurrent() {
    let daemon = Daemon::start("");
    let body = touch_body("dup@example.com", "email_click", &now_rfc3339());
    let first = daemon.post_site("msg_dup", &body).await;
    assert_eq!(first.status(), 200);
    daemon
        .wait_contact("dup@example.com", |v| v["touch_count"] == 1)
        .await;
    let again = daemon.post_site("msg_dup", &body).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<serde_json::Value>().await.unwrap()["status"],
        "duplicate"
    );

    let body = touch_body("burst@example.com", "email_click", &now_rfc3339());
    let burst: Vec<_> = (0..16)
        .map(|_| daemon.post_site("msg_burst", &body))
        .collect();
    for response in futures_util::future::join_all(burst).await {
        assert_eq!(response.status(), 200);
    }
    daemon.drained().await;
    assert_eq!(
        daemon.contact("burst@example.com").await.unwrap()["touch_count"],
        1
    );
    assert_eq!(
        daemon.contact("dup@example.com").await.unwrap()["touch_count"],
        1
    );
}

#[tokio::test]
async fn a_rotated_key_list_with_the_right_signature_is_accepted() {
    let daemon = Daemon::start("");
    let body = touch_body("rot@example.com", "page_view", &now_rfc3339());
    let mut headers = sign_standard(SITE_SECRET, "msg_rot", unix_now(), &body);
    let good = headers[2].1.clone();
    headers[2].1 = format!("v1,bm90IHRoZSByaWdodCBvbmU= {good}");
    assert_eq!(daemon.status("/webhooks/site", &headers, &body).await, 200);
}

#[tokio::test]
async fn bad_input_gets_a_clear_answer_and_changes_nothing() {
    let daemon = Daemon::start("");
    let now = unix_now();
    let body = |who: &str| touch_body(&format!("{who}@example.com"), "form_submit", &now_rfc3339());

    let wrong_secret = sign_standard(
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "m1",
        now,
        &body("wrongsecret"),
    );
    let (status, detail) = problem(
        daemon
            .post("/webhooks/site", &wrong_secret, &body("wrongsecret"))
            .await,
    )
    .await;
    assert_eq!((status, detail.as_str()), (401, "invalid signature"));

    // Signed one body, sent another.
    let signed_for_other = sign_standard(SITE_SECRET, "m2", now, &body("original"));
    assert_eq!(
        problem(
            daemon
                .post("/webhooks/site", &signed_for_other, &body("tampered"))
                .await
        )
        .await
        .0,
        401
    );

    let mut missing = sign_standard(SITE_SECRET, "m3", now, &body("missing"));
    missing.remove(2);
    let (status, detail) = problem(
        daemon
            .post("/webhooks/site", &missing, &body("missing"))
            .await,
    )
    .await;
    assert_eq!(
        (status, detail.as_str()),
        (401, "missing header webhook-signature")
    );

    let stale = sign_standard(SITE_SECRET, "m4", now - 600, &body("stale"));
    let (status, detail) =
        problem(daemon.post("/webhooks/site", &stale, &body("stale")).await).await;
    assert_eq!(status, 401);
    assert!(detail.contains("tolerance"), "{detail}");

    let future = sign_standard(SITE_SECRET, "m5", now + 600, &body("future"));
    assert_eq!(
        problem(
            daemon
                .post("/webhooks/site", &future, &body("future"))
                .await
        )
        .await
        .0,
        401
    );

    let headers = sign_standard(SITE_SECRET, "m6", now, &body("nosource"));
    let (status, detail) = problem(
        daemon
            .post("/webhooks/nosuch", &headers, &body("nosource"))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert!(detail.contains("nosuch"));

    let huge = touch_body("huge@example.com", "form_submit", &now_rfc3339()).replace(
        "\"type\"",
        &format!("\"pad\":\"{}\",\"type\"", "x".repeat(70_000)),
    );
    let headers = sign_standard(SITE_SECRET, "m7", now, &huge);
    assert_eq!(
        problem(daemon.post("/webhooks/site", &headers, &huge).await)
            .await
            .0,
        413
    );

    let unknown_kind = touch_body("badkind@example.com", "webinar", &now_rfc3339());
    let headers = sign_standard(SITE_SECRET, "m8", now, &unknown_kind);
    let (status, detail) =
        problem(daemon.post("/webhooks/site", &headers, &unknown_kind).await).await;
    assert_eq!(status, 400);
    assert!(
        detail.contains("unknown kind `webinar`") && detail.contains("webinar_attended"),
        "{detail}"
    );

    let not_json = "{\"type\": \"touch\", \"data\": ";
    let headers = sign_standard(SITE_SECRET, "m9", now, not_json);
    let (status, detail) = problem(daemon.post("/webhooks/site", &headers, not_json).await).await;
    assert_eq!(status, 400);
    assert!(detail.starts_with("malformed payload"), "{detail}");

    // A good delivery after the bad ones: once it is applied, anything stored before
    // it would have been applied too.
    assert_eq!(daemon.post_site("m10", &body("good")).await.status(), 200);
    daemon
        .wait_contact("good@example.com", |v| v["touch_count"] == 1)
        .await;
    for who in [
        "wrongsecret",
        "original",
        "tampered",
        "missing",
        "stale",
        "future",
        "nosource",
        "huge",
        "badkind",
    ] {
        assert!(
            daemon
                .contact(&format!("{who}@example.com"))
                .await
                .is_none(),
            "{who} was stored"
        );
    }
    let metrics = daemon.metrics().await;
    assert!(
        metrics.contains(r#"attentiond_webhooks_total{source="site",status="401"} 5"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"attentiond_webhooks_total{source="site",status="400"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"attentiond_webhooks_total{source="site",status="413"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"attentiond_webhooks_total{source="site",status="200"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn identify_carries_anonymous_attention_into_the_known_contact() {
    let daemon = Daemon::start("");
    let anonymous = serde_json::json!({"type": "touch", "data": {"anonymous_id": "visitor-7", "kind": "pricing_view", "occurred_at": now_rfc3339()}}).to_string();
    assert_eq!(daemon.post_site("a1", &anonymous).await.status(), 200);
    assert_eq!(
        daemon
            .post_site(
                "a2",
                &touch_body("bo@example.com", "email_click", &now_rfc3339())
            )
            .await
            .status(),
        200
    );
    daemon
        .wait_contact("anon:visitor-7", |v| v["touch_count"] == 1)
        .await;
    let identify = serde_json::json!({"type": "identify", "data": {"anonymous_id": "visitor-7", "email": "bo@example.com"}}).to_string();
    assert_eq!(daemon.post_site("a3", &identify).await.status(), 200);
    let view = daemon
        .wait_contact("bo@example.com", |v| v["touch_count"] == 2)
        .await;
    assert_eq!(view["anonymous_ids"], serde_json::json!(["visitor-7"]));
    assert!(
        (view["raw"].as_f64().unwrap() - 8.0).abs() < 0.01,
        "pricing view 5 + click 3: {view}"
    );
    let by_anon = daemon.contact("anon:visitor-7").await.unwrap();
    assert_eq!(by_anon["id"], view["id"]);
}

#[tokio::test]
async fn the_admin_api_wants_its_token() {
    let daemon = Daemon::start("");
    let url = format!("{}/api/v1/contacts/ann@example.com", daemon.base);
    let none = daemon.client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["content-type"], "application/problem+json");
    let wrong = daemon
        .client
        .get(&url)
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(daemon.contact("nobody@example.com").await.is_none());
    let dead = daemon
        .client
        .get(format!("{}/api/v1/dead-letters", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(dead.status(), 401);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let daemon = Daemon::start("");
    let health = daemon
        .client
        .get(format!("{}/healthz", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = daemon
        .client
        .get(format!("{}/readyz", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"store": true, "pipeline": true, "inbox_pending": 0,
            "inbox_backlog_limit": 100_000, "lag_seconds": 0, "backlogged": false})
    );
    assert_eq!(
        daemon
            .post_site(
                "h1",
                &touch_body("m@example.com", "email_open", &now_rfc3339())
            )
            .await
            .status(),
        200
    );
    daemon
        .wait_contact("m@example.com", |v| v["touch_count"] == 1)
        .await;
    let metrics = daemon.metrics().await;
    for name in [
        r#"attentiond_webhooks_total{source="site",status="200"} 1"#,
        "attentiond_inbox_pending 0",
        r#"attentiond_touches_total{kind="email_open"} 1"#,
        // Counted as people arrive, not only by the decay refresh.
        "attentiond_contacts 1",
    ] {
        assert!(metrics.contains(name), "{name} missing from {metrics}");
    }
    let store_bytes: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("attentiond_store_bytes "))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no store size in {metrics}"));
    assert!(store_bytes > 0, "{metrics}");
}

/// Two opens of one day: whichever arrives first, the earlier one is the day's
/// first and counts in full, the later one counts half.
#[tokio::test]
async fn an_open_arriving_late_is_counted_as_if_it_had_arrived_in_order() {
    let daemon = Daemon::start("");
    let yesterday = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    let at = |hour: u32| {
        yesterday
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_utc()
            .to_rfc3339()
    };
    let email = "late-open@example.com";
    assert_eq!(
        daemon
            .post_site("open-11", &touch_body(email, "email_open", &at(11)))
            .await
            .status(),
        200
    );
    daemon.wait_contact(email, |v| v["touch_count"] == 1).await;
    assert_eq!(
        daemon
            .post_site("open-10", &touch_body(email, "email_open", &at(10)))
            .await
            .status(),
        200
    );
    let view = daemon.wait_contact(email, |v| v["touch_count"] == 2).await;
    // Newest first: the 11:00 open was rewritten from 1 to 0.5 when the 10:00 one came.
    let touches = view["touches"].as_array().unwrap();
    assert_eq!(touches[0]["weight"], 0.5, "{view}");
    assert_eq!(
        touches[0]["notes"],
        serde_json::json!(["2nd email open of the day counts 50%"])
    );
    assert_eq!(touches[1]["weight"], 1.0, "{view}");
    assert!(touches[1].get("notes").is_none(), "{view}");
}

#[tokio::test]
async fn an_apple_privacy_prefetch_is_logged_with_weight_zero_and_the_reason() {
    let daemon = Daemon::start("");
    let body = serde_json::json!({
        "type": "touch",
        "timestamp": now_rfc3339(),
        "data": {
            "email": "mpp@example.com", "kind": "email_open", "occurred_at": now_rfc3339(),
            "properties": {"user_agent": "Mozilla/5.0", "ip": "146.75.168.133"}
        }
    })
    .to_string();
    assert_eq!(daemon.post_site("mpp-1", &body).await.status(), 200);
    let view = daemon
        .wait_contact("mpp@example.com", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(view["raw"], 0.0, "{view}");
    assert_eq!(view["touches"][0]["weight"], 0.0);
    assert_eq!(
        view["touches"][0]["notes"],
        serde_json::json!(["machine open (Apple Mail Privacy Protection)"])
    );
}

/// A daemon started again in the same process right after a stop gets its store:
/// the stopped one lets go of it, however recently its workers were busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_restarted_at_once_in_the_same_process_opens_its_store() {
    let mut dir = tempfile::tempdir().unwrap();
    for round in 0..30u64 {
        let daemon = Daemon::start_in(dir, "");
        let body = touch_body("lock@acme.io", "page_view", &now_rfc3339());
        let answer = daemon.post_site(&format!("lock-{round}"), &body).await;
        assert_eq!(answer.status(), 200, "round {round}");
        daemon.drained().await;
        let contact = daemon.contact("lock@acme.io").await.unwrap();
        assert_eq!(contact["touch_count"], round + 1);
        dir = daemon.stop();
    }
}
