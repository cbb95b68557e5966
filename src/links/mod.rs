//! Lookups: what a CRM's webhook leaves out and its API tells. A HubSpot deal
//! webhook names the deal only; this room finds the opportunities waiting for their
//! people (a store door), asks the CRM, and hands the answer back as a delivery
//! through the inbox, so that it is applied, deduplicated and crash-safe like any
//! webhook. It knows reqwest; it never writes state itself.

mod hubspot;

pub use hubspot::DealLookup;

/// Why a lookup did not get its answer this time; it is tried again later.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("cannot reach the CRM: {0}")]
    Unreachable(#[from] reqwest::Error),
    #[error("the CRM answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("the CRM kept answering {status} after {attempts} attempts")]
    GaveUp { status: u16, attempts: u32 },
    #[error(transparent)]
    Answer(#[from] crate::sources::SourceError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
