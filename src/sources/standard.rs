//! `kind = "standard"`: our own touch API, signed per Standard Webhooks v1
//! (standardwebhooks.com), so any of its reference libraries can send to us.
//!
//! Signed content is `webhook-id.webhook-timestamp.body`, HMAC-SHA256 with the bytes of
//! the `whsec_` secret, serialized `v1,<base64>`; several space-separated signatures
//! may be sent during key rotation.

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

impl StandardSource {
    /// `webhook-id`, `webhook-timestamp` (within the tolerance) and `webhook-signature`.
    fn signed_headers<'a>(
        &self,
        head: &Head<'a>,
        now: Millis,
    ) -> Result<(&'a str, &'a str, &'a str), SourceError> {
        let id = head.require_header("webhook-id")?;
        let timestamp = head.require_header("webhook-timestamp")?;
        let signatures = head.require_header("webhook-signature")?;
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
        let id = delivery.require_header("webhook-id")?;
        let envelope: Envelope = serde_json::from_slice(delivery.body).map_err(|error| {
            SourceError::malformed(format!("body is not a touch API payload: {error}"))
        })?;
        // Stated when it was sent, unless the body says otherwise: the signed
        // timestamp is checked against the clock in verify().
        let sent = delivery
            .require_header("webhook-timestamp")?
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
mod tests {
    use super::*;

    fn source(secret: &str) -> StandardSource {
        StandardSource {
            secret: Secret::new(secret),
            tolerance_secs: 300,
        }
    }

    fn headers(id: &str, ts: &str, sig: &str) -> Vec<(String, String)> {
        vec![
            ("webhook-id".into(), id.into()),
            ("webhook-timestamp".into(), ts.into()),
            ("webhook-signature".into(), sig.into()),
        ]
    }

    fn check(secret: &str, id: &str, ts: &str, body: &str, sig: &str) -> Result<(), SourceError> {
        let headers = headers(id, ts, sig);
        let delivery = Delivery {
            method: "POST",
            url: "http://localhost/webhooks/site",
            headers: &headers,
            body: body.as_bytes(),
        };
        let now = ts.parse::<i64>().unwrap() * 1000;
        source(secret).verify(&delivery, now)
    }

    // Vector from standard-webhooks/standard-webhooks
    // libraries/python/tests/test_webhooks.py and libraries/javascript/src/webhook.test.ts.
    #[test]
    fn the_reference_libraries_vector_verifies() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let (id, ts, body) = (
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(
            check(
                secret,
                id,
                ts,
                body,
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
            ),
            Ok(())
        );
        // Last character changed.
        assert_eq!(
            check(
                secret,
                id,
                ts,
                body,
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
            ),
            Err(SourceError::InvalidSignature)
        );
        assert_eq!(
            check(secret, id, ts, body, "v1,"),
            Err(SourceError::InvalidSignature)
        );
        assert_eq!(
            check(secret, id, ts, body, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJEL"),
            Err(SourceError::InvalidSignature)
        );
        // A rotation list with junk around the valid one passes.
        assert_eq!(
            check(
                secret,
                id,
                ts,
                body,
                "v2,abc v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1a,xyz"
            ),
            Ok(())
        );
    }

    // Vector from standard-webhooks/standard-webhooks libraries/rust/src/lib.rs (tests).
    #[test]
    fn the_rust_library_vector_verifies() {
        assert_eq!(
            check(
                "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                "1649367553",
                r#"{"email":"test@example.com","username":"test_user"}"#,
                "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
            ),
            Ok(())
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let headers = headers(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        );
        let delivery = Delivery {
            method: "POST",
            url: "",
            headers: &headers,
            body: br#"{"test": 2432232314}"#,
        };
        let signed_at = 1_614_265_330_000;
        let src = source(secret);
        assert!(src.verify(&delivery, signed_at + 299_000).is_ok());
        assert_eq!(
            src.verify(&delivery, signed_at + 301_000),
            Err(SourceError::StaleTimestamp(300))
        );
        assert_eq!(
            src.verify(&delivery, signed_at - 301_000),
            Err(SourceError::StaleTimestamp(300))
        );
    }

    #[test]
    fn a_missing_header_is_named() {
        let headers = vec![("webhook-id".to_string(), "x".to_string())];
        let delivery = Delivery {
            method: "POST",
            url: "",
            headers: &headers,
            body: b"{}",
        };
        assert_eq!(
            source("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(&delivery, 0),
            Err(SourceError::MissingHeader("webhook-timestamp"))
        );
    }

    fn normalize(body: &str) -> Result<Vec<Event>, SourceError> {
        let headers = headers("msg_1", "0", "");
        let delivery = Delivery {
            method: "POST",
            url: "",
            headers: &headers,
            body: body.as_bytes(),
        };
        source("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").normalize(&delivery)
    }

    #[test]
    fn a_profile_states_fields_as_text_at_the_signed_time() {
        let events = normalize(
            r#"{"type":"profile","data":{"email":"vp@acme.com","account":"hubspot-company:42","fields":{"title":"VP Engineering","employees":500,"do_not_contact":false,"phone":null}}}"#,
        )
        .unwrap();
        let EventBody::Profile(profile) = &events[0].body else {
            panic!("not a profile")
        };
        assert_eq!(profile.who, vec![Identity::email("vp@acme.com")]);
        assert_eq!(profile.account.as_deref(), Some("hubspot-company:42"));
        assert_eq!(
            profile.fields.get("employees").map(String::as_str),
            Some("500")
        );
        assert_eq!(
            profile.fields.get("do_not_contact").map(String::as_str),
            Some("false")
        );
        assert!(!profile.fields.contains_key("phone"));
        assert_eq!(
            profile.occurred_at, 0,
            "the webhook-timestamp of the delivery"
        );
        let error = normalize(
            r#"{"type":"profile","data":{"email":"vp@acme.com","fields":{"tags":["a"]}}}"#,
        )
        .unwrap_err();
        assert!(error.to_string().contains("data.fields.tags"), "{error}");
        let error = normalize(r#"{"type":"profile","data":{"email":"vp@acme.com"}}"#).unwrap_err();
        assert!(
            error.to_string().contains("data.fields or data.account"),
            "{error}"
        );
    }

    #[test]
    fn a_touch_becomes_one_event_keyed_by_webhook_id() {
        let events = normalize(
            r#"{"type":"touch","timestamp":"2026-11-20T10:00:00Z","data":{"email":"Ann@Example.com","kind":"pricing_view","occurred_at":"2026-11-20T09:59:00+01:00","properties":{"url":"/pricing"}}}"#,
        )
        .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].provider_id, "msg_1");
        let EventBody::Touch(touch) = &events[0].body else {
            panic!("not a touch")
        };
        assert_eq!(touch.kind, TouchKind::PricingView);
        assert_eq!(touch.who, vec![Identity::email("ann@example.com")]);
        assert_eq!(touch.occurred_at, 1_795_165_140_000);
    }

    #[test]
    fn an_unknown_kind_names_the_valid_kinds() {
        let error = normalize(r#"{"type":"touch","data":{"email":"a@b.c","kind":"webinar","occurred_at":"2026-11-20T09:59:00Z"}}"#).unwrap_err();
        let SourceError::Malformed(reason) = error else {
            panic!()
        };
        assert!(
            reason.contains("webinar")
                && reason.contains("webinar_attended")
                && reason.contains("form_submit"),
            "{reason}"
        );
    }

    #[test]
    fn malformed_payloads_say_why() {
        for (body, needle) in [
            ("not json", "not a touch API payload"),
            (
                r#"{"type":"touch","data":{"kind":"form_submit","occurred_at":"2026-11-20T09:59:00Z"}}"#,
                "email or data.anonymous_id",
            ),
            (
                r#"{"type":"touch","data":{"email":"a@b.c","kind":"form_submit","occurred_at":"yesterday"}}"#,
                "RFC 3339",
            ),
            (
                r#"{"type":"touch","data":{"email":"a@b.c","kind":"form_submit"}}"#,
                "occurred_at is required",
            ),
            (r#"{"type":"hello","data":{}}"#, "unknown type"),
            (
                r#"{"type":"identify","data":{"email":"a@b.c"}}"#,
                "anonymous_id",
            ),
            (
                r#"{"type":"identify","data":{"email":"nobody","anonymous_id":"v"}}"#,
                "not an email",
            ),
        ] {
            match normalize(body) {
                Err(SourceError::Malformed(reason)) => {
                    assert!(reason.contains(needle), "{body}: {reason}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_outcome_names_its_opportunity_people_and_account() {
        let events = normalize(
            r#"{"type":"outcome","data":{"opportunity":"opp-17","kind":"opportunity_created","occurred_at":"2026-11-20T09:00:00Z","amount":42000,"currency":"EUR","stage":"discovery","emails":["Ann@Acme.com","bo@acme.com","ann@acme.com"],"account":"domain:acme.com"}}"#,
        )
        .unwrap();
        assert_eq!(events[0].provider_id, "msg_1");
        assert_eq!(
            events[0].body,
            EventBody::Outcome(Outcome {
                people: vec![
                    Identity::email("ann@acme.com"),
                    Identity::email("bo@acme.com")
                ],
                account: Some("domain:acme.com".into()),
                kind: OutcomeKind::OpportunityCreated,
                opportunity: Some("opp-17".into()),
                stage: Some("discovery".into()),
                amount: Some(42000.0),
                currency: Some("EUR".into()),
                occurred_at: 1_795_165_200_000,
                ..Outcome::default()
            })
        );
        let won = normalize(
            r#"{"type":"outcome","data":{"opportunity":"opp-17","kind":"won","occurred_at":"2026-12-20T09:00:00Z","account":"domain:acme.com"}}"#,
        )
        .unwrap();
        let EventBody::Outcome(won) = &won[0].body else {
            panic!("not an outcome")
        };
        assert_eq!((won.kind, won.people.len()), (OutcomeKind::Won, 0));
    }

    #[test]
    fn an_outcome_without_people_kind_or_opportunity_says_why() {
        for (data, needle) in [
            (
                r#"{"kind":"won","occurred_at":"2026-12-20T09:00:00Z","account":"a"}"#,
                "data.opportunity is required",
            ),
            (
                r#"{"opportunity":"o","kind":"won","occurred_at":"2026-12-20T09:00:00Z"}"#,
                "data.emails or data.account",
            ),
            (
                r#"{"opportunity":"o","kind":"linked","occurred_at":"2026-12-20T09:00:00Z","account":"a"}"#,
                "unknown outcome kind `linked`",
            ),
            (
                r#"{"opportunity":"o","kind":"won","account":"a"}"#,
                "occurred_at is required",
            ),
            (
                r#"{"opportunity":"o","kind":"won","occurred_at":"2026-12-20T09:00:00Z","emails":["nobody"]}"#,
                "`nobody` is not an email",
            ),
            (
                r#"{"opportunity":"o","kind":"won","occurred_at":"2026-12-20T09:00:00Z","account":"a","amount":-5}"#,
                "not an amount",
            ),
        ] {
            let body = format!(r#"{{"type":"outcome","data":{data}}}"#);
            match normalize(&body) {
                Err(SourceError::Malformed(reason)) => {
                    assert!(reason.contains(needle), "{body}: {reason}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_import_reads_every_type_and_names_a_bad_line() {
        let touch = r#"{"id":"t-1","type":"touch","data":{"email":"ann@acme.com","kind":"form_submit","occurred_at":"2026-11-20T09:00:00Z"}}"#;
        let profile =
            r#"{"type":"profile","data":{"email":"ann@acme.com","fields":{"title":"CTO"}}}"#;
        let outcome = r#"{"id":"o-1","type":"outcome","data":{"opportunity":"opp-1","kind":"won","occurred_at":"2026-12-20T09:00:00Z","account":"domain:acme.com"}}"#;
        let lines = [(1, touch), (2, profile), (3, outcome)];
        let events = import(&lines, 7_000).unwrap().into_events();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].provider_id, "t-1");
        // No id: a hash of the line, the same on every import of it.
        assert!(events[1].provider_id.starts_with("line-"));
        let again = import(&lines[1..2], 9_000).unwrap().into_events();
        assert_eq!(again[0].provider_id, events[1].provider_id);
        let EventBody::Profile(stated) = &events[1].body else {
            panic!("not a profile")
        };
        assert_eq!(stated.occurred_at, 7_000);
        assert!(matches!(events[2].body, EventBody::Outcome(_)));
        let error = import(&[(1, touch), (2, "{\"type\":\"touch\",\"data\":{}}")], 0).unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
    }

    #[test]
    fn identify_ties_an_anonymous_visitor_to_an_email() {
        let events =
            normalize(r#"{"type":"identify","data":{"email":"a@b.c","anonymous_id":"v-1"}}"#)
                .unwrap();
        assert_eq!(
            events[0].body,
            EventBody::Identify {
                who: vec![Identity::email("a@b.c"), Identity::Anonymous("v-1".into())]
            }
        );
    }
}
