//! Scores out to HubSpot: the fields reps see on contacts and companies, latest wins,
//! 429/5xx, records HubSpot refuses, restarts while it is down, erased contacts, and
//! `setup-crm` through the binary.

use crate::fake_crm::{Answer, FakeCrm, Recorded};
use crate::fake_hubspot::{FakeHubspot, Hubspot, TOKEN};
use crate::harness::*;
use crate::sink_scenarios::*;
use std::time::Duration;

impl CrmUnderTest for FakeHubspot {
    type Crm = Hubspot;
    const SINK: &'static str = "hubspot";

    fn fake(&self) -> &FakeCrm<Hubspot> {
        self
    }

    fn config(&self, delivery: &str) -> String {
        format!(
            r#"
[sinks.hubspot]
kind = "hubspot"
base_url = "{}"
access_token = "{TOKEN}"
{delivery}
"#,
            self.base
        )
    }

    /// HubSpot writes contacts by email; it knows everyone it is not told to forget.
    fn someone(&self, n: usize) -> Person {
        let email = format!("p{n}@example.com");
        Person::by_email(&email)
    }

    fn written(&self, person: &Person) -> Option<Fields> {
        self.contact(&person.key)
    }

    fn writes(&self) -> Vec<Recorded> {
        self.batches()
    }

    fn keys_in(&self, write: &Recorded) -> Vec<String> {
        write.body["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|input| input["id"].as_str().map(str::to_string))
            .collect()
    }
}

#[tokio::test]
async fn a_rep_sees_the_score_on_the_hubspot_contact() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 200\nmax_attempts = 5"));
    daemon.touch("rep@example.com", "meeting_booked").await;
    fake.wait_for("rep@example.com written", |f| {
        f.contact("rep@example.com").is_some()
    })
    .await;
    let written = fake.contact("rep@example.com").unwrap();
    let view = daemon.contact("rep@example.com").await.unwrap();
    assert_eq!(written["attention_score"], view["score"].to_string());
    assert_eq!(written["attention_trend"], "rising");
    // Attention first, then the stage the meeting brought the contact to.
    let stage = view["qualification_stage"].as_str().unwrap();
    assert_eq!(stage, "mql");
    // In words: "MQL since 3 Dec", not `mql since 2026-12-03`.
    let since = chrono::DateTime::parse_from_rfc3339(view["stage_changed_at"].as_str().unwrap())
        .unwrap()
        .format("%-d %b");
    assert_eq!(
        written["attention_reasons"],
        format!("meeting booked today; MQL since {since}")
    );
    assert_eq!(written["attention_last_touch_at"], view["last_touch_at"]);
    assert_eq!(written["attention_qualification_stage"], stage);
    assert_eq!(
        written["attention_stage_changed_at"],
        view["stage_changed_at"]
    );
    assert_eq!(written["attention_matrix"], view["attention_matrix"]);
    assert_eq!(written["attention_fit_grade"], view["fit_grade"]);
    let request = &fake.batches()[0];
    assert_eq!(
        request.authorization(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(request.body["inputs"][0]["idProperty"], "email");
}

#[tokio::test]
async fn five_hundred_touches_in_one_interval_become_one_input() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 4000\nmax_attempts = 5"));
    let sends: Vec<_> = (0..500)
        .map(|i| {
            let body = touch_body(
                "busy@example.com",
                if i % 2 == 0 {
                    "page_view"
                } else {
                    "email_click"
                },
                &now_rfc3339(),
            );
            let daemon = &daemon;
            async move {
                daemon
                    .post_site(&format!("busy-{i}"), &body)
                    .await
                    .status()
                    .as_u16()
            }
        })
        .collect();
    let statuses = futures_util::future::join_all(sends).await;
    assert!(statuses.iter().all(|s| *s == 200));
    daemon.drained().await;
    let view = daemon.contact("busy@example.com").await.unwrap();
    assert_eq!(view["touch_count"], 500);
    fake.wait_for("busy@example.com written", |f| {
        f.contact("busy@example.com").is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fake.sent(&Person::by_email("busy@example.com")),
        1,
        "{:?}",
        fake.batches()
    );
    assert_eq!(
        fake.contact("busy@example.com").unwrap()["attention_score"],
        view["score"].to_string()
    );
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_says() {
    failed_calls_are_sent_again_as_the_crm_asks(
        &FakeHubspot::start(),
        // HubSpot's 429 body (developers.hubspot.com/docs/api/usage-details).
        &[Answer::new(
            429,
            &[("Retry-After", "2")],
            serde_json::json!({"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT", "correlationId": "c-1", "policyName": "TEN_SECONDLY_ROLLING", "requestId": "r-1"}),
        )],
    )
    .await;
}

#[tokio::test]
async fn server_errors_are_retried_until_hubspot_recovers() {
    let internal_error = Answer::json(
        500,
        serde_json::json!({"status": "error", "message": "internal error", "correlationId": "c-2", "category": "INTERNAL_ERROR"}),
    );
    failed_calls_are_sent_again_as_the_crm_asks(
        &FakeHubspot::start(),
        &[internal_error.clone(), internal_error],
    )
    .await;
}

#[tokio::test]
async fn a_record_hubspot_refuses_is_parked_without_holding_back_others() {
    let fake = FakeHubspot::start();
    let unknown = Person::by_email("unknown@example.com");
    fake.forget(&unknown.key);
    let daemon = a_refused_record_is_parked_without_holding_back_others(
        &fake,
        &[Refused {
            person: unknown.clone(),
            error: "OBJECT_NOT_FOUND: Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.".into(),
            sent_each_attempt: true,
        }],
    )
    .await;
    // HubSpot refuses one input of a batch in a 207 and writes the others.
    assert!(fake.batches().iter().any(|r| r.answered == 207));
    let letter = daemon.dead_letters().await.remove(0);
    assert!(
        letter["fields"]["last_touch_at"]
            .as_str()
            .unwrap()
            .ends_with('Z'),
        "{letter}"
    );

    // The same record failing again replaces its dead letter instead of adding one.
    daemon.touch(unknown.email(), "meeting_booked").await;
    fake.wait_for("unknown@example.com tried again", |f| f.sent(&unknown) >= 4)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = daemon.dead_letters().await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["id"], letter["id"]);
    // All three people are at example.com: the account line comes first, then theirs.
    let reasons = again[0]["fields"]["reasons"].as_array().unwrap();
    assert_eq!(reasons[0], "3 people from example.com engaged this week");
    assert!(
        reasons[1].as_str().unwrap().contains("meeting booked"),
        "{again:?}"
    );

    let id = letter["id"].as_str().unwrap();
    let deleted = daemon
        .client
        .delete(format!("{}/api/v1/dead-letters/{id}", daemon.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(daemon.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_dead_letter_can_be_retried_once_the_crm_is_fixed() {
    let fake = FakeHubspot::start();
    fake.script(Answer::json(400, serde_json::json!({"status": "error", "message": "Property values were not valid: attention_score does not exist", "correlationId": "c-3", "category": "VALIDATION_ERROR"})));
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 100\nmax_attempts = 1"));
    daemon.touch("fixme@example.com", "form_submit").await;
    let letters = daemon.wait_dead_letters().await;
    assert!(letters[0]["error"]
        .as_str()
        .unwrap()
        .contains("attention_score does not exist"));
    let retried = daemon
        .client
        .post(format!("{}/api/v1/dead-letters/retry", daemon.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    fake.wait_for("fixme@example.com written", |f| {
        f.contact("fixme@example.com").is_some()
    })
    .await;
}

#[tokio::test]
async fn a_batch_refused_whole_is_retried_record_by_record() {
    a_call_refused_whole_is_retried_record_by_record(
        &FakeHubspot::start(),
        Answer::json(
            400,
            serde_json::json!({"status": "error", "message": "Invalid input", "correlationId": "c-4", "category": "VALIDATION_ERROR"}),
        ),
    )
    .await;
}

#[tokio::test]
async fn large_changes_go_in_batches_of_at_most_one_hundred() {
    a_large_change_goes_in_full_calls(&FakeHubspot::start(), 100).await;
}

#[tokio::test]
async fn queued_scores_survive_a_restart_while_hubspot_is_down() {
    let fake = FakeHubspot::start();
    fake.outage_for(Duration::from_secs(600));
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 100\nmax_attempts = 5"));
    daemon.touch("outage@example.com", "form_submit").await;
    fake.wait_for("a failed attempt", |f| !f.batches().is_empty())
        .await;
    let dir = daemon.stop();
    let recovered = FakeHubspot::start();
    let daemon = Daemon::start_in(
        dir,
        &recovered.config("flush_interval_ms = 100\nmax_attempts = 5"),
    );
    recovered
        .wait_for("outage@example.com written after restart", |f| {
            f.contact("outage@example.com").is_some()
        })
        .await;
    assert!(fake.contact("outage@example.com").is_none());
    drop(daemon);
}

#[tokio::test]
async fn fading_through_decay_alone_reaches_hubspot() {
    let fake = FakeHubspot::start();
    let extra = format!(
        "{}\n[scoring]\nrefresh_interval_secs = 1\n",
        fake.config("flush_interval_ms = 100\nmax_attempts = 5")
    );
    let daemon = Daemon::start(&extra);
    // Happened 23:59:57 ago: "today" now, "1d ago" in three seconds, with no new touch.
    let almost_a_day = (chrono::Utc::now() - chrono::Duration::seconds(86_400 - 3)).to_rfc3339();
    daemon
        .post_site(
            "f1",
            &touch_body("fading@example.com", "form_submit", &almost_a_day),
        )
        .await;
    fake.wait_for("first push", |f| f.contact("fading@example.com").is_some())
        .await;
    let reasons = |f: &FakeHubspot| {
        f.contact("fading@example.com")
            .and_then(|c| c["attention_reasons"].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    assert!(
        reasons(&fake).starts_with("form submit today; "),
        "{}",
        reasons(&fake)
    );
    fake.wait_for("refreshed push", |f| {
        reasons(f).starts_with("form submit 1d ago; ")
    })
    .await;
    assert_eq!(fake.sent(&Person::by_email("fading@example.com")), 2);
    assert_eq!(
        daemon.contact("fading@example.com").await.unwrap()["touch_count"],
        1
    );
}

#[tokio::test]
async fn nothing_about_an_erased_contact_is_pushed_again() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 100\nmax_attempts = 5"));
    let uri = format!("{}/webhooks/hubspot", daemon.base);
    let send = |event_id: u64, subscription: &str, extra: serde_json::Value| {
        let mut event = serde_json::json!({"eventId": event_id, "subscriptionId": 1, "portalId": 1, "appId": 1,
            "occurredAt": chrono::Utc::now().timestamp_millis(), "subscriptionType": subscription,
            "attemptNumber": 0, "objectId": 7001, "changeSource": "CRM"});
        event
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        let body = serde_json::json!([event]).to_string();
        let headers = sign_hubspot_v3(
            HUBSPOT_SECRET,
            "POST",
            &uri,
            &body,
            chrono::Utc::now().timestamp_millis(),
        );
        let daemon = &daemon;
        async move {
            daemon
                .post("/webhooks/hubspot", &headers, &body)
                .await
                .status()
                .as_u16()
        }
    };
    let erased = Person {
        identity: "hubspot:7001".into(),
        key: "7001".into(),
    };
    let now_ms = chrono::Utc::now().timestamp_millis().to_string();
    assert_eq!(
        send(
            1,
            "contact.propertyChange",
            serde_json::json!({"propertyName": "recent_conversion_date", "propertyValue": now_ms})
        )
        .await,
        200
    );
    fake.wait_for("pushed once", |f| f.contact("7001").is_some())
        .await;
    let before = fake.sent(&erased);
    assert_eq!(
        send(2, "contact.privacyDeletion", serde_json::json!({})).await,
        200
    );
    assert_eq!(
        send(
            3,
            "contact.propertyChange",
            serde_json::json!({"propertyName": "hs_email_last_click_date", "propertyValue": now_ms})
        )
        .await,
        200
    );
    daemon.drained().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.sent(&erased), before);
    assert!(daemon.contact("hubspot:7001").await.is_none());
}

fn profile_body(email: &str, account: &str, fields: serde_json::Value) -> String {
    serde_json::json!({"type": "profile", "data": {"email": email, "account": account, "fields": fields}})
        .to_string()
}

fn touch_at_account(email: &str, kind: &str, account: &str) -> String {
    serde_json::json!({"type": "touch", "data": {
        "email": email, "kind": kind, "occurred_at": now_rfc3339(), "account": account}})
    .to_string()
}

#[tokio::test]
async fn company_records_get_the_account_fields() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 100"));
    let account = "hubspot-company:4242";
    for (i, (email, title)) in [
        ("cto@acme.io", "CTO"),
        ("dev@acme.io", "Senior Engineer"),
        ("buyer@acme.io", "Procurement Manager"),
    ]
    .iter()
    .enumerate()
    {
        daemon
            .post_site(
                &format!("p-{i}"),
                &profile_body(
                    email,
                    account,
                    serde_json::json!({"title": title, "company": "Acme"}),
                ),
            )
            .await;
        daemon
            .post_site(
                &format!("t-{i}"),
                &touch_at_account(email, "webinar_attended", account),
            )
            .await;
    }
    daemon.drained().await;
    let view = daemon.account(account).await;
    assert_eq!(view["people_engaged"], 3);
    assert_eq!(view["members"].as_array().unwrap().len(), 3);
    fake.wait_for("company 4242 written", |f| {
        f.company("4242")
            .is_some_and(|c| c["attention_people_engaged"] == "3")
    })
    .await;
    let company = fake.company("4242").unwrap();
    assert_eq!(company["attention_score"], view["score"].to_string());
    assert_eq!(company["attention_trend"], "rising");
    assert!(
        company["attention_reasons"]
            .as_str()
            .unwrap()
            .starts_with("3 people from Acme engaged this week"),
        "{company:?}"
    );
    let call = fake
        .batches()
        .into_iter()
        .find(|r| r.path == "/crm/v3/objects/companies/batch/update")
        .expect("a companies batch call");
    assert_eq!(call.body["inputs"][0]["id"], "4242");
    assert!(call.body["inputs"][0].get("idProperty").is_none());
    // People whose account is a domain are not HubSpot companies: no call names them.
    assert!(fake
        .batches()
        .iter()
        .filter(|r| r.path.contains("companies"))
        .all(|r| r.body["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|input| input["id"] == "4242")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_crm_creates_the_hubspot_properties_once() {
    let fake = FakeHubspot::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fake.config("flush_interval_ms = 100"));

    let (code, stdout, stderr) = setup_crm(&config, "hubspot", &["--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("would send POST") && stdout.contains("/crm/v3/properties/contacts"),
        "{stdout}"
    );
    assert!(stdout.contains(r#""name":"attention_score""#), "{stdout}");
    assert!(
        fake.property_names().is_empty(),
        "a dry run changes nothing"
    );

    let (code, stdout, stderr) = setup_crm(&config, "hubspot", &[]);
    assert_eq!(code, 0, "{stderr}");
    let created = fake.property_names();
    assert!(created.contains(&"contacts/attention_score".to_string()));
    assert!(created.contains(&"contacts/attention_qualification_stage".to_string()));
    assert!(created.contains(&"contacts/attention_stage_changed_at".to_string()));
    assert!(created.contains(&"companies/attention_people_engaged".to_string()));
    let contact_fields = created
        .iter()
        .filter(|n| n.starts_with("contacts/"))
        .count();
    let company_fields = created
        .iter()
        .filter(|n| n.starts_with("companies/"))
        .count();
    assert_eq!((contact_fields, company_fields), (9, 4), "{created:?}");
    assert!(
        stdout.contains(&format!("{} created, 0 already there", 9 + 4 + 2)),
        "{stdout}"
    );

    let (code, stdout, stderr) = setup_crm(&config, "hubspot", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("0 created, {} already there", 9 + 4 + 2)),
        "{stdout}"
    );
    let posts = fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/crm/v3/properties") && !r.body.is_null())
        .count();
    assert_eq!(posts, 9 + 4 + 2, "the second run posted nothing");

    let (code, _, stderr) = setup_crm(&config, "nosuch", &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no sink `nosuch`") && stderr.contains("hubspot"),
        "{stderr}"
    );
}

/// Only `score` and `trend` are written here. A touch that moves neither (a kind
/// weighted 0) changes what the pipeline holds, but HubSpot holds those two values
/// already: nothing is written again. A touch that moves the score is written.
#[tokio::test]
async fn a_record_whose_written_values_did_not_change_is_not_written_again() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&format!(
        "{}\n[sinks.hubspot.fields]\nreasons = \"\"\nlast_touch_at = \"\"\nqualification_stage = \"\"\nstage_changed_at = \"\"\nfit_grade = \"\"\nmatrix = \"\"\nvelocity = \"\"\n\n[scoring.weights]\npage_view = 0.0\n",
        fake.config("flush_interval_ms = 100")
    ));
    let writes_of = |fake: &FakeHubspot| {
        fake.batches()
            .iter()
            .filter(|write| write.path.contains("/objects/contacts/batch/update"))
            .count()
    };
    let earlier = touch_body("same@example.com", "form_submit", &rfc3339_from_now(-120));
    assert_eq!(daemon.post_site("same-1", &earlier).await.status(), 200);
    let first = daemon
        .wait_contact("same@example.com", |view| view["touch_count"] == 1)
        .await;
    wait_until(|| fake.contact("same@example.com").is_some()).await;
    assert_eq!(writes_of(&fake), 1);

    daemon.touch("same@example.com", "page_view").await;
    let second = daemon
        .wait_contact("same@example.com", |view| view["touch_count"] == 2)
        .await;
    assert_eq!(second["score"], first["score"]);
    assert_ne!(
        second["last_touch_at"], first["last_touch_at"],
        "the pipeline saw a change"
    );
    // Long enough for several push rounds at 100 ms.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(writes_of(&fake), 1, "unchanged values were written again");
    assert!(daemon
        .metrics()
        .await
        .contains("attentiond_outbox_pending{sink=\"hubspot\"} 0"));

    daemon.touch("same@example.com", "demo_request").await;
    daemon
        .wait_contact("same@example.com", |view| view["touch_count"] == 3)
        .await;
    wait_until(|| writes_of(&fake) == 2).await;
    let written = fake.contact("same@example.com").unwrap();
    let view = daemon.contact("same@example.com").await.unwrap();
    assert_eq!(written["attention_score"], view["score"].to_string());
}

async fn wait_until(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "never happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
