//! `attentiond setup-crm`: the lead fields, read through the lead schema (or Describe
//! Lead when the API role may not read the schema) and the missing ones created in one
//! `POST /rest/v1/leads/schema/fields.json`; where Marketo does not let the API create
//! fields, the click path in Field Management.

use super::api::{CallError, MarketoError};
use super::write::LeadResult;
use super::MarketoSink;
use crate::fields::{FieldKind, FieldSpec, Records};
use crate::sinks::{Setup, SinkError};

impl MarketoSink {
    /// The lead fields the sink writes: read, then the missing created in one call, or
    /// said how to create by hand where Marketo does not let the API.
    pub(super) async fn create_fields(
        &self,
        client: &reqwest::Client,
        setup: &mut Setup,
    ) -> Result<(), SinkError> {
        let (existing, schema_allowed) = match self.schema_fields(client).await {
            Ok(fields) => (fields, true),
            Err(CallError::Marketo(error)) if not_allowed(&error) => {
                setup.note(format!(
                    "Marketo refused the lead field schema to this API user ({error}); read the fields through Describe Lead instead"
                ));
                (
                    self.described_fields(client)
                        .await
                        .map_err(|error| setup_error("/rest/v1/leads/describe.json", error))?,
                    false,
                )
            }
            Err(error) => return Err(setup_error("/rest/v1/leads/schema/fields.json", error)),
        };
        let mut missing: Vec<(&'static FieldSpec, String)> = Vec::new();
        let names = self.names(Records::Contacts);
        for spec in crate::fields::specs(Records::Contacts) {
            let Some(api_name) = names.get(spec.name).cloned() else {
                continue;
            };
            match existing
                .iter()
                .find(|(existing_name, _)| existing_name.eq_ignore_ascii_case(&api_name))
            {
                Some((existing_name, data_type)) => {
                    setup.exists(format!("lead field {existing_name}"));
                    let wanted = data_type_of(spec.kind);
                    if let Some(data_type) = data_type {
                        if !compatible(wanted, data_type) {
                            setup.note(format!(
                                "lead field {existing_name} is of type {data_type}; attentiond writes {wanted} values to it"
                            ));
                        }
                    }
                }
                None => missing.push((spec, api_name)),
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        if !schema_allowed {
            manual(setup, &missing);
            return Ok(());
        }
        let body = serde_json::json!({
            "input": missing.iter().map(|(spec, api_name)| field_body(spec, api_name)).collect::<Vec<_>>()
        });
        let path = "/rest/v1/leads/schema/fields.json";
        if !setup.may_send("POST", &self.crm.url(path), &body) {
            return Ok(());
        }
        match self.call(client, true, path, &[], Some(&body)).await {
            Ok(envelope) => {
                for (position, (spec, api_name)) in missing.iter().enumerate() {
                    let result = envelope
                        .result
                        .get(position)
                        .and_then(|value| serde_json::from_value::<LeadResult>(value.clone()).ok());
                    match result {
                        Some(result) if result.status == "created" => setup.created(format!(
                            "lead field {api_name} ({}, {})",
                            spec.label,
                            data_type_of(spec.kind)
                        )),
                        Some(result) => {
                            let reasons: Vec<String> =
                                result.reasons.iter().map(ToString::to_string).collect();
                            return Err(SinkError::Api {
                                what: path.into(),
                                status: 200,
                                message: format!(
                                    "lead field {api_name} not created ({}): {}",
                                    result.status,
                                    reasons.join("; ")
                                ),
                            });
                        }
                        None => {
                            return Err(SinkError::Unreadable {
                                what: path.into(),
                                message: format!("no result for lead field {api_name}"),
                            })
                        }
                    }
                }
                Ok(())
            }
            Err(CallError::Marketo(error)) if not_allowed(&error) => {
                setup.note(format!(
                    "Marketo refused to create lead fields through the API ({error})"
                ));
                manual(setup, &missing);
                Ok(())
            }
            Err(error) => Err(setup_error(path, error)),
        }
    }

    /// API name and data type of every lead field, page by page.
    async fn schema_fields(
        &self,
        client: &reqwest::Client,
    ) -> Result<Vec<(String, Option<String>)>, CallError> {
        let mut fields = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut query = vec![("batchSize", "300")];
            if let Some(token) = page.as_deref() {
                query.push(("nextPageToken", token));
            }
            let envelope = self
                .call(
                    client,
                    false,
                    "/rest/v1/leads/schema/fields.json",
                    &query,
                    None,
                )
                .await?;
            for field in &envelope.result {
                if let Some(name) = field.get("name").and_then(|name| name.as_str()) {
                    let data_type = field
                        .get("dataType")
                        .and_then(|t| t.as_str())
                        .map(str::to_string);
                    fields.push((name.to_string(), data_type));
                }
            }
            match envelope.next_page_token {
                Some(token) if envelope.more_result && !token.is_empty() => page = Some(token),
                _ => return Ok(fields),
            }
        }
    }

    /// Describe Lead: fields usable through REST carry `rest.name`.
    async fn described_fields(
        &self,
        client: &reqwest::Client,
    ) -> Result<Vec<(String, Option<String>)>, CallError> {
        let envelope = self
            .call(client, false, "/rest/v1/leads/describe.json", &[], None)
            .await?;
        Ok(envelope
            .result
            .iter()
            .filter_map(|field| {
                let name = field.get("rest")?.get("name")?.as_str()?.to_string();
                let data_type = field
                    .get("dataType")
                    .and_then(|t| t.as_str())
                    .map(str::to_string);
                Some((name, data_type))
            })
            .collect())
    }
}

/// 603 Access denied (role without Read-Write Schema permissions), 610 (no such
/// endpoint on an older instance), 703 (feature not enabled).
fn not_allowed(error: &MarketoError) -> bool {
    matches!(error.code.as_str(), "603" | "610" | "703")
}

fn setup_error(what: &str, error: CallError) -> SinkError {
    match error {
        CallError::Network(message) => SinkError::Network(message),
        CallError::Identity { message, .. } => SinkError::Auth(message),
        CallError::Http {
            status: status @ (401 | 403),
            body,
            ..
        } => SinkError::Auth(format!("HTTP {status}: {body}")),
        CallError::Http { status, body, .. } => SinkError::Api {
            what: what.into(),
            status,
            message: body,
        },
        CallError::Marketo(error) if error.code == "601" || error.code == "602" => {
            SinkError::Auth(error.to_string())
        }
        CallError::Marketo(error) => SinkError::Api {
            what: what.into(),
            status: error.code.parse().unwrap_or(200),
            message: error.to_string(),
        },
        CallError::Unreadable(message) => SinkError::Unreadable {
            what: what.into(),
            message,
        },
    }
}

/// The Create Lead Fields `dataType` (swagger-mapi.json `CreateLeadField`). Its enum has
/// no text area, so reasons go in a 255-character string (see `fit_string_field`).
fn data_type_of(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Number => "integer",
        FieldKind::Decimal => "float",
        FieldKind::Text | FieldKind::LongText | FieldKind::Choice(_) => "string",
        FieldKind::DateTime => "datetime",
    }
}

/// A field made by hand may well be a Text Area or a Score; those take the same values.
fn compatible(wanted: &str, existing: &str) -> bool {
    let existing = existing.to_ascii_lowercase();
    match wanted {
        "integer" => matches!(
            existing.as_str(),
            "integer" | "score" | "float" | "currency" | "percent"
        ),
        "float" => matches!(existing.as_str(), "float" | "currency"),
        "string" => matches!(existing.as_str(), "string" | "text" | "textarea"),
        other => existing == other,
    }
}

/// The type's name in Field Management's "Type" menu.
fn ui_type(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Number => "Integer",
        FieldKind::Decimal => "Float",
        FieldKind::Text | FieldKind::LongText | FieldKind::Choice(_) => "String",
        FieldKind::DateTime => "Datetime",
    }
}

fn field_body(spec: &FieldSpec, api_name: &str) -> serde_json::Value {
    serde_json::json!({
        "displayName": spec.label,
        "name": api_name,
        "dataType": data_type_of(spec.kind),
        "description": spec.description,
        "isHidden": false,
        "isHtmlEncodingInEmail": true,
        "isSensitive": false,
    })
}

pub(super) fn manual(setup: &mut Setup, missing: &[(&'static FieldSpec, String)]) {
    for (spec, api_name) in missing {
        setup.manual(format!(
            "In Marketo: Admin → Field Management → New Custom Field → Object: Person, Type: {}, Name: {}, API Name: {api_name} (replace the generated one) → Create",
            ui_type(spec.kind),
            spec.label,
        ));
    }
}
