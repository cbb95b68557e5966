//! `kind = "marketo"`: Marketo Engage webhooks called from trigger smart campaigns.
//!
//! Marketo webhooks are templates the admin writes (Admin → Webhooks): Marketo fills in
//! tokens such as `{{lead.Id}}`, `{{lead.Email Address}}`, `{{campaign.name}}` and
//! `{{system.dateTime}}` and POSTs the result. With "Request Token Encoding: JSON",
//! string tokens are quoted and escaped by Marketo, numbers are not, and an empty field
//! becomes `""` (experienceleague.adobe.com/en/docs/marketo-developer/marketo/webhooks/webhooks).
//!
//! Marketo does not sign webhooks. The admin adds a custom header (Webhooks Actions →
//! Set Custom Header) carrying a shared secret, which we compare in constant time.
//!
//! Marketo has no event id token. A delivery's id is a SHA-256 of what identifies the
//! engagement (lead id, kind, time, campaign, asset, URL, link), so the same request
//! sent twice is counted once, whatever the profile tokens say the second time.

use super::delivery::{Adapter, Credentials, Delivery, Head, SourceError};
use crate::model::{Event, EventBody, Identity, Millis, Profile, Touch, TouchKind};
use crate::secret::constant_time_eq;
use crate::secret::Secret;
use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The header name used when `header` is not set.
pub const DEFAULT_HEADER: &str = "X-Attentiond-Secret";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketoSource {
    /// Name of the custom header that carries the shared secret (set in the webhook with
    /// Webhooks Actions → Set Custom Header).
    #[serde(default = "default_header")]
    pub header: String,
    /// The shared secret the header must carry, compared in constant time.
    pub secret: Secret,
    /// Time zone in which `{{system.dateTime}}` is written (it carries none): `UTC`, a
    /// fixed offset such as `+02:00`, or one of the named zones listed in the docs.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

fn default_header() -> String {
    DEFAULT_HEADER.to_string()
}
fn default_time_zone() -> String {
    "UTC".to_string()
}

/// Template fields copied into the profile, when not empty.
pub const PROFILE_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "title",
    "company",
    "industry",
    "employees",
    "country",
    "city",
    "phone",
    "lead_source",
    "status",
];

/// Template fields kept as the touch's context, when not empty.
pub const CONTEXT_FIELDS: &[&str] = &[
    "campaign",
    "campaign_id",
    "program",
    "asset",
    "url",
    "link",
    "subject",
    "referrer",
    "ip",
    "user_agent",
];

/// Context fields that tell two engagements apart (part of the delivery id).
const IDENTIFYING_FIELDS: &[&str] = &["campaign", "campaign_id", "asset", "url", "link"];

impl MarketoSource {
    /// The shared secret in the custom header, compared in constant time.
    fn check_secret(&self, head: &Head<'_>) -> Result<(), SourceError> {
        let Some(given) = head.header(&self.header) else {
            if self.header.eq_ignore_ascii_case(DEFAULT_HEADER) {
                return Err(SourceError::MissingHeader(DEFAULT_HEADER));
            }
            return Err(SourceError::BadCredentials(format!(
                "missing header {}",
                self.header
            )));
        };
        if constant_time_eq(given.trim().as_bytes(), self.secret.expose().as_bytes()) {
            Ok(())
        } else {
            Err(SourceError::BadCredentials(format!(
                "wrong secret in header {}",
                self.header
            )))
        }
    }
}

impl Adapter for MarketoSource {
    fn validate(&self) -> Result<(), (String, String)> {
        self.secret.require("secret")?;
        let valid_name = !self.header.is_empty()
            && self
                .header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid_name {
            return Err((
                "header".into(),
                format!("`{}` is not a valid HTTP header name", self.header),
            ));
        }
        if Zone::parse(&self.time_zone).is_none() {
            return Err((
                "time_zone".into(),
                format!(
                    "unknown time zone `{}`: expected UTC, an offset like +02:00, or one of {}",
                    self.time_zone,
                    Zone::names()
                ),
            ));
        }
        Ok(())
    }

    fn authenticate(&self, head: &Head<'_>, _now: Millis) -> Result<Credentials, SourceError> {
        self.check_secret(head).map(|()| Credentials::Checked)
    }

    fn verify(&self, delivery: &Delivery<'_>, _now: Millis) -> Result<(), SourceError> {
        self.check_secret(&delivery.head())
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        let body: Map<String, Value> = serde_json::from_slice(delivery.body).map_err(|error| {
            SourceError::malformed(format!(
                "expected the JSON object of the Marketo webhook template: {error}"
            ))
        })?;
        let zone = Zone::parse(&self.time_zone)
            .ok_or_else(|| SourceError::malformed("time_zone is not a known zone"))?;

        let kind_name = text(&body, "kind")?
            .ok_or_else(|| SourceError::malformed("kind is required (a touch kind name)"))?;
        let kind = TouchKind::parse(&kind_name).ok_or_else(|| {
            SourceError::malformed(format!(
                "unknown kind `{kind_name}`: expected one of {}",
                TouchKind::names()
            ))
        })?;
        let lead_id = text(&body, "lead_id")?
            .ok_or_else(|| SourceError::malformed("lead_id is required ({{lead.Id}})"))?;
        if !lead_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SourceError::malformed(format!(
                "lead_id `{lead_id}` is not a Marketo lead id"
            )));
        }
        let occurred_raw = text(&body, "occurred_at")?.ok_or_else(|| {
            SourceError::malformed("occurred_at is required ({{system.dateTime}})")
        })?;
        let occurred_at = parse_time(&occurred_raw, zone).ok_or_else(|| {
            SourceError::malformed(format!(
                "occurred_at `{occurred_raw}` is not a time (expected YYYY-MM-DD HH:MM:SS or RFC 3339)"
            ))
        })?;

        let mut who = vec![Identity::crm("marketo", lead_id.clone())];
        // A malformed address stored in Marketo is not worth losing the touch over: the
        // lead id alone identifies the person.
        if let Some(email) = text(&body, "email")?.and_then(|e| Identity::checked_email(&e).ok()) {
            who.push(email);
        }

        let mut context = Map::new();
        for field in CONTEXT_FIELDS {
            if let Some(value) = text(&body, field)? {
                context.insert(field.to_string(), Value::String(value));
            }
        }
        let mut fields = BTreeMap::new();
        for field in PROFILE_FIELDS {
            if let Some(value) = text(&body, field)? {
                fields.insert(field.to_string(), value);
            }
        }
        let account = fields
            .get("company")
            .map(|company| format!("marketo-company:{company}"));

        let id = match text(&body, "id")? {
            Some(id) => format!("id:{id}"),
            None => {
                let mut hash = Sha256::new();
                for part in [lead_id.as_str(), kind.as_str(), &occurred_at.to_string()] {
                    hash.update(part.as_bytes());
                    hash.update([0x1f]);
                }
                for field in IDENTIFYING_FIELDS {
                    if let Some(Value::String(value)) = context.get(*field) {
                        hash.update(value.as_bytes());
                    }
                    hash.update([0x1f]);
                }
                hex::encode(hash.finalize())
            }
        };

        let mut events = vec![Event {
            provider_id: id.clone(),
            body: EventBody::Touch(Touch {
                who: who.clone(),
                kind,
                occurred_at,
                account: account.clone(),
                properties: (!context.is_empty()).then_some(Value::Object(context)),
            }),
        }];
        if !fields.is_empty() {
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
}

/// A template field as trimmed text; `None` when absent, null or empty (Marketo sends
/// `""` for an empty token). Numbers and booleans become their JSON text.
fn text(body: &Map<String, Value>, field: &str) -> Result<Option<String>, SourceError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            Ok((!s.is_empty()).then(|| s.to_string()))
        }
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(SourceError::malformed(format!(
            "{field} must be a string or a number"
        ))),
    }
}

/// `{{system.dateTime}}` (`2013-08-08 16:36:13`, in `zone`), an RFC 3339 time (its own
/// offset), or epoch seconds / milliseconds.
fn parse_time(raw: &str, zone: Zone) -> Option<Millis> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some(time.timestamp_millis());
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(raw, format) {
            return Some(zone.to_utc_millis(local));
        }
    }
    let number: i64 = raw.parse().ok()?;
    Some(if number.abs() < 100_000_000_000 {
        number * 1000
    } else {
        number
    })
}

/// A time zone as far as converting wall-clock times needs: a fixed offset, or a
/// standard offset with United States or European Union daylight saving rules.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Zone {
    Fixed(i64),
    Us(i64),
    Eu(i64),
}

const H: i64 = 3600;

const NAMED_ZONES: &[(&str, Zone)] = &[
    ("UTC", Zone::Fixed(0)),
    ("Etc/UTC", Zone::Fixed(0)),
    ("GMT", Zone::Fixed(0)),
    ("America/New_York", Zone::Us(-5 * H)),
    ("US/Eastern", Zone::Us(-5 * H)),
    ("America/Chicago", Zone::Us(-6 * H)),
    ("US/Central", Zone::Us(-6 * H)),
    ("America/Denver", Zone::Us(-7 * H)),
    ("US/Mountain", Zone::Us(-7 * H)),
    ("America/Phoenix", Zone::Fixed(-7 * H)),
    ("America/Los_Angeles", Zone::Us(-8 * H)),
    ("US/Pacific", Zone::Us(-8 * H)),
    ("Europe/London", Zone::Eu(0)),
    ("Europe/Dublin", Zone::Eu(0)),
    ("Europe/Lisbon", Zone::Eu(0)),
    ("Europe/Amsterdam", Zone::Eu(H)),
    ("Europe/Berlin", Zone::Eu(H)),
    ("Europe/Brussels", Zone::Eu(H)),
    ("Europe/Copenhagen", Zone::Eu(H)),
    ("Europe/Madrid", Zone::Eu(H)),
    ("Europe/Oslo", Zone::Eu(H)),
    ("Europe/Paris", Zone::Eu(H)),
    ("Europe/Prague", Zone::Eu(H)),
    ("Europe/Rome", Zone::Eu(H)),
    ("Europe/Stockholm", Zone::Eu(H)),
    ("Europe/Vienna", Zone::Eu(H)),
    ("Europe/Warsaw", Zone::Eu(H)),
    ("Europe/Zurich", Zone::Eu(H)),
    ("Europe/Athens", Zone::Eu(2 * H)),
    ("Europe/Helsinki", Zone::Eu(2 * H)),
    ("Asia/Kolkata", Zone::Fixed(5 * H + 1800)),
    ("Asia/Singapore", Zone::Fixed(8 * H)),
    ("Asia/Tokyo", Zone::Fixed(9 * H)),
];

impl Zone {
    fn parse(name: &str) -> Option<Zone> {
        let name = name.trim();
        if let Some((_, zone)) = NAMED_ZONES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            return Some(*zone);
        }
        // ±HH:MM
        let sign = match name.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (hours, minutes) = name[1..].split_once(':')?;
        if hours.len() != 2 || minutes.len() != 2 {
            return None;
        }
        let hours: i64 = hours.parse().ok()?;
        let minutes: i64 = minutes.parse().ok()?;
        (hours <= 14 && minutes < 60).then_some(Zone::Fixed(sign * (hours * H + minutes * 60)))
    }

    fn names() -> String {
        NAMED_ZONES
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The UTC instant of a wall-clock time. In the repeated hour when clocks go back,
    /// the first (daylight) one; a time in the skipped hour counts as daylight time.
    fn to_utc_millis(self, wall: NaiveDateTime) -> Millis {
        let wall_secs = wall.and_utc().timestamp();
        let offset = match self {
            Zone::Fixed(offset) => offset,
            Zone::Us(standard) => {
                let year = wall.year();
                // Second Sunday of March 02:00 to first Sunday of November 02:00, wall time.
                let start = at(nth_sunday(year, 3, 2), 2);
                let end = at(nth_sunday(year, 11, 1), 2);
                standard
                    + if (start..end).contains(&wall_secs) {
                        H
                    } else {
                        0
                    }
            }
            Zone::Eu(standard) => {
                let year = wall.year();
                // Last Sunday of March 01:00 UTC to last Sunday of October 01:00 UTC.
                let start = at(last_sunday(year, 3), 1) + standard;
                let end = at(last_sunday(year, 10), 1) + standard + H;
                standard
                    + if (start..end).contains(&wall_secs) {
                        H
                    } else {
                        0
                    }
            }
        };
        (wall_secs - offset) * 1000
    }
}

fn at(date: NaiveDate, hour: u32) -> i64 {
    date.and_hms_opt(hour, 0, 0)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or(0)
}

fn nth_sunday(year: i32, month: u32, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n).unwrap_or_default()
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, 5)
        .or_else(|| NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, 4))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
