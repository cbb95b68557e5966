//! Accounts: each a small record of its group's sums, with every member's own part in
//! a record beside it, so that one member's change reads and writes only those two.
//! Accounts whose line in their members' reasons changed wait in `accounts_relined`
//! until the line has reached every member.

use super::keys::{
    account_member_contact_of, account_member_key, account_members_prefix, read_u64, u64_key,
};
use super::records::{member_from_bytes, member_to_bytes};
use super::round::Round;
use super::vault::sealed_by;
use super::{Account, Store, StoreError};
use crate::scoring::account::{Group, Member};

/// Set in `meta` once every part of an account is sealed.
const MEMBERS_SEALED: &[u8] = b"account_members_sealed";
/// Parts sealed per batch when a store from before sealing them is opened.
const SEAL_BATCH: usize = 4096;

fn corrupt(tree: &'static str, key: &[u8]) -> StoreError {
    StoreError::Corrupt {
        tree,
        key: String::from_utf8_lossy(key).into_owned(),
    }
}

impl Store {
    /// The buying group kept under an account key.
    pub fn account(&self, key: &str) -> Result<Option<Account>, StoreError> {
        Ok(self
            .inner
            .accounts
            .get(key.as_bytes())?
            .and_then(|bytes| Account::from_bytes(&bytes)))
    }

    /// Every member's part of an account, by contact id. A part sealed under a
    /// destroyed key is of someone erased, and left out.
    pub fn account_members(&self, key: &str) -> Result<Vec<Member>, StoreError> {
        let mut members = Vec::new();
        for item in self
            .inner
            .account_members
            .scan_prefix(account_members_prefix(key))
        {
            let (member_key, bytes) = item?;
            let Some(plain) = self.unseal(&bytes) else {
                continue;
            };
            members.push(
                member_from_bytes(&plain).ok_or_else(|| corrupt("account_members", &member_key))?,
            );
        }
        Ok(members)
    }

    /// Seals, under each member's key, the parts of accounts an earlier version
    /// wrote plain: they carry the member's title and company. Once per store.
    pub(super) fn seal_plain_account_members(&self) -> Result<(), StoreError> {
        if self.inner.meta.contains_key(MEMBERS_SEALED)? {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        let mut held = 0;
        for item in self.inner.account_members.iter() {
            let (key, bytes) = item?;
            let owner = account_member_contact_of(&key);
            if let (None, Some(id)) = (sealed_by(&bytes), owner) {
                batch.insert(key, self.seal(id, &bytes)?);
                held += 1;
            }
            if held == SEAL_BATCH {
                self.inner
                    .account_members
                    .apply_batch(std::mem::take(&mut batch))?;
                held = 0;
            }
        }
        self.inner.account_members.apply_batch(batch)?;
        // Keys made above reach the disk before the values sealed under them.
        self.inner.vault.sync()?;
        self.flush()?;
        self.inner.meta.insert(MEMBERS_SEALED, &[])?;
        Ok(())
    }

    /// Contact ids of the account's members after `after`, at most `limit`, in order.
    pub fn account_member_ids(
        &self,
        account: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let prefix = account_members_prefix(account);
        let start = match after {
            Some(after) => account_member_key(account, after.saturating_add(1)),
            None => prefix.clone(),
        };
        let mut ids = Vec::new();
        for key in self.inner.account_members.range(start..).keys().take(limit) {
            let key = key?;
            if !key.starts_with(&prefix) {
                break;
            }
            if let Some(id) = read_u64(&key[prefix.len()..]) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Accounts whose changed line has not reached every member yet, at most `limit`.
    pub fn relined_accounts(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        for key in self.inner.accounts_relined.iter().keys().take(limit) {
            keys.push(String::from_utf8_lossy(&key?).into_owned());
        }
        Ok(keys)
    }

    /// Empties every account's sums and forgets its members, keeping what was last
    /// pushed, so that a rescore builds the groups afresh and pushes only what
    /// changed. Accounts of an earlier format are dropped.
    pub fn reset_accounts(&self) -> Result<(), StoreError> {
        self.inner.account_members.clear()?;
        self.inner.accounts_relined.clear()?;
        for item in self.inner.accounts.iter() {
            let (key, bytes) = item?;
            match Account::from_bytes(&bytes) {
                Some(mut account) => {
                    account.group = Group::default();
                    self.inner.accounts.insert(key, account.to_bytes()?)?;
                }
                None => {
                    self.inner.accounts.remove(key)?;
                }
            }
        }
        Ok(())
    }

    /// The CRM account whose people have this email domain, once one was seen.
    pub fn domain_account(&self, domain: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .inner
            .account_domains
            .get(domain.as_bytes())?
            .map(|key| String::from_utf8_lossy(&key).into_owned()))
    }

    /// Drops accounts left without members (after a rescore, those nobody joined).
    pub fn drop_empty_accounts(&self) -> Result<usize, StoreError> {
        let mut dropped = 0;
        for item in self.inner.accounts.iter() {
            let (key, bytes) = item?;
            if Account::from_bytes(&bytes).is_none_or(|account| account.group.members == 0) {
                self.inner.accounts.remove(key)?;
                dropped += 1;
            }
        }
        Ok(dropped)
    }
}

impl Round<'_> {
    pub fn account(&self, key: &str) -> Result<Option<Account>, StoreError> {
        Ok(self
            .accounts
            .get(key.as_bytes())?
            .and_then(|bytes| Account::from_bytes(&bytes)))
    }

    /// The line the account puts in its members' reasons, as last decided.
    pub fn account_line(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.account(key)?.and_then(|account| account.member_line))
    }

    /// Writes the account unless it is stored exactly so already.
    pub fn put_account(&mut self, account: &Account) -> Result<(), StoreError> {
        let encoded = account.to_bytes()?;
        let key = account.key.as_bytes();
        if self.accounts.get(key)?.as_deref() != Some(encoded.as_slice()) {
            self.accounts.insert(key, encoded);
        }
        self.index.account(&account.key, Some(account))
    }

    pub fn remove_account(&mut self, key: &str) -> Result<(), StoreError> {
        self.accounts.delete(key.as_bytes());
        self.accounts_relined.delete(key.as_bytes());
        self.index.account(key, None)
    }

    pub fn account_member(
        &self,
        account: &str,
        contact: u64,
    ) -> Result<Option<Member>, StoreError> {
        let key = account_member_key(account, contact);
        match self.account_members.get(&key)? {
            Some(bytes) => Ok(Some(
                member_from_bytes(&bytes).ok_or_else(|| corrupt("account_members", &key))?,
            )),
            None => Ok(None),
        }
    }

    pub fn put_account_member(&mut self, account: &str, member: &Member) -> Result<(), StoreError> {
        self.account_members.insert(
            account_member_key(account, member.id),
            member_to_bytes(member)?,
        );
        Ok(())
    }

    pub fn remove_account_member(&mut self, account: &str, contact: u64) {
        self.account_members
            .delete(account_member_key(account, contact));
    }

    /// The CRM account whose people have this email domain, once one was seen.
    pub fn domain_account(&self, domain: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .account_domains
            .get(domain.as_bytes())?
            .map(|key| String::from_utf8_lossy(&key).into_owned()))
    }

    /// Notes that people of `domain` are in the CRM's `account`; the first account
    /// seen for a domain keeps it.
    pub fn map_domain_account(&mut self, domain: &str, account: &str) -> Result<(), StoreError> {
        if self.account_domains.get(domain.as_bytes())?.is_none() {
            self.account_domains
                .insert(domain.as_bytes(), account.as_bytes().to_vec());
        }
        Ok(())
    }

    /// The account's line changed: it is to reach every member, from the first.
    pub fn mark_relined(&mut self, key: &str) {
        self.accounts_relined.insert(key.as_bytes(), u64_key(0));
    }

    /// Where taking the line to the account's members stopped, if it is under way.
    pub fn relined_after(&self, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .accounts_relined
            .get(key.as_bytes())?
            .and_then(|value| read_u64(&value)))
    }

    pub fn resume_relined_after(&mut self, key: &str, member: u64) {
        self.accounts_relined
            .insert(key.as_bytes(), u64_key(member));
    }

    pub fn unmark_relined(&mut self, key: &str) {
        self.accounts_relined.delete(key.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Contact;

    const TITLE: &str = "Head of Quintessential Procurement";

    fn member(id: u64) -> Member {
        Member {
            id,
            as_of: 1_790_000_000_000,
            raw: 12.5,
            fast: 3.0,
            slow: 1.0,
            last_touch_at: Some(1_790_000_000_000),
            engaged_at: None,
            title: Some(TITLE.to_string()),
            company: Some("Quintero Zymurgy Holdings".to_string()),
            short: 0.0,
        }
    }

    fn holds(bytes: &[u8], text: &str) -> bool {
        bytes
            .windows(text.len())
            .any(|window| window == text.as_bytes())
    }

    #[test]
    fn a_members_part_is_sealed_under_their_key_and_gone_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut round = store.round();
        round.put_contact(&Contact::new(7, 1)).unwrap();
        round
            .put_account_member("domain:acme.com", &member(7))
            .unwrap();
        round.commit(None).unwrap();

        let stored = store
            .inner
            .account_members
            .get(account_member_key("domain:acme.com", 7))
            .unwrap()
            .unwrap();
        assert_eq!(sealed_by(&stored), Some(7));
        assert!(!holds(&stored, TITLE));
        assert_eq!(
            store.account_members("domain:acme.com").unwrap(),
            vec![member(7)]
        );
        assert_eq!(
            store.round().account_member("domain:acme.com", 7).unwrap(),
            Some(member(7))
        );

        store.inner.vault.destroy(&[7]).unwrap();
        assert!(store.account_members("domain:acme.com").unwrap().is_empty());
    }

    #[test]
    fn parts_an_earlier_version_wrote_plain_are_sealed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let key = account_member_key("domain:acme.com", 9);
        {
            let store = Store::open(dir.path()).unwrap();
            let mut round = store.round();
            round.put_contact(&Contact::new(9, 1)).unwrap();
            round.commit(None).unwrap();
            // As an earlier version left them: plain, and no mark of sealing.
            let plain = member_to_bytes(&member(9)).unwrap();
            store.inner.account_members.insert(&key, plain).unwrap();
            store.inner.meta.remove(MEMBERS_SEALED).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open_when_free(dir.path()).unwrap();
        let stored = store.inner.account_members.get(&key).unwrap().unwrap();
        assert_eq!(sealed_by(&stored), Some(9));
        assert!(!holds(&stored, TITLE));
        assert_eq!(
            store.account_members("domain:acme.com").unwrap(),
            vec![member(9)]
        );
        assert_eq!(account_member_contact_of(&key), Some(9));
        assert_eq!(account_member_contact_of(b"short"), None);
    }
}
