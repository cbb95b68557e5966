//! Scores out to Marketo leads: token flow, lookup by id or email, batches of 300,
//! skipped leads, limits reported in 200 bodies, and `setup-crm` through the binary.

use crate::fake_crm::{Answer, FakeCrm, Recorded};
use crate::fake_marketo::{self, FakeMarketo, Marketo, CLIENT_ID, CLIENT_SECRET};
use crate::harness::*;
use crate::sink_scenarios::*;
use crate::source_marketo::{rendered, system_date_time, SECRET as MARKETO_SOURCE_SECRET};
use std::time::Duration;

impl CrmUnderTest for FakeMarketo {
    type Crm = Marketo;
    const SINK: &'static str = "marketo";

    fn fake(&self) -> &FakeCrm<Marketo> {
        self
    }

    /// The Marketo source too, through which leads come with their Marketo id.
    fn config(&self, delivery: &str) -> String {
        format!(
            r#"
[sources.marketo]
kind = "marketo"
secret = "{MARKETO_SOURCE_SECRET}"

[sinks.marketo]
kind = "marketo"
base_url = "{}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
{delivery}
"#,
            self.base
        )
    }

    /// A lead Marketo holds, so that `updateOnly` finds it by email.
    fn someone(&self, n: usize) -> Person {
        let email = format!("p{n}@example.com");
        self.add_lead(10_000 + n as u64, &email);
        Person::by_email(&email)
    }

    fn written(&self, person: &Person) -> Option<Fields> {
        self.lead(&person.key)
    }

    fn writes(&self) -> Vec<Recorded> {
        self.syncs()
    }

    /// Emails, or Marketo ids for leads looked up by id.
    fn keys_in(&self, write: &Recorded) -> Vec<String> {
        write.body["input"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|input| match input["email"].as_str() {
                Some(email) => email.to_string(),
                None => input["id"].to_string(),
            })
            .collect()
    }

    fn outcome(&self, write: &Recorded) -> String {
        fake_marketo::outcome(write)
    }
}

#[tokio::test]
async fn a_rep_sees_the_score_on_the_marketo_lead() {
    let fake = FakeMarketo::start();
    fake.add_lead(501, "rep@example.com");
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 200\nmax_attempts = 5"));
    daemon.touch("rep@example.com", "meeting_booked").await;
    fake.wait_for("rep@example.com written", |f| {
        f.lead("rep@example.com").is_some()
    })
    .await;
    let written = fake.lead("rep@example.com").unwrap();
    let view = daemon.contact("rep@example.com").await.unwrap();
    assert!(written["attentionScore"].is_u64(), "{written:?}");
    assert_eq!(written["attentionScore"], view["score"]);
    assert_eq!(written["attentionTrend"], "rising");
    let reasons = reasons(&view);
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

    let identity = fake.sign_ins();
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
    assert_eq!(fake_marketo::outcome(sync), "200");
    assert_eq!(
        sync.authorization(),
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
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 1500\nmax_attempts = 5"));
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
    daemon.touch("bo@example.com", "form_submit").await;
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
        fake.sent(&Person::by_email("bo@example.com")),
        1,
        "{syncs:?}"
    );
    assert!(syncs
        .iter()
        .filter(|s| s.body["lookupField"] == "email")
        .all(|s| s.body["input"][0]["email"] == "bo@example.com"));
    // The profile from Marketo's payload comes first, then the account (Bo, known by
    // email only, joins Ann's company), then the touch, then the stage.
    let reasons = fake.lead("ann.lee@example.com").unwrap()["attentionReasons"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reasons.starts_with(
            "works at Example Corp in Software (C); 2 people from Example Corp engaged this week; form submit today; "
        ),
        "{reasons}"
    );
}

#[tokio::test]
async fn an_expired_token_is_renewed_and_the_batch_sent_again() {
    let fake = FakeMarketo::start();
    an_expired_sign_in_is_renewed_and_the_call_sent_again(&fake, FakeMarketo::expire_tokens, "602")
        .await;
    assert_eq!(fake.sign_ins().len(), 2);
}

#[tokio::test]
async fn a_token_at_the_end_of_its_life_is_renewed_before_the_call() {
    let fake = FakeMarketo::start();
    fake.set_token_lifetime(Duration::from_secs(2));
    fake.add_lead(701, "early@example.com");
    fake.add_lead(702, "late@example.com");
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 100\nmax_attempts = 5"));
    daemon.touch("early@example.com", "form_submit").await;
    fake.wait_for("early written", |f| f.lead("early@example.com").is_some())
        .await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    daemon.touch("late@example.com", "form_submit").await;
    fake.wait_for("late written", |f| f.lead("late@example.com").is_some())
        .await;
    let syncs = fake.syncs();
    assert!(
        syncs.iter().all(|s| fake_marketo::outcome(s) == "200"),
        "no call was refused: {syncs:?}"
    );
    assert_ne!(
        syncs.first().unwrap().authorization(),
        syncs.last().unwrap().authorization()
    );
}

#[tokio::test]
async fn six_hundred_fifty_changed_leads_go_in_three_calls() {
    let fake = FakeMarketo::start();
    let daemon = a_large_change_goes_in_full_calls(&fake, 300).await;
    assert!(fake
        .syncs()
        .iter()
        .all(|s| s.body["lookupField"] == "email"));
    drop(daemon);
}

#[tokio::test]
async fn a_lead_marketo_cannot_find_is_parked_with_marketos_message() {
    a_refused_record_is_parked_without_holding_back_others(
        &FakeMarketo::start(),
        &[Refused {
            person: Person::by_email("unknown@example.com"),
            error: "1004 Lead not found".into(),
            sent_each_attempt: true,
        }],
    )
    .await;
}

#[tokio::test]
async fn a_606_in_a_200_body_holds_calls_for_the_rate_window() {
    let fake = FakeMarketo::start();
    fake.add_lead(901, "limited@example.com");
    // Marketo's message for 606 (error-codes.md): "Max rate limit %s exceeded with in %s secs".
    fake.script_error("606", "Max rate limit '100' exceeded with in '20' secs");
    let daemon = Daemon::start(&fake.config(
        "flush_interval_ms = 100\nmax_attempts = 1\nrate_limit = { requests = 10, per_secs = 1.5 }",
    ));
    daemon.touch("limited@example.com", "form_submit").await;
    fake.wait_for("limited written", |f| {
        f.lead("limited@example.com").is_some()
    })
    .await;
    let syncs = fake.syncs();
    let answered: Vec<String> = syncs.iter().map(fake_marketo::outcome).collect();
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
    failed_calls_are_sent_again_as_the_crm_asks(
        &FakeMarketo::start(),
        &[
            Answer::json(503, serde_json::json!({"message": "Service Unavailable"})),
            Answer::new(
                429,
                &[("Retry-After", "1")],
                serde_json::json!({"message": "Too Many Requests"}),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_call_refused_whole_is_retried_lead_by_lead() {
    a_call_refused_whole_is_retried_record_by_record(
        &FakeMarketo::start(),
        fake_marketo::response_error("609", "Invalid JSON"),
    )
    .await;
}

/// `setup-crm marketo` with the sink pointed at the fake.
fn setup_marketo(fake: &FakeMarketo, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake.config("flush_interval_ms = 1000"));
    setup_crm(&config, "marketo", args)
}

#[test]
fn setup_crm_creates_the_lead_fields_once() {
    let fake = FakeMarketo::start_without_custom_fields();
    fake.set_page_size(3);
    let (code, stdout, stderr) = setup_marketo(&fake, &[]);
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
    let created = fake.field_creations();
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

    let (code, stdout, stderr) = setup_marketo(&fake, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("exists    lead field attentionScore"),
        "{stdout}"
    );
    assert!(stdout.contains("0 created, 9 already there"), "{stdout}");
    assert_eq!(fake.field_creations().len(), 1);
}

#[test]
fn setup_crm_dry_run_prints_the_request_and_changes_nothing() {
    let fake = FakeMarketo::start_without_custom_fields();
    fake.add_field("attentionScore", "integer");
    let (code, stdout, stderr) = setup_marketo(&fake, &["--dry-run"]);
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
    assert!(fake.field_creations().is_empty());
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
    let (code, stdout, stderr) = setup_marketo(&fake, &[]);
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
    assert_eq!(fake.field_creations().len(), 1);
    assert!(fake.fields().iter().all(|f| !f.custom));
}

#[test]
fn setup_crm_reads_describe_when_the_schema_is_closed_to_the_api_user() {
    let fake = FakeMarketo::start_without_custom_fields();
    fake.refuse_schema_read();
    fake.refuse_schema_create();
    fake.add_field("attentionScore", "score");
    let (code, stdout, stderr) = setup_marketo(&fake, &[]);
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
        .any(|r| r.path == "/rest/v1/leads/describe.json" && fake_marketo::outcome(r) == "200"));
    assert!(
        fake.field_creations().is_empty(),
        "no attempt bound to fail"
    );
}
