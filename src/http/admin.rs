//! `/api/v1`: what an operator or a script asks about contacts and failed pushes.
//! Every route needs `Authorization: Bearer <token>`: the admin token, or a viewer
//! token for what only reads.

use super::console::session::{role_of_token, Role};
use super::problem::Problem;
use super::problem::ProblemBody;
use super::state::AppState;
use crate::clock::now_millis;
use crate::model::ContactKey;
use crate::sources::authorization;
use crate::store::StoreError;
use crate::views::{self, AccountView, ContactView, DeadLettersView, OutcomeView};
use actix_web::{web, HttpRequest, HttpResponse};

/// The role of the request's bearer token.
pub fn authorize(state: &AppState, request: &HttpRequest) -> Result<Role, Problem> {
    if state.config.server.admin_token.is_none() && state.config.server.viewer_tokens.is_empty() {
        return Err(Problem::new(
            401,
            "the admin API is disabled: set server.admin_token",
        ));
    }
    let given = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        // The scheme in any case (RFC 7235 §2.1): `bearer` is `Bearer`.
        .and_then(|value| authorization(value, "bearer"))
        .unwrap_or("");
    match role_of_token(&state.config, given) {
        Some(role) => Ok(role),
        None => {
            tracing::warn!(message = "Admin API request without a valid token.", path = %request.path());
            Err(Problem::new(401, "missing or wrong bearer token"))
        }
    }
}

/// Changes need the admin token; a viewer token is refused.
pub(super) fn authorize_admin(state: &AppState, request: &HttpRequest) -> Result<(), Problem> {
    authorize_admin_or(state, request, "a viewer token cannot change anything")
}

/// The admin token only; a viewer is refused with `refusal`, which says why for
/// routes that read rather than change (a person's export).
pub(super) fn authorize_admin_or(
    state: &AppState,
    request: &HttpRequest,
    refusal: &'static str,
) -> Result<(), Problem> {
    match authorize(state, request)? {
        Role::Admin => Ok(()),
        Role::Viewer => Err(Problem::new(403, refusal)),
    }
}

pub fn internal(error: StoreError) -> Problem {
    tracing::error!(message = "Admin API store error.", %error);
    Problem::new(500, "store error")
}

pub(super) fn parse_contact_key(key: &str) -> Result<ContactKey, Problem> {
    ContactKey::parse(key).ok_or_else(|| {
        Problem::new(
            400,
            format!("`{key}` is not an email, `system:id` or contact id"),
        )
    })
}

/// `key` is an email, `hubspot:<id>`, `anon:<id>` or a contact id `c_<n>`.
#[utoipa::path(get, path = "/api/v1/contacts/{key}",
    params(("key" = String, Path, description = "An email, `hubspot:<id>`, `anon:<id>` or `c_<n>`", example = "ann@acme.com")),
    responses(
        (status = 200, description = "The contact scored as of now", body = ContactView),
        (status = 400, description = "Not a contact key", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such contact", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
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
#[utoipa::path(get, path = "/api/v1/contacts/{key}/explain",
    params(("key" = String, Path, description = "An email, `hubspot:<id>`, `anon:<id>` or `c_<n>`", example = "ann@acme.com")),
    responses(
        (status = 200, description = "The calculation in words", body = String, content_type = "text/plain"),
        (status = 400, description = "Not a contact key", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such contact", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
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
#[utoipa::path(get, path = "/api/v1/accounts/{key}",
    params(("key" = String, Path, description = "An account key or a bare domain", example = "domain:acme.com")),
    responses(
        (status = 200, description = "The buying group scored as of now", body = AccountView),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
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

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutcomeQuery {
    /// An account key.
    account: Option<String>,
    /// An opportunity key.
    opportunity: Option<String>,
}

/// The letters sent again.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Retried {
    retried: Vec<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OutcomesView {
    outcomes: Vec<OutcomeView>,
}

/// Outcomes not tied to a known contact: `?account=<key>` or `?opportunity=<key>`.
#[utoipa::path(get, path = "/api/v1/outcomes", params(OutcomeQuery),
    responses(
        (status = 200, description = "Outcomes no known contact holds, newest first", body = OutcomesView),
        (status = 400, description = "Not exactly one of `account` or `opportunity`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
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
    Ok(HttpResponse::Ok().json(OutcomesView { outcomes }))
}

/// Records the CRMs kept refusing.
#[utoipa::path(get, path = "/api/v1/dead-letters",
    responses(
        (status = 200, description = "Every dead letter", body = DeadLettersView),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn dead_letters(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let listing = views::dead_letters(&state.store).map_err(internal)?;
    Ok(HttpResponse::Ok().json(listing))
}

fn parse_id(id: &str) -> Result<u64, Problem> {
    id.parse()
        .map_err(|_| Problem::new(400, format!("`{id}` is not a dead letter id")))
}

#[utoipa::path(post, path = "/api/v1/dead-letters/{id}/retry", params(("id" = String, Path, description = "A dead letter id, decimal", pattern = "^[0-9]{1,19}$")),
    responses(
        (status = 200, description = "Queued again", body = Retried),
        (status = 400, description = "Not a dead letter id", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A viewer token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such dead letter", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn retry_dead_letter(
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize_admin(&state, &request)?;
    let id = parse_id(&id)?;
    if state
        .store
        .retry_dead_letter(id, now_millis())
        .map_err(internal)?
    {
        Ok(HttpResponse::Ok().json(Retried {
            retried: vec![id.to_string()],
        }))
    } else {
        Err(Problem::new(404, format!("no dead letter {id}")))
    }
}

#[utoipa::path(post, path = "/api/v1/dead-letters/retry",
    responses(
        (status = 200, description = "Every letter queued again", body = Retried),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A viewer token", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn retry_all_dead_letters(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize_admin(&state, &request)?;
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
    Ok(HttpResponse::Ok().json(Retried { retried }))
}

#[utoipa::path(delete, path = "/api/v1/dead-letters/{id}", params(("id" = String, Path, description = "A dead letter id, decimal", pattern = "^[0-9]{1,19}$")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not a dead letter id", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A viewer token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such dead letter", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn delete_dead_letter(
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize_admin(&state, &request)?;
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
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(report_page(&state).await?))
}

/// The report's page, built from the whole history under the scoring in force; the
/// console's scoring page serves it too.
pub async fn report_page(state: &AppState) -> Result<String, Problem> {
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
    Ok(crate::report::render(&built))
}
