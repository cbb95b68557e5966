//! `kind = "pipedrive"`: person custom fields through `PATCH /api/v2/persons/{id}`,
//! one request per person.
//!
//! Pipedrive has no batch update for persons, so a batch is a short run of requests,
//! one after the other, each paced by the sink's own request limiter. The v1 person
//! endpoints are out of support since 2026-08-01 (developers.pipedrive.com/changelog), so
//! persons are written through v2, which wants custom fields inside `custom_fields`,
//! keyed by their 40-character hash and typed strictly: numbers as numbers, an option
//! as its id, a date as `YYYY-MM-DD`
//! (pipedrive.readme.io/docs/pipedrive-api-v2-migration-guide). The keys are looked up
//! by field name once through `GET /api/v1/personFields` (not deprecated) and cached.
//!
//! Only persons known by their Pipedrive id (`pipedrive:<id>`, from the Pipedrive
//! source) are written. Finding a person by email would take a search request
//! (`/api/v2/persons/search`, the costliest kind, limited to 10 per 2 s) and can match
//! several persons, so a contact known only by email is not sent.

use crate::fields::{self, resolve_names, FieldKind, FieldNames, FieldSpec, FieldValue, Records};
use super::{Crm, CrmInfo, Limits, Outcome, RateLimit, Setup, SinkError};
use crate::secret::Secret;
use crate::model::Identity;
use crate::store::OutboxEntry;
use governor::DefaultDirectRateLimiter;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Our own bound on persons per send: each is a request, and a send should end soon.
const BATCH_LIMIT: usize = 100;
/// Pipedrive's largest page for v1 lists.
const PAGE_LIMIT: usize = 500;
/// Guards against a listing that never says it is done.
const MAX_PAGES: usize = 40;
/// Pipedrive's burst window; the wait when a 429 names none.
const BURST_WINDOW: Duration = Duration::from_secs(2);
/// A reset header far beyond the 2 s window is not believed further than this.
const MAX_RESET_WAIT: Duration = Duration::from_secs(60);
/// With the daily budget spent, one request this often finds out whether it is back
/// (it resets at midnight in Pipedrive's server time zone, which we cannot know).
const DAILY_PROBE: Duration = Duration::from_secs(300);
/// How long a field listing that lacks a configured field is trusted before it is
/// read again, so that fields created meanwhile (`setup-crm`) are found soon.
const INCOMPLETE_FIELDS_TTL: Duration = Duration::from_secs(10);
/// An access token this close to its expiry is refreshed before use.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Pipedrive's text fields (`varchar`, `varchar_auto`, `phone`) hold at most this much.
const VARCHAR_CHARS: usize = 255;
const PERSON_FIELDS: &str = "/api/v1/personFields";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipedriveSink {
    /// Your company domain, `https://<company>.pipedrive.com` (Pipedrive routes it to
    /// the right data centre faster than `https://api.pipedrive.com`).
    pub base_url: String,
    /// A user's personal API token, sent as the `x-api-token` header. Set this, or
    /// `access_token` / `refresh_token` for OAuth, not both.
    #[serde(default)]
    pub api_token: Option<Secret>,
    /// OAuth access token, sent as `Authorization: Bearer`.
    #[serde(default)]
    pub access_token: Option<Secret>,
    /// OAuth refresh token: with `client_id` and `client_secret`, a refused or expired
    /// access token is refreshed and the request sent again.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// The OAuth app's client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The OAuth app's client secret.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Where access tokens are refreshed.
    #[serde(default = "default_token_url")]
    pub token_url: String,
    /// How long changes collect before a batch is sent, in milliseconds.
    #[serde(default = "default_flush_interval_ms")]
    pub flush_interval_ms: u64,
    /// Persons per batch, 1 to 100. Each person is one request.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Failures of one record before it is parked in dead letters.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Seconds before a request is abandoned and retried.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Requests per window. Default: Pipedrive's lowest plan, 20 per 2 s for an API
    /// token and 80 per 2 s for OAuth.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Batches in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Person field names (as shown in Pipedrive) written, by attentiond field name.
    #[serde(default)]
    pub fields: FieldNames,
    #[serde(skip)]
    state: Arc<State>,
}

fn default_token_url() -> String {
    "https://oauth.pipedrive.com/oauth/token".into()
}
fn default_flush_interval_ms() -> u64 {
    1000
}
fn default_batch_size() -> usize {
    10
}
fn default_max_attempts() -> u32 {
    5
}
fn default_timeout_secs() -> u64 {
    30
}
fn default_concurrency() -> usize {
    2
}

/// "Attention score", "Attention trend", …: Pipedrive addresses fields by name for people.
fn default_name(spec: &FieldSpec) -> String {
    spec.label.to_string()
}

/// What the sink learns while it runs; shared by every clone of the config.
#[derive(Default)]
struct State {
    tokens: tokio::sync::Mutex<Tokens>,
    fields: tokio::sync::Mutex<Option<FieldCache>>,
    /// No request before this instant (rate-limit headers, 429).
    not_before: std::sync::Mutex<Option<Instant>>,
    limiter: OnceLock<DefaultDirectRateLimiter>,
}

impl fmt::Debug for State {
    // The tokens inside are secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("State")
    }
}

#[derive(Default)]
struct Tokens {
    loaded: bool,
    access: Option<String>,
    refresh: Option<String>,
    expires_at: Option<Instant>,
}

struct FieldCache {
    fields: Vec<PersonField>,
    fetched_at: Instant,
    complete: bool,
    stale: bool,
}

/// One entry of `GET /api/v1/personFields` (pipedrive/client-nodejs
/// `src/versions/v1/models/field.ts`), as far as we read it.
#[derive(Debug, Clone, Deserialize)]
struct PersonField {
    key: String,
    name: String,
    #[serde(default)]
    field_type: String,
    /// True for custom fields: only those live in `custom_fields`.
    #[serde(default)]
    edit_flag: bool,
    #[serde(default)]
    options: Value,
}

impl PersonField {
    fn option_id(&self, label: &str) -> Option<Value> {
        self.options.as_array()?.iter().find_map(|option| {
            let matches = option["label"]
                .as_str()
                .is_some_and(|l| l.trim().eq_ignore_ascii_case(label.trim()));
            if !matches {
                return None;
            }
            match &option["id"] {
                Value::Number(id) => Some(Value::Number(id.clone())),
                // v1 may spell ids as strings; v2 takes numbers only.
                Value::String(id) => id.parse::<i64>().ok().map(Value::from),
                _ => None,
            }
        })
    }

    fn option_labels(&self) -> Vec<String> {
        self.options
            .as_array()
            .map(|options| {
                options
                    .iter()
                    .filter_map(|o| o["label"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The custom field with this name, compared as a rep would (case and outer spaces
/// ignored).
fn find_field<'a>(fields: &'a [PersonField], name: &str) -> Option<&'a PersonField> {
    fields
        .iter()
        .find(|field| field.edit_flag && field.name.trim().eq_ignore_ascii_case(name.trim()))
}

/// The Pipedrive field type `setup-crm` creates for a kind of value.
fn field_type(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Number | FieldKind::Decimal => "double",
        FieldKind::Text => "varchar",
        FieldKind::LongText => "text",
        // Pipedrive has no date-and-time field. A date field can be filtered and
        // sorted ("last touch in the last 7 days"), which reps use more than the hour.
        FieldKind::DateTime => "date",
        FieldKind::Choice(_) => "enum",
    }
}

/// The field types a kind of value can be written to.
fn accepts(kind: FieldKind, field: &PersonField) -> bool {
    let text = matches!(
        field.field_type.as_str(),
        "varchar" | "varchar_auto" | "text"
    );
    match kind {
        FieldKind::Number | FieldKind::Decimal => text || field.field_type == "double",
        FieldKind::Text | FieldKind::LongText => text,
        FieldKind::DateTime => text || field.field_type == "date",
        FieldKind::Choice(values) => {
            text || (matches!(field.field_type.as_str(), "enum" | "set")
                && values.iter().all(|value| field.option_id(value).is_some()))
        }
    }
}

/// A value as Pipedrive v2 wants it for this field's type.
fn typed(field: &PersonField, value: &FieldValue) -> Result<Value, String> {
    if matches!(value, FieldValue::Time(None)) {
        return Ok(Value::Null);
    }
    match field.field_type.as_str() {
        "double" => match value {
            FieldValue::Number(_) | FieldValue::Decimal(_) => Ok(value.as_json()),
            other => other
                .as_text()
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| {
                    format!(
                        "person field \"{}\" is numeric and `{}` is not a number",
                        field.name,
                        other.as_text()
                    )
                }),
        },
        "date" => match value {
            FieldValue::Time(Some(at)) => chrono::DateTime::from_timestamp_millis(*at)
                .map(|time| Value::from(time.format("%Y-%m-%d").to_string()))
                .ok_or_else(|| format!("time {at} is out of range")),
            _ => Err(format!(
                "person field \"{}\" is a date field and `{}` is not a time",
                field.name,
                value.as_text()
            )),
        },
        "enum" | "set" => {
            let label = value.as_text();
            if label.is_empty() {
                return Ok(Value::Null);
            }
            let id = field.option_id(&label).ok_or_else(|| {
                format!(
                    "person field \"{}\" has no option \"{label}\" (options: {}); add it in Pipedrive",
                    field.name,
                    field.option_labels().join(", ")
                )
            })?;
            Ok(if field.field_type == "set" {
                Value::Array(vec![id])
            } else {
                id
            })
        }
        "varchar" | "varchar_auto" => Ok(Value::from(
            value
                .as_text()
                .chars()
                .take(VARCHAR_CHARS)
                .collect::<String>(),
        )),
        "text" => Ok(Value::from(value.as_text())),
        other => Err(format!(
            "person field \"{}\" has type `{other}`, which attentiond cannot write; \
             use a numeric, text, date or single-option field",
            field.name
        )),
    }
}

/// The Pipedrive person id of a contact, if it has one.
fn person_id(identities: &[Identity]) -> Option<u64> {
    identities.iter().find_map(|identity| match identity {
        Identity::Crm { system, id } if system == "pipedrive" => id.trim().parse().ok(),
        _ => None,
    })
}

/// Pipedrive's error body: `{"success": false, "error": "...", "error_info": "...",
/// "data": null, "additional_data": null}` (developers.pipedrive.com/docs/api/v1,
/// "Response"); the OAuth server answers `{"message": ..., "error": ...}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

fn describe(status: u16, body: &str) -> String {
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let text = parsed
        .message
        .filter(|m| !m.is_empty())
        .or(parsed.error.filter(|e| !e.is_empty()));
    match text {
        Some(text) => format!("HTTP {status}: {text}"),
        None => format!(
            "HTTP {status}: {}",
            body.chars().take(300).collect::<String>()
        ),
    }
}

/// An answer with `success: false` despite a 2xx status.
fn refused_despite_2xx(body: &str) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_str(body).ok()?;
    if parsed.success == Some(false) {
        Some(describe(200, body))
    } else {
        None
    }
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
}

fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value).min(MAX_RESET_WAIT)
}

/// How long to hold off after this answer, from Pipedrive's rate-limit headers
/// (pipedrive.readme.io/docs/core-api-concepts-rate-limiting): `x-ratelimit-remaining`
/// requests left in the burst window, `x-ratelimit-reset` seconds until it resets,
/// `x-daily-ratelimit-token-remaining` (token budget) and the older
/// `x-daily-requests-left` for the day.
fn rate_wait(status: u16, headers: &HeaderMap) -> Option<Duration> {
    let reset = header_number(headers, "x-ratelimit-reset").map(seconds);
    if status == 429 {
        // A spent daily budget comes with a Retry-After of up to hours; it is meant.
        return Some(
            super::retry_after(headers)
                .or(reset)
                .unwrap_or(BURST_WINDOW),
        );
    }
    let spent = |name| header_number(headers, name).is_some_and(|left| left < 1.0);
    if spent("x-daily-ratelimit-token-remaining") || spent("x-daily-requests-left") {
        return Some(DAILY_PROBE);
    }
    let remaining = header_number(headers, "x-ratelimit-remaining")?;
    // Other integrations may share the token: keep a tenth of the window for them.
    let reserve = header_number(headers, "x-ratelimit-limit")
        .map(|limit| (limit / 10.0).floor().max(1.0))
        .unwrap_or(1.0);
    if remaining <= reserve {
        Some(reset.unwrap_or(BURST_WINDOW))
    } else {
        None
    }
}

/// A Pipedrive answer, read.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// The wait the rate-limit headers asked for.
    wait: Option<Duration>,
    retry_after: Option<Duration>,
    text: String,
}

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("cannot reach Pipedrive: {0}")]
    Network(String),
    #[error("cannot refresh the OAuth access token: {0}")]
    Refresh(String),
}

/// Why the person fields could not be listed.
#[derive(Debug)]
enum ListError {
    Call(CallError),
    Status(Answer),
    Unreadable(String),
}

impl ListError {
    fn outcome(self) -> Outcome {
        match self {
            ListError::Call(error) => Outcome::Transient {
                status: None,
                retry_after: None,
                error: error.to_string(),
            },
            ListError::Status(answer) => Outcome::Transient {
                status: Some(answer.status),
                retry_after: if answer.status == 429 {
                    answer.wait
                } else {
                    answer.retry_after
                },
                error: format!(
                    "listing person fields: {}",
                    describe(answer.status, &answer.text)
                ),
            },
            ListError::Unreadable(message) => Outcome::Transient {
                status: None,
                retry_after: None,
                error: format!("listing person fields: {message}"),
            },
        }
    }

    fn sink_error(self) -> SinkError {
        match self {
            ListError::Call(error) => call_sink_error(error),
            ListError::Status(answer) => api_error(PERSON_FIELDS, &answer),
            ListError::Unreadable(message) => SinkError::Unreadable {
                what: PERSON_FIELDS.into(),
                message,
            },
        }
    }
}

fn call_sink_error(error: CallError) -> SinkError {
    match error {
        CallError::Network(message) => SinkError::Network(message),
        CallError::Refresh(message) => SinkError::Auth(message),
    }
}

fn api_error(what: &str, answer: &Answer) -> SinkError {
    let message = describe(answer.status, &answer.text);
    if matches!(answer.status, 401 | 403) {
        return SinkError::Auth(message);
    }
    SinkError::Api {
        what: what.into(),
        status: answer.status,
        message,
    }
}

/// `GET /api/v1/personFields` page: `additional_data.pagination` holds
/// `more_items_in_collection` and `next_start` (v1 pagination); the generated SDK
/// model puts them directly in `additional_data`, so both are read.
#[derive(Debug, Deserialize)]
struct FieldsPage {
    #[serde(default)]
    data: Option<Vec<Value>>,
    #[serde(default)]
    additional_data: Value,
}

impl FieldsPage {
    fn next_start(&self, start: usize, read: usize) -> Option<usize> {
        let pagination = match &self.additional_data["pagination"] {
            Value::Object(_) => &self.additional_data["pagination"],
            _ => &self.additional_data,
        };
        if pagination["more_items_in_collection"].as_bool() != Some(true) || read == 0 {
            return None;
        }
        Some(
            pagination["next_start"]
                .as_u64()
                .map(|n| n as usize)
                .unwrap_or(start + read),
        )
    }
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    /// Seconds; a number in Pipedrive's docs, a string in its SDK's test stubs.
    #[serde(default)]
    expires_in: Value,
}

impl PipedriveSink {
    fn names(&self) -> FieldNames {
        // validate() has refused unknown names, so this cannot fail here.
        resolve_names(Records::Contacts, default_name, &self.fields).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    fn oauth(&self) -> bool {
        self.api_token.is_none()
    }

    fn can_refresh(&self) -> bool {
        self.refresh_token.is_some() && self.client_id.is_some() && self.client_secret.is_some()
    }

    fn rate(&self) -> RateLimit {
        self.rate_limit.unwrap_or(RateLimit {
            requests: if self.oauth() { 80 } else { 20 },
            per_secs: 2.0,
        })
    }

    fn limiter(&self) -> &DefaultDirectRateLimiter {
        self.state.limiter.get_or_init(|| self.rate().limiter())
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    fn hold_off(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut not_before = self
            .state
            .not_before
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *not_before = Some(not_before.map_or(until, |current| current.max(until)));
    }

    /// The wait still ahead, for the shared loop's `pause`.
    fn pending_wait(&self) -> Option<Duration> {
        let not_before = *self
            .state
            .not_before
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        not_before
            .map(|until| until.saturating_duration_since(Instant::now()))
            .filter(|wait| !wait.is_zero())
    }

    async fn wait_turn(&self) {
        if let Some(wait) = self.pending_wait() {
            tokio::time::sleep(wait).await;
        }
        self.limiter().until_ready().await;
    }

    /// The access token to send, refreshed first if it is missing or about to expire.
    async fn bearer(&self, client: &reqwest::Client) -> Result<String, CallError> {
        let mut tokens = self.state.tokens.lock().await;
        if !tokens.loaded {
            tokens.loaded = true;
            tokens.access = self.access_token.as_ref().map(|t| t.expose().to_string());
            tokens.refresh = self.refresh_token.as_ref().map(|t| t.expose().to_string());
        }
        let expiring = tokens
            .expires_at
            .is_some_and(|at| Instant::now() + EXPIRY_MARGIN >= at);
        if (tokens.access.is_none() || expiring) && self.can_refresh() {
            self.refresh(client, &mut tokens).await?;
        }
        tokens
            .access
            .clone()
            .ok_or_else(|| CallError::Refresh("no access token is configured".into()))
    }

    /// After a 401 for `used`: refresh, unless a concurrent send already did.
    async fn refresh_after_refusal(
        &self,
        client: &reqwest::Client,
        used: &str,
    ) -> Result<(), CallError> {
        let mut tokens = self.state.tokens.lock().await;
        if tokens.access.as_deref() != Some(used) {
            return Ok(());
        }
        self.refresh(client, &mut tokens).await
    }

    /// `POST <token_url>` with `grant_type=refresh_token`, the client credentials as
    /// HTTP Basic (pipedrive/client-nodejs `OAuth2Configuration.tokenRefresh`).
    async fn refresh(
        &self,
        client: &reqwest::Client,
        tokens: &mut Tokens,
    ) -> Result<(), CallError> {
        let (Some(client_id), Some(client_secret), Some(refresh)) = (
            self.client_id.as_deref(),
            self.client_secret.as_ref(),
            tokens.refresh.clone(),
        ) else {
            return Err(CallError::Refresh(
                "refresh_token, client_id and client_secret are needed".into(),
            ));
        };
        let response = client
            .post(&self.token_url)
            .basic_auth(client_id, Some(client_secret.expose()))
            .timeout(self.timeout())
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ])
            .send()
            .await
            .map_err(|error| CallError::Refresh(super::error_chain(&error.without_url())))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(CallError::Refresh(describe(status, &text)));
        }
        let answer: TokenAnswer = serde_json::from_str(&text)
            .map_err(|error| CallError::Refresh(format!("unreadable token answer: {error}")))?;
        let expires_in = match &answer.expires_in {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        tokens.access = Some(answer.access_token);
        if let Some(refresh) = answer.refresh_token.filter(|r| !r.is_empty()) {
            tokens.refresh = Some(refresh);
        }
        tokens.expires_at = expires_in.map(|secs| Instant::now() + Duration::from_secs(secs));
        Ok(())
    }

    /// One API request: paced, authenticated, and with OAuth sent once more after a
    /// refresh if Pipedrive refuses the access token.
    async fn call(
        &self,
        client: &reqwest::Client,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Answer, CallError> {
        let mut refreshed = false;
        loop {
            self.wait_turn().await;
            let mut request = client.request(method.clone(), url).timeout(self.timeout());
            let bearer = if let Some(token) = &self.api_token {
                request = request.header("x-api-token", token.expose());
                None
            } else {
                let token = self.bearer(client).await?;
                request = request.bearer_auth(&token);
                Some(token)
            };
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request
                .send()
                .await
                .map_err(|error| CallError::Network(super::error_chain(&error.without_url())))?;
            let status = response.status().as_u16();
            let wait = rate_wait(status, response.headers());
            if let Some(wait) = wait {
                self.hold_off(wait);
            }
            let retry_after = super::retry_after(response.headers());
            let text = response.text().await.unwrap_or_default();
            if let (401, false, Some(used)) = (status, refreshed, bearer.as_deref()) {
                if self.can_refresh() {
                    self.refresh_after_refusal(client, used).await?;
                    refreshed = true;
                    continue;
                }
            }
            return Ok(Answer {
                status,
                wait,
                retry_after,
                text,
            });
        }
    }

    /// Every person field, page by page.
    async fn list_fields(&self, client: &reqwest::Client) -> Result<Vec<PersonField>, ListError> {
        let mut fields = Vec::new();
        let mut start = 0;
        for _ in 0..MAX_PAGES {
            let url = self.url(&format!("{PERSON_FIELDS}?start={start}&limit={PAGE_LIMIT}"));
            let answer = self
                .call(client, Method::GET, &url, None)
                .await
                .map_err(ListError::Call)?;
            if !(200..300).contains(&answer.status) {
                return Err(ListError::Status(answer));
            }
            let page: FieldsPage = serde_json::from_str(&answer.text)
                .map_err(|error| ListError::Unreadable(error.to_string()))?;
            let data = page.data.clone().unwrap_or_default();
            let read = data.len();
            // System fields of odd shapes are skipped rather than failing the listing.
            fields.extend(
                data.into_iter()
                    .filter_map(|field| serde_json::from_value::<PersonField>(field).ok()),
            );
            match page.next_start(start, read) {
                Some(next) if next > start => start = next,
                _ => return Ok(fields),
            }
        }
        Ok(fields)
    }

    /// The fields to write, by attentiond name, from the cache when it can be trusted.
    /// `Err` is the batch's outcome when Pipedrive could not be asked.
    async fn resolve(
        &self,
        client: &reqwest::Client,
        names: &FieldNames,
    ) -> Result<Result<Vec<(String, PersonField)>, String>, Outcome> {
        let mut cache = self.state.fields.lock().await;
        let fresh = cache.as_ref().is_some_and(|cache| {
            !cache.stale && (cache.complete || cache.fetched_at.elapsed() < INCOMPLETE_FIELDS_TTL)
        });
        if !fresh {
            let fields = self.list_fields(client).await.map_err(ListError::outcome)?;
            let complete = names
                .values()
                .all(|name| find_field(&fields, name).is_some());
            *cache = Some(FieldCache {
                fields,
                fetched_at: Instant::now(),
                complete,
                stale: false,
            });
        }
        let fields = cache
            .as_ref()
            .map(|c| c.fields.as_slice())
            .unwrap_or_default();
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for (name, crm_name) in names {
            match find_field(fields, crm_name) {
                Some(field) => found.push((name.clone(), field.clone())),
                None => missing.push(format!("\"{crm_name}\" (fields.{name})")),
            }
        }
        if missing.is_empty() {
            Ok(Ok(found))
        } else {
            Ok(Err(format!(
                "Pipedrive has no person field named {}; run `attentiond setup-crm` for this sink, \
                 or map the field to an existing one in its `fields` table",
                missing.join(", ")
            )))
        }
    }

    /// A refusal may come from a field deleted or changed in Pipedrive: read them again.
    async fn forget_fields(&self) {
        if let Some(cache) = self.state.fields.lock().await.as_mut() {
            cache.stale = true;
        }
    }

    /// `{"custom_fields": {<key>: <typed value>, …}}` for one person.
    fn body(&self, fields: &[(String, PersonField)], entry: &OutboxEntry) -> Result<Value, String> {
        let mut custom = Map::new();
        for (name, field) in fields {
            if let Some(value) = entry.fields.get(name) {
                custom.insert(field.key.clone(), typed(field, value)?);
            }
        }
        Ok(json!({ "custom_fields": custom }))
    }

    fn create_body(spec: &FieldSpec, name: &str) -> Value {
        let mut body = json!({
            "name": name,
            "field_type": field_type(spec.kind),
            "add_visible_flag": false,
        });
        if let FieldKind::Choice(values) = spec.kind {
            body["options"] = values
                .iter()
                .map(|value| json!({ "label": value }))
                .collect();
        }
        body
    }
}

impl CrmInfo for PipedriveSink {
    fn validate(&self) -> Result<(), (String, String)> {
        if !(self.base_url.starts_with("https://") || self.base_url.starts_with("http://")) {
            return Err((
                "base_url".into(),
                "must start with https:// or http:// (your company domain, e.g. https://acme.pipedrive.com)".into(),
            ));
        }
        if !(self.token_url.starts_with("https://") || self.token_url.starts_with("http://")) {
            return Err((
                "token_url".into(),
                "must start with https:// or http://".into(),
            ));
        }
        let empty =
            |secret: &Option<Secret>| secret.as_ref().is_some_and(|s| s.expose().is_empty());
        if empty(&self.api_token)
            || empty(&self.access_token)
            || empty(&self.refresh_token)
            || empty(&self.client_secret)
        {
            return Err(("api_token".into(), "credentials must not be empty".into()));
        }
        let oauth_keys = self.access_token.is_some() || self.refresh_token.is_some();
        match (&self.api_token, oauth_keys) {
            (Some(_), true) => {
                return Err((
                    "api_token".into(),
                    "set api_token or OAuth tokens (access_token, refresh_token), not both".into(),
                ))
            }
            (None, false) => {
                return Err((
                    "api_token".into(),
                    "required, unless OAuth tokens (access_token, refresh_token) are set".into(),
                ))
            }
            _ => {}
        }
        let refresh_parts = [
            self.refresh_token.is_some(),
            self.client_id.is_some(),
            self.client_secret.is_some(),
        ];
        if refresh_parts.iter().any(|set| *set) && !refresh_parts.iter().all(|set| *set) {
            return Err((
                "refresh_token".into(),
                "refreshing needs refresh_token, client_id and client_secret together".into(),
            ));
        }
        if self.batch_size == 0 || self.batch_size > BATCH_LIMIT {
            return Err((
                "batch_size".into(),
                format!("must be between 1 and {BATCH_LIMIT}"),
            ));
        }
        if self.max_attempts == 0 {
            return Err(("max_attempts".into(), "must be at least 1".into()));
        }
        if self.timeout_secs == 0 {
            return Err(("timeout_secs".into(), "must be at least 1".into()));
        }
        if let Some(rate) = &self.rate_limit {
            rate.validate()
                .map_err(|error| ("rate_limit".to_string(), error))?;
        }
        if self.concurrency == 0 {
            return Err(("concurrency".into(), "must be at least 1".into()));
        }
        resolve_names(Records::Contacts, default_name, &self.fields)
            .map_err(|error| ("fields".to_string(), error))?;
        Ok(())
    }

    fn addressable(&self, identities: &[Identity]) -> bool {
        person_id(identities).is_some()
    }

    fn batch_limit(&self, _records: Records) -> usize {
        self.batch_size
    }

    fn limits(&self) -> Limits {
        // The shared loop paces batches; requests are paced here, one token each.
        Limits {
            rate: self.rate(),
            concurrency: self.concurrency,
        }
    }

    fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms)
    }

    fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
}

impl Crm for PipedriveSink {
    async fn send(
        &self,
        client: &reqwest::Client,
        records: Records,
        batch: &[OutboxEntry],
    ) -> Outcome {
        if records == Records::Accounts {
            // Not reached: no account is addressable for this sink.
            return Outcome::Rejected {
                status: 400,
                error: "the Pipedrive sink writes no account fields".into(),
            };
        }
        let names = self.names();
        let fields = match self.resolve(client, &names).await {
            Ok(Ok(fields)) => fields,
            Ok(Err(missing)) => {
                return Outcome::PerRecord {
                    status: 200,
                    errors: vec![Some(missing); batch.len()],
                    pause: self.pending_wait(),
                }
            }
            Err(outcome) => return outcome,
        };
        let mut errors = Vec::with_capacity(batch.len());
        let mut last_status = 200;
        for entry in batch {
            let Some(id) = person_id(&entry.identities) else {
                errors.push(Some("the contact has no Pipedrive person id".to_string()));
                continue;
            };
            let body = match self.body(&fields, entry) {
                Ok(body) => body,
                Err(error) => {
                    errors.push(Some(error));
                    continue;
                }
            };
            if body["custom_fields"].as_object().is_some_and(Map::is_empty) {
                errors.push(None);
                continue;
            }
            let url = self.url(&format!("/api/v2/persons/{id}"));
            let answer = match self.call(client, Method::PATCH, &url, Some(&body)).await {
                Ok(answer) => answer,
                // Persons already written in this batch are sent again later: the
                // same values, so no harm beyond the requests.
                Err(error) => {
                    return Outcome::Transient {
                        status: None,
                        retry_after: None,
                        error: error.to_string(),
                    }
                }
            };
            last_status = answer.status;
            match answer.status {
                200..=299 => errors.push(refused_despite_2xx(&answer.text)),
                429 => {
                    return Outcome::Transient {
                        status: Some(429),
                        retry_after: answer.wait,
                        error: describe(answer.status, &answer.text),
                    }
                }
                // Credentials, payment or permissions are for the operator to fix; an
                // outage passes. Records stay queued meanwhile.
                401 | 402 | 403 | 408 | 500..=599 => {
                    return Outcome::Transient {
                        status: Some(answer.status),
                        retry_after: answer.retry_after,
                        error: describe(answer.status, &answer.text),
                    }
                }
                status => {
                    if matches!(status, 400 | 422) {
                        self.forget_fields().await;
                    }
                    errors.push(Some(describe(status, &answer.text)));
                }
            }
        }
        Outcome::PerRecord {
            status: last_status,
            errors,
            pause: self.pending_wait(),
        }
    }

    /// Each person field the sink writes, unless a custom field of that name exists.
    async fn setup(&self, client: &reqwest::Client, setup: &mut Setup) -> Result<(), SinkError> {
        let existing = self
            .list_fields(client)
            .await
            .map_err(ListError::sink_error)?;
        let url = self.url(PERSON_FIELDS);
        for (name, label) in self.names() {
            let Some(spec) = fields::spec(Records::Contacts, &name) else {
                continue;
            };
            if let Some(field) = find_field(&existing, &label) {
                setup.exists(format!(
                    "person field \"{}\" ({}, key {})",
                    field.name, field.field_type, field.key
                ));
                if !accepts(spec.kind, field) {
                    setup.note(format!(
                        "person field \"{}\" is of type `{}`, which cannot hold fields.{name}: change it in Pipedrive \
                         to `{}`, or map fields.{name} to another field",
                        field.name,
                        field.field_type,
                        field_type(spec.kind)
                    ));
                }
                continue;
            }
            let body = Self::create_body(spec, &label);
            if setup.may_send("POST", &url, &body) {
                let answer = self
                    .call(client, Method::POST, &url, Some(&body))
                    .await
                    .map_err(call_sink_error)?;
                if !(200..300).contains(&answer.status) {
                    return Err(api_error(PERSON_FIELDS, &answer));
                }
                if let Some(error) = refused_despite_2xx(&answer.text) {
                    return Err(SinkError::Api {
                        what: PERSON_FIELDS.into(),
                        status: answer.status,
                        message: error,
                    });
                }
                let key = serde_json::from_str::<Value>(&answer.text)
                    .ok()
                    .and_then(|created| created["data"]["key"].as_str().map(str::to_string))
                    .unwrap_or_default();
                setup.created(format!(
                    "person field \"{label}\" ({}, key {key})",
                    field_type(spec.kind)
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::sample_contact_fields;
    use reqwest::header::{HeaderName, HeaderValue};

    fn sink(config: Value) -> PipedriveSink {
        serde_json::from_value(config).unwrap()
    }

    fn token_sink() -> PipedriveSink {
        sink(json!({"base_url": "https://acme.pipedrive.com", "api_token": "t"}))
    }

    fn field(name: &str, field_type: &str, options: Value) -> PersonField {
        PersonField {
            key: format!("{:0>40.40}", hex::encode(name)),
            name: name.into(),
            field_type: field_type.into(),
            edit_flag: true,
            options,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn values_are_typed_for_the_field_they_go_to() {
        let trend = field(
            "Attention trend",
            "enum",
            json!([{"id": 31, "label": "rising"}, {"id": "32", "label": "Fading"}]),
        );
        assert_eq!(
            typed(&trend, &FieldValue::Text("rising".into())).unwrap(),
            json!(31)
        );
        assert_eq!(
            typed(&trend, &FieldValue::Text("fading".into())).unwrap(),
            json!(32)
        );
        assert!(typed(&trend, &FieldValue::Text("steady".into()))
            .unwrap_err()
            .contains("no option \"steady\""));
        let set = field("Trend set", "set", json!([{"id": 5, "label": "steady"}]));
        assert_eq!(
            typed(&set, &FieldValue::Text("steady".into())).unwrap(),
            json!([5])
        );

        let score = field("Attention score", "double", Value::Null);
        assert_eq!(typed(&score, &FieldValue::Number(57)).unwrap(), json!(57));
        assert_eq!(
            typed(&score, &FieldValue::Text("4.5".into())).unwrap(),
            json!(4.5)
        );

        let date = field("Attention last touch", "date", Value::Null);
        assert_eq!(
            typed(&date, &FieldValue::Time(Some(1_700_000_000_000))).unwrap(),
            json!("2023-11-14")
        );
        assert_eq!(typed(&date, &FieldValue::Time(None)).unwrap(), Value::Null);
        let as_text = field("Attention last touch", "varchar", Value::Null);
        assert_eq!(
            typed(&as_text, &FieldValue::Time(Some(1_700_000_000_000))).unwrap(),
            json!("2023-11-14T22:13:20.000Z")
        );

        let short = field("Attention reasons", "varchar", Value::Null);
        let long = FieldValue::List(vec!["x".repeat(200), "y".repeat(200)]);
        assert_eq!(
            typed(&short, &long)
                .unwrap()
                .as_str()
                .unwrap()
                .chars()
                .count(),
            255
        );
        let text = field("Attention reasons", "text", Value::Null);
        assert_eq!(typed(&text, &long).unwrap().as_str().unwrap().len(), 402);

        let user = field("Attention score", "user", Value::Null);
        assert!(typed(&user, &FieldValue::Number(1))
            .unwrap_err()
            .contains("`user`"));
    }

    #[test]
    fn a_person_body_carries_every_field_under_its_key() {
        let fields = vec![
            (
                "score".to_string(),
                field("Attention score", "double", Value::Null),
            ),
            (
                "trend".to_string(),
                field(
                    "Attention trend",
                    "enum",
                    json!([{"id": 7, "label": "rising"}]),
                ),
            ),
        ];
        let entry = OutboxEntry::for_contact(
            1,
            vec![Identity::crm("pipedrive", "8")],
            sample_contact_fields(),
            0,
        );
        let body = token_sink().body(&fields, &entry).unwrap();
        assert_eq!(
            body,
            json!({"custom_fields": {fields[0].1.key.clone(): 57, fields[1].1.key.clone(): 7}})
        );
    }

    #[test]
    fn only_custom_fields_are_found_by_name() {
        let mut system = field("Name", "varchar", Value::Null);
        system.edit_flag = false;
        let custom = field("Attention Score", "double", Value::Null);
        let fields = vec![system, custom];
        assert!(find_field(&fields, "name").is_none());
        assert_eq!(
            find_field(&fields, " attention score").unwrap().field_type,
            "double"
        );
    }

    #[test]
    fn only_numeric_pipedrive_ids_are_addressable() {
        let sink = token_sink();
        assert!(sink.addressable(&[Identity::email("a@b.c"), Identity::crm("pipedrive", "501")]));
        assert!(!sink.addressable(&[Identity::email("a@b.c")]));
        assert!(!sink.addressable(&[Identity::crm("hubspot", "501")]));
        assert!(!sink.addressable(&[Identity::crm("pipedrive", "lead-1")]));
        assert!(!sink.account_addressable("pipedrive-org:77"));
    }

    #[test]
    fn rate_limit_headers_ask_for_a_pause_when_nearly_spent() {
        assert_eq!(
            rate_wait(
                200,
                &headers(&[
                    ("x-ratelimit-limit", "20"),
                    ("x-ratelimit-remaining", "15"),
                    ("x-ratelimit-reset", "2")
                ])
            ),
            None
        );
        assert_eq!(
            rate_wait(
                200,
                &headers(&[
                    ("x-ratelimit-limit", "20"),
                    ("x-ratelimit-remaining", "2"),
                    ("x-ratelimit-reset", "1.5")
                ])
            ),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            rate_wait(200, &headers(&[("x-ratelimit-remaining", "0")])),
            Some(BURST_WINDOW)
        );
        assert_eq!(
            rate_wait(
                200,
                &headers(&[
                    ("x-ratelimit-remaining", "50"),
                    ("x-daily-ratelimit-token-remaining", "0")
                ])
            ),
            Some(DAILY_PROBE)
        );
        assert_eq!(
            rate_wait(
                429,
                &headers(&[("retry-after", "3"), ("x-ratelimit-reset", "1")])
            ),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            rate_wait(429, &headers(&[("x-ratelimit-reset", "1")])),
            Some(Duration::from_secs(1))
        );
        assert_eq!(rate_wait(429, &HeaderMap::new()), Some(BURST_WINDOW));
        assert_eq!(
            rate_wait(
                200,
                &headers(&[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "1700000000")
                ])
            ),
            Some(MAX_RESET_WAIT)
        );
    }

    #[test]
    fn pipedrive_error_bodies_give_their_message() {
        let body = r#"{"success":false,"error":"Person not found","error_info":"Please check developers.pipedrive.com","data":null,"additional_data":null}"#;
        assert_eq!(describe(404, body), "HTTP 404: Person not found");
        assert_eq!(
            describe(
                400,
                r#"{"success":false,"message":"Invalid grant: refresh token is invalid","error":"invalid_grant"}"#
            ),
            "HTTP 400: Invalid grant: refresh token is invalid"
        );
        assert_eq!(
            describe(403, "<html>blocked</html>"),
            "HTTP 403: <html>blocked</html>"
        );
        assert!(refused_despite_2xx(r#"{"success":true,"data":{}}"#).is_none());
        assert!(refused_despite_2xx(r#"{"success":false,"error":"nope"}"#)
            .unwrap()
            .contains("nope"));
    }

    #[test]
    fn pagination_is_read_in_either_place() {
        let nested: FieldsPage = serde_json::from_value(json!({"data": [], "additional_data": {"pagination": {"start": 0, "limit": 2, "more_items_in_collection": true, "next_start": 2}}})).unwrap();
        assert_eq!(nested.next_start(0, 2), Some(2));
        let flat: FieldsPage = serde_json::from_value(json!({"data": [], "additional_data": {"start": 2, "limit": 2, "more_items_in_collection": true}})).unwrap();
        assert_eq!(flat.next_start(2, 2), Some(4));
        let last: FieldsPage = serde_json::from_value(json!({"data": [], "additional_data": {"pagination": {"more_items_in_collection": false}}})).unwrap();
        assert_eq!(last.next_start(4, 1), None);
    }

    #[test]
    fn credentials_are_one_kind_and_complete() {
        let base = "https://acme.pipedrive.com";
        assert!(token_sink().validate().is_ok());
        let neither = sink(json!({"base_url": base}));
        assert_eq!(neither.validate().unwrap_err().0, "api_token");
        let both = sink(json!({"base_url": base, "api_token": "t", "access_token": "a"}));
        assert!(both.validate().unwrap_err().1.contains("not both"));
        let half = sink(json!({"base_url": base, "access_token": "a", "refresh_token": "r"}));
        assert_eq!(half.validate().unwrap_err().0, "refresh_token");
        let oauth = sink(
            json!({"base_url": base, "refresh_token": "r", "client_id": "c", "client_secret": "s"}),
        );
        assert!(oauth.validate().is_ok());
        let big = sink(json!({"base_url": base, "api_token": "t", "batch_size": 101}));
        assert_eq!(big.validate().unwrap_err().0, "batch_size");
        let unknown = sink(json!({"base_url": base, "api_token": "t", "fields": {"scroe": "x"}}));
        assert_eq!(unknown.validate().unwrap_err().0, "fields");
    }

    #[test]
    fn the_default_rate_is_the_lowest_plan_for_the_kind_of_credential() {
        assert_eq!(
            token_sink().limits().rate,
            RateLimit {
                requests: 20,
                per_secs: 2.0
            }
        );
        let oauth = sink(json!({"base_url": "https://acme.pipedrive.com", "access_token": "a"}));
        assert_eq!(
            oauth.limits().rate,
            RateLimit {
                requests: 80,
                per_secs: 2.0
            }
        );
    }

    #[test]
    fn setup_creates_typed_fields_named_for_reps() {
        let names = token_sink().names();
        assert_eq!(
            names.get("score").map(String::as_str),
            Some("Attention score")
        );
        assert_eq!(
            names.get("last_touch_at").map(String::as_str),
            Some("Attention last touch")
        );
        let trend = fields::spec(Records::Contacts, "trend").unwrap();
        assert_eq!(
            PipedriveSink::create_body(trend, "Attention trend"),
            json!({"name": "Attention trend", "field_type": "enum", "add_visible_flag": false,
                   "options": [{"label": "rising"}, {"label": "steady"}, {"label": "fading"}]})
        );
        let last = fields::spec(Records::Contacts, "last_touch_at").unwrap();
        assert_eq!(PipedriveSink::create_body(last, "x")["field_type"], "date");
        assert!(accepts(
            FieldKind::Choice(fields::TRENDS),
            &field("t", "varchar", Value::Null)
        ));
        assert!(!accepts(
            FieldKind::Choice(fields::TRENDS),
            &field("t", "enum", json!([{"id": 1, "label": "rising"}]))
        ));
        assert!(!accepts(
            FieldKind::Number,
            &field("s", "date", Value::Null)
        ));
    }
}
