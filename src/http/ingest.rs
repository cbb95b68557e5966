//! `POST /webhooks/{source}`: verify on the exact bytes, store durably, acknowledge.
//! Nothing else happens on the request path; the pipeline does the rest.

use super::{AppState, Problem};
use crate::pipeline::now_millis;
use crate::sources::{Delivery, SourceError};
use crate::store::Appended;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

pub async fn webhook(
    state: web::Data<AppState>,
    name: web::Path<String>,
    request: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let name = name.into_inner();
    let Some(source) = state.config.sources.get(&name) else {
        tracing::warn!(message = "Webhook for an unknown source.", source = %name);
        return Err(Problem::new(
            404,
            format!("no source named `{name}` is configured"),
        ));
    };
    let refuse = |status: u16, reason: String| {
        state.metrics.webhook(&name, status);
        tracing::warn!(message = "Webhook refused.", source = %name, status, %reason);
        Problem::new(status, reason)
    };

    let limit = state.config.server.max_body_bytes;
    let declared = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(refuse(413, format!("body larger than {limit} bytes")));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|error| refuse(400, format!("could not read the body: {error}")))?;
        if body.len() + chunk.len() > limit {
            return Err(refuse(413, format!("body larger than {limit} bytes")));
        }
        body.extend_from_slice(&chunk);
    }

    let url = signed_url(&state, &request);
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(key, value)| {
            Some((key.as_str().to_string(), value.to_str().ok()?.to_string()))
        })
        .collect();
    let delivery = Delivery {
        method: request.method().as_str(),
        url: &url,
        headers: &headers,
        body: &body,
    };
    let now = now_millis();
    let accepted = source
        .accept(&delivery, now)
        .map_err(|error: SourceError| refuse(error.status(), error.to_string()))?;

    match state
        .store
        .append(&state.commit, &name, accepted, &body, now)
        .await
    {
        Ok(outcome) => {
            state.metrics.webhook(&name, 200);
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
