//! What every request handler is handed: the settings, the store, the group commit,
//! the metrics, the pipeline's health and the console.

use super::body::Intake;
use super::console::state::Console;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::pipeline::PipelineHealth;
use crate::store::{GroupCommit, Store};
use std::sync::Arc;

/// Everything a request handler may use.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub commit: GroupCommit,
    pub metrics: Arc<Metrics>,
    pub pipeline: PipelineHealth,
    /// Console sessions and the delivery figures.
    pub console: Arc<Console>,
    /// Webhook bodies' limits and the memory strangers may hold.
    pub intake: Intake,
}
