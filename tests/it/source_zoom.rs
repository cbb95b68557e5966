//! Zoom over real HTTP: URL validation, webinar registration and attendance, signed as
//! Zoom signs (`x-zm-signature: v0=…`). Payload shapes follow Zoom's webhook reference,
//! cited at the fixtures in the adapter's unit tests (`src/sources/zoom.rs`).

use crate::harness::*;

const SOURCE: &str = r#"
[sources.zoom]
kind = "zoom"
secret_token = "zoom-secret-token"
"#;

fn zoom_headers(secret: &str, body: &str, ts: i64) -> Vec<(String, String)> {
    let signature = hex::encode(hmac_sha256(secret, format!("v0:{ts}:{body}").as_bytes()));
    vec![
        ("x-zm-signature".into(), format!("v0={signature}")),
        ("x-zm-request-timestamp".into(), ts.to_string()),
    ]
}

#[tokio::test]
async fn zoom_url_validation_registration_and_attendance() {
    let daemon = Daemon::start(SOURCE);
    let now = unix_now();
    // Zoom's URL validation, answered without storing anything.
    let challenge = r#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    let response = daemon
        .post(
            "/webhooks/zoom",
            &zoom_headers("zoom-secret-token", challenge, now),
            challenge,
        )
        .await;
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
    assert_eq!(
        answer["encryptedToken"],
        hex::encode(hmac_sha256("zoom-secret-token", b"qgg8vlvZRS6UYooatFL8Aw"))
    );
    assert_eq!(
        daemon
            .status(
                "/webhooks/zoom",
                &zoom_headers("wrong", challenge, now),
                challenge
            )
            .await,
        401
    );

    let registered = serde_json::json!({"event": "webinar.registration_created", "event_ts": now * 1000, "payload": {"account_id": "A", "object": {
        "uuid": "W1==", "id": "85936634568", "topic": "Pricing for teams", "registrant": {"id": "R1", "first_name": "Jill", "last_name": "Chill",
        "email": "jill@example.com", "org": "Acme", "job_title": "VP Engineering", "create_time": rfc3339_from_now(-30)}}}}).to_string();
    let left = serde_json::json!({"event": "webinar.participant_left", "event_ts": now * 1000, "payload": {"account_id": "A", "object": {
        "uuid": "W1==", "id": "85936634568", "topic": "Pricing for teams", "participant": {"user_name": "Jill Chill", "participant_uuid": "P1",
        "join_time": rfc3339_from_now(-1800), "leave_time": rfc3339_from_now(0), "email": "jill@example.com"}}}}).to_string();
    for body in [&registered, &left] {
        assert_eq!(
            daemon
                .status(
                    "/webhooks/zoom",
                    &zoom_headers("zoom-secret-token", body, now),
                    body
                )
                .await,
            200
        );
    }
    let view = daemon
        .wait_contact("jill@example.com", |v| v["touch_count"] == 2)
        .await;
    assert_eq!(view["profile"]["title"]["value"], "VP Engineering");
    // A VP (+25) at a company with a profile: fit B, and the reason says why.
    assert_eq!(view["fit_grade"], "B", "{view}");
    assert_eq!(
        view["fit_reasons"],
        serde_json::json!(["title: VP Engineering (+25)"])
    );
    assert_eq!(view["fit_missing"], serde_json::json!([]));
    let attended = view["touches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "webinar_attended")
        .unwrap()
        .clone();
    // 30 of 60 minutes: half of the webinar_attended weight of 12.
    assert!(
        (attended["weight"].as_f64().unwrap() - 6.0).abs() < 0.01,
        "{attended}"
    );

    // Zoom's retry of the same event counts once.
    assert_eq!(
        daemon
            .status(
                "/webhooks/zoom",
                &zoom_headers("zoom-secret-token", &left, now),
                &left
            )
            .await,
        200
    );
    let stale = zoom_headers("zoom-secret-token", &registered, now - 600);
    assert_eq!(
        daemon.status("/webhooks/zoom", &stale, &registered).await,
        401
    );
    let other = registered.replace("jill@example.com", "oscar@example.com");
    assert_eq!(
        daemon
            .status(
                "/webhooks/zoom",
                &zoom_headers("zoom-secret-token", &registered, now),
                &other
            )
            .await,
        401
    );
    assert_eq!(daemon.status("/webhooks/zoom", &[], &other).await, 401);
    let broken = r#"{"event":"webinar.registration_created","payload":{"object":{}}}"#;
    assert_eq!(
        daemon
            .status(
                "/webhooks/zoom",
                &zoom_headers("zoom-secret-token", broken, now),
                broken
            )
            .await,
        400
    );
    daemon.drained().await;
    assert!(daemon.contact("oscar@example.com").await.is_none());
    assert_eq!(
        daemon.contact("jill@example.com").await.unwrap()["touch_count"],
        2
    );
}

/// A `webinar.participant_joined` or `webinar.participant_left` in the shape of Zoom's
/// Webinars webhook reference (developers.zoom.us/docs/api/webinars/events): the join
/// carries `join_time`, the leave `leave_time` and `leave_reason`, never the other.
fn attendance(event: &str, email: &str, participant: &str, at: &str) -> String {
    let (time_field, extra) = if event == "webinar.participant_joined" {
        ("join_time", serde_json::json!({}))
    } else {
        (
            "leave_time",
            serde_json::json!({"leave_reason": "left the webinar.<br>Reason : left the meeting"}),
        )
    };
    let mut person = serde_json::json!({"user_id": "16778240", "user_name": "Jill Chill",
        "id": "iFxeBPYun6SAiWUzBcEkX", "participant_uuid": participant, "email": email,
        "registrant_id": "abcdefghij0-klmnopq23456", "participant_user_id": "iFxeBPYun6SAiWUzBcEkX",
        "customer_key": "349589LkJyeW", "phone_number": "8615250064084"});
    person[time_field] = at.into();
    for (key, value) in extra.as_object().unwrap() {
        person[key] = value.clone();
    }
    serde_json::json!({"event": event, "event_ts": unix_now() * 1000, "payload": {"account_id": "AAAAAABBBB",
        "object": {"id": "85936634568", "uuid": "czLF6FFFoQOKgAB99DlDb9g==", "host_id": "z8yCxjabcdEFGHfp8uQ",
            "topic": "Pricing for teams", "type": 5, "start_time": rfc3339_from_now(-3600),
            "timezone": "America/Los_Angeles", "duration": 60, "participant": person}}})
    .to_string()
}

async fn send_zoom(daemon: &Daemon, body: &str) {
    let status = daemon
        .status(
            "/webhooks/zoom",
            &zoom_headers("zoom-secret-token", body, unix_now()),
            body,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

fn leave_of(view: &serde_json::Value) -> serde_json::Value {
    view["touches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["properties"]["left"] == true)
        .cloned()
        .unwrap_or_else(|| panic!("no leave in {view}"))
}

#[tokio::test]
async fn a_zoom_leave_counts_the_minutes_since_its_join_even_across_a_restart() {
    let daemon = Daemon::start(SOURCE);
    let joined_at = chrono::Utc::now() - chrono::Duration::seconds(600);
    let left_at = joined_at + chrono::Duration::seconds(120);
    let at = |time: chrono::DateTime<chrono::Utc>| {
        time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let joined = attendance(
        "webinar.participant_joined",
        "jill@example.com",
        "55555AAAiAAAAAiAiAiiAii",
        &at(joined_at),
    );
    send_zoom(&daemon, &joined).await;
    daemon
        .wait_contact("jill@example.com", |v| v["touch_count"] == 1)
        .await;
    // The join is kept in the store: a restart between join and leave loses nothing.
    let dir = daemon.stop();
    let daemon = Daemon::start_in(dir, SOURCE);
    let left = attendance(
        "webinar.participant_left",
        "jill@example.com",
        "55555AAAiAAAAAiAiAiiAii",
        &at(left_at),
    );
    send_zoom(&daemon, &left).await;
    let view = daemon
        .wait_contact("jill@example.com", |v| v["touch_count"] == 2)
        .await;
    let leave = leave_of(&view);
    assert_eq!(leave["properties"]["minutes"], 2.0, "{view}");
    assert!(
        leave["notes"]
            .as_array()
            .unwrap()
            .contains(&"attended 2 of 60 minutes".into()),
        "{leave}"
    );
    // 12 × 2/60, where the full weight is 12.
    let weight = leave["weight"].as_f64().unwrap();
    assert!(weight > 0.0 && weight <= 0.4 + 1e-9, "{leave}");

    // Someone whose join never arrived: the leave counts what a join counts, a
    // quarter, not the whole webinar.
    let orphan = attendance(
        "webinar.participant_left",
        "omar@example.com",
        "66666BBBiBBBBBiBiBiiBii",
        &rfc3339_from_now(-60),
    );
    send_zoom(&daemon, &orphan).await;
    let view = daemon
        .wait_contact("omar@example.com", |v| v["touch_count"] == 1)
        .await;
    let leave = leave_of(&view);
    assert!(leave["properties"].get("minutes").is_none(), "{leave}");
    let weight = leave["weight"].as_f64().unwrap();
    assert!(weight > 0.0 && weight <= 3.0 + 1e-9, "{leave}");
}
