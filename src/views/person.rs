//! Everything the console's person page shows beyond the contact view: the curve of
//! attention, the calculation, and what each CRM holds or is about to receive.

use super::contact::{contact_view, ContactView};
use super::dead_letters::DeadLetterView;
use super::timeline::{timeline, Timeline};
use crate::clock::rfc3339;
use crate::fields::FieldValue;
use crate::model::{ContactKey, Millis};
use crate::scoring::ScoringConfig;
use crate::store::{Contact, Store, StoreError};
use serde::Serialize;

/// Days the chart looks back.
pub const CHART_DAYS: i64 = 90;

#[derive(Debug, Serialize)]
pub struct PersonPage {
    pub contact: ContactView,
    pub timeline: Timeline,
    pub explanation: String,
    /// The fields as last queued for every CRM.
    pub queued: Option<QueuedFields>,
    pub crms: Vec<CrmState>,
}

#[derive(Debug, Serialize)]
pub struct QueuedFields {
    pub score: u8,
    pub trend: String,
    pub reasons: Vec<String>,
    pub stage: String,
    pub fit_grade: String,
    pub matrix: String,
    pub velocity: i64,
}

/// One sink's side of the person.
#[derive(Debug, Serialize)]
pub struct CrmState {
    pub sink: String,
    /// Fields waiting to be written, with when they were queued and why not yet.
    pub pending: Option<PendingWrite>,
    pub dead_letter: Option<DeadLetterView>,
}

#[derive(Debug, Serialize)]
pub struct PendingWrite {
    pub fields: Vec<(String, String)>,
    pub queued_at: String,
    pub attempts: u32,
    pub not_before: Option<String>,
    pub last_error: Option<String>,
}

fn shown(value: &FieldValue) -> String {
    match value {
        FieldValue::List(items) => items.join("; "),
        other => match other.as_json() {
            serde_json::Value::String(text) => text,
            serde_json::Value::Null => String::new(),
            json => json.to_string(),
        },
    }
}

pub fn person_page(
    store: &Store,
    key: &ContactKey,
    sinks: &[String],
    now: Millis,
    config: &ScoringConfig,
) -> Result<Option<PersonPage>, StoreError> {
    let Some(contact) = store.find_contact(key)? else {
        return Ok(None);
    };
    let Some(view) = contact_view(store, &ContactKey::Id(contact.id), now, config)? else {
        return Ok(None);
    };
    let touches = store.touches_of(contact.id)?;
    let letters = store.dead_letters()?;
    let mut crms = Vec::new();
    for sink in sinks {
        let pending = store
            .pending_for_contact(sink, contact.id)?
            .map(|entry| PendingWrite {
                fields: entry
                    .fields
                    .iter()
                    .map(|(name, value)| (name.clone(), shown(value)))
                    .collect(),
                queued_at: rfc3339(entry.queued_at),
                attempts: entry.attempts,
                not_before: (entry.not_before > now).then(|| rfc3339(entry.not_before)),
                last_error: entry.last_error,
            });
        let dead_letter = letters
            .iter()
            .find(|letter| {
                &letter.sink == sink && letter.account.is_none() && letter.contact == contact.id
            })
            .map(DeadLetterView::from);
        crms.push(CrmState {
            sink: sink.clone(),
            pending,
            dead_letter,
        });
    }
    Ok(Some(PersonPage {
        timeline: timeline(&touches, contact.email(), now, CHART_DAYS, config),
        explanation: super::explain(store, &contact, now, config)?,
        queued: queued(&contact),
        contact: view,
        crms,
    }))
}

fn queued(contact: &Contact) -> Option<QueuedFields> {
    contact.visible.as_ref().map(|visible| QueuedFields {
        score: visible.score,
        trend: visible.trend.as_str().to_string(),
        reasons: visible.reasons.clone(),
        stage: visible.stage.clone(),
        fit_grade: visible.fit_grade.clone(),
        matrix: visible.matrix.clone(),
        velocity: visible.velocity,
    })
}
