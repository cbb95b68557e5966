//! Records: sObject Collections update and SOQL queries by email.

use super::*;

impl Salesforce {
    pub(super) fn collection(&mut self, request: &Request, script: &mut Script) -> Answer {
        if let Some(scripted) = script.play() {
            return scripted;
        }
        let Some(records) = request.body["records"].as_array() else {
            return Answer::json(
                400,
                rest_error(
                    "JSON_PARSER_ERROR",
                    "Cannot deserialize instance of SObject[] from null value",
                ),
            );
        };
        if records.len() > BATCH_LIMIT {
            return Answer::json(
                400,
                rest_error(
                    "EXCEEDED_ID_LIMIT",
                    "record limit reached. cannot submit more than 200 records into this call",
                ),
            );
        }
        let types: Vec<&str> = records
            .iter()
            .map(|r| r["attributes"]["type"].as_str().unwrap_or_default())
            .collect();
        let runs = types.windows(2).filter(|pair| pair[0] != pair[1]).count() + 1;
        if runs > 10 {
            return Answer::json(
                400,
                rest_error("INVALID_BATCH_REQUEST", "too many chunks in this request"),
            );
        }
        let results: Vec<serde_json::Value> =
            records.iter().map(|record| self.save(record)).collect();
        Answer::json(200, serde_json::Value::Array(results))
    }

    fn save(&mut self, record: &serde_json::Value) -> serde_json::Value {
        let failed = |code: &str, message: &str, fields: &[String]| serde_json::json!({"success": false, "errors": [{"statusCode": code, "message": message, "fields": fields}]});
        let id = record["id"].as_str().unwrap_or_default().to_string();
        let kind = record["attributes"]["type"].as_str().unwrap_or_default();
        if let Some((code, message, fields)) = self.refusals.get(&id) {
            return failed(code, message, fields);
        }
        let Some(stored) = self.records.get_mut(&id) else {
            return failed(
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
                &[],
            );
        };
        if stored.object != kind {
            return failed(
                "MALFORMED_ID",
                &format!("{kind} ID: id value of incorrect type: {id}"),
                &["Id".into()],
            );
        }
        if stored.converted {
            return failed(
                "CANNOT_UPDATE_CONVERTED_LEAD",
                "cannot reference converted lead",
                &[],
            );
        }
        for (key, value) in record.as_object().into_iter().flatten() {
            if key != "attributes" && key != "id" {
                stored.fields.insert(key.clone(), value.clone());
            }
        }
        serde_json::json!({"id": id, "success": true, "errors": []})
    }

    pub(super) fn query(&self, request: &Request, version: &str) -> Answer {
        let soql = request.query_param("q").unwrap_or_default();
        for object in ["Contact", "Lead"] {
            if soql.starts_with(&format!("SELECT Id, Email FROM {object} WHERE Email IN (")) {
                let emails: Vec<String> = literals(&soql, "Email IN (")
                    .iter()
                    .map(|e| e.to_ascii_lowercase())
                    .collect();
                let open_only = soql.contains("IsConverted = false");
                let found: Vec<serde_json::Value> = self
                    .records
                    .iter()
                    .filter(|(_, r)| {
                        r.object == object && emails.contains(&r.email) && !(open_only && r.converted)
                    })
                    .map(|(id, r)| {
                        serde_json::json!({
                            "attributes": {"type": object, "url": format!("/services/data/{version}/sobjects/{object}/{id}")},
                            "Id": id, "Email": r.email,
                        })
                    })
                    .collect();
                return Answer::json(200, query_result(object, found, false));
            }
        }
        if soql.starts_with("SELECT Username, Profile.Name FROM User WHERE Id = ") {
            let found = if soql.contains(USER_ID) {
                vec![serde_json::json!({
                    "attributes": {"type": "User", "url": format!("/services/data/{version}/sobjects/User/{USER_ID}")},
                    "Username": USERNAME,
                    "Profile": {"attributes": {"type": "Profile", "url": "/services/data/x/sobjects/Profile/00e5e000000Abc"}, "Name": PROFILE},
                })]
            } else {
                vec![]
            };
            return Answer::json(200, query_result("User", found, false));
        }
        unexpected(&soql)
    }
}

/// What Salesforce answers a query the fake does not know.
pub(super) fn unexpected(soql: &str) -> Answer {
    Answer::json(
        400,
        rest_error("MALFORMED_QUERY", &format!("unexpected query: {soql}")),
    )
}

/// The string literals of `Email IN ('a', 'b\'c')`, unescaped.
pub(super) fn literals(soql: &str, after: &str) -> Vec<String> {
    let Some(start) = soql.find(after) else {
        return Vec::new();
    };
    let mut values = Vec::new();
    let mut chars = soql[start + after.len()..].chars();
    let mut current: Option<String> = None;
    while let Some(c) = chars.next() {
        match (&mut current, c) {
            (None, '\'') => current = Some(String::new()),
            (None, ')') => break,
            (None, _) => {}
            (Some(value), '\\') => {
                if let Some(next) = chars.next() {
                    value.push(match next {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                }
            }
            (Some(_), '\'') => values.extend(current.take()),
            (Some(value), c) => value.push(c),
        }
    }
    values
}

pub(super) fn query_result(
    kind: &str,
    records: Vec<serde_json::Value>,
    tooling: bool,
) -> serde_json::Value {
    let mut result =
        serde_json::json!({"totalSize": records.len(), "done": true, "records": records});
    if tooling {
        result["size"] = result["totalSize"].clone();
        result["queryLocator"] = serde_json::Value::Null;
        result["entityTypeName"] = kind.into();
    }
    result
}
