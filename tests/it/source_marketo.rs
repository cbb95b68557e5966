//! Marketo webhooks in, as a smart campaign's "Call Webhook" step sends them.
//!
//! The body is the payload template of docs/sources/marketo.md as Marketo renders it with
//! "Request Token Encoding: JSON": string tokens quoted, `{{lead.Id}}` a number, empty
//! tokens `""`, `{{system.dateTime}}` like `2013-08-08 16:36:13` (Marketo's system
//! tokens glossary; the same shape as the rendered body in snowplow/enrich
//! MarketoAdapterSpec.scala). The secret travels in a custom header (Webhooks Actions →
//! Set Custom Header), as Marketo's webhook docs suggest for authentication.

use crate::harness::*;

pub(crate) const SECRET: &str = "marketo-shared-secret-123";

fn daemon() -> Daemon {
    Daemon::start(&format!(
        "\n[sources.marketo]\nkind = \"marketo\"\nsecret = \"{SECRET}\"\n"
    ))
}

pub(crate) fn system_date_time(minutes_ago: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

pub(crate) fn rendered(kind: &str, lead_id: u64, email: &str, at: &str) -> String {
    format!(
        r#"{{
  "kind": "{kind}",
  "lead_id": {lead_id},
  "email": "{email}",
  "occurred_at": "{at}",
  "campaign": "Demo request follow-up",
  "campaign_id": 1042,
  "asset": "Demo Request Form",
  "url": "https://www.example.com/demo",
  "link": "",
  "first_name": "Ann",
  "last_name": "Lee",
  "title": "",
  "company": "Example Corp",
  "industry": "Software",
  "country": ""
}}"#
    )
}

async fn send(daemon: &Daemon, secret: Option<&str>, body: &str) -> reqwest::Response {
    let headers: Vec<(String, String)> = secret
        .map(|s| vec![("X-Attentiond-Secret".to_string(), s.to_string())])
        .unwrap_or_default();
    daemon.post("/webhooks/marketo", &headers, body).await
}

#[tokio::test]
async fn a_form_fill_becomes_a_touch_and_profile_of_the_lead() {
    let daemon = daemon();
    let body = rendered(
        "form_submit",
        1001,
        "Ann.Lee@Example.com",
        &system_date_time(0),
    );
    let response = send(&daemon, Some(SECRET), &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["status"],
        "accepted"
    );
    let view = daemon
        .wait_contact("marketo:1001", |v| {
            v["touch_count"] == 1 && v["profile"]["first_name"].is_object()
        })
        .await;
    assert_eq!(view["crm_ids"], serde_json::json!({"marketo": "1001"}));
    assert_eq!(view["emails"], serde_json::json!(["ann.lee@example.com"]));
    assert_eq!(view["touches"][0]["kind"], "form_submit");
    assert_eq!(view["touches"][0]["source"], "marketo");
    assert_eq!(view["profile"]["first_name"]["value"], "Ann");
    assert_eq!(view["profile"]["company"]["value"], "Example Corp");
    assert_eq!(view["profile"]["company"]["source"], "marketo");
    assert!(
        view["profile"].get("title").is_none(),
        "empty tokens are not profile values: {view}"
    );
    assert!(view["profile"].get("country").is_none());
    assert_eq!(view["account"], "marketo-company:Example Corp");
}

#[tokio::test]
async fn the_same_request_sent_twice_counts_once() {
    let daemon = daemon();
    let body = rendered("email_click", 1002, "bo@example.com", &system_date_time(5));
    assert_eq!(send(&daemon, Some(SECRET), &body).await.status(), 200);
    daemon
        .wait_contact("marketo:1002", |v| v["touch_count"] == 1)
        .await;
    let again = send(&daemon, Some(SECRET), &body).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<serde_json::Value>().await.unwrap()["status"],
        "duplicate"
    );
    // A repeat whose profile tokens read differently is still the same engagement.
    let reread = body.replace("\"Software\"", "\"Fintech\"");
    assert_eq!(send(&daemon, Some(SECRET), &reread).await.status(), 200);
    // A later click is a new touch.
    let later = rendered("email_click", 1002, "bo@example.com", &system_date_time(1));
    assert_eq!(send(&daemon, Some(SECRET), &later).await.status(), 200);
    daemon
        .wait_contact("marketo:1002", |v| v["touch_count"] == 2)
        .await;
    daemon.drained().await;
    assert_eq!(
        daemon.contact("marketo:1002").await.unwrap()["touch_count"],
        2
    );
}

#[tokio::test]
async fn a_lead_first_seen_in_marketo_is_the_same_contact_when_seen_by_email_elsewhere() {
    let daemon = daemon();
    let body = rendered(
        "webinar_attended",
        1003,
        "cara@example.com",
        &system_date_time(10),
    );
    assert_eq!(send(&daemon, Some(SECRET), &body).await.status(), 200);
    daemon
        .wait_contact("marketo:1003", |v| v["touch_count"] == 1)
        .await;
    let response = daemon
        .post_site(
            "after-marketo",
            &touch_body("Cara@Example.com", "pricing_view", &now_rfc3339()),
        )
        .await;
    assert_eq!(response.status(), 200);
    let view = daemon
        .wait_contact("cara@example.com", |v| v["touch_count"] == 2)
        .await;
    assert_eq!(view["crm_ids"]["marketo"], "1003");
    let mut sources: Vec<(String, String)> = view["touches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["kind"].as_str().unwrap().to_string(),
                t["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    sources.sort();
    assert_eq!(
        sources,
        vec![
            ("pricing_view".to_string(), "site".to_string()),
            ("webinar_attended".to_string(), "marketo".to_string())
        ]
    );
    assert_eq!(
        daemon.contact("marketo:1003").await.unwrap()["id"],
        view["id"]
    );
}

#[tokio::test]
async fn bad_marketo_deliveries_get_a_clear_answer_and_change_nothing() {
    let daemon = daemon();
    let at = system_date_time(0);

    let (status, detail) = problem(
        send(
            &daemon,
            None,
            &rendered("form_submit", 2001, "a1@example.com", &at),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, detail.as_str()),
        (401, "missing header X-Attentiond-Secret")
    );

    let (status, detail) = problem(
        send(
            &daemon,
            Some("wrong-secret"),
            &rendered("form_submit", 2002, "a2@example.com", &at),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, detail.as_str()),
        (401, "wrong secret in header X-Attentiond-Secret")
    );

    // Authentic but not the template: each answer names the field.
    for (body, needle) in [
        (
            rendered("form_fill", 2003, "a3@example.com", &at),
            "unknown kind `form_fill`",
        ),
        (
            rendered("form_submit", 2004, "a4@example.com", "last tuesday"),
            "occurred_at `last tuesday`",
        ),
        (
            rendered("form_submit", 2005, "a5@example.com", &at).replace("\"lead_id\": 2005,", ""),
            "lead_id is required",
        ),
        (
            "{\"kind\": \"form_submit\", \"lead_id\": 2006, ".to_string(),
            "body is not JSON",
        ),
    ] {
        let (status, detail) = problem(send(&daemon, Some(SECRET), &body).await).await;
        assert_eq!(status, 400, "{body}");
        assert!(detail.contains(needle), "{detail}");
    }

    // GET is not a delivery.
    let response = daemon
        .client
        .get(format!("{}/webhooks/marketo", daemon.base))
        .header("X-Attentiond-Secret", SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);

    assert_eq!(
        send(
            &daemon,
            Some(SECRET),
            &rendered("form_submit", 2999, "ok@example.com", &at)
        )
        .await
        .status(),
        200
    );
    daemon
        .wait_contact("marketo:2999", |v| v["touch_count"] == 1)
        .await;
    daemon.drained().await;
    for id in 2001..=2006 {
        assert!(
            daemon.contact(&format!("marketo:{id}")).await.is_none(),
            "marketo:{id}"
        );
    }
    for n in 1..=5 {
        assert!(daemon.contact(&format!("a{n}@example.com")).await.is_none());
    }
}

#[tokio::test]
async fn the_time_zone_setting_reads_system_date_time() {
    let daemon = Daemon::start(&format!(
        "\n[sources.marketo]\nkind = \"marketo\"\nsecret = \"{SECRET}\"\nheader = \"X-Marketo-Key\"\ntime_zone = \"+02:00\"\n"
    ));
    let body = rendered("form_submit", 3001, "tz@example.com", "2026-01-10 12:00:00");
    let headers = vec![("X-Marketo-Key".to_string(), SECRET.to_string())];
    assert_eq!(
        daemon
            .post("/webhooks/marketo", &headers, &body)
            .await
            .status(),
        200
    );
    let view = daemon
        .wait_contact("marketo:3001", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(
        view["touches"][0]["occurred_at"],
        "2026-01-10T10:00:00.000Z"
    );
    // The default header name is not the configured one.
    let (status, detail) = problem(send(&daemon, Some(SECRET), &body).await).await;
    assert_eq!(
        (status, detail.as_str()),
        (401, "missing header X-Marketo-Key")
    );
}

#[tokio::test]
async fn a_template_without_system_date_time_is_dated_when_the_call_arrives() {
    let daemon = daemon();
    // A template built without `"occurred_at": {{system.dateTime}}`.
    let body = rendered("form_submit", 1077, "ned@example.com", "")
        .replace("  \"occurred_at\": \"\",\n", "");
    assert!(!body.contains("occurred_at"), "{body}");
    let before = chrono::Utc::now();
    let response = send(&daemon, Some(SECRET), &body).await;
    assert_eq!(response.status(), 200);
    let view = daemon
        .wait_contact("marketo:1077", |v| v["touch_count"] == 1)
        .await;
    let touch = &view["touches"][0];
    assert_eq!(touch["kind"], "form_submit");
    assert_eq!(touch["properties"]["time_source"], "received", "{touch}");
    let dated =
        chrono::DateTime::parse_from_rfc3339(touch["occurred_at"].as_str().unwrap()).unwrap();
    assert!(
        (dated.timestamp() - before.timestamp()).abs() <= 5,
        "{touch}"
    );
}
