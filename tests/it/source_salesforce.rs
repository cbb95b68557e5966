//! Salesforce Outbound Messages in, as Salesforce sends them: a SOAP 1.1 POST to the
//! endpoint URL (which carries `?token=`), acknowledged with the `notificationsResponse`
//! envelope.
//!
//! The envelope follows the outbound messaging WSDL (developer.salesforce.com,
//! "Understanding the Outbound Messaging WSDL") as it appears in the Salesforce receiver
//! tests of aspnet/WebHooks (test/Microsoft.AspNetCore.WebHooks.FunctionalTest/Resources/
//! RequestBodies/Salesforce.xml and test/Microsoft.AspNet.WebHooks.Receivers.Salesforce.Test/
//! Messages/OutboundMessage1.xml); the org and action ids are those of Prismatic's example
//! payload (prismatic.io/docs/example-payloads/salesforce/triggers/webhook.json).

use crate::harness::*;

const ORG: &str = "00D5e000000KQ2eEAG";
const TOKEN: &str = "Zq7vR2-outbound-token";
const ACK: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#;

/// The org id in its 15-character form: the messages carry the 18-character one.
fn source_toml() -> String {
    format!(
        "[sources.salesforce]\nkind = \"salesforce\"\norganization_id = \"00D5e000000KQ2e\"\ntoken = \"{TOKEN}\"\n"
    )
}

fn message(org: &str, notifications: &[String]) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k5e000000CaRkAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/59.0/00D5e000000KQ2e</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/59.0/00D5e000000KQ2e</PartnerUrl>
{}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#,
        notifications.join("\n")
    )
}

fn notification(id: &str, kind: &str, fields: &str) -> String {
    format!(
        r#"   <Notification>
    <Id>{id}</Id>
    <sObject xsi:type="sf:{kind}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
{fields}
    </sObject>
   </Notification>"#
    )
}

/// The Lead of aspnet/WebHooks OutboundMessage1.xml (its first notification), with an
/// email address and a recent modification time.
fn lead(notification_id: &str, lead_id: &str, email: &str) -> String {
    let modified = now_rfc3339();
    notification(
        notification_id,
        "Lead",
        &format!(
            r#"     <sf:Id>{lead_id}</sf:Id>
     <sf:City>Redmond</sf:City>
     <sf:CleanStatus>Pending</sf:CleanStatus>
     <sf:Company>Microsoft</sf:Company>
     <sf:Country>USA</sf:Country>
     <sf:CreatedById>1123456789ABCDEAAW</sf:CreatedById>
     <sf:CreatedDate>2015-08-14T18:27:02.000Z</sf:CreatedDate>
     <sf:Description>Some notes...</sf:Description>
     <sf:Email>{email}</sf:Email>
     <sf:FirstName>Henrik</sf:FirstName>
     <sf:Industry>Technology</sf:Industry>
     <sf:IsConverted>false</sf:IsConverted>
     <sf:IsDeleted>false</sf:IsDeleted>
     <sf:LastModifiedDate>{modified}</sf:LastModifiedDate>
     <sf:LastName>Nielsen</sf:LastName>
     <sf:LeadSource>Web</sf:LeadSource>
     <sf:OwnerId>1123456789ABCDEAAW</sf:OwnerId>
     <sf:PostalCode>98052</sf:PostalCode>
     <sf:Salutation>Mr.</sf:Salutation>
     <sf:State>WA</sf:State>
     <sf:Status>Open - Not Contacted</sf:Status>
     <sf:Street>One Microsoft Way</sf:Street>
     <sf:Title>Architect</sf:Title>"#
        ),
    )
}

fn call_task(notification_id: &str, who_id: &str) -> String {
    notification(
        notification_id,
        "Task",
        &format!(
            r#"     <sf:Id>00T5e00000AbCdEEAV</sf:Id>
     <sf:WhoId>{who_id}</sf:WhoId>
     <sf:Type>Call</sf:Type>
     <sf:Subject>Call: pricing questions</sf:Subject>
     <sf:IsClosed>true</sf:IsClosed>
     <sf:CompletedDateTime>{}</sf:CompletedDateTime>"#,
            now_rfc3339()
        ),
    )
}

async fn send_to(daemon: &Daemon, query: &str, body: &str) -> reqwest::Response {
    daemon
        .client
        .post(format!("{}/webhooks/salesforce{query}", daemon.base))
        .header("content-type", "text/xml; charset=utf-8")
        .header("SOAPAction", "\"\"")
        .body(body.to_string())
        .send()
        .await
        .expect("daemon answers")
}

async fn send(daemon: &Daemon, body: &str) -> reqwest::Response {
    send_to(daemon, &format!("?token={TOKEN}"), body).await
}

/// Status, content type and body.
async fn answer(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, content_type, response.text().await.unwrap())
}

async fn assert_acked(response: reqwest::Response) {
    let (status, content_type, body) = answer(response).await;
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    assert_eq!(body, ACK);
}

async fn assert_fault(response: reqwest::Response, status: u16, needle: &str) {
    let (got, content_type, body) = answer(response).await;
    assert_eq!(got, status, "{body}");
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    assert!(
        body.starts_with("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>"),
        "{body}"
    );
    assert!(body.contains(needle), "{needle} not in {body}");
}

#[tokio::test]
async fn a_lead_becomes_a_profile_and_a_task_a_touch_counted_once() {
    let daemon = Daemon::start(&source_toml());
    let lead_id = "00Q5e00000Lead1EAB";
    let response = send(
        &daemon,
        &message(
            ORG,
            &[lead("04l5e00000Gx7QzAAJ", lead_id, "Henrik@Example.com")],
        ),
    )
    .await;
    assert_acked(response).await;
    let key = format!("salesforce:{lead_id}");
    let view = daemon
        .wait_contact(&key, |v| v["profile"]["first_name"]["value"] == "Henrik")
        .await;
    assert_eq!(view["crm_ids"], serde_json::json!({"salesforce": lead_id}));
    assert_eq!(view["emails"], serde_json::json!(["henrik@example.com"]));
    for (field, value) in [
        ("last_name", "Nielsen"),
        ("title", "Architect"),
        ("company", "Microsoft"),
        ("industry", "Technology"),
        ("country", "USA"),
        ("city", "Redmond"),
        ("lead_source", "Web"),
        ("status", "Open - Not Contacted"),
    ] {
        assert_eq!(view["profile"][field]["value"], value, "{field}: {view}");
        assert_eq!(view["profile"][field]["source"], "salesforce");
    }
    assert_eq!(view["touch_count"], 0);

    // A logged call on the lead (WhoId in its 15-character form).
    let task = message(ORG, &[call_task("04l5e00000Gx7R0AAJ", "00Q5e00000Lead1")]);
    assert_acked(send(&daemon, &task).await).await;
    let view = daemon.wait_contact(&key, |v| v["touch_count"] == 1).await;
    assert_eq!(view["touches"][0]["kind"], "call");
    assert_eq!(view["touches"][0]["source"], "salesforce");

    // Salesforce redelivers the same notification: acknowledged, counted once.
    assert_acked(send(&daemon, &task).await).await;
    // A message mixing the seen notification with a new one applies only the new one.
    let mixed = message(
        ORG,
        &[
            call_task("04l5e00000Gx7R0AAJ", "00Q5e00000Lead1"),
            call_task("04l5e00000Gx7R1AAJ", lead_id),
        ],
    );
    assert_acked(send(&daemon, &mixed).await).await;
    daemon.wait_contact(&key, |v| v["touch_count"] == 2).await;
    daemon.drained().await;
    assert_eq!(daemon.contact(&key).await.unwrap()["touch_count"], 2);
}

#[tokio::test]
async fn opportunities_become_outcomes_and_other_objects_are_acknowledged() {
    let daemon = Daemon::start(&source_toml());
    let contact = notification(
        "04l5e00000Gx7S0AAJ",
        "Contact",
        &format!(
            r#"     <sf:Id>003G000001SUbc4IAD</sf:Id>
     <sf:AccountId>0012800000CXn0kAAD</sf:AccountId>
     <sf:Email>buyer@acme.example</sf:Email>
     <sf:FirstName>Bea</sf:FirstName>
     <sf:LastModifiedDate>{}</sf:LastModifiedDate>"#,
            now_rfc3339()
        ),
    );
    let won = notification(
        "04l5e00000Gx7S1AAJ",
        "Opportunity",
        &format!(
            r#"     <sf:Id>0065e00000OppWnAAJ</sf:Id>
     <sf:AccountId>0012800000CXn0k</sf:AccountId>
     <sf:ContactId>003G000001SUbc4</sf:ContactId>
     <sf:Amount>15000.0</sf:Amount>
     <sf:CurrencyIsoCode>EUR</sf:CurrencyIsoCode>
     <sf:IsClosed>true</sf:IsClosed>
     <sf:IsWon>true</sf:IsWon>
     <sf:StageName>Closed Won</sf:StageName>
     <sf:CreatedDate>2024-01-10T09:00:00.000Z</sf:CreatedDate>
     <sf:LastModifiedDate>{}</sf:LastModifiedDate>"#,
            now_rfc3339()
        ),
    );
    assert_acked(send(&daemon, &message(ORG, &[contact, won])).await).await;
    let view = daemon
        .wait_contact("salesforce:003G000001SUbc4IAD", |v| {
            v["outcomes"].as_array().is_some_and(|o| !o.is_empty())
        })
        .await;
    assert_eq!(view["account"], "salesforce:0012800000CXn0kAAD");
    assert_eq!(view["emails"], serde_json::json!(["buyer@acme.example"]));
    let outcome = &view["outcomes"][0];
    assert_eq!(outcome["kind"], "won");
    assert_eq!(outcome["opportunity"], "salesforce:0065e00000OppWnAAJ");
    assert_eq!(outcome["stage"], "Closed Won");
    assert_eq!(outcome["amount"], 15000.0);
    assert_eq!(outcome["currency"], "EUR");
    assert_eq!(outcome["source"], "salesforce");
    assert_eq!(outcome["account"], "salesforce:0012800000CXn0kAAD");

    // An opportunity without a contact is kept under its account only; a custom object
    // (the shape of the mikesimonds.com example) is acknowledged and ignored.
    let account_only = notification(
        "04l5e00000Gx7S2AAJ",
        "Opportunity",
        r#"     <sf:Id>0065e00000OppLsAAJ</sf:Id>
     <sf:AccountId>0015e00000AccXyAAJ</sf:AccountId>
     <sf:IsClosed>true</sf:IsClosed>
     <sf:IsWon>false</sf:IsWon>
     <sf:StageName>Closed Lost</sf:StageName>
     <sf:LastModifiedDate>2024-03-05T09:00:00.000Z</sf:LastModifiedDate>"#,
    );
    let custom = notification(
        "04lR0000000CcIFIA0",
        "Design_Registration__c",
        "     <sf:Id>a06R00000009QZaIAM</sf:Id>\n     <sf:Name>URT</sf:Name>",
    );
    assert_acked(send(&daemon, &message(ORG, &[account_only])).await).await;
    assert_acked(send(&daemon, &message(ORG, &[custom])).await).await;
    daemon.drained().await;
    assert!(daemon.dead_letters().await.is_empty());
    // Nothing was attached to the contact from the other account.
    let view = daemon
        .contact("salesforce:003G000001SUbc4IAD")
        .await
        .unwrap();
    assert_eq!(view["outcomes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_deliveries_get_a_soap_fault_and_store_nothing() {
    let daemon = Daemon::start(&source_toml());
    let body = |n: &str, lead_id: &str| {
        message(
            ORG,
            &[lead(
                &format!("04l5e00000Bad{n}AAJ"),
                lead_id,
                &format!("bad{n}@example.com"),
            )],
        )
    };

    // Another org, with the right token.
    let other_org = message(
        "00D5e000000KQ2fEAG",
        &[lead(
            "04l5e00000Bad1AAJ",
            "00Q5e00000Bad01EAB",
            "bad1@example.com",
        )],
    );
    assert_fault(send(&daemon, &other_org).await, 401, "OrganizationId").await;
    // No token, a wrong token.
    assert_fault(
        send_to(&daemon, "", &body("2", "00Q5e00000Bad02EAB")).await,
        401,
        "missing token",
    )
    .await;
    assert_fault(
        send_to(&daemon, "?token=guess", &body("3", "00Q5e00000Bad03EAB")).await,
        401,
        "wrong token",
    )
    .await;
    // Authentic but unreadable: broken XML, no notification Id, no sObject Id.
    let broken = body("4", "00Q5e00000Bad04EAB").replace("</notifications>", "");
    assert_fault(send(&daemon, &broken).await, 400, "malformed payload").await;
    let no_id = body("5", "00Q5e00000Bad05EAB").replace("<Id>04l5e00000Bad5AAJ</Id>", "");
    assert_fault(send(&daemon, &no_id).await, 400, "missing Id").await;
    let no_object_id =
        body("6", "00Q5e00000Bad06EAB").replace("<sf:Id>00Q5e00000Bad06EAB</sf:Id>", "");
    assert_fault(send(&daemon, &no_object_id).await, 400, "no Id").await;
    // A good message in the same batch as a broken one does not sneak through.
    let half_bad = message(
        ORG,
        &[
            lead(
                "04l5e00000Bad7AAJ",
                "00Q5e00000Bad07EAB",
                "bad7@example.com",
            ),
            lead("04l5e00000Bad8AAJ", "not-an-id", "bad8@example.com"),
        ],
    );
    assert_fault(send(&daemon, &half_bad).await, 400, "not a Salesforce id").await;

    assert_acked(send(&daemon, &body("9", "00Q5e00000Good9EAB")).await).await;
    daemon
        .wait_contact("salesforce:00Q5e00000Good9EAB", |v| {
            v["profile"]["first_name"]["value"] == "Henrik"
        })
        .await;
    daemon.drained().await;
    for n in 1..=8 {
        assert!(
            daemon
                .contact(&format!("bad{n}@example.com"))
                .await
                .is_none(),
            "bad{n} was stored"
        );
        assert!(daemon
            .contact(&format!("salesforce:00Q5e00000Bad0{n}EAB"))
            .await
            .is_none());
    }
}

#[tokio::test]
async fn a_salesforce_lead_and_a_site_touch_are_one_contact() {
    let daemon = Daemon::start(&source_toml());
    let lead_id = "00Q5e00000AnnLdEAJ";
    assert_acked(
        send(
            &daemon,
            &message(ORG, &[lead("04l5e00000Ann01AAJ", lead_id, "ann@x.com")]),
        )
        .await,
    )
    .await;
    let response = daemon
        .post_site(
            "ann-site-1",
            &touch_body("ann@x.com", "pricing_view", &now_rfc3339()),
        )
        .await;
    assert_eq!(response.status(), 200);
    let view = daemon
        .wait_contact("ann@x.com", |v| {
            v["touch_count"] == 1 && v["crm_ids"]["salesforce"] == lead_id
        })
        .await;
    assert_eq!(view["touches"][0]["kind"], "pricing_view");
    assert_eq!(view["touches"][0]["source"], "site");
    assert_eq!(view["profile"]["title"]["value"], "Architect");
    let by_crm = daemon
        .contact(&format!("salesforce:{lead_id}"))
        .await
        .unwrap();
    assert_eq!(by_crm["id"], view["id"]);
}

/// One person seen first in Marketo by email and later in Salesforce as a Lead with the
/// same email is one contact with both ids, and its touch history is whole.
#[tokio::test]
async fn a_marketo_lead_and_a_salesforce_lead_with_one_email_are_one_contact() {
    let marketo = format!(
        "\n[sources.marketo]\nkind = \"marketo\"\nsecret = \"{}\"\n",
        crate::source_marketo::SECRET
    );
    let daemon = Daemon::start(&format!("{}{marketo}", source_toml()));
    let form_fill = crate::source_marketo::rendered(
        "form_submit",
        1234,
        "ann@x.com",
        &crate::source_marketo::system_date_time(30),
    );
    let headers = vec![(
        "X-Attentiond-Secret".to_string(),
        crate::source_marketo::SECRET.to_string(),
    )];
    assert_eq!(
        daemon
            .post("/webhooks/marketo", &headers, &form_fill)
            .await
            .status(),
        200
    );
    daemon
        .wait_contact("marketo:1234", |v| v["touch_count"] == 1)
        .await;

    let lead_id = "00Q5e00000AnnLdEAJ";
    assert_acked(
        send(
            &daemon,
            &message(
                ORG,
                &[
                    lead("04l5e00000Ann01AAJ", lead_id, "ann@x.com"),
                    call_task("04l5e00000Ann02AAJ", lead_id),
                ],
            ),
        )
        .await,
    )
    .await;
    let view = daemon
        .wait_contact("ann@x.com", |v| v["touch_count"] == 2)
        .await;
    assert_eq!(view["crm_ids"]["marketo"], "1234");
    assert_eq!(view["crm_ids"]["salesforce"], lead_id);
    let sources: Vec<&str> = view["touches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["source"].as_str().unwrap())
        .collect();
    assert!(
        sources.contains(&"marketo") && sources.contains(&"salesforce"),
        "{sources:?}"
    );
    let by_marketo = daemon.contact("marketo:1234").await.unwrap();
    let by_salesforce = daemon
        .contact(&format!("salesforce:{lead_id}"))
        .await
        .unwrap();
    assert_eq!(by_marketo["id"], by_salesforce["id"]);
}

#[tokio::test]
async fn a_message_without_a_time_field_is_dated_when_it_arrives() {
    let daemon = Daemon::start(&source_toml());
    // The completed call of `call_task`, sent with none of the Task's time fields, as
    // an outbound message configured without them arrives.
    let task = notification(
        "04l5e00000NoTimeAAB",
        "Task",
        r#"     <sf:Id>00T5e00000AbCdEEAV</sf:Id>
     <sf:WhoId>00Q5e00000Lead1EAB</sf:WhoId>
     <sf:Type>Call</sf:Type>
     <sf:Subject>Call: pricing questions</sf:Subject>
     <sf:IsClosed>true</sf:IsClosed>"#,
    );
    let before = chrono::Utc::now();
    assert_acked(send(&daemon, &message(ORG, &[task])).await).await;
    let view = daemon
        .wait_contact("salesforce:00Q5e00000Lead1EAB", |v| v["touch_count"] == 1)
        .await;
    let touch = &view["touches"][0];
    assert_eq!(touch["kind"], "call", "{view}");
    assert_eq!(touch["properties"]["time_source"], "received", "{touch}");
    let dated =
        chrono::DateTime::parse_from_rfc3339(touch["occurred_at"].as_str().unwrap()).unwrap();
    assert!(
        (dated.timestamp() - before.timestamp()).abs() <= 5,
        "{touch}"
    );
}
