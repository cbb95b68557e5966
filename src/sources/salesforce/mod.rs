//! `kind = "salesforce"`: Salesforce Outbound Messages (workflow / flow actions that POST
//! a SOAP 1.1 `notifications` message).
//!
//! Format (developer.salesforce.com, "Understanding the Outbound Messaging WSDL"):
//! `soapenv:Envelope/soapenv:Body/notifications` in `http://soap.sforce.com/2005/09/outbound`
//! with `OrganizationId`, `ActionId`, `SessionId`, `EnterpriseUrl`, `PartnerUrl` and 1–100
//! `Notification`s, each an `Id` (the notification id, used to deduplicate redeliveries)
//! and an `sObject xsi:type="sf:<Object>"` whose children (prefix `sf:`, namespace
//! `urn:sobject.enterprise.soap.sforce.com`) are the fields chosen for the message.
//! Elements are matched on local names, so any prefixes work.
//!
//! Outbound messages carry no signature. A delivery is taken when the URL carries the
//! configured `?token=` (compared in constant time) and the message's `OrganizationId` is
//! the configured org (15- and 18-character forms are equivalent). Salesforce retries
//! until it reads the `notificationsResponse` / `<Ack>true</Ack>` envelope, for up to 24 h,
//! and may redeliver or reorder notifications.

use super::delivery::{Adapter, Credentials, Delivery, Head, Reply, SourceError};
use super::kind_table::{self, IGNORE};
use crate::model::{Event, Millis, TouchKind};
use crate::secret::constant_time_eq;
use crate::secret::Secret;
use message::parse;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The exact body Salesforce needs to stop redelivering a message (one Ack covers every
/// notification in it).
pub const ACK: &str = "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><notificationsResponse xmlns=\"http://soap.sforce.com/2005/09/outbound\"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>";

const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceSource {
    /// The Salesforce org id (Setup → Company Information → Salesforce.com Organization
    /// ID), 15 or 18 characters. Messages from any other org are refused.
    pub organization_id: String,
    /// A random secret that the endpoint URL in Salesforce carries as `?token=<token>`.
    pub token: Secret,
    /// Task `Type` (or `TaskSubtype`) value → touch kind, added to and overriding the
    /// defaults; `"none"` switches a default off. Matched case-insensitively.
    #[serde(default)]
    pub task_types: BTreeMap<String, String>,
    /// Task `Subject` prefix (the text before the first `:`, or the whole subject) →
    /// touch kind, used when the Task's type has no mapping. `"none"` switches a default
    /// off. Matched case-insensitively.
    #[serde(default)]
    pub task_subjects: BTreeMap<String, String>,
    /// CampaignMember `Status` value → touch kind, added to and overriding the defaults;
    /// `"none"` switches a default off. Matched case-insensitively.
    #[serde(default)]
    pub campaign_member_statuses: BTreeMap<String, String>,
    /// Lead/Contact field API name → profile field name, added to and overriding the
    /// defaults; `"none"` switches a default off.
    #[serde(default)]
    pub profile_fields: BTreeMap<String, String>,
}

/// Task types (and task subtypes) that are attention.
pub const DEFAULT_TASK_TYPES: &[(&str, TouchKind)] = &[
    ("Call", TouchKind::Call),
    ("Email", TouchKind::EmailReply),
    ("Meeting", TouchKind::MeetingAttended),
];

/// Subject prefixes Salesforce and its email/calendar integrations write on Tasks
/// (`Email: <subject>`, `Call`, …), for Tasks without a mapped type.
pub const DEFAULT_TASK_SUBJECTS: &[(&str, TouchKind)] = &[
    ("Email", TouchKind::EmailReply),
    ("Call", TouchKind::Call),
    ("Meeting", TouchKind::MeetingAttended),
];

/// Campaign member statuses. Salesforce's defaults are `Sent` (not attention) and
/// `Responded`; the others are common custom statuses.
pub const DEFAULT_CAMPAIGN_MEMBER_STATUSES: &[(&str, TouchKind)] = &[
    ("Responded", TouchKind::FormSubmit),
    ("Registered", TouchKind::WebinarRegistered),
    ("Attended", TouchKind::WebinarAttended),
    ("Opened", TouchKind::EmailOpen),
    ("Clicked", TouchKind::EmailClick),
    ("Unsubscribed", TouchKind::Unsubscribe),
];

/// Lead and Contact fields → profile fields.
pub const DEFAULT_PROFILE_FIELDS: &[(&str, &str)] = &[
    ("FirstName", "first_name"),
    ("LastName", "last_name"),
    ("Title", "title"),
    ("Company", "company"),
    ("Industry", "industry"),
    ("NumberOfEmployees", "employees"),
    ("Country", "country"),
    ("City", "city"),
    ("MailingCountry", "country"),
    ("MailingCity", "city"),
    ("Phone", "phone"),
    ("LeadSource", "lead_source"),
    ("Status", "status"),
];

/// Looks `key` up case-insensitively: the configured table first, then the defaults.
/// `Some(None)` is an explicit "none".
fn lookup<T: Copy>(
    configured: &BTreeMap<String, String>,
    defaults: &[(&str, T)],
    key: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<Option<T>> {
    let key = key.trim();
    if let Some((_, value)) = configured
        .iter()
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
    {
        return Some(if value == IGNORE { None } else { parse(value) });
    }
    defaults
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, value)| Some(*value))
}

impl SalesforceSource {
    fn task_type(&self, value: &str) -> Option<Option<TouchKind>> {
        lookup(
            &self.task_types,
            DEFAULT_TASK_TYPES,
            value,
            TouchKind::parse,
        )
    }

    fn task_subject(&self, subject: &str) -> Option<Option<TouchKind>> {
        let prefix = subject.split(':').next().unwrap_or("");
        lookup(
            &self.task_subjects,
            DEFAULT_TASK_SUBJECTS,
            prefix,
            TouchKind::parse,
        )
    }

    fn campaign_status(&self, status: &str) -> Option<TouchKind> {
        lookup(
            &self.campaign_member_statuses,
            DEFAULT_CAMPAIGN_MEMBER_STATUSES,
            status,
            TouchKind::parse,
        )
        .flatten()
    }

    /// Salesforce field → profile field name, for every mapped field.
    fn profile_table(&self) -> Vec<(String, String)> {
        let mut table: Vec<(String, String)> = DEFAULT_PROFILE_FIELDS
            .iter()
            .filter(|(field, _)| {
                !self
                    .profile_fields
                    .keys()
                    .any(|k| k.eq_ignore_ascii_case(field))
            })
            .map(|(field, name)| (field.to_string(), name.to_string()))
            .collect();
        table.extend(
            self.profile_fields
                .iter()
                .filter(|(_, name)| name.as_str() != IGNORE)
                .map(|(field, name)| (field.clone(), name.clone())),
        );
        table
    }

    /// The configured org in its 18-character form, upper-cased for comparison.
    fn expected_org(&self) -> Option<String> {
        id18(self.organization_id.trim()).map(|id| id.to_ascii_uppercase())
    }
}

/// Converts a 15-character (case-sensitive) Salesforce id to its 18-character form; an
/// 18-character id is returned as it is. Each 5-character chunk adds one character that
/// encodes which of its positions are upper-case letters.
pub fn id18(id: &str) -> Option<String> {
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match id.len() {
        18 => Some(id.to_string()),
        15 => {
            const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
            let mut out = id.to_string();
            for chunk in id.as_bytes().chunks(5) {
                let bits = chunk
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.is_ascii_uppercase())
                    .fold(0usize, |acc, (i, _)| acc | (1 << i));
                out.push(ALPHABET[bits] as char);
            }
            Some(out)
        }
        _ => None,
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Adapter for SalesforceSource {
    fn validate(&self) -> Result<(), (String, String)> {
        if self.token.expose().trim().is_empty() {
            return Err(("token".into(), "must not be empty".into()));
        }
        let org = self.organization_id.trim();
        match id18(org) {
            None => {
                return Err((
                    "organization_id".into(),
                    format!("`{org}` is not a Salesforce id: expected 15 or 18 letters and digits (it starts with 00D)"),
                ))
            }
            Some(_) if org.len() == 18 => {
                let computed = id18(&org[..15]).unwrap_or_default();
                if !computed[15..].eq_ignore_ascii_case(&org[15..]) {
                    return Err((
                        "organization_id".into(),
                        format!("`{org}`: the last three characters do not match the first 15; copy the id exactly"),
                    ));
                }
            }
            Some(_) => {}
        }
        for (table, entries) in [
            ("task_types", &self.task_types),
            ("task_subjects", &self.task_subjects),
            ("campaign_member_statuses", &self.campaign_member_statuses),
        ] {
            kind_table::check(table, entries)?;
        }
        for (field, name) in &self.profile_fields {
            if name.trim().is_empty() {
                return Err((
                    format!("profile_fields.{field}"),
                    "must be a profile field name (e.g. `title`) or `none`".into(),
                ));
            }
        }
        Ok(())
    }

    fn acknowledgement(&self) -> Option<Reply> {
        Some(Reply::ok(CONTENT_TYPE, ACK))
    }

    fn refusal(&self, error: &SourceError) -> Option<Reply> {
        let body = format!(
            "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>{}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>",
            xml_escape(&error.to_string())
        );
        Some(Reply {
            status: error.status(),
            content_type: CONTENT_TYPE,
            body: body.into_bytes(),
        })
    }

    /// The URL's token vouches for the sender; the org id inside the message is checked
    /// in [`Adapter::verify`].
    fn authenticate(&self, head: &Head<'_>, _now: Millis) -> Result<Credentials, SourceError> {
        let given = head
            .query("token")
            .ok_or_else(|| SourceError::BadCredentials("missing token query parameter".into()))?;
        if !constant_time_eq(given.as_bytes(), self.token.expose().as_bytes()) {
            return Err(SourceError::BadCredentials("wrong token".into()));
        }
        Ok(Credentials::Checked)
    }

    fn verify(&self, delivery: &Delivery<'_>, now: Millis) -> Result<(), SourceError> {
        self.authenticate(&delivery.head(), now)?;
        let message = parse(delivery.body)?;
        let org = message
            .organization_id
            .as_deref()
            .map(str::trim)
            .filter(|org| !org.is_empty())
            .ok_or_else(|| {
                SourceError::BadCredentials("the message has no OrganizationId".into())
            })?;
        let expected = self.expected_org().unwrap_or_default();
        let given = id18(org)
            .map(|id| id.to_ascii_uppercase())
            .unwrap_or_default();
        if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Err(SourceError::BadCredentials(
                "OrganizationId does not match organization_id".into(),
            ));
        }
        Ok(())
    }

    fn normalize(&self, delivery: &Delivery<'_>) -> Result<Vec<Event>, SourceError> {
        let message = parse(delivery.body)?;
        let mut events = Vec::new();
        for (index, notification) in message.notifications.iter().enumerate() {
            let id = notification
                .id
                .as_deref()
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .ok_or_else(|| {
                    SourceError::malformed(format!("Notification [{index}]: missing Id"))
                })?;
            let object = notification.object.as_ref().ok_or_else(|| {
                SourceError::malformed(format!("Notification {id}: missing sObject"))
            })?;
            if let Some(body) = self.event_body(id, object)? {
                events.push(Event {
                    provider_id: id.to_string(),
                    body,
                });
            }
        }
        Ok(events)
    }
}

/// What an outbound message says, read on local names.
mod message;
mod record;
#[cfg(test)]
mod tests;
