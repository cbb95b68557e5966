//! The vocabulary every other room speaks: what a platform told us, normalized.
//!
//! Sources turn webhook bytes into [`Event`]s; the pipeline applies them; scoring reads
//! [`Touch`]es. Nothing here does I/O.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds since the Unix epoch, UTC. Every time in the model uses it so that
/// scoring arithmetic is plain integers and floats.
pub type Millis = i64;

pub const MILLIS_PER_DAY: f64 = 86_400_000.0;

macro_rules! touch_kinds {
    ($($variant:ident => $name:literal, $label:literal, $plural:literal;)+) => {
        /// What kind of attention a touch is. The names are the public contract of the
        /// `standard` source's `kind` field and of every `[scoring]` table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum TouchKind { $($variant,)+ }

        impl TouchKind {
            pub const ALL: &'static [TouchKind] = &[$(TouchKind::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $(TouchKind::$variant => $name,)+ }
            }

            /// The words a rep reads in `attention_reasons`.
            pub fn label(self) -> &'static str {
                match self { $(TouchKind::$variant => $label,)+ }
            }

            pub fn plural(self) -> &'static str {
                match self { $(TouchKind::$variant => $plural,)+ }
            }

            pub fn parse(name: &str) -> Option<TouchKind> {
                match name { $($name => Some(TouchKind::$variant),)+ _ => None }
            }

            /// "a, b, c" for error messages that must list the valid choices.
            pub fn names() -> String {
                [$($name),+].join(", ")
            }
        }
    };
}

touch_kinds! {
    EmailOpen => "email_open", "email open", "email opens";
    EmailClick => "email_click", "email click", "email clicks";
    EmailReply => "email_reply", "email reply", "email replies";
    FormSubmit => "form_submit", "form submit", "form submits";
    SiteVisit => "site_visit", "site visit", "site visits";
    PageView => "page_view", "page view", "page views";
    PricingView => "pricing_view", "pricing page view", "pricing page views";
    ContentDownload => "content_download", "content download", "content downloads";
    WebinarRegistered => "webinar_registered", "webinar registration", "webinar registrations";
    WebinarAttended => "webinar_attended", "webinar attended", "webinars attended";
    MeetingBooked => "meeting_booked", "meeting booked", "meetings booked";
    MeetingAttended => "meeting_attended", "meeting attended", "meetings attended";
    Call => "call", "call", "calls";
    Chat => "chat", "chat", "chats";
    TrialSignup => "trial_signup", "trial signup", "trial signups";
    DemoRequest => "demo_request", "demo request", "demo requests";
    MeetingCanceled => "meeting_canceled", "meeting canceled", "meetings canceled";
    MeetingNoShow => "meeting_no_show", "meeting no-show", "meeting no-shows";
    Unsubscribe => "unsubscribe", "unsubscribe", "unsubscribes";
    HardBounce => "hard_bounce", "hard bounce", "hard bounces";
    SpamComplaint => "spam_complaint", "spam complaint", "spam complaints";
}

impl fmt::Display for TouchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One way of recognising a person. Its [`Identity::key`] is what users type in the
/// admin API and CLI: `someone@example.com`, `hubspot:123`, `anon:abc`.
///
/// In JSON it reads `{"type": "email", "value": "ann@example.com"}`; binary store
/// records (postcard, which cannot read a tag before knowing the variant) keep the
/// variant's position instead.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    Email(String),
    /// An id in a CRM or platform: `system` is e.g. `hubspot`.
    Crm {
        system: String,
        id: String,
    },
    Anonymous(String),
}

/// [`Identity`] as JSON has it.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
enum TaggedIdentity {
    Email(String),
    Crm { system: String, id: String },
    Anonymous(String),
}

/// [`Identity`] as binary formats have it.
#[derive(Serialize, Deserialize)]
enum PlainIdentity {
    Email(String),
    Crm { system: String, id: String },
    Anonymous(String),
}

macro_rules! identity_mirror {
    ($mirror:ident) => {
        impl From<&Identity> for $mirror {
            fn from(identity: &Identity) -> Self {
                match identity.clone() {
                    Identity::Email(address) => $mirror::Email(address),
                    Identity::Crm { system, id } => $mirror::Crm { system, id },
                    Identity::Anonymous(id) => $mirror::Anonymous(id),
                }
            }
        }

        impl From<$mirror> for Identity {
            fn from(mirror: $mirror) -> Self {
                match mirror {
                    $mirror::Email(address) => Identity::Email(address),
                    $mirror::Crm { system, id } => Identity::Crm { system, id },
                    $mirror::Anonymous(id) => Identity::Anonymous(id),
                }
            }
        }
    };
}

identity_mirror!(TaggedIdentity);
identity_mirror!(PlainIdentity);

impl Serialize for Identity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            TaggedIdentity::from(self).serialize(serializer)
        } else {
            PlainIdentity::from(self).serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Identity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            TaggedIdentity::deserialize(deserializer).map(Identity::from)
        } else {
            PlainIdentity::deserialize(deserializer).map(Identity::from)
        }
    }
}

/// Why a text cannot be someone's email address. Lengths are RFC 5321's (§4.5.3.1),
/// counted in bytes of UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("is empty")]
    Empty,
    #[error("has no `@`")]
    NoAt,
    #[error("has a control character")]
    ControlCharacter,
    #[error("has a space")]
    Space,
    #[error("has nothing before the `@`")]
    NoLocalPart,
    #[error("has nothing after the `@`")]
    NoDomain,
    #[error("has a local part of {0} bytes (at most {MAX_LOCAL_PART})")]
    LocalPartTooLong(usize),
    #[error("is {0} bytes long (at most {MAX_EMAIL})")]
    TooLong(usize),
    #[error("has a domain without a dot")]
    DomainWithoutDot,
    #[error("has a malformed domain")]
    BadDomain,
}

/// RFC 5321 §4.5.3.1.1: the local part is at most 64 octets.
pub const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets.
pub const MAX_EMAIL: usize = 254;
/// The one domain without a dot that is an address on a machine of its own.
pub const LOCAL_DOMAIN: &str = "localhost";
/// Ids in CRMs and platforms are short; anything longer is not one.
pub const MAX_ID: usize = 256;

/// Whether `address` (already trimmed) can be someone's email: an `@` between a local
/// part and a domain of dotted labels, no control characters or spaces, within RFC
/// 5321's lengths. The local part's syntax is left to the mail servers.
fn check_email(address: &str) -> Result<(), EmailError> {
    if address.is_empty() {
        return Err(EmailError::Empty);
    }
    if address.chars().any(char::is_control) {
        return Err(EmailError::ControlCharacter);
    }
    if address.chars().any(char::is_whitespace) {
        return Err(EmailError::Space);
    }
    let (local, domain) = address.rsplit_once('@').ok_or(EmailError::NoAt)?;
    if local.is_empty() {
        return Err(EmailError::NoLocalPart);
    }
    if domain.is_empty() {
        return Err(EmailError::NoDomain);
    }
    if local.len() > MAX_LOCAL_PART {
        return Err(EmailError::LocalPartTooLong(local.len()));
    }
    if address.len() > MAX_EMAIL {
        return Err(EmailError::TooLong(address.len()));
    }
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label
                .chars()
                .any(|c| "@[]()<>,;:\\\"!#$%&'*+/=?^`{|}~".contains(c))
    });
    if !labels_ok {
        return Err(EmailError::BadDomain);
    }
    if !domain.contains('.') && !domain.eq_ignore_ascii_case(LOCAL_DOMAIN) {
        return Err(EmailError::DomainWithoutDot);
    }
    Ok(())
}

impl Identity {
    /// Emails are compared case-insensitively everywhere, as every CRM does, in every
    /// script: `ÄNN@x.com` and `änn@x.com` are one person. For text a user typed; what
    /// a platform sends goes through [`Identity::checked_email`].
    pub fn email(address: &str) -> Identity {
        Identity::Email(address.trim().to_lowercase())
    }

    /// An email from a platform, refused when it cannot be anyone's address.
    pub fn checked_email(address: &str) -> Result<Identity, EmailError> {
        let address = address.trim();
        check_email(address)?;
        Ok(Identity::email(address))
    }

    /// Why this identity cannot name anyone, if it cannot: an address that is not one,
    /// or an id with control characters or of implausible length.
    pub fn problem(&self) -> Option<String> {
        let id = match self {
            Identity::Email(address) => {
                return check_email(address)
                    .err()
                    .map(|error| format!("the email address {error}"))
            }
            Identity::Crm { id, .. } | Identity::Anonymous(id) => id,
        };
        if id.trim().is_empty() {
            Some("the id is empty".into())
        } else if id.chars().any(char::is_control) {
            Some("the id has a control character".into())
        } else if id.len() > MAX_ID {
            Some(format!(
                "the id is {} bytes long (at most {MAX_ID})",
                id.len()
            ))
        } else {
            None
        }
    }

    pub fn crm(system: &str, id: impl Into<String>) -> Identity {
        Identity::Crm {
            system: system.to_string(),
            id: id.into(),
        }
    }

    pub fn key(&self) -> String {
        match self {
            Identity::Email(address) => format!("email:{address}"),
            Identity::Crm { system, id } => format!("{system}:{id}"),
            Identity::Anonymous(id) => format!("anon:{id}"),
        }
    }

    /// Reads what a user typed: a bare address is an email, `system:id` otherwise.
    pub fn parse_user_key(text: &str) -> Option<Identity> {
        let text = text.trim();
        if text.contains('@') && !text.starts_with("email:") {
            return Some(Identity::email(text));
        }
        let (system, id) = text.split_once(':')?;
        if id.is_empty() || system.is_empty() {
            return None;
        }
        Some(match system {
            "email" => Identity::email(id),
            "anon" => Identity::Anonymous(id.to_string()),
            _ => Identity::crm(system, id),
        })
    }

    /// Known people outrank anonymous visitors when two contacts merge.
    pub fn is_known(&self) -> bool {
        !matches!(self, Identity::Anonymous(_))
    }
}

/// A single engagement signal, as normalized by a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Touch {
    /// Everything the delivery told us about who this is; resolved to one contact.
    pub who: Vec<Identity>,
    pub kind: TouchKind,
    pub occurred_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<serde_json::Value>,
}

/// What one delivery means, after its source has normalized it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventBody {
    Touch(Touch),
    /// These identities are one person (a form fill ties an anonymous visitor to an
    /// email; a CRM tells us a contact's new address).
    Identify {
        who: Vec<Identity>,
    },
    /// A CRM merged records: everything known under `from` now belongs to `into`.
    Merge {
        into: Identity,
        from: Vec<Identity>,
    },
    /// A privacy deletion: forget the person entirely and never push them again.
    Erase {
        who: Identity,
    },
    /// Something happened in the pipeline of revenue (kept to learn from, not scored),
    /// or people and accounts were linked to an opportunity.
    Outcome(Outcome),
    /// Facts about the person (title, company, …) as a system of record states them.
    Profile(Profile),
}

/// What happened to an opportunity (deal).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    #[default]
    OpportunityCreated,
    StageChanged,
    Won,
    Lost,
    /// People or accounts were linked to the opportunity (a CRM association or
    /// contact role); nothing happened to the opportunity itself.
    Linked,
}

impl OutcomeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::OpportunityCreated => "opportunity_created",
            OutcomeKind::StageChanged => "stage_changed",
            OutcomeKind::Won => "won",
            OutcomeKind::Lost => "lost",
            OutcomeKind::Linked => "linked",
        }
    }

    /// The kinds a sender may state (`linked` comes from CRM associations).
    pub fn parse(name: &str) -> Option<OutcomeKind> {
        match name {
            "opportunity_created" => Some(OutcomeKind::OpportunityCreated),
            "stage_changed" => Some(OutcomeKind::StageChanged),
            "won" => Some(OutcomeKind::Won),
            "lost" => Some(OutcomeKind::Lost),
            _ => None,
        }
    }

    /// Whether the opportunity is closed by it.
    pub fn closes(self) -> bool {
        matches!(self, OutcomeKind::Won | OutcomeKind::Lost)
    }
}

/// A revenue event about its opportunity, and the people (`who`, `people`) and the
/// account involved in it; without an opportunity, about its contact, else account.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Outcome {
    /// One person, known by every identity given (resolved like a touch's `who`).
    #[serde(default)]
    pub who: Vec<Identity>,
    /// Further people involved, each a person of their own: the contacts a CRM
    /// associates with a deal, the emails an export lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Identity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub kind: OutcomeKind,
    /// The opportunity or deal id in its system, e.g. `salesforce:006…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opportunity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The people's role in the opportunity, as the CRM names it (a Salesforce
    /// contact role such as `Decision Maker`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Whether they are its primary contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    pub occurred_at: Millis,
}

/// Profile fields as one source states them at one time; newer values win per field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub who: Vec<Identity>,
    /// Field name (`title`, `company`, `industry`, `employees`, `country`, …) → value.
    pub fields: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub occurred_at: Millis,
}

/// An event plus the provider's id for it, which makes redelivery harmless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique within its source; the same provider event always gets the same id.
    pub provider_id: String,
    #[serde(flatten)]
    pub body: EventBody,
}

/// What a user may type to name a contact: an email, `system:id`, `anon:id`, `c_<n>`.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactKey {
    Id(u64),
    Identity(Identity),
}

impl ContactKey {
    pub fn parse(text: &str) -> Option<ContactKey> {
        if let Some(id) = text.strip_prefix("c_").and_then(|n| n.parse::<u64>().ok()) {
            return Some(ContactKey::Id(id));
        }
        Identity::parse_user_key(text).map(ContactKey::Identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_keys_read_as_a_user_means_them() {
        assert_eq!(
            Identity::parse_user_key("Ann@Example.COM"),
            Some(Identity::email("ann@example.com"))
        );
        assert_eq!(
            Identity::parse_user_key("hubspot:123"),
            Some(Identity::crm("hubspot", "123"))
        );
        assert_eq!(
            Identity::parse_user_key("anon:xyz"),
            Some(Identity::Anonymous("xyz".into()))
        );
        assert_eq!(Identity::parse_user_key("nonsense"), None);
        assert_eq!(Identity::email(" A@B.c ").key(), "email:a@b.c");
    }

    #[test]
    fn only_addresses_that_can_be_someones_are_emails() {
        for good in [
            "ann@example.com",
            " Ann.Lee+news@Mail.Example.co.uk ",
            "änn@bücher.de",
            "root@localhost",
            &format!("{}@example.com", "a".repeat(64)),
        ] {
            assert!(Identity::checked_email(good).is_ok(), "{good}");
        }
        let long_domain = format!("a@{}.com", vec!["b".repeat(62); 4].join("."));
        for (bad, why) in [
            ("", EmailError::Empty),
            ("@", EmailError::NoLocalPart),
            ("ann@", EmailError::NoDomain),
            ("@example.com", EmailError::NoLocalPart),
            ("ann.example.com", EmailError::NoAt),
            ("a@b", EmailError::DomainWithoutDot),
            (
                "ann@example.com\r\nBcc: x@y.z",
                EmailError::ControlCharacter,
            ),
            ("ann\0@example.com", EmailError::ControlCharacter),
            ("ann lee@example.com", EmailError::Space),
            ("ann@example..com", EmailError::BadDomain),
            ("ann@.example.com", EmailError::BadDomain),
            ("ann@exa<mple.com", EmailError::BadDomain),
            (
                &format!("{}@example.com", "a".repeat(10_000)),
                EmailError::LocalPartTooLong(10_000),
            ),
            (&long_domain, EmailError::TooLong(long_domain.len())),
        ] {
            assert_eq!(Identity::checked_email(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn emails_fold_case_in_every_script() {
        assert_eq!(
            Identity::checked_email("ÄNN@Example.COM"),
            Ok(Identity::email("änn@example.com"))
        );
        assert_eq!(Identity::email("ÄNN@X.DE").key(), "email:änn@x.de");
        assert_eq!(
            Identity::crm("hubspot", "5\u{0}1").problem().unwrap(),
            "the id has a control character"
        );
        assert!(Identity::Anonymous("v".repeat(MAX_ID + 1))
            .problem()
            .is_some());
        assert_eq!(Identity::crm("hubspot", "51").problem(), None);
    }

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for kind in TouchKind::ALL {
            assert_eq!(TouchKind::parse(kind.as_str()), Some(*kind));
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }
}
