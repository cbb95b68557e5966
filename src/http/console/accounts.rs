//! The account leaderboard and one account's page with its buying group.

use super::chart::{draw, Chart};
use super::frame::{account_link, not_found, Frame};
use super::frame::{page, render, signed_in};
use super::list_form::{choices, get, headers, link, pairs, with, Choice, Header};
use crate::clock::now_millis;
use crate::http::admin::internal;
use crate::http::admin_lists::{account_query, AccountListParams};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::views::{self, lists, timeline};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

pub struct AccountLine {
    href: String,
    key: String,
    name: String,
    score: u8,
    trend: String,
    people: u32,
    members: u32,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    frame: Frame,
    q: String,
    trends: Vec<Choice>,
    sort: String,
    order: String,
    problem: Option<String>,
    /// Said while the lists are being built anew.
    indexing: Option<String>,
    headers: Vec<Header>,
    rows: Vec<AccountLine>,
    next_href: Option<String>,
    first_href: Option<String>,
}

pub async fn accounts(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let visitor = match signed_in(&state, &request) {
        Ok(visitor) => visitor,
        Err(redirect) => return Ok(*redirect),
    };
    let pairs = pairs(&request);
    let mut problem = None;
    let read = || -> Result<lists::AccountsView, Problem> {
        let params: AccountListParams = web::Query::<AccountListParams>::from_query(
            &form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish(),
        )
        .map_err(|error| Problem::new(400, error.to_string()))?
        .into_inner();
        lists::accounts(&state.store, &account_query(&params)?).map_err(internal)
    };
    let view = match read() {
        Ok(view) => view,
        Err(error) if error.status.is_client_error() => {
            problem = Some(error.detail);
            lists::AccountsView {
                accounts: Vec::new(),
                next_cursor: None,
                indexing: None,
            }
        }
        Err(error) => return Err(error),
    };
    let columns = [
        ("name", "Account", false),
        ("score", "Score", true),
        ("trend", "Trend", false),
        ("people", "People engaged", true),
    ];
    let html = render(&AccountsPage {
        frame: Frame::new(&visitor, "Accounts", "/accounts"),
        q: get(&pairs, "q").to_string(),
        trends: choices(
            get(&pairs, "trend"),
            &[
                ("", "Any"),
                ("rising", "rising"),
                ("steady", "steady"),
                ("fading", "fading"),
            ],
        ),
        sort: get(&pairs, "sort").to_string(),
        order: get(&pairs, "order").to_string(),
        problem,
        indexing: view.indexing.map(|indexing| indexing.notice()),
        headers: headers("/accounts", &pairs, &columns, "score", |sort| {
            sort != "name"
        }),
        rows: view
            .accounts
            .iter()
            .map(|row| AccountLine {
                href: account_link(&row.key),
                key: row.key.clone(),
                name: row.name.clone(),
                score: row.score,
                trend: row.trend.clone(),
                people: row.people_engaged,
                members: row.members,
            })
            .collect(),
        next_href: view
            .next_cursor
            .as_deref()
            .map(|cursor| link("/accounts", &with(&pairs, &[("cursor", Some(cursor))]))),
        first_href: pairs
            .iter()
            .any(|(key, _)| key == "cursor")
            .then(|| link("/accounts", &with(&pairs, &[]))),
    })?;
    Ok(page(200, html))
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    frame: Frame,
    account: views::AccountView,
    chart: Chart,
    members: Vec<(String, String, String, u8, String, String, String)>,
}

pub async fn account(
    state: web::Data<AppState>,
    key: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let visitor = match signed_in(&state, &request) {
        Ok(visitor) => visitor,
        Err(redirect) => return Ok(*redirect),
    };
    let key = key.into_inner();
    let now = now_millis();
    let config = &state.config.scoring;
    let Some(account) = views::account_view(&state.store, &key, now, config).map_err(internal)?
    else {
        return not_found(
            &visitor,
            "No such account",
            format!("No account is known as `{key}`."),
            "/accounts",
        );
    };
    let line = timeline::account_timeline(&state.store, &account.key, now, 90, config)
        .map_err(internal)?
        .unwrap_or(timeline::Timeline {
            from: now,
            to: now,
            points: Vec::new(),
            marks: Vec::new(),
        });
    let caption = format!("{}'s account score over the last 90 days.", account.name);
    let members = account
        .members
        .iter()
        .map(|member| {
            (
                format!("/people/{}", member.id),
                member.email.clone().unwrap_or_else(|| member.id.clone()),
                member.title.clone().unwrap_or_else(|| "—".into()),
                member.score,
                if member.engaged { "yes" } else { "no" }.to_string(),
                if member.roles.is_empty() {
                    "—".to_string()
                } else {
                    member.roles.join(", ")
                },
                member
                    .qualification_stage
                    .clone()
                    .unwrap_or_else(|| "—".into()),
            )
        })
        .collect();
    let html = render(&AccountPage {
        frame: Frame::new(&visitor, account.name.clone(), "/accounts"),
        chart: draw(&line, caption),
        members,
        account,
    })?;
    Ok(page(200, html))
}
