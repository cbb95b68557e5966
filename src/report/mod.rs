//! The report a marketing lead reads: does attention predict pipeline, which
//! attention converts, and attention as marketing's measure over time. One
//! self-contained HTML page (inline SVG charts, each with a table of its numbers),
//! built from the store's history as of one moment: nothing on it needs the
//! network.
//!
//! The numbers come from the same history and weekly snapshots learning uses
//! (`learn::history`, `learn::snapshots`): features as of each date only, labels from
//! the opportunities that followed. A replay of each person's log under the scoring
//! in force adds what snapshots do not keep: the stage at each date, when they first
//! qualified, which campaign, asset and source each touch came through.

mod converts;
mod measure;
mod page;
mod predict;
mod timeline;

pub use converts::{KindRow, Learned, Reach};
pub use measure::{Bucket, DealRow, Month, Week};
pub use page::render;
pub use predict::{Cell, Curve, Rate};

use crate::learn::{self, LearnError};
use crate::model::Millis;
use crate::scoring::ScoringConfig;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// `[report]`: what the report measures marketing against.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// New qualified people a month marketing aims for, drawn beside each month's
    /// count. Unset: no target is drawn.
    #[serde(default)]
    pub qualified_per_month_target: Option<f64>,
    /// The stage of the `[[scoring.stages]]` ladder from which a person counts as
    /// qualified (this stage or any above it).
    #[serde(default = "default_qualified_stage")]
    pub qualified_stage: String,
    /// Days after a date in which an opportunity counts as following it.
    #[serde(default = "default_horizon_days")]
    pub horizon_days: f64,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            qualified_per_month_target: None,
            qualified_stage: default_qualified_stage(),
            horizon_days: default_horizon_days(),
        }
    }
}

fn default_qualified_stage() -> String {
    "mql".into()
}

fn default_horizon_days() -> f64 {
    30.0
}

impl ReportConfig {
    /// Returns the offending key and why; the stage must be on `scoring`'s ladder.
    pub fn validate(&self, scoring: &ScoringConfig) -> Result<(), (String, String)> {
        if let Some(target) = self.qualified_per_month_target {
            if !(target.is_finite() && target >= 0.0) {
                return Err((
                    "qualified_per_month_target".into(),
                    "must be a number of people, 0 or more".into(),
                ));
            }
        }
        if !(self.horizon_days.is_finite() && self.horizon_days >= 1.0) {
            return Err(("horizon_days".into(), "must be at least 1".into()));
        }
        if !scoring
            .stages
            .iter()
            .any(|rung| rung.name == self.qualified_stage)
        {
            let names: Vec<&str> = scoring.stages.iter().map(|r| r.name.as_str()).collect();
            return Err((
                "qualified_stage".into(),
                format!("must be a stage of the ladder: {}", names.join(", ")),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Learn(#[from] LearnError),
}

/// Everything the page shows, as numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: Millis,
    /// The scoring in force, in words: its version, memory and scale.
    pub scoring: String,
    pub horizon_days: f64,
    pub people: usize,
    pub accounts: usize,
    pub opportunities: usize,
    /// Which snapshots the curves are measured on, in words.
    pub evaluated_on: String,
    /// Why there is no learned score, when there is none.
    pub learned_note: Option<String>,
    pub curves: Vec<Curve>,
    pub bands: Vec<Rate>,
    pub stages: Vec<Rate>,
    pub cells: Vec<Cell>,
    pub kinds: Vec<KindRow>,
    pub campaigns: Vec<Reach>,
    pub assets: Vec<Reach>,
    pub sources: Vec<Reach>,
    /// Every touch together, the line campaigns are read against.
    pub everyone: Reach,
    pub weeks: Vec<Week>,
    pub months: Vec<Month>,
    pub qualified_stage: String,
    pub target: Option<f64>,
    pub deals: Vec<DealRow>,
    /// Opportunities by days from the first qualification of one of their people.
    pub days_to_opportunity: Vec<Bucket>,
    pub median_days_to_opportunity: Option<f64>,
}

/// Builds the report from the store's history under the scoring in force.
pub fn build(
    store: &Store,
    scoring: &ScoringConfig,
    config: &ReportConfig,
    learning: &learn::Options,
    now: Millis,
) -> Result<Report, ReportError> {
    let history = learn::history::read(store, scoring)?;
    let dataset = learn::snapshots::build(&history, scoring, config.horizon_days, now);
    let options = learn::Options {
        horizon_days: config.horizon_days,
        ..learning.clone()
    };
    let suggestion = match learn::suggest_from(&dataset, scoring, &options) {
        Ok(suggestion) => Ok(suggestion),
        Err(LearnError::TooFew { positives, needed }) => Err(format!(
            "No learned score: only {positives} snapshots were followed by an opportunity, and learning needs {needed}."
        )),
        Err(error) => return Err(error.into()),
    };
    let weeks = measure::weeks(&history, now);
    let checkpoints: Vec<Millis> = dataset.dates.iter().chain(&weeks).copied().collect();
    let timelines = timeline::replay(store, &history, &checkpoints, scoring, config)?;
    let predicted = predict::predict(&dataset, suggestion.as_ref().ok(), &timelines, scoring);
    let kinds = converts::kinds(&dataset, suggestion.as_ref().ok(), scoring);
    let reach = converts::reach(&history, &timelines, config.horizon_days);
    let measured = measure::measure(&history, &weeks, &timelines);
    Ok(Report {
        generated_at: now,
        scoring: format!(
            "scoring version {} (half-life {} days, score scale {})",
            crate::scoring::version(scoring),
            scoring.half_life_days,
            scoring.score_scale
        ),
        horizon_days: config.horizon_days,
        people: history.people.len(),
        accounts: history.members.len(),
        opportunities: history
            .deals
            .values()
            .filter(|d| d.created.is_some())
            .count(),
        evaluated_on: predicted.evaluated_on,
        learned_note: suggestion.err(),
        curves: predicted.curves,
        bands: predicted.bands,
        stages: predicted.stages,
        cells: predicted.cells,
        kinds,
        campaigns: reach.campaigns,
        assets: reach.assets,
        sources: reach.sources,
        everyone: reach.everyone,
        weeks: measured.weeks,
        months: measured.months,
        qualified_stage: config.qualified_stage.clone(),
        target: config.qualified_per_month_target,
        deals: measured.deals,
        days_to_opportunity: measured.days_to_opportunity,
        median_days_to_opportunity: measured.median_days,
    })
}
