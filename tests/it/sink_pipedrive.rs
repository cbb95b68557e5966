//! Scores out to Pipedrive persons: contacts arrive through the Pipedrive source (so
//! they carry their person id), the daemon writes their custom fields to a fake
//! Pipedrive, and `setup-crm` creates the fields through the real binary.

use crate::fake_pipedrive::*;
use crate::harness::*;
use base64::Engine;
use std::process::Command;
use std::time::Duration;

const HOOK_USER: &str = "pipedrive-hook";
const HOOK_PASSWORD: &str = "hook password";

fn api_token_auth() -> String {
    format!("api_token = \"{API_TOKEN}\"")
}

fn oauth_auth(fake: &FakePipedrive) -> String {
    format!(
        "access_token = \"{ACCESS_TOKEN}\"\nrefresh_token = \"{REFRESH_TOKEN}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\ntoken_url = \"{}/oauth/token\"",
        fake.base
    )
}

/// The Pipedrive source (people come in with their person id) and the sink.
fn config(fake: &FakePipedrive, auth: &str, extra: &str) -> String {
    let flush = if extra.contains("flush_interval_ms") {
        ""
    } else {
        "flush_interval_ms = 200"
    };
    format!(
        r#"
[sources.pipedrive]
kind = "pipedrive"
username = "{HOOK_USER}"
password = "{HOOK_PASSWORD}"

[sinks.pipedrive]
kind = "pipedrive"
base_url = "{}"
{auth}
{flush}
{extra}
"#,
        fake.base
    )
}

/// A done call with person `person_id`, as a Pipedrive webhook v2 delivers it
/// (pipedrive.readme.io/docs/webhooks-v2-migration-guide, "Update activity").
async fn call_done(daemon: &Daemon, event: &str, person_id: u64) {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let body = serde_json::json!({
        "data": {
            "active_flag": true, "add_time": now, "busy_flag": null, "custom_fields": {}, "deal_id": null,
            "done": true, "due_date": "2026-01-05", "due_time": null, "duration": null, "id": 70_000 + person_id,
            "lead_id": null, "location": null, "org_id": null, "owner_id": 12415231, "person_id": person_id,
            "public_description": "", "subject": "Discovery call", "type": "call", "update_time": now,
            "update_user_id": null
        },
        "previous": {"done": false},
        "meta": {
            "action": "change", "company_id": "8087566", "correlation_id": format!("corr-{event}"),
            "entity_id": (70_000 + person_id).to_string(), "entity": "activity", "id": event, "is_bulk_edit": false,
            "timestamp": now, "type": "general", "user_id": "12415231", "version": "2.0",
            "webhook_id": "4710827", "webhook_owner_id": "12094821", "change_source": "app", "attempt": 1,
            "host": "acme.pipedrive.com"
        }
    });
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{HOOK_USER}:{HOOK_PASSWORD}"));
    let response = daemon
        .post(
            "/webhooks/pipedrive",
            &[("Authorization".to_string(), format!("Basic {basic}"))],
            &body.to_string(),
        )
        .await;
    assert_eq!(response.status(), 200, "webhook {event}");
}

fn updates_of(fake: &FakePipedrive, id: u64) -> Vec<Recorded> {
    let path = format!("/api/v2/persons/{id}");
    fake.person_updates()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

#[tokio::test]
async fn a_person_gets_typed_custom_fields_sent_with_the_api_token() {
    let fake = FakePipedrive::start();
    fake.add_attention_fields();
    let daemon = Daemon::start(&config(&fake, &api_token_auth(), ""));
    call_done(&daemon, "shape-1", 501).await;
    fake.wait_for("person 501 written", |f| f.person(501).is_some())
        .await;

    let view = daemon.contact("pipedrive:501").await.unwrap();
    let key = |name: &str| {
        fake.field(name).unwrap()["key"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let update = &updates_of(&fake, 501)[0];
    assert_eq!(update.answered, 200);
    assert_eq!(update.api_token.as_deref(), Some(API_TOKEN));
    assert_eq!(update.authorization, None);
    assert!(!update.query.contains("api_token"), "{}", update.query);
    assert_eq!(update.content_type.as_deref(), Some("application/json"));
    let last_touch = chrono::DateTime::parse_from_rfc3339(view["last_touch_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%d")
        .to_string();
    let day = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(view[field].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d")
            .to_string()
    };
    let reasons: Vec<&str> = view["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(reasons[0], "call today");
    assert_eq!(
        update.json(),
        serde_json::json!({"custom_fields": {
            key("Attention score"): view["score"],
            key("Attention trend"): fake.option_id("Attention trend", "rising"),
            key("Attention reasons"): reasons.join("; "),
            key("Attention last touch"): last_touch,
            key("Qualification stage"): view["qualification_stage"],
            key("Attention stage changed at"): day("stage_changed_at"),
            key("Fit grade"): fake.option_id("Fit grade", view["fit_grade"].as_str().unwrap()),
            key("Attention matrix"): view["attention_matrix"],
            key("Attention velocity"): view["attention_velocity"].as_f64().unwrap().round() as i64,
        }})
    );
    assert!(view["score"].as_i64().unwrap() > 0);
    assert!(daemon.dead_letters().await.is_empty());
}

#[tokio::test]
async fn field_keys_are_listed_once_and_each_changed_person_is_one_request() {
    let fake = FakePipedrive::start();
    fake.add_attention_fields();
    let daemon = Daemon::start(&config(&fake, &api_token_auth(), ""));
    // Twelve people in one flush: two batches (of at most ten), one request each.
    for id in 601..613 {
        call_done(&daemon, &format!("many-{id}"), id).await;
    }
    fake.wait_for("twelve persons written", |f| {
        (601..613).all(|id| f.person(id).is_some())
    })
    .await;
    // Later pushes use the cached keys.
    call_done(&daemon, "later-1", 650).await;
    fake.wait_for("person 650 written", |f| f.person(650).is_some())
        .await;
    call_done(&daemon, "later-2", 601).await;
    fake.wait_for("person 601 written twice", |f| {
        updates_of(f, 601).len() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(fake.person_updates().len(), 14, "{:?}", fake.requests());
    for id in 602..613 {
        assert_eq!(updates_of(&fake, id).len(), 1, "person {id}");
    }
    // The 14 system and 9 custom fields take three pages of the fake's ten, read once.
    let listings: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.is_field_list())
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(
        listings,
        vec![
            "start=0&limit=500",
            "start=10&limit=500",
            "start=20&limit=500"
        ],
        "personFields listed more than once"
    );
}

#[tokio::test]
async fn an_expired_oauth_token_is_refreshed_and_the_request_sent_again() {
    let fake = FakePipedrive::start();
    fake.add_attention_fields();
    let daemon = Daemon::start(&config(&fake, &oauth_auth(&fake), ""));
    call_done(&daemon, "oauth-1", 701).await;
    fake.wait_for("person 701 written", |f| f.person(701).is_some())
        .await;
    assert_eq!(
        updates_of(&fake, 701)[0].authorization.as_deref(),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );
    assert_eq!(updates_of(&fake, 701)[0].api_token, None);

    fake.expire_access_tokens();
    call_done(&daemon, "oauth-2", 702).await;
    fake.wait_for("person 702 written", |f| f.person(702).is_some())
        .await;

    let tail: Vec<(String, u16, Option<String>)> = fake
        .requests()
        .into_iter()
        .skip_while(|r| r.path != "/api/v2/persons/702")
        .map(|r| (r.path, r.answered, r.authorization))
        .collect();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    assert_eq!(
        tail,
        vec![
            (
                "/api/v2/persons/702".into(),
                401,
                Some(format!("Bearer {ACCESS_TOKEN}"))
            ),
            ("/oauth/token".into(), 200, Some(format!("Basic {basic}"))),
            (
                "/api/v2/persons/702".into(),
                200,
                Some("Bearer 12345:67890:oauth-access-2".into())
            ),
        ]
    );
    let refresh = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/oauth/token")
        .unwrap();
    assert_eq!(
        refresh.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let form: std::collections::HashMap<String, String> =
        form_urlencoded::parse(refresh.body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], REFRESH_TOKEN);

    // The new token stays in use; nothing was lost or parked.
    call_done(&daemon, "oauth-3", 703).await;
    fake.wait_for("person 703 written", |f| f.person(703).is_some())
        .await;
    assert_eq!(
        updates_of(&fake, 703)[0].authorization.as_deref(),
        Some("Bearer 12345:67890:oauth-access-2")
    );
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.path == "/oauth/token")
            .count(),
        1
    );
    assert!(daemon.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_person_pipedrive_does_not_know_is_parked_with_its_message() {
    let fake = FakePipedrive::start();
    fake.add_attention_fields();
    fake.forget(802);
    let daemon = Daemon::start(&config(&fake, &api_token_auth(), "max_attempts = 2"));
    for id in [801, 802, 803] {
        call_done(&daemon, &format!("missing-{id}"), id).await;
    }
    fake.wait_for("801 and 803 written", |f| {
        f.person(801).is_some() && f.person(803).is_some()
    })
    .await;
    let letters = daemon.wait_dead_letters().await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter["sink"], "pipedrive");
    assert_eq!(letter["attempts"], 2);
    assert_eq!(letter["error"], "HTTP 404: Person not found");
    assert!(
        letter["identities"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("pipedrive:802")),
        "{letter}"
    );
    let tries: Vec<u16> = updates_of(&fake, 802).iter().map(|r| r.answered).collect();
    assert_eq!(tries, vec![404, 404]);
    assert!(fake.person(802).is_none());
    assert_eq!(updates_of(&fake, 801).len(), 1);
    assert_eq!(updates_of(&fake, 803).len(), 1);
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_says() {
    let fake = FakePipedrive::start();
    fake.add_attention_fields();
    // The body Pipedrive sends when the budget is spent; the headers of a burst 429.
    fake.script(
        429,
        &[
            ("Retry-After", "2"),
            ("x-ratelimit-limit", "20"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1"),
        ],
        serde_json::json!({"success": false, "error": "Request over limit", "errorCode": 429,
            "error_info": "Please check developers.pipedrive.com", "data": null, "additional_data": null}),
    );
    let daemon = Daemon::start(&config(&fake, &api_token_auth(), ""));
    call_done(&daemon, "limited-1", 901).await;
    fake.wait_for("person 901 written", |f| f.person(901).is_some())
        .await;
    let tries = updates_of(&fake, 901);
    assert_eq!(
        tries.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![429, 200]
    );
    let waited = tries[1].at - tries[0].at;
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?}"
    );
    let metrics = daemon.metrics().await;
    assert!(
        metrics.contains(r#"attentiond_sink_requests_total{sink="pipedrive",status="429"} 1"#),
        "{metrics}"
    );
    assert!(daemon.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_nearly_spent_burst_window_pauses_the_sink() {
    let fake = FakePipedrive::start();
    fake.add_attention_fields();
    fake.next_headers(&[
        ("x-ratelimit-limit", "20"),
        ("x-ratelimit-remaining", "1"),
        ("x-ratelimit-reset", "2"),
    ]);
    let daemon = Daemon::start(&config(&fake, &api_token_auth(), "flush_interval_ms = 500"));
    call_done(&daemon, "burst-1", 1001).await;
    call_done(&daemon, "burst-2", 1002).await;
    fake.wait_for("both written", |f| {
        f.person(1001).is_some() && f.person(1002).is_some()
    })
    .await;
    let updates = fake.person_updates();
    assert_eq!(updates.len(), 2, "{updates:?}");
    let gap = updates[1].at - updates[0].at;
    assert!(
        gap >= Duration::from_millis(1900),
        "next request after {gap:?}"
    );
}

#[tokio::test]
async fn a_missing_field_fails_records_naming_it_and_setup_crm() {
    let fake = FakePipedrive::start();
    fake.add_field("Attention score", "double", &[]);
    fake.add_field("Attention reasons", "text", &[]);
    fake.add_field("Attention last touch", "date", &[]);
    let daemon = Daemon::start(&config(&fake, &api_token_auth(), "max_attempts = 1"));
    call_done(&daemon, "nofield-1", 1101).await;
    let letters = daemon.wait_dead_letters().await;
    let error = letters[0]["error"].as_str().unwrap();
    assert!(
        error.contains("\"Attention trend\"") && error.contains("setup-crm"),
        "{error}"
    );
    assert!(fake.person_updates().is_empty());
}

fn setup_crm(config: &std::path::Path, dry_run: bool) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_attentiond"));
    command.args([
        "--config",
        config.to_str().unwrap(),
        "setup-crm",
        "pipedrive",
    ]);
    if dry_run {
        command.arg("--dry-run");
    }
    let output = command.output().expect("run attentiond");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn setup_config(fake: &FakePipedrive) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("attentiond.toml");
    std::fs::write(
        &path,
        config_text(dir.path(), &config(fake, &api_token_auth(), "")),
    )
    .unwrap();
    (dir, path)
}

#[test]
fn setup_crm_creates_the_person_fields_once() {
    let fake = FakePipedrive::start();
    let (_dir, path) = setup_config(&fake);
    let (code, stdout, stderr) = setup_crm(&path, false);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("9 created, 0 already there"), "{stdout}");
    assert!(
        stdout.contains("created   person field \"Attention trend\" (enum"),
        "{stdout}"
    );

    let mut types: Vec<(String, String)> = fake
        .custom_fields()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().into(),
                f["field_type"].as_str().unwrap().into(),
            )
        })
        .collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            ("Attention last touch".into(), "date".into()),
            ("Attention matrix".into(), "varchar".into()),
            ("Attention reasons".into(), "text".into()),
            ("Attention score".into(), "double".into()),
            ("Attention stage changed at".into(), "date".into()),
            ("Attention trend".into(), "enum".into()),
            ("Attention velocity".into(), "double".into()),
            ("Fit grade".into(), "enum".into()),
            ("Qualification stage".into(), "varchar".into()),
        ]
    );
    let options: Vec<String> = fake.field("Attention trend").unwrap()["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(options, vec!["rising", "steady", "fading"]);
    let posts = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert!(fake
        .requests()
        .iter()
        .all(|r| r.api_token.as_deref() == Some(API_TOKEN)));

    let (code, stdout, stderr) = setup_crm(&path, false);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("0 created, 9 already there"), "{stdout}");
    assert!(
        stdout.contains("exists    person field \"Attention score\" (double"),
        "{stdout}"
    );
    assert_eq!(
        fake.requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .count(),
        posts
    );
    assert_eq!(fake.custom_fields().len(), 9);
}

#[test]
fn setup_crm_dry_run_prints_the_requests_and_changes_nothing() {
    let fake = FakePipedrive::start();
    fake.add_field("Attention score", "double", &[]);
    let (_dir, path) = setup_config(&fake);
    let (code, stdout, stderr) = setup_crm(&path, true);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("exists    person field \"Attention score\""),
        "{stdout}"
    );
    let url = format!("would send POST {}/api/v1/personFields", fake.base);
    assert_eq!(stdout.matches(&url).count(), 8, "{stdout}");
    assert!(
        stdout.contains(r#"{"add_visible_flag":false,"field_type":"enum","name":"Attention trend","options":[{"label":"rising"},{"label":"steady"},{"label":"fading"}]}"#),
        "{stdout}"
    );
    assert!(
        stdout.contains("dry run: nothing was changed in pipedrive"),
        "{stdout}"
    );
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
    assert_eq!(fake.custom_fields().len(), 1);
}
