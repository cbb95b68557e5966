//! Buying groups: each contact counts in the account of its company, whose score is
//! kept with the sums of its members. A change of a member's fields updates the
//! account; a change of the account's line in its members' reasons ("4 people from
//! acme.com engaged this week") queues every member again.

use super::context::Context;
use super::queue::{queue, queue_account};
use crate::scoring::account::{account_key, account_name, score_account, Member};
use crate::store::{Account, AccountVisible, Contact, Round, StoreError};
use std::collections::BTreeMap;

/// Account key → member → their new summary, or `None` when they left.
pub(super) type AccountWork = BTreeMap<String, BTreeMap<u64, Option<Member>>>;

/// Puts the contact's current summary in the buying group of its account, and takes
/// it out of the previous one if the account changed. Returns whether it moved.
pub(super) fn join_account(
    context: &Context<'_>,
    contact: &mut Contact,
    work: &mut AccountWork,
) -> bool {
    let key = account_key(contact.account.as_deref(), contact.email(), context.scoring);
    let moved = key != contact.account_key;
    if moved {
        if let Some(old) = contact.account_key.take() {
            work.entry(old).or_default().insert(contact.id, None);
        }
        contact.account_key = key;
    }
    if let Some(key) = &contact.account_key {
        let field = |name: &str| contact.profile.get(name).map(|f| f.value.as_str());
        let member = Member::of(
            contact.id,
            &contact.attention,
            field("title"),
            field("company"),
        );
        work.entry(key.clone())
            .or_default()
            .insert(contact.id, Some(member));
    }
    moved
}

/// Applies member changes to their accounts, rescores them and queues what changed:
/// the account's fields, and every member again when the account's line in their
/// reasons changed. Returns the ids of the contacts queued again.
pub(super) fn settle_accounts(
    context: &Context<'_>,
    round: &mut Round<'_>,
    work: AccountWork,
) -> Result<Vec<u64>, StoreError> {
    let lines_changed = update_accounts(context, round, work)?;
    requeue_members(context, round, &lines_changed)
}

/// Applies member changes to their accounts, rescores them, and queues the account
/// fields if a rep would see a change. Returns the accounts whose line in their
/// members' reasons changed.
fn update_accounts(
    context: &Context<'_>,
    round: &mut Round<'_>,
    work: AccountWork,
) -> Result<Vec<String>, StoreError> {
    let mut lines_changed = Vec::new();
    for (key, changes) in work {
        let stored = round.account(&key)?;
        let existed = stored.is_some();
        let mut account = stored.unwrap_or_else(|| Account {
            key: key.clone(),
            ..Account::default()
        });
        for (id, change) in changes {
            let position = account.members.binary_search_by_key(&id, |m| m.id);
            match (position, change) {
                (Ok(at), Some(member)) => account.members[at] = member,
                (Err(at), Some(member)) => account.members.insert(at, member),
                (Ok(at), None) => {
                    account.members.remove(at);
                }
                (Err(_), None) => {}
            }
        }
        if account.members.is_empty() {
            if existed {
                round.remove_account(&key)?;
            }
            continue;
        }
        let scored = score_account(
            &account_name(&key, &account.members),
            &account.members,
            context.now,
            context.scoring,
        );
        let visible = AccountVisible {
            score: scored.score,
            trend: scored.trend,
            people_engaged: scored.people_engaged,
            reasons: scored.reasons,
        };
        if account.visible.as_ref() != Some(&visible) {
            queue_account(context, round, &key, &visible)?;
            account.visible = Some(visible);
        }
        if account.member_line != scored.member_line {
            account.member_line = scored.member_line;
            lines_changed.push(key);
        }
        round.put_account(&account)?;
    }
    Ok(lines_changed)
}

/// The line each contact's account puts in their reasons, as last decided; each
/// account is read once.
#[derive(Default)]
pub(super) struct MemberLines(BTreeMap<String, Option<String>>);

impl MemberLines {
    pub fn of(
        &mut self,
        round: &Round<'_>,
        contact: &Contact,
    ) -> Result<Option<String>, StoreError> {
        let Some(key) = &contact.account_key else {
            return Ok(None);
        };
        if let Some(line) = self.0.get(key) {
            return Ok(line.clone());
        }
        let line = round.account_line(key)?;
        self.0.insert(key.clone(), line.clone());
        Ok(line)
    }
}

/// Queues again every member of the accounts whose line in their reasons changed.
/// Returns the ids of the contacts that changed.
fn requeue_members(
    context: &Context<'_>,
    round: &mut Round<'_>,
    keys: &[String],
) -> Result<Vec<u64>, StoreError> {
    let mut changed = Vec::new();
    for key in keys {
        let Some(account) = round.account(key)? else {
            continue;
        };
        for member in &account.members {
            let Some(mut contact) = round.contact(member.id)? else {
                continue;
            };
            if queue(context, round, &mut contact, account.member_line.as_deref())? {
                round.put_contact(&contact)?;
                changed.push(member.id);
            }
        }
    }
    Ok(changed)
}
