//! A fake Marketo Engage REST API on 127.0.0.1: Identity, Sync Leads, lead field schema
//! and Describe Lead.
//!
//! Shapes follow AdobeDocs/marketo-developer.en: `help/rest-api/authentication.md` (token
//! by GET with client credentials, the same token handed back until it expires),
//! `help/rest-api/leads.md` (Sync Leads, Get/Create Lead Fields, Describe),
//! `help/rest-api/error-codes.md` (response-level `errors[]` and record-level
//! `reasons[]`, both in HTTP 200 bodies; 601/602 tokens, 603 Access denied, 606 rate
//! limit, 1004 Lead not found, 1006 Field not found) and
//! `help/rest-api/assets/swagger-mapi.json` (`CreateLeadField`, `LeadField`,
//! `LeadFieldStatus`). The Identity error body `{"error":"invalid_client",
//! "error_description":"Bad client credentials"}` is the one the mkto_rest gem's
//! authentication spec stubs.

use crate::fake_server::FakeServer;
use actix_web::{web, HttpRequest, HttpResponse};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const CLIENT_ID: &str = "3f0c1b8e-5d7a-4c2e-9b1f-6a2d8e4c7f10";
pub const CLIENT_SECRET: &str = "kQ7vX2mN9pR4sT8wY1zB5cD3fG6hJ0lM";
const BATCH_LIMIT: usize = 300;

/// The custom fields attentiond writes, as `setup-crm` creates them.
pub const ATTENTION_FIELDS: &[(&str, &str)] = &[
    ("attentionScore", "integer"),
    ("attentionTrend", "string"),
    ("attentionReasons", "string"),
    ("attentionLastTouchAt", "datetime"),
    ("attentionQualificationStage", "string"),
    ("attentionStageChangedAt", "datetime"),
    ("attentionFitGrade", "string"),
    ("attentionMatrix", "string"),
    ("attentionVelocity", "integer"),
];

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub body: serde_json::Value,
    pub at: Instant,
    /// The HTTP status, or Marketo's error code when the 200 body says `success: false`.
    pub answered: String,
}

#[derive(Clone, Debug)]
struct Scripted {
    status: u16,
    headers: Vec<(String, String)>,
    body: serde_json::Value,
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub display_name: String,
    pub data_type: String,
    pub description: Option<String>,
    pub custom: bool,
}

struct Issued {
    value: String,
    expires_at: Instant,
}

struct Lead {
    id: u64,
    email: String,
    fields: serde_json::Map<String, serde_json::Value>,
}

struct State {
    requests: Vec<Recorded>,
    script: VecDeque<Scripted>,
    token_lifetime: Duration,
    tokens: Vec<Issued>,
    leads: Vec<Lead>,
    fields: Vec<Field>,
    page_size: usize,
    refuse_schema_read: bool,
    refuse_schema_create: bool,
    request_ids: u64,
}

pub struct FakeMarketo {
    pub base: String,
    state: Arc<Mutex<State>>,
    /// Stops the server when the fake is dropped.
    _server: FakeServer,
}

fn standard_fields() -> Vec<Field> {
    [
        ("id", "Id", "integer"),
        ("email", "Email Address", "email"),
        ("firstName", "First Name", "string"),
        ("lastName", "Last Name", "string"),
        ("company", "Company Name", "string"),
        ("title", "Job Title", "string"),
        ("leadScore", "Lead Score", "score"),
        ("updatedAt", "Updated At", "datetime"),
    ]
    .iter()
    .map(|(name, display, data_type)| Field {
        name: name.to_string(),
        display_name: display.to_string(),
        data_type: data_type.to_string(),
        description: None,
        custom: false,
    })
    .collect()
}

impl FakeMarketo {
    /// An instance whose leads already have attentiond's four custom fields.
    pub fn start() -> FakeMarketo {
        let fake = FakeMarketo::start_without_custom_fields();
        {
            let mut state = fake.state.lock().unwrap();
            for (name, data_type) in ATTENTION_FIELDS {
                state.fields.push(Field {
                    name: name.to_string(),
                    display_name: name.to_string(),
                    data_type: data_type.to_string(),
                    description: None,
                    custom: true,
                });
            }
        }
        fake
    }

    pub fn start_without_custom_fields() -> FakeMarketo {
        let state = Arc::new(Mutex::new(State {
            requests: Vec::new(),
            script: VecDeque::new(),
            token_lifetime: Duration::from_secs(3600),
            tokens: Vec::new(),
            leads: Vec::new(),
            fields: standard_fields(),
            page_size: BATCH_LIMIT,
            refuse_schema_read: false,
            refuse_schema_create: false,
            request_ids: 0,
        }));
        let server = FakeServer::start(state.clone(), |config| {
            config
                .app_data(web::PayloadConfig::new(4 << 20))
                .route("/identity/oauth/token", web::get().to(identity))
                .route("/identity/oauth/token", web::post().to(identity))
                .route("/rest/v1/leads.json", web::post().to(rest))
                .route("/rest/v1/leads/schema/fields.json", web::get().to(rest))
                .route("/rest/v1/leads/schema/fields.json", web::post().to(rest))
                .route("/rest/v1/leads/describe.json", web::get().to(rest));
        });
        FakeMarketo {
            base: server.base.clone(),
            state,
            _server: server,
        }
    }

    /// A lead Marketo knows, so that `updateOnly` finds it.
    pub fn add_lead(&self, id: u64, email: &str) {
        self.state.lock().unwrap().leads.push(Lead {
            id,
            email: email.to_ascii_lowercase(),
            fields: serde_json::Map::new(),
        });
    }

    /// The next REST call (not Identity) gets this answer instead of the normal one.
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

    /// A response-level error in an HTTP 200 body, as Marketo sends them.
    pub fn script_error(&self, code: &str, message: &str) {
        self.script(
            200,
            &[],
            serde_json::json!({"requestId": "e42b#14272d07d78", "success": false,
                "errors": [{"code": code, "message": message}]}),
        );
    }

    /// Every token issued so far expires now; calls with them get 602.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for token in &mut self.state.lock().unwrap().tokens {
            token.expires_at = token.expires_at.min(now);
        }
    }

    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.state.lock().unwrap().token_lifetime = lifetime;
    }

    /// Get Lead Fields answers at most this many per page.
    pub fn set_page_size(&self, size: usize) {
        self.state.lock().unwrap().page_size = size;
    }

    /// The API role lacks Read-Write Schema permissions: schema reads get 603.
    pub fn refuse_schema_read(&self) {
        self.state.lock().unwrap().refuse_schema_read = true;
    }

    /// Create Lead Fields gets 603 Access denied.
    pub fn refuse_schema_create(&self) {
        self.state.lock().unwrap().refuse_schema_create = true;
    }

    /// Adds a custom field as if made by hand in Field Management.
    pub fn add_field(&self, name: &str, data_type: &str) {
        self.state.lock().unwrap().fields.push(Field {
            name: name.into(),
            display_name: name.into(),
            data_type: data_type.into(),
            description: None,
            custom: true,
        });
    }

    pub fn fields(&self) -> Vec<Field> {
        self.state.lock().unwrap().fields.clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Sync Leads calls, in the order they arrived.
    pub fn syncs(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == "/rest/v1/leads.json")
            .collect()
    }

    /// The fields written to the lead with this email, once any was written.
    pub fn lead(&self, email: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        let state = self.state.lock().unwrap();
        state
            .leads
            .iter()
            .find(|lead| lead.email == email.to_ascii_lowercase())
            .filter(|lead| !lead.fields.is_empty())
            .map(|lead| lead.fields.clone())
    }

    pub async fn wait_for(&self, what: &str, done: impl Fn(&FakeMarketo) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "fake Marketo never saw: {what}; requests: {:?}",
                self.requests()
                    .iter()
                    .map(|r| format!("{} {} → {}", r.method, r.path, r.answered))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn respond(status: u16, headers: &[(String, String)], body: &serde_json::Value) -> HttpResponse {
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"));
    for (key, value) in headers {
        response.insert_header((key.as_str(), value.as_str()));
    }
    response.json(body)
}

fn answered(status: u16, body: &serde_json::Value) -> String {
    if status == 200 && body["success"] == false {
        body["errors"][0]["code"]
            .as_str()
            .unwrap_or("200")
            .to_string()
    } else {
        status.to_string()
    }
}

fn request_id(state: &mut State) -> String {
    state.request_ids += 1;
    format!("{:x}#14272d07d78", 0xe42b + state.request_ids)
}

fn error_body(state: &mut State, code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"requestId": request_id(state), "success": false,
        "errors": [{"code": code, "message": message}]})
}

async fn identity(
    state: web::Data<Arc<Mutex<State>>>,
    request: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let mut state = state.lock().unwrap();
    let now = Instant::now();
    let good = query.get("grant_type").map(String::as_str) == Some("client_credentials")
        && query.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && query.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET);
    let (status, body) = if !good {
        (
            401,
            serde_json::json!({"error": "invalid_client", "error_description": "Bad client credentials"}),
        )
    } else {
        // Asked before expiry, Identity hands back the same token with its remaining life.
        let current = state
            .tokens
            .last()
            .filter(|token| token.expires_at > now)
            .map(|token| (token.value.clone(), token.expires_at));
        let (value, expires_at) = match current {
            Some(current) => current,
            None => {
                let value = format!(
                    "cdf01657-110d-4155-99a7-{:012x}:int",
                    state.tokens.len() + 1
                );
                let expires_at = now + state.token_lifetime;
                state.tokens.push(Issued {
                    value: value.clone(),
                    expires_at,
                });
                (value, expires_at)
            }
        };
        (
            200,
            serde_json::json!({"access_token": value, "token_type": "bearer",
                "expires_in": expires_at.saturating_duration_since(now).as_secs(),
                "scope": "apis@example.com"}),
        )
    };
    state.requests.push(Recorded {
        method: request.method().to_string(),
        path: request.path().to_string(),
        query: request.query_string().to_string(),
        authorization: None,
        body: serde_json::Value::Null,
        at: now,
        answered: status.to_string(),
    });
    respond(status, &[], &body)
}

async fn rest(
    state: web::Data<Arc<Mutex<State>>>,
    request: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    body: web::Bytes,
) -> HttpResponse {
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let mut state = state.lock().unwrap();
    let method = request.method().to_string();
    let path = request.path().to_string();
    let (status, headers, answer) = match authorize(&mut state, authorization.as_deref()) {
        Err(error) => (200, vec![], error),
        Ok(()) => match state.script.pop_front() {
            Some(scripted) => (scripted.status, scripted.headers, scripted.body),
            None => {
                let answer = match (method.as_str(), path.as_str()) {
                    ("POST", "/rest/v1/leads.json") => sync_leads(&mut state, &body),
                    ("GET", "/rest/v1/leads/schema/fields.json") => lead_fields(&mut state, &query),
                    ("POST", "/rest/v1/leads/schema/fields.json") => {
                        create_fields(&mut state, &body)
                    }
                    _ => describe(&mut state),
                };
                (200, vec![], answer)
            }
        },
    };
    state.requests.push(Recorded {
        method,
        path,
        query: request.query_string().to_string(),
        authorization,
        body,
        at: Instant::now(),
        answered: answered(status, &answer),
    });
    respond(status, &headers, &answer)
}

/// 601 for a token never issued, 602 for one past its life (error-codes.md).
fn authorize(state: &mut State, authorization: Option<&str>) -> Result<(), serde_json::Value> {
    let token = authorization.and_then(|value| value.strip_prefix("Bearer "));
    let issued = token.and_then(|token| state.tokens.iter().find(|t| t.value == token));
    match issued {
        None => Err(error_body(state, "601", "Access token invalid")),
        Some(issued) if issued.expires_at <= Instant::now() => {
            Err(error_body(state, "602", "Access token expired"))
        }
        Some(_) => Ok(()),
    }
}

fn sync_leads(state: &mut State, body: &serde_json::Value) -> serde_json::Value {
    let Some(inputs) = body.get("input").and_then(|v| v.as_array()) else {
        return error_body(state, "609", "Invalid JSON");
    };
    let action = body["action"].as_str().unwrap_or("createOrUpdate");
    let lookup = body["lookupField"].as_str().unwrap_or("email").to_string();
    if inputs.len() > BATCH_LIMIT {
        // The wording for an oversized batch is not documented.
        return error_body(state, "1003", "Invalid data: more than 300 records");
    }
    if action != "updateOnly" || (lookup != "id" && lookup != "email") {
        return error_body(state, "1003", "Invalid data");
    }
    let known: Vec<String> = state.fields.iter().map(|f| f.name.clone()).collect();
    let mut results = Vec::new();
    for input in inputs {
        let Some(record) = input.as_object() else {
            results.push(skipped("1003", "Invalid data"));
            continue;
        };
        if let Some(unknown) = record.keys().find(|key| !known.contains(key)) {
            results.push(skipped("1006", &format!("Field '{unknown}' not found")));
            continue;
        }
        let matches: Vec<usize> = state
            .leads
            .iter()
            .enumerate()
            .filter(|(_, lead)| match lookup.as_str() {
                "id" => record.get("id").and_then(|v| v.as_u64()) == Some(lead.id),
                _ => {
                    record
                        .get("email")
                        .and_then(|v| v.as_str())
                        .map(str::to_ascii_lowercase)
                        == Some(lead.email.clone())
                }
            })
            .map(|(index, _)| index)
            .collect();
        match matches.as_slice() {
            [] => results.push(skipped("1004", "Lead not found")),
            [index] => {
                let lead = &mut state.leads[*index];
                for (key, value) in record {
                    if key != "id" && key != "email" {
                        lead.fields.insert(key.clone(), value.clone());
                    }
                }
                results.push(serde_json::json!({"id": lead.id, "status": "updated"}));
            }
            _ => results.push(skipped("1007", "Multiple leads match the lookup criteria")),
        }
    }
    serde_json::json!({"requestId": request_id(state), "success": true, "result": results})
}

fn skipped(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"status": "skipped", "reasons": [{"code": code, "message": message}]})
}

fn lead_field_json(field: &Field) -> serde_json::Value {
    let mut json = serde_json::json!({
        "displayName": field.display_name, "name": field.name, "description": field.description,
        "dataType": field.data_type, "isHidden": false, "isHtmlEncodingInEmail": true,
        "isSensitive": false, "isCustom": field.custom, "isApiCreated": field.custom
    });
    if field.data_type == "string" || field.data_type == "email" {
        json["length"] = 255.into();
    }
    json
}

/// Get Lead Fields with `batchSize` and `nextPageToken` paging.
fn lead_fields(state: &mut State, query: &HashMap<String, String>) -> serde_json::Value {
    if state.refuse_schema_read {
        return error_body(state, "603", "Access denied");
    }
    let size = query
        .get("batchSize")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(BATCH_LIMIT)
        .clamp(1, BATCH_LIMIT)
        .min(state.page_size);
    let start = query
        .get("nextPageToken")
        .and_then(|v| v.strip_prefix("page-"))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let page: Vec<serde_json::Value> = state
        .fields
        .iter()
        .skip(start)
        .take(size)
        .map(lead_field_json)
        .collect();
    let more = start + size < state.fields.len();
    let mut answer = serde_json::json!({"requestId": request_id(state), "result": page,
        "success": true, "moreResult": more});
    if more {
        answer["nextPageToken"] = format!("page-{}", start + size).into();
    }
    answer
}

const DATA_TYPES: &[&str] = &[
    "boolean", "currency", "date", "datetime", "email", "float", "integer", "percent", "phone",
    "score", "string", "url",
];

fn create_fields(state: &mut State, body: &serde_json::Value) -> serde_json::Value {
    if state.refuse_schema_create {
        return error_body(state, "603", "Access denied");
    }
    let Some(inputs) = body.get("input").and_then(|v| v.as_array()) else {
        return error_body(state, "609", "Invalid JSON");
    };
    let mut results = Vec::new();
    for input in inputs {
        let name = input["name"].as_str().unwrap_or_default().to_string();
        let display = input["displayName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let data_type = input["dataType"].as_str().unwrap_or_default().to_string();
        let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        // Record-level wording for create refusals is not documented.
        let refusal =
            if !valid_name || display.is_empty() || !DATA_TYPES.contains(&data_type.as_str()) {
                Some("Invalid data")
            } else if state
                .fields
                .iter()
                .any(|f| f.name.eq_ignore_ascii_case(&name) || f.display_name == display)
            {
                Some("Field already exists")
            } else {
                None
            };
        match refusal {
            Some(message) => results.push(serde_json::json!({"name": name, "status": "skipped",
                "reasons": [{"code": "1003", "message": message}]})),
            None => {
                state.fields.push(Field {
                    name: name.clone(),
                    display_name: display,
                    data_type,
                    description: input["description"].as_str().map(str::to_string),
                    custom: true,
                });
                results.push(serde_json::json!({"name": name, "status": "created"}));
            }
        }
    }
    serde_json::json!({"requestId": request_id(state), "result": results, "success": true})
}

/// Describe Lead: `rest.name` and `soap.name` per field (leads.md "Describe").
fn describe(state: &mut State) -> serde_json::Value {
    let result: Vec<serde_json::Value> = state
        .fields
        .iter()
        .enumerate()
        .map(|(index, field)| {
            serde_json::json!({"id": index + 1, "displayName": field.display_name,
                "dataType": field.data_type,
                "rest": {"name": field.name, "readOnly": false},
                "soap": {"name": field.name, "readOnly": false}})
        })
        .collect();
    serde_json::json!({"requestId": request_id(state), "success": true, "result": result})
}
