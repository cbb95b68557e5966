//! `kind = "calendly"`: Calendly webhook subscriptions (API v2).
//!
//! Signature (developer.calendly.com/api-docs/overview/webhooks/webhook-signatures):
//! `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(signing key,
//! "t.body")>`, checked within a tolerance so a captured request cannot be replayed.
//!
//! `invitee.created` → `meeting_booked`, `invitee.canceled` → `meeting_canceled`
//! (a reschedule cancels and creates: the cancel is skipped, the new booking counts),
//! `invitee_no_show.created` → `meeting_no_show`.

use super::delivery::{Adapter, Delivery, SourceError};
use super::plausible::email_at;
use super::signature::{self, Algorithm, Encoding, TimestampUnit};
use crate::model::{Event, EventBody, Identity, Millis, Profile, Touch, TouchKind};
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendlySource {
    /// The webhook signing key given when the subscription was created.
    pub signing_key: Secret,
    /// Seconds the `t=` timestamp may differ from our clock.
    #[serde(default = "default_tolerance_secs")]
    pub tolerance_secs: u64,
}

fn default_tolerance_secs() -> u64 {
    180
}

/// The invitee's URI is stable across its events; it also lets a no-show, which
/// carries no email, find the person.
fn invitee_identity(uri: &str) -> Option<Identity> {
    let id = uri.trim_end_matches('/').rsplit('/').next()?;
    (!id.is_empty()).then(|| Identity::crm("calendly", id))
}

#[derive(Deserialize)]
#[serde(expecting = "a Calendly webhook object")]
struct Envelope {
    event: String,
    #[serde(default)]
    created_at: Option<String>,
    payload: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(expecting = "an invitee object")]
struct Invitee {
    uri: String,
    email: String,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    rescheduled: bool,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    cancellation: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(expecting = "a no-show object")]
struct NoShow {
    uri: String,
    invitee: String,
    #[serde(default)]
    created_at: Option<String>,
}

fn time(value: Option<&str>, field: &str) -> Result<Millis, SourceError> {
    let value = value.ok_or_else(|| SourceError::malformed(format!("{field} is missing")))?;
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_millis())
        .map_err(|_| SourceError::malformed(format!("{field} `{value}` is not an ISO 8601 time")))
}

impl Adapter for CalendlySource {
    fn validate(&self) -> Result<(), (String, String)> {
        self.signing_key.require("signing_key")?;
        Ok(())
    }

    fn verify(&self, delivery: &Delivery<'_>, now: Millis) -> Result<(), SourceError> {
        let header = delivery.require_header("calendly-webhook-signature")?;
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", value)) => timestamp = Some(value),
                Some(("v1", value)) => signatures.push(value),
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SourceError::BadTimestamp)?;
        signature::check_timestamp(timestamp, TimestampUnit::Seconds, now, self.tolerance_secs)?;
        let expected = signature::hmac(
            Algorithm::Sha256,
            self.signing_key.expose().as_bytes(),
            &[timestamp.as_bytes(), b".", delivery.body],
        );
        if signatures
            .into_iter()
            .any(|given| signature::matches(&expected, given, Encoding::Hex))
        {
            Ok(())
        } else {
            Err(SourceError::InvalidSignature)
        }
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        let envelope: Envelope = serde_json::from_slice(delivery.body)
            .map_err(|error| SourceError::malformed(format!("not a Calendly webhook: {error}")))?;
        match envelope.event.as_str() {
            "invitee.created" | "invitee.canceled" => {
                let invitee: Invitee = serde_json::from_value(envelope.payload)
                    .map_err(|error| SourceError::malformed(format!("payload: {error}")))?;
                let canceled = envelope.event == "invitee.canceled";
                if canceled && invitee.rescheduled {
                    // The matching invitee.created carries the new booking.
                    return Ok(Vec::new());
                }
                let mut who = vec![email_at("payload.email", &invitee.email)?];
                who.extend(invitee_identity(&invitee.uri));
                let occurred_at = if canceled {
                    let cancelled_at = invitee
                        .cancellation
                        .as_ref()
                        .and_then(|c| c.get("created_at"))
                        .and_then(|v| v.as_str());
                    time(
                        cancelled_at
                            .or(invitee.updated_at.as_deref())
                            .or(envelope.created_at.as_deref()),
                        "payload.updated_at",
                    )?
                } else {
                    time(
                        invitee
                            .created_at
                            .as_deref()
                            .or(envelope.created_at.as_deref()),
                        "payload.created_at",
                    )?
                };
                let kind = if canceled {
                    TouchKind::MeetingCanceled
                } else {
                    TouchKind::MeetingBooked
                };
                let mut events = vec![Event {
                    provider_id: format!("{}:{}", envelope.event, invitee.uri),
                    body: EventBody::Touch(Touch {
                        who: who.clone(),
                        kind,
                        occurred_at,
                        account: None,
                        properties: Some(serde_json::json!({ "scheduled_event": invitee.event })),
                    }),
                }];
                let mut fields = BTreeMap::new();
                let (first, last) = match (&invitee.first_name, &invitee.last_name) {
                    (Some(first), last) => (Some(first.clone()), last.clone()),
                    (None, _) => match invitee
                        .name
                        .as_deref()
                        .map(str::trim)
                        .and_then(|n| n.split_once(' '))
                    {
                        Some((first, last)) => (Some(first.to_string()), Some(last.to_string())),
                        None => (invitee.name.clone(), None),
                    },
                };
                for (field, value) in [("first_name", first), ("last_name", last)] {
                    if let Some(value) = value.filter(|v| !v.is_empty()) {
                        fields.insert(field.to_string(), value);
                    }
                }
                if !canceled && !fields.is_empty() {
                    events.push(Event {
                        provider_id: format!("profile:{}", invitee.uri),
                        body: EventBody::Profile(Profile {
                            who,
                            fields,
                            account: None,
                            occurred_at,
                        }),
                    });
                }
                Ok(events)
            }
            "invitee_no_show.created" => {
                let no_show: NoShow = serde_json::from_value(envelope.payload)
                    .map_err(|error| SourceError::malformed(format!("payload: {error}")))?;
                let who = invitee_identity(&no_show.invitee).ok_or_else(|| {
                    SourceError::malformed("payload.invitee is not an invitee URI")
                })?;
                Ok(vec![Event {
                    provider_id: format!("{}:{}", envelope.event, no_show.uri),
                    body: EventBody::Touch(Touch {
                        who: vec![who],
                        kind: TouchKind::MeetingNoShow,
                        occurred_at: time(
                            no_show
                                .created_at
                                .as_deref()
                                .or(envelope.created_at.as_deref()),
                            "payload.created_at",
                        )?,
                        account: None,
                        properties: None,
                    }),
                }])
            }
            // Routing forms, no-show deletions and others carry no attention.
            _ => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> CalendlySource {
        CalendlySource {
            signing_key: Secret::new("signing-key"),
            tolerance_secs: 180,
        }
    }

    fn check(header: &str, body: &str, now: Millis) -> Result<(), SourceError> {
        let headers = vec![("Calendly-Webhook-Signature".to_string(), header.to_string())];
        source().verify(
            &Delivery {
                method: "POST",
                url: "",
                headers: &headers,
                body: body.as_bytes(),
            },
            now,
        )
    }

    // Computed from the documented algorithm (VENDORS.md §8: key `signing-key`).
    #[test]
    fn the_documented_signature_verifies() {
        let body = r#"{"event":"invitee.created"}"#;
        let header =
            "t=1700000000,v1=372f72588af1e3af76b360730e53401de0f7c11ccdbc634e903f2e9656352579";
        assert_eq!(check(header, body, 1_700_000_000_000), Ok(()));
        assert_eq!(
            check(header, r#"{"event":"invitee.canceled"}"#, 1_700_000_000_000),
            Err(SourceError::InvalidSignature)
        );
        assert_eq!(
            check(header, body, 1_700_000_181_000),
            Err(SourceError::StaleTimestamp(180))
        );
        assert_eq!(
            check("v1=372f", body, 1_700_000_000_000),
            Err(SourceError::BadTimestamp)
        );
        let headers = vec![];
        assert_eq!(
            source().verify(
                &Delivery {
                    method: "POST",
                    url: "",
                    headers: &headers,
                    body: body.as_bytes()
                },
                0
            ),
            Err(SourceError::MissingHeader("calendly-webhook-signature"))
        );
    }

    fn normalize(body: &str) -> Result<Vec<Event>, SourceError> {
        source().normalize(&Delivery {
            method: "POST",
            url: "",
            headers: &[],
            body: body.as_bytes(),
        })
    }

    // Invitee fields from Calendly's Invitee resource and its webhook payload docs
    // (developer.calendly.com, "Webhook payload").
    pub const CREATED: &str = r#"{"created_at":"2026-11-20T18:30:00.000000Z","created_by":"https://api.calendly.com/users/AAAAAAAAAAAAAAAA","event":"invitee.created","payload":{"cancel_url":"https://calendly.com/cancellations/AAAAAAAAAAAAAAAA","created_at":"2026-11-20T18:29:59.000000Z","email":"test@example.com","event":"https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2","first_name":"John","last_name":"Doe","name":"John Doe","new_invitee":null,"no_show":null,"old_invitee":null,"questions_and_answers":[],"reschedule_url":"https://calendly.com/reschedulings/AAAAAAAAAAAAAAAA","rescheduled":false,"status":"active","text_reminder_number":null,"timezone":"America/New_York","tracking":{"utm_campaign":null,"utm_source":null,"utm_medium":null,"utm_content":null,"utm_term":null,"salesforce_uuid":null},"updated_at":"2026-11-20T18:29:59.000000Z","uri":"https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/AAAAAAAAAAAAAAAA"}}"#;

    #[test]
    fn a_booking_is_a_meeting_booked_with_the_invitee_profile() {
        let events = normalize(CREATED).unwrap();
        let EventBody::Touch(touch) = &events[0].body else {
            panic!()
        };
        assert_eq!(touch.kind, TouchKind::MeetingBooked);
        assert_eq!(
            touch.who,
            vec![
                Identity::email("test@example.com"),
                Identity::crm("calendly", "AAAAAAAAAAAAAAAA")
            ]
        );
        assert_eq!(touch.occurred_at, 1_795_199_399_000);
        let EventBody::Profile(profile) = &events[1].body else {
            panic!()
        };
        assert_eq!(profile.fields["first_name"], "John");
        assert_eq!(profile.fields["last_name"], "Doe");
    }

    #[test]
    fn a_cancel_is_negative_unless_it_is_a_reschedule() {
        let canceled = CREATED
            .replace(
                "\"event\":\"invitee.created\"",
                "\"event\":\"invitee.canceled\"",
            )
            .replace("\"status\":\"active\"", "\"status\":\"canceled\"");
        let events = normalize(&canceled).unwrap();
        let EventBody::Touch(touch) = &events[0].body else {
            panic!()
        };
        assert_eq!(touch.kind, TouchKind::MeetingCanceled);
        assert_eq!(events.len(), 1);
        assert!(
            normalize(&canceled.replace("\"rescheduled\":false", "\"rescheduled\":true"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_no_show_finds_the_invitee_by_uri() {
        let events = normalize(r#"{"created_at":"2026-11-21T10:00:00.000000Z","event":"invitee_no_show.created","payload":{"uri":"https://api.calendly.com/invitee_no_shows/NS1","invitee":"https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/AAAAAAAAAAAAAAAA","created_at":"2026-11-21T10:00:00.000000Z"}}"#).unwrap();
        let EventBody::Touch(touch) = &events[0].body else {
            panic!()
        };
        assert_eq!(touch.kind, TouchKind::MeetingNoShow);
        assert_eq!(
            touch.who,
            vec![Identity::crm("calendly", "AAAAAAAAAAAAAAAA")]
        );
    }

    #[test]
    fn malformed_payloads_say_why() {
        assert!(
            matches!(normalize("[]"), Err(SourceError::Malformed(r)) if r.contains("not a Calendly webhook"))
        );
        assert!(
            matches!(normalize(r#"{"event":"invitee.created","payload":{"uri":"x"}}"#), Err(SourceError::Malformed(r)) if r.contains("email"))
        );
        assert!(
            normalize(r#"{"event":"routing_form_submission.created","payload":{}}"#)
                .unwrap()
                .is_empty()
        );
    }
}
