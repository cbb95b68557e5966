//! The delivery settings every sink has: how long changes collect, how many records a
//! request carries, how often a record may fail, how hard and how long a request may
//! press on the CRM, and which CRM fields are written. Each CRM states its defaults and
//! limits ([`Defaults`]); the checks are the same for all.
//!
//! The keys sit flat beside the CRM's own in `[sinks.<name>]` (`batch_size = 50`);
//! [`crate::sinks::Sink`] reads the one table into both halves.

use crate::fields::{resolve_names, FieldNames, FieldSpec, Records};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use std::num::NonZeroU32;
use std::sync::OnceLock;
use std::time::Duration;

/// A token bucket: `requests` per `per_secs`, the burst being the whole bucket.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests: u32,
    pub per_secs: f64,
}

impl RateLimit {
    pub const fn new(requests: u32, per_secs: f64) -> RateLimit {
        RateLimit { requests, per_secs }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.requests == 0 || self.per_secs.is_nan() || self.per_secs <= 0.0 {
            return Err("requests and per_secs must be above 0".into());
        }
        Ok(())
    }

    pub fn limiter(&self) -> DefaultDirectRateLimiter {
        let requests = NonZeroU32::new(self.requests).unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs_f64(self.per_secs / f64::from(requests.get()))
            .max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(requests))
            .allow_burst(requests);
        RateLimiter::direct(quota)
    }
}

/// The limiter of a CRM that sends several requests per batch (Marketo, Pipedrive), on
/// top of the push loop's limiter of batches. Built from `rate_limit` on first use, since
/// the CRM's state is made before its settings are read, and shared by every clone.
#[derive(Default)]
pub struct RequestLimiter(OnceLock<DefaultDirectRateLimiter>);

impl RequestLimiter {
    pub async fn until_ready(&self, rate: &RateLimit) {
        self.0.get_or_init(|| rate.limiter()).until_ready().await;
    }
}

impl std::fmt::Debug for RequestLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestLimiter")
    }
}

/// What a CRM takes and allows: the value of each delivery key nobody set, and the
/// limits the checks hold the set values to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Defaults {
    pub flush_interval_ms: u64,
    pub batch_size: usize,
    /// The most records the CRM takes in one request.
    pub max_batch_size: usize,
    pub max_attempts: u32,
    pub timeout_secs: u64,
    pub rate_limit: RateLimit,
    pub concurrency: usize,
    /// The most requests the CRM lets one integration have in flight, when it says.
    pub max_concurrency: Option<usize>,
}

impl Defaults {
    /// Batches as large as the CRM takes, a flush a second, five attempts, 30-second
    /// requests and four in flight: what a CRM states no other value for.
    pub const fn new(max_batch_size: usize, rate_limit: RateLimit) -> Defaults {
        Defaults {
            flush_interval_ms: 1000,
            batch_size: max_batch_size,
            max_batch_size,
            max_attempts: 5,
            timeout_secs: 30,
            rate_limit,
            concurrency: 4,
            max_concurrency: None,
        }
    }
}

/// The delivery half of `[sinks.<name>]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// How long changes collect before a batch is sent, in milliseconds.
    pub flush_interval_ms: u64,
    /// Records per request, at most what the CRM takes.
    pub batch_size: usize,
    /// Failures of one record before it is parked in dead letters.
    pub max_attempts: u32,
    /// Seconds before a request is abandoned and retried.
    pub timeout_secs: u64,
    /// Requests per window.
    pub rate_limit: RateLimit,
    /// Requests (batches) in flight at once.
    pub concurrency: usize,
    /// CRM field names written, by attentiond field name; `""` leaves a field out.
    pub fields: FieldNames,
    /// CRM account field names written, by attentiond account field name (only for a
    /// CRM that holds accounts).
    pub account_fields: FieldNames,
}

/// The delivery keys as written; each one absent takes the CRM's default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryKeys {
    flush_interval_ms: Option<u64>,
    batch_size: Option<usize>,
    max_attempts: Option<u32>,
    timeout_secs: Option<u64>,
    rate_limit: Option<RateLimit>,
    concurrency: Option<usize>,
    fields: Option<FieldNames>,
    account_fields: Option<FieldNames>,
}

impl DeliveryKeys {
    pub fn with_defaults(self, defaults: &Defaults) -> Delivery {
        Delivery {
            flush_interval_ms: self.flush_interval_ms.unwrap_or(defaults.flush_interval_ms),
            batch_size: self.batch_size.unwrap_or(defaults.batch_size),
            max_attempts: self.max_attempts.unwrap_or(defaults.max_attempts),
            timeout_secs: self.timeout_secs.unwrap_or(defaults.timeout_secs),
            rate_limit: self.rate_limit.unwrap_or(defaults.rate_limit),
            concurrency: self.concurrency.unwrap_or(defaults.concurrency),
            fields: self.fields.unwrap_or_default(),
            account_fields: self.account_fields.unwrap_or_default(),
        }
    }
}

impl Delivery {
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.flush_interval_ms)
    }

    /// How long one request may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// The configured names for `records`, before the CRM's defaults fill them in.
    pub fn configured(&self, records: Records) -> &FieldNames {
        match records {
            Records::Contacts => &self.fields,
            Records::Accounts => &self.account_fields,
        }
    }

    /// The same checks for every CRM, against its limits; the error names the key.
    pub fn validate(
        &self,
        limits: &Defaults,
        default_name: fn(&FieldSpec) -> String,
    ) -> Result<(), (String, String)> {
        let fail = |key: &str, message: String| Err((key.to_string(), message));
        if self.batch_size == 0 || self.batch_size > limits.max_batch_size {
            return fail(
                "batch_size",
                format!("must be between 1 and {}", limits.max_batch_size),
            );
        }
        if self.max_attempts == 0 {
            return fail("max_attempts", "must be at least 1".into());
        }
        // A zero timeout would fail every request before it is sent.
        if self.timeout_secs == 0 {
            return fail("timeout_secs", "must be at least 1".into());
        }
        self.rate_limit
            .validate()
            .map_err(|error| ("rate_limit".to_string(), error))?;
        match limits.max_concurrency {
            Some(most) if self.concurrency == 0 || self.concurrency > most => {
                return fail("concurrency", format!("must be between 1 and {most}"));
            }
            _ if self.concurrency == 0 => {
                return fail("concurrency", "must be at least 1".into());
            }
            _ => {}
        }
        resolve_names(Records::Contacts, default_name, &self.fields)
            .map_err(|error| ("fields".to_string(), error))?;
        resolve_names(Records::Accounts, default_name, &self.account_fields)
            .map_err(|error| ("account_fields".to_string(), error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Defaults = Defaults {
        max_concurrency: Some(10),
        ..Defaults::new(100, RateLimit::new(100, 10.0))
    };

    fn default_name(spec: &FieldSpec) -> String {
        spec.name.to_string()
    }

    fn invalid_key(keys: serde_json::Value) -> String {
        let keys: DeliveryKeys = serde_json::from_value(keys).unwrap();
        keys.with_defaults(&LIMITS)
            .validate(&LIMITS, default_name)
            .unwrap_err()
            .0
    }

    #[test]
    fn absent_keys_take_the_crms_defaults_and_those_are_valid() {
        let delivery = DeliveryKeys::default().with_defaults(&LIMITS);
        assert_eq!(delivery.batch_size, 100);
        assert_eq!(delivery.rate_limit, RateLimit::new(100, 10.0));
        assert_eq!(delivery.timeout(), Duration::from_secs(30));
        assert_eq!(delivery.validate(&LIMITS, default_name), Ok(()));
    }

    #[test]
    fn every_crm_refuses_the_same_mistakes_naming_the_key() {
        let cases = [
            (serde_json::json!({"batch_size": 0}), "batch_size"),
            (serde_json::json!({"batch_size": 101}), "batch_size"),
            (serde_json::json!({"max_attempts": 0}), "max_attempts"),
            (serde_json::json!({"timeout_secs": 0}), "timeout_secs"),
            (
                serde_json::json!({"rate_limit": {"requests": 0, "per_secs": 1}}),
                "rate_limit",
            ),
            (serde_json::json!({"concurrency": 0}), "concurrency"),
            (serde_json::json!({"concurrency": 11}), "concurrency"),
            (serde_json::json!({"fields": {"scroe": "x"}}), "fields"),
            (
                serde_json::json!({"account_fields": {"scroe": "x"}}),
                "account_fields",
            ),
        ];
        for (keys, key) in cases {
            assert_eq!(invalid_key(keys.clone()), key, "{keys}");
        }
    }
}
