//! The HTTP face: webhooks in, the admin API, health and metrics. The only room that
//! knows actix-web.

pub mod admin;
mod ingest;
mod ops;
mod problem;

pub use problem::Problem;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::pipeline::PipelineHealth;
use crate::store::{GroupCommit, Store};
use actix_web::web;
use std::sync::Arc;

/// Everything a request handler may use.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub commit: GroupCommit,
    pub metrics: Arc<Metrics>,
    pub pipeline: PipelineHealth,
}

/// Registers every route on an actix `App`.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/webhooks/{source}", web::post().to(ingest::webhook))
        // Some platforms check the URL with a GET or HEAD before sending events.
        .route("/webhooks/{source}", web::get().to(ingest::webhook))
        .route("/webhooks/{source}", web::head().to(ingest::webhook))
        // Sources that speak a whole API (the Segment tracking API's /v1/batch, …)
        // get the rest of the path; the adapter reads it from the delivery's URL.
        .route(
            "/webhooks/{source}/{rest:.*}",
            web::post().to(ingest::webhook_path),
        )
        .route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route("/metrics", web::get().to(ops::metrics))
        .service(
            web::scope("/api/v1")
                .route("/contacts/{key}", web::get().to(admin::contact))
                .route("/contacts/{key}/explain", web::get().to(admin::explain))
                .route("/accounts/{key}", web::get().to(admin::account))
                .route("/outcomes", web::get().to(admin::outcomes))
                .route("/model", web::get().to(admin::model))
                .route("/report", web::get().to(admin::report))
                .route("/dead-letters", web::get().to(admin::dead_letters))
                .route(
                    "/dead-letters/retry",
                    web::post().to(admin::retry_all_dead_letters),
                )
                .route(
                    "/dead-letters/{id}/retry",
                    web::post().to(admin::retry_dead_letter),
                )
                .route(
                    "/dead-letters/{id}",
                    web::delete().to(admin::delete_dead_letter),
                ),
        );
}
