//! Cross-origin sending from web pages: analytics.js on a site posts to a source from
//! that site's origin, so the browser asks first (a preflight `OPTIONS`) and reads the
//! answer only when it names the page's origin. A source allows the origins in its
//! `allowed_origins`; with none, browsers keep every other site's page out.

use super::{AppState, Problem};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

/// Headers a page may send when it does not say which it wants: those the official
/// analytics.js sends (analytics-next `plugins/segmentio`: `Content-Type`,
/// `Authorization`, `X-Retry-Count`) and gzip.
const DEFAULT_HEADERS: &str = "authorization, content-type, content-encoding, x-retry-count";

/// How long a browser may keep a preflight's answer, in seconds.
const MAX_AGE: &str = "7200";

/// The page's origin, when the request came from a page the source allows.
fn allowed<'r>(state: &AppState, name: &str, request: &'r HttpRequest) -> Option<&'r str> {
    let origin = request.headers().get(header::ORIGIN)?.to_str().ok()?;
    let source = state.config.sources.get(name)?;
    source.allows_origin(origin).then_some(origin)
}

/// Lets the page that sent `request` read `response`, when its origin is allowed.
pub fn expose(
    state: &AppState,
    name: &str,
    request: &HttpRequest,
    mut response: HttpResponse,
) -> HttpResponse {
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed(state, name, request).and_then(|o| HeaderValue::from_str(o).ok())
    {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    response
}

/// A header list as browsers send it in `Access-Control-Request-Headers`: names only.
fn header_names(list: &str) -> bool {
    list.split(',').all(|name| {
        let name = name.trim();
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// `OPTIONS /webhooks/{source}[/…]`: the preflight. An allowed origin learns that it
/// may POST with the headers it asked for; any other gets 403 and no allowance.
pub async fn preflight(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let name = request.match_info().get("source").unwrap_or_default();
    if !state.config.sources.contains_key(name) {
        return Err(Problem::new(
            404,
            format!(
                "no source named `{}` is configured",
                crate::sources::excerpt(name)
            ),
        ));
    }
    let Some(origin) = allowed(&state, name, &request) else {
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .map(crate::sources::excerpt)
            .unwrap_or_default();
        tracing::warn!(message = "Cross-origin request refused.", source = %name, %origin);
        return Err(Problem::new(
            403,
            format!("origin `{origin}` is not in the allowed_origins of source `{name}`"),
        ));
    };
    let asked = request
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|list| list.to_str().ok())
        .filter(|list| header_names(list))
        .unwrap_or(DEFAULT_HEADERS);
    Ok(HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, asked))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE))
        .insert_header((header::VARY, "Origin, Access-Control-Request-Headers"))
        .finish())
}
