//! `/healthz`, `/readyz`, `/metrics`: what a load balancer, systemd and Prometheus ask.

use super::AppState;
use actix_web::{web, HttpResponse};

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Ready when the store answers and the pipeline is going round.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store_ok = state.store.is_readable();
    let pipeline_ok = state.pipeline.is_running();
    let body = serde_json::json!({ "store": store_ok, "pipeline": pipeline_ok });
    if store_ok && pipeline_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let metrics = &state.metrics;
    metrics
        .inbox_pending
        .set(state.store.inbox_pending() as i64);
    match state.store.size_on_disk() {
        Ok(bytes) => {
            metrics
                .store_bytes
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        Err(error) => tracing::warn!(message = "Could not read the store's size.", %error),
    }
    let now = crate::clock::now_millis();
    for name in state.config.sinks.keys() {
        let (pending, oldest) = state.store.outbox_stats(name);
        metrics.outbox(name, pending, oldest, now);
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.encode())
}
