//! `kind = "hubspot"`: contact properties through the CRM v3 batch update,
//! `POST /crm/v3/objects/contacts/batch/update`, at most 100 inputs per call.
//!
//! A contact known by its HubSpot id is addressed by it; one known only by email is
//! addressed with `"idProperty": "email"`. HubSpot answers 200 when all inputs were
//! written and 207 with `errors[]` (ids in `context.ids`) when some were not.

use super::retry::{self, Class};
use super::{
    is_url, status_text, Crm, Defaults, Deliver, Outcome, RateLimit, Setup, Sink, SinkError,
};
use crate::fields::{mapped, FieldKind, FieldSpec, Records};
use crate::model::Identity;
use crate::secret::Secret;
use crate::store::OutboxEntry;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

/// HubSpot's limit on inputs per batch call.
const HUBSPOT_BATCH_LIMIT: usize = 100;

/// Private apps may send 100 requests per 10 s (190 on Professional and Enterprise).
const DEFAULTS: Defaults = Defaults::new(HUBSPOT_BATCH_LIMIT, RateLimit::new(100, 10.0));

/// HubSpot's own keys of `[sinks.<name>]`; the delivery keys are shared.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hubspot {
    /// API base, `https://api.hubapi.com`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Private app access token (scopes `crm.objects.contacts.write`, and
    /// `crm.objects.companies.write` for account fields).
    pub access_token: Secret,
    /// The property group `setup-crm` puts the properties in.
    #[serde(default = "default_property_group")]
    pub property_group: String,
}

pub type HubspotSink = Sink<Hubspot>;

fn default_base_url() -> String {
    "https://api.hubapi.com".into()
}
fn default_property_group() -> String {
    "attention".into()
}

const COMPANY_PREFIX: &str = "hubspot-company:";

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
    pub fn body(&self, records: Records, batch: &[OutboxEntry]) -> serde_json::Value {
        let names = self.names(records);
        let inputs: Vec<serde_json::Value> = batch
            .iter()
            .filter_map(|entry| {
                let (id, by_email) = match records {
                    Records::Contacts => address(&entry.identities)?,
                    Records::Accounts => {
                        (company_id(entry.account.as_deref()?)?.to_string(), false)
                    }
                };
                let properties: serde_json::Map<String, serde_json::Value> =
                    mapped(&names, &entry.fields)
                        .map(|(name, value)| (name.to_string(), value.as_text().into()))
                        .collect();
                let mut input = serde_json::json!({ "id": id, "properties": properties });
                if by_email {
                    input["idProperty"] = "email".into();
                }
                Some(input)
            })
            .collect();
        serde_json::json!({ "inputs": inputs })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.crm.base_url.trim_end_matches('/'))
    }
}

fn company_id(account: &str) -> Option<&str> {
    account
        .strip_prefix(COMPANY_PREFIX)
        .filter(|id| !id.is_empty())
}

fn object_type(records: Records) -> &'static str {
    match records {
        Records::Contacts => "contacts",
        Records::Accounts => "companies",
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
        _ => status_text(status, body),
    }
}

/// HubSpot's 10-second window resets within 10 s: without a Retry-After, that is the
/// right wait after a 429 that names it.
fn rolling_window_wait(status: u16, body: &str) -> Option<Duration> {
    if status != 429 {
        return None;
    }
    let policy = serde_json::from_str::<ErrorResponse>(body)
        .ok()
        .and_then(|error| error.policy_name);
    (policy.as_deref() == Some("TEN_SECONDLY_ROLLING")).then_some(Duration::from_secs(10))
}

impl Crm for Hubspot {
    const ACCOUNTS: bool = true;

    fn defaults(&self) -> Defaults {
        DEFAULTS
    }

    /// `attention_score`, `attention_trend`, … on contacts and companies alike.
    fn default_name(spec: &FieldSpec) -> String {
        format!("attention_{}", spec.name)
    }

    fn validate(&self) -> Result<(), (String, String)> {
        if !is_url(&self.base_url) {
            return Err((
                "base_url".into(),
                "must start with https:// or http://".into(),
            ));
        }
        self.access_token.require("access_token")?;
        Ok(())
    }

    fn addressable(&self, identities: &[Identity]) -> bool {
        address(identities).is_some()
    }

    fn account_addressable(&self, account: &str) -> bool {
        company_id(account).is_some()
    }
}

impl Deliver for HubspotSink {
    async fn send(
        &self,
        client: &reqwest::Client,
        records: Records,
        batch: &[OutboxEntry],
    ) -> Outcome {
        let url = self.url(&format!(
            "/crm/v3/objects/{}/batch/update",
            object_type(records)
        ));
        let response = client
            .post(&url)
            .bearer_auth(self.crm.access_token.expose())
            .timeout(self.delivery.timeout())
            .json(&self.body(records, batch))
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error) => return Outcome::unreachable(super::error_chain(&error.without_url())),
        };
        let status = response.status().as_u16();
        let retry_after = retry::retry_after(response.headers());
        let text = response.text().await.unwrap_or_default();
        if retry::class(status) != Class::Success {
            let retry_after = retry_after.or_else(|| rolling_window_wait(status, &text));
            return Outcome::failed(status, retry_after, describe(status, &text));
        }
        let parsed: BatchResponse =
            serde_json::from_str(&text).unwrap_or(BatchResponse { errors: Vec::new() });
        Outcome::PerRecord {
            status,
            errors: per_record(records, batch, &parsed.errors),
            pause: None,
        }
    }

    /// Property group, then each property, on contacts and companies: read first,
    /// created only when HubSpot answers 404.
    async fn setup(&self, client: &reqwest::Client, setup: &mut Setup) -> Result<(), SinkError> {
        for records in [Records::Contacts, Records::Accounts] {
            let object = object_type(records);
            let group_url = self.url(&format!(
                "/crm/v3/properties/{object}/groups/{}",
                self.crm.property_group
            ));
            if self.exists(client, &group_url).await? {
                setup.exists(format!(
                    "{object} property group {}",
                    self.crm.property_group
                ));
            } else {
                let url = self.url(&format!("/crm/v3/properties/{object}/groups"));
                let body = serde_json::json!({"name": self.crm.property_group, "label": "Attention", "displayOrder": -1});
                if setup.may_send("POST", &url, &body) {
                    self.create(client, &url, &body).await?;
                    setup.created(format!(
                        "{object} property group {}",
                        self.crm.property_group
                    ));
                }
            }
            for (name, property) in self.names(records) {
                let Some(spec) = crate::fields::spec(records, &name) else {
                    continue;
                };
                let url = self.url(&format!("/crm/v3/properties/{object}/{property}"));
                if self.exists(client, &url).await? {
                    setup.exists(format!("{object} property {property}"));
                    continue;
                }
                let body = self.property(spec, &property);
                let url = self.url(&format!("/crm/v3/properties/{object}"));
                if setup.may_send("POST", &url, &body) {
                    self.create(client, &url, &body).await?;
                    setup.created(format!("{object} property {property} ({})", spec.label));
                }
            }
        }
        Ok(())
    }
}

impl HubspotSink {
    fn property(&self, spec: &FieldSpec, name: &str) -> serde_json::Value {
        let (kind, field_type) = match spec.kind {
            FieldKind::Number | FieldKind::Decimal => ("number", "number"),
            FieldKind::Text => ("string", "text"),
            FieldKind::LongText => ("string", "textarea"),
            FieldKind::DateTime => ("datetime", "date"),
            FieldKind::Choice(_) => ("enumeration", "select"),
        };
        let mut body = serde_json::json!({
            "name": name,
            "label": spec.label,
            "type": kind,
            "fieldType": field_type,
            "groupName": self.crm.property_group,
            "description": spec.description,
            "formField": false,
        });
        if let FieldKind::Choice(values) = spec.kind {
            body["options"] = values
                .iter()
                .enumerate()
                .map(|(order, value)| serde_json::json!({"label": value, "value": value, "displayOrder": order, "hidden": false}))
                .collect();
        }
        body
    }

    async fn exists(&self, client: &reqwest::Client, url: &str) -> Result<bool, SinkError> {
        let response = client
            .get(url)
            .bearer_auth(self.crm.access_token.expose())
            .timeout(self.delivery.timeout())
            .send()
            .await
            .map_err(SinkError::network)?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            status => Err(api_error(
                url,
                status,
                &response.text().await.unwrap_or_default(),
            )),
        }
    }

    async fn create(
        &self,
        client: &reqwest::Client,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<(), SinkError> {
        let response = client
            .post(url)
            .bearer_auth(self.crm.access_token.expose())
            .timeout(self.delivery.timeout())
            .json(body)
            .send()
            .await
            .map_err(SinkError::network)?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            status => Err(api_error(
                url,
                status,
                &response.text().await.unwrap_or_default(),
            )),
        }
    }
}

fn api_error(url: &str, status: u16, body: &str) -> SinkError {
    let what = url
        .split("/crm/")
        .nth(1)
        .map(|path| format!("/crm/{path}"))
        .unwrap_or_else(|| url.to_string());
    SinkError::refused(what, status, describe(status, body))
}

/// Matches HubSpot's errors to the inputs they name (`context.ids`). An error that
/// names no input is taken to concern every input.
fn per_record(
    records: Records,
    batch: &[OutboxEntry],
    errors: &[HubspotError],
) -> Vec<Option<String>> {
    let ids: Vec<Option<String>> = batch
        .iter()
        .map(|entry| match records {
            Records::Contacts => address(&entry.identities).map(|(id, _)| id),
            Records::Accounts => entry
                .account
                .as_deref()
                .and_then(company_id)
                .map(str::to_string),
        })
        .collect();
    let mut out: Vec<Option<String>> = vec![None; batch.len()];
    for error in errors {
        let text = match &error.category {
            Some(category) => format!("{category}: {}", error.message),
            None => error.message.clone(),
        };
        let named: Vec<&String> = error.context.values().flatten().collect();
        for (index, id) in ids.iter().enumerate() {
            let concerned = named.is_empty()
                || id
                    .as_ref()
                    .is_some_and(|id| named.iter().any(|n| n.eq_ignore_ascii_case(id)));
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
    use crate::fields::sample_contact_fields;
    use crate::fields::Recipient;

    fn entry(identities: Vec<Identity>) -> OutboxEntry {
        OutboxEntry::for_contact(1, identities, sample_contact_fields(), 0)
    }

    fn sink() -> HubspotSink {
        serde_json::from_value(serde_json::json!({"access_token": "t"})).unwrap()
    }

    #[test]
    fn inputs_use_the_hubspot_id_else_the_email() {
        let body = sink().body(
            Records::Contacts,
            &[
                entry(vec![
                    Identity::crm("hubspot", "51"),
                    Identity::email("a@b.c"),
                ]),
                entry(vec![Identity::email("d@e.f")]),
            ],
        );
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
        let batch = [
            entry(vec![Identity::crm("hubspot", "1")]),
            entry(vec![Identity::crm("hubspot", "2")]),
        ];
        let errors: Vec<HubspotError> = serde_json::from_value(serde_json::json!([
            {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Object not found.  objectId are usually numeric.",
             "context": {"ids": ["2"]}, "errors": [], "links": {}}
        ]))
        .unwrap();
        let out = per_record(Records::Contacts, &batch, &errors);
        assert_eq!(out[0], None);
        assert!(out[1].as_deref().unwrap().contains("OBJECT_NOT_FOUND"));
    }
}
