//! `/api/v1/contacts/{key}` `DELETE` and `/api/v1/contacts/{key}/export`: a person's
//! rights over what is kept about them. Both need the admin token: an export holds
//! everything personal, an erasure cannot be undone.

use super::admin::{authorize_admin_or, internal, parse_contact_key};
use super::problem::{Problem, ProblemBody};
use super::state::AppState;
use crate::clock::now_millis;
use crate::pipeline::Erased;
use crate::views::{self, ExportView};
use actix_web::{web, HttpRequest, HttpResponse};

fn authorize_admin_only(state: &AppState, request: &HttpRequest) -> Result<(), Problem> {
    authorize_admin_or(state, request, "only the admin token may do this")
}

/// Forgets the person: records, keys, the deliveries naming them. Later deliveries
/// about any of their identities are dropped.
#[utoipa::path(delete, path = "/api/v1/contacts/{key}",
    params(("key" = String, Path, description = "An email, `hubspot:<id>`, `anon:<id>` or `c_<n>`", example = "ann@acme.com")),
    responses(
        (status = 200, description = "Erased, and forgotten in the store's files", body = Erased),
        (status = 400, description = "Not a contact key", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A viewer token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such contact", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The pipeline could not erase now", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn erase(
    state: web::Data<AppState>,
    key: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize_admin_only(&state, &request)?;
    let key = key.into_inner();
    let parsed = parse_contact_key(&key)?;
    match state.erasures.request(parsed).await {
        Ok(Some(erased)) => Ok(HttpResponse::Ok().json(erased)),
        Ok(None) => Err(Problem::new(404, format!("no contact known as `{key}`"))),
        Err(reason) => {
            tracing::error!(message = "Erasure could not be done.", %reason);
            Err(Problem::new(
                503,
                "the erasure could not be done now; try again",
            ))
        }
    }
}

/// Everything held about the person as one JSON document.
#[utoipa::path(get, path = "/api/v1/contacts/{key}/export",
    params(("key" = String, Path, description = "An email, `hubspot:<id>`, `anon:<id>` or `c_<n>`", example = "ann@acme.com")),
    responses(
        (status = 200, description = "Profile, ids, touches, scores, stages, outcomes, what the CRMs were sent, dead letters", body = ExportView),
        (status = 400, description = "Not a contact key", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A viewer token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such contact", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn export(
    state: web::Data<AppState>,
    key: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize_admin_only(&state, &request)?;
    let key = key.into_inner();
    let parsed = parse_contact_key(&key)?;
    let sinks: Vec<String> = state.config.sinks.keys().cloned().collect();
    let document = views::export(
        &state.store,
        &parsed,
        &sinks,
        now_millis(),
        &state.config.scoring,
    )
    .map_err(internal)?;
    match document {
        Some(document) => Ok(HttpResponse::Ok().json(document)),
        None => Err(Problem::new(404, format!("no contact known as `{key}`"))),
    }
}
