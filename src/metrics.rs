//! Prometheus metrics: the numbers an operator graphs and alerts on.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    pub source: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkStatusLabels {
    pub sink: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TreeLabels {
    pub tree: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabels {
    pub sink: String,
}

pub struct Metrics {
    registry: Registry,
    pub webhooks: Family<WebhookLabels, Counter>,
    pub inbox_pending: Gauge,
    pub inbox_backlog_limit: Gauge,
    pub pipeline_lag_seconds: Gauge,
    pub touches: Family<KindLabels, Counter>,
    pub duplicates: Counter,
    pub sink_requests: Family<SinkStatusLabels, Counter>,
    pub sink_records_written: Family<SinkLabels, Counter>,
    pub sink_retries: Family<SinkLabels, Counter>,
    pub dead_letters: Family<SinkLabels, Counter>,
    pub outbox_pending: Family<SinkLabels, Gauge>,
    pub outbox_oldest_seconds: Family<SinkLabels, Gauge>,
    pub contacts: Gauge,
    pub store_bytes: Gauge,
    pub quarantined: Gauge,
    pub oldest_retained_seconds: Family<TreeLabels, Gauge>,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("attentiond");
        let metrics = Metrics {
            webhooks: Family::default(),
            inbox_pending: Gauge::default(),
            inbox_backlog_limit: Gauge::default(),
            pipeline_lag_seconds: Gauge::default(),
            touches: Family::default(),
            duplicates: Counter::default(),
            sink_requests: Family::default(),
            sink_records_written: Family::default(),
            sink_retries: Family::default(),
            dead_letters: Family::default(),
            outbox_pending: Family::default(),
            outbox_oldest_seconds: Family::default(),
            contacts: Gauge::default(),
            store_bytes: Gauge::default(),
            quarantined: Gauge::default(),
            oldest_retained_seconds: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "webhooks",
            "Webhook deliveries by source and HTTP status",
            metrics.webhooks.clone(),
        );
        registry.register(
            "inbox_pending",
            "Acknowledged deliveries not yet applied",
            metrics.inbox_pending.clone(),
        );
        registry.register(
            "inbox_backlog_limit",
            "Pending deliveries past which webhooks are answered 503 (server.max_inbox_backlog)",
            metrics.inbox_backlog_limit.clone(),
        );
        registry.register(
            "pipeline_lag_seconds",
            "Age of the oldest acknowledged delivery not yet applied",
            metrics.pipeline_lag_seconds.clone(),
        );
        registry.register(
            "touches",
            "Touches applied, by kind",
            metrics.touches.clone(),
        );
        registry.register(
            "duplicate_events",
            "Redelivered events dropped by the pipeline",
            metrics.duplicates.clone(),
        );
        registry.register(
            "sink_requests",
            "Requests to CRMs by sink and HTTP status",
            metrics.sink_requests.clone(),
        );
        registry.register(
            "sink_records_written",
            "Records the CRM accepted",
            metrics.sink_records_written.clone(),
        );
        registry.register(
            "sink_retries",
            "Batches or records retried",
            metrics.sink_retries.clone(),
        );
        registry.register(
            "dead_letters",
            "Records parked after failing for good",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "outbox_pending",
            "Records waiting to be written, by sink",
            metrics.outbox_pending.clone(),
        );
        registry.register(
            "outbox_oldest_pending_seconds",
            "Age of the oldest record waiting for a sink",
            metrics.outbox_oldest_seconds.clone(),
        );
        registry.register(
            "contacts",
            "Contacts known, counted at each decay refresh",
            metrics.contacts.clone(),
        );
        registry.register(
            "store_bytes",
            "Size of the store's files on disk",
            metrics.store_bytes.clone(),
        );
        registry.register(
            "quarantined_deliveries",
            "Deliveries parked in the quarantine after failing every attempt",
            metrics.quarantined.clone(),
        );
        registry.register(
            "oldest_retained_seconds",
            "Age of the oldest item a pruned tree still keeps",
            metrics.oldest_retained_seconds.clone(),
        );
        Arc::new(Metrics {
            registry,
            ..metrics
        })
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    pub fn webhook(&self, source: &str, status: u16) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                source: source.to_string(),
                status: status.to_string(),
            })
            .inc();
    }
}

impl Metrics {
    /// Sets a sink's outbox gauges: pending records and the age of the oldest, the
    /// number an operator alerts on.
    pub fn outbox(&self, sink: &str, pending: usize, oldest_queued_at: Option<i64>, now: i64) {
        let labels = SinkLabels {
            sink: sink.to_string(),
        };
        self.outbox_pending
            .get_or_create(&labels)
            .set(pending as i64);
        self.outbox_oldest_seconds
            .get_or_create(&labels)
            .set(oldest_queued_at.map_or(0, |o| (now - o).max(0) / 1000));
    }

    /// Age of the oldest item a pruned tree keeps; 0 when it keeps nothing.
    pub fn oldest_retained(&self, tree: &str, oldest: Option<i64>, now: i64) {
        self.oldest_retained_seconds
            .get_or_create(&TreeLabels {
                tree: tree.to_string(),
            })
            .set(oldest.map_or(0, |at| (now - at).max(0) / 1000));
    }
}
