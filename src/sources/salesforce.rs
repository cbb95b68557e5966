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

use super::{constant_time_eq, Adapter, Delivery, Reply, SourceError};
use crate::config::Secret;
use crate::model::{Event, EventBody, Identity, Millis, Outcome, OutcomeKind, Profile, Touch, TouchKind};
use quick_xml::events::{BytesStart, Event as XmlEvent};
use quick_xml::Reader;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The value of a mapping entry that switches a default off.
const IGNORE: &str = "none";

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

/// Fields read for a record's time, in order of preference.
const RECORD_TIME: &[&str] = &["LastModifiedDate", "SystemModstamp", "CreatedDate"];
const TASK_TIME: &[&str] = &[
    "CompletedDateTime",
    "ActivityDate",
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
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
    if let Some((_, value)) = configured.iter().find(|(k, _)| k.trim().eq_ignore_ascii_case(key)) {
        return Some(if value == IGNORE { None } else { parse(value) });
    }
    defaults
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, value)| Some(*value))
}

impl SalesforceSource {
    fn task_type(&self, value: &str) -> Option<Option<TouchKind>> {
        lookup(&self.task_types, DEFAULT_TASK_TYPES, value, TouchKind::parse)
    }

    fn task_subject(&self, subject: &str) -> Option<Option<TouchKind>> {
        let prefix = subject.split(':').next().unwrap_or("");
        lookup(&self.task_subjects, DEFAULT_TASK_SUBJECTS, prefix, TouchKind::parse)
    }

    fn campaign_status(&self, status: &str) -> Option<TouchKind> {
        lookup(&self.campaign_member_statuses, DEFAULT_CAMPAIGN_MEMBER_STATUSES, status, TouchKind::parse).flatten()
    }

    /// Salesforce field → profile field name, for every mapped field.
    fn profile_table(&self) -> Vec<(String, String)> {
        let mut table: Vec<(String, String)> = DEFAULT_PROFILE_FIELDS
            .iter()
            .filter(|(field, _)| !self.profile_fields.keys().any(|k| k.eq_ignore_ascii_case(field)))
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

/// The `token` query parameter of a URL.
fn query_token(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "token")
        .map(|(_, value)| value.into_owned())
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
            for (key, kind) in entries {
                if kind != IGNORE && TouchKind::parse(kind).is_none() {
                    return Err((
                        format!("{table}.{key}"),
                        format!("unknown kind `{kind}`: expected `none` or one of {}", TouchKind::names()),
                    ));
                }
            }
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

    fn verify(&self, delivery: &Delivery<'_>, _now: Millis) -> Result<(), SourceError> {
        let given = query_token(delivery.url)
            .ok_or_else(|| SourceError::BadCredentials("missing token query parameter".into()))?;
        if !constant_time_eq(given.as_bytes(), self.token.expose().as_bytes()) {
            return Err(SourceError::BadCredentials("wrong token".into()));
        }
        let message = parse(delivery.body)?;
        let org = message
            .organization_id
            .as_deref()
            .map(str::trim)
            .filter(|org| !org.is_empty())
            .ok_or_else(|| SourceError::BadCredentials("the message has no OrganizationId".into()))?;
        let expected = self.expected_org().unwrap_or_default();
        let given = id18(org).map(|id| id.to_ascii_uppercase()).unwrap_or_default();
        if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Err(SourceError::BadCredentials("OrganizationId does not match organization_id".into()));
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
                .ok_or_else(|| SourceError::malformed(format!("Notification [{index}]: missing Id")))?;
            let object = notification
                .object
                .as_ref()
                .ok_or_else(|| SourceError::malformed(format!("Notification {id}: missing sObject")))?;
            let record = Record { notification: id, object };
            if let Some(body) = self.event_body(&record)? {
                events.push(Event {
                    provider_id: id.to_string(),
                    body,
                });
            }
        }
        Ok(events)
    }
}

/// One notification's object, with helpers whose errors name the notification and field.
struct Record<'a> {
    notification: &'a str,
    object: &'a SObject,
}

impl Record<'_> {
    fn text(&self, field: &str) -> Option<&str> {
        self.object
            .fields
            .get(field)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    fn malformed(&self, what: String) -> SourceError {
        SourceError::malformed(format!(
            "Notification {} ({}): {what}",
            self.notification, self.object.kind
        ))
    }

    /// An id field, in 18-character form.
    fn id(&self, field: &str) -> Result<Option<String>, SourceError> {
        match self.text(field) {
            None => Ok(None),
            Some(raw) => id18(raw)
                .map(Some)
                .ok_or_else(|| self.malformed(format!("{field} `{raw}` is not a Salesforce id"))),
        }
    }

    fn crm(&self, field: &str) -> Result<Option<Identity>, SourceError> {
        Ok(self.id(field)?.map(|id| Identity::crm("salesforce", id)))
    }

    fn account(&self, field: &str) -> Result<Option<String>, SourceError> {
        Ok(self.id(field)?.map(|id| format!("salesforce:{id}")))
    }

    fn flag(&self, field: &str) -> Result<Option<bool>, SourceError> {
        match self.text(field) {
            None => Ok(None),
            Some("true") | Some("1") => Ok(Some(true)),
            Some("false") | Some("0") => Ok(Some(false)),
            Some(other) => Err(self.malformed(format!("{field} `{other}` is not true or false"))),
        }
    }

    fn time_of(&self, field: &str) -> Result<Option<Millis>, SourceError> {
        match self.text(field) {
            None => Ok(None),
            Some(raw) => parse_time(raw)
                .map(Some)
                .ok_or_else(|| self.malformed(format!("{field} `{raw}` is not a date or dateTime"))),
        }
    }

    /// The first of `fields` present; the message must carry one of them.
    fn time(&self, fields: &[&str]) -> Result<Millis, SourceError> {
        for field in fields {
            if let Some(at) = self.time_of(field)? {
                return Ok(at);
            }
        }
        Err(self.malformed(format!(
            "no time: add one of {} to the outbound message's fields",
            fields.join(", ")
        )))
    }

    fn email(&self) -> Option<Identity> {
        self.text("Email")
            .filter(|email| email.contains('@'))
            .map(Identity::email)
    }
}

fn parse_time(raw: &str) -> Option<Millis> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some(time.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc().timestamp_millis())
}

impl SalesforceSource {
    fn event_body(&self, record: &Record<'_>) -> Result<Option<EventBody>, SourceError> {
        let id = record
            .id("Id")?
            .ok_or_else(|| record.malformed("the sObject has no Id".into()))?;
        Ok(match record.object.kind.as_str() {
            "Lead" | "Contact" => Some(self.profile(record, &id)?),
            "Task" => self.task(record)?,
            "CampaignMember" => self.campaign_member(record)?,
            "Opportunity" => Some(self.opportunity(record, &id)?),
            // Other objects carry nothing we use; they are acknowledged.
            _ => None,
        })
    }

    fn profile(&self, record: &Record<'_>, id: &str) -> Result<EventBody, SourceError> {
        let lead = record.object.kind == "Lead";
        let mut who = vec![Identity::crm("salesforce", id)];
        if lead {
            // A converted lead and its contact are one person.
            who.extend(record.crm("ConvertedContactId")?);
        }
        who.extend(record.email());
        let account = record.account(if lead { "ConvertedAccountId" } else { "AccountId" })?;
        let mut fields = BTreeMap::new();
        for (field, name) in self.profile_table() {
            let value = record
                .object
                .fields
                .iter()
                .find(|(sent, _)| sent.eq_ignore_ascii_case(&field))
                .map(|(_, value)| value.trim())
                .filter(|value| !value.is_empty());
            if let Some(value) = value {
                fields.insert(name, value.to_string());
            }
        }
        Ok(EventBody::Profile(Profile {
            who,
            fields,
            account,
            occurred_at: record.time(RECORD_TIME)?,
        }))
    }

    fn task(&self, record: &Record<'_>) -> Result<Option<EventBody>, SourceError> {
        if record.flag("IsClosed")? == Some(false) {
            // An open task is planned work, not attention yet.
            return Ok(None);
        }
        let Some(who) = record.crm("WhoId")? else {
            return Ok(None);
        };
        let kind = [record.text("Type"), record.text("TaskSubtype")]
            .into_iter()
            .flatten()
            .find_map(|value| self.task_type(value))
            .or_else(|| record.text("Subject").and_then(|subject| self.task_subject(subject)))
            .flatten();
        let Some(kind) = kind else {
            return Ok(None);
        };
        let mut properties = serde_json::Map::new();
        for (key, field) in [("subject", "Subject"), ("type", "Type"), ("subtype", "TaskSubtype")] {
            if let Some(value) = record.text(field) {
                properties.insert(key.into(), value.into());
            }
        }
        Ok(Some(EventBody::Touch(Touch {
            who: vec![who],
            kind,
            occurred_at: record.time(TASK_TIME)?,
            account: record.account("AccountId")?,
            properties: Some(serde_json::Value::Object(properties)),
        })))
    }

    fn campaign_member(&self, record: &Record<'_>) -> Result<Option<EventBody>, SourceError> {
        let Some(status) = record.text("Status") else {
            return Ok(None);
        };
        let Some(kind) = self.campaign_status(status) else {
            return Ok(None);
        };
        let mut who = Vec::new();
        who.extend(record.crm("ContactId")?);
        who.extend(record.crm("LeadId")?);
        who.extend(record.email());
        if who.is_empty() {
            return Ok(None);
        }
        let mut properties = serde_json::Map::new();
        properties.insert("status".into(), status.into());
        if let Some(campaign) = record.id("CampaignId")? {
            properties.insert("campaign".into(), format!("salesforce:{campaign}").into());
        }
        Ok(Some(EventBody::Touch(Touch {
            who,
            kind,
            occurred_at: record.time(RECORD_TIME)?,
            account: None,
            properties: Some(serde_json::Value::Object(properties)),
        })))
    }

    fn opportunity(&self, record: &Record<'_>, id: &str) -> Result<EventBody, SourceError> {
        let stage = record.text("StageName").map(str::to_string);
        let created = record.time_of("CreatedDate")?;
        let modified = record.time_of("LastModifiedDate")?;
        let kind = if record.flag("IsWon")? == Some(true) {
            OutcomeKind::Won
        } else if record.flag("IsClosed")? == Some(true) {
            OutcomeKind::Lost
        } else if created.is_some() && created == modified {
            OutcomeKind::OpportunityCreated
        } else {
            OutcomeKind::StageChanged
        };
        let amount = match record.text("Amount") {
            None => None,
            Some(raw) => Some(
                raw.parse::<f64>()
                    .ok()
                    .filter(|amount| amount.is_finite())
                    .ok_or_else(|| record.malformed(format!("Amount `{raw}` is not a number")))?,
            ),
        };
        Ok(EventBody::Outcome(Outcome {
            who: record.crm("ContactId")?.into_iter().collect(),
            account: record.account("AccountId")?,
            kind,
            opportunity: Some(format!("salesforce:{id}")),
            stage,
            amount,
            currency: record.text("CurrencyIsoCode").map(str::to_string),
            occurred_at: record.time(RECORD_TIME)?,
        }))
    }
}

/// What an outbound message says, read on local names.
#[derive(Debug, Default)]
struct Message {
    organization_id: Option<String>,
    notifications: Vec<Notification>,
}

#[derive(Debug, Default)]
struct Notification {
    id: Option<String>,
    object: Option<SObject>,
}

#[derive(Debug, Default)]
struct SObject {
    /// `xsi:type` without its prefix: `Lead`, `Contact`, …
    kind: String,
    /// Field local name → text. Fields sent as `xsi:nil="true"` are absent.
    fields: BTreeMap<String, String>,
}

fn local(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// The value of the attribute with local name `name` (any prefix).
fn attribute(element: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, SourceError> {
    for attribute in element.attributes() {
        let attribute = attribute.map_err(|error| SourceError::malformed(format!("not well-formed XML: {error}")))?;
        if attribute.key.local_name().as_ref() == name {
            let value = attribute
                .unescape_value()
                .map_err(|error| SourceError::malformed(format!("not well-formed XML: {error}")))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// Reads the SOAP envelope. Paths are `Envelope/Body/notifications/...` by local name.
fn parse(body: &[u8]) -> Result<Message, SourceError> {
    let text = std::str::from_utf8(body).map_err(|_| SourceError::malformed("the body is not UTF-8 XML"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let bad = |error: quick_xml::Error| SourceError::malformed(format!("not well-formed XML: {error}"));

    let mut message = Message::default();
    let mut seen_notifications = false;
    let mut stack: Vec<String> = Vec::new();
    let mut text_buf = String::new();
    let mut nil = false;
    loop {
        let event = reader.read_event().map_err(bad)?;
        let (start, empty) = match &event {
            XmlEvent::Start(element) => (Some(element), false),
            XmlEvent::Empty(element) => (Some(element), true),
            _ => (None, false),
        };
        if let Some(element) = start {
            let name = local(element.local_name().as_ref());
            let depth = stack.len();
            if depth == 0 && name != "Envelope" {
                return Err(SourceError::malformed(format!(
                    "expected a SOAP Envelope, found <{name}>"
                )));
            }
            let path: Vec<&str> = stack.iter().map(String::as_str).collect();
            match (path.as_slice(), name.as_str()) {
                (["Envelope", "Body"], "notifications") => seen_notifications = true,
                (["Envelope", "Body", "notifications"], "Notification") => {
                    message.notifications.push(Notification::default())
                }
                (["Envelope", "Body", "notifications", "Notification"], "sObject") => {
                    let kind = attribute(element, b"type")?.unwrap_or_default();
                    let kind = kind.rsplit(':').next().unwrap_or("").trim().to_string();
                    if kind.is_empty() {
                        return Err(SourceError::malformed("an sObject has no xsi:type"));
                    }
                    if let Some(notification) = message.notifications.last_mut() {
                        notification.object = Some(SObject { kind, fields: BTreeMap::new() });
                    }
                }
                _ => {}
            }
            nil = attribute(element, b"nil")?.is_some_and(|value| value.trim() == "true");
            text_buf.clear();
            stack.push(name);
            if !empty {
                continue;
            }
        }
        match event {
            XmlEvent::Start(_) => {}
            XmlEvent::Text(text) => {
                let text = text.unescape().map_err(bad)?;
                if stack.is_empty() && !text.trim().is_empty() {
                    return Err(SourceError::malformed("expected a SOAP Envelope, found text"));
                }
                text_buf.push_str(&text);
            }
            XmlEvent::CData(data) => {
                text_buf.push_str(&String::from_utf8_lossy(&data.into_inner()));
            }
            XmlEvent::End(_) | XmlEvent::Empty(_) => {
                let path: Vec<&str> = stack.iter().map(String::as_str).collect();
                match path.as_slice() {
                    ["Envelope", "Body", "notifications", "OrganizationId"] => {
                        message.organization_id = Some(text_buf.trim().to_string());
                    }
                    ["Envelope", "Body", "notifications", "Notification", "Id"] => {
                        if let Some(notification) = message.notifications.last_mut() {
                            notification.id = Some(text_buf.trim().to_string());
                        }
                    }
                    ["Envelope", "Body", "notifications", "Notification", "sObject", field] => {
                        if let Some(object) = message
                            .notifications
                            .last_mut()
                            .and_then(|notification| notification.object.as_mut())
                        {
                            if !nil {
                                object.fields.insert(field.to_string(), text_buf.clone());
                            }
                        }
                    }
                    _ => {}
                }
                text_buf.clear();
                nil = false;
                stack.pop();
            }
            XmlEvent::DocType(_) => {
                return Err(SourceError::malformed("a DOCTYPE is not allowed in an outbound message"))
            }
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(SourceError::malformed(format!(
            "not well-formed XML: <{}> is never closed",
            stack.last().map(String::as_str).unwrap_or("")
        )));
    }
    if !seen_notifications {
        return Err(SourceError::malformed(
            "the SOAP Body holds no outbound-message notifications element",
        ));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "00D5e000000KQ2eEAG";
    const TOKEN: &str = "s3cret-token";
    const URL: &str = "https://attention.example.com/webhooks/salesforce?token=s3cret-token";

    fn source() -> SalesforceSource {
        SalesforceSource {
            organization_id: ORG.into(),
            token: Secret::new(TOKEN),
            task_types: BTreeMap::new(),
            task_subjects: BTreeMap::new(),
            campaign_member_statuses: BTreeMap::new(),
            profile_fields: BTreeMap::new(),
        }
    }

    fn delivery<'a>(url: &'a str, body: &'a str) -> Delivery<'a> {
        Delivery { method: "POST", url, headers: &[], body: body.as_bytes() }
    }

    /// A message with the envelope Salesforce sends (aspnet/WebHooks
    /// test/.../RequestBodies/Salesforce.xml) around the given notifications.
    fn message(org: &str, notifications: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k5e000000CaRkAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/59.0/00D5e000000KQ2e</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/59.0/00D5e000000KQ2e</PartnerUrl>
{notifications}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#
        )
    }

    fn notification(id: &str, kind: &str, fields: &str) -> String {
        format!(
            r#"   <Notification>
    <Id>{id}</Id>
    <sObject xsi:type="sf:{kind}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
{fields}
    </sObject>
   </Notification>"#
        )
    }

    fn normalize(body: &str) -> Result<Vec<Event>, SourceError> {
        source().normalize(&delivery(URL, body))
    }

    // Vectors: VENDORS.md §3.2 — ruby-toolbox salesforce_id, rubydoc
    // salesforce_id_formatter 1.2.0, packagist kawtharstudios/sf15to18,
    // sylvainv/pg-salesforce-id README, and the org id of Prismatic's example payload.
    #[test]
    fn fifteen_character_ids_get_their_checksum() {
        for (short, long) in [
            ("003G000001SUbc4", "003G000001SUbc4IAD"),
            ("70130000001tcyI", "70130000001tcyIAAQ"),
            ("001550V000WOQZi", "001550V000WOQZiACP"),
            ("0012800000CXn0k", "0012800000CXn0kAAD"),
            ("00D5e000000KQ2e", "00D5e000000KQ2eEAG"),
        ] {
            assert_eq!(id18(short).as_deref(), Some(long));
            assert_eq!(id18(long).as_deref(), Some(long));
        }
        assert_eq!(id18("003G000001SUbc"), None);
        assert_eq!(id18("003G000001SUbc4-AD"), None);
    }

    #[test]
    fn token_and_organization_decide() {
        let body = message(ORG, &notification("04l5e00000Gx7QzAAJ", "Lead", "<sf:Id>00Q5e000001abcdEAA</sf:Id>"));
        let src = source();
        assert_eq!(src.verify(&delivery(URL, &body), 0), Ok(()));
        // The 15-character org id in the message or the config is the same org.
        let short = message("00D5e000000KQ2e", &notification("04l5e00000Gx7QzAAJ", "Lead", "<sf:Id>00Q5e000001abcdEAA</sf:Id>"));
        assert_eq!(src.verify(&delivery(URL, &short), 0), Ok(()));
        let mut configured_short = source();
        configured_short.organization_id = "00D5e000000KQ2e".into();
        assert_eq!(configured_short.verify(&delivery(URL, &body), 0), Ok(()));
        // Another org with a valid token.
        let other = message("00D5e000000KQ2fEAG", "");
        assert!(matches!(src.verify(&delivery(URL, &other), 0), Err(SourceError::BadCredentials(r)) if r.contains("OrganizationId")));
        // Same letters, other case: another org (15-character ids are case-sensitive).
        let other_case = message("00D5E000000KQ2e", "");
        assert!(matches!(src.verify(&delivery(URL, &other_case), 0), Err(SourceError::BadCredentials(_))));
        // Missing and wrong tokens.
        let no_token = "https://attention.example.com/webhooks/salesforce";
        assert_eq!(
            src.verify(&delivery(no_token, &body), 0),
            Err(SourceError::BadCredentials("missing token query parameter".into()))
        );
        let wrong = "https://attention.example.com/webhooks/salesforce?token=s3cret-tokeN";
        assert_eq!(src.verify(&delivery(wrong, &body), 0), Err(SourceError::BadCredentials("wrong token".into())));
        // Percent-encoding in the URL is decoded; other parameters are ignored.
        let encoded = "https://x/webhooks/salesforce?a=1&token=s3cret%2Dtoken";
        assert_eq!(src.verify(&delivery(encoded, &body), 0), Ok(()));
        // No OrganizationId at all.
        let bare = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"/></soapenv:Body></soapenv:Envelope>"#;
        assert!(matches!(src.verify(&delivery(URL, bare), 0), Err(SourceError::BadCredentials(_))));
    }

    // aspnet/WebHooks test/Microsoft.AspNetCore.WebHooks.FunctionalTest/Resources/
    // RequestBodies/Salesforce.xml (15-character org id, two Contacts), verbatim.
    const ASPNET_CONTACTS: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>012345678901234</OrganizationId>
   <ActionId>04k1I000000bmsHQAQ</ActionId>
   <SessionId>00D1I000003qqqE!AQsAQOjGFnFJzGPA12yhUGL9Aii0N6lADjH2bNUBHRer5QjjTq3_RbIzlAqHBkfjp3vlHhlwByFY9MJQJlgz_7YaGJZzRF3t</SessionId>
   <EnterpriseUrl>https://na73.salesforce.com/services/Soap/c/41.0/00D1I000003qqqE</EnterpriseUrl>
   <PartnerUrl>https://na73.salesforce.com/services/Soap/u/41.0/00D1I000003qqqE</PartnerUrl>
   <Notification>
    <Id>04l1I000000fztEQAQ</Id>
    <sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>0031I0000081tbPQAQ</sf:Id>
     <sf:CreatedDate>2017-12-11T21:49:24.000Z</sf:CreatedDate>
     <sf:FirstName>Jeraldine</sf:FirstName>
     <sf:LastName>Black</sf:LastName>
     <sf:Title>White</sf:Title>
    </sObject>
   </Notification>
   <Notification>
    <Id>04l1I000000fzt9QAA</Id>
    <sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>0031I0000081tb0QAA</sf:Id>
     <sf:CreatedDate>2017-12-11T21:44:55.000Z</sf:CreatedDate>
     <sf:Email>drb24@cornell.edu</sf:Email>
     <sf:FirstName>Doug</sf:FirstName>
     <sf:LastName>Bunting</sf:LastName>
     <sf:Title>Supreme Being</sf:Title>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#;

    #[test]
    fn the_aspnet_webhooks_fixture_verifies_and_reads() {
        let mut src = source();
        src.organization_id = "012345678901234".into();
        assert_eq!(src.verify(&delivery(URL, ASPNET_CONTACTS), 0), Ok(()));
        src.organization_id = "012345678901234AAA".into();
        assert_eq!(src.verify(&delivery(URL, ASPNET_CONTACTS), 0), Ok(()));
        let events = src.normalize(&delivery(URL, ASPNET_CONTACTS)).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].provider_id, "04l1I000000fzt9QAA");
        let EventBody::Profile(profile) = &events[1].body else { panic!("{events:?}") };
        assert_eq!(
            profile.who,
            vec![Identity::crm("salesforce", "0031I0000081tb0QAA"), Identity::email("drb24@cornell.edu")]
        );
        assert_eq!(profile.fields["first_name"], "Doug");
        assert_eq!(profile.fields["last_name"], "Bunting");
        assert_eq!(profile.fields["title"], "Supreme Being");
        assert_eq!(profile.occurred_at, 1_513_028_695_000);
        assert_eq!(profile.account, None);
    }

    // aspnet/WebHooks test/Microsoft.AspNet.WebHooks.Receivers.Salesforce.Test/Messages/
    // OutboundMessage1.xml: a Lead (first notification; type renamed from `sf:Lead1`, and
    // the fixture's UTF-8 byte-order mark kept).
    const ASPNET_LEAD: &str = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">
  <soapenv:Body>
    <notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">
      <OrganizationId>0123456789ABCDENNN</OrganizationId>
      <ActionId>05h370200108OsUAAU</ActionId>
      <SessionId>0123456789ABCDE!BSGSRAzG9lPxyKRPjJ3.sUQ7y0lp2hfgwX.7rEL5rIQeoYuMfw5qZNrGlNz68OF9na3K5m2amoscF3pdHU5Zep_FhBcAK1RY</SessionId>
      <EnterpriseUrl>https://na31.salesforce.com/services/Soap/c/34.0/0123456789ABCDE</EnterpriseUrl>
      <PartnerUrl>https://na31.salesforce.com/services/Soap/u/34.0/0123456789ABCDE</PartnerUrl>
      <Notification>
        <Id>04l37000000L0E5AAK</Id>
        <sObject xsi:type=\"sf:Lead\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">
          <sf:Id>0123456789ABCDEEAE</sf:Id>
          <sf:City>Redmond</sf:City>
          <sf:CleanStatus>Pending</sf:CleanStatus>
          <sf:Company>Microsoft</sf:Company>
          <sf:Country>USA</sf:Country>
          <sf:CreatedById>1123456789ABCDEAAW</sf:CreatedById>
          <sf:CreatedDate>2015-08-14T18:27:02.000Z</sf:CreatedDate>
          <sf:Description>Some notes...</sf:Description>
          <sf:FirstName>Henrik</sf:FirstName>
          <sf:Industry>Technology</sf:Industry>
          <sf:IsConverted>false</sf:IsConverted>
          <sf:IsDeleted>false</sf:IsDeleted>
          <sf:IsUnreadByOwner>false</sf:IsUnreadByOwner>
          <sf:LastModifiedById>1123456789ABCDEAAW</sf:LastModifiedById>
          <sf:LastModifiedDate>2015-08-14T18:27:02.000Z</sf:LastModifiedDate>
          <sf:LastName>Nielsen</sf:LastName>
          <sf:LastReferencedDate>2015-08-14T18:27:02.000Z</sf:LastReferencedDate>
          <sf:LastViewedDate>2015-08-14T18:27:02.000Z</sf:LastViewedDate>
          <sf:LeadSource>Web</sf:LeadSource>
          <sf:OwnerId>1123456789ABCDEAAW</sf:OwnerId>
          <sf:PhotoUrl>/services/images/photo/0123456789ABCDEEAE</sf:PhotoUrl>
          <sf:PostalCode>98052</sf:PostalCode>
          <sf:Salutation>Mr.</sf:Salutation>
          <sf:State>WA</sf:State>
          <sf:Status>Open - Not Contacted</sf:Status>
          <sf:Street>One Microsoft Way</sf:Street>
          <sf:SystemModstamp>2015-08-14T18:27:02.000Z</sf:SystemModstamp>
          <sf:Title>Architect</sf:Title>
        </sObject>
      </Notification>
    </notifications>
  </soapenv:Body>
</soapenv:Envelope>";

    #[test]
    fn a_lead_becomes_a_profile_with_every_identity() {
        let events = normalize(ASPNET_LEAD).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].provider_id, "04l37000000L0E5AAK");
        let EventBody::Profile(profile) = &events[0].body else { panic!() };
        assert_eq!(profile.who, vec![Identity::crm("salesforce", "0123456789ABCDEEAE")]);
        let expected: BTreeMap<String, String> = [
            ("city", "Redmond"),
            ("company", "Microsoft"),
            ("country", "USA"),
            ("first_name", "Henrik"),
            ("industry", "Technology"),
            ("last_name", "Nielsen"),
            ("lead_source", "Web"),
            ("status", "Open - Not Contacted"),
            ("title", "Architect"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(profile.fields, expected);
        assert_eq!(profile.occurred_at, 1_439_576_822_000);
        // The fixture's org id (0123456789ABCDENNN) is not ours.
        assert!(matches!(source().verify(&delivery(URL, ASPNET_LEAD), 0), Err(SourceError::BadCredentials(_))));
    }

    #[test]
    fn a_contact_with_email_account_and_15_character_ids() {
        let body = message(ORG, &notification("04l000000000001AAA", "Contact", r#"
     <sf:Id>003G000001SUbc4</sf:Id>
     <sf:AccountId>0012800000CXn0k</sf:AccountId>
     <sf:Email>Ann@X.com</sf:Email>
     <sf:MailingCity>Lyon</sf:MailingCity>
     <sf:MailingCountry>France</sf:MailingCountry>
     <sf:Phone xsi:nil="true"/>
     <sf:NumberOfEmployees>120</sf:NumberOfEmployees>
     <sf:LastModifiedDate>2024-03-01T10:00:00.000Z</sf:LastModifiedDate>"#));
        let events = normalize(&body).unwrap();
        let EventBody::Profile(profile) = &events[0].body else { panic!() };
        assert_eq!(
            profile.who,
            vec![Identity::crm("salesforce", "003G000001SUbc4IAD"), Identity::email("ann@x.com")]
        );
        assert_eq!(profile.account.as_deref(), Some("salesforce:0012800000CXn0kAAD"));
        assert_eq!(profile.fields["city"], "Lyon");
        assert_eq!(profile.fields["country"], "France");
        assert_eq!(profile.fields["employees"], "120");
        assert!(!profile.fields.contains_key("phone"));
    }

    #[test]
    fn profile_fields_are_configurable() {
        let mut src = source();
        src.profile_fields.insert("Account_Name__c".into(), "company".into());
        src.profile_fields.insert("Status".into(), "none".into());
        let body = message(ORG, &notification("04l000000000002AAA", "Contact", r#"
     <sf:Id>003G000001SUbc4IAD</sf:Id>
     <sf:Account_Name__c>Acme &amp; Co</sf:Account_Name__c>
     <sf:Status>Working</sf:Status>
     <sf:CreatedDate>2024-03-01T10:00:00Z</sf:CreatedDate>"#));
        let events = src.normalize(&delivery(URL, &body)).unwrap();
        let EventBody::Profile(profile) = &events[0].body else { panic!() };
        assert_eq!(profile.fields.get("company").map(String::as_str), Some("Acme & Co"));
        assert!(!profile.fields.contains_key("status"));
    }

    #[test]
    fn a_converted_lead_names_its_contact_and_account() {
        let body = message(ORG, &notification("04l000000000003AAA", "Lead", r#"
     <sf:Id>00Q5e000001abcdEAA</sf:Id>
     <sf:ConvertedContactId>003G000001SUbc4IAD</sf:ConvertedContactId>
     <sf:ConvertedAccountId>0012800000CXn0kAAD</sf:ConvertedAccountId>
     <sf:IsConverted>true</sf:IsConverted>
     <sf:LastModifiedDate>2024-03-01T10:00:00Z</sf:LastModifiedDate>"#));
        let EventBody::Profile(profile) = &normalize(&body).unwrap()[0].body else { panic!() };
        assert_eq!(
            profile.who,
            vec![Identity::crm("salesforce", "00Q5e000001abcdEAA"), Identity::crm("salesforce", "003G000001SUbc4IAD")]
        );
        assert_eq!(profile.account.as_deref(), Some("salesforce:0012800000CXn0kAAD"));
    }

    fn task(fields: &str) -> Result<Option<Touch>, SourceError> {
        task_with(&source(), fields)
    }

    fn task_with(src: &SalesforceSource, fields: &str) -> Result<Option<Touch>, SourceError> {
        let body = message(ORG, &notification("04l000000000010AAA", "Task", fields));
        let events = src.normalize(&delivery(URL, &body))?;
        Ok(events.into_iter().next().map(|event| match event.body {
            EventBody::Touch(touch) => touch,
            other => panic!("{other:?}"),
        }))
    }

    #[test]
    fn tasks_become_touches_by_type_then_subject() {
        let touch = task(r#"<sf:Id>00T5e00000AbCdEEAV</sf:Id>
     <sf:WhoId>003G000001SUbc4</sf:WhoId>
     <sf:AccountId>0012800000CXn0kAAD</sf:AccountId>
     <sf:Type>Call</sf:Type>
     <sf:Subject>Call: pricing questions</sf:Subject>
     <sf:IsClosed>true</sf:IsClosed>
     <sf:ActivityDate>2024-03-04</sf:ActivityDate>
     <sf:CompletedDateTime>2024-03-04T15:30:00.000Z</sf:CompletedDateTime>
     <sf:CreatedDate>2024-03-01T09:00:00.000Z</sf:CreatedDate>"#)
        .unwrap()
        .unwrap();
        assert_eq!(touch.kind, TouchKind::Call);
        assert_eq!(touch.who, vec![Identity::crm("salesforce", "003G000001SUbc4IAD")]);
        assert_eq!(touch.account.as_deref(), Some("salesforce:0012800000CXn0kAAD"));
        assert_eq!(touch.occurred_at, 1_709_566_200_000);
        assert_eq!(
            touch.properties,
            Some(serde_json::json!({"subject": "Call: pricing questions", "type": "Call"}))
        );

        // No Type: the subject prefix decides; the ActivityDate is the time.
        let touch = task(r#"<sf:Id>00T5e00000AbCdEEAV</sf:Id>
     <sf:WhoId>00Q5e000001abcdEAA</sf:WhoId>
     <sf:Subject>Email: Re: your proposal</sf:Subject>
     <sf:ActivityDate>2024-03-04</sf:ActivityDate>
     <sf:CreatedDate>2024-03-05T09:00:00.000Z</sf:CreatedDate>"#)
        .unwrap()
        .unwrap();
        assert_eq!(touch.kind, TouchKind::EmailReply);
        assert_eq!(touch.occurred_at, 1_709_510_400_000);

        // TaskSubtype works like Type; a meeting; only CreatedDate.
        let touch = task(r#"<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId>
     <sf:TaskSubtype>Email</sf:TaskSubtype><sf:CreatedDate>2024-03-05T09:00:00Z</sf:CreatedDate>"#)
        .unwrap()
        .unwrap();
        assert_eq!(touch.kind, TouchKind::EmailReply);
        let touch = task(r#"<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId>
     <sf:Type>meeting</sf:Type><sf:LastModifiedDate>2024-03-05T09:00:00Z</sf:LastModifiedDate>"#)
        .unwrap()
        .unwrap();
        assert_eq!(touch.kind, TouchKind::MeetingAttended);
        assert_eq!(touch.occurred_at, 1_709_629_200_000);
    }

    #[test]
    fn tasks_that_are_not_attention_are_skipped() {
        // Open task, no WhoId, unmapped type and subject.
        for fields in [
            "<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId><sf:Type>Call</sf:Type><sf:IsClosed>false</sf:IsClosed><sf:CreatedDate>2024-03-05T09:00:00Z</sf:CreatedDate>",
            "<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:Type>Call</sf:Type><sf:CreatedDate>2024-03-05T09:00:00Z</sf:CreatedDate>",
            "<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId><sf:Type>Other</sf:Type><sf:Subject>Send quote</sf:Subject><sf:CreatedDate>2024-03-05T09:00:00Z</sf:CreatedDate>",
        ] {
            assert_eq!(task(fields).unwrap(), None, "{fields}");
        }
        // A type switched off does not fall back to the subject.
        let mut src = source();
        src.task_types.insert("call".into(), "none".into());
        src.task_subjects.insert("Demo".into(), "demo_request".into());
        let fields = "<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId><sf:Type>Call</sf:Type><sf:Subject>Call</sf:Subject><sf:CreatedDate>2024-03-05T09:00:00Z</sf:CreatedDate>";
        assert_eq!(task_with(&src, fields).unwrap(), None);
        let fields = "<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId><sf:Subject>demo: product tour</sf:Subject><sf:CreatedDate>2024-03-05T09:00:00Z</sf:CreatedDate>";
        assert_eq!(task_with(&src, fields).unwrap().unwrap().kind, TouchKind::DemoRequest);
        // A task without any time cannot be placed.
        let error = task("<sf:Id>00T5e00000AbCdEEAV</sf:Id><sf:WhoId>00Q5e000001abcdEAA</sf:WhoId><sf:Type>Call</sf:Type>").unwrap_err();
        assert!(matches!(error, SourceError::Malformed(ref r) if r.contains("CompletedDateTime") && r.contains("04l000000000010AAA")), "{error:?}");
    }

    #[test]
    fn campaign_members_become_touches_by_status() {
        let body = message(
            ORG,
            &[
                notification("04l000000000020AAA", "CampaignMember", r#"<sf:Id>00v5e00000AbCdEAAV</sf:Id>
     <sf:CampaignId>70130000001tcyI</sf:CampaignId><sf:ContactId>003G000001SUbc4IAD</sf:ContactId>
     <sf:Email>ann@x.com</sf:Email><sf:Status>Attended</sf:Status>
     <sf:LastModifiedDate>2024-03-05T09:00:00Z</sf:LastModifiedDate>"#),
                notification("04l000000000021AAA", "CampaignMember", r#"<sf:Id>00v5e00000AbCeEAAV</sf:Id>
     <sf:LeadId>00Q5e000001abcdEAA</sf:LeadId><sf:Status>Registered</sf:Status>
     <sf:CreatedDate>2024-03-01T09:00:00Z</sf:CreatedDate>"#),
                notification("04l000000000022AAA", "CampaignMember", r#"<sf:Id>00v5e00000AbCfEAAV</sf:Id>
     <sf:LeadId>00Q5e000001abcdEAA</sf:LeadId><sf:Status>Sent</sf:Status>
     <sf:CreatedDate>2024-03-01T09:00:00Z</sf:CreatedDate>"#),
                notification("04l000000000023AAA", "CampaignMember", r#"<sf:Id>00v5e00000AbCgEAAV</sf:Id>
     <sf:LeadId>00Q5e000001abcdEAA</sf:LeadId><sf:Status>Responded</sf:Status>
     <sf:CreatedDate>2024-03-01T09:00:00Z</sf:CreatedDate>"#),
            ]
            .join("\n"),
        );
        let events = normalize(&body).unwrap();
        assert_eq!(events.len(), 3, "Sent is not attention");
        let EventBody::Touch(attended) = &events[0].body else { panic!() };
        assert_eq!(attended.kind, TouchKind::WebinarAttended);
        assert_eq!(
            attended.who,
            vec![Identity::crm("salesforce", "003G000001SUbc4IAD"), Identity::email("ann@x.com")]
        );
        assert_eq!(
            attended.properties,
            Some(serde_json::json!({"status": "Attended", "campaign": "salesforce:70130000001tcyIAAQ"}))
        );
        assert_eq!(attended.occurred_at, 1_709_629_200_000);
        let EventBody::Touch(registered) = &events[1].body else { panic!() };
        assert_eq!(registered.kind, TouchKind::WebinarRegistered);
        assert_eq!(events[1].provider_id, "04l000000000021AAA");
        let EventBody::Touch(responded) = &events[2].body else { panic!() };
        assert_eq!(responded.kind, TouchKind::FormSubmit);
    }

    fn outcome(fields: &str) -> Outcome {
        let body = message(ORG, &notification("04l000000000030AAA", "Opportunity", fields));
        match normalize(&body).unwrap().remove(0).body {
            EventBody::Outcome(outcome) => outcome,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn opportunities_become_outcomes() {
        let won = outcome(r#"<sf:Id>0065e00000AbCdEAAV</sf:Id><sf:AccountId>0012800000CXn0k</sf:AccountId>
     <sf:Amount>15000.0</sf:Amount><sf:CurrencyIsoCode>EUR</sf:CurrencyIsoCode>
     <sf:IsClosed>true</sf:IsClosed><sf:IsWon>true</sf:IsWon><sf:StageName>Closed Won</sf:StageName>
     <sf:CreatedDate>2024-01-01T09:00:00Z</sf:CreatedDate><sf:LastModifiedDate>2024-03-05T09:00:00Z</sf:LastModifiedDate>"#);
        assert_eq!(
            won,
            Outcome {
                who: vec![],
                account: Some("salesforce:0012800000CXn0kAAD".into()),
                kind: OutcomeKind::Won,
                opportunity: Some("salesforce:0065e00000AbCdEAAV".into()),
                stage: Some("Closed Won".into()),
                amount: Some(15000.0),
                currency: Some("EUR".into()),
                occurred_at: 1_709_629_200_000,
            }
        );
        let lost = outcome(r#"<sf:Id>0065e00000AbCdEAAV</sf:Id><sf:ContactId>003G000001SUbc4</sf:ContactId>
     <sf:IsClosed>true</sf:IsClosed><sf:IsWon>false</sf:IsWon><sf:StageName>Closed Lost</sf:StageName>
     <sf:LastModifiedDate>2024-03-05T09:00:00Z</sf:LastModifiedDate>"#);
        assert_eq!(lost.kind, OutcomeKind::Lost);
        assert_eq!(lost.who, vec![Identity::crm("salesforce", "003G000001SUbc4IAD")]);
        assert_eq!(lost.amount, None);
        let created = outcome(r#"<sf:Id>0065e00000AbCdEAAV</sf:Id><sf:StageName>Prospecting</sf:StageName>
     <sf:IsClosed>false</sf:IsClosed><sf:IsWon>false</sf:IsWon>
     <sf:CreatedDate>2024-03-05T09:00:00.000Z</sf:CreatedDate><sf:LastModifiedDate>2024-03-05T09:00:00.000Z</sf:LastModifiedDate>"#);
        assert_eq!(created.kind, OutcomeKind::OpportunityCreated);
        let moved = outcome(r#"<sf:Id>0065e00000AbCdEAAV</sf:Id><sf:StageName>Negotiation/Review</sf:StageName>
     <sf:CreatedDate>2024-03-01T09:00:00Z</sf:CreatedDate><sf:LastModifiedDate>2024-03-05T09:00:00Z</sf:LastModifiedDate>"#);
        assert_eq!(moved.kind, OutcomeKind::StageChanged);
        assert_eq!(moved.stage.as_deref(), Some("Negotiation/Review"));
    }

    #[test]
    fn unknown_objects_are_acknowledged_without_events() {
        // The mikesimonds.com example of a custom object notification.
        let body = message(ORG, &notification("04lR0000000CcIFIA0", "Design_Registration__c", r#"
     <sf:Id>a06R00000009QZaIAM</sf:Id>
     <sf:Name>URT</sf:Name>"#));
        assert_eq!(normalize(&body).unwrap(), vec![]);
    }

    #[test]
    fn malformed_messages_say_why() {
        let lead = |id: &str, fields: &str| message(ORG, &notification(id, "Lead", fields));
        for (body, needle) in [
            ("not xml at all".to_string(), "SOAP Envelope"),
            ("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><notifications>".into(), "never closed"),
            ("<a:Envelope xmlns:a=\"x\"><a:Body></a:Body></a:Envelope>".into(), "notifications"),
            ("<Envelope><Body><notifications></Body></Envelope>".into(), "not well-formed"),
            (lead("", "<sf:Id>00Q5e000001abcdEAA</sf:Id>"), "missing Id"),
            (lead("04l000000000040AAA", "<sf:Name>x</sf:Name>"), "no Id"),
            (lead("04l000000000041AAA", "<sf:Id>not-an-id</sf:Id>"), "not a Salesforce id"),
            (lead("04l000000000042AAA", "<sf:Id>00Q5e000001abcdEAA</sf:Id><sf:LastModifiedDate>yesterday</sf:LastModifiedDate>"), "LastModifiedDate"),
            (lead("04l000000000043AAA", "<sf:Id>00Q5e000001abcdEAA</sf:Id>"), "no time"),
            (message(ORG, "<Notification><Id>04l000000000044AAA</Id></Notification>"), "missing sObject"),
            (message(ORG, "<Notification><Id>04l000000000045AAA</Id><sObject><sf:Id xmlns:sf=\"u\">00Q5e000001abcdEAA</sf:Id></sObject></Notification>"), "xsi:type"),
            (message(ORG, &notification("04l000000000046AAA", "Opportunity", "<sf:Id>0065e00000AbCdEAAV</sf:Id><sf:Amount>lots</sf:Amount><sf:CreatedDate>2024-03-01T09:00:00Z</sf:CreatedDate>")), "Amount"),
            (format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{}", message(ORG, "")), "DOCTYPE"),
        ] {
            match normalize(&body) {
                Err(SourceError::Malformed(reason)) => assert!(reason.contains(needle), "{body}: {reason}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        // With the right token, unreadable XML is Malformed in verify too.
        assert!(matches!(source().verify(&delivery(URL, "<oops"), 0), Err(SourceError::Malformed(_))));
        // With a wrong token it is refused before it is read.
        let wrong = "https://x/webhooks/salesforce?token=nope";
        assert!(matches!(source().verify(&delivery(wrong, "<oops"), 0), Err(SourceError::BadCredentials(_))));
    }

    #[test]
    fn other_prefixes_and_cdata_read_the_same() {
        let body = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><S:Header/><S:Body><o:notifications xmlns:o="http://soap.sforce.com/2005/09/outbound"><o:OrganizationId>00D5e000000KQ2eEAG</o:OrganizationId><o:Notification><o:Id>04l000000000050AAA</o:Id><o:sObject i:type="ens:Contact" xmlns:ens="urn:sobject.enterprise.soap.sforce.com"><ens:Id>003G000001SUbc4IAD</ens:Id><ens:Title><![CDATA[VP <Sales>]]></ens:Title><ens:CreatedDate>2024-03-01T09:00:00Z</ens:CreatedDate></o:sObject></o:Notification></o:notifications></S:Body></S:Envelope>"#;
        assert_eq!(source().verify(&delivery(URL, body), 0), Ok(()));
        let EventBody::Profile(profile) = &normalize(body).unwrap()[0].body else { panic!() };
        assert_eq!(profile.fields["title"], "VP <Sales>");
    }

    #[test]
    fn the_ack_and_the_fault_are_soap() {
        let ack = source().acknowledgement().unwrap();
        assert_eq!(ack.status, 200);
        assert_eq!(ack.content_type, "text/xml; charset=utf-8");
        assert_eq!(
            String::from_utf8(ack.body).unwrap(),
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#
        );
        let fault = source().refusal(&SourceError::malformed("Amount `<1>` & more")).unwrap();
        assert_eq!(fault.status, 400);
        let text = String::from_utf8(fault.body).unwrap();
        assert!(text.contains("<soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>malformed payload: Amount `&lt;1&gt;` &amp; more</faultstring></soapenv:Fault>"), "{text}");
        assert_eq!(source().refusal(&SourceError::BadCredentials("wrong token".into())).unwrap().status, 401);
    }

    #[test]
    fn the_tables_read_from_a_config_file() {
        let text = r#"
[sources.sf]
kind = "salesforce"
organization_id = "00D5e000000KQ2e"
token = "t"

[sources.sf.task_types]
Email = "none"
Demo = "demo_request"

[sources.sf.campaign_member_statuses]
"Visited Booth" = "meeting_attended"

[sources.sf.profile_fields]
Account_Name__c = "company"
"#;
        let config = crate::config::Config::from_toml(text).unwrap();
        let crate::sources::SourceConfig::Salesforce(src) = &config.sources["sf"] else { panic!() };
        assert_eq!(src.task_type("Email"), Some(None));
        assert_eq!(src.task_type("demo"), Some(Some(TouchKind::DemoRequest)));
        assert_eq!(src.task_type("Call"), Some(Some(TouchKind::Call)));
        assert_eq!(src.campaign_status("visited booth"), Some(TouchKind::MeetingAttended));
        assert!(src.profile_table().iter().any(|(f, n)| f.eq_ignore_ascii_case("Account_Name__c") && n == "company"));
        let bad = text.replace("\"meeting_attended\"", "\"booth\"");
        let error = crate::config::Config::from_toml(&bad).unwrap_err().to_string();
        assert!(error.contains("campaign_member_statuses.") && error.contains("webinar_attended"), "{error}");
    }

    #[test]
    fn validation_names_the_key() {
        assert_eq!(source().validate(), Ok(()));
        let mut src = source();
        src.organization_id = "00D5e000000KQ2eEAA".into();
        assert_eq!(src.validate().unwrap_err().0, "organization_id");
        src.organization_id = "00D5e".into();
        assert_eq!(src.validate().unwrap_err().0, "organization_id");
        let mut src = source();
        src.token = Secret::new("");
        assert_eq!(src.validate().unwrap_err().0, "token");
        let mut src = source();
        src.campaign_member_statuses.insert("Attended".into(), "event".into());
        let (key, reason) = src.validate().unwrap_err();
        assert_eq!(key, "campaign_member_statuses.Attended");
        assert!(reason.contains("webinar_attended") && reason.contains("none"), "{reason}");
        let mut src = source();
        src.task_types.insert("Call".into(), "phone".into());
        assert_eq!(src.validate().unwrap_err().0, "task_types.Call");
        let mut src = source();
        src.task_subjects.insert("Demo".into(), "demo".into());
        assert_eq!(src.validate().unwrap_err().0, "task_subjects.Demo");
        let mut src = source();
        src.profile_fields.insert("Region__c".into(), " ".into());
        assert_eq!(src.validate().unwrap_err().0, "profile_fields.Region__c");
    }
}
