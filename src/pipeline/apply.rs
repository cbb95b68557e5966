//! Applying deliveries: every effect of a group of consecutive deliveries and the
//! cursor advance commit in one sled transaction, so a crash before the commit
//! replays them and a crash after it never repeats them.
//! Reads go to the trees directly (the pipeline is their only writer); writes collect
//! in overlays that commit together.

use super::overlay::Overlay;
use super::queue::{account_fields, contact_fields};
use crate::fields::Recipients;
use crate::model::{Event, EventBody, Identity, Millis, Outcome, Profile, Touch, TouchKind};
use crate::scoring::account::{account_key, account_name, score_account, Member};
use crate::scoring::{self, qualify, ScoringConfig};
use crate::store::records::{
    account_outbox_key, account_outcome_prefix, contact_outcome_prefix, erased_key,
    opportunity_outcome_prefix, outbox_key, outcome_key, read_u64, seen_key, touch_id, touch_key,
    u64_key,
};
use crate::store::{
    Account, AccountVisible, Contact, DeadLetter, InboxEntry, OutboxEntry, ProfileField,
    StageChange, Store, StoreError, StoredOutcome, StoredTouch,
};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::{Batch, Transactional};
use std::collections::{BTreeMap, BTreeSet};

type TxResult<T> = Result<T, StoreError>;

/// What a committed delivery did, for metrics and logs.
#[derive(Debug, Default)]
pub struct Applied {
    pub touches: Vec<TouchKind>,
    pub duplicates: usize,
    pub dropped_erased: usize,
}

pub struct Context<'a> {
    pub store: &'a Store,
    pub scoring: &'a ScoringConfig,
    pub sinks: &'a Recipients,
    pub now: Millis,
}

/// One delivery's view of the trees it changes.
struct Tx<'t> {
    store: &'t Store,
    contacts: Overlay<'t>,
    identities: Overlay<'t>,
    touches: Overlay<'t>,
    outcomes: Overlay<'t>,
    seen: Overlay<'t>,
    outbox: Overlay<'t>,
    erased: Overlay<'t>,
    meta: Overlay<'t>,
    dead_letters: Overlay<'t>,
    accounts: Overlay<'t>,
    account_work: AccountWork,
    dirty: BTreeSet<u64>,
    applied: Applied,
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(
    tree: &'static str,
    key: &[u8],
    bytes: &[u8],
) -> TxResult<T> {
    serde_json::from_slice(bytes).map_err(|_| StoreError::Corrupt {
        tree,
        key: format!("{key:?}"),
    })
}

pub(super) fn encode<T: serde::Serialize>(value: &T) -> TxResult<Vec<u8>> {
    Ok(serde_json::to_vec(value)?)
}

pub(super) fn decode_touch(key: &[u8], bytes: &[u8]) -> TxResult<StoredTouch> {
    StoredTouch::from_bytes(bytes).ok_or_else(|| StoreError::Corrupt {
        tree: "touches",
        key: format!("{key:?}"),
    })
}

pub(super) fn decode_contact(key: &[u8], bytes: &[u8]) -> TxResult<Contact> {
    Contact::from_bytes(bytes).ok_or_else(|| StoreError::Corrupt {
        tree: "contacts",
        key: format!("{key:?}"),
    })
}

/// Commits one batch per tree, all or nothing.
pub(super) fn commit(trees: &[&sled::Tree], batches: Vec<Batch>) -> Result<(), StoreError> {
    trees.transaction(|views: &Vec<TransactionalTree>| {
        for (view, batch) in views.iter().zip(&batches) {
            view.apply_batch(batch)?;
        }
        Ok::<(), ConflictableTransactionError<StoreError>>(())
    })?;
    Ok(())
}

/// Applies consecutive deliveries as one commit: fewer transactions under load, and
/// a contact touched by many of them is queued for the CRMs once. The cursor moves
/// to the last one with them, so a crash replays the whole group or none of it.
pub fn apply_deliveries(
    context: &Context<'_>,
    deliveries: &[(u64, InboxEntry)],
) -> Result<Applied, StoreError> {
    let Some((last_seq, _)) = deliveries.last() else {
        return Ok(Applied::default());
    };
    let trees = context.store.trees();
    let mut tx = Tx {
        store: context.store,
        contacts: Overlay::new(&trees.contacts),
        identities: Overlay::new(&trees.identities),
        touches: Overlay::new(&trees.touches),
        outcomes: Overlay::new(&trees.outcomes),
        seen: Overlay::new(&trees.seen),
        outbox: Overlay::new(&trees.outbox),
        erased: Overlay::new(&trees.erased),
        meta: Overlay::new(&trees.meta),
        dead_letters: Overlay::new(&trees.dead_letters),
        accounts: Overlay::new(&trees.accounts),
        account_work: AccountWork::new(),
        dirty: BTreeSet::new(),
        applied: Applied::default(),
    };
    for (seq, entry) in deliveries {
        for event in &entry.events {
            let seen = seen_key(&entry.source, &event.provider_id);
            if tx.seen.get(&seen)?.is_some() {
                tx.applied.duplicates += 1;
                continue;
            }
            tx.apply_event(context, &entry.source, event)?;
            tx.seen.insert(seen, u64_key(*seq));
        }
    }
    let dirty = std::mem::take(&mut tx.dirty);
    let mut lines = MemberLines::default();
    for contact in dirty {
        tx.queue_if_visible_changed(context, contact, &mut lines)?;
    }
    let work = std::mem::take(&mut tx.account_work);
    settle_accounts(
        context,
        &mut tx.contacts,
        &mut tx.accounts,
        &mut tx.outbox,
        work,
    )?;
    tx.meta.insert(b"cursor", u64_key(*last_seq));
    let applied = std::mem::take(&mut tx.applied);
    commit(
        &[
            &trees.contacts,
            &trees.identities,
            &trees.touches,
            &trees.outcomes,
            &trees.seen,
            &trees.outbox,
            &trees.erased,
            &trees.meta,
            &trees.dead_letters,
            &trees.accounts,
        ],
        vec![
            tx.contacts.into_batch(),
            tx.identities.into_batch(),
            tx.touches.into_batch(),
            tx.outcomes.into_batch(),
            tx.seen.into_batch(),
            tx.outbox.into_batch(),
            tx.erased.into_batch(),
            tx.meta.into_batch(),
            tx.dead_letters.into_batch(),
            tx.accounts.into_batch(),
        ],
    )?;
    context.store.set_cursor_cached(*last_seq);
    Ok(applied)
}

/// Re-checks contacts whose displayed fields changed through decay alone.
pub fn refresh(context: &Context<'_>, ids: &[u64]) -> Result<usize, StoreError> {
    let trees = context.store.trees();
    let mut contacts = Overlay::new(&trees.contacts);
    let mut outbox = Overlay::new(&trees.outbox);
    let mut accounts = Overlay::new(&trees.accounts);
    let mut work = AccountWork::new();
    let mut lines = MemberLines::default();
    let mut queued = std::collections::BTreeSet::new();
    let mut rewritten = false;
    for id in ids {
        let Some(bytes) = contacts.get(u64_key(*id))? else {
            continue;
        };
        let mut contact = decode_contact(&u64_key(*id), &bytes)?;
        let line = lines.of(&accounts, &contact)?;
        let changed = queue(context, &mut outbox, &mut contact, line.as_deref())?;
        // Members' sums decay by themselves: an account needs a new look when a
        // member's fields changed, and people from before accounts existed join.
        let moved = (changed || contact.account_key.is_none())
            && join_account(context, &mut contact, &mut work);
        // "Engaged this week" runs out with time alone: every account is looked
        // at again, and written only if it changed.
        if let Some(key) = &contact.account_key {
            work.entry(key.clone()).or_default();
        }
        if changed {
            queued.insert(*id);
        }
        if changed || moved {
            contacts.insert(u64_key(*id), contact.to_bytes()?);
            rewritten = true;
        }
    }
    let requeued = settle_accounts(context, &mut contacts, &mut accounts, &mut outbox, work)?;
    rewritten |= !requeued.is_empty();
    queued.extend(requeued);
    if rewritten || !accounts.is_empty() {
        commit(
            &[&trees.contacts, &trees.outbox, &trees.accounts],
            vec![
                contacts.into_batch(),
                outbox.into_batch(),
                accounts.into_batch(),
            ],
        )?;
    }
    Ok(queued.len())
}

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
    contacts: &mut Overlay<'_>,
    accounts: &mut Overlay<'_>,
    outbox: &mut Overlay<'_>,
    work: AccountWork,
) -> TxResult<Vec<u64>> {
    let lines_changed = update_accounts(context, accounts, outbox, work)?;
    requeue_members(context, contacts, accounts, outbox, &lines_changed)
}

/// Applies member changes to their accounts, rescores them, and queues the account
/// fields for the sinks that hold such accounts if a rep would see a change.
/// Returns the accounts whose line in their members' reasons changed.
fn update_accounts(
    context: &Context<'_>,
    accounts: &mut Overlay<'_>,
    outbox: &mut Overlay<'_>,
    work: AccountWork,
) -> TxResult<Vec<String>> {
    let mut lines_changed = Vec::new();
    for (key, changes) in work {
        let stored = accounts.get(key.as_bytes())?;
        let mut account: Account = match &stored {
            Some(bytes) => decode("accounts", key.as_bytes(), bytes)?,
            None => Account {
                key: key.clone(),
                ..Account::default()
            },
        };
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
            if stored.is_some() {
                accounts.remove(key.as_bytes())?;
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
            for (name, sink) in context.sinks {
                if !sink.account_addressable(&key) {
                    continue;
                }
                let entry = OutboxEntry {
                    contact: 0,
                    account: Some(key.clone()),
                    identities: Vec::new(),
                    fields: account_fields(&visible),
                    queued_at: context.now,
                    attempts: 0,
                    not_before: 0,
                    last_error: None,
                };
                outbox.insert(account_outbox_key(name, &key), encode(&entry)?);
            }
            account.visible = Some(visible);
        }
        if account.member_line != scored.member_line {
            account.member_line = scored.member_line;
            lines_changed.push(key.clone());
        }
        let encoded = encode(&account)?;
        // A look that changed nothing (the decay refresh) writes nothing.
        if stored.as_deref() != Some(encoded.as_slice()) {
            accounts.insert(key.as_bytes(), encoded);
        }
    }
    Ok(lines_changed)
}

/// The line the account puts in its members' reasons, as last decided.
fn line_of(accounts: &Overlay<'_>, key: &str) -> TxResult<Option<String>> {
    /// Only the line: the members are skipped, not built.
    #[derive(serde::Deserialize)]
    struct LineOnly {
        #[serde(default)]
        member_line: Option<String>,
    }
    let Some(bytes) = accounts.get(key.as_bytes())? else {
        return Ok(None);
    };
    let account: LineOnly = decode("accounts", key.as_bytes(), &bytes)?;
    Ok(account.member_line)
}

/// The line each contact's account puts in their reasons, as last decided; each
/// account is read once.
#[derive(Default)]
pub(super) struct MemberLines(BTreeMap<String, Option<String>>);

impl MemberLines {
    pub fn of(&mut self, accounts: &Overlay<'_>, contact: &Contact) -> TxResult<Option<String>> {
        let Some(key) = &contact.account_key else {
            return Ok(None);
        };
        if let Some(line) = self.0.get(key) {
            return Ok(line.clone());
        }
        let line = line_of(accounts, key)?;
        self.0.insert(key.clone(), line.clone());
        Ok(line)
    }
}

/// Queues again every member of the accounts whose line in their reasons changed.
/// Returns how many contacts changed.
fn requeue_members(
    context: &Context<'_>,
    contacts: &mut Overlay<'_>,
    accounts: &Overlay<'_>,
    outbox: &mut Overlay<'_>,
    keys: &[String],
) -> TxResult<Vec<u64>> {
    let mut changed = Vec::new();
    for key in keys {
        let Some(bytes) = accounts.get(key.as_bytes())? else {
            continue;
        };
        let account: Account = decode("accounts", key.as_bytes(), &bytes)?;
        for member in &account.members {
            let Some(bytes) = contacts.get(u64_key(member.id))? else {
                continue;
            };
            let mut contact = decode_contact(&u64_key(member.id), &bytes)?;
            if queue(
                context,
                outbox,
                &mut contact,
                account.member_line.as_deref(),
            )? {
                contacts.insert(u64_key(member.id), contact.to_bytes()?);
                changed.push(member.id);
            }
        }
    }
    Ok(changed)
}

/// Most stage changes kept per contact.
const STAGE_HISTORY: usize = 50;

/// Re-qualifies the contact and puts its fields in every sink's outbox if a rep
/// would see a change. Returns whether the contact changed.
pub(super) fn queue(
    context: &Context<'_>,
    outbox: &mut Overlay<'_>,
    contact: &mut Contact,
    account_line: Option<&str>,
) -> TxResult<bool> {
    let profile = contact.profile_values();
    let person = qualify::Person {
        attention: &contact.attention,
        profile: &profile,
        email: contact.email(),
        stage: contact.stage.as_deref(),
        stage_changed_at: contact.stage_changed_at,
        account: account_line,
    };
    let verdict = qualify::qualify(&person, context.now, context.scoring);
    let visible = qualify::visible(&person, &verdict, context.now, context.scoring);
    let mut changed = false;
    if let Some(reason) = verdict.change {
        contact.stage_history.push(StageChange {
            from: contact.stage.take(),
            to: verdict.stage.clone(),
            at: context.now,
            reason,
        });
        if contact.stage_history.len() > STAGE_HISTORY {
            contact.stage_history.remove(0);
        }
        contact.stage = Some(verdict.stage);
        contact.stage_changed_at = verdict.stage_changed_at;
        changed = true;
    }
    if contact.visible.as_ref() == Some(&visible) {
        return Ok(changed);
    }
    for (name, sink) in context.sinks {
        if !sink.addressable(&contact.identities) {
            continue;
        }
        let entry = OutboxEntry {
            contact: contact.id,
            account: None,
            identities: contact.identities.clone(),
            fields: contact_fields(&visible),
            queued_at: context.now,
            attempts: 0,
            not_before: 0,
            last_error: None,
        };
        outbox.insert(outbox_key(name, contact.id), encode(&entry)?);
    }
    contact.visible = Some(visible);
    Ok(true)
}

impl Tx<'_> {
    fn apply_event(&mut self, context: &Context<'_>, source: &str, event: &Event) -> TxResult<()> {
        match &event.body {
            EventBody::Touch(touch) => self.touch(context, source, &event.provider_id, touch),
            EventBody::Identify { who } => {
                if self.any_erased(who)? {
                    self.applied.dropped_erased += 1;
                    return Ok(());
                }
                let id = self.resolve(context, who)?;
                self.dirty.insert(id);
                Ok(())
            }
            EventBody::Merge { into, from } => {
                let mut all = vec![into.clone()];
                all.extend(from.iter().cloned());
                if self.any_erased(&all)? {
                    self.applied.dropped_erased += 1;
                    return Ok(());
                }
                // Only contacts we already know are merged; unknown ids add nothing.
                let mut known = Vec::new();
                for identity in &all {
                    if self.lookup(identity)?.is_some() {
                        known.push(identity.clone());
                    }
                }
                if known.is_empty() {
                    return Ok(());
                }
                let winner = self.resolve_preferring(context, &known, into)?;
                if let Some(mut contact) = self.load(winner)? {
                    // The losing CRM ids are no longer records to write to, but late
                    // events naming them still resolve here through `identities`.
                    contact.identities.retain(|known| !from.contains(known));
                    for identity in from {
                        if !contact.retired.contains(identity) {
                            contact.retired.push(identity.clone());
                        }
                    }
                    contact.add_identity(into.clone());
                    self.save(&contact)?;
                }
                for identity in from.iter().chain(std::iter::once(into)) {
                    self.identities
                        .insert(identity.key().as_bytes(), u64_key(winner));
                }
                self.dirty.insert(winner);
                Ok(())
            }
            EventBody::Erase { who } => self.erase(context, who),
            EventBody::Outcome(outcome) => {
                self.outcome(context, source, &event.provider_id, outcome)
            }
            EventBody::Profile(profile) => self.profile(context, source, profile),
        }
    }

    fn touch(
        &mut self,
        context: &Context<'_>,
        source: &str,
        provider_id: &str,
        touch: &Touch,
    ) -> TxResult<()> {
        if self.any_erased(&touch.who)? {
            self.applied.dropped_erased += 1;
            return Ok(());
        }
        let id = self.resolve(context, &touch.who)?;
        let Some(mut contact) = self.load(id)? else {
            return Err(StoreError::Corrupt {
                tree: "contacts",
                key: id.to_string(),
            });
        };
        // A clock ahead of ours must not lift attention above what is real now.
        let occurred_at = touch.occurred_at.min(context.now);
        contact.touch_count += 1;
        if touch.account.is_some() {
            contact.account = touch.account.clone();
        }
        let touch_id = touch_id(source, provider_id);
        let mut stored = StoredTouch {
            id: hex::encode(touch_id),
            kind: touch.kind,
            occurred_at,
            source: source.to_string(),
            weight: 0.0,
            notes: Vec::new(),
            properties: touch.properties.clone(),
        };
        let key = touch_key(id, occurred_at, &touch_id);
        if scoring::needs_replay(&contact.attention, touch.kind, occurred_at) {
            self.touches.insert(key, stored.to_bytes()?);
            self.recount(context, &mut contact)?;
        } else {
            let email = contact.email().map(str::to_owned);
            let counted = scoring::count(
                &mut contact.attention,
                touch.kind,
                occurred_at,
                touch.properties.as_ref(),
                email.as_deref(),
                context.scoring,
            );
            stored.weight = counted.weight;
            stored.notes = counted.notes;
            self.touches.insert(key, stored.to_bytes()?);
        }
        self.save(&contact)?;
        self.dirty.insert(id);
        self.applied.touches.push(touch.kind);
        Ok(())
    }

    /// Recounts a contact from its touch log after a touch arrived out of order, and
    /// rewrites the weights in the log that the recount changed.
    fn recount(&mut self, context: &Context<'_>, contact: &mut Contact) -> TxResult<()> {
        let mut log = Vec::new();
        for key in self.touches.keys_with_prefix(&u64_key(contact.id))? {
            if let Some(bytes) = self.touches.get(&key)? {
                let stored = decode_touch(&key, &bytes)?;
                log.push((key, stored));
            }
        }
        let facts: Vec<scoring::LoggedTouch<'_>> = log
            .iter()
            .map(|(_, stored)| scoring::LoggedTouch {
                id: &stored.id,
                kind: stored.kind,
                at: stored.occurred_at,
                properties: stored.properties.as_ref(),
            })
            .collect();
        let (attention, counted) = scoring::replay(&facts, contact.email(), context.scoring);
        contact.attention = attention;
        for ((key, mut stored), counted) in log.into_iter().zip(counted) {
            if stored.weight != counted.weight || stored.notes != counted.notes {
                stored.weight = counted.weight;
                stored.notes = counted.notes;
                self.touches.insert(key, stored.to_bytes()?);
            }
        }
        Ok(())
    }

    /// Logs a revenue event under its contact, else its account, else its opportunity
    /// (a CRM deal whose people are not known yet).
    fn outcome(
        &mut self,
        context: &Context<'_>,
        source: &str,
        provider_id: &str,
        outcome: &Outcome,
    ) -> TxResult<()> {
        if self.any_erased(&outcome.who)? {
            self.applied.dropped_erased += 1;
            return Ok(());
        }
        let prefix = if !outcome.who.is_empty() {
            let id = self.resolve(context, &outcome.who)?;
            if let (Some(account), Some(mut contact)) = (&outcome.account, self.load(id)?) {
                contact.account = Some(account.clone());
                self.save(&contact)?;
            }
            contact_outcome_prefix(id)
        } else if let Some(account) = &outcome.account {
            account_outcome_prefix(account)
        } else if let Some(opportunity) = &outcome.opportunity {
            opportunity_outcome_prefix(opportunity)
        } else {
            return Ok(());
        };
        let id = touch_id(source, provider_id);
        let stored = StoredOutcome {
            id: hex::encode(id),
            source: source.to_string(),
            outcome: Outcome {
                who: Vec::new(),
                ..outcome.clone()
            },
        };
        self.outcomes.insert(
            outcome_key(&prefix, outcome.occurred_at, &id),
            encode(&stored)?,
        );
        Ok(())
    }

    fn profile(&mut self, context: &Context<'_>, source: &str, profile: &Profile) -> TxResult<()> {
        if self.any_erased(&profile.who)? {
            self.applied.dropped_erased += 1;
            return Ok(());
        }
        if profile.who.is_empty() {
            return Ok(());
        }
        let id = self.resolve(context, &profile.who)?;
        let Some(mut contact) = self.load(id)? else {
            return Ok(());
        };
        contact.merge_profile(profile.fields.iter().map(|(name, value)| {
            (
                name.clone(),
                ProfileField {
                    value: value.clone(),
                    source: source.to_string(),
                    at: profile.occurred_at,
                },
            )
        }));
        if profile.account.is_some() {
            contact.account = profile.account.clone();
        }
        self.save(&contact)?;
        Ok(())
    }

    fn any_erased(&self, who: &[Identity]) -> TxResult<bool> {
        for identity in who {
            if self.erased.get(erased_key(identity))?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn lookup(&self, identity: &Identity) -> TxResult<Option<u64>> {
        let Some(id) = self
            .identities
            .get(identity.key().as_bytes())?
            .and_then(|v| read_u64(&v))
        else {
            return Ok(None);
        };
        // A mapping to a contact that no longer exists is treated as unknown.
        Ok(self.contacts.get(u64_key(id))?.map(|_| id))
    }

    fn load(&self, id: u64) -> TxResult<Option<Contact>> {
        match self.contacts.get(u64_key(id))? {
            Some(bytes) => Ok(Some(decode_contact(&u64_key(id), &bytes)?)),
            None => Ok(None),
        }
    }

    fn save(&mut self, contact: &Contact) -> TxResult<()> {
        self.contacts
            .insert(u64_key(contact.id), contact.to_bytes()?);
        Ok(())
    }

    /// The one contact these identities belong to: found, created, or made by merging
    /// the contacts they were spread over.
    fn resolve(&mut self, context: &Context<'_>, who: &[Identity]) -> TxResult<u64> {
        self.resolve_inner(context, who, None)
    }

    fn resolve_preferring(
        &mut self,
        context: &Context<'_>,
        who: &[Identity],
        preferred: &Identity,
    ) -> TxResult<u64> {
        self.resolve_inner(context, who, Some(preferred))
    }

    fn resolve_inner(
        &mut self,
        context: &Context<'_>,
        who: &[Identity],
        preferred: Option<&Identity>,
    ) -> TxResult<u64> {
        let mut found: Vec<u64> = Vec::new();
        for identity in who {
            if let Some(id) = self.lookup(identity)? {
                if !found.contains(&id) {
                    found.push(id);
                }
            }
        }
        let winner = match found.len() {
            0 => {
                let id = self.store.generate_id()?;
                self.save(&Contact::new(id, context.now))?;
                id
            }
            1 => found[0],
            _ => {
                let winner = self.pick_winner(&found, preferred)?;
                for loser in found.iter().copied().filter(|id| *id != winner) {
                    self.merge(context, winner, loser)?;
                }
                winner
            }
        };
        let Some(mut contact) = self.load(winner)? else {
            return Err(StoreError::Corrupt {
                tree: "contacts",
                key: winner.to_string(),
            });
        };
        for identity in who {
            contact.add_identity(identity.clone());
            self.identities
                .insert(identity.key().as_bytes(), u64_key(winner));
        }
        self.save(&contact)?;
        Ok(winner)
    }

    /// The preferred identity's contact if given; else one known by email or CRM id
    /// rather than an anonymous visitor; else the oldest.
    fn pick_winner(&self, candidates: &[u64], preferred: Option<&Identity>) -> TxResult<u64> {
        if let Some(identity) = preferred {
            if let Some(id) = self.lookup(identity)? {
                if candidates.contains(&id) {
                    return Ok(id);
                }
            }
        }
        let mut best: Option<(bool, std::cmp::Reverse<u64>)> = None;
        for id in candidates {
            let known = self
                .load(*id)?
                .is_some_and(|c| c.identities.iter().any(Identity::is_known));
            let rank = (known, std::cmp::Reverse(*id));
            if best.is_none_or(|b| rank > b) {
                best = Some(rank);
            }
        }
        Ok(best
            .map(|(_, std::cmp::Reverse(id))| id)
            .unwrap_or(candidates[0]))
    }

    /// Moves everything of `loser` to `winner`. Exact: attention sums are linear.
    fn merge(&mut self, context: &Context<'_>, winner: u64, loser: u64) -> TxResult<()> {
        let (Some(mut into), Some(from)) = (self.load(winner)?, self.load(loser)?) else {
            return Ok(());
        };
        if let Some(account) = &from.account_key {
            self.account_work
                .entry(account.clone())
                .or_default()
                .insert(loser, None);
        }
        into.attention.merge(from.attention, context.scoring);
        into.touch_count += from.touch_count;
        if into.account.is_none() {
            into.account = from.account;
        }
        for identity in from.identities {
            self.identities
                .insert(identity.key().as_bytes(), u64_key(winner));
            into.add_identity(identity);
        }
        for identity in from.retired {
            self.identities
                .insert(identity.key().as_bytes(), u64_key(winner));
            if !into.retired.contains(&identity) {
                into.retired.push(identity);
            }
        }
        into.merge_profile(from.profile);
        for key in self.touches.keys_with_prefix(&u64_key(loser))? {
            if let Some(value) = self.touches.remove(&key)? {
                let mut moved = key;
                moved[..8].copy_from_slice(&winner.to_be_bytes());
                self.touches.insert(moved, value.to_vec());
            }
        }
        let (from_prefix, into_prefix) = (
            contact_outcome_prefix(loser),
            contact_outcome_prefix(winner),
        );
        for key in self.outcomes.keys_with_prefix(&from_prefix)? {
            if let Some(value) = self.outcomes.remove(&key)? {
                let mut moved = into_prefix.clone();
                moved.extend_from_slice(&key[from_prefix.len()..]);
                self.outcomes.insert(moved, value.to_vec());
            }
        }
        self.contacts.remove(u64_key(loser))?;
        for name in context.sinks.keys() {
            self.outbox.remove(outbox_key(name, loser))?;
        }
        self.dirty.remove(&loser);
        self.save(&into)?;
        self.dirty.insert(winner);
        Ok(())
    }

    /// Forgets a person: contact, identities, touches, pending pushes, dead letters.
    fn erase(&mut self, context: &Context<'_>, who: &Identity) -> TxResult<()> {
        self.erased
            .insert(erased_key(who), u64_key(context.now as u64));
        let Some(id) = self.lookup(who)? else {
            return Ok(());
        };
        if let Some(contact) = self.load(id)? {
            if let Some(account) = &contact.account_key {
                self.account_work
                    .entry(account.clone())
                    .or_default()
                    .insert(id, None);
            }
            for identity in contact.identities.iter().chain(&contact.retired) {
                self.identities.remove(identity.key().as_bytes())?;
                self.erased
                    .insert(erased_key(identity), u64_key(context.now as u64));
            }
        }
        self.identities.remove(who.key().as_bytes())?;
        for key in self.touches.keys_with_prefix(&u64_key(id))? {
            self.touches.remove(key)?;
        }
        for key in self
            .outcomes
            .keys_with_prefix(&contact_outcome_prefix(id))?
        {
            self.outcomes.remove(key)?;
        }
        self.contacts.remove(u64_key(id))?;
        for name in context.sinks.keys() {
            self.outbox.remove(outbox_key(name, id))?;
        }
        for (key, value) in self.dead_letters.entries()? {
            let letter: DeadLetter = decode("dead_letters", &key, &value)?;
            if letter.contact == id {
                self.dead_letters.remove(key)?;
            }
        }
        self.dirty.remove(&id);
        Ok(())
    }

    fn queue_if_visible_changed(
        &mut self,
        context: &Context<'_>,
        id: u64,
        lines: &mut MemberLines,
    ) -> TxResult<()> {
        let Some(mut contact) = self.load(id)? else {
            return Ok(());
        };
        let moved = join_account(context, &mut contact, &mut self.account_work);
        let line = lines.of(&self.accounts, &contact)?;
        if queue(context, &mut self.outbox, &mut contact, line.as_deref())? || moved {
            self.save(&contact)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MILLIS_PER_DAY;

    const DAY: Millis = MILLIS_PER_DAY as Millis;
    /// Monday 2026-11-16 00:00 UTC.
    const MONDAY: Millis = 1_795_219_200_000;

    fn meeting(n: u64, email: &str, at: Millis) -> (u64, InboxEntry) {
        let event = Event {
            provider_id: format!("m{n}"),
            body: EventBody::Touch(Touch {
                who: vec![Identity::email(email)],
                kind: TouchKind::MeetingBooked,
                occurred_at: at,
                account: None,
                properties: None,
            }),
        };
        let entry = InboxEntry {
            source: "standard".into(),
            received_at: at,
            events: vec![event],
        };
        (n, entry)
    }

    fn reasons(store: &Store, email: &str) -> Vec<String> {
        let id = store
            .contact_id_for(&Identity::email(email))
            .unwrap()
            .unwrap();
        let contact = store.contact(id).unwrap().unwrap();
        contact.visible.unwrap().reasons
    }

    #[test]
    fn a_rescore_counts_each_queued_contact_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        let sinks = Recipients::new();
        let before = ScoringConfig::default();
        let context = |scoring| Context {
            store: &store,
            scoring,
            sinks: &sinks,
            now: MONDAY + DAY,
        };
        apply_deliveries(
            &context(&before),
            &[
                meeting(1, "ann@acme.com", MONDAY),
                meeting(2, "bo@acme.com", MONDAY),
            ],
        )
        .unwrap();
        assert_eq!(
            reasons(&store, "ann@acme.com")[0],
            "2 people from acme.com engaged this week"
        );
        // A meeting now weighs too little to make anyone engaged: both scores change
        // in the pass, then the line goes and both are queued again.
        let mut after = ScoringConfig::default();
        after.weights.insert(TouchKind::MeetingBooked, 1.0);
        let done = crate::pipeline::rescore::rescore(&context(&after), |_, _| {}).unwrap();
        assert!(!reasons(&store, "ann@acme.com")[0].contains("engaged this week"));
        assert_eq!((done.contacts, done.touches, done.queued), (2, 2, 2));
        let ann = store
            .contact(
                store
                    .contact_id_for(&Identity::email("ann@acme.com"))
                    .unwrap()
                    .unwrap(),
            )
            .unwrap()
            .unwrap();
        let change = ann.stage_history.last().unwrap();
        assert_eq!(change.at, MONDAY + DAY);
        let version = crate::scoring::version(&after);
        assert!(
            change
                .reason
                .ends_with(&format!("; rescored under scoring version {version}")),
            "{:?}",
            ann.stage_history
        );
    }

    #[test]
    fn the_account_line_reaches_every_member_and_runs_out_after_a_week() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        let scoring = ScoringConfig::default();
        let sinks = Recipients::new();
        let at = |now| Context {
            store: &store,
            scoring: &scoring,
            sinks: &sinks,
            now,
        };
        let line = "2 people from acme.com engaged this week";
        apply_deliveries(&at(MONDAY), &[meeting(1, "ann@acme.com", MONDAY)]).unwrap();
        assert!(!reasons(&store, "ann@acme.com").contains(&line.to_string()));
        // Bo's meeting makes two: Ann is told too, though nothing of hers changed.
        let tuesday = MONDAY + DAY;
        apply_deliveries(&at(tuesday), &[meeting(2, "bo@acme.com", tuesday)]).unwrap();
        assert_eq!(reasons(&store, "bo@acme.com")[0], line);
        assert_eq!(reasons(&store, "ann@acme.com")[0], line);
        // Eight days on, the decay refresh finds the week over for both.
        let later = tuesday + 8 * DAY;
        let ids: Vec<u64> = ["ann@acme.com", "bo@acme.com"]
            .iter()
            .map(|email| {
                store
                    .contact_id_for(&Identity::email(email))
                    .unwrap()
                    .unwrap()
            })
            .collect();
        // Ann is queued for her own decay and again for the line: one contact, once.
        assert_eq!(refresh(&at(later), &ids[..1]).unwrap(), 2);
        for email in ["ann@acme.com", "bo@acme.com"] {
            let shown = reasons(&store, email);
            assert!(
                !shown.iter().any(|r| r.contains("engaged this week")),
                "{email}: {shown:?}"
            );
        }
    }
}
