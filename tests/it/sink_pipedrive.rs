//! Scores out to Pipedrive persons: contacts arrive through the Pipedrive source (so
//! they carry their person id), the daemon writes their custom fields to a fake
//! Pipedrive, and `setup-crm` creates the fields through the real binary.

use crate::fake_crm::{Answer, FakeCrm, Recorded};
use crate::fake_pipedrive::*;
use crate::harness::*;
use crate::sink_scenarios::*;
use base64::Engine;
use std::time::Duration;

const HOOK_USER: &str = "pipedrive-hook";
const HOOK_PASSWORD: &str = "hook password";

/// The Pipedrive source (people come in with their person id) and the sink, signing in
/// with `auth`.
fn config(fake: &FakePipedrive, auth: &str, delivery: &str) -> String {
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
{delivery}
"#,
        fake.base
    )
}

impl CrmUnderTest for FakePipedrive {
    type Crm = Pipedrive;
    const SINK: &'static str = "pipedrive";

    fn fake(&self) -> &FakeCrm<Pipedrive> {
        self
    }

    /// Signing in with the API token.
    fn config(&self, delivery: &str) -> String {
        config(self, &format!("api_token = \"{API_TOKEN}\""), delivery)
    }

    /// Signing in with an OAuth access token, and the refresh token to renew it.
    fn config_renewing_sign_in(&self, delivery: &str) -> String {
        let oauth = format!(
            "access_token = \"{ACCESS_TOKEN}\"\nrefresh_token = \"{REFRESH_TOKEN}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\ntoken_url = \"{}/oauth/token\"",
            self.base
        );
        config(self, &oauth, delivery)
    }

    /// A person Pipedrive holds; it knows everyone it is not told to forget.
    fn someone(&self, n: usize) -> Person {
        person(10_000 + n as u64)
    }

    async fn touch(&self, daemon: &Daemon, person: &Person) {
        let id = person.key.parse().expect("a person id");
        call_done(daemon, &delivery_id("call"), id).await;
    }

    fn written(&self, person: &Person) -> Option<Fields> {
        self.person(person.key.parse().expect("a person id"))
    }

    fn writes(&self) -> Vec<Recorded> {
        self.person_updates()
    }

    /// One person per update, named in its path.
    fn keys_in(&self, write: &Recorded) -> Vec<String> {
        write
            .path
            .strip_prefix("/api/v2/persons/")
            .map(str::to_string)
            .into_iter()
            .collect()
    }
}

fn person(id: u64) -> Person {
    Person {
        identity: format!("pipedrive:{id}"),
        key: id.to_string(),
    }
}

/// Pipedrive with the fields `setup-crm` creates.
fn ready() -> FakePipedrive {
    let fake = FakePipedrive::start();
    fake.add_attention_fields();
    fake
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

#[tokio::test]
async fn a_person_gets_typed_custom_fields_sent_with_the_api_token() {
    let fake = ready();
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 200"));
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
    let update = &fake.updates_of(501)[0];
    assert_eq!(update.answered, 200);
    assert_eq!(update.header("x-api-token"), Some(API_TOKEN));
    assert_eq!(update.authorization(), None);
    assert!(!update.query.contains("api_token"), "{}", update.query);
    assert_eq!(update.header("content-type"), Some("application/json"));
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
    let reasons = reasons(&view);
    assert_eq!(reasons[0], "call today");
    assert_eq!(
        update.body,
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
    let fake = ready();
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 200"));
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
    fake.wait_for("person 601 written twice", |f| f.updates_of(601).len() == 2)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(fake.person_updates().len(), 14, "{:?}", fake.requests());
    for id in 602..613 {
        assert_eq!(fake.updates_of(id).len(), 1, "person {id}");
    }
    // The 14 system and 9 custom fields take three pages of the fake's ten, read once.
    let listings: Vec<String> = fake.field_lists().into_iter().map(|r| r.query).collect();
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
    let fake = ready();
    let daemon = an_expired_sign_in_is_renewed_and_the_call_sent_again(
        &fake,
        FakePipedrive::expire_access_tokens,
        "401",
    )
    .await;
    let path = format!("/api/v2/persons/{}", fake.someone(1).key);
    let first_update = fake.writes().remove(0);
    assert_eq!(first_update.path, path);
    assert_eq!(
        first_update.authorization(),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );
    assert_eq!(first_update.header("x-api-token"), None);

    let tail: Vec<(String, u16, Option<String>)> = fake
        .requests()
        .into_iter()
        .skip_while(|r| r.path != path)
        .skip(1)
        .map(|r| {
            let authorization = r.authorization().map(str::to_string);
            (r.path, r.answered, authorization)
        })
        .collect();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    assert_eq!(
        tail,
        vec![
            (path.clone(), 401, Some(format!("Bearer {ACCESS_TOKEN}"))),
            ("/oauth/token".into(), 200, Some(format!("Basic {basic}"))),
            (path, 200, Some("Bearer 12345:67890:oauth-access-2".into())),
        ]
    );
    let refresh = fake.token_refreshes().remove(0);
    assert_eq!(
        refresh.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = refresh.form();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], REFRESH_TOKEN);

    // The new token stays in use; nothing was lost or parked.
    let third = fake.someone(3);
    fake.touch(&daemon, &third).await;
    fake.wait_written(std::slice::from_ref(&third)).await;
    let third_id: u64 = third.key.parse().unwrap();
    assert_eq!(
        fake.updates_of(third_id)[0].authorization(),
        Some("Bearer 12345:67890:oauth-access-2")
    );
    assert_eq!(fake.token_refreshes().len(), 1);
    assert!(daemon.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_person_pipedrive_does_not_know_is_parked_with_its_message() {
    let fake = ready();
    fake.forget(802);
    a_refused_record_is_parked_without_holding_back_others(
        &fake,
        &[Refused {
            person: person(802),
            error: "HTTP 404: Person not found".into(),
            sent_each_attempt: true,
        }],
    )
    .await;
    let tries: Vec<u16> = fake.updates_of(802).iter().map(|r| r.answered).collect();
    assert_eq!(tries, vec![404, 404]);
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_says() {
    failed_calls_are_sent_again_as_the_crm_asks(
        &ready(),
        // The body Pipedrive sends when the budget is spent; the headers of a burst 429.
        &[Answer::new(
            429,
            &[
                ("Retry-After", "2"),
                ("x-ratelimit-limit", "20"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1"),
            ],
            serde_json::json!({"success": false, "error": "Request over limit", "errorCode": 429,
                "error_info": "Please check developers.pipedrive.com", "data": null, "additional_data": null}),
        )],
    )
    .await;
}

#[tokio::test]
async fn a_nearly_spent_burst_window_pauses_the_sink() {
    let fake = ready();
    fake.next_headers(&[
        ("x-ratelimit-limit", "20"),
        ("x-ratelimit-remaining", "1"),
        ("x-ratelimit-reset", "2"),
    ]);
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 500"));
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
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 200\nmax_attempts = 1"));
    call_done(&daemon, "nofield-1", 1101).await;
    let letters = daemon.wait_dead_letters().await;
    let error = letters[0]["error"].as_str().unwrap();
    assert!(
        error.contains("\"Attention trend\"") && error.contains("setup-crm"),
        "{error}"
    );
    assert!(fake.person_updates().is_empty());
}

fn setup_config(fake: &FakePipedrive) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &fake.config("flush_interval_ms = 200"));
    (dir, path)
}

#[test]
fn setup_crm_creates_the_person_fields_once() {
    let fake = FakePipedrive::start();
    let (_dir, path) = setup_config(&fake);
    let (code, stdout, stderr) = setup_crm(&path, "pipedrive", &[]);
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
        .all(|r| r.header("x-api-token") == Some(API_TOKEN)));

    let (code, stdout, stderr) = setup_crm(&path, "pipedrive", &[]);
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
    let (code, stdout, stderr) = setup_crm(&path, "pipedrive", &["--dry-run"]);
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
