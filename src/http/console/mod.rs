//! The web console: server-rendered pages for the people who run attentiond,
//! reading the same views the admin API serves. Sign-in and CSRF are in `session`,
//! delivery and write figures in `activity`, the attention chart in `chart`.
//! Templates are compiled in from `templates/`, and the stylesheet and script from
//! `assets/`, so the console works offline.

pub mod activity;
mod chart;
mod pages;
pub mod session;
mod sign_in;

use self::activity::Activity;
use self::session::{Role, Session, Sessions, COOKIE};
use super::{AppState, Problem};
use crate::clock::now_millis;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the sinks' counters are read for the overview.
const LOOK_EVERY: Duration = Duration::from_secs(5);

/// What the console keeps while the daemon runs.
pub struct Console {
    pub sessions: Sessions,
    pub activity: Activity,
}

impl Console {
    /// Starts looking at the sinks every few seconds while the console lives.
    pub fn start(config: &Config, store: Store, metrics: Arc<Metrics>) -> Arc<Console> {
        let console = Arc::new(Console {
            sessions: Sessions::new(config.console.session_hours),
            activity: Activity::load(store),
        });
        let sinks: Vec<String> = config.sinks.keys().cloned().collect();
        let watched: Weak<Console> = Arc::downgrade(&console);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(LOOK_EVERY).await;
                let Some(console) = watched.upgrade() else {
                    return;
                };
                console
                    .activity
                    .look_at_sinks(&metrics, &sinks, now_millis());
            }
        });
        console
    }
}

impl Drop for Console {
    /// The last counts are kept when the daemon stops.
    fn drop(&mut self) {
        self.activity.save_now();
    }
}

/// The console's routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(pages::overview))
        .route("/people", web::get().to(pages::people))
        .route("/people/{key}", web::get().to(pages::person))
        .route("/accounts", web::get().to(pages::accounts))
        .route("/accounts/{key}", web::get().to(pages::account))
        .route("/dead-letters", web::get().to(pages::dead_letters))
        .route(
            "/dead-letters/{id}/retry",
            web::post().to(pages::retry_dead_letter),
        )
        .route(
            "/dead-letters/{id}/delete",
            web::post().to(pages::delete_dead_letter),
        )
        .route("/scoring", web::get().to(pages::scoring))
        .route("/sign-in", web::get().to(sign_in::form))
        .route("/sign-in", web::post().to(sign_in::sign_in))
        .route("/sign-out", web::post().to(sign_in::sign_out))
        .route("/assets/{name}", web::get().to(asset));
}

/// Someone signed in: their session id and what it holds.
pub struct Visitor {
    pub id: String,
    pub session: Session,
}

impl Visitor {
    pub fn admin(&self) -> bool {
        self.session.role == Role::Admin
    }
}

pub fn visitor(state: &AppState, request: &HttpRequest) -> Option<Visitor> {
    let cookie = request.cookie(COOKIE)?;
    let id = cookie.value().to_string();
    let session = state.console.sessions.find(&id, now_millis())?;
    Some(Visitor { id, session })
}

/// The visitor, or the way to the sign-in page (then back here).
pub fn signed_in(state: &AppState, request: &HttpRequest) -> Result<Visitor, Box<HttpResponse>> {
    visitor(state, request).ok_or_else(|| {
        let back = request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let target = format!(
            "/sign-in?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("next", back)
                .finish()
        );
        Box::new(
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish(),
        )
    })
}

/// Headers every page carries: nothing from elsewhere runs, nothing frames it,
/// nothing is cached.
pub fn page(status: u16, html: String) -> HttpResponse {
    let status =
        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK);
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // `no-referrer` would make browsers send `Origin: null` with our own forms.
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}

pub fn render(template: &impl askama::Template) -> Result<String, Problem> {
    template.render().map_err(|error| {
        tracing::error!(message = "A console page could not be rendered.", %error);
        Problem::new(500, "the page could not be rendered")
    })
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
