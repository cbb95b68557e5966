//! OAuth for Pipedrive: the configured access token until Pipedrive refuses it or it
//! nears its expiry, then `POST <token_url>` with `grant_type=refresh_token`, the
//! client credentials as HTTP Basic (pipedrive/client-nodejs
//! `OAuth2Configuration.tokenRefresh`). A refresh may hand out a new refresh token too.

use super::api::{describe, CallError};
use super::PipedriveSink;
use crate::sinks::error_chain;
use crate::sinks::token::{AccessToken, Issued};
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// The access token in use and the refresh token that replaces it.
#[derive(Clone)]
pub(super) struct OAuthTokens {
    access: String,
    refresh: Option<String>,
}

impl AccessToken for OAuthTokens {
    fn access(&self) -> &str {
        &self.access
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
    /// The access token to send, refreshed first if it is missing or about to expire.
    pub(super) async fn bearer(&self, client: &reqwest::Client) -> Result<String, CallError> {
        let tokens = self
            .crm
            .state
            .tokens
            .get(|held| self.issue(client, held))
            .await?;
        Ok(tokens.access)
    }

    /// After a 401 for `used`: refresh, unless a concurrent send already did.
    pub(super) async fn refresh_after_refusal(
        &self,
        client: &reqwest::Client,
        used: &str,
    ) -> Result<(), CallError> {
        self.crm
            .state
            .tokens
            .renew(used, |held| self.issue(client, held))
            .await
            .map(drop)
    }

    /// The configured access token the first time, whose life is unknown, so it is used
    /// until refused; a refreshed one after that.
    async fn issue(
        &self,
        client: &reqwest::Client,
        held: Option<OAuthTokens>,
    ) -> Result<Issued<OAuthTokens>, CallError> {
        let configured = |secret: &Option<crate::secret::Secret>| {
            secret.as_ref().map(|token| token.expose().to_string())
        };
        if held.is_none() {
            if let Some(access) = configured(&self.crm.access_token) {
                return Ok(Issued {
                    token: OAuthTokens {
                        access,
                        refresh: configured(&self.crm.refresh_token),
                    },
                    lifetime: None,
                });
            }
        }
        if !self.crm.can_refresh() {
            return Err(CallError::Refresh("no access token is configured".into()));
        }
        let refresh = held
            .and_then(|tokens| tokens.refresh)
            .or_else(|| configured(&self.crm.refresh_token));
        self.refresh(client, refresh).await
    }

    async fn refresh(
        &self,
        client: &reqwest::Client,
        refresh: Option<String>,
    ) -> Result<Issued<OAuthTokens>, CallError> {
        let (Some(client_id), Some(client_secret), Some(refresh)) = (
            self.crm.client_id.as_deref(),
            self.crm.client_secret.as_ref(),
            refresh,
        ) else {
            return Err(CallError::Refresh(
                "refresh_token, client_id and client_secret are needed".into(),
            ));
        };
        let response = client
            .post(&self.crm.token_url)
            .basic_auth(client_id, Some(client_secret.expose()))
            .timeout(self.delivery.timeout())
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ])
            .send()
            .await
            .map_err(|error| CallError::Refresh(error_chain(&error.without_url())))?;
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
        Ok(Issued {
            token: OAuthTokens {
                access: answer.access_token,
                refresh: answer
                    .refresh_token
                    .filter(|r| !r.is_empty())
                    .or(Some(refresh)),
            },
            lifetime: expires_in.map(Duration::from_secs),
        })
    }
}
