//! Learning from revenue: which kinds of attention come before opportunities, and
//! how much. Snapshots of every person and account at weekly dates (features as of
//! that date only), labels from the opportunities created after, a time split (train
//! on older dates, validate on the newest), an L2-regularized logistic regression,
//! and a suggested scoring the score can express touch by touch: a weight per kind
//! and one memory. Nothing applies itself: `attentiond learn --apply` stores it as a
//! scoring version.

mod fit;
pub mod history;
pub mod metrics;
pub mod simulate;
pub mod snapshots;
mod suggest;

pub use history::History;
pub use metrics::Metrics;
pub use snapshots::{Dataset, Row, MEMORIES};
pub use suggest::{suggest, suggest_from, Options, Suggestion};

use crate::scoring::ScoringConfig;
use crate::store::{Store, StoreError};

/// Fewer positive outcomes than this in the training period: no suggestion.
pub const MIN_POSITIVES: usize = 30;

#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error("only {positives} snapshots were followed by an opportunity; learning needs at least {needed}: import more history (`attentiond import`) or wait for more outcomes")]
    TooFew { positives: usize, needed: usize },
    #[error("the model could not be fitted: {0}")]
    Model(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The scoring in force: the operator's `[scoring]`, with the weights, memory and
/// scale of the applied scoring version, if one is.
pub fn active_scoring(
    store: &Store,
    baseline: &ScoringConfig,
) -> Result<ScoringConfig, StoreError> {
    let mut scoring = baseline.clone();
    if let Some(version) = store.active_scoring_version()? {
        version.learned.apply_to(&mut scoring);
    }
    Ok(scoring)
}
