//! `kind = "zoom"`: Zoom webinar webhooks (Zoom Marketplace app, event subscriptions).
//!
//! Signature (developers.zoom.us/docs/api/webhooks/#verify-webhook-events):
//! `x-zm-signature: v0=<hex HMAC-SHA256(secret token, "v0:" + x-zm-request-timestamp +
//! ":" + body)>`. Zoom checks the endpoint with a signed `endpoint.url_validation`
//! event, answered with the `plainToken` and its HMAC (`encryptedToken`), when the app
//! is saved and every 72 hours.
//!
//! `webinar.registration_created` → `webinar_registered` (+ registrant profile);
//! `webinar.participant_joined` / `left` → `webinar_attended`, the leave carrying the
//! minutes attended, which `[scoring] webinar_full_minutes` turns into weight.

use super::delivery::{Adapter, Delivery, Reply, SourceError};
use super::plausible::email_at;
use super::signature::{self, Algorithm, Encoding, TimestampUnit};
use crate::model::{Event, EventBody, Millis, Profile, Touch, TouchKind};
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoomSource {
    /// The app's Secret Token (Marketplace → app → Features → Access).
    pub secret_token: Secret,
    /// Seconds `x-zm-request-timestamp` may differ from our clock.
    #[serde(default = "default_tolerance_secs")]
    pub tolerance_secs: u64,
}

fn default_tolerance_secs() -> u64 {
    300
}

#[derive(Deserialize)]
#[serde(expecting = "a Zoom event object")]
struct Envelope {
    event: String,
    #[serde(default)]
    event_ts: Option<i64>,
    #[serde(default)]
    payload: serde_json::Value,
}

fn text<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
}

fn zoom_time(value: Option<&str>) -> Option<Millis> {
    chrono::DateTime::parse_from_rfc3339(value?)
        .ok()
        .map(|t| t.timestamp_millis())
}

impl ZoomSource {
    fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        signature::hmac(
            Algorithm::Sha256,
            self.secret_token.expose().as_bytes(),
            parts,
        )
    }
}

impl Adapter for ZoomSource {
    fn validate(&self) -> Result<(), (String, String)> {
        self.secret_token.require("secret_token")?;
        Ok(())
    }

    fn verify(&self, delivery: &Delivery<'_>, now: Millis) -> Result<(), SourceError> {
        let header = delivery.require_header("x-zm-signature")?;
        let timestamp = delivery.require_header("x-zm-request-timestamp")?;
        signature::check_timestamp(
            timestamp.trim(),
            TimestampUnit::Seconds,
            now,
            self.tolerance_secs,
        )?;
        let given = header
            .trim()
            .strip_prefix("v0=")
            .ok_or(SourceError::InvalidSignature)?;
        let expected = self.mac(&[b"v0:", timestamp.trim().as_bytes(), b":", delivery.body]);
        signature::check(&expected, given, Encoding::Hex)
    }

    fn probe(&self, delivery: &Delivery<'_>, now: Millis) -> Option<Result<Reply, SourceError>> {
        let envelope: Envelope = serde_json::from_slice(delivery.body).ok()?;
        if envelope.event != "endpoint.url_validation" {
            return None;
        }
        Some(self.verify(delivery, now).and_then(|()| {
            let plain = text(&envelope.payload, "plainToken")
                .ok_or_else(|| SourceError::malformed("payload.plainToken is missing"))?;
            let answer = serde_json::json!({
                "plainToken": plain,
                "encryptedToken": Encoding::Hex.encode(&self.mac(&[plain.as_bytes()])),
            });
            Ok(Reply::ok("application/json", answer.to_string()))
        }))
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        let envelope: Envelope = serde_json::from_slice(delivery.body)
            .map_err(|error| SourceError::malformed(format!("not a Zoom event: {error}")))?;
        let object = envelope.payload.get("object");
        let webinar = object
            .and_then(|o| text(o, "uuid").or_else(|| o.get("id").and_then(|i| i.as_str())))
            .unwrap_or("");
        let webinar_id = object
            .and_then(|o| o.get("id"))
            .map(|i| i.to_string().trim_matches('"').to_string());
        let (person, kind) = match envelope.event.as_str() {
            "webinar.registration_created" => (
                object.and_then(|o| o.get("registrant")),
                TouchKind::WebinarRegistered,
            ),
            "webinar.participant_joined" | "webinar.participant_left" => (
                object.and_then(|o| o.get("participant")),
                TouchKind::WebinarAttended,
            ),
            _ => return Ok(Vec::new()),
        };
        let person = person.ok_or_else(|| {
            SourceError::malformed(format!("{}: payload.object has no person", envelope.event))
        })?;
        let Some(email) = text(person, "email") else {
            // Guests who joined without registering have no email to attribute.
            return Ok(Vec::new());
        };
        let who = vec![email_at("the participant's email", email)?];
        let person_id = text(person, "participant_uuid")
            .or_else(|| text(person, "id"))
            .or_else(|| text(person, "registrant_id"))
            .unwrap_or(email);
        let mut properties = serde_json::json!({ "webinar": webinar_id, "topic": object.and_then(|o| text(o, "topic")) });
        let occurred_at = match envelope.event.as_str() {
            "webinar.participant_joined" => {
                properties["joined"] = true.into();
                zoom_time(text(person, "join_time"))
            }
            "webinar.participant_left" => {
                let joined = zoom_time(text(person, "join_time"));
                let left = zoom_time(text(person, "leave_time"));
                if let (Some(joined), Some(left)) = (joined, left) {
                    properties["minutes"] = (((left - joined).max(0) as f64) / 60_000.0).into();
                }
                left
            }
            _ => zoom_time(text(person, "create_time")),
        }
        .or(envelope.event_ts)
        .ok_or_else(|| SourceError::malformed("no time on the event (event_ts)"))?;
        let provider_id = format!("{}:{webinar}:{person_id}:{occurred_at}", envelope.event);
        let mut events = vec![Event {
            provider_id: provider_id.clone(),
            body: EventBody::Touch(Touch {
                who: who.clone(),
                kind,
                occurred_at,
                account: None,
                properties: Some(properties),
            }),
        }];
        if kind == TouchKind::WebinarRegistered {
            let fields: BTreeMap<String, String> = [
                ("first_name", "first_name"),
                ("last_name", "last_name"),
                ("org", "company"),
                ("job_title", "title"),
                ("industry", "industry"),
                ("no_of_employees", "employees"),
                ("country", "country"),
                ("city", "city"),
                ("phone", "phone"),
            ]
            .into_iter()
            .filter_map(|(zoom, ours)| Some((ours.to_string(), text(person, zoom)?.to_string())))
            .collect();
            if !fields.is_empty() {
                events.push(Event {
                    provider_id: format!("{provider_id}:profile"),
                    body: EventBody::Profile(Profile {
                        who,
                        fields,
                        account: None,
                        occurred_at,
                    }),
                });
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Identity;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    fn source() -> ZoomSource {
        ZoomSource {
            secret_token: Secret::new("secretValueTest"),
            tolerance_secs: 300,
        }
    }

    fn delivery<'a>(headers: &'a [(String, String)], body: &'a str) -> Delivery<'a> {
        Delivery {
            method: "POST",
            url: "",
            headers,
            body: body.as_bytes(),
        }
    }

    fn signed(ts: &str, sig: &str) -> Vec<(String, String)> {
        vec![
            ("x-zm-signature".into(), sig.into()),
            ("x-zm-request-timestamp".into(), ts.into()),
        ]
    }

    // Computed from the documented algorithm (VENDORS.md §8; zoom/webhook-sample index.js).
    #[test]
    fn the_documented_signature_verifies() {
        let body = r#"{"event":"meeting.started"}"#;
        let headers = signed(
            "1654503849",
            "v0=42955a258be9873d016a2973a6697442d5ac968110bfccb89f9760492920ecc9",
        );
        assert_eq!(
            source().verify(&delivery(&headers, body), 1_654_503_849_000),
            Ok(())
        );
        assert_eq!(
            source().verify(
                &delivery(&headers, r#"{"event":"meeting.ended"}"#),
                1_654_503_849_000
            ),
            Err(SourceError::InvalidSignature)
        );
        assert_eq!(
            source().verify(&delivery(&headers, body), 1_654_504_150_000),
            Err(SourceError::StaleTimestamp(300))
        );
        assert_eq!(
            source().verify(&delivery(&[], body), 0),
            Err(SourceError::MissingHeader("x-zm-signature"))
        );
    }

    // plainToken/encryptedToken pair from elastic/beats x-pack/filebeat/input/http_endpoint/crc_test.go.
    #[test]
    fn url_validation_answers_the_challenge() {
        let body = r#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
        let ts = "1654503849";
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secretValueTest").unwrap();
        mac.update(format!("v0:{ts}:{body}").as_bytes());
        let headers = signed(
            ts,
            &format!("v0={}", hex::encode(mac.finalize().into_bytes())),
        );
        let reply = source()
            .probe(&delivery(&headers, body), 1_654_503_849_000)
            .unwrap()
            .unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": "70c1f2e2e6ca2d39297490d1f9142c7d701415ea8e6151f6562a08fa657a40ff"})
        );
        // Unsigned challenges are refused.
        assert_eq!(
            source().probe(&delivery(&[], body), 0).unwrap(),
            Err(SourceError::MissingHeader("x-zm-signature"))
        );
        assert!(source()
            .probe(
                &delivery(&headers, r#"{"event":"webinar.started","payload":{}}"#),
                0
            )
            .is_none());
    }

    fn normalize(body: &str) -> Result<Vec<Event>, SourceError> {
        source().normalize(&delivery(&[], body))
    }

    // Field names from Zoom's webinar.registration_created and webinar.participant_left
    // event references (developers.zoom.us/docs/api/webinars/events).
    pub const REGISTERED: &str = r#"{"event":"webinar.registration_created","event_ts":1795190400000,"payload":{"account_id":"AAAAAABBBB","object":{"uuid":"czLF6FFFoQOKgAB99DlDb9g==","id":"85936634568","host_id":"z8yCxjabcdEFGHfp8uQ","topic":"Pricing for teams","type":5,"start_time":"2026-11-26T16:00:00Z","duration":60,"timezone":"America/Los_Angeles","registrant":{"id":"abcdefghij0-klmnopq23456","first_name":"Jill","last_name":"Chill","email":"jchill@example.com","org":"Acme","job_title":"VP Engineering","country":"US","no_of_employees":"51-100","status":"approved","join_url":"https://example.zoom.us/w/85936634568?tk=xyz","create_time":"2026-11-21T10:00:00Z"}}}}"#;

    #[test]
    fn a_registration_is_a_touch_with_the_registrant_profile() {
        let events = normalize(REGISTERED).unwrap();
        let EventBody::Touch(touch) = &events[0].body else {
            panic!()
        };
        assert_eq!(touch.kind, TouchKind::WebinarRegistered);
        assert_eq!(touch.who, vec![Identity::email("jchill@example.com")]);
        let EventBody::Profile(profile) = &events[1].body else {
            panic!()
        };
        assert_eq!(profile.fields["company"], "Acme");
        assert_eq!(profile.fields["title"], "VP Engineering");
        assert_eq!(profile.fields["employees"], "51-100");
    }

    #[test]
    fn leaving_reports_the_minutes_attended() {
        let left = r#"{"event":"webinar.participant_left","event_ts":1795197000000,"payload":{"account_id":"AAAAAABBBB","object":{"uuid":"czLF6FFFoQOKgAB99DlDb9g==","id":"85936634568","host_id":"z8yCxjabcdEFGHfp8uQ","topic":"Pricing for teams","start_time":"2026-11-26T16:00:00Z","participant":{"user_id":"16778240","user_name":"Jill Chill","participant_uuid":"55555AAAiAAAAAiAiAiiAii","join_time":"2026-11-26T16:00:00Z","leave_time":"2026-11-26T16:45:00Z","email":"jchill@example.com","registrant_id":"abcdefghij0-klmnopq23456"}}}}"#;
        let events = normalize(left).unwrap();
        let EventBody::Touch(touch) = &events[0].body else {
            panic!()
        };
        assert_eq!(touch.kind, TouchKind::WebinarAttended);
        assert_eq!(touch.properties.as_ref().unwrap()["minutes"], 45.0);
        let joined = left.replace("participant_left", "participant_joined");
        let events = normalize(&joined).unwrap();
        let EventBody::Touch(touch) = &events[0].body else {
            panic!()
        };
        assert_eq!(touch.properties.as_ref().unwrap()["joined"], true);
        assert_ne!(
            events[0].provider_id,
            normalize(left).unwrap()[0].provider_id
        );
    }

    #[test]
    fn malformed_payloads_say_why() {
        assert!(
            matches!(normalize("[]"), Err(SourceError::Malformed(r)) if r.contains("not a Zoom event"))
        );
        assert!(
            matches!(normalize(r#"{"event":"webinar.registration_created","payload":{"object":{}}}"#), Err(SourceError::Malformed(r)) if r.contains("no person"))
        );
        assert!(normalize(r#"{"event":"meeting.started","payload":{}}"#)
            .unwrap()
            .is_empty());
    }
}
