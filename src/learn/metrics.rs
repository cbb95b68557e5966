//! How well a score ranks who goes on to an opportunity: AUC, top-decile lift and
//! calibration, on the same snapshots for every score compared.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Chance that a random converter outranks a random non-converter (0.5 = a coin).
    pub auc: f64,
    /// Conversion in the top tenth by score over conversion overall.
    pub top_decile_lift: f64,
    /// Mean squared error of the predicted probability (lower is better).
    pub brier: f64,
    pub rows: usize,
    pub positives: usize,
}

/// Area under the ROC curve by ranks (Mann–Whitney); ties count a half.
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return 0.5;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Tied scores share the mean of their ranks (1-based).
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &index in &order[i..=j] {
            if labels[index] {
                rank_sum += rank;
            }
        }
        i = j + 1;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

/// Conversion among the top `share` by score over conversion overall.
pub fn lift(scores: &[f64], labels: &[bool], share: f64) -> f64 {
    lift_between(scores, labels, 0.0, share)
}

/// Conversion among the ranks from `from` to `to` (shares of the rows, highest
/// score first) over conversion overall. Tied scores are spread over the ranks they
/// straddle in proportion, so a score that ties everyone reads 1 anywhere.
pub fn lift_between(scores: &[f64], labels: &[bool], from: f64, to: f64) -> f64 {
    let n = scores.len();
    let positives = labels.iter().filter(|l| **l).count() as f64;
    if n == 0 || positives == 0.0 {
        return 0.0;
    }
    let (low, high) = (from * n as f64, to * n as f64);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut rows, mut hits) = (0.0, 0.0);
    let mut start = 0;
    while start < n {
        let mut end = start;
        let mut group_hits = 0.0;
        while end < n && scores[order[end]] == scores[order[start]] {
            group_hits += f64::from(u8::from(labels[order[end]]));
            end += 1;
        }
        let overlap = (high.min(end as f64) - low.max(start as f64)).max(0.0);
        rows += overlap;
        hits += overlap * group_hits / (end - start) as f64;
        start = end;
    }
    if rows == 0.0 {
        return 0.0;
    }
    (hits / rows) / (positives / n as f64)
}

pub fn brier(probabilities: &[f64], labels: &[bool]) -> f64 {
    if probabilities.is_empty() {
        return 0.0;
    }
    probabilities
        .iter()
        .zip(labels)
        .map(|(p, l)| (p - if *l { 1.0 } else { 0.0 }).powi(2))
        .sum::<f64>()
        / probabilities.len() as f64
}

pub fn measure(scores: &[f64], probabilities: &[f64], labels: &[bool]) -> Metrics {
    Metrics {
        auc: auc(scores, labels),
        top_decile_lift: lift(scores, labels, 0.1),
        brier: brier(probabilities, labels),
        rows: labels.len(),
        positives: labels.iter().filter(|l| **l).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_pairs_ranked_right_and_ties_as_half() {
        // Pairs (pos, neg): (3,1) (3,2) right, (0.5,1) (0.5,2) wrong: 2 of 4.
        assert_eq!(auc(&[3.0, 0.5, 1.0, 2.0], &[true, true, false, false]), 0.5);
        assert_eq!(auc(&[3.0, 2.5, 1.0, 2.0], &[true, true, false, false]), 1.0);
        assert_eq!(auc(&[1.0, 1.0], &[true, false]), 0.5);
    }

    #[test]
    fn lift_compares_the_top_with_the_whole() {
        // 20 rows, 2 converters, both at the top: the top 10 % (2 rows) converts
        // at 100 % against 10 % overall.
        let scores: Vec<f64> = (0..20).map(f64::from).collect();
        let mut labels = vec![false; 20];
        labels[19] = true;
        labels[18] = true;
        assert!((lift(&scores, &labels, 0.1) - 10.0).abs() < 1e-9);
        // Everyone tied: no better than the whole.
        assert!((lift(&[1.0; 20], &labels, 0.1) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_tenth_that_is_not_a_whole_number_of_rows_takes_part_of_the_next() {
        // 13 rows, 3 converters; the top tenth is 1.3 rows: the best (a converter)
        // and 0.3 of the next (not one): 1 / 1.3 against 3 / 13.
        let scores = [
            9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.4, 0.3, 0.2,
        ];
        let mut labels = [false; 13];
        labels[0] = true;
        labels[11] = true;
        labels[12] = true;
        let expected = (1.0 / 1.3) / (3.0 / 13.0);
        assert!((lift(&scores, &labels, 0.1) - expected).abs() < 1e-9);
    }

    #[test]
    fn brier_is_zero_when_certain_and_right() {
        assert_eq!(brier(&[1.0, 0.0], &[true, false]), 0.0);
        assert_eq!(brier(&[0.5, 0.5], &[true, false]), 0.25);
    }
}
