//! Mailchimp audience webhooks in, as Mailchimp sends them: form-encoded POSTs to a URL
//! that carries `?key=`, and the validator's GET before the webhook is saved.
//!
//! Fixtures are the sample data of Mailchimp's "About Webhooks" guide
//! (apidocs.mailchimp.com/webhooks, later
//! developer.mailchimp.com/documentation/mailchimp/guides/about-webhooks/).

use crate::harness::*;

const KEY: &str = "mc-url-key-7f3a";

fn config() -> String {
    format!("\n[sources.mailchimp]\nkind = \"mailchimp\"\nkey = \"{KEY}\"\n")
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        serializer.append_pair(key, value);
    }
    serializer.finish()
}

async fn post_form(daemon: &Daemon, query: &str, body: &str) -> reqwest::Response {
    daemon
        .client
        .post(format!("{}/webhooks/mailchimp{query}", daemon.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .expect("daemon answers")
}

async fn send(daemon: &Daemon, pairs: &[(&str, &str)]) -> reqwest::Response {
    post_form(daemon, &format!("?key={KEY}"), &form(pairs)).await
}

async fn status_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["status"].as_str().unwrap_or_default().to_string()
}

// "About Webhooks" sample: Subscribes.
const SUBSCRIBE: &[(&str, &str)] = &[
    ("type", "subscribe"),
    ("fired_at", "2009-03-26 21:35:57"),
    ("data[id]", "8a25ff1d98"),
    ("data[list_id]", "a6b5da1054"),
    ("data[email]", "api@mailchimp.com"),
    ("data[email_type]", "html"),
    ("data[merges][EMAIL]", "api@mailchimp.com"),
    ("data[merges][FNAME]", "Mailchimp"),
    ("data[merges][LNAME]", "API"),
    ("data[merges][INTERESTS]", "Group1,Group2"),
    ("data[ip_opt]", "10.20.10.30"),
    ("data[ip_signup]", "10.20.10.30"),
];

// "About Webhooks" sample: Unsubscribes.
const UNSUBSCRIBE: &[(&str, &str)] = &[
    ("type", "unsubscribe"),
    ("fired_at", "2009-03-26 21:40:57"),
    ("data[action]", "unsub"),
    ("data[reason]", "manual"),
    ("data[id]", "8a25ff1d98"),
    ("data[list_id]", "a6b5da1054"),
    ("data[email]", "api+unsub@mailchimp.com"),
    ("data[email_type]", "html"),
    ("data[merges][EMAIL]", "api+unsub@mailchimp.com"),
    ("data[merges][FNAME]", "Mailchimp"),
    ("data[merges][LNAME]", "API"),
    ("data[merges][INTERESTS]", "Group1,Group2"),
    ("data[ip_opt]", "10.20.10.30"),
    ("data[campaign_id]", "cb398d21d2"),
    ("data[reason]", "hard"),
];

// "About Webhooks" sample: Cleaned Emails.
const CLEANED: &[(&str, &str)] = &[
    ("type", "cleaned"),
    ("fired_at", "2009-03-26 22:01:00"),
    ("data[list_id]", "a6b5da1054"),
    ("data[campaign_id]", "4fjk2ma9xd"),
    ("data[reason]", "hard"),
    ("data[email]", "api+cleaned@mailchimp.com"),
];

// "About Webhooks" sample: Email Address Changes.
const UPEMAIL: &[(&str, &str)] = &[
    ("type", "upemail"),
    ("fired_at", "2009-03-26 22:15:09"),
    ("data[list_id]", "a6b5da1054"),
    ("data[new_id]", "51da8c3259"),
    ("data[new_email]", "api+new@mailchimp.com"),
    ("data[old_email]", "api+old@mailchimp.com"),
];

// "About Webhooks" sample: Campaign Sending Status.
const CAMPAIGN: &[(&str, &str)] = &[
    ("type", "campaign"),
    ("fired_at", "2009-03-26 21:31:21"),
    ("data[id]", "5aa2102003"),
    ("data[subject]", "Test Campaign Subject"),
    ("data[status]", "sent"),
    ("data[reason]", ""),
    ("data[list_id]", "a6b5da1054"),
];

fn kinds(view: &serde_json::Value) -> Vec<String> {
    view["touches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_validator_get_needs_the_key() {
    let daemon = Daemon::start(&config());
    let get = |query: &str| {
        daemon
            .client
            .get(format!("{}/webhooks/mailchimp{query}", daemon.base))
            .header("user-agent", "MailChimp.com WebHook Validator")
            .send()
    };
    let ok = get(&format!("?key={KEY}")).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "");
    assert_eq!(get("?key=wrong").await.unwrap().status(), 401);
    assert_eq!(get("").await.unwrap().status(), 401);
}

#[tokio::test]
async fn documented_payloads_become_touches_profile_and_identity() {
    let daemon = Daemon::start(&config());
    assert_eq!(status_of(send(&daemon, SUBSCRIBE).await).await, "accepted");
    let view = daemon
        .wait_contact("api@mailchimp.com", |v| {
            v["touch_count"] == 1 && v["profile"]["last_name"].is_object()
        })
        .await;
    assert_eq!(kinds(&view), vec!["form_submit"]);
    assert_eq!(view["touches"][0]["source"], "mailchimp");
    assert_eq!(
        view["touches"][0]["occurred_at"],
        "2009-03-26T21:35:57.000Z"
    );
    assert_eq!(view["profile"]["first_name"]["value"], "Mailchimp");
    assert_eq!(view["profile"]["first_name"]["source"], "mailchimp");
    assert_eq!(view["profile"]["last_name"]["value"], "API");

    assert_eq!(
        status_of(send(&daemon, UNSUBSCRIBE).await).await,
        "accepted"
    );
    let view = daemon
        .wait_contact("api+unsub@mailchimp.com", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(kinds(&view), vec!["unsubscribe"]);

    assert_eq!(status_of(send(&daemon, CLEANED).await).await, "accepted");
    let view = daemon
        .wait_contact("api+cleaned@mailchimp.com", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(kinds(&view), vec!["hard_bounce"]);

    // An address change: the old address's contact also answers to the new one.
    let mut old = SUBSCRIBE.to_vec();
    old[4] = ("data[email]", "api+old@mailchimp.com");
    send(&daemon, &old).await;
    let before = daemon
        .wait_contact("api+old@mailchimp.com", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(status_of(send(&daemon, UPEMAIL).await).await, "accepted");
    let after = daemon
        .wait_contact("api+new@mailchimp.com", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(after["id"], before["id"]);
    let mut emails: Vec<_> = after["emails"].as_array().unwrap().clone();
    emails.sort_by_key(|e| e.as_str().unwrap().to_string());
    assert_eq!(
        emails,
        vec![
            serde_json::json!("api+new@mailchimp.com"),
            serde_json::json!("api+old@mailchimp.com")
        ]
    );

    // Campaign sending status is acknowledged and not stored.
    assert_eq!(status_of(send(&daemon, CAMPAIGN).await).await, "ignored");
}

#[tokio::test]
async fn a_resent_body_counts_once() {
    let daemon = Daemon::start(&config());
    assert_eq!(status_of(send(&daemon, SUBSCRIBE).await).await, "accepted");
    daemon
        .wait_contact("api@mailchimp.com", |v| v["touch_count"] == 1)
        .await;
    // Mailchimp's retry repeats the same body.
    assert_eq!(status_of(send(&daemon, SUBSCRIBE).await).await, "duplicate");
    // A later subscribe of the same person (another fired_at) is a new event.
    let mut later = SUBSCRIBE.to_vec();
    later[1] = ("fired_at", "2009-03-27 08:00:00");
    assert_eq!(status_of(send(&daemon, &later).await).await, "accepted");
    daemon
        .wait_contact("api@mailchimp.com", |v| v["touch_count"] == 2)
        .await;
    daemon.drained().await;
    assert_eq!(
        daemon.contact("api@mailchimp.com").await.unwrap()["touch_count"],
        2
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_answer_and_stores_nothing() {
    let daemon = Daemon::start(&config());
    let subscribe = |email: &'static str| {
        let mut pairs = SUBSCRIBE.to_vec();
        pairs[4] = ("data[email]", email);
        form(&pairs)
    };

    let wrong = post_form(
        &daemon,
        "?key=not-the-key",
        &subscribe("wrongkey@example.com"),
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let detail: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(detail["detail"], "wrong `key` in the webhook URL");

    let missing = post_form(&daemon, "", &subscribe("nokey@example.com")).await;
    assert_eq!(missing.status(), 401);
    let detail: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(detail["detail"], "missing `key` in the webhook URL");

    // Authentic but unreadable: no email address, then a time in another format.
    let mut no_email = SUBSCRIBE.to_vec();
    no_email.remove(4);
    let response = send(&daemon, &no_email).await;
    assert_eq!(response.status(), 400);
    let detail: serde_json::Value = response.json().await.unwrap();
    assert!(
        detail["detail"].as_str().unwrap().contains("data[email]"),
        "{detail}"
    );
    let mut bad_time = SUBSCRIBE.to_vec();
    bad_time[1] = ("fired_at", "26/03/2009");
    bad_time[4] = ("data[email]", "badtime@example.com");
    assert_eq!(send(&daemon, &bad_time).await.status(), 400);

    // A wrong key on a GET is refused as well.
    let get = daemon
        .client
        .get(format!("{}/webhooks/mailchimp?key=nope", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 401);

    let good = post_form(
        &daemon,
        &format!("?key={KEY}"),
        &subscribe("good@example.com"),
    )
    .await;
    assert_eq!(good.status(), 200);
    daemon
        .wait_contact("good@example.com", |v| v["touch_count"] == 1)
        .await;
    daemon.drained().await;
    for email in [
        "wrongkey@example.com",
        "nokey@example.com",
        "api@mailchimp.com",
        "badtime@example.com",
    ] {
        assert!(daemon.contact(email).await.is_none(), "{email} was stored");
    }
}
