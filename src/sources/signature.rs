//! Signatures: the HMAC that signing platforms put in a header, computed over the parts
//! each one signs and compared in constant time, and the window a signed timestamp must
//! fall in. Which header, what is signed and how it is written stay with each platform.

use super::delivery::{Delivery, SourceError};
use crate::model::Millis;
use crate::secret::constant_time_eq;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;
use sha2::Sha256;

/// The hash under the HMAC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    Sha1,
    #[default]
    Sha256,
}

/// How a platform writes the signature's bytes in its header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Either case.
    #[default]
    Hex,
    /// The standard alphabet, padded.
    Base64,
}

impl Encoding {
    pub fn decode(self, text: &str) -> Option<Vec<u8>> {
        match self {
            Encoding::Hex => hex::decode(text).ok(),
            Encoding::Base64 => STANDARD.decode(text).ok(),
        }
    }

    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => STANDARD.encode(bytes),
        }
    }
}

/// The unit of a signed timestamp.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampUnit {
    #[default]
    Seconds,
    Milliseconds,
}

/// The HMAC of `parts`, one after another, under `key`.
pub fn hmac(algorithm: Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match algorithm {
        Algorithm::Sha1 => mac::<Hmac<Sha1>>(key, parts),
        Algorithm::Sha256 => mac::<Hmac<Sha256>>(key, parts),
    }
}

fn mac<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Whether `given`, as the platform wrote it, is `expected`: compared in equal time, so
/// that a forger learns nothing from how fast we refuse. Unreadable text matches nothing.
pub fn matches(expected: &[u8], given: &str, encoding: Encoding) -> bool {
    encoding
        .decode(given)
        .is_some_and(|given| constant_time_eq(&given, expected))
}

/// [`matches`], as the answer to a delivery.
pub fn check(expected: &[u8], given: &str, encoding: Encoding) -> Result<(), SourceError> {
    if matches(expected, given, encoding) {
        Ok(())
    } else {
        Err(SourceError::InvalidSignature)
    }
}

/// The plainest scheme: a header holding `<prefix><HMAC of the body>` (Intercom's
/// `X-Hub-Signature: sha1=…`, Typeform's `Typeform-Signature: sha256=…`).
pub fn check_body_hmac(
    delivery: &Delivery<'_>,
    header: &'static str,
    prefix: &str,
    algorithm: Algorithm,
    key: &[u8],
    encoding: Encoding,
) -> Result<(), SourceError> {
    let given = delivery
        .require_header(header)?
        .trim()
        .strip_prefix(prefix)
        .ok_or(SourceError::InvalidSignature)?;
    check(&hmac(algorithm, key, &[delivery.body]), given, encoding)
}

/// Reads a signed timestamp, exactly as sent, and accepts it within `tolerance_secs` of
/// now, so that a captured request cannot be replayed later.
pub fn check_timestamp(
    text: &str,
    unit: TimestampUnit,
    now: Millis,
    tolerance_secs: u64,
) -> Result<(), SourceError> {
    let number: i64 = text.parse().map_err(|_| SourceError::BadTimestamp)?;
    let at = match unit {
        TimestampUnit::Seconds => number.saturating_mul(1000),
        TimestampUnit::Milliseconds => number,
    };
    check_window(at, now, tolerance_secs)
}

/// Accepts a timestamp within `tolerance_secs` of now, in either direction.
pub fn check_window(at: Millis, now: Millis, tolerance_secs: u64) -> Result<(), SourceError> {
    let tolerance = tolerance_secs as i64 * 1000;
    if (now - at).abs() > tolerance {
        return Err(SourceError::StaleTimestamp(tolerance_secs));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test case 2 (HMAC-SHA256) and RFC 2202 test case 2 (HMAC-SHA1): key
    // "Jefe", data "what do ya want for nothing?", here split into parts.
    #[test]
    fn the_rfc_vectors_hold_over_parts() {
        let parts: &[&[u8]] = &[b"what do ya ", b"want ", b"for nothing?"];
        assert_eq!(
            hex::encode(hmac(Algorithm::Sha256, b"Jefe", parts)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac(Algorithm::Sha1, b"Jefe", parts)),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn given_signatures_are_read_in_their_encoding() {
        let expected = hmac(Algorithm::Sha1, b"Jefe", &[b"what do ya want for nothing?"]);
        let lower = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
        assert!(matches(&expected, lower, Encoding::Hex));
        assert!(matches(&expected, &lower.to_uppercase(), Encoding::Hex));
        assert!(!matches(&expected, &lower[..38], Encoding::Hex));
        assert!(!matches(&expected, "not hex", Encoding::Hex));
        let base64 = Encoding::Base64.encode(&expected);
        assert!(matches(&expected, &base64, Encoding::Base64));
        assert!(!matches(&expected, lower, Encoding::Base64));
        assert_eq!(
            check(&expected, "00", Encoding::Hex),
            Err(SourceError::InvalidSignature)
        );
    }

    #[test]
    fn timestamps_are_taken_within_the_tolerance_either_way() {
        let now = 1_700_000_000_000;
        let seconds = TimestampUnit::Seconds;
        assert_eq!(check_timestamp("1700000300", seconds, now, 300), Ok(()));
        assert_eq!(check_timestamp("1699999700", seconds, now, 300), Ok(()));
        assert_eq!(
            check_timestamp("1700000301", seconds, now, 300),
            Err(SourceError::StaleTimestamp(300))
        );
        assert_eq!(
            check_timestamp("1700000000001", TimestampUnit::Milliseconds, now, 0),
            Err(SourceError::StaleTimestamp(0))
        );
        assert_eq!(
            check_timestamp(" 1700000000", seconds, now, 300),
            Err(SourceError::BadTimestamp)
        );
    }
}
