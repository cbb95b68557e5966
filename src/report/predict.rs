//! Does attention predict pipeline? The current score, the learned one and two
//! baselines (points without decay; the lead count, form submits) ranked on the same
//! snapshots: ROC curve, AUC and lift by decile; conversion by score band, by stage
//! and by fit × attention cell.

use super::timeline::Timelines;
use crate::learn::metrics::{auc, lift, lift_between};
use crate::learn::{Dataset, Row, Suggestion};
use crate::scoring::fit::attention_band;
use crate::scoring::ScoringConfig;
use serde::Serialize;

/// One score ranked against what followed.
#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    pub name: String,
    pub auc: f64,
    pub top_decile_lift: f64,
    /// (false positive rate, true positive rate), from (0, 0) to (1, 1).
    pub roc: Vec<(f64, f64)>,
    /// Conversion in each tenth by score, highest first, over conversion overall.
    pub deciles: Vec<f64>,
}

/// Conversion of the snapshots in one group.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    pub label: String,
    pub rows: usize,
    pub converted: usize,
    /// `converted / rows`, 0 for an empty group.
    pub rate: f64,
}

impl Rate {
    fn new(label: impl Into<String>, rows: usize, converted: usize) -> Rate {
        Rate {
            label: label.into(),
            rows,
            converted,
            rate: if rows == 0 {
                0.0
            } else {
                converted as f64 / rows as f64
            },
        }
    }
}

/// Conversion of one fit × attention cell (`A1` … `D4`).
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub grade: String,
    pub band: u8,
    pub rows: usize,
    pub converted: usize,
    pub rate: f64,
}

pub struct Predicted {
    pub evaluated_on: String,
    pub curves: Vec<Curve>,
    pub bands: Vec<Rate>,
    pub stages: Vec<Rate>,
    pub cells: Vec<Cell>,
}

/// Most points a ROC curve keeps: enough for a smooth line, few enough for a page.
const ROC_POINTS: usize = 200;

/// The ROC curve of `scores`: thresholds from the highest score down, ties taken
/// together (a diagonal step).
pub fn roc(scores: &[f64], labels: &[bool]) -> Vec<(f64, f64)> {
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return vec![(0.0, 0.0), (1.0, 1.0)];
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            if labels[order[j]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            j += 1;
        }
        points.push((fp / negatives, tp / positives));
        i = j;
    }
    if points.len() > ROC_POINTS {
        let step = points.len().div_ceil(ROC_POINTS);
        let last = points[points.len() - 1];
        points = points.into_iter().step_by(step).collect();
        if points.last() != Some(&last) {
            points.push(last);
        }
    }
    points
}

/// Conversion in each tenth by score over conversion overall, highest tenth first.
pub fn deciles(scores: &[f64], labels: &[bool]) -> Vec<f64> {
    (0..10)
        .map(|t| lift_between(scores, labels, f64::from(t) / 10.0, f64::from(t + 1) / 10.0))
        .collect()
}

fn curve(name: String, rows: &[&Row], score: impl Fn(&Row) -> f64) -> Curve {
    let scores: Vec<f64> = rows.iter().map(|r| score(r)).collect();
    let labels: Vec<bool> = rows.iter().map(|r| r.label).collect();
    Curve {
        name,
        auc: auc(&scores, &labels),
        top_decile_lift: lift(&scores, &labels, 0.1),
        roc: roc(&scores, &labels),
        deciles: deciles(&scores, &labels),
    }
}

pub fn predict(
    dataset: &Dataset,
    suggestion: Option<&Suggestion>,
    timelines: &Timelines,
    config: &ScoringConfig,
) -> Predicted {
    let all: Vec<&Row> = dataset.people.iter().collect();
    // The learned score is judged only on snapshots it was not trained on, and the
    // others on the same ones, so that the four are compared fairly.
    let (rows, evaluated_on): (Vec<&Row>, String) = match suggestion {
        Some(s) => {
            let rows: Vec<&Row> = all.iter().copied().filter(|r| r.at >= s.cut).collect();
            let text = format!(
                "the {} weekly snapshots of people from {} to {}, newer than everything the learned score was trained on",
                rows.len(),
                s.window.validate_from.get(..10).unwrap_or_default(),
                s.window.validate_to.get(..10).unwrap_or_default()
            );
            (rows, text)
        }
        None => {
            let text = format!("all {} weekly snapshots of people", all.len());
            (all.clone(), text)
        }
    };
    let mut curves = Vec::new();
    if rows.iter().any(|r| r.label) && rows.iter().any(|r| !r.label) {
        let memories = if config.short_memory.weights.is_empty() {
            format!("half-life {} days", config.half_life_days)
        } else {
            format!(
                "memories {} and {} days",
                config.short_memory.half_life_days, config.half_life_days
            )
        };
        curves.push(curve(format!("Current score ({memories})"), &rows, |r| {
            r.current
        }));
        if let Some(s) = suggestion {
            let memories = match s.short_half_life_days {
                Some(short) => format!("memories {short} and {} days", s.half_life_days),
                None => format!("half-life {} days", s.half_life_days),
            };
            curves.push(curve(format!("Learned score ({memories})"), &rows, |r| {
                s.scorer.raw(r)
            }));
        }
        curves.push(curve("Points without decay".into(), &rows, |r| r.points));
        curves.push(curve("Lead count (form submits)".into(), &rows, |r| {
            f64::from(r.forms)
        }));
    }
    // Descriptive rates need no holding out: every snapshot counts.
    let bands_named = {
        let [a, b, c] = config.attention_bands;
        [
            format!("{a}–99"),
            format!("{b}–{}", a - 1),
            format!("{c}–{}", b - 1),
            format!("0–{}", c.saturating_sub(1)),
        ]
    };
    let mut band_counts = [(0usize, 0usize); 4];
    let mut stage_counts = vec![(0usize, 0usize); config.stages.len()];
    let mut cell_counts = [[(0usize, 0usize); 4]; 4];
    for row in &all {
        let Some(point) = timelines.at(row.entity, row.at) else {
            continue;
        };
        let band = attention_band(point.score, config.attention_bands) as usize - 1;
        let grade = point.grade as usize;
        for counts in [
            &mut band_counts[band],
            &mut stage_counts[point.stage],
            &mut cell_counts[grade][band],
        ] {
            counts.0 += 1;
            counts.1 += usize::from(row.label);
        }
    }
    let bands = bands_named
        .iter()
        .zip(band_counts)
        .map(|(name, (rows, converted))| Rate::new(format!("score {name}"), rows, converted))
        .collect();
    let stages = config
        .stages
        .iter()
        .zip(stage_counts)
        .map(|(rung, (rows, converted))| Rate::new(rung.name.clone(), rows, converted))
        .collect();
    let mut cells = Vec::new();
    for (name, counts) in ["A", "B", "C", "D"].iter().zip(cell_counts) {
        for (band, (rows, converted)) in counts.into_iter().enumerate() {
            let rate = Rate::new("", rows, converted).rate;
            cells.push(Cell {
                grade: name.to_string(),
                band: band as u8 + 1,
                rows,
                converted,
                rate,
            });
        }
    }
    Predicted {
        evaluated_on,
        curves,
        bands,
        stages,
        cells,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_ranking_climbs_straight_up_and_ties_go_diagonally() {
        let perfect = roc(&[4.0, 3.0, 2.0, 1.0], &[true, true, false, false]);
        assert_eq!(
            perfect,
            vec![(0.0, 0.0), (0.0, 0.5), (0.0, 1.0), (0.5, 1.0), (1.0, 1.0)]
        );
        let tied = roc(&[1.0, 1.0], &[true, false]);
        assert_eq!(tied, vec![(0.0, 0.0), (1.0, 1.0)]);
    }

    #[test]
    fn deciles_spread_ties_and_read_one_for_a_score_that_ties_everyone() {
        let labels: Vec<bool> = (0..20).map(|i| i < 2).collect();
        assert!(deciles(&[0.0; 20], &labels)
            .iter()
            .all(|d| (d - 1.0).abs() < 1e-9));
        // The two converters on top: the first tenth (2 rows) converts at 100 %
        // against 10 % overall.
        let scores: Vec<f64> = (0..20).map(|i| f64::from(20 - i)).collect();
        let lifts = deciles(&scores, &labels);
        assert!((lifts[0] - 10.0).abs() < 1e-9);
        assert!(lifts[1..].iter().all(|d| *d == 0.0));
    }
}
