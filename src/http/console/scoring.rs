//! The scoring page: the scoring in force (the configuration's, or a learned version
//! applied with `attentiond learn --apply`) with its validation, and the report of
//! how well attention predicts pipeline.

use super::frame::Frame;
use super::frame::{page, render, signed_in, when};
use crate::http::admin::{internal, report_page};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "scoring.html")]
struct ScoringPage {
    frame: Frame,
    version: String,
    stored_version: String,
    half_life: f64,
    score_scale: f64,
    trend_memories: String,
    short_memory: Option<f64>,
    learned: Option<Learned>,
    ladder: Vec<(String, u8, u8, String)>,
    weights: Vec<(String, String, String, String)>,
}

/// The learned version in force and what learning measured of it.
struct Learned {
    id: u64,
    applied_at: String,
    validated: String,
    /// Who, which measure, the scoring before, the learned one.
    metrics: Vec<(&'static str, &'static str, String, String)>,
}

impl Learned {
    fn of(version: &crate::store::ScoringVersion) -> Learned {
        let report = &version.report;
        let number = |value: &serde_json::Value, digits: usize| {
            value
                .as_f64()
                .map_or_else(|| "–".to_string(), |n| format!("{n:.digits$}"))
        };
        let mut metrics = Vec::new();
        for (who, key) in [("People", "people"), ("Accounts", "accounts")] {
            for (measure, field, digits) in
                [("AUC", "auc", 3), ("Top-decile lift", "top_decile_lift", 2)]
            {
                metrics.push((
                    who,
                    measure,
                    number(&report[key]["current"][field], digits),
                    number(&report[key]["learned"][field], digits),
                ));
            }
        }
        let window = &report["window"];
        let text = |value: &serde_json::Value| value.as_str().map(when).unwrap_or_default();
        Learned {
            id: version.id,
            applied_at: version
                .applied_at
                .map_or_else(|| "–".to_string(), |at| when(&crate::clock::rfc3339(at))),
            validated: format!(
                "{} to {}",
                text(&window["validate_from"]),
                text(&window["validate_to"])
            ),
            metrics,
        }
    }
}

pub async fn scoring(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let visitor = match signed_in(&state, &request) {
        Ok(visitor) => visitor,
        Err(redirect) => return Ok(*redirect),
    };
    let config = &state.config.scoring;
    let active = state.store.active_scoring_version().map_err(internal)?;
    let html = render(&ScoringPage {
        frame: Frame::new(&visitor, "Scoring", "/scoring"),
        version: crate::scoring::version(config),
        stored_version: state
            .store
            .scoring_version()
            .map_err(internal)?
            .unwrap_or_else(|| "none yet".into()),
        half_life: config.half_life_days,
        score_scale: config.score_scale,
        trend_memories: format!(
            "{} days against {} days",
            config.fast_half_life_days, config.slow_half_life_days
        ),
        short_memory: (!config.short_memory.weights.is_empty())
            .then_some(config.short_memory.half_life_days),
        learned: active.as_ref().map(Learned::of),
        ladder: config
            .stages
            .iter()
            .map(|rung| {
                (
                    rung.name.clone(),
                    rung.enter_score,
                    rung.stay_score,
                    rung.min_fit.clone(),
                )
            })
            .collect(),
        weights: crate::model::TouchKind::ALL
            .iter()
            .map(|kind| {
                (
                    kind.as_str().to_string(),
                    format!("{}", config.weight(*kind)),
                    format!("{}", config.short_memory.weight(*kind)),
                    config
                        .daily_cap(*kind)
                        .map_or_else(|| "none".into(), |cap| cap.to_string()),
                )
            })
            .collect(),
    })?;
    Ok(page(200, html))
}

/// The report (`attentiond report`) for a signed-in reader, built afresh. Its style is
/// inline and it runs no script, so its policy allows inline style and nothing else.
pub async fn report(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    if let Err(redirect) = signed_in(&state, &request) {
        return Ok(*redirect);
    }
    let html = report_page(&state).await?;
    let mut response = page(200, html);
    response.headers_mut().insert(
        actix_web::http::header::CONTENT_SECURITY_POLICY,
        actix_web::http::header::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
             form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    Ok(response)
}
