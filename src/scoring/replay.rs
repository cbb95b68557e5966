//! Counting a contact's touches independently of the order they arrived in.
//!
//! Decay alone is order independent (a late touch is added pre-decayed), but the
//! day and week rules and the click-burst rule look at the touches counted before
//! this one: the second open of a day counts half whichever open arrived first.
//! The exact answer is therefore defined by [`replay`]: every touch of the contact,
//! in the order they happened. Touches arriving in that order are counted one by
//! one at no extra cost; one arriving out of order ([`needs_replay`]) makes the
//! pipeline replay the contact's log.

use super::noise::{count, Counted};
use super::{Attention, ScoringConfig};
use crate::model::{Millis, TouchKind};

/// One touch of a contact's log, as a replay reads it.
#[derive(Debug, Clone, Copy)]
pub struct LoggedTouch<'a> {
    /// Breaks ties between touches that happened in the same millisecond.
    pub id: &'a str,
    pub kind: TouchKind,
    pub at: Millis,
    pub properties: Option<&'a serde_json::Value>,
}

/// Whether counting a touch of `kind` at `at` on top of `attention` could differ
/// from a replay, i.e. it happened before the newest touch already counted. A
/// touch in the same millisecond as the newest one only matters against its own
/// kind, since every rule that looks back looks at one kind.
pub fn needs_replay(attention: &Attention, kind: TouchKind, at: Millis) -> bool {
    let Some(newest) = attention.last_touch_at() else {
        return false;
    };
    at < newest || (at == newest && attention.kinds.get(&kind).is_some_and(|s| s.last_at == at))
}

/// The attention `touches` add up to, counted in the order they happened (time,
/// then id), and what each touch counted, in the order given.
pub fn replay(
    touches: &[LoggedTouch<'_>],
    email: Option<&str>,
    config: &ScoringConfig,
) -> (Attention, Vec<Counted>) {
    let mut order: Vec<usize> = (0..touches.len()).collect();
    order.sort_by(|&a, &b| (touches[a].at, touches[a].id).cmp(&(touches[b].at, touches[b].id)));
    let mut attention = Attention::default();
    let mut counted = Vec::with_capacity(touches.len());
    for index in order {
        let touch = &touches[index];
        let weighed = count(
            &mut attention,
            touch.kind,
            touch.at,
            touch.properties,
            email,
            config,
        );
        counted.push((index, weighed));
    }
    counted.sort_by_key(|(index, _)| *index);
    (
        attention,
        counted.into_iter().map(|(_, weighed)| weighed).collect(),
    )
}
