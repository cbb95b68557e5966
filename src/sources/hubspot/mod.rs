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

use super::delivery::{Adapter, Credentials, Delivery, Head, SourceError};
use super::kind_table;
use super::signature::{self, Algorithm, Encoding, TimestampUnit};
use crate::model::{Event, EventBody, Identity, Millis, Outcome, OutcomeKind, Touch, TouchKind};
use crate::secret::Secret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

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
    /// Private app token to read a deal's contacts, companies and amount when its
    /// webhook arrives (scopes `crm.objects.deals.read`, `crm.objects.contacts.read`,
    /// `crm.objects.companies.read`). Unset: a `hubspot` sink's token is used; with
    /// neither, deal outcomes stay under the deal until associations link them.
    #[serde(default)]
    pub access_token: Option<Secret>,
    /// API base for those reads.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Most HubSpot API calls per second for those reads (HubSpot allows private
    /// apps 100 per 10 seconds).
    #[serde(default = "default_lookups_per_second")]
    pub lookups_per_second: u32,
}

fn default_api_url() -> String {
    "https://api.hubapi.com".into()
}
fn default_lookups_per_second() -> u32 {
    5
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
        kind_table::kind_for(&self.properties, DEFAULT_PROPERTIES, property, |a, b| {
            a == b
        })
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
        self.client_secret.require("client_secret")?;
        if let Some(token) = &self.access_token {
            token.require("access_token")?;
        }
        if !(self.api_url.starts_with("https://") || self.api_url.starts_with("http://")) {
            return Err((
                "api_url".into(),
                "must start with https:// or http://".into(),
            ));
        }
        if self.lookups_per_second == 0 {
            return Err(("lookups_per_second".into(), "must be at least 1".into()));
        }
        kind_table::check("properties", &self.properties)?;
        Ok(())
    }

    /// A signature header, and for v3 a fresh timestamp, are needed before the body is
    /// read; the signature itself is checked on the body.
    fn authenticate(&self, head: &Head<'_>, now: Millis) -> Result<Credentials, SourceError> {
        if head.header("x-hubspot-signature-v3").is_some() {
            let timestamp = head.require_header("x-hubspot-request-timestamp")?;
            signature::check_timestamp(
                timestamp.trim(),
                TimestampUnit::Milliseconds,
                now,
                self.tolerance_secs,
            )?;
        } else if !(self.accept_legacy_signatures && head.header("x-hubspot-signature").is_some()) {
            return Err(SourceError::MissingHeader("X-HubSpot-Signature-v3"));
        }
        Ok(Credentials::InBody)
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
#[serde(expecting = "a HubSpot event object")]
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
    /// `*.associationChange`: `DEAL_TO_CONTACT`, `CONTACT_TO_DEAL`, `DEAL_TO_COMPANY`, …
    association_type: Option<String>,
    from_object_id: Option<serde_json::Number>,
    to_object_id: Option<serde_json::Number>,
    #[serde(default)]
    association_removed: bool,
    is_primary_association: Option<bool>,
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
                    // A cleared or unusable address ties the contact to nobody new.
                    let Ok(email) = Identity::checked_email(value) else {
                        return Ok(None);
                    };
                    Some(EventBody::Identify {
                        who: vec![contact(&n.object_id), email],
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
            "deal.associationChange"
            | "contact.associationChange"
            | "company.associationChange" => association(n),
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
        ..Default::default()
    }
}

/// A contact or company associated with a deal is linked to it. A removed
/// association is not undone: the person did take part in the deal.
fn association(n: &Notification) -> Option<EventBody> {
    if n.association_removed {
        return None;
    }
    let (from, to) = (n.from_object_id.as_ref()?, n.to_object_id.as_ref()?);
    let (deal, other, contact_side) = match n.association_type.as_deref()? {
        "DEAL_TO_CONTACT" => (from, to, true),
        "CONTACT_TO_DEAL" => (to, from, true),
        "DEAL_TO_COMPANY" => (from, to, false),
        "COMPANY_TO_DEAL" => (to, from, false),
        _ => return None,
    };
    let mut outcome = Outcome {
        kind: OutcomeKind::Linked,
        opportunity: Some(format!("hubspot-deal:{deal}")),
        primary: n.is_primary_association,
        occurred_at: n.occurred_at,
        ..Outcome::default()
    };
    if contact_side {
        outcome.people.push(contact(other));
    } else {
        outcome.account = Some(format!("hubspot-company:{other}"));
    }
    Some(EventBody::Outcome(outcome))
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

pub mod deals;
#[cfg(test)]
mod tests;
