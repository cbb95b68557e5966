//! One REST call to the org: with the cached token, a new token and one resend when
//! Salesforce says the session is gone, and the API usage each answer reports.

use super::auth::{self, Token};
use super::limits::ApiUsage;
use super::SalesforceSink;
use crate::sinks::{Outcome, SinkError};
use reqwest::Method;
use serde::Deserialize;
use std::time::Duration;

/// What went wrong talking to Salesforce.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("cannot reach Salesforce: {0}")]
    Network(String),
    /// The token endpoint refused the app's credentials.
    #[error("Salesforce refused the credentials: {message}")]
    Auth { status: u16, message: String },
    /// The credentials cannot even be presented (unreadable key file).
    #[error("{0}")]
    Credentials(String),
    #[error("{message}")]
    Status {
        what: String,
        status: u16,
        retry_after: Option<Duration>,
        code: Option<String>,
        message: String,
    },
    #[error("unexpected answer from {what}: {message}")]
    Unreadable { what: String, message: String },
}

impl CallError {
    pub fn network(error: reqwest::Error) -> CallError {
        CallError::Network(crate::sinks::error_chain(&error.without_url()))
    }

    /// How the push loop treats a batch that failed this way.
    pub fn outcome(self) -> Outcome {
        match self {
            CallError::Status {
                status,
                retry_after,
                code,
                message,
                ..
            } => match status {
                // The org's daily budget is spent: nothing will pass for a while.
                403 if code.as_deref() == Some("REQUEST_LIMIT_EXCEEDED")
                    && message.contains("TotalRequests") =>
                {
                    Outcome::Transient {
                        status: Some(status),
                        retry_after: Some(retry_after.unwrap_or(super::limits::MAX_PAUSE)),
                        error: message,
                    }
                }
                // Credentials and permissions are for the operator to fix; records
                // stay queued meanwhile.
                401 | 403 | 408 | 429 | 500..=599 => Outcome::Transient {
                    status: Some(status),
                    retry_after,
                    error: message,
                },
                _ => Outcome::Rejected {
                    status,
                    error: message,
                },
            },
            CallError::Auth { status, message } => Outcome::Transient {
                status: Some(status),
                retry_after: None,
                error: format!("token request refused: {message}"),
            },
            other => Outcome::Transient {
                status: None,
                retry_after: None,
                error: other.to_string(),
            },
        }
    }
}

impl From<CallError> for SinkError {
    fn from(error: CallError) -> SinkError {
        match error {
            CallError::Network(message) => SinkError::Network(message),
            CallError::Auth { message, .. } | CallError::Credentials(message) => {
                SinkError::Auth(message)
            }
            CallError::Status {
                status: 401 | 403,
                message,
                ..
            } => SinkError::Auth(message),
            CallError::Status {
                what,
                status,
                message,
                ..
            } => SinkError::Api {
                what,
                status,
                message,
            },
            CallError::Unreadable { what, message } => SinkError::Unreadable { what, message },
        }
    }
}

/// A REST error body: `[{"message": "…", "errorCode": "…", "fields": [...]}]`.
#[derive(Deserialize)]
struct RestError {
    #[serde(default)]
    message: String,
    #[serde(rename = "errorCode", default)]
    error_code: String,
}

fn first_error(body: &str) -> Option<RestError> {
    serde_json::from_str::<Vec<RestError>>(body)
        .ok()?
        .into_iter()
        .next()
}

/// "HTTP 400 INVALID_FIELD: No such column …", or the start of an unknown body.
pub fn describe(status: u16, body: &str) -> String {
    match first_error(body) {
        Some(error) if !error.error_code.is_empty() => {
            format!("HTTP {status} {}: {}", error.error_code, error.message)
        }
        _ => format!(
            "HTTP {status}: {}",
            body.chars().take(300).collect::<String>()
        ),
    }
}

/// Calls on behalf of one sink.
pub struct Api<'a> {
    pub sink: &'a SalesforceSink,
    pub client: &'a reqwest::Client,
}

impl Api<'_> {
    /// The cached token, or a new one.
    pub async fn token(&self) -> Result<Token, CallError> {
        let mut cached = self.sink.state.token.lock().await;
        if let Some(token) = cached.as_ref() {
            return Ok(token.clone());
        }
        let token = auth::fetch(self.sink, self.client).await?;
        *cached = Some(token.clone());
        Ok(token)
    }

    /// A new token instead of `stale`, unless a concurrent call has already got one.
    async fn renew(&self, stale: &Token) -> Result<Token, CallError> {
        let mut cached = self.sink.state.token.lock().await;
        if let Some(token) = cached.as_ref() {
            if token.access_token != stale.access_token {
                return Ok(token.clone());
            }
        }
        *cached = None;
        let token = auth::fetch(self.sink, self.client).await?;
        tracing::info!(message = "Salesforce session expired; signed in again.", kind = "salesforce", instance = %token.instance_url);
        *cached = Some(token.clone());
        Ok(token)
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
            code: first_error(&text).map(|error| error.error_code),
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
            .timeout(Duration::from_secs(self.sink.timeout_secs));
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
            if let Ok(mut latest) = self.sink.state.usage.lock() {
                *latest = Some(usage);
            }
        }
        let status = response.status().as_u16();
        let retry_after = crate::sinks::retry_after(response.headers());
        let text = response.text().await.unwrap_or_default();
        Ok((status, retry_after, text))
    }

    /// The service root of this API version, `/services/data/v61.0`.
    pub fn data(&self, rest: &str) -> String {
        format!("/services/data/{}{rest}", self.sink.api_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Error body of the REST API guide's "Status Codes and Error Responses" and the
    // 401 of an expired session.
    #[test]
    fn rest_errors_read_as_code_and_message() {
        assert_eq!(
            describe(
                401,
                r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#
            ),
            "HTTP 401 INVALID_SESSION_ID: Session expired or invalid"
        );
        assert_eq!(
            describe(502, "<html>bad gateway</html>"),
            "HTTP 502: <html>bad gateway</html>"
        );
    }

    fn status(status: u16, code: &str, message: &str) -> CallError {
        CallError::Status {
            what: "/x".into(),
            status,
            retry_after: None,
            code: Some(code.into()),
            message: message.into(),
        }
    }

    #[test]
    fn a_spent_daily_budget_waits_long_and_other_4xx_reject_the_batch() {
        match status(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "HTTP 403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.",
        )
        .outcome()
        {
            Outcome::Transient { retry_after, .. } => {
                assert_eq!(retry_after, Some(super::super::limits::MAX_PAUSE))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            status(503, "SERVER_UNAVAILABLE", "x").outcome(),
            Outcome::Transient { .. }
        ));
        assert!(matches!(
            status(400, "INVALID_FIELD", "x").outcome(),
            Outcome::Rejected { status: 400, .. }
        ));
    }
}
