//! Scores out to Marketo leads: token flow, lookup by id or email, batches of 300,
//! skipped leads, limits reported in 200 bodies, and `setup-crm` through the binary.

use crate::fake_marketo::{FakeMarketo, CLIENT_ID, CLIENT_SECRET};
use crate::harness::*;
use crate::source_marketo::{rendered, system_date_time, SECRET as MARKETO_SOURCE_SECRET};
use std::time::Duration;

fn sink_section(fake: &FakeMarketo, flush_ms: u64, max_attempts: u32, extra: &str) -> String {
    format!(
        r#"
[sinks.marketo]
kind = "marketo"
base_url = "{}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
flush_interval_ms = {flush_ms}
max_attempts = {max_attempts}
{extra}
"#,
        fake.base
    )
}

fn daemon(fake: &FakeMarketo, flush_ms: u64, max_attempts: u32, extra: &str) -> Daemon {
    Daemon::start(&format!(
        "\n[sources.marketo]\nkind = \"marketo\"\nsecret = \"{MARKETO_SOURCE_SECRET}\"\n{}",
        sink_section(fake, flush_ms, max_attempts, extra)
    ))
}

async fn touch(daemon: &Daemon, id: &str, email: &str, kind: &str) {
    let status = daemon
        .post_site(id, &touch_body(email, kind, &now_rfc3339()))
        .await
        .status();
    assert_eq!(status, 200);
}

fn inputs_with(fake: &FakeMarketo, key: &str, value: &serde_json::Value) -> usize {
    fake.syncs()
        .iter()
        .flat_map(|r| r.body["input"].as_array().cloned().unwrap_or_default())
        .filter(|input| &input[key] == value)
        .count()
}

fn identity_calls(fake: &FakeMarketo) -> Vec<crate::fake_marketo::Recorded> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path == "/identity/oauth/token")
        .collect()
}

#[tokio::test]
async fn a_rep_sees_the_score_on_the_marketo_lead() {
    let fake = FakeMarketo::start();
    fake.add_lead(501, "rep@example.com");
    let daemon = daemon(&fake, 200, 5, "");
    touch(&daemon, "m1", "rep@example.com", "meeting_booked").await;
    fake.wait_for("rep@example.com written", |f| {
        f.lead("rep@example.com").is_some()
    })
    .await;
    let written = fake.lead("rep@example.com").unwrap();
    let view = daemon.contact("rep@example.com").await.unwrap();
    assert!(written["attentionScore"].is_u64(), "{written:?}");
    assert_eq!(written["attentionScore"], view["score"]);
    assert_eq!(written["attentionTrend"], "rising");
    let reasons: Vec<&str> = view["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(reasons[0], "meeting booked today");
    assert_eq!(written["attentionReasons"], reasons.join("; "));
    assert_eq!(written["attentionLastTouchAt"], view["last_touch_at"]);
    assert_eq!(
        written["attentionQualificationStage"],
        view["qualification_stage"]
    );
    assert_eq!(
        written["attentionVelocity"],
        view["attention_velocity"].as_f64().unwrap().round() as i64
    );

    let identity = identity_calls(&fake);
    assert_eq!(identity.len(), 1);
    assert_eq!(identity[0].method, "GET");
    assert!(
        identity[0].query.contains("grant_type=client_credentials")
            && identity[0]
                .query
                .contains(&format!("client_id={CLIENT_ID}")),
        "{}",
        identity[0].query
    );
    let sync = &fake.syncs()[0];
    assert_eq!(sync.answered, "200");
    assert_eq!(
        sync.authorization.as_deref(),
        Some("Bearer cdf01657-110d-4155-99a7-000000000001:int")
    );
    assert_eq!(sync.body["action"], "updateOnly");
    assert_eq!(sync.body["lookupField"], "email");
    assert_eq!(sync.body["input"][0]["email"], "rep@example.com");
}

#[tokio::test]
async fn a_lead_known_by_its_marketo_id_is_looked_up_by_id_others_by_email() {
    let fake = FakeMarketo::start();
    fake.add_lead(1001, "ann.lee@example.com");
    fake.add_lead(502, "bo@example.com");
    let daemon = daemon(&fake, 1500, 5, "");
    let body = rendered(
        "form_submit",
        1001,
        "Ann.Lee@Example.com",
        &system_date_time(0),
    );
    let headers = vec![(
        "X-Attentiond-Secret".to_string(),
        MARKETO_SOURCE_SECRET.to_string(),
    )];
    assert_eq!(
        daemon.status("/webhooks/marketo", &headers, &body).await,
        200
    );
    touch(&daemon, "m2", "bo@example.com", "form_submit").await;
    fake.wait_for("both leads written", |f| {
        f.lead("ann.lee@example.com").is_some() && f.lead("bo@example.com").is_some()
    })
    .await;
    let syncs = fake.syncs();
    for sync in &syncs {
        let lookup = sync.body["lookupField"].as_str().unwrap();
        for input in sync.body["input"].as_array().unwrap() {
            let keys: Vec<&str> = input
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .filter(|k| *k == "id" || *k == "email")
                .collect();
            assert_eq!(keys, vec![lookup], "one lookup key per input: {input}");
        }
    }
    let by_id: Vec<_> = syncs
        .iter()
        .filter(|s| s.body["lookupField"] == "id")
        .collect();
    assert_eq!(by_id.len(), 1, "{syncs:?}");
    assert_eq!(by_id[0].body["input"][0]["id"], 1001);
    assert!(by_id[0].body["input"][0].get("email").is_none());
    assert_eq!(
        inputs_with(&fake, "email", &"bo@example.com".into()),
        1,
        "{syncs:?}"
    );
    assert!(syncs
        .iter()
        .filter(|s| s.body["lookupField"] == "email")
        .all(|s| s.body["input"][0]["email"] == "bo@example.com"));
    // The profile from Marketo's payload comes first, then the touch, then the stage.
    let reasons = fake.lead("ann.lee@example.com").unwrap()["attentionReasons"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reasons.starts_with("works at Example Corp in Software (C); form submit today; "),
        "{reasons}"
    );
}

#[tokio::test]
async fn an_expired_token_is_renewed_and_the_batch_sent_again() {
    let fake = FakeMarketo::start();
    fake.add_lead(601, "first@example.com");
    fake.add_lead(602, "second@example.com");
    let daemon = daemon(&fake, 100, 1, "");
    touch(&daemon, "t1", "first@example.com", "form_submit").await;
    fake.wait_for("first written", |f| f.lead("first@example.com").is_some())
        .await;
    fake.expire_tokens();
    touch(&daemon, "t2", "second@example.com", "form_submit").await;
    fake.wait_for("second written", |f| f.lead("second@example.com").is_some())
        .await;
    let syncs = fake.syncs();
    let answered: Vec<&str> = syncs.iter().map(|s| s.answered.as_str()).collect();
    assert_eq!(answered, vec!["200", "602", "200"]);
    assert_eq!(syncs[1].body, syncs[2].body, "the same batch is sent again");
    assert_eq!(syncs[0].authorization, syncs[1].authorization);
    assert_ne!(syncs[1].authorization, syncs[2].authorization);
    assert_eq!(identity_calls(&fake).len(), 2);
    // The 602 did not count against the record: max_attempts is 1.
    assert!(daemon.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_token_at_the_end_of_its_life_is_renewed_before_the_call() {
    let fake = FakeMarketo::start();
    fake.set_token_lifetime(Duration::from_secs(2));
    fake.add_lead(701, "early@example.com");
    fake.add_lead(702, "late@example.com");
    let daemon = daemon(&fake, 100, 5, "");
    touch(&daemon, "l1", "early@example.com", "form_submit").await;
    fake.wait_for("early written", |f| f.lead("early@example.com").is_some())
        .await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    touch(&daemon, "l2", "late@example.com", "form_submit").await;
    fake.wait_for("late written", |f| f.lead("late@example.com").is_some())
        .await;
    let syncs = fake.syncs();
    assert!(
        syncs.iter().all(|s| s.answered == "200"),
        "no call was refused: {syncs:?}"
    );
    assert_ne!(
        syncs.first().unwrap().authorization,
        syncs.last().unwrap().authorization
    );
}

#[tokio::test]
async fn six_hundred_fifty_changed_leads_go_in_three_calls() {
    let fake = FakeMarketo::start();
    for i in 0..650 {
        fake.add_lead(10_000 + i, &format!("p{i}@example.com"));
    }
    // Collect all 650 in the outbox first, then let the sink find them at once.
    let daemon = daemon(&fake, 600_000, 5, "");
    for chunk in (0..650).collect::<Vec<_>>().chunks(50) {
        let sends = chunk.iter().map(|i| {
            let daemon = &daemon;
            async move {
                daemon
                    .post_site(
                        &format!("many-{i}"),
                        &touch_body(&format!("p{i}@example.com"), "email_click", &now_rfc3339()),
                    )
                    .await
                    .status()
                    .as_u16()
            }
        });
        assert!(futures_util::future::join_all(sends)
            .await
            .iter()
            .all(|s| *s == 200));
    }
    daemon.drained().await;
    assert!(fake.syncs().is_empty());
    let dir = daemon.stop();
    let daemon = Daemon::start_in(
        dir,
        &format!(
            "\n[sources.marketo]\nkind = \"marketo\"\nsecret = \"{MARKETO_SOURCE_SECRET}\"\n{}",
            sink_section(&fake, 100, 5, "")
        ),
    );
    fake.wait_for("650 written", |f| {
        (0..650).all(|i| f.lead(&format!("p{i}@example.com")).is_some())
    })
    .await;
    let syncs = fake.syncs();
    let mut sizes: Vec<usize> = syncs
        .iter()
        .map(|s| s.body["input"].as_array().unwrap().len())
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![50, 300, 300]);
    assert!(syncs
        .iter()
        .all(|s| s.body["lookupField"] == "email" && s.answered == "200"));
    drop(daemon);
}

#[tokio::test]
async fn a_lead_marketo_cannot_find_is_parked_with_marketos_message() {
    let fake = FakeMarketo::start();
    fake.add_lead(801, "known@example.com");
    let daemon = daemon(&fake, 300, 2, "");
    touch(&daemon, "p1", "known@example.com", "form_submit").await;
    touch(&daemon, "p2", "unknown@example.com", "form_submit").await;
    fake.wait_for("known written", |f| f.lead("known@example.com").is_some())
        .await;
    let letters = daemon.wait_dead_letters().await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter["sink"], "marketo");
    assert_eq!(letter["attempts"], 2);
    assert_eq!(
        letter["identities"],
        serde_json::json!(["email:unknown@example.com"])
    );
    assert_eq!(letter["error"], "1004 Lead not found");
    assert_eq!(
        inputs_with(&fake, "email", &"unknown@example.com".into()),
        2
    );
    assert_eq!(
        inputs_with(&fake, "email", &"known@example.com".into()),
        1,
        "the written lead is not sent again"
    );
}

#[tokio::test]
async fn a_606_in_a_200_body_holds_calls_for_the_rate_window() {
    let fake = FakeMarketo::start();
    fake.add_lead(901, "limited@example.com");
    // Marketo's message for 606 (error-codes.md): "Max rate limit %s exceeded with in %s secs".
    fake.script_error("606", "Max rate limit '100' exceeded with in '20' secs");
    let daemon = daemon(
        &fake,
        100,
        1,
        "rate_limit = { requests = 10, per_secs = 1.5 }",
    );
    touch(&daemon, "r1", "limited@example.com", "form_submit").await;
    fake.wait_for("limited written", |f| {
        f.lead("limited@example.com").is_some()
    })
    .await;
    let syncs = fake.syncs();
    let answered: Vec<&str> = syncs.iter().map(|s| s.answered.as_str()).collect();
    assert_eq!(answered, vec!["606", "200"]);
    let waited = syncs[1].at - syncs[0].at;
    assert!(
        waited >= Duration::from_millis(1500),
        "sent again after {waited:?}"
    );
    assert!(daemon.dead_letters().await.is_empty());
    let metrics = daemon.metrics().await;
    assert!(
        metrics.contains(r#"attentiond_sink_requests_total{sink="marketo",status="606"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn http_errors_keep_the_batch_until_marketo_answers() {
    let fake = FakeMarketo::start();
    fake.add_lead(902, "patient@example.com");
    fake.script(
        503,
        &[],
        serde_json::json!({"message": "Service Unavailable"}),
    );
    fake.script(
        429,
        &[("Retry-After", "1")],
        serde_json::json!({"message": "Too Many Requests"}),
    );
    let daemon = daemon(&fake, 100, 1, "");
    touch(&daemon, "h1", "patient@example.com", "form_submit").await;
    fake.wait_for("patient written", |f| {
        f.lead("patient@example.com").is_some()
    })
    .await;
    let syncs = fake.syncs();
    let answered: Vec<&str> = syncs.iter().map(|s| s.answered.as_str()).collect();
    assert_eq!(answered, vec!["503", "429", "200"]);
    assert!(syncs[2].at - syncs[1].at >= Duration::from_secs(1));
    assert!(daemon.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_call_refused_whole_is_retried_lead_by_lead() {
    let fake = FakeMarketo::start();
    fake.add_lead(903, "one@example.com");
    fake.add_lead(904, "two@example.com");
    let daemon = daemon(&fake, 1500, 5, "");
    fake.script_error("609", "Invalid JSON");
    touch(&daemon, "w1", "one@example.com", "form_submit").await;
    touch(&daemon, "w2", "two@example.com", "form_submit").await;
    fake.wait_for("both written", |f| {
        f.lead("one@example.com").is_some() && f.lead("two@example.com").is_some()
    })
    .await;
    let sizes: Vec<usize> = fake
        .syncs()
        .iter()
        .map(|s| s.body["input"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![2, 1, 1]);
}

fn setup_crm(fake: &FakeMarketo, extra_args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("attentiond.toml");
    std::fs::write(
        &path,
        config_text(dir.path(), &sink_section(fake, 1000, 5, "")),
    )
    .unwrap();
    let mut args = vec!["--config", path.to_str().unwrap(), "setup-crm", "marketo"];
    args.extend_from_slice(extra_args);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_attentiond"))
        .args(&args)
        .output()
        .expect("run attentiond");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn field_creations(fake: &FakeMarketo) -> Vec<crate::fake_marketo::Recorded> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/rest/v1/leads/schema/fields.json")
        .collect()
}

#[test]
fn setup_crm_creates_the_lead_fields_once() {
    let fake = FakeMarketo::start_without_custom_fields();
    fake.set_page_size(3);
    let (code, stdout, stderr) = setup_crm(&fake, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for line in [
        "created   lead field attentionScore (Attention score, integer)",
        "created   lead field attentionTrend (Attention trend, string)",
        "created   lead field attentionReasons (Attention reasons, string)",
        "created   lead field attentionLastTouchAt (Attention last touch, datetime)",
        "created   lead field attentionStageChangedAt (Attention stage changed at, datetime)",
        "9 created, 0 already there",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
    let created = field_creations(&fake);
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0].body["input"][0]["displayName"],
        "Attention score"
    );
    let fields = fake.fields();
    for (name, data_type) in crate::fake_marketo::ATTENTION_FIELDS {
        assert!(
            fields
                .iter()
                .any(|f| f.name == *name && f.data_type == *data_type && f.custom),
            "{name}: {fields:?}"
        );
    }
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.query.contains("nextPageToken=page-3")),
        "the field list is read page by page"
    );

    let (code, stdout, stderr) = setup_crm(&fake, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("exists    lead field attentionScore"),
        "{stdout}"
    );
    assert!(stdout.contains("0 created, 9 already there"), "{stdout}");
    assert_eq!(field_creations(&fake).len(), 1);
}

#[test]
fn setup_crm_dry_run_prints_the_request_and_changes_nothing() {
    let fake = FakeMarketo::start_without_custom_fields();
    fake.add_field("attentionScore", "integer");
    let (code, stdout, stderr) = setup_crm(&fake, &["--dry-run"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "would send POST {}/rest/v1/leads/schema/fields.json",
            fake.base
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""name":"attentionTrend""#)
            && stdout.contains(r#""dataType":"datetime""#),
        "{stdout}"
    );
    assert!(!stdout.contains(r#""name":"attentionScore""#), "{stdout}");
    assert!(
        stdout.contains("dry run: nothing was changed in marketo"),
        "{stdout}"
    );
    assert!(field_creations(&fake).is_empty());
    assert_eq!(
        fake.fields().iter().filter(|f| f.custom).count(),
        1,
        "nothing created"
    );
    assert!(!stdout.contains(CLIENT_SECRET) && !stderr.contains(CLIENT_SECRET));
}

#[test]
fn setup_crm_prints_the_click_path_where_marketo_refuses_to_create_fields() {
    let fake = FakeMarketo::start_without_custom_fields();
    fake.refuse_schema_create();
    let (code, stdout, stderr) = setup_crm(&fake, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("603 Access denied"), "{stdout}");
    let by_hand: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("BY HAND"))
        .collect();
    assert_eq!(by_hand.len(), 9, "{stdout}");
    assert!(by_hand
        .iter()
        .all(|line| line.contains("Admin → Field Management → New Custom Field → Object: Person")));
    assert!(
        stdout.contains("Type: Integer, Name: Attention score, API Name: attentionScore"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("Type: Datetime, Name: Attention last touch, API Name: attentionLastTouchAt"),
        "{stdout}"
    );
    assert_eq!(field_creations(&fake).len(), 1);
    assert!(fake.fields().iter().all(|f| !f.custom));
}

#[test]
fn setup_crm_reads_describe_when_the_schema_is_closed_to_the_api_user() {
    let fake = FakeMarketo::start_without_custom_fields();
    fake.refuse_schema_read();
    fake.refuse_schema_create();
    fake.add_field("attentionScore", "score");
    let (code, stdout, stderr) = setup_crm(&fake, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("exists    lead field attentionScore"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("is of type score"),
        "a Score field takes integers: {stdout}"
    );
    let by_hand: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("BY HAND"))
        .collect();
    assert_eq!(by_hand.len(), 8, "{stdout}");
    assert!(stdout.contains("API Name: attentionReasons"), "{stdout}");
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.path == "/rest/v1/leads/describe.json" && r.answered == "200"));
    assert!(
        field_creations(&fake).is_empty(),
        "no attempt bound to fail"
    );
}
