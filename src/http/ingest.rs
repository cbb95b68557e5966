//! `/webhooks/{source}`: check the credentials outside the body, read the body under
//! its limits, verify on the exact bytes, store durably, acknowledge. Nothing else
//! happens on the request path; the pipeline does the rest.

use super::body::BodyError;
use super::console::activity::Delivered;
use super::{AppState, Problem};
use crate::clock::now_millis;
use crate::sources::{excerpt, Delivery, Head, Reply, SourceConfig, SourceError};
use crate::store::Appended;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

fn reply(reply: Reply) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(reply.status)
            .unwrap_or(actix_web::http::StatusCode::OK),
    )
    .content_type(reply.content_type)
    .body(reply.body)
}

/// Counts, logs and answers a refusal, in the platform's format when it has one.
fn refuse(
    state: &AppState,
    name: &str,
    source: Option<&SourceConfig>,
    error: SourceError,
) -> HttpResponse {
    let status = error.status();
    state.metrics.webhook(name, status);
    state
        .console
        .activity
        .record(name, Delivered::Refused(&error), now_millis());
    tracing::warn!(message = "Webhook refused.", source = %name, status, reason = %error);
    match source.and_then(|source| source.refusal(&error)) {
        Some(custom) => reply(Reply { status, ..custom }),
        None => actix_web::ResponseError::error_response(&Problem::new(status, error.to_string())),
    }
}

pub async fn webhook_path(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let (name, _rest) = path.into_inner();
    ingest(state, name, request, payload).await
}

pub async fn webhook(
    state: web::Data<AppState>,
    name: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    ingest(state, name.into_inner(), request, payload).await
}

async fn ingest(
    state: web::Data<AppState>,
    name: String,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let Some(source) = state.config.sources.get(&name) else {
        let name = excerpt(&name);
        tracing::warn!(message = "Webhook for an unknown source.", source = %name);
        return Err(Problem::new(
            404,
            format!("no source named `{name}` is configured"),
        ));
    };

    // Taking on more than the pipeline can soon apply only delays every signal:
    // platforms retry a 503 later.
    let pending = state.store.inbox_pending();
    if pending > state.config.server.max_inbox_backlog {
        state.metrics.webhook(&name, 503);
        tracing::warn!(message = "Webhook deferred: the inbox is backlogged.", source = %name, pending);
        return Err(Problem::new(
            503,
            "the pipeline is behind; retry this delivery later",
        ));
    }

    let url = signed_url(&state, &request);
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(key, value)| {
            Some((key.as_str().to_string(), value.to_str().ok()?.to_string()))
        })
        .collect();
    let head = Head {
        method: request.method().as_str(),
        url: &url,
        headers: &headers,
    };
    // Credentials outside the body first: a stranger is turned away before a byte of
    // the body is read or inflated.
    let credentials = match source.authenticate(&head, now_millis()) {
        Ok(credentials) => credentials,
        Err(error) => return Ok(refuse(&state, &name, Some(source), error)),
    };
    let mut body = match state
        .intake
        .read(payload, request.headers(), credentials)
        .await
    {
        Ok(body) => body,
        Err(error) => return Ok(refuse_body(&state, &name, source, error)),
    };

    let delivery = Delivery {
        method: head.method,
        url: &url,
        headers: &headers,
        body: &body.bytes,
    };
    let now = now_millis();
    if let Some(probed) = source.probe(&delivery, now) {
        return Ok(match probed {
            Ok(answer) => reply(answer),
            Err(error) => refuse(&state, &name, Some(source), error),
        });
    }
    if request.method() != Method::POST {
        return Err(Problem::new(
            405,
            format!("source `{name}` accepts POST only"),
        ));
    }
    let accepted = match source.accept(&delivery, now) {
        Ok(accepted) => accepted,
        Err(error) => return Ok(refuse(&state, &name, Some(source), error)),
    };
    body.vouched();

    match state
        .store
        .append(&state.commit, &name, accepted, &body.bytes, now)
        .await
    {
        Ok(outcome) => {
            state.metrics.webhook(&name, 200);
            state
                .console
                .activity
                .record(&name, Delivered::Appended(outcome), now);
            if let Some(answer) = source.acknowledgement() {
                return Ok(reply(answer));
            }
            let status = match outcome {
                Appended::Stored(_) => "accepted",
                Appended::Duplicate => "duplicate",
                Appended::Empty => "ignored",
            };
            Ok(HttpResponse::Ok().json(serde_json::json!({ "status": status })))
        }
        Err(error) => {
            state.metrics.webhook(&name, 503);
            tracing::error!(message = "Delivery could not be stored; the platform will retry.", source = %name, %error);
            Err(Problem::new(
                503,
                "delivery could not be stored durably; retry later",
            ))
        }
    }
}

/// A body that could not be read: too large and unreadable bodies are the source's
/// refusals (in its format when it has one), the rest are ours.
fn refuse_body(
    state: &AppState,
    name: &str,
    source: &SourceConfig,
    error: BodyError,
) -> HttpResponse {
    match error {
        BodyError::TooLarge(limit) => {
            refuse(state, name, Some(source), SourceError::TooLarge(limit))
        }
        BodyError::Unreadable(reason) => refuse(
            state,
            name,
            Some(source),
            SourceError::malformed(format!("could not read the body: {reason}")),
        ),
        BodyError::TimedOut(_) | BodyError::Encoding(_) | BodyError::Busy => {
            let status = error.status();
            state.metrics.webhook(name, status);
            tracing::warn!(message = "Webhook refused.", source = %name, status, reason = %error);
            actix_web::ResponseError::error_response(&Problem::new(status, error.to_string()))
        }
    }
}

/// The URL the platform signed: the configured public URL plus path and query, else
/// what this request says about itself (scheme and host, proxy headers included).
fn signed_url(state: &AppState, request: &HttpRequest) -> String {
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    match &state.config.server.public_url {
        Some(base) => format!("{}{}", base.trim_end_matches('/'), path_and_query),
        None => {
            let info = request.connection_info();
            format!("{}://{}{}", info.scheme(), info.host(), path_and_query)
        }
    }
}
