//! The score's second memory: per kind, besides its weight at `half_life_days`, a
//! weight at a shorter half-life. A touch then adds `weight × ½^(age / long) +
//! short weight × ½^(age / short)`: still a weighted, decayed sum, each touch's
//! part shown on its own, but one that can reward attention that is recent and
//! growing (acceleration) more than the same attention spread over months. Empty by
//! default, which is the one-memory score exactly. Only rewards have a short
//! memory, so with no new touch a score only falls.

use crate::model::TouchKind;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[scoring.short_memory]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShortMemory {
    /// Days after which a touch's short-memory weight counts half; shorter than
    /// `half_life_days`.
    #[serde(default = "default_half_life_days")]
    pub half_life_days: f64,
    /// Points per touch of each kind at the short memory; unlisted kinds have none.
    #[serde(default)]
    pub weights: BTreeMap<TouchKind, f64>,
}

impl Default for ShortMemory {
    fn default() -> Self {
        ShortMemory {
            half_life_days: default_half_life_days(),
            weights: BTreeMap::new(),
        }
    }
}

fn default_half_life_days() -> f64 {
    3.0
}

impl ShortMemory {
    pub fn weight(&self, kind: TouchKind) -> f64 {
        self.weights.get(&kind).copied().unwrap_or(0.0)
    }

    /// Checks the memory against the long weights (`long(kind)`): finite weights,
    /// a shorter half-life, short weights of 0 or more, and a kind with a short
    /// weight worth 0 or more when fresh. Its long weight may be below 0: attention
    /// that faded without follow-up then counts against (acceleration). With short
    /// weights of 0 or more, raw attention above 0 only falls while nothing
    /// happens (the short parts, all rewards, fade fastest), so a score rises only
    /// with a new touch, as with one memory. Returns the offending key and why.
    pub fn validate(
        &self,
        long_half_life_days: f64,
        long: impl Fn(TouchKind) -> f64,
    ) -> Result<(), (String, String)> {
        if !(self.half_life_days.is_finite() && self.half_life_days > 0.0) {
            return Err((
                "half_life_days".into(),
                "must be a number greater than 0".into(),
            ));
        }
        // A memory without weights counts nothing: its half-life does not matter.
        if !self.weights.is_empty() && self.half_life_days >= long_half_life_days {
            return Err((
                "half_life_days".into(),
                "must be shorter than scoring.half_life_days".into(),
            ));
        }
        for (kind, short) in &self.weights {
            if !short.is_finite() {
                return Err((format!("weights.{kind}"), "must be a finite number".into()));
            }
            if *short < 0.0 {
                return Err((
                    format!("weights.{kind}"),
                    "must be 0 or more: a short memory holds rewards, so that with no new touch a score only falls"
                        .into(),
                ));
            }
            let long = long(*kind);
            if *short > 0.0 && long + short < 0.0 {
                return Err((
                    format!("weights.{kind}"),
                    format!(
                        "with scoring.weights.{kind} = {long}, a fresh touch would count {}: a kind with a short memory \
                         is a reward, worth 0 or more when fresh",
                        long + short
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(weights: &[(TouchKind, f64)]) -> ShortMemory {
        ShortMemory {
            half_life_days: 3.0,
            weights: weights.iter().copied().collect(),
        }
    }

    #[test]
    fn a_short_memory_holds_rewards_and_their_long_weight_may_fall_below_zero() {
        let long = |kind| crate::scoring::default_weight(kind);
        // Recent demo requests count more: 20 + 30 fresh, 20 once old.
        assert_eq!(
            memory(&[(TouchKind::DemoRequest, 30.0)]).validate(14.0, long),
            Ok(())
        );
        // 226 − 20 fresh, −20 once old: a demo request long past, with nothing
        // after it, counts against.
        let faded = |kind| {
            if kind == TouchKind::DemoRequest {
                -20.0
            } else {
                long(kind)
            }
        };
        assert_eq!(
            memory(&[(TouchKind::DemoRequest, 226.0)]).validate(14.0, faded),
            Ok(())
        );
        // Below 0: a score could rise with nobody doing anything.
        let error = memory(&[(TouchKind::EmailOpen, -0.5)])
            .validate(14.0, long)
            .unwrap_err();
        assert_eq!(error.0, "weights.email_open");
        assert!(error.1.contains("only falls"), "{}", error.1);
        // −15 + 5 fresh: a penalty is no reward.
        let error = memory(&[(TouchKind::Unsubscribe, 5.0)])
            .validate(14.0, long)
            .unwrap_err();
        assert_eq!(error.0, "weights.unsubscribe");
        assert!(
            error.1.contains("worth 0 or more when fresh"),
            "{}",
            error.1
        );
        let mut slow = memory(&[(TouchKind::DemoRequest, 30.0)]);
        slow.half_life_days = 14.0;
        assert_eq!(slow.validate(14.0, long).unwrap_err().0, "half_life_days");
    }
}
