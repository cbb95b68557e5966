//! `kind = "marketo"`: lead fields through Sync Leads, `POST /rest/v1/leads.json` with
//! `"action": "updateOnly"`, at most 300 leads per call.
//!
//! A lead known by its Marketo id (`marketo:<id>`, from the Marketo source) is looked up
//! by `id`, any other by `email`. One call carries one `lookupField`, so a batch holding
//! both becomes two calls. Marketo answers HTTP 200 almost always: a whole-call failure
//! is `"success": false` with `errors[].code` (601/602 token, 606/607/615 limits), and a
//! record it did not write is `"status": "skipped"` with `reasons[]`, in input order
//! (experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes).
//!
//! Access tokens come from the Identity endpoint (client credentials, one hour) and are
//! cached; an expired or refused token is renewed once and the call sent again.

use crate::fields::{mapped, resolve_names, FieldKind, FieldNames, FieldSpec, Records};
use super::{Crm, CrmInfo, Limits, Outcome, RateLimit, Setup, SinkError};
use crate::secret::Secret;
use crate::model::Identity;
use crate::clock::now_millis;
use crate::store::OutboxEntry;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Sync Leads takes at most 300 records per call.
const MARKETO_BATCH_LIMIT: usize = 300;
/// Marketo processes at most 10 calls of one instance at a time (code 615 beyond).
const MARKETO_CONCURRENCY_LIMIT: usize = 10;
/// A token with less life than this is renewed before a call rather than risk a 602.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// After 615 (10 calls already in flight): those calls usually end within seconds.
const CONCURRENCY_WAIT: Duration = Duration::from_secs(5);
/// After 607 (daily quota): the quota resets at midnight US Central; probe hourly until then.
const QUOTA_PROBE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketoSink {
    /// REST API base of the instance, `https://123-ABC-456.mktorest.com` (Admin →
    /// Integration → Web Services, "Endpoint" without `/rest`).
    pub base_url: String,
    /// Identity URL, `https://123-ABC-456.mktorest.com/identity`; `<base_url>/identity`
    /// when not set.
    #[serde(default)]
    pub identity_url: Option<String>,
    /// Client Id of the LaunchPoint custom service (Admin → Integration → LaunchPoint →
    /// View Details).
    pub client_id: String,
    /// Client Secret of the same service.
    pub client_secret: Secret,
    /// How long changes collect before a batch is sent, in milliseconds.
    #[serde(default = "default_flush_interval_ms")]
    pub flush_interval_ms: u64,
    /// Leads per call, at most 300.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Failures of one record before it is parked in dead letters.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Seconds before a request is abandoned and retried.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Calls per window. Marketo allows 100 calls per 20 s for the whole instance; the
    /// default, 10 per 2.5 s, stays under that even right after an idle spell (a full
    /// bucket of 10 plus 80 refilled in 20 s). After a 606 the sink waits `per_secs`.
    #[serde(default = "default_rate_limit")]
    pub rate_limit: RateLimit,
    /// Calls in flight at once, at most 10 (Marketo's limit, shared by every
    /// integration of the instance).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Lead field REST API names written, by attentiond field name.
    #[serde(default)]
    pub fields: FieldNames,
    #[serde(skip)]
    shared: Arc<Shared>,
}

fn default_flush_interval_ms() -> u64 {
    1000
}
fn default_batch_size() -> usize {
    MARKETO_BATCH_LIMIT
}
fn default_max_attempts() -> u32 {
    5
}
fn default_timeout_secs() -> u64 {
    30
}
fn default_rate_limit() -> RateLimit {
    RateLimit {
        requests: 10,
        per_secs: 2.5,
    }
}
fn default_concurrency() -> usize {
    4
}

/// `attentionScore`, `attentionTrend`, `attentionReasons`, `attentionLastTouchAt`:
/// `attention_<name>` in the camel case of Marketo's API names.
fn default_name(spec: &FieldSpec) -> String {
    let mut name = String::from("attention");
    for part in spec.name.split('_').filter(|part| !part.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

/// State kept across batches: the access token and the limiter every call waits on.
#[derive(Default)]
struct Shared {
    token: tokio::sync::Mutex<Option<Token>>,
    limiter: OnceLock<DefaultDirectRateLimiter>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Shared { .. }")
    }
}

struct Token {
    value: String,
    expires_at: Instant,
    /// The Identity endpoint handed back the token we held: it answers so until the
    /// token expires, so asking again before then is pointless.
    reissued: bool,
}

impl Token {
    fn usable(&self, now: Instant) -> bool {
        now < self.expires_at && (self.reissued || now + TOKEN_MARGIN < self.expires_at)
    }
}

#[derive(Debug, Deserialize)]
struct IdentityAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: u64,
}

/// Identity's OAuth error body, `{"error":"invalid_client","error_description":"Bad
/// client credentials"}` (as stubbed in the mkto_rest gem's authentication spec).
#[derive(Debug, Deserialize)]
struct IdentityError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Debug, Clone, Deserialize)]
struct MarketoError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl fmt::Display for MarketoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.message)
    }
}

/// Every REST answer: `result` on success, `errors` when `success` is false.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<MarketoError>,
    #[serde(default)]
    result: Vec<serde_json::Value>,
    #[serde(rename = "moreResult", default)]
    more_result: bool,
    #[serde(rename = "nextPageToken", default)]
    next_page_token: Option<String>,
}

/// One entry of Sync Leads' `result`.
#[derive(Debug, Deserialize)]
struct LeadResult {
    #[serde(default)]
    status: String,
    #[serde(default)]
    reasons: Vec<MarketoError>,
}

/// Why a call to Marketo did not succeed.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("{0}")]
    Network(String),
    #[error("Marketo identity refused the client credentials: {message}")]
    Identity { status: u16, message: String },
    #[error("HTTP {status}: {body}")]
    Http {
        status: u16,
        retry_after: Option<Duration>,
        body: String,
    },
    #[error("{0}")]
    Marketo(MarketoError),
    #[error("unexpected answer: {0}")]
    Unreadable(String),
}

fn network(error: reqwest::Error) -> CallError {
    // without_url: the Identity URL carries the client secret.
    CallError::Network(super::error_chain(&error.without_url()))
}

fn snippet(body: &str) -> String {
    body.chars().take(300).collect()
}

/// How a lead is found in Marketo: `("id", 1001)` or `("email", "ann@example.com")`.
fn lookup(identities: &[Identity]) -> Option<(&'static str, serde_json::Value)> {
    let marketo_id = identities.iter().find_map(|identity| match identity {
        Identity::Crm { system, id } if system == "marketo" && !id.is_empty() => Some(id),
        _ => None,
    });
    if let Some(id) = marketo_id {
        // Lead ids are integers; Sync Leads takes them as JSON numbers.
        let value = id
            .parse::<i64>()
            .map(serde_json::Value::from)
            .unwrap_or_else(|_| id.clone().into());
        return Some(("id", value));
    }
    identities.iter().find_map(|identity| match identity {
        Identity::Email(address) => Some(("email", address.clone().into())),
        _ => None,
    })
}

/// Until the quota resets (00:00 US Central, taken as 06:00 UTC) plus a minute, at
/// most [`QUOTA_PROBE`].
fn quota_wait(now_ms: i64) -> Duration {
    const DAY: i64 = 86_400_000;
    const RESET_UTC: i64 = 6 * 3_600_000;
    let since_reset = (now_ms - RESET_UTC).rem_euclid(DAY);
    let until = Duration::from_millis((DAY - since_reset + 60_000) as u64);
    until.min(QUOTA_PROBE)
}

impl MarketoSink {
    fn base(&self) -> &str {
        let base = self.base_url.trim_end_matches('/');
        base.strip_suffix("/rest").unwrap_or(base)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    fn token_url(&self) -> String {
        match &self.identity_url {
            Some(identity) => format!("{}/oauth/token", identity.trim_end_matches('/')),
            None => self.url("/identity/oauth/token"),
        }
    }

    fn names(&self) -> FieldNames {
        // validate() has refused unknown names, so this cannot fail here.
        resolve_names(Records::Contacts, default_name, &self.fields).unwrap_or_default()
    }

    fn limiter(&self) -> &DefaultDirectRateLimiter {
        self.shared.limiter.get_or_init(|| {
            let requests = NonZeroU32::new(self.rate_limit.requests).unwrap_or(NonZeroU32::MIN);
            let period =
                Duration::from_secs_f64(self.rate_limit.per_secs / f64::from(requests.get()))
                    .max(Duration::from_nanos(1));
            let quota = Quota::with_period(period)
                .unwrap_or_else(|| Quota::per_second(requests))
                .allow_burst(requests);
            RateLimiter::direct(quota)
        })
    }

    /// The Sync Leads bodies for a batch: one per lookup field, with the batch indexes
    /// each input stands for.
    pub fn bodies(&self, batch: &[OutboxEntry]) -> Vec<(Vec<usize>, serde_json::Value)> {
        let names = self.names();
        let mut groups: Vec<(&'static str, Vec<usize>, Vec<serde_json::Value>)> = Vec::new();
        for (index, entry) in batch.iter().enumerate() {
            let Some((field, key)) = lookup(&entry.identities) else {
                continue;
            };
            let mut input = serde_json::Map::new();
            input.insert(field.to_string(), key);
            for (name, value) in mapped(&names, &entry.fields) {
                input.insert(name.to_string(), fit_string_field(value.as_json()));
            }
            match groups
                .iter_mut()
                .find(|(lookup_field, _, _)| *lookup_field == field)
            {
                Some((_, indexes, inputs)) => {
                    indexes.push(index);
                    inputs.push(input.into());
                }
                None => groups.push((field, vec![index], vec![input.into()])),
            }
        }
        groups.sort_by_key(|(field, _, _)| *field != "id");
        groups
            .into_iter()
            .map(|(field, indexes, inputs)| {
                (indexes, serde_json::json!({"action": "updateOnly", "lookupField": field, "input": inputs}))
            })
            .collect()
    }

    /// A token that Marketo should accept; `refused` is one it just answered 601/602 to.
    async fn token(
        &self,
        client: &reqwest::Client,
        refused: Option<&str>,
    ) -> Result<String, CallError> {
        let mut cached = self.shared.token.lock().await;
        let now = Instant::now();
        if let Some(token) = cached.as_ref() {
            let is_refused = refused == Some(token.value.as_str());
            if !is_refused && (refused.is_some() || token.usable(now)) {
                return Ok(token.value.clone());
            }
        }
        let response = client
            .get(self.token_url())
            .query(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.expose()),
            ])
            .timeout(Duration::from_secs(self.timeout_secs))
            .send()
            .await
            .map_err(network)?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if !(200..=299).contains(&status) {
            let message = match serde_json::from_str::<IdentityError>(&text) {
                Ok(error) if !error.error_description.is_empty() || !error.error.is_empty() => {
                    format!("HTTP {status} {}: {}", error.error, error.error_description)
                }
                _ => format!("HTTP {status}: {}", snippet(&text)),
            };
            return Err(CallError::Identity { status, message });
        }
        let answer: IdentityAnswer = serde_json::from_str(&text)
            .map_err(|error| CallError::Unreadable(format!("identity: {error}")))?;
        if answer.access_token.is_empty() {
            return Err(CallError::Unreadable("identity: empty access_token".into()));
        }
        let reissued = cached
            .as_ref()
            .is_some_and(|token| token.value == answer.access_token);
        if refused.is_some() {
            tracing::info!(
                message = "Marketo access token renewed after Marketo refused it.",
                crm = "marketo"
            );
        }
        let value = answer.access_token.clone();
        *cached = Some(Token {
            value: answer.access_token,
            expires_at: now + Duration::from_secs(answer.expires_in),
            reissued,
        });
        Ok(value)
    }

    /// One REST call: waits for the rate limit, authenticates, and renews the token and
    /// sends again once if Marketo answers 601 or 602 (such calls are not counted).
    async fn call(
        &self,
        client: &reqwest::Client,
        post: bool,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Envelope, CallError> {
        self.limiter().until_ready().await;
        let url = self.url(path);
        let mut refused: Option<String> = None;
        loop {
            let token = self.token(client, refused.as_deref()).await?;
            let mut request = if post {
                client.post(&url)
            } else {
                client.get(&url)
            };
            request = request
                .bearer_auth(&token)
                .timeout(Duration::from_secs(self.timeout_secs));
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(network)?;
            let status = response.status().as_u16();
            let retry_after = super::retry_after(response.headers());
            let text = response.text().await.unwrap_or_default();
            if !(200..=299).contains(&status) {
                return Err(CallError::Http {
                    status,
                    retry_after,
                    body: snippet(&text),
                });
            }
            let envelope: Envelope = serde_json::from_str(&text)
                .map_err(|error| CallError::Unreadable(format!("{error}: {}", snippet(&text))))?;
            if envelope.success {
                return Ok(envelope);
            }
            let error = envelope.errors.first().cloned().unwrap_or(MarketoError {
                code: String::new(),
                message: "success: false without errors".into(),
            });
            if (error.code == "601" || error.code == "602") && refused.is_none() {
                refused = Some(token);
                continue;
            }
            return Err(CallError::Marketo(error));
        }
    }

    /// What the push loop should make of a failed call.
    fn outcome(&self, error: CallError) -> Outcome {
        let text = error.to_string();
        match error {
            CallError::Network(_) | CallError::Unreadable(_) => Outcome::Transient {
                status: None,
                retry_after: None,
                error: text,
            },
            // Credentials are for the operator to fix; records stay queued meanwhile.
            CallError::Identity { status, .. } => Outcome::Transient {
                status: Some(status),
                retry_after: None,
                error: text,
            },
            CallError::Http {
                status,
                retry_after,
                ..
            } => match status {
                401 | 403 | 408 | 429 | 500..=599 => Outcome::Transient {
                    status: Some(status),
                    retry_after,
                    error: text,
                },
                _ => Outcome::Rejected {
                    status,
                    error: text,
                },
            },
            CallError::Marketo(marketo) => {
                let status = marketo.code.parse::<u16>().ok();
                let transient = |retry_after| Outcome::Transient {
                    status,
                    retry_after,
                    error: text.clone(),
                };
                match marketo.code.as_str() {
                    "606" => transient(Some(Duration::from_secs_f64(self.rate_limit.per_secs))),
                    "615" => transient(Some(CONCURRENCY_WAIT)),
                    "607" => transient(Some(quota_wait(now_millis()))),
                    // Token still refused after renewal, permissions, time-outs,
                    // temporary unavailability, system and transient errors.
                    "502" | "601" | "602" | "603" | "604" | "608" | "611" | "614" | "713" => {
                        transient(None)
                    }
                    _ => Outcome::Rejected {
                        status: status.unwrap_or(200),
                        error: text,
                    },
                }
            }
        }
    }
}

/// Matches Sync Leads' `result` (input order) to the batch.
fn per_record(indexes: &[usize], results: &[serde_json::Value], errors: &mut [Option<String>]) {
    for (position, index) in indexes.iter().enumerate() {
        let Some(slot) = errors.get_mut(*index) else {
            continue;
        };
        *slot = match results
            .get(position)
            .map(|value| serde_json::from_value::<LeadResult>(value.clone()))
        {
            Some(Ok(result)) if result.status == "updated" || result.status == "created" => None,
            Some(Ok(result)) if !result.reasons.is_empty() => Some(
                result
                    .reasons
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Some(Ok(result)) => Some(format!(
                "Marketo answered status `{}` without reasons",
                result.status
            )),
            Some(Err(error)) => Some(format!("unreadable result: {error}")),
            None => Some("Marketo returned no result for this lead".into()),
        };
    }
}

impl CrmInfo for MarketoSink {
    fn validate(&self) -> Result<(), (String, String)> {
        let http = |url: &str| url.starts_with("https://") || url.starts_with("http://");
        if !http(&self.base_url) {
            return Err((
                "base_url".into(),
                "must start with https:// or http://".into(),
            ));
        }
        if let Some(identity) = &self.identity_url {
            if !http(identity) {
                return Err((
                    "identity_url".into(),
                    "must start with https:// or http://".into(),
                ));
            }
        }
        if self.client_id.trim().is_empty() {
            return Err(("client_id".into(), "must not be empty".into()));
        }
        if self.client_secret.expose().is_empty() {
            return Err(("client_secret".into(), "must not be empty".into()));
        }
        if self.batch_size == 0 || self.batch_size > MARKETO_BATCH_LIMIT {
            return Err((
                "batch_size".into(),
                format!("must be between 1 and {MARKETO_BATCH_LIMIT}"),
            ));
        }
        if self.max_attempts == 0 {
            return Err(("max_attempts".into(), "must be at least 1".into()));
        }
        self.rate_limit
            .validate()
            .map_err(|error| ("rate_limit".to_string(), error))?;
        if self.concurrency == 0 || self.concurrency > MARKETO_CONCURRENCY_LIMIT {
            return Err((
                "concurrency".into(),
                format!("must be between 1 and {MARKETO_CONCURRENCY_LIMIT}"),
            ));
        }
        resolve_names(Records::Contacts, default_name, &self.fields)
            .map_err(|error| ("fields".to_string(), error))?;
        Ok(())
    }

    fn addressable(&self, identities: &[Identity]) -> bool {
        lookup(identities).is_some()
    }

    fn batch_limit(&self, _records: Records) -> usize {
        self.batch_size
    }

    fn limits(&self) -> Limits {
        Limits {
            rate: self.rate_limit,
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

impl Crm for MarketoSink {
    /// Id-group first, then email-group, one after the other so that in-flight calls
    /// stay within `concurrency`. If the second call fails for a while, the whole batch
    /// is kept: rewriting the first group's values is harmless.
    async fn send(
        &self,
        client: &reqwest::Client,
        records: Records,
        batch: &[OutboxEntry],
    ) -> Outcome {
        if records == Records::Accounts {
            return Outcome::PerRecord {
                status: 200,
                errors: vec![Some("the Marketo sink writes leads only".into()); batch.len()],
                pause: None,
            };
        }
        let mut errors: Vec<Option<String>> =
            vec![Some("no Marketo lead id or email to look the lead up by".into()); batch.len()];
        for (indexes, body) in self.bodies(batch) {
            match self
                .call(client, true, "/rest/v1/leads.json", &[], Some(&body))
                .await
            {
                Ok(envelope) => per_record(&indexes, &envelope.result, &mut errors),
                Err(error) => return self.outcome(error),
            }
        }
        Outcome::PerRecord {
            status: 200,
            errors,
            pause: None,
        }
    }

    /// Reads the lead fields (`GET /rest/v1/leads/schema/fields.json`, else Describe
    /// Lead when the API role lacks the schema permissions) and creates the missing
    /// ones in one `POST /rest/v1/leads/schema/fields.json`. Where Marketo does not
    /// let the API create fields, says how to create them in Field Management.
    async fn setup(&self, client: &reqwest::Client, setup: &mut Setup) -> Result<(), SinkError> {
        let (existing, schema_allowed) = match self.schema_fields(client).await {
            Ok(fields) => (fields, true),
            Err(CallError::Marketo(error)) if not_allowed(&error) => {
                setup.note(format!(
                    "Marketo refused the lead field schema to this API user ({error}); read the fields through Describe Lead instead"
                ));
                (
                    self.described_fields(client)
                        .await
                        .map_err(|error| setup_error("/rest/v1/leads/describe.json", error))?,
                    false,
                )
            }
            Err(error) => return Err(setup_error("/rest/v1/leads/schema/fields.json", error)),
        };
        let mut missing: Vec<(&'static FieldSpec, String)> = Vec::new();
        let names = self.names();
        for spec in crate::fields::specs(Records::Contacts) {
            let Some(api_name) = names.get(spec.name).cloned() else {
                continue;
            };
            match existing
                .iter()
                .find(|(existing_name, _)| existing_name.eq_ignore_ascii_case(&api_name))
            {
                Some((existing_name, data_type)) => {
                    setup.exists(format!("lead field {existing_name}"));
                    let wanted = data_type_of(spec.kind);
                    if let Some(data_type) = data_type {
                        if !compatible(wanted, data_type) {
                            setup.note(format!(
                                "lead field {existing_name} is of type {data_type}; attentiond writes {wanted} values to it"
                            ));
                        }
                    }
                }
                None => missing.push((spec, api_name)),
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        if !schema_allowed {
            manual(setup, &missing);
            return Ok(());
        }
        let body = serde_json::json!({
            "input": missing.iter().map(|(spec, api_name)| field_body(spec, api_name)).collect::<Vec<_>>()
        });
        let path = "/rest/v1/leads/schema/fields.json";
        if !setup.may_send("POST", &self.url(path), &body) {
            return Ok(());
        }
        match self.call(client, true, path, &[], Some(&body)).await {
            Ok(envelope) => {
                for (position, (spec, api_name)) in missing.iter().enumerate() {
                    let result = envelope
                        .result
                        .get(position)
                        .and_then(|value| serde_json::from_value::<LeadResult>(value.clone()).ok());
                    match result {
                        Some(result) if result.status == "created" => setup.created(format!(
                            "lead field {api_name} ({}, {})",
                            spec.label,
                            data_type_of(spec.kind)
                        )),
                        Some(result) => {
                            let reasons: Vec<String> =
                                result.reasons.iter().map(ToString::to_string).collect();
                            return Err(SinkError::Api {
                                what: path.into(),
                                status: 200,
                                message: format!(
                                    "lead field {api_name} not created ({}): {}",
                                    result.status,
                                    reasons.join("; ")
                                ),
                            });
                        }
                        None => {
                            return Err(SinkError::Unreadable {
                                what: path.into(),
                                message: format!("no result for lead field {api_name}"),
                            })
                        }
                    }
                }
                Ok(())
            }
            Err(CallError::Marketo(error)) if not_allowed(&error) => {
                setup.note(format!(
                    "Marketo refused to create lead fields through the API ({error})"
                ));
                manual(setup, &missing);
                Ok(())
            }
            Err(error) => Err(setup_error(path, error)),
        }
    }
}

impl MarketoSink {
    /// API name and data type of every lead field, page by page.
    async fn schema_fields(
        &self,
        client: &reqwest::Client,
    ) -> Result<Vec<(String, Option<String>)>, CallError> {
        let mut fields = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut query = vec![("batchSize", "300")];
            if let Some(token) = page.as_deref() {
                query.push(("nextPageToken", token));
            }
            let envelope = self
                .call(
                    client,
                    false,
                    "/rest/v1/leads/schema/fields.json",
                    &query,
                    None,
                )
                .await?;
            for field in &envelope.result {
                if let Some(name) = field.get("name").and_then(|name| name.as_str()) {
                    let data_type = field
                        .get("dataType")
                        .and_then(|t| t.as_str())
                        .map(str::to_string);
                    fields.push((name.to_string(), data_type));
                }
            }
            match envelope.next_page_token {
                Some(token) if envelope.more_result && !token.is_empty() => page = Some(token),
                _ => return Ok(fields),
            }
        }
    }

    /// Describe Lead: fields usable through REST carry `rest.name`.
    async fn described_fields(
        &self,
        client: &reqwest::Client,
    ) -> Result<Vec<(String, Option<String>)>, CallError> {
        let envelope = self
            .call(client, false, "/rest/v1/leads/describe.json", &[], None)
            .await?;
        Ok(envelope
            .result
            .iter()
            .filter_map(|field| {
                let name = field.get("rest")?.get("name")?.as_str()?.to_string();
                let data_type = field
                    .get("dataType")
                    .and_then(|t| t.as_str())
                    .map(str::to_string);
                Some((name, data_type))
            })
            .collect())
    }
}

/// 603 Access denied (role without Read-Write Schema permissions), 610 (no such
/// endpoint on an older instance), 703 (feature not enabled).
fn not_allowed(error: &MarketoError) -> bool {
    matches!(error.code.as_str(), "603" | "610" | "703")
}

fn setup_error(what: &str, error: CallError) -> SinkError {
    match error {
        CallError::Network(message) => SinkError::Network(message),
        CallError::Identity { message, .. } => SinkError::Auth(message),
        CallError::Http {
            status: status @ (401 | 403),
            body,
            ..
        } => SinkError::Auth(format!("HTTP {status}: {body}")),
        CallError::Http { status, body, .. } => SinkError::Api {
            what: what.into(),
            status,
            message: body,
        },
        CallError::Marketo(error) if error.code == "601" || error.code == "602" => {
            SinkError::Auth(error.to_string())
        }
        CallError::Marketo(error) => SinkError::Api {
            what: what.into(),
            status: error.code.parse().unwrap_or(200),
            message: error.to_string(),
        },
        CallError::Unreadable(message) => SinkError::Unreadable {
            what: what.into(),
            message,
        },
    }
}

/// Marketo's `string` fields hold 255 characters; longer reasons are cut at a phrase
/// boundary rather than refused.
fn fit_string_field(value: serde_json::Value) -> serde_json::Value {
    const STRING_FIELD_CHARS: usize = 255;
    match value {
        serde_json::Value::String(text) if text.chars().count() > STRING_FIELD_CHARS => {
            let mut cut: String = text.chars().take(STRING_FIELD_CHARS).collect();
            if let Some(end) = cut.rfind("; ") {
                cut.truncate(end);
            }
            serde_json::Value::String(cut)
        }
        other => other,
    }
}

/// The Create Lead Fields `dataType` (swagger-mapi.json `CreateLeadField`). Its enum has
/// no text area, so reasons go in a 255-character string (see `fit_string_field`).
fn data_type_of(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Number => "integer",
        FieldKind::Decimal => "float",
        FieldKind::Text | FieldKind::LongText | FieldKind::Choice(_) => "string",
        FieldKind::DateTime => "datetime",
    }
}

/// A field made by hand may well be a Text Area or a Score; those take the same values.
fn compatible(wanted: &str, existing: &str) -> bool {
    let existing = existing.to_ascii_lowercase();
    match wanted {
        "integer" => matches!(
            existing.as_str(),
            "integer" | "score" | "float" | "currency" | "percent"
        ),
        "float" => matches!(existing.as_str(), "float" | "currency"),
        "string" => matches!(existing.as_str(), "string" | "text" | "textarea"),
        other => existing == other,
    }
}

/// The type's name in Field Management's "Type" menu.
fn ui_type(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Number => "Integer",
        FieldKind::Decimal => "Float",
        FieldKind::Text | FieldKind::LongText | FieldKind::Choice(_) => "String",
        FieldKind::DateTime => "Datetime",
    }
}

fn field_body(spec: &FieldSpec, api_name: &str) -> serde_json::Value {
    serde_json::json!({
        "displayName": spec.label,
        "name": api_name,
        "dataType": data_type_of(spec.kind),
        "description": spec.description,
        "isHidden": false,
        "isHtmlEncodingInEmail": true,
        "isSensitive": false,
    })
}

fn manual(setup: &mut Setup, missing: &[(&'static FieldSpec, String)]) {
    for (spec, api_name) in missing {
        setup.manual(format!(
            "In Marketo: Admin → Field Management → New Custom Field → Object: Person, Type: {}, Name: {}, API Name: {api_name} (replace the generated one) → Create",
            ui_type(spec.kind),
            spec.label,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::sample_contact_fields;

    fn entry(identities: Vec<Identity>) -> OutboxEntry {
        OutboxEntry::for_contact(1, identities, sample_contact_fields(), 0)
    }

    fn sink() -> MarketoSink {
        serde_json::from_value(serde_json::json!({
            "base_url": "https://123-ABC-456.mktorest.com/rest/", "client_id": "id", "client_secret": "s"
        }))
        .unwrap()
    }

    #[test]
    fn reasons_longer_than_a_string_field_are_cut_between_phrases() {
        let phrase = "a".repeat(100);
        let long = format!("{phrase}; {phrase}; {phrase}");
        let cut = fit_string_field(serde_json::Value::String(long));
        assert_eq!(
            cut,
            serde_json::Value::String(format!("{phrase}; {phrase}"))
        );
        let short = serde_json::json!("form submit today");
        assert_eq!(fit_string_field(short.clone()), short);
        assert_eq!(
            fit_string_field(serde_json::json!(57)),
            serde_json::json!(57)
        );
    }

    #[test]
    fn default_names_are_camel_case_api_names() {
        let names = sink().names();
        let values: Vec<&str> = names.values().map(String::as_str).collect();
        assert_eq!(
            values,
            vec![
                "attentionFitGrade",
                "attentionLastTouchAt",
                "attentionMatrix",
                "attentionQualificationStage",
                "attentionReasons",
                "attentionScore",
                "attentionStageChangedAt",
                "attentionTrend",
                "attentionVelocity"
            ]
        );
    }

    #[test]
    fn leads_with_a_marketo_id_go_by_id_the_others_by_email() {
        let bodies = sink().bodies(&[
            entry(vec![Identity::email("a@b.c")]),
            entry(vec![
                Identity::email("x@y.z"),
                Identity::crm("marketo", "1001"),
            ]),
            entry(vec![Identity::Anonymous("v".into())]),
            entry(vec![Identity::email("d@e.f")]),
        ]);
        assert_eq!(bodies.len(), 2);
        assert_eq!(bodies[0].0, vec![1]);
        assert_eq!(
            bodies[0].1,
            serde_json::json!({"action": "updateOnly", "lookupField": "id", "input": [
                {"id": 1001, "attentionScore": 57, "attentionTrend": "rising",
                 "attentionReasons": "form submit today; 3 email clicks this week",
                 "attentionLastTouchAt": "2023-11-14T22:13:20.000Z"}
            ]})
        );
        assert_eq!(bodies[1].0, vec![0, 3]);
        assert_eq!(bodies[1].1["lookupField"], "email");
        assert_eq!(bodies[1].1["input"][1]["email"], "d@e.f");
    }

    #[test]
    fn configured_names_replace_the_defaults_and_empty_leaves_a_field_out() {
        let sink: MarketoSink = serde_json::from_value(serde_json::json!({
            "base_url": "https://123-ABC-456.mktorest.com", "client_id": "id", "client_secret": "s",
            "fields": {"score": "engagementScore", "reasons": ""}
        }))
        .unwrap();
        let bodies = sink.bodies(&[entry(vec![Identity::email("a@b.c")])]);
        let input = bodies[0].1["input"][0].as_object().unwrap();
        assert_eq!(input["engagementScore"], 57);
        assert!(!input.contains_key("attentionScore") && !input.contains_key("attentionReasons"));
        assert!(input.contains_key("attentionTrend"));
    }

    #[test]
    fn the_rest_suffix_of_the_endpoint_is_not_doubled() {
        let sink = sink();
        assert_eq!(
            sink.url("/rest/v1/leads.json"),
            "https://123-ABC-456.mktorest.com/rest/v1/leads.json"
        );
        assert_eq!(
            sink.token_url(),
            "https://123-ABC-456.mktorest.com/identity/oauth/token"
        );
    }

    // Record-level shape: error-codes.md "Record-Level" (status skipped, reasons[]).
    #[test]
    fn skipped_leads_carry_marketos_code_and_message() {
        let mut errors = vec![Some("unset".to_string()); 3];
        let results: Vec<serde_json::Value> = serde_json::from_value(serde_json::json!([
            {"id": 50, "status": "updated"},
            {"status": "skipped", "reasons": [{"code": "1004", "message": "Lead not found"}]},
        ]))
        .unwrap();
        per_record(&[2, 0, 1], &results, &mut errors);
        assert_eq!(errors[2], None);
        assert_eq!(errors[0].as_deref(), Some("1004 Lead not found"));
        assert!(errors[1].as_deref().unwrap().contains("no result"));
    }

    #[test]
    fn limits_in_a_200_body_are_transient_with_a_wait() {
        let sink = sink();
        let wait = |code: &str| match sink.outcome(CallError::Marketo(MarketoError {
            code: code.into(),
            message: "m".into(),
        })) {
            Outcome::Transient {
                retry_after,
                status,
                ..
            } => {
                assert_eq!(status, code.parse().ok());
                retry_after
            }
            other => panic!("{code}: {other:?}"),
        };
        assert_eq!(wait("606"), Some(Duration::from_millis(2500)));
        assert_eq!(wait("615"), Some(CONCURRENCY_WAIT));
        assert!(wait("607").is_some_and(|wait| wait <= QUOTA_PROBE));
        assert_eq!(wait("603"), None);
        match sink.outcome(CallError::Marketo(MarketoError {
            code: "609".into(),
            message: "Invalid JSON".into(),
        })) {
            Outcome::Rejected { status, error } => {
                assert_eq!((status, error.as_str()), (609, "609 Invalid JSON"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            sink.outcome(CallError::Http {
                status: 413,
                retry_after: None,
                body: String::new()
            }),
            Outcome::Rejected { status: 413, .. }
        ));
        assert!(matches!(
            sink.outcome(CallError::Http {
                status: 503,
                retry_after: None,
                body: String::new()
            }),
            Outcome::Transient {
                status: Some(503),
                ..
            }
        ));
    }

    #[test]
    fn the_daily_quota_is_waited_out_until_midnight_central_at_most_an_hour() {
        // 05:30 UTC: the reset at 06:00 UTC is 30 min (+1 min) away.
        let half_past_five =
            1_700_000_000_000 - (1_700_000_000_000 % 86_400_000) + 5 * 3_600_000 + 30 * 60_000;
        assert_eq!(quota_wait(half_past_five), Duration::from_secs(31 * 60));
        assert_eq!(quota_wait(half_past_five + 3_600_000), QUOTA_PROBE);
    }

    #[test]
    fn a_token_is_renewed_a_minute_before_it_expires_unless_identity_handed_it_back() {
        let now = Instant::now();
        let token = |secs, reissued| Token {
            value: "t".into(),
            expires_at: now + Duration::from_secs(secs),
            reissued,
        };
        assert!(token(3599, false).usable(now));
        assert!(!token(30, false).usable(now));
        assert!(token(30, true).usable(now));
        assert!(!token(0, true).usable(now));
    }

    #[test]
    fn more_than_ten_calls_in_flight_is_refused() {
        let mut sink = sink();
        sink.concurrency = 11;
        assert_eq!(sink.validate().unwrap_err().0, "concurrency");
    }

    #[test]
    fn the_click_path_names_the_type_and_the_api_name() {
        let mut setup = Setup::new(false);
        let spec = crate::fields::spec(Records::Contacts, "last_touch_at").unwrap();
        manual(&mut setup, &[(spec, "attentionLastTouchAt".into())]);
        let line = setup.steps[0].to_string();
        assert!(
            line.contains("Admin → Field Management → New Custom Field")
                && line.contains("Type: Datetime")
                && line.contains("API Name: attentionLastTouchAt"),
            "{line}"
        );
    }
}
