//! Segment's HTTP Tracking API, served at `/webhooks/<name>/v1/<call>`: which call a
//! URL names, the write key, Segment's size limits and batches.

use super::message::{text, url_path};
use super::SegmentSource;
use crate::model::Event;
use crate::secret::constant_time_eq;
use crate::sources::delivery::{Delivery, Head, SourceError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

/// Segment's limits (http-api/index.md "Max request size"); KB = 1024 bytes, as in
/// analytics-python `consumer.py` (`MAX_MSG_SIZE = 32 << 10`).
pub const MAX_MESSAGE_BYTES: usize = 32 << 10;
pub const MAX_BATCH_BYTES: usize = 500 << 10;

/// Which of the two ways a delivery came in, from the URL path.
#[derive(Debug, PartialEq)]
pub(super) enum Endpoint {
    /// `/webhooks/<name>`: Segment's Webhooks destination.
    Destination,
    /// `/webhooks/<name>/v1/batch` (or `import`).
    Batch,
    /// `/webhooks/<name>/v1/<call>` for one message.
    Single(&'static str),
    Unknown(String),
}

const CALLS: &[&str] = &["track", "identify", "page", "screen", "group", "alias"];

pub(super) fn endpoint(url: &str) -> Endpoint {
    let path = url_path(url);
    let tail = match path.find("/webhooks/") {
        Some(at) => path[at + "/webhooks/".len()..]
            .split_once('/')
            .map(|(_, tail)| tail)
            .unwrap_or(""),
        None => "",
    };
    let tail = tail.trim_matches('/');
    match tail {
        "" => Endpoint::Destination,
        "v1/batch" | "v1/import" => Endpoint::Batch,
        _ => match tail
            .strip_prefix("v1/")
            .and_then(|call| CALLS.iter().find(|known| **known == call))
        {
            Some(call) => Endpoint::Single(call),
            None => Endpoint::Unknown(tail.to_string()),
        },
    }
}

pub(super) fn unknown_endpoint(tail: &str) -> SourceError {
    SourceError::malformed(format!(
        "no Segment endpoint /{tail}: expected /v1/batch, /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group or /v1/alias"
    ))
}

impl SegmentSource {
    /// Whether this source takes Tracking API calls at all.
    pub(super) fn check_tracking(&self) -> Result<(), SourceError> {
        if self.write_keys().next().is_none() {
            return Err(SourceError::BadCredentials(
                "this source takes no Tracking API calls: no write key (`key`, `write_keys`) is configured".into(),
            ));
        }
        Ok(())
    }

    /// The write key sent as the HTTP Basic username, when it was sent that way.
    pub(super) fn header_write_key(&self, head: &Head<'_>) -> Option<Result<String, SourceError>> {
        let encoded = head.authorization("basic")?;
        let decoded = STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| SourceError::BadCredentials("unreadable Basic credentials".into()));
        // `writeKey:`; the key alone (no colon) still works at Segment.
        Some(decoded.map(|decoded| match decoded.split_once(':') {
            Some((user, _)) => user.to_string(),
            None => decoded,
        }))
    }

    pub(super) fn check_write_key(&self, given: &str) -> Result<(), SourceError> {
        let matched = self.write_keys().fold(false, |matched, key| {
            matched | constant_time_eq(key.expose().as_bytes(), given.as_bytes())
        });
        if matched {
            Ok(())
        } else {
            Err(SourceError::BadCredentials("invalid write key".into()))
        }
    }

    pub(super) fn verify_write_key(&self, delivery: &Delivery<'_>) -> Result<(), SourceError> {
        self.check_tracking()?;
        let given = match self.header_write_key(&delivery.head()) {
            Some(given) => given?,
            None => {
                let body: Value = serde_json::from_slice(delivery.body).map_err(|error| {
                    SourceError::malformed(format!("body is not JSON: {error}"))
                })?;
                text(body.get("writeKey")).ok_or_else(|| {
                    SourceError::BadCredentials(
                        "missing write key: send it as the HTTP Basic username or as `writeKey` in the body".into(),
                    )
                })?
            }
        };
        self.check_write_key(&given)
    }

    pub(super) fn tracking(
        &self,
        call: Option<&'static str>,
        body: &[u8],
    ) -> Result<Vec<Event>, SourceError> {
        let limit = if call.is_some() {
            MAX_MESSAGE_BYTES
        } else {
            MAX_BATCH_BYTES
        };
        if body.len() > limit {
            return Err(SourceError::malformed(format!(
                "Exceed payload limit: the request has {} bytes, at most {limit} are accepted",
                body.len()
            )));
        }
        let parsed: Value = serde_json::from_slice(body)
            .map_err(|error| SourceError::malformed(format!("body is not JSON: {error}")))?;
        let Value::Object(mut top) = parsed else {
            return Err(SourceError::malformed("body must be a JSON object"));
        };
        let Some(call) = call else {
            let items = match top.remove("batch") {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(SourceError::malformed(
                        "`batch` must be an array of messages",
                    ))
                }
            };
            let context = top.get("context").and_then(Value::as_object);
            let sent_at = top.get("sentAt").cloned();
            let mut events = Vec::new();
            for (index, mut item) in items.into_iter().enumerate() {
                let size = serde_json::to_vec(&item)
                    .map(|bytes| bytes.len())
                    .unwrap_or(0);
                if size > MAX_MESSAGE_BYTES {
                    return Err(SourceError::malformed(format!(
                        "Exceed payload limit: batch[{index}] has {size} bytes, at most {MAX_MESSAGE_BYTES} per message"
                    )));
                }
                if let Value::Object(message) = &mut item {
                    // The batch's context is merged into each message's (http-api "Batch").
                    if let Some(shared) = context {
                        let own = message
                            .entry("context")
                            .or_insert_with(|| Value::Object(Map::new()));
                        if let Value::Object(own) = own {
                            for (key, value) in shared {
                                own.entry(key.clone()).or_insert_with(|| value.clone());
                            }
                        }
                    }
                    if let Some(sent_at) = &sent_at {
                        message.entry("sentAt").or_insert_with(|| sent_at.clone());
                    }
                }
                events.extend(self.message(&format!("batch[{index}]"), &item, false)?);
            }
            return Ok(events);
        };
        top.insert("type".into(), Value::String(call.to_string()));
        self.message("body", &Value::Object(top), false)
    }
}
