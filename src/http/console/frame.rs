//! What every console page shares: the frame (title, navigation, who is signed in,
//! the CSRF token for sign-out), how times and durations read, links to records, and
//! the page for a record that is not there.

use super::session::{Role, Session, COOKIE};
use crate::clock::now_millis;
use crate::http::problem::Problem;
use crate::http::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// What every page's frame shows.
pub struct Frame {
    pub title: String,
    pub nav: Vec<NavItem>,
    pub role: &'static str,
    pub csrf: String,
}

impl Frame {
    pub fn new(visitor: &Visitor, title: impl Into<String>, current: &str) -> Frame {
        let nav = [
            ("/", "Overview"),
            ("/people", "People"),
            ("/accounts", "Accounts"),
            ("/dead-letters", "Dead letters"),
            ("/scoring", "Scoring"),
        ]
        .into_iter()
        .map(|(href, label)| NavItem {
            href,
            label,
            current: href == current,
        })
        .collect();
        Frame {
            title: title.into(),
            nav,
            role: visitor.session.role.name(),
            csrf: visitor.session.csrf.clone(),
        }
    }
}

/// A time as people read it: to the minute, UTC.
pub fn when(text: &str) -> String {
    text.get(..16)
        .map(|t| format!("{} UTC", t.replace('T', " ")))
        .unwrap_or_else(|| text.to_string())
}

pub fn when_or_never(text: Option<&str>) -> String {
    text.map(when).unwrap_or_else(|| "never".into())
}

pub fn duration(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3_600),
        s => format!("{} days", s / 86_400),
    }
}

pub fn escape_path(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

pub fn account_link(key: &str) -> String {
    format!("/accounts/{}", escape_path(key))
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    frame: Frame,
    heading: String,
    text: String,
    back: String,
}

pub fn not_found(
    visitor: &Visitor,
    what: &str,
    text: String,
    back: &str,
) -> Result<HttpResponse, Problem> {
    let html = render(&MessagePage {
        frame: Frame::new(visitor, what, back),
        heading: what.to_string(),
        text,
        back: back.to_string(),
    })?;
    Ok(page(404, html))
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
