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

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    server: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Shared = web::Data<Arc<Mutex<State>>>;

impl FakeSalesforce {
    pub fn start() -> FakeSalesforce {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            base: base.clone(),
            limit: 15_000,
            ..State::default()
        }));
        let shared = state.clone();
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(shared.clone()))
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
                        )
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run();
                handle_tx.send(server.handle()).expect("handle");
                let _ = server.await;
            })
        });
        let server = handle_rx.recv().expect("fake started");
        FakeSalesforce {
            base,
            state,
            server,
            thread: Some(thread),
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

impl Drop for FakeSalesforce {
    fn drop(&mut self) {
        drop(self.server.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
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

fn oauth_error(error: &str, description: &str) -> (u16, Vec<(String, String)>, serde_json::Value) {
    (
        400,
        vec![],
        serde_json::json!({"error": error, "error_description": description}),
    )
}

async fn token(state: Shared, body: web::Bytes) -> HttpResponse {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let mut state = state.lock().unwrap();
    state.token_forms.push(form.clone());
    let (status, headers, answer) = issue(&mut state, &form);
    let recorded = Recorded {
        method: "POST".into(),
        path: "/services/oauth2/token".into(),
        soql: None,
        authorization: None,
        body: serde_json::Value::Null,
        at: Instant::now(),
        answered: status,
    };
    state.requests.push(recorded);
    respond(status, &headers, &answer)
}

fn issue(
    state: &mut State,
    form: &HashMap<String, String>,
) -> (u16, Vec<(String, String)>, serde_json::Value) {
    if state.unavailable > 0 {
        state.unavailable -= 1;
        return (
            503,
            vec![("Retry-After".into(), "1".into())],
            serde_json::json!({"error": "temporarily_unavailable", "error_description": "service temporarily unavailable"}),
        );
    }
    let get = |key: &str| form.get(key).map(String::as_str).unwrap_or_default();
    match get("grant_type") {
        "client_credentials" => {
            if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
                return oauth_error("invalid_client", "invalid client credentials");
            }
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            if let Err(reason) = check_assertion(state, get("assertion")) {
                return oauth_error("invalid_grant", reason);
            }
        }
        _ => return oauth_error("unsupported_grant_type", "grant type not supported"),
    }
    state.issued += 1;
    let access_token = format!("{}!AR.fake-session-{}", &ORG_ID[..15], state.issued);
    state.valid.insert(access_token.clone());
    (
        200,
        vec![],
        serde_json::json!({
            "access_token": access_token,
            "signature": "c2lnbmF0dXJl",
            "scope": "api",
            "instance_url": state.base,
            "id": format!("https://login.salesforce.com/id/{ORG_ID}/{USER_ID}"),
            "token_type": "Bearer",
            "issued_at": chrono::Utc::now().timestamp_millis().to_string(),
        }),
    )
}

fn check_assertion(state: &State, jwt: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("invalid assertion");
    };
    let decode = |part: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .ok()
    };
    let header: serde_json::Value = decode(header)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("invalid assertion")?;
    let claims: serde_json::Value = decode(claims)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("invalid assertion")?;
    if header["alg"] != "RS256" {
        return Err("invalid assertion");
    }
    let key = state
        .jwt_public_key
        .as_ref()
        .ok_or("invalid client credentials")?;
    let signature = decode(signature).ok_or("invalid assertion")?;
    let signed = &jwt[..jwt.rfind('.').unwrap_or(0)];
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| "invalid assertion")?;
    if claims["iss"] != CLIENT_ID {
        return Err("invalid client credentials");
    }
    if claims["aud"] != state.base.as_str() {
        return Err("audience is invalid");
    }
    if claims["sub"] != USERNAME {
        return Err("user hasn't approved this consumer");
    }
    let now = chrono::Utc::now().timestamp();
    match claims["exp"].as_i64() {
        Some(exp) if exp > now && exp <= now + 300 => Ok(()),
        _ => Err("expired authorization code"),
    }
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

async fn collection(state: Shared, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    rest(&state, &request, body, |state, body, _| {
        if let Some(scripted) = state.script.pop_front() {
            return (scripted.status, scripted.headers, scripted.body);
        }
        let Some(records) = body["records"].as_array() else {
            return (
                400,
                vec![],
                rest_error(
                    "JSON_PARSER_ERROR",
                    "Cannot deserialize instance of SObject[] from null value",
                ),
            );
        };
        if records.len() > BATCH_LIMIT {
            return (
                400,
                vec![],
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
            return (
                400,
                vec![],
                rest_error("INVALID_BATCH_REQUEST", "too many chunks in this request"),
            );
        }
        let results: Vec<serde_json::Value> =
            records.iter().map(|record| save(state, record)).collect();
        (200, vec![], serde_json::Value::Array(results))
    })
}

fn save(state: &mut State, record: &serde_json::Value) -> serde_json::Value {
    let failed = |code: &str, message: &str, fields: &[String]| serde_json::json!({"success": false, "errors": [{"statusCode": code, "message": message, "fields": fields}]});
    let id = record["id"].as_str().unwrap_or_default().to_string();
    let kind = record["attributes"]["type"].as_str().unwrap_or_default();
    if let Some((code, message, fields)) = state.refusals.get(&id) {
        return failed(code, message, fields);
    }
    let Some(stored) = state.records.get_mut(&id) else {
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

/// The string literals of `Email IN ('a', 'b\'c')`, unescaped.
fn literals(soql: &str, after: &str) -> Vec<String> {
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

fn query_result(kind: &str, records: Vec<serde_json::Value>, tooling: bool) -> serde_json::Value {
    let mut result =
        serde_json::json!({"totalSize": records.len(), "done": true, "records": records});
    if tooling {
        result["size"] = result["totalSize"].clone();
        result["queryLocator"] = serde_json::Value::Null;
        result["entityTypeName"] = kind.into();
    }
    result
}

async fn query(state: Shared, request: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let version = path.into_inner();
    rest(
        &state,
        &request,
        serde_json::Value::Null,
        |state, _, soql| {
            let soql = soql.unwrap_or_default();
            for object in ["Contact", "Lead"] {
                if soql.starts_with(&format!("SELECT Id, Email FROM {object} WHERE Email IN (")) {
                    let emails: Vec<String> = literals(soql, "Email IN (")
                        .iter()
                        .map(|e| e.to_ascii_lowercase())
                        .collect();
                    let open_only = soql.contains("IsConverted = false");
                    let found: Vec<serde_json::Value> = state
                    .records
                    .iter()
                    .filter(|(_, r)| r.object == object && emails.contains(&r.email) && !(open_only && r.converted))
                    .map(|(id, r)| {
                        serde_json::json!({
                            "attributes": {"type": object, "url": format!("/services/data/{version}/sobjects/{object}/{id}")},
                            "Id": id, "Email": r.email,
                        })
                    })
                    .collect();
                    return (200, vec![], query_result(object, found, false));
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
                return (200, vec![], query_result("User", found, false));
            }
            (
                400,
                vec![],
                rest_error("MALFORMED_QUERY", &format!("unexpected query: {soql}")),
            )
        },
    )
}

async fn tooling_query(
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

async fn create_field(state: Shared, request: HttpRequest, body: web::Bytes) -> HttpResponse {
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

async fn describe(
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
