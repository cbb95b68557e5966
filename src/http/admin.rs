//! `/api/v1`: what an operator or a script asks about contacts and failed pushes.
//! Every route needs `Authorization: Bearer <server.admin_token>`.

use super::{AppState, Problem};
use crate::clock::now_millis;
use crate::model::ContactKey;
use crate::secret::constant_time_eq;
use crate::store::StoreError;
use crate::views::{self, OutcomeView};
use actix_web::{web, HttpRequest, HttpResponse};

fn authorize(state: &AppState, request: &HttpRequest) -> Result<(), Problem> {
    let Some(token) = &state.config.server.admin_token else {
        return Err(Problem::new(
            401,
            "the admin API is disabled: set server.admin_token",
        ));
    };
    let given = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.trim().as_bytes(), token.expose().as_bytes()) {
        Ok(())
    } else {
        tracing::warn!(message = "Admin API request without a valid token.", path = %request.path());
        Err(Problem::new(401, "missing or wrong bearer token"))
    }
}

fn internal(error: StoreError) -> Problem {
    tracing::error!(message = "Admin API store error.", %error);
    Problem::new(500, "store error")
}

fn parse_contact_key(key: &str) -> Result<ContactKey, Problem> {
    ContactKey::parse(key).ok_or_else(|| {
        Problem::new(
            400,
            format!("`{key}` is not an email, `system:id` or contact id"),
        )
    })
}

/// `key` is an email, `hubspot:<id>`, `anon:<id>` or a contact id `c_<n>`.
pub async fn contact(
    state: web::Data<AppState>,
    key: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let key = key.into_inner();
    let parsed = parse_contact_key(&key)?;
    let view = views::contact_view(&state.store, &parsed, now_millis(), &state.config.scoring)
        .map_err(internal)?;
    match view {
        Some(view) => Ok(HttpResponse::Ok().json(view)),
        None => Err(Problem::new(404, format!("no contact known as `{key}`"))),
    }
}

/// The whole calculation behind a contact's fields, as `attentiond explain` prints it.
pub async fn explain(
    state: web::Data<AppState>,
    key: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let key = key.into_inner();
    let parsed = parse_contact_key(&key)?;
    let contact = state.store.find_contact(&parsed).map_err(internal)?;
    let Some(contact) = contact else {
        return Err(Problem::new(404, format!("no contact known as `{key}`")));
    };
    let text = views::explain(&state.store, &contact, now_millis(), &state.config.scoring)
        .map_err(internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(text))
}

/// `key` is the account key: `hubspot-company:<id>`, `salesforce:<id>`,
/// `segment-group:<id>`, `domain:<domain>`, …
pub async fn account(
    state: web::Data<AppState>,
    key: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let key = key.into_inner();
    let view = views::account_view(&state.store, &key, now_millis(), &state.config.scoring)
        .map_err(internal)?;
    match view {
        Some(view) => Ok(HttpResponse::Ok().json(view)),
        None => Err(Problem::new(404, format!("no account known as `{key}`"))),
    }
}

#[derive(serde::Deserialize)]
pub struct OutcomeQuery {
    account: Option<String>,
    opportunity: Option<String>,
}

/// Outcomes not tied to a known contact: `?account=<key>` or `?opportunity=<key>`.
pub async fn outcomes(
    state: web::Data<AppState>,
    query: web::Query<OutcomeQuery>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let found = match (&query.account, &query.opportunity) {
        (Some(account), None) => state.store.account_outcomes(account),
        (None, Some(opportunity)) => state.store.opportunity_outcomes(opportunity),
        _ => {
            return Err(Problem::new(
                400,
                "give exactly one of `account` or `opportunity`",
            ))
        }
    }
    .map_err(internal)?;
    let outcomes: Vec<OutcomeView> = found.iter().rev().map(OutcomeView::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "outcomes": outcomes })))
}

pub async fn dead_letters(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let listing = views::dead_letters_json(&state.store).map_err(internal)?;
    Ok(HttpResponse::Ok().json(listing))
}

fn parse_id(id: &str) -> Result<u64, Problem> {
    id.parse()
        .map_err(|_| Problem::new(400, format!("`{id}` is not a dead letter id")))
}

pub async fn retry_dead_letter(
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let id = parse_id(&id)?;
    if state
        .store
        .retry_dead_letter(id, now_millis())
        .map_err(internal)?
    {
        Ok(HttpResponse::Ok().json(serde_json::json!({ "retried": [id.to_string()] })))
    } else {
        Err(Problem::new(404, format!("no dead letter {id}")))
    }
}

pub async fn retry_all_dead_letters(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let mut retried = Vec::new();
    for letter in state.store.dead_letters().map_err(internal)? {
        if state
            .store
            .retry_dead_letter(letter.id, now_millis())
            .map_err(internal)?
        {
            retried.push(letter.id.to_string());
        }
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "retried": retried })))
}

pub async fn delete_dead_letter(
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let id = parse_id(&id)?;
    if state.store.delete_dead_letter(id).map_err(internal)? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(Problem::new(404, format!("no dead letter {id}")))
    }
}

/// The scoring in force: a learned version (with its metrics and training window)
/// or the configuration's `[scoring]`, and every learned version before.
pub async fn model(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let versions = state.store.scoring_versions().map_err(internal)?;
    let active = state.store.active_scoring_version().map_err(internal)?;
    let scoring = &state.config.scoring;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "active": active.as_ref().map(|v| v.id),
        "scoring_version": crate::scoring::version(scoring),
        "half_life_days": scoring.half_life_days,
        "score_scale": scoring.score_scale,
        "weights": crate::model::TouchKind::ALL
            .iter()
            .map(|kind| (kind.as_str(), scoring.weight(*kind)))
            .collect::<std::collections::BTreeMap<_, _>>(),
        "metrics": active.as_ref().map(|v| v.report.clone()),
        "history": versions,
    })))
}

/// The report a marketing lead reads, as one self-contained HTML page
/// (`attentiond report --out report.html` writes the same).
pub async fn report(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let (store, config) = (state.store.clone(), state.config.clone());
    // It reads the whole history: off the request threads.
    let built = web::block(move || {
        crate::report::build(
            &store,
            &config.scoring,
            &config.report,
            &crate::learn::Options::default(),
            now_millis(),
        )
    })
    .await
    .map_err(|error| {
        tracing::error!(message = "Report task failed.", %error);
        Problem::new(500, "the report could not be built")
    })?
    .map_err(|error| {
        tracing::error!(message = "Report failed.", %error);
        Problem::new(500, format!("the report could not be built: {error}"))
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(crate::report::render(&built)))
}
