//! What the overview shows of the platforms sending, the pipeline and the CRMs
//! receiving: the shapes the console and `/api/v1/sources` and `/api/v1/sinks` share.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Refusal {
    pub reason: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceStatus {
    /// `[sources.<name>]`, served at `/webhooks/<name>`.
    pub name: String,
    pub kind: String,
    pub last_delivery_at: Option<String>,
    pub accepted_24h: u64,
    pub duplicate_24h: u64,
    /// Deliveries that carried nothing used (e.g. a record creation).
    pub ignored_24h: u64,
    pub refused_24h: u64,
    /// Most frequent first.
    pub top_refusals_24h: Vec<Refusal>,
    /// Silent for longer than any silence of the last 7 days, and over an hour.
    pub silent: bool,
    /// Hours since the last delivery, when there was one.
    pub silent_hours: Option<u64>,
    /// The longest silence of the last 7 days, in hours.
    pub usual_longest_silence_hours: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PipelineStatus {
    pub running: bool,
    /// Acknowledged deliveries not yet applied.
    pub pending: u64,
    /// Age of the oldest of them, 0 when none waits.
    pub lag_seconds: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourcesView {
    pub sources: Vec<SourceStatus>,
    pub pipeline: PipelineStatus,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SinkStatus {
    pub name: String,
    pub kind: String,
    /// Records waiting in the outbox.
    pub pending: usize,
    pub oldest_pending_at: Option<String>,
    pub oldest_pending_seconds: i64,
    /// When a write was last seen to succeed (sampled every few seconds).
    pub last_success_at: Option<String>,
    pub written_24h: u64,
    /// Records retried or parked in the last 24 h.
    pub failed_24h: u64,
    /// `failed / (written + failed)` over the last 24 h; 0 without writes.
    pub error_rate_24h: f64,
    pub dead_letters: usize,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SinksView {
    pub sinks: Vec<SinkStatus>,
}
