//! The web console: server-rendered pages for the people who run attentiond,
//! reading the same views the admin API serves. Sign-in and CSRF are in `session`,
//! delivery and write figures in `activity`, the attention chart in `chart`.
//! Templates are compiled in from `templates/`, and the stylesheet and script from
//! `assets/`, so the console works offline.

mod accounts;
pub mod activity;
mod chart;
mod frame;
mod letters;
mod list_form;
mod overview;
mod people;
mod person;
mod scoring;
pub mod session;
mod sign_in;
pub mod state;

use super::problem::Problem;
use actix_web::http::header;
use actix_web::{web, HttpResponse};

/// The console's routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(overview::overview))
        .route("/people", web::get().to(people::people))
        .route("/people/{key}", web::get().to(person::person))
        .route("/accounts", web::get().to(accounts::accounts))
        .route("/accounts/{key}", web::get().to(accounts::account))
        .route("/dead-letters", web::get().to(letters::dead_letters))
        .route(
            "/dead-letters/{id}/retry",
            web::post().to(letters::retry_dead_letter),
        )
        .route(
            "/dead-letters/{id}/delete",
            web::post().to(letters::delete_dead_letter),
        )
        .route("/scoring", web::get().to(scoring::scoring))
        .route("/scoring/report", web::get().to(scoring::report))
        .route("/sign-in", web::get().to(sign_in::form))
        .route("/sign-in", web::post().to(sign_in::sign_in))
        .route("/sign-out", web::post().to(sign_in::sign_out))
        .route("/assets/{name}", web::get().to(asset))
        // Browsers ask for it on every page that names none (a problem answer).
        .route("/favicon.ico", web::get().to(no_icon));
}

async fn no_icon() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .finish()
}

const STYLESHEET: &str = include_str!("../../../assets/console.css");
const SCRIPT: &str = include_str!("../../../assets/console.js");

/// The stylesheet and the script, compiled into the binary.
async fn asset(name: web::Path<String>) -> Result<HttpResponse, Problem> {
    let (body, kind) = match name.as_str() {
        "console.css" => (STYLESHEET, "text/css; charset=utf-8"),
        "console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        other => return Err(Problem::new(404, format!("no asset named `{other}`"))),
    };
    Ok(HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body))
}
