//! A credential that never prints, and the comparison that checks one.

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A credential. It never prints: logs and `check-config` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A settings check: an empty secret is a mistake, named by its key.
    pub fn require(&self, key: &str) -> Result<(), (String, String)> {
        if self.0.is_empty() {
            return Err((key.to_string(), "must not be empty".into()));
        }
        Ok(())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // An environment override of an all-digit token arrives as a number.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Int(i64),
        }
        Ok(match Raw::deserialize(deserializer)? {
            Raw::Text(text) => Secret(text),
            Raw::Int(number) => Secret(number.to_string()),
        })
    }
}

/// Equal-time comparison, so that a forger learns nothing from how fast we refuse.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_and_compares_by_content() {
        let secret = Secret::new("s3cret");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert!(constant_time_eq(secret.expose().as_bytes(), b"s3cret"));
        assert!(!constant_time_eq(secret.expose().as_bytes(), b"s3cre"));
        assert!(!constant_time_eq(secret.expose().as_bytes(), b"s3creT"));
    }
}
