//! `/healthz`, `/readyz`, `/metrics`: what a load balancer, systemd and Prometheus ask.

use super::AppState;
use crate::clock::now_millis;
use actix_web::{web, HttpResponse};

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// How far behind the pipeline is: deliveries and seconds.
fn lag(state: &AppState) -> (u64, i64) {
    let pending = state.store.inbox_pending();
    let seconds = match state.store.oldest_pending_at() {
        Ok(Some(received_at)) if pending > 0 => ((now_millis() - received_at) / 1000).max(0),
        Ok(_) => 0,
        Err(error) => {
            tracing::warn!(message = "Could not read the inbox's oldest delivery.", %error);
            0
        }
    };
    (pending, seconds)
}

/// Ready when the store answers, the pipeline is going round and not so far behind
/// that webhooks are deferred.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store_ok = state.store.is_readable();
    let pipeline_ok = state.pipeline.is_running();
    let (pending, lag_seconds) = lag(&state);
    let limit = state.config.server.max_inbox_backlog;
    let backlogged = pending > limit;
    let body = serde_json::json!({
        "store": store_ok,
        "pipeline": pipeline_ok,
        "inbox_pending": pending,
        "inbox_backlog_limit": limit,
        "lag_seconds": lag_seconds,
        "backlogged": backlogged,
    });
    if store_ok && pipeline_ok && !backlogged {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let metrics = &state.metrics;
    let (pending, lag_seconds) = lag(&state);
    metrics.inbox_pending.set(pending as i64);
    metrics.pipeline_lag_seconds.set(lag_seconds);
    metrics
        .inbox_backlog_limit
        .set(i64::try_from(state.config.server.max_inbox_backlog).unwrap_or(i64::MAX));
    match state.store.size_on_disk() {
        Ok(bytes) => {
            metrics
                .store_bytes
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        Err(error) => tracing::warn!(message = "Could not read the store's size.", %error),
    }
    let now = now_millis();
    metrics
        .quarantined
        .set(state.store.quarantined_count() as i64);
    match state.store.oldest_retained() {
        Ok(trees) => {
            for (tree, oldest) in trees {
                metrics.oldest_retained(tree, oldest, now);
            }
        }
        Err(error) => tracing::warn!(message = "Could not read the oldest retained items.", %error),
    }
    for name in state.config.sinks.keys() {
        let (pending, oldest) = state.store.outbox_stats(name);
        metrics.outbox(name, pending, oldest, now);
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.encode())
}
