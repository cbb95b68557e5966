//! HubSpot deals: every deal whose outcome named nobody is read in batches of 100
//! (its contacts, companies, amount), at most `lookups_per_second` calls a second;
//! a 429 waits out its `Retry-After`, a 5xx or a dropped connection is retried with
//! a growing pause. See `sources::hubspot::deals` for the requests and answers.

use super::LookupError;
use crate::clock::now_millis;
use crate::secret::Secret;
use crate::sources::hubspot::deals;
use crate::store::{GroupCommit, Store};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;
use tokio::sync::watch;

/// Attempts of one call before the batch is left for the next round.
const ATTEMPTS: u32 = 6;
/// How often the store is asked for waiting deals.
const POLL: Duration = Duration::from_millis(500);

pub struct DealLookup {
    /// The name of the HubSpot source: the answers are its deliveries.
    pub source: String,
    pub api_url: String,
    pub token: Secret,
    pub per_second: u32,
    pub store: Store,
    pub commit: GroupCommit,
    pub client: reqwest::Client,
}

impl DealLookup {
    /// Looks up waiting deals until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let limiter = RateLimiter::direct(Quota::per_second(
            NonZeroU32::new(self.per_second).unwrap_or(NonZeroU32::MIN),
        ));
        let mut failures = 0u32;
        loop {
            let pause = if failures == 0 {
                POLL
            } else {
                Duration::from_secs(2u64.pow(failures.min(6)))
            };
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => return,
                () = tokio::time::sleep(pause) => {}
            }
            match self.round(&limiter, &mut stop).await {
                Ok(looked_up) => {
                    failures = 0;
                    if looked_up > 0 {
                        tracing::info!(message = "HubSpot deals looked up.", source = %self.source, deals = looked_up);
                    }
                }
                Err(error) => {
                    failures += 1;
                    tracing::warn!(message = "HubSpot deal lookup failed; trying again later.", source = %self.source, %error, failures);
                }
            }
        }
    }

    /// Looks up one batch of waiting deals; how many.
    async fn round(
        &self,
        limiter: &DefaultDirectRateLimiter,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<usize, LookupError> {
        let waiting = self
            .store
            .opportunities_waiting("hubspot-deal:", deals::BATCH)?;
        let ids: Vec<&str> = waiting
            .iter()
            .filter_map(|opportunity| deals::deal_id(&opportunity.key))
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        // Read after the outcomes that asked for it were applied: the answer covers them.
        let read_at = now_millis();
        let read = self
            .call(
                limiter,
                stop,
                "/crm/v3/objects/deals/batch/read",
                deals::read_body(&ids),
            )
            .await?;
        let body = deals::associations_body(&ids);
        let contacts = self
            .call(
                limiter,
                stop,
                "/crm/v4/associations/deals/contacts/batch/read",
                body.clone(),
            )
            .await?;
        let companies = self
            .call(
                limiter,
                stop,
                "/crm/v4/associations/deals/companies/batch/read",
                body,
            )
            .await?;
        let accepted = deals::links(&ids, &read, &contacts, &companies, read_at)?;
        // The raw answers are kept with the delivery, for audit like a webhook's body.
        let mut raw = read;
        for part in [contacts, companies] {
            raw.push(b'\n');
            raw.extend_from_slice(&part);
        }
        self.store
            .append(&self.commit, &self.source, accepted, &raw, now_millis())
            .await?;
        Ok(ids.len())
    }

    /// One POST, rate-limited and retried; the body of its 2xx answer (HubSpot
    /// answers 207 when some ids are unknown, with the rest in `results`).
    async fn call(
        &self,
        limiter: &DefaultDirectRateLimiter,
        stop: &mut watch::Receiver<bool>,
        path: &str,
        body: serde_json::Value,
    ) -> Result<Vec<u8>, LookupError> {
        let url = format!("{}{path}", self.api_url.trim_end_matches('/'));
        let mut last_status = 0;
        for attempt in 1..=ATTEMPTS {
            limiter.until_ready().await;
            let sent = self
                .client
                .post(&url)
                .bearer_auth(self.token.expose())
                .timeout(Duration::from_secs(30))
                .json(&body)
                .send()
                .await;
            let wait = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| value.trim().parse::<u64>().ok());
                    let wait = match status {
                        200..=299 => return Ok(response.bytes().await?.to_vec()),
                        429 => Duration::from_secs(retry_after.unwrap_or(10)),
                        500..=599 => Duration::from_millis(500 * 2u64.pow(attempt - 1)),
                        _ => {
                            let text = response.text().await.unwrap_or_default();
                            return Err(LookupError::Refused {
                                status,
                                body: text.chars().take(500).collect(),
                            });
                        }
                    };
                    last_status = status;
                    wait.clamp(Duration::from_millis(100), Duration::from_secs(120))
                }
                Err(error) if attempt == ATTEMPTS => return Err(error.into()),
                Err(_) => Duration::from_millis(500 * 2u64.pow(attempt - 1)),
            };
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        Err(LookupError::GaveUp {
            status: last_status,
            attempts: ATTEMPTS,
        })
    }
}
