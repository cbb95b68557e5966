//! The people list: sorted, filtered, searched and paged through the indexes.

use super::frame::{account_link, when_or_never, Frame};
use super::frame::{page, render, signed_in};
use super::list_form::{choices, get, headers, link, pairs, with, Header, Link, Select};
use crate::clock::now_millis;
use crate::http::admin::internal;
use crate::http::admin_lists::{contact_query, ContactListParams};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::views::lists;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

pub struct FilterForm {
    q: String,
    account: String,
    sort: String,
    order: String,
}

pub struct PersonLine {
    href: String,
    name: String,
    email: Option<String>,
    account: Option<(String, String)>,
    score: u8,
    trend: String,
    velocity: String,
    stage: String,
    fit: String,
    matrix: String,
    last_touch: String,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    frame: Frame,
    presets: Vec<Link>,
    form: FilterForm,
    selects: Vec<Select>,
    problem: Option<String>,
    /// Said while the lists are being built anew.
    indexing: Option<String>,
    caption: String,
    headers: Vec<Header>,
    rows: Vec<PersonLine>,
    next_href: Option<String>,
    first_href: Option<String>,
}

pub async fn people(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let visitor = match signed_in(&state, &request) {
        Ok(visitor) => visitor,
        Err(redirect) => return Ok(*redirect),
    };
    let pairs = pairs(&request);
    let mut problem = None;
    let page_of = |pairs: &[(String, String)]| -> Result<lists::PeopleView, Problem> {
        let params: ContactListParams = web::Query::<ContactListParams>::from_query(
            &form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish(),
        )
        .map_err(|error| Problem::new(400, error.to_string()))?
        .into_inner();
        let query = contact_query(&state, &params)?;
        lists::people(&state.store, &query, now_millis(), &state.config.scoring).map_err(internal)
    };
    let view = match page_of(&pairs) {
        Ok(view) => view,
        Err(error) if error.status.is_client_error() => {
            problem = Some(error.detail);
            lists::PeopleView {
                contacts: Vec::new(),
                next_cursor: None,
                indexing: None,
            }
        }
        Err(error) => return Err(error),
    };
    let ladder: Vec<String> = state
        .config
        .scoring
        .stages
        .iter()
        .map(|rung| rung.name.clone())
        .collect();
    let top = ladder.last().cloned().unwrap_or_default();
    let stage_choices: Vec<(&str, &str)> = std::iter::once(("", "Any"))
        .chain(ladder.iter().map(|name| (name.as_str(), name.as_str())))
        .collect();
    let source_choices: Vec<(&str, &str)> = std::iter::once(("", "Any"))
        .chain(
            state
                .config
                .sources
                .keys()
                .map(|name| (name.as_str(), name.as_str())),
        )
        .collect();
    let cells: Vec<String> = ["A", "B", "C", "D"]
        .iter()
        .flat_map(|grade| (1..=4).map(move |band| format!("{grade}{band}")))
        .collect();
    let matrix_choices: Vec<(&str, &str)> = std::iter::once(("", "Any"))
        .chain(cells.iter().map(|cell| (cell.as_str(), cell.as_str())))
        .collect();
    let selects = vec![
        Select {
            name: "stage",
            label: "Stage",
            choices: choices(get(&pairs, "stage"), &stage_choices),
        },
        Select {
            name: "entered_within_days",
            label: "Entered stage",
            choices: choices(
                get(&pairs, "entered_within_days"),
                &[("", "Any time"), ("7", "This week"), ("30", "Last 30 days")],
            ),
        },
        Select {
            name: "fit",
            label: "Fit",
            choices: choices(
                get(&pairs, "fit"),
                &[("", "Any"), ("A", "A"), ("B", "B"), ("C", "C"), ("D", "D")],
            ),
        },
        Select {
            name: "matrix",
            label: "Matrix",
            choices: choices(get(&pairs, "matrix"), &matrix_choices),
        },
        Select {
            name: "trend",
            label: "Trend",
            choices: choices(
                get(&pairs, "trend"),
                &[
                    ("", "Any"),
                    ("rising", "rising"),
                    ("steady", "steady"),
                    ("fading", "fading"),
                ],
            ),
        },
        Select {
            name: "source",
            label: "Source",
            choices: choices(get(&pairs, "source"), &source_choices),
        },
    ];
    let presets = vec![
        Link {
            href: "/people?trend=rising".into(),
            label: "Rising".into(),
        },
        Link {
            href: link(
                "/people",
                &[
                    ("stage".to_string(), top.clone()),
                    ("entered_within_days".to_string(), "7".to_string()),
                ],
            ),
            label: format!("Became {} this week", top.replace('_', " ")),
        },
        Link {
            href: "/people?sort=last_touch".into(),
            label: "Latest touches".into(),
        },
    ];
    let columns = [
        ("score", "Score", true),
        ("trend", "Trend", false),
        ("velocity", "Velocity", true),
        ("stage", "Stage", false),
        ("fit", "Fit", false),
        ("matrix", "Matrix", false),
        ("last_touch", "Last touch", false),
    ];
    let rows: Vec<PersonLine> = view
        .contacts
        .iter()
        .map(|row| PersonLine {
            href: format!("/people/{}", row.id),
            name: row
                .name
                .clone()
                .or_else(|| row.email.clone())
                .unwrap_or_else(|| row.id.clone()),
            email: row.name.as_ref().and(row.email.clone()),
            account: row
                .account
                .as_ref()
                .map(|key| (key.clone(), account_link(key))),
            score: row.score,
            trend: row.trend.clone(),
            velocity: format!("{:+}", row.velocity),
            stage: row
                .qualification_stage
                .clone()
                .unwrap_or_else(|| "—".into()),
            fit: row.fit_grade.clone().unwrap_or_else(|| "—".into()),
            matrix: row.attention_matrix.clone().unwrap_or_else(|| "—".into()),
            last_touch: when_or_never(row.last_touch_at.as_deref()),
        })
        .collect();
    let caption = if pairs
        .iter()
        .any(|(key, _)| !matches!(key.as_str(), "sort" | "order" | "cursor"))
    {
        format!("{} people on this page, filtered", rows.len())
    } else {
        format!("{} people on this page", rows.len())
    };
    let html = render(&PeoplePage {
        frame: Frame::new(&visitor, "People", "/people"),
        presets,
        form: FilterForm {
            q: get(&pairs, "q").to_string(),
            account: get(&pairs, "account").to_string(),
            sort: get(&pairs, "sort").to_string(),
            order: get(&pairs, "order").to_string(),
        },
        selects,
        problem,
        indexing: view.indexing.map(|indexing| indexing.notice()),
        caption,
        headers: headers("/people", &pairs, &columns, "score", |_| true),
        rows,
        next_href: view
            .next_cursor
            .as_deref()
            .map(|cursor| link("/people", &with(&pairs, &[("cursor", Some(cursor))]))),
        first_href: pairs
            .iter()
            .any(|(key, _)| key == "cursor")
            .then(|| link("/people", &with(&pairs, &[]))),
    })?;
    Ok(page(200, html))
}
