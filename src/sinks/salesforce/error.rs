//! What can go wrong talking to Salesforce, how Salesforce words it
//! (`[{"message", "errorCode"}]`), and what each failure means for the push loop and
//! for `setup-crm`. Sign-in (`auth`) and REST calls (`api`) both answer in these terms.

use super::limits::MAX_PAUSE;
use crate::sinks::{error_chain, status_text, Outcome, SinkError};
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
        CallError::Network(error_chain(&error.without_url()))
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
            } => {
                // The org's daily budget is spent: nothing will pass for a while.
                let budget_spent = status == 403
                    && code.as_deref() == Some("REQUEST_LIMIT_EXCEEDED")
                    && message.contains("TotalRequests");
                let retry_after = if budget_spent {
                    Some(retry_after.unwrap_or(MAX_PAUSE))
                } else {
                    retry_after
                };
                Outcome::failed(status, retry_after, message)
            }
            CallError::Auth { status, message } => {
                Outcome::transient(status, None, format!("token request refused: {message}"))
            }
            other => Outcome::unreachable(other.to_string()),
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
                what,
                status,
                message,
                ..
            } => SinkError::refused(what, status, message),
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

/// `INVALID_FIELD`, when the body is Salesforce's error list.
pub fn error_code(body: &str) -> Option<String> {
    first_error(body).map(|error| error.error_code)
}

/// "HTTP 400 INVALID_FIELD: No such column …", or the start of an unknown body.
pub fn describe(status: u16, body: &str) -> String {
    match first_error(body) {
        Some(error) if !error.error_code.is_empty() => {
            format!("HTTP {status} {}: {}", error.error_code, error.message)
        }
        _ => status_text(status, body),
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
                assert_eq!(retry_after, Some(MAX_PAUSE))
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
