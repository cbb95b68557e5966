//! `kind = "standard"`: our own touch API, signed per Standard Webhooks v1
//! (standardwebhooks.com), so any of its reference libraries can send to us.
//!
//! Signed content is `webhook-id.webhook-timestamp.body`, HMAC-SHA256 with the bytes of
//! the `whsec_` secret, serialized `v1,<base64>`; several space-separated signatures
//! may be sent during key rotation.
//!
//! Deliveries sent through Svix carry the same three headers under Svix's names,
//! `svix-id`, `svix-timestamp` and `svix-signature`; Svix's own verifiers take either
//! (svix/svix-webhooks `javascript/src/index.ts`: `svix-id` else `webhook-id`), and so
//! do we.

use super::delivery::{Adapter, Credentials, Delivery, Head, SourceError};
use super::plausible::email_at;
use super::signature::{self, Algorithm, Encoding, TimestampUnit};
use crate::model::{
    Event, EventBody, Identity, Millis, Outcome, OutcomeKind, Profile, Touch, TouchKind,
};
use crate::secret::Secret;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandardSource {
    /// The signing secret, `whsec_` followed by base64 (as the libraries generate).
    pub secret: Secret,
    /// Seconds a `webhook-timestamp` may differ from our clock, either way.
    #[serde(default = "default_tolerance_secs")]
    pub tolerance_secs: u64,
}

fn default_tolerance_secs() -> u64 {
    300
}

fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD
        .decode(encoded)
        .or_else(|_| STANDARD_NO_PAD.decode(encoded.trim_end_matches('=')))
        .ok()?;
    (!key.is_empty()).then_some(key)
}

/// A header under Svix's name, else under its Standard Webhooks name: the order of
/// Svix's own verifier (`headers["svix-id"] ?? headers["webhook-id"]`).
fn signed_header<'a>(head: &Head<'a>, name: &'static str) -> Result<&'a str, SourceError> {
    let svix = match name {
        "webhook-id" => "svix-id",
        "webhook-timestamp" => "svix-timestamp",
        _ => "svix-signature",
    };
    head.header(svix)
        .or_else(|| head.header(name))
        .ok_or(SourceError::MissingHeader(name))
}

impl StandardSource {
    /// `webhook-id`, `webhook-timestamp` (within the tolerance) and `webhook-signature`,
    /// or the same under Svix's names.
    fn signed_headers<'a>(
        &self,
        head: &Head<'a>,
        now: Millis,
    ) -> Result<(&'a str, &'a str, &'a str), SourceError> {
        let id = signed_header(head, "webhook-id")?;
        let timestamp = signed_header(head, "webhook-timestamp")?;
        let signatures = signed_header(head, "webhook-signature")?;
        signature::check_timestamp(
            timestamp.trim(),
            TimestampUnit::Seconds,
            now,
            self.tolerance_secs,
        )?;
        Ok((id, timestamp, signatures))
    }
}

impl Adapter for StandardSource {
    fn validate(&self) -> Result<(), (String, String)> {
        if decode_secret(self.secret.expose()).is_none() {
            return Err((
                "secret".into(),
                "must be `whsec_` followed by base64 of the key bytes".into(),
            ));
        }
        Ok(())
    }

    /// The signature needs the body, but its headers and a fresh timestamp do not: a
    /// request without them is refused before the body is read.
    fn authenticate(&self, head: &Head<'_>, now: Millis) -> Result<Credentials, SourceError> {
        self.signed_headers(head, now).map(|_| Credentials::InBody)
    }

    fn verify(&self, delivery: &Delivery<'_>, now: Millis) -> Result<(), SourceError> {
        let (id, timestamp, signatures) = self.signed_headers(&delivery.head(), now)?;
        let key = decode_secret(self.secret.expose()).ok_or(SourceError::InvalidSignature)?;
        let expected = signature::hmac(
            Algorithm::Sha256,
            &key,
            &[
                id.as_bytes(),
                b".",
                timestamp.as_bytes(),
                b".",
                delivery.body,
            ],
        );
        let matched = signatures
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .any(|given| signature::matches(&expected, given, Encoding::Base64));
        if matched {
            Ok(())
        } else {
            Err(SourceError::InvalidSignature)
        }
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        let id = signed_header(&delivery.head(), "webhook-id")?;
        let envelope: Envelope = serde_json::from_slice(delivery.body).map_err(|error| {
            SourceError::malformed(format!("body is not a touch API payload: {error}"))
        })?;
        // Stated when it was sent, unless the body says otherwise: the signed
        // timestamp is checked against the clock in verify().
        let sent = signed_header(&delivery.head(), "webhook-timestamp")?
            .trim()
            .parse::<i64>()
            .map_err(|_| SourceError::malformed("webhook-timestamp is not a number"))?;
        let body = body_of(envelope.kind.as_str(), envelope.data, sent * 1000)?;
        Ok(vec![Event {
            provider_id: id.to_string(),
            body,
        }])
    }
}

/// Reads lines of an export (JSON lines of this source's payloads, each with an `id`
/// that dedupes it as `webhook-id` does a delivery) into one batch of events. A line
/// without `id` is known by a hash of its bytes, so importing a file twice still
/// counts it once. A profile without `occurred_at` is stated at `now`.
///
/// The lines come from the operator's own file, not over the network: that is what
/// stands in for a signature.
pub fn import(lines: &[(usize, &str)], now: Millis) -> Result<super::Accepted, SourceError> {
    let mut events = Vec::with_capacity(lines.len());
    for (number, line) in lines {
        let at_line =
            |error: SourceError| SourceError::malformed(format!("line {number}: {error}"));
        let envelope: ImportLine = serde_json::from_str(line).map_err(|error| {
            SourceError::malformed(format!("line {number}: not a payload: {error}"))
        })?;
        let provider_id = match envelope.id.filter(|id| !id.trim().is_empty()) {
            Some(id) => id,
            None => {
                use sha2::{Digest, Sha256};
                format!(
                    "line-{}",
                    hex::encode(&Sha256::digest(line.trim().as_bytes())[..12])
                )
            }
        };
        let body = body_of(envelope.kind.as_str(), envelope.data, now).map_err(at_line)?;
        events.push(Event { provider_id, body });
    }
    Ok(super::Accepted { events })
}

/// One line of an import: a payload of this source plus its `id`.
#[derive(Deserialize)]
struct ImportLine {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    data: Data,
}

fn body_of(kind: &str, data: Data, sent_at: Millis) -> Result<EventBody, SourceError> {
    Ok(match kind {
        "touch" => EventBody::Touch(touch(data)?),
        "identify" => EventBody::Identify {
            who: identify(data)?,
        },
        "outcome" => EventBody::Outcome(outcome(data)?),
        "profile" => EventBody::Profile(profile(data, sent_at)?),
        other => {
            return Err(SourceError::malformed(format!(
                "unknown type `{other}`: expected `touch`, `identify`, `profile` or `outcome`"
            )))
        }
    })
}

#[derive(Deserialize)]
#[serde(expecting = "an object with `type` and `data`")]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    data: Data,
}

#[derive(Deserialize)]
#[serde(expecting = "a `data` object")]
struct Data {
    email: Option<String>,
    anonymous_id: Option<String>,
    kind: Option<String>,
    occurred_at: Option<String>,
    account: Option<String>,
    properties: Option<serde_json::Value>,
    /// Profile fields: name → text (numbers are taken as their text).
    fields: Option<BTreeMap<String, serde_json::Value>>,
    /// Outcomes: the opportunity's id in the sender's system.
    opportunity: Option<String>,
    amount: Option<f64>,
    currency: Option<String>,
    stage: Option<String>,
    /// Outcomes: the people involved, each a person of their own.
    emails: Option<Vec<String>>,
}

fn who(data: &Data) -> Vec<Identity> {
    let mut who = Vec::new();
    if let Some(email) = data.email.as_deref().filter(|e| !e.trim().is_empty()) {
        who.push(Identity::email(email));
    }
    if let Some(anonymous) = data.anonymous_id.as_deref().filter(|a| !a.is_empty()) {
        who.push(Identity::Anonymous(anonymous.to_string()));
    }
    who
}

fn check_email(data: &Data) -> Result<(), SourceError> {
    match &data.email {
        Some(email) => email_at("data.email", email).map(|_| ()),
        None => Ok(()),
    }
}

fn touch(data: Data) -> Result<Touch, SourceError> {
    let who = who(&data);
    if who.is_empty() {
        return Err(SourceError::malformed(
            "data.email or data.anonymous_id is required",
        ));
    }
    check_email(&data)?;
    let kind_name = data
        .kind
        .as_deref()
        .ok_or_else(|| SourceError::malformed("data.kind is required"))?;
    let kind = TouchKind::parse(kind_name).ok_or_else(|| {
        SourceError::malformed(format!(
            "unknown kind `{kind_name}`: expected one of {}",
            TouchKind::names()
        ))
    })?;
    let occurred_at = data
        .occurred_at
        .as_deref()
        .ok_or_else(|| SourceError::malformed("data.occurred_at is required (RFC 3339)"))?;
    let occurred_at = chrono::DateTime::parse_from_rfc3339(occurred_at)
        .map_err(|_| {
            SourceError::malformed(format!(
                "data.occurred_at `{occurred_at}` is not an RFC 3339 time"
            ))
        })?
        .timestamp_millis();
    Ok(Touch {
        who,
        kind,
        occurred_at,
        account: data.account,
        properties: data.properties,
    })
}

/// What a form or an enrichment tool knows about a person: `title`, `company`,
/// `employees`, `industry`, `country`, `do_not_contact`, … Stated "now" unless
/// `occurred_at` says when.
fn profile(data: Data, sent_at: Millis) -> Result<Profile, SourceError> {
    let who = who(&data);
    if who.is_empty() {
        return Err(SourceError::malformed(
            "data.email or data.anonymous_id is required",
        ));
    }
    check_email(&data)?;
    let occurred_at = match data.occurred_at.as_deref() {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|_| {
                SourceError::malformed(format!("data.occurred_at `{text}` is not an RFC 3339 time"))
            })?
            .timestamp_millis(),
        None => sent_at,
    };
    let mut fields = BTreeMap::new();
    for (name, value) in data.fields.unwrap_or_default() {
        let text = match value {
            serde_json::Value::String(text) => text,
            serde_json::Value::Number(number) => number.to_string(),
            serde_json::Value::Bool(flag) => flag.to_string(),
            serde_json::Value::Null => continue,
            _ => {
                return Err(SourceError::malformed(format!(
                    "data.fields.{name} must be a string, number or boolean"
                )))
            }
        };
        fields.insert(name, text);
    }
    if fields.is_empty() && data.account.is_none() {
        return Err(SourceError::malformed(
            "profile needs data.fields or data.account",
        ));
    }
    Ok(Profile {
        who,
        fields,
        account: data.account,
        occurred_at,
    })
}

fn rfc3339(field: &str, text: &str) -> Result<Millis, SourceError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|time| time.timestamp_millis())
        .map_err(|_| SourceError::malformed(format!("{field} `{text}` is not an RFC 3339 time")))
}

/// Something that happened to an opportunity, and who was involved: the people by
/// email (each a person of their own) and the account, at least one of them.
fn outcome(data: Data) -> Result<Outcome, SourceError> {
    let opportunity = data
        .opportunity
        .filter(|o| !o.trim().is_empty())
        .ok_or_else(|| SourceError::malformed("data.opportunity is required"))?;
    let kind_name = data
        .kind
        .as_deref()
        .ok_or_else(|| SourceError::malformed("data.kind is required"))?;
    let kind = OutcomeKind::parse(kind_name).ok_or_else(|| {
        SourceError::malformed(format!(
            "unknown outcome kind `{kind_name}`: expected one of opportunity_created, stage_changed, won, lost"
        ))
    })?;
    let occurred_at = data
        .occurred_at
        .as_deref()
        .ok_or_else(|| SourceError::malformed("data.occurred_at is required (RFC 3339)"))?;
    let occurred_at = rfc3339("data.occurred_at", occurred_at)?;
    let mut people = Vec::new();
    for email in data.emails.iter().flatten().chain(data.email.iter()) {
        if !email.contains('@') {
            return Err(SourceError::malformed(format!(
                "data.emails: `{email}` is not an email address"
            )));
        }
        let person = Identity::email(email);
        if !people.contains(&person) {
            people.push(person);
        }
    }
    let account = data.account.filter(|a| !a.trim().is_empty());
    if people.is_empty() && account.is_none() {
        return Err(SourceError::malformed(
            "an outcome needs data.emails or data.account",
        ));
    }
    if let Some(amount) = data.amount.filter(|a| !a.is_finite() || *a < 0.0) {
        return Err(SourceError::malformed(format!(
            "data.amount {amount} is not an amount"
        )));
    }
    Ok(Outcome {
        people,
        account,
        kind,
        opportunity: Some(opportunity),
        stage: data.stage,
        amount: data.amount,
        currency: data.currency,
        occurred_at,
        ..Outcome::default()
    })
}

fn identify(data: Data) -> Result<Vec<Identity>, SourceError> {
    if data.email.is_none() || data.anonymous_id.is_none() {
        return Err(SourceError::malformed(
            "identify needs data.anonymous_id and data.email",
        ));
    }
    check_email(&data)?;
    Ok(who(&data))
}

#[cfg(test)]
mod tests;
