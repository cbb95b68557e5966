//! A fake HubSpot CRM API on 127.0.0.1: contacts and companies batch update, the
//! properties API that `setup-crm` uses, and the reads of a deal's people: the deals
//! batch read and the v4 associations batch read.
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
    /// Deal id → its properties, contacts and companies (id, labelled `Primary`).
    deals: HashMap<String, Deal>,
}

#[derive(Clone, Default)]
pub struct Deal {
    pub properties: Properties,
    pub contacts: Vec<u64>,
    pub companies: Vec<(u64, bool)>,
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

    /// A deal HubSpot holds, with its associations.
    pub fn add_deal(&self, id: &str, deal: Deal) {
        self.with(|hubspot| hubspot.deals.insert(id.to_string(), deal));
    }

    /// Calls of the deals batch read and the associations batch reads.
    pub fn deal_reads(&self) -> Vec<Recorded> {
        self.requests_where(|r| r.path.ends_with("/batch/read"))
    }

    /// Batch calls answer 503 for this long from now.
    pub fn outage_for(&self, length: Duration) {
        self.outage(
            length,
            error(503, 503, "SERVICE_UNAVAILABLE", "Service Unavailable"),
        );
    }
}

fn batch_answer(results: Vec<serde_json::Value>, errors: Vec<serde_json::Value>) -> Answer {
    let mut body = serde_json::json!({"status": "COMPLETE", "results": results, "startedAt": now_iso(), "completedAt": now_iso()});
    if errors.is_empty() {
        return Answer::json(200, body);
    }
    body["numErrors"] = errors.len().into();
    body["errors"] = errors.into();
    Answer::json(207, body)
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
            ("POST", ["crm", "v3", "objects", "deals", "batch", "read"]) => {
                self.authorized(request, script, |hubspot| hubspot.read_deals(request))
            }
            ("POST", ["crm", "v4", "associations", "deals", to, "batch", "read"]) => {
                let to = to.to_string();
                self.authorized(request, script, |hubspot| {
                    hubspot.read_associations(&to, request)
                })
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
    fn authorized(
        &mut self,
        request: &Request,
        script: &mut Script,
        answer: impl FnOnce(&mut Hubspot) -> Answer,
    ) -> Answer {
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
        answer(self)
    }

    fn input_ids(request: &Request) -> Vec<String> {
        request
            .body
            .get("inputs")
            .and_then(|v| v.as_array())
            .map(|inputs| {
                inputs
                    .iter()
                    .filter_map(|input| input.get("id").and_then(|id| id.as_str()))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `BatchResponseSimplePublicObject`, or its `...WithErrors` (207) when some ids
    /// are unknown, as hubspot-api-python generates them.
    fn read_deals(&self, request: &Request) -> Answer {
        let asked: Vec<String> = request
            .body
            .get("properties")
            .and_then(|v| v.as_array())
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let (mut results, mut errors) = (Vec::new(), Vec::new());
        for id in Self::input_ids(request) {
            match self.deals.get(&id) {
                Some(deal) => {
                    let mut properties = serde_json::Map::new();
                    for name in &asked {
                        properties.insert(name.clone(), deal.properties.get(name).cloned().unwrap_or(serde_json::Value::Null));
                    }
                    properties.insert("hs_object_id".into(), id.clone().into());
                    results.push(serde_json::json!({"id": id, "properties": properties, "createdAt": now_iso(), "updatedAt": now_iso(), "archived": false}));
                }
                None => errors.push(serde_json::json!({"status": "error", "category": "OBJECT_NOT_FOUND", "message": format!("Could not get some DEAL objects, they may be deleted or not exist. Check that ids are valid."), "context": {"ids": [id]}})),
            }
        }
        batch_answer(results, errors)
    }

    /// `BatchResponsePublicAssociationMulti` of the v4 associations API.
    fn read_associations(&self, to: &str, request: &Request) -> Answer {
        let mut results = Vec::new();
        for id in Self::input_ids(request) {
            let Some(deal) = self.deals.get(&id) else {
                continue;
            };
            let linked: Vec<serde_json::Value> = match to {
                "contacts" => deal
                    .contacts
                    .iter()
                    .map(|c| serde_json::json!({"toObjectId": c, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 3, "label": null}]}))
                    .collect(),
                "companies" => deal
                    .companies
                    .iter()
                    .map(|(c, primary)| {
                        let mut types = vec![serde_json::json!({"category": "HUBSPOT_DEFINED", "typeId": 341, "label": null})];
                        if *primary {
                            types.insert(0, serde_json::json!({"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"}));
                        }
                        serde_json::json!({"toObjectId": c, "associationTypes": types})
                    })
                    .collect(),
                _ => return error(400, 5, "VALIDATION_ERROR", &format!("Unknown object type {to}")),
            };
            if !linked.is_empty() {
                results.push(serde_json::json!({"from": {"id": id}, "to": linked}));
            }
        }
        batch_answer(results, Vec::new())
    }

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
