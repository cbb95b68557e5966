//! `kind = "mandrill"`: Mailchimp Transactional (Mandrill) message event webhooks.
//!
//! Signature ("Authenticating webhook requests", mailchimp.com/developer/transactional/
//! guides/track-respond-activity-webhooks/ and Mandrill's knowledge base):
//! `X-Mandrill-Signature` = base64 HMAC-SHA1(webhook key, webhook URL exactly as
//! configured in Mandrill ‖ for each POST parameter sorted by key: key ‖ value).
//! The only parameter is `mandrill_events`, a JSON array of up to 1,000 events
//! (mailchimp.com/developer/transactional/docs/webhooks/).
//!
//! When a webhook is added, Mandrill checks the URL with an unsigned HEAD and a POST of
//! `mandrill_events=[]`; that POST is signed with the generic key `test-webhook`, since
//! the webhook's own key does not exist yet. Only an empty batch is accepted that way.

use super::delivery::{Adapter, Delivery, Reply, SourceError};
use super::plausible::email_at;
use super::signature::{self, Algorithm, Encoding};
use crate::model::{Event, EventBody, Millis, Touch, TouchKind};
use crate::secret::Secret;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The key Mandrill signs its URL check with, before the webhook has a key of its own.
const URL_CHECK_KEY: &str = "test-webhook";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MandrillSource {
    /// The webhook's key (Mandrill → Settings → Webhooks, column "Key").
    pub webhook_key: Secret,
    /// The webhook URL exactly as entered in Mandrill, if it differs from the URL
    /// attentiond rebuilds (`server.public_url` + path and query); Mandrill signs it.
    #[serde(default)]
    pub url: Option<String>,
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

/// base64 HMAC-SHA1 of the URL and the sorted parameters, checked in constant time.
fn signed_by(key: &str, url: &str, params: &[(String, String)], given: &str) -> bool {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut parts: Vec<&[u8]> = vec![url.as_bytes()];
    for (name, value) in sorted {
        parts.push(name.as_bytes());
        parts.push(value.as_bytes());
    }
    let expected = signature::hmac(Algorithm::Sha1, key.as_bytes(), &parts);
    signature::matches(&expected, given, Encoding::Base64)
}

impl Adapter for MandrillSource {
    fn validate(&self) -> Result<(), (String, String)> {
        self.webhook_key.require("webhook_key")?;
        if let Some(url) = &self.url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err((
                    "url".into(),
                    format!("`{url}` must be the full webhook URL as entered in Mandrill (http:// or https://)"),
                ));
            }
        }
        Ok(())
    }

    /// Mandrill sends an unsigned HEAD when a webhook is added.
    fn probe(&self, delivery: &Delivery<'_>, _now: Millis) -> Option<Result<Reply, SourceError>> {
        (delivery.method == "HEAD").then(|| Ok(Reply::ok("text/plain; charset=utf-8", "")))
    }

    fn verify(&self, delivery: &Delivery<'_>, _now: Millis) -> Result<(), SourceError> {
        let given = delivery.require_header("X-Mandrill-Signature")?.trim();
        let url = self.url.as_deref().unwrap_or(delivery.url);
        let params = form(delivery.body);
        if signed_by(self.webhook_key.expose(), url, &params, given) {
            return Ok(());
        }
        let url_check = matches!(params.as_slice(), [(name, value)] if name == "mandrill_events" && value.trim() == "[]");
        if url_check && signed_by(URL_CHECK_KEY, url, &params, given) {
            return Ok(());
        }
        Err(SourceError::InvalidSignature)
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        let params = form(delivery.body);
        let batch = params
            .iter()
            .find(|(name, _)| name == "mandrill_events")
            .map(|(_, value)| value)
            .ok_or_else(|| SourceError::malformed("form parameter `mandrill_events` is missing"))?;
        let raw: Vec<serde_json::Value> = serde_json::from_str(batch).map_err(|error| {
            SourceError::malformed(format!(
                "mandrill_events is not a JSON array of events: {error}"
            ))
        })?;
        let mut events = Vec::new();
        for (index, value) in raw.into_iter().enumerate() {
            // Sync events (allowlist/denylist) have `type` instead of `event`.
            if value.get("event").is_none() && value.get("type").is_some() {
                continue;
            }
            let event: MessageEvent = serde_json::from_value(value).map_err(|error| {
                SourceError::malformed(format!("mandrill_events[{index}]: {error}"))
            })?;
            if let Some(event) = event.into_event(index)? {
                events.push(event);
            }
        }
        Ok(events)
    }
}

/// One message event, with the fields used here.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a Mandrill event object")]
struct MessageEvent {
    event: String,
    #[serde(rename = "_id")]
    id: Option<String>,
    ts: Option<serde_json::Number>,
    msg: Option<Message>,
    url: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    location: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(expecting = "a `msg` object")]
struct Message {
    /// When the message was sent, which scoring compares opens and clicks with.
    ts: Option<serde_json::Number>,
    email: Option<String>,
    subject: Option<String>,
    #[serde(rename = "_id")]
    id: Option<String>,
    bounce_description: Option<String>,
    diag: Option<String>,
}

impl MessageEvent {
    fn into_event(self, index: usize) -> Result<Option<Event>, SourceError> {
        let kind = match self.event.as_str() {
            "open" => TouchKind::EmailOpen,
            "click" => TouchKind::EmailClick,
            "hard_bounce" => TouchKind::HardBounce,
            "spam" => TouchKind::SpamComplaint,
            "unsub" => TouchKind::Unsubscribe,
            // send, delivered, deferral, soft_bounce, reject, inbound: not attention.
            _ => return Ok(None),
        };
        let field = |name: &str| {
            SourceError::malformed(format!("mandrill_events[{index}]: `{name}` is missing"))
        };
        let msg = self.msg.ok_or_else(|| field("msg"))?;
        let email = msg
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| field("msg.email"))?;
        let email = email_at(&format!("mandrill_events[{index}]: msg.email"), email)?;
        let ts = self.ts.as_ref().ok_or_else(|| field("ts"))?;
        let seconds = ts
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .ok_or_else(|| {
                SourceError::malformed(format!(
                    "mandrill_events[{index}]: ts `{ts}` is not a unix time"
                ))
            })?;
        let occurred_at = (seconds * 1000.0).round() as Millis;
        let message_id = self
            .id
            .or(msg.id)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| field("_id"))?;

        let mut properties = serde_json::Map::new();
        let mut put = |name: &str, value: Option<String>| {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                properties.insert(name.to_string(), serde_json::Value::String(value));
            }
        };
        put("message_id", Some(message_id.clone()));
        put("subject", msg.subject);
        put("user_agent", self.user_agent);
        put("ip", self.ip);
        put("url", self.url.clone());
        put("bounce_description", msg.bounce_description);
        put("diag", msg.diag);
        if let Some(location) = self.location.filter(|l| !l.is_null()) {
            properties.insert("location".into(), location);
        }
        if let Some(sent) = msg
            .ts
            .as_ref()
            .and_then(|t| t.as_f64())
            .filter(|s| s.is_finite() && *s >= 0.0)
        {
            properties.insert("sent_at".into(), ((sent * 1000.0).round() as Millis).into());
        }

        // `_id` names the message, shared by all its events: one message is opened and
        // clicked many times. Event type and `ts` tell its events apart, and the URL
        // tells apart clicks on two links in the same second.
        let mut provider_id = format!("{message_id}:{}:{ts}", self.event);
        if let (TouchKind::EmailClick, Some(url)) = (kind, &self.url) {
            let digest = hex::encode(Sha256::digest(url.as_bytes()));
            provider_id.push(':');
            provider_id.push_str(&digest[..16]);
        }
        Ok(Some(Event {
            provider_id,
            body: EventBody::Touch(Touch {
                who: vec![email],
                kind,
                occurred_at,
                account: None,
                properties: Some(serde_json::Value::Object(properties)),
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Identity;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use sha1::Sha1;

    const KEY: &str = "test-webhook-key";
    const URL: &str = "https://example.com/webhook";

    fn source() -> MandrillSource {
        MandrillSource {
            webhook_key: Secret::new(KEY),
            url: None,
        }
    }

    fn body(events: &str) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("mandrill_events", events)
            .finish()
    }

    fn sign(key: &str, url: &str, events: &str) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{url}mandrill_events{events}").as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    fn verify_with(
        src: &MandrillSource,
        url: &str,
        signature: Option<&str>,
        body: &str,
    ) -> Result<(), SourceError> {
        let headers: Vec<(String, String)> = signature
            .map(|s| vec![("x-mandrill-signature".to_string(), s.to_string())])
            .unwrap_or_default();
        src.verify(
            &Delivery {
                method: "POST",
                url,
                headers: &headers,
                body: body.as_bytes(),
            },
            0,
        )
    }

    // VENDORS.md §6.2 vector, computed from the documented algorithm (no official vector).
    #[test]
    fn the_documented_algorithm_vector_verifies() {
        let signature = "02UwqnlC3560kgk/dUHSpOMCMDk=";
        assert_eq!(sign(KEY, URL, "[]"), signature);
        assert_eq!(
            verify_with(&source(), URL, Some(signature), &body("[]")),
            Ok(())
        );
        // Same signature, other URL (a trailing slash is enough).
        assert_eq!(
            verify_with(
                &source(),
                "https://example.com/webhook/",
                Some(signature),
                &body("[]")
            ),
            Err(SourceError::InvalidSignature)
        );
    }

    // Discourse spec/requests/webhooks_controller_spec.rb ("#mandrill verifies signatures"):
    // key wr_JeJNO9OI65RFDrvk3Zw, URL http://test.localhost/webhooks/mandrill.
    #[test]
    fn the_discourse_test_vector_verifies() {
        let body = "mandrill_events=%5B%7B%22event%22%3A%22hard_bounce%22%2C%22msg%22%3A%7B%22email%22%3A%22em%40il.com%22%2C%22diag%22%3A%225.1.1%22%2C%22bounce_description%22%3A%22smtp%3B+550-5.1.1+The+email+account+that+you+tried+to+reach+does+not+exist.%22%2C%22metadata%22%3A%7B%22message_id%22%3A%2212345%40il.com%22%7D%7D%7D%5D";
        let src = MandrillSource {
            webhook_key: Secret::new("wr_JeJNO9OI65RFDrvk3Zw"),
            url: None,
        };
        let url = "http://test.localhost/webhooks/mandrill";
        let signature = "Q5pCb903EjEqRZ99gZrlYKOfvIU=";
        assert_eq!(verify_with(&src, url, Some(signature), body), Ok(()));
        // Wrong key, tampered body, garbage signature, missing header.
        assert_eq!(
            verify_with(&source(), url, Some(signature), body),
            Err(SourceError::InvalidSignature)
        );
        let tampered = body.replace("em%40il.com", "em%40il.org");
        assert_eq!(
            verify_with(&src, url, Some(signature), &tampered),
            Err(SourceError::InvalidSignature)
        );
        assert_eq!(
            verify_with(&src, url, Some("not base64!"), body),
            Err(SourceError::InvalidSignature)
        );
        assert_eq!(
            verify_with(&src, url, Some("foo"), body),
            Err(SourceError::InvalidSignature)
        );
        assert_eq!(
            verify_with(&src, url, None, body),
            Err(SourceError::MissingHeader("X-Mandrill-Signature"))
        );
    }

    #[test]
    fn the_configured_url_overrides_the_request_url() {
        let src = MandrillSource {
            url: Some("https://hooks.example.com/mandrill?x=1".into()),
            ..source()
        };
        let signature = sign(KEY, "https://hooks.example.com/mandrill?x=1", "[]");
        assert_eq!(
            verify_with(
                &src,
                "http://10.0.0.5:8080/webhooks/mandrill",
                Some(&signature),
                &body("[]")
            ),
            Ok(())
        );
        assert_eq!(
            verify_with(
                &source(),
                "http://10.0.0.5:8080/webhooks/mandrill",
                Some(&signature),
                &body("[]")
            ),
            Err(SourceError::InvalidSignature)
        );
        let bad = MandrillSource {
            url: Some("hooks.example.com".into()),
            ..source()
        };
        assert_eq!(bad.validate().unwrap_err().0, "url");
        let empty = MandrillSource {
            webhook_key: Secret::new(""),
            url: None,
        };
        assert_eq!(empty.validate().unwrap_err().0, "webhook_key");
        assert_eq!(source().validate(), Ok(()));
    }

    #[test]
    fn the_url_check_is_signed_with_the_generic_key_and_carries_nothing() {
        let signature = sign(URL_CHECK_KEY, URL, "[]");
        assert_eq!(
            verify_with(&source(), URL, Some(&signature), &body("[]")),
            Ok(())
        );
        // The generic key signs nothing else.
        let events = r#"[{"event":"open","msg":{"email":"a@b.c","_id":"x"},"_id":"x","ts":1}]"#;
        let forged = sign(URL_CHECK_KEY, URL, events);
        assert_eq!(
            verify_with(&source(), URL, Some(&forged), &body(events)),
            Err(SourceError::InvalidSignature)
        );
        let empty = body("[]");
        let delivery = Delivery {
            method: "POST",
            url: URL,
            headers: &[],
            body: empty.as_bytes(),
        };
        assert_eq!(source().normalize(&delivery), Ok(vec![]));
    }

    #[test]
    fn the_head_check_is_answered() {
        let head = Delivery {
            method: "HEAD",
            url: URL,
            headers: &[],
            body: b"",
        };
        let reply = source().probe(&head, 0).unwrap().unwrap();
        assert_eq!((reply.status, reply.body.len()), (200, 0));
        let post = Delivery {
            method: "POST",
            url: URL,
            headers: &[],
            body: b"",
        };
        assert!(source().probe(&post, 0).is_none());
    }

    // Mandrill's example batch (the "Send Test" payload of the Webhooks page; also in
    // influxdata/telegraf plugins/inputs/webhooks/mandrill tests and gist
    // ramonsmits/7563502), with the sync events.
    const EXAMPLE_BATCH: &str = r#"[
      {"event":"send","msg":{"ts":1365109999,"subject":"This an example webhook message","email":"example.webhook@mandrillapp.com","sender":"example.sender@mandrillapp.com","tags":["webhook-example"],"opens":[],"clicks":[],"state":"sent","metadata":{"user_id":111},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa","_version":"exampleaaaaaaaaaaaaaaa"},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa","ts":1580762074},
      {"event":"deferral","msg":{"ts":1365109999,"subject":"This an example webhook message","email":"example.webhook@mandrillapp.com","sender":"example.sender@mandrillapp.com","tags":["webhook-example"],"opens":[],"clicks":[],"state":"deferred","metadata":{"user_id":111},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa1","_version":"exampleaaaaaaaaaaaaaaa","smtp_events":[{"destination_ip":"127.0.0.1","diag":"451 4.3.5 Temporarily unavailable, try again later.","source_ip":"127.0.0.1","ts":1365111111,"type":"deferred","size":0}]},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa1","ts":1580762074},
      {"event":"hard_bounce","msg":{"ts":1365109999,"subject":"This an example webhook message","email":"example.webhook@mandrillapp.com","sender":"example.sender@mandrillapp.com","tags":["webhook-example"],"state":"bounced","metadata":{"user_id":111},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa2","_version":"exampleaaaaaaaaaaaaaaa","bounce_description":"bad_mailbox","bgtools_code":10,"diag":"smtp;550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces."},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa2","ts":1580762074},
      {"event":"soft_bounce","msg":{"ts":1365109999,"subject":"This an example webhook message","email":"example.webhook@mandrillapp.com","sender":"example.sender@mandrillapp.com","tags":["webhook-example"],"state":"soft-bounced","metadata":{"user_id":111},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa3","_version":"exampleaaaaaaaaaaaaaaa","bounce_description":"mailbox_full","bgtools_code":22,"diag":"smtp;552 5.2.2 Over Quota"},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa3","ts":1580762074},
      {"event":"open","msg":{"ts":1365109999,"subject":"This an example webhook message","email":"example.webhook@mandrillapp.com","sender":"example.sender@mandrillapp.com","tags":["webhook-example"],"opens":[{"ts":1365111111}],"clicks":[{"ts":1365111111,"url":"http://mandrill.com"}],"state":"sent","metadata":{"user_id":111},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa4","_version":"exampleaaaaaaaaaaaaaaa"},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa4","ip":"127.0.0.1","location":{"country_short":"US","country":"United States","region":"Oklahoma","city":"Oklahoma City","latitude":35.4675598145,"longitude":-97.5164337158,"postal_code":"73101","timezone":"-05:00"},"user_agent":"Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; en-US; rv:1.9.1.8) Gecko/20100317 Postbox/1.1.3","user_agent_parsed":{"type":"Email Client","ua_family":"Postbox","ua_name":"Postbox 1.1.3","ua_version":"1.1.3","ua_url":"http://www.postbox-inc.com/","ua_company":"Postbox, Inc.","ua_company_url":"http://www.postbox-inc.com/","ua_icon":"http://cdn.mandrill.com/img/email-client-icons/postbox.png","os_family":"OS X","os_name":"OS X 10.6 Snow Leopard","os_url":"http://www.apple.com/osx/","os_company":"Apple Computer, Inc.","os_company_url":"http://www.apple.com/","os_icon":"http://cdn.mandrill.com/img/email-client-icons/macosx.png","mobile":false},"ts":1580762074},
      {"event":"click","msg":{"ts":1365109999,"subject":"This an example webhook message","email":"example.webhook@mandrillapp.com","sender":"example.sender@mandrillapp.com","tags":["webhook-example"],"opens":[{"ts":1365111111}],"clicks":[{"ts":1365111111,"url":"http://mandrill.com"}],"state":"sent","metadata":{"user_id":111},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa5","_version":"exampleaaaaaaaaaaaaaaa"},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa5","ip":"127.0.0.1","location":{"country_short":"US","country":"United States","region":"Oklahoma","city":"Oklahoma City","latitude":35.4675598145,"longitude":-97.5164337158,"postal_code":"73101","timezone":"-05:00"},"user_agent":"Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; en-US; rv:1.9.1.8) Gecko/20100317 Postbox/1.1.3","url":"http://mandrill.com","ts":1580762074},
      {"event":"spam","msg":{"ts":1365109999,"subject":"This an example webhook message","email":"example.webhook@mandrillapp.com","sender":"example.sender@mandrillapp.com","tags":["webhook-example"],"opens":[{"ts":1365111111}],"clicks":[{"ts":1365111111,"url":"http://mandrill.com"}],"state":"sent","metadata":{"user_id":111},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa6","_version":"exampleaaaaaaaaaaaaaaa"},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa6","ts":1580762074},
      {"event":"unsub","msg":{"ts":1365109999,"subject":"This an example webhook message","email":"example.webhook@mandrillapp.com","sender":"example.sender@mandrillapp.com","tags":["webhook-example"],"opens":[{"ts":1365111111}],"clicks":[{"ts":1365111111,"url":"http://mandrill.com"}],"state":"sent","metadata":{"user_id":111},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa7","_version":"exampleaaaaaaaaaaaaaaa"},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa7","ts":1580762074},
      {"event":"reject","msg":{"ts":1365109999,"subject":"This an example webhook message","email":"example.webhook@mandrillapp.com","sender":"example.sender@mandrillapp.com","tags":["webhook-example"],"opens":[],"clicks":[],"state":"rejected","metadata":{"user_id":111},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa8","_version":"exampleaaaaaaaaaaaaaaa"},"_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa8","ts":1580762074},
      {"type":"blacklist","action":"add","reject":{"reason":"hard-bounce","detail":"Example detail","last_event_at":"2014-02-01 12:43:56","email":"example.webhook@mandrillapp.com","created_at":"2014-01-15 11:32:19","expires_at":"2020-04-02 12:09:18","expired":false,"subaccount":"example_subaccount","sender":"example.sender@mandrillapp.com"},"ts":1580762074},
      {"type":"whitelist","action":"add","entry":{"email":"example.webhook@mandrillapp.com","detail":"example details","created_at":"2014-01-15 12:03:19"},"ts":1580762074}
    ]"#;

    fn normalize(events: &str) -> Result<Vec<Event>, SourceError> {
        let body = body(events);
        source().normalize(&Delivery {
            method: "POST",
            url: URL,
            headers: &[],
            body: body.as_bytes(),
        })
    }

    fn touch(event: &Event) -> &Touch {
        match &event.body {
            EventBody::Touch(touch) => touch,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_example_batch_maps_opens_clicks_and_negative_signals() {
        let events = normalize(EXAMPLE_BATCH).unwrap();
        let kinds: Vec<TouchKind> = events.iter().map(|e| touch(e).kind).collect();
        assert_eq!(
            kinds,
            vec![
                TouchKind::HardBounce,
                TouchKind::EmailOpen,
                TouchKind::EmailClick,
                TouchKind::SpamComplaint,
                TouchKind::Unsubscribe
            ]
        );
        for event in &events {
            let touch = touch(event);
            assert_eq!(
                touch.who,
                vec![Identity::email("example.webhook@mandrillapp.com")]
            );
            // The event's own ts, not msg.ts (when the message was sent).
            assert_eq!(touch.occurred_at, 1_580_762_074_000);
        }
        assert_eq!(
            events[0].provider_id,
            "exampleaaaaaaaaaaaaaaaaaaaaaaaaa2:hard_bounce:1580762074"
        );
        assert_eq!(
            touch(&events[0]).properties.as_ref().unwrap()["bounce_description"],
            "bad_mailbox"
        );
        let open = touch(&events[1]).properties.clone().unwrap();
        assert_eq!(open["ip"], "127.0.0.1");
        assert_eq!(open["subject"], "This an example webhook message");
        assert!(open["user_agent"].as_str().unwrap().contains("Postbox"));
        assert_eq!(open["location"]["city"], "Oklahoma City");
        assert_eq!(open["message_id"], "exampleaaaaaaaaaaaaaaaaaaaaaaaaa4");
        assert_eq!(open["sent_at"], 1_365_109_999_000i64);
        assert!(open.get("url").is_none());
        let click = touch(&events[2]).properties.clone().unwrap();
        assert_eq!(click["url"], "http://mandrill.com");
        assert!(events[2]
            .provider_id
            .starts_with("exampleaaaaaaaaaaaaaaaaaaaaaaaaa5:click:1580762074:"));
        // A redelivered batch gets the same ids.
        assert_eq!(normalize(EXAMPLE_BATCH).unwrap(), events);
    }

    #[test]
    fn two_opens_of_one_message_are_two_events() {
        let open = |ts: i64| {
            format!(
                r#"{{"event":"open","msg":{{"email":"ann@example.com","_id":"m1","opens":[]}},"_id":"m1","ts":{ts},"ip":"1.2.3.4","user_agent":"Mail"}}"#
            )
        };
        let click = |url: &str| {
            format!(
                r#"{{"event":"click","msg":{{"email":"ann@example.com","_id":"m1"}},"_id":"m1","ts":1700000100,"url":"{url}"}}"#
            )
        };
        let batch = format!(
            "[{},{},{},{}]",
            open(1_700_000_000),
            open(1_700_000_060),
            click("https://a.example/1"),
            click("https://a.example/2")
        );
        let events = normalize(&batch).unwrap();
        let mut ids: Vec<&str> = events.iter().map(|e| e.provider_id.as_str()).collect();
        assert_eq!(ids[0], "m1:open:1700000000");
        assert_eq!(ids[1], "m1:open:1700000060");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 4);
        assert_eq!(touch(&events[1]).occurred_at, 1_700_000_060_000);
    }

    #[test]
    fn malformed_batches_say_what_is_wrong() {
        let reason = |body: &str| match source().normalize(&Delivery {
            method: "POST",
            url: URL,
            headers: &[],
            body: body.as_bytes(),
        }) {
            Err(SourceError::Malformed(reason)) => reason,
            other => panic!("{other:?}"),
        };
        assert!(reason("events=%5B%5D").contains("`mandrill_events` is missing"));
        assert!(reason(&body(r#"{"event":"open"}"#)).contains("JSON array"));
        assert!(reason(&body(r#"[{"msg":{}}]"#)).contains("mandrill_events[0]"));
        assert!(
            reason(&body(r#"[{"event":"open","_id":"m","ts":1}]"#)).contains("`msg` is missing")
        );
        assert!(
            reason(&body(r#"[{"event":"open","_id":"m","ts":1,"msg":{}}]"#)).contains("msg.email")
        );
        assert!(reason(&body(
            r#"[{"event":"open","_id":"m","ts":1,"msg":{"email":"nobody"}}]"#
        ))
        .contains("not an email"));
        assert!(reason(&body(
            r#"[{"event":"open","_id":"m","msg":{"email":"a@b.c"}}]"#
        ))
        .contains("`ts`"));
        assert!(reason(&body(
            r#"[{"event":"click","ts":1,"msg":{"email":"a@b.c"}}]"#
        ))
        .contains("`_id`"));
        // Events that are not used need nothing.
        assert_eq!(
            normalize(r#"[{"event":"send"},{"event":"inbound","msg":{}}]"#),
            Ok(vec![])
        );
    }
}
