//! The outbox queue: what a rep would see of a contact or an account, under
//! attentiond's field names, put in the outbox of every sink that can address it.

use crate::fields::{FieldValue, PushFields};
use crate::scoring::Visible;
use crate::store::AccountVisible;

/// A contact's visible fields under attentiond's names.
pub fn contact_fields(visible: &Visible) -> PushFields {
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
pub fn account_fields(visible: &AccountVisible) -> PushFields {
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
