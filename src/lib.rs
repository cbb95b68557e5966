//! attentiond: signed webhooks in, a living attention score per contact out to the CRM.
//!
//! Flow: `http` (ingest) → `store` (durable inbox) → `pipeline` (normalized events,
//! identity resolution, `scoring`) → `store` (outbox) → `sinks` (CRM REST APIs).

pub mod cli;
pub mod clock;
pub mod config;
pub mod fields;
pub mod http;
pub mod learn;
pub mod links;
pub mod metrics;
pub mod model;
pub mod numbers;
pub mod pipeline;
pub mod report;
pub mod scoring;
pub mod secret;
pub mod server;
pub mod sinks;
pub mod sources;
pub mod store;
pub mod views;
