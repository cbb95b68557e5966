//! What a CRM's answer means for the records sent: the status table every sink shares,
//! `Retry-After`, and the backoff between failures.
//!
//! A CRM module reads what is its own beyond the status (HubSpot's policy name,
//! Salesforce's error code, Marketo's codes inside a 200, Pipedrive's 402 and its
//! rate-limit headers) and hands the wait it found to [`Outcome::failed`].

use super::Outcome;
use crate::clock::now_millis;
use rand::Rng;
use std::time::Duration;

/// How an HTTP status reads, before a CRM's own exceptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx: the CRM answered; the body says how each record went.
    Success,
    /// Nothing was written and trying again later will help.
    Transient,
    /// The request was refused as sent.
    Rejected,
}

/// The shared table.
pub fn class(status: u16) -> Class {
    match status {
        200..=299 => Class::Success,
        // Credentials and permissions are for the operator to fix, and a time-out, a
        // rate limit or an outage passes: the records stay queued meanwhile.
        401 | 403 | 408 | 429 | 500..=599 => Class::Transient,
        _ => Class::Rejected,
    }
}

impl Outcome {
    /// A whole request the CRM answered with a status that is not a success, read by
    /// the shared table; `retry_after` is the wait the CRM asked for.
    pub fn failed(status: u16, retry_after: Option<Duration>, error: String) -> Outcome {
        match class(status) {
            Class::Transient => Outcome::transient(status, retry_after, error),
            Class::Success | Class::Rejected => Outcome::Rejected { status, error },
        }
    }

    /// Nothing written, for a reason the CRM gave with `status`.
    pub fn transient(status: u16, retry_after: Option<Duration>, error: String) -> Outcome {
        Outcome::Transient {
            status: Some(status),
            retry_after,
            error,
        }
    }

    /// The CRM could not be reached, or its answer not read.
    pub fn unreachable(error: String) -> Outcome {
        Outcome::Transient {
            status: None,
            retry_after: None,
            error,
        }
    }
}

/// `Retry-After` in seconds or as an HTTP date.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.timestamp_millis() - now_millis();
    Some(Duration::from_millis(wait.max(0) as u64))
}

const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … capped at a minute, so a CRM back
/// from an outage is written to within a minute.
pub fn backoff(failures: u32) -> Duration {
    let ceiling = Duration::from_secs(1u64 << failures.min(9)).min(MAX_BACKOFF);
    let jittered =
        rand::thread_rng().gen_range(ceiling.as_millis() as u64 / 2..=ceiling.as_millis() as u64);
    Duration::from_millis(jittered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_limits_and_credentials_wait_other_refusals_reject() {
        for status in [401, 403, 408, 429, 500, 503] {
            assert_eq!(class(status), Class::Transient, "{status}");
        }
        for status in [400, 404, 409, 413, 422] {
            assert_eq!(class(status), Class::Rejected, "{status}");
        }
        assert_eq!(class(207), Class::Success);
        match Outcome::failed(503, Some(Duration::from_secs(2)), "down".into()) {
            Outcome::Transient {
                status: Some(503),
                retry_after: Some(wait),
                ..
            } => assert_eq!(wait, Duration::from_secs(2)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Outcome::failed(400, None, "bad".into()),
            Outcome::Rejected { status: 400, .. }
        ));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
    }

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        assert!(backoff(1) <= Duration::from_secs(2));
        assert!(backoff(1) >= Duration::from_secs(1));
        assert!(backoff(30) <= MAX_BACKOFF);
    }
}
