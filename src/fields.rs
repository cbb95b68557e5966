//! The fields attentiond writes to CRMs, under names of its own.
//!
//! Every sink maps these names to the CRM's field names (`[sinks.<name>.fields]` for
//! people, `[sinks.<name>.account_fields]` for accounts) and formats the values the way
//! its API wants them. A field mapped to `""` is not written. `setup-crm` creates the
//! CRM fields from the same list, so a field added here reaches every CRM.

use crate::clock::rfc3339;
use crate::model::{Identity, Millis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One value as attentiond holds it; each sink decides how its API spells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldValue {
    Number(i64),
    Decimal(f64),
    Text(String),
    /// Empty when there is no such time (a contact without touches).
    Time(Option<Millis>),
    /// Written as one text, items joined with `; `.
    List(Vec<String>),
}

impl FieldValue {
    /// Plain text, as HubSpot properties and most form fields take it.
    pub fn as_text(&self) -> String {
        match self {
            FieldValue::Number(value) => value.to_string(),
            FieldValue::Decimal(value) => format_decimal(*value),
            FieldValue::Text(value) => value.clone(),
            FieldValue::Time(time) => time.map(rfc3339).unwrap_or_default(),
            FieldValue::List(items) => items.join("; "),
        }
    }

    /// Typed JSON, as Salesforce, Pipedrive and Marketo take it: numbers as numbers,
    /// an absent time as `null`.
    pub fn as_json(&self) -> serde_json::Value {
        match self {
            FieldValue::Number(value) => (*value).into(),
            FieldValue::Decimal(value) => {
                serde_json::Number::from_f64((*value * 100.0).round() / 100.0)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null)
            }
            FieldValue::Time(None) => serde_json::Value::Null,
            other => other.as_text().into(),
        }
    }
}

fn format_decimal(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    if rounded == rounded.trunc() {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded}")
    }
}

/// Field name → value, as queued for one record.
pub type PushFields = BTreeMap<String, FieldValue>;

/// What kind of CRM field holds a value; `setup-crm` creates fields of this kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Number,
    Decimal,
    Text,
    LongText,
    DateTime,
    /// A pick-list with these values.
    Choice(&'static [&'static str]),
}

/// Whose record a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Records {
    Contacts,
    Accounts,
}

/// One field attentiond can write.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// attentiond's name, the key in `[sinks.<name>.fields]`.
    pub name: &'static str,
    /// What a rep reads as the field's label.
    pub label: &'static str,
    pub kind: FieldKind,
    pub description: &'static str,
}

pub const TRENDS: &[&str] = &["rising", "steady", "fading"];

/// Fields written to people (HubSpot contacts, Salesforce contacts and leads,
/// Pipedrive persons, Marketo leads).
pub const CONTACT_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "score",
        label: "Attention score",
        kind: FieldKind::Number,
        description: "Recent, decaying attention from 0 to 99.",
    },
    FieldSpec {
        name: "trend",
        label: "Attention trend",
        kind: FieldKind::Choice(TRENDS),
        description: "Whether attention is rising, steady or fading.",
    },
    FieldSpec {
        name: "reasons",
        label: "Attention reasons",
        kind: FieldKind::LongText,
        description: "What the attention consists of, most weighty first.",
    },
    FieldSpec {
        name: "last_touch_at",
        label: "Attention last touch",
        kind: FieldKind::DateTime,
        description: "When the latest touch happened.",
    },
    FieldSpec {
        name: "qualification_stage",
        label: "Qualification stage",
        kind: FieldKind::Text,
        description:
            "Stage on the qualification ladder (new, engaged, mql, sales_ready by default).",
    },
    FieldSpec {
        name: "stage_changed_at",
        label: "Attention stage changed at",
        kind: FieldKind::DateTime,
        description: "When the qualification stage last changed.",
    },
    FieldSpec {
        name: "fit_grade",
        label: "Fit grade",
        kind: FieldKind::Choice(GRADES),
        description: "Fit to the ideal customer profile, A (best) to D.",
    },
    FieldSpec {
        name: "matrix",
        label: "Attention matrix",
        kind: FieldKind::Text,
        description: "Fit grade and attention band, A1 (best fit, most attention) to D4.",
    },
    FieldSpec {
        name: "velocity",
        label: "Attention velocity",
        kind: FieldKind::Number,
        description: "Change of raw attention over the last 7 days; above 0 is rising.",
    },
];

pub const GRADES: &[&str] = &["A", "B", "C", "D"];

/// Fields written to accounts (HubSpot companies, Salesforce accounts).
pub const ACCOUNT_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "score",
        label: "Account attention score",
        kind: FieldKind::Number,
        description:
            "Attention of the buying group from 0 to 99; breadth counts more than one busy person.",
    },
    FieldSpec {
        name: "trend",
        label: "Account attention trend",
        kind: FieldKind::Choice(TRENDS),
        description: "Whether the account's attention is rising, steady or fading.",
    },
    FieldSpec {
        name: "people_engaged",
        label: "People engaged",
        kind: FieldKind::Number,
        description: "People at the account with attention in the last 30 days.",
    },
    FieldSpec {
        name: "reasons",
        label: "Account attention reasons",
        kind: FieldKind::LongText,
        description: "Who is engaged and which buying-group roles are covered or missing.",
    },
];

pub fn specs(records: Records) -> &'static [FieldSpec] {
    match records {
        Records::Contacts => CONTACT_FIELDS,
        Records::Accounts => ACCOUNT_FIELDS,
    }
}

/// attentiond name → CRM name, for the fields a sink writes.
pub type FieldNames = BTreeMap<String, String>;

/// The sink's names: its defaults, replaced by what the operator configured; a name
/// mapped to `""` is dropped. An unknown attentiond name is a config error naming it.
pub fn resolve_names(
    records: Records,
    default_name: impl Fn(&FieldSpec) -> String,
    configured: &FieldNames,
) -> Result<FieldNames, String> {
    let specs = specs(records);
    for name in configured.keys() {
        if !specs.iter().any(|spec| spec.name == name) {
            let known: Vec<&str> = specs.iter().map(|spec| spec.name).collect();
            return Err(format!(
                "unknown field `{name}`; known: {}",
                known.join(", ")
            ));
        }
    }
    let mut names = FieldNames::new();
    for spec in specs {
        let crm_name = configured
            .get(spec.name)
            .cloned()
            .unwrap_or_else(|| default_name(spec));
        if !crm_name.is_empty() {
            names.insert(spec.name.to_string(), crm_name);
        }
    }
    Ok(names)
}

/// The (CRM name, value) pairs of one record, for the fields the sink writes.
pub fn mapped<'a>(
    names: &'a FieldNames,
    fields: &'a PushFields,
) -> impl Iterator<Item = (&'a str, &'a FieldValue)> + 'a {
    names.iter().filter_map(move |(name, crm_name)| {
        fields.get(name).map(|value| (crm_name.as_str(), value))
    })
}

/// What the pipeline must know of a sink to queue for it: which records it can
/// address at all. Each CRM answers for itself; the pipeline sees only this.
pub trait Recipient: Send + Sync {
    /// Can this contact be written (does the CRM know an id or an email of theirs)?
    fn addressable(&self, identities: &[Identity]) -> bool;
    /// Does the CRM hold the account with this key (`hubspot-company:<id>`)?
    fn account_addressable(&self, account: &str) -> bool;
}

/// Every sink the pipeline queues for, by name.
pub type Recipients = BTreeMap<String, Arc<dyn Recipient>>;

pub fn spec(records: Records, name: &str) -> Option<&'static FieldSpec> {
    specs(records).iter().find(|spec| spec.name == name)
}

/// A contact's fields as the pipeline queues them for a rising contact, for sink tests.
#[cfg(test)]
pub fn sample_contact_fields() -> PushFields {
    PushFields::from([
        ("score".to_string(), FieldValue::Number(57)),
        ("trend".to_string(), FieldValue::Text("rising".into())),
        (
            "reasons".to_string(),
            FieldValue::List(vec![
                "form submit today".into(),
                "3 email clicks this week".into(),
            ]),
        ),
        (
            "last_touch_at".to_string(),
            FieldValue::Time(Some(1_700_000_000_000)),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_spelled_as_text_or_typed_json() {
        assert_eq!(FieldValue::Number(57).as_text(), "57");
        assert_eq!(FieldValue::Number(57).as_json(), serde_json::json!(57));
        assert_eq!(FieldValue::Decimal(2.0).as_text(), "2");
        assert_eq!(FieldValue::Decimal(-1.256).as_text(), "-1.26");
        assert_eq!(FieldValue::Time(None).as_text(), "");
        assert_eq!(FieldValue::Time(None).as_json(), serde_json::Value::Null);
        assert_eq!(
            FieldValue::Time(Some(1_700_000_000_000)).as_json(),
            serde_json::json!("2023-11-14T22:13:20.000Z")
        );
        assert_eq!(
            FieldValue::List(vec!["a".into(), "b".into()]).as_text(),
            "a; b"
        );
    }

    #[test]
    fn configured_names_replace_defaults_and_empty_drops_a_field() {
        let configured: FieldNames = [
            ("score".to_string(), "engagement".to_string()),
            ("reasons".to_string(), String::new()),
        ]
        .into();
        let names = resolve_names(
            Records::Contacts,
            |spec| format!("attention_{}", spec.name),
            &configured,
        )
        .unwrap();
        assert_eq!(names.get("score").map(String::as_str), Some("engagement"));
        assert_eq!(
            names.get("trend").map(String::as_str),
            Some("attention_trend")
        );
        assert!(!names.contains_key("reasons"));
    }

    #[test]
    fn an_unknown_field_name_is_refused_with_the_known_ones() {
        let configured: FieldNames = [("scroe".to_string(), "x".to_string())].into();
        let error = resolve_names(Records::Contacts, |s| s.name.into(), &configured).unwrap_err();
        assert!(
            error.contains("scroe") && error.contains("last_touch_at"),
            "{error}"
        );
    }
}
