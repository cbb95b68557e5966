//! One request to Pipedrive: paced by the sink's limiter and by what Pipedrive's
//! rate-limit headers asked for, authenticated, and with OAuth sent once more after a
//! refresh; how Pipedrive words its errors; and Pipedrive's own reading of a status.

use super::PipedriveSink;
use crate::sinks::retry::{self, Class};
use crate::sinks::{error_chain, status_text, SinkError};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Pipedrive's burst window; the wait when a 429 names none.
pub(super) const BURST_WINDOW: Duration = Duration::from_secs(2);
/// A reset header far beyond the 2 s window is not believed further than this.
pub(super) const MAX_RESET_WAIT: Duration = Duration::from_secs(60);
/// With the daily budget spent, one request this often finds out whether it is back
/// (it resets at midnight in Pipedrive's server time zone, which we cannot know).
pub(super) const DAILY_PROBE: Duration = Duration::from_secs(300);

/// The shared table, and Pipedrive's 402: payment, like credentials and permissions, is
/// for the operator to fix, and records stay queued meanwhile.
pub(super) fn class(status: u16) -> Class {
    match status {
        402 => Class::Transient,
        status => retry::class(status),
    }
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

pub(super) fn describe(status: u16, body: &str) -> String {
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let text = parsed
        .message
        .filter(|m| !m.is_empty())
        .or(parsed.error.filter(|e| !e.is_empty()));
    match text {
        Some(text) => format!("HTTP {status}: {text}"),
        None => status_text(status, body),
    }
}

/// An answer with `success: false` despite a 2xx status.
pub(super) fn refused_despite_2xx(body: &str) -> Option<String> {
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
pub(super) fn rate_wait(status: u16, headers: &HeaderMap) -> Option<Duration> {
    let reset = header_number(headers, "x-ratelimit-reset").map(seconds);
    if status == 429 {
        // A spent daily budget comes with a Retry-After of up to hours; it is meant.
        return Some(
            retry::retry_after(headers)
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
pub(super) struct Answer {
    pub status: u16,
    /// The wait the rate-limit headers asked for.
    pub wait: Option<Duration>,
    pub retry_after: Option<Duration>,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum CallError {
    #[error("cannot reach Pipedrive: {0}")]
    Network(String),
    #[error("cannot refresh the OAuth access token: {0}")]
    Refresh(String),
}

pub(super) fn call_sink_error(error: CallError) -> SinkError {
    match error {
        CallError::Network(message) => SinkError::Network(message),
        CallError::Refresh(message) => SinkError::Auth(message),
    }
}

pub(super) fn api_error(what: &str, answer: &Answer) -> SinkError {
    SinkError::refused(what, answer.status, describe(answer.status, &answer.text))
}

impl PipedriveSink {
    fn hold_off(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut not_before = self
            .crm
            .state
            .not_before
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *not_before = Some(not_before.map_or(until, |current| current.max(until)));
    }

    /// The wait still ahead, for the shared loop's `pause`.
    pub(super) fn pending_wait(&self) -> Option<Duration> {
        let not_before = *self
            .crm
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
        self.crm
            .state
            .limiter
            .until_ready(&self.delivery.rate_limit)
            .await;
    }

    /// One API request: paced, authenticated, and with OAuth sent once more after a
    /// refresh if Pipedrive refuses the access token.
    pub(super) async fn call(
        &self,
        client: &reqwest::Client,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Answer, CallError> {
        let mut refreshed = false;
        loop {
            self.wait_turn().await;
            let mut request = client
                .request(method.clone(), url)
                .timeout(self.delivery.timeout());
            let bearer = if let Some(token) = &self.crm.api_token {
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
                .map_err(|error| CallError::Network(error_chain(&error.without_url())))?;
            let status = response.status().as_u16();
            let wait = rate_wait(status, response.headers());
            if let Some(wait) = wait {
                self.hold_off(wait);
            }
            let retry_after = retry::retry_after(response.headers());
            let text = response.text().await.unwrap_or_default();
            if let (401, false, Some(used)) = (status, refreshed, bearer.as_deref()) {
                if self.crm.can_refresh() {
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
}
