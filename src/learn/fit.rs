//! The model: an L2-regularized logistic regression (linfa-logistic) on
//! standardized features, its weights turned back into the features' own units so
//! that a score is their weighted sum; the score it suggests, held to the signs a
//! score allows; memories (one, or a short and a long one) chosen on a time split
//! inside the training period; bootstrap intervals by resampling people, not rows,
//! since one person's weekly snapshots are not independent.

use super::snapshots::{Row, MEMORIES};
use super::LearnError;
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};

/// The regularization strength on standardized features.
pub const ALPHA: f64 = 1.0;

/// One feature of the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Column {
    /// Counted units of a kind (index into the dataset's kinds) at a memory (index
    /// into [`MEMORIES`]).
    Kind {
        memory: usize,
        kind: usize,
    },
    Fit,
    Engaged,
    Roles,
}

impl Column {
    pub fn value(&self, row: &Row) -> f64 {
        match *self {
            Column::Kind { memory, kind } => row.decayed[memory][kind],
            Column::Fit => row.fit_points,
            Column::Engaged => row.engaged,
            Column::Roles => row.roles,
        }
    }
}

/// A fitted model in the features' own units: `logit = intercept + Σ wᵢ·xᵢ`.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub columns: Vec<Column>,
    pub weights: Vec<f64>,
    pub intercept: f64,
}

impl Fitted {
    pub fn logit(&self, row: &Row) -> f64 {
        self.intercept
            + self
                .columns
                .iter()
                .zip(&self.weights)
                .map(|(column, weight)| weight * column.value(row))
                .sum::<f64>()
    }
}

fn matrix(rows: &[&Row], columns: &[Column]) -> Array2<f64> {
    Array2::from_shape_fn((rows.len(), columns.len()), |(i, j)| {
        columns[j].value(rows[i])
    })
}

/// Keeps the columns that vary in `rows`: a kind nobody did cannot be weighed.
pub fn varying(rows: &[&Row], columns: Vec<Column>) -> Vec<Column> {
    columns
        .into_iter()
        .filter(|column| {
            let first = rows.first().map(|row| column.value(row)).unwrap_or(0.0);
            rows.iter().any(|row| column.value(row) != first)
        })
        .collect()
}

/// Fits the model on `rows`.
pub fn fit(rows: &[&Row], columns: &[Column], alpha: f64) -> Result<Fitted, LearnError> {
    let x = matrix(rows, columns);
    let n = rows.len().max(1) as f64;
    let means: Vec<f64> = (0..columns.len()).map(|j| x.column(j).sum() / n).collect();
    let sds: Vec<f64> = (0..columns.len())
        .map(|j| {
            let mean = means[j];
            let var = x.column(j).iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            var.sqrt().max(1e-12)
        })
        .collect();
    let standardized = Array2::from_shape_fn(x.dim(), |(i, j)| (x[(i, j)] - means[j]) / sds[j]);
    let labels: Vec<bool> = rows.iter().map(|row| row.label).collect();
    let (standard_weights, standard_intercept) = fit_matrix(standardized, &labels, alpha)?;
    let weights: Vec<f64> = standard_weights
        .iter()
        .zip(&sds)
        .map(|(w, sd)| w / sd)
        .collect();
    let intercept = standard_intercept
        - weights
            .iter()
            .zip(&means)
            .map(|(w, mean)| w * mean)
            .sum::<f64>();
    Ok(Fitted {
        columns: columns.to_vec(),
        weights,
        intercept,
    })
}

/// The logistic regression itself: weights and intercept, `true` the positive class.
pub fn fit_matrix(
    x: Array2<f64>,
    labels: &[bool],
    alpha: f64,
) -> Result<(Vec<f64>, f64), LearnError> {
    let targets: Array1<bool> = labels.iter().copied().collect();
    let model = LogisticRegression::default()
        .alpha(alpha)
        .max_iterations(200)
        .fit(&linfa::Dataset::new(x, targets))
        .map_err(|error| LearnError::Model(error.to_string()))?;
    // linfa calls the larger class positive; converting is the rarer one.
    let sign = if model.labels().pos.class { 1.0 } else { -1.0 };
    Ok((
        model.params().iter().map(|w| sign * w).collect(),
        sign * model.intercept(),
    ))
}

/// Maps a score onto a probability (Platt scaling), fitted on training rows, so
/// that scores of different scales are compared on calibration too.
pub fn calibrate(scores: &[f64], labels: &[bool]) -> Result<(f64, f64), LearnError> {
    let n = scores.len().max(1) as f64;
    let mean = scores.iter().sum::<f64>() / n;
    let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n)
        .sqrt()
        .max(1e-12);
    let x = Array2::from_shape_fn((scores.len(), 1), |(i, _)| (scores[i] - mean) / sd);
    let (weights, intercept) = fit_matrix(x, labels, 1e-6)?;
    let slope = weights[0] / sd;
    Ok((intercept - slope * mean, slope))
}

/// Points per logit: 10 points double the odds of an opportunity in the horizon.
pub const POINTS_PER_LOGIT: f64 = 10.0 / std::f64::consts::LN_2;

/// The score a fitted model suggests: per memory, each kind's points, held to the
/// rules a score keeps. Short-memory points are 0 or more, so that with no new
/// touch a score only falls. A kind the scoring rewards (`penalty(kind)` false) is
/// worth 0 or more when fresh: its long-memory points may be below 0 (attention
/// that faded without follow-up counts against: acceleration), but never below
/// minus its short ones. A penalty stays one: 0 or less, at the long (last) memory
/// only. Fit and breadth are the model's, not the score's: they are left out.
pub fn scorer(
    fitted: &Fitted,
    memories: &[usize],
    kinds: usize,
    penalty: &dyn Fn(usize) -> bool,
) -> Scorer {
    let mut found = vec![vec![0.0; kinds]; memories.len()];
    for (column, weight) in fitted.columns.iter().zip(&fitted.weights) {
        let Column::Kind { memory, kind } = *column else {
            continue;
        };
        if let Some(slot) = memories.iter().position(|m| *m == memory) {
            found[slot][kind] = weight * POINTS_PER_LOGIT;
        }
    }
    let long = memories.len() - 1;
    let mut points = vec![vec![0.0; kinds]; memories.len()];
    for kind in 0..kinds {
        if penalty(kind) {
            points[long][kind] = found[long][kind].min(0.0);
            continue;
        }
        let short: f64 = found[..long].iter().map(|f| f[kind].max(0.0)).sum();
        for slot in 0..long {
            points[slot][kind] = found[slot][kind].max(0.0);
        }
        // `+ 0.0` turns a -0.0 from the bound into 0.
        points[long][kind] = if long == 0 {
            found[long][kind].max(0.0)
        } else {
            found[long][kind].max(-short) + 0.0
        };
    }
    Scorer {
        memories: memories.to_vec(),
        points,
    }
}

/// Splits rows by date: those before `cut` and those from it on.
pub fn split_at<'r>(rows: &[&'r Row], cut: i64) -> (Vec<&'r Row>, Vec<&'r Row>) {
    rows.iter().partition(|row| row.at < cut)
}

/// Chooses the memories: one half-life for every kind, or a short and a long one
/// (acceleration). Each candidate is fitted on the older training dates and the
/// score it suggests (signs held as the score allows) is ranked on the newest
/// quarter of them; the score, not the model, is what is judged, since the score
/// is what reps see. `extra` columns (fit, breadth) go in every model. Returns the
/// memory indices and the inner validation AUC of each candidate, best first.
pub fn choose_memories(
    train: &[&Row],
    kinds: usize,
    extra: &[Column],
    gap: i64,
    penalty: &dyn Fn(usize) -> bool,
) -> Result<Vec<(Vec<usize>, f64)>, LearnError> {
    let mut dates: Vec<i64> = train.iter().map(|row| row.at).collect();
    dates.sort_unstable();
    dates.dedup();
    let cut = dates[dates.len() * 3 / 4];
    let (inner_train, inner_test) = split_at(train, cut);
    // Labels of the inner training rows must be known before the inner test begins.
    let inner_train: Vec<&Row> = inner_train
        .into_iter()
        .filter(|row| row.at + gap <= cut)
        .collect();
    let has_both = |rows: &[&Row]| rows.iter().any(|r| r.label) && rows.iter().any(|r| !r.label);
    if !has_both(&inner_train) || !has_both(&inner_test) {
        return Err(LearnError::TooFew {
            positives: train.iter().filter(|r| r.label).count(),
            needed: super::MIN_POSITIVES,
        });
    }
    let mut candidates: Vec<Vec<usize>> = (0..MEMORIES.len()).map(|m| vec![m]).collect();
    for short in 0..MEMORIES.len() {
        for long in short + 1..MEMORIES.len() {
            candidates.push(vec![short, long]);
        }
    }
    let labels: Vec<bool> = inner_test.iter().map(|row| row.label).collect();
    let mut scored = Vec::new();
    for memories in candidates {
        let columns = varying(&inner_train, columns_for(&memories, kinds, extra, penalty));
        let fitted = fit(&inner_train, &columns, ALPHA)?;
        let score = scorer(&fitted, &memories, kinds, penalty);
        let scores: Vec<f64> = inner_test.iter().map(|row| score.raw(row)).collect();
        scored.push((memories, super::metrics::auc(&scores, &labels)));
    }
    // Best first; between equals, fewer memories.
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.len().cmp(&b.0.len())));
    Ok(scored)
}

/// The model's columns: every kind at every memory, but penalties only at the long
/// (last) one, as the score has them; then `extra`.
pub fn columns_for(
    memories: &[usize],
    kinds: usize,
    extra: &[Column],
    penalty: &dyn Fn(usize) -> bool,
) -> Vec<Column> {
    let last = memories.len().saturating_sub(1);
    let mut columns: Vec<Column> = memories
        .iter()
        .enumerate()
        .flat_map(|(slot, &memory)| {
            (0..kinds)
                .filter(move |&kind| slot == last || !penalty(kind))
                .map(move |kind| Column::Kind { memory, kind })
        })
        .collect();
    columns.extend_from_slice(extra);
    columns
}

/// The weights of `rounds` refits on people drawn with replacement (all of a
/// person's snapshots together), one vector per refit in the order of `columns`.
/// Seeded: the same data give the same draws.
pub fn bootstrap(
    rows: &[&Row],
    columns: &[Column],
    rounds: usize,
) -> Result<Vec<Vec<f64>>, LearnError> {
    let mut people: Vec<u64> = rows.iter().map(|row| row.entity).collect();
    people.sort_unstable();
    people.dedup();
    let mut by_person: std::collections::BTreeMap<u64, Vec<&Row>> = Default::default();
    for row in rows {
        by_person.entry(row.entity).or_default().push(row);
    }
    let mut random = rand::rngs::StdRng::seed_from_u64(17);
    let mut draws = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let mut sample = Vec::with_capacity(rows.len());
        for _ in 0..people.len() {
            let person = people[random.gen_range(0..people.len())];
            sample.extend(by_person[&person].iter().copied());
        }
        if !(sample.iter().any(|r| r.label) && sample.iter().any(|r| !r.label)) {
            continue;
        }
        draws.push(fit(&sample, columns, ALPHA)?.weights);
    }
    Ok(draws)
}

/// The 95 % interval of `value` over the draws; NaN without any.
pub fn interval(draws: &[Vec<f64>], value: impl Fn(&[f64]) -> f64) -> (f64, f64) {
    let mut values: Vec<f64> = draws.iter().map(|draw| value(draw)).collect();
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.025), at(0.975))
}

/// A scoring as a weighted sum of a snapshot's decayed units: per memory (index
/// into [`MEMORIES`], the long one last) the points of each kind.
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
