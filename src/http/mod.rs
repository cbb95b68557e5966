//! The HTTP face: webhooks in, the admin API, health and metrics. The only room that
//! knows actix-web.

pub mod admin;
pub mod admin_lists;
mod admin_quarantine;
mod body;
pub mod console;
mod cors;
mod ingest;
mod openapi;
mod ops;
mod privacy;
mod problem;
mod state;

pub use body::{BodyError, Inflow, Intake};
pub use problem::{bare_errors, Problem};
pub use state::AppState;

use actix_web::web;

/// Registers every route on an actix `App`.
pub fn routes(config: &mut web::ServiceConfig) {
    // One resource per path with all its methods, so that another method on a known
    // path is answered 405 (and a problem body, by `bare_errors`), not 404.
    config
        .service(
            web::resource("/webhooks/{source}")
                .route(web::post().to(ingest::webhook))
                // Some platforms check the URL with a GET or HEAD before sending events.
                .route(web::get().to(ingest::webhook))
                .route(web::head().to(ingest::webhook))
                // Browsers ask before a page of another site may send (analytics.js).
                .route(web::method(actix_web::http::Method::OPTIONS).to(cors::preflight)),
        )
        // Sources that speak a whole API (the Segment tracking API's /v1/batch, …)
        // get the rest of the path; the adapter reads it from the delivery's URL.
        .service(
            web::resource("/webhooks/{source}/{rest:.*}")
                .route(web::post().to(ingest::webhook_path))
                .route(web::method(actix_web::http::Method::OPTIONS).to(cors::preflight)),
        )
        .service(web::resource("/healthz").route(web::get().to(ops::healthz)))
        .service(web::resource("/readyz").route(web::get().to(ops::readyz)))
        .service(web::resource("/metrics").route(web::get().to(ops::metrics)))
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
                .service(resource_get("/openapi.json", openapi::document))
                .service(resource_get("/contacts", admin_lists::contacts))
                .service(resource_get("/accounts", admin_lists::accounts))
                .service(resource_get("/sources", admin_lists::sources))
                .service(resource_get("/sinks", admin_lists::sinks))
                .service(
                    web::resource("/contacts/{key}")
                        .route(web::get().to(admin::contact))
                        .route(web::delete().to(privacy::erase)),
                )
                .service(resource_get("/contacts/{key}/export", privacy::export))
                .service(resource_get("/contacts/{key}/explain", admin::explain))
                .service(resource_get("/accounts/{key}", admin::account))
                .service(resource_get("/outcomes", admin::outcomes))
                .service(resource_get("/model", admin::model))
                .service(resource_get("/report", admin::report))
                .service(resource_get("/dead-letters", admin::dead_letters))
                .service(
                    web::resource("/dead-letters/retry")
                        .route(web::post().to(admin::retry_all_dead_letters)),
                )
                .service(
                    web::resource("/dead-letters/{id}/retry")
                        .route(web::post().to(admin::retry_dead_letter)),
                )
                .service(
                    web::resource("/dead-letters/{id}")
                        .route(web::delete().to(admin::delete_dead_letter)),
                )
                .service(resource_get("/quarantine", admin_quarantine::list))
                .service(
                    web::resource("/quarantine/{id}/retry")
                        .route(web::post().to(admin_quarantine::retry)),
                )
                .service(
                    web::resource("/quarantine/{id}")
                        .route(web::delete().to(admin_quarantine::drop)),
                )
                .default_service(web::to(unknown_route)),
        )
        .configure(console::routes)
        .default_service(web::to(unknown_route));
}

/// A path served to `GET` (and so `HEAD`) only.
fn resource_get<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path).route(web::get().to(handler))
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
