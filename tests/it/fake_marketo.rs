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

use crate::fake_crm::{Answer, Crm, FakeCrm, Recorded, Request, Script};
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
pub struct Field {
    pub name: String,
    pub display_name: String,
    pub data_type: String,
    pub description: Option<String>,
    pub custom: bool,
}

impl Field {
    fn custom(name: &str, data_type: &str) -> Field {
        Field {
            name: name.into(),
            display_name: name.into(),
            data_type: data_type.into(),
            description: None,
            custom: true,
        }
    }
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

pub struct Marketo {
    token_lifetime: Duration,
    tokens: Vec<Issued>,
    leads: Vec<Lead>,
    fields: Vec<Field>,
    page_size: usize,
    refuse_schema_read: bool,
    refuse_schema_create: bool,
    request_ids: u64,
}

pub type FakeMarketo = FakeCrm<Marketo>;

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

/// A response-level error in an HTTP 200 body, as Marketo sends them.
pub fn response_error(code: &str, message: &str) -> Answer {
    Answer::json(
        200,
        serde_json::json!({"requestId": "e42b#14272d07d78", "success": false,
            "errors": [{"code": code, "message": message}]}),
    )
}

/// The HTTP status, or Marketo's error code when the 200 body says `success: false`.
pub fn outcome(call: &Recorded) -> String {
    if call.answered == 200 && call.answer["success"] == false {
        call.answer["errors"][0]["code"]
            .as_str()
            .unwrap_or("200")
            .to_string()
    } else {
        call.answered.to_string()
    }
}

impl FakeCrm<Marketo> {
    /// An instance whose leads already have attentiond's custom fields.
    pub fn start() -> FakeMarketo {
        let fake = FakeMarketo::start_without_custom_fields();
        for (name, data_type) in ATTENTION_FIELDS {
            fake.add_field(name, data_type);
        }
        fake
    }

    pub fn start_without_custom_fields() -> FakeMarketo {
        FakeCrm::serve(Marketo {
            token_lifetime: Duration::from_secs(3600),
            tokens: Vec::new(),
            leads: Vec::new(),
            fields: standard_fields(),
            page_size: BATCH_LIMIT,
            refuse_schema_read: false,
            refuse_schema_create: false,
            request_ids: 0,
        })
    }

    /// A lead Marketo knows, so that `updateOnly` finds it.
    pub fn add_lead(&self, id: u64, email: &str) {
        self.with(|marketo| {
            marketo.leads.push(Lead {
                id,
                email: email.to_ascii_lowercase(),
                fields: serde_json::Map::new(),
            })
        });
    }

    /// The next REST call (not Identity) fails with Marketo's `code`.
    pub fn script_error(&self, code: &str, message: &str) {
        self.script(response_error(code, message));
    }

    /// Every token issued so far expires now; calls with them get 602.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        self.with(|marketo| {
            for token in &mut marketo.tokens {
                token.expires_at = token.expires_at.min(now);
            }
        });
    }

    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.with(|marketo| marketo.token_lifetime = lifetime);
    }

    /// Get Lead Fields answers at most this many per page.
    pub fn set_page_size(&self, size: usize) {
        self.with(|marketo| marketo.page_size = size);
    }

    /// The API role lacks Read-Write Schema permissions: schema reads get 603.
    pub fn refuse_schema_read(&self) {
        self.with(|marketo| marketo.refuse_schema_read = true);
    }

    /// Create Lead Fields gets 603 Access denied.
    pub fn refuse_schema_create(&self) {
        self.with(|marketo| marketo.refuse_schema_create = true);
    }

    /// Adds a custom field as if made by hand in Field Management.
    pub fn add_field(&self, name: &str, data_type: &str) {
        self.with(|marketo| marketo.fields.push(Field::custom(name, data_type)));
    }

    pub fn fields(&self) -> Vec<Field> {
        self.with(|marketo| marketo.fields.clone())
    }

    /// Identity calls, in the order they arrived.
    pub fn sign_ins(&self) -> Vec<Recorded> {
        self.requests_where(|r| r.path == "/identity/oauth/token")
    }

    /// Sync Leads calls, in the order they arrived.
    pub fn syncs(&self) -> Vec<Recorded> {
        self.requests_where(|r| r.path == "/rest/v1/leads.json")
    }

    /// Create Lead Fields calls.
    pub fn field_creations(&self) -> Vec<Recorded> {
        self.requests_where(|r| r.method == "POST" && r.path == "/rest/v1/leads/schema/fields.json")
    }

    /// The fields written to the lead with this email, once any was written.
    pub fn lead(&self, email: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        self.with(|marketo| {
            marketo
                .leads
                .iter()
                .find(|lead| lead.email == email.to_ascii_lowercase())
                .filter(|lead| !lead.fields.is_empty())
                .map(|lead| lead.fields.clone())
        })
    }
}

impl Crm for Marketo {
    const NAME: &'static str = "Marketo";

    fn answer(&mut self, request: &Request, script: &mut Script) -> Answer {
        let rest = match (request.method.as_str(), request.path.as_str()) {
            ("GET" | "POST", "/identity/oauth/token") => return self.identity(request),
            ("POST", "/rest/v1/leads.json") => Marketo::sync_leads,
            ("GET", "/rest/v1/leads/schema/fields.json") => Marketo::lead_fields,
            ("POST", "/rest/v1/leads/schema/fields.json") => Marketo::create_fields,
            ("GET", "/rest/v1/leads/describe.json") => Marketo::describe,
            _ => return Answer::no_route(),
        };
        if let Err(refused) = self.authorize(request.authorization()) {
            return Answer::json(200, refused);
        }
        if let Some(scripted) = script.play() {
            return scripted;
        }
        Answer::json(200, rest(self, request))
    }
}

impl Marketo {
    fn request_id(&mut self) -> String {
        self.request_ids += 1;
        format!("{:x}#14272d07d78", 0xe42b + self.request_ids)
    }

    fn error_body(&mut self, code: &str, message: &str) -> serde_json::Value {
        serde_json::json!({"requestId": self.request_id(), "success": false,
            "errors": [{"code": code, "message": message}]})
    }

    fn identity(&mut self, request: &Request) -> Answer {
        let now = Instant::now();
        let query = request.query_params();
        let good = query.get("grant_type").map(String::as_str) == Some("client_credentials")
            && query.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && query.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET);
        if !good {
            return Answer::json(
                401,
                serde_json::json!({"error": "invalid_client", "error_description": "Bad client credentials"}),
            );
        }
        // Asked before expiry, Identity hands back the same token with its remaining life.
        let current = self
            .tokens
            .last()
            .filter(|token| token.expires_at > now)
            .map(|token| (token.value.clone(), token.expires_at));
        let (value, expires_at) = match current {
            Some(current) => current,
            None => {
                let value = format!("cdf01657-110d-4155-99a7-{:012x}:int", self.tokens.len() + 1);
                let expires_at = now + self.token_lifetime;
                self.tokens.push(Issued {
                    value: value.clone(),
                    expires_at,
                });
                (value, expires_at)
            }
        };
        Answer::json(
            200,
            serde_json::json!({"access_token": value, "token_type": "bearer",
                "expires_in": expires_at.saturating_duration_since(now).as_secs(),
                "scope": "apis@example.com"}),
        )
    }

    /// 601 for a token never issued, 602 for one past its life (error-codes.md).
    fn authorize(&mut self, authorization: Option<&str>) -> Result<(), serde_json::Value> {
        let token = authorization.and_then(|value| value.strip_prefix("Bearer "));
        let issued = token.and_then(|token| self.tokens.iter().find(|t| t.value == token));
        match issued {
            None => Err(self.error_body("601", "Access token invalid")),
            Some(issued) if issued.expires_at <= Instant::now() => {
                Err(self.error_body("602", "Access token expired"))
            }
            Some(_) => Ok(()),
        }
    }

    fn sync_leads(&mut self, request: &Request) -> serde_json::Value {
        let body = &request.body;
        let Some(inputs) = body.get("input").and_then(|v| v.as_array()) else {
            return self.error_body("609", "Invalid JSON");
        };
        let action = body["action"].as_str().unwrap_or("createOrUpdate");
        let lookup = body["lookupField"].as_str().unwrap_or("email").to_string();
        if inputs.len() > BATCH_LIMIT {
            // The wording for an oversized batch is not documented.
            return self.error_body("1003", "Invalid data: more than 300 records");
        }
        if action != "updateOnly" || (lookup != "id" && lookup != "email") {
            return self.error_body("1003", "Invalid data");
        }
        let known: Vec<String> = self.fields.iter().map(|f| f.name.clone()).collect();
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
            let matches: Vec<usize> = self
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
                    let lead = &mut self.leads[*index];
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
        serde_json::json!({"requestId": self.request_id(), "success": true, "result": results})
    }

    /// Get Lead Fields with `batchSize` and `nextPageToken` paging.
    fn lead_fields(&mut self, request: &Request) -> serde_json::Value {
        if self.refuse_schema_read {
            return self.error_body("603", "Access denied");
        }
        let query = request.query_params();
        let size = query
            .get("batchSize")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(BATCH_LIMIT)
            .clamp(1, BATCH_LIMIT)
            .min(self.page_size);
        let start = query
            .get("nextPageToken")
            .and_then(|v| v.strip_prefix("page-"))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        let page: Vec<serde_json::Value> = self
            .fields
            .iter()
            .skip(start)
            .take(size)
            .map(lead_field_json)
            .collect();
        let more = start + size < self.fields.len();
        let mut answer = serde_json::json!({"requestId": self.request_id(), "result": page,
            "success": true, "moreResult": more});
        if more {
            answer["nextPageToken"] = format!("page-{}", start + size).into();
        }
        answer
    }

    fn create_fields(&mut self, request: &Request) -> serde_json::Value {
        if self.refuse_schema_create {
            return self.error_body("603", "Access denied");
        }
        let Some(inputs) = request.body.get("input").and_then(|v| v.as_array()) else {
            return self.error_body("609", "Invalid JSON");
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
                } else if self
                    .fields
                    .iter()
                    .any(|f| f.name.eq_ignore_ascii_case(&name) || f.display_name == display)
                {
                    Some("Field already exists")
                } else {
                    None
                };
            match refusal {
                Some(message) => results
                    .push(serde_json::json!({"name": name, "status": "skipped",
                    "reasons": [{"code": "1003", "message": message}]})),
                None => {
                    self.fields.push(Field {
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
        serde_json::json!({"requestId": self.request_id(), "result": results, "success": true})
    }

    /// Describe Lead: `rest.name` and `soap.name` per field (leads.md "Describe").
    fn describe(&mut self, _: &Request) -> serde_json::Value {
        let result: Vec<serde_json::Value> = self
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
        serde_json::json!({"requestId": self.request_id(), "success": true, "result": result})
    }
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

const DATA_TYPES: &[&str] = &[
    "boolean", "currency", "date", "datetime", "email", "float", "integer", "percent", "phone",
    "score", "string", "url",
];
