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

/// Webhook API 1.x, as Intercom delivered it to Zulip (zulip/zulip
/// `zerver/webhooks/intercom/fixtures/conversation_user_created.json`), with the
/// lead's email filled in and a current time.
fn started_1x(created_at: i64) -> String {
    format!(
        r#"{{"type":"notification_event","app_id":"i6wc9ipe","data":{{"type":"notification_event_data","item":{{"type":"conversation","id":"21321941764","created_at":{created_at},"updated_at":{created_at},"user":{{"type":"lead","id":"5c9553cb27e377f24eed49f7","user_id":"75067020-1204-495c-8edc-abb7d88bdd43","name":"Rose Poodle from St. John's","email":"rose@example.com","do_not_track":null}},"assignee":{{"type":"nobody_admin","id":null}},"conversation_message":{{"type":"conversation_message","id":"331494375","url":"http://localhost:9991/api/","subject":"","body":"<p>Hello everyone!</p>","author":{{"type":"user","id":"5c9553cb27e377f24eed49f7"}},"attachments":[]}},"conversation_parts":{{"type":"conversation_part.list","conversation_parts":[],"total_count":0}},"open":true,"state":"open","snoozed_until":null,"read":true,"metadata":{{}},"tags":{{"type":"tag.list","tags":[]}},"tags_added":{{"type":"tag.list","tags":[]}},"links":{{"conversation_web":"https://app.intercom.io/a/apps/i6wc9ipe/conversations/21321941764"}}}}}},"links":{{}},"id":"notif_3ac27816-d27c-45fd-a65a-bbaf021cf780","topic":"conversation.user.created","delivery_status":"pending","delivery_attempts":1,"delivered_at":0,"first_sent_at":{created_at},"created_at":{created_at},"self":null}}"#
    )
}

#[tokio::test]
async fn an_intercom_api_1x_conversation_is_a_chat_of_its_user() {
    let daemon = Daemon::start(SOURCE);
    let body = started_1x(unix_now() - 30);
    let response = daemon
        .post(
            "/webhooks/intercom",
            &intercom_headers("intercom-client-secret", &body),
            &body,
        )
        .await;
    assert_eq!(response.status(), 200);
    let view = daemon
        .wait_contact("rose@example.com", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(view["touches"][0]["kind"], "chat");
    assert_eq!(view["crm_ids"]["intercom"], "5c9553cb27e377f24eed49f7");
}
