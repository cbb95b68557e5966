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

use super::signature::{self, Algorithm, Encoding};
use super::{Adapter, Delivery, Reply, SourceError};
use crate::model::{Event, EventBody, Identity, Millis, Profile, Touch, TouchKind};
use crate::secret::constant_time_eq;
use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The value of an `events` entry that switches a default mapping off.
const IGNORE: &str = "none";

/// Segment's limits (http-api/index.md "Max request size"); KB = 1024 bytes, as in
/// analytics-python `consumer.py` (`MAX_MSG_SIZE = 32 << 10`).
pub const MAX_MESSAGE_BYTES: usize = 32 << 10;
pub const MAX_BATCH_BYTES: usize = 500 << 10;

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

/// Which of the two ways a delivery came in, from the URL path.
#[derive(Debug, PartialEq)]
enum Endpoint {
    /// `/webhooks/<name>`: Segment's Webhooks destination.
    Destination,
    /// `/webhooks/<name>/v1/batch` (or `import`).
    Batch,
    /// `/webhooks/<name>/v1/<call>` for one message.
    Single(&'static str),
    Unknown(String),
}

const CALLS: &[&str] = &["track", "identify", "page", "screen", "group", "alias"];

fn endpoint(url: &str) -> Endpoint {
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

/// The path of a URL or of a bare path, without query or fragment.
fn url_path(url: &str) -> &str {
    let rest = match url.find("://") {
        Some(at) => {
            let after = &url[at + 3..];
            match after.find('/') {
                Some(slash) => &after[slash..],
                None => "/",
            }
        }
        None => url,
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// `*` matches any run of characters; ASCII case is ignored.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((first, rest)) => {
            text.first().is_some_and(|c| c.eq_ignore_ascii_case(first)) && glob(rest, &text[1..])
        }
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    if pattern.contains('*') {
        return glob(pattern.as_bytes(), path.as_bytes());
    }
    let pattern = pattern.trim_end_matches('/');
    let Some(head) = path.get(..pattern.len()) else {
        return false;
    };
    head.eq_ignore_ascii_case(pattern)
        && matches!(path.as_bytes().get(pattern.len()), None | Some(b'/'))
}

/// A string, or a number written as one; empty is none.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, key| value.get(key))
}

fn parse_time(text: &str) -> Option<Millis> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(time.timestamp_millis());
    }
    // Times without an offset (a naive `datetime.isoformat()`) are read as UTC.
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|time| time.and_utc().timestamp_millis())
}

fn email_of(text: Option<String>) -> Option<String> {
    text.filter(|candidate| candidate.contains('@'))
}

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

/// A stable id for a message sent without `messageId`: SHA-256 of its JSON (keys
/// sorted) without the fields that change between retries.
fn derived_id(message: &Value) -> String {
    let mut copy = message.clone();
    if let Value::Object(map) = &mut copy {
        for volatile in ["sentAt", "receivedAt", "writeKey"] {
            map.remove(volatile);
        }
    }
    let bytes = serde_json::to_vec(&copy).unwrap_or_default();
    format!("derived:{}", hex::encode(Sha256::digest(bytes)))
}

/// Profile fields from Segment's reserved traits (segment-docs
/// `src/connections/spec/identify.md`, "Traits"; `group.md` for groups).
fn trait_fields(traits: &Value) -> BTreeMap<String, String> {
    let company = traits.get("company");
    let address = traits.get("address");
    let candidates: [(&str, Option<String>); 9] = [
        (
            "first_name",
            text(traits.get("firstName")).or_else(|| text(traits.get("first_name"))),
        ),
        (
            "last_name",
            text(traits.get("lastName")).or_else(|| text(traits.get("last_name"))),
        ),
        ("title", text(traits.get("title"))),
        (
            "company",
            text(company).or_else(|| text(company.and_then(|c| c.get("name")))),
        ),
        (
            "industry",
            text(traits.get("industry")).or_else(|| text(company.and_then(|c| c.get("industry")))),
        ),
        (
            "employees",
            text(traits.get("employees"))
                .or_else(|| text(company.and_then(|c| c.get("employee_count")))),
        ),
        (
            "country",
            text(address.and_then(|a| a.get("country"))).or_else(|| text(traits.get("country"))),
        ),
        (
            "city",
            text(address.and_then(|a| a.get("city"))).or_else(|| text(traits.get("city"))),
        ),
        ("phone", text(traits.get("phone"))),
    ];
    candidates
        .into_iter()
        .filter_map(|(field, value)| Some((field.to_string(), value?)))
        .collect()
}

impl SegmentSource {
    fn write_keys(&self) -> impl Iterator<Item = &Secret> {
        self.key.iter().chain(self.write_keys.iter())
    }

    fn kind_for_event(&self, event: &str) -> Option<TouchKind> {
        let configured = self
            .events
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(event));
        match configured {
            Some((_, kind)) if kind == IGNORE => None,
            Some((_, kind)) => TouchKind::parse(kind),
            None => DEFAULT_EVENTS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(event))
                .map(|(_, kind)| *kind),
        }
    }

    fn kind_for_page(&self, path: Option<&str>) -> TouchKind {
        path.and_then(|path| {
            self.pages
                .iter()
                .find(|rule| path_matches(&rule.path, path))
        })
        .and_then(|rule| TouchKind::parse(&rule.kind))
        .unwrap_or(TouchKind::PageView)
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

    fn verify_write_key(&self, delivery: &Delivery<'_>) -> Result<(), SourceError> {
        if self.write_keys().next().is_none() {
            return Err(SourceError::BadCredentials(
                "this source takes no Tracking API calls: no write key (`key`, `write_keys`) is configured".into(),
            ));
        }
        let basic = delivery.header("authorization").and_then(|value| {
            let (scheme, encoded) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("basic")
                .then_some(encoded.trim())
        });
        let given = match basic {
            Some(encoded) => {
                let decoded = STANDARD
                    .decode(encoded)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| {
                        SourceError::BadCredentials("unreadable Basic credentials".into())
                    })?;
                // `writeKey:`; the key alone (no colon) still works at Segment.
                match decoded.split_once(':') {
                    Some((user, _)) => user.to_string(),
                    None => decoded,
                }
            }
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
        let matched = self.write_keys().fold(false, |matched, key| {
            matched | constant_time_eq(key.expose().as_bytes(), given.as_bytes())
        });
        if matched {
            Ok(())
        } else {
            Err(SourceError::BadCredentials("invalid write key".into()))
        }
    }

    /// Every identity a message carries: anonymous id, user id, emails.
    fn identities(&self, message: &Value) -> Vec<Identity> {
        let mut who = Vec::new();
        if let Some(anonymous) = text(message.get("anonymousId")) {
            who.push(Identity::Anonymous(anonymous));
        }
        let user = text(message.get("userId"));
        if let Some(user) = &user {
            who.push(Identity::crm("segment", user.clone()));
        }
        for email in [
            email_of(text(at(message, &["traits", "email"]))),
            email_of(text(at(message, &["context", "traits", "email"]))),
            email_of(text(at(message, &["properties", "email"]))),
            email_of(user),
        ]
        .into_iter()
        .flatten()
        {
            let identity = Identity::email(&email);
            if !who.contains(&identity) {
                who.push(identity);
            }
        }
        who
    }

    /// The events of one message; `label` names it in errors (`batch[2]`).
    fn message(
        &self,
        label: &str,
        message: &Value,
        deletes: bool,
    ) -> Result<Vec<Event>, SourceError> {
        if !message.is_object() {
            return Err(SourceError::malformed(format!(
                "{label} is not a JSON object"
            )));
        }
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| SourceError::malformed(format!("{label}.type is missing")))?;
        let occurred_at = ["timestamp", "originalTimestamp", "sentAt", "receivedAt"]
            .iter()
            .find_map(|field| message.get(*field).and_then(Value::as_str).and_then(parse_time))
            .ok_or_else(|| {
                SourceError::malformed(format!(
                    "{label}: no readable time (timestamp, originalTimestamp, sentAt or receivedAt, ISO 8601)"
                ))
            })?;
        let id = text(message.get("messageId")).unwrap_or_else(|| derived_id(message));
        let who = self.identities(message);
        let account = text(at(message, &["context", "groupId"]))
            .map(|group| format!("segment-group:{group}"));
        let event = |body| Event {
            provider_id: id.clone(),
            body,
        };
        match kind {
            "track" | "page" | "screen" => {
                if who.is_empty() {
                    return Ok(Vec::new());
                }
                let properties = message.get("properties");
                let url = text(properties.and_then(|p| p.get("url")))
                    .or_else(|| text(at(message, &["context", "page", "url"])));
                let path = text(properties.and_then(|p| p.get("path")))
                    .or_else(|| {
                        url.as_deref()
                            .map(|url| url_path(url).to_string())
                            .filter(|p| p.starts_with('/'))
                    })
                    .or_else(|| text(at(message, &["context", "page", "path"])));
                let touch_kind = if kind == "track" {
                    let Some(name) = text(message.get("event")) else {
                        return Ok(Vec::new());
                    };
                    match self.kind_for_event(&name) {
                        Some(kind) => kind,
                        None => return Ok(Vec::new()),
                    }
                } else {
                    self.kind_for_page(path.as_deref())
                };
                let mut context = Map::new();
                let mut put = |key: &str, value: Option<String>| {
                    if let Some(value) = value {
                        context.insert(key.to_string(), Value::String(value));
                    }
                };
                put("type", Some(kind.to_string()));
                put("event", text(message.get("event")));
                put("name", text(message.get("name")));
                put("url", url);
                put("path", path);
                put(
                    "title",
                    text(properties.and_then(|p| p.get("title")))
                        .or_else(|| text(at(message, &["context", "page", "title"]))),
                );
                put(
                    "referrer",
                    text(properties.and_then(|p| p.get("referrer")))
                        .or_else(|| text(at(message, &["context", "page", "referrer"]))),
                );
                put("ip", text(at(message, &["context", "ip"])));
                put("user_agent", text(at(message, &["context", "userAgent"])));
                Ok(vec![event(EventBody::Touch(Touch {
                    who,
                    kind: touch_kind,
                    occurred_at,
                    account,
                    properties: Some(Value::Object(context)),
                }))])
            }
            "identify" => {
                let mut events = Vec::new();
                if who.len() >= 2 {
                    events.push(event(EventBody::Identify { who: who.clone() }));
                }
                let fields = message.get("traits").map(trait_fields).unwrap_or_default();
                if !who.is_empty() && !fields.is_empty() {
                    events.push(Event {
                        provider_id: format!("{id}:profile"),
                        body: EventBody::Profile(Profile {
                            who,
                            fields,
                            account,
                            occurred_at,
                        }),
                    });
                }
                Ok(events)
            }
            "group" => {
                let Some(group) = text(message.get("groupId")) else {
                    return Ok(Vec::new());
                };
                if who.is_empty() {
                    return Ok(Vec::new());
                }
                let traits = message.get("traits").cloned().unwrap_or(Value::Null);
                let mut fields = BTreeMap::new();
                for (field, value) in [
                    ("company", text(traits.get("name"))),
                    ("industry", text(traits.get("industry"))),
                    ("employees", text(traits.get("employees"))),
                ] {
                    if let Some(value) = value {
                        fields.insert(field.to_string(), value);
                    }
                }
                Ok(vec![event(EventBody::Profile(Profile {
                    who,
                    fields,
                    account: Some(format!("segment-group:{group}")),
                    occurred_at,
                }))])
            }
            "alias" => {
                let (Some(previous), Some(user)) =
                    (text(message.get("previousId")), text(message.get("userId")))
                else {
                    return Ok(Vec::new());
                };
                let mut who = vec![Identity::crm("segment", user)];
                who.push(Identity::crm("segment", previous.clone()));
                who.push(Identity::Anonymous(previous));
                for identity in self.identities(message) {
                    if !who.contains(&identity) {
                        who.push(identity);
                    }
                }
                Ok(vec![event(EventBody::Identify { who })])
            }
            // A deletion request, forwarded by the Webhooks destination only: a write
            // key may be public (browsers), so the Tracking API cannot erase anyone.
            "delete" if deletes => match text(message.get("userId")) {
                Some(user) => Ok(vec![event(EventBody::Erase {
                    who: Identity::crm("segment", user),
                })]),
                None => Ok(Vec::new()),
            },
            _ => Ok(Vec::new()),
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

    fn tracking(&self, call: Option<&'static str>, body: &[u8]) -> Result<Vec<Event>, SourceError> {
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
        for (event, kind) in &self.events {
            if kind != IGNORE && TouchKind::parse(kind).is_none() {
                return Err((
                    format!("events.{event}"),
                    format!(
                        "unknown kind `{kind}`: expected `none` or one of {}",
                        TouchKind::names()
                    ),
                ));
            }
        }
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

fn unknown_endpoint(tail: &str) -> SourceError {
    SourceError::malformed(format!(
        "no Segment endpoint /{tail}: expected /v1/batch, /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group or /v1/alias"
    ))
}

#[cfg(test)]
mod tests;
