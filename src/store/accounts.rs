//! Accounts: each a small record of its group's sums, with every member's own part in
//! a record beside it, so that one member's change reads and writes only those two.
//! Accounts whose line in their members' reasons changed wait in `accounts_relined`
//! until the line has reached every member.

use super::keys::{account_member_key, account_members_prefix, read_u64, u64_key};
use super::records::{member_from_bytes, member_to_bytes};
use super::round::Round;
use super::{Account, Store, StoreError};
use crate::scoring::account::{Group, Member};

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

    /// Every member's part of an account, by contact id.
    pub fn account_members(&self, key: &str) -> Result<Vec<Member>, StoreError> {
        let mut members = Vec::new();
        for item in self
            .inner
            .account_members
            .scan_prefix(account_members_prefix(key))
        {
            let (member_key, bytes) = item?;
            members.push(
                member_from_bytes(&bytes).ok_or_else(|| corrupt("account_members", &member_key))?,
            );
        }
        Ok(members)
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
