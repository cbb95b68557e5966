//! One Segment message (`track`, `page`, `screen`, `identify`, `group`, `alias`,
//! `delete`) as events: who it names, the event and page tables, reserved traits.

use super::{SegmentSource, DEFAULT_EVENTS};
use crate::model::{Event, EventBody, Identity, Millis, Profile, Touch, TouchKind};
use crate::sources::delivery::SourceError;
use crate::sources::kind_table;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The path of a URL or of a bare path, without query or fragment.
pub(super) fn url_path(url: &str) -> &str {
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
pub(super) fn text(value: Option<&Value>) -> Option<String> {
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
    text.filter(|candidate| Identity::checked_email(candidate).is_ok())
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
    fn kind_for_event(&self, event: &str) -> Option<TouchKind> {
        kind_table::kind_for(
            &self.events,
            DEFAULT_EVENTS,
            event,
            str::eq_ignore_ascii_case,
        )
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
    pub(super) fn message(
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
}
