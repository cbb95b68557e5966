//! A fake HubSpot CRM API on 127.0.0.1: contacts and companies batch update, and the
//! properties API that `setup-crm` uses.
//!
//! Shapes follow HubSpot's CRM v3 batch API as generated in hubspot-api-python
//! (`BatchResponseSimplePublicObject`, `...WithErrors`, `StandardError`) and the
//! error bodies of developers.hubspot.com/docs/api-reference/error-handling and
//! /docs/api/usage-details (429 with `policyName`).

use crate::fake_crm::{Answer, Crm, FakeCrm, Recorded, Request, Script};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

pub const TOKEN: &str = "pat-na1-test-token";
const BATCH_LIMIT: usize = 100;

type Properties = serde_json::Map<String, serde_json::Value>;

#[derive(Default)]
pub struct Hubspot {
    missing: HashSet<String>,
    contacts: HashMap<String, Properties>,
    companies: HashMap<String, Properties>,
    /// `object/name` of property groups and properties that exist.
    groups: HashSet<String>,
    properties: HashMap<String, serde_json::Value>,
}

pub type FakeHubspot = FakeCrm<Hubspot>;

impl FakeCrm<Hubspot> {
    pub fn start() -> FakeHubspot {
        FakeCrm::serve(Hubspot::default())
    }

    /// Ids HubSpot does not know: inputs naming them fail in a 207.
    pub fn forget(&self, id: &str) {
        self.with(|hubspot| hubspot.missing.insert(id.to_string()));
    }

    /// Batch update calls, in the order they arrived.
    pub fn batches(&self) -> Vec<Recorded> {
        self.requests_where(|r| r.path.ends_with("/batch/update"))
    }

    /// The properties HubSpot holds for a company id.
    pub fn company(&self, id: &str) -> Option<Properties> {
        self.with(|hubspot| hubspot.companies.get(id).cloned())
    }

    /// The properties HubSpot holds for a contact id (or email), after all writes.
    pub fn contact(&self, id: &str) -> Option<Properties> {
        self.with(|hubspot| hubspot.contacts.get(id).cloned())
    }

    /// `object/name` of every property that exists, e.g. `companies/attention_score`.
    pub fn property_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.with(|hubspot| hubspot.properties.keys().cloned().collect());
        names.sort();
        names
    }

    /// Batch calls answer 503 for this long from now.
    pub fn outage_for(&self, length: Duration) {
        self.outage(
            length,
            error(503, 503, "SERVICE_UNAVAILABLE", "Service Unavailable"),
        );
    }
}

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// HubSpot's `StandardError`; `correlation` tells the fake's answers apart.
fn error(status: u16, correlation: u16, category: &str, message: &str) -> Answer {
    Answer::json(
        status,
        serde_json::json!({"status": "error", "message": message, "correlationId": format!("4f2b5e8a-0000-4000-8000-{correlation:012}"), "category": category}),
    )
}

impl Crm for Hubspot {
    const NAME: &'static str = "HubSpot";

    fn answer(&mut self, request: &Request, script: &mut Script) -> Answer {
        match (request.method.as_str(), request.segments().as_slice()) {
            ("POST", ["crm", "v3", "objects", object, "batch", "update"]) => {
                self.batch_update(object, request, script)
            }
            ("GET", ["crm", "v3", "properties", object, "groups", name]) => {
                self.group(object, name)
            }
            ("POST", ["crm", "v3", "properties", object, "groups"]) => {
                self.create_group(object, &request.body)
            }
            ("GET", ["crm", "v3", "properties", object, name]) => self.property(object, name),
            ("POST", ["crm", "v3", "properties", object]) => {
                self.create_property(object, &request.body)
            }
            _ => Answer::no_route(),
        }
    }
}

impl Hubspot {
    fn group(&self, object: &str, name: &str) -> Answer {
        if self.groups.contains(&format!("{object}/{name}")) {
            Answer::json(
                200,
                serde_json::json!({"name": name, "label": "Attention", "displayOrder": -1, "archived": false}),
            )
        } else {
            error(
                404,
                404,
                "OBJECT_NOT_FOUND",
                &format!("property group {name} does not exist"),
            )
        }
    }

    fn create_group(&mut self, object: &str, body: &serde_json::Value) -> Answer {
        let name = body["name"].as_str().unwrap_or_default();
        if self.groups.insert(format!("{object}/{name}")) {
            Answer::json(
                201,
                serde_json::json!({"name": name, "label": "Attention", "displayOrder": -1, "archived": false}),
            )
        } else {
            Answer::json(
                409,
                serde_json::json!({"status": "error", "message": format!("A property group named '{name}' already exists."), "category": "CONFLICT"}),
            )
        }
    }

    fn property(&self, object: &str, name: &str) -> Answer {
        match self.properties.get(&format!("{object}/{name}")) {
            Some(property) => Answer::json(200, property.clone()),
            None => error(
                404,
                404,
                "OBJECT_NOT_FOUND",
                &format!("property {name} does not exist"),
            ),
        }
    }

    /// Validates like HubSpot: a known type/fieldType pair, a group that exists, options
    /// for an enumeration.
    fn create_property(&mut self, object: &str, body: &serde_json::Value) -> Answer {
        let name = body["name"].as_str().unwrap_or_default();
        let key = format!("{object}/{name}");
        let valid_type = matches!(
            (body["type"].as_str(), body["fieldType"].as_str()),
            (Some("number"), Some("number"))
                | (Some("string"), Some("text" | "textarea"))
                | (Some("datetime"), Some("date"))
                | (Some("enumeration"), Some("select"))
        );
        let group = body["groupName"].as_str().unwrap_or_default();
        if self.properties.contains_key(&key) {
            Answer::json(
                409,
                serde_json::json!({"status": "error", "message": format!("Property named '{name}' already exists."), "category": "OBJECT_ALREADY_EXISTS"}),
            )
        } else if !valid_type || !self.groups.contains(&format!("{object}/{group}")) {
            Answer::json(
                400,
                serde_json::json!({"status": "error", "message": "Property values were not valid", "category": "VALIDATION_ERROR"}),
            )
        } else if body["type"] == "enumeration"
            && body["options"].as_array().is_none_or(|o| o.is_empty())
        {
            Answer::json(
                400,
                serde_json::json!({"status": "error", "message": "Enumeration property must have options", "category": "VALIDATION_ERROR"}),
            )
        } else {
            self.properties.insert(key, body.clone());
            Answer::json(201, body.clone())
        }
    }

    fn batch_update(&mut self, object: &str, request: &Request, script: &mut Script) -> Answer {
        if request.authorization() != Some(&format!("Bearer {TOKEN}")) {
            return error(
                401,
                1,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found.",
            );
        }
        if let Some(scripted) = script.play() {
            return scripted;
        }
        let Some(inputs) = request.body.get("inputs").and_then(|v| v.as_array()) else {
            return error(400, 2, "VALIDATION_ERROR", "Invalid input JSON on line 1");
        };
        if inputs.len() > BATCH_LIMIT {
            return error(
                400,
                3,
                "VALIDATION_ERROR",
                &format!("Batch input size limit exceeded. Limit is {BATCH_LIMIT}."),
            );
        }
        let started = now_iso();
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for input in inputs {
            let id = input
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let properties = input
                .get("properties")
                .and_then(|v| v.as_object())
                .cloned()
                .unwrap_or_default();
            if self.missing.contains(&id) {
                errors.push(serde_json::json!({
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
                    "context": {"ids": [id]},
                    "errors": [],
                    "links": {}
                }));
                continue;
            }
            let records = if object == "companies" {
                &mut self.companies
            } else {
                &mut self.contacts
            };
            records
                .entry(id.clone())
                .or_default()
                .extend(properties.clone());
            results.push(serde_json::json!({
                "id": id, "properties": properties, "createdAt": "2026-01-01T00:00:00.000Z",
                "updatedAt": now_iso(), "archived": false
            }));
        }
        let completed = now_iso();
        if errors.is_empty() {
            Answer::json(
                200,
                serde_json::json!({"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": completed}),
            )
        } else {
            Answer::json(
                207,
                serde_json::json!({
                    "status": "COMPLETE", "results": results, "numErrors": errors.len(), "errors": errors,
                    "startedAt": started, "completedAt": completed
                }),
            )
        }
    }
}
