//! Time as the daemon reads it. Sources and scoring never call this: they are given
//! `now`, so that tests and replays decide what time it is.

use crate::model::Millis;

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// `2026-11-23T10:00:00.000Z`, as the admin API, logs and CRMs show times; empty for
/// a time chrono cannot represent.
pub fn rfc3339(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
