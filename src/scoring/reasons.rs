//! The one-line "why" a rep reads next to the score: the biggest contributions, in words.

use super::attention::RECENT_PER_KIND;
use super::{Attention, ScoringConfig};
use crate::model::{Millis, MILLIS_PER_DAY};

/// At most this many reasons, strongest first.
const MAX_REASONS: usize = 3;
/// Contributions smaller than this (in weight units) are not worth a rep's time.
const NEGLIGIBLE: f64 = 0.05;

/// E.g. `["meeting booked today", "3 email clicks this week", "form submit 12d ago"]`.
pub fn reasons(attention: &Attention, now: Millis, config: &ScoringConfig) -> Vec<String> {
    let mut ranked: Vec<(f64, String)> = attention
        .kinds
        .iter()
        .filter_map(|(kind, stats)| {
            let contribution = attention.contribution_at(*kind, now, config);
            if contribution.abs() < NEGLIGIBLE {
                return None;
            }
            let within = |days: i64| {
                stats
                    .recent
                    .iter()
                    .filter(|&&at| at <= now && now - at < days * MILLIS_PER_DAY as i64)
                    .count()
            };
            // Only the newest touches of a kind are remembered: when all of them fall
            // in the window there may have been more.
            let count = |n: usize| {
                if n == RECENT_PER_KIND {
                    format!("{n}+")
                } else {
                    n.to_string()
                }
            };
            let (week, month) = (within(7), within(30));
            let phrase = if week >= 2 {
                format!("{} {} this week", count(week), kind.plural())
            } else if month >= 2 {
                format!("{} {} this month", count(month), kind.plural())
            } else {
                format!("{} {}", kind.label(), ago(stats.last_at, now))
            };
            Some((contribution.abs(), phrase))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    ranked
        .into_iter()
        .take(MAX_REASONS)
        .map(|(_, phrase)| phrase)
        .collect()
}

fn ago(at: Millis, now: Millis) -> String {
    let days = (now - at).max(0) / MILLIS_PER_DAY as i64;
    match days {
        0 => "today".into(),
        1..=13 => format!("{days}d ago"),
        14..=59 => format!("{}w ago", days / 7),
        _ => format!("{}mo ago", days / 30),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TouchKind;

    const DAY: Millis = MILLIS_PER_DAY as Millis;
    const NOW: Millis = 1_790_000_000_000;

    #[test]
    fn reasons_read_like_a_rep_would_say_them() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        attention.add(TouchKind::FormSubmit, NOW - 2 * DAY, &config);
        for hours in [1, 20, 30] {
            attention.add(TouchKind::EmailClick, NOW - hours * 3_600_000, &config);
        }
        attention.add(TouchKind::EmailOpen, NOW - 40 * DAY, &config);
        let said = reasons(&attention, NOW, &config);
        assert_eq!(
            said,
            vec![
                "form submit 2d ago",
                "3 email clicks this week",
                "email open 5w ago"
            ]
        );
    }

    #[test]
    fn strongest_first_and_at_most_three() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        attention.add(TouchKind::EmailOpen, NOW, &config);
        attention.add(TouchKind::PageView, NOW, &config);
        attention.add(TouchKind::MeetingBooked, NOW, &config);
        attention.add(TouchKind::PricingView, NOW, &config);
        let said = reasons(&attention, NOW, &config);
        assert_eq!(said.len(), 3);
        assert_eq!(said[0], "meeting booked today");
        assert_eq!(said[1], "pricing page view today");
    }

    #[test]
    fn more_touches_than_remembered_read_as_at_least() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        for minute in 0..40 {
            attention.add(TouchKind::EmailOpen, NOW - minute * 60_000, &config);
        }
        assert_eq!(
            reasons(&attention, NOW, &config),
            vec!["20+ email opens this week"]
        );
    }

    #[test]
    fn a_negative_signal_is_said_too() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        attention.add(TouchKind::Unsubscribe, NOW - DAY, &config);
        assert_eq!(
            reasons(&attention, NOW, &config),
            vec!["unsubscribe 1d ago"]
        );
    }
}
