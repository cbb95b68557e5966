//! From the snapshots to a suggested scoring: the time split, the memory chosen by
//! validation, the weights in points with their intervals, and the metrics of the
//! current and the suggested scoring on the same validation snapshots.

use super::fit::{self, Column, ALPHA};
use super::history;
use super::metrics::{measure, Metrics};
use super::snapshots::{self, Dataset, Row, MEMORIES};
use super::{LearnError, MIN_POSITIVES};
use crate::clock::rfc3339;
use crate::model::{Millis, TouchKind, MILLIS_PER_DAY};
use crate::scoring::ScoringConfig;
use crate::store::{LearnedScoring, Store};
use serde::Serialize;

/// A weight in points: 10 points double the odds of an opportunity in the horizon.
const POINTS_PER_LOGIT: f64 = 10.0 / std::f64::consts::LN_2;

#[derive(Debug, Clone)]
pub struct Options {
    /// Days after a snapshot in which an opportunity counts as following it.
    pub horizon_days: f64,
    /// Refits for the weights' intervals.
    pub bootstrap: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            horizon_days: 30.0,
            bootstrap: 40,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub train_from: String,
    pub train_to: String,
    pub validate_from: String,
    pub validate_to: String,
    pub train_rows: usize,
    pub train_positives: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct KindWeight {
    pub kind: TouchKind,
    /// Points per counted touch in the suggested scoring.
    pub weight: f64,
    /// What the regression found, before a sign a kind cannot take was held at 0
    /// (a penalty never becomes a reward, nor an engagement a penalty).
    pub fitted: f64,
    /// 95 % bootstrap interval of `fitted`.
    pub low: f64,
    pub high: f64,
    /// The weight in the current scoring.
    pub current: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub current: Metrics,
    pub learned: Metrics,
}

#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Half-lives in days: one memory, or a short and a long one.
    pub memories: Vec<f64>,
    /// AUC on the newest quarter of the training dates, trained on the rest.
    pub inner_auc: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    pub horizon_days: f64,
    pub window: Window,
    /// The memory (half-life, days) of the suggested scoring.
    pub half_life_days: f64,
    pub score_scale: f64,
    pub weights: Vec<KindWeight>,
    /// Logit per fit point: fit is kept out of the attention score, and in the model
    /// so that attention's weights are not fit's in disguise.
    pub fit_per_point: f64,
    pub candidates: Vec<Candidate>,
    pub people: Comparison,
    /// The best short and long memory together (acceleration), validated like the
    /// rest: what a score with two memories per kind would add.
    pub acceleration: Option<(Candidate, Metrics)>,
    /// Accounts: the current account score against a model of the members' summed
    /// attention, engaged people and roles covered.
    pub accounts: Option<Comparison>,
    pub current_half_life_days: f64,
    /// The suggested scoring over a snapshot's features, to score any snapshot.
    #[serde(skip)]
    pub scorer: Scorer,
    /// Where validation begins: snapshots from this date on were not trained on.
    #[serde(skip)]
    pub cut: Millis,
}

/// A scoring as a weighted sum of a snapshot's decayed units: per memory (index
/// into [`MEMORIES`]) the points of each kind.
#[derive(Debug, Clone, Default)]
pub struct Scorer {
    pub memories: Vec<usize>,
    pub points: Vec<Vec<f64>>,
}

impl Scorer {
    /// Raw attention of the snapshot under this scoring.
    pub fn raw(&self, row: &Row) -> f64 {
        self.memories
            .iter()
            .zip(&self.points)
            .map(|(&memory, points)| {
                points
                    .iter()
                    .zip(&row.decayed[memory])
                    .map(|(w, x)| w * x)
                    .sum::<f64>()
            })
            .sum()
    }
}

impl Suggestion {
    pub fn learned(&self) -> LearnedScoring {
        LearnedScoring {
            half_life_days: self.half_life_days,
            weights: self.weights.iter().map(|w| (w.kind, w.weight)).collect(),
            score_scale: self.score_scale,
        }
    }
}

fn both(rows: &[&Row]) -> bool {
    rows.iter().any(|r| r.label) && rows.iter().any(|r| !r.label)
}

fn labels(rows: &[&Row]) -> Vec<bool> {
    rows.iter().map(|r| r.label).collect()
}

/// Metrics of `score` on `test`, calibrated on `train`.
fn compare(
    train: &[&Row],
    test: &[&Row],
    score: impl Fn(&Row) -> f64,
) -> Result<Metrics, LearnError> {
    let train_scores: Vec<f64> = train.iter().map(|r| score(r)).collect();
    let (a, b) = fit::calibrate(&train_scores, &labels(train))?;
    let scores: Vec<f64> = test.iter().map(|r| score(r)).collect();
    let probabilities: Vec<f64> = scores
        .iter()
        .map(|s| 1.0 / (1.0 + (-(a + b * s)).exp()))
        .collect();
    Ok(measure(&scores, &probabilities, &labels(test)))
}

/// Learns a suggested scoring from the store's history.
pub fn suggest(
    store: &Store,
    config: &ScoringConfig,
    options: &Options,
    now: Millis,
) -> Result<Suggestion, LearnError> {
    let history = history::read(store, config)?;
    let dataset = snapshots::build(&history, config, options.horizon_days, now);
    suggest_from(&dataset, config, options)
}

/// Learns a suggested scoring from snapshots already built.
pub fn suggest_from(
    dataset: &Dataset,
    config: &ScoringConfig,
    options: &Options,
) -> Result<Suggestion, LearnError> {
    let horizon = (options.horizon_days * MILLIS_PER_DAY) as Millis;
    let too_few = |positives: usize| LearnError::TooFew {
        positives,
        needed: MIN_POSITIVES,
    };
    if dataset.dates.len() < 8 {
        return Err(too_few(dataset.people.iter().filter(|r| r.label).count()));
    }
    let cut = dataset.dates[dataset.dates.len() * 3 / 4];
    let people: Vec<&Row> = dataset.people.iter().collect();
    // Training labels must be known before validation begins: no future leaks in.
    let train: Vec<&Row> = people
        .iter()
        .copied()
        .filter(|r| r.at + horizon <= cut)
        .collect();
    let test: Vec<&Row> = people.iter().copied().filter(|r| r.at >= cut).collect();
    let positives = train.iter().filter(|r| r.label).count();
    if positives < MIN_POSITIVES || !both(&test) {
        return Err(too_few(positives));
    }
    let kinds = dataset.kinds.len();
    let extra = [Column::Fit];
    let ranked = fit::choose_memories(&train, kinds, &extra, horizon)?;
    let candidates: Vec<Candidate> = ranked
        .iter()
        .map(|(memories, auc)| Candidate {
            memories: memories.iter().map(|&m| MEMORIES[m]).collect(),
            inner_auc: *auc,
        })
        .collect();
    let memory = ranked
        .iter()
        .find(|(memories, _)| memories.len() == 1)
        .map(|(memories, _)| memories[0])
        .unwrap_or(2);
    let columns = fit::varying(&train, fit::columns_for(&[memory], kinds, &extra));
    let fitted = fit::fit(&train, &columns, ALPHA)?;
    let intervals = fit::bootstrap(&train, &columns, options.bootstrap)?;
    let mut weights = Vec::new();
    let mut fit_per_point = 0.0;
    let mut points = vec![0.0; kinds];
    for ((column, weight), (low, high)) in columns.iter().zip(&fitted.weights).zip(&intervals) {
        match *column {
            Column::Kind { kind, .. } => {
                let current = config.weight(dataset.kinds[kind]);
                let fitted = weight * POINTS_PER_LOGIT;
                let weight = if current >= 0.0 {
                    fitted.max(0.0)
                } else {
                    fitted.min(0.0)
                };
                points[kind] = weight;
                weights.push(KindWeight {
                    kind: dataset.kinds[kind],
                    weight,
                    fitted,
                    low: low * POINTS_PER_LOGIT,
                    high: high * POINTS_PER_LOGIT,
                    current,
                });
            }
            Column::Fit => fit_per_point = *weight,
            _ => {}
        }
    }
    // Kinds never seen in training cannot be weighed: they count nothing.
    for (index, kind) in dataset.kinds.iter().enumerate() {
        if !weights.iter().any(|w| w.kind == *kind) {
            weights.push(KindWeight {
                kind: *kind,
                weight: 0.0,
                fitted: 0.0,
                low: 0.0,
                high: 0.0,
                current: config.weight(dataset.kinds[index]),
            });
        }
    }
    weights.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    let scorer = Scorer {
        memories: vec![memory],
        points: vec![points],
    };
    let learned_raw = |row: &Row| scorer.raw(row);
    // The top tenth of the training snapshots reads 70 or more.
    let mut raws: Vec<f64> = train.iter().map(|r| learned_raw(r)).collect();
    raws.sort_by(f64::total_cmp);
    let top = raws[raws.len() * 9 / 10].max(1e-3);
    let score_scale = top / (1.0f64 / 0.3).ln();
    let people = Comparison {
        current: compare(&train, &test, |r| r.current)?,
        learned: compare(&train, &test, learned_raw)?,
    };
    let acceleration = match ranked.iter().find(|(memories, _)| memories.len() == 2) {
        Some((memories, auc)) => {
            let columns = fit::varying(&train, fit::columns_for(memories, kinds, &extra));
            let model = fit::fit(&train, &columns, ALPHA)?;
            let metrics = compare(&train, &test, |r| model.logit(r))?;
            Some((
                Candidate {
                    memories: memories.iter().map(|&m| MEMORIES[m]).collect(),
                    inner_auc: *auc,
                },
                metrics,
            ))
        }
        None => None,
    };
    let accounts = {
        let rows: Vec<&Row> = dataset.accounts.iter().collect();
        let train: Vec<&Row> = rows
            .iter()
            .copied()
            .filter(|r| r.at + horizon <= cut)
            .collect();
        let test: Vec<&Row> = rows.iter().copied().filter(|r| r.at >= cut).collect();
        if train.iter().filter(|r| r.label).count() >= 10 && both(&train) && both(&test) {
            let columns = fit::varying(
                &train,
                fit::columns_for(&[memory], kinds, &[Column::Engaged, Column::Roles]),
            );
            let model = fit::fit(&train, &columns, ALPHA)?;
            Some(Comparison {
                current: compare(&train, &test, |r| r.current)?,
                learned: compare(&train, &test, |r| model.logit(r))?,
            })
        } else {
            None
        }
    };
    let first = train.iter().map(|r| r.at).min().unwrap_or(cut);
    let last = train.iter().map(|r| r.at).max().unwrap_or(cut);
    let validate_to = test.iter().map(|r| r.at).max().unwrap_or(cut);
    Ok(Suggestion {
        horizon_days: options.horizon_days,
        window: Window {
            train_from: rfc3339(first),
            train_to: rfc3339(last),
            validate_from: rfc3339(cut),
            validate_to: rfc3339(validate_to),
            train_rows: train.len(),
            train_positives: positives,
        },
        half_life_days: MEMORIES[memory],
        score_scale,
        weights,
        fit_per_point,
        candidates,
        people,
        acceleration,
        accounts,
        current_half_life_days: config.half_life_days,
        scorer,
        cut,
    })
}
