//! `attentiond setup-crm`: each person field the sink writes, created through
//! `POST /api/v1/personFields` unless a custom field of that name exists; an existing
//! field of a type that cannot hold the values is pointed out.

use super::api::{api_error, call_sink_error, refused_despite_2xx};
use super::fields::{accepts, field_type, find_field, ListError, PERSON_FIELDS};
use super::PipedriveSink;
use crate::fields::{self, FieldKind, FieldSpec, Records};
use crate::sinks::{Setup, SinkError};
use reqwest::Method;
use serde_json::{json, Value};

impl PipedriveSink {
    /// Each person field the sink writes, unless a custom field of that name exists.
    pub(super) async fn create_fields(
        &self,
        client: &reqwest::Client,
        setup: &mut Setup,
    ) -> Result<(), SinkError> {
        let existing = self
            .list_fields(client)
            .await
            .map_err(ListError::sink_error)?;
        let url = self.crm.url(PERSON_FIELDS);
        for (name, label) in self.names(Records::Contacts) {
            let Some(spec) = fields::spec(Records::Contacts, &name) else {
                continue;
            };
            if let Some(field) = find_field(&existing, &label) {
                setup.exists(format!(
                    "person field \"{}\" ({}, key {})",
                    field.name, field.field_type, field.key
                ));
                if !accepts(spec.kind, field) {
                    setup.note(format!(
                        "person field \"{}\" is of type `{}`, which cannot hold fields.{name}: change it in Pipedrive \
                         to `{}`, or map fields.{name} to another field",
                        field.name,
                        field.field_type,
                        field_type(spec.kind)
                    ));
                }
                continue;
            }
            let body = Self::create_body(spec, &label);
            if setup.may_send("POST", &url, &body) {
                let answer = self
                    .call(client, Method::POST, &url, Some(&body))
                    .await
                    .map_err(call_sink_error)?;
                if !(200..300).contains(&answer.status) {
                    return Err(api_error(PERSON_FIELDS, &answer));
                }
                if let Some(error) = refused_despite_2xx(&answer.text) {
                    return Err(SinkError::Api {
                        what: PERSON_FIELDS.into(),
                        status: answer.status,
                        message: error,
                    });
                }
                let key = serde_json::from_str::<Value>(&answer.text)
                    .ok()
                    .and_then(|created| created["data"]["key"].as_str().map(str::to_string))
                    .unwrap_or_default();
                setup.created(format!(
                    "person field \"{label}\" ({}, key {key})",
                    field_type(spec.kind)
                ));
            }
        }
        Ok(())
    }

    pub(super) fn create_body(spec: &FieldSpec, name: &str) -> Value {
        let mut body = json!({
            "name": name,
            "field_type": field_type(spec.kind),
            "add_visible_flag": false,
        });
        if let FieldKind::Choice(values) = spec.kind {
            body["options"] = values
                .iter()
                .map(|value| json!({ "label": value }))
                .collect();
        }
        body
    }
}
