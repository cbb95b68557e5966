//! Webinar attendance: how much of `webinar_attended`'s weight a join or a leave earns,
//! and which join a leave closes.
//!
//! Zoom reports a leave with its `leave_time` only, so the minutes attended come from
//! the join it follows: the latest join of the same participant in the same occurrence
//! of the webinar, at or before the leave.

use super::ScoringConfig;
use crate::model::{attendance, Millis, TouchKind};
use serde_json::Value;

/// The share of the kind's weight: reported minutes in proportion to
/// `webinar_full_minutes`, capped at the whole; a join, or a leave whose join is
/// unknown, only says that the person showed up and earns a quarter; anything else
/// (a platform reporting attendance as one fact) the whole.
pub fn factor(properties: Option<&Value>, config: &ScoringConfig) -> f64 {
    let said = |key: &str| properties.and_then(|p| p.get(key)).is_some();
    match properties
        .and_then(|p| p.get(attendance::MINUTES))
        .and_then(Value::as_f64)
    {
        Some(minutes) => (minutes / config.webinar_full_minutes).clamp(0.0, 1.0),
        None if said(attendance::JOINED) || said(attendance::LEFT) => 0.25,
        None => 1.0,
    }
}

/// Whether a touch is a leave whose minutes are still to be found.
pub fn unpaired_leave(kind: TouchKind, properties: Option<&Value>) -> bool {
    kind == TouchKind::WebinarAttended
        && properties.is_some_and(|p| {
            p.get(attendance::LEFT).is_some() && p.get(attendance::MINUTES).is_none()
        })
}

/// Minutes from the latest matching join among `earlier` (kind, time, properties) to
/// a leave at `left_at`; none when no join of that participant in that occurrence is
/// known.
pub fn minutes_since_join<'a>(
    leave: &Value,
    left_at: Millis,
    earlier: impl IntoIterator<Item = (TouchKind, Millis, Option<&'a Value>)>,
) -> Option<f64> {
    let key = |p: &Value| {
        (
            p.get(attendance::OCCURRENCE).cloned(),
            p.get(attendance::PARTICIPANT).cloned(),
        )
    };
    let wanted = key(leave);
    if wanted.0.is_none() || wanted.1.is_none() {
        return None;
    }
    let joined_at = earlier
        .into_iter()
        .filter(|(kind, at, properties)| {
            *kind == TouchKind::WebinarAttended
                && *at <= left_at
                && properties
                    .is_some_and(|p| p.get(attendance::JOINED).is_some() && key(p) == wanted)
        })
        .map(|(_, at, _)| at)
        .max()?;
    Some((left_at - joined_at) as f64 / 60_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn join(participant: &str) -> Value {
        json!({"joined": true, "occurrence": "czLF6FFFoQOKgAB99DlDb9g==", "participant": participant})
    }

    #[test]
    fn a_leave_closes_the_latest_join_of_its_participant() {
        let leave =
            json!({"left": true, "occurrence": "czLF6FFFoQOKgAB99DlDb9g==", "participant": "p1"});
        let (p1, p2) = (join("p1"), join("p2"));
        let other_occurrence =
            json!({"joined": true, "occurrence": "other==", "participant": "p1"});
        let minute = 60_000;
        let earlier = [
            (TouchKind::WebinarAttended, 0, Some(&p1)),
            (TouchKind::WebinarAttended, 30 * minute, Some(&p1)),
            (TouchKind::WebinarAttended, 31 * minute, Some(&p2)),
            (
                TouchKind::WebinarAttended,
                31 * minute,
                Some(&other_occurrence),
            ),
            (TouchKind::WebinarRegistered, 31 * minute, Some(&p1)),
            // A join after the leave is a later visit.
            (TouchKind::WebinarAttended, 40 * minute, Some(&p1)),
        ];
        assert_eq!(minutes_since_join(&leave, 32 * minute, earlier), Some(2.0));
        assert_eq!(
            minutes_since_join(
                &leave,
                32 * minute,
                [(TouchKind::WebinarAttended, 0, Some(&p2))]
            ),
            None
        );
    }

    #[test]
    fn a_leave_without_its_join_counts_no_more_than_a_join() {
        let config = ScoringConfig::default();
        let leave = json!({"left": true, "occurrence": "o", "participant": "p"});
        assert_eq!(factor(Some(&leave), &config), 0.25);
        assert_eq!(factor(Some(&join("p")), &config), 0.25);
        assert_eq!(
            factor(Some(&json!({"left": true, "minutes": 2})), &config),
            2.0 / 60.0
        );
        assert!(unpaired_leave(TouchKind::WebinarAttended, Some(&leave)));
        assert!(!unpaired_leave(
            TouchKind::WebinarAttended,
            Some(&json!({"left": true, "minutes": 2}))
        ));
    }
}
