//! `kind = "mailchimp"`: Mailchimp Marketing (audience) webhooks.
//!
//! Mailchimp's audience webhooks are not signed. Its "About Webhooks" guide
//! (developer.mailchimp.com/documentation/mailchimp/guides/about-webhooks/) suggests a
//! secret key in the webhook URL, checked as a query parameter: the admin registers
//! `https://<host>/webhooks/<name>?key=<key>`. The same guide says the webhook validator
//! sends a GET to that URL when the webhook is saved, and POSTs carry the data.
//!
//! Bodies are `application/x-www-form-urlencoded`: `type`, `fired_at`
//! (`YYYY-MM-DD HH:MM:SS`) and `data[...]` fields, `data[merges][TAG]` for merge fields
//! (mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/).
//!
//! Mailchimp sends no event id. A retry resends the same body, so the id of a delivery
//! is the SHA-256 of its bytes.

use super::delivery::{Adapter, Credentials, Delivery, Head, Reply, SourceError};
use super::kind_table::{self, IGNORE};
use super::plausible::email_at;
use crate::model::{Event, EventBody, Identity, Millis, Profile, Touch, TouchKind};
use crate::secret::constant_time_eq;
use crate::secret::Secret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailchimpSource {
    /// The secret the admin appends to the webhook URL as `?key=<key>`. Every request
    /// (the validator's GET included) must carry it.
    pub key: Secret,
    /// Touch kind recorded when someone subscribes to the audience; `"none"` records
    /// no touch (the profile fields are still read).
    #[serde(default = "default_subscribe_kind")]
    pub subscribe_kind: String,
    /// Merge tag (as Mailchimp sends it, e.g. `COMPANY`; nested parts joined with `.`,
    /// e.g. `ADDRESS.city`) → profile field, added to and overriding the defaults;
    /// `"none"` switches a default off.
    #[serde(default)]
    pub merge_fields: BTreeMap<String, String>,
}

fn default_subscribe_kind() -> String {
    TouchKind::FormSubmit.as_str().to_string()
}

/// Mailchimp's default audience merge fields and the profile fields they fill.
pub const DEFAULT_MERGE_FIELDS: &[(&str, &str)] = &[
    ("FNAME", "first_name"),
    ("LNAME", "last_name"),
    ("PHONE", "phone"),
    ("COMPANY", "company"),
    ("ADDRESS.city", "city"),
    ("ADDRESS.country", "country"),
];

impl MailchimpSource {
    fn subscribe_kind(&self) -> Option<TouchKind> {
        if self.subscribe_kind == IGNORE {
            return None;
        }
        TouchKind::parse(&self.subscribe_kind)
    }

    fn profile_field(&self, tag: &str) -> Option<&str> {
        match self.merge_fields.get(tag) {
            Some(field) if field == IGNORE => None,
            Some(field) => Some(field.as_str()),
            None => DEFAULT_MERGE_FIELDS
                .iter()
                .find(|(default, _)| *default == tag)
                .map(|(_, field)| *field),
        }
    }

    fn check_key(&self, head: &Head<'_>) -> Result<(), SourceError> {
        let given = head.query("key").ok_or_else(|| {
            SourceError::BadCredentials("missing `key` in the webhook URL".into())
        })?;
        if constant_time_eq(given.as_bytes(), self.key.expose().as_bytes()) {
            Ok(())
        } else {
            Err(SourceError::BadCredentials(
                "wrong `key` in the webhook URL".into(),
            ))
        }
    }
}

impl Adapter for MailchimpSource {
    fn validate(&self) -> Result<(), (String, String)> {
        self.key.require("key")?;
        kind_table::check_kind("subscribe_kind".into(), &self.subscribe_kind)?;
        for (tag, field) in &self.merge_fields {
            if field.trim().is_empty() {
                return Err((
                    format!("merge_fields.{tag}"),
                    "must name a profile field (e.g. `company`) or be `none`".into(),
                ));
            }
        }
        Ok(())
    }

    /// Mailchimp's validator GETs the webhook URL before saving it. The URL carries the
    /// key, so the key is checked here too: a wrong key fails at setup, not later.
    fn probe(&self, delivery: &Delivery<'_>, _now: Millis) -> Option<Result<Reply, SourceError>> {
        if !matches!(delivery.method, "GET" | "HEAD") {
            return None;
        }
        Some(
            self.check_key(&delivery.head())
                .map(|()| Reply::ok("text/plain; charset=utf-8", "")),
        )
    }

    fn authenticate(&self, head: &Head<'_>, _now: Millis) -> Result<Credentials, SourceError> {
        self.check_key(head).map(|()| Credentials::Checked)
    }

    fn verify(&self, delivery: &Delivery<'_>, _now: Millis) -> Result<(), SourceError> {
        self.check_key(&delivery.head())
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        let form = Form::parse(delivery.body);
        let kind = form
            .get("type")
            .ok_or_else(|| SourceError::malformed("form field `type` is missing"))?;
        let fired_at = form
            .get("fired_at")
            .ok_or_else(|| SourceError::malformed("form field `fired_at` is missing"))?;
        let occurred_at = parse_fired_at(fired_at)?;
        let id = hex::encode(Sha256::digest(delivery.body));
        let mut events = Vec::new();
        match kind {
            "subscribe" => {
                let email = form.email("data[email]")?;
                if let Some(kind) = self.subscribe_kind() {
                    events.push(Event {
                        provider_id: id.clone(),
                        body: EventBody::Touch(Touch {
                            who: vec![email.clone()],
                            kind,
                            occurred_at,
                            account: None,
                            properties: form.properties(&[
                                "list_id",
                                "id",
                                "ip_signup",
                                "ip_opt",
                                "email_type",
                            ]),
                        }),
                    });
                }
                events.extend(self.profile(&form, email, occurred_at, format!("{id}:profile")));
            }
            "unsubscribe" | "cleaned" => {
                // Both say "stop": an unsubscribe by the person, a cleaned address by
                // the mail servers (kept with Mailchimp's reason).
                let (kind, fields): (TouchKind, &[&str]) = if kind == "unsubscribe" {
                    (
                        TouchKind::Unsubscribe,
                        &["list_id", "id", "action", "reason", "campaign_id"],
                    )
                } else {
                    (TouchKind::HardBounce, &["list_id", "reason", "campaign_id"])
                };
                events.push(Event {
                    provider_id: id,
                    body: EventBody::Touch(Touch {
                        who: vec![form.email("data[email]")?],
                        kind,
                        occurred_at,
                        account: None,
                        properties: form.properties(fields),
                    }),
                });
            }
            "upemail" => {
                let old = form.email("data[old_email]")?;
                let new = form.email("data[new_email]")?;
                events.push(Event {
                    provider_id: id,
                    body: EventBody::Identify {
                        who: vec![old, new],
                    },
                });
            }
            "profile" => {
                let email = form.email("data[email]")?;
                events.extend(self.profile(&form, email, occurred_at, id));
            }
            // Campaign sending status is about a campaign, not a person; types added
            // later by Mailchimp are acknowledged and skipped the same way.
            _ => {}
        }
        Ok(events)
    }
}

impl MailchimpSource {
    /// The mapped merge fields as a profile, if any has a value.
    fn profile(
        &self,
        form: &Form,
        email: Identity,
        occurred_at: Millis,
        provider_id: String,
    ) -> Option<Event> {
        let mut fields = BTreeMap::new();
        for (tag, value) in form.merges() {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            if let Some(field) = self.profile_field(&tag) {
                fields.insert(field.to_string(), value.to_string());
            }
        }
        if fields.is_empty() {
            return None;
        }
        Some(Event {
            provider_id,
            body: EventBody::Profile(Profile {
                who: vec![email],
                fields,
                account: None,
                occurred_at,
            }),
        })
    }
}

/// `fired_at` as Mailchimp writes it, `YYYY-MM-DD HH:MM:SS`, read as UTC.
fn parse_fired_at(text: &str) -> Result<Millis, SourceError> {
    chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S")
        .map(|time| time.and_utc().timestamp_millis())
        .map_err(|_| {
            SourceError::malformed(format!(
                "fired_at `{text}` is not a `YYYY-MM-DD HH:MM:SS` time"
            ))
        })
}

/// The decoded form fields of a body; a repeated field keeps its last value.
struct Form(BTreeMap<String, String>);

impl Form {
    fn parse(body: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn email(&self, key: &str) -> Result<Identity, SourceError> {
        match self.get(key).map(str::trim) {
            None | Some("") => Err(SourceError::malformed(format!(
                "form field `{key}` is missing"
            ))),
            Some(address) => email_at(&format!("form field `{key}`"), address),
        }
    }

    /// `data[<name>]` for each name present, as a JSON object.
    fn properties(&self, names: &[&str]) -> Option<serde_json::Value> {
        let map: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .filter_map(|name| {
                let value = self.get(&format!("data[{name}]"))?;
                let key = if *name == "id" { "mailchimp_id" } else { name };
                Some((
                    key.to_string(),
                    serde_json::Value::String(value.to_string()),
                ))
            })
            .collect();
        (!map.is_empty()).then_some(serde_json::Value::Object(map))
    }

    /// `data[merges][A][b]` as (`A.b`, value).
    fn merges(&self) -> impl Iterator<Item = (String, &str)> {
        self.0.iter().filter_map(|(key, value)| {
            let path = key.strip_prefix("data[merges][")?.strip_suffix(']')?;
            Some((
                path.split("][").collect::<Vec<_>>().join("."),
                value.as_str(),
            ))
        })
    }
}

#[cfg(test)]
mod tests;
