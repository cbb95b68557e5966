//! What is kept on disk, tree by tree, and how keys are laid out.

use crate::model::{Event, Identity, Millis, Outcome, TouchKind};
use crate::scoring::{Attention, Visible};
use crate::sinks::fields::{PushFields, Records};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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

/// A company as a buying group: who is in it and what was last pushed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Account {
    pub key: String,
    /// Everyone counted in the buying group, by contact id, with the sums the account
    /// score needs.
    pub members: Vec<crate::scoring::account::Member>,
    #[serde(default)]
    pub visible: Option<AccountVisible>,
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

pub fn u64_key(value: u64) -> [u8; 8] {
    value.to_be_bytes()
}

pub fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// Same source and provider id → same touch id, whatever the delivery attempt.
pub fn touch_id(source: &str, provider_id: &str) -> [u8; 8] {
    let digest = Sha256::new()
        .chain_update(source.as_bytes())
        .chain_update([0])
        .chain_update(provider_id.as_bytes())
        .finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    id
}

/// Touches sort by contact, then time, then id, so one contact's log is one range.
pub fn touch_key(contact: u64, occurred_at: Millis, id: &[u8; 8]) -> [u8; 24] {
    let mut key = [0u8; 24];
    key[..8].copy_from_slice(&contact.to_be_bytes());
    // Flipping the sign bit keeps negative times (before 1970) in order.
    key[8..16].copy_from_slice(&((occurred_at as u64) ^ (1 << 63)).to_be_bytes());
    key[16..].copy_from_slice(id);
    key
}

pub fn seen_key(source: &str, provider_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(source.len() + 1 + provider_id.len());
    key.extend_from_slice(source.as_bytes());
    key.push(0);
    key.extend_from_slice(provider_id.as_bytes());
    key
}

pub fn outbox_prefix(sink: &str) -> Vec<u8> {
    let mut key = sink.as_bytes().to_vec();
    key.push(0);
    key
}

/// A sink's pending records of one kind: `sink`, 0, `c` (contacts) or `a` (accounts).
pub fn outbox_records_prefix(sink: &str, records: Records) -> Vec<u8> {
    let mut key = outbox_prefix(sink);
    key.push(match records {
        Records::Contacts => b'c',
        Records::Accounts => b'a',
    });
    key
}

pub fn outbox_key(sink: &str, contact: u64) -> Vec<u8> {
    let mut key = outbox_records_prefix(sink, Records::Contacts);
    key.extend_from_slice(&contact.to_be_bytes());
    key
}

pub fn account_outbox_key(sink: &str, account: &str) -> Vec<u8> {
    let mut key = outbox_records_prefix(sink, Records::Accounts);
    key.extend_from_slice(account.as_bytes());
    key
}

/// The outbox key of an entry, whichever kind of record it is.
pub fn entry_outbox_key(sink: &str, entry: &OutboxEntry) -> Vec<u8> {
    match &entry.account {
        Some(account) => account_outbox_key(sink, account),
        None => outbox_key(sink, entry.contact),
    }
}

/// One dead letter per sink and record: a newer failure replaces the older one
/// instead of piling up beside it.
pub fn dead_letter_id(sink: &str, contact: u64, account: Option<&str>) -> u64 {
    let mut hasher = Sha256::new()
        .chain_update(sink.as_bytes())
        .chain_update([0])
        .chain_update(contact.to_be_bytes());
    if let Some(account) = account {
        hasher = hasher.chain_update(b"a").chain_update(account.as_bytes());
    }
    let digest = hasher.finalize();
    // Kept below 2^53 so that JavaScript clients read it exactly.
    u64::from_be_bytes(digest[..8].try_into().unwrap_or_default()) >> 11
}

/// Erased people are remembered only as a hash of an identity, so that later events
/// about them are dropped without keeping who they were.
pub fn erased_key(identity: &Identity) -> [u8; 32] {
    Sha256::digest(identity.key().as_bytes()).into()
}

/// Outcomes of a contact: `c`, contact, time, id. One contact's log is one range.
pub fn contact_outcome_prefix(contact: u64) -> Vec<u8> {
    let mut key = vec![b'c'];
    key.extend_from_slice(&contact.to_be_bytes());
    key
}

/// Outcomes known only by account: `a`, account, 0, time, id.
pub fn account_outcome_prefix(account: &str) -> Vec<u8> {
    let mut key = vec![b'a'];
    key.extend_from_slice(account.as_bytes());
    key.push(0);
    key
}

/// Outcomes known only by their opportunity: `o`, opportunity, 0, time, id.
pub fn opportunity_outcome_prefix(opportunity: &str) -> Vec<u8> {
    let mut key = vec![b'o'];
    key.extend_from_slice(opportunity.as_bytes());
    key.push(0);
    key
}

pub fn outcome_key(prefix: &[u8], occurred_at: Millis, id: &[u8; 8]) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(&((occurred_at as u64) ^ (1 << 63)).to_be_bytes());
    key.extend_from_slice(id);
    key
}
