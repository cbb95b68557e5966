//! Rescoring: every contact recomputed from its touch log under the current
//! `[scoring]`, then every account; changed fields are queued for the CRMs.
//!
//! It runs at start when the scoring version (a hash of `[scoring]`) differs from the
//! one the store was scored with, and on `attentiond rescore`. It is idempotent: the
//! version is recorded only at the end, so an interrupted rescore runs again in full
//! at the next start. That is why it writes record by record rather than in one
//! transaction, which would cost more than the recomputation itself. The touch
//! log is only read: the weights it shows are recounted by the contact view and by
//! `explain`.

use super::accounts::{
    account_of, join_account, settle_accounts, take_lines, AccountWork, MemberLines,
};
use super::context::Context;
use super::queue::queue;
use crate::model::Millis;
use crate::scoring::{self, Attention};
use crate::store::{Contact, StoreError};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Contacts recomputed between progress reports and outbox writes.
const CHUNK: usize = 4096;

/// Notes that the store is scored under the current `[scoring]`.
pub fn record_version(context: &Context<'_>) -> Result<(), StoreError> {
    context
        .store
        .set_scoring_version(&scoring::version(context.scoring))
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Rescored {
    pub contacts: usize,
    pub touches: usize,
    /// Contacts whose CRM fields changed and were queued.
    pub queued: usize,
}

/// Recomputes everything. `progress(done, total)` is called after each chunk. The
/// contacts are split by id over the machine's cores; accounts follow at the end.
pub fn rescore(
    context: &Context<'_>,
    mut progress: impl FnMut(usize, usize),
) -> Result<Rescored, StoreError> {
    // Accounts are built afresh from their members, keeping what was last pushed.
    context.store.reset_accounts()?;
    note_crm_account_domains(context)?;
    let highest = context.store.highest_contact_id()?;
    // Ids are given out in sequence, so the highest is the count give or take the
    // merged-away: close enough for a progress bar, and free, where counting is a scan.
    let total = highest as usize + 1;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4) as u64;
    let step = highest / threads + 1;
    let counted = AtomicUsize::new(0);
    let (report, receive) = std::sync::mpsc::channel::<()>();
    let results: Vec<Result<Part, StoreError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|part| {
                let (counted, report) = (&counted, report.clone());
                let range = (part * step, (part + 1) * step);
                scope.spawn(move || rescore_range(context, range, counted, report))
            })
            .collect();
        drop(report);
        // Progress comes from this thread, which owns the callback.
        while receive.recv().is_ok() {
            progress(counted.load(Ordering::Relaxed), total);
        }
        workers
            .into_iter()
            .map(|worker| {
                worker.join().unwrap_or_else(|_| {
                    Err(StoreError::Corrupt {
                        tree: "contacts",
                        key: "a rescore worker stopped".into(),
                    })
                })
            })
            .collect()
    });
    let mut done = Rescored::default();
    let mut work = AccountWork::new();
    // Parts cover ascending id ranges, each walked in order: the ids come out sorted.
    let mut queued = Vec::new();
    for result in results {
        let Part {
            done: part,
            work: part_work,
            queued: part_queued,
        } = result?;
        done.contacts += part.contacts;
        done.touches += part.touches;
        queued.extend(part_queued);
        for (account, members) in part_work {
            work.entry(account).or_default().extend(members);
        }
    }
    let mut round = context.store.round();
    settle_accounts(context, &mut round, work)?;
    round.apply()?;
    context.store.drop_empty_accounts()?;
    // Members were queued with their account's line from before the rescore: every
    // changed line goes to its members now, not an interval later.
    let mut round = context.store.round();
    let (requeued, _) = take_lines(context, &mut round, usize::MAX, true)?;
    round.apply()?;
    done.queued = queued.len()
        + requeued
            .iter()
            .filter(|id| queued.binary_search(id).is_err())
            .count();
    progress(done.contacts, done.contacts);
    // Written last: sled recovers a prefix of its log, so a store that holds the new
    // version after a crash holds everything rescored before it.
    record_version(context)?;
    Ok(done)
}

/// Notes, before the parts run side by side, the email domain of every contact a
/// source put in a CRM account: a colleague known only by email joins that account
/// whichever part meets them first.
fn note_crm_account_domains(context: &Context<'_>) -> Result<(), StoreError> {
    let mut round = context.store.round();
    for id in context.store.contact_ids() {
        let Some(contact) = context.store.contact(id?)? else {
            continue;
        };
        if contact.account.is_some() {
            account_of(context, &mut round, &contact)?;
        }
    }
    round.apply()?;
    Ok(())
}

/// Tells a stage change made by the last `queue` from what was there before: the
/// history grows, or at its cap gains a newer last entry. Nothing is cloned, as this
/// runs for every contact.
fn latest_change(contact: &Contact) -> (usize, Option<Millis>) {
    (
        contact.stage_history.len(),
        contact.stage_history.last().map(|change| change.at),
    )
}

/// What one thread's share of the contacts gave.
struct Part {
    done: Rescored,
    /// Member changes for the accounts, settled once every part is in.
    work: AccountWork,
    /// Ids of the contacts queued for the CRMs, ascending.
    queued: Vec<u64>,
}

/// Rescores the contacts with ids in `[from, to)`.
fn rescore_range(
    context: &Context<'_>,
    (from, to): (u64, u64),
    counted: &AtomicUsize,
    report: std::sync::mpsc::Sender<()>,
) -> Result<Part, StoreError> {
    let mut done = Rescored::default();
    let mut work = AccountWork::new();
    let mut queued = Vec::new();
    // Outbox writes, and account lines read as they were: accounts are rescored at
    // the end, from every thread's members.
    let mut round = context.store.round();
    let mut lines = MemberLines::default();
    let version = scoring::version(context.scoring);
    let mut in_chunk = 0;
    context
        .store
        .rewrite_contacts(from, to, |contact, touches| {
            let mut attention = Attention::default();
            let email = contact.email().map(str::to_owned);
            // The log comes in time then id order: the order a replay counts in.
            for touch in touches {
                let touch = touch?;
                scoring::count(
                    &mut attention,
                    touch.kind,
                    touch.occurred_at,
                    touch.properties.as_ref(),
                    email.as_deref(),
                    context.scoring,
                );
                done.touches += 1;
            }
            contact.attention = attention;
            join_account(context, &mut round, contact, &mut work)?;
            let line = lines.of(&round, contact)?;
            let last_change = latest_change(contact);
            if queue(context, &mut round, contact, line.as_deref())? {
                queued.push(contact.id);
            }
            if latest_change(contact) != last_change {
                // The stage moved because the settings did, not because the person did.
                if let Some(change) = contact.stage_history.last_mut() {
                    change.reason = format!(
                        "{}; rescored under scoring version {version}",
                        change.reason
                    );
                }
            }
            done.contacts += 1;
            in_chunk += 1;
            if in_chunk == CHUNK {
                std::mem::replace(&mut round, context.store.round()).apply()?;
                counted.fetch_add(in_chunk, Ordering::Relaxed);
                in_chunk = 0;
                let _ = report.send(());
            }
            Ok(())
        })?;
    round.apply()?;
    counted.fetch_add(in_chunk, Ordering::Relaxed);
    Ok(Part { done, work, queued })
}
