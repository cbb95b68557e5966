//! `/api/v1/quarantine`: deliveries the pipeline parked after failing every attempt
//! (`store/quarantine.rs`), to list, put back in the inbox, or drop.

use super::admin::{authorize, authorize_admin, internal};
use super::problem::{Problem, ProblemBody};
use super::state::AppState;
use crate::views::{self, QuarantineView};
use actix_web::{web, HttpRequest, HttpResponse};

/// A parked delivery put back at the end of the inbox, under a new sequence number.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Requeued {
    /// The id it was parked under.
    id: String,
    /// Its sequence number in the inbox now, decimal text.
    seq: String,
}

fn parse_id(id: &str) -> Result<u64, Problem> {
    id.parse()
        .map_err(|_| Problem::new(400, format!("`{id}` is not a quarantine id")))
}

#[utoipa::path(get, path = "/api/v1/quarantine",
    responses(
        (status = 200, description = "Every parked delivery, oldest first, with its last error", body = QuarantineView),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let listing = views::quarantine(&state.store).map_err(internal)?;
    Ok(HttpResponse::Ok().json(listing))
}

#[utoipa::path(post, path = "/api/v1/quarantine/{id}/retry", params(("id" = String, Path, description = "A quarantine id, decimal", pattern = "^[0-9]{1,19}$")),
    responses(
        (status = 200, description = "Back in the inbox, applied after what waits there", body = Requeued),
        (status = 400, description = "Not a quarantine id", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A viewer token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Nothing parked under this id", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn retry(
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize_admin(&state, &request)?;
    let id = parse_id(&id)?;
    let Some(seq) = state.store.retry_quarantined(id).map_err(internal)? else {
        return Err(Problem::new(404, format!("nothing parked under {id}")));
    };
    quarantine_changed(&state).await?;
    Ok(HttpResponse::Ok().json(Requeued {
        id: id.to_string(),
        seq: seq.to_string(),
    }))
}

#[utoipa::path(delete, path = "/api/v1/quarantine/{id}", params(("id" = String, Path, description = "A quarantine id, decimal", pattern = "^[0-9]{1,19}$")),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 400, description = "Not a quarantine id", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "A viewer token", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Nothing parked under this id", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn drop(
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize_admin(&state, &request)?;
    let id = parse_id(&id)?;
    if !state.store.drop_quarantined(id).map_err(internal)? {
        return Err(Problem::new(404, format!("nothing parked under {id}")));
    }
    quarantine_changed(&state).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// After a retry or a drop: on disk before the answer (the pipeline reads only what a
/// flush covered, like any acknowledged delivery), and the gauge says the new count.
async fn quarantine_changed(state: &AppState) -> Result<(), Problem> {
    state.commit.wait_durable().await.map_err(internal)?;
    state
        .metrics
        .quarantined
        .set(state.store.quarantined_count() as i64);
    Ok(())
}
