//! One batch out: a `PATCH /api/v2/persons/{id}` per person, its custom fields typed
//! for their fields, each answer read as that person's.

use super::api::{class, describe, refused_despite_2xx};
use super::fields::{typed, PersonField};
use super::{person_id, PipedriveSink};
use crate::fields::Records;
use crate::sinks::retry::Class;
use crate::sinks::Outcome;
use crate::store::OutboxEntry;
use reqwest::Method;
use serde_json::{json, Map, Value};

impl PipedriveSink {
    /// Each person of the batch, one request after the other.
    pub(super) async fn write(
        &self,
        client: &reqwest::Client,
        records: Records,
        batch: &[OutboxEntry],
    ) -> Outcome {
        if records == Records::Accounts {
            // Not reached: no account is addressable for this sink.
            return Outcome::Rejected {
                status: 400,
                error: "the Pipedrive sink writes no account fields".into(),
            };
        }
        let names = self.names(Records::Contacts);
        let fields = match self.resolve(client, &names).await {
            Ok(Ok(fields)) => fields,
            Ok(Err(missing)) => {
                return Outcome::PerRecord {
                    status: 200,
                    errors: vec![Some(missing); batch.len()],
                    pause: self.pending_wait(),
                }
            }
            Err(outcome) => return outcome,
        };
        let mut errors = Vec::with_capacity(batch.len());
        let mut last_status = 200;
        for entry in batch {
            let Some(id) = person_id(&entry.identities) else {
                errors.push(Some("the contact has no Pipedrive person id".to_string()));
                continue;
            };
            let body = match self.body(&fields, entry) {
                Ok(body) => body,
                Err(error) => {
                    errors.push(Some(error));
                    continue;
                }
            };
            if body["custom_fields"].as_object().is_some_and(Map::is_empty) {
                errors.push(None);
                continue;
            }
            let url = self.crm.url(&format!("/api/v2/persons/{id}"));
            let answer = match self.call(client, Method::PATCH, &url, Some(&body)).await {
                Ok(answer) => answer,
                // Persons already written in this batch are sent again later: the
                // same values, so no harm beyond the requests.
                Err(error) => return Outcome::unreachable(error.to_string()),
            };
            last_status = answer.status;
            match class(answer.status) {
                Class::Success => errors.push(refused_despite_2xx(&answer.text)),
                // Records stay queued; after a 429, for as long as the rate-limit
                // headers said.
                Class::Transient => {
                    let wait = if answer.status == 429 {
                        answer.wait
                    } else {
                        answer.retry_after
                    };
                    return Outcome::transient(
                        answer.status,
                        wait,
                        describe(answer.status, &answer.text),
                    );
                }
                // One request is one person: a refusal is that person's.
                Class::Rejected => {
                    if matches!(answer.status, 400 | 422) {
                        self.forget_fields().await;
                    }
                    errors.push(Some(describe(answer.status, &answer.text)));
                }
            }
        }
        Outcome::PerRecord {
            status: last_status,
            errors,
            pause: self.pending_wait(),
        }
    }

    /// `{"custom_fields": {<key>: <typed value>, …}}` for one person.
    pub(super) fn body(
        &self,
        fields: &[(String, PersonField)],
        entry: &OutboxEntry,
    ) -> Result<Value, String> {
        let mut custom = Map::new();
        for (name, field) in fields {
            if let Some(value) = entry.fields.get(name) {
                custom.insert(field.key.clone(), typed(field, value)?);
            }
        }
        Ok(json!({ "custom_fields": custom }))
    }
}
