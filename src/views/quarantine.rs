//! The quarantine as the admin API and `attentiond quarantine list` show it.

use crate::clock::rfc3339;
use crate::store::{Parked, Store, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// A delivery the pipeline failed to apply on every attempt, parked with its error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParkedView {
    /// The sequence number it had in the inbox, as decimal text: the id to retry
    /// or drop it by.
    pub id: String,
    /// The source it came through; empty when the stored entry itself is unreadable.
    pub source: String,
    pub received_at: String,
    pub parked_at: String,
    pub attempts: u32,
    /// The last error met applying it.
    pub error: String,
    /// Events it carries (0 when the stored entry is unreadable).
    pub events: usize,
    /// Bytes of the stored entry, raw body included.
    pub bytes: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineView {
    pub quarantine: Vec<ParkedView>,
}

impl From<&Parked> for ParkedView {
    fn from(parked: &Parked) -> ParkedView {
        ParkedView {
            id: parked.id.to_string(),
            source: parked.source.clone(),
            received_at: rfc3339(parked.received_at),
            parked_at: rfc3339(parked.parked_at),
            attempts: parked.attempts,
            error: parked.error.clone(),
            events: parked.events,
            bytes: parked.bytes,
        }
    }
}

pub fn quarantine(store: &Store) -> Result<QuarantineView, StoreError> {
    Ok(QuarantineView {
        quarantine: store.quarantined()?.iter().map(ParkedView::from).collect(),
    })
}
