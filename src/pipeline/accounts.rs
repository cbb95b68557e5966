//! Buying groups: each contact counts in the account of its company. A member's change
//! updates the account's sums from that member's old and new parts alone; the account
//! is rescored from its sums. When the account's line in its members' reasons ("4
//! people from acme.com engaged this week") changes, the members who did nothing
//! themselves get it at most once per `member_line_interval_secs` ([`take_lines`]),
//! and only if their CRM record would read differently.

use super::context::Context;
use super::queue::{queue, queue_account};
use crate::model::Millis;
use crate::scoring::account::{account_key, account_name, company_domain, score_group, Member};
use crate::store::{Account, AccountVisible, Contact, Round, StoreError};
use std::collections::BTreeMap;

/// Account key → member → their new part, or `None` when they left.
pub(super) type AccountWork = BTreeMap<String, BTreeMap<u64, Option<Member>>>;

/// The buying group a contact belongs in: the account a source named (whose email
/// domain is then noted as that account's), else the CRM account colleagues of the
/// same email domain were seen in, else the domain's own account.
pub(super) fn account_of(
    context: &Context<'_>,
    round: &mut Round<'_>,
    contact: &Contact,
) -> Result<Option<String>, StoreError> {
    let key = account_key(contact.account.as_deref(), contact.email(), context.scoring);
    let domain = company_domain(contact.email(), context.scoring);
    let Some(key) = key else {
        return Ok(None);
    };
    match (key.strip_prefix("domain:"), domain) {
        (Some(domain_key), _) => Ok(Some(round.domain_account(domain_key)?.unwrap_or(key))),
        (None, Some(domain)) => {
            round.map_domain_account(&domain, &key)?;
            Ok(Some(key))
        }
        (None, None) => Ok(Some(key)),
    }
}

/// Puts the contact's current part in the buying group of its account, and takes it
/// out of the previous one if the account changed. Returns whether it moved.
pub(super) fn join_account(
    context: &Context<'_>,
    round: &mut Round<'_>,
    contact: &mut Contact,
    work: &mut AccountWork,
) -> Result<bool, StoreError> {
    let key = account_of(context, round, contact)?;
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
            context.scoring,
        );
        work.entry(key.clone())
            .or_default()
            .insert(contact.id, Some(member));
    }
    Ok(moved)
}

/// Applies member changes to their accounts, rescores them, and queues the account
/// fields if a rep would see a change. An account whose line in its members'
/// reasons changed is marked for [`take_lines`]. An account looked at without
/// member changes (the decay refresh) is written only if something a rep sees
/// changed. Returns the accounts whose lines changed.
pub(super) fn settle_accounts(
    context: &Context<'_>,
    round: &mut Round<'_>,
    work: AccountWork,
) -> Result<Vec<String>, StoreError> {
    let mut relined = Vec::new();
    for (key, changes) in work {
        let mut account = round.account(&key)?.unwrap_or_else(|| Account {
            key: key.clone(),
            ..Account::default()
        });
        let before = account.clone();
        if !changes.is_empty() {
            account.group.decay_to(context.now, context.scoring);
        }
        for (id, change) in changes {
            if let Some(old) = round.account_member(&key, id)? {
                account.group.remove(&old, context.scoring);
            }
            match change {
                Some(member) => {
                    account.group.add(&member, context.scoring);
                    round.put_account_member(&key, &member)?;
                }
                None => round.remove_account_member(&key, id),
            }
        }
        if account.group.members == 0 {
            if round.account(&key)?.is_some() {
                round.remove_account(&key)?;
            }
            continue;
        }
        let scored = score_group(
            &account_name(&key, &account.group),
            &account.group,
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
            // A first line waits its interval like any other: the members who are
            // written anyway carry it at once, and a burst of new accounts does not
            // rewrite every colleague's CRM record the minute it starts.
            account.line_pushed_at.get_or_insert(context.now);
            round.mark_relined(&key);
            relined.push(key.clone());
        }
        if account != before {
            round.put_account(&account)?;
        }
    }
    Ok(relined)
}

/// Members looked at for a free ride of a changed line, per account and round: a
/// big account's line moves in steps, so its members are rarely all looked at.
const RIDE_ALONG_MEMBERS: usize = 200;

/// A changed line costs nothing for the members whose record still waits in an
/// outbox: their waiting write takes the new line instead of a second call later.
/// `done` are the contacts this round queued already.
pub(super) fn ride_along(
    context: &Context<'_>,
    round: &mut Round<'_>,
    account: &str,
    done: &std::collections::BTreeSet<u64>,
) -> Result<(), StoreError> {
    let line = round.account_line(account)?;
    for id in context
        .store
        .account_member_ids(account, None, RIDE_ALONG_MEMBERS)?
    {
        if done.contains(&id) {
            continue;
        }
        let mut waiting = false;
        for sink in context.sinks.keys() {
            waiting |= round.is_queued(sink, id)?;
        }
        if !waiting {
            continue;
        }
        if let Some(mut contact) = round.contact(id)? {
            if queue(context, round, &mut contact, line.as_deref())? {
                round.put_contact(&contact)?;
            }
        }
    }
    Ok(())
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

/// Takes changed account lines to the members who did nothing themselves: accounts
/// whose line was last taken, or first decided, at least `member_line_interval_secs`
/// ago (any with `every_account_now`), at most `budget` members per call, resuming where
/// the last call stopped. A member is queued only if their CRM record would read
/// differently. Returns the contacts queued, and when accounts still waiting are
/// due (now, if the budget ran out).
pub(super) fn take_lines(
    context: &Context<'_>,
    round: &mut Round<'_>,
    budget: usize,
    every_account_now: bool,
) -> Result<(Vec<u64>, Option<Millis>), StoreError> {
    let interval = context.scoring.accounts.member_line_interval_secs as i64 * 1000;
    let mut queued = Vec::new();
    let mut left = budget;
    let mut next_due: Option<Millis> = None;
    let mut wait_until = |at: Millis| next_due = Some(next_due.map_or(at, |due| due.min(at)));
    for key in context.store.relined_accounts(usize::MAX)? {
        let Some(mut account) = round.account(&key)? else {
            round.unmark_relined(&key);
            continue;
        };
        let due_at = match account.line_pushed_at {
            Some(pushed) if !every_account_now => pushed + interval,
            _ => context.now,
        };
        if due_at > context.now {
            wait_until(due_at);
            continue;
        }
        if left == 0 {
            wait_until(context.now);
            break;
        }
        let after = round.relined_after(&key)?.filter(|after| *after > 0);
        let ids = context.store.account_member_ids(&key, after, left)?;
        for id in &ids {
            let Some(mut contact) = round.contact(*id)? else {
                continue;
            };
            if queue(context, round, &mut contact, account.member_line.as_deref())? {
                round.put_contact(&contact)?;
                queued.push(*id);
            }
        }
        left -= ids.len();
        match ids.last() {
            Some(last) if left == 0 => {
                // The budget ran out inside this account: resume after its last member.
                round.resume_relined_after(&key, *last);
                wait_until(context.now);
                break;
            }
            _ => {
                account.line_pushed_at = Some(context.now);
                round.put_account(&account)?;
                round.unmark_relined(&key);
            }
        }
    }
    Ok((queued, next_due))
}
