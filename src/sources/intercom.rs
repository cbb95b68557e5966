//! `kind = "intercom"`: Intercom webhook notifications (topics
//! `conversation.user.created`, `conversation.user.replied`).
//!
//! Signature (developers.intercom.com, "Signed notifications"):
//! `X-Hub-Signature: sha1=<hex HMAC-SHA1(client secret, body)>`. There is no timestamp;
//! redeliveries are recognised by the notification `id`.
//!
//! A conversation started or replied to by a user or lead becomes a `chat` touch for
//! that person, known by email and by `intercom:<contact id>`.

use super::delivery::{Adapter, Delivery, SourceError};
use super::signature::{self, Algorithm, Encoding};
use crate::model::{Event, EventBody, Identity, Millis, Touch, TouchKind};
use crate::secret::Secret;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntercomSource {
    /// The app's client secret (Developer Hub → app → Basic information), which signs
    /// its webhooks.
    pub client_secret: Secret,
}

#[derive(Deserialize)]
#[serde(expecting = "an Intercom notification object")]
struct Notification {
    id: String,
    topic: String,
    #[serde(default)]
    created_at: Option<i64>,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

/// Who wrote: a `user` or `lead` author, never an admin or bot.
fn author_identities(author: &serde_json::Value) -> Vec<Identity> {
    let kind = author
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    if !matches!(kind, "user" | "lead" | "contact") {
        return Vec::new();
    }
    let mut who = Vec::new();
    if let Some(email) = author
        .get("email")
        .and_then(|e| e.as_str())
        .and_then(|e| Identity::checked_email(e).ok())
    {
        who.push(email);
    }
    if let Some(id) = author
        .get("id")
        .and_then(|i| i.as_str())
        .filter(|i| !i.is_empty())
    {
        who.push(Identity::crm("intercom", id));
    }
    who
}

impl Adapter for IntercomSource {
    fn validate(&self) -> Result<(), (String, String)> {
        self.client_secret.require("client_secret")
    }

    fn verify(&self, delivery: &Delivery<'_>, _now: Millis) -> Result<(), SourceError> {
        signature::check_body_hmac(
            delivery,
            "x-hub-signature",
            "sha1=",
            Algorithm::Sha1,
            self.client_secret.expose().as_bytes(),
            Encoding::Hex,
        )
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        let notification: Notification =
            serde_json::from_slice(delivery.body).map_err(|error| {
                SourceError::malformed(format!("not an Intercom notification: {error}"))
            })?;
        let started = match notification.topic.as_str() {
            "conversation.user.created" => true,
            "conversation.user.replied" => false,
            // ping, admin replies, closes, and the rest carry no attention.
            _ => return Ok(Vec::new()),
        };
        let item = notification
            .data
            .as_ref()
            .and_then(|d| d.get("item"))
            .ok_or_else(|| SourceError::malformed("data.item is missing"))?;
        // A new conversation's first message is in `source`; a reply is the last part.
        let part = if started {
            item.get("source")
        } else {
            item.pointer("/conversation_parts/conversation_parts")
                .and_then(|parts| parts.as_array())
                .and_then(|parts| parts.last())
        };
        let author = part
            .and_then(|p| p.get("author"))
            .ok_or_else(|| SourceError::malformed("the conversation part has no author"))?;
        let who = author_identities(author);
        if who.is_empty() {
            return Ok(Vec::new());
        }
        let at_seconds = part
            .and_then(|p| p.get("created_at"))
            .and_then(|t| t.as_i64())
            .or(notification.created_at)
            .or_else(|| item.get("updated_at").and_then(|t| t.as_i64()))
            .ok_or_else(|| SourceError::malformed("no created_at on the notification"))?;
        Ok(vec![Event {
            provider_id: notification.id,
            body: EventBody::Touch(Touch {
                who,
                kind: TouchKind::Chat,
                occurred_at: at_seconds * 1000,
                account: None,
                properties: Some(serde_json::json!({
                    "topic": notification.topic,
                    "conversation": item.get("id"),
                })),
            }),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> IntercomSource {
        IntercomSource {
            client_secret: Secret::new("hub-secret"),
        }
    }

    fn check(header: Option<&str>, body: &str) -> Result<(), SourceError> {
        let headers: Vec<(String, String)> = header
            .map(|h| vec![("X-Hub-Signature".to_string(), h.to_string())])
            .unwrap_or_default();
        source().verify(
            &Delivery {
                method: "POST",
                url: "",
                headers: &headers,
                body: body.as_bytes(),
            },
            0,
        )
    }

    // Computed from the documented algorithm (VENDORS.md §8: secret `hub-secret`).
    #[test]
    fn the_documented_signature_verifies() {
        let body = r#"{"type":"notification_event","topic":"ping"}"#;
        assert_eq!(
            check(Some("sha1=72dce4eabccbaef68bbe64a563bd4947b1565acc"), body),
            Ok(())
        );
        assert_eq!(
            check(Some("sha1=72dce4eabccbaef68bbe64a563bd4947b1565acd"), body),
            Err(SourceError::InvalidSignature)
        );
        assert_eq!(
            check(Some("72dce4eabccbaef68bbe64a563bd4947b1565acc"), body),
            Err(SourceError::InvalidSignature)
        );
        assert_eq!(
            check(None, body),
            Err(SourceError::MissingHeader("x-hub-signature"))
        );
    }

    // Shape of Intercom's notification_event with a conversation item
    // (developers.intercom.com, "Webhook models" and "Conversation model").
    pub const STARTED: &str = r#"{"type":"notification_event","app_id":"abc123","data":{"type":"notification_event_data","item":{"type":"conversation","id":"147","created_at":1795190400,"updated_at":1795190400,"source":{"type":"conversation","id":"403918330","delivered_as":"customer_initiated","subject":"","body":"<p>Do you have a pricing page for teams?</p>","author":{"type":"user","id":"5310d8e7598c9a0b24000002","name":"Ann","email":"ann@example.com"}},"contacts":{"type":"contact.list","contacts":[{"type":"contact","id":"5310d8e7598c9a0b24000002"}]}}},"links":{},"id":"notif_ccd8a4d0-f965-11e3-a367-c779cae3e1b3","topic":"conversation.user.created","delivery_status":"pending","delivery_attempts":1,"delivered_at":0,"first_sent_at":1795190401,"created_at":1795190401,"self":null}"#;

    fn normalize(body: &str) -> Result<Vec<Event>, SourceError> {
        source().normalize(&Delivery {
            method: "POST",
            url: "",
            headers: &[],
            body: body.as_bytes(),
        })
    }

    #[test]
    fn a_conversation_started_by_a_user_is_a_chat() {
        let events = normalize(STARTED).unwrap();
        assert_eq!(
            events[0].provider_id,
            "notif_ccd8a4d0-f965-11e3-a367-c779cae3e1b3"
        );
        let EventBody::Touch(touch) = &events[0].body else {
            panic!()
        };
        assert_eq!(touch.kind, TouchKind::Chat);
        assert_eq!(
            touch.who,
            vec![
                Identity::email("ann@example.com"),
                Identity::crm("intercom", "5310d8e7598c9a0b24000002")
            ]
        );
        assert_eq!(touch.occurred_at, 1_795_190_401_000);
    }

    #[test]
    fn a_reply_counts_only_when_the_person_wrote_it() {
        let reply = r#"{"type":"notification_event","id":"notif_2","topic":"conversation.user.replied","created_at":1795194000,"data":{"item":{"type":"conversation","id":"147","conversation_parts":{"type":"conversation_part.list","conversation_parts":[{"type":"conversation_part","id":"1","part_type":"comment","created_at":1795193990,"author":{"type":"lead","id":"lead-7","email":"lead@example.com"}}]}}}}"#;
        let events = normalize(reply).unwrap();
        let EventBody::Touch(touch) = &events[0].body else {
            panic!()
        };
        assert_eq!(touch.occurred_at, 1_795_193_990_000);
        assert_eq!(touch.who[0], Identity::email("lead@example.com"));
        let by_admin = reply.replace("\"type\":\"lead\"", "\"type\":\"admin\"");
        assert!(normalize(&by_admin).unwrap().is_empty());
        assert!(
            normalize(r#"{"type":"notification_event","id":"n","topic":"ping","data":{}}"#)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn malformed_payloads_say_why() {
        assert!(
            matches!(normalize("[]"), Err(SourceError::Malformed(r)) if r.contains("not an Intercom notification"))
        );
        assert!(
            matches!(normalize(r#"{"id":"n","topic":"conversation.user.created","data":{}}"#), Err(SourceError::Malformed(r)) if r.contains("data.item"))
        );
    }
}
