//! Rounds bounded by the work they hold, and deliveries that cannot be applied.
//!
//! A round's writes commit in one sled transaction, and sled keeps every version of
//! every node page that transaction writes until it ends: a few kilobytes per key
//! written, about seventy times the size of the deliveries behind them. So a round
//! is bounded by what it holds, not by how many deliveries: it takes deliveries in
//! order until it holds `round_max_events` events or `round_max_bytes` stored bytes.
//! A delivery larger than that is applied alone, in parts of `round_max_events`
//! events; each part commits without moving the cursor, the last one moves it. A
//! crash in between replays the delivery, and the events of the parts already
//! committed are skipped by their seen keys: nothing counts twice.
//!
//! Before each round the pipeline notes in the store which deliveries it is applying
//! and how often it has begun that round. After a round fails, or after a restart
//! that finds a round begun and not committed (the process died in it), deliveries
//! are applied one at a time up to the last one of that round. A delivery that fails
//! alone `max_attempts` times is parked in the quarantine with its error, the cursor
//! moving past it in the same transaction, and the pipeline goes on.

use super::apply::{apply_deliveries, apply_deliveries_upto, Applied};
use super::Worker;
use crate::clock::now_millis;
use crate::metrics::KindLabels;
use crate::store::{Attempt, InboxEntry, StoreError};
use serde::Deserialize;
use std::sync::atomic::Ordering;

/// `[pipeline]`: how much one round holds, and how often a delivery is tried.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Most events one round applies. Memory during a round grows with it (a few
    /// hundred kilobytes per event while its transaction commits); a delivery with
    /// more events is applied in parts of this size.
    #[serde(default = "default_round_max_events")]
    pub round_max_events: usize,
    /// Most stored bytes (normalized events and raw bodies) of the deliveries one
    /// round reads.
    #[serde(default = "default_round_max_bytes")]
    pub round_max_bytes: usize,
    /// Most deliveries one round applies.
    #[serde(default = "default_round_max_deliveries")]
    pub round_max_deliveries: usize,
    /// Times a delivery is tried on its own before it is parked in the quarantine.
    /// A try that killed the process counts.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            round_max_events: default_round_max_events(),
            round_max_bytes: default_round_max_bytes(),
            round_max_deliveries: default_round_max_deliveries(),
            max_attempts: default_max_attempts(),
        }
    }
}

fn default_round_max_events() -> usize {
    1000
}
fn default_round_max_bytes() -> usize {
    4 * 1024 * 1024
}
fn default_round_max_deliveries() -> usize {
    256
}
fn default_max_attempts() -> u32 {
    5
}

impl PipelineConfig {
    /// Each bound must let at least one event through.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        for (key, value) in [
            ("pipeline.round_max_events", self.round_max_events),
            ("pipeline.round_max_bytes", self.round_max_bytes),
            ("pipeline.round_max_deliveries", self.round_max_deliveries),
            ("pipeline.max_attempts", self.max_attempts as usize),
        ] {
            if value == 0 {
                problems.push((key, "must be at least 1".to_string()));
            }
        }
        problems
    }
}

/// Adds what one part of a delivery did to what the others did.
fn add(total: &mut Applied, part: Applied) {
    total.touches.extend(part.touches);
    total.duplicates += part.duplicates;
    total.dropped_erased += part.dropped_erased;
    total.relined += part.relined;
}

/// What a panic carried, as text for the quarantine.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(text) => text.to_string(),
            Err(_) => "a panic without a message".to_string(),
        },
    };
    format!("panic: {text}")
}

impl Worker {
    /// Applies what is durable past the cursor, one bounded round; returns how many
    /// deliveries it took on (parked ones included).
    pub(super) fn round(&self) -> Result<usize, StoreError> {
        let limits = &self.settings.pipeline;
        let cursor = self.store.cursor();
        let noted = self.store.attempt()?.filter(|noted| noted.first > cursor);
        // A round begun and not committed by an earlier process: it may have died in
        // it, so its deliveries go one at a time from now on.
        if self.first_round.get() {
            if let Some(noted) = &noted {
                self.careful_until
                    .set(self.careful_until.get().max(noted.last));
            }
        }
        let careful = self.careful_until.get() > cursor;
        let deliveries = if careful {
            1
        } else {
            limits.round_max_deliveries
        };
        let read = self.store.inbox_round(
            cursor,
            deliveries,
            limits.round_max_events,
            limits.round_max_bytes,
        );
        let (first, last) = match &read {
            Ok(entries) => match (entries.first(), entries.last()) {
                (Some((first, _)), Some((last, _))) => (*first, *last),
                _ => return Ok(0),
            },
            // An entry that cannot be read is tried, and parked, like any other.
            Err(StoreError::Corrupt { tree: "inbox", .. }) => (cursor + 1, cursor + 1),
            Err(_) => return read.map(|entries| entries.len()),
        };
        let earlier = noted.filter(|noted| noted.first == first && noted.last == last);
        let attempts = earlier.as_ref().map_or(0, |noted| noted.attempts);
        let error = earlier.and_then(|noted| noted.error);
        if first == last && attempts >= limits.max_attempts {
            let error = error.unwrap_or_else(|| "the process stopped while applying it".into());
            tracing::error!(message = "Delivery parked in the quarantine after failing every attempt.", seq = first, attempts, %error);
            self.store.park(first, &error, attempts, now_millis())?;
            self.metrics
                .quarantined
                .set(self.store.quarantined_count() as i64);
            return Ok(1);
        }
        let mut attempt = Attempt {
            first,
            last,
            attempts: attempts + 1,
            error,
        };
        self.store.note_attempt(&attempt)?;
        // A try that may kill the process must be counted on disk before it begins.
        if attempts > 0 || careful || self.first_round.take() {
            self.store.flush()?;
        }
        let outcome = match read {
            Ok(entries) => {
                let applying = std::panic::AssertUnwindSafe(|| self.apply(&entries));
                match std::panic::catch_unwind(applying) {
                    Ok(outcome) => outcome.map(|applied| (applied, entries.len())),
                    Err(payload) => Err(StoreError::NotDurable(panic_text(payload))),
                }
            }
            Err(error) => Err(error),
        };
        match outcome {
            Ok((applied, count)) => {
                if self.stop.load(Ordering::SeqCst) && self.store.cursor() < last {
                    // Stopped between the parts of a delivery: not a failed try.
                    attempt.attempts -= 1;
                    self.store.note_attempt(&attempt)?;
                }
                self.account(applied);
                Ok(count)
            }
            Err(error) => {
                attempt.error = Some(error.to_string());
                // Only for the count: a store that cannot write fails its flush too.
                let _ = self.store.note_attempt(&attempt);
                if last > first {
                    self.careful_until.set(last);
                }
                Err(error)
            }
        }
    }

    /// Applies a round's deliveries: together, or one too large in parts.
    fn apply(&self, entries: &[(u64, InboxEntry)]) -> Result<Applied, StoreError> {
        let part_size = self.settings.pipeline.round_max_events.max(1);
        let [(seq, entry)] = entries else {
            return apply_deliveries(&self.context(), entries);
        };
        if entry.events.len() <= part_size {
            return apply_deliveries(&self.context(), entries);
        }
        let mut total = Applied::default();
        let parts = entry.events.len().div_ceil(part_size);
        for (n, events) in entry.events.chunks(part_size).enumerate() {
            if self.stop.load(Ordering::SeqCst) {
                // The cursor stays before the delivery; the next start goes on
                // where this one stopped, skipping what was committed.
                return Ok(total);
            }
            self.heartbeat.store(now_millis(), Ordering::Relaxed);
            let part = InboxEntry {
                source: entry.source.clone(),
                received_at: entry.received_at,
                events: events.to_vec(),
            };
            let cursor = (n + 1 == parts).then_some(*seq);
            add(
                &mut total,
                apply_deliveries_upto(&self.context(), &[(*seq, part)], cursor)?,
            );
        }
        Ok(total)
    }

    /// Counts what a round did in the metrics and the log.
    fn account(&self, applied: Applied) {
        for kind in &applied.touches {
            self.metrics
                .touches
                .get_or_create(&KindLabels {
                    kind: kind.as_str().to_string(),
                })
                .inc();
        }
        self.metrics.duplicates.inc_by(applied.duplicates as u64);
        if applied.relined > 0 {
            self.lines_changed.set(true);
        }
        if applied.dropped_erased > 0 {
            tracing::info!(
                message = "Events about erased contacts dropped.",
                count = applied.dropped_erased
            );
        }
        self.metrics
            .inbox_pending
            .set(self.store.inbox_pending() as i64);
        if let Some(people) = self.store.people() {
            self.metrics.contacts.set(people as i64);
        }
    }
}
