//! The outbox queue: what a rep would see of a contact or an account, under
//! attentiond's field names, put in the outbox of every sink that can address it.

use super::context::Context;
use crate::fields::{FieldValue, PushFields};
use crate::scoring::{qualify, Visible};
use crate::store::{AccountVisible, Contact, OutboxEntry, Round, StageChange, StoreError};

/// Most stage changes kept per contact.
const STAGE_HISTORY: usize = 50;

/// Re-qualifies the contact and puts its fields in every sink's outbox if a rep
/// would see a change. Returns whether the contact changed.
pub(super) fn queue(
    context: &Context<'_>,
    round: &mut Round<'_>,
    contact: &mut Contact,
    account_line: Option<&str>,
) -> Result<bool, StoreError> {
    let profile = contact.profile_values();
    let person = qualify::Person {
        attention: &contact.attention,
        profile: &profile,
        email: contact.email(),
        stage: contact.stage.as_deref(),
        stage_changed_at: contact.stage_changed_at,
        account: account_line,
    };
    let verdict = qualify::qualify(&person, context.now, context.scoring);
    let visible = qualify::visible(&person, &verdict, context.now, context.scoring);
    let mut changed = false;
    if let Some(reason) = verdict.change {
        contact.stage_history.push(StageChange {
            from: contact.stage.take(),
            to: verdict.stage.clone(),
            at: context.now,
            reason,
        });
        if contact.stage_history.len() > STAGE_HISTORY {
            contact.stage_history.remove(0);
        }
        contact.stage = Some(verdict.stage);
        contact.stage_changed_at = verdict.stage_changed_at;
        changed = true;
    }
    if contact.visible.as_ref() == Some(&visible) {
        return Ok(changed);
    }
    for (sink, recipient) in context.sinks {
        if !recipient.addressable(&contact.identities) {
            continue;
        }
        let fields = contact_fields(&visible);
        let entry =
            OutboxEntry::for_contact(contact.id, contact.identities.clone(), fields, context.now);
        round.queue(sink, &entry)?;
    }
    contact.visible = Some(visible);
    Ok(true)
}

/// Puts an account's fields in the outbox of every sink that holds such accounts.
pub(super) fn queue_account(
    context: &Context<'_>,
    round: &mut Round<'_>,
    key: &str,
    visible: &AccountVisible,
) -> Result<(), StoreError> {
    for (sink, recipient) in context.sinks {
        if recipient.account_addressable(key) {
            let entry = OutboxEntry::for_account(key, account_fields(visible), context.now);
            round.queue(sink, &entry)?;
        }
    }
    Ok(())
}

/// A contact's visible fields under attentiond's names.
fn contact_fields(visible: &Visible) -> PushFields {
    let mut fields = PushFields::new();
    fields.insert("score".into(), FieldValue::Number(visible.score.into()));
    fields.insert(
        "trend".into(),
        FieldValue::Text(visible.trend.as_str().into()),
    );
    fields.insert("reasons".into(), FieldValue::List(visible.reasons.clone()));
    fields.insert(
        "last_touch_at".into(),
        FieldValue::Time(visible.last_touch_at),
    );
    if !visible.stage.is_empty() {
        fields.insert(
            "qualification_stage".into(),
            FieldValue::Text(visible.stage.clone()),
        );
        fields.insert(
            "stage_changed_at".into(),
            FieldValue::Time(visible.stage_changed_at),
        );
        fields.insert(
            "fit_grade".into(),
            FieldValue::Text(visible.fit_grade.clone()),
        );
        fields.insert("matrix".into(), FieldValue::Text(visible.matrix.clone()));
        fields.insert("velocity".into(), FieldValue::Number(visible.velocity));
    }
    fields
}

/// An account's visible fields under attentiond's names.
fn account_fields(visible: &AccountVisible) -> PushFields {
    let mut fields = PushFields::new();
    fields.insert("score".into(), FieldValue::Number(visible.score.into()));
    fields.insert(
        "trend".into(),
        FieldValue::Text(visible.trend.as_str().into()),
    );
    fields.insert(
        "people_engaged".into(),
        FieldValue::Number(visible.people_engaged as i64),
    );
    fields.insert("reasons".into(), FieldValue::List(visible.reasons.clone()));
    fields
}
