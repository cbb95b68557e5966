//! The push loop every sink shares: it takes the outbox in batches, waits for the
//! sink's rate limit, sends up to `concurrency` batches at once, removes what the CRM
//! accepted (unless a newer value arrived meanwhile), backs off on 429/5xx, retries
//! failing records and parks the hopeless in dead letters.

use super::retry::backoff;
use super::{Outcome, SinkConfig};
use crate::clock::now_millis;
use crate::fields::Records;
use crate::metrics::{Metrics, SinkLabels, SinkStatusLabels};
use crate::store::{OutboxEntry, Pending, Store, StoreError};
use governor::DefaultDirectRateLimiter;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Runs one sink until `stop` turns true.
pub struct PushLoop {
    pub name: String,
    pub config: SinkConfig,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub client: reqwest::Client,
}

/// `stop` changed while the loop waited.
struct Stopped;

/// What the loop remembers from one round to the next.
struct Pace {
    limiter: DefaultDirectRateLimiter,
    concurrency: usize,
    /// Rounds in a row the CRM was unavailable; sets the backoff.
    failures: u32,
    /// Per kind of record: the CRM refused a whole batch, so records go one by one
    /// until none of that kind is due.
    one_by_one: [bool; 2],
}

/// How one round of sends for one kind of record went.
enum Round {
    /// Nothing was due.
    Empty,
    /// Sent; `more` when the take was full or records go one by one, so that more
    /// may be due now. Otherwise everything due went, and the next round waits for
    /// the flush interval to gather a full batch rather than send a few at a time.
    Sent { more: bool },
    /// The CRM was unavailable and said when to come back: that wait is over.
    RetryNow,
    /// The CRM was unavailable without saying for how long: back off.
    BackOff,
}

/// What the outcomes of one round add up to.
#[derive(Default)]
struct Settled {
    transient: bool,
    retry_after: Option<Duration>,
    pause: Option<Duration>,
}

async fn sleep(wait: Duration, stop: &mut watch::Receiver<bool>) -> Result<(), Stopped> {
    tokio::select! {
        _ = tokio::time::sleep(wait) => Ok(()),
        _ = stop.changed() => Err(Stopped),
    }
}

impl PushLoop {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let delivery = self.config.delivery();
        let mut pace = Pace {
            limiter: delivery.rate_limit.limiter(),
            concurrency: delivery.concurrency.max(1),
            failures: 0,
            one_by_one: [false, false],
        };
        loop {
            let wait = if pace.failures == 0 {
                delivery.flush_interval()
            } else {
                backoff(pace.failures)
            };
            if sleep(wait, &mut stop).await.is_err() || *stop.borrow() {
                return;
            }
            if self.drain(&mut pace, &mut stop).await.is_err() {
                return;
            }
        }
    }

    /// Sends what is due, contacts then accounts, round after round until nothing is
    /// left or the CRM needs a rest.
    async fn drain(
        &self,
        pace: &mut Pace,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), Stopped> {
        'drain: loop {
            self.update_gauges();
            let mut more = false;
            for (slot, records) in [Records::Contacts, Records::Accounts]
                .into_iter()
                .enumerate()
            {
                match self.round(pace, slot, records, stop).await? {
                    Round::Empty => {}
                    Round::Sent {
                        more: kind_has_more,
                    } => more |= kind_has_more,
                    Round::RetryNow => continue 'drain,
                    Round::BackOff => return Ok(()),
                }
            }
            if !more {
                return Ok(());
            }
        }
    }

    /// Takes what is due of one kind, sends it, settles the outcomes and waits as the
    /// CRM asked.
    async fn round(
        &self,
        pace: &mut Pace,
        slot: usize,
        records: Records,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Round, Stopped> {
        let limit = if pace.one_by_one[slot] {
            1
        } else {
            self.config.delivery().batch_size.max(1)
        };
        let taken = match self.take_batch(records, limit * pace.concurrency) {
            Ok(taken) => taken,
            Err(error) => {
                tracing::error!(message = "Cannot read the outbox.", sink = %self.name, %error);
                pace.failures += 1;
                return Ok(Round::BackOff);
            }
        };
        if taken.is_empty() {
            pace.one_by_one[slot] = false;
            return Ok(Round::Empty);
        }
        let full = taken.len() == limit * pace.concurrency;
        let batches: Vec<&[Pending]> = taken.chunks(limit).collect();
        let outcomes = tokio::select! {
            outcomes = self.send_all(&pace.limiter, records, &batches) => outcomes,
            _ = stop.changed() => return Err(Stopped),
        };
        let settled = self.settle_outcomes(&batches, outcomes, pace, slot);
        if settled.transient {
            pace.failures += 1;
            return match settled.retry_after {
                Some(delay) => {
                    sleep(delay, stop).await?;
                    Ok(Round::RetryNow)
                }
                None => Ok(Round::BackOff),
            };
        }
        pace.failures = 0;
        if pace.one_by_one[slot] && self.ready_count(records) == 0 {
            pace.one_by_one[slot] = false;
        }
        if let Some(delay) = settled.pause {
            tracing::info!(message = "CRM budget nearly spent; slowing down.", sink = %self.name, pause_ms = delay.as_millis() as u64);
            sleep(delay, stop).await?;
        }
        Ok(Round::Sent {
            more: full || pace.one_by_one[slot],
        })
    }

    /// Sends the batches at once, each after its turn of the rate limit.
    async fn send_all(
        &self,
        limiter: &DefaultDirectRateLimiter,
        records: Records,
        batches: &[&[Pending]],
    ) -> Vec<Outcome> {
        let sends = batches.iter().map(|batch| async move {
            limiter.until_ready().await;
            let entries: Vec<OutboxEntry> =
                batch.iter().map(|pending| pending.entry.clone()).collect();
            self.config.send(&self.client, records, &entries).await
        });
        futures_util::future::join_all(sends).await
    }

    /// Counts and records each batch's outcome; says what they add up to.
    fn settle_outcomes(
        &self,
        batches: &[&[Pending]],
        outcomes: Vec<Outcome>,
        pace: &mut Pace,
        slot: usize,
    ) -> Settled {
        let mut settled = Settled::default();
        for (batch, outcome) in batches.iter().zip(outcomes) {
            match outcome {
                Outcome::PerRecord {
                    status,
                    errors,
                    pause,
                } => {
                    self.count_request(status.to_string());
                    if let Err(error) = self.settle(batch, &errors) {
                        tracing::error!(message = "Cannot record sink results.", sink = %self.name, %error);
                    }
                    settled.pause = settled.pause.max(pause);
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
                        .get_or_create(&self.labels())
                        .inc();
                    tracing::warn!(message = "CRM unavailable; batch kept for retry.", sink = %self.name, %error, status, failures = pace.failures + 1);
                    settled.transient = true;
                    settled.retry_after = settled.retry_after.max(retry_after);
                }
                Outcome::Rejected { status, error } => {
                    self.count_request(status.to_string());
                    if batch.len() > 1 {
                        tracing::warn!(message = "CRM refused a batch; retrying its records one by one.", sink = %self.name, %error, status);
                        pace.one_by_one[slot] = true;
                    } else if let Err(error) = self.settle(batch, &[Some(error)]) {
                        tracing::error!(message = "Cannot record sink results.", sink = %self.name, %error);
                    }
                }
            }
        }
        settled
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
        let max_attempts = self.config.delivery().max_attempts;
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
