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

use crate::fake_crm::{Answer, Crm, FakeCrm, Recorded, Request, Script};
use std::collections::{HashMap, HashSet};

mod data;
mod oauth;
mod tooling;

pub const CLIENT_ID: &str = "3MVG9fake.consumer.key";
pub const CLIENT_SECRET: &str = "F4K3-consumer-secret-0123456789";
pub const USERNAME: &str = "integration@acme.example";
pub const USER_ID: &str = "0055e000001IntgAAC";
pub const PROFILE: &str = "Minimum Access - API Only Integrations";
const ORG_ID: &str = "00D5e000000KQ2eEAG";
const BATCH_LIMIT: usize = 200;
const TOKEN_PATH: &str = "/services/oauth2/token";

#[derive(Clone, Debug)]
struct Record {
    object: String,
    email: String,
    converted: bool,
    fields: serde_json::Map<String, serde_json::Value>,
}

#[derive(Default)]
pub struct Salesforce {
    base: String,
    issued: u32,
    valid: HashSet<String>,
    /// Token requests still to answer 503.
    unavailable: u32,
    /// The public key JWT assertions must verify with.
    jwt_public_key: Option<Vec<u8>>,
    records: HashMap<String, Record>,
    refusals: HashMap<String, (String, String, Vec<String>)>,
    used: u64,
    limit: u64,
    fields: Vec<(String, String)>,
    field_security: bool,
}

pub type FakeSalesforce = FakeCrm<Salesforce>;

impl FakeCrm<Salesforce> {
    pub fn start() -> FakeSalesforce {
        let fake = FakeCrm::serve(Salesforce {
            limit: 15_000,
            ..Salesforce::default()
        });
        // Record URLs in answers name the server, known once it listens.
        let base = fake.base.clone();
        fake.with(|salesforce| salesforce.base = base);
        fake
    }

    /// A Contact or Lead with this email; its id comes back.
    pub fn add(&self, object: &str, email: &str) -> String {
        self.with(|salesforce| {
            let prefix = if object == "Lead" { "00Q" } else { "003" };
            let id = format!("{prefix}5e{:010}AAA", salesforce.records.len() + 1);
            salesforce.insert(&id, object, &email.to_ascii_lowercase());
            id
        })
    }

    pub fn add_with_id(&self, object: &str, id: &str, email: &str) {
        self.with(|salesforce| salesforce.insert(id, object, email));
    }

    pub fn convert(&self, id: &str) {
        self.with(|salesforce| {
            if let Some(record) = salesforce.records.get_mut(id) {
                record.converted = true;
            }
        });
    }

    /// Writes to this record fail with this SaveResult error.
    pub fn refuse(&self, id: &str, code: &str, message: &str, fields: &[&str]) {
        self.with(|salesforce| {
            salesforce.refusals.insert(
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
        self.with(|salesforce| salesforce.records.get(id).map(|r| r.fields.clone()))
            .filter(|fields| !fields.is_empty())
    }

    /// Every issued token stops working, as when the session times out.
    pub fn expire_sessions(&self) {
        self.with(|salesforce| salesforce.valid.clear());
    }

    /// The next `count` token requests get 503 with `Retry-After: 1`.
    pub fn token_unavailable(&self, count: u32) {
        self.with(|salesforce| salesforce.unavailable = count);
    }

    pub fn expect_jwt_signed_by(&self, public_key: &[u8]) {
        self.with(|salesforce| salesforce.jwt_public_key = Some(public_key.to_vec()));
    }

    pub fn set_usage(&self, used: u64, limit: u64) {
        self.with(|salesforce| {
            salesforce.used = used;
            salesforce.limit = limit;
        });
    }

    /// Field-level security granted: `describe` shows the custom fields as updateable.
    pub fn grant_field_security(&self) {
        self.with(|salesforce| salesforce.field_security = true);
    }

    /// `Contact.Attention_Score__c`, … in creation order.
    pub fn custom_fields(&self) -> Vec<String> {
        self.with(|salesforce| {
            salesforce
                .fields
                .iter()
                .map(|(object, name)| format!("{object}.{name}__c"))
                .collect()
        })
    }

    /// The forms sent to the token endpoint, in order.
    pub fn token_forms(&self) -> Vec<HashMap<String, String>> {
        self.requests_where(|r| r.path == TOKEN_PATH)
            .iter()
            .map(Recorded::form)
            .collect()
    }

    /// The decoded SOQL of every query, in order.
    pub fn soql(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|r| r.query_param("q"))
            .collect()
    }

    /// The sObject Collections calls.
    pub fn writes(&self) -> Vec<Recorded> {
        self.requests_where(|r| r.method == "PATCH")
    }
}

fn rest_error(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!([{"message": message, "errorCode": code}])
}

impl Crm for Salesforce {
    const NAME: &'static str = "Salesforce";

    fn answer(&mut self, request: &Request, script: &mut Script) -> Answer {
        match (request.method.as_str(), request.segments().as_slice()) {
            ("POST", ["services", "oauth2", "token"]) => self.token(request),
            ("PATCH", ["services", "data", _, "composite", "sobjects"]) => {
                self.rest(request, |salesforce| salesforce.collection(request, script))
            }
            ("GET", ["services", "data", version, "query"]) => {
                self.rest(request, |salesforce| salesforce.query(request, version))
            }
            ("GET", ["services", "data", version, "tooling", "query"]) => self
                .rest(request, |salesforce| {
                    salesforce.tooling_query(request, version)
                }),
            ("POST", ["services", "data", _, "tooling", "sobjects", "CustomField"]) => {
                self.rest(request, |salesforce| salesforce.create_field(request))
            }
            ("GET", ["services", "data", _, "sobjects", object, "describe"]) => {
                self.rest(request, |salesforce| salesforce.describe(object))
            }
            _ => Answer::no_route(),
        }
    }
}

impl Salesforce {
    fn insert(&mut self, id: &str, object: &str, email: &str) {
        self.records.insert(
            id.into(),
            Record {
                object: object.into(),
                email: email.into(),
                converted: false,
                fields: Default::default(),
            },
        );
    }

    /// Checks the session, counts the call against the daily limit, and answers with
    /// `Sforce-Limit-Info`.
    fn rest(&mut self, request: &Request, handle: impl FnOnce(&mut Self) -> Answer) -> Answer {
        let session = request
            .authorization()
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or_default();
        let mut answer = if !self.valid.contains(session) {
            Answer::json(
                401,
                rest_error("INVALID_SESSION_ID", "Session expired or invalid"),
            )
        } else {
            self.used += 1;
            handle(self)
        };
        answer.headers.push((
            "Sforce-Limit-Info".into(),
            format!("api-usage={}/{}", self.used, self.limit),
        ));
        answer
    }
}
