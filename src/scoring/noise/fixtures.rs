//! What the noise rules' tests share: a Monday to start from, the user agents real
//! mail clients and browsers send, and counting a touch with its facts.

use crate::model::{Millis, TouchKind};
use crate::scoring::{count, Attention, Counted, ScoringConfig};

/// Monday 2026-09-21 00:00 UTC.
pub(super) const MONDAY: Millis = 1_789_948_800_000;
pub(super) const HOUR: Millis = 3_600_000;
pub(super) const DAY: Millis = 24 * HOUR;
/// What Apple Mail sends when it loads images itself (Privacy Protection off).
pub(super) const APPLE_MAIL: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)";
/// Gmail loads images through its proxy when the message is opened.
pub(super) const GMAIL_PROXY: &str =
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";
pub(super) const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

pub(super) fn counted(
    attention: &mut Attention,
    kind: TouchKind,
    at: Millis,
    properties: serde_json::Value,
    email: &str,
    config: &ScoringConfig,
) -> Counted {
    count(attention, kind, at, Some(&properties), Some(email), config)
}
