//! What one notification's record means: a Lead or Contact is a profile, a Task or
//! CampaignMember a touch, an Opportunity an outcome, an OpportunityContactRole a
//! link between a person and an opportunity.

use super::message::SObject;
use super::{id18, SalesforceSource};
use crate::model::{EventBody, Identity, Millis, Outcome, OutcomeKind, Profile, Touch};
use crate::sources::delivery::SourceError;
use std::collections::BTreeMap;

/// Fields read for a record's time, in order of preference.
const RECORD_TIME: &[&str] = &["LastModifiedDate", "SystemModstamp", "CreatedDate"];
const TASK_TIME: &[&str] = &[
    "CompletedDateTime",
    "ActivityDate",
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
];

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
            Some(raw) => parse_time(raw).map(Some).ok_or_else(|| {
                self.malformed(format!("{field} `{raw}` is not a date or dateTime"))
            }),
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
        // The record's id names the person too: an unusable address is left out.
        self.text("Email")
            .and_then(|email| Identity::checked_email(email).ok())
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
    /// What one notification says, if it is anything we count.
    pub(super) fn event_body(
        &self,
        notification: &str,
        object: &SObject,
    ) -> Result<Option<EventBody>, SourceError> {
        let record = &Record {
            notification,
            object,
        };
        let id = record
            .id("Id")?
            .ok_or_else(|| record.malformed("the sObject has no Id".into()))?;
        Ok(match record.object.kind.as_str() {
            "Lead" | "Contact" => Some(self.profile(record, &id)?),
            "Task" => self.task(record)?,
            "CampaignMember" => self.campaign_member(record)?,
            "Opportunity" => Some(self.opportunity(record, &id)?),
            "OpportunityContactRole" => self.contact_role(record)?,
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
        let account = record.account(if lead {
            "ConvertedAccountId"
        } else {
            "AccountId"
        })?;
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
            .or_else(|| {
                record
                    .text("Subject")
                    .and_then(|subject| self.task_subject(subject))
            })
            .flatten();
        let Some(kind) = kind else {
            return Ok(None);
        };
        let mut properties = serde_json::Map::new();
        for (key, field) in [
            ("subject", "Subject"),
            ("type", "Type"),
            ("subtype", "TaskSubtype"),
        ] {
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

    /// A contact's role in an opportunity links the person to it (Decision Maker,
    /// Economic Buyer, …, and whether they are its primary contact).
    fn contact_role(&self, record: &Record<'_>) -> Result<Option<EventBody>, SourceError> {
        let (Some(contact), Some(opportunity)) =
            (record.crm("ContactId")?, record.id("OpportunityId")?)
        else {
            return Ok(None);
        };
        Ok(Some(EventBody::Outcome(Outcome {
            who: vec![contact],
            kind: OutcomeKind::Linked,
            opportunity: Some(format!("salesforce:{opportunity}")),
            role: record.text("Role").map(str::to_string),
            primary: record.flag("IsPrimary")?,
            occurred_at: record.time(RECORD_TIME)?,
            ..Outcome::default()
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
            ..Default::default()
        }))
    }
}
