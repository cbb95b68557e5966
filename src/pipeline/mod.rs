//! The pipeline: one worker applies durable inbox deliveries in sequence order, and
//! between them refreshes decayed scores and prunes the inbox.
//!
//! It is the only writer of contacts, identities and touches, so it can read state
//! outside a transaction and still write consistently inside one.

mod accounts;
mod apply;
mod context;
mod erase;
mod identity;
mod queue;
pub mod rescore;
mod rounds;
#[cfg(test)]
mod tests;

pub use apply::{apply_deliveries, apply_deliveries_upto, refresh, Applied};
pub use context::Context;
pub use erase::{erase, Erased, Erasures};
pub use rounds::PipelineConfig;

use crate::clock::now_millis;
use crate::fields::Recipients;
use crate::metrics::Metrics;
use crate::scoring::ScoringConfig;
use crate::store::index::IndexSettings;
use crate::store::{Horizons, Store, StoreError};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Contacts re-checked per refresh transaction.
const REFRESH_CHUNK: usize = 512;
/// Dedupe ids and applied deliveries pruned per pass; passes alternate with rounds.
const PRUNE_CHUNK: usize = 2_000;
const DAY_MS: f64 = 86_400_000.0;

/// What the pipeline is told of the settings.
pub struct Settings {
    pub scoring: ScoringConfig,
    /// The sinks to queue for, and which records each can address.
    pub sinks: Recipients,
    /// Applied deliveries are kept this many days, then pruned.
    pub inbox_retention_days: f64,
    /// Touches leave the log this many days after they occurred; 0 keeps them.
    pub touch_retention_days: f64,
    /// Dedupe ids are kept this many days, then pruned.
    pub dedupe_retention_days: f64,
    /// How much a round holds; how often a delivery is tried before it is parked.
    pub pipeline: PipelineConfig,
}

pub struct Pipeline {
    erasures: Erasures,
    stop: Arc<AtomicBool>,
    heartbeat: Arc<AtomicI64>,
    thread: Option<JoinHandle<()>>,
    store: Store,
}

impl Pipeline {
    pub fn spawn(
        store: Store,
        settings: Settings,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Pipeline> {
        let stop = Arc::new(AtomicBool::new(false));
        let heartbeat = Arc::new(AtomicI64::new(now_millis()));
        let erasures = Erasures::new(store.clone());
        let worker = Worker {
            erasures: erasures.clone(),
            store: store.clone(),
            lines_changed: std::cell::Cell::new(false),
            careful_until: std::cell::Cell::new(0),
            first_round: std::cell::Cell::new(true),
            settings,
            metrics,
            stop: stop.clone(),
            heartbeat: heartbeat.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("pipeline".into())
            .spawn(move || worker.run())?;
        Ok(Pipeline {
            erasures,
            stop,
            heartbeat,
            thread: Some(thread),
            store,
        })
    }

    /// Where the admin API asks for erasures.
    pub fn erasures(&self) -> Erasures {
        self.erasures.clone()
    }

    pub fn health(&self) -> PipelineHealth {
        PipelineHealth {
            heartbeat: self.heartbeat.clone(),
            stop: self.stop.clone(),
        }
    }

    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.store.wake_pipeline();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Tells from any thread whether the worker is going round.
#[derive(Clone)]
pub struct PipelineHealth {
    heartbeat: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
}

impl PipelineHealth {
    /// The worker beats at least every second unless it is stuck; a long refresh
    /// also beats between chunks.
    pub fn is_running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
            && now_millis() - self.heartbeat.load(Ordering::Relaxed) < 30_000
    }
}

struct Worker {
    store: Store,
    erasures: Erasures,
    /// Set when a round changed an account's line, for the next pass over lines.
    lines_changed: std::cell::Cell<bool>,
    /// Deliveries up to this one are applied one at a time: a round that held them
    /// failed, or the process died in it (`rounds.rs`).
    careful_until: std::cell::Cell<u64>,
    /// Until the first round after start-up has begun.
    first_round: std::cell::Cell<bool>,
    settings: Settings,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    heartbeat: Arc<AtomicI64>,
}

impl Worker {
    fn run(self) {
        let refresh_every = self.settings.scoring.refresh_interval_secs as i64 * 1000;
        // A first refresh right away: after downtime, scores have faded meanwhile.
        let mut next_refresh = now_millis();
        // Lines left waiting by an earlier run are found by the first pass.
        let mut next_lines = Some(now_millis());
        let mut failures = 0u32;
        // A tenth of the shortest retention, within a second and a minute: a short
        // retention is kept to within a tenth of itself.
        let shortest = [
            self.settings.dedupe_retention_days,
            self.settings.inbox_retention_days,
            self.settings.touch_retention_days,
        ]
        .into_iter()
        .filter(|days| *days > 0.0)
        .fold(f64::INFINITY, f64::min);
        let prune_every = ((shortest * DAY_MS / 10.0) as i64).clamp(1_000, 60_000);
        let mut next_prune = now_millis();
        if let Err(error) = self.index_if_needed() {
            tracing::error!(message = "Building the console's indexes failed; lists may miss people until the next start.", %error);
        }
        if let Err(error) = self.rescore_if_changed() {
            tracing::error!(message = "Rescore after a scoring change failed; scores keep the old settings until the next start.", %error);
        }
        while !self.stop.load(Ordering::SeqCst) {
            self.heartbeat.store(now_millis(), Ordering::Relaxed);
            // Due refreshes run even under steady traffic; deliveries wait at most
            // one chunk, since refresh_all applies pending ones between chunks.
            if now_millis() >= next_refresh {
                if let Err(error) = self.refresh_all() {
                    tracing::error!(message = "Decay refresh failed.", %error);
                }
                next_refresh = now_millis() + refresh_every;
            }
            // Changed account lines go to members in chunks between rounds: at once
            // after a round that changed one (a first change is due at once), else
            // when the next waiting account's interval is over.
            if next_lines.is_some_and(|due| now_millis() >= due) {
                next_lines = match self.take_lines() {
                    Ok(next) => next,
                    Err(error) => {
                        tracing::error!(message = "Taking account lines to members failed.", %error);
                        Some(now_millis() + 1000)
                    }
                };
            }
            self.serve_erasures();
            if now_millis() >= next_prune {
                next_prune = match self.prune() {
                    // A full chunk: the next pass follows the next round.
                    Ok(true) => now_millis(),
                    Ok(false) => now_millis() + prune_every,
                    Err(error) => {
                        tracing::error!(message = "Pruning the store failed.", %error);
                        now_millis() + prune_every
                    }
                };
            }
            let applied = self.round();
            if self.lines_changed.take() {
                next_lines = Some(now_millis());
            }
            match applied {
                Ok(0) => {
                    failures = 0;
                    if !self.erasures.is_waiting() {
                        self.store
                            .wait_for_durable_beyond(self.store.cursor(), Duration::from_secs(1));
                    }
                }
                Ok(_) => failures = 0,
                Err(error) => {
                    failures += 1;
                    // The cursor did not move: the same deliveries are tried again.
                    tracing::error!(message = "Pipeline could not apply deliveries; retrying.", %error, failures);
                    // A store that can no longer write fails its flush too, which
                    // tells the daemon to stop; any other error is worth retrying.
                    let _ = self.store.flush();
                    std::thread::sleep(Duration::from_millis(200 * failures.min(25) as u64));
                }
            }
            self.metrics
                .inbox_pending
                .set(self.store.inbox_pending() as i64);
        }
    }

    /// Erasures asked for through the admin API, between rounds.
    fn serve_erasures(&self) {
        for (key, answer) in self.erasures.take() {
            let done = erase(&self.context(), &key).map_err(|error| {
                tracing::error!(message = "Erasure failed.", %error);
                error.to_string()
            });
            if let Ok(Some(erased)) = &done {
                tracing::info!(message = "Contact erased on request.", contact = %erased.erased);
            }
            let _ = answer.send(done);
        }
    }

    fn context(&self) -> Context<'_> {
        Context {
            store: &self.store,
            scoring: &self.settings.scoring,
            sinks: &self.settings.sinks,
            now: now_millis(),
        }
    }

    /// Builds the console's indexes anew when the store's were built otherwise (an
    /// earlier layout, another half-life or ladder). Deliveries are acknowledged
    /// meanwhile and applied between chunks, so that the minutes a large store takes
    /// neither turn webhooks away nor hold back their fields in the CRMs.
    fn index_if_needed(&self) -> Result<(), StoreError> {
        let scoring = &self.settings.scoring;
        let settings = IndexSettings {
            half_life_days: scoring.half_life_days,
            stages: scoring
                .stages
                .iter()
                .map(|rung| rung.name.clone())
                .collect(),
            ..IndexSettings::default()
        };
        let started = std::time::Instant::now();
        let mut told = std::time::Instant::now();
        let built = self.store.ensure_index(settings, |done| {
            self.heartbeat.store(now_millis(), Ordering::Relaxed);
            if told.elapsed() >= Duration::from_secs(10) {
                told = std::time::Instant::now();
                tracing::info!(message = "Building the console's indexes.", contacts = done);
            }
            if let Err(error) = self.round() {
                tracing::error!(message = "Pipeline could not apply deliveries while indexing; retrying after the next chunk.", %error);
            }
        })?;
        if built {
            tracing::info!(
                message = "The console's indexes are built.",
                seconds = started.elapsed().as_secs_f64()
            );
        }
        Ok(())
    }

    /// A changed `[scoring]` rescores everything before new deliveries are applied;
    /// they are acknowledged meanwhile and wait in the inbox.
    fn rescore_if_changed(&self) -> Result<(), StoreError> {
        let context = self.context();
        let current = crate::scoring::version(&self.settings.scoring);
        let stored = self.store.scoring_version()?;
        if stored.as_deref() == Some(current.as_str()) {
            return Ok(());
        }
        if stored.is_none() && !self.store.has_contacts() {
            return rescore::record_version(&context);
        }
        tracing::info!(message = "Scoring settings changed; rescoring every contact from its touches.", from = stored.as_deref().unwrap_or("unknown"), to = %current);
        let started = std::time::Instant::now();
        let mut last_log = std::time::Instant::now();
        let done = rescore::rescore(&context, |done, total| {
            self.heartbeat.store(now_millis(), Ordering::Relaxed);
            if last_log.elapsed() >= Duration::from_secs(5) {
                last_log = std::time::Instant::now();
                tracing::info!(message = "Rescoring.", done, total);
            }
        })?;
        tracing::info!(
            message = "Rescore done.",
            contacts = done.contacts,
            touches = done.touches,
            queued = done.queued,
            seconds = started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Queues contacts whose score, trend or reasons changed through decay alone.
    pub fn refresh_all(&self) -> Result<(), StoreError> {
        let mut ids = Vec::with_capacity(REFRESH_CHUNK);
        let mut queued = 0;
        let mut known = 0;
        for id in self.store.contact_ids() {
            ids.push(id?);
            known += 1;
            if ids.len() == REFRESH_CHUNK {
                self.heartbeat.store(now_millis(), Ordering::Relaxed);
                queued += refresh(&self.context(), &ids)?;
                ids.clear();
                // Deliveries must not wait behind a long refresh.
                self.round()?;
            }
        }
        queued += refresh(&self.context(), &ids)?;
        // Lines that ran out with the week are taken to their members next.
        self.lines_changed.set(true);
        self.store.set_people(known);
        self.metrics.contacts.set(known as i64);
        if queued > 0 {
            tracing::info!(message = "Decay refresh queued changed contacts.", queued);
        }
        Ok(())
    }

    /// One chunk of changed account lines taken to members; returns when more are
    /// due.
    fn take_lines(&self) -> Result<Option<i64>, StoreError> {
        let context = self.context();
        let mut round = self.store.round();
        let (queued, next) = accounts::take_lines(&context, &mut round, REFRESH_CHUNK, false)?;
        round.commit(None)?;
        if !queued.is_empty() {
            tracing::debug!(
                message = "Account lines taken to members.",
                queued = queued.len()
            );
        }
        Ok(next)
    }

    /// One bounded pass over what the retention lets go; whether more is waiting.
    fn prune(&self) -> Result<bool, StoreError> {
        let now = now_millis();
        let days_before = |days: f64| now - (days * DAY_MS) as i64;
        let touch_days = self.settings.touch_retention_days;
        let horizons = Horizons {
            seen_before: days_before(self.settings.dedupe_retention_days),
            inbox_before: days_before(self.settings.inbox_retention_days),
            touches_before: (touch_days > 0.0).then(|| days_before(touch_days)),
            now,
        };
        let pruned = self.store.prune(&horizons, PRUNE_CHUNK)?;
        if pruned.seen + pruned.inbox + pruned.listed + pruned.touches > 0 {
            tracing::debug!(
                message = "Pruned.",
                seen = pruned.seen,
                inbox = pruned.inbox,
                listed = pruned.listed,
                touches = pruned.touches
            );
        }
        Ok(pruned.more)
    }
}
