//! What every step of the pipeline works with: the store, the scoring settings,
//! the sinks to queue for, and the time it takes as now.

use crate::fields::Recipients;
use crate::model::Millis;
use crate::scoring::ScoringConfig;
use crate::store::Store;

pub struct Context<'a> {
    pub store: &'a Store,
    pub scoring: &'a ScoringConfig,
    /// The sinks queued for, and which records each can address.
    pub sinks: &'a Recipients,
    pub now: Millis,
}
