//! Identity resolution: which contact the identities of an event belong to. A new
//! person gets a contact; identities spread over several contacts merge them into
//! one (exactly: attention sums are linear); a CRM merge retires the losing ids; an
//! erasure forgets the person and remembers only a hash of who it was.

use super::apply::Apply;
use super::context::Context;
use crate::model::Identity;

/// Profile fields that name or reach the person (not their title or company),
/// searched for in the deliveries to forget.
fn is_personal(field: &str) -> bool {
    let field = field.to_ascii_lowercase();
    (field.contains("name") && !field.contains("company"))
        || ["phone", "mobile", "email"]
            .iter()
            .any(|word| field.contains(word))
}
use crate::store::{Contact, StoreError};

impl Apply<'_> {
    /// An identify event: the identities are one person from now on.
    pub(super) fn identify(
        &mut self,
        context: &Context<'_>,
        who: &[Identity],
    ) -> Result<(), StoreError> {
        if self.any_erased(who)? {
            self.dropped(who);
            return Ok(());
        }
        let id = self.resolve(context, who)?;
        self.dirty.insert(id);
        Ok(())
    }

    /// A CRM merged records: the contacts known by `from` join the one known by
    /// `into`, whose id wins.
    pub(super) fn merge_event(
        &mut self,
        context: &Context<'_>,
        into: &Identity,
        from: &[Identity],
    ) -> Result<(), StoreError> {
        let mut all = vec![into.clone()];
        all.extend(from.iter().cloned());
        if self.any_erased(&all)? {
            self.dropped(&all);
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
        let winner = self.resolve_inner(context, &known, Some(into))?;
        if let Some(mut contact) = self.round.contact(winner)? {
            // The losing CRM ids are no longer records to write to, but late
            // events naming them still resolve here through `identities`.
            contact.identities.retain(|known| !from.contains(known));
            for identity in from {
                if !contact.retired.contains(identity) {
                    contact.retired.push(identity.clone());
                }
            }
            contact.add_identity(into.clone());
            self.round.put_contact(&contact)?;
        }
        for identity in from.iter().chain(std::iter::once(into)) {
            self.round.map_identity(identity, winner);
        }
        self.dirty.insert(winner);
        Ok(())
    }

    /// An event about an erased person is dropped, and the delivery that brought
    /// it is sealed anew without it once the round is in.
    pub(super) fn dropped(&mut self, who: &[Identity]) {
        self.applied.dropped_erased += 1;
        for identity in who {
            self.applied.forget.identity(identity);
        }
    }

    pub(super) fn any_erased(&self, who: &[Identity]) -> Result<bool, StoreError> {
        for identity in who {
            if self.round.is_erased(identity)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn lookup(&self, identity: &Identity) -> Result<Option<u64>, StoreError> {
        let Some(id) = self.round.identity(identity)? else {
            return Ok(None);
        };
        // A mapping to a contact that no longer exists is treated as unknown.
        Ok(self.round.has_contact(id)?.then_some(id))
    }

    /// A contact that resolution has just made sure of.
    pub(super) fn existing(&self, id: u64) -> Result<Contact, StoreError> {
        self.round.contact(id)?.ok_or_else(|| StoreError::Corrupt {
            tree: "contacts",
            key: id.to_string(),
        })
    }

    /// The one contact these identities belong to: found, created, or made by merging
    /// the contacts they were spread over.
    pub(super) fn resolve(
        &mut self,
        context: &Context<'_>,
        who: &[Identity],
    ) -> Result<u64, StoreError> {
        self.resolve_inner(context, who, None)
    }

    fn resolve_inner(
        &mut self,
        context: &Context<'_>,
        who: &[Identity],
        preferred: Option<&Identity>,
    ) -> Result<u64, StoreError> {
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
                let id = self.round.new_contact_id()?;
                self.round.put_contact(&Contact::new(id, context.now))?;
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
        let mut contact = self.existing(winner)?;
        for identity in who {
            contact.add_identity(identity.clone());
            self.round.map_identity(identity, winner);
        }
        self.round.put_contact(&contact)?;
        Ok(winner)
    }

    /// The preferred identity's contact if given; else one known by email or CRM id
    /// rather than an anonymous visitor; else the oldest.
    fn pick_winner(
        &self,
        candidates: &[u64],
        preferred: Option<&Identity>,
    ) -> Result<u64, StoreError> {
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
                .round
                .contact(*id)?
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
    fn merge(&mut self, context: &Context<'_>, winner: u64, loser: u64) -> Result<(), StoreError> {
        let (Some(mut into), Some(from)) =
            (self.round.contact(winner)?, self.round.contact(loser)?)
        else {
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
            self.round.map_identity(&identity, winner);
            into.add_identity(identity);
        }
        for identity in from.retired {
            self.round.map_identity(&identity, winner);
            if !into.retired.contains(&identity) {
                into.retired.push(identity);
            }
        }
        into.merge_profile(from.profile);
        // Everything of the loser is sealed again under the winner's key; the
        // loser's key, and with it every old copy, goes once the round is in.
        self.applied.forget.contacts.insert(loser);
        self.round.move_touches(loser, winner)?;
        self.round.move_outcomes(loser, winner)?;
        self.round.remove_contact(loser);
        for sink in context.sinks.keys() {
            self.round.unqueue_contact(sink, loser)?;
        }
        self.dirty.remove(&loser);
        self.round.put_contact(&into)?;
        self.dirty.insert(winner);
        Ok(())
    }

    /// Forgets a person: contact, identities, touches, outcomes, pending pushes,
    /// dead letters; once the round is in, their key and the deliveries naming them.
    pub(super) fn erase(
        &mut self,
        context: &Context<'_>,
        who: &Identity,
    ) -> Result<(), StoreError> {
        self.round.mark_erased(who, context.now);
        self.applied.forget.identity(who);
        let Some(id) = self.lookup(who)? else {
            return Ok(());
        };
        self.round.unmap_identity(who);
        match self.round.contact(id)? {
            Some(contact) => self.erase_contact(context, &contact),
            None => self.erase_id(context, id),
        }
    }

    /// Forgets a known contact, under every identity it has had.
    pub(super) fn erase_contact(
        &mut self,
        context: &Context<'_>,
        contact: &Contact,
    ) -> Result<(), StoreError> {
        let id = contact.id;
        if let Some(account) = &contact.account_key {
            self.account_work
                .entry(account.clone())
                .or_default()
                .insert(id, None);
        }
        for identity in contact.identities.iter().chain(&contact.retired) {
            self.round.unmap_identity(identity);
            self.round.mark_erased(identity, context.now);
            self.applied.forget.identity(identity);
        }
        for (name, field) in &contact.profile {
            if is_personal(name) {
                self.applied.forget.word(&field.value);
            }
        }
        self.erase_id(context, id)
    }

    fn erase_id(&mut self, context: &Context<'_>, id: u64) -> Result<(), StoreError> {
        self.applied.forget.contacts.insert(id);
        self.round.remove_touches(id)?;
        self.round.remove_outcomes(id)?;
        self.round.remove_contact(id);
        for sink in context.sinks.keys() {
            self.round.unqueue_contact(sink, id)?;
        }
        self.round.remove_dead_letters_of(id)?;
        self.dirty.remove(&id);
        Ok(())
    }
}
