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
//!
//! The settings and registration are here; `auth` keeps the OAuth token, `api` makes
//! one paced request and reads Pipedrive's rate-limit headers, `fields` finds and types
//! the person fields, `write` sends a batch of persons, `setup` creates the fields.

mod api;
mod auth;
mod fields;
mod setup;
#[cfg(test)]
mod tests;
mod write;

use super::delivery::RequestLimiter;
use super::token::TokenCache;
use super::{is_url, Crm, Defaults, Deliver, Outcome, RateLimit, Setup, Sink, SinkError};
use crate::fields::{FieldSpec, Records};
use crate::model::Identity;
use crate::secret::Secret;
use crate::store::OutboxEntry;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Instant;

/// Our own bound on persons per send: each is a request, and a send should end soon.
const BATCH_LIMIT: usize = 100;

/// Pipedrive's own keys of `[sinks.<name>]`; the delivery keys are shared.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipedrive {
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
    #[serde(skip)]
    state: Arc<State>,
}

pub type PipedriveSink = Sink<Pipedrive>;

fn default_token_url() -> String {
    "https://oauth.pipedrive.com/oauth/token".into()
}

/// What the sink learns while it runs; shared by every clone of the config.
#[derive(Default)]
struct State {
    tokens: TokenCache<auth::OAuthTokens>,
    fields: tokio::sync::Mutex<Option<fields::FieldCache>>,
    /// No request before this instant (rate-limit headers, 429).
    not_before: std::sync::Mutex<Option<Instant>>,
    limiter: RequestLimiter,
}

impl std::fmt::Debug for State {
    // The tokens inside are secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("State")
    }
}

/// The Pipedrive person id of a contact, if it has one.
fn person_id(identities: &[Identity]) -> Option<u64> {
    identities.iter().find_map(|identity| match identity {
        Identity::Crm { system, id } if system == "pipedrive" => id.trim().parse().ok(),
        _ => None,
    })
}

impl Pipedrive {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }

    fn oauth(&self) -> bool {
        self.api_token.is_none()
    }

    fn can_refresh(&self) -> bool {
        self.refresh_token.is_some() && self.client_id.is_some() && self.client_secret.is_some()
    }
}

impl Crm for Pipedrive {
    const ACCOUNTS: bool = false;

    /// Ten persons per batch, each one request, and two batches in flight. The rate
    /// limits requests: by default Pipedrive's lowest plan, 20 per 2 s for an API token
    /// and 80 per 2 s for OAuth.
    fn defaults(&self) -> Defaults {
        let requests = if self.oauth() { 80 } else { 20 };
        Defaults {
            batch_size: 10,
            concurrency: 2,
            ..Defaults::new(BATCH_LIMIT, RateLimit::new(requests, 2.0))
        }
    }

    /// "Attention score", "Attention trend", …: Pipedrive addresses fields by name for people.
    fn default_name(spec: &FieldSpec) -> String {
        spec.label.to_string()
    }

    fn validate(&self) -> Result<(), (String, String)> {
        if !is_url(&self.base_url) {
            return Err((
                "base_url".into(),
                "must start with https:// or http:// (your company domain, e.g. https://acme.pipedrive.com)".into(),
            ));
        }
        if !is_url(&self.token_url) {
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
        Ok(())
    }

    fn addressable(&self, identities: &[Identity]) -> bool {
        person_id(identities).is_some()
    }
}

impl Deliver for PipedriveSink {
    async fn send(
        &self,
        client: &reqwest::Client,
        records: Records,
        batch: &[OutboxEntry],
    ) -> Outcome {
        self.write(client, records, batch).await
    }

    /// Each person field the sink writes, unless a custom field of that name exists.
    async fn setup(&self, client: &reqwest::Client, setup: &mut Setup) -> Result<(), SinkError> {
        self.create_fields(client, setup).await
    }
}
