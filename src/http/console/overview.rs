//! The overview: is every platform still delivering, the pipeline keeping up, every
//! CRM still taking writes?

use super::frame::{duration, when_or_never, Frame};
use super::frame::{page, render, signed_in};
use crate::clock::now_millis;
use crate::http::admin::internal;
use crate::http::problem::Problem;
use crate::http::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

struct SourceLine {
    name: String,
    kind: String,
    last_delivery: String,
    accepted: u64,
    duplicate: u64,
    ignored: u64,
    refused: u64,
    reasons: Vec<String>,
    silent: bool,
    status: String,
}

struct SinkLine {
    name: String,
    kind: String,
    pending: usize,
    oldest: String,
    last_success: String,
    written: u64,
    failed: u64,
    error_rate: String,
    dead_letters: usize,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    frame: Frame,
    sources: Vec<SourceLine>,
    pipeline_state: String,
    pipeline_pending: u64,
    pipeline_lag: String,
    sinks: Vec<SinkLine>,
    dead_letters: usize,
}

pub async fn overview(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let visitor = match signed_in(&state, &request) {
        Ok(visitor) => visitor,
        Err(redirect) => return Ok(*redirect),
    };
    let now = now_millis();
    let activity = &state.console.activity;
    let sources = activity.sources(&state.config, &state.pipeline, now);
    let sinks = activity.sinks(&state.config, &state.metrics, now);
    let letters = state.store.dead_letters().map_err(internal)?.len();
    let html = render(&OverviewPage {
        frame: Frame::new(&visitor, "Overview", "/"),
        sources: sources
            .sources
            .iter()
            .map(|source| SourceLine {
                name: source.name.clone(),
                kind: source.kind.clone(),
                last_delivery: when_or_never(source.last_delivery_at.as_deref()),
                accepted: source.accepted_24h,
                duplicate: source.duplicate_24h,
                ignored: source.ignored_24h,
                refused: source.refused_24h,
                reasons: source
                    .top_refusals_24h
                    .iter()
                    .map(|refusal| format!("{} × {}", refusal.count, refusal.reason))
                    .collect(),
                silent: source.silent,
                status: match (source.silent, source.silent_hours) {
                    (true, Some(hours)) => format!(
                        "silent for {hours} h, longer than usual{}",
                        source
                            .usual_longest_silence_hours
                            .map(|usual| format!(" (longest in 7 days: {usual} h)"))
                            .unwrap_or_default()
                    ),
                    (_, None) => "no delivery yet".into(),
                    _ => "delivering".into(),
                },
            })
            .collect(),
        pipeline_state: if sources.pipeline.running {
            "running".into()
        } else {
            "stopped or stuck".into()
        },
        pipeline_pending: sources.pipeline.pending,
        pipeline_lag: duration(sources.pipeline.lag_seconds),
        sinks: sinks
            .sinks
            .iter()
            .map(|sink| SinkLine {
                name: sink.name.clone(),
                kind: sink.kind.clone(),
                pending: sink.pending,
                oldest: if sink.pending == 0 {
                    "—".into()
                } else {
                    duration(sink.oldest_pending_seconds)
                },
                last_success: when_or_never(sink.last_success_at.as_deref()),
                written: sink.written_24h,
                failed: sink.failed_24h,
                error_rate: format!("{:.1} %", sink.error_rate_24h * 100.0),
                dead_letters: sink.dead_letters,
            })
            .collect(),
        dead_letters: letters,
    })?;
    Ok(page(200, html))
}
