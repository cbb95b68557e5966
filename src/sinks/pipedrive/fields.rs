//! The person fields: listed once through `GET /api/v1/personFields` and cached, found
//! by the name a rep sees, and each value typed as the field's type wants it.

use super::api::{api_error, call_sink_error, describe, Answer, CallError};
use super::PipedriveSink;
use crate::fields::{FieldKind, FieldNames, FieldValue};
use crate::sinks::{Outcome, SinkError};
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Pipedrive's largest page for v1 lists.
const PAGE_LIMIT: usize = 500;
/// Guards against a listing that never says it is done.
const MAX_PAGES: usize = 40;
/// How long a field listing that lacks a configured field is trusted before it is
/// read again, so that fields created meanwhile (`setup-crm`) are found soon.
const INCOMPLETE_FIELDS_TTL: Duration = Duration::from_secs(10);
/// Pipedrive's text fields (`varchar`, `varchar_auto`, `phone`) hold at most this much.
const VARCHAR_CHARS: usize = 255;
pub(super) const PERSON_FIELDS: &str = "/api/v1/personFields";

pub(super) struct FieldCache {
    fields: Vec<PersonField>,
    fetched_at: Instant,
    complete: bool,
    stale: bool,
}

/// One entry of `GET /api/v1/personFields` (pipedrive/client-nodejs
/// `src/versions/v1/models/field.ts`), as far as we read it.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct PersonField {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub field_type: String,
    /// True for custom fields: only those live in `custom_fields`.
    #[serde(default)]
    pub edit_flag: bool,
    #[serde(default)]
    pub options: Value,
}

impl PersonField {
    fn option_id(&self, label: &str) -> Option<Value> {
        self.options.as_array()?.iter().find_map(|option| {
            let matches = option["label"]
                .as_str()
                .is_some_and(|l| l.trim().eq_ignore_ascii_case(label.trim()));
            if !matches {
                return None;
            }
            match &option["id"] {
                Value::Number(id) => Some(Value::Number(id.clone())),
                // v1 may spell ids as strings; v2 takes numbers only.
                Value::String(id) => id.parse::<i64>().ok().map(Value::from),
                _ => None,
            }
        })
    }

    fn option_labels(&self) -> Vec<String> {
        self.options
            .as_array()
            .map(|options| {
                options
                    .iter()
                    .filter_map(|o| o["label"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The custom field with this name, compared as a rep would (case and outer spaces
/// ignored).
pub(super) fn find_field<'a>(fields: &'a [PersonField], name: &str) -> Option<&'a PersonField> {
    fields
        .iter()
        .find(|field| field.edit_flag && field.name.trim().eq_ignore_ascii_case(name.trim()))
}

/// The Pipedrive field type `setup-crm` creates for a kind of value.
pub(super) fn field_type(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Number | FieldKind::Decimal => "double",
        FieldKind::Text => "varchar",
        FieldKind::LongText => "text",
        // Pipedrive has no date-and-time field. A date field can be filtered and
        // sorted ("last touch in the last 7 days"), which reps use more than the hour.
        FieldKind::DateTime => "date",
        FieldKind::Choice(_) => "enum",
    }
}

/// The field types a kind of value can be written to.
pub(super) fn accepts(kind: FieldKind, field: &PersonField) -> bool {
    let text = matches!(
        field.field_type.as_str(),
        "varchar" | "varchar_auto" | "text"
    );
    match kind {
        FieldKind::Number | FieldKind::Decimal => text || field.field_type == "double",
        FieldKind::Text | FieldKind::LongText => text,
        FieldKind::DateTime => text || field.field_type == "date",
        FieldKind::Choice(values) => {
            text || (matches!(field.field_type.as_str(), "enum" | "set")
                && values.iter().all(|value| field.option_id(value).is_some()))
        }
    }
}

/// A value as Pipedrive v2 wants it for this field's type.
pub(super) fn typed(field: &PersonField, value: &FieldValue) -> Result<Value, String> {
    if matches!(value, FieldValue::Time(None)) {
        return Ok(Value::Null);
    }
    match field.field_type.as_str() {
        "double" => match value {
            FieldValue::Number(_) | FieldValue::Decimal(_) => Ok(value.as_json()),
            other => other
                .as_text()
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| {
                    format!(
                        "person field \"{}\" is numeric and `{}` is not a number",
                        field.name,
                        other.as_text()
                    )
                }),
        },
        "date" => match value {
            FieldValue::Time(Some(at)) => chrono::DateTime::from_timestamp_millis(*at)
                .map(|time| Value::from(time.format("%Y-%m-%d").to_string()))
                .ok_or_else(|| format!("time {at} is out of range")),
            _ => Err(format!(
                "person field \"{}\" is a date field and `{}` is not a time",
                field.name,
                value.as_text()
            )),
        },
        "enum" | "set" => {
            let label = value.as_text();
            if label.is_empty() {
                return Ok(Value::Null);
            }
            let id = field.option_id(&label).ok_or_else(|| {
                format!(
                    "person field \"{}\" has no option \"{label}\" (options: {}); add it in Pipedrive",
                    field.name,
                    field.option_labels().join(", ")
                )
            })?;
            Ok(if field.field_type == "set" {
                Value::Array(vec![id])
            } else {
                id
            })
        }
        "varchar" | "varchar_auto" => Ok(Value::from(
            value
                .as_text()
                .chars()
                .take(VARCHAR_CHARS)
                .collect::<String>(),
        )),
        "text" => Ok(Value::from(value.as_text())),
        other => Err(format!(
            "person field \"{}\" has type `{other}`, which attentiond cannot write; \
             use a numeric, text, date or single-option field",
            field.name
        )),
    }
}

/// Why the person fields could not be listed.
#[derive(Debug)]
pub(super) enum ListError {
    Call(CallError),
    Status(Answer),
    Unreadable(String),
}

impl ListError {
    pub(super) fn outcome(self) -> Outcome {
        match self {
            ListError::Call(error) => Outcome::unreachable(error.to_string()),
            ListError::Status(answer) => Outcome::Transient {
                status: Some(answer.status),
                retry_after: if answer.status == 429 {
                    answer.wait
                } else {
                    answer.retry_after
                },
                error: format!(
                    "listing person fields: {}",
                    describe(answer.status, &answer.text)
                ),
            },
            ListError::Unreadable(message) => {
                Outcome::unreachable(format!("listing person fields: {message}"))
            }
        }
    }

    pub(super) fn sink_error(self) -> SinkError {
        match self {
            ListError::Call(error) => call_sink_error(error),
            ListError::Status(answer) => api_error(PERSON_FIELDS, &answer),
            ListError::Unreadable(message) => SinkError::Unreadable {
                what: PERSON_FIELDS.into(),
                message,
            },
        }
    }
}

/// `GET /api/v1/personFields` page: `additional_data.pagination` holds
/// `more_items_in_collection` and `next_start` (v1 pagination); the generated SDK
/// model puts them directly in `additional_data`, so both are read.
#[derive(Debug, Deserialize)]
pub(super) struct FieldsPage {
    #[serde(default)]
    data: Option<Vec<Value>>,
    #[serde(default)]
    additional_data: Value,
}

impl FieldsPage {
    pub(super) fn next_start(&self, start: usize, read: usize) -> Option<usize> {
        let pagination = match &self.additional_data["pagination"] {
            Value::Object(_) => &self.additional_data["pagination"],
            _ => &self.additional_data,
        };
        if pagination["more_items_in_collection"].as_bool() != Some(true) || read == 0 {
            return None;
        }
        Some(
            pagination["next_start"]
                .as_u64()
                .map(|n| n as usize)
                .unwrap_or(start + read),
        )
    }
}

impl PipedriveSink {
    /// Every person field, page by page.
    pub(super) async fn list_fields(
        &self,
        client: &reqwest::Client,
    ) -> Result<Vec<PersonField>, ListError> {
        let mut fields = Vec::new();
        let mut start = 0;
        for _ in 0..MAX_PAGES {
            let url = self
                .crm
                .url(&format!("{PERSON_FIELDS}?start={start}&limit={PAGE_LIMIT}"));
            let answer = self
                .call(client, Method::GET, &url, None)
                .await
                .map_err(ListError::Call)?;
            if !(200..300).contains(&answer.status) {
                return Err(ListError::Status(answer));
            }
            let page: FieldsPage = serde_json::from_str(&answer.text)
                .map_err(|error| ListError::Unreadable(error.to_string()))?;
            let data = page.data.clone().unwrap_or_default();
            let read = data.len();
            // System fields of odd shapes are skipped rather than failing the listing.
            fields.extend(
                data.into_iter()
                    .filter_map(|field| serde_json::from_value::<PersonField>(field).ok()),
            );
            match page.next_start(start, read) {
                Some(next) if next > start => start = next,
                _ => return Ok(fields),
            }
        }
        Ok(fields)
    }

    /// The fields to write, by attentiond name, from the cache when it can be trusted.
    /// `Err` is the batch's outcome when Pipedrive could not be asked.
    pub(super) async fn resolve(
        &self,
        client: &reqwest::Client,
        names: &FieldNames,
    ) -> Result<Result<Vec<(String, PersonField)>, String>, Outcome> {
        let mut cache = self.crm.state.fields.lock().await;
        let fresh = cache.as_ref().is_some_and(|cache| {
            !cache.stale && (cache.complete || cache.fetched_at.elapsed() < INCOMPLETE_FIELDS_TTL)
        });
        if !fresh {
            let fields = self.list_fields(client).await.map_err(ListError::outcome)?;
            let complete = names
                .values()
                .all(|name| find_field(&fields, name).is_some());
            *cache = Some(FieldCache {
                fields,
                fetched_at: Instant::now(),
                complete,
                stale: false,
            });
        }
        let fields = cache
            .as_ref()
            .map(|c| c.fields.as_slice())
            .unwrap_or_default();
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for (name, crm_name) in names {
            match find_field(fields, crm_name) {
                Some(field) => found.push((name.clone(), field.clone())),
                None => missing.push(format!("\"{crm_name}\" (fields.{name})")),
            }
        }
        if missing.is_empty() {
            Ok(Ok(found))
        } else {
            Ok(Err(format!(
                "Pipedrive has no person field named {}; run `attentiond setup-crm` for this sink, \
                 or map the field to an existing one in its `fields` table",
                missing.join(", ")
            )))
        }
    }

    /// A refusal may come from a field deleted or changed in Pipedrive: read them again.
    pub(super) async fn forget_fields(&self) {
        if let Some(cache) = self.crm.state.fields.lock().await.as_mut() {
            cache.stale = true;
        }
    }
}
