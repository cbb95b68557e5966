//! `kind = "segment"`: Segment, two ways in.
//!
//! 1. Segment's **Webhooks destination** posts each event to `/webhooks/<name>`.
//!    With a shared secret set, `X-Signature` = hex HMAC-SHA1(secret, body)
//!    (segment-docs `src/connections/destinations/catalog/webhooks/index.md`). When
//!    Webhooks (Actions) batches, the body is a JSON array and the signature covers
//!    `JSON.stringify(body[0])` only (segmentio/action-destinations
//!    `destinations/webhook/__test__/webhook.test.ts`, "request signing with batched
//!    events"). There is no timestamp; `messageId` makes redelivery harmless.
//! 2. The **Segment HTTP Tracking API** itself at `/webhooks/<name>/v1/<call>`, so the
//!    official analytics libraries send straight here: the write key is the HTTP Basic
//!    username (empty password) or `writeKey` in the body; 32 KB per message, 500 KB
//!    per batch; `{"success": true}` on success (segment-docs
//!    `src/connections/sources/catalog/libraries/server/http-api/index.md`).
//!
//! `track` → the touch kind its event name maps to; `page`/`screen` → `page_view` (or
//! the kind of the first matching `pages` rule); `identify` → one person across
//! anonymous id, user id and email, plus profile traits; `group` → account membership;
//! `alias` → previous id and user id are one person; `delete` (Webhooks destination
//! only) → erase.

use super::delivery::{Adapter, Credentials, Delivery, Head, Reply, SourceError};
use super::kind_table;
use super::signature::{self, Algorithm, Encoding};
use crate::model::{Event, Millis, TouchKind};
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use tracking::{endpoint, unknown_endpoint, Endpoint};

mod message;
mod tracking;

pub use tracking::{MAX_BATCH_BYTES, MAX_MESSAGE_BYTES};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentSource {
    /// The shared secret of Segment's Webhooks destination (Settings → Shared Secret).
    /// Without it, deliveries to `/webhooks/<name>` itself are refused.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// A write key accepted on the Tracking API (`/webhooks/<name>/v1/...`).
    #[serde(default)]
    pub key: Option<Secret>,
    /// More accepted write keys (one per sending app), besides `key`.
    #[serde(default)]
    pub write_keys: Vec<Secret>,
    /// `track` event name → touch kind, added to and overriding the defaults;
    /// `"none"` switches a default off. Names match case-insensitively.
    #[serde(default)]
    pub events: BTreeMap<String, String>,
    /// Page rules, checked in order: the first whose `path` matches the page's path
    /// gives the touch kind; otherwise a page or screen is a `page_view`.
    #[serde(default = "default_pages")]
    pub pages: Vec<PageRule>,
}

/// `{ path = "/pricing", kind = "pricing_view" }`: `/pricing` matches that page and
/// everything below it; with `*` (any characters) the whole path must match.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRule {
    pub path: String,
    pub kind: String,
}

fn default_pages() -> Vec<PageRule> {
    vec![PageRule {
        path: "/pricing".into(),
        kind: "pricing_view".into(),
    }]
}

/// Event names of Segment's specs (B2B SaaS, Email) and common practice.
pub const DEFAULT_EVENTS: &[(&str, TouchKind)] = &[
    ("Demo Requested", TouchKind::DemoRequest),
    ("Pricing Viewed", TouchKind::PricingView),
    ("Signed Up", TouchKind::TrialSignup),
    ("Trial Started", TouchKind::TrialSignup),
    ("Form Submitted", TouchKind::FormSubmit),
    ("Email Opened", TouchKind::EmailOpen),
    ("Email Link Clicked", TouchKind::EmailClick),
    ("Email Marked as Spam", TouchKind::SpamComplaint),
    ("Unsubscribed", TouchKind::Unsubscribe),
];

/// The raw bytes of the first element of a JSON array body, as Webhooks (Actions)
/// signs it (`JSON.stringify(body[0])`, the same compact text it sent).
fn first_element(body: &[u8]) -> Option<&[u8]> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body[start] != b'[' {
        return None;
    }
    let rest = &body[start + 1..];
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    let mut stream =
        serde_json::Deserializer::from_slice(rest).into_iter::<serde::de::IgnoredAny>();
    stream.next()?.ok()?;
    Some(&rest[..stream.byte_offset()])
}

impl SegmentSource {
    fn write_keys(&self) -> impl Iterator<Item = &Secret> {
        self.key.iter().chain(self.write_keys.iter())
    }

    fn verify_signature(&self, delivery: &Delivery<'_>) -> Result<(), SourceError> {
        let header = delivery.require_header("x-signature")?;
        let secret = self.secret.as_ref().ok_or_else(|| {
            SourceError::BadCredentials(
                "this source has no shared `secret` for Segment's Webhooks destination".into(),
            )
        })?;
        let given = header.trim();
        let signed = |content: &[u8]| {
            let expected = signature::hmac(Algorithm::Sha1, secret.expose().as_bytes(), &[content]);
            signature::matches(&expected, given, Encoding::Hex)
        };
        if signed(delivery.body) || first_element(delivery.body).is_some_and(signed) {
            Ok(())
        } else {
            Err(SourceError::InvalidSignature)
        }
    }

    fn destination(&self, body: &[u8]) -> Result<Vec<Event>, SourceError> {
        let parsed: Value = serde_json::from_slice(body)
            .map_err(|error| SourceError::malformed(format!("not a Segment event: {error}")))?;
        match parsed {
            Value::Array(items) => {
                let mut events = Vec::new();
                for (index, item) in items.iter().enumerate() {
                    events.extend(self.message(&format!("[{index}]"), item, true)?);
                }
                Ok(events)
            }
            Value::Object(_) => self.message("body", &parsed, true),
            _ => Err(SourceError::malformed(
                "not a Segment event: expected a JSON object or array",
            )),
        }
    }
}

impl Adapter for SegmentSource {
    fn validate(&self) -> Result<(), (String, String)> {
        if self.secret.is_none() && self.write_keys().next().is_none() {
            return Err((
                "secret".into(),
                "set `secret` (Webhooks destination) and/or `key` or `write_keys` (Tracking API)"
                    .into(),
            ));
        }
        if self
            .secret
            .as_ref()
            .is_some_and(|secret| secret.expose().is_empty())
        {
            return Err(("secret".into(), "must not be empty".into()));
        }
        if self.key.as_ref().is_some_and(|key| key.expose().is_empty()) {
            return Err(("key".into(), "must not be empty".into()));
        }
        if let Some(index) = self
            .write_keys
            .iter()
            .position(|key| key.expose().is_empty())
        {
            return Err((format!("write_keys[{index}]"), "must not be empty".into()));
        }
        kind_table::check("events", &self.events)?;
        for (index, rule) in self.pages.iter().enumerate() {
            if !(rule.path.starts_with('/') || rule.path.starts_with('*')) {
                return Err((
                    format!("pages[{index}].path"),
                    "must start with `/` or `*`".into(),
                ));
            }
            if TouchKind::parse(&rule.kind).is_none() {
                return Err((
                    format!("pages[{index}].kind"),
                    format!(
                        "unknown kind `{}`: expected one of {}",
                        rule.kind,
                        TouchKind::names()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A write key sent as HTTP Basic is checked before the body; one inside the body,
    /// and the Webhooks destination's signature, after.
    fn authenticate(&self, head: &Head<'_>, _now: Millis) -> Result<Credentials, SourceError> {
        match endpoint(head.url) {
            Endpoint::Destination => {
                head.require_header("x-signature")?;
                if self.secret.is_none() {
                    return Err(SourceError::BadCredentials(
                        "this source has no shared `secret` for Segment's Webhooks destination"
                            .into(),
                    ));
                }
                Ok(Credentials::InBody)
            }
            Endpoint::Batch | Endpoint::Single(_) => {
                self.check_tracking()?;
                match self.header_write_key(head) {
                    Some(given) => self.check_write_key(&given?).map(|()| Credentials::Checked),
                    None => Ok(Credentials::InBody),
                }
            }
            Endpoint::Unknown(tail) => Err(unknown_endpoint(&tail)),
        }
    }

    fn verify(&self, delivery: &Delivery<'_>, _now: Millis) -> Result<(), SourceError> {
        match endpoint(delivery.url) {
            Endpoint::Destination => self.verify_signature(delivery),
            Endpoint::Batch | Endpoint::Single(_) => self.verify_write_key(delivery),
            Endpoint::Unknown(tail) => Err(unknown_endpoint(&tail)),
        }
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        match endpoint(delivery.url) {
            Endpoint::Destination => self.destination(delivery.body),
            Endpoint::Batch => self.tracking(None, delivery.body),
            Endpoint::Single(call) => self.tracking(Some(call), delivery.body),
            Endpoint::Unknown(tail) => Err(unknown_endpoint(&tail)),
        }
    }

    /// What Segment's API answers (analytics.js issue #625 shows the body).
    fn acknowledgement(&self) -> Option<Reply> {
        Some(Reply::ok("application/json", r#"{"success":true}"#))
    }

    /// A JSON body with `code` and `message`, the fields the official libraries read
    /// from an error (analytics-python `request.py`: `APIError(status, code, message)`).
    fn refusal(&self, error: &SourceError) -> Option<Reply> {
        let code = match error {
            SourceError::Malformed(reason) if reason.starts_with("Exceed payload limit") => {
                "payload_too_large"
            }
            SourceError::Malformed(_) => "invalid_request",
            SourceError::TooLarge(_) => "payload_too_large",
            _ => "unauthorized",
        };
        let body =
            serde_json::json!({ "success": false, "code": code, "message": error.to_string() });
        Some(Reply {
            status: error.status(),
            content_type: "application/json",
            body: body.to_string().into_bytes(),
        })
    }
}

#[cfg(test)]
mod tests;
