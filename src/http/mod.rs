//! The HTTP face: webhooks in, the admin API, health and metrics. The only room that
//! knows actix-web.

pub mod admin;
pub mod admin_lists;
mod admin_quarantine;
mod body;
pub mod console;
mod ingest;
mod openapi;
mod ops;
mod problem;
mod state;

pub use body::{BodyError, Inflow, Intake};
pub use problem::Problem;
pub use state::AppState;

use actix_web::web;

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
        .app_data(web::QueryConfig::default().error_handler(|error, _| {
            Problem::new(400, format!("cannot read the query: {error}")).into()
        }))
        .app_data(web::PathConfig::default().error_handler(|error, _| {
            Problem::new(400, format!("cannot read the path: {error}")).into()
        }))
        .app_data(web::FormConfig::default().error_handler(|error, _| {
            Problem::new(400, format!("cannot read the form: {error}")).into()
        }))
        .service(
            web::scope("/api/v1")
                .route("/openapi.json", web::get().to(openapi::document))
                .route("/contacts", web::get().to(admin_lists::contacts))
                .route("/accounts", web::get().to(admin_lists::accounts))
                .route("/sources", web::get().to(admin_lists::sources))
                .route("/sinks", web::get().to(admin_lists::sinks))
                .route("/contacts/{key}", web::get().to(admin::contact))
                .route("/contacts/{key}/explain", web::get().to(admin::explain))
                .route("/accounts/{key}", web::get().to(admin::account))
                .route("/outcomes", web::get().to(admin::outcomes))
                .route("/model", web::get().to(admin::model))
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
                )
                .route("/quarantine", web::get().to(admin_quarantine::list))
                .route(
                    "/quarantine/{id}/retry",
                    web::post().to(admin_quarantine::retry),
                )
                .route("/quarantine/{id}", web::delete().to(admin_quarantine::drop)),
        )
        .configure(console::routes)
        .default_service(web::to(unknown_route));
}

/// Anything not routed: a 404 problem, like every other error.
async fn unknown_route(
    request: actix_web::HttpRequest,
) -> Result<actix_web::HttpResponse, Problem> {
    Err(Problem::new(
        404,
        format!("nothing is served at `{}`", request.path()),
    ))
}
