//! A fake HubSpot CRM API on 127.0.0.1: contacts and companies batch update, and the
//! properties API that `setup-crm` uses.
//!
//! Shapes follow HubSpot's CRM v3 batch API as generated in hubspot-api-python
//! (`BatchResponseSimplePublicObject`, `...WithErrors`, `StandardError`) and the
//! error bodies of developers.hubspot.com/docs/api-reference/error-handling and
//! /docs/api/usage-details (429 with `policyName`).

use crate::fake_server::FakeServer;
use actix_web::{web, HttpRequest, HttpResponse};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "pat-na1-test-token";
const BATCH_LIMIT: usize = 100;

#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub authorization: Option<String>,
    pub body: serde_json::Value,
    pub at: Instant,
    pub answered: u16,
}

/// A canned answer for the next request, instead of the normal behaviour.
#[derive(Clone, Debug)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    script: VecDeque<Scripted>,
    missing: HashSet<String>,
    contacts: HashMap<String, serde_json::Map<String, serde_json::Value>>,
    companies: HashMap<String, serde_json::Map<String, serde_json::Value>>,
    /// `object/name` of property groups and properties that exist.
    groups: HashSet<String>,
    properties: HashMap<String, serde_json::Value>,
    /// Every batch call answers 503 until then (an outage).
    down_until: Option<Instant>,
    latency: Duration,
}

pub struct FakeHubspot {
    pub base: String,
    state: Arc<Mutex<State>>,
    /// Stops the server when the fake is dropped.
    _server: FakeServer,
}

impl FakeHubspot {
    pub fn start() -> FakeHubspot {
        let state = Arc::new(Mutex::new(State::default()));
        let server = FakeServer::start(state.clone(), |config| {
            config
                .route(
                    "/crm/v3/objects/{object}/batch/update",
                    web::post().to(batch_update),
                )
                .route(
                    "/crm/v3/properties/{object}/groups/{name}",
                    web::get().to(get_group),
                )
                .route(
                    "/crm/v3/properties/{object}/groups",
                    web::post().to(create_group),
                )
                .route(
                    "/crm/v3/properties/{object}/{name}",
                    web::get().to(get_property),
                )
                .route(
                    "/crm/v3/properties/{object}",
                    web::post().to(create_property),
                );
        });
        FakeHubspot {
            base: server.base.clone(),
            state,
            _server: server,
        }
    }

    pub fn script(&self, status: u16, headers: &[(&str, &str)], body: serde_json::Value) {
        self.state.lock().unwrap().script.push_back(Scripted {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body,
        });
    }

    /// Ids HubSpot does not know: inputs naming them fail in a 207.
    pub fn forget(&self, id: &str) {
        self.state.lock().unwrap().missing.insert(id.to_string());
    }

    /// Batch update calls, in the order they arrived.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.path.ends_with("/batch/update"))
            .cloned()
            .collect()
    }

    /// Every call, properties API included.
    pub fn all_requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The properties HubSpot holds for a company id.
    pub fn company(&self, id: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        self.state.lock().unwrap().companies.get(id).cloned()
    }

    /// `object/name` of every property that exists, e.g. `companies/attention_score`.
    pub fn property_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .state
            .lock()
            .unwrap()
            .properties
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Batch calls answer 503 for this long from now.
    pub fn outage(&self, length: Duration) {
        self.state.lock().unwrap().down_until = Some(Instant::now() + length);
    }

    /// Every batch call takes this long to answer, like a CRM across the internet.
    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().unwrap().latency = latency;
    }

    /// The properties HubSpot holds for a contact id (or email), after all writes.
    pub fn contact(&self, id: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        self.state.lock().unwrap().contacts.get(id).cloned()
    }

    pub async fn wait_for(&self, what: &str, done: impl Fn(&FakeHubspot) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "fake HubSpot never saw: {what}; requests: {:?}",
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn respond(status: u16, headers: &[(String, String)], body: &serde_json::Value) -> HttpResponse {
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"));
    for (key, value) in headers {
        response.insert_header((key.as_str(), value.as_str()));
    }
    response.json(body)
}

async fn batch_update(
    state: web::Data<Arc<Mutex<State>>>,
    request: HttpRequest,
    object: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let latency = state.lock().unwrap().latency;
    if !latency.is_zero() {
        actix_web::rt::time::sleep(latency).await;
    }
    let mut state = state.lock().unwrap();
    let down = state.down_until.is_some_and(|until| Instant::now() < until);
    let (status, headers, answer) = if down {
        (
            503,
            vec![],
            serde_json::json!({"status": "error", "message": "Service Unavailable", "correlationId": "4f2b5e8a-0000-4000-8000-000000000503", "category": "SERVICE_UNAVAILABLE"}),
        )
    } else {
        answer(&mut state, &object, authorization.as_deref(), &body)
    };
    state.requests.push(Recorded {
        path: request.path().to_string(),
        authorization,
        body,
        at: Instant::now(),
        answered: status,
    });
    respond(status, &headers, &answer)
}

fn not_found(what: &str) -> HttpResponse {
    // HubSpot's StandardError for a missing property or group.
    respond(
        404,
        &[],
        &serde_json::json!({"status": "error", "message": format!("{what} does not exist"), "correlationId": "4f2b5e8a-0000-4000-8000-000000000404", "category": "OBJECT_NOT_FOUND"}),
    )
}

fn record(state: &mut State, request: &HttpRequest, body: serde_json::Value, answered: u16) {
    state.requests.push(Recorded {
        path: request.path().to_string(),
        authorization: request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body,
        at: Instant::now(),
        answered,
    });
}

async fn get_group(
    state: web::Data<Arc<Mutex<State>>>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (object, name) = path.into_inner();
    let mut state = state.lock().unwrap();
    let exists = state.groups.contains(&format!("{object}/{name}"));
    record(
        &mut state,
        &request,
        serde_json::Value::Null,
        if exists { 200 } else { 404 },
    );
    if exists {
        respond(
            200,
            &[],
            &serde_json::json!({"name": name, "label": "Attention", "displayOrder": -1, "archived": false}),
        )
    } else {
        not_found(&format!("property group {name}"))
    }
}

async fn create_group(
    state: web::Data<Arc<Mutex<State>>>,
    request: HttpRequest,
    object: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> HttpResponse {
    let mut state = state.lock().unwrap();
    let name = body["name"].as_str().unwrap_or_default().to_string();
    let created = state.groups.insert(format!("{object}/{name}"));
    let status = if created { 201 } else { 409 };
    record(&mut state, &request, body.into_inner(), status);
    if created {
        respond(
            201,
            &[],
            &serde_json::json!({"name": name, "label": "Attention", "displayOrder": -1, "archived": false}),
        )
    } else {
        respond(
            409,
            &[],
            &serde_json::json!({"status": "error", "message": format!("A property group named '{name}' already exists."), "category": "CONFLICT"}),
        )
    }
}

async fn get_property(
    state: web::Data<Arc<Mutex<State>>>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (object, name) = path.into_inner();
    let mut state = state.lock().unwrap();
    let found = state.properties.get(&format!("{object}/{name}")).cloned();
    record(
        &mut state,
        &request,
        serde_json::Value::Null,
        if found.is_some() { 200 } else { 404 },
    );
    match found {
        Some(property) => respond(200, &[], &property),
        None => not_found(&format!("property {name}")),
    }
}

/// Validates like HubSpot: a known type/fieldType pair, a group that exists, options
/// for an enumeration.
async fn create_property(
    state: web::Data<Arc<Mutex<State>>>,
    request: HttpRequest,
    object: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> HttpResponse {
    let mut state = state.lock().unwrap();
    let body = body.into_inner();
    let name = body["name"].as_str().unwrap_or_default().to_string();
    let key = format!("{object}/{name}");
    let valid_type = matches!(
        (body["type"].as_str(), body["fieldType"].as_str()),
        (Some("number"), Some("number"))
            | (Some("string"), Some("text" | "textarea"))
            | (Some("datetime"), Some("date"))
            | (Some("enumeration"), Some("select"))
    );
    let group = body["groupName"].as_str().unwrap_or_default();
    let (status, answer) = if state.properties.contains_key(&key) {
        (
            409,
            serde_json::json!({"status": "error", "message": format!("Property named '{name}' already exists."), "category": "OBJECT_ALREADY_EXISTS"}),
        )
    } else if !valid_type || !state.groups.contains(&format!("{object}/{group}")) {
        (
            400,
            serde_json::json!({"status": "error", "message": "Property values were not valid", "category": "VALIDATION_ERROR"}),
        )
    } else if body["type"] == "enumeration"
        && body["options"].as_array().is_none_or(|o| o.is_empty())
    {
        (
            400,
            serde_json::json!({"status": "error", "message": "Enumeration property must have options", "category": "VALIDATION_ERROR"}),
        )
    } else {
        state.properties.insert(key, body.clone());
        (201, body.clone())
    };
    record(&mut state, &request, body, status);
    respond(status, &[], &answer)
}

fn answer(
    state: &mut State,
    object: &str,
    authorization: Option<&str>,
    body: &serde_json::Value,
) -> (u16, Vec<(String, String)>, serde_json::Value) {
    if authorization != Some(&format!("Bearer {TOKEN}")) {
        return (
            401,
            vec![],
            serde_json::json!({"status": "error", "message": "Authentication credentials not found.", "correlationId": "4f2b5e8a-0000-4000-8000-000000000001", "category": "INVALID_AUTHENTICATION"}),
        );
    }
    if let Some(scripted) = state.script.pop_front() {
        return (scripted.status, scripted.headers, scripted.body);
    }
    let Some(inputs) = body.get("inputs").and_then(|v| v.as_array()) else {
        return (
            400,
            vec![],
            serde_json::json!({"status": "error", "message": "Invalid input JSON on line 1", "correlationId": "4f2b5e8a-0000-4000-8000-000000000002", "category": "VALIDATION_ERROR"}),
        );
    };
    if inputs.len() > BATCH_LIMIT {
        return (
            400,
            vec![],
            serde_json::json!({"status": "error", "message": format!("Batch input size limit exceeded. Limit is {BATCH_LIMIT}."), "correlationId": "4f2b5e8a-0000-4000-8000-000000000003", "category": "VALIDATION_ERROR"}),
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
        if state.missing.contains(&id) {
            errors.push(serde_json::json!({
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": format!("Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid."),
                "context": {"ids": [id]},
                "errors": [],
                "links": {}
            }));
            continue;
        }
        let records = if object == "companies" {
            &mut state.companies
        } else {
            &mut state.contacts
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
        (
            200,
            vec![],
            serde_json::json!({"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": completed}),
        )
    } else {
        (
            207,
            vec![],
            serde_json::json!({
                "status": "COMPLETE", "results": results, "numErrors": errors.len(), "errors": errors,
                "startedAt": started, "completedAt": completed
            }),
        )
    }
}
