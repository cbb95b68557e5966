//! `kind = "mapped"`: any platform that can POST JSON (Webflow forms, Unbounce, Drift, an
//! in-house app), described entirely in configuration.
//!
//! `[sources.<name>.auth]` picks how deliveries are authenticated: an HMAC signature
//! (header, algorithm, encoding, prefix, what is signed, timestamp tolerance), a bearer
//! token, or HTTP Basic. `[sources.<name>.fields]` maps the payload with JSON Pointers
//! (RFC 6901) to the event id, email, anonymous id, kind and time; `profile` maps more
//! pointers to profile fields.

use super::signature;
pub use super::signature::{Algorithm, Encoding, TimestampUnit};
use super::{Adapter, Delivery, SourceError};
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

    fn verify(&self, delivery: &Delivery<'_>, now: Millis) -> Result<(), SourceError> {
        match &self.auth {
            Auth::Bearer { secret } => {
                let given = delivery
                    .header("authorization")
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .ok_or(SourceError::MissingHeader("Authorization"))?;
                if constant_time_eq(given.trim().as_bytes(), secret.expose().as_bytes()) {
                    Ok(())
                } else {
                    Err(SourceError::BadCredentials("wrong bearer token".into()))
                }
            }
            Auth::Basic { username, password } => {
                let encoded = delivery
                    .header("authorization")
                    .and_then(|v| v.strip_prefix("Basic "))
                    .ok_or(SourceError::MissingHeader("Authorization"))?;
                let expected = format!("{username}:{}", password.expose());
                let given = STANDARD.decode(encoded.trim()).unwrap_or_default();
                if constant_time_eq(&given, expected.as_bytes()) {
                    Ok(())
                } else {
                    Err(SourceError::BadCredentials(
                        "wrong Basic credentials".into(),
                    ))
                }
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
                let signature = match signature_part {
                    Some(part) => header_part(value, part).ok_or(SourceError::InvalidSignature)?,
                    None => value.trim(),
                };
                let encoded = signature
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
        if let Some(email) = fields
            .email
            .as_deref()
            .and_then(|p| text_at(&payload, p))
            .filter(|e| e.contains('@'))
        {
            who.push(Identity::email(&email));
        }
        if let Some(anonymous) = fields
            .anonymous_id
            .as_deref()
            .and_then(|p| text_at(&payload, p))
        {
            who.push(Identity::Anonymous(anonymous));
        }
        if who.is_empty() {
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
mod tests {
    use super::*;

    fn from_toml(text: &str) -> Result<MappedSource, String> {
        let value: serde_json::Value = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| e.to_string())?;
        let source: MappedSource = serde_json::from_value(value).map_err(|e| e.to_string())?;
        source
            .validate()
            .map_err(|(key, message)| format!("{key}: {message}"))?;
        Ok(source)
    }

    /// The Typeform webhook, described as a mapped source.
    pub const TYPEFORM_AS_MAPPED: &str = r#"
[auth]
scheme = "hmac"
header = "Typeform-Signature"
secret = "abc123"
algorithm = "sha256"
encoding = "base64"
prefix = "sha256="
[fields]
event_id = "/event_id"
email = "/form_response/answers/2/email"
anonymous_id = "/form_response/hidden/anonymous_id"
kind_field = "/event_type"
occurred_at = "/form_response/submitted_at"
[kinds]
form_response = "form_submit"
[profile]
company = "/form_response/answers/0/text"
title = "/form_response/answers/1/choice/label"
"#;

    fn run(
        source: &MappedSource,
        headers: &[(&str, &str)],
        body: &str,
        now: Millis,
    ) -> Result<Vec<Event>, SourceError> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let delivery = Delivery {
            method: "POST",
            url: "",
            headers: &headers,
            body: body.as_bytes(),
        };
        source.verify(&delivery, now)?;
        source.normalize(&delivery)
    }

    // The Typeform signature vector (VENDORS.md §8) through the mapped scheme.
    #[test]
    fn typeform_signatures_verify_as_a_mapped_source() {
        let source = from_toml(TYPEFORM_AS_MAPPED).unwrap();
        let headers = vec![(
            "Typeform-Signature".to_string(),
            "sha256=pguEKycwiYwupvSfEYlpcBukgeGHBSRinV7x5E8zEcE=".to_string(),
        )];
        let body = br#"{"event_id":"01H","event_type":"form_response"}"#;
        let delivery = Delivery {
            method: "POST",
            url: "",
            headers: &headers,
            body,
        };
        assert_eq!(source.verify(&delivery, 0), Ok(()));
        let tampered = Delivery {
            body: br#"{"event_id":"01J","event_type":"form_response"}"#,
            ..delivery
        };
        assert_eq!(
            source.verify(&tampered, 0),
            Err(SourceError::InvalidSignature)
        );
    }

    #[test]
    fn the_typeform_fixture_maps_to_the_same_touch_as_the_typeform_source() {
        let mapped = from_toml(TYPEFORM_AS_MAPPED).unwrap();
        let body = crate::sources::typeform::tests::RESPONSE;
        let delivery = Delivery {
            method: "POST",
            url: "",
            headers: &[],
            body: body.as_bytes(),
        };
        let events = mapped.normalize(&delivery).unwrap();
        let EventBody::Touch(touch) = &events[0].body else {
            panic!()
        };
        assert_eq!(events[0].provider_id, "LtWXD3crgy");
        assert_eq!(touch.kind, TouchKind::FormSubmit);
        assert_eq!(
            touch.who,
            vec![
                Identity::email("laura@example.com"),
                Identity::Anonymous("visitor-9".into())
            ]
        );
        assert_eq!(
            touch.occurred_at,
            chrono::DateTime::parse_from_rfc3339("2026-11-20T14:21:39Z")
                .unwrap()
                .timestamp_millis()
        );
        let EventBody::Profile(profile) = &events[1].body else {
            panic!()
        };
        assert_eq!(profile.fields["company"], "Acme Inc");
        assert_eq!(profile.fields["title"], "Engineering");
    }

    // Zoom (v0:{ts}:{body}, hex, timestamp header) and Calendly (t=…,v1=… header) vectors
    // from VENDORS.md §8, expressed as mapped sources.
    #[test]
    fn timestamped_schemes_of_zoom_and_calendly_can_be_expressed() {
        let fields = "[fields]\nevent_id = \"/event\"\nemail = \"/email\"\nkind = \"webinar_attended\"\noccurred_at = \"/t\"\noccurred_at_format = \"unix_seconds\"\n";
        let zoom = from_toml(&format!("[auth]\nscheme = \"hmac\"\nheader = \"x-zm-signature\"\nsecret = \"secretValueTest\"\nprefix = \"v0=\"\nsigned = \"timestamp_body\"\nsigned_format = \"v0:{{timestamp}}:{{body}}\"\ntimestamp_header = \"x-zm-request-timestamp\"\n{fields}")).unwrap();
        let body = r#"{"event":"meeting.started"}"#;
        let headers = [
            (
                "x-zm-signature",
                "v0=42955a258be9873d016a2973a6697442d5ac968110bfccb89f9760492920ecc9",
            ),
            ("x-zm-request-timestamp", "1654503849"),
        ];
        let delivery_headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let delivery = Delivery {
            method: "POST",
            url: "",
            headers: &delivery_headers,
            body: body.as_bytes(),
        };
        assert_eq!(zoom.verify(&delivery, 1_654_503_849_000), Ok(()));
        assert_eq!(
            zoom.verify(&delivery, 1_654_504_200_000),
            Err(SourceError::StaleTimestamp(300))
        );

        let calendly = from_toml(&format!("[auth]\nscheme = \"hmac\"\nheader = \"Calendly-Webhook-Signature\"\nsecret = \"signing-key\"\nsignature_part = \"v1\"\nsigned = \"timestamp_body\"\ntimestamp_part = \"t\"\n{fields}")).unwrap();
        let body = r#"{"event":"invitee.created"}"#;
        let headers = vec![(
            "Calendly-Webhook-Signature".to_string(),
            "t=1700000000,v1=372f72588af1e3af76b360730e53401de0f7c11ccdbc634e903f2e9656352579"
                .to_string(),
        )];
        let delivery = Delivery {
            method: "POST",
            url: "",
            headers: &headers,
            body: body.as_bytes(),
        };
        assert_eq!(calendly.verify(&delivery, 1_700_000_000_000), Ok(()));
    }

    // Intercom (sha1=, hex) and Segment webhooks (hex HMAC-SHA1, no prefix) vectors from
    // VENDORS.md §7–8.
    #[test]
    fn sha1_schemes_of_intercom_and_segment_can_be_expressed() {
        let fields = "[fields]\nevent_id = \"/id\"\nemail = \"/email\"\nkind = \"chat\"\noccurred_at = \"/t\"\n";
        let intercom = from_toml(&format!("[auth]\nscheme = \"hmac\"\nheader = \"X-Hub-Signature\"\nsecret = \"hub-secret\"\nalgorithm = \"sha1\"\nprefix = \"sha1=\"\n{fields}")).unwrap();
        let ok = run(
            &intercom,
            &[(
                "X-Hub-Signature",
                "sha1=72dce4eabccbaef68bbe64a563bd4947b1565acc",
            )],
            r#"{"type":"notification_event","topic":"ping"}"#,
            0,
        );
        assert!(
            matches!(ok, Err(SourceError::Malformed(r)) if r.contains("no event id at /id")),
            "verified, then the mapping speaks"
        );
        let segment = from_toml(&format!("[auth]\nscheme = \"hmac\"\nheader = \"X-Signature\"\nsecret = \"sharedsecret\"\nalgorithm = \"sha1\"\n{fields}")).unwrap();
        let headers = vec![(
            "X-Signature".to_string(),
            "72c9815d6048ea5c7c183e590cbd931dda3c7c73".to_string(),
        )];
        let delivery = Delivery {
            method: "POST",
            url: "",
            headers: &headers,
            body: br#"{"type":"track","event":"Signed Up"}"#,
        };
        assert_eq!(segment.verify(&delivery, 0), Ok(()));
    }

    #[test]
    fn bearer_and_basic_secrets() {
        let fields = "[fields]\nevent_id = \"/id\"\nemail = \"/email\"\nkind = \"form_submit\"\noccurred_at = \"/at\"\n";
        let bearer = from_toml(&format!(
            "[auth]\nscheme = \"bearer\"\nsecret = \"tok\"\n{fields}"
        ))
        .unwrap();
        let body = r#"{"id":"e1","email":"a@b.c","at":"2026-11-20T10:00:00Z"}"#;
        assert!(run(&bearer, &[("Authorization", "Bearer tok")], body, 0).is_ok());
        assert!(matches!(
            run(&bearer, &[("Authorization", "Bearer nope")], body, 0),
            Err(SourceError::BadCredentials(_))
        ));
        assert_eq!(
            run(&bearer, &[], body, 0).unwrap_err(),
            SourceError::MissingHeader("Authorization")
        );
        let basic = from_toml(&format!(
            "[auth]\nscheme = \"basic\"\nusername = \"hook\"\npassword = \"pw\"\n{fields}"
        ))
        .unwrap();
        let good = format!("Basic {}", STANDARD.encode("hook:pw"));
        assert!(run(&basic, &[("Authorization", &good)], body, 0).is_ok());
        let bad = format!("Basic {}", STANDARD.encode("hook:px"));
        assert!(matches!(
            run(&basic, &[("Authorization", &bad)], body, 0),
            Err(SourceError::BadCredentials(_))
        ));
    }

    #[test]
    fn config_errors_name_the_bad_pointer() {
        let base = "[auth]\nscheme = \"bearer\"\nsecret = \"t\"\n";
        let error = from_toml(&format!("{base}[fields]\nevent_id = \"id\"\nemail = \"/email\"\nkind = \"form_submit\"\noccurred_at = \"/at\"\n")).unwrap_err();
        assert!(
            error.contains("fields.event_id") && error.contains("`id`"),
            "{error}"
        );
        let error = from_toml(&format!("{base}[fields]\nevent_id = \"/id\"\nemail = \"/email\"\nkind = \"form_submit\"\noccurred_at = \"/at\"\n[profile]\ncompany = \"/a/~2\"\n")).unwrap_err();
        assert!(
            error.contains("profile.company") && error.contains("/a/~2"),
            "{error}"
        );
        let error = from_toml(&format!("{base}[fields]\nevent_id = \"/id\"\nemail = \"/email\"\nkind = \"webinar\"\noccurred_at = \"/at\"\n")).unwrap_err();
        assert!(
            error.contains("fields.kind") && error.contains("webinar_attended"),
            "{error}"
        );
        let error = from_toml(&format!(
            "{base}[fields]\nevent_id = \"/id\"\nkind = \"form_submit\"\noccurred_at = \"/at\"\n"
        ))
        .unwrap_err();
        assert!(error.contains("fields.email"), "{error}");
    }

    #[test]
    fn payload_gaps_are_named() {
        let source = from_toml(TYPEFORM_AS_MAPPED).unwrap();
        let delivery = |body: &'static str| Delivery {
            method: "POST",
            url: "",
            headers: &[],
            body: body.as_bytes(),
        };
        assert!(
            matches!(source.normalize(&delivery(r#"{"event_type":"form_response"}"#)), Err(SourceError::Malformed(r)) if r.contains("/event_id"))
        );
        assert!(
            matches!(source.normalize(&delivery(r#"{"event_id":"x","event_type":"form_response","form_response":{}}"#)), Err(SourceError::Malformed(r)) if r.contains("/form_response/answers/2/email"))
        );
        assert!(source
            .normalize(&delivery(r#"{"event_id":"x","event_type":"form_partial"}"#))
            .unwrap()
            .is_empty());
    }
}
