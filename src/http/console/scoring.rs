//! The scoring page: the active version and its settings; learning's report once
//! it has run.

use super::frame::Frame;
use super::frame::{page, render, signed_in};
use crate::http::admin::internal;
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
    ladder: Vec<(String, u8, u8, String)>,
    weights: Vec<(String, String, String)>,
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
                    config
                        .daily_cap(*kind)
                        .map_or_else(|| "none".into(), |cap| cap.to_string()),
                )
            })
            .collect(),
    })?;
    Ok(page(200, html))
}
