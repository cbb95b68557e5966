//! `attentiond setup-crm`: the custom fields, created through the Tooling API
//! (`POST /tooling/sobjects/CustomField`) on Contact and Lead, and on Account for the
//! account fields, unless a Tooling query finds them already.
//!
//! Existence is asked of the Tooling API, not of `describe`: a field nobody has been
//! granted field-level security on is missing from `describe`, and creating it again
//! would fail. `describe` is then used for what it does show: whether the user
//! attentiond signs in as may write each field. A field created through the API is
//! visible to no profile until someone grants it, which is said as steps by hand.

use super::api::Api;
use super::error::CallError;
use super::lookup::{soql_string, Object};
use crate::fields::{spec, FieldKind, FieldSpec, Records};
use crate::sinks::Setup;
use reqwest::Method;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};

/// One field to have: `Contact.Attention_Score__c`.
struct Wanted {
    object: Object,
    api_name: String,
    spec: &'static FieldSpec,
}

impl Wanted {
    fn full_name(&self) -> String {
        format!("{}.{}", self.object.as_str(), self.api_name)
    }

    /// `Attention_Score` for `Attention_Score__c`; `None` for a standard field or one
    /// of a managed package, which setup cannot create.
    fn developer_name(&self) -> Option<&str> {
        self.api_name
            .strip_suffix("__c")
            .filter(|name| !name.is_empty() && !name.contains("__"))
    }
}

/// `CustomFieldMetadata` for a field of this kind (Metadata API `CustomField`).
pub fn metadata(spec: &FieldSpec) -> serde_json::Value {
    let mut metadata = serde_json::json!({
        "label": spec.label,
        "description": spec.description,
        "inlineHelpText": spec.description,
        "required": false,
    });
    let typed = match spec.kind {
        FieldKind::Number => serde_json::json!({"type": "Number", "precision": 18, "scale": 0}),
        FieldKind::Decimal => serde_json::json!({"type": "Number", "precision": 18, "scale": 2}),
        FieldKind::Text => serde_json::json!({"type": "Text", "length": 255}),
        FieldKind::LongText => {
            serde_json::json!({"type": "LongTextArea", "length": 32768, "visibleLines": 3})
        }
        FieldKind::DateTime => serde_json::json!({"type": "DateTime"}),
        FieldKind::Choice(values) => serde_json::json!({
            "type": "Picklist",
            "valueSet": {
                "restricted": true,
                "valueSetDefinition": {
                    "sorted": false,
                    "value": values
                        .iter()
                        .map(|value| serde_json::json!({"fullName": value, "default": false, "label": value}))
                        .collect::<Vec<_>>(),
                },
            },
        }),
    };
    if let (Some(metadata), Some(typed)) = (metadata.as_object_mut(), typed.as_object()) {
        metadata.extend(typed.clone());
    }
    metadata
}

#[derive(Deserialize)]
struct ToolingField {
    #[serde(rename = "DeveloperName")]
    developer_name: String,
    #[serde(rename = "TableEnumOrId")]
    table: String,
}

#[derive(Deserialize)]
struct QueryRecords<T> {
    #[serde(default = "Vec::new")]
    records: Vec<T>,
}

#[derive(Deserialize)]
struct Describe {
    #[serde(default)]
    fields: Vec<DescribedField>,
}

#[derive(Deserialize)]
struct DescribedField {
    name: String,
    #[serde(default)]
    updateable: bool,
}

#[derive(Deserialize)]
struct User {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Profile", default)]
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(rename = "Name", default)]
    name: String,
}

impl Api<'_> {
    fn wanted(&self) -> Vec<Wanted> {
        let mut wanted = Vec::new();
        let plan = self
            .sink
            .crm
            .object
            .objects()
            .iter()
            .map(|object| (*object, Records::Contacts))
            .chain([(Object::Account, Records::Accounts)]);
        for (object, records) in plan {
            for (name, api_name) in self.sink.names(records) {
                if let Some(spec) = spec(records, &name) {
                    wanted.push(Wanted {
                        object,
                        api_name,
                        spec,
                    });
                }
            }
        }
        wanted
    }

    pub async fn setup(&self, setup: &mut Setup) -> Result<(), CallError> {
        let token = self.token().await?;
        let wanted = self.wanted();
        let existing = self.existing(&wanted).await?;
        let tooling = self.data("/tooling/sobjects/CustomField");
        for field in &wanted {
            let Some(developer_name) = field.developer_name() else {
                setup.note(format!(
                    "{} is not a custom field of this org; it is written but not created",
                    field.full_name()
                ));
                continue;
            };
            if existing.contains(&(
                field.object.as_str().to_string(),
                developer_name.to_string(),
            )) {
                setup.exists(field.full_name());
                continue;
            }
            let body = serde_json::json!({"FullName": field.full_name(), "Metadata": metadata(field.spec)});
            if !setup.may_send("POST", &format!("{}{tooling}", token.instance_url), &body) {
                continue;
            }
            match self.call(Method::POST, &tooling, &[], Some(&body)).await {
                Ok(_) => setup.created(format!("{} ({})", field.full_name(), field.spec.label)),
                // Created by someone else since the query.
                Err(CallError::Status {
                    status: 400,
                    code: Some(code),
                    ..
                }) if code == "DUPLICATE_VALUE" || code == "DUPLICATE_DEVELOPER_NAME" => {
                    setup.exists(field.full_name())
                }
                Err(error) => return Err(error),
            }
        }
        self.field_security(setup, &wanted, token.user_id.as_deref())
            .await
    }

    /// (object, developer name) of the wanted fields that exist.
    async fn existing(&self, wanted: &[Wanted]) -> Result<HashSet<(String, String)>, CallError> {
        let mut objects: Vec<&str> = wanted.iter().map(|field| field.object.as_str()).collect();
        objects.dedup();
        let mut names: Vec<&str> = wanted.iter().filter_map(Wanted::developer_name).collect();
        names.sort_unstable();
        names.dedup();
        if names.is_empty() {
            return Ok(HashSet::new());
        }
        let list = |items: &[&str]| {
            items
                .iter()
                .map(|item| soql_string(item))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let soql = format!(
            "SELECT Id, DeveloperName, TableEnumOrId FROM CustomField WHERE NamespacePrefix = null AND TableEnumOrId IN ({}) AND DeveloperName IN ({})",
            list(&objects),
            list(&names)
        );
        let path = self.data("/tooling/query");
        let answer = self.call(Method::GET, &path, &[("q", &soql)], None).await?;
        let found: QueryRecords<ToolingField> =
            serde_json::from_value(answer).map_err(|error| CallError::Unreadable {
                what: path,
                message: error.to_string(),
            })?;
        Ok(found
            .records
            .into_iter()
            .map(|field| (field.table, field.developer_name))
            .collect())
    }

    /// Says which fields the sign-in user cannot write yet, and how to grant them.
    async fn field_security(
        &self,
        setup: &mut Setup,
        wanted: &[Wanted],
        user_id: Option<&str>,
    ) -> Result<(), CallError> {
        let mut blocked: BTreeMap<Object, Vec<&str>> = BTreeMap::new();
        let mut objects: Vec<Object> = wanted.iter().map(|field| field.object).collect();
        objects.dedup();
        for object in objects {
            let path = self.data(&format!("/sobjects/{}/describe", object.as_str()));
            let answer = self.call(Method::GET, &path, &[], None).await?;
            let described: Describe =
                serde_json::from_value(answer).map_err(|error| CallError::Unreadable {
                    what: path,
                    message: error.to_string(),
                })?;
            for field in wanted.iter().filter(|field| field.object == object) {
                let writable = described.fields.iter().any(|known| {
                    known.name.eq_ignore_ascii_case(&field.api_name) && known.updateable
                });
                if !writable {
                    blocked.entry(object).or_default().push(&field.api_name);
                }
            }
        }
        if blocked.is_empty() {
            setup.note("the user attentiond signs in as can write every field");
            return Ok(());
        }
        let who = match user_id {
            Some(id) => self.who(id).await,
            None => None,
        }
        .unwrap_or_else(|| {
            "the user attentiond signs in as (the app's run-as user, or `username`)".into()
        });
        for (object, fields) in &blocked {
            let object = object.as_str();
            setup.manual(format!(
                "{object}: give {who} Edit access to {}. For each field: Setup → Object Manager → {object} → Fields & Relationships → <field> → Set Field-Level Security → tick Visible (leave Read-Only off) for that profile, and for the profiles of reps who should see it.",
                fields.join(", ")
            ));
        }
        let objects: Vec<&str> = blocked.keys().map(|object| object.as_str()).collect();
        setup.note(format!(
            "or grant them all with one permission set: Setup → Permission Sets → New; then Object Settings → {} → Edit → Field Permissions: Read and Edit on each Attention field → Save; then Manage Assignments → Add Assignment → that user.",
            objects.join(", then ")
        ));
        setup.note("reps see the fields once a page layout shows them: Setup → Object Manager → <object> → Page Layouts → drag the fields onto the layout.");
        Ok(())
    }

    /// "integration@acme.com (profile \"Minimum Access - API Only Integrations\")".
    async fn who(&self, user_id: &str) -> Option<String> {
        let soql = format!(
            "SELECT Username, Profile.Name FROM User WHERE Id = {}",
            soql_string(user_id)
        );
        let answer = self
            .call(Method::GET, &self.data("/query"), &[("q", &soql)], None)
            .await
            .ok()?;
        let user = serde_json::from_value::<QueryRecords<User>>(answer)
            .ok()?
            .records
            .into_iter()
            .next()?;
        Some(match user.profile {
            Some(profile) if !profile.name.is_empty() => {
                format!("{} (profile \"{}\")", user.username, profile.name)
            }
            _ => user.username,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{ACCOUNT_FIELDS, CONTACT_FIELDS};

    // Shapes of CustomFieldMetadata as the Tooling API takes it: `Metadata.type`,
    // `precision`/`scale`, `length`/`visibleLines`, and a picklist's
    // `valueSet.valueSetDefinition.value[]` (Metadata API `CustomField`, `ValueSet`).
    #[test]
    fn each_kind_becomes_the_salesforce_field_type() {
        let by_name =
            |name: &str| metadata(CONTACT_FIELDS.iter().find(|s| s.name == name).unwrap());
        let score = by_name("score");
        assert_eq!(
            (
                score["type"].as_str(),
                score["precision"].as_u64(),
                score["scale"].as_u64()
            ),
            (Some("Number"), Some(18), Some(0))
        );
        assert_eq!(score["label"], "Attention score");
        let reasons = by_name("reasons");
        assert_eq!(reasons["type"], "LongTextArea");
        assert_eq!(reasons["length"], 32768);
        assert_eq!(reasons["visibleLines"], 3);
        assert_eq!(by_name("last_touch_at")["type"], "DateTime");
        let trend = by_name("trend");
        assert_eq!(trend["type"], "Picklist");
        assert_eq!(trend["valueSet"]["restricted"], true);
        assert_eq!(
            trend["valueSet"]["valueSetDefinition"]["value"][2],
            serde_json::json!({"fullName": "fading", "default": false, "label": "fading"})
        );
        for spec in ACCOUNT_FIELDS {
            assert!(
                spec.label.len() <= 40,
                "Salesforce labels are at most 40 characters: {}",
                spec.label
            );
        }
    }

    #[test]
    fn only_unmanaged_custom_fields_can_be_created() {
        let spec = &CONTACT_FIELDS[0];
        let field = |api_name: &str| Wanted {
            object: Object::Contact,
            api_name: api_name.into(),
            spec,
        };
        assert_eq!(
            field("Attention_Score__c").developer_name(),
            Some("Attention_Score")
        );
        assert_eq!(field("Rating").developer_name(), None);
        assert_eq!(field("pkg__Score__c").developer_name(), None);
        assert_eq!(
            field("Attention_Score__c").full_name(),
            "Contact.Attention_Score__c"
        );
    }
}
