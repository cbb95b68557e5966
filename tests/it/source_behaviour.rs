//! Calendly, Typeform, Zoom and Intercom over real HTTP, signed the vendors' ways.
//! Payload shapes follow each vendor's webhook reference (cited at the fixtures in the
//! adapters' unit tests, `src/sources/<kind>.rs`).

use crate::harness::*;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SOURCES: &str = r#"
[sources.calendly]
kind = "calendly"
signing_key = "calendly-signing-key"

[sources.typeform]
kind = "typeform"
secret = "typeform-secret"
[sources.typeform.profile_fields]
company_ref = "company"

[sources.zoom]
kind = "zoom"
secret_token = "zoom-secret-token"

[sources.intercom]
kind = "intercom"
client_secret = "intercom-client-secret"
"#;

fn hmac256(key: &str, message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn calendly_headers(key: &str, body: &str, t: i64) -> Vec<(String, String)> {
    let signature = hex::encode(hmac256(key, format!("{t}.{body}").as_bytes()));
    vec![(
        "Calendly-Webhook-Signature".into(),
        format!("t={t},v1={signature}"),
    )]
}

fn typeform_headers(secret: &str, body: &str) -> Vec<(String, String)> {
    let signature =
        base64::engine::general_purpose::STANDARD.encode(hmac256(secret, body.as_bytes()));
    vec![("Typeform-Signature".into(), format!("sha256={signature}"))]
}

fn zoom_headers(secret: &str, body: &str, ts: i64) -> Vec<(String, String)> {
    let signature = hex::encode(hmac256(secret, format!("v0:{ts}:{body}").as_bytes()));
    vec![
        ("x-zm-signature".into(), format!("v0={signature}")),
        ("x-zm-request-timestamp".into(), ts.to_string()),
    ]
}

fn intercom_headers(secret: &str, body: &str) -> Vec<(String, String)> {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    vec![(
        "X-Hub-Signature".into(),
        format!("sha1={}", hex::encode(mac.finalize().into_bytes())),
    )]
}

fn iso(offset_secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn calendly_booking(email: &str, invitee: &str) -> String {
    serde_json::json!({"created_at": iso(0), "created_by": "https://api.calendly.com/users/AAAA", "event": "invitee.created",
        "payload": {"uri": format!("https://api.calendly.com/scheduled_events/EV1/invitees/{invitee}"), "email": email,
            "first_name": "Dana", "last_name": "Scully", "name": "Dana Scully", "status": "active", "rescheduled": false,
            "created_at": iso(-5), "updated_at": iso(-5), "event": "https://api.calendly.com/scheduled_events/EV1",
            "questions_and_answers": [], "tracking": {}, "timezone": "Europe/Paris"}})
    .to_string()
}

#[tokio::test]
async fn calendly_bookings_no_shows_and_bad_signatures() {
    let daemon = Daemon::start(SOURCES);
    let now = unix_now();
    let booking = calendly_booking("dana@example.com", "INV1");
    let response = daemon
        .post(
            "/webhooks/calendly",
            &calendly_headers("calendly-signing-key", &booking, now),
            &booking,
        )
        .await;
    assert_eq!(response.status(), 200);
    let view = daemon
        .wait_contact("dana@example.com", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(view["touches"][0]["kind"], "meeting_booked");
    assert_eq!(view["profile"]["first_name"]["value"], "Dana");
    assert_eq!(view["profile"]["last_name"]["source"], "calendly");
    assert_eq!(view["crm_ids"]["calendly"], "INV1");

    // The redelivered booking counts once; the no-show finds Dana by invitee URI.
    daemon
        .post(
            "/webhooks/calendly",
            &calendly_headers("calendly-signing-key", &booking, now),
            &booking,
        )
        .await;
    let no_show = serde_json::json!({"created_at": iso(0), "event": "invitee_no_show.created",
        "payload": {"uri": "https://api.calendly.com/invitee_no_shows/NS1", "invitee": "https://api.calendly.com/scheduled_events/EV1/invitees/INV1", "created_at": iso(0)}}).to_string();
    assert_eq!(
        daemon
            .status(
                "/webhooks/calendly",
                &calendly_headers("calendly-signing-key", &no_show, now),
                &no_show
            )
            .await,
        200
    );
    let view = daemon
        .wait_contact("dana@example.com", |v| v["touch_count"] == 2)
        .await;
    assert_eq!(view["touches"][0]["kind"], "meeting_no_show");

    let other = calendly_booking("mallory@example.com", "INV9");
    for (headers, body, status) in [
        (
            calendly_headers("wrong-key", &other, now),
            other.clone(),
            401,
        ),
        (
            calendly_headers("calendly-signing-key", &other, now - 600),
            other.clone(),
            401,
        ),
        (
            calendly_headers(
                "calendly-signing-key",
                &calendly_booking("dana@example.com", "INV1"),
                now,
            ),
            other.clone(),
            401,
        ),
        (vec![], other.clone(), 401),
        (
            calendly_headers("calendly-signing-key", "{\"event\":", now),
            "{\"event\":".to_string(),
            400,
        ),
    ] {
        assert_eq!(
            daemon.status("/webhooks/calendly", &headers, &body).await,
            status,
            "{headers:?}"
        );
    }
    daemon.drained().await;
    assert!(daemon.contact("mallory@example.com").await.is_none());
    assert_eq!(
        daemon.contact("dana@example.com").await.unwrap()["touch_count"],
        2
    );
}

fn typeform_response(event_id: &str, email: &str) -> String {
    serde_json::json!({"event_id": event_id, "event_type": "form_response", "form_response": {
        "form_id": "lT4Z3j", "token": "tok", "submitted_at": iso(-60), "landed_at": iso(-120),
        "hidden": {"anonymous_id": "visitor-tf"},
        "definition": {"id": "lT4Z3j", "title": "Demo request", "fields": []},
        "answers": [
            {"type": "text", "text": "Acme Inc", "field": {"id": "a1", "type": "short_text", "ref": "company_ref"}},
            {"type": "email", "email": email, "field": {"id": "a2", "type": "email", "ref": "email_ref"}}
        ]}})
    .to_string()
}

#[tokio::test]
async fn typeform_responses_become_form_submits_with_profile() {
    let daemon = Daemon::start(SOURCES);
    // An earlier anonymous visit joins the respondent through the hidden field.
    let visit = serde_json::json!({"type": "touch", "data": {"anonymous_id": "visitor-tf", "kind": "pricing_view", "occurred_at": now_rfc3339()}}).to_string();
    daemon.post_site("tf-visit", &visit).await;
    let body = typeform_response("LtWXD3crgy", "laura@example.com");
    assert_eq!(
        daemon
            .status(
                "/webhooks/typeform",
                &typeform_headers("typeform-secret", &body),
                &body
            )
            .await,
        200
    );
    let view = daemon
        .wait_contact("laura@example.com", |v| v["touch_count"] == 2)
        .await;
    assert_eq!(view["profile"]["company"]["value"], "Acme Inc");
    let kinds: Vec<&str> = view["touches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"form_submit") && kinds.contains(&"pricing_view"),
        "{kinds:?}"
    );
    assert_eq!(
        daemon
            .status(
                "/webhooks/typeform",
                &typeform_headers("typeform-secret", &body),
                &body
            )
            .await,
        200
    );

    let other = typeform_response("evt-2", "eve@example.com");
    assert_eq!(
        daemon
            .status(
                "/webhooks/typeform",
                &typeform_headers("wrong", &other),
                &other
            )
            .await,
        401
    );
    assert_eq!(
        daemon
            .status(
                "/webhooks/typeform",
                &typeform_headers("typeform-secret", &body),
                &other
            )
            .await,
        401
    );
    assert_eq!(daemon.status("/webhooks/typeform", &[], &other).await, 401);
    let broken = r#"{"event_id":"x","event_type":"form_response"}"#;
    assert_eq!(
        daemon
            .status(
                "/webhooks/typeform",
                &typeform_headers("typeform-secret", broken),
                broken
            )
            .await,
        400
    );
    daemon.drained().await;
    assert!(daemon.contact("eve@example.com").await.is_none());
    assert_eq!(
        daemon.contact("laura@example.com").await.unwrap()["touch_count"],
        2
    );
}

#[tokio::test]
async fn zoom_url_validation_registration_and_attendance() {
    let daemon = Daemon::start(SOURCES);
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
        hex::encode(hmac256("zoom-secret-token", b"qgg8vlvZRS6UYooatFL8Aw"))
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
        "email": "jill@example.com", "org": "Acme", "job_title": "VP Engineering", "create_time": iso(-30)}}}}).to_string();
    let left = serde_json::json!({"event": "webinar.participant_left", "event_ts": now * 1000, "payload": {"account_id": "A", "object": {
        "uuid": "W1==", "id": "85936634568", "topic": "Pricing for teams", "participant": {"user_name": "Jill Chill", "participant_uuid": "P1",
        "join_time": iso(-1800), "leave_time": iso(0), "email": "jill@example.com"}}}}).to_string();
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

#[tokio::test]
async fn intercom_conversations_by_people_are_chats() {
    let daemon = Daemon::start(SOURCES);
    let started = serde_json::json!({"type": "notification_event", "id": "notif_1", "topic": "conversation.user.created", "created_at": unix_now(),
        "data": {"type": "notification_event_data", "item": {"type": "conversation", "id": "147",
            "source": {"type": "conversation", "id": "403918330", "body": "<p>Pricing for teams?</p>",
                "author": {"type": "user", "id": "5310d8e7598c9a0b24000002", "name": "Ann", "email": "ann@example.com"}}}}})
    .to_string();
    assert_eq!(
        daemon
            .status(
                "/webhooks/intercom",
                &intercom_headers("intercom-client-secret", &started),
                &started
            )
            .await,
        200
    );
    let view = daemon
        .wait_contact("intercom:5310d8e7598c9a0b24000002", |v| {
            v["touch_count"] == 1
        })
        .await;
    assert_eq!(view["touches"][0]["kind"], "chat");
    assert_eq!(view["emails"], serde_json::json!(["ann@example.com"]));
    assert_eq!(
        daemon
            .status(
                "/webhooks/intercom",
                &intercom_headers("intercom-client-secret", &started),
                &started
            )
            .await,
        200
    );

    let other = started
        .replace("ann@example.com", "trudy@example.com")
        .replace("notif_1", "notif_2")
        .replace("5310d8e7598c9a0b24000002", "T");
    assert_eq!(
        daemon
            .status(
                "/webhooks/intercom",
                &intercom_headers("wrong", &other),
                &other
            )
            .await,
        401
    );
    assert_eq!(
        daemon
            .status(
                "/webhooks/intercom",
                &intercom_headers("intercom-client-secret", &started),
                &other
            )
            .await,
        401
    );
    assert_eq!(daemon.status("/webhooks/intercom", &[], &other).await, 401);
    let broken = r#"{"id":"n","topic":"conversation.user.created","data":{}}"#;
    assert_eq!(
        daemon
            .status(
                "/webhooks/intercom",
                &intercom_headers("intercom-client-secret", broken),
                broken
            )
            .await,
        400
    );
    daemon.drained().await;
    assert!(daemon.contact("trudy@example.com").await.is_none());
    assert_eq!(
        daemon.contact("ann@example.com").await.unwrap()["touch_count"],
        1
    );
}

/// The Typeform webhook described as a `mapped` source: the same fixture and signature
/// give the same touch and profile.
const TYPEFORM_AS_MAPPED: &str = r#"
[sources.forms]
kind = "mapped"
[sources.forms.auth]
scheme = "hmac"
header = "Typeform-Signature"
secret = "typeform-secret"
algorithm = "sha256"
encoding = "base64"
prefix = "sha256="
[sources.forms.fields]
event_id = "/event_id"
email = "/form_response/answers/1/email"
anonymous_id = "/form_response/hidden/anonymous_id"
kind_field = "/event_type"
occurred_at = "/form_response/submitted_at"
[sources.forms.kinds]
form_response = "form_submit"
[sources.forms.profile]
company = "/form_response/answers/0/text"
"#;

#[tokio::test]
async fn a_mapped_source_expresses_the_typeform_webhook() {
    let daemon = Daemon::start(TYPEFORM_AS_MAPPED);
    let body = typeform_response("mapped-1", "mapped@example.com");
    let response = daemon
        .post(
            "/webhooks/forms",
            &typeform_headers("typeform-secret", &body),
            &body,
        )
        .await;
    assert_eq!(response.status(), 200);
    let view = daemon
        .wait_contact("mapped@example.com", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(view["touches"][0]["kind"], "form_submit");
    assert_eq!(view["touches"][0]["source"], "forms");
    assert_eq!(view["profile"]["company"]["value"], "Acme Inc");
    assert_eq!(view["anonymous_ids"], serde_json::json!(["visitor-tf"]));
    // Redelivery, bad signature, and an authentic payload the mapping cannot read.
    assert_eq!(
        daemon
            .status(
                "/webhooks/forms",
                &typeform_headers("typeform-secret", &body),
                &body
            )
            .await,
        200
    );
    let other = typeform_response("mapped-2", "nope@example.com");
    assert_eq!(
        daemon
            .status(
                "/webhooks/forms",
                &typeform_headers("wrong", &other),
                &other
            )
            .await,
        401
    );
    assert_eq!(daemon.status("/webhooks/forms", &[], &other).await, 401);
    let unreadable = r#"{"event_type":"form_response"}"#;
    let response = daemon
        .post(
            "/webhooks/forms",
            &typeform_headers("typeform-secret", unreadable),
            unreadable,
        )
        .await;
    assert_eq!(response.status(), 400);
    let detail: serde_json::Value = response.json().await.unwrap();
    assert!(
        detail["detail"].as_str().unwrap().contains("/event_id"),
        "{detail}"
    );
    daemon.drained().await;
    assert!(daemon.contact("nope@example.com").await.is_none());
    assert_eq!(
        daemon.contact("mapped@example.com").await.unwrap()["touch_count"],
        1
    );
}
