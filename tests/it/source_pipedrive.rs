//! Pipedrive webhooks in, as Pipedrive sends them: a JSON body with `meta`, `data` and
//! `previous` (webhooks v2), protected by the HTTP Basic credentials set on the webhook
//! (`http_auth_user`, `http_auth_password`).
//!
//! Payloads follow the "Webhooks v2 examples" of pipedrive.readme.io/docs/webhooks-v2-migration-guide
//! (Create person, Update activity, Create deal, Update deal), with ids and times changed
//! so that each test has its own people and recent times.

use crate::harness::*;
use base64::Engine;

const USER: &str = "pipedrive-hook";
const PASSWORD: &str = "correct horse battery staple";

fn daemon() -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("pipedrive_password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    Daemon::start_in(
        dir,
        &format!(
            "\n[sources.pipedrive]\nkind = \"pipedrive\"\nusername = \"{USER}\"\npassword_file = \"{}\"\n\n[sources.pipedrive.activity_types]\ndemo = \"demo_request\"\n",
            password_file.display()
        ),
    )
}

fn basic(user: &str, password: &str) -> Vec<(String, String)> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    vec![("Authorization".to_string(), format!("Basic {encoded}"))]
}

fn iso(minutes_ago: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn meta(action: &str, entity: &str, event_id: &str, entity_id: u64) -> serde_json::Value {
    serde_json::json!({
        "action": action, "company_id": "8087566", "correlation_id": format!("corr-{event_id}"),
        "entity_id": entity_id.to_string(), "entity": entity, "id": event_id, "is_bulk_edit": false,
        "timestamp": iso(0), "type": "general", "user_id": "12415231", "version": "2.0",
        "webhook_id": "4710827", "webhook_owner_id": "12094821", "change_source": "app",
        "attempt": 1, "host": "pd-us.pipedrive.com"
    })
}

fn person(event_id: &str, id: u64, email: &str, org: u64) -> serde_json::Value {
    serde_json::json!({
        "data": {
            "add_time": iso(60), "custom_fields": {},
            "emails": [{"label": "work", "value": email, "primary": true}],
            "first_name": "Dana", "id": id, "label": null, "last_name": "Reyes", "name": "Dana Reyes",
            "org_id": org, "owner_id": 12415231,
            "phones": [{"label": "work", "value": "+1 555 0100", "primary": true}],
            "update_time": iso(1), "visible_to": "3"
        },
        "previous": null,
        "meta": meta("create", "person", event_id, id)
    })
}

fn activity_done(event_id: &str, id: u64, person_id: u64, kind: &str) -> serde_json::Value {
    serde_json::json!({
        "data": {
            "active_flag": true, "add_time": iso(30), "busy_flag": null, "custom_fields": {}, "deal_id": null,
            "done": true, "due_date": "2022-11-24", "due_time": null, "duration": null, "id": id,
            "lead_id": null, "location": null, "org_id": 77, "owner_id": 12415231, "person_id": person_id,
            "public_description": "", "subject": "Discovery call", "type": kind, "update_time": iso(0),
            "update_user_id": null
        },
        "previous": {"done": false},
        "meta": meta("change", "activity", event_id, id)
    })
}

fn deal(
    event_id: &str,
    action: &str,
    id: u64,
    person_id: u64,
    status: &str,
    previous: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "data": {
            "add_time": iso(120), "close_time": null, "creator_user_id": 12415231, "currency": "EUR",
            "custom_fields": {}, "id": id, "org_id": 77, "origin": "ManuallyCreated", "owner_id": 12415231,
            "person_id": person_id, "pipeline_id": 1, "stage_change_time": null, "stage_id": 2,
            "status": status, "title": "Sample Org deal", "update_time": iso(0), "value": 4200,
            "visible_to": "3", "won_time": if status == "won" { serde_json::Value::from(iso(0)) } else { serde_json::Value::Null }
        },
        "previous": previous,
        "meta": meta(action, "deal", event_id, id)
    })
}

async fn send(daemon: &Daemon, body: &serde_json::Value) -> reqwest::Response {
    daemon
        .post(
            "/webhooks/pipedrive",
            &basic(USER, PASSWORD),
            &body.to_string(),
        )
        .await
}

async fn status_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let text = body["status"]
        .as_str()
        .or(body["detail"].as_str())
        .unwrap_or_default()
        .to_string();
    (status, text)
}

#[tokio::test]
async fn a_person_their_done_activities_and_their_deal_arrive_on_one_contact() {
    let daemon = daemon();
    assert_eq!(
        status_of(send(&daemon, &person("ev-p1", 501, "Dana@Example.com", 77)).await).await,
        (200, "accepted".into())
    );
    assert_eq!(
        status_of(send(&daemon, &activity_done("ev-a1", 9001, 501, "call")).await).await,
        (200, "accepted".into())
    );
    assert_eq!(
        status_of(send(&daemon, &activity_done("ev-a2", 9002, 501, "meeting")).await).await,
        (200, "accepted".into())
    );
    // A custom type mapped in the config; a task is not attention.
    send(&daemon, &activity_done("ev-a3", 9003, 501, "demo")).await;
    assert_eq!(
        status_of(send(&daemon, &activity_done("ev-a4", 9004, 501, "task")).await).await,
        (200, "ignored".into())
    );
    send(
        &daemon,
        &deal("ev-d1", "create", 31, 501, "open", serde_json::Value::Null),
    )
    .await;
    send(
        &daemon,
        &deal(
            "ev-d2",
            "change",
            31,
            501,
            "won",
            serde_json::json!({"status": "open"}),
        ),
    )
    .await;

    let view = daemon
        .wait_contact("pipedrive:501", |v| {
            v["touch_count"] == 3 && v["outcomes"].as_array().is_some_and(|o| o.len() == 2)
        })
        .await;
    assert_eq!(view["crm_ids"], serde_json::json!({"pipedrive": "501"}));
    assert_eq!(view["emails"], serde_json::json!(["dana@example.com"]));
    assert_eq!(view["profile"]["first_name"]["value"], "Dana");
    assert_eq!(view["profile"]["last_name"]["value"], "Reyes");
    assert_eq!(view["profile"]["phone"]["value"], "+1 555 0100");
    assert_eq!(view["profile"]["first_name"]["source"], "pipedrive");
    assert_eq!(view["account"], "pipedrive-org:77");
    let mut kinds: Vec<&str> = view["touches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, vec!["call", "demo_request", "meeting_attended"]);
    let outcomes = view["outcomes"].as_array().unwrap();
    let won = outcomes.iter().find(|o| o["kind"] == "won").expect("won");
    assert_eq!(won["opportunity"], "pipedrive:31");
    assert_eq!(won["amount"], 4200.0);
    assert_eq!(won["currency"], "EUR");
    assert_eq!(won["stage"], "2");
    assert_eq!(won["source"], "pipedrive");
    assert!(outcomes.iter().any(|o| o["kind"] == "opportunity_created"));
    assert_eq!(
        daemon.contact("dana@example.com").await.unwrap()["id"],
        view["id"]
    );
}

#[tokio::test]
async fn a_retried_webhook_counts_once() {
    let daemon = daemon();
    let first = activity_done("ev-retry-1", 9101, 502, "call");
    assert_eq!(
        status_of(send(&daemon, &first).await).await,
        (200, "accepted".into())
    );
    daemon
        .wait_contact("pipedrive:502", |v| v["touch_count"] == 1)
        .await;
    // Pipedrive retries with the same meta.id and a higher attempt.
    let mut retry = first.clone();
    retry["meta"]["attempt"] = 2.into();
    assert_eq!(
        status_of(send(&daemon, &retry).await).await,
        (200, "duplicate".into())
    );
    let mut won = deal(
        "ev-retry-2",
        "change",
        32,
        502,
        "won",
        serde_json::json!({"status": "open"}),
    );
    send(&daemon, &won).await;
    // The door answers `duplicate` once the first delivery is applied; before that
    // the retry is accepted and the pipeline drops it, which the counts below check.
    daemon.drained().await;
    won["meta"]["attempt"] = 3.into();
    assert_eq!(
        status_of(send(&daemon, &won).await).await,
        (200, "duplicate".into())
    );
    daemon.drained().await;
    let view = daemon.contact("pipedrive:502").await.unwrap();
    assert_eq!(view["touch_count"], 1);
    assert_eq!(view["outcomes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn deletes_are_acknowledged_and_change_nothing() {
    let daemon = daemon();
    let mut deleted = person("ev-del", 503, "gone@example.com", 77);
    deleted["meta"]["action"] = "delete".into();
    deleted["previous"] = deleted["data"].take();
    deleted["data"] = serde_json::Value::Null;
    assert_eq!(
        status_of(send(&daemon, &deleted).await).await,
        (200, "ignored".into())
    );
    daemon.drained().await;
    assert!(daemon.contact("pipedrive:503").await.is_none());
}

#[tokio::test]
async fn bad_pipedrive_deliveries_get_a_clear_answer_and_change_nothing() {
    let daemon = daemon();
    let body =
        |n: u64| activity_done(&format!("ev-bad-{n}"), 9200 + n, 600 + n, "call").to_string();

    let (status, detail) = status_of(daemon.post("/webhooks/pipedrive", &[], &body(1)).await).await;
    assert_eq!(
        (status, detail.as_str()),
        (401, "missing header Authorization")
    );
    let (status, detail) = status_of(
        daemon
            .post("/webhooks/pipedrive", &basic(USER, "wrong"), &body(2))
            .await,
    )
    .await;
    assert_eq!(
        (status, detail.as_str()),
        (401, "wrong Basic auth username or password")
    );
    let (status, _) = status_of(
        daemon
            .post("/webhooks/pipedrive", &basic("someone", PASSWORD), &body(3))
            .await,
    )
    .await;
    assert_eq!(status, 401);
    let bearer = vec![("Authorization".to_string(), "Bearer abc".to_string())];
    let (status, detail) =
        status_of(daemon.post("/webhooks/pipedrive", &bearer, &body(4)).await).await;
    assert_eq!(
        (status, detail.as_str()),
        (401, "Authorization is not HTTP Basic")
    );

    // Authentic but unreadable: the answer names the field.
    let mut no_id = activity_done("ev-bad-5", 9205, 605, "call");
    no_id["meta"].as_object_mut().unwrap().remove("id");
    let mut bad_action = activity_done("ev-bad-6", 9206, 606, "call");
    bad_action["meta"]["action"] = "archive".into();
    for (text, needle) in [
        (no_id.to_string(), "meta.id is required"),
        (bad_action.to_string(), "meta.action `archive`"),
        ("[]".to_string(), "Pipedrive webhook JSON object"),
    ] {
        let (status, detail) = status_of(
            daemon
                .post("/webhooks/pipedrive", &basic(USER, PASSWORD), &text)
                .await,
        )
        .await;
        assert_eq!(status, 400, "{text}");
        assert!(detail.contains(needle), "{detail}");
    }

    assert_eq!(
        status_of(send(&daemon, &activity_done("ev-ok", 9299, 699, "call")).await)
            .await
            .0,
        200
    );
    daemon
        .wait_contact("pipedrive:699", |v| v["touch_count"] == 1)
        .await;
    daemon.drained().await;
    for n in 601..=606 {
        assert!(
            daemon.contact(&format!("pipedrive:{n}")).await.is_none(),
            "pipedrive:{n}"
        );
    }
}
