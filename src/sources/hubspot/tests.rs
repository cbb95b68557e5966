//! Tests of the HubSpot source: v1, v2 and v3 signatures against the SDKs' vectors,
//! and each kind of notification.

use super::*;

const SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
const URI: &str = "https://www.example.com/webhook_uri";

fn source() -> HubspotSource {
    HubspotSource {
        client_secret: Secret::new(SECRET),
        properties: BTreeMap::new(),
        accept_legacy_signatures: true,
        tolerance_secs: 300,
        access_token: None,
        api_url: default_api_url(),
        lookups_per_second: 5,
    }
}

fn verify(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
    now: Millis,
) -> Result<(), SourceError> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let delivery = Delivery {
        method,
        url,
        headers: &headers,
        body: body.as_bytes(),
    };
    source().verify(&delivery, now)
}

// Vector from HubSpot's signature docs and hubspot-api-nodejs test/unit/signature.spec.ts,
// hubspot-api-php tests/Unit/Utils/SignatureTest.php.
#[test]
fn v1_matches_the_sdk_vector() {
    let body = r#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;
    let sig = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de";
    assert_eq!(
        verify(
            "POST",
            URI,
            &[
                ("X-HubSpot-Signature", sig),
                ("X-HubSpot-Signature-Version", "v1")
            ],
            body,
            0
        ),
        Ok(())
    );
    assert_eq!(
        verify(
            "POST",
            URI,
            &[("X-HubSpot-Signature", sig)],
            &body.replace("123", "124"),
            0
        ),
        Err(SourceError::InvalidSignature)
    );
}

// hubspot-api-python tests/spec/utils/test_signature.py and hubspot-api-ruby
// spec/helpers/signature_spec.rb.
#[test]
fn v1_matches_the_python_and_ruby_sdk_vector() {
    let sig = "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750";
    assert_eq!(
        verify(
            "POST",
            URI,
            &[("X-HubSpot-Signature", sig)],
            "{'example_field':'example_value'}",
            0
        ),
        Ok(())
    );
}

// HubSpot docs (validating requests) and the Node/PHP/Python SDK tests.
#[test]
fn v2_matches_the_sdk_vectors() {
    let v2 = [("X-HubSpot-Signature-Version", "v2")];
    let get = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e";
    assert_eq!(
        verify("GET", URI, &[("X-HubSpot-Signature", get), v2[0]], "", 0),
        Ok(())
    );
    let post = "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900";
    assert_eq!(
        verify(
            "POST",
            URI,
            &[("X-HubSpot-Signature", post), v2[0]],
            r#"{"example_field":"example_value"}"#,
            0
        ),
        Ok(())
    );
    let python = "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383";
    assert_eq!(
        verify(
            "POST",
            URI,
            &[("X-HubSpot-Signature", python), v2[0]],
            "{'example_field':'example_value'}",
            0
        ),
        Ok(())
    );
    // The same signature for another URL is refused.
    assert_eq!(
        verify(
            "POST",
            "https://evil.example.com/webhook_uri",
            &[("X-HubSpot-Signature", post), v2[0]],
            r#"{"example_field":"example_value"}"#,
            0
        ),
        Err(SourceError::InvalidSignature)
    );
}

// v3 vectors: hubspot-api-python tests/spec/utils/test_signature.py (1693657560000) and
// hubspot-api-ruby spec/helpers/signature_spec.rb (1700000300000).
#[test]
fn v3_matches_the_sdk_vectors() {
    let body = "{'example_field':'example_value'}";
    for (ts, sig) in [
        (
            "1693657560000",
            "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y=",
        ),
        (
            "1700000300000",
            "RnbPH7+UMKVkbV32P8bz450N4M56aPmcru1+D3kSDtw=",
        ),
    ] {
        let now: i64 = ts.parse().unwrap();
        let headers = [
            ("X-HubSpot-Signature-v3", sig),
            ("X-HubSpot-Request-Timestamp", ts),
        ];
        assert_eq!(verify("POST", URI, &headers, body, now + 60_000), Ok(()));
        assert_eq!(
            verify("POST", URI, &headers, body, now + 301_000),
            Err(SourceError::StaleTimestamp(300))
        );
        assert_eq!(
            verify("POST", URI, &headers, "{'example_field':'tampered'}", now),
            Err(SourceError::InvalidSignature)
        );
        assert_eq!(
            verify("PUT", URI, &headers, body, now),
            Err(SourceError::InvalidSignature)
        );
    }
}

// Regression values computed from the documented algorithm (VENDORS.md §1.1).
#[test]
fn v3_signs_the_decoded_uri() {
    let body = r#"{"example_field":"example_value"}"#;
    let ts = "1693657560000";
    let received = "https://www.example.com/webhook_uri?src=hs%3Aapp";
    let decoded_sig = "4dzMCIGRcaT9djVZnnfPdXFNpNEwbnuGtmbi6y1ri2E=";
    let headers = [
        ("X-HubSpot-Signature-v3", decoded_sig),
        ("X-HubSpot-Request-Timestamp", ts),
    ];
    assert_eq!(
        verify("POST", received, &headers, body, 1_693_657_560_000),
        Ok(())
    );
    assert_eq!(
        decode_uri(received),
        "https://www.example.com/webhook_uri?src=hs:app"
    );
    assert_eq!(decode_uri("https://x/a%20b%3d"), "https://x/a%20b%3d");
}

#[test]
fn v3_present_means_v1_is_not_enough() {
    let body = r#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;
    let v1 = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de";
    let headers = [
        ("X-HubSpot-Signature", v1),
        ("X-HubSpot-Signature-v3", "AAAA"),
        ("X-HubSpot-Request-Timestamp", "0"),
    ];
    assert_eq!(
        verify("POST", URI, &headers, body, 0),
        Err(SourceError::InvalidSignature)
    );
    assert_eq!(
        verify("POST", URI, &[], body, 0),
        Err(SourceError::MissingHeader("X-HubSpot-Signature-v3"))
    );
}

fn normalize(body: &str) -> Result<Vec<Event>, SourceError> {
    let delivery = Delivery {
        method: "POST",
        url: URI,
        headers: &[],
        body: body.as_bytes(),
    };
    source().normalize(&delivery)
}

// Shape from developers.hubspot.com/docs/api/webhooks ("Example payload") with the
// property names of HubSpot's default contact properties.
#[test]
fn engagement_property_changes_become_touches_at_the_property_time() {
    let events = normalize(r#"[
          {"objectId":1246965,"propertyName":"hs_email_last_click_date","propertyValue":"1700000000000","changeSource":"EMAIL","eventId":3816279340,"subscriptionId":25,"portalId":33,"appId":1160452,"occurredAt":1700000005000,"subscriptionType":"contact.propertyChange","attemptNumber":0},
          {"objectId":1246965,"propertyName":"firstname","propertyValue":"Ann","changeSource":"CRM","eventId":3816279341,"subscriptionId":26,"portalId":33,"appId":1160452,"occurredAt":1700000005000,"subscriptionType":"contact.propertyChange","attemptNumber":0},
          {"objectId":1246965,"propertyName":"email","propertyValue":"ann@example.com","changeSource":"CRM","eventId":3816279342,"subscriptionId":27,"portalId":33,"appId":1160452,"occurredAt":1700000006000,"subscriptionType":"contact.propertyChange","attemptNumber":0}
        ]"#).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].provider_id, "3816279340");
    let EventBody::Touch(touch) = &events[0].body else {
        panic!()
    };
    assert_eq!(touch.kind, TouchKind::EmailClick);
    assert_eq!(touch.occurred_at, 1_700_000_000_000);
    assert_eq!(touch.who, vec![Identity::crm("hubspot", "1246965")]);
    assert_eq!(
        events[1].body,
        EventBody::Identify {
            who: vec![
                Identity::crm("hubspot", "1246965"),
                Identity::email("ann@example.com")
            ]
        }
    );
}

// Merge fields from HubSpot's changelog "new subscription types for webhooks".
#[test]
fn a_merge_moves_the_losers_into_the_new_record() {
    let events = normalize(r#"[{"eventId":10,"subscriptionId":1,"portalId":1,"appId":1,"occurredAt":1700000000000,"subscriptionType":"contact.merge","attemptNumber":0,"objectId":100,"changeSource":"CRM","primaryObjectId":100,"mergedObjectIds":[200],"newObjectId":300,"numberOfPropertiesMoved":4}]"#).unwrap();
    assert_eq!(
        events[0].body,
        EventBody::Merge {
            into: Identity::crm("hubspot", "300"),
            from: vec![
                Identity::crm("hubspot", "100"),
                Identity::crm("hubspot", "200")
            ]
        }
    );
}

// Deal events as in developers.hubspot.com/docs/api/webhooks (deal.creation,
// deal.propertyChange with propertyName/propertyValue).
#[test]
fn deal_stages_become_outcomes() {
    let events = normalize(r#"[
          {"eventId":21,"subscriptionId":3,"portalId":33,"appId":1160452,"occurredAt":1700000000000,"subscriptionType":"deal.creation","attemptNumber":0,"objectId":9001,"changeSource":"CRM","changeFlag":"NEW"},
          {"eventId":22,"subscriptionId":4,"portalId":33,"appId":1160452,"occurredAt":1700000100000,"subscriptionType":"deal.propertyChange","attemptNumber":0,"objectId":9001,"propertyName":"dealstage","propertyValue":"closedwon","changeSource":"CRM"},
          {"eventId":23,"subscriptionId":4,"portalId":33,"appId":1160452,"occurredAt":1700000200000,"subscriptionType":"deal.propertyChange","attemptNumber":0,"objectId":9002,"propertyName":"dealstage","propertyValue":"presentationscheduled","changeSource":"CRM"},
          {"eventId":24,"subscriptionId":5,"portalId":33,"appId":1160452,"occurredAt":1700000200000,"subscriptionType":"deal.propertyChange","attemptNumber":0,"objectId":9002,"propertyName":"amount","propertyValue":"5000","changeSource":"CRM"}
        ]"#).unwrap();
    let kinds: Vec<(OutcomeKind, Option<String>, String)> = events
        .iter()
        .map(|e| match &e.body {
            EventBody::Outcome(o) => (o.kind, o.stage.clone(), o.opportunity.clone().unwrap()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                OutcomeKind::OpportunityCreated,
                None,
                "hubspot-deal:9001".into()
            ),
            (
                OutcomeKind::Won,
                Some("closedwon".into()),
                "hubspot-deal:9001".into()
            ),
            (
                OutcomeKind::StageChanged,
                Some("presentationscheduled".into()),
                "hubspot-deal:9002".into()
            ),
        ]
    );
}

#[test]
fn privacy_deletion_erases() {
    let events = normalize(r#"[{"eventId":11,"subscriptionId":1,"portalId":1,"appId":1,"occurredAt":1700000000000,"subscriptionType":"contact.privacyDeletion","attemptNumber":0,"objectId":100,"changeSource":"GDPR"}]"#).unwrap();
    assert_eq!(
        events[0].body,
        EventBody::Erase {
            who: Identity::crm("hubspot", "100")
        }
    );
}

#[test]
fn malformed_batches_say_which_event() {
    let error = normalize(r#"{"eventId":1}"#).unwrap_err();
    assert!(
        matches!(error, SourceError::Malformed(ref r) if r.contains("JSON array")),
        "{error:?}"
    );
    let error =
        normalize(r#"[{"eventId":1,"subscriptionType":"contact.creation","occurredAt":1}]"#)
            .unwrap_err();
    assert!(
        matches!(error, SourceError::Malformed(ref r) if r.contains("[0]") && r.contains("objectId")),
        "{error:?}"
    );
}

#[test]
fn the_property_table_is_configurable() {
    let mut src = source();
    src.properties
        .insert("hs_email_last_open_date".into(), "none".into());
    src.properties
        .insert("webinar_date".into(), "webinar_attended".into());
    assert_eq!(src.kind_for("hs_email_last_open_date"), None);
    assert_eq!(
        src.kind_for("webinar_date"),
        Some(TouchKind::WebinarAttended)
    );
    assert_eq!(
        src.kind_for("recent_conversion_date"),
        Some(TouchKind::FormSubmit)
    );
    src.properties.insert("x".into(), "bogus".into());
    assert!(src.validate().unwrap_err().1.contains("form_submit"));
}

// deal.associationChange as in developers.hubspot.com/docs/api/webhooks
// (associationType, fromObjectId, toObjectId, associationRemoved,
// isPrimaryAssociation).
#[test]
fn deal_associations_link_contacts_and_companies() {
    let body = r#"[
      {"eventId":31,"subscriptionId":6,"portalId":33,"appId":1160452,"occurredAt":1700000300000,"subscriptionType":"deal.associationChange","attemptNumber":0,"objectId":9001,"changeSource":"USER","associationType":"DEAL_TO_CONTACT","fromObjectId":9001,"toObjectId":51,"associationRemoved":false,"isPrimaryAssociation":false},
      {"eventId":32,"subscriptionId":6,"portalId":33,"appId":1160452,"occurredAt":1700000300000,"subscriptionType":"deal.associationChange","attemptNumber":0,"objectId":9001,"changeSource":"USER","associationType":"DEAL_TO_COMPANY","fromObjectId":9001,"toObjectId":100,"associationRemoved":false,"isPrimaryAssociation":true},
      {"eventId":33,"subscriptionId":7,"portalId":33,"appId":1160452,"occurredAt":1700000300000,"subscriptionType":"contact.associationChange","attemptNumber":0,"objectId":52,"changeSource":"USER","associationType":"CONTACT_TO_DEAL","fromObjectId":52,"toObjectId":9001,"associationRemoved":false},
      {"eventId":34,"subscriptionId":6,"portalId":33,"appId":1160452,"occurredAt":1700000300000,"subscriptionType":"deal.associationChange","attemptNumber":0,"objectId":9001,"changeSource":"USER","associationType":"DEAL_TO_CONTACT","fromObjectId":9001,"toObjectId":53,"associationRemoved":true},
      {"eventId":35,"subscriptionId":6,"portalId":33,"appId":1160452,"occurredAt":1700000300000,"subscriptionType":"deal.associationChange","attemptNumber":0,"objectId":9001,"changeSource":"USER","associationType":"DEAL_TO_LINE_ITEM","fromObjectId":9001,"toObjectId":7,"associationRemoved":false}
    ]"#;
    let events = normalize(body).unwrap();
    assert_eq!(events.len(), 3, "a removal and line items link nobody");
    let linked: Vec<(Vec<Identity>, Option<String>, Option<bool>)> = events
        .iter()
        .map(|event| match &event.body {
            EventBody::Outcome(o) => {
                assert_eq!(o.kind, OutcomeKind::Linked);
                assert_eq!(o.opportunity.as_deref(), Some("hubspot-deal:9001"));
                (o.people.clone(), o.account.clone(), o.primary)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        linked,
        vec![
            (vec![Identity::crm("hubspot", "51")], None, Some(false)),
            (vec![], Some("hubspot-company:100".into()), Some(true)),
            (vec![Identity::crm("hubspot", "52")], None, None),
        ]
    );
}
