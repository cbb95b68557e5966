//! Applying deliveries: every effect of a group of consecutive deliveries and the
//! cursor advance commit in one store round, so a crash before the commit replays
//! them and a crash after it never repeats them.
//!
//! Each event is applied here; who it is about is resolved in `identity`, buying
//! groups are settled in `accounts`, and what a rep would see is queued in `queue`.

use super::accounts::{
    account_of, join_account, ride_along, settle_accounts, AccountWork, MemberLines,
};
use super::context::Context;
use super::queue::queue;
use crate::model::{attendance, Event, EventBody, Outcome, OutcomeKind, Profile, Touch, TouchKind};
use crate::scoring;
use crate::store::{
    touch_id, Contact, Forget, InboxEntry, Opportunity, OutcomeOwner, ProfileField, Round,
    StoreError, StoredOutcome, StoredTouch,
};
use std::collections::BTreeSet;

/// What a committed delivery did, for metrics and logs.
#[derive(Debug, Default)]
pub struct Applied {
    pub touches: Vec<TouchKind>,
    pub duplicates: usize,
    pub dropped_erased: usize,
    /// Accounts whose line in their members' reasons changed.
    pub relined: usize,
    /// People erased or merged away, and deliveries naming erased people: their
    /// keys are destroyed and those deliveries sealed anew once the round is in.
    pub forget: Forget,
}

/// A group of deliveries being applied: the round of writes, and what is left to
/// do once every event is in.
pub(super) struct Apply<'s> {
    pub(super) round: Round<'s>,
    /// Buying-group changes, settled once at the end.
    pub(super) account_work: AccountWork,
    /// Contacts whose fields a rep might now see differently.
    pub(super) dirty: BTreeSet<u64>,
    pub(super) applied: Applied,
}

/// Applies consecutive deliveries as one commit: fewer transactions under load, and
/// a contact touched by many of them is queued for the CRMs once. The cursor moves
/// to the last one with them, so a crash replays the whole group or none of it.
pub fn apply_deliveries(
    context: &Context<'_>,
    deliveries: &[(u64, InboxEntry)],
) -> Result<Applied, StoreError> {
    let cursor = deliveries.last().map(|(seq, _)| *seq);
    apply_deliveries_upto(context, deliveries, cursor)
}

/// As [`apply_deliveries`], committing the cursor given: `None` for a part of a
/// delivery too large for one round, whose other parts are still to come. A crash
/// replays the whole delivery, and the events of parts already committed are
/// skipped as seen.
pub fn apply_deliveries_upto(
    context: &Context<'_>,
    deliveries: &[(u64, InboxEntry)],
    cursor: Option<u64>,
) -> Result<Applied, StoreError> {
    if deliveries.is_empty() {
        return Ok(Applied::default());
    }
    let mut apply = Apply {
        round: context.store.round(),
        account_work: AccountWork::new(),
        dirty: BTreeSet::new(),
        applied: Applied::default(),
    };
    for (seq, entry) in deliveries {
        for event in &entry.events {
            if apply.round.seen(&entry.source, &event.provider_id)? {
                apply.applied.duplicates += 1;
                continue;
            }
            apply.event(context, &entry.source, event)?;
            apply
                .round
                .mark_seen(&entry.source, &event.provider_id, *seq, entry.received_at);
        }
    }
    // Accounts first, so that what each contact is queued with carries its
    // account's line as these deliveries left it.
    let mut dirty = Vec::new();
    for id in std::mem::take(&mut apply.dirty) {
        if let Some(mut contact) = apply.round.contact(id)? {
            let moved = join_account(
                context,
                &mut apply.round,
                &mut contact,
                &mut apply.account_work,
            )?;
            dirty.push((contact, moved));
        }
    }
    let Apply {
        mut round,
        account_work,
        mut applied,
        ..
    } = apply;
    let relined = settle_accounts(context, &mut round, account_work)?;
    applied.relined = relined.len();
    let mut lines = MemberLines::default();
    let mut done = std::collections::BTreeSet::new();
    for (mut contact, moved) in dirty {
        let line = lines.of(&round, &contact)?;
        if queue(context, &mut round, &mut contact, line.as_deref())? || moved {
            round.put_contact(&contact)?;
        }
        done.insert(contact.id);
    }
    for account in &relined {
        ride_along(context, &mut round, account, &done)?;
    }
    let note = context.store.note_forget(&mut round, &applied.forget)?;
    round.commit(cursor)?;
    context.store.forget_noted(note, &applied.forget)?;
    Ok(applied)
}

/// Re-checks contacts whose displayed fields changed through decay alone, and their
/// accounts ("engaged this week" runs out with time alone). Returns how many
/// contacts were queued for the CRMs.
pub fn refresh(context: &Context<'_>, ids: &[u64]) -> Result<usize, StoreError> {
    let mut round = context.store.round();
    let mut work = AccountWork::new();
    let mut contacts = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(mut contact) = round.contact(*id)? else {
            continue;
        };
        // A member's part decays by itself and needs no new look; people from
        // before accounts existed, or whose account the settings moved, join.
        let moved = account_of(context, &mut round, &contact)? != contact.account_key
            && join_account(context, &mut round, &mut contact, &mut work)?;
        if let Some(key) = &contact.account_key {
            work.entry(key.clone()).or_default();
        }
        contacts.push((contact, moved));
    }
    settle_accounts(context, &mut round, work)?;
    let mut lines = MemberLines::default();
    let mut queued = 0;
    for (mut contact, moved) in contacts {
        let line = lines.of(&round, &contact)?;
        let changed = queue(context, &mut round, &mut contact, line.as_deref())?;
        queued += usize::from(changed);
        if changed || moved {
            round.put_contact(&contact)?;
        }
    }
    round.commit(None)?;
    Ok(queued)
}

impl Apply<'_> {
    fn event(
        &mut self,
        context: &Context<'_>,
        source: &str,
        event: &Event,
    ) -> Result<(), StoreError> {
        match &event.body {
            EventBody::Touch(touch) => self.touch(context, source, &event.provider_id, touch),
            EventBody::Identify { who } => self.identify(context, who),
            EventBody::Merge { into, from } => self.merge_event(context, into, from),
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
    ) -> Result<(), StoreError> {
        if self.any_erased(&touch.who)? {
            self.dropped(&touch.who);
            return Ok(());
        }
        let id = self.resolve(context, &touch.who)?;
        let mut contact = self.existing(id)?;
        // A clock ahead of ours must not lift attention above what is real now.
        let occurred_at = touch.occurred_at.min(context.now);
        let properties = self.paired(id, touch.kind, occurred_at, touch.properties.as_ref())?;
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
            properties,
        };
        if scoring::needs_replay(&contact.attention, touch.kind, occurred_at) {
            self.round.put_touch(id, &touch_id, &stored)?;
            self.recount(context, &mut contact)?;
        } else {
            let email = contact.email().map(str::to_owned);
            let counted = scoring::count(
                &mut contact.attention,
                touch.kind,
                occurred_at,
                stored.properties.as_ref(),
                email.as_deref(),
                context.scoring,
            );
            stored.weight = counted.weight;
            stored.notes = counted.notes;
            self.round.put_touch(id, &touch_id, &stored)?;
        }
        self.round.put_contact(&contact)?;
        self.dirty.insert(id);
        self.applied.touches.push(touch.kind);
        Ok(())
    }

    /// A webinar leave with the minutes since the join it closes, found in the
    /// contact's touch log; any other touch's properties as they came. A leave whose
    /// join is unknown stays without minutes and counts as little as a join.
    fn paired(
        &self,
        contact: u64,
        kind: TouchKind,
        at: crate::model::Millis,
        properties: Option<&serde_json::Value>,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let Some(leave) =
            properties.filter(|_| scoring::attendance::unpaired_leave(kind, properties))
        else {
            return Ok(properties.cloned());
        };
        let log = self.round.touch_log(contact)?;
        let minutes = scoring::attendance::minutes_since_join(
            leave,
            at,
            log.iter()
                .map(|(_, logged)| (logged.kind, logged.occurred_at, logged.properties.as_ref())),
        );
        let mut leave = leave.clone();
        if let Some(minutes) = minutes {
            leave[attendance::MINUTES] = minutes.into();
        }
        Ok(Some(leave))
    }

    /// Recounts a contact from its touch log after a touch arrived out of order, and
    /// rewrites the weights in the log that the recount changed.
    fn recount(&mut self, context: &Context<'_>, contact: &mut Contact) -> Result<(), StoreError> {
        let log = self.round.touch_log(contact.id)?;
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
                self.round.rewrite_touch(&key, &stored)?;
            }
        }
        Ok(())
    }

    /// Logs a revenue event under its opportunity and under every person and account
    /// linked to that opportunity, now or earlier; people linked now also get the
    /// opportunity's earlier outcomes. Without an opportunity, under its contact,
    /// else its account. A `linked` event only links.
    fn outcome(
        &mut self,
        context: &Context<'_>,
        source: &str,
        provider_id: &str,
        outcome: &Outcome,
    ) -> Result<(), StoreError> {
        if self.any_erased(&outcome.who)? {
            self.dropped(&outcome.who);
            return Ok(());
        }
        let mut linked = Vec::new();
        if !outcome.who.is_empty() {
            let id = self.resolve(context, &outcome.who)?;
            if let (Some(account), Some(mut contact)) = (&outcome.account, self.round.contact(id)?)
            {
                contact.account = Some(account.clone());
                self.round.put_contact(&contact)?;
            }
            linked.extend(outcome.who.iter().map(|who| context.store.link_of(who)));
        }
        for person in &outcome.people {
            if self.any_erased(std::slice::from_ref(person))? {
                self.dropped(std::slice::from_ref(person));
                continue;
            }
            self.resolve(context, std::slice::from_ref(person))?;
            linked.push(context.store.link_of(person));
        }
        let id = touch_id(source, provider_id);
        // Who it concerns is the key, so `who` and `people` are stored empty.
        let stored = StoredOutcome {
            id: hex::encode(id),
            source: source.to_string(),
            outcome: Outcome {
                who: Vec::new(),
                people: Vec::new(),
                ..outcome.clone()
            },
        };
        let Some(key) = &outcome.opportunity else {
            if outcome.kind == OutcomeKind::Linked {
                return Ok(());
            }
            let owner = match (linked.first(), &outcome.account) {
                (Some(first), _) => match self.round.linked(first)? {
                    Some(contact) => OutcomeOwner::Contact(contact),
                    None => return Ok(()),
                },
                (None, Some(account)) => OutcomeOwner::Account(account),
                (None, None) => return Ok(()),
            };
            return self
                .round
                .put_outcome(owner, outcome.occurred_at, &id, &stored);
        };
        let mut opportunity = self
            .round
            .opportunity(key)?
            .unwrap_or_else(|| Opportunity::new(key));
        let mut new_people = Vec::new();
        for identity in linked {
            if opportunity.link_person(identity.clone(), outcome.role.clone(), outcome.primary) {
                new_people.push(identity);
            }
        }
        let new_account = outcome
            .account
            .as_deref()
            .filter(|account| opportunity.link_account(account));
        if outcome.amount.is_some() {
            opportunity.amount = outcome.amount;
            opportunity.currency = outcome.currency.clone().or(opportunity.currency);
        }
        if outcome.stage.is_some() {
            opportunity.stage = outcome.stage.clone();
        }
        let names_nobody =
            outcome.who.is_empty() && outcome.people.is_empty() && outcome.account.is_none();
        if outcome.kind == OutcomeKind::Linked {
            // An answer read from the CRM at `occurred_at` covers what waited before.
            opportunity.looked_up_at = opportunity.looked_up_at.max(Some(outcome.occurred_at));
        } else if names_nobody {
            opportunity.lookup_wanted_at = Some(context.now);
        }
        // Earlier outcomes of the opportunity go to the people and account linked now.
        let earlier = self.round.opportunity_log(key)?;
        for identity in &new_people {
            if let Some(contact) = self.linked_contact(identity)? {
                self.copy_outcomes(OutcomeOwner::Contact(contact), &earlier)?;
            }
        }
        if let Some(account) = new_account {
            self.copy_outcomes(OutcomeOwner::Account(account), &earlier)?;
        }
        if outcome.kind != OutcomeKind::Linked {
            self.round.put_outcome(
                OutcomeOwner::Opportunity(key),
                outcome.occurred_at,
                &id,
                &stored,
            )?;
            for person in &opportunity.people {
                if let Some(contact) = self.linked_contact(&person.identity)? {
                    self.round.put_outcome(
                        OutcomeOwner::Contact(contact),
                        outcome.occurred_at,
                        &id,
                        &stored,
                    )?;
                }
            }
            for account in &opportunity.accounts {
                self.round.put_outcome(
                    OutcomeOwner::Account(account),
                    outcome.occurred_at,
                    &id,
                    &stored,
                )?;
            }
        }
        self.round.put_opportunity(&opportunity)
    }

    /// The contact a linked identity names now (merges move people; erasure forgets
    /// them).
    fn linked_contact(&self, identity: &str) -> Result<Option<u64>, StoreError> {
        self.round.linked(identity)
    }

    fn copy_outcomes(
        &mut self,
        owner: OutcomeOwner<'_>,
        outcomes: &[StoredOutcome],
    ) -> Result<(), StoreError> {
        for stored in outcomes {
            let Some(id) = hex::decode(&stored.id)
                .ok()
                .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
            else {
                continue;
            };
            self.round
                .put_outcome(owner, stored.outcome.occurred_at, &id, stored)?;
        }
        Ok(())
    }

    fn profile(
        &mut self,
        context: &Context<'_>,
        source: &str,
        profile: &Profile,
    ) -> Result<(), StoreError> {
        if self.any_erased(&profile.who)? {
            self.dropped(&profile.who);
            return Ok(());
        }
        if profile.who.is_empty() {
            return Ok(());
        }
        let id = self.resolve(context, &profile.who)?;
        let Some(mut contact) = self.round.contact(id)? else {
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
        // A profile alone can change fit, stage and buying group: the contact is
        // looked at now, as a restart's refresh would.
        self.dirty.insert(id);
        self.round.put_contact(&contact)
    }
}
