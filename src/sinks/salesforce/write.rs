//! One batch out: find each entry's record, send one sObject Collections update, and
//! read Salesforce's SaveResults back onto the entries.

use super::api::Api;
use super::error::CallError;
use super::lookup::{Address, Object, Target};
use super::{account_id, Unmatched};
use crate::fields::{mapped, FieldNames, Records};
use crate::store::OutboxEntry;
use reqwest::Method;
use serde::Deserialize;

/// One entry of the answer, in request order: `{"id", "success", "errors": [...]}`
/// (REST API guide, "Update Records Using sObject Collections"; `SaveResult`).
#[derive(Debug, Deserialize)]
struct SaveResult {
    success: bool,
    #[serde(default)]
    errors: Vec<SaveError>,
}

#[derive(Debug, Deserialize)]
struct SaveError {
    #[serde(rename = "statusCode", default)]
    status_code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    fields: Vec<String>,
}

impl SaveResult {
    /// "FIELD_CUSTOM_VALIDATION_EXCEPTION: Score must be below 100 (Attention_Score__c)".
    fn error(&self) -> String {
        if self.errors.is_empty() {
            return "Salesforce did not save the record and gave no reason".into();
        }
        let texts: Vec<String> = self
            .errors
            .iter()
            .map(|error| {
                let mut text = format!("{}: {}", error.status_code, error.message);
                if !error.fields.is_empty() {
                    text.push_str(&format!(" ({})", error.fields.join(", ")));
                }
                text
            })
            .collect();
        texts.join("; ")
    }
}

/// Where one entry goes, and the email it was found by (forgotten if refused).
struct Resolved {
    target: Target,
    by_email: Option<String>,
}

/// The request body, with records of one object next to each other: Salesforce
/// processes a collection in runs of one type and refuses more than ten runs. The
/// second value maps request positions to batch positions.
fn collection(
    names: &FieldNames,
    batch: &[OutboxEntry],
    targets: &[Option<&Target>],
) -> (serde_json::Value, Vec<usize>) {
    let mut order: Vec<usize> = (0..batch.len())
        .filter(|index| targets[*index].is_some())
        .collect();
    order.sort_by_key(|index| targets[*index].map(|target| target.object));
    let records: Vec<serde_json::Value> = order
        .iter()
        .filter_map(|index| {
            let target = targets[*index]?;
            let mut record = serde_json::Map::new();
            record.insert(
                "attributes".into(),
                serde_json::json!({"type": target.object.as_str()}),
            );
            record.insert("id".into(), target.id.clone().into());
            for (name, value) in mapped(names, &batch[*index].fields) {
                record.insert(name.to_string(), value.as_json());
            }
            Some(serde_json::Value::Object(record))
        })
        .collect();
    (
        serde_json::json!({"allOrNone": false, "records": records}),
        order,
    )
}

impl Api<'_> {
    /// Writes one batch; `(status, one error or none per entry)`.
    pub async fn write(
        &self,
        records: Records,
        batch: &[OutboxEntry],
    ) -> Result<(u16, Vec<Option<String>>), CallError> {
        let mut errors: Vec<Option<String>> = vec![None; batch.len()];
        let resolved = match records {
            Records::Accounts => batch
                .iter()
                .enumerate()
                .map(|(index, entry)| {
                    let id = entry.account.as_deref().and_then(account_id);
                    if id.is_none() {
                        errors[index] = Some(format!(
                            "not a Salesforce Account: {}",
                            entry.account.as_deref().unwrap_or("no account")
                        ));
                    }
                    id.map(|id| Resolved {
                        target: Target {
                            object: Object::Account,
                            id: id.to_string(),
                        },
                        by_email: None,
                    })
                })
                .collect(),
            Records::Contacts => self.resolve_contacts(batch, &mut errors).await?,
        };
        let targets: Vec<Option<&Target>> = resolved
            .iter()
            .map(|r| r.as_ref().map(|r| &r.target))
            .collect();
        let (body, order) = collection(&self.sink.names(records), batch, &targets);
        if order.is_empty() {
            return Ok((200, errors));
        }
        let path = self.data("/composite/sobjects");
        let answer = self.call(Method::PATCH, &path, &[], Some(&body)).await?;
        let results: Vec<SaveResult> =
            serde_json::from_value(answer).map_err(|error| CallError::Unreadable {
                what: path,
                message: error.to_string(),
            })?;
        for (position, index) in order.into_iter().enumerate() {
            let error = match results.get(position) {
                Some(result) if result.success => continue,
                Some(result) => result.error(),
                None => "Salesforce returned no result for this record".into(),
            };
            if let Some(email) = resolved[index].as_ref().and_then(|r| r.by_email.as_deref()) {
                self.forget(email);
            }
            errors[index] = Some(error);
        }
        Ok((200, errors))
    }

    async fn resolve_contacts(
        &self,
        batch: &[OutboxEntry],
        errors: &mut [Option<String>],
    ) -> Result<Vec<Option<Resolved>>, CallError> {
        let object = self.sink.crm.object;
        let addresses: Vec<Option<Address>> = batch
            .iter()
            .map(|entry| object.address(&entry.identities))
            .collect();
        let emails: Vec<String> = addresses
            .iter()
            .filter_map(|address| match address {
                Some(Address::Email(email)) => Some(email.clone()),
                _ => None,
            })
            .collect();
        let found = if emails.is_empty() {
            Default::default()
        } else {
            self.find(object.objects(), &emails).await?
        };
        let mut resolved = Vec::with_capacity(batch.len());
        for (index, address) in addresses.into_iter().enumerate() {
            resolved.push(match address {
                Some(Address::Known(target)) => Some(Resolved {
                    target,
                    by_email: None,
                }),
                Some(Address::Email(email)) => match found.get(&email) {
                    Some(target) => Some(Resolved {
                        target: target.clone(),
                        by_email: Some(email),
                    }),
                    None => {
                        match self.sink.crm.unmatched {
                            Unmatched::DeadLetter => errors[index] = Some(object.missing(&email)),
                            Unmatched::Skip => {
                                tracing::debug!(
                                    message = "No Salesforce record for this contact; skipped.",
                                    kind = "salesforce",
                                    contact = %batch[index].record_name()
                                );
                            }
                        }
                        None
                    }
                },
                None => {
                    errors[index] = Some("no Salesforce id or email to find the record by".into());
                    None
                }
            });
        }
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{sample_contact_fields, FieldValue, PushFields};
    use crate::model::Identity;

    fn entry(identities: Vec<Identity>) -> OutboxEntry {
        OutboxEntry::for_contact(1, identities, sample_contact_fields(), 0)
    }

    fn sink() -> super::super::SalesforceSink {
        serde_json::from_value(serde_json::json!({
            "instance_url": "https://acme.my.salesforce.com", "client_id": "c", "client_secret": "s"
        }))
        .unwrap()
    }

    fn target(object: Object, id: &str) -> Target {
        Target {
            object,
            id: id.into(),
        }
    }

    #[test]
    fn records_carry_type_id_and_typed_values() {
        let batch = [entry(vec![]), entry(vec![])];
        let contact = target(Object::Contact, "003G000001SUbc4IAD");
        let (body, order) = collection(
            &sink().names(Records::Contacts),
            &batch,
            &[Some(&contact), None],
        );
        assert_eq!(order, vec![0]);
        assert_eq!(
            body,
            serde_json::json!({"allOrNone": false, "records": [
                {"attributes": {"type": "Contact"}, "id": "003G000001SUbc4IAD",
                 "Attention_Score__c": 57, "Attention_Trend__c": "rising",
                 "Attention_Reasons__c": "form submit today; 3 email clicks this week",
                 "Attention_Last_Touch_At__c": "2023-11-14T22:13:20.000Z"}
            ]})
        );
    }

    #[test]
    fn contacts_and_leads_are_sent_in_runs_of_one_type() {
        let batch: Vec<OutboxEntry> = (0..4).map(|_| entry(vec![])).collect();
        let lead = target(Object::Lead, "00Q5e00000Lead1EAB");
        let contact = target(Object::Contact, "003G000001SUbc4IAD");
        let (body, order) = collection(
            &sink().names(Records::Contacts),
            &batch,
            &[Some(&lead), Some(&contact), Some(&lead), Some(&contact)],
        );
        assert_eq!(order, vec![1, 3, 0, 2]);
        let types: Vec<&str> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["attributes"]["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["Contact", "Contact", "Lead", "Lead"]);
    }

    #[test]
    fn an_account_record_writes_the_account_fields() {
        let mut fields = PushFields::new();
        fields.insert("score".into(), FieldValue::Number(71));
        fields.insert("people_engaged".into(), FieldValue::Number(4));
        let mut account = entry(vec![]);
        account.account = Some("salesforce:0012800000CXn0kAAD".into());
        account.fields = fields;
        let target = target(Object::Account, "0012800000CXn0kAAD");
        let (body, _) = collection(
            &sink().names(Records::Accounts),
            &[account],
            &[Some(&target)],
        );
        assert_eq!(
            body["records"][0],
            serde_json::json!({"attributes": {"type": "Account"}, "id": "0012800000CXn0kAAD",
                "Attention_Score__c": 71, "Attention_People_Engaged__c": 4})
        );
    }

    // SaveResult errors as the sObject Collections update example shows them.
    #[test]
    fn save_errors_read_as_code_message_and_fields() {
        let results: Vec<SaveResult> = serde_json::from_value(serde_json::json!([
            {"id": "003G000001SUbc4IAD", "success": true, "errors": []},
            {"success": false, "errors": [{"statusCode": "MALFORMED_ID",
              "message": "Contact ID: id value of incorrect type: 001xx000003DGb2AAG", "fields": ["Id"]}]},
            {"id": "003G000001SUbc5IAD", "success": false, "errors": [
              {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]}
        ]))
        .unwrap();
        assert_eq!(
            results[1].error(),
            "MALFORMED_ID: Contact ID: id value of incorrect type: 001xx000003DGb2AAG (Id)"
        );
        assert_eq!(results[2].error(), "ENTITY_IS_DELETED: entity is deleted");
    }
}
