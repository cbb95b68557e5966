//! Intercom over real HTTP: conversations started by people become chats, signed as
//! Intercom signs (`X-Hub-Signature: sha1=…`). Payload shapes follow Intercom's webhook
//! reference, cited at the fixtures in the adapter's unit tests
//! (`src/sources/intercom.rs`).

use crate::harness::*;
use hmac::{Hmac, Mac};

const SOURCE: &str = r#"
[sources.intercom]
kind = "intercom"
client_secret = "intercom-client-secret"
"#;

fn intercom_headers(secret: &str, body: &str) -> Vec<(String, String)> {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    vec![(
        "X-Hub-Signature".into(),
        format!("sha1={}", hex::encode(mac.finalize().into_bytes())),
    )]
}

#[tokio::test]
async fn intercom_conversations_by_people_are_chats() {
    let daemon = Daemon::start(SOURCE);
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
