//! What platforms must not be able to slip in: addresses that are no one's, times that
//! never happened, bodies that are no event, and answers or log lines that say more
//! than they should.

use crate::harness::*;

const MAPPED: &str = r#"
[sources.app]
kind = "mapped"
[sources.app.auth]
scheme = "bearer"
secret = "app-token"
[sources.app.fields]
event_id = "/id"
email = "/email"
kind_field = "/action"
occurred_at = "/at"
[sources.app.kinds]
"trial.started" = "trial_signup"
"#;

/// What Rust's debug printing would leave in an answer.
fn assert_no_debug_text(text: &str) {
    for debug in ["Some(", "None", "Ok(", "Err(", "String(", "Value::"] {
        assert!(!text.contains(debug), "debug text in {text}");
    }
}

#[tokio::test]
async fn unusable_addresses_are_refused_naming_the_field_and_nothing_is_stored() {
    let daemon = Daemon::start("");
    let long = format!("{}@example.com", "a".repeat(10_000));
    for (n, email) in [
        "@",
        "a@b",
        "ann@example.com\r\nBcc: all@example.com",
        "ann\u{0}@example.com",
        long.as_str(),
    ]
    .iter()
    .enumerate()
    {
        let body = touch_body(email, "form_submit", &now_rfc3339());
        let response = daemon.post_site(&format!("bad-email-{n}"), &body).await;
        let (status, detail) = problem(response).await;
        assert_eq!(status, 400, "{email:?}: {detail}");
        assert!(
            detail.contains("data.email") && detail.contains("is not an email address"),
            "{detail}"
        );
        assert!(detail.len() < 600, "{} bytes of detail", detail.len());
        assert!(
            !detail.contains('\r') && !detail.contains('\0'),
            "{detail:?}"
        );
        assert_no_debug_text(&detail);
    }
    // Once a good delivery is applied, anything stored before it would have been.
    daemon.touch("good-email@example.com", "form_submit").await;
    daemon
        .wait_contact("good-email@example.com", |v| v["touch_count"] == 1)
        .await;
    let metrics = daemon.metrics().await;
    assert!(
        metrics.contains(r#"attentiond_webhooks_total{source="site",status="400"} 5"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"attentiond_touches_total{kind="form_submit"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_address_in_capitals_of_any_script_is_one_contact() {
    let daemon = Daemon::start("");
    daemon.touch("ÄNN@Example.com", "email_click").await;
    daemon.touch("änn@example.com", "email_open").await;
    let view = daemon
        .wait_contact("%C3%A4nn@example.com", |v| v["touch_count"] == 2)
        .await;
    assert_eq!(view["emails"], serde_json::json!(["änn@example.com"]));
}

#[tokio::test]
async fn times_that_never_happened_are_refused() {
    let daemon = Daemon::start("");
    for (n, (at, why)) in [
        ("1999-12-31T23:59:59Z", "is before 2000-01-01"),
        ("0001-01-01T00:00:00Z", "is before 2000-01-01"),
        ("2999-01-01T00:00:00Z", "is more than a day ahead of now"),
    ]
    .iter()
    .enumerate()
    {
        let body = touch_body(&format!("when{n}@example.com"), "form_submit", at);
        let (status, detail) = problem(daemon.post_site(&format!("when-{n}"), &body).await).await;
        assert_eq!(status, 400, "{at}: {detail}");
        assert!(detail.contains(why), "{detail}");
    }
    // HubSpot sends `-1` for a date that was cleared.
    let body = serde_json::json!([{
        "eventId": 9001, "subscriptionId": 25, "portalId": 62515, "appId": 54321,
        "occurredAt": chrono::Utc::now().timestamp_millis(),
        "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 9001,
        "changeSource": "CRM", "propertyName": "hs_email_last_open_date", "propertyValue": "-1"
    }])
    .to_string();
    let uri = format!("{}/webhooks/hubspot", daemon.base);
    let headers = sign_hubspot_v3(
        HUBSPOT_SECRET,
        "POST",
        &uri,
        &body,
        chrono::Utc::now().timestamp_millis(),
    );
    let (status, detail) = problem(daemon.post("/webhooks/hubspot", &headers, &body).await).await;
    assert_eq!(status, 400);
    assert!(
        detail.contains("1969-12-31T23:59:59.999Z is before 2000-01-01"),
        "{detail}"
    );

    daemon.touch("when-good@example.com", "page_view").await;
    daemon
        .wait_contact("when-good@example.com", |v| v["touch_count"] == 1)
        .await;
    assert!(daemon.contact("hubspot:9001").await.is_none());
    for n in 0..3 {
        assert!(daemon
            .contact(&format!("when{n}@example.com"))
            .await
            .is_none());
    }
}

#[tokio::test]
async fn a_mapped_body_that_is_no_object_is_refused_and_bearer_is_read_in_any_case() {
    let daemon = Daemon::start(MAPPED);
    for (scheme, body) in [("Bearer", "null"), ("bearer", "[]"), ("BEARER", "\"x\"")] {
        let headers = vec![("authorization".to_string(), format!("{scheme} app-token"))];
        let (status, detail) = problem(daemon.post("/webhooks/app", &headers, body).await).await;
        assert_eq!(
            (status, detail.as_str()),
            (400, "malformed payload: body is not a JSON object")
        );
    }
    let good = serde_json::json!({"id": "e-1", "email": "trial@example.com", "action": "trial.started", "at": now_rfc3339()}).to_string();
    let headers = vec![("authorization".to_string(), "bearer app-token".to_string())];
    assert_eq!(daemon.status("/webhooks/app", &headers, &good).await, 200);
    let wrong = vec![(
        "authorization".to_string(),
        "bearer not-the-token".to_string(),
    )];
    assert_eq!(daemon.status("/webhooks/app", &wrong, &good).await, 401);
    daemon
        .wait_contact("trial@example.com", |v| v["touch_count"] == 1)
        .await;

    // The admin API reads the scheme in any case too.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let response = daemon
            .client
            .get(format!("{}/api/v1/contacts/trial@example.com", daemon.base))
            .header("authorization", format!("{scheme} {ADMIN_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn refusals_quote_what_was_sent_only_in_short() {
    let daemon = Daemon::start("");
    let kind = "k".repeat(60_000);
    let body = touch_body("quote@example.com", &kind, &now_rfc3339());
    let (status, detail) = problem(daemon.post_site("quote-1", &body).await).await;
    assert_eq!(status, 400);
    assert!(
        detail.starts_with("malformed payload: unknown kind `kkk"),
        "{detail}"
    );
    assert!(detail.len() < 600, "{} bytes of detail", detail.len());
    // Serde names what it expected by the type's name unless told the words.
    let body = r#"{"type": "touch", "data": 5}"#;
    let (status, detail) = problem(daemon.post_site("quote-2", body).await).await;
    assert_eq!(status, 400);
    assert!(detail.contains("expected a `data` object"), "{detail}");
    assert!(!detail.contains("struct"), "{detail}");
    let name = "n".repeat(4_000);
    let (status, detail) =
        problem(daemon.post(&format!("/webhooks/{name}"), &[], "{}").await).await;
    assert_eq!(status, 404);
    assert!(detail.len() < 600, "{} bytes of detail", detail.len());
    assert_no_debug_text(&detail);
}
