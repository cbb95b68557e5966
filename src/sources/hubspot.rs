//! `kind = "hubspot"`: HubSpot app webhooks (Webhooks API v3 payloads).
//!
//! Signatures (developers.hubspot.com/docs/api/webhooks/validating-requests):
//! - v3: `X-HubSpot-Signature-v3` = base64 HMAC-SHA256(client secret,
//!   method ‖ URI ‖ body ‖ `X-HubSpot-Request-Timestamp`), timestamp in epoch ms, at most
//!   5 minutes old. HubSpot signs the URI with twelve percent-escapes decoded.
//! - v1: `X-HubSpot-Signature` = hex SHA-256(client secret ‖ body).
//! - v2: `X-HubSpot-Signature` = hex SHA-256(client secret ‖ method ‖ URI ‖ body).
//!
//! HubSpot sends v3 alongside v1 to apps; when v3 is present it alone decides.

use super::signature::{self, Algorithm, Encoding, TimestampUnit};
use super::{Adapter, Delivery, SourceError};
use crate::model::{Event, EventBody, Identity, Millis, Outcome, OutcomeKind, Touch, TouchKind};
use crate::secret::Secret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The value of a `properties` entry that switches a default mapping off.
const IGNORE: &str = "none";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubspotSource {
    /// The app's client secret (HubSpot developer account → app → Auth).
    pub client_secret: Secret,
    /// Contact property (internal name) → touch kind, added to and overriding the
    /// defaults; `"none"` switches a default off.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Accept v1/v2 signatures when a request carries no v3 signature.
    #[serde(default = "default_true")]
    pub accept_legacy_signatures: bool,
    /// Seconds a v3 request timestamp may differ from our clock.
    #[serde(default = "default_tolerance_secs")]
    pub tolerance_secs: u64,
}

fn default_true() -> bool {
    true
}
fn default_tolerance_secs() -> u64 {
    300
}

/// Engagement properties HubSpot maintains on contacts, and what a change means.
/// Internal names from HubSpot's default contact properties.
pub const DEFAULT_PROPERTIES: &[(&str, TouchKind)] = &[
    ("hs_email_last_open_date", TouchKind::EmailOpen),
    ("hs_email_last_click_date", TouchKind::EmailClick),
    ("hs_email_last_reply_date", TouchKind::EmailReply),
    ("hs_sales_email_last_opened", TouchKind::EmailOpen),
    ("hs_sales_email_last_clicked", TouchKind::EmailClick),
    ("hs_sales_email_last_replied", TouchKind::EmailReply),
    ("recent_conversion_date", TouchKind::FormSubmit),
    ("hs_analytics_last_visit_timestamp", TouchKind::SiteVisit),
    ("engagements_last_meeting_booked", TouchKind::MeetingBooked),
];

impl HubspotSource {
    fn kind_for(&self, property: &str) -> Option<TouchKind> {
        match self.properties.get(property) {
            Some(name) if name == IGNORE => None,
            Some(name) => TouchKind::parse(name),
            None => DEFAULT_PROPERTIES
                .iter()
                .find(|(default, _)| *default == property)
                .map(|(_, kind)| *kind),
        }
    }

    fn verify_v3(
        &self,
        delivery: &Delivery<'_>,
        given: &str,
        now: Millis,
    ) -> Result<(), SourceError> {
        let timestamp = delivery.require_header("x-hubspot-request-timestamp")?;
        signature::check_timestamp(
            timestamp.trim(),
            TimestampUnit::Milliseconds,
            now,
            self.tolerance_secs,
        )?;
        let decoded = decode_uri(delivery.url);
        // HubSpot signs the decoded URI; its SDKs hash the URL verbatim. Both forms
        // need the secret, so accepting either costs nothing.
        let candidates: &[&str] = if decoded == delivery.url {
            &[delivery.url]
        } else {
            &[&decoded, delivery.url]
        };
        let signed_with = |uri: &str| {
            let expected = signature::hmac(
                Algorithm::Sha256,
                self.client_secret.expose().as_bytes(),
                &[
                    delivery.method.as_bytes(),
                    uri.as_bytes(),
                    delivery.body,
                    timestamp.as_bytes(),
                ],
            );
            signature::matches(&expected, given.trim(), Encoding::Base64)
        };
        if candidates.iter().any(|uri| signed_with(uri)) {
            Ok(())
        } else {
            Err(SourceError::InvalidSignature)
        }
    }

    /// v1 and v2 are a plain SHA-256, not an HMAC: the secret is hashed with the rest.
    fn verify_legacy(&self, delivery: &Delivery<'_>, given: &str) -> Result<(), SourceError> {
        let mut hash = Sha256::new();
        hash.update(self.client_secret.expose().as_bytes());
        match delivery
            .header("x-hubspot-signature-version")
            .unwrap_or("v1")
            .trim()
        {
            "v1" => {}
            "v2" => {
                hash.update(delivery.method.as_bytes());
                hash.update(delivery.url.as_bytes());
            }
            _ => return Err(SourceError::InvalidSignature),
        }
        hash.update(delivery.body);
        signature::check(&hash.finalize(), given.trim(), Encoding::Hex)
    }
}

/// The twelve escapes HubSpot decodes before signing a v3 URI; others stay encoded.
fn decode_uri(uri: &str) -> String {
    const DECODED: &[(&str, char)] = &[
        ("%3A", ':'),
        ("%2F", '/'),
        ("%3F", '?'),
        ("%40", '@'),
        ("%21", '!'),
        ("%24", '$'),
        ("%27", '\''),
        ("%28", '('),
        ("%29", ')'),
        ("%2A", '*'),
        ("%2C", ','),
        ("%3B", ';'),
    ];
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(position) = rest.find('%') {
        out.push_str(&rest[..position]);
        let escape = rest.get(position..position + 3).unwrap_or("");
        match DECODED
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(escape))
        {
            Some((_, ch)) => {
                out.push(*ch);
                rest = &rest[position + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[position + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl Adapter for HubspotSource {
    fn validate(&self) -> Result<(), (String, String)> {
        if self.client_secret.expose().is_empty() {
            return Err(("client_secret".into(), "must not be empty".into()));
        }
        for (property, kind) in &self.properties {
            if kind != IGNORE && TouchKind::parse(kind).is_none() {
                return Err((
                    format!("properties.{property}"),
                    format!(
                        "unknown kind `{kind}`: expected `none` or one of {}",
                        TouchKind::names()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn verify(&self, delivery: &Delivery<'_>, now: Millis) -> Result<(), SourceError> {
        if let Some(signature) = delivery.header("x-hubspot-signature-v3") {
            return self.verify_v3(delivery, signature, now);
        }
        match delivery.header("x-hubspot-signature") {
            Some(signature) if self.accept_legacy_signatures => {
                self.verify_legacy(delivery, signature)
            }
            _ => Err(SourceError::MissingHeader("X-HubSpot-Signature-v3")),
        }
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        let notifications: Vec<serde_json::Value> =
            serde_json::from_slice(delivery.body).map_err(|error| {
                SourceError::malformed(format!("expected a JSON array of HubSpot events: {error}"))
            })?;
        let mut events = Vec::new();
        for (index, raw) in notifications.into_iter().enumerate() {
            let notification: Notification = serde_json::from_value(raw)
                .map_err(|error| SourceError::malformed(format!("event [{index}]: {error}")))?;
            if let Some(body) = self.event_body(&notification, index)? {
                events.push(Event {
                    provider_id: notification.event_id.to_string(),
                    body,
                });
            }
        }
        Ok(events)
    }
}

/// One element of HubSpot's webhook array. Ids arrive as JSON numbers.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    event_id: serde_json::Number,
    #[serde(alias = "eventType")]
    subscription_type: String,
    object_id: serde_json::Number,
    occurred_at: i64,
    property_name: Option<String>,
    property_value: Option<String>,
    primary_object_id: Option<serde_json::Number>,
    new_object_id: Option<serde_json::Number>,
    #[serde(default)]
    merged_object_ids: Vec<serde_json::Number>,
}

fn contact(id: &serde_json::Number) -> Identity {
    Identity::crm("hubspot", id.to_string())
}

impl HubspotSource {
    fn event_body(&self, n: &Notification, index: usize) -> Result<Option<EventBody>, SourceError> {
        Ok(match n.subscription_type.as_str() {
            "contact.propertyChange" => {
                let property = n.property_name.as_deref().ok_or_else(|| {
                    SourceError::malformed(format!(
                        "event [{index}]: propertyChange without propertyName"
                    ))
                })?;
                let value = n.property_value.as_deref().unwrap_or("");
                if property == "email" {
                    if !value.contains('@') {
                        return Ok(None);
                    }
                    Some(EventBody::Identify {
                        who: vec![contact(&n.object_id), Identity::email(value)],
                    })
                } else if let Some(kind) = self.kind_for(property) {
                    if value.is_empty() {
                        // A cleared engagement date is not an engagement.
                        return Ok(None);
                    }
                    Some(EventBody::Touch(Touch {
                        who: vec![contact(&n.object_id)],
                        kind,
                        occurred_at: property_time(value).unwrap_or(n.occurred_at),
                        account: None,
                        properties: Some(serde_json::json!({ "property": property })),
                    }))
                } else {
                    None
                }
            }
            "contact.merge" => {
                let into = n
                    .new_object_id
                    .as_ref()
                    .or(n.primary_object_id.as_ref())
                    .unwrap_or(&n.object_id);
                let mut from: Vec<Identity> = n
                    .merged_object_ids
                    .iter()
                    .chain(n.primary_object_id.iter())
                    .chain(std::iter::once(&n.object_id))
                    .filter(|id| *id != into)
                    .map(contact)
                    .collect();
                from.sort();
                from.dedup();
                Some(EventBody::Merge {
                    into: contact(into),
                    from,
                })
            }
            "contact.privacyDeletion" => Some(EventBody::Erase {
                who: contact(&n.object_id),
            }),
            "deal.creation" => Some(EventBody::Outcome(deal_outcome(
                n,
                OutcomeKind::OpportunityCreated,
                None,
            ))),
            "deal.propertyChange" if n.property_name.as_deref() == Some("dealstage") => {
                let stage = n.property_value.clone().unwrap_or_default();
                let kind = match stage.as_str() {
                    "closedwon" => OutcomeKind::Won,
                    "closedlost" => OutcomeKind::Lost,
                    _ => OutcomeKind::StageChanged,
                };
                Some(EventBody::Outcome(deal_outcome(n, kind, Some(stage))))
            }
            // Creation, plain deletion and other objects carry no attention.
            _ => None,
        })
    }
}

/// Deal webhooks name the deal only; its contacts and company come with association
/// events, so the outcome is kept under the deal until they are linked.
fn deal_outcome(n: &Notification, kind: OutcomeKind, stage: Option<String>) -> Outcome {
    Outcome {
        who: Vec::new(),
        account: None,
        kind,
        opportunity: Some(format!("hubspot-deal:{}", n.object_id)),
        stage,
        amount: None,
        currency: None,
        occurred_at: n.occurred_at,
    }
}

/// HubSpot date properties change to epoch milliseconds (or an ISO date).
fn property_time(value: &str) -> Option<Millis> {
    if let Ok(millis) = value.trim().parse::<i64>() {
        return Some(millis);
    }
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(value.trim()) {
        return Some(time.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    const URI: &str = "https://www.example.com/webhook_uri";

    fn source() -> HubspotSource {
        HubspotSource {
            client_secret: Secret::new(SECRET),
            properties: BTreeMap::new(),
            accept_legacy_signatures: true,
            tolerance_secs: 300,
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
}
