//! `kind = "mapped"`: any platform that can POST JSON (Webflow forms, Unbounce, Drift, an
//! in-house app), described entirely in configuration.
//!
//! `[sources.<name>.auth]` picks how deliveries are authenticated: an HMAC signature
//! (header, algorithm, encoding, prefix, what is signed, timestamp tolerance), a bearer
//! token, or HTTP Basic. `[sources.<name>.fields]` maps the payload with JSON Pointers
//! (RFC 6901) to the event id, email, anonymous id, kind and time; `profile` maps more
//! pointers to profile fields.

use super::delivery::{Adapter, Credentials, Delivery, Head, SourceError};
use super::plausible::email_at;
use super::signature;
pub use super::signature::{Algorithm, Encoding, TimestampUnit};
use crate::model::{Event, EventBody, Identity, Millis, Profile, Touch, TouchKind};
use crate::secret::constant_time_eq;
use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappedSource {
    pub auth: Auth,
    pub fields: Fields,
    /// Value found at `fields.kind_field` → touch kind. Values not listed are
    /// acknowledged and ignored.
    #[serde(default)]
    pub kinds: BTreeMap<String, String>,
    /// Profile field (`company`, `title`, …) → JSON Pointer of its value.
    #[serde(default)]
    pub profile: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// A signature header carrying an HMAC of the body (or of a timestamp and the body).
    Hmac {
        /// Header with the signature, e.g. `Typeform-Signature`.
        header: String,
        /// The shared secret (UTF-8 bytes are the HMAC key).
        secret: Secret,
        /// `sha256` (default) or `sha1`.
        #[serde(default)]
        algorithm: Algorithm,
        /// `hex` (default) or `base64`.
        #[serde(default)]
        encoding: Encoding,
        /// Text before the signature, e.g. `sha256=` or `v0=`.
        #[serde(default)]
        prefix: String,
        /// When the header is a list like `t=…,v1=…`: the name of the signature part.
        #[serde(default)]
        signature_part: Option<String>,
        /// `body` (default) or `timestamp_body`.
        #[serde(default)]
        signed: Signed,
        /// For `timestamp_body`: how the signed text is built, with `{timestamp}` and
        /// `{body}`. Default `{timestamp}.{body}`.
        #[serde(default = "default_signed_format")]
        signed_format: String,
        /// Header carrying the timestamp (`timestamp_body`), e.g. `x-zm-request-timestamp`.
        #[serde(default)]
        timestamp_header: Option<String>,
        /// Or the part of the signature header carrying it, e.g. `t`.
        #[serde(default)]
        timestamp_part: Option<String>,
        /// `seconds` (default) or `milliseconds`.
        #[serde(default)]
        timestamp_unit: TimestampUnit,
        /// Seconds a timestamp may differ from our clock.
        #[serde(default = "default_tolerance_secs")]
        tolerance_secs: u64,
    },
    /// `Authorization: Bearer <secret>`.
    Bearer { secret: Secret },
    /// HTTP Basic credentials set on the platform's webhook.
    Basic { username: String, password: Secret },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signed {
    #[default]
    Body,
    TimestampBody,
}

fn default_signed_format() -> String {
    "{timestamp}.{body}".into()
}
fn default_tolerance_secs() -> u64 {
    300
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fields {
    /// Pointer to the platform's id of the event, so redeliveries count once.
    pub event_id: String,
    /// Pointer to the person's email.
    #[serde(default)]
    pub email: Option<String>,
    /// Pointer to your site's anonymous visitor id.
    #[serde(default)]
    pub anonymous_id: Option<String>,
    /// The kind of every event from this source, e.g. `form_submit` …
    #[serde(default)]
    pub kind: Option<String>,
    /// … or a pointer whose value is looked up in `kinds`.
    #[serde(default)]
    pub kind_field: Option<String>,
    /// Pointer to the event's time.
    pub occurred_at: String,
    /// `rfc3339` (default), `unix_seconds`, `unix_millis`, or a chrono format such as
    /// `%Y-%m-%d %H:%M:%S` (read as UTC).
    #[serde(default = "default_time_format")]
    pub occurred_at_format: String,
}

fn default_time_format() -> String {
    "rfc3339".into()
}

/// RFC 6901: empty, or `/` followed by tokens where `~` is only `~0` or `~1`.
fn check_pointer(key: &str, pointer: &str) -> Result<(), (String, String)> {
    let valid = pointer.is_empty()
        || (pointer.starts_with('/')
            && pointer.split('/').skip(1).all(|token| {
                let mut chars = token.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '~' && !matches!(chars.next(), Some('0') | Some('1')) {
                        return false;
                    }
                }
                true
            }));
    if valid {
        Ok(())
    } else {
        Err((
            key.to_string(),
            format!("`{pointer}` is not a JSON Pointer (it starts with `/`, and `~` is written `~0`, `/` in a name `~1`)"),
        ))
    }
}

fn text_at(payload: &serde_json::Value, pointer: &str) -> Option<String> {
    match payload.pointer(pointer)? {
        serde_json::Value::String(text) if !text.is_empty() => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        serde_json::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// `t=1,v1=abc` → the value of `name`.
fn header_part<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

impl MappedSource {
    fn parse_time(&self, raw: &str) -> Option<Millis> {
        let raw = raw.trim();
        match self.fields.occurred_at_format.as_str() {
            "rfc3339" => chrono::DateTime::parse_from_rfc3339(raw)
                .ok()
                .map(|t| t.timestamp_millis()),
            "unix_seconds" => raw.parse::<f64>().ok().map(|s| (s * 1000.0) as Millis),
            "unix_millis" => raw.parse::<f64>().ok().map(|ms| ms as Millis),
            format => chrono::NaiveDateTime::parse_from_str(raw, format)
                .ok()
                .map(|t| t.and_utc().timestamp_millis()),
        }
    }
}

impl Adapter for MappedSource {
    fn validate(&self) -> Result<(), (String, String)> {
        let fields = &self.fields;
        check_pointer("fields.event_id", &fields.event_id)?;
        check_pointer("fields.occurred_at", &fields.occurred_at)?;
        for (key, pointer) in [
            ("fields.email", &fields.email),
            ("fields.anonymous_id", &fields.anonymous_id),
            ("fields.kind_field", &fields.kind_field),
        ] {
            if let Some(pointer) = pointer {
                check_pointer(key, pointer)?;
            }
        }
        for (field, pointer) in &self.profile {
            check_pointer(&format!("profile.{field}"), pointer)?;
        }
        if fields.email.is_none() && fields.anonymous_id.is_none() {
            return Err((
                "fields.email".into(),
                "set fields.email or fields.anonymous_id: events must name someone".into(),
            ));
        }
        match (&fields.kind, &fields.kind_field) {
            (Some(kind), None) => {
                if TouchKind::parse(kind).is_none() {
                    return Err((
                        "fields.kind".into(),
                        format!(
                            "unknown kind `{kind}`: expected one of {}",
                            TouchKind::names()
                        ),
                    ));
                }
            }
            (None, Some(_)) => {
                if self.kinds.is_empty() {
                    return Err((
                        "kinds".into(),
                        "fields.kind_field needs a [kinds] table".into(),
                    ));
                }
            }
            _ => {
                return Err((
                    "fields.kind".into(),
                    "set exactly one of fields.kind or fields.kind_field".into(),
                ))
            }
        }
        for (value, kind) in &self.kinds {
            if TouchKind::parse(kind).is_none() {
                return Err((
                    format!("kinds.{value}"),
                    format!(
                        "unknown kind `{kind}`: expected one of {}",
                        TouchKind::names()
                    ),
                ));
            }
        }
        if let Err(error) = chrono::format::StrftimeItems::new(&fields.occurred_at_format).parse() {
            return Err((
                "fields.occurred_at_format".into(),
                format!("not a time format: {error}"),
            ));
        }
        if let Auth::Hmac {
            signed: Signed::TimestampBody,
            timestamp_header: None,
            timestamp_part: None,
            ..
        } = &self.auth
        {
            return Err((
                "auth.timestamp_header".into(),
                "`signed = \"timestamp_body\"` needs timestamp_header or timestamp_part".into(),
            ));
        }
        Ok(())
    }

    /// A bearer token or Basic credentials are checked before the body; a signature
    /// scheme only needs its header to be there.
    fn authenticate(&self, head: &Head<'_>, _now: Millis) -> Result<Credentials, SourceError> {
        match &self.auth {
            Auth::Bearer { secret } => {
                let given = head
                    .authorization("bearer")
                    .ok_or(SourceError::MissingHeader("Authorization"))?;
                if constant_time_eq(given.as_bytes(), secret.expose().as_bytes()) {
                    Ok(Credentials::Checked)
                } else {
                    Err(SourceError::BadCredentials("wrong bearer token".into()))
                }
            }
            Auth::Basic { username, password } => {
                let encoded = head
                    .authorization("basic")
                    .ok_or(SourceError::MissingHeader("Authorization"))?;
                let expected = format!("{username}:{}", password.expose());
                let given = STANDARD.decode(encoded).unwrap_or_default();
                if constant_time_eq(&given, expected.as_bytes()) {
                    Ok(Credentials::Checked)
                } else {
                    Err(SourceError::BadCredentials(
                        "wrong Basic credentials".into(),
                    ))
                }
            }
            Auth::Hmac { header, .. } => {
                head.header(header)
                    .ok_or(SourceError::MissingHeader("signature header"))?;
                Ok(Credentials::InBody)
            }
        }
    }

    fn verify(&self, delivery: &Delivery<'_>, now: Millis) -> Result<(), SourceError> {
        match &self.auth {
            Auth::Bearer { .. } | Auth::Basic { .. } => {
                self.authenticate(&delivery.head(), now).map(|_| ())
            }
            Auth::Hmac {
                header,
                secret,
                algorithm,
                encoding,
                prefix,
                signature_part,
                signed,
                signed_format,
                timestamp_header,
                timestamp_part,
                timestamp_unit,
                tolerance_secs,
            } => {
                let value = delivery
                    .header(header)
                    .ok_or(SourceError::MissingHeader("signature header"))?;
                let written = match signature_part {
                    Some(part) => header_part(value, part).ok_or(SourceError::InvalidSignature)?,
                    None => value.trim(),
                };
                let encoded = written
                    .strip_prefix(prefix.as_str())
                    .ok_or(SourceError::InvalidSignature)?;
                let given = encoding
                    .decode(encoded)
                    .ok_or(SourceError::InvalidSignature)?;
                let expected = match signed {
                    Signed::Body => {
                        signature::hmac(*algorithm, secret.expose().as_bytes(), &[delivery.body])
                    }
                    Signed::TimestampBody => {
                        let timestamp = match (timestamp_header, timestamp_part) {
                            (Some(name), _) => delivery
                                .header(name)
                                .ok_or(SourceError::MissingHeader("timestamp header"))?,
                            (None, Some(part)) => {
                                header_part(value, part).ok_or(SourceError::BadTimestamp)?
                            }
                            (None, None) => return Err(SourceError::BadTimestamp),
                        }
                        .trim();
                        signature::check_timestamp(
                            timestamp,
                            *timestamp_unit,
                            now,
                            *tolerance_secs,
                        )?;
                        let (before, after) = signed_format
                            .split_once("{body}")
                            .unwrap_or((signed_format.as_str(), ""));
                        let before = before.replace("{timestamp}", timestamp);
                        let after = after.replace("{timestamp}", timestamp);
                        signature::hmac(
                            *algorithm,
                            secret.expose().as_bytes(),
                            &[before.as_bytes(), delivery.body, after.as_bytes()],
                        )
                    }
                };
                if constant_time_eq(&given, &expected) {
                    Ok(())
                } else {
                    Err(SourceError::InvalidSignature)
                }
            }
        }
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        let payload: serde_json::Value = serde_json::from_slice(delivery.body)
            .map_err(|error| SourceError::malformed(format!("body is not JSON: {error}")))?;
        // Pointers read into an object; `null`, `[]` or `"x"` is no event of any kind.
        if !payload.is_object() {
            return Err(SourceError::malformed("body is not a JSON object"));
        }
        let fields = &self.fields;
        let kind = match (&fields.kind, &fields.kind_field) {
            (Some(kind), _) => TouchKind::parse(kind),
            (None, Some(pointer)) => {
                match text_at(&payload, pointer).and_then(|value| self.kinds.get(&value)) {
                    Some(kind) => TouchKind::parse(kind),
                    // An event type this source was not told about.
                    None => return Ok(Vec::new()),
                }
            }
            (None, None) => None,
        }
        .ok_or_else(|| SourceError::malformed("no touch kind configured"))?;
        let event_id = text_at(&payload, &fields.event_id)
            .ok_or_else(|| SourceError::malformed(format!("no event id at {}", fields.event_id)))?;
        let mut who = Vec::new();
        let mut unusable = None;
        if let Some((pointer, email)) = fields
            .email
            .as_deref()
            .and_then(|p| Some((p, text_at(&payload, p)?)))
        {
            match email_at(pointer, &email) {
                Ok(identity) => who.push(identity),
                Err(error) => unusable = Some(error),
            }
        }
        if let Some(anonymous) = fields
            .anonymous_id
            .as_deref()
            .and_then(|p| text_at(&payload, p))
        {
            who.push(Identity::Anonymous(anonymous));
        }
        if who.is_empty() {
            if let Some(error) = unusable {
                return Err(error);
            }
            let named: Vec<&str> = [fields.email.as_deref(), fields.anonymous_id.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            return Err(SourceError::malformed(format!(
                "no email or anonymous id at {}",
                named.join(" or ")
            )));
        }
        let raw_time = text_at(&payload, &fields.occurred_at)
            .ok_or_else(|| SourceError::malformed(format!("no time at {}", fields.occurred_at)))?;
        let occurred_at = self.parse_time(&raw_time).ok_or_else(|| {
            SourceError::malformed(format!(
                "`{raw_time}` at {} is not {}",
                fields.occurred_at, fields.occurred_at_format
            ))
        })?;
        let mut events = vec![Event {
            provider_id: event_id.clone(),
            body: EventBody::Touch(Touch {
                who: who.clone(),
                kind,
                occurred_at,
                account: None,
                properties: None,
            }),
        }];
        let profile: BTreeMap<String, String> = self
            .profile
            .iter()
            .filter_map(|(field, pointer)| Some((field.clone(), text_at(&payload, pointer)?)))
            .collect();
        if !profile.is_empty() {
            events.push(Event {
                provider_id: format!("{event_id}:profile"),
                body: EventBody::Profile(Profile {
                    who,
                    fields: profile,
                    account: None,
                    occurred_at,
                }),
            });
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests;
