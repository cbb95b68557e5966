//! A fake Salesforce org on 127.0.0.1: the OAuth token endpoint, sObject Collections
//! update, SOQL query, and the Tooling API and describe calls `setup-crm` uses.
//!
//! Shapes, and where they come from:
//! - token endpoint: client credentials form and response fields (`access_token`,
//!   `signature`, `instance_url`, `id`, `token_type`, `issued_at`) from the Connect REST
//!   API quick start (developer.salesforce.com, "quickstart_connecting") and jsforce's
//!   `TokenResponse`; the JWT bearer grant and its `iss`/`sub`/`aud`/`exp` claims from
//!   help.salesforce.com "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration";
//!   errors `{"error": "invalid_client", "error_description": "invalid client
//!   credentials"}` as seen in restforce issue #338.
//! - `PATCH /composite/sobjects`: REST API guide "Update Records Using sObject
//!   Collections" (≤ 200 records, SaveResults in request order); the over-200 error
//!   `EXCEEDED_ID_LIMIT: record limit reached. cannot submit more than 200 records
//!   into this call` as quoted in django-salesforce issue #328; the more-than-ten-runs
//!   error text is not verified.
//! - 401 `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`:
//!   REST API guide "Status Codes and Error Responses".
//! - `Sforce-Limit-Info: api-usage=n/m` on every REST answer: REST API guide "Limit
//!   Info Header".
//! - query results `{"totalSize", "done", "records": [{"attributes": {"type", "url"},
//!   …}]}`: REST API guide "Execute a SOQL Query".
//! - Tooling `CustomField` create (201 with `{"id", "success", "errors", "warnings",
//!   "infos"}`) and query (`TableEnumOrId`, `DeveloperName`): Tooling API guide
//!   "CustomField"; the duplicate answer `DUPLICATE_VALUE` as quoted in
//!   django-salesforce pull request #57.

use crate::fake_server::FakeServer;
use actix_web::{web, HttpRequest, HttpResponse};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod data;
mod oauth;
mod tooling;

use data::{collection, query};
use oauth::token;
use tooling::{create_field, describe, tooling_query};

pub const CLIENT_ID: &str = "3MVG9fake.consumer.key";
pub const CLIENT_SECRET: &str = "F4K3-consumer-secret-0123456789";
pub const USERNAME: &str = "integration@acme.example";
pub const USER_ID: &str = "0055e000001IntgAAC";
pub const PROFILE: &str = "Minimum Access - API Only Integrations";
const ORG_ID: &str = "00D5e000000KQ2eEAG";
const BATCH_LIMIT: usize = 200;

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The decoded `q` of a query.
    pub soql: Option<String>,
    pub authorization: Option<String>,
    pub body: serde_json::Value,
    pub at: Instant,
    pub answered: u16,
}

#[derive(Clone, Debug)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

#[derive(Clone, Debug)]
struct Record {
    object: String,
    email: String,
    converted: bool,
    fields: serde_json::Map<String, serde_json::Value>,
}

#[derive(Default)]
struct State {
    base: String,
    requests: Vec<Recorded>,
    token_forms: Vec<HashMap<String, String>>,
    issued: u32,
    valid: HashSet<String>,
    /// Token requests still to answer 503.
    unavailable: u32,
    /// The public key JWT assertions must verify with.
    jwt_public_key: Option<Vec<u8>>,
    script: VecDeque<Scripted>,
    records: HashMap<String, Record>,
    refusals: HashMap<String, (String, String, Vec<String>)>,
    used: u64,
    limit: u64,
    fields: Vec<(String, String)>,
    field_security: bool,
}

pub struct FakeSalesforce {
    pub base: String,
    state: Arc<Mutex<State>>,
    /// Stops the server when the fake is dropped.
    _server: FakeServer,
}

type Shared = web::Data<Arc<Mutex<State>>>;

impl FakeSalesforce {
    pub fn start() -> FakeSalesforce {
        let state = Arc::new(Mutex::new(State {
            limit: 15_000,
            ..State::default()
        }));
        let server = FakeServer::start(state.clone(), |config| {
            config
                .route("/services/oauth2/token", web::post().to(token))
                .route(
                    "/services/data/{version}/composite/sobjects",
                    web::patch().to(collection),
                )
                .route("/services/data/{version}/query", web::get().to(query))
                .route(
                    "/services/data/{version}/tooling/query",
                    web::get().to(tooling_query),
                )
                .route(
                    "/services/data/{version}/tooling/sobjects/CustomField",
                    web::post().to(create_field),
                )
                .route(
                    "/services/data/{version}/sobjects/{object}/describe",
                    web::get().to(describe),
                );
        });
        // Record URLs in answers name the server, known once it listens.
        state.lock().unwrap().base = server.base.clone();
        FakeSalesforce {
            base: server.base.clone(),
            state,
            _server: server,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// A Contact or Lead with this email; its id comes back.
    pub fn add(&self, object: &str, email: &str) -> String {
        self.with(|state| {
            let prefix = if object == "Lead" { "00Q" } else { "003" };
            let id = format!("{prefix}5e{:010}AAA", state.records.len() + 1);
            state.records.insert(
                id.clone(),
                Record {
                    object: object.into(),
                    email: email.to_ascii_lowercase(),
                    converted: false,
                    fields: Default::default(),
                },
            );
            id
        })
    }

    pub fn add_with_id(&self, object: &str, id: &str, email: &str) {
        self.with(|state| {
            state.records.insert(
                id.into(),
                Record {
                    object: object.into(),
                    email: email.into(),
                    converted: false,
                    fields: Default::default(),
                },
            )
        });
    }

    pub fn convert(&self, id: &str) {
        self.with(|state| {
            if let Some(record) = state.records.get_mut(id) {
                record.converted = true;
            }
        });
    }

    /// Writes to this record fail with this SaveResult error.
    pub fn refuse(&self, id: &str, code: &str, message: &str, fields: &[&str]) {
        self.with(|state| {
            state.refusals.insert(
                id.into(),
                (
                    code.into(),
                    message.into(),
                    fields.iter().map(|f| f.to_string()).collect(),
                ),
            )
        });
    }

    /// The fields written to a record so far.
    pub fn record(&self, id: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        self.with(|state| state.records.get(id).map(|r| r.fields.clone()))
            .filter(|fields| !fields.is_empty())
    }

    pub fn script(&self, status: u16, headers: &[(&str, &str)], body: serde_json::Value) {
        self.with(|state| {
            state.script.push_back(Scripted {
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body,
            })
        });
    }

    /// Every issued token stops working, as when the session times out.
    pub fn expire_sessions(&self) {
        self.with(|state| state.valid.clear());
    }

    /// The next `count` token requests get 503 with `Retry-After: 1`.
    pub fn token_unavailable(&self, count: u32) {
        self.with(|state| state.unavailable = count);
    }

    pub fn expect_jwt_signed_by(&self, public_key: &[u8]) {
        self.with(|state| state.jwt_public_key = Some(public_key.to_vec()));
    }

    pub fn set_usage(&self, used: u64, limit: u64) {
        self.with(|state| {
            state.used = used;
            state.limit = limit;
        });
    }

    /// Field-level security granted: `describe` shows the custom fields as updateable.
    pub fn grant_field_security(&self) {
        self.with(|state| state.field_security = true);
    }

    /// `Contact.Attention_Score__c`, … in creation order.
    pub fn custom_fields(&self) -> Vec<String> {
        self.with(|state| {
            state
                .fields
                .iter()
                .map(|(object, name)| format!("{object}.{name}__c"))
                .collect()
        })
    }

    pub fn token_forms(&self) -> Vec<HashMap<String, String>> {
        self.with(|state| state.token_forms.clone())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|state| state.requests.clone())
    }

    /// The sObject Collections calls.
    pub fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "PATCH")
            .collect()
    }

    pub async fn wait_for(&self, what: &str, done: impl Fn(&FakeSalesforce) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "fake Salesforce never saw: {what}; requests: {:?}",
                self.requests()
                    .iter()
                    .map(|r| (&r.method, &r.path, r.answered))
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
    if status == 204 {
        return response.finish();
    }
    response.json(body)
}

fn rest_error(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!([{"message": message, "errorCode": code}])
}

/// Records the request, checks the session, counts it against the daily limit, and
/// answers with `Sforce-Limit-Info`.
fn rest(
    state: &Shared,
    request: &HttpRequest,
    body: serde_json::Value,
    handle: impl FnOnce(
        &mut State,
        &serde_json::Value,
        Option<&str>,
    ) -> (u16, Vec<(String, String)>, serde_json::Value),
) -> HttpResponse {
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let soql = form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(key, _)| key == "q")
        .map(|(_, value)| value.into_owned());
    let mut state = state.lock().unwrap();
    let session = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or_default();
    let (status, mut headers, answer) = if !state.valid.contains(session) {
        (
            401,
            vec![],
            rest_error("INVALID_SESSION_ID", "Session expired or invalid"),
        )
    } else {
        state.used += 1;
        handle(&mut state, &body, soql.as_deref())
    };
    headers.push((
        "Sforce-Limit-Info".into(),
        format!("api-usage={}/{}", state.used, state.limit),
    ));
    state.requests.push(Recorded {
        method: request.method().to_string(),
        path: request.path().to_string(),
        soql,
        authorization,
        body,
        at: Instant::now(),
        answered: status,
    });
    respond(status, &headers, &answer)
}
