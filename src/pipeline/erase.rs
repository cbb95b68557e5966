//! Erasing a person on request (`DELETE /api/v1/contacts/{key}`, `attentiond
//! erase`): the same forgetting a CRM's privacy deletion brings, run by the one
//! writer of people. The daemon's handlers hand requests to the pipeline thread
//! through [`Erasures`]; the CLI, with the daemon stopped, calls [`erase`] itself.

use super::accounts::{settle_accounts, AccountWork};
use super::apply::{Applied, Apply};
use super::context::Context;
use crate::model::ContactKey;
use crate::store::{Store, StoreError};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// What an erasure did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Erased {
    /// The contact that was forgotten, `c_<n>`.
    pub erased: String,
    /// How many of their identities (emails, CRM and anonymous ids) are now
    /// remembered only as hashes, to drop later events about them.
    pub identities: usize,
}

/// Forgets the person `key` names: their records in one round, then their key and
/// the deliveries naming them. `None` when nobody is known by `key`.
pub fn erase(context: &Context<'_>, key: &ContactKey) -> Result<Option<Erased>, StoreError> {
    let Some(contact) = context.store.find_contact(key)? else {
        return Ok(None);
    };
    let mut apply = Apply {
        round: context.store.round(),
        account_work: AccountWork::new(),
        dirty: BTreeSet::new(),
        applied: Applied::default(),
    };
    apply.erase_contact(context, &contact)?;
    let Apply {
        mut round,
        account_work,
        applied,
        ..
    } = apply;
    settle_accounts(context, &mut round, account_work)?;
    let note = context.store.note_forget(&mut round, &applied.forget)?;
    round.commit(None)?;
    context.store.flush()?;
    context.store.forget_noted(note, &applied.forget)?;
    Ok(Some(Erased {
        erased: format!("c_{}", contact.id),
        identities: contact.identities.len() + contact.retired.len(),
    }))
}

type Answer = tokio::sync::oneshot::Sender<Result<Option<Erased>, String>>;

/// Erasure requests waiting for the pipeline thread.
#[derive(Clone)]
pub struct Erasures {
    waiting: Arc<Mutex<Vec<(ContactKey, Answer)>>>,
    store: Store,
}

impl Erasures {
    pub(super) fn new(store: Store) -> Erasures {
        Erasures {
            waiting: Arc::default(),
            store,
        }
    }

    /// Asks the pipeline to erase `key`, and waits for it to be done: the records
    /// deleted, the key destroyed, the deliveries sealed anew.
    pub async fn request(&self, key: ContactKey) -> Result<Option<Erased>, String> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((key, answer));
        self.store.wake_pipeline();
        answered
            .await
            .map_err(|_| "the pipeline stopped before the erasure".to_string())?
    }

    pub(super) fn take(&self) -> Vec<(ContactKey, Answer)> {
        std::mem::take(
            &mut *self
                .waiting
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    pub(super) fn is_waiting(&self) -> bool {
        !self
            .waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_empty()
    }
}
