//! HubSpot deals linked to who engaged: a deal webhook names only the deal, so its
//! contacts, company and amount are read from (a fake) HubSpot's CRM API, through
//! 429s and 5xx, and the deal's outcomes then live under its people and company.

use crate::fake_crm::Answer;
use crate::fake_hubspot::{Deal, FakeHubspot, TOKEN};
use crate::harness::*;
use crate::source_hubspot::{event, send};
use serde_json::json;

fn kinds(view: &serde_json::Value) -> Vec<String> {
    let mut kinds: Vec<String> = view["outcomes"]
        .as_array()
        .map(|outcomes| {
            outcomes
                .iter()
                .map(|o| o["kind"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    kinds.sort();
    kinds
}

#[tokio::test]
async fn a_deal_webhook_is_linked_to_its_contacts_and_company_through_the_crm_api() {
    let hubspot = FakeHubspot::start();
    let mut properties = serde_json::Map::new();
    properties.insert("amount".into(), json!("42000"));
    properties.insert("deal_currency_code".into(), json!("EUR"));
    properties.insert("dealstage".into(), json!("appointmentscheduled"));
    hubspot.add_deal(
        "9001",
        Deal {
            properties,
            contacts: vec![51, 52],
            companies: vec![(7, false), (100, true)],
        },
    );
    // The first read is rate limited, the next meets an outage of one answer.
    hubspot.script(Answer::new(
        429,
        &[("Retry-After", "1")],
        json!({"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT", "correlationId": "c0ffee00-0000-4000-8000-000000000429", "policyName": "SECONDLY"}),
    ));
    hubspot.script(Answer::json(
        503,
        json!({"status": "error", "message": "Service Unavailable", "correlationId": "c0ffee00-0000-4000-8000-000000000503", "category": "SERVICE_UNAVAILABLE"}),
    ));
    let daemon = Daemon::start(&format!(
        "access_token = \"{TOKEN}\"\napi_url = \"{}\"\nlookups_per_second = 20\n",
        hubspot.base
    ));
    // Ann engaged before the deal; she is HubSpot contact 51.
    let visit = event(
        7001,
        51,
        "contact.propertyChange",
        json!({"propertyName": "hs_analytics_last_visit_timestamp", "propertyValue": chrono::Utc::now().timestamp_millis().to_string()}),
    );
    let created = event(7002, 9001, "deal.creation", json!({"changeFlag": "NEW"}));
    assert_eq!(send(&daemon, &[visit, created]).await.status(), 200);

    let ann = daemon
        .wait_contact("hubspot:51", |v| kinds(v) == ["opportunity_created"])
        .await;
    assert_eq!(ann["outcomes"][0]["opportunity"], "hubspot-deal:9001");
    daemon
        .wait_contact("hubspot:52", |v| kinds(v) == ["opportunity_created"])
        .await;
    let company: serde_json::Value = daemon
        .client
        .get(format!(
            "{}/api/v1/outcomes?account=hubspot-company:100",
            daemon.base
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(kinds(&company), ["opportunity_created"]);

    let reads = hubspot.deal_reads();
    assert_eq!(reads[0].answered, 429);
    assert_eq!(reads[1].answered, 503);
    assert!(
        reads[1].at.duration_since(reads[0].at).as_millis() >= 1000,
        "Retry-After is obeyed"
    );
    let paths: Vec<&str> = reads[2..].iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/crm/v3/objects/deals/batch/read",
            "/crm/v4/associations/deals/contacts/batch/read",
            "/crm/v4/associations/deals/companies/batch/read"
        ]
    );
    assert_eq!(reads[2].body["inputs"], json!([{"id": "9001"}]));
    assert!(reads[2].body["properties"]
        .as_array()
        .unwrap()
        .contains(&json!("amount")));
    assert!(reads
        .iter()
        .all(|r| r.authorization() == Some(&format!("Bearer {TOKEN}"))));

    // A stage change is read again; the deal's people get it too.
    let won = event(
        7003,
        9001,
        "deal.propertyChange",
        json!({"propertyName": "dealstage", "propertyValue": "closedwon"}),
    );
    assert_eq!(send(&daemon, &[won]).await.status(), 200);
    daemon
        .wait_contact("hubspot:52", |v| kinds(v) == ["opportunity_created", "won"])
        .await;
    hubspot
        .wait_for("the deal read again after it was won", |h| {
            h.deal_reads().iter().filter(|r| r.answered == 200).count() >= 6
        })
        .await;
    // Nothing waits any more: no further reads.
    let settled = hubspot.deal_reads().len();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(hubspot.deal_reads().len(), settled);
}
