//! Access tokens from Marketo's Identity endpoint: `GET /identity/oauth/token` with the
//! LaunchPoint service's client credentials; a token lives an hour, and Identity hands
//! back the same token until it expires.

use super::api::{network, CallError};
use super::MarketoSink;
use crate::sinks::status_text;
use crate::sinks::token::Issued;
use serde::Deserialize;
use std::time::Duration;

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

impl MarketoSink {
    /// A token that Marketo should accept; `refused` is one it just answered 601/602 to.
    pub(super) async fn token(
        &self,
        client: &reqwest::Client,
        refused: Option<&str>,
    ) -> Result<String, CallError> {
        let cache = &self.crm.state.token;
        match refused {
            None => cache.get(|_| self.issue(client, false)).await,
            Some(refused) => cache.renew(refused, |_| self.issue(client, true)).await,
        }
    }

    async fn issue(
        &self,
        client: &reqwest::Client,
        after_refusal: bool,
    ) -> Result<Issued<String>, CallError> {
        let response = client
            .get(self.crm.token_url())
            .query(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.crm.client_id.as_str()),
                ("client_secret", self.crm.client_secret.expose()),
            ])
            .timeout(self.delivery.timeout())
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
                _ => status_text(status, &text),
            };
            return Err(CallError::Identity { status, message });
        }
        let answer: IdentityAnswer = serde_json::from_str(&text)
            .map_err(|error| CallError::Unreadable(format!("identity: {error}")))?;
        if answer.access_token.is_empty() {
            return Err(CallError::Unreadable("identity: empty access_token".into()));
        }
        if after_refusal {
            tracing::info!(
                message = "Marketo access token renewed after Marketo refused it.",
                crm = "marketo"
            );
        }
        Ok(Issued {
            token: answer.access_token,
            lifetime: Some(Duration::from_secs(answer.expires_in)),
        })
    }
}
