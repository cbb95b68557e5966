//! Opens and clicks that come seconds after sending: a security gateway scanning the
//! message on its way in, not a person, who needs longer than that to read mail.

use super::NoiseConfig;
use crate::model::Millis;

/// When the source reported the send time: milliseconds since the epoch, or an
/// RFC 3339 time.
fn sent_at(properties: Option<&serde_json::Value>) -> Option<Millis> {
    let value = properties?.get("sent_at")?;
    if let Some(millis) = value.as_i64() {
        return Some(millis);
    }
    if let Some(millis) = value.as_f64().filter(|m| m.is_finite()) {
        return Some(millis.round() as Millis);
    }
    chrono::DateTime::parse_from_rfc3339(value.as_str()?.trim())
        .ok()
        .map(|time| time.timestamp_millis())
}

/// Whole seconds after sending, when that is sooner than a person reads mail.
pub(super) fn seconds_after_send(
    at: Millis,
    properties: Option<&serde_json::Value>,
    noise: &NoiseConfig,
) -> Option<i64> {
    if noise.min_seconds_after_send == 0 {
        return None;
    }
    let elapsed = at - sent_at(properties)?;
    (0..noise.min_seconds_after_send as i64 * 1000)
        .contains(&elapsed)
        .then_some(elapsed / 1000)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{counted, CHROME, HOUR, MONDAY};
    use super::*;
    use crate::model::TouchKind;
    use crate::scoring::{weigh, Attention, ScoringConfig};
    use serde_json::json;

    #[test]
    fn opens_and_clicks_seconds_after_sending_are_a_scanners() {
        let config = ScoringConfig::default();
        let sent = MONDAY + 9 * HOUR;
        let mut attention = Attention::default();
        // A gateway fetched the pixel 4 s after Mandrill sent the message.
        let scan = counted(
            &mut attention,
            TouchKind::EmailOpen,
            sent + 4_000,
            json!({"user_agent": CHROME, "sent_at": sent}),
            "bo@acme.com",
            &config,
        );
        assert_eq!(scan.weight, 0.0);
        assert_eq!(scan.notes, vec!["opened 4 s after sending"]);
        // Bo opened it two minutes later.
        let read = counted(
            &mut attention,
            TouchKind::EmailOpen,
            sent + 120_000,
            json!({"user_agent": CHROME, "sent_at": sent}),
            "bo@acme.com",
            &config,
        );
        assert_eq!(read.weight, 1.0);
        // The send time may also be an RFC 3339 time (the `standard` source).
        let properties = json!({"sent_at": "2026-09-21T09:00:00Z"});
        let early = weigh(
            TouchKind::EmailClick,
            sent + 59_999,
            Some(&properties),
            None,
            &Attention::default(),
            &config,
        );
        assert_eq!(early.factor, 0.0);
        assert_eq!(early.notes, vec!["clicked 59 s after sending"]);
        let off = ScoringConfig {
            noise: NoiseConfig {
                min_seconds_after_send: 0,
                ..NoiseConfig::default()
            },
            ..ScoringConfig::default()
        };
        let attention = Attention::default();
        let on_time = weigh(
            TouchKind::EmailClick,
            sent + 1,
            Some(&properties),
            None,
            &attention,
            &off,
        );
        assert_eq!(on_time.factor, 1.0);
    }

    #[test]
    fn a_scanner_clicking_at_delivery_earns_nothing() {
        let config = ScoringConfig::default();
        let mut attention = Attention::default();
        let sent = MONDAY + 9 * HOUR;
        let total: f64 = (0..6)
            .map(|i| {
                counted(
                    &mut attention,
                    TouchKind::EmailClick,
                    sent + 1_000 + i * 400,
                    json!({"user_agent": CHROME, "sent_at": sent}),
                    "cy@acme.com",
                    &config,
                )
                .weight
            })
            .sum();
        assert_eq!(total, 0.0);
    }
}
