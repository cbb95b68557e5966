//! Tests of the Salesforce source: ids, verification, every mapping, SOAP replies.
use super::*;

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

// aspnet/WebHooks test/Microsoft.AspNet.WebHooks.Receivers.Salesforce.Test/Messages/
// OutboundMessage1.xml: a Lead (first notification; type renamed from `sf:Lead1`, and
// the fixture's UTF-8 byte-order mark kept).
const ASPNET_LEAD: &str = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">
  <soapenv:Body>
<notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">
  <OrganizationId>0123456789ABCDENNN</OrganizationId>
  <ActionId>05h370200108OsUAAU</ActionId>
  <SessionId>0123456789ABCDE!BSGSRAzG9lPxyKRPjJ3.sUQ7y0lp2hfgwX.7rEL5rIQeoYuMfw5qZNrGlNz68OF9na3K5m2amoscF3pdHU5Zep_FhBcAK1RY</SessionId>
  <EnterpriseUrl>https://na31.salesforce.com/services/Soap/c/34.0/0123456789ABCDE</EnterpriseUrl>
  <PartnerUrl>https://na31.salesforce.com/services/Soap/u/34.0/0123456789ABCDE</PartnerUrl>
  <Notification>
    <Id>04l37000000L0E5AAK</Id>
    <sObject xsi:type=\"sf:Lead\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">
      <sf:Id>0123456789ABCDEEAE</sf:Id>
      <sf:City>Redmond</sf:City>
      <sf:CleanStatus>Pending</sf:CleanStatus>
      <sf:Company>Microsoft</sf:Company>
      <sf:Country>USA</sf:Country>
      <sf:CreatedById>1123456789ABCDEAAW</sf:CreatedById>
      <sf:CreatedDate>2015-08-14T18:27:02.000Z</sf:CreatedDate>
      <sf:Description>Some notes...</sf:Description>
      <sf:FirstName>Henrik</sf:FirstName>
      <sf:Industry>Technology</sf:Industry>
      <sf:IsConverted>false</sf:IsConverted>
      <sf:IsDeleted>false</sf:IsDeleted>
      <sf:IsUnreadByOwner>false</sf:IsUnreadByOwner>
      <sf:LastModifiedById>1123456789ABCDEAAW</sf:LastModifiedById>
      <sf:LastModifiedDate>2015-08-14T18:27:02.000Z</sf:LastModifiedDate>
      <sf:LastName>Nielsen</sf:LastName>
      <sf:LastReferencedDate>2015-08-14T18:27:02.000Z</sf:LastReferencedDate>
      <sf:LastViewedDate>2015-08-14T18:27:02.000Z</sf:LastViewedDate>
      <sf:LeadSource>Web</sf:LeadSource>
      <sf:OwnerId>1123456789ABCDEAAW</sf:OwnerId>
      <sf:PhotoUrl>/services/images/photo/0123456789ABCDEEAE</sf:PhotoUrl>
      <sf:PostalCode>98052</sf:PostalCode>
      <sf:Salutation>Mr.</sf:Salutation>
      <sf:State>WA</sf:State>
      <sf:Status>Open - Not Contacted</sf:Status>
      <sf:Street>One Microsoft Way</sf:Street>
      <sf:SystemModstamp>2015-08-14T18:27:02.000Z</sf:SystemModstamp>
      <sf:Title>Architect</sf:Title>
    </sObject>
  </Notification>
</notifications>
  </soapenv:Body>
</soapenv:Envelope>";

#[test]
fn a_lead_becomes_a_profile_with_every_identity() {
    let events = normalize(ASPNET_LEAD).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].provider_id, "04l37000000L0E5AAK");
    let EventBody::Profile(profile) = &events[0].body else {
        panic!()
    };
    assert_eq!(
        profile.who,
        vec![Identity::crm("salesforce", "0123456789ABCDEEAE")]
    );
    let expected: BTreeMap<String, String> = [
        ("city", "Redmond"),
        ("company", "Microsoft"),
        ("country", "USA"),
        ("first_name", "Henrik"),
        ("industry", "Technology"),
        ("last_name", "Nielsen"),
        ("lead_source", "Web"),
        ("status", "Open - Not Contacted"),
        ("title", "Architect"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(profile.fields, expected);
    assert_eq!(profile.occurred_at, 1_439_576_822_000);
    // The fixture's org id (0123456789ABCDENNN) is not ours.
    assert!(matches!(
        source().verify(&delivery(URL, ASPNET_LEAD), 0),
        Err(SourceError::BadCredentials(_))
    ));
}

#[test]
fn a_contact_with_email_account_and_15_character_ids() {
    let body = message(
        ORG,
        &notification(
            "04l000000000001AAA",
            "Contact",
            r#"
 <sf:Id>003G000001SUbc4</sf:Id>
 <sf:AccountId>0012800000CXn0k</sf:AccountId>
 <sf:Email>Ann@X.com</sf:Email>
 <sf:MailingCity>Lyon</sf:MailingCity>
 <sf:MailingCountry>France</sf:MailingCountry>
 <sf:Phone xsi:nil="true"/>
 <sf:NumberOfEmployees>120</sf:NumberOfEmployees>
 <sf:LastModifiedDate>2024-03-01T10:00:00.000Z</sf:LastModifiedDate>"#,
        ),
    );
    let events = normalize(&body).unwrap();
    let EventBody::Profile(profile) = &events[0].body else {
        panic!()
    };
    assert_eq!(
        profile.who,
        vec![
            Identity::crm("salesforce", "003G000001SUbc4IAD"),
            Identity::email("ann@x.com")
        ]
    );
    assert_eq!(
        profile.account.as_deref(),
        Some("salesforce:0012800000CXn0kAAD")
    );
    assert_eq!(profile.fields["city"], "Lyon");
    assert_eq!(profile.fields["country"], "France");
    assert_eq!(profile.fields["employees"], "120");
    assert!(!profile.fields.contains_key("phone"));
}

#[test]
fn profile_fields_are_configurable() {
    let mut src = source();
    src.profile_fields
        .insert("Account_Name__c".into(), "company".into());
    src.profile_fields.insert("Status".into(), "none".into());
    let body = message(
        ORG,
        &notification(
            "04l000000000002AAA",
            "Contact",
            r#"
 <sf:Id>003G000001SUbc4IAD</sf:Id>
 <sf:Account_Name__c>Acme &amp; Co</sf:Account_Name__c>
 <sf:Status>Working</sf:Status>
 <sf:CreatedDate>2024-03-01T10:00:00Z</sf:CreatedDate>"#,
        ),
    );
    let events = src.normalize(&delivery(URL, &body)).unwrap();
    let EventBody::Profile(profile) = &events[0].body else {
        panic!()
    };
    assert_eq!(
        profile.fields.get("company").map(String::as_str),
        Some("Acme & Co")
    );
    assert!(!profile.fields.contains_key("status"));
}

#[test]
fn a_converted_lead_names_its_contact_and_account() {
    let body = message(
        ORG,
        &notification(
            "04l000000000003AAA",
            "Lead",
            r#"
 <sf:Id>00Q5e000001abcdEAA</sf:Id>
 <sf:ConvertedContactId>003G000001SUbc4IAD</sf:ConvertedContactId>
 <sf:ConvertedAccountId>0012800000CXn0kAAD</sf:ConvertedAccountId>
 <sf:IsConverted>true</sf:IsConverted>
 <sf:LastModifiedDate>2024-03-01T10:00:00Z</sf:LastModifiedDate>"#,
        ),
    );
    let EventBody::Profile(profile) = &normalize(&body).unwrap()[0].body else {
        panic!()
    };
    assert_eq!(
        profile.who,
        vec![
            Identity::crm("salesforce", "00Q5e000001abcdEAA"),
            Identity::crm("salesforce", "003G000001SUbc4IAD")
        ]
    );
    assert_eq!(
        profile.account.as_deref(),
        Some("salesforce:0012800000CXn0kAAD")
    );
}

fn task(fields: &str) -> Result<Option<Touch>, SourceError> {
    task_with(&source(), fields)
}

fn task_with(src: &SalesforceSource, fields: &str) -> Result<Option<Touch>, SourceError> {
    let body = message(ORG, &notification("04l000000000010AAA", "Task", fields));
    let events = src.normalize(&delivery(URL, &body))?;
    Ok(events.into_iter().next().map(|event| match event.body {
        EventBody::Touch(touch) => touch,
        other => panic!("{other:?}"),
    }))
}

#[test]
fn tasks_become_touches_by_type_then_subject() {
    let touch = task(
        r#"<sf:Id>00T5e00000AbCdEEAV</sf:Id>
 <sf:WhoId>003G000001SUbc4</sf:WhoId>
 <sf:AccountId>0012800000CXn0kAAD</sf:AccountId>
 <sf:Type>Call</sf:Type>
 <sf:Subject>Call: pricing questions</sf:Subject>
 <sf:IsClosed>true</sf:IsClosed>
 <sf:ActivityDate>2024-03-04</sf:ActivityDate>
 <sf:CompletedDateTime>2024-03-04T15:30:00.000Z</sf:CompletedDateTime>
 <sf:CreatedDate>2024-03-01T09:00:00.000Z</sf:CreatedDate>"#,
    )
    .unwrap()
    .unwrap();
    assert_eq!(touch.kind, TouchKind::Call);
    assert_eq!(
        touch.who,
        vec![Identity::crm("salesforce", "003G000001SUbc4IAD")]
    );
    assert_eq!(
        touch.account.as_deref(),
        Some("salesforce:0012800000CXn0kAAD")
    );
    assert_eq!(touch.occurred_at, 1_709_566_200_000);
    assert_eq!(
        touch.properties,
        Some(serde_json::json!({"subject": "Call: pricing questions", "type": "Call"}))
    );

    // No Type: the subject prefix decides; the ActivityDate is the time.
    let touch = task(
        r#"<sf:Id>00T5e00000AbCdEEAV</sf:Id>
 <sf:WhoId>00Q5e000001abcdEAA</sf:WhoId>
 <sf:Subject>Email: Re: your proposal</sf:Subject>
 <sf:ActivityDate>2024-03-04</sf:ActivityDate>
 <sf:CreatedDate>2024-03-05T09:00:00.000Z</sf:CreatedDate>"#,
    )
    .unwrap()
    .unwrap();
    assert_eq!(touch.kind, TouchKind::EmailReply);
    assert_eq!(touch.occurred_at, 1_709_510_400_000);

    // TaskSubtype works like Type; a meeting; only CreatedDate.
    let touch = task(
        r#"<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId>
 <sf:TaskSubtype>Email</sf:TaskSubtype><sf:CreatedDate>2024-03-05T09:00:00Z</sf:CreatedDate>"#,
    )
    .unwrap()
    .unwrap();
    assert_eq!(touch.kind, TouchKind::EmailReply);
    let touch = task(
        r#"<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId>
 <sf:Type>meeting</sf:Type><sf:LastModifiedDate>2024-03-05T09:00:00Z</sf:LastModifiedDate>"#,
    )
    .unwrap()
    .unwrap();
    assert_eq!(touch.kind, TouchKind::MeetingAttended);
    assert_eq!(touch.occurred_at, 1_709_629_200_000);
}

#[test]
fn tasks_that_are_not_attention_are_skipped() {
    // Open task, no WhoId, unmapped type and subject.
    for fields in [
        "<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId><sf:Type>Call</sf:Type><sf:IsClosed>false</sf:IsClosed><sf:CreatedDate>2024-03-05T09:00:00Z</sf:CreatedDate>",
        "<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:Type>Call</sf:Type><sf:CreatedDate>2024-03-05T09:00:00Z</sf:CreatedDate>",
        "<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId><sf:Type>Other</sf:Type><sf:Subject>Send quote</sf:Subject><sf:CreatedDate>2024-03-05T09:00:00Z</sf:CreatedDate>",
    ] {
        assert_eq!(task(fields).unwrap(), None, "{fields}");
    }
    // A type switched off does not fall back to the subject.
    let mut src = source();
    src.task_types.insert("call".into(), "none".into());
    src.task_subjects
        .insert("Demo".into(), "demo_request".into());
    let fields = "<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId><sf:Type>Call</sf:Type><sf:Subject>Call</sf:Subject><sf:CreatedDate>2024-03-05T09:00:00Z</sf:CreatedDate>";
    assert_eq!(task_with(&src, fields).unwrap(), None);
    let fields = "<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId><sf:Subject>demo: product tour</sf:Subject><sf:CreatedDate>2024-03-05T09:00:00Z</sf:CreatedDate>";
    assert_eq!(
        task_with(&src, fields).unwrap().unwrap().kind,
        TouchKind::DemoRequest
    );
    // A task without any time cannot be placed.
    let error = task("<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId><sf:Type>Call</sf:Type>").unwrap_err();
    assert!(
        matches!(error, SourceError::Malformed(ref r) if r.contains("CompletedDateTime") && r.contains("04l000000000010AAA")),
        "{error:?}"
    );
}

#[test]
fn campaign_members_become_touches_by_status() {
    let body = message(
        ORG,
        &[
            notification(
                "04l000000000020AAA",
                "CampaignMember",
                r#"<sf:Id>00v5e00000AbCdEAAV</sf:Id>
 <sf:CampaignId>70130000001tcyI</sf:CampaignId><sf:ContactId>003G000001SUbc4IAD</sf:ContactId>
 <sf:Email>ann@x.com</sf:Email><sf:Status>Attended</sf:Status>
 <sf:LastModifiedDate>2024-03-05T09:00:00Z</sf:LastModifiedDate>"#,
            ),
            notification(
                "04l000000000021AAA",
                "CampaignMember",
                r#"<sf:Id>00v5e00000AbCeEAAV</sf:Id>
 <sf:LeadId>00Q5e000001abcdEAA</sf:LeadId><sf:Status>Registered</sf:Status>
 <sf:CreatedDate>2024-03-01T09:00:00Z</sf:CreatedDate>"#,
            ),
            notification(
                "04l000000000022AAA",
                "CampaignMember",
                r#"<sf:Id>00v5e00000AbCfEAAV</sf:Id>
 <sf:LeadId>00Q5e000001abcdEAA</sf:LeadId><sf:Status>Sent</sf:Status>
 <sf:CreatedDate>2024-03-01T09:00:00Z</sf:CreatedDate>"#,
            ),
            notification(
                "04l000000000023AAA",
                "CampaignMember",
                r#"<sf:Id>00v5e00000AbCgEAAV</sf:Id>
 <sf:LeadId>00Q5e000001abcdEAA</sf:LeadId><sf:Status>Responded</sf:Status>
 <sf:CreatedDate>2024-03-01T09:00:00Z</sf:CreatedDate>"#,
            ),
        ]
        .join("\n"),
    );
    let events = normalize(&body).unwrap();
    assert_eq!(events.len(), 3, "Sent is not attention");
    let EventBody::Touch(attended) = &events[0].body else {
        panic!()
    };
    assert_eq!(attended.kind, TouchKind::WebinarAttended);
    assert_eq!(
        attended.who,
        vec![
            Identity::crm("salesforce", "003G000001SUbc4IAD"),
            Identity::email("ann@x.com")
        ]
    );
    assert_eq!(
        attended.properties,
        Some(
            serde_json::json!({"status": "Attended", "campaign": "salesforce:70130000001tcyIAAQ"})
        )
    );
    assert_eq!(attended.occurred_at, 1_709_629_200_000);
    let EventBody::Touch(registered) = &events[1].body else {
        panic!()
    };
    assert_eq!(registered.kind, TouchKind::WebinarRegistered);
    assert_eq!(events[1].provider_id, "04l000000000021AAA");
    let EventBody::Touch(responded) = &events[2].body else {
        panic!()
    };
    assert_eq!(responded.kind, TouchKind::FormSubmit);
}

fn outcome(fields: &str) -> Outcome {
    let body = message(
        ORG,
        &notification("04l000000000030AAA", "Opportunity", fields),
    );
    match normalize(&body).unwrap().remove(0).body {
        EventBody::Outcome(outcome) => outcome,
        other => panic!("{other:?}"),
    }
}

#[test]
fn opportunities_become_outcomes() {
    let won = outcome(
        r#"<sf:Id>0065e00000AbCdEAAV</sf:Id><sf:AccountId>0012800000CXn0k</sf:AccountId>
 <sf:Amount>15000.0</sf:Amount><sf:CurrencyIsoCode>EUR</sf:CurrencyIsoCode>
 <sf:IsClosed>true</sf:IsClosed><sf:IsWon>true</sf:IsWon><sf:StageName>Closed Won</sf:StageName>
 <sf:CreatedDate>2024-01-01T09:00:00Z</sf:CreatedDate><sf:LastModifiedDate>2024-03-05T09:00:00Z</sf:LastModifiedDate>"#,
    );
    assert_eq!(
        won,
        Outcome {
            who: vec![],
            account: Some("salesforce:0012800000CXn0kAAD".into()),
            kind: OutcomeKind::Won,
            opportunity: Some("salesforce:0065e00000AbCdEAAV".into()),
            stage: Some("Closed Won".into()),
            amount: Some(15000.0),
            currency: Some("EUR".into()),
            occurred_at: 1_709_629_200_000,
        }
    );
    let lost = outcome(
        r#"<sf:Id>0065e00000AbCdEAAV</sf:Id><sf:ContactId>003G000001SUbc4</sf:ContactId>
 <sf:IsClosed>true</sf:IsClosed><sf:IsWon>false</sf:IsWon><sf:StageName>Closed Lost</sf:StageName>
 <sf:LastModifiedDate>2024-03-05T09:00:00Z</sf:LastModifiedDate>"#,
    );
    assert_eq!(lost.kind, OutcomeKind::Lost);
    assert_eq!(
        lost.who,
        vec![Identity::crm("salesforce", "003G000001SUbc4IAD")]
    );
    assert_eq!(lost.amount, None);
    let created = outcome(
        r#"<sf:Id>0065e00000AbCdEAAV</sf:Id><sf:StageName>Prospecting</sf:StageName>
 <sf:IsClosed>false</sf:IsClosed><sf:IsWon>false</sf:IsWon>
 <sf:CreatedDate>2024-03-05T09:00:00.000Z</sf:CreatedDate><sf:LastModifiedDate>2024-03-05T09:00:00.000Z</sf:LastModifiedDate>"#,
    );
    assert_eq!(created.kind, OutcomeKind::OpportunityCreated);
    let moved = outcome(
        r#"<sf:Id>0065e00000AbCdEAAV</sf:Id><sf:StageName>Negotiation/Review</sf:StageName>
 <sf:CreatedDate>2024-03-01T09:00:00Z</sf:CreatedDate><sf:LastModifiedDate>2024-03-05T09:00:00Z</sf:LastModifiedDate>"#,
    );
    assert_eq!(moved.kind, OutcomeKind::StageChanged);
    assert_eq!(moved.stage.as_deref(), Some("Negotiation/Review"));
}

#[test]
fn unknown_objects_are_acknowledged_without_events() {
    // The mikesimonds.com example of a custom object notification.
    let body = message(
        ORG,
        &notification(
            "04lR0000000CcIFIA0",
            "Design_Registration__c",
            r#"
 <sf:Id>a06R00000009QZaIAM</sf:Id>
 <sf:Name>URT</sf:Name>"#,
        ),
    );
    assert_eq!(normalize(&body).unwrap(), vec![]);
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
    let config = crate::config::Config::from_toml(text).unwrap();
    let crate::sources::SourceConfig::Salesforce(src) = &config.sources["sf"] else {
        panic!()
    };
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
    let error = crate::config::Config::from_toml(&bad)
        .unwrap_err()
        .to_string();
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
