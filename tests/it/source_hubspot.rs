//! HubSpot app webhooks in, as HubSpot sends them.
//!
//! Payload fixtures follow developers.hubspot.com/docs/api/webhooks ("Example
//! payload": objectId, propertyName, propertyValue, changeSource, eventId,
//! subscriptionId, portalId, appId, occurredAt, subscriptionType, attemptNumber) and the
//! merge fields of the changelog "new subscription types for webhooks".

use crate::harness::*;
use sha2::Digest;

pub fn event(
    event_id: u64,
    object_id: u64,
    subscription: &str,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut event = serde_json::json!({
        "eventId": event_id, "subscriptionId": 25, "portalId": 62515, "appId": 54321,
        "occurredAt": chrono::Utc::now().timestamp_millis(), "subscriptionType": subscription,
        "attemptNumber": 0, "objectId": object_id, "changeSource": "CRM"
    });
    if let serde_json::Value::Object(extra) = extra {
        event.as_object_mut().unwrap().extend(extra);
    }
    event
}

fn property_change(
    event_id: u64,
    object_id: u64,
    property: &str,
    value: &str,
) -> serde_json::Value {
    event(
        event_id,
        object_id,
        "contact.propertyChange",
        serde_json::json!({"propertyName": property, "propertyValue": value}),
    )
}

pub async fn send(daemon: &Daemon, events: &[serde_json::Value]) -> reqwest::Response {
    let body = serde_json::Value::Array(events.to_vec()).to_string();
    let uri = format!("{}/webhooks/hubspot", daemon.base);
    let headers = sign_hubspot_v3(
        HUBSPOT_SECRET,
        "POST",
        &uri,
        &body,
        chrono::Utc::now().timestamp_millis(),
    );
    daemon.post("/webhooks/hubspot", &headers, &body).await
}

fn ms_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .timestamp_millis()
        .to_string()
}

#[tokio::test]
async fn engagement_property_changes_become_touches_at_the_property_time() {
    let daemon = Daemon::start("");
    let response = send(
        &daemon,
        &[
            property_change(1001, 501, "hs_email_last_click_date", &ms_ago(14)),
            property_change(1002, 501, "recent_conversion_date", &ms_ago(0)),
            property_change(1003, 501, "firstname", "Ann"),
            property_change(1004, 501, "email", "ann@hubspot-customer.com"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let view = daemon
        .wait_contact("hubspot:501", |v| v["touch_count"] == 2)
        .await;
    assert_eq!(view["crm_ids"], serde_json::json!({"hubspot": "501"}));
    assert_eq!(
        view["emails"],
        serde_json::json!(["ann@hubspot-customer.com"])
    );
    // Click 3 at one half-life + form submit 10 now.
    assert!(
        (view["raw"].as_f64().unwrap() - 11.5).abs() < 0.01,
        "{view}"
    );
    let by_email = daemon.contact("ann@hubspot-customer.com").await.unwrap();
    assert_eq!(by_email["id"], view["id"]);
}

#[tokio::test]
async fn a_retried_batch_counts_once() {
    let daemon = Daemon::start("");
    let batch = [
        property_change(2001, 601, "hs_email_last_open_date", &ms_ago(1)),
        property_change(2002, 602, "engagements_last_meeting_booked", &ms_ago(0)),
    ];
    assert_eq!(send(&daemon, &batch).await.status(), 200);
    daemon
        .wait_contact("hubspot:602", |v| v["touch_count"] == 1)
        .await;
    // HubSpot retries the whole batch with a higher attemptNumber.
    let retried: Vec<_> = batch
        .iter()
        .cloned()
        .map(|mut e| {
            e["attemptNumber"] = 1.into();
            e
        })
        .collect();
    let response = send(&daemon, &retried).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["status"],
        "duplicate"
    );
    // A batch mixing a seen event with a new one applies only the new one.
    let mixed = [
        batch[0].clone(),
        property_change(2003, 601, "hs_email_last_reply_date", &ms_ago(0)),
    ];
    assert_eq!(send(&daemon, &mixed).await.status(), 200);
    daemon
        .wait_contact("hubspot:601", |v| v["touch_count"] == 2)
        .await;
    daemon.drained().await;
    assert_eq!(
        daemon.contact("hubspot:601").await.unwrap()["touch_count"],
        2
    );
    assert_eq!(
        daemon.contact("hubspot:602").await.unwrap()["touch_count"],
        1
    );
}

#[tokio::test]
async fn a_merge_brings_both_contacts_attention_together() {
    let daemon = Daemon::start("");
    send(
        &daemon,
        &[
            property_change(3001, 100, "recent_conversion_date", &ms_ago(0)),
            property_change(3002, 200, "hs_email_last_click_date", &ms_ago(0)),
        ],
    )
    .await;
    daemon
        .wait_contact("hubspot:200", |v| v["touch_count"] == 1)
        .await;
    let merge = event(
        3003,
        100,
        "contact.merge",
        serde_json::json!({"primaryObjectId": 100, "mergedObjectIds": [200], "newObjectId": 300, "numberOfPropertiesMoved": 3}),
    );
    assert_eq!(send(&daemon, &[merge]).await.status(), 200);
    let merged = daemon
        .wait_contact("hubspot:300", |v| v["touch_count"] == 2)
        .await;
    assert_eq!(merged["crm_ids"], serde_json::json!({"hubspot": "300"}));
    assert!((merged["raw"].as_f64().unwrap() - 13.0).abs() < 0.01);
    // Late events about the old ids still land on the merged contact.
    assert_eq!(
        daemon.contact("hubspot:200").await.unwrap()["id"],
        merged["id"]
    );
}

#[tokio::test]
async fn a_privacy_deletion_forgets_the_person_for_good() {
    let daemon = Daemon::start("");
    send(
        &daemon,
        &[
            property_change(4001, 700, "email", "gone@example.com"),
            property_change(4002, 700, "recent_conversion_date", &ms_ago(0)),
        ],
    )
    .await;
    daemon
        .wait_contact("hubspot:700", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(
        send(
            &daemon,
            &[event(
                4003,
                700,
                "contact.privacyDeletion",
                serde_json::json!({})
            )]
        )
        .await
        .status(),
        200
    );
    daemon.drained().await;
    assert!(daemon.contact("hubspot:700").await.is_none());
    assert!(daemon.contact("gone@example.com").await.is_none());
    // Later touches about the erased person are dropped, by either identity.
    send(
        &daemon,
        &[property_change(
            4004,
            700,
            "hs_email_last_open_date",
            &ms_ago(0),
        )],
    )
    .await;
    daemon
        .post_site(
            "erased-site",
            &touch_body("gone@example.com", "page_view", &now_rfc3339()),
        )
        .await;
    daemon.drained().await;
    assert!(daemon.contact("hubspot:700").await.is_none());
    assert!(daemon.contact("gone@example.com").await.is_none());
}

#[tokio::test]
async fn hubspot_signature_rules_hold_over_http() {
    let daemon = Daemon::start("");
    let body = serde_json::Value::Array(vec![property_change(
        5001,
        800,
        "recent_conversion_date",
        &ms_ago(0),
    )])
    .to_string();
    let uri = format!("{}/webhooks/hubspot", daemon.base);
    let now = chrono::Utc::now().timestamp_millis();

    let stale = sign_hubspot_v3(HUBSPOT_SECRET, "POST", &uri, &body, now - 6 * 60 * 1000);
    assert_eq!(daemon.status("/webhooks/hubspot", &stale, &body).await, 401);
    let wrong = sign_hubspot_v3("other-secret", "POST", &uri, &body, now);
    assert_eq!(daemon.status("/webhooks/hubspot", &wrong, &body).await, 401);
    let other_url = sign_hubspot_v3(
        HUBSPOT_SECRET,
        "POST",
        "https://elsewhere.example.com/webhooks/hubspot",
        &body,
        now,
    );
    assert_eq!(
        daemon.status("/webhooks/hubspot", &other_url, &body).await,
        401
    );
    assert_eq!(daemon.status("/webhooks/hubspot", &[], &body).await, 401);

    // Authentic but not HubSpot's format.
    let object = r#"{"eventId": 1}"#;
    let headers = sign_hubspot_v3(HUBSPOT_SECRET, "POST", &uri, object, now);
    let response = daemon.post("/webhooks/hubspot", &headers, object).await;
    assert_eq!(response.status(), 400);

    // v1 (SHA-256 of secret + body), as HubSpot still sends to older subscriptions.
    let v1 = hex::encode(sha2::Sha256::digest(
        format!("{HUBSPOT_SECRET}{body}").as_bytes(),
    ));
    let headers = vec![
        ("X-HubSpot-Signature".to_string(), v1),
        ("X-HubSpot-Signature-Version".to_string(), "v1".to_string()),
    ];
    assert_eq!(
        daemon.status("/webhooks/hubspot", &headers, &body).await,
        200
    );
    daemon
        .wait_contact("hubspot:800", |v| v["touch_count"] == 1)
        .await;
}

#[tokio::test]
async fn behind_a_proxy_the_public_url_is_what_hubspot_signed() {
    let daemon = Daemon::start("");
    drop(daemon);
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(dir.path(), "").replace(
        "[server]\n",
        "[server]\npublic_url = \"https://attention.example.com\"\n",
    );
    let config = attentiond::config::Config::from_toml(&text).unwrap();
    assert_eq!(
        config.server.public_url.as_deref(),
        Some("https://attention.example.com")
    );
    let daemon = Daemon::start_with(dir, config);
    let body = serde_json::Value::Array(vec![property_change(
        6001,
        900,
        "recent_conversion_date",
        &ms_ago(0),
    )])
    .to_string();
    let now = chrono::Utc::now().timestamp_millis();
    let seen_locally = sign_hubspot_v3(
        HUBSPOT_SECRET,
        "POST",
        &format!("{}/webhooks/hubspot?portal=1", daemon.base),
        &body,
        now,
    );
    assert_eq!(
        daemon
            .status("/webhooks/hubspot?portal=1", &seen_locally, &body)
            .await,
        401
    );
    let public = sign_hubspot_v3(
        HUBSPOT_SECRET,
        "POST",
        "https://attention.example.com/webhooks/hubspot?portal=1",
        &body,
        now,
    );
    assert_eq!(
        daemon
            .status("/webhooks/hubspot?portal=1", &public, &body)
            .await,
        200
    );
}

// The fixture and v1 signature of hubspot-api-nodejs test/unit/signature.spec.ts (also
// in HubSpot's "validating requests" page), sent byte for byte over HTTP.
#[tokio::test]
async fn the_sdk_test_vector_is_accepted_over_http() {
    let daemon = Daemon::start("");
    let body = r#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;
    let headers = vec![
        (
            "X-HubSpot-Signature".to_string(),
            "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de".to_string(),
        ),
        ("X-HubSpot-Signature-Version".to_string(), "v1".to_string()),
    ];
    let response = daemon.post("/webhooks/hubspot", &headers, body).await;
    assert_eq!(response.status(), 200);
    // A creation carries no attention: acknowledged, nothing stored.
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["status"],
        "ignored"
    );
    let tampered = body.replace("\"objectId\":123", "\"objectId\":124");
    assert_eq!(
        daemon
            .status("/webhooks/hubspot", &headers, &tampered)
            .await,
        401
    );
}

#[tokio::test]
async fn deal_stages_are_kept_as_outcomes_of_the_deal() {
    let daemon = Daemon::start("");
    let created = event(
        8001,
        9001,
        "deal.creation",
        serde_json::json!({"changeFlag": "NEW"}),
    );
    let won = event(
        8002,
        9001,
        "deal.propertyChange",
        serde_json::json!({"propertyName": "dealstage", "propertyValue": "closedwon"}),
    );
    assert_eq!(send(&daemon, &[created, won.clone()]).await.status(), 200);
    assert_eq!(send(&daemon, &[won]).await.status(), 200);
    daemon.drained().await;
    let outcomes = |query: &'static str| {
        let daemon = &daemon;
        async move {
            daemon
                .client
                .get(format!("{}/api/v1/outcomes?{query}", daemon.base))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap()
        }
    };
    let listed: serde_json::Value = outcomes("opportunity=hubspot-deal:9001")
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = listed["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["won", "opportunity_created"], "{listed}");
    assert_eq!(listed["outcomes"][0]["stage"], "closedwon");
    assert_eq!(listed["outcomes"][0]["source"], "hubspot");
    assert_eq!(outcomes("account=x&opportunity=y").await.status(), 400);
}
