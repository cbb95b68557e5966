//! Scores out to Salesforce: sign-in and a session that expires mid-run, records found
//! by email or by the id they came with, 200-record collections, per-record refusals,
//! 429/503, the daily API budget, and `setup-crm` through the binary.

use crate::fake_crm::{Answer, FakeCrm, Recorded};
use crate::fake_salesforce::*;
use crate::harness::*;
use crate::sink_scenarios::*;
use base64::Engine;
use std::time::Duration;

impl CrmUnderTest for FakeSalesforce {
    type Crm = Salesforce;
    const SINK: &'static str = "salesforce";

    fn fake(&self) -> &FakeCrm<Salesforce> {
        self
    }

    fn config(&self, delivery: &str) -> String {
        format!(
            r#"
[sinks.salesforce]
kind = "salesforce"
instance_url = "{}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
{delivery}
"#,
            self.base
        )
    }

    /// A Contact, found by email and written by its record id.
    fn someone(&self, n: usize) -> Person {
        let email = format!("p{n}@example.com");
        Person::with_email(&email, &self.add("Contact", &email))
    }

    fn written(&self, person: &Person) -> Option<Fields> {
        self.record(&person.key)
    }

    fn writes(&self) -> Vec<Recorded> {
        FakeSalesforce::writes(self)
    }

    fn keys_in(&self, write: &Recorded) -> Vec<String> {
        write.body["records"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|record| record["id"].as_str().map(str::to_string))
            .collect()
    }
}

#[tokio::test]
async fn a_rep_sees_the_score_on_the_contact_found_by_email() {
    let fake = FakeSalesforce::start();
    let id = fake.add("Contact", "rep@example.com");
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 200\nmax_attempts = 5"));
    daemon.touch("Rep@Example.com", "meeting_booked").await;
    fake.wait_for("rep written", |f| f.record(&id).is_some())
        .await;

    let written = fake.record(&id).unwrap();
    let view = daemon.contact("rep@example.com").await.unwrap();
    assert_eq!(written["Attention_Score__c"], view["score"]);
    assert!(written["Attention_Score__c"].is_number());
    assert_eq!(written["Attention_Trend__c"], "rising");
    let reasons = reasons(&view);
    assert_eq!(reasons[0], "meeting booked today");
    assert_eq!(written["Attention_Reasons__c"], reasons.join("; "));
    assert_eq!(written["Attention_Last_Touch_At__c"], view["last_touch_at"]);
    assert_eq!(
        written["Attention_Qualification_Stage__c"],
        view["qualification_stage"]
    );
    assert_eq!(
        written["Attention_Stage_Changed_At__c"],
        view["stage_changed_at"]
    );
    assert_eq!(written["Attention_Matrix__c"], view["attention_matrix"]);

    let forms = fake.token_forms();
    assert_eq!(forms.len(), 1);
    assert_eq!(forms[0]["grant_type"], "client_credentials");
    assert_eq!(forms[0]["client_id"], CLIENT_ID);
    assert_eq!(forms[0]["client_secret"], CLIENT_SECRET);

    let requests = fake.requests();
    let lookup = requests
        .iter()
        .find(|r| r.path == "/services/data/v61.0/query")
        .expect("a SOQL lookup");
    assert_eq!(
        lookup.query_param("q").as_deref(),
        Some("SELECT Id, Email FROM Contact WHERE Email IN ('rep@example.com') ORDER BY LastModifiedDate DESC")
    );
    let write = &fake.writes()[0];
    assert_eq!(write.path, "/services/data/v61.0/composite/sobjects");
    assert!(write
        .authorization()
        .is_some_and(|a| a.starts_with("Bearer 00D5e000000KQ2e!")));
    assert_eq!(write.body["allOrNone"], false);
    assert_eq!(
        write.body["records"][0]["attributes"],
        serde_json::json!({"type": "Contact"})
    );
    assert_eq!(write.body["records"][0]["id"], id);
}

#[tokio::test]
async fn a_lead_is_written_when_no_contact_has_the_email() {
    let fake = FakeSalesforce::start();
    let converted = fake.add("Lead", "lead@example.com");
    fake.convert(&converted);
    let open = fake.add("Lead", "lead@example.com");
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 200\nmax_attempts = 5"));
    daemon.touch("lead@example.com", "form_submit").await;
    fake.wait_for("lead written", |f| f.record(&open).is_some())
        .await;
    assert!(fake.record(&converted).is_none());
    let soql = fake.soql();
    assert!(
        soql[0].starts_with("SELECT Id, Email FROM Contact "),
        "{soql:?}"
    );
    assert!(
        soql[1].starts_with("SELECT Id, Email FROM Lead ")
            && soql[1].contains("IsConverted = false"),
        "{soql:?}"
    );
    assert_eq!(
        fake.writes()[0].body["records"][0]["attributes"]["type"],
        "Lead"
    );
}

#[tokio::test]
async fn an_expired_session_signs_in_again_and_nothing_is_lost() {
    let fake = FakeSalesforce::start();
    let daemon = an_expired_sign_in_is_renewed_and_the_call_sent_again(
        &fake,
        FakeSalesforce::expire_sessions,
        "401",
    )
    .await;
    assert_eq!(fake.token_forms().len(), 2);
    // Resent within the same attempt: the loop saw no failure.
    let metrics = daemon.metrics().await;
    assert!(!metrics.contains(r#"status="401""#), "{metrics}");
}

#[tokio::test]
async fn four_hundred_fifty_changes_go_in_three_collection_calls() {
    let fake = FakeSalesforce::start();
    // Sign-in is unavailable at first: the records wait for it, none lost or split
    // differently.
    fake.token_unavailable(2);
    let daemon = a_large_change_goes_in_full_calls(&fake, 200).await;
    assert_eq!(fake.token_forms().len(), 3);
    // 100 emails per lookup, all found among Contacts: no Lead query.
    let lookups = fake.soql();
    assert_eq!(lookups.len(), 5, "{lookups:?}");
    assert!(lookups.iter().all(|q| q.contains("FROM Contact")));
    drop(daemon);
}

#[tokio::test]
async fn records_salesforce_refuses_are_parked_with_its_message_and_the_others_written() {
    let fake = FakeSalesforce::start();
    let guarded = Person::with_email(
        "guarded@example.com",
        &fake.add("Contact", "guarded@example.com"),
    );
    let deleted = Person::with_email(
        "deleted@example.com",
        &fake.add("Contact", "deleted@example.com"),
    );
    fake.refuse(
        &guarded.key,
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "Attention fields are locked while the contact is in a nurture program",
        &["Attention_Score__c"],
    );
    fake.refuse(&deleted.key, "ENTITY_IS_DELETED", "entity is deleted", &[]);
    a_refused_record_is_parked_without_holding_back_others(
        &fake,
        &[
            Refused {
                person: guarded,
                error: "FIELD_CUSTOM_VALIDATION_EXCEPTION: Attention fields are locked while the contact is in a nurture program (Attention_Score__c)".into(),
                sent_each_attempt: true,
            },
            Refused {
                person: deleted,
                error: "ENTITY_IS_DELETED: entity is deleted".into(),
                sent_each_attempt: true,
            },
            // No Contact or Lead has the email: nothing to send it to.
            Refused {
                person: Person::by_email("stranger@example.com"),
                error: "no Contact or Lead with email stranger@example.com".into(),
                sent_each_attempt: false,
            },
        ],
    )
    .await;
    // A refused record is looked up again before its next attempt: it may have been
    // merged or recreated meanwhile.
    let deleted_lookups = fake
        .soql()
        .iter()
        .filter(|q| q.contains("'deleted@example.com'"))
        .count();
    assert!(deleted_lookups >= 2, "{deleted_lookups}");
}

#[tokio::test]
async fn unmatched_contacts_can_be_skipped_quietly() {
    let fake = FakeSalesforce::start();
    let known = fake.add("Contact", "known@example.com");
    let daemon = Daemon::start(
        &fake.config("flush_interval_ms = 200\nmax_attempts = 1\nunmatched = \"skip\""),
    );
    daemon.touch("nobody@example.com", "form_submit").await;
    daemon.touch("known@example.com", "form_submit").await;
    fake.wait_for("known written", |f| f.record(&known).is_some())
        .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(daemon.dead_letters().await.is_empty());
    assert!(fake
        .writes()
        .iter()
        .all(|w| !w.body.to_string().contains("nobody")));
}

#[tokio::test]
async fn a_429_and_a_503_are_waited_out_and_cost_no_attempt() {
    failed_calls_are_sent_again_as_the_crm_asks(
        &FakeSalesforce::start(),
        &[
            Answer::new(
                429,
                &[("Retry-After", "2")],
                serde_json::json!([{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
            ),
            Answer::new(
                503,
                &[("Retry-After", "1")],
                serde_json::json!([{"message": "Server is temporarily unavailable", "errorCode": "SERVER_UNAVAILABLE"}]),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn near_the_daily_api_limit_the_sink_spreads_its_calls() {
    let fake = FakeSalesforce::start();
    let first = fake.add("Contact", "first@example.com");
    let second = fake.add("Contact", "second@example.com");
    // 90.25 % used and 43,200 calls left: one call per 24 h / 43,200 = 2 s.
    fake.set_usage(400_000, 443_200);
    let daemon =
        Daemon::start(&fake.config("flush_interval_ms = 100\nmax_attempts = 5\nconcurrency = 1"));
    daemon.touch("first@example.com", "form_submit").await;
    fake.wait_for("first written", |f| f.record(&first).is_some())
        .await;
    daemon.touch("second@example.com", "form_submit").await;
    fake.wait_for("second written", |f| f.record(&second).is_some())
        .await;
    let requests = fake.requests();
    let first_write = requests.iter().position(|r| r.method == "PATCH").unwrap();
    let next = &requests[first_write + 1];
    let gap = next.at - requests[first_write].at;
    assert!(
        gap >= Duration::from_millis(1900),
        "next call after {gap:?}: {:?}",
        next.path
    );
}

#[tokio::test]
async fn a_contact_from_salesforce_is_written_by_its_id_without_a_lookup() {
    let fake = FakeSalesforce::start();
    let lead_id = "00Q5e00000AnnLdEAJ";
    fake.add_with_id("Lead", lead_id, "ann@x.com");
    let extra = format!(
        "{}\n[sources.salesforce]\nkind = \"salesforce\"\norganization_id = \"00D5e000000KQ2e\"\ntoken = \"outbound-token\"\n",
        fake.config("flush_interval_ms = 100\nmax_attempts = 5")
    );
    let daemon = Daemon::start(&extra);
    let lead = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D5e000000KQ2eEAG</OrganizationId>
   <ActionId>04k5e000000CaRkAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/59.0/00D5e000000KQ2e</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/59.0/00D5e000000KQ2e</PartnerUrl>
   <Notification>
    <Id>04l5e00000Ann01AAJ</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>{lead_id}</sf:Id>
     <sf:Email>ann@x.com</sf:Email>
     <sf:LastModifiedDate>{}</sf:LastModifiedDate>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#,
        now_rfc3339()
    );
    let acked = daemon
        .client
        .post(format!(
            "{}/webhooks/salesforce?token=outbound-token",
            daemon.base
        ))
        .header("content-type", "text/xml; charset=utf-8")
        .header("SOAPAction", "\"\"")
        .body(lead)
        .send()
        .await
        .unwrap();
    assert_eq!(acked.status(), 200);
    daemon.touch("ann@x.com", "pricing_view").await;
    fake.wait_for("lead written", |f| f.record(lead_id).is_some())
        .await;
    assert!(fake.soql().is_empty(), "{:?}", fake.soql());
    assert_eq!(
        fake.writes()[0].body["records"][0]["attributes"]["type"],
        "Lead"
    );
}

/// The PEM's key, as the fake's public key to verify assertions with.
fn public_key(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    use ring::signature::KeyPair;
    key.public_key().as_ref().to_vec()
}

#[tokio::test]
async fn the_jwt_bearer_flow_signs_in_with_the_private_key() {
    const KEY: &str = include_str!("keys/salesforce_jwt_test.pem");
    let fake = FakeSalesforce::start();
    fake.expect_jwt_signed_by(&public_key(KEY));
    let id = fake.add("Contact", "jwt@example.com");
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("salesforce.key");
    std::fs::write(&key_path, KEY).unwrap();
    let config = format!(
        r#"
[sinks.salesforce]
kind = "salesforce"
instance_url = "{base}"
auth = "jwt"
client_id = "{CLIENT_ID}"
username = "{USERNAME}"
private_key_file = "{}"
login_url = "{base}"
flush_interval_ms = 100
"#,
        key_path.display(),
        base = fake.base
    );
    let daemon = Daemon::start(&config);
    daemon.touch("jwt@example.com", "form_submit").await;
    fake.wait_for("written with a JWT-issued token", |f| {
        f.record(&id).is_some()
    })
    .await;
    let forms = fake.token_forms();
    assert_eq!(
        forms[0]["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    assert_eq!(forms[0]["assertion"].split('.').count(), 3);
    assert!(!forms[0].contains_key("client_secret"));
}

#[test]
fn setup_crm_creates_the_fields_once_and_says_who_must_be_granted_them() {
    let fake = FakeSalesforce::start();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &fake.config("flush_interval_ms = 1000\nmax_attempts = 5"),
    );
    let tooling = format!(
        "{}/services/data/v61.0/tooling/sobjects/CustomField",
        fake.base
    );

    let (code, stdout, stderr) = setup_crm(&path, "salesforce", &["--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout
            .matches(&format!("would send POST {tooling}"))
            .count(),
        22,
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""FullName":"Lead.Attention_Trend__c""#),
        "{stdout}"
    );
    assert!(stdout.contains(r#""type":"Picklist""#), "{stdout}");
    assert!(stdout.contains("dry run: nothing was changed"), "{stdout}");
    assert!(fake.custom_fields().is_empty());
    assert!(!stdout.contains(CLIENT_SECRET) && !stderr.contains(CLIENT_SECRET));

    let (code, stdout, stderr) = setup_crm(&path, "salesforce", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("22 created, 0 already there"), "{stdout}");
    let fields = fake.custom_fields();
    for expected in [
        "Contact.Attention_Score__c",
        "Contact.Attention_Last_Touch_At__c",
        "Lead.Attention_Reasons__c",
        "Account.Attention_People_Engaged__c",
    ] {
        assert!(fields.contains(&expected.to_string()), "{fields:?}");
    }
    assert!(
        stdout.contains(&format!("{USERNAME} (profile \"{PROFILE}\")"))
            && stdout.contains("Setup → Object Manager → Contact → Fields & Relationships → <field> → Set Field-Level Security"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("BY HAND").count(), 3, "{stdout}");

    let creates_before = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/CustomField"))
        .count();
    let (code, stdout, stderr) = setup_crm(&path, "salesforce", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("0 created, 22 already there"), "{stdout}");
    let creates_after = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/CustomField"))
        .count();
    assert_eq!(creates_before, creates_after);
    assert_eq!(fake.custom_fields().len(), 22);

    fake.grant_field_security();
    let (code, stdout, _) = setup_crm(&path, "salesforce", &[]);
    assert_eq!(code, 0);
    assert!(!stdout.contains("BY HAND"), "{stdout}");
    assert!(stdout.contains("can write every field"), "{stdout}");
}

#[test]
fn setup_crm_says_when_the_credentials_are_refused() {
    let fake = FakeSalesforce::start();
    let dir = tempfile::tempdir().unwrap();
    let config = fake
        .config("flush_interval_ms = 1000\nmax_attempts = 5")
        .replace(CLIENT_SECRET, "wrong-secret");
    let path = write_config(dir.path(), &config);
    let (code, _, stderr) = setup_crm(&path, "salesforce", &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("invalid_client: invalid client credentials"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-secret"), "{stderr}");
    assert!(fake.custom_fields().is_empty());
}

#[tokio::test]
async fn the_buying_group_is_written_to_the_salesforce_account() {
    let fake = FakeSalesforce::start();
    let account = "0015e000001AcmeQAA";
    fake.add_with_id("Account", account, "");
    let people = [
        ("cto@acme.io", "CTO"),
        ("buyer@acme.io", "Procurement Manager"),
    ];
    let mut ids = Vec::new();
    for (email, _) in &people {
        ids.push(fake.add("Contact", email));
    }
    let daemon = Daemon::start(&fake.config("flush_interval_ms = 200\nmax_attempts = 5"));
    for (i, (email, title)) in people.iter().enumerate() {
        let profile = serde_json::json!({"type": "profile", "data": {"email": email,
            "account": format!("salesforce:{account}"), "fields": {"title": title, "company": "Acme"}}});
        assert_eq!(
            daemon
                .post_site(&format!("ap{i}"), &profile.to_string())
                .await
                .status(),
            200
        );
        daemon.touch(email, "demo_request").await;
    }
    fake.wait_for("the account written", |f| {
        f.record(account)
            .is_some_and(|r| r["Attention_People_Engaged__c"] == 2)
    })
    .await;
    let written = fake.record(account).unwrap();
    let view = daemon.account(&format!("salesforce:{account}")).await;
    assert_eq!(written["Attention_Score__c"], view["score"]);
    assert!(written["Attention_Score__c"].is_number());
    assert_eq!(written["Attention_Trend__c"], "rising");
    assert!(written["Attention_Reasons__c"]
        .as_str()
        .unwrap()
        .starts_with("2 people from Acme engaged this week"));
    let account_calls: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .filter(|r| r.body["records"][0]["attributes"]["type"] == "Account")
        .collect();
    assert!(!account_calls.is_empty());
    assert_eq!(account_calls[0].body["records"][0]["id"], account);
    for id in &ids {
        assert!(fake.record(id).is_some(), "the people are written too");
    }
}
