//! Mailchimp Transactional (Mandrill) webhooks in, as Mandrill sends them: one
//! form parameter `mandrill_events`, signed with `X-Mandrill-Signature` over the exact
//! webhook URL (`{daemon.base}/webhooks/mandrill`) and the sorted parameters.
//!
//! Event shapes follow Mandrill's example batch (the "Send Test" payload of the Webhooks
//! page, reproduced in influxdata/telegraf's Mandrill webhook tests) and the "Message
//! Event Webhook Format" reference (ts, event, url, ip, user_agent, location, msg).

use crate::harness::*;
use base64::Engine;
use hmac::{Hmac, Mac};

const KEY: &str = "mandrill-webhook-key-Zx9";

fn config() -> String {
    format!("\n[sources.mandrill]\nkind = \"mandrill\"\nwebhook_key = \"{KEY}\"\n")
}

/// base64 HMAC-SHA1(key, url + "mandrill_events" + events), as Mandrill signs.
fn sign(key: &str, url: &str, events: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    mac.update(b"mandrill_events");
    mac.update(events.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn form(events: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("mandrill_events", events)
        .finish()
}

async fn post(daemon: &Daemon, signature: Option<&str>, body: &str) -> reqwest::Response {
    let mut request = daemon
        .client
        .post(format!("{}/webhooks/mandrill", daemon.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header("X-Mandrill-Signature", signature);
    }
    request.send().await.expect("daemon answers")
}

async fn send(daemon: &Daemon, events: &str) -> reqwest::Response {
    let url = format!("{}/webhooks/mandrill", daemon.base);
    post(daemon, Some(&sign(KEY, &url, events)), &form(events)).await
}

async fn status_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["status"].as_str().unwrap_or_default().to_string()
}

/// A message event shaped like Mandrill's example batch.
fn event(
    kind: &str,
    email: &str,
    message: &str,
    ts: i64,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut event = serde_json::json!({
        "event": kind,
        "msg": {
            "ts": ts - 3600, "subject": "This an example webhook message", "email": email,
            "sender": "example.sender@mandrillapp.com", "tags": ["webhook-example"],
            "opens": [], "clicks": [], "state": "sent", "metadata": {"user_id": 111},
            "_id": message, "_version": "exampleaaaaaaaaaaaaaaa"
        },
        "_id": message,
        "ts": ts
    });
    if let serde_json::Value::Object(extra) = extra {
        event.as_object_mut().unwrap().extend(extra);
    }
    event
}

fn open_extra() -> serde_json::Value {
    serde_json::json!({
        "ip": "127.0.0.1",
        "location": {"country_short": "US", "country": "United States", "region": "Oklahoma", "city": "Oklahoma City",
                     "latitude": 35.4675598145, "longitude": -97.5164337158, "postal_code": "73101", "timezone": "-05:00"},
        "user_agent": "Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; en-US; rv:1.9.1.8) Gecko/20100317 Postbox/1.1.3"
    })
}

fn batch(events: &[serde_json::Value]) -> String {
    serde_json::Value::Array(events.to_vec()).to_string()
}

fn kinds(view: &serde_json::Value) -> Vec<String> {
    let mut kinds: Vec<String> = view["touches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap().to_string())
        .collect();
    kinds.sort();
    kinds
}

#[tokio::test]
async fn mandrills_checks_of_a_new_webhook_are_answered() {
    let daemon = Daemon::start(&config());
    let head = daemon
        .client
        .head(format!("{}/webhooks/mandrill", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    // The URL-check POST, signed with Mandrill's generic key before the webhook has one.
    let url = format!("{}/webhooks/mandrill", daemon.base);
    let check = post(
        &daemon,
        Some(&sign("test-webhook", &url, "[]")),
        &form("[]"),
    )
    .await;
    assert_eq!(status_of(check).await, "ignored");
    // And the same empty batch signed with the webhook's key.
    assert_eq!(status_of(send(&daemon, "[]").await).await, "ignored");
}

#[tokio::test]
async fn opens_clicks_and_negative_signals_arrive() {
    let daemon = Daemon::start(&config());
    let now = unix_now();
    let mut click = event(
        "click",
        "ann@example.com",
        "msg-ann-1",
        now - 60,
        open_extra(),
    );
    click["url"] = "https://example.com/pricing".into();
    let events = batch(&[
        event(
            "send",
            "ann@example.com",
            "msg-ann-1",
            now - 3600,
            serde_json::json!({}),
        ),
        event(
            "open",
            "Ann@Example.com",
            "msg-ann-1",
            now - 120,
            open_extra(),
        ),
        click,
        event(
            "hard_bounce",
            "bounced@example.com",
            "msg-b",
            now,
            serde_json::json!({}),
        ),
        event(
            "spam",
            "spam@example.com",
            "msg-s",
            now,
            serde_json::json!({}),
        ),
        event(
            "unsub",
            "unsub@example.com",
            "msg-u",
            now,
            serde_json::json!({}),
        ),
        serde_json::json!({"type": "whitelist", "action": "add", "entry": {"email": "ann@example.com", "detail": "example details", "created_at": "2014-01-15 12:03:19"}, "ts": now}),
    ]);
    assert_eq!(status_of(send(&daemon, &events).await).await, "accepted");
    let ann = daemon
        .wait_contact("ann@example.com", |v| v["touch_count"] == 2)
        .await;
    assert_eq!(kinds(&ann), vec!["email_click", "email_open"]);
    for touch in ann["touches"].as_array().unwrap() {
        assert_eq!(touch["source"], "mandrill");
    }
    let opened = ann["touches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "email_open")
        .unwrap();
    let expected = chrono::DateTime::from_timestamp(now - 120, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(opened["occurred_at"], expected.as_str());
    for (email, kind) in [
        ("bounced@example.com", "hard_bounce"),
        ("spam@example.com", "spam_complaint"),
        ("unsub@example.com", "unsubscribe"),
    ] {
        let view = daemon.wait_contact(email, |v| v["touch_count"] == 1).await;
        assert_eq!(kinds(&view), vec![kind]);
    }
}

#[tokio::test]
async fn a_redelivered_batch_counts_once_but_every_open_counts() {
    let daemon = Daemon::start(&config());
    let now = unix_now();
    let first = batch(&[event(
        "open",
        "bob@example.com",
        "msg-bob",
        now - 300,
        open_extra(),
    )]);
    assert_eq!(status_of(send(&daemon, &first).await).await, "accepted");
    daemon
        .wait_contact("bob@example.com", |v| v["touch_count"] == 1)
        .await;
    // Mandrill retries a failed batch as it was.
    assert_eq!(status_of(send(&daemon, &first).await).await, "duplicate");
    // Bob opens the same message again later: same _id, new ts, a new open. The batch
    // also repeats the first open, which still counts once.
    let again = batch(&[
        event(
            "open",
            "bob@example.com",
            "msg-bob",
            now - 300,
            open_extra(),
        ),
        event("open", "bob@example.com", "msg-bob", now - 10, open_extra()),
    ]);
    assert_eq!(status_of(send(&daemon, &again).await).await, "accepted");
    daemon
        .wait_contact("bob@example.com", |v| v["touch_count"] == 2)
        .await;
    daemon.drained().await;
    assert_eq!(
        daemon.contact("bob@example.com").await.unwrap()["touch_count"],
        2
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_answer_and_stores_nothing() {
    let daemon = Daemon::start(&config());
    let now = unix_now();
    let url = format!("{}/webhooks/mandrill", daemon.base);
    let one = |email: &str| {
        batch(&[event(
            "open",
            email,
            &format!("m-{email}"),
            now,
            open_extra(),
        )])
    };

    let wrong_key = one("wrongkey@example.com");
    let (status, detail) = problem(
        post(
            &daemon,
            Some(&sign("other-key", &url, &wrong_key)),
            &form(&wrong_key),
        )
        .await,
    )
    .await;
    assert_eq!((status, detail.as_str()), (401, "invalid signature"));

    // Signed for one batch, sent with another.
    let signed = one("original@example.com");
    let tampered = one("tampered@example.com");
    let (status, _) =
        problem(post(&daemon, Some(&sign(KEY, &url, &signed)), &form(&tampered)).await).await;
    assert_eq!(status, 401);

    // Signed over another URL (a trailing slash is enough).
    let other_url = one("otherurl@example.com");
    let signature = sign(KEY, &format!("{url}/"), &other_url);
    assert_eq!(
        post(&daemon, Some(&signature), &form(&other_url))
            .await
            .status(),
        401
    );

    let unsigned = one("unsigned@example.com");
    let (status, detail) = problem(post(&daemon, None, &form(&unsigned)).await).await;
    assert_eq!(
        (status, detail.as_str()),
        (401, "missing header X-Mandrill-Signature")
    );

    // The generic URL-check key signs only an empty batch.
    let generic = one("generic@example.com");
    assert_eq!(
        post(
            &daemon,
            Some(&sign("test-webhook", &url, &generic)),
            &form(&generic)
        )
        .await
        .status(),
        401
    );

    // Authentic but unreadable.
    let (status, detail) = problem(send(&daemon, r#"{"event":"open"}"#).await).await;
    assert_eq!(status, 400);
    assert!(detail.contains("JSON array"), "{detail}");
    let no_email = r#"[{"event":"open","_id":"m1","ts":1700000000,"msg":{"_id":"m1"}},{"event":"open","_id":"m2","ts":1700000000,"msg":{"email":"partial@example.com"}}]"#;
    let (status, detail) = problem(send(&daemon, no_email).await).await;
    assert_eq!(status, 400);
    assert!(
        detail.contains("mandrill_events[0]") && detail.contains("msg.email"),
        "{detail}"
    );

    // GET is not how Mandrill talks to us.
    let get = daemon.client.get(&url).send().await.unwrap();
    assert_eq!(get.status(), 405);

    assert_eq!(
        status_of(send(&daemon, &one("good@example.com")).await).await,
        "accepted"
    );
    daemon
        .wait_contact("good@example.com", |v| v["touch_count"] == 1)
        .await;
    daemon.drained().await;
    for email in [
        "wrongkey@example.com",
        "original@example.com",
        "tampered@example.com",
        "otherurl@example.com",
        "unsigned@example.com",
        "generic@example.com",
        "partial@example.com",
    ] {
        assert!(daemon.contact(email).await.is_none(), "{email} was stored");
    }
}

/// `msg.ts` is when Mandrill sent the message: a click 5 s later is a gateway
/// following the link, not the recipient.
#[tokio::test]
async fn a_click_seconds_after_sending_counts_nothing() {
    let daemon = Daemon::start(&config());
    let now = unix_now();
    let mut click = event("click", "gw@example.com", "msg-gw", now, open_extra());
    click["url"] = "https://example.com/pricing".into();
    click["msg"]["ts"] = (now - 5).into();
    let mut read = event("open", "gw@example.com", "msg-gw", now - 1, open_extra());
    read["msg"]["ts"] = (now - 7200).into();
    assert_eq!(
        status_of(send(&daemon, &batch(&[read, click])).await).await,
        "accepted"
    );
    let view = daemon
        .wait_contact("gw@example.com", |v| v["touch_count"] == 2)
        .await;
    let touches = view["touches"].as_array().unwrap();
    let clicked = touches.iter().find(|t| t["kind"] == "email_click").unwrap();
    assert_eq!(clicked["weight"], 0.0, "{view}");
    assert_eq!(
        clicked["notes"],
        serde_json::json!(["clicked 5 s after sending"])
    );
    let opened = touches.iter().find(|t| t["kind"] == "email_open").unwrap();
    assert_eq!(opened["weight"], 1.0, "{view}");
}
