//! The admin API's OpenAPI 3.1 document, generated from the handlers' and views'
//! own declarations, served at `/api/v1/openapi.json`.

use super::problem::ProblemBody;
use super::{admin, admin_lists, admin_quarantine, privacy};
use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "attentiond admin API",
        description = "Contacts, accounts, outcomes, dead letters, parked deliveries and the figures of the \
                       sources and sinks. Every route needs `Authorization: Bearer <token>`: \
                       the admin token, or a viewer token for what only reads."
    ),
    paths(
        admin_lists::contacts,
        admin::contact,
        privacy::erase,
        admin::explain,
        privacy::export,
        admin_lists::accounts,
        admin::account,
        admin::outcomes,
        admin_lists::sources,
        admin_lists::sinks,
        admin::dead_letters,
        admin::retry_all_dead_letters,
        admin::retry_dead_letter,
        admin::delete_dead_letter,
        admin_quarantine::list,
        admin_quarantine::retry,
        admin_quarantine::drop,
    ),
    components(schemas(
        ProblemBody,
        admin_lists::ContactSortParam,
        admin_lists::AccountSortParam,
        admin_lists::Order,
        admin_lists::TrendParam,
        admin_lists::FitParam,
    )),
    modifiers(&BearerToken),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// `/api/v1/openapi.json`: open to all, it tells nothing but the API's shape.
pub async fn document() -> HttpResponse {
    match ApiDoc::openapi().to_json() {
        Ok(json) => HttpResponse::Ok()
            .content_type("application/json")
            .body(json),
        Err(error) => actix_web::ResponseError::error_response(&super::Problem::new(
            500,
            format!("the API document cannot be written: {error}"),
        )),
    }
}
