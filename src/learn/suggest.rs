//! From the snapshots to a suggested scoring: the time split, the memories chosen
//! by validation (one half-life, or a short and a long one: acceleration), the
//! weights in points with their intervals, and the metrics of the current and the
//! suggested scoring on the same validation snapshots.

pub use super::fit::Scorer;
use super::fit::{self, Column, ALPHA, POINTS_PER_LOGIT};
use super::history;
use super::metrics::{measure, Metrics};
use super::snapshots::{self, Dataset, Row, MEMORIES};
use super::{LearnError, MIN_POSITIVES};
use crate::clock::rfc3339;
use crate::model::{Millis, TouchKind, MILLIS_PER_DAY};
use crate::scoring::ScoringConfig;
use crate::store::{LearnedScoring, Store};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct Options {
    /// Days after a snapshot in which an opportunity counts as following it.
    pub horizon_days: f64,
    /// Refits for the weights' intervals.
    pub bootstrap: usize,
    /// Memories the suggestion has: 1, 2 (a short and a long one), or `None` for
    /// whichever ranks best on the newest training weeks.
    pub memories: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            horizon_days: 30.0,
            bootstrap: 40,
            memories: None,
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
    /// Points per counted touch in the suggested scoring at the long memory
    /// (`half_life_days`), and at the short one (0 with one memory).
    pub weight: f64,
    pub short: f64,
    /// What the regression found for each, before a sign a kind cannot take was
    /// held at 0 (a penalty never becomes a reward, nor an engagement a penalty;
    /// a penalty has no short memory).
    pub fitted: f64,
    pub fitted_short: f64,
    /// 95 % bootstrap interval of what the regression finds a fresh touch worth
    /// (`fitted + fitted_short`).
    pub low: f64,
    pub high: f64,
    /// The weights in the current scoring.
    pub current: f64,
    pub current_short: f64,
}

impl KindWeight {
    /// What a fresh touch counts in the suggested scoring: both memories.
    pub fn worth(&self) -> f64 {
        self.weight + self.short
    }

    /// Whether a sign rule changed what the regression found.
    pub fn held(&self) -> bool {
        self.weight != self.fitted || self.short != self.fitted_short
    }
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
    /// AUC of the score it suggests on the newest quarter of the training dates,
    /// trained on the rest.
    pub inner_auc: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    pub horizon_days: f64,
    pub window: Window,
    /// The long memory (half-life, days) of the suggested scoring, and its short
    /// memory when it has two.
    pub half_life_days: f64,
    pub short_half_life_days: Option<f64>,
    pub score_scale: f64,
    pub weights: Vec<KindWeight>,
    /// Logit per fit point: fit is kept out of the attention score, and in the model
    /// so that attention's weights are not fit's in disguise.
    pub fit_per_point: f64,
    pub candidates: Vec<Candidate>,
    pub people: Comparison,
    /// The best scoring of the other shape (one memory when two were chosen, two
    /// when one was), validated the same way: what the choice was made against.
    pub alternative: Option<(Candidate, Metrics)>,
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

impl Suggestion {
    pub fn learned(&self) -> LearnedScoring {
        LearnedScoring {
            half_life_days: self.half_life_days,
            weights: self.weights.iter().map(|w| (w.kind, w.weight)).collect(),
            score_scale: self.score_scale,
            short_half_life_days: self.short_half_life_days,
            short_weights: self
                .weights
                .iter()
                .filter(|w| w.short != 0.0)
                .map(|w| (w.kind, w.short))
                .collect(),
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
    // A penalty stays one: its sign, and its one long memory.
    let penalty = |kind: usize| config.worth(dataset.kinds[kind]) < 0.0;
    let extra = [Column::Fit];
    let ranked = fit::choose_memories(&train, kinds, &extra, horizon, &penalty)?;
    let candidates: Vec<Candidate> = ranked
        .iter()
        .map(|(memories, auc)| Candidate {
            memories: memories.iter().map(|&m| MEMORIES[m]).collect(),
            inner_auc: *auc,
        })
        .collect();
    let memories = ranked
        .iter()
        .find(|(m, _)| options.memories.is_none_or(|n| m.len() == n))
        .map_or_else(|| ranked[0].0.clone(), |(m, _)| m.clone());
    let columns = fit::varying(&train, fit::columns_for(&memories, kinds, &extra, &penalty));
    let fitted = fit::fit(&train, &columns, ALPHA)?;
    let scorer = fit::scorer(&fitted, &memories, kinds, &penalty);
    let draws = fit::bootstrap(&train, &columns, options.bootstrap)?;
    let long = memories.len() - 1;
    let column_of = |memory: usize, kind: usize| {
        columns
            .iter()
            .position(|c| *c == Column::Kind { memory, kind })
    };
    let mut weights = Vec::new();
    for (index, kind) in dataset.kinds.iter().enumerate() {
        let long_column = column_of(memories[long], index);
        let short_column = (long > 0).then(|| column_of(memories[0], index)).flatten();
        if long_column.is_none() && short_column.is_none() {
            // Never seen in training: it cannot be weighed, and counts nothing.
            weights.push(KindWeight {
                kind: *kind,
                weight: 0.0,
                short: 0.0,
                fitted: 0.0,
                fitted_short: 0.0,
                low: 0.0,
                high: 0.0,
                current: config.weight(*kind),
                current_short: config.short_weight(*kind),
            });
            continue;
        }
        let found = |column: Option<usize>, weights: &[f64]| {
            column.map_or(0.0, |c| weights[c] * POINTS_PER_LOGIT)
        };
        let (low, high) = fit::interval(&draws, |draw| {
            found(long_column, draw) + found(short_column, draw)
        });
        weights.push(KindWeight {
            kind: *kind,
            weight: scorer.points[long][index],
            short: if long > 0 {
                scorer.points[0][index]
            } else {
                0.0
            },
            fitted: found(long_column, &fitted.weights),
            fitted_short: found(short_column, &fitted.weights),
            low,
            high,
            current: config.weight(*kind),
            current_short: config.short_weight(*kind),
        });
    }
    weights.sort_by(|a, b| b.worth().total_cmp(&a.worth()));
    let fit_per_point = columns
        .iter()
        .position(|c| *c == Column::Fit)
        .map_or(0.0, |c| fitted.weights[c]);
    // The top tenth of the training snapshots reads 70 or more.
    let mut raws: Vec<f64> = train.iter().map(|r| scorer.raw(r)).collect();
    raws.sort_by(f64::total_cmp);
    let top = raws[raws.len() * 9 / 10].max(1e-3);
    let score_scale = top / (1.0f64 / 0.3).ln();
    let people = Comparison {
        current: compare(&train, &test, |r| r.current)?,
        learned: compare(&train, &test, |r| scorer.raw(r))?,
    };
    let alternative = match ranked.iter().find(|(m, _)| m.len() != memories.len()) {
        Some((other, auc)) => {
            let columns = fit::varying(&train, fit::columns_for(other, kinds, &extra, &penalty));
            let model = fit::fit(&train, &columns, ALPHA)?;
            let score = fit::scorer(&model, other, kinds, &penalty);
            Some((
                Candidate {
                    memories: other.iter().map(|&m| MEMORIES[m]).collect(),
                    inner_auc: *auc,
                },
                compare(&train, &test, |r| score.raw(r))?,
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
                fit::columns_for(
                    &memories,
                    kinds,
                    &[Column::Engaged, Column::Roles],
                    &penalty,
                ),
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
        half_life_days: MEMORIES[memories[long]],
        short_half_life_days: (long > 0).then(|| MEMORIES[memories[0]]),
        score_scale,
        weights,
        fit_per_point,
        candidates,
        people,
        alternative,
        accounts,
        current_half_life_days: config.half_life_days,
        scorer,
        cut,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::history::kind_index;
    use rand::{Rng, SeedableRng};

    const WEEK: Millis = 7 * MILLIS_PER_DAY as Millis;

    /// People whose odds of an opportunity rise with demo requests in the short
    /// memory (3 days) and content downloads in the long one (60 days), and with
    /// nothing else: no single memory sees both.
    fn two_signals() -> Dataset {
        let mut random = rand::rngs::StdRng::seed_from_u64(5);
        let (demo, download) = (
            kind_index(TouchKind::DemoRequest),
            kind_index(TouchKind::ContentDownload),
        );
        let dates: Vec<Millis> = (0..24).map(|w| 1_790_000_000_000 + w * WEEK).collect();
        let mut people = Vec::new();
        for entity in 0..200u64 {
            for &at in &dates {
                let mut decayed = vec![vec![0.0; TouchKind::ALL.len()]; MEMORIES.len()];
                for memory in decayed.iter_mut() {
                    for value in memory.iter_mut() {
                        *value = if random.gen_bool(0.3) {
                            random.gen_range(0.0..2.0)
                        } else {
                            0.0
                        };
                    }
                }
                let logit: f64 = -3.5 + 2.0 * decayed[0][demo] + 1.5 * decayed[4][download];
                let label = random.gen_bool(1.0 / (1.0 + (-logit).exp()));
                people.push(Row {
                    at,
                    entity,
                    current: decayed[2].iter().sum(),
                    decayed,
                    points: 0.0,
                    forms: 0,
                    kinds_30d: 0,
                    fit_points: 0.0,
                    engaged: 0.0,
                    roles: 0.0,
                    label,
                });
            }
        }
        Dataset {
            kinds: TouchKind::ALL.to_vec(),
            people,
            dates,
            ..Dataset::default()
        }
    }

    #[test]
    fn a_short_and_a_long_memory_are_suggested_when_both_carry_signal_and_apply_as_a_scoring() {
        let options = Options {
            horizon_days: 7.0,
            bootstrap: 3,
            memories: None,
        };
        let config = ScoringConfig::default();
        let suggestion = suggest_from(&two_signals(), &config, &options).unwrap();
        assert_eq!(
            (suggestion.short_half_life_days, suggestion.half_life_days),
            (Some(3.0), 60.0),
            "{:?}",
            suggestion.candidates
        );
        let weight = |kind| suggestion.weights.iter().find(|w| w.kind == kind).unwrap();
        assert!(weight(TouchKind::DemoRequest).short > 10.0);
        assert!(weight(TouchKind::ContentDownload).weight > 10.0);
        assert!(suggestion.people.learned.auc > suggestion.people.current.auc + 0.1);
        // A penalty keeps its one, long memory.
        assert_eq!(weight(TouchKind::Unsubscribe).short, 0.0);
        assert!(suggestion.weights.iter().all(|w| w.short >= 0.0));
        // Stored and applied, it is a scoring the score can hold.
        let mut applied = config.clone();
        suggestion.learned().apply_to(&mut applied);
        assert_eq!(applied.validate(), Ok(()));
        assert_eq!(applied.short_memory.half_life_days, 3.0);
        assert_eq!(
            applied.short_weight(TouchKind::DemoRequest),
            weight(TouchKind::DemoRequest).short
        );
        assert_eq!(applied.half_life_days, 60.0);
    }
}
