//! The dead letters as the admin API, the console and `attentiond dead-letters list`
//! show them.

use crate::clock::rfc3339;
use crate::fields::FieldValue;
use crate::model::Identity;
use crate::store::{Contact, DeadLetter, Store, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// A record a CRM kept refusing, with the fields it refused and its own words.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterView {
    /// Decimal text: ids pass 2^53.
    pub id: String,
    pub sink: String,
    /// `c_<n>` for a contact record.
    pub contact: Option<String>,
    /// The account key for an account record.
    pub account: Option<String>,
    pub identities: Vec<String>,
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub error: String,
    pub attempts: u32,
    pub failed_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLettersView {
    pub dead_letters: Vec<DeadLetterView>,
}

impl From<&DeadLetter> for DeadLetterView {
    fn from(letter: &DeadLetter) -> DeadLetterView {
        DeadLetterView {
            id: letter.id.to_string(),
            sink: letter.sink.clone(),
            contact: letter
                .account
                .is_none()
                .then(|| Contact::public_id(letter.contact)),
            account: letter.account.clone(),
            identities: letter.identities.iter().map(Identity::key).collect(),
            fields: letter
                .fields
                .iter()
                .map(|(name, value)| {
                    let shown = match value {
                        FieldValue::List(items) => serde_json::json!(items),
                        other => other.as_json(),
                    };
                    (name.clone(), shown)
                })
                .collect(),
            error: letter.error.clone(),
            attempts: letter.attempts,
            failed_at: rfc3339(letter.failed_at),
        }
    }
}

pub fn dead_letters(store: &Store) -> Result<DeadLettersView, StoreError> {
    Ok(DeadLettersView {
        dead_letters: store
            .dead_letters()?
            .iter()
            .map(DeadLetterView::from)
            .collect(),
    })
}

/// `{"dead_letters": [...]}`.
pub fn dead_letters_json(store: &Store) -> Result<serde_json::Value, StoreError> {
    Ok(serde_json::to_value(dead_letters(store)?)?)
}
