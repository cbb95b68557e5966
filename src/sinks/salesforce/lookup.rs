//! Which Salesforce record a contact is: the id it came with (`003…` Contact, `00Q…`
//! Lead), else the Contact, then the open Lead, that a SOQL query finds for its email.
//! Found records are remembered in memory; misses are asked again next time, since
//! the record may have been created meanwhile.

use super::api::Api;
use super::error::CallError;
use super::TargetObject;
use crate::model::Identity;
use reqwest::Method;
use serde::Deserialize;
use std::collections::HashMap;

/// Records remembered per sink; past this the memory is cleared and refilled.
const MAX_REMEMBERED: usize = 100_000;
/// Emails per SOQL query, and the longest query text: a GET's URL stays well under
/// Salesforce's 16,384-byte limit even when every character is escaped.
const EMAILS_PER_QUERY: usize = 100;
const MAX_QUERY_CHARS: usize = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Object {
    Contact,
    Lead,
    Account,
}

impl Object {
    pub fn as_str(self) -> &'static str {
        match self {
            Object::Contact => "Contact",
            Object::Lead => "Lead",
            Object::Account => "Account",
        }
    }

    /// The key prefix of this object's record ids.
    fn prefix(self) -> &'static str {
        match self {
            Object::Contact => "003",
            Object::Lead => "00Q",
            Object::Account => "001",
        }
    }

    pub fn of_id(id: &str) -> Option<Object> {
        [Object::Contact, Object::Lead, Object::Account]
            .into_iter()
            .find(|object| id.starts_with(object.prefix()) && (id.len() == 15 || id.len() == 18))
    }
}

/// One record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub object: Object,
    pub id: String,
}

/// How a contact can be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Known(Target),
    Email(String),
}

impl TargetObject {
    /// The objects a contact may be, in the order they are tried.
    pub fn objects(self) -> &'static [Object] {
        match self {
            TargetObject::Auto => &[Object::Contact, Object::Lead],
            TargetObject::Contact => &[Object::Contact],
            TargetObject::Lead => &[Object::Lead],
        }
    }

    /// A Salesforce id of an allowed object, a Contact before a Lead (a converted
    /// lead's contact is the record that lives on); else the email.
    pub fn address(self, identities: &[Identity]) -> Option<Address> {
        let ids: Vec<Target> = identities
            .iter()
            .filter_map(|identity| match identity {
                Identity::Crm { system, id } if system == "salesforce" => {
                    Object::of_id(id).map(|object| Target {
                        object,
                        id: id.clone(),
                    })
                }
                _ => None,
            })
            .collect();
        for object in self.objects() {
            if let Some(target) = ids.iter().find(|target| target.object == *object) {
                return Some(Address::Known(target.clone()));
            }
        }
        identities.iter().find_map(|identity| match identity {
            Identity::Email(address) => Some(Address::Email(address.clone())),
            _ => None,
        })
    }

    /// "no Contact or Lead with email x".
    pub fn missing(self, email: &str) -> String {
        let names: Vec<&str> = self
            .objects()
            .iter()
            .map(|object| object.as_str())
            .collect();
        format!("no {} with email {email}", names.join(" or "))
    }
}

/// A SOQL string literal: quotes and backslashes escaped, and the control characters
/// SOQL spells with a backslash.
pub fn soql_string(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        match c {
            '\'' => quoted.push_str("\\'"),
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

/// The queries that find `emails` among `object`'s records, newest first so the
/// record reps work on wins when several share an email. Converted leads cannot be
/// updated, so only open ones count.
pub fn queries(object: Object, emails: &[String]) -> Vec<String> {
    let head = format!("SELECT Id, Email FROM {} WHERE Email IN (", object.as_str());
    let tail = match object {
        Object::Lead => ") AND IsConverted = false ORDER BY LastModifiedDate DESC",
        _ => ") ORDER BY LastModifiedDate DESC",
    };
    let mut queries = Vec::new();
    let mut literals: Vec<String> = Vec::new();
    let mut length = 0;
    for email in emails {
        let literal = soql_string(email);
        if !literals.is_empty()
            && (literals.len() == EMAILS_PER_QUERY || length + literal.len() > MAX_QUERY_CHARS)
        {
            queries.push(format!("{head}{}{tail}", literals.join(", ")));
            literals.clear();
            length = 0;
        }
        length += literal.len() + 2;
        literals.push(literal);
    }
    if !literals.is_empty() {
        queries.push(format!("{head}{}{tail}", literals.join(", ")));
    }
    queries
}

#[derive(Deserialize)]
struct QueryResult {
    #[serde(default)]
    records: Vec<FoundRecord>,
    #[serde(rename = "nextRecordsUrl", default)]
    next_records_url: Option<String>,
}

#[derive(Deserialize)]
struct FoundRecord {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Email", default)]
    email: Option<String>,
}

/// Pages of one query a batch may follow; more would mean thousands of records
/// sharing a handful of emails.
const MAX_PAGES: usize = 5;

impl Api<'_> {
    /// The records of `emails` (lower case), from memory or by SOQL; an email found
    /// nowhere is absent from the answer.
    pub async fn find(
        &self,
        objects: &[Object],
        emails: &[String],
    ) -> Result<HashMap<String, Target>, CallError> {
        let mut found = HashMap::new();
        let mut wanted: Vec<String> = Vec::new();
        {
            let remembered = self.sink.crm.state.remembered();
            for email in emails {
                match remembered.get(email) {
                    Some(target) => {
                        found.insert(email.clone(), target.clone());
                    }
                    None if !wanted.contains(email) => wanted.push(email.clone()),
                    None => {}
                }
            }
        }
        for object in objects {
            if wanted.is_empty() {
                break;
            }
            for soql in queries(*object, &wanted) {
                let mut answer = self
                    .call(Method::GET, &self.data("/query"), &[("q", &soql)], None)
                    .await?;
                for _ in 0..MAX_PAGES {
                    let page: QueryResult =
                        serde_json::from_value(answer).map_err(|error| CallError::Unreadable {
                            what: self.data("/query"),
                            message: error.to_string(),
                        })?;
                    for record in page.records {
                        let Some(email) = record.email.map(|e| e.trim().to_ascii_lowercase())
                        else {
                            continue;
                        };
                        if Object::of_id(&record.id) == Some(*object) {
                            found.entry(email).or_insert(Target {
                                object: *object,
                                id: record.id,
                            });
                        }
                    }
                    let Some(next) = page.next_records_url else {
                        break;
                    };
                    answer = self.call(Method::GET, &next, &[], None).await?;
                }
            }
            wanted.retain(|email| !found.contains_key(email));
        }
        let mut remembered = self.sink.crm.state.remembered();
        if remembered.len() + found.len() > MAX_REMEMBERED {
            remembered.clear();
        }
        for (email, target) in &found {
            remembered.insert(email.clone(), target.clone());
        }
        Ok(found)
    }

    /// Forgets what was found for `email`, after Salesforce refused a write to it
    /// (deleted, merged, converted): the next attempt looks again.
    pub fn forget(&self, email: &str) {
        self.sink.crm.state.remembered().remove(email);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_in_an_email_cannot_end_the_literal() {
        assert_eq!(soql_string("o'brien@x.com"), r"'o\'brien@x.com'");
        assert_eq!(soql_string(r"a\'b@x.com"), r"'a\\\'b@x.com'");
        assert_eq!(soql_string("plain@x.com"), "'plain@x.com'");
    }

    #[test]
    fn emails_are_asked_in_batches_and_leads_only_when_open() {
        let emails: Vec<String> = (0..250).map(|i| format!("p{i}@x.com")).collect();
        let contact = queries(Object::Contact, &emails);
        assert_eq!(contact.len(), 3);
        assert_eq!(
            contact[2],
            format!(
                "SELECT Id, Email FROM Contact WHERE Email IN ({}) ORDER BY LastModifiedDate DESC",
                (200..250)
                    .map(|i| format!("'p{i}@x.com'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        );
        let lead = queries(Object::Lead, &emails[..1]);
        assert_eq!(
            lead,
            vec!["SELECT Id, Email FROM Lead WHERE Email IN ('p0@x.com') AND IsConverted = false ORDER BY LastModifiedDate DESC"]
        );
        let long: Vec<String> = (0..60)
            .map(|i| format!("{}{i}@x.com", "a".repeat(100)))
            .collect();
        let split = queries(Object::Contact, &long);
        assert!(
            split.len() > 1 && split.iter().all(|q| q.len() < MAX_QUERY_CHARS + 200),
            "{}",
            split.len()
        );
    }

    #[test]
    fn a_known_contact_id_wins_over_a_lead_id_and_an_email() {
        let converted = [
            Identity::crm("salesforce", "00Q5e00000Lead1EAB"),
            Identity::crm("salesforce", "003G000001SUbc4IAD"),
            Identity::email("ann@x.com"),
        ];
        assert_eq!(
            TargetObject::Auto.address(&converted),
            Some(Address::Known(Target {
                object: Object::Contact,
                id: "003G000001SUbc4IAD".into()
            }))
        );
        assert_eq!(
            TargetObject::Lead.address(&converted),
            Some(Address::Known(Target {
                object: Object::Lead,
                id: "00Q5e00000Lead1EAB".into()
            }))
        );
        // A Lead id is no use when only Contacts are written: the email is.
        assert_eq!(TargetObject::Contact.address(&converted[..1]), None);
        assert_eq!(
            TargetObject::Contact.address(&[converted[0].clone(), converted[2].clone()]),
            Some(Address::Email("ann@x.com".into()))
        );
        // Ids of other systems or objects are not records to write.
        assert_eq!(
            TargetObject::Auto.address(&[
                Identity::crm("hubspot", "0031234567890AB"),
                Identity::crm("salesforce", "0055e000001AbCdAAK"),
                Identity::Anonymous("v1".into()),
            ]),
            None
        );
    }

    #[test]
    fn the_missing_message_names_the_objects_looked_in() {
        assert_eq!(
            TargetObject::Auto.missing("x@y.z"),
            "no Contact or Lead with email x@y.z"
        );
        assert_eq!(
            TargetObject::Lead.missing("x@y.z"),
            "no Lead with email x@y.z"
        );
    }
}
