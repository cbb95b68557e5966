//! A fake Pipedrive on 127.0.0.1: person fields (list, create), the v2 person update
//! and the OAuth token endpoint.
//!
//! Shapes come from Pipedrive's own material:
//! - envelope `{"success": true, "data": …, "additional_data": …}` and the error body
//!   `{"success": false, "error": "…", "error_info": "…", "data": null,
//!   "additional_data": null}`: developers.pipedrive.com/docs/api/v1 ("Response");
//! - the 401 body with `errorCode`: what api.pipedrive.com answers to a bad token;
//! - `GET/POST /api/v1/personFields` with `start`/`limit` and
//!   `additional_data.pagination` (`more_items_in_collection`, `next_start`), field
//!   objects with `key`, `name`, `field_type`, `edit_flag`, `options[{id, label}]`:
//!   pipedrive/client-nodejs `src/versions/v1/api/person-fields-api.ts`,
//!   `models/field.ts`, `models/create-field-request*.ts`;
//! - `PATCH /api/v2/persons/{id}` with `custom_fields` keyed by field key, strictly
//!   typed (numbers, option ids, `YYYY-MM-DD`): client-nodejs
//!   `src/versions/v2/api/persons-api.ts` and pipedrive.readme.io/docs/pipedrive-api-v2-migration-guide;
//! - `POST /oauth/token` (`grant_type=refresh_token`, client credentials as HTTP Basic)
//!   and its answers: client-nodejs `src/versions/v2/configuration.ts` and
//!   `test/functional/oauth/access-token.test.ts`;
//! - rate-limit headers `x-ratelimit-limit`/`-remaining`/`-reset` (2 s window) and
//!   `x-daily-ratelimit-token-*`: pipedrive.readme.io/docs/core-api-concepts-rate-limiting.

use crate::fake_crm::{Answer, Crm, FakeCrm, Recorded, Request, Script};
use base64::Engine;
use sha1::{Digest, Sha1};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

pub const API_TOKEN: &str = "8f2b5c0e1d9a4b7c6e3f2a1b0c9d8e7f6a5b4c3d";
pub const ACCESS_TOKEN: &str = "12345:67890:oauth-access-1";
pub const REFRESH_TOKEN: &str = "12345:67890:oauth-refresh-1";
pub const CLIENT_ID: &str = "b4d083d9216986345b32";
pub const CLIENT_SECRET: &str = "c1ient-s3cret-for-tests";
/// Pipedrive pages up to 500; the fake pages by 10 so that listing takes several pages.
const PAGE_CAP: usize = 10;
const BURST_LIMIT: usize = 100;
const WINDOW: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct Pipedrive {
    /// Rate-limit headers for the next person update, answered normally otherwise.
    header_overrides: VecDeque<Vec<(String, String)>>,
    fields: Vec<serde_json::Value>,
    next_field_id: u64,
    next_option_id: u64,
    missing: HashSet<u64>,
    persons: HashMap<u64, serde_json::Map<String, serde_json::Value>>,
    access_tokens: HashSet<String>,
    issued: u64,
    window: VecDeque<Instant>,
    daily_tokens: u64,
}

pub type FakePipedrive = FakeCrm<Pipedrive>;

/// Pipedrive's own person fields, as `GET /api/v1/personFields` lists them first.
fn system_fields() -> Vec<serde_json::Value> {
    let plain = [
        (9001, "name", "Name", "varchar"),
        (9002, "first_name", "First name", "varchar"),
        (9003, "last_name", "Last name", "varchar"),
        (9004, "email", "Email", "varchar"),
        (9005, "phone", "Phone", "phone"),
        (9006, "org_id", "Organization", "org"),
        (9007, "owner_id", "Owner", "user"),
        (9008, "add_time", "Person created", "date"),
        (9009, "update_time", "Update time", "date"),
        (9010, "open_deals_count", "Open deals", "int"),
        (9011, "next_activity_date", "Next activity date", "date"),
        (9012, "last_activity_date", "Last activity date", "date"),
    ];
    let mut fields: Vec<serde_json::Value> = plain
        .iter()
        .map(|(id, key, name, field_type)| {
            serde_json::json!({"id": id, "key": key, "name": name, "order_nr": 0, "field_type": field_type,
                "add_time": "2024-01-01 00:00:00", "update_time": "2024-01-01 00:00:00",
                "active_flag": true, "edit_flag": false, "bulk_edit_allowed": true, "mandatory_flag": false})
        })
        .collect();
    fields.push(serde_json::json!({"id": 9013, "key": "label", "name": "Label", "field_type": "enum",
        "active_flag": true, "edit_flag": false, "options": [{"id": 1, "label": "Customer", "color": "green"}, {"id": 2, "label": "Hot lead", "color": "red"}]}));
    fields.push(serde_json::json!({"id": 9014, "key": "visible_to", "name": "Visible to", "field_type": "visible_to",
        "active_flag": true, "edit_flag": false, "options": [{"id": "1", "label": "Owner & followers"}, {"id": "3", "label": "Entire company"}]}));
    fields
}

impl FakeCrm<Pipedrive> {
    pub fn start() -> FakePipedrive {
        FakeCrm::serve(Pipedrive {
            fields: system_fields(),
            next_field_id: 12_000,
            next_option_id: 200,
            access_tokens: [ACCESS_TOKEN.to_string()].into(),
            daily_tokens: 300_000,
            ..Pipedrive::default()
        })
    }

    /// Adds a custom person field as the Pipedrive UI would; returns its key.
    pub fn add_field(&self, name: &str, field_type: &str, options: &[&str]) -> String {
        let options: Vec<serde_json::Value> = options
            .iter()
            .map(|label| serde_json::json!({"label": label}))
            .collect();
        self.with(|pipedrive| pipedrive.create_field(name, field_type, &options))["key"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The fields `setup-crm` creates.
    pub fn add_attention_fields(&self) {
        self.add_field("Attention score", "double", &[]);
        self.add_field("Attention trend", "enum", &["rising", "steady", "fading"]);
        self.add_field("Attention reasons", "text", &[]);
        self.add_field("Attention last touch", "date", &[]);
        self.add_field("Qualification stage", "varchar", &[]);
        self.add_field("Attention stage changed at", "date", &[]);
        self.add_field("Fit grade", "enum", &["A", "B", "C", "D"]);
        self.add_field("Attention matrix", "varchar", &[]);
        self.add_field("Attention velocity", "double", &[]);
    }

    /// The custom field of this name, as listed.
    pub fn field(&self, name: &str) -> Option<serde_json::Value> {
        self.custom_fields().into_iter().find(|f| f["name"] == name)
    }

    pub fn custom_fields(&self) -> Vec<serde_json::Value> {
        self.with(|pipedrive| {
            pipedrive
                .fields
                .iter()
                .filter(|f| f["edit_flag"] == true)
                .cloned()
                .collect()
        })
    }

    pub fn option_id(&self, field: &str, label: &str) -> serde_json::Value {
        self.field(field).expect("field")["options"]
            .as_array()
            .expect("options")
            .iter()
            .find(|o| o["label"] == label)
            .expect("option")["id"]
            .clone()
    }

    /// Rate-limit headers the next person update carries (it is written normally).
    pub fn next_headers(&self, headers: &[(&str, &str)]) {
        let headers = headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        self.with(|pipedrive| pipedrive.header_overrides.push_back(headers));
    }

    /// A person id Pipedrive does not know (deleted or never there).
    pub fn forget(&self, id: u64) {
        self.with(|pipedrive| pipedrive.missing.insert(id));
    }

    /// Every access token issued so far stops working, as after its hour is up.
    pub fn expire_access_tokens(&self) {
        self.with(|pipedrive| pipedrive.access_tokens.clear());
    }

    pub fn person_updates(&self) -> Vec<Recorded> {
        self.requests_where(|r| r.method == "PATCH" && r.path.starts_with("/api/v2/persons/"))
    }

    /// The updates of one person, in the order they arrived.
    pub fn updates_of(&self, id: u64) -> Vec<Recorded> {
        let path = format!("/api/v2/persons/{id}");
        self.requests_where(|r| r.method == "PATCH" && r.path == path)
    }

    pub fn field_lists(&self) -> Vec<Recorded> {
        self.requests_where(|r| r.method == "GET" && r.path == "/api/v1/personFields")
    }

    pub fn token_refreshes(&self) -> Vec<Recorded> {
        self.requests_where(|r| r.path == "/oauth/token")
    }

    /// The custom field values Pipedrive holds for a person, after all writes.
    pub fn person(&self, id: u64) -> Option<serde_json::Map<String, serde_json::Value>> {
        self.with(|pipedrive| pipedrive.persons.get(&id).cloned())
    }
}

fn error_body(error: &str) -> serde_json::Value {
    serde_json::json!({"success": false, "error": error, "error_info": "Please check developers.pipedrive.com",
        "data": null, "additional_data": null})
}

impl Crm for Pipedrive {
    const NAME: &'static str = "Pipedrive";

    fn answer(&mut self, request: &Request, script: &mut Script) -> Answer {
        match (request.method.as_str(), request.segments().as_slice()) {
            ("POST", ["oauth", "token"]) => self.token(request),
            ("GET" | "POST", ["api", "v1", "personFields"]) => self.api(request, script, None),
            ("PATCH", ["api", "v2", "persons", id]) => self.api(request, script, Some(id)),
            _ => Answer::no_route(),
        }
    }
}

impl Pipedrive {
    fn create_field(
        &mut self,
        name: &str,
        field_type: &str,
        options: &[serde_json::Value],
    ) -> serde_json::Value {
        self.next_field_id += 1;
        let id = self.next_field_id;
        let key = hex::encode(Sha1::digest(format!("{id}:{name}").as_bytes()));
        let options: Vec<serde_json::Value> = options
            .iter()
            .map(|option| {
                self.next_option_id += 1;
                serde_json::json!({"id": self.next_option_id, "label": option["label"]})
            })
            .collect();
        let field = serde_json::json!({
            "id": id, "key": key, "name": name, "order_nr": id, "field_type": field_type,
            "add_time": "2026-01-01 00:00:00", "update_time": "2026-01-01 00:00:00",
            "last_updated_by_user_id": 12415231, "created_by_user_id": 12415231,
            "active_flag": true, "edit_flag": true, "index_visible_flag": true, "details_visible_flag": true,
            "add_visible_flag": false, "important_flag": false, "bulk_edit_allowed": true,
            "searchable_flag": false, "filtering_allowed": true, "sortable_flag": true, "mandatory_flag": false,
            "options": if options.is_empty() { serde_json::Value::Null } else { serde_json::Value::Array(options) },
        });
        self.fields.push(field.clone());
        field
    }

    /// Every API call: authentication, rate-limit headers, then the endpoint.
    /// `person` is the id of a person update.
    fn api(&mut self, request: &Request, script: &mut Script, person: Option<&str>) -> Answer {
        let now = Instant::now();
        while self
            .window
            .front()
            .is_some_and(|at| now.duration_since(*at) >= WINDOW)
        {
            self.window.pop_front();
        }
        self.window.push_back(now);
        let remaining = BURST_LIMIT.saturating_sub(self.window.len());
        let cost = match request.method.as_str() {
            "GET" => 20,
            _ => 10,
        };
        self.daily_tokens = self.daily_tokens.saturating_sub(cost);
        let mut headers = vec![
            ("x-ratelimit-limit".to_string(), BURST_LIMIT.to_string()),
            ("x-ratelimit-remaining".to_string(), remaining.to_string()),
            ("x-ratelimit-reset".to_string(), "2".to_string()),
            (
                "x-daily-ratelimit-token-limit".to_string(),
                "300000".to_string(),
            ),
            (
                "x-daily-ratelimit-token-remaining".to_string(),
                self.daily_tokens.to_string(),
            ),
        ];
        let authorized = request.header("x-api-token") == Some(API_TOKEN)
            || request
                .authorization()
                .and_then(|a| a.strip_prefix("Bearer "))
                .is_some_and(|token| self.access_tokens.contains(token));
        let (status, extra, answer) = if !authorized {
            (
                401,
                vec![("x-401-by-gw".to_string(), "true".to_string())],
                serde_json::json!({"success": false, "error": "unauthorized access", "errorCode": 401,
                    "error_info": "Please check developers.pipedrive.com"}),
            )
        } else if let Some(id) = person {
            if let Some(scripted) = script.play() {
                (scripted.status, scripted.headers, scripted.body)
            } else {
                if let Some(overrides) = self.header_overrides.pop_front() {
                    headers.retain(|(name, _)| !overrides.iter().any(|(o, _)| o == name));
                    headers.extend(overrides);
                }
                let (status, answer) = self.update_person(id, &request.text);
                (status, vec![], answer)
            }
        } else if request.method == "GET" {
            let (status, answer) = self.list_fields(request);
            (status, vec![], answer)
        } else {
            let (status, answer) = self.add_field(&request.text);
            (status, vec![], answer)
        };
        for (name, value) in extra {
            headers.retain(|(n, _)| *n != name);
            headers.push((name, value));
        }
        Answer {
            status,
            headers,
            body: answer,
        }
    }

    fn list_fields(&self, request: &Request) -> (u16, serde_json::Value) {
        let params = request.query_params();
        let start: usize = params
            .get("start")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let limit: usize = params
            .get("limit")
            .and_then(|s| s.parse().ok())
            .unwrap_or(100);
        if limit > 500 {
            return (400, error_body("Limit cannot be over 500"));
        }
        let limit = limit.min(PAGE_CAP);
        let page: Vec<serde_json::Value> = self
            .fields
            .iter()
            .skip(start)
            .take(limit)
            .cloned()
            .collect();
        let more = start + page.len() < self.fields.len();
        let mut pagination =
            serde_json::json!({"start": start, "limit": limit, "more_items_in_collection": more});
        if more {
            pagination["next_start"] = (start + page.len()).into();
        }
        (
            200,
            serde_json::json!({"success": true, "data": page, "additional_data": {"pagination": pagination}}),
        )
    }

    fn add_field(&mut self, text: &str) -> (u16, serde_json::Value) {
        let Ok(body) = serde_json::from_str::<serde_json::Value>(text) else {
            return (400, error_body("Invalid JSON"));
        };
        let name = body["name"].as_str().unwrap_or_default().trim().to_string();
        let field_type = body["field_type"].as_str().unwrap_or_default();
        if name.is_empty() {
            return (400, error_body("Name must be given."));
        }
        if !FIELD_TYPES.contains(&field_type) {
            return (400, error_body("Field type is not valid"));
        }
        let options = body["options"].as_array().cloned().unwrap_or_default();
        if matches!(field_type, "enum" | "set")
            && (options.is_empty() || options.iter().any(|o| !o["label"].is_string()))
        {
            return (
                400,
                error_body("Options must be given for enum and set fields"),
            );
        }
        let field = self.create_field(&name, field_type, &options);
        (200, serde_json::json!({"success": true, "data": field}))
    }

    fn update_person(&mut self, id: &str, text: &str) -> (u16, serde_json::Value) {
        let Ok(id) = id.parse::<u64>() else {
            return (
                400,
                error_body("Validation failed: id: Parameter 'id' must be an integer"),
            );
        };
        if self.missing.contains(&id) {
            return (404, error_body("Person not found"));
        }
        let Ok(body) = serde_json::from_str::<serde_json::Value>(text) else {
            return (400, error_body("Invalid JSON"));
        };
        let Some(custom) = body["custom_fields"].as_object() else {
            return (
                400,
                error_body("Validation failed: custom_fields: must be an object"),
            );
        };
        for (key, value) in custom {
            let Some(field) = self
                .fields
                .iter()
                .find(|f| f["edit_flag"] == true && f["key"] == *key)
            else {
                return (
                    400,
                    error_body(&format!(
                        "Validation failed: custom_fields: Unknown custom field {key}"
                    )),
                );
            };
            if !valid_value(field, value) {
                return (
                    400,
                    error_body(&format!(
                        "Validation failed: custom_fields.{key}: invalid value for {} field",
                        field["field_type"]
                    )),
                );
            }
        }
        let person = self.persons.entry(id).or_default();
        person.extend(custom.clone());
        let custom_fields = person.clone();
        (
            200,
            serde_json::json!({"success": true, "data": {
                "id": id, "name": format!("Person {id}"), "owner_id": 12415231, "org_id": null,
                "add_time": "2026-01-01T00:00:00Z", "update_time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "emails": [], "phones": [], "is_deleted": false, "visible_to": 3, "label_ids": [],
                "picture_id": null, "custom_fields": custom_fields
            }}),
        )
    }

    /// `POST /oauth/token`, form-encoded, client credentials as HTTP Basic.
    fn token(&mut self, request: &Request) -> Answer {
        let form = request.form();
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        );
        if request.authorization() != Some(expected.as_str()) {
            return Answer::json(
                401,
                serde_json::json!({"success": false, "message": "Invalid client credentials", "error": "invalid_client"}),
            );
        }
        if form.get("grant_type").map(String::as_str) != Some("refresh_token")
            || form.get("refresh_token").map(String::as_str) != Some(REFRESH_TOKEN)
        {
            return Answer::json(
                400,
                serde_json::json!({"success": false, "message": "Invalid grant: refresh token is invalid", "error": "invalid_grant"}),
            );
        }
        self.issued += 1;
        let access = format!("12345:67890:oauth-access-{}", self.issued + 1);
        self.access_tokens.insert(access.clone());
        Answer::json(
            200,
            serde_json::json!({"access_token": access, "token_type": "Bearer", "refresh_token": REFRESH_TOKEN,
                "scope": "base,contacts:full", "expires_in": 3599, "api_domain": "https://acme.pipedrive.com"}),
        )
    }
}

const FIELD_TYPES: &[&str] = &[
    "address",
    "date",
    "daterange",
    "double",
    "enum",
    "monetary",
    "org",
    "people",
    "phone",
    "set",
    "text",
    "time",
    "timerange",
    "user",
    "varchar",
    "varchar_auto",
    "visible_to",
];

fn valid_value(field: &serde_json::Value, value: &serde_json::Value) -> bool {
    if value.is_null() {
        return true;
    }
    let option_ids: Vec<&serde_json::Value> = field["options"]
        .as_array()
        .map(|o| o.iter().map(|o| &o["id"]).collect())
        .unwrap_or_default();
    match field["field_type"].as_str().unwrap_or_default() {
        "double" => value.is_number(),
        "enum" => value.is_i64() && option_ids.contains(&value),
        "set" => value
            .as_array()
            .is_some_and(|ids| ids.iter().all(|id| id.is_i64() && option_ids.contains(&id))),
        "date" => value
            .as_str()
            .is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok()),
        "varchar" | "varchar_auto" => value.as_str().is_some_and(|s| s.chars().count() <= 255),
        "text" => value.is_string(),
        _ => false,
    }
}
