//! Sinks: write the fields reps see back into their CRM.
//!
//! Each CRM is one file that maps fields, builds a batch request, reads the answer and
//! creates its fields ([`Crm`]). The push loop here is shared: it takes the outbox in
//! batches, waits for the sink's rate limit, sends up to `concurrency` batches at once,
//! removes what the CRM accepted (unless a newer value arrived meanwhile), backs off on
//! 429/5xx, retries failing records and parks the hopeless in dead letters.

pub mod setup;

use crate::clock::now_millis;
use crate::fields::{Recipient, Records};
use crate::metrics::{Metrics, SinkLabels, SinkStatusLabels};
use crate::model::Identity;
use crate::store::{OutboxEntry, Pending, Store, StoreError};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use serde::Deserialize;
pub use setup::{Setup, SinkError};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

macro_rules! sinks {
    ($($variant:ident => $module:ident :: $config:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// `[sinks.<name>]`; `kind` picks the CRM.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum SinkConfig {
            $($variant($module::$config),)+
        }

        impl SinkConfig {
            fn crm(&self) -> &(dyn CrmInfo + Send + Sync) {
                match self {
                    $(SinkConfig::$variant(config) => config,)+
                }
            }

            /// The config `kind` of this sink.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(SinkConfig::$variant(_) => stringify!($module),)+
                }
            }

            async fn send(&self, client: &reqwest::Client, records: Records, batch: &[OutboxEntry]) -> Outcome {
                match self {
                    $(SinkConfig::$variant(config) => config.send(client, records, batch).await,)+
                }
            }

            /// Creates the CRM fields this sink writes (`attentiond setup-crm`).
            pub async fn setup(&self, client: &reqwest::Client, setup: &mut Setup) -> Result<(), SinkError> {
                match self {
                    $(SinkConfig::$variant(config) => config.setup(client, setup).await,)+
                }
            }
        }
    };
}

sinks! {
    Hubspot => hubspot::HubspotSink,
    Marketo => marketo::MarketoSink,
    Salesforce => salesforce::SalesforceSink,
    Pipedrive => pipedrive::PipedriveSink,
}

/// A token bucket: `requests` per `per_secs`, the burst being the whole bucket.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests: u32,
    pub per_secs: f64,
}

impl RateLimit {
    pub fn validate(&self) -> Result<(), String> {
        if self.requests == 0 || self.per_secs.is_nan() || self.per_secs <= 0.0 {
            return Err("requests and per_secs must be above 0".into());
        }
        Ok(())
    }

    pub(crate) fn limiter(&self) -> DefaultDirectRateLimiter {
        let requests = NonZeroU32::new(self.requests).unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs_f64(self.per_secs / f64::from(requests.get()))
            .max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(requests))
            .allow_burst(requests);
        RateLimiter::direct(quota)
    }
}

/// How hard a sink may press on its CRM.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub rate: RateLimit,
    /// Requests in flight at once.
    pub concurrency: usize,
}

/// The synchronous part of a CRM: settings and addressing.
pub trait CrmInfo {
    fn validate(&self) -> Result<(), (String, String)>;
    /// Can this contact be written at all (does the CRM know an id or email)?
    fn addressable(&self, identities: &[Identity]) -> bool;
    /// Does this CRM hold the account with this key (`hubspot-company:<id>`)?
    fn account_addressable(&self, _account: &str) -> bool {
        false
    }
    /// Most records per request.
    fn batch_limit(&self, records: Records) -> usize;
    fn flush_interval(&self) -> Duration;
    /// Failures of one record before it is parked.
    fn max_attempts(&self) -> u32;
    fn limits(&self) -> Limits;
}

/// A CRM: [`CrmInfo`] plus sending one batch and creating its fields.
pub trait Crm: CrmInfo {
    /// Writes one batch; all entries are of the kind `records`.
    fn send(
        &self,
        client: &reqwest::Client,
        records: Records,
        batch: &[OutboxEntry],
    ) -> impl std::future::Future<Output = Outcome> + Send;

    /// Creates the fields the sink writes, unless they exist; says what it did.
    fn setup(
        &self,
        client: &reqwest::Client,
        setup: &mut Setup,
    ) -> impl std::future::Future<Output = Result<(), SinkError>> + Send;
}

/// How a batch went, as the shared loop needs to know it.
#[derive(Debug)]
pub enum Outcome {
    /// The CRM answered per record: `None` accepted, `Some(error)` refused.
    /// `pause` when the CRM says its budget is nearly spent (Salesforce's daily
    /// limit, Pipedrive's remaining tokens): no request before it has passed.
    PerRecord {
        status: u16,
        errors: Vec<Option<String>>,
        pause: Option<Duration>,
    },
    /// Nothing was written and trying again later will help (429, 5xx, network,
    /// or credentials the operator must fix). `retry_after` when the CRM said.
    Transient {
        status: Option<u16>,
        retry_after: Option<Duration>,
        error: String,
    },
    /// The whole batch was refused (4xx): one bad record can do that, so the
    /// records are retried one by one.
    Rejected { status: u16, error: String },
}

impl SinkConfig {
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.crm().validate()
    }
}

impl Recipient for SinkConfig {
    fn addressable(&self, identities: &[Identity]) -> bool {
        self.crm().addressable(identities)
    }

    fn account_addressable(&self, account: &str) -> bool {
        self.crm().account_addressable(account)
    }
}

/// "error sending request: connection refused" rather than the first word alone.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After` in seconds or as an HTTP date.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.timestamp_millis() - now_millis();
    Some(Duration::from_millis(wait.max(0) as u64))
}

const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … capped at a minute, so a CRM back
/// from an outage is written to within a minute.
pub fn backoff(failures: u32) -> Duration {
    let ceiling = Duration::from_secs(1u64 << failures.min(9)).min(MAX_BACKOFF);
    let jittered =
        rand::thread_rng().gen_range(ceiling.as_millis() as u64 / 2..=ceiling.as_millis() as u64);
    Duration::from_millis(jittered)
}

/// Runs one sink until `stop` turns true.
pub struct PushLoop {
    pub name: String,
    pub config: SinkConfig,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub client: reqwest::Client,
}

impl PushLoop {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let crm = self.config.crm();
        let interval = crm.flush_interval();
        let limits = crm.limits();
        let limiter = limits.rate.limiter();
        let concurrency = limits.concurrency.max(1);
        let mut failures = 0u32;
        let mut one_by_one = [false, false];
        loop {
            let wait = if failures == 0 {
                interval
            } else {
                backoff(failures)
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            'drain: loop {
                self.update_gauges();
                let mut sent_any = false;
                for (slot, records) in [Records::Contacts, Records::Accounts]
                    .into_iter()
                    .enumerate()
                {
                    let limit = if one_by_one[slot] {
                        1
                    } else {
                        crm.batch_limit(records).max(1)
                    };
                    let taken = match self.take_batch(records, limit * concurrency) {
                        Ok(taken) => taken,
                        Err(error) => {
                            tracing::error!(message = "Cannot read the outbox.", sink = %self.name, %error);
                            failures += 1;
                            break 'drain;
                        }
                    };
                    if taken.is_empty() {
                        one_by_one[slot] = false;
                        continue;
                    }
                    sent_any = true;
                    let batches: Vec<&[Pending]> = taken.chunks(limit).collect();
                    let this = &self;
                    let sends = batches.iter().map(|batch| {
                        let limiter = &limiter;
                        async move {
                            limiter.until_ready().await;
                            let entries: Vec<OutboxEntry> =
                                batch.iter().map(|pending| pending.entry.clone()).collect();
                            this.config.send(&this.client, records, &entries).await
                        }
                    });
                    let outcomes = tokio::select! {
                        outcomes = futures_util::future::join_all(sends) => outcomes,
                        _ = stop.changed() => return,
                    };
                    let mut retry_after: Option<Duration> = None;
                    let mut transient = false;
                    let mut pause: Option<Duration> = None;
                    for (batch, outcome) in batches.iter().zip(outcomes) {
                        match outcome {
                            Outcome::PerRecord {
                                status,
                                errors,
                                pause: wanted,
                            } => {
                                self.count_request(status.to_string());
                                if let Err(error) = self.settle(batch, &errors) {
                                    tracing::error!(message = "Cannot record sink results.", sink = %self.name, %error);
                                }
                                pause = pause.max(wanted);
                            }
                            Outcome::Transient {
                                status,
                                retry_after: wait,
                                error,
                            } => {
                                self.count_request(
                                    status
                                        .map(|s| s.to_string())
                                        .unwrap_or_else(|| "error".into()),
                                );
                                self.metrics
                                    .sink_retries
                                    .get_or_create(&self.labels())
                                    .inc();
                                tracing::warn!(message = "CRM unavailable; batch kept for retry.", sink = %self.name, %error, status, failures = failures + 1);
                                transient = true;
                                retry_after = retry_after.max(wait);
                            }
                            Outcome::Rejected { status, error } => {
                                self.count_request(status.to_string());
                                if batch.len() > 1 {
                                    tracing::warn!(message = "CRM refused a batch; retrying its records one by one.", sink = %self.name, %error, status);
                                    one_by_one[slot] = true;
                                } else if let Err(error) = self.settle(batch, &[Some(error)]) {
                                    tracing::error!(message = "Cannot record sink results.", sink = %self.name, %error);
                                }
                            }
                        }
                    }
                    if transient {
                        failures += 1;
                        match retry_after {
                            Some(delay) => {
                                tokio::select! {
                                    _ = tokio::time::sleep(delay) => {}
                                    _ = stop.changed() => return,
                                }
                                continue 'drain;
                            }
                            None => break 'drain,
                        }
                    }
                    failures = 0;
                    if one_by_one[slot] && self.ready_count(records) == 0 {
                        one_by_one[slot] = false;
                    }
                    if let Some(delay) = pause {
                        tracing::info!(message = "CRM budget nearly spent; slowing down.", sink = %self.name, pause_ms = delay.as_millis() as u64);
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = stop.changed() => return,
                        }
                    }
                }
                if !sent_any {
                    break;
                }
            }
        }
    }

    fn labels(&self) -> SinkLabels {
        SinkLabels {
            sink: self.name.clone(),
        }
    }

    fn count_request(&self, status: String) {
        self.metrics
            .sink_requests
            .get_or_create(&SinkStatusLabels {
                sink: self.name.clone(),
                status,
            })
            .inc();
    }

    fn ready_count(&self, records: Records) -> usize {
        self.store
            .outbox_due_count(&self.name, records, now_millis())
    }

    fn update_gauges(&self) {
        let (pending, oldest) = self.store.outbox_stats(&self.name);
        self.metrics
            .outbox(&self.name, pending, oldest, now_millis());
    }

    /// Up to `limit` entries due now.
    fn take_batch(&self, records: Records, limit: usize) -> Result<Vec<Pending>, StoreError> {
        self.store
            .outbox_due(&self.name, records, limit, now_millis())
    }

    /// Applies per-record results. An entry replaced by a newer value while the
    /// request was in flight is left alone: the newer value still has to go.
    fn settle(&self, batch: &[Pending], errors: &[Option<String>]) -> Result<(), StoreError> {
        let max_attempts = self.config.crm().max_attempts();
        let labels = self.labels();
        for (index, pending) in batch.iter().enumerate() {
            let entry = &pending.entry;
            let Some(error) = errors.get(index).cloned().flatten() else {
                if self.store.outbox_delivered(&self.name, pending)? {
                    self.metrics
                        .sink_records_written
                        .get_or_create(&labels)
                        .inc();
                }
                continue;
            };
            let attempts = entry.attempts + 1;
            if attempts >= max_attempts {
                if self
                    .store
                    .outbox_park(&self.name, pending, &error, now_millis())?
                {
                    self.metrics.dead_letters.get_or_create(&labels).inc();
                    tracing::warn!(message = "Record parked in dead letters.", sink = %self.name, contact = entry.contact, %error, attempts);
                }
            } else {
                let not_before = now_millis() + backoff(attempts).as_millis() as i64;
                self.store
                    .outbox_retry_later(&self.name, pending, not_before, &error)?;
                self.metrics.sink_retries.get_or_create(&labels).inc();
                tracing::info!(message = "CRM refused a record; will retry.", sink = %self.name, contact = entry.contact, %error, attempts);
            }
        }
        Ok(())
    }
}
