//! Everything held about one person, as one document: what a person may ask to see
//! and take elsewhere (GDPR articles 15 and 20). Read from the store like every
//! view; the admin API and `attentiond export` give the same document.

use super::contact::{contact_view, ContactView, OutcomeView};
use super::dead_letters::DeadLetterView;
use crate::clock::rfc3339;
use crate::model::{ContactKey, Identity, Millis};
use crate::scoring::ScoringConfig;
use crate::store::{Contact, Store, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportView {
    /// `c_<n>`.
    pub contact: String,
    pub created_at: String,
    /// Their ids in every system: `email:…`, `hubspot:…`, `anon:…`.
    pub identities: Vec<String>,
    /// CRM ids merged into this person, still recognised in events.
    pub retired_identities: Vec<String>,
    /// Each profile field with the source that stated it and when.
    #[schema(value_type = Object)]
    pub profile: serde_json::Value,
    /// The account whose buying group they count in.
    pub account: Option<String>,
    /// Their scores and fields as of now.
    pub scores: ContactView,
    /// Every qualification stage they entered, with the reason.
    #[schema(value_type = Vec<Object>)]
    pub stage_history: serde_json::Value,
    /// Every touch kept, oldest first, with its properties as the source gave them.
    #[schema(value_type = Vec<Object>)]
    pub touches: serde_json::Value,
    pub outcomes: Vec<OutcomeView>,
    /// What was last queued for the CRMs (every sink gets the same fields).
    #[schema(value_type = Object)]
    pub pushed: serde_json::Value,
    /// Per sink, what waits to be written and since when.
    #[schema(value_type = Object)]
    pub waiting: serde_json::Value,
    /// Writes a CRM kept refusing.
    pub dead_letters: Vec<DeadLetterView>,
}

/// The document for the person `key` names; `None` when nobody is.
pub fn export(
    store: &Store,
    key: &ContactKey,
    sinks: &[String],
    now: Millis,
    config: &ScoringConfig,
) -> Result<Option<ExportView>, StoreError> {
    let Some(contact) = store.find_contact(key)? else {
        return Ok(None);
    };
    let Some(scores) = contact_view(store, &ContactKey::Id(contact.id), now, config)? else {
        return Ok(None);
    };
    let touches: Vec<serde_json::Value> = store
        .touches_of(contact.id)?
        .iter()
        .map(|touch| {
            serde_json::json!({
                "kind": touch.kind,
                "occurred_at": rfc3339(touch.occurred_at),
                "source": touch.source,
                "weight": touch.weight,
                "notes": touch.notes,
                "properties": touch.properties,
            })
        })
        .collect();
    let outcomes = store
        .outcomes_of(contact.id)?
        .iter()
        .map(OutcomeView::from)
        .collect();
    let mut waiting = serde_json::Map::new();
    for sink in sinks {
        if let Some(entry) = store.pending_for_contact(sink, contact.id)? {
            waiting.insert(
                sink.clone(),
                serde_json::json!({
                    "fields": entry.fields,
                    "queued_at": rfc3339(entry.queued_at),
                    "attempts": entry.attempts,
                    "last_error": entry.last_error,
                }),
            );
        }
    }
    let dead_letters = store
        .dead_letters()?
        .iter()
        .filter(|letter| letter.account.is_none() && letter.contact == contact.id)
        .map(DeadLetterView::from)
        .collect();
    let profile: serde_json::Map<String, serde_json::Value> = contact
        .profile
        .iter()
        .map(|(name, field)| {
            (
                name.clone(),
                serde_json::json!({
                    "value": field.value,
                    "source": field.source,
                    "at": rfc3339(field.at),
                }),
            )
        })
        .collect();
    let stage_history: Vec<serde_json::Value> = contact
        .stage_history
        .iter()
        .map(|change| {
            serde_json::json!({
                "from": change.from,
                "to": change.to,
                "at": rfc3339(change.at),
                "reason": change.reason,
            })
        })
        .collect();
    Ok(Some(ExportView {
        contact: Contact::public_id(contact.id),
        created_at: rfc3339(contact.created_at),
        identities: contact.identities.iter().map(Identity::key).collect(),
        retired_identities: contact.retired.iter().map(Identity::key).collect(),
        profile: profile.into(),
        account: contact.account_key.clone().or(contact.account.clone()),
        scores,
        stage_history: stage_history.into(),
        touches: touches.into(),
        outcomes,
        pushed: serde_json::to_value(&contact.visible)?,
        waiting: waiting.into(),
        dead_letters,
    }))
}
