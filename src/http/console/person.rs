//! One person: their attention over time, reasons, calculation, history, ids,
//! outcomes, and what each CRM holds.

use super::chart::{draw, Chart};
use super::frame::{account_link, not_found, when, Frame};
use super::frame::{page, render, signed_in};
use crate::clock::now_millis;
use crate::http::admin::internal;
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::model::ContactKey;
use crate::views::{self, person::person_page};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    frame: Frame,
    heading: String,
    contact: views::ContactView,
    velocity: String,
    stage: String,
    account: Option<(String, String)>,
    chart: Chart,
    queued: Option<views::person::QueuedFields>,
    crms: Vec<(String, String, String)>,
    explanation: String,
    outcomes: Vec<(String, String, String, String, String, String)>,
}

pub async fn person(
    state: web::Data<AppState>,
    key: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let visitor = match signed_in(&state, &request) {
        Ok(visitor) => visitor,
        Err(redirect) => return Ok(*redirect),
    };
    let key = key.into_inner();
    let Some(parsed) = ContactKey::parse(&key) else {
        return not_found(
            &visitor,
            "No such person",
            format!("`{key}` is not an email, `system:id` or contact id."),
            "/people",
        );
    };
    let sinks: Vec<String> = state.config.sinks.keys().cloned().collect();
    let found = person_page(
        &state.store,
        &parsed,
        &sinks,
        now_millis(),
        &state.config.scoring,
    )
    .map_err(internal)?;
    let Some(found) = found else {
        return not_found(
            &visitor,
            "No such person",
            format!("No contact is known as `{key}`."),
            "/people",
        );
    };
    let contact = found.contact;
    let heading = contact
        .profile
        .get("first_name")
        .map(|first| {
            let last = contact
                .profile
                .get("last_name")
                .map(|l| l.value.as_str())
                .unwrap_or("");
            format!("{} {last}", first.value).trim().to_string()
        })
        .or_else(|| contact.emails.first().cloned())
        .unwrap_or_else(|| contact.id.clone());
    let crms = found
        .crms
        .iter()
        .map(|crm| {
            let (state_text, details) = match (&crm.pending, &crm.dead_letter) {
                (_, Some(letter)) => (
                    "refused, parked in dead letters".to_string(),
                    format!(
                        "{} (after {} attempts, {})",
                        letter.error,
                        letter.attempts,
                        when(&letter.failed_at)
                    ),
                ),
                (Some(pending), None) => (
                    if pending.attempts > 0 {
                        "waiting to be retried".to_string()
                    } else {
                        "waiting to be written".to_string()
                    },
                    format!(
                        "queued {}; {}{}",
                        when(&pending.queued_at),
                        pending
                            .fields
                            .iter()
                            .map(|(name, value)| format!("{name} = {value}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        pending
                            .last_error
                            .as_deref()
                            .map(|error| format!("; last error: {error}"))
                            .unwrap_or_default()
                    ),
                ),
                (None, None) => (
                    "written".to_string(),
                    "nothing waits: the last queued fields were taken".to_string(),
                ),
            };
            (crm.sink.clone(), state_text, details)
        })
        .collect();
    let outcomes = contact
        .outcomes
        .iter()
        .map(|outcome| {
            (
                when(&outcome.occurred_at),
                outcome.kind.to_string(),
                outcome.source.clone(),
                outcome.opportunity.clone().unwrap_or_else(|| "—".into()),
                outcome.stage.clone().unwrap_or_else(|| "—".into()),
                outcome
                    .amount
                    .map(|amount| {
                        format!("{amount} {}", outcome.currency.clone().unwrap_or_default())
                    })
                    .unwrap_or_else(|| "—".into()),
            )
        })
        .collect();
    let caption = format!(
        "{heading}'s score over the last 90 days: {} touches marked; hover or focus a mark for the touch.",
        found.timeline.marks.len()
    );
    let html = render(&PersonPage {
        frame: Frame::new(&visitor, heading.clone(), "/people"),
        velocity: format!("{:+.2}", contact.attention_velocity),
        stage: contact
            .qualification_stage
            .clone()
            .unwrap_or_else(|| "not assessed".into()),
        account: contact
            .account_key
            .as_ref()
            .map(|key| (key.clone(), account_link(key))),
        chart: draw(&found.timeline, caption),
        queued: found.queued,
        crms,
        explanation: found.explanation,
        outcomes,
        heading,
        contact,
    })?;
    Ok(page(200, html))
}
