//! Sinks: write the fields reps see back into their CRM.
//!
//! Each CRM is one file that maps fields, builds a batch request and reads the answer
//! ([`Crm`]). The push loop here is shared: it takes the outbox in batches, sends,
//! removes what the CRM accepted (unless a newer value arrived meanwhile), backs off
//! on 429/5xx, retries failing records and parks the hopeless in dead letters.

use crate::metrics::{Metrics, SinkLabels, SinkStatusLabels};
use crate::model::Identity;
use crate::pipeline::now_millis;
use crate::store::records::{dead_letter_id, outbox_key, outbox_prefix, u64_key};
use crate::store::{DeadLetter, OutboxEntry, Store, StoreError};
use rand::Rng;
use serde::Deserialize;
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

            async fn send(&self, client: &reqwest::Client, batch: &[OutboxEntry]) -> Outcome {
                match self {
                    $(SinkConfig::$variant(config) => config.send(client, batch).await,)+
                }
            }
        }
    };
}

sinks! {
    Hubspot => hubspot::HubspotSink,
}

/// The synchronous part of a CRM: settings and addressing.
pub trait CrmInfo {
    fn validate(&self) -> Result<(), (String, String)>;
    /// Can this contact be written at all (does the CRM know an id or email)?
    fn addressable(&self, identities: &[Identity]) -> bool;
    /// Most records per request.
    fn batch_limit(&self) -> usize;
    fn flush_interval(&self) -> Duration;
    /// Failures of one record before it is parked.
    fn max_attempts(&self) -> u32;
}

/// A CRM: [`CrmInfo`] plus sending one batch.
pub trait Crm: CrmInfo {
    fn send(
        &self,
        client: &reqwest::Client,
        batch: &[OutboxEntry],
    ) -> impl std::future::Future<Output = Outcome> + Send;
}

/// How a batch went, as the shared loop needs to know it.
#[derive(Debug)]
pub enum Outcome {
    /// The CRM answered per record: `None` accepted, `Some(error)` refused.
    PerRecord {
        status: u16,
        errors: Vec<Option<String>>,
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

    pub fn addressable(&self, identities: &[Identity]) -> bool {
        self.crm().addressable(identities)
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

const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Exponential backoff with full jitter: 1 s, 2 s, 4 s … capped at 5 minutes.
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
        let mut failures = 0u32;
        let mut one_by_one = false;
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
            loop {
                self.update_gauges();
                let limit = if one_by_one { 1 } else { crm.batch_limit() };
                let batch = match self.take_batch(limit) {
                    Ok(batch) => batch,
                    Err(error) => {
                        tracing::error!(message = "Cannot read the outbox.", sink = %self.name, %error);
                        failures += 1;
                        break;
                    }
                };
                if batch.is_empty() {
                    one_by_one = false;
                    break;
                }
                let entries: Vec<OutboxEntry> =
                    batch.iter().map(|(_, entry)| entry.clone()).collect();
                let outcome = self.config.send(&self.client, &entries).await;
                match outcome {
                    Outcome::PerRecord { status, errors } => {
                        self.count_request(status.to_string());
                        failures = 0;
                        if let Err(error) = self.settle(&batch, &errors) {
                            tracing::error!(message = "Cannot record sink results.", sink = %self.name, %error);
                        }
                        if one_by_one && self.ready_count() == 0 {
                            one_by_one = false;
                        }
                    }
                    Outcome::Transient {
                        status,
                        retry_after,
                        error,
                    } => {
                        self.count_request(
                            status
                                .map(|s| s.to_string())
                                .unwrap_or_else(|| "error".into()),
                        );
                        self.metrics
                            .sink_retries
                            .get_or_create(&SinkLabels {
                                sink: self.name.clone(),
                            })
                            .inc();
                        failures += 1;
                        tracing::warn!(message = "CRM unavailable; batch kept for retry.", sink = %self.name, %error, status, failures);
                        if let Some(delay) = retry_after {
                            tokio::select! {
                                _ = tokio::time::sleep(delay) => {}
                                _ = stop.changed() => return,
                            }
                            continue;
                        }
                        break;
                    }
                    Outcome::Rejected { status, error } => {
                        self.count_request(status.to_string());
                        if batch.len() > 1 {
                            tracing::warn!(message = "CRM refused a batch; retrying its records one by one.", sink = %self.name, %error, status);
                            one_by_one = true;
                        } else {
                            let errors = vec![Some(error)];
                            if let Err(error) = self.settle(&batch, &errors) {
                                tracing::error!(message = "Cannot record sink results.", sink = %self.name, %error);
                            }
                        }
                    }
                }
            }
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

    fn ready_count(&self) -> usize {
        let now = now_millis();
        self.store
            .trees()
            .outbox
            .scan_prefix(outbox_prefix(&self.name))
            .values()
            .filter_map(|value| value.ok())
            .filter_map(|value| serde_json::from_slice::<OutboxEntry>(&value).ok())
            .filter(|entry| entry.not_before <= now)
            .count()
    }

    fn update_gauges(&self) {
        crate::metrics::record_outbox(&self.metrics, &self.store, &self.name, now_millis());
    }

    /// Up to `limit` entries due now, with the exact bytes read (for compare-and-swap).
    fn take_batch(&self, limit: usize) -> Result<Vec<(sled::IVec, OutboxEntry)>, StoreError> {
        let now = now_millis();
        let mut batch = Vec::new();
        let outbox = &self.store.trees().outbox;
        for item in outbox.scan_prefix(outbox_prefix(&self.name)) {
            let (key, value) = item?;
            let Ok(entry) = serde_json::from_slice::<OutboxEntry>(&value) else {
                tracing::error!(message = "Unreadable outbox entry dropped.", sink = %self.name);
                outbox.remove(key)?;
                continue;
            };
            if entry.not_before > now {
                continue;
            }
            batch.push((value, entry));
            if batch.len() == limit {
                break;
            }
        }
        Ok(batch)
    }

    /// Applies per-record results. An entry replaced by a newer value while the
    /// request was in flight is left alone: the newer value still has to go.
    fn settle(
        &self,
        batch: &[(sled::IVec, OutboxEntry)],
        errors: &[Option<String>],
    ) -> Result<(), StoreError> {
        let outbox = &self.store.trees().outbox;
        let max_attempts = self.config.crm().max_attempts();
        let labels = SinkLabels {
            sink: self.name.clone(),
        };
        for (index, (read, entry)) in batch.iter().enumerate() {
            let key = outbox_key(&self.name, entry.contact);
            match errors.get(index).cloned().flatten() {
                None => {
                    if outbox
                        .compare_and_swap(&key, Some(read), None as Option<&[u8]>)?
                        .is_ok()
                    {
                        self.metrics
                            .sink_records_written
                            .get_or_create(&labels)
                            .inc();
                    }
                }
                Some(error) => {
                    let attempts = entry.attempts + 1;
                    if attempts >= max_attempts {
                        let letter = DeadLetter {
                            id: dead_letter_id(&self.name, entry.contact),
                            sink: self.name.clone(),
                            contact: entry.contact,
                            identities: entry.identities.clone(),
                            fields: entry.fields.clone(),
                            error: error.clone(),
                            attempts,
                            failed_at: now_millis(),
                        };
                        if outbox
                            .compare_and_swap(&key, Some(read), None as Option<&[u8]>)?
                            .is_ok()
                        {
                            self.store
                                .trees()
                                .dead_letters
                                .insert(u64_key(letter.id), serde_json::to_vec(&letter)?)?;
                            self.metrics.dead_letters.get_or_create(&labels).inc();
                            tracing::warn!(message = "Record parked in dead letters.", sink = %self.name, contact = entry.contact, %error, attempts);
                        }
                    } else {
                        let mut retry = entry.clone();
                        retry.attempts = attempts;
                        retry.not_before = now_millis() + backoff(attempts).as_millis() as i64;
                        retry.last_error = Some(error.clone());
                        let _ = outbox.compare_and_swap(
                            &key,
                            Some(read),
                            Some(serde_json::to_vec(&retry)?),
                        )?;
                        self.metrics.sink_retries.get_or_create(&labels).inc();
                        tracing::info!(message = "CRM refused a record; will retry.", sink = %self.name, contact = entry.contact, %error, attempts);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Puts a dead letter back in its sink's outbox, unless a newer value is queued.
pub fn retry_dead_letter(store: &Store, id: u64) -> Result<bool, StoreError> {
    let trees = store.trees();
    let Some(bytes) = trees.dead_letters.get(u64_key(id))? else {
        return Ok(false);
    };
    let letter: DeadLetter = serde_json::from_slice(&bytes)?;
    let entry = OutboxEntry {
        contact: letter.contact,
        identities: letter.identities,
        fields: letter.fields,
        queued_at: now_millis(),
        attempts: 0,
        not_before: 0,
        last_error: None,
    };
    let key = outbox_key(&letter.sink, letter.contact);
    let _ = trees.outbox.compare_and_swap(
        &key,
        None as Option<&[u8]>,
        Some(serde_json::to_vec(&entry)?),
    )?;
    trees.dead_letters.remove(u64_key(id))?;
    Ok(true)
}

pub fn delete_dead_letter(store: &Store, id: u64) -> Result<bool, StoreError> {
    Ok(store.trees().dead_letters.remove(u64_key(id))?.is_some())
}
