//! Signing in with a token and out again.

use super::frame::{page, render, visitor};
use super::session::{
    cleared_cookie, csrf_matches, over_https, role_of_token, same_origin, session_cookie,
};
use crate::clock::now_millis;
use crate::http::problem::Problem;
use crate::http::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    message: Option<String>,
    next: String,
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    /// Set after a wrong token: the form says so.
    failed: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct SignInForm {
    token: String,
    #[serde(default)]
    next: String,
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Only a path of our own: never another site.
fn local(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        "/".to_string()
    }
}

pub async fn form(query: web::Query<NextQuery>) -> Result<HttpResponse, Problem> {
    let html = render(&SignInPage {
        message: query
            .failed
            .is_some()
            .then(|| "That token is not the admin token nor a viewer token.".to_string()),
        next: local(query.next.as_deref().unwrap_or("/")),
    })?;
    Ok(page(200, html))
}

pub async fn sign_in(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, Problem> {
    if !same_origin(&state.config, &request) {
        return Err(Problem::new(
            403,
            "a sign-in must come from the console's own page",
        ));
    }
    let next = local(&form.next);
    let Some(role) = role_of_token(&state.config, &form.token) else {
        tracing::warn!(message = "Console sign-in with a wrong token.");
        // Back to the form, which says so; no session, no cookie.
        let again = format!(
            "/sign-in?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("failed", "1")
                .append_pair("next", &next)
                .finish()
        );
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, again))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    };
    let (id, _) = state.console.sessions.open(role, now_millis());
    let secure = over_https(&state.config, &request);
    tracing::info!(message = "Console sign-in.", role = role.name());
    Ok(HttpResponse::SeeOther()
        .cookie(session_cookie(
            &id,
            secure,
            state.console.sessions.lifetime_secs(),
        ))
        .insert_header((header::LOCATION, next))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

pub async fn sign_out(
    state: web::Data<AppState>,
    request: HttpRequest,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, Problem> {
    let Some(visitor) = visitor(&state, &request) else {
        return Err(Problem::new(401, "not signed in"));
    };
    if !same_origin(&state.config, &request) || !csrf_matches(&visitor.session, &form.csrf) {
        return Err(Problem::new(
            403,
            "the form's CSRF token is missing or wrong",
        ));
    }
    state.console.sessions.close(&visitor.id);
    Ok(HttpResponse::SeeOther()
        .cookie(cleared_cookie(over_https(&state.config, &request)))
        .insert_header((header::LOCATION, "/sign-in"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
