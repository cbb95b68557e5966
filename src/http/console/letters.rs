//! Dead letters: listed for everyone, retried or deleted by an admin from a form
//! that carries the session's CSRF token.

use super::frame::{account_link, when, Frame};
use super::frame::{page, render, signed_in};
use super::session::{csrf_matches, same_origin};
use crate::clock::now_millis;
use crate::http::admin::internal;
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::views;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

pub struct LetterLine {
    id: String,
    sink: String,
    record: String,
    href: Option<String>,
    error: String,
    attempts: u32,
    failed_at: String,
}

#[derive(Template)]
#[template(path = "dead_letters.html")]
struct DeadLettersPage {
    frame: Frame,
    admin: bool,
    notice: Option<String>,
    letters: Vec<LetterLine>,
}

#[derive(serde::Deserialize)]
pub struct Notice {
    done: Option<String>,
}

pub async fn dead_letters(
    state: web::Data<AppState>,
    request: HttpRequest,
    notice: web::Query<Notice>,
) -> Result<HttpResponse, Problem> {
    let visitor = match signed_in(&state, &request) {
        Ok(visitor) => visitor,
        Err(redirect) => return Ok(*redirect),
    };
    let listing = views::dead_letters(&state.store).map_err(internal)?;
    let letters = listing
        .dead_letters
        .into_iter()
        .map(|letter| LetterLine {
            href: letter
                .contact
                .as_ref()
                .map(|id| format!("/people/{id}"))
                .or_else(|| letter.account.as_deref().map(account_link)),
            record: letter
                .contact
                .clone()
                .or(letter.account.clone())
                .unwrap_or_default(),
            id: letter.id,
            sink: letter.sink,
            error: letter.error,
            attempts: letter.attempts,
            failed_at: when(&letter.failed_at),
        })
        .collect();
    let html = render(&DeadLettersPage {
        frame: Frame::new(&visitor, "Dead letters", "/dead-letters"),
        admin: visitor.admin(),
        notice: match notice.done.as_deref() {
            Some("retried") => Some("The record was queued again.".into()),
            Some("deleted") => Some("The dead letter was deleted.".into()),
            _ => None,
        },
        letters,
    })?;
    Ok(page(200, html))
}

#[derive(serde::Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
}

/// A change from a console form: signed in as admin, from our own page, with the
/// session's CSRF token.
fn may_change(state: &AppState, request: &HttpRequest, form: &ActionForm) -> Result<(), Problem> {
    let Some(visitor) = super::frame::visitor(state, request) else {
        return Err(Problem::new(401, "sign in to the console first"));
    };
    if !same_origin(&state.config, request) || !csrf_matches(&visitor.session, &form.csrf) {
        tracing::warn!(message = "Console change refused: cross-site or without its CSRF token.", path = %request.path());
        return Err(Problem::new(
            403,
            "the form's CSRF token is missing or wrong",
        ));
    }
    if !visitor.admin() {
        return Err(Problem::new(403, "a viewer cannot change anything"));
    }
    Ok(())
}

fn letter_id(id: &str) -> Result<u64, Problem> {
    id.parse()
        .map_err(|_| Problem::new(400, format!("`{id}` is not a dead letter id")))
}

fn back_to_letters(done: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/dead-letters?done={done}")))
        .finish()
}

pub async fn retry_dead_letter(
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, Problem> {
    may_change(&state, &request, &form)?;
    let id = letter_id(&id)?;
    if state
        .store
        .retry_dead_letter(id, now_millis())
        .map_err(internal)?
    {
        Ok(back_to_letters("retried"))
    } else {
        Err(Problem::new(404, format!("no dead letter {id}")))
    }
}

pub async fn delete_dead_letter(
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, Problem> {
    may_change(&state, &request, &form)?;
    let id = letter_id(&id)?;
    if state.store.delete_dead_letter(id).map_err(internal)? {
        Ok(back_to_letters("deleted"))
    } else {
        Err(Problem::new(404, format!("no dead letter {id}")))
    }
}
