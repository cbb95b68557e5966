//! Click bursts: many email clicks seconds apart are a machine following every link
//! in the message, not a person choosing one.

use super::NoiseConfig;
use crate::model::{Millis, TouchKind};
use crate::scoring::Attention;

/// The number of clicks, this one included, in the `burst_seconds` up to `at`,
/// when that makes a burst. Only earlier clicks are looked at, so a click's
/// weight never changes after it was counted.
pub(super) fn burst(at: Millis, attention: &Attention, noise: &NoiseConfig) -> Option<u32> {
    if noise.burst_clicks == 0 {
        return None;
    }
    let window = noise.burst_seconds as i64 * 1000;
    let earlier = attention
        .kinds
        .get(&TouchKind::EmailClick)
        .map(|stats| {
            stats
                .recent
                .iter()
                .filter(|&&t| t <= at && at - t <= window)
                .count()
        })
        .unwrap_or(0);
    let clicks = earlier as u32 + 1;
    (clicks >= noise.burst_clicks).then_some(clicks)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{counted, CHROME, HOUR, MONDAY};
    use crate::model::TouchKind;
    use crate::scoring::{weigh, Attention, ScoringConfig};
    use serde_json::json;

    #[test]
    fn a_scanner_clicking_six_links_in_two_seconds_earns_two_clicks_worth() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        let start = MONDAY + 9 * HOUR;
        let weights: Vec<f64> = (0..6)
            .map(|i| {
                let link = format!("https://acme.example/page-{i}");
                counted(
                    &mut attention,
                    TouchKind::EmailClick,
                    start + i * 400,
                    json!({"user_agent": CHROME, "url": link}),
                    "cy@acme.com",
                    &config,
                )
                .weight
            })
            .collect();
        // 3, then 3 × 0.5, then every click from the third on is in a burst.
        assert_eq!(weights, vec![3.0, 1.5, 0.0, 0.0, 0.0, 0.0]);
        let one_more = weigh(
            TouchKind::EmailClick,
            start + 2_400,
            None,
            None,
            &attention,
            &config,
        );
        assert_eq!(
            one_more.notes,
            vec!["7 clicks within 10 s: links followed by a machine"]
        );
        // A person clicking three links over five minutes: 3 + 1.5 + 0.75.
        let mut person = Attention::default();
        let total: f64 = [0, 120_000, 300_000]
            .iter()
            .map(|offset| person.add(TouchKind::EmailClick, start + offset, &config))
            .sum();
        assert_eq!(total, 5.25);
    }
}
