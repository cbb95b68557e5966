//! The dead letters as the admin API and `attentiond dead-letters list` show them.

use crate::clock::rfc3339;
use crate::fields::FieldValue;
use crate::model::Identity;
use crate::store::{Contact, Store, StoreError};

/// `{"dead_letters": [...]}`: each with the record, the fields that were refused and
/// the CRM's own words.
pub fn dead_letters_json(store: &Store) -> Result<serde_json::Value, StoreError> {
    let letters = store.dead_letters()?;
    let items: Vec<serde_json::Value> = letters
        .iter()
        .map(|letter| {
            let fields: serde_json::Map<String, serde_json::Value> = letter
                .fields
                .iter()
                .map(|(name, value)| {
                    let shown = match value {
                        FieldValue::List(items) => serde_json::json!(items),
                        other => other.as_json(),
                    };
                    (name.clone(), shown)
                })
                .collect();
            serde_json::json!({
                "id": letter.id.to_string(),
                "sink": letter.sink,
                "contact": letter.account.is_none().then(|| Contact::public_id(letter.contact)),
                "account": letter.account,
                "identities": letter.identities.iter().map(Identity::key).collect::<Vec<_>>(),
                "fields": fields,
                "error": letter.error,
                "attempts": letter.attempts,
                "failed_at": rfc3339(letter.failed_at),
            })
        })
        .collect();
    Ok(serde_json::json!({ "dead_letters": items }))
}
