//! `kind = "hubspot"`: contact properties through the CRM v3 batch update,
//! `POST /crm/v3/objects/contacts/batch/update`, at most 100 inputs per call.
//!
//! A contact known by its HubSpot id is addressed by it; one known only by email is
//! addressed with `"idProperty": "email"`. HubSpot answers 200 when all inputs were
//! written and 207 with `errors[]` (ids in `context.ids`) when some were not.

use super::{Crm, CrmInfo, Outcome};
use crate::config::Secret;
use crate::model::Identity;
use crate::store::view::rfc3339;
use crate::store::OutboxEntry;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

/// HubSpot's limit on inputs per batch call.
const HUBSPOT_BATCH_LIMIT: usize = 100;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubspotSink {
    /// API base, `https://api.hubapi.com`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Private app access token (scopes `crm.objects.contacts.write`).
    pub access_token: Secret,
    /// How long changes collect before a batch is sent, in milliseconds.
    #[serde(default = "default_flush_interval_ms")]
    pub flush_interval_ms: u64,
    /// Inputs per call, at most 100.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Failures of one record before it is parked in dead letters.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Seconds before a request is abandoned and retried.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Contact property names written.
    #[serde(default)]
    pub fields: Fields,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fields {
    #[serde(default = "default_score_field")]
    pub score: String,
    #[serde(default = "default_trend_field")]
    pub trend: String,
    #[serde(default = "default_reasons_field")]
    pub reasons: String,
    #[serde(default = "default_last_touch_field")]
    pub last_touch_at: String,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            score: default_score_field(),
            trend: default_trend_field(),
            reasons: default_reasons_field(),
            last_touch_at: default_last_touch_field(),
        }
    }
}

fn default_base_url() -> String {
    "https://api.hubapi.com".into()
}
fn default_flush_interval_ms() -> u64 {
    1000
}
fn default_batch_size() -> usize {
    HUBSPOT_BATCH_LIMIT
}
fn default_max_attempts() -> u32 {
    5
}
fn default_timeout_secs() -> u64 {
    30
}
fn default_score_field() -> String {
    "attention_score".into()
}
fn default_trend_field() -> String {
    "attention_trend".into()
}
fn default_reasons_field() -> String {
    "attention_reasons".into()
}
fn default_last_touch_field() -> String {
    "attention_last_touch_at".into()
}

/// How a contact is addressed in HubSpot: its id, else its email.
fn address(identities: &[Identity]) -> Option<(String, bool)> {
    let hubspot_id = identities.iter().find_map(|identity| match identity {
        Identity::Crm { system, id } if system == "hubspot" => Some(id.clone()),
        _ => None,
    });
    if let Some(id) = hubspot_id {
        return Some((id, false));
    }
    identities.iter().find_map(|identity| match identity {
        Identity::Email(address) => Some((address.clone(), true)),
        _ => None,
    })
}

impl HubspotSink {
    pub fn body(&self, batch: &[OutboxEntry]) -> serde_json::Value {
        let inputs: Vec<serde_json::Value> = batch
            .iter()
            .filter_map(|entry| {
                let (id, by_email) = address(&entry.identities)?;
                let mut properties = serde_json::Map::new();
                properties.insert(self.fields.score.clone(), entry.fields.score.to_string().into());
                properties.insert(self.fields.trend.clone(), entry.fields.trend.as_str().into());
                properties.insert(self.fields.reasons.clone(), entry.fields.reasons.join("; ").into());
                properties.insert(
                    self.fields.last_touch_at.clone(),
                    entry.fields.last_touch_at.map(rfc3339).unwrap_or_default().into(),
                );
                let mut input = serde_json::json!({ "id": id, "properties": properties });
                if by_email {
                    input["idProperty"] = "email".into();
                }
                Some(input)
            })
            .collect();
        serde_json::json!({ "inputs": inputs })
    }
}

/// HubSpot's `StandardError`, as far as we read it.
#[derive(Debug, Deserialize)]
struct HubspotError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    context: HashMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct BatchResponse {
    #[serde(default)]
    errors: Vec<HubspotError>,
}

#[derive(Debug, Deserialize)]
struct ErrorResponse {
    #[serde(default)]
    message: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(rename = "policyName", default)]
    policy_name: Option<String>,
}

fn describe(status: u16, body: &str) -> String {
    match serde_json::from_str::<ErrorResponse>(body) {
        Ok(error) if !error.message.is_empty() => match error.category {
            Some(category) => format!("HTTP {status} {category}: {}", error.message),
            None => format!("HTTP {status}: {}", error.message),
        },
        _ => format!("HTTP {status}: {}", body.chars().take(300).collect::<String>()),
    }
}

impl CrmInfo for HubspotSink {
    fn validate(&self) -> Result<(), (String, String)> {
        if !(self.base_url.starts_with("https://") || self.base_url.starts_with("http://")) {
            return Err(("base_url".into(), "must start with https:// or http://".into()));
        }
        if self.batch_size == 0 || self.batch_size > HUBSPOT_BATCH_LIMIT {
            return Err(("batch_size".into(), format!("must be between 1 and {HUBSPOT_BATCH_LIMIT}")));
        }
        if self.access_token.expose().is_empty() {
            return Err(("access_token".into(), "must not be empty".into()));
        }
        if self.max_attempts == 0 {
            return Err(("max_attempts".into(), "must be at least 1".into()));
        }
        Ok(())
    }

    fn addressable(&self, identities: &[Identity]) -> bool {
        address(identities).is_some()
    }

    fn batch_limit(&self) -> usize {
        self.batch_size
    }

    fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms)
    }

    fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
}

impl Crm for HubspotSink {
    async fn send(&self, client: &reqwest::Client, batch: &[OutboxEntry]) -> Outcome {
        let url = format!("{}/crm/v3/objects/contacts/batch/update", self.base_url.trim_end_matches('/'));
        let response = client
            .post(&url)
            .bearer_auth(self.access_token.expose())
            .timeout(Duration::from_secs(self.timeout_secs))
            .json(&self.body(batch))
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                return Outcome::Transient {
                    status: None,
                    retry_after: None,
                    error: super::error_chain(&error.without_url()),
                }
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response.text().await.unwrap_or_default();
        match status {
            200..=299 => {
                let parsed: BatchResponse = serde_json::from_str(&text).unwrap_or(BatchResponse { errors: Vec::new() });
                Outcome::PerRecord { status, errors: per_record(batch, &parsed.errors) }
            }
            429 => {
                // HubSpot's 10-second window resets within 10 s; without a
                // Retry-After that is the right wait.
                let policy = serde_json::from_str::<ErrorResponse>(&text).ok().and_then(|e| e.policy_name);
                let retry_after = retry_after.or(match policy.as_deref() {
                    Some("TEN_SECONDLY_ROLLING") => Some(Duration::from_secs(10)),
                    _ => None,
                });
                Outcome::Transient { status: Some(status), retry_after, error: describe(status, &text) }
            }
            // Credentials are for the operator to fix; records stay queued meanwhile.
            401 | 403 | 408 | 500..=599 => Outcome::Transient { status: Some(status), retry_after, error: describe(status, &text) },
            _ => Outcome::Rejected { status, error: describe(status, &text) },
        }
    }
}

/// Matches HubSpot's errors to the inputs they name (`context.ids`). An error that
/// names no input is taken to concern every input.
fn per_record(batch: &[OutboxEntry], errors: &[HubspotError]) -> Vec<Option<String>> {
    let ids: Vec<Option<String>> = batch.iter().map(|entry| address(&entry.identities).map(|(id, _)| id)).collect();
    let mut out: Vec<Option<String>> = vec![None; batch.len()];
    for error in errors {
        let text = match &error.category {
            Some(category) => format!("{category}: {}", error.message),
            None => error.message.clone(),
        };
        let named: Vec<&String> = error.context.values().flatten().collect();
        for (index, id) in ids.iter().enumerate() {
            let concerned = named.is_empty() || id.as_ref().is_some_and(|id| named.iter().any(|n| n.eq_ignore_ascii_case(id)));
            if concerned {
                out[index] = Some(text.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::{Trend, Visible};

    fn entry(identities: Vec<Identity>) -> OutboxEntry {
        OutboxEntry {
            contact: 1,
            identities,
            fields: Visible {
                score: 57,
                trend: Trend::Rising,
                reasons: vec!["form submit today".into(), "3 email clicks this week".into()],
                last_touch_at: Some(1_700_000_000_000),
            },
            queued_at: 0,
            attempts: 0,
            not_before: 0,
            last_error: None,
        }
    }

    fn sink() -> HubspotSink {
        serde_json::from_value(serde_json::json!({"access_token": "t"})).unwrap()
    }

    #[test]
    fn inputs_use_the_hubspot_id_else_the_email() {
        let body = sink().body(&[
            entry(vec![Identity::crm("hubspot", "51"), Identity::email("a@b.c")]),
            entry(vec![Identity::email("d@e.f")]),
        ]);
        assert_eq!(
            body,
            serde_json::json!({"inputs": [
                {"id": "51", "properties": {"attention_score": "57", "attention_trend": "rising",
                  "attention_reasons": "form submit today; 3 email clicks this week",
                  "attention_last_touch_at": "2023-11-14T22:13:20.000Z"}},
                {"id": "d@e.f", "idProperty": "email", "properties": {"attention_score": "57", "attention_trend": "rising",
                  "attention_reasons": "form submit today; 3 email clicks this week",
                  "attention_last_touch_at": "2023-11-14T22:13:20.000Z"}}
            ]})
        );
    }

    #[test]
    fn an_anonymous_visitor_is_not_addressable() {
        assert!(!sink().addressable(&[Identity::Anonymous("v".into())]));
    }

    // Error shape: HubSpot's StandardError in BatchResponseSimplePublicObjectWithErrors
    // (hubspot-api-python hubspot/crm/contacts/models/standard_error.py).
    #[test]
    fn multi_status_errors_fail_only_the_named_records() {
        let batch = [entry(vec![Identity::crm("hubspot", "1")]), entry(vec![Identity::crm("hubspot", "2")])];
        let errors: Vec<HubspotError> = serde_json::from_value(serde_json::json!([
            {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Object not found.  objectId are usually numeric.",
             "context": {"ids": ["2"]}, "errors": [], "links": {}}
        ]))
        .unwrap();
        let out = per_record(&batch, &errors);
        assert_eq!(out[0], None);
        assert!(out[1].as_deref().unwrap().contains("OBJECT_NOT_FOUND"));
    }
}
