//! A person's attention over time: the decaying curve of their score and a mark
//! for each touch, recounted under the current settings the way scoring counts.

use crate::model::{Millis, MILLIS_PER_DAY};
use crate::scoring::{self, ScoringConfig};
use crate::store::StoredTouch;
use serde::Serialize;
use utoipa::ToSchema;

/// Points of the curve between touches.
const SAMPLES: i64 = 180;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Timeline {
    pub from: Millis,
    pub to: Millis,
    /// `[time, score]`, in time order; a touch shows as a step up (or down).
    pub points: Vec<(Millis, f64)>,
    /// The touches inside the window, oldest first.
    pub marks: Vec<Mark>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Mark {
    pub at: Millis,
    pub kind: String,
    pub label: String,
    pub source: String,
    /// The weight it was counted with.
    pub weight: f64,
    /// The score right after it.
    pub score: f64,
    pub notes: Vec<String>,
}

/// The score (unrounded) that raw attention reads as.
fn score_of(raw: f64, config: &ScoringConfig) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        0.0
    } else {
        (100.0 * (1.0 - (-raw / config.score_scale).exp())).min(99.0)
    }
}

/// The last `days` up to `now`. `touches` is the log in time order.
pub fn timeline(
    touches: &[StoredTouch],
    email: Option<&str>,
    now: Millis,
    days: i64,
    config: &ScoringConfig,
) -> Timeline {
    let from = now - days * MILLIS_PER_DAY as i64;
    let mut attention = scoring::Attention::default();
    let counted: Vec<(Millis, f64, &StoredTouch, Vec<String>)> = touches
        .iter()
        .filter(|touch| touch.occurred_at <= now)
        .map(|touch| {
            let counted = scoring::count(
                &mut attention,
                touch.kind,
                touch.occurred_at,
                touch.properties.as_ref(),
                email,
                config,
            );
            (touch.occurred_at, counted.weight, touch, counted.notes)
        })
        .collect();
    let raw_at = |at: Millis, inclusive: bool| -> f64 {
        counted
            .iter()
            .filter(|(when, ..)| if inclusive { *when <= at } else { *when < at })
            .map(|(when, weight, ..)| scoring::decay(*weight, *when, at, config.half_life_days))
            .sum()
    };
    let mut times: Vec<(Millis, bool)> = (0..=SAMPLES)
        .map(|step| (from + (now - from) * step / SAMPLES, true))
        .collect();
    for (when, ..) in &counted {
        if *when >= from {
            times.push((*when, false));
            times.push((*when, true));
        }
    }
    times.sort();
    times.dedup();
    let points = times
        .into_iter()
        .map(|(at, inclusive)| (at, score_of(raw_at(at, inclusive), config)))
        .collect();
    let marks = counted
        .iter()
        .filter(|(when, ..)| *when >= from)
        .map(|(when, weight, touch, notes)| Mark {
            at: *when,
            kind: touch.kind.as_str().to_string(),
            label: touch.kind.label().to_string(),
            source: touch.source.clone(),
            weight: *weight,
            score: score_of(raw_at(*when, true), config),
            notes: notes.clone(),
        })
        .collect();
    Timeline {
        from,
        to: now,
        points,
        marks,
    }
}

/// Members whose curves make an account's: the most attentive, enough for any
/// buying group a chart can tell apart.
const ACCOUNT_MEMBERS: usize = 200;

/// An account's score over the last `days`: at each point, its members' attention
/// then, scored as the account is scored. Only points, no marks.
pub fn account_timeline(
    store: &crate::store::Store,
    key: &str,
    now: Millis,
    days: i64,
    config: &ScoringConfig,
) -> Result<Option<Timeline>, crate::store::StoreError> {
    use crate::scoring::account::{account_name, score_group, Group, Member};
    let Some(account) = store.account(key)? else {
        return Ok(None);
    };
    let name = account_name(key, &account.group);
    let all = store.account_members(key)?;
    let mut members: Vec<&Member> = all.iter().collect();
    members.sort_by(|a, b| {
        let now_raw = |m: &Member| m.raw_at(now, config);
        now_raw(b).total_cmp(&now_raw(a))
    });
    members.truncate(ACCOUNT_MEMBERS);
    let mut logs = Vec::with_capacity(members.len());
    for member in &members {
        let touches = store.touches_of(member.id)?;
        let email = store
            .contact(member.id)?
            .and_then(|c| c.email().map(str::to_string));
        logs.push(timeline(&touches, email.as_deref(), now, days, config));
    }
    let from = now - days * MILLIS_PER_DAY as i64;
    let points = (0..=SAMPLES)
        .map(|step| {
            let at = from + (now - from) * step / SAMPLES;
            let then: Vec<Member> = members
                .iter()
                .zip(&logs)
                .map(|(member, log)| {
                    let raw = raw_before(log, at, config);
                    let last_touch_at = log.marks.iter().map(|m| m.at).filter(|t| *t <= at).max();
                    let engaged = scoring::score(raw, config) >= config.accounts.engaged_score;
                    // The score a member had is known, not how it split between
                    // memories: it is drawn as long memory alone.
                    Member {
                        id: member.id,
                        as_of: at,
                        raw,
                        short: 0.0,
                        fast: 0.0,
                        slow: 0.0,
                        last_touch_at,
                        engaged_at: last_touch_at.filter(|_| engaged),
                        title: member.title.clone(),
                        company: member.company.clone(),
                    }
                })
                .collect();
            let mut group = Group::default();
            group.decay_to(at, config);
            for member in &then {
                group.add(member, config);
            }
            (at, f64::from(score_group(&name, &group, at, config).score))
        })
        .collect();
    Ok(Some(Timeline {
        from,
        to: now,
        points,
        marks: Vec::new(),
    }))
}

/// Raw attention at `at` read back from a person's curve (the score inverted).
fn raw_before(log: &Timeline, at: Millis, config: &ScoringConfig) -> f64 {
    let score = log
        .points
        .iter()
        .take_while(|(when, _)| *when <= at)
        .last()
        .map_or(0.0, |(_, score)| *score);
    if score <= 0.0 {
        0.0
    } else {
        -config.score_scale * (1.0 - score / 100.0).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TouchKind;

    fn touch(kind: TouchKind, at: Millis) -> StoredTouch {
        StoredTouch {
            id: at.to_string(),
            kind,
            occurred_at: at,
            source: "site".into(),
            weight: 0.0,
            notes: Vec::new(),
            properties: None,
        }
    }

    #[test]
    fn each_touch_steps_the_curve_up_and_it_decays_between() {
        let config = ScoringConfig::default();
        let day = MILLIS_PER_DAY as Millis;
        let now = 1_790_000_000_000;
        let log = [
            touch(TouchKind::FormSubmit, now - 200 * day),
            touch(TouchKind::FormSubmit, now - 28 * day),
            touch(TouchKind::MeetingBooked, now - 2 * day),
        ];
        let line = timeline(&log, None, now, 90, &config);
        assert_eq!(line.marks.len(), 2, "the touch 200 days ago is outside");
        // A lone form submit reads 33, then halves its raw value every 14 days.
        let first = &line.marks[0];
        assert_eq!(first.label, "form submit");
        assert!((first.score - 33.0).abs() < 0.5, "{}", first.score);
        let just_before = line
            .points
            .iter()
            .rev()
            .find(|(at, _)| *at == now - 2 * day)
            .map(|(_, score)| *score);
        let expected_before = score_of(10.0 * 0.5f64.powf(26.0 / 14.0), &config);
        let before = line
            .points
            .iter()
            .find(|(at, _)| *at == now - 2 * day)
            .map(|(_, score)| *score);
        assert!((before.unwrap() - expected_before).abs() < 0.01);
        assert!(
            just_before.unwrap() > before.unwrap() + 30.0,
            "the meeting is a step up"
        );
        // Between touches the curve only falls.
        let window: Vec<f64> = line
            .points
            .iter()
            .filter(|(at, _)| *at > now - 27 * day && *at < now - 2 * day)
            .map(|(_, score)| *score)
            .collect();
        assert!(window.windows(2).all(|pair| pair[1] <= pair[0]));
    }
}
