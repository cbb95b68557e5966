//! Sync Leads for one batch: the request bodies, one per lookup field, and Marketo's
//! per-lead `result` read back onto the batch.

use super::api::MarketoError;
use super::{lookup, MarketoSink};
use crate::fields::{mapped, Records};
use crate::sinks::Outcome;
use crate::store::OutboxEntry;
use serde::Deserialize;

/// One entry of Sync Leads' `result`.
#[derive(Debug, Deserialize)]
pub(super) struct LeadResult {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub reasons: Vec<MarketoError>,
}

impl MarketoSink {
    /// The Sync Leads bodies for a batch: one per lookup field, with the batch indexes
    /// each input stands for.
    pub fn bodies(&self, batch: &[OutboxEntry]) -> Vec<(Vec<usize>, serde_json::Value)> {
        let names = self.names(Records::Contacts);
        let mut groups: Vec<(&'static str, Vec<usize>, Vec<serde_json::Value>)> = Vec::new();
        for (index, entry) in batch.iter().enumerate() {
            let Some((field, key)) = lookup(&entry.identities) else {
                continue;
            };
            let mut input = serde_json::Map::new();
            input.insert(field.to_string(), key);
            for (name, value) in mapped(&names, &entry.fields) {
                input.insert(name.to_string(), fit_string_field(value.as_json()));
            }
            match groups
                .iter_mut()
                .find(|(lookup_field, _, _)| *lookup_field == field)
            {
                Some((_, indexes, inputs)) => {
                    indexes.push(index);
                    inputs.push(input.into());
                }
                None => groups.push((field, vec![index], vec![input.into()])),
            }
        }
        groups.sort_by_key(|(field, _, _)| *field != "id");
        groups
            .into_iter()
            .map(|(field, indexes, inputs)| {
                (indexes, serde_json::json!({"action": "updateOnly", "lookupField": field, "input": inputs}))
            })
            .collect()
    }

    /// Sync Leads for each group of the batch; Marketo holds no accounts to write.
    pub(super) async fn write(
        &self,
        client: &reqwest::Client,
        records: Records,
        batch: &[OutboxEntry],
    ) -> Outcome {
        if records == Records::Accounts {
            return Outcome::PerRecord {
                status: 200,
                errors: vec![Some("the Marketo sink writes leads only".into()); batch.len()],
                pause: None,
            };
        }
        let mut errors: Vec<Option<String>> =
            vec![Some("no Marketo lead id or email to look the lead up by".into()); batch.len()];
        for (indexes, body) in self.bodies(batch) {
            match self
                .call(client, true, "/rest/v1/leads.json", &[], Some(&body))
                .await
            {
                Ok(envelope) => per_record(&indexes, &envelope.result, &mut errors),
                Err(error) => return self.outcome(error),
            }
        }
        Outcome::PerRecord {
            status: 200,
            errors,
            pause: None,
        }
    }
}

/// Matches Sync Leads' `result` (input order) to the batch.
pub(super) fn per_record(
    indexes: &[usize],
    results: &[serde_json::Value],
    errors: &mut [Option<String>],
) {
    for (position, index) in indexes.iter().enumerate() {
        let Some(slot) = errors.get_mut(*index) else {
            continue;
        };
        *slot = match results
            .get(position)
            .map(|value| serde_json::from_value::<LeadResult>(value.clone()))
        {
            Some(Ok(result)) if result.status == "updated" || result.status == "created" => None,
            Some(Ok(result)) if !result.reasons.is_empty() => Some(
                result
                    .reasons
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Some(Ok(result)) => Some(format!(
                "Marketo answered status `{}` without reasons",
                result.status
            )),
            Some(Err(error)) => Some(format!("unreadable result: {error}")),
            None => Some("Marketo returned no result for this lead".into()),
        };
    }
}

/// Marketo's `string` fields hold 255 characters; longer reasons are cut at a phrase
/// boundary rather than refused.
pub(super) fn fit_string_field(value: serde_json::Value) -> serde_json::Value {
    const STRING_FIELD_CHARS: usize = 255;
    match value {
        serde_json::Value::String(text) if text.chars().count() > STRING_FIELD_CHARS => {
            let mut cut: String = text.chars().take(STRING_FIELD_CHARS).collect();
            if let Some(end) = cut.rfind("; ") {
                cut.truncate(end);
            }
            serde_json::Value::String(cut)
        }
        other => other,
    }
}
