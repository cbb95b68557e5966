//! The org's daily API budget, as `Sforce-Limit-Info` reports it on every REST answer,
//! and how much to slow down when it is nearly spent.
//!
//! Salesforce counts API requests over a rolling 24 hours against one limit for the
//! whole org, shared with every other integration. Past `slow_down_at` of it, the sink
//! spreads what is left over a day: it waits `24 h × concurrency ÷ remaining` after each
//! round of requests (at most [`MAX_PAUSE`]), so the budget lasts until the window has
//! rolled on instead of running out in minutes.

use std::time::Duration;

/// The longest wait between two rounds, also the wait once the budget is gone.
pub const MAX_PAUSE: Duration = Duration::from_secs(15 * 60);

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// `api-usage=used/limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiUsage {
    pub used: u64,
    pub limit: u64,
}

impl ApiUsage {
    /// Reads `api-usage=18/5000` out of the header value; other parts
    /// (`per-app-api-usage=…`, `api-bursts=…`) are ignored.
    pub fn parse(header: &str) -> Option<ApiUsage> {
        header.split([';', ',']).find_map(|part| {
            let (key, value) = part.trim().split_once('=')?;
            if key.trim() != "api-usage" {
                return None;
            }
            let (used, limit) = value.trim().split_once('/')?;
            Some(ApiUsage {
                used: used.trim().parse().ok()?,
                limit: limit.trim().parse().ok()?,
            })
        })
    }

    /// The wait after a round of up to `concurrency` requests, or `None` while less
    /// than `slow_down_at` of the limit is used.
    pub fn pause(&self, slow_down_at: f64, concurrency: usize) -> Option<Duration> {
        if self.limit == 0 || (self.used as f64) < slow_down_at * self.limit as f64 {
            return None;
        }
        // Burst allowances can push `used` past `limit`.
        let remaining = self.limit.saturating_sub(self.used);
        if remaining == 0 {
            return Some(MAX_PAUSE);
        }
        let rounds = concurrency.max(1) as f64;
        let spread = DAY.mul_f64(rounds / remaining as f64);
        Some(spread.min(MAX_PAUSE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Header values as the REST API guide's "Limit Info Header" page shows them.
    #[test]
    fn the_usage_is_read_wherever_it_stands_in_the_header() {
        assert_eq!(
            ApiUsage::parse("api-usage=18/5000"),
            Some(ApiUsage {
                used: 18,
                limit: 5000
            })
        );
        assert_eq!(
            ApiUsage::parse(
                "api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)"
            ),
            Some(ApiUsage {
                used: 25,
                limit: 5000
            })
        );
        assert_eq!(
            ApiUsage::parse("api-usage=110018/100000; api-bursts=1/750"),
            Some(ApiUsage {
                used: 110_018,
                limit: 100_000
            })
        );
        assert_eq!(
            ApiUsage::parse("per-app-api-usage=17/250(appName=x); api-usage=7/15000"),
            Some(ApiUsage {
                used: 7,
                limit: 15_000
            })
        );
        assert_eq!(ApiUsage::parse("api-usage=many/5000"), None);
        assert_eq!(ApiUsage::parse(""), None);
    }

    #[test]
    fn below_the_threshold_nothing_slows_down() {
        let usage = ApiUsage {
            used: 89_999,
            limit: 100_000,
        };
        assert_eq!(usage.pause(0.9, 4), None);
    }

    #[test]
    fn above_the_threshold_what_is_left_is_spread_over_a_day() {
        // 10,000 requests left, one request per round: 86,400 s / 10,000 = 8.64 s.
        let usage = ApiUsage {
            used: 90_000,
            limit: 100_000,
        };
        assert_eq!(usage.pause(0.9, 1), Some(Duration::from_millis(8640)));
        // Four requests per round take four times the share.
        assert_eq!(usage.pause(0.9, 4), Some(Duration::from_millis(34_560)));
        // Closer to the limit the wait grows, up to the cap.
        let nearly = ApiUsage {
            used: 99_990,
            limit: 100_000,
        };
        assert_eq!(nearly.pause(0.9, 1), Some(MAX_PAUSE));
    }

    #[test]
    fn a_spent_or_overdrawn_budget_waits_the_longest() {
        for used in [15_000, 15_200] {
            let usage = ApiUsage {
                used,
                limit: 15_000,
            };
            assert_eq!(usage.pause(0.9, 4), Some(MAX_PAUSE));
        }
        assert_eq!(ApiUsage { used: 5, limit: 0 }.pause(0.9, 1), None);
    }
}
