//! Qualification stages with hysteresis: a ladder of stages, each entered above one
//! bar and left only below a lower one, so a contact hovering at a threshold does not
//! flap between stages. Pure: the current stage and the facts in, the next stage out.

use super::fit::Grade;
use serde::Deserialize;

/// One rung of the ladder. A contact climbs to the highest rung whose `enter` rules it
/// meets, and stays on its rung until it no longer meets the rung's `stay` rules.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StageRule {
    pub name: String,
    /// Lowest score to enter.
    #[serde(default)]
    pub enter_score: u8,
    /// Lowest score to stay (at most `enter_score`): the hysteresis band.
    #[serde(default)]
    pub stay_score: u8,
    /// Worst fit grade allowed (`A`…`D`).
    #[serde(default = "default_min_fit")]
    pub min_fit: String,
    /// Entering needs attention rising by at least this much raw attention over
    /// the last 7 days (`attention_velocity`).
    #[serde(default)]
    pub min_velocity: Option<f64>,
    /// Entering needs these profile fields known.
    #[serde(default)]
    pub required_fields: Vec<String>,
}

fn default_min_fit() -> String {
    "D".into()
}

pub fn default_ladder() -> Vec<StageRule> {
    let rung =
        |name: &str, enter: u8, stay: u8, fit: &str, velocity: Option<f64>, required: &[&str]| {
            StageRule {
                name: name.into(),
                enter_score: enter,
                stay_score: stay,
                min_fit: fit.into(),
                min_velocity: velocity,
                required_fields: required.iter().map(|f| f.to_string()).collect(),
            }
        };
    vec![
        rung("new", 0, 0, "D", None, &[]),
        rung("engaged", 20, 12, "D", None, &[]),
        rung("mql", 45, 35, "C", None, &[]),
        rung("sales_ready", 65, 55, "B", Some(0.0), &["title", "company"]),
    ]
}

fn grade(text: &str) -> Option<Grade> {
    match text {
        "A" => Some(Grade::A),
        "B" => Some(Grade::B),
        "C" => Some(Grade::C),
        "D" => Some(Grade::D),
        _ => None,
    }
}

/// Checks a ladder: names unique, bars rising, `stay` at most `enter`. Returns the
/// offending index and why.
pub fn validate(ladder: &[StageRule]) -> Result<(), (usize, String)> {
    if ladder.is_empty() {
        return Err((0, "the ladder needs at least one stage".into()));
    }
    for (index, rung) in ladder.iter().enumerate() {
        if rung.stay_score > rung.enter_score {
            return Err((
                index,
                format!(
                    "stage `{}`: stay_score must not exceed enter_score",
                    rung.name
                ),
            ));
        }
        if grade(&rung.min_fit).is_none() {
            return Err((
                index,
                format!("stage `{}`: min_fit must be one of A, B, C, D", rung.name),
            ));
        }
        if ladder[..index]
            .iter()
            .any(|earlier| earlier.name == rung.name)
        {
            return Err((index, format!("stage `{}` appears twice", rung.name)));
        }
        if index > 0 && rung.enter_score < ladder[index - 1].enter_score {
            return Err((
                index,
                format!("stage `{}`: enter_score must rise up the ladder", rung.name),
            ));
        }
    }
    Ok(())
}

/// What the ladder looks at.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub score: u8,
    pub fit: Grade,
    /// Change of raw attention over the last 7 days.
    pub velocity: f64,
    pub missing: &'a [String],
    /// "Do not contact": the stage stays where it is.
    pub frozen: bool,
}

fn meets(rung: &StageRule, facts: &Facts<'_>, entering: bool) -> bool {
    let fit_ok = grade(&rung.min_fit).is_none_or(|worst| facts.fit <= worst);
    if !entering {
        return fit_ok && facts.score >= rung.stay_score;
    }
    fit_ok
        && facts.score >= rung.enter_score
        && rung.min_velocity.is_none_or(|v| facts.velocity > v)
        && rung
            .required_fields
            .iter()
            .all(|field| !facts.missing.contains(field))
}

/// The stage after `current` given `facts`, with the reason for a change.
/// Climbing needs a rung's `enter` rules; falling happens only below `stay`.
pub fn next_stage(
    ladder: &[StageRule],
    current: Option<&str>,
    facts: &Facts<'_>,
) -> (String, Option<String>) {
    let position = current.and_then(|name| ladder.iter().position(|rung| rung.name == name));
    let here = position.unwrap_or(0);
    if facts.frozen {
        return (ladder[here].name.clone(), None);
    }
    if let Some(up) = (here + 1..ladder.len())
        .rev()
        .find(|&i| meets(&ladder[i], facts, true))
    {
        let rung = &ladder[up];
        return (
            rung.name.clone(),
            Some(format!(
                "score {} ≥ {} with fit {}",
                facts.score,
                rung.enter_score,
                facts.fit.as_str()
            )),
        );
    }
    if position.is_some() && here > 0 && !meets(&ladder[here], facts, false) {
        let down = (0..here)
            .rev()
            .find(|&i| meets(&ladder[i], facts, false))
            .unwrap_or(0);
        return (
            ladder[down].name.clone(),
            Some(format!(
                "score {} < {} to stay {}",
                facts.score, ladder[here].stay_score, ladder[here].name
            )),
        );
    }
    let name = ladder[here].name.clone();
    let reason = position.is_none().then(|| "first assessment".to_string());
    (name, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn facts(score: u8, fit: Grade) -> Facts<'static> {
        Facts {
            score,
            fit,
            velocity: 1.0,
            missing: &[],
            frozen: false,
        }
    }

    #[test]
    fn the_default_ladder_is_valid() {
        assert_eq!(validate(&default_ladder()), Ok(()));
    }

    #[test]
    fn hovering_at_a_threshold_does_not_flap() {
        let ladder = default_ladder();
        let (stage, _) = next_stage(&ladder, Some("engaged"), &facts(46, Grade::B));
        assert_eq!(stage, "mql");
        // Dipping below the entry bar but above the stay bar keeps the stage …
        for score in [44, 40, 36, 46, 35] {
            assert_eq!(
                next_stage(&ladder, Some("mql"), &facts(score, Grade::B)).0,
                "mql",
                "score {score}"
            );
        }
        // … falling below it leaves, to the highest rung still held.
        let (stage, reason) = next_stage(&ladder, Some("mql"), &facts(30, Grade::B));
        assert_eq!(stage, "engaged");
        assert!(reason.unwrap().contains("< 35"));
    }

    #[test]
    fn sales_ready_needs_fit_rising_attention_and_the_fields() {
        let ladder = default_ladder();
        assert_eq!(
            next_stage(&ladder, Some("mql"), &facts(80, Grade::C)).0,
            "mql"
        );
        let missing = vec!["company".to_string()];
        let without_company = Facts {
            missing: &missing,
            ..facts(80, Grade::A)
        };
        assert_eq!(next_stage(&ladder, Some("mql"), &without_company).0, "mql");
        let fading = Facts {
            velocity: -2.0,
            ..facts(80, Grade::A)
        };
        assert_eq!(next_stage(&ladder, Some("mql"), &fading).0, "mql");
        assert_eq!(
            next_stage(&ladder, Some("mql"), &facts(80, Grade::A)).0,
            "sales_ready"
        );
    }

    #[test]
    fn do_not_contact_freezes_the_stage() {
        let ladder = default_ladder();
        let frozen = Facts {
            frozen: true,
            ..facts(99, Grade::A)
        };
        assert_eq!(
            next_stage(&ladder, Some("engaged"), &frozen),
            ("engaged".to_string(), None)
        );
    }

    #[test]
    fn a_first_assessment_may_start_high() {
        let (stage, reason) = next_stage(&default_ladder(), None, &facts(50, Grade::B));
        assert_eq!(stage, "mql");
        assert!(reason.is_some());
    }

    #[test]
    fn broken_ladders_are_named() {
        let mut ladder = default_ladder();
        ladder[2].stay_score = 90;
        assert!(validate(&ladder).unwrap_err().1.contains("mql"));
        let mut ladder = default_ladder();
        ladder[1].min_fit = "E".into();
        assert!(validate(&ladder).unwrap_err().1.contains("min_fit"));
    }

    proptest! {
        /// A score oscillating between a rung's stay and enter bars neither lifts a
        /// contact onto that rung nor drops one that is on it.
        #[test]
        fn a_score_inside_the_hysteresis_band_never_flaps(
            rung in 1usize..4,
            on_it in any::<bool>(),
            wobble in proptest::collection::vec(0.0f64..1.0, 1..60),
        ) {
            let ladder = default_ladder();
            let (stay, enter) = (ladder[rung].stay_score, ladder[rung].enter_score);
            let start = if on_it { rung } else { rung - 1 };
            let mut stage = ladder[start].name.clone();
            for share in wobble {
                let score = stay + (share * f64::from(enter - stay)).floor() as u8;
                prop_assert!(score >= stay && score < enter);
                let (next, reason) = next_stage(&ladder, Some(&stage), &facts(score, Grade::A));
                prop_assert_eq!(&next, &ladder[start].name, "score {}", score);
                prop_assert!(reason.is_none());
                stage = next;
            }
        }

        /// Whatever the start, a score that stays inside one band moves the stage at
        /// most once: a fall from above, then it holds.
        #[test]
        fn a_score_inside_a_band_moves_the_stage_at_most_once(
            rung in 1usize..4,
            start in 0usize..4,
            wobble in proptest::collection::vec(0.0f64..1.0, 1..60),
        ) {
            let ladder = default_ladder();
            let (stay, enter) = (ladder[rung].stay_score, ladder[rung].enter_score);
            let mut stage = ladder[start].name.clone();
            let mut changes = 0;
            for share in wobble {
                let score = stay + (share * f64::from(enter - stay)).floor() as u8;
                let (next, _) = next_stage(&ladder, Some(&stage), &facts(score, Grade::A));
                changes += usize::from(next != stage);
                stage = next;
            }
            prop_assert!(changes <= 1, "{} changes", changes);
        }
    }
}
