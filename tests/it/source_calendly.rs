//! Calendly over real HTTP: bookings and no-shows, signed as Calendly signs them
//! (`Calendly-Webhook-Signature: t=…,v1=…`). Payload shapes follow Calendly's webhook
//! reference, cited at the fixtures in the adapter's unit tests
//! (`src/sources/calendly.rs`).

use crate::harness::*;

const SOURCE: &str = r#"
[sources.calendly]
kind = "calendly"
signing_key = "calendly-signing-key"
"#;

fn calendly_headers(key: &str, body: &str, t: i64) -> Vec<(String, String)> {
    let signature = hex::encode(hmac_sha256(key, format!("{t}.{body}").as_bytes()));
    vec![(
        "Calendly-Webhook-Signature".into(),
        format!("t={t},v1={signature}"),
    )]
}

fn calendly_booking(email: &str, invitee: &str) -> String {
    serde_json::json!({"created_at": rfc3339_from_now(0), "created_by": "https://api.calendly.com/users/AAAA", "event": "invitee.created",
        "payload": {"uri": format!("https://api.calendly.com/scheduled_events/EV1/invitees/{invitee}"), "email": email,
            "first_name": "Dana", "last_name": "Scully", "name": "Dana Scully", "status": "active", "rescheduled": false,
            "created_at": rfc3339_from_now(-5), "updated_at": rfc3339_from_now(-5), "event": "https://api.calendly.com/scheduled_events/EV1",
            "questions_and_answers": [], "tracking": {}, "timezone": "Europe/Paris"}})
    .to_string()
}

#[tokio::test]
async fn calendly_bookings_no_shows_and_bad_signatures() {
    let daemon = Daemon::start(SOURCE);
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
    let no_show = serde_json::json!({"created_at": rfc3339_from_now(0), "event": "invitee_no_show.created",
        "payload": {"uri": "https://api.calendly.com/invitee_no_shows/NS1", "invitee": "https://api.calendly.com/scheduled_events/EV1/invitees/INV1", "created_at": rfc3339_from_now(0)}}).to_string();
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

#[tokio::test]
async fn both_shapes_of_a_calendly_no_show_are_read_and_count_once() {
    let daemon = Daemon::start(SOURCE);
    let invitee = "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/NSINV1";
    let marked = rfc3339_from_now(-60);
    // The Invitee with `no_show` set, as Morf documents what it receives for
    // Calendly's "Invitee No Show Created" (docs.morf.health/events/payloads/calendly/
    // invitee).
    let as_invitee = serde_json::json!({"created_at": marked, "created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA",
        "event": "invitee_no_show.created", "payload": {"cancel_url": "https://calendly.com/cancellations/NSINV1",
            "created_at": rfc3339_from_now(-86_400), "email": "nora@example.com", "event": "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",
            "first_name": "Nora", "last_name": "Noshow", "name": "Nora Noshow", "new_invitee": null,
            "no_show": {"created_at": marked, "uri": "https://api.calendly.com/invitee_no_shows/NS1"},
            "old_invitee": null, "questions_and_answers": [], "reschedule_url": "https://calendly.com/reschedulings/NSINV1",
            "rescheduled": false, "status": "active", "timezone": "America/New_York", "updated_at": marked, "uri": invitee}})
    .to_string();
    // The no-show resource (`uri`, `invitee`, `created_at`) of Calendly's "Create
    // Invitee No Show" (developer.calendly.com).
    let as_resource = serde_json::json!({"created_at": marked, "created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA",
        "event": "invitee_no_show.created", "payload": {"uri": "https://api.calendly.com/invitee_no_shows/NS1",
            "invitee": invitee, "created_at": marked}})
    .to_string();
    for body in [&as_invitee, &as_resource] {
        let response = daemon
            .post(
                "/webhooks/calendly",
                &calendly_headers("calendly-signing-key", body, unix_now()),
                body,
            )
            .await;
        assert_eq!(response.status(), 200, "{body}");
    }
    daemon.drained().await;
    let view = daemon
        .wait_contact("nora@example.com", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(view["touches"][0]["kind"], "meeting_no_show");
    assert_eq!(view["crm_ids"]["calendly"], "NSINV1");
}
