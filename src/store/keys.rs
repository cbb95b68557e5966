//! How keys are laid out in each tree. Keys sort the way the store reads them:
//! one contact's touch log or outcomes is one range, a sink's outbox one prefix.

use super::OutboxEntry;
use crate::fields::Records;
use crate::model::{Identity, Millis};
use sha2::{Digest, Sha256};

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

/// Source, 0, then a hash of the provider id: some platforms build their event ids
/// from the person's own (Calendly's invitee URI, Zoom's participant), which must
/// not outlive an erasure.
pub fn seen_key(source: &str, provider_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(source.len() + 1 + 17);
    key.extend_from_slice(source.as_bytes());
    key.push(0);
    key.push(SEEN_HASHED);
    key.extend_from_slice(&Sha256::digest(provider_id.as_bytes())[..16]);
    key
}

/// The seen key of an event applied before provider ids were hashed.
pub fn legacy_seen_key(source: &str, provider_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(source.len() + 1 + provider_id.len());
    key.extend_from_slice(source.as_bytes());
    key.push(0);
    key.extend_from_slice(provider_id.as_bytes());
    key
}

/// Marks a hashed seen key; provider ids kept plain before never start with it.
const SEEN_HASHED: u8 = 0xFF;

/// The key a value of the `contacts` or `touches` tree is sealed under: its
/// contact's.
pub fn contact_key_of(key: &[u8]) -> Option<u64> {
    read_u64(key)
}

/// The key an outbox value is sealed under: its contact's; account entries name no
/// person and stay plain.
pub fn outbox_contact_of(key: &[u8]) -> Option<u64> {
    let split = key.iter().position(|byte| *byte == 0)?;
    match key.get(split + 1)? {
        b'c' => read_u64(key.get(split + 2..)?),
        _ => None,
    }
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

/// Where an outbox entry waits its turn: its outbox key with the time it was first
/// queued put after the kind (`sink`, 0, kind, time, record), so that a sink's entries
/// of one kind are one range in the order they were first queued.
pub fn outbox_turn_key(outbox_key: &[u8], sink: &str, queued_at: Millis) -> Vec<u8> {
    let split = (sink.len() + 2).min(outbox_key.len());
    let mut key = Vec::with_capacity(outbox_key.len() + 8);
    key.extend_from_slice(&outbox_key[..split]);
    key.extend_from_slice(&((queued_at as u64) ^ (1 << 63)).to_be_bytes());
    key.extend_from_slice(&outbox_key[split..]);
    key
}

/// The outbox key a turn key stands for.
pub fn outbox_key_of_turn(turn_key: &[u8], sink: &str) -> Option<Vec<u8>> {
    let split = sink.len() + 2;
    let rest = turn_key.get(split + 8..)?;
    let mut key = turn_key.get(..split)?.to_vec();
    key.extend_from_slice(rest);
    Some(key)
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

/// A member of an account: the account key, 0, the contact id. One account's members
/// are one range.
pub fn account_member_key(account: &str, contact: u64) -> Vec<u8> {
    let mut key = account_members_prefix(account);
    key.extend_from_slice(&contact.to_be_bytes());
    key
}

/// The key a member's part of an account is sealed under: the member's own, named by
/// the key's last eight bytes after the account's `0x00`.
pub fn account_member_contact_of(key: &[u8]) -> Option<u64> {
    let id_at = key.len().checked_sub(8)?;
    match key.get(id_at.checked_sub(1)?) {
        Some(0) => read_u64(&key[id_at..]),
        _ => None,
    }
}

pub fn account_members_prefix(account: &str) -> Vec<u8> {
    let mut key = account.as_bytes().to_vec();
    key.push(0);
    key
}

/// Opportunity records sit in the outcomes tree under this tag.
pub const OPPORTUNITY_RECORD: u8 = b'r';

/// An opportunity's record: `r`, opportunity. A prefix of keys (`hubspot-deal:`)
/// is the range of one CRM's.
pub fn opportunity_record_key(opportunity: &str) -> Vec<u8> {
    let mut key = vec![OPPORTUNITY_RECORD];
    key.extend_from_slice(opportunity.as_bytes());
    key
}
