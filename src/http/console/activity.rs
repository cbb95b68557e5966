//! What each source delivered and each sink wrote, hour by hour, for the overview and
//! `/api/v1/sources` and `/api/v1/sinks`.
//!
//! Ingest tells it of every delivery it answers. Sinks are read off their Prometheus
//! counters every few seconds, so a sink's last success is known to within that. The
//! hours are kept in the store every few seconds and read back at start, so a restart
//! loses at most those seconds; eight days are kept.

use crate::clock::rfc3339;
use crate::config::Config;
use crate::metrics::{Metrics, SinkLabels};
use crate::model::Millis;
use crate::pipeline::PipelineHealth;
use crate::sources::SourceError;
use crate::store::{Appended, Store};
use crate::views::overview::{
    PipelineStatus, Refusal, SinkStatus, SinksView, SourceStatus, SourcesView,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

const HOUR: Millis = 3_600_000;
/// Hours kept: a week to tell a usual silence from an unusual one, and a day more.
const KEPT_HOURS: i64 = 8 * 24;
/// Most distinct refusal reasons counted per hour; the rest count as `other`.
const REASONS_PER_HOUR: usize = 20;
/// Longest refusal reason kept, in characters.
const REASON_CHARS: usize = 160;
/// Least time between two saves to the store.
const SAVE_EVERY: Millis = 5_000;

/// A refusal reason without the quoted values (`…` or "…") that could name a
/// person: an address, a number, words with spaces. They are what the sender wrote,
/// the reasons are kept for a week where an erasure does not look, and the log line
/// has them whole. A word such as an unknown kind's name stays.
fn without_quoted_values(reason: &str) -> String {
    let could_name_someone = |value: &str| {
        value.chars().count() > 40
            || value
                .chars()
                .any(|c| c == '@' || c.is_numeric() || c.is_whitespace())
    };
    let mut kept = String::with_capacity(reason.len());
    let mut open: Option<(char, String)> = None;
    for c in reason.chars() {
        match &mut open {
            Some((quote, value)) if c == *quote => {
                kept.push_str(if could_name_someone(value) {
                    "…"
                } else {
                    value
                });
                kept.push(c);
                open = None;
            }
            Some((_, value)) => value.push(c),
            None => {
                kept.push(c);
                if c == '`' || c == '"' {
                    open = Some((c, String::new()));
                }
            }
        }
    }
    if let Some((_, value)) = open {
        kept.push_str(if could_name_someone(&value) {
            "…"
        } else {
            &value
        });
    }
    kept
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct SourceHour {
    accepted: u64,
    duplicate: u64,
    ignored: u64,
    refused: u64,
    reasons: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct SourceLog {
    last_delivery_at: Option<Millis>,
    hours: BTreeMap<i64, SourceHour>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct SinkHour {
    written: u64,
    failed: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct SinkLog {
    last_success_at: Option<Millis>,
    hours: BTreeMap<i64, SinkHour>,
    /// The counters at the last look (they start at 0 with the process).
    #[serde(skip)]
    seen: Option<(u64, u64)>,
}

#[derive(Default)]
struct Logs {
    sources: BTreeMap<String, SourceLog>,
    sinks: BTreeMap<String, SinkLog>,
    dirty: BTreeSet<String>,
    saved_at: Millis,
}

pub struct Activity {
    store: Store,
    logs: Mutex<Logs>,
}

fn hour_of(at: Millis) -> i64 {
    at.div_euclid(HOUR)
}

/// What one delivery came to.
pub enum Delivered<'a> {
    Appended(Appended),
    Refused(&'a SourceError),
}

impl Activity {
    /// Reads back what was kept.
    pub fn load(store: Store) -> Activity {
        let mut logs = Logs::default();
        match store.activity() {
            Ok(records) => {
                for (name, bytes) in records {
                    if let Some(source) = name.strip_prefix("source:") {
                        if let Ok(log) = serde_json::from_slice(&bytes) {
                            logs.sources.insert(source.to_string(), log);
                        }
                    } else if let Some(sink) = name.strip_prefix("sink:") {
                        if let Ok(log) = serde_json::from_slice(&bytes) {
                            logs.sinks.insert(sink.to_string(), log);
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(message = "Could not read the kept delivery counts.", %error)
            }
        }
        Activity {
            store,
            logs: Mutex::new(logs),
        }
    }

    fn with_logs<T>(&self, work: impl FnOnce(&mut Logs) -> T) -> T {
        let mut logs = match self.logs.lock() {
            Ok(logs) => logs,
            Err(poisoned) => poisoned.into_inner(),
        };
        work(&mut logs)
    }

    /// Counts a delivery that a source answered.
    pub fn record(&self, source: &str, delivered: Delivered<'_>, now: Millis) {
        self.with_logs(|logs| {
            let log = logs.sources.entry(source.to_string()).or_default();
            let hour = log.hours.entry(hour_of(now)).or_default();
            match delivered {
                Delivered::Appended(appended) => {
                    log.last_delivery_at = Some(now);
                    match appended {
                        Appended::Stored(_) => hour.accepted += 1,
                        Appended::Duplicate => hour.duplicate += 1,
                        Appended::Empty => hour.ignored += 1,
                    }
                }
                Delivered::Refused(error) => {
                    hour.refused += 1;
                    let mut reason: String = without_quoted_values(&error.to_string())
                        .chars()
                        .take(REASON_CHARS)
                        .collect();
                    if !hour.reasons.contains_key(&reason) && hour.reasons.len() >= REASONS_PER_HOUR
                    {
                        reason = "other".into();
                    }
                    *hour.reasons.entry(reason).or_default() += 1;
                }
            }
            logs.dirty.insert(format!("source:{source}"));
        });
        self.save_if_due(now);
    }

    /// Reads each sink's counters and adds what they grew by to this hour.
    pub fn look_at_sinks(&self, metrics: &Metrics, sinks: &[String], now: Millis) {
        let counts: Vec<(String, u64, u64)> = sinks
            .iter()
            .map(|sink| {
                let labels = SinkLabels { sink: sink.clone() };
                let written = metrics.sink_records_written.get_or_create(&labels).get();
                let failed = metrics.sink_retries.get_or_create(&labels).get()
                    + metrics.dead_letters.get_or_create(&labels).get();
                (sink.clone(), written, failed)
            })
            .collect();
        self.with_logs(|logs| {
            for (sink, written, failed) in counts {
                let log = logs.sinks.entry(sink.clone()).or_default();
                let (was_written, was_failed) = log.seen.unwrap_or((0, 0));
                // A counter below what was seen started again with the process.
                let grew = |now: u64, was: u64| if now >= was { now - was } else { now };
                let (new_written, new_failed) =
                    (grew(written, was_written), grew(failed, was_failed));
                log.seen = Some((written, failed));
                if new_written + new_failed == 0 {
                    continue;
                }
                let hour = log.hours.entry(hour_of(now)).or_default();
                hour.written += new_written;
                hour.failed += new_failed;
                if new_written > 0 {
                    log.last_success_at = Some(now);
                }
                logs.dirty.insert(format!("sink:{sink}"));
            }
        });
        self.save_if_due(now);
    }

    /// Keeps what changed, at most every few seconds.
    pub fn save_if_due(&self, now: Millis) {
        self.save(now, false);
    }

    /// Keeps what changed now: when the daemon stops.
    pub fn save_now(&self) {
        self.save(crate::clock::now_millis(), true);
    }

    fn save(&self, now: Millis, now_or_never: bool) {
        let records = self.with_logs(|logs| {
            if logs.dirty.is_empty() || (!now_or_never && now - logs.saved_at < SAVE_EVERY) {
                return Vec::new();
            }
            logs.saved_at = now;
            let oldest = hour_of(now) - KEPT_HOURS;
            let mut records = Vec::new();
            for name in std::mem::take(&mut logs.dirty) {
                let bytes = if let Some(source) = name.strip_prefix("source:") {
                    logs.sources.get_mut(source).map(|log| {
                        log.hours.retain(|hour, _| *hour >= oldest);
                        serde_json::to_vec(log)
                    })
                } else if let Some(sink) = name.strip_prefix("sink:") {
                    logs.sinks.get_mut(sink).map(|log| {
                        log.hours.retain(|hour, _| *hour >= oldest);
                        serde_json::to_vec(log)
                    })
                } else {
                    None
                };
                if let Some(Ok(bytes)) = bytes {
                    records.push((name, bytes));
                }
            }
            records
        });
        for (name, bytes) in records {
            if let Err(error) = self.store.save_activity(&name, &bytes) {
                tracing::warn!(message = "Could not keep the delivery counts.", %error);
            }
        }
    }

    pub fn sources(&self, config: &Config, pipeline: &PipelineHealth, now: Millis) -> SourcesView {
        let sources = self.with_logs(|logs| {
            config
                .sources
                .iter()
                .map(|(name, source)| {
                    source_status(name, source.kind(), logs.sources.get(name), now)
                })
                .collect()
        });
        let pending = self.store.inbox_pending();
        let lag_seconds = match self.store.oldest_unapplied() {
            Ok(Some(received)) if pending > 0 => ((now - received) / 1000).max(0),
            _ => 0,
        };
        SourcesView {
            sources,
            pipeline: PipelineStatus {
                running: pipeline.is_running(),
                pending,
                lag_seconds,
            },
        }
    }

    pub fn sinks(&self, config: &Config, metrics: &Metrics, now: Millis) -> SinksView {
        let names: Vec<String> = config.sinks.keys().cloned().collect();
        self.look_at_sinks(metrics, &names, now);
        let letters = self.store.dead_letters().unwrap_or_default();
        let since = hour_of(now) - 23;
        let sinks = self.with_logs(|logs| {
            config
                .sinks
                .iter()
                .map(|(name, sink)| {
                    let (pending, oldest) = self.store.outbox_stats(name);
                    let log = logs.sinks.get(name);
                    let (written, failed) = log
                        .map(|log| {
                            log.hours.range(since..).fold((0, 0), |(w, f), (_, hour)| {
                                (w + hour.written, f + hour.failed)
                            })
                        })
                        .unwrap_or((0, 0));
                    SinkStatus {
                        name: name.clone(),
                        kind: sink.kind().to_string(),
                        pending,
                        oldest_pending_at: oldest.map(rfc3339),
                        oldest_pending_seconds: oldest.map_or(0, |at| ((now - at) / 1000).max(0)),
                        last_success_at: log.and_then(|log| log.last_success_at).map(rfc3339),
                        written_24h: written,
                        failed_24h: failed,
                        error_rate_24h: if written + failed == 0 {
                            0.0
                        } else {
                            failed as f64 / (written + failed) as f64
                        },
                        dead_letters: letters.iter().filter(|l| &l.sink == name).count(),
                    }
                })
                .collect()
        });
        SinksView { sinks }
    }
}

fn source_status(name: &str, kind: &str, log: Option<&SourceLog>, now: Millis) -> SourceStatus {
    let since = hour_of(now) - 23;
    let mut day = SourceHour::default();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    if let Some(log) = log {
        for (_, hour) in log.hours.range(since..) {
            day.accepted += hour.accepted;
            day.duplicate += hour.duplicate;
            day.ignored += hour.ignored;
            day.refused += hour.refused;
            for (reason, count) in &hour.reasons {
                *reasons.entry(reason.clone()).or_default() += count;
            }
        }
    }
    let mut top: Vec<Refusal> = reasons
        .into_iter()
        .map(|(reason, count)| Refusal { reason, count })
        .collect();
    top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    top.truncate(5);
    let last = log.and_then(|log| log.last_delivery_at);
    let silent_hours = last.map(|at| ((now - at).max(0) / HOUR) as u64);
    let usual = log.and_then(|log| longest_silence(log, now));
    let silent = match (silent_hours, usual) {
        (Some(hours), Some(usual)) => hours >= 1 && hours > usual,
        // Without a week's pattern, a day without a delivery is unusual.
        (Some(hours), None) => hours >= 24,
        (None, _) => false,
    };
    SourceStatus {
        name: name.to_string(),
        kind: kind.to_string(),
        last_delivery_at: last.map(rfc3339),
        accepted_24h: day.accepted,
        duplicate_24h: day.duplicate,
        ignored_24h: day.ignored,
        refused_24h: day.refused,
        top_refusals_24h: top,
        silent,
        silent_hours,
        usual_longest_silence_hours: usual,
    }
}

/// The longest run of hours without a taken delivery between two hours with one, in
/// the last 7 days: what counts as a usual silence for this source.
fn longest_silence(log: &SourceLog, now: Millis) -> Option<u64> {
    let since = hour_of(now) - 7 * 24;
    let busy: Vec<i64> = log
        .hours
        .range(since..)
        .filter(|(_, hour)| hour.accepted + hour.duplicate + hour.ignored > 0)
        .map(|(at, _)| *at)
        .collect();
    busy.windows(2).map(|pair| (pair[1] - pair[0]) as u64).max()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_refusal_keeps_its_words_but_not_the_values_it_quotes() {
        assert_eq!(
            super::without_quoted_values(
                "malformed payload: data.email `ann@acme` is not an email address"
            ),
            "malformed payload: data.email `…` is not an email address"
        );
        assert_eq!(
            super::without_quoted_values(r#"invalid type: string "ann@acme.com", expected u64"#),
            r#"invalid type: string "…", expected u64"#
        );
        assert_eq!(super::without_quoted_values("cut `ann@ac"), "cut `…");
        assert_eq!(
            super::without_quoted_values("phone \"+1 555 0100\" and kind `telepathy`"),
            "phone \"…\" and kind `telepathy`"
        );
        assert_eq!(
            super::without_quoted_values("invalid signature"),
            "invalid signature"
        );
    }

    use super::*;

    fn log_with(busy_hours: &[i64]) -> SourceLog {
        let mut log = SourceLog::default();
        for hour in busy_hours {
            log.hours.insert(
                *hour,
                SourceHour {
                    accepted: 1,
                    ..SourceHour::default()
                },
            );
        }
        log.last_delivery_at = busy_hours.last().map(|hour| hour * HOUR + 60_000);
        log
    }

    #[test]
    fn a_source_is_silent_only_beyond_its_usual_longest_silence() {
        let base = 500_000;
        // Business hours: busy 9–17, quiet overnight (16 h).
        let mut hours = Vec::new();
        for day in 0..5 {
            for hour in 9..=17 {
                hours.push(base + day * 24 + hour);
            }
        }
        let log = log_with(&hours);
        let last = *hours.last().unwrap();
        let at = |hour: i64| hour * HOUR + 30 * 60_000;
        let overnight = source_status("site", "standard", Some(&log), at(last + 15));
        assert_eq!(overnight.usual_longest_silence_hours, Some(16));
        assert!(!overnight.silent, "a night is usual");
        let next_noon = source_status("site", "standard", Some(&log), at(last + 19));
        assert!(next_noon.silent, "no delivery by the next noon is not");
        let never = source_status("site", "standard", None, at(last));
        assert!(!never.silent);
        assert_eq!(never.last_delivery_at, None);
    }
}
