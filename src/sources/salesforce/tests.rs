//! Tests of the Salesforce source: ids, verification, reading the SOAP message, SOAP
//! replies and settings. What each kind of record becomes is in `tests/records.rs`.

use super::*;
use crate::model::{EventBody, Identity};
use crate::sources::SourceConfig;

mod records;

const ORG: &str = "00D5e000000KQ2eEAG";
const TOKEN: &str = "s3cret-token";
const URL: &str = "https://attention.example.com/webhooks/salesforce?token=s3cret-token";

fn source() -> SalesforceSource {
    SalesforceSource {
        organization_id: ORG.into(),
        token: Secret::new(TOKEN),
        task_types: BTreeMap::new(),
        task_subjects: BTreeMap::new(),
        campaign_member_statuses: BTreeMap::new(),
        profile_fields: BTreeMap::new(),
    }
}

fn delivery<'a>(url: &'a str, body: &'a str) -> Delivery<'a> {
    Delivery {
        method: "POST",
        url,
        headers: &[],
        body: body.as_bytes(),
    }
}

/// A message with the envelope Salesforce sends (aspnet/WebHooks
/// test/.../RequestBodies/Salesforce.xml) around the given notifications.
fn message(org: &str, notifications: &str) -> String {
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
{notifications}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#
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

fn normalize(body: &str) -> Result<Vec<Event>, SourceError> {
    source().normalize(&delivery(URL, body))
}

// Vectors: VENDORS.md §3.2 — ruby-toolbox salesforce_id, rubydoc
// salesforce_id_formatter 1.2.0, packagist kawtharstudios/sf15to18,
// sylvainv/pg-salesforce-id README, and the org id of Prismatic's example payload.
#[test]
fn fifteen_character_ids_get_their_checksum() {
    for (short, long) in [
        ("003G000001SUbc4", "003G000001SUbc4IAD"),
        ("70130000001tcyI", "70130000001tcyIAAQ"),
        ("001550V000WOQZi", "001550V000WOQZiACP"),
        ("0012800000CXn0k", "0012800000CXn0kAAD"),
        ("00D5e000000KQ2e", "00D5e000000KQ2eEAG"),
    ] {
        assert_eq!(id18(short).as_deref(), Some(long));
        assert_eq!(id18(long).as_deref(), Some(long));
    }
    assert_eq!(id18("003G000001SUbc"), None);
    assert_eq!(id18("003G000001SUbc4-AD"), None);
}

#[test]
fn token_and_organization_decide() {
    let body = message(
        ORG,
        &notification(
            "04l5e00000Gx7QzAAJ",
            "Lead",
            "<sf:Id>00Q5e000001abcdEAA</sf:Id>",
        ),
    );
    let src = source();
    assert_eq!(src.verify(&delivery(URL, &body), 0), Ok(()));
    // The 15-character org id in the message or the config is the same org.
    let short = message(
        "00D5e000000KQ2e",
        &notification(
            "04l5e00000Gx7QzAAJ",
            "Lead",
            "<sf:Id>00Q5e000001abcdEAA</sf:Id>",
        ),
    );
    assert_eq!(src.verify(&delivery(URL, &short), 0), Ok(()));
    let mut configured_short = source();
    configured_short.organization_id = "00D5e000000KQ2e".into();
    assert_eq!(configured_short.verify(&delivery(URL, &body), 0), Ok(()));
    // Another org with a valid token.
    let other = message("00D5e000000KQ2fEAG", "");
    assert!(
        matches!(src.verify(&delivery(URL, &other), 0), Err(SourceError::BadCredentials(r)) if r.contains("OrganizationId"))
    );
    // Same letters, other case: another org (15-character ids are case-sensitive).
    let other_case = message("00D5E000000KQ2e", "");
    assert!(matches!(
        src.verify(&delivery(URL, &other_case), 0),
        Err(SourceError::BadCredentials(_))
    ));
    // Missing and wrong tokens.
    let no_token = "https://attention.example.com/webhooks/salesforce";
    assert_eq!(
        src.verify(&delivery(no_token, &body), 0),
        Err(SourceError::BadCredentials(
            "missing token query parameter".into()
        ))
    );
    let wrong = "https://attention.example.com/webhooks/salesforce?token=s3cret-tokeN";
    assert_eq!(
        src.verify(&delivery(wrong, &body), 0),
        Err(SourceError::BadCredentials("wrong token".into()))
    );
    // Percent-encoding in the URL is decoded; other parameters are ignored.
    let encoded = "https://x/webhooks/salesforce?a=1&token=s3cret%2Dtoken";
    assert_eq!(src.verify(&delivery(encoded, &body), 0), Ok(()));
    // No OrganizationId at all.
    let bare = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"/></soapenv:Body></soapenv:Envelope>"#;
    assert!(matches!(
        src.verify(&delivery(URL, bare), 0),
        Err(SourceError::BadCredentials(_))
    ));
}

// aspnet/WebHooks test/Microsoft.AspNetCore.WebHooks.FunctionalTest/Resources/
// RequestBodies/Salesforce.xml (15-character org id, two Contacts), verbatim.
const ASPNET_CONTACTS: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>012345678901234</OrganizationId>
   <ActionId>04k1I000000bmsHQAQ</ActionId>
   <SessionId>00D1I000003qqqE!AQsAQOjGFnFJzGPA12yhUGL9Aii0N6lADjH2bNUBHRer5QjjTq3_RbIzlAqHBkfjp3vlHhlwByFY9MJQJlgz_7YaGJZzRF3t</SessionId>
   <EnterpriseUrl>https://na73.salesforce.com/services/Soap/c/41.0/00D1I000003qqqE</EnterpriseUrl>
   <PartnerUrl>https://na73.salesforce.com/services/Soap/u/41.0/00D1I000003qqqE</PartnerUrl>
   <Notification>
<Id>04l1I000000fztEQAQ</Id>
<sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
 <sf:Id>0031I0000081tbPQAQ</sf:Id>
 <sf:CreatedDate>2017-12-11T21:49:24.000Z</sf:CreatedDate>
 <sf:FirstName>Jeraldine</sf:FirstName>
 <sf:LastName>Black</sf:LastName>
 <sf:Title>White</sf:Title>
</sObject>
   </Notification>
   <Notification>
<Id>04l1I000000fzt9QAA</Id>
<sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
 <sf:Id>0031I0000081tb0QAA</sf:Id>
 <sf:CreatedDate>2017-12-11T21:44:55.000Z</sf:CreatedDate>
 <sf:Email>drb24@cornell.edu</sf:Email>
 <sf:FirstName>Doug</sf:FirstName>
 <sf:LastName>Bunting</sf:LastName>
 <sf:Title>Supreme Being</sf:Title>
</sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#;

#[test]
fn the_aspnet_webhooks_fixture_verifies_and_reads() {
    let mut src = source();
    src.organization_id = "012345678901234".into();
    assert_eq!(src.verify(&delivery(URL, ASPNET_CONTACTS), 0), Ok(()));
    src.organization_id = "012345678901234AAA".into();
    assert_eq!(src.verify(&delivery(URL, ASPNET_CONTACTS), 0), Ok(()));
    let events = src.normalize(&delivery(URL, ASPNET_CONTACTS)).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].provider_id, "04l1I000000fzt9QAA");
    let EventBody::Profile(profile) = &events[1].body else {
        panic!("{events:?}")
    };
    assert_eq!(
        profile.who,
        vec![
            Identity::crm("salesforce", "0031I0000081tb0QAA"),
            Identity::email("drb24@cornell.edu")
        ]
    );
    assert_eq!(profile.fields["first_name"], "Doug");
    assert_eq!(profile.fields["last_name"], "Bunting");
    assert_eq!(profile.fields["title"], "Supreme Being");
    assert_eq!(profile.occurred_at, 1_513_028_695_000);
    assert_eq!(profile.account, None);
}

#[test]
fn malformed_messages_say_why() {
    let lead = |id: &str, fields: &str| message(ORG, &notification(id, "Lead", fields));
    for (body, needle) in [
        ("not xml at all".to_string(), "SOAP Envelope"),
        ("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><notifications>".into(), "never closed"),
        ("<a:Envelope xmlns:a=\"x\"><a:Body></a:Body></a:Envelope>".into(), "notifications"),
        ("<Envelope><Body><notifications></Body></Envelope>".into(), "not well-formed"),
        (lead("", "<sf:Id>00Q5e000001abcdEAA</sf:Id>"), "missing Id"),
        (lead("04l000000000040AAA", "<sf:Name>x</sf:Name>"), "no Id"),
        (lead("04l000000000041AAA", "<sf:Id>not-an-id</sf:Id>"), "not a Salesforce id"),
        (lead("04l000000000042AAA", "<sf:Id>00Q5e000001abcdEAA</sf:Id><sf:LastModifiedDate>yesterday</sf:LastModifiedDate>"), "LastModifiedDate"),
        (lead("04l000000000043AAA", "<sf:Id>00Q5e000001abcdEAA</sf:Id>"), "no time"),
        (message(ORG, "<Notification><Id>04l000000000044AAA</Id></Notification>"), "missing sObject"),
        (message(ORG, "<Notification><Id>04l000000000045AAA</Id><sObject><sf:Id xmlns:sf=\"u\">00Q5e000001abcdEAA</sf:Id></sObject></Notification>"), "xsi:type"),
        (message(ORG, &notification("04l000000000046AAA", "Opportunity", "<sf:Id>0065e00000AbCdEAAV</sf:Id><sf:Amount>lots</sf:Amount><sf:CreatedDate>2024-03-01T09:00:00Z</sf:CreatedDate>")), "Amount"),
        (format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{}", message(ORG, "")), "DOCTYPE"),
    ] {
        match normalize(&body) {
            Err(SourceError::Malformed(reason)) => assert!(reason.contains(needle), "{body}: {reason}"),
            other => panic!("{body}: {other:?}"),
        }
    }
    // With the right token, unreadable XML is Malformed in verify too.
    assert!(matches!(
        source().verify(&delivery(URL, "<oops"), 0),
        Err(SourceError::Malformed(_))
    ));
    // With a wrong token it is refused before it is read.
    let wrong = "https://x/webhooks/salesforce?token=nope";
    assert!(matches!(
        source().verify(&delivery(wrong, "<oops"), 0),
        Err(SourceError::BadCredentials(_))
    ));
}

#[test]
fn other_prefixes_and_cdata_read_the_same() {
    let body = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><S:Header/><S:Body><o:notifications xmlns:o="http://soap.sforce.com/2005/09/outbound"><o:OrganizationId>00D5e000000KQ2eEAG</o:OrganizationId><o:Notification><o:Id>04l000000000050AAA</o:Id><o:sObject i:type="ens:Contact" xmlns:ens="urn:sobject.enterprise.soap.sforce.com"><ens:Id>003G000001SUbc4IAD</ens:Id><ens:Title><![CDATA[VP <Sales>]]></ens:Title><ens:CreatedDate>2024-03-01T09:00:00Z</ens:CreatedDate></o:sObject></o:Notification></o:notifications></S:Body></S:Envelope>"#;
    assert_eq!(source().verify(&delivery(URL, body), 0), Ok(()));
    let EventBody::Profile(profile) = &normalize(body).unwrap()[0].body else {
        panic!()
    };
    assert_eq!(profile.fields["title"], "VP <Sales>");
}

#[test]
fn the_ack_and_the_fault_are_soap() {
    let ack = source().acknowledgement().unwrap();
    assert_eq!(ack.status, 200);
    assert_eq!(ack.content_type, "text/xml; charset=utf-8");
    assert_eq!(
        String::from_utf8(ack.body).unwrap(),
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#
    );
    let fault = source()
        .refusal(&SourceError::malformed("Amount `<1>` & more"))
        .unwrap();
    assert_eq!(fault.status, 400);
    let text = String::from_utf8(fault.body).unwrap();
    assert!(text.contains("<soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>malformed payload: Amount `&lt;1&gt;` &amp; more</faultstring></soapenv:Fault>"), "{text}");
    assert_eq!(
        source()
            .refusal(&SourceError::BadCredentials("wrong token".into()))
            .unwrap()
            .status,
        401
    );
}

/// The `[sources.sf]` table of a settings file, read as the settings loader reads it
/// (TOML through the `config` crate into JSON, `kind` picking the platform), then
/// validated; an error names the key path.
fn from_settings(text: &str) -> Result<SalesforceSource, String> {
    let tree: serde_json::Value = ::config::Config::builder()
        .add_source(::config::File::from_str(text, ::config::FileFormat::Toml))
        .build()
        .and_then(|built| built.try_deserialize())
        .map_err(|error| error.to_string())?;
    let table = tree
        .pointer("/sources/sf")
        .cloned()
        .ok_or("no [sources.sf] table")?;
    let source: SourceConfig = serde_json::from_value(table).map_err(|e| e.to_string())?;
    source
        .validate()
        .map_err(|(key, message)| format!("sources.sf.{key}: {message}"))?;
    match source {
        SourceConfig::Salesforce(src) => Ok(src),
        other => Err(format!("a {} source, not salesforce", other.kind())),
    }
}

#[test]
fn the_tables_read_from_a_config_file() {
    let text = r#"
[sources.sf]
kind = "salesforce"
organization_id = "00D5e000000KQ2e"
token = "t"

[sources.sf.task_types]
Email = "none"
Demo = "demo_request"

[sources.sf.campaign_member_statuses]
"Visited Booth" = "meeting_attended"

[sources.sf.profile_fields]
Account_Name__c = "company"
"#;
    let src = from_settings(text).unwrap();
    assert_eq!(src.task_type("Email"), Some(None));
    assert_eq!(src.task_type("demo"), Some(Some(TouchKind::DemoRequest)));
    assert_eq!(src.task_type("Call"), Some(Some(TouchKind::Call)));
    assert_eq!(
        src.campaign_status("visited booth"),
        Some(TouchKind::MeetingAttended)
    );
    assert!(src
        .profile_table()
        .iter()
        .any(|(f, n)| f.eq_ignore_ascii_case("Account_Name__c") && n == "company"));
    let bad = text.replace("\"meeting_attended\"", "\"booth\"");
    let error = from_settings(&bad).unwrap_err();
    assert!(
        error.contains("campaign_member_statuses.") && error.contains("webinar_attended"),
        "{error}"
    );
}

#[test]
fn validation_names_the_key() {
    assert_eq!(source().validate(), Ok(()));
    let mut src = source();
    src.organization_id = "00D5e000000KQ2eEAA".into();
    assert_eq!(src.validate().unwrap_err().0, "organization_id");
    src.organization_id = "00D5e".into();
    assert_eq!(src.validate().unwrap_err().0, "organization_id");
    let mut src = source();
    src.token = Secret::new("");
    assert_eq!(src.validate().unwrap_err().0, "token");
    let mut src = source();
    src.campaign_member_statuses
        .insert("Attended".into(), "event".into());
    let (key, reason) = src.validate().unwrap_err();
    assert_eq!(key, "campaign_member_statuses.Attended");
    assert!(
        reason.contains("webinar_attended") && reason.contains("none"),
        "{reason}"
    );
    let mut src = source();
    src.task_types.insert("Call".into(), "phone".into());
    assert_eq!(src.validate().unwrap_err().0, "task_types.Call");
    let mut src = source();
    src.task_subjects.insert("Demo".into(), "demo".into());
    assert_eq!(src.validate().unwrap_err().0, "task_subjects.Demo");
    let mut src = source();
    src.profile_fields.insert("Region__c".into(), " ".into());
    assert_eq!(src.validate().unwrap_err().0, "profile_fields.Region__c");
}
