//! One REST call to the instance: paced by the sink's rate limit, authenticated, sent
//! again once with a new token after 601/602; and what Marketo's answer means for the
//! push loop, including the codes it puts inside a 200.

use super::MarketoSink;
use crate::clock::now_millis;
use crate::sinks::{error_chain, excerpt, retry, Outcome};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// After 615 (10 calls already in flight): those calls usually end within seconds.
pub(super) const CONCURRENCY_WAIT: Duration = Duration::from_secs(5);
/// After 607 (daily quota): the quota resets at midnight US Central; probe hourly until then.
pub(super) const QUOTA_PROBE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Deserialize)]
pub(super) struct MarketoError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl fmt::Display for MarketoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.message)
    }
}

/// Every REST answer: `result` on success, `errors` when `success` is false.
#[derive(Debug, Deserialize)]
pub(super) struct Envelope {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<MarketoError>,
    #[serde(default)]
    pub result: Vec<serde_json::Value>,
    #[serde(rename = "moreResult", default)]
    pub more_result: bool,
    #[serde(rename = "nextPageToken", default)]
    pub next_page_token: Option<String>,
}

/// Why a call to Marketo did not succeed.
#[derive(Debug, thiserror::Error)]
pub(super) enum CallError {
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

pub(super) fn network(error: reqwest::Error) -> CallError {
    // without_url: the Identity URL carries the client secret.
    CallError::Network(error_chain(&error.without_url()))
}

/// Until the quota resets (00:00 US Central, taken as 06:00 UTC) plus a minute, at
/// most [`QUOTA_PROBE`].
pub(super) fn quota_wait(now_ms: i64) -> Duration {
    const DAY: i64 = 86_400_000;
    const RESET_UTC: i64 = 6 * 3_600_000;
    let since_reset = (now_ms - RESET_UTC).rem_euclid(DAY);
    let until = Duration::from_millis((DAY - since_reset + 60_000) as u64);
    until.min(QUOTA_PROBE)
}

impl MarketoSink {
    /// One REST call: waits for the rate limit, authenticates, and renews the token and
    /// sends again once if Marketo answers 601 or 602 (such calls are not counted).
    pub(super) async fn call(
        &self,
        client: &reqwest::Client,
        post: bool,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Envelope, CallError> {
        self.crm
            .state
            .limiter
            .until_ready(&self.delivery.rate_limit)
            .await;
        let url = self.crm.url(path);
        let mut refused: Option<String> = None;
        loop {
            let token = self.token(client, refused.as_deref()).await?;
            let mut request = if post {
                client.post(&url)
            } else {
                client.get(&url)
            };
            request = request.bearer_auth(&token).timeout(self.delivery.timeout());
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(network)?;
            let status = response.status().as_u16();
            let retry_after = retry::retry_after(response.headers());
            let text = response.text().await.unwrap_or_default();
            if !(200..=299).contains(&status) {
                return Err(CallError::Http {
                    status,
                    retry_after,
                    body: excerpt(&text),
                });
            }
            let envelope: Envelope = serde_json::from_str(&text)
                .map_err(|error| CallError::Unreadable(format!("{error}: {}", excerpt(&text))))?;
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
    pub(super) fn outcome(&self, error: CallError) -> Outcome {
        let text = error.to_string();
        match error {
            CallError::Network(_) | CallError::Unreadable(_) => Outcome::unreachable(text),
            // Credentials are for the operator to fix; records stay queued meanwhile.
            CallError::Identity { status, .. } => Outcome::transient(status, None, text),
            CallError::Http {
                status,
                retry_after,
                ..
            } => Outcome::failed(status, retry_after, text),
            CallError::Marketo(marketo) => self.code_outcome(&marketo, text),
        }
    }

    /// Marketo's own table: the codes of a call refused inside a 200.
    fn code_outcome(&self, error: &MarketoError, text: String) -> Outcome {
        let status = error.code.parse::<u16>().ok();
        let transient = |retry_after| Outcome::Transient {
            status,
            retry_after,
            error: text.clone(),
        };
        match error.code.as_str() {
            "606" => transient(Some(Duration::from_secs_f64(
                self.delivery.rate_limit.per_secs,
            ))),
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
