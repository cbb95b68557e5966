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
    let at = |path: &str| web::resource(path.to_string());
    config
        .service(at("/").route(web::get().to(overview::overview)))
        .service(at("/people").route(web::get().to(people::people)))
        .service(at("/people/{key}").route(web::get().to(person::person)))
        .service(at("/accounts").route(web::get().to(accounts::accounts)))
        .service(at("/accounts/{key}").route(web::get().to(accounts::account)))
        .service(at("/dead-letters").route(web::get().to(letters::dead_letters)))
        .service(at("/dead-letters/{id}/retry").route(web::post().to(letters::retry_dead_letter)))
        .service(at("/dead-letters/{id}/delete").route(web::post().to(letters::delete_dead_letter)))
        .service(at("/scoring").route(web::get().to(scoring::scoring)))
        .service(at("/scoring/report").route(web::get().to(scoring::report)))
        .service(
            at("/sign-in")
                .route(web::get().to(sign_in::form))
                .route(web::post().to(sign_in::sign_in)),
        )
        .service(at("/sign-out").route(web::post().to(sign_in::sign_out)))
        .service(at("/assets/{name}").route(web::get().to(asset)))
        // Browsers ask for it on every page that names none (a problem answer).
        .service(at("/favicon.ico").route(web::get().to(no_icon)));
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
