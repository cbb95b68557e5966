//! One REST call to the org: with the cached token, a new token and one resend when
//! Salesforce says the session is gone, and the API usage each answer reports.

use super::auth::{self, Token};
use super::error::{describe, error_code, CallError};
use super::limits::ApiUsage;
use super::SalesforceSink;
use crate::sinks::retry;
use crate::sinks::token::Issued;
use reqwest::Method;
use std::time::Duration;

/// Calls on behalf of one sink.
pub struct Api<'a> {
    pub sink: &'a SalesforceSink,
    pub client: &'a reqwest::Client,
}

impl Api<'_> {
    /// The cached token, or a new one.
    pub async fn token(&self) -> Result<Token, CallError> {
        self.sink.crm.state.token.get(|_| self.sign_in()).await
    }

    /// A new token instead of `stale`, unless a concurrent call has already got one.
    async fn renew(&self, stale: &Token) -> Result<Token, CallError> {
        self.sink
            .crm
            .state
            .token
            .renew(&stale.access_token, |_| async {
                let issued = self.sign_in().await?;
                tracing::info!(message = "Salesforce session expired; signed in again.", kind = "salesforce", instance = %issued.token.instance_url);
                Ok(issued)
            })
            .await
    }

    /// Neither flow says how long a token lives (that is the org's session timeout),
    /// so it is kept until Salesforce refuses it.
    async fn sign_in(&self) -> Result<Issued<Token>, CallError> {
        let token = auth::fetch(&self.sink.crm, self.sink.delivery.timeout(), self.client).await?;
        Ok(Issued {
            token,
            lifetime: None,
        })
    }

    /// `path` under the instance URL (`/services/data/…`); JSON back (`null` for 204).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, CallError> {
        let token = self.token().await?;
        let (status, retry_after, text) =
            match self.once(&token, &method, path, query, body).await? {
                (401, _, _) => {
                    let fresh = self.renew(&token).await?;
                    self.once(&fresh, &method, path, query, body).await?
                }
                answer => answer,
            };
        if (200..300).contains(&status) {
            if text.trim().is_empty() {
                return Ok(serde_json::Value::Null);
            }
            return serde_json::from_str(&text).map_err(|error| CallError::Unreadable {
                what: path.to_string(),
                message: error.to_string(),
            });
        }
        Err(CallError::Status {
            what: path.to_string(),
            status,
            retry_after,
            code: error_code(&text),
            message: describe(status, &text),
        })
    }

    async fn once(
        &self,
        token: &Token,
        method: &Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, Option<Duration>, String), CallError> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", token.instance_url))
            .bearer_auth(&token.access_token)
            .timeout(self.sink.delivery.timeout());
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(CallError::network)?;
        let usage = response
            .headers()
            .get("sforce-limit-info")
            .and_then(|value| value.to_str().ok())
            .and_then(ApiUsage::parse);
        if let Some(usage) = usage {
            if let Ok(mut latest) = self.sink.crm.state.usage.lock() {
                *latest = Some(usage);
            }
        }
        let status = response.status().as_u16();
        let retry_after = retry::retry_after(response.headers());
        let text = response.text().await.unwrap_or_default();
        Ok((status, retry_after, text))
    }

    /// The service root of this API version, `/services/data/v61.0`.
    pub fn data(&self, rest: &str) -> String {
        format!("/services/data/{}{rest}", self.sink.crm.api_version)
    }
}
