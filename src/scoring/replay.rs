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
/// from a replay of the whole log in time order.
///
/// Every rule that looks back (caps, repeat factors, the click burst) looks at one
/// kind, and the decayed sums are exact in any order. So a touch counts as a replay
/// would count it unless a touch of its kind came at or after it (whose weight it
/// could change), or its day is older than the cap counters still remember. A touch
/// late behind other kinds' touches, as concurrent senders deliver them, needs no
/// replay of the log.
pub fn needs_replay(attention: &Attention, kind: TouchKind, at: Millis) -> bool {
    let Some(newest) = attention.last_touch_at() else {
        return false;
    };
    let same_kind_since = attention.kinds.get(&kind).is_some_and(|s| s.last_at >= at);
    same_kind_since || !attention.remembers_counters_of(at.min(newest))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MILLIS_PER_DAY;
    use crate::scoring::score;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    const DAY: Millis = MILLIS_PER_DAY as Millis;
    /// Monday 2026-09-21 00:00 UTC.
    const START: Millis = 1_789_948_800_000;
    const KINDS: [TouchKind; 7] = [
        TouchKind::EmailOpen,
        TouchKind::EmailClick,
        TouchKind::PageView,
        TouchKind::FormSubmit,
        TouchKind::PricingView,
        TouchKind::WebinarAttended,
        TouchKind::Unsubscribe,
    ];

    /// Facts a source might report: nothing, an Apple privacy prefetch, a person's
    /// browser, a scanner at delivery, a late reader, half a webinar.
    fn properties(variant: usize, at: Millis) -> Option<Value> {
        match variant {
            0 => None,
            1 => Some(json!({"user_agent": "Mozilla/5.0", "ip": "146.75.168.133"})),
            2 => Some(
                json!({"user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0"}),
            ),
            3 => Some(json!({"sent_at": at - 5_000})),
            4 => Some(json!({"sent_at": at - 3_600_000})),
            _ => Some(json!({"minutes": 30})),
        }
    }

    #[derive(Debug, Clone)]
    struct Generated {
        id: String,
        kind: TouchKind,
        at: Millis,
        properties: Option<Value>,
    }

    impl Generated {
        fn logged(&self) -> LoggedTouch<'_> {
            LoggedTouch {
                id: &self.id,
                kind: self.kind,
                at: self.at,
                properties: self.properties.as_ref(),
            }
        }
    }

    /// Touches crowded into a few seconds of a few hours of ten days, so that
    /// caps, repeats, bursts and ties all happen.
    fn touch(
        kinds: &'static [TouchKind],
        days: i64,
    ) -> impl Strategy<Value = (TouchKind, Millis, usize)> {
        (0..kinds.len(), 0i64..days, 0i64..4, 0i64..25_000, 0usize..6).prop_map(
            move |(kind, day, hour, millis, variant)| {
                let at = START + day * DAY + (8 + hour * 3) * 3_600_000 + millis / 500 * 500;
                (kinds[kind], at, variant)
            },
        )
    }

    fn touches(kinds: &'static [TouchKind], most: usize) -> impl Strategy<Value = Vec<Generated>> {
        touches_over(kinds, most, 10)
    }

    /// Touches over `days` days: over 35, some fall out of the cap counters' memory.
    fn touches_over(
        kinds: &'static [TouchKind],
        most: usize,
        days: i64,
    ) -> impl Strategy<Value = Vec<Generated>> {
        proptest::collection::vec(touch(kinds, days), 0..most).prop_map(|list| {
            list.into_iter()
                .enumerate()
                .map(|(index, (kind, at, variant))| Generated {
                    id: format!("t{index:03}"),
                    kind,
                    at,
                    properties: properties(variant, at),
                })
                .collect()
        })
    }

    fn replayed(list: &[Generated], config: &ScoringConfig) -> (Attention, Vec<Counted>) {
        let logged: Vec<LoggedTouch<'_>> = list.iter().map(Generated::logged).collect();
        replay(&logged, Some("ann@acme.com"), config)
    }

    /// What the pipeline does: count each arrival, replaying whatever has arrived
    /// when one is late. Returns the attention and every touch's final weight.
    fn incremental(
        list: &[Generated],
        arrival: &[usize],
        config: &ScoringConfig,
    ) -> (Attention, Vec<f64>, usize) {
        let mut attention = Attention::default();
        let mut weights = vec![f64::NAN; list.len()];
        let mut arrived: Vec<usize> = Vec::new();
        let mut replays = 0;
        for &index in arrival {
            let touch = &list[index];
            arrived.push(index);
            if needs_replay(&attention, touch.kind, touch.at) {
                replays += 1;
                let log: Vec<LoggedTouch<'_>> = arrived.iter().map(|&i| list[i].logged()).collect();
                let (fresh, counted) = replay(&log, Some("ann@acme.com"), config);
                attention = fresh;
                for (&i, counted) in arrived.iter().zip(counted) {
                    weights[i] = counted.weight;
                }
            } else {
                weights[index] = count(
                    &mut attention,
                    touch.kind,
                    touch.at,
                    touch.properties.as_ref(),
                    Some("ann@acme.com"),
                    config,
                )
                .weight;
            }
        }
        (attention, weights, replays)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    fn newest(list: &[Generated]) -> Millis {
        list.iter().map(|t| t.at).max().unwrap_or(START)
    }

    /// Caps, repeat factors and the click-burst rule off: every touch is judged by
    /// itself alone.
    fn without_day_rules() -> ScoringConfig {
        let mut config = ScoringConfig::default();
        for kind in TouchKind::ALL {
            config.daily_caps.insert(*kind, 0);
            config.noise.weekly_caps.insert(*kind, 0);
        }
        config.noise.repeat_factor = Some(1.0);
        config.noise.burst_clicks = 0;
        config
    }

    /// Every default rule, and a short memory: forms and clicks count more while
    /// recent, page views only while recent, and pricing views count while recent
    /// and against once long past (acceleration).
    fn with_short_memory() -> ScoringConfig {
        let mut config = ScoringConfig::default();
        let short = &mut config.short_memory.weights;
        short.insert(TouchKind::PricingView, 8.0);
        short.insert(TouchKind::FormSubmit, 4.0);
        short.insert(TouchKind::EmailClick, 2.0);
        short.insert(TouchKind::PageView, 1.0);
        config.weights.insert(TouchKind::PageView, 0.0);
        config.weights.insert(TouchKind::PricingView, -2.0);
        config
    }

    #[test]
    fn in_order_arrivals_never_replay() {
        let config = ScoringConfig::default();
        let list: Vec<Generated> = (0..30)
            .map(|i| Generated {
                id: format!("t{i:03}"),
                kind: KINDS[i % KINDS.len()],
                at: START + i as Millis * 1_000,
                properties: None,
            })
            .collect();
        let arrival: Vec<usize> = (0..list.len()).collect();
        let (_, _, replays) = incremental(&list, &arrival, &config);
        assert_eq!(replays, 0);
        // A touch replays only when one of its kind came at or after it, or its day
        // is older than the cap counters remember.
        let mut attention = Attention::default();
        attention.add(TouchKind::EmailOpen, START, &config);
        assert!(!needs_replay(&attention, TouchKind::FormSubmit, START));
        assert!(needs_replay(&attention, TouchKind::EmailOpen, START));
        assert!(!needs_replay(&attention, TouchKind::FormSubmit, START - 1));
        assert!(needs_replay(&attention, TouchKind::EmailOpen, START - 1));
        assert!(!needs_replay(&attention, TouchKind::EmailOpen, START + 1));
        assert!(needs_replay(
            &attention,
            TouchKind::FormSubmit,
            START - 40 * DAY
        ));
    }

    #[test]
    fn a_late_open_takes_the_first_slot_of_its_day() {
        let config = ScoringConfig::default();
        let list = vec![
            Generated {
                id: "b".into(),
                kind: TouchKind::EmailOpen,
                at: START + 10 * 3_600_000,
                properties: None,
            },
            Generated {
                id: "a".into(),
                kind: TouchKind::EmailOpen,
                at: START + 9 * 3_600_000,
                properties: None,
            },
        ];
        // The 10:00 open arrives first and counts 1; the 09:00 one arrives late.
        let (_, weights, replays) = incremental(&list, &[0, 1], &config);
        assert_eq!(replays, 1);
        assert_eq!(weights, vec![0.5, 1.0]);
    }

    proptest! {
        #[test]
        fn the_arrival_order_does_not_change_the_result(
            (list, arrival) in touches(&KINDS, 40).prop_flat_map(|list| {
                let order: Vec<usize> = (0..list.len()).collect();
                (Just(list), Just(order).prop_shuffle())
            })
        ) {
            for config in [ScoringConfig::default(), with_short_memory()] {
            let (exact, counted) = replayed(&list, &config);
            let (ours, weights, _) = incremental(&list, &arrival, &config);
            let now = newest(&list) + DAY;
            prop_assert!(close(exact.raw_at(now, &config), ours.raw_at(now, &config)));
            prop_assert!(close(exact.fast_at(now, &config), ours.fast_at(now, &config)));
            prop_assert!(close(exact.slow_at(now, &config), ours.slow_at(now, &config)));
            for kind in KINDS {
                prop_assert!(close(
                    exact.contribution_at(kind, now, &config),
                    ours.contribution_at(kind, now, &config)
                ));
            }
            let expected: Vec<f64> = counted.iter().map(|c| c.weight).collect();
            prop_assert_eq!(expected, weights);
            prop_assert_eq!(&exact.daily, &ours.daily);
            prop_assert_eq!(&exact.weekly, &ours.weekly);
            for (kind, stats) in &exact.kinds {
                let theirs = &ours.kinds[kind];
                prop_assert_eq!((stats.count, stats.last_at, &stats.recent), (theirs.count, theirs.last_at, &theirs.recent));
            }
            }
        }

        /// The same over eighty days, where late touches fall behind the cap
        /// counters' memory.
        #[test]
        fn the_arrival_order_does_not_change_the_result_over_months(
            (list, arrival) in touches_over(&KINDS, 40, 80).prop_flat_map(|list| {
                let order: Vec<usize> = (0..list.len()).collect();
                (Just(list), Just(order).prop_shuffle())
            })
        ) {
            for config in [ScoringConfig::default(), with_short_memory()] {
            let (exact, counted) = replayed(&list, &config);
            let (ours, weights, _) = incremental(&list, &arrival, &config);
            let now = newest(&list) + DAY;
            prop_assert!(close(exact.raw_at(now, &config), ours.raw_at(now, &config)));
            prop_assert!(close(exact.fast_at(now, &config), ours.fast_at(now, &config)));
            prop_assert!(close(exact.slow_at(now, &config), ours.slow_at(now, &config)));
            for kind in KINDS {
                prop_assert!(close(
                    exact.contribution_at(kind, now, &config),
                    ours.contribution_at(kind, now, &config)
                ));
            }
            let expected: Vec<f64> = counted.iter().map(|c| c.weight).collect();
            prop_assert_eq!(expected, weights);
            prop_assert_eq!(&exact.daily, &ours.daily);
            prop_assert_eq!(&exact.weekly, &ours.weekly);
            for (kind, stats) in &exact.kinds {
                let theirs = &ours.kinds[kind];
                prop_assert_eq!((stats.count, stats.last_at, &stats.recent), (theirs.count, theirs.last_at, &theirs.recent));
            }
            }
        }

        #[test]
        fn a_newer_positive_touch_never_lowers_the_score(
            list in touches(&KINDS, 40),
            (kind, gap, variant) in (0usize..6, 1i64..2 * DAY, 0usize..6),
            later in 0i64..60 * DAY,
        ) {
            // Every default rule on; the new touch happens after all the others.
            for config in [ScoringConfig::default(), with_short_memory()] {
            let at = newest(&list) + gap;
            let mut more = list.clone();
            more.push(Generated { id: "new".into(), kind: KINDS[kind], at, properties: properties(variant, at) });
            let (before, _) = replayed(&list, &config);
            let (after, counted) = replayed(&more, &config);
            prop_assert!(counted[list.len()].weight >= 0.0);
            // With a short memory a reward's long weight may be below 0 (a pricing
            // view long past counts against), so only the fresh touch is sure to
            // add.
            let times = if config.short_memory.weights.is_empty() { vec![at, at + later] } else { vec![at] };
            for now in times {
                let (b, a) = (before.raw_at(now, &config), after.raw_at(now, &config));
                prop_assert!(a >= b - 1e-9 * b.abs().max(1.0), "{} < {}", a, b);
                prop_assert!(score(a, &config) >= score(b, &config));
            }
            }
        }

        #[test]
        fn without_day_rules_a_positive_touch_at_any_time_never_lowers_the_score(
            list in touches(&KINDS, 40),
            (kind, at, variant) in touch(&KINDS[..6], 10),
            later in 0i64..60 * DAY,
        ) {
            let config = without_day_rules();
            let mut more = list.clone();
            more.push(Generated { id: "new".into(), kind, at, properties: properties(variant, at) });
            let (before, _) = replayed(&list, &config);
            let (after, _) = replayed(&more, &config);
            let now = newest(&more) + later;
            let (b, a) = (before.raw_at(now, &config), after.raw_at(now, &config));
            prop_assert!(a >= b - 1e-9 * b.abs().max(1.0), "{} < {}", a, b);
            prop_assert!(score(a, &config) >= score(b, &config));
        }

        #[test]
        fn with_no_new_touches_the_score_only_falls(
            list in touches(&KINDS, 40),
            first in 0i64..30 * DAY,
            more in 0i64..30 * DAY,
        ) {
            let config = ScoringConfig::default();
            let (attention, _) = replayed(&list, &config);
            let early = newest(&list) + first;
            let late = early + more;
            let (a, b) = (attention.raw_at(early, &config), attention.raw_at(late, &config));
            prop_assert!(b.abs() <= a.abs());
            prop_assert!(score(b, &config) <= score(a, &config));
            // With a short memory, rewards fade faster than penalties: attention
            // above 0 falls, and attention at or below 0 stays there.
            let config = with_short_memory();
            let (attention, _) = replayed(&list, &config);
            let (a, b) = (attention.raw_at(early, &config), attention.raw_at(late, &config));
            prop_assert!(if a > 0.0 { b <= a * (1.0 + 1e-12) } else { b <= 1e-9 }, "{} then {}", a, b);
            prop_assert!(score(b, &config) <= score(a, &config));
        }
    }
}
