//! `/api/v1/contacts`, `/api/v1/accounts`: the lists, sorted, filtered, searched and
//! paged by cursor; `/api/v1/sources` and `/api/v1/sinks`: the overview's figures.

use super::admin::{authorize, internal};
use super::problem::Problem;
use super::state::AppState;
use crate::clock::now_millis;
use crate::model::MILLIS_PER_DAY;
use crate::store::index::{
    search_term, AccountQuery, AccountSort, ContactFilter, ContactQuery, ContactSort,
};
use crate::views::lists::{self, decode_cursor, AccountsView, PeopleView};
use crate::views::overview::{SinksView, SourcesView};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactSortParam {
    Score,
    Trend,
    Velocity,
    Stage,
    Fit,
    Matrix,
    LastTouch,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountSortParam {
    Score,
    Trend,
    People,
    Name,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Desc,
    Asc,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrendParam {
    Rising,
    Steady,
    Fading,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum FitParam {
    A,
    B,
    C,
    D,
}

impl TrendParam {
    fn trend(self) -> crate::scoring::Trend {
        match self {
            TrendParam::Rising => crate::scoring::Trend::Rising,
            TrendParam::Steady => crate::scoring::Trend::Steady,
            TrendParam::Fading => crate::scoring::Trend::Fading,
        }
    }
}

/// Sort, filters, search and paging of the people list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactListParams {
    /// Order by this (default `score`); ties go by score.
    pub sort: Option<ContactSortParam>,
    /// `desc` (default: highest, best, newest first) or `asc`.
    pub order: Option<Order>,
    pub trend: Option<TrendParam>,
    /// A stage of the qualification ladder (`new`, `engaged`, `mql`, `sales_ready` by default).
    pub stage: Option<String>,
    /// With `stage` or alone: entered the stage in the last this many days
    /// (`stage=sales_ready&entered_within_days=7`: became sales ready this week).
    #[param(minimum = 1, maximum = 3650)]
    pub entered_within_days: Option<u32>,
    pub fit: Option<FitParam>,
    /// Attention × fit cell, `A1` … `D4`.
    #[param(pattern = "^[A-D][1-4]$")]
    pub matrix: Option<String>,
    /// An account key (`domain:acme.com`, `hubspot-company:42`).
    pub account: Option<String>,
    /// A source name: people with touches from it.
    pub source: Option<String>,
    /// The start of an email, a name, a CRM id (`hubspot:51` or `51`) or `c_<n>`.
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the page before.
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
}

/// Sort, filters, search and paging of the account leaderboard.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountListParams {
    /// Order by this (default `score`).
    pub sort: Option<AccountSortParam>,
    pub order: Option<Order>,
    pub trend: Option<TrendParam>,
    /// The start of the account's key, domain or name.
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the page before.
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
}

fn limit(given: Option<u32>) -> Result<usize, Problem> {
    match given.unwrap_or(DEFAULT_LIMIT) {
        0 => Err(Problem::new(400, "`limit` must be at least 1")),
        n if n > MAX_LIMIT => Err(Problem::new(
            400,
            format!("`limit` must be at most {MAX_LIMIT}"),
        )),
        n => Ok(n as usize),
    }
}

fn cursor(given: &Option<String>) -> Result<Option<Vec<u8>>, Problem> {
    match given.as_deref() {
        None | Some("") => Ok(None),
        Some(text) => decode_cursor(text)
            .map(Some)
            .ok_or_else(|| Problem::new(400, "`cursor` is not a cursor this API gave out")),
    }
}

fn search(given: &Option<String>) -> Option<String> {
    given
        .as_deref()
        .map(search_term)
        .filter(|term| !term.is_empty())
}

/// The query the parameters ask for, or why they cannot be read.
pub fn contact_query(
    state: &AppState,
    params: &ContactListParams,
) -> Result<ContactQuery, Problem> {
    let ladder: Vec<&str> = state
        .config
        .scoring
        .stages
        .iter()
        .map(|rung| rung.name.as_str())
        .collect();
    if let Some(stage) = params.stage.as_ref().filter(|stage| !stage.is_empty()) {
        if !ladder.contains(&stage.as_str()) {
            return Err(Problem::new(
                400,
                format!(
                    "unknown stage `{stage}`; the stages are {}",
                    ladder.join(", ")
                ),
            ));
        }
    }
    if let Some(cell) = &params.matrix {
        let valid = cell.len() == 2
            && matches!(cell.as_bytes()[0], b'A'..=b'D')
            && matches!(cell.as_bytes()[1], b'1'..=b'4');
        if !valid {
            return Err(Problem::new(
                400,
                format!("`{cell}` is not a matrix cell: A1 … D4"),
            ));
        }
    }
    let stage_since = match params.entered_within_days {
        Some(0) => {
            return Err(Problem::new(
                400,
                "`entered_within_days` must be at least 1",
            ))
        }
        Some(days) if days > 3650 => {
            return Err(Problem::new(
                400,
                "`entered_within_days` must be at most 3650",
            ))
        }
        Some(days) => Some(now_millis() - i64::from(days) * MILLIS_PER_DAY as i64),
        None => None,
    };
    let nonempty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    let sort = match params.sort.unwrap_or(ContactSortParam::Score) {
        ContactSortParam::Score => ContactSort::Score,
        ContactSortParam::Trend => ContactSort::Trend,
        ContactSortParam::Velocity => ContactSort::Velocity,
        ContactSortParam::Stage => ContactSort::Stage,
        ContactSortParam::Fit => ContactSort::Fit,
        ContactSortParam::Matrix => ContactSort::Matrix,
        ContactSortParam::LastTouch => ContactSort::LastTouch,
    };
    Ok(ContactQuery {
        sort,
        descending: !matches!(params.order, Some(Order::Asc)),
        filter: ContactFilter {
            trend: params.trend.map(TrendParam::trend),
            stage: nonempty(&params.stage),
            fit_grade: params.fit.map(|fit| format!("{fit:?}")),
            matrix: nonempty(&params.matrix),
            account: nonempty(&params.account),
            source: nonempty(&params.source),
            stage_since,
            search: search(&params.q),
        },
        after: cursor(&params.cursor)?,
        limit: limit(params.limit)?,
    })
}

pub fn account_query(params: &AccountListParams) -> Result<AccountQuery, Problem> {
    Ok(AccountQuery {
        sort: match params.sort.unwrap_or(AccountSortParam::Score) {
            AccountSortParam::Score => AccountSort::Score,
            AccountSortParam::Trend => AccountSort::Trend,
            AccountSortParam::People => AccountSort::People,
            AccountSortParam::Name => AccountSort::Name,
        },
        // Names read best A to Z; numbers best highest first.
        descending: match params.order {
            Some(Order::Asc) => false,
            Some(Order::Desc) => true,
            None => !matches!(params.sort, Some(AccountSortParam::Name)),
        },
        trend: params.trend.map(TrendParam::trend),
        search: search(&params.q),
        after: cursor(&params.cursor)?,
        limit: limit(params.limit)?,
    })
}

/// A page of people.
#[utoipa::path(
    get,
    path = "/api/v1/contacts",
    params(ContactListParams),
    responses(
        (status = 200, description = "A page of people", body = PeopleView),
        (status = 400, description = "A parameter cannot be read", body = super::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = super::problem::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn contacts(
    state: web::Data<AppState>,
    params: web::Query<ContactListParams>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let query = contact_query(&state, &params)?;
    let view = lists::people(&state.store, &query, now_millis(), &state.config.scoring)
        .map_err(internal)?;
    Ok(HttpResponse::Ok().json(view))
}

/// A page of the account leaderboard.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    params(AccountListParams),
    responses(
        (status = 200, description = "A page of accounts", body = AccountsView),
        (status = 400, description = "A parameter cannot be read", body = super::problem::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = super::problem::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn accounts(
    state: web::Data<AppState>,
    params: web::Query<AccountListParams>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let query = account_query(&params)?;
    let view = lists::accounts(&state.store, &query).map_err(internal)?;
    Ok(HttpResponse::Ok().json(view))
}

/// Each source's deliveries over the last 24 hours, and the pipeline's lag.
#[utoipa::path(
    get,
    path = "/api/v1/sources",
    responses(
        (status = 200, description = "Every configured source", body = SourcesView),
        (status = 401, description = "No valid token", body = super::problem::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn sources(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let view = state
        .console
        .activity
        .sources(&state.config, &state.pipeline, now_millis());
    Ok(HttpResponse::Ok().json(view))
}

/// Each sink's outbox, last success and error rate.
#[utoipa::path(
    get,
    path = "/api/v1/sinks",
    responses(
        (status = 200, description = "Every configured sink", body = SinksView),
        (status = 401, description = "No valid token", body = super::problem::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn sinks(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    authorize(&state, &request)?;
    let view = state
        .console
        .activity
        .sinks(&state.config, &state.metrics, now_millis());
    Ok(HttpResponse::Ok().json(view))
}
