//! What `setup-crm` uses: Tooling API `CustomField` query and create, and describe.

use super::data::{literals, query_result, unexpected};
use super::*;

impl Salesforce {
    pub(super) fn tooling_query(&self, request: &Request, version: &str) -> Answer {
        let soql = request.query_param("q").unwrap_or_default();
        if !soql.starts_with("SELECT Id, DeveloperName, TableEnumOrId FROM CustomField WHERE ") {
            return unexpected(&soql);
        }
        let tables = literals(&soql, "TableEnumOrId IN (");
        let names = literals(&soql, "DeveloperName IN (");
        let found: Vec<serde_json::Value> = self
            .fields
            .iter()
            .enumerate()
            .filter(|(_, (table, name))| tables.contains(table) && names.contains(name))
            .map(|(n, (table, name))| {
                let id = format!("00N5e{:010}EAA", n + 1);
                serde_json::json!({
                    "attributes": {"type": "CustomField", "url": format!("/services/data/{version}/tooling/sobjects/CustomField/{id}")},
                    "Id": id, "DeveloperName": name, "TableEnumOrId": table,
                })
            })
            .collect();
        Answer::json(200, query_result("CustomField", found, true))
    }

    pub(super) fn create_field(&mut self, request: &Request) -> Answer {
        let body = &request.body;
        let full_name = body["FullName"].as_str().unwrap_or_default();
        let metadata = &body["Metadata"];
        let Some((object, name)) = full_name
            .split_once('.')
            .and_then(|(o, f)| Some((o, f.strip_suffix("__c")?)))
        else {
            return Answer::json(
                400,
                rest_error("INVALID_FIELD", &format!("invalid FullName: {full_name}")),
            );
        };
        let complete = metadata["label"].is_string()
            && match metadata["type"].as_str() {
                Some("Number") => metadata["precision"].is_u64() && metadata["scale"].is_u64(),
                Some("Text") => metadata["length"].is_u64(),
                Some("LongTextArea") => {
                    metadata["length"].is_u64() && metadata["visibleLines"].is_u64()
                }
                Some("DateTime") => true,
                Some("Picklist") => metadata["valueSet"]["valueSetDefinition"]["value"].is_array(),
                _ => false,
            };
        if !complete {
            return Answer::json(
                400,
                rest_error(
                    "FIELD_INTEGRITY_EXCEPTION",
                    &format!("incomplete Metadata for {full_name}"),
                ),
            );
        }
        if self.fields.iter().any(|(o, n)| o == object && n == name) {
            return Answer::json(
                400,
                serde_json::json!([{"message": "duplicate value found: <unknown> duplicates value on record with id: <unknown>", "errorCode": "DUPLICATE_VALUE", "fields": []}]),
            );
        }
        self.fields.push((object.to_string(), name.to_string()));
        let id = format!("00N5e{:010}EAA", self.fields.len());
        Answer::json(
            201,
            serde_json::json!({"id": id, "success": true, "errors": [], "warnings": [], "infos": []}),
        )
    }

    pub(super) fn describe(&self, object: &str) -> Answer {
        let mut fields = vec![
            serde_json::json!({"name": "Id", "type": "id", "updateable": false}),
            serde_json::json!({"name": "Email", "type": "email", "updateable": true}),
        ];
        if self.field_security {
            for (table, name) in &self.fields {
                if table == object {
                    fields.push(serde_json::json!({"name": format!("{name}__c"), "custom": true, "updateable": true}));
                }
            }
        }
        Answer::json(
            200,
            serde_json::json!({"name": object, "custom": false, "fields": fields}),
        )
    }
}
