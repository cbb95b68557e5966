//! What each kind of record becomes: Leads and Contacts, Tasks, CampaignMembers,
//! Opportunities and objects we do not read.

use super::*;
use crate::model::{Outcome, OutcomeKind, Touch};

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
            ..Default::default()
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

// OpportunityContactRole fields as in Salesforce's Object Reference
// (OpportunityContactRole: ContactId, OpportunityId, Role, IsPrimary).
#[test]
fn a_contact_role_links_the_person_to_the_opportunity() {
    let body = message(
        ORG,
        &notification(
            "04l000000000031AAA",
            "OpportunityContactRole",
            r#"<sf:Id>00K5e00000AbCdEEAV</sf:Id><sf:ContactId>003G000001SUbc4</sf:ContactId>
 <sf:OpportunityId>0065e00000AbCdEAAV</sf:OpportunityId><sf:Role>Economic Buyer</sf:Role>
 <sf:IsPrimary>true</sf:IsPrimary><sf:LastModifiedDate>2024-03-01T09:00:00Z</sf:LastModifiedDate>"#,
        ),
    );
    let EventBody::Outcome(linked) = normalize(&body).unwrap().remove(0).body else {
        panic!("not an outcome")
    };
    assert_eq!(
        linked,
        Outcome {
            who: vec![Identity::crm("salesforce", "003G000001SUbc4IAD")],
            kind: OutcomeKind::Linked,
            opportunity: Some("salesforce:0065e00000AbCdEAAV".into()),
            role: Some("Economic Buyer".into()),
            primary: Some(true),
            occurred_at: 1_709_283_600_000,
            ..Outcome::default()
        }
    );
}
