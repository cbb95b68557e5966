//! What `setup-crm` uses: Tooling API `CustomField` query and create, and describe.

use super::data::{literals, query_result};
use super::*;

pub(super) async fn tooling_query(
    state: Shared,
    request: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let version = path.into_inner();
    rest(
        &state,
        &request,
        serde_json::Value::Null,
        |state, _, soql| {
            let soql = soql.unwrap_or_default();
            if !soql.starts_with("SELECT Id, DeveloperName, TableEnumOrId FROM CustomField WHERE ")
            {
                return (
                    400,
                    vec![],
                    rest_error("MALFORMED_QUERY", &format!("unexpected query: {soql}")),
                );
            }
            let tables = literals(soql, "TableEnumOrId IN (");
            let names = literals(soql, "DeveloperName IN (");
            let found: Vec<serde_json::Value> = state
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
            (200, vec![], query_result("CustomField", found, true))
        },
    )
}

pub(super) async fn create_field(
    state: Shared,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    rest(&state, &request, body, |state, body, _| {
        let full_name = body["FullName"].as_str().unwrap_or_default();
        let metadata = &body["Metadata"];
        let Some((object, name)) = full_name
            .split_once('.')
            .and_then(|(o, f)| Some((o, f.strip_suffix("__c")?)))
        else {
            return (
                400,
                vec![],
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
            return (
                400,
                vec![],
                rest_error(
                    "FIELD_INTEGRITY_EXCEPTION",
                    &format!("incomplete Metadata for {full_name}"),
                ),
            );
        }
        if state.fields.iter().any(|(o, n)| o == object && n == name) {
            return (
                400,
                vec![],
                serde_json::json!([{"message": "duplicate value found: <unknown> duplicates value on record with id: <unknown>", "errorCode": "DUPLICATE_VALUE", "fields": []}]),
            );
        }
        state.fields.push((object.to_string(), name.to_string()));
        let id = format!("00N5e{:010}EAA", state.fields.len());
        (
            201,
            vec![],
            serde_json::json!({"id": id, "success": true, "errors": [], "warnings": [], "infos": []}),
        )
    })
}

pub(super) async fn describe(
    state: Shared,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (_, object) = path.into_inner();
    rest(&state, &request, serde_json::Value::Null, |state, _, _| {
        let mut fields = vec![
            serde_json::json!({"name": "Id", "type": "id", "updateable": false}),
            serde_json::json!({"name": "Email", "type": "email", "updateable": true}),
        ];
        if state.field_security {
            for (table, name) in &state.fields {
                if *table == object {
                    fields.push(serde_json::json!({"name": format!("{name}__c"), "custom": true, "updateable": true}));
                }
            }
        }
        (
            200,
            vec![],
            serde_json::json!({"name": object, "custom": false, "fields": fields}),
        )
    })
}
