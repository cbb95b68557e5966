//! What is kept on disk, tree by tree: the records and their encodings.

use super::StoreError;
use crate::fields::PushFields;
use crate::model::{Event, Identity, Millis, Outcome, TouchKind};
use crate::scoring::account::{Group, Member};
use crate::scoring::{Attention, Visible};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A person as attentiond knows them: every identity seen, and their attention.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Contact {
    pub id: u64,
    pub identities: Vec<Identity>,
    /// CRM ids merged away: no longer written to, still recognised in events.
    #[serde(default)]
    pub retired: Vec<Identity>,
    #[serde(default)]
    pub account: Option<String>,
    pub attention: Attention,
    pub touch_count: u64,
    pub created_at: Millis,
    /// What was last queued for the CRMs; the next push happens when this changes.
    #[serde(default)]
    pub visible: Option<Visible>,
    /// Profile fields, each with where and when it was stated.
    #[serde(default)]
    pub profile: BTreeMap<String, ProfileField>,
    /// The account whose buying group the person is counted in (see
    /// `scoring::account::account_key`); kept to move them when it changes.
    #[serde(default)]
    pub account_key: Option<String>,
    /// Qualification stage, when it was entered, and every change with its reason.
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub stage_changed_at: Option<Millis>,
    #[serde(default)]
    pub stage_history: Vec<StageChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageChange {
    pub from: Option<String>,
    pub to: String,
    pub at: Millis,
    pub reason: String,
}

/// A company as a buying group: the sums of its members and what was last pushed.
/// Each member's own part is a record of its own beside it, so that one member's
/// change reads and writes only that member and this.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub key: String,
    pub group: Group,
    pub visible: Option<AccountVisible>,
    /// The line its members' reasons carry ("4 people from acme.com engaged this
    /// week"), as last decided.
    pub member_line: Option<String>,
    /// When the line was last taken to every member, or first decided: a changed
    /// line reaches those who did nothing themselves at most once per
    /// `member_line_interval_secs`.
    pub line_pushed_at: Option<Millis>,
}

/// Account records begin with this byte, then [`Account`] in postcard; members' records
/// with [`MEMBER_FORMAT`], then [`Member`]. Accounts of earlier formats (1: JSON, every
/// member inside; 2: without the short memory's sums) are not read: the account
/// formula changed with each, so the store is rescored, which builds every account
/// afresh from its contacts. Members of format 1 (without their short memory) are
/// still read until then, with none.
pub const ACCOUNT_FORMAT: u8 = 3;
pub const MEMBER_FORMAT: u8 = 2;

impl Account {
    pub fn to_bytes(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_extend(self, vec![ACCOUNT_FORMAT])
    }

    /// `None` for anything but this format, a JSON account of before included.
    pub fn from_bytes(bytes: &[u8]) -> Option<Account> {
        match bytes.split_first()? {
            (&ACCOUNT_FORMAT, rest) => postcard::from_bytes(rest).ok(),
            _ => None,
        }
    }
}

pub fn member_to_bytes(member: &Member) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_extend(member, vec![MEMBER_FORMAT])
}

pub fn member_from_bytes(bytes: &[u8]) -> Option<Member> {
    match bytes.split_first()? {
        (&MEMBER_FORMAT, rest) => postcard::from_bytes(rest).ok(),
        (1, rest) => postcard::from_bytes::<MemberV1>(rest)
            .ok()
            .map(MemberV1::into_member),
        _ => None,
    }
}

/// A member as format 1 wrote them: no short memory.
#[derive(Deserialize)]
struct MemberV1 {
    id: u64,
    as_of: Millis,
    raw: f64,
    fast: f64,
    slow: f64,
    last_touch_at: Option<Millis>,
    engaged_at: Option<Millis>,
    title: Option<String>,
    company: Option<String>,
}

impl MemberV1 {
    fn into_member(self) -> Member {
        Member {
            id: self.id,
            as_of: self.as_of,
            raw: self.raw,
            fast: self.fast,
            slow: self.slow,
            last_touch_at: self.last_touch_at,
            engaged_at: self.engaged_at,
            title: self.title,
            company: self.company,
            short: 0.0,
        }
    }
}

/// The account fields a rep sees; pushed when they change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountVisible {
    pub score: u8,
    pub trend: crate::scoring::Trend,
    pub people_engaged: usize,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileField {
    pub value: String,
    pub source: String,
    pub at: Millis,
}

impl Contact {
    /// Profile field → value, as scoring reads it.
    pub fn profile_values(&self) -> BTreeMap<String, String> {
        self.profile
            .iter()
            .map(|(name, field)| (name.clone(), field.value.clone()))
            .collect()
    }

    /// Takes each field unless a newer value is already known.
    pub fn merge_profile(&mut self, fields: impl IntoIterator<Item = (String, ProfileField)>) {
        for (name, field) in fields {
            match self.profile.get(&name) {
                Some(known) if known.at > field.at => {}
                _ => {
                    self.profile.insert(name, field);
                }
            }
        }
    }
}

/// Contact records begin with this byte, then the fields of [`Contact`] in
/// [postcard](https://postcard.jamesmunns.com/wire-format) encoding, in the order
/// they are declared. A rescore reads and writes every contact, and this takes a
/// fraction of the time and a third of the space JSON did. Records of format 1
/// (before attention had a short memory, see `contact_formats`) and records stored as JSON
/// (they begin with `{`) are still read, and rewritten in this format when the
/// contact next changes.
///
/// Postcard keeps no field names and writes enum variants by position, so the
/// layout is fixed by the declarations: a change to `Contact`, `Attention`,
/// `KindStats`, `Visible`, `ProfileField`, `StageChange`, `Identity`, `Trend`
/// or the order of `TouchKind` needs a new format byte and a reader for this one.
/// `contact_record_layout_is_fixed` (in `contact_formats`, which reads every format)
/// guards it.
pub const CONTACT_FORMAT: u8 = 2;

impl Contact {
    pub fn to_bytes(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_extend(self, vec![CONTACT_FORMAT])
    }
}

/// One revenue event in the outcome log. Who it concerns is the key, so `who` is
/// stored empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredOutcome {
    pub id: String,
    pub source: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Contact {
    pub fn new(id: u64, created_at: Millis) -> Contact {
        Contact {
            id,
            identities: Vec::new(),
            retired: Vec::new(),
            account: None,
            attention: Attention::default(),
            touch_count: 0,
            created_at,
            visible: None,
            profile: BTreeMap::new(),
            account_key: None,
            stage: None,
            stage_changed_at: None,
            stage_history: Vec::new(),
        }
    }

    /// Public name of a contact: stable, opaque, short.
    pub fn public_id(id: u64) -> String {
        format!("c_{id}")
    }

    pub fn add_identity(&mut self, identity: Identity) {
        if !self.identities.contains(&identity) {
            self.identities.push(identity);
            self.identities.sort();
        }
    }

    pub fn crm_id(&self, system: &str) -> Option<&str> {
        self.identities.iter().find_map(|identity| match identity {
            Identity::Crm { system: s, id } if s == system => Some(id.as_str()),
            _ => None,
        })
    }

    pub fn email(&self) -> Option<&str> {
        self.identities.iter().find_map(|identity| match identity {
            Identity::Email(address) => Some(address.as_str()),
            _ => None,
        })
    }
}

/// One touch in a contact's log, the source of truth for rescoring.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredTouch {
    pub id: String,
    pub kind: TouchKind,
    pub occurred_at: Millis,
    pub source: String,
    /// The weight it was counted with (0 when a cap or a noise rule held it back).
    pub weight: f64,
    /// Why it counted less than its kind's weight, e.g. `machine open (Apple Mail
    /// Privacy Protection)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<serde_json::Value>,
}

/// Touch records begin with this byte, then [`TouchOut`] in postcard; records
/// from earlier versions are JSON and still read. A rescore reads the whole log,
/// and a binary touch is a third of the size and quick to read. Like contacts,
/// the layout is fixed by the declarations (`touch_record_layout_is_fixed`).
pub const TOUCH_FORMAT: u8 = 1;

/// A touch as written: postcard cannot read a free-form value, so the properties
/// are kept as JSON text.
#[derive(Serialize)]
struct TouchOut<'a> {
    id: &'a str,
    kind: TouchKind,
    occurred_at: Millis,
    source: &'a str,
    weight: f64,
    notes: &'a [String],
    properties: Option<String>,
}

/// [`TouchOut`] as read back.
#[derive(Deserialize)]
struct TouchIn {
    id: String,
    kind: TouchKind,
    occurred_at: Millis,
    source: String,
    weight: f64,
    notes: Vec<String>,
    properties: Option<String>,
}

impl StoredTouch {
    pub fn to_bytes(&self) -> Result<Vec<u8>, StoreError> {
        let properties = match &self.properties {
            Some(value) => Some(serde_json::to_string(value)?),
            None => None,
        };
        let record = TouchOut {
            id: &self.id,
            kind: self.kind,
            occurred_at: self.occurred_at,
            source: &self.source,
            weight: self.weight,
            notes: &self.notes,
            properties,
        };
        Ok(postcard::to_extend(&record, vec![TOUCH_FORMAT])?)
    }

    /// `None` for bytes that are neither format: a corrupt record.
    pub fn from_bytes(bytes: &[u8]) -> Option<StoredTouch> {
        match bytes.split_first()? {
            (&TOUCH_FORMAT, rest) => {
                let record: TouchIn = postcard::from_bytes(rest).ok()?;
                let properties = match record.properties {
                    Some(text) => Some(serde_json::from_str(&text).ok()?),
                    None => None,
                };
                Some(StoredTouch {
                    id: record.id,
                    kind: record.kind,
                    occurred_at: record.occurred_at,
                    source: record.source,
                    weight: record.weight,
                    notes: record.notes,
                    properties,
                })
            }
            (b'{', _) => serde_json::from_slice(bytes).ok(),
            _ => None,
        }
    }
}

/// A contact's latest fields waiting to be written to one sink. One per sink and
/// contact: a newer value replaces an older one before it is ever sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The contact, or 0 for an account record.
    pub contact: u64,
    /// The account key (`hubspot-company:<id>`, `salesforce:<id>`) for an account record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub identities: Vec<Identity>,
    pub fields: PushFields,
    pub queued_at: Millis,
    #[serde(default)]
    pub attempts: u32,
    /// Not retried before this time (backoff after a per-record failure).
    #[serde(default)]
    pub not_before: Millis,
    #[serde(default)]
    pub last_error: Option<String>,
}

impl OutboxEntry {
    /// The record as the admin API names it: `c_<n>` for a contact, the account key
    /// for an account.
    pub fn record_name(&self) -> String {
        match &self.account {
            Some(account) => account.clone(),
            None => Contact::public_id(self.contact),
        }
    }

    /// A contact's fields, queued now for the first time.
    pub fn for_contact(
        contact: u64,
        identities: Vec<Identity>,
        fields: PushFields,
        queued_at: Millis,
    ) -> OutboxEntry {
        OutboxEntry {
            contact,
            account: None,
            identities,
            fields,
            queued_at,
            attempts: 0,
            not_before: 0,
            last_error: None,
        }
    }

    /// An account's fields, queued now for the first time.
    pub fn for_account(account: &str, fields: PushFields, queued_at: Millis) -> OutboxEntry {
        OutboxEntry {
            contact: 0,
            account: Some(account.to_string()),
            identities: Vec::new(),
            fields,
            queued_at,
            attempts: 0,
            not_before: 0,
            last_error: None,
        }
    }
}

/// A record a sink gave up on, with the CRM's own words.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: u64,
    pub sink: String,
    pub contact: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub identities: Vec<Identity>,
    pub fields: PushFields,
    pub error: String,
    pub attempts: u32,
    pub failed_at: Millis,
}

/// A verified delivery as written to the inbox, before the pipeline applies it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboxEntry {
    pub source: String,
    pub received_at: Millis,
    pub events: Vec<Event>,
}

/// Inbox values are the entry's JSON, then the raw body (kept for audit until the retention ends).
pub fn encode_inbox(entry: &InboxEntry, body: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    let meta = serde_json::to_vec(entry)?;
    let mut out = Vec::with_capacity(4 + meta.len() + body.len());
    out.extend_from_slice(&(meta.len() as u32).to_be_bytes());
    out.extend_from_slice(&meta);
    out.extend_from_slice(body);
    Ok(out)
}

pub fn decode_inbox(bytes: &[u8]) -> Option<(InboxEntry, &[u8])> {
    let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let meta = bytes.get(4..4 + len)?;
    let entry = serde_json::from_slice(meta).ok()?;
    Some((entry, &bytes[4 + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_back_touch() -> StoredTouch {
        StoredTouch {
            id: "8870eff465d29c68".into(),
            kind: TouchKind::EmailOpen,
            occurred_at: 1_795_000_000_000,
            source: "mailchimp".into(),
            weight: 0.0,
            notes: vec!["machine open (Apple Mail Privacy Protection)".into()],
            properties: Some(serde_json::json!({"user_agent": "Mozilla/5.0", "ip": "17.58.0.1"})),
        }
    }

    fn same_touch(a: &StoredTouch, b: &StoredTouch) -> bool {
        serde_json::to_value(a).unwrap() == serde_json::to_value(b).unwrap()
    }

    #[test]
    fn a_touch_record_reads_back_as_written() {
        for touch in [
            held_back_touch(),
            StoredTouch {
                notes: Vec::new(),
                properties: None,
                weight: 3.0,
                ..held_back_touch()
            },
        ] {
            let bytes = touch.to_bytes().unwrap();
            assert_eq!(bytes[0], TOUCH_FORMAT);
            assert!(same_touch(
                &StoredTouch::from_bytes(&bytes).unwrap(),
                &touch
            ));
            let json = serde_json::to_vec(&touch).unwrap();
            assert!(same_touch(&StoredTouch::from_bytes(&json).unwrap(), &touch));
        }
    }

    /// Like `contact_record_layout_is_fixed`, for the touch log.
    #[test]
    fn touch_record_layout_is_fixed() {
        let bytes = held_back_touch().to_bytes().unwrap();
        assert_eq!(hex::encode(&bytes), TOUCH_FORMAT_1);
        let stored = StoredTouch::from_bytes(&hex::decode(TOUCH_FORMAT_1).unwrap()).unwrap();
        assert!(same_touch(&stored, &held_back_touch()));
    }

    const TOUCH_FORMAT_1: &str = concat!(
        "0110383837306566663436356432396336380080f8b2e5bd68096d61696c6368696d7000",
        "00000000000000012c6d616368696e65206f70656e20284170706c65204d61696c205072",
        "69766163792050726f74656374696f6e29012d7b226970223a2231372e35382e302e3122",
        "2c22757365725f6167656e74223a224d6f7a696c6c612f352e30227d",
    );

    #[test]
    fn bytes_of_neither_format_are_refused() {
        assert!(StoredTouch::from_bytes(&[TOUCH_FORMAT, 0xff]).is_none());
        assert!(StoredTouch::from_bytes(b"[1]").is_none());
        assert!(Contact::from_bytes(b"").is_none());
        assert!(Contact::from_bytes(&[CONTACT_FORMAT, 0xff, 0xff]).is_none());
        assert!(Contact::from_bytes(&[9, 1, 2, 3]).is_none());
        assert!(Contact::from_bytes(b"{\"id\":").is_none());
    }

    #[test]
    fn a_member_of_format_1_reads_with_no_short_memory() {
        // Format 1's layout, field by field (postcard writes a struct as its fields).
        let old = (
            7u64,
            1_795_000_000_000i64,
            12.5f64,
            3.0f64,
            9.0f64,
            Some(1_794_999_000_000i64),
            None::<i64>,
            Some("VP Engineering"),
            Some("Acme"),
        );
        let bytes = postcard::to_extend(&old, vec![1u8]).unwrap();
        let member = member_from_bytes(&bytes).expect("format 1 is read");
        assert_eq!((member.id, member.raw, member.short), (7, 12.5, 0.0));
        assert_eq!(member.title.as_deref(), Some("VP Engineering"));
        let again = member_from_bytes(&member_to_bytes(&member).unwrap()).unwrap();
        assert_eq!(again, member);
    }
}
