//! `kind = "typeform"`: Typeform webhooks (`form_response`).
//!
//! Signature (typeform.com/developers/webhooks/secure-your-webhooks):
//! `Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, body)>`. There is no
//! timestamp; redeliveries are recognised by `event_id`.
//!
//! A response becomes a `form_submit` for the respondent, found by the configured
//! email question, else the configured hidden field, else the first email answer.
//! Other configured answers become profile fields.

use super::delivery::{Adapter, Delivery, SourceError};
use super::plausible::email_at;
use super::signature::{self, Algorithm, Encoding};
use crate::model::{Event, EventBody, Identity, Millis, Profile, Touch, TouchKind};
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeformSource {
    /// The secret set on the webhook (Connect → Webhooks → Edit → Secret).
    pub secret: Secret,
    /// `ref` of the question that asks for the email, if the form has several.
    #[serde(default)]
    pub email_field_ref: Option<String>,
    /// Hidden field carrying the email when the form is embedded for known people.
    #[serde(default = "default_hidden_email")]
    pub hidden_email: String,
    /// Hidden field carrying the site's anonymous visitor id, to join earlier visits.
    #[serde(default = "default_hidden_anonymous_id")]
    pub hidden_anonymous_id: String,
    /// Question `ref` → profile field (`company`, `title`, `country`, …).
    #[serde(default)]
    pub profile_fields: BTreeMap<String, String>,
}

fn default_hidden_email() -> String {
    "email".into()
}
fn default_hidden_anonymous_id() -> String {
    "anonymous_id".into()
}

#[derive(Deserialize)]
#[serde(expecting = "a Typeform webhook object")]
struct Webhook {
    event_id: String,
    event_type: String,
    #[serde(default)]
    form_response: Option<FormResponse>,
}

#[derive(Deserialize)]
#[serde(expecting = "a `form_response` object")]
struct FormResponse {
    form_id: String,
    #[serde(default)]
    token: Option<String>,
    submitted_at: String,
    #[serde(default)]
    hidden: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    definition: Option<serde_json::Value>,
    #[serde(default)]
    answers: Vec<Answer>,
}

#[derive(Deserialize)]
#[serde(expecting = "an answer object")]
struct Answer {
    #[serde(rename = "type")]
    kind: String,
    field: AnswerField,
    #[serde(flatten)]
    value: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(expecting = "an answer `field` object")]
struct AnswerField {
    #[serde(default, rename = "ref")]
    reference: Option<String>,
}

impl Answer {
    /// The answer as text, whatever its type (`text`, `email`, `choice.label`, …).
    fn text(&self) -> Option<String> {
        let value = self.value.get(&self.kind)?;
        match value {
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Number(number) => Some(number.to_string()),
            serde_json::Value::Bool(flag) => Some(flag.to_string()),
            serde_json::Value::Object(map) => map
                .get("label")
                .and_then(|l| l.as_str())
                .map(str::to_string),
            _ => None,
        }
    }
}

impl TypeformSource {
    /// Who answered: their email and anonymous id. An address that cannot be anyone's
    /// is refused when nothing else names them.
    fn respondent(&self, response: &FormResponse) -> Result<Vec<Identity>, SourceError> {
        let configured = self.email_field_ref.as_ref().and_then(|reference| {
            response
                .answers
                .iter()
                .find(|a| a.field.reference.as_deref() == Some(reference.as_str()))
                .and_then(Answer::text)
        });
        let hidden = response
            .hidden
            .get(&self.hidden_email)
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let first_email = response
            .answers
            .iter()
            .find(|a| a.kind == "email")
            .and_then(Answer::text);
        let mut who = Vec::new();
        let mut unusable = None;
        // Text without an `@` (a hidden field left at its placeholder) is no address.
        if let Some(email) = configured
            .or(hidden)
            .or(first_email)
            .filter(|e| e.contains('@'))
        {
            match email_at("the respondent's email", &email) {
                Ok(identity) => who.push(identity),
                Err(error) => unusable = Some(error),
            }
        }
        if let Some(anonymous) = response
            .hidden
            .get(&self.hidden_anonymous_id)
            .and_then(|v| v.as_str())
            .filter(|a| !a.is_empty())
        {
            who.push(Identity::Anonymous(anonymous.to_string()));
        }
        match unusable {
            Some(error) if who.is_empty() => Err(error),
            _ => Ok(who),
        }
    }
}

impl Adapter for TypeformSource {
    fn validate(&self) -> Result<(), (String, String)> {
        self.secret.require("secret")
    }

    fn verify(&self, delivery: &Delivery<'_>, _now: Millis) -> Result<(), SourceError> {
        signature::check_body_hmac(
            delivery,
            "typeform-signature",
            "sha256=",
            Algorithm::Sha256,
            self.secret.expose().as_bytes(),
            Encoding::Base64,
        )
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        let webhook: Webhook = serde_json::from_slice(delivery.body)
            .map_err(|error| SourceError::malformed(format!("not a Typeform webhook: {error}")))?;
        if webhook.event_type != "form_response" {
            return Ok(Vec::new());
        }
        let response = webhook
            .form_response
            .ok_or_else(|| SourceError::malformed("form_response is missing"))?;
        let occurred_at = chrono::DateTime::parse_from_rfc3339(&response.submitted_at)
            .map_err(|_| {
                SourceError::malformed(format!(
                    "form_response.submitted_at `{}` is not an ISO 8601 time",
                    response.submitted_at
                ))
            })?
            .timestamp_millis();
        let who = self.respondent(&response)?;
        if who.is_empty() {
            // Nobody to attribute it to: acknowledged so Typeform does not retry it.
            return Ok(Vec::new());
        }
        let title = response
            .definition
            .as_ref()
            .and_then(|d| d.get("title"))
            .and_then(|t| t.as_str())
            .map(str::to_string);
        let mut events = vec![Event {
            provider_id: webhook.event_id.clone(),
            body: EventBody::Touch(Touch {
                who: who.clone(),
                kind: TouchKind::FormSubmit,
                occurred_at,
                account: None,
                properties: Some(
                    serde_json::json!({ "form_id": response.form_id, "form": title, "response": response.token }),
                ),
            }),
        }];
        let fields: BTreeMap<String, String> = response
            .answers
            .iter()
            .filter_map(|answer| {
                let field = self
                    .profile_fields
                    .get(answer.field.reference.as_deref()?)?;
                Some((field.clone(), answer.text().filter(|t| !t.is_empty())?))
            })
            .collect();
        if !fields.is_empty() {
            events.push(Event {
                provider_id: format!("{}:profile", webhook.event_id),
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
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn source() -> TypeformSource {
        TypeformSource {
            secret: Secret::new("abc123"),
            email_field_ref: None,
            hidden_email: default_hidden_email(),
            hidden_anonymous_id: default_hidden_anonymous_id(),
            profile_fields: BTreeMap::from([
                ("company_ref".to_string(), "company".to_string()),
                ("role_ref".to_string(), "title".to_string()),
            ]),
        }
    }

    fn check(header: Option<&str>, body: &str) -> Result<(), SourceError> {
        let headers: Vec<(String, String)> = header
            .map(|h| vec![("Typeform-Signature".to_string(), h.to_string())])
            .unwrap_or_default();
        source().verify(
            &Delivery {
                method: "POST",
                url: "",
                headers: &headers,
                body: body.as_bytes(),
            },
            0,
        )
    }

    // Computed from the documented algorithm (VENDORS.md §8: secret `abc123`).
    #[test]
    fn the_documented_signature_verifies() {
        let body = r#"{"event_id":"01H","event_type":"form_response"}"#;
        assert_eq!(
            check(
                Some("sha256=pguEKycwiYwupvSfEYlpcBukgeGHBSRinV7x5E8zEcE="),
                body
            ),
            Ok(())
        );
        assert_eq!(
            check(
                Some("sha256=pguEKycwiYwupvSfEYlpcBukgeGHBSRinV7x5E8zEcE="),
                &body.replace("01H", "01J")
            ),
            Err(SourceError::InvalidSignature)
        );
        assert_eq!(
            check(Some("pguEKycwiYwupvSfEYlpcBukgeGHBSRinV7x5E8zEcE="), body),
            Err(SourceError::InvalidSignature)
        );
        assert_eq!(
            check(None, body),
            Err(SourceError::MissingHeader("typeform-signature"))
        );
    }

    /// Shape of Typeform's example payload (typeform.com/developers/webhooks/example-payload),
    /// trimmed to the answer types used here.
    pub const RESPONSE: &str = r#"{"event_id":"LtWXD3crgy","event_type":"form_response","form_response":{"form_id":"lT4Z3j","token":"a3a12ec67a1365927098a606107fac15","submitted_at":"2026-11-20T14:21:39Z","landed_at":"2026-11-20T14:20:12Z","hidden":{"anonymous_id":"visitor-9"},"definition":{"id":"lT4Z3j","title":"Webhooks example","fields":[]},"answers":[{"type":"text","text":"Acme Inc","field":{"id":"JwWggjAKtOkA","type":"short_text","ref":"company_ref"}},{"type":"choice","choice":{"label":"Engineering"},"field":{"id":"k6TP9oLGgHjl","type":"multiple_choice","ref":"role_ref"}},{"type":"email","email":"laura@example.com","field":{"id":"SMEUb7VJz92Q","type":"email","ref":"email_ref"}},{"type":"number","number":5,"field":{"id":"NRsxU591jIW9","type":"opinion_scale","ref":"scale_ref"}}]}}"#;

    fn normalize(source: &TypeformSource, body: &str) -> Result<Vec<Event>, SourceError> {
        source.normalize(&Delivery {
            method: "POST",
            url: "",
            headers: &[],
            body: body.as_bytes(),
        })
    }

    #[test]
    fn a_response_is_a_form_submit_with_profile_answers() {
        let events = normalize(&source(), RESPONSE).unwrap();
        assert_eq!(events[0].provider_id, "LtWXD3crgy");
        let EventBody::Touch(touch) = &events[0].body else {
            panic!()
        };
        assert_eq!(touch.kind, TouchKind::FormSubmit);
        assert_eq!(
            touch.who,
            vec![
                Identity::email("laura@example.com"),
                Identity::Anonymous("visitor-9".into())
            ]
        );
        let EventBody::Profile(profile) = &events[1].body else {
            panic!()
        };
        assert_eq!(profile.fields["company"], "Acme Inc");
        assert_eq!(profile.fields["title"], "Engineering");
    }

    #[test]
    fn the_configured_email_question_wins() {
        let mut source = source();
        source.email_field_ref = Some("company_ref".into());
        // The configured answer is not an email, so nobody but the visitor is named.
        let events = normalize(&source, RESPONSE).unwrap();
        let EventBody::Touch(touch) = &events[0].body else {
            panic!()
        };
        assert_eq!(touch.who, vec![Identity::Anonymous("visitor-9".into())]);
    }

    #[test]
    fn malformed_payloads_say_why() {
        assert!(
            matches!(normalize(&source(), "{}"), Err(SourceError::Malformed(r)) if r.contains("not a Typeform webhook"))
        );
        assert!(
            matches!(normalize(&source(), r#"{"event_id":"x","event_type":"form_response"}"#), Err(SourceError::Malformed(r)) if r.contains("form_response"))
        );
        let bad_time = RESPONSE.replace("2026-11-20T14:21:39Z", "yesterday");
        assert!(
            matches!(normalize(&source(), &bad_time), Err(SourceError::Malformed(r)) if r.contains("submitted_at"))
        );
    }
}
