//! The console's pages: overview, people, a person, accounts, an account, dead
//! letters, scoring. Each reads the views the admin API serves and renders them.

use super::chart::{draw, Chart};
use super::session::{csrf_matches, same_origin};
use super::{page, render, signed_in, Visitor};
use crate::clock::now_millis;
use crate::http::admin::internal;
use crate::http::admin_lists::{
    account_query, contact_query, AccountListParams, ContactListParams,
};
use crate::http::{AppState, Problem};
use crate::model::ContactKey;
use crate::views::{self, lists, person::person_page, timeline};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

pub struct NavItem {
    href: &'static str,
    label: &'static str,
    current: bool,
}

/// What every page's frame shows.
pub struct Frame {
    title: String,
    nav: Vec<NavItem>,
    role: &'static str,
    csrf: String,
}

impl Frame {
    fn new(visitor: &Visitor, title: impl Into<String>, current: &str) -> Frame {
        let nav = [
            ("/", "Overview"),
            ("/people", "People"),
            ("/accounts", "Accounts"),
            ("/dead-letters", "Dead letters"),
            ("/scoring", "Scoring"),
        ]
        .into_iter()
        .map(|(href, label)| NavItem {
            href,
            label,
            current: href == current,
        })
        .collect();
        Frame {
            title: title.into(),
            nav,
            role: visitor.session.role.name(),
            csrf: visitor.session.csrf.clone(),
        }
    }
}

/// A time as people read it: to the minute, UTC.
fn when(text: &str) -> String {
    text.get(..16)
        .map(|t| format!("{} UTC", t.replace('T', " ")))
        .unwrap_or_else(|| text.to_string())
}

fn when_or_never(text: Option<&str>) -> String {
    text.map(when).unwrap_or_else(|| "never".into())
}

fn duration(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3_600),
        s => format!("{} days", s / 86_400),
    }
}

fn escape_path(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

fn account_link(key: &str) -> String {
    format!("/accounts/{}", escape_path(key))
}

// ---------------------------------------------------------------- overview

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

// ---------------------------------------------------------------- lists

pub struct Choice {
    value: String,
    label: String,
    selected: bool,
}

pub struct Select {
    name: &'static str,
    label: &'static str,
    choices: Vec<Choice>,
}

pub struct Header {
    label: &'static str,
    href: String,
    aria_sort: &'static str,
    arrow: &'static str,
    numeric: bool,
}

pub struct Link {
    href: String,
    label: String,
}

/// The query string's pairs, without empty ones (a form's unset choices).
fn pairs(request: &HttpRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(request.query_string().as_bytes())
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

fn link(path: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return path.to_string();
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        query.append_pair(key, value);
    }
    format!("{path}?{}", query.finish())
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(name, _)| name == key)
        .map_or("", |(_, value)| value.as_str())
}

/// The same list with one key set (or dropped) and paging back to the start.
fn with(pairs: &[(String, String)], changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = pairs
        .iter()
        .filter(|(key, _)| key != "cursor" && !changes.iter().any(|(name, _)| name == key))
        .cloned()
        .collect();
    for (key, value) in changes {
        if let Some(value) = value {
            out.push((key.to_string(), value.to_string()));
        }
    }
    out
}

fn choices(current: &str, all: &[(&str, &str)]) -> Vec<Choice> {
    all.iter()
        .map(|(value, label)| Choice {
            value: value.to_string(),
            label: label.to_string(),
            selected: *value == current,
        })
        .collect()
}

/// Sortable column headers: a second click on the sorted one turns the order.
fn headers(
    path: &str,
    pairs: &[(String, String)],
    columns: &[(&'static str, &'static str, bool)],
    default_sort: &str,
    default_descending: impl Fn(&str) -> bool,
) -> Vec<Header> {
    let sort = match get(pairs, "sort") {
        "" => default_sort,
        sort => sort,
    };
    let descending = match get(pairs, "order") {
        "asc" => false,
        "desc" => true,
        _ => default_descending(sort),
    };
    columns
        .iter()
        .map(|(key, label, numeric)| {
            let current = *key == sort;
            let next_descending = if current {
                !descending
            } else {
                default_descending(key)
            };
            let order = if next_descending { "desc" } else { "asc" };
            Header {
                label,
                href: link(
                    path,
                    &with(pairs, &[("sort", Some(key)), ("order", Some(order))]),
                ),
                aria_sort: match (current, descending) {
                    (false, _) => "none",
                    (true, true) => "descending",
                    (true, false) => "ascending",
                },
                arrow: match (current, descending) {
                    (false, _) => "",
                    (true, true) => " ▼",
                    (true, false) => " ▲",
                },
                numeric: *numeric,
            }
        })
        .collect()
}

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

// ---------------------------------------------------------------- records

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    frame: Frame,
    heading: String,
    text: String,
    back: String,
}

fn not_found(
    visitor: &Visitor,
    what: &str,
    text: String,
    back: &str,
) -> Result<HttpResponse, Problem> {
    let html = render(&MessagePage {
        frame: Frame::new(visitor, what, back),
        heading: what.to_string(),
        text,
        back: back.to_string(),
    })?;
    Ok(page(404, html))
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    frame: Frame,
    heading: String,
    contact: views::ContactView,
    velocity: String,
    stage: String,
    account: Option<(String, String)>,
    chart: Chart,
    queued: Option<views::person::QueuedFields>,
    crms: Vec<(String, String, String)>,
    explanation: String,
    outcomes: Vec<(String, String, String, String, String, String)>,
}

pub async fn person(
    state: web::Data<AppState>,
    key: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let visitor = match signed_in(&state, &request) {
        Ok(visitor) => visitor,
        Err(redirect) => return Ok(*redirect),
    };
    let key = key.into_inner();
    let Some(parsed) = ContactKey::parse(&key) else {
        return not_found(
            &visitor,
            "No such person",
            format!("`{key}` is not an email, `system:id` or contact id."),
            "/people",
        );
    };
    let sinks: Vec<String> = state.config.sinks.keys().cloned().collect();
    let found = person_page(
        &state.store,
        &parsed,
        &sinks,
        now_millis(),
        &state.config.scoring,
    )
    .map_err(internal)?;
    let Some(found) = found else {
        return not_found(
            &visitor,
            "No such person",
            format!("No contact is known as `{key}`."),
            "/people",
        );
    };
    let contact = found.contact;
    let heading = contact
        .profile
        .get("first_name")
        .map(|first| {
            let last = contact
                .profile
                .get("last_name")
                .map(|l| l.value.as_str())
                .unwrap_or("");
            format!("{} {last}", first.value).trim().to_string()
        })
        .or_else(|| contact.emails.first().cloned())
        .unwrap_or_else(|| contact.id.clone());
    let crms = found
        .crms
        .iter()
        .map(|crm| {
            let (state_text, details) = match (&crm.pending, &crm.dead_letter) {
                (_, Some(letter)) => (
                    "refused, parked in dead letters".to_string(),
                    format!(
                        "{} (after {} attempts, {})",
                        letter.error,
                        letter.attempts,
                        when(&letter.failed_at)
                    ),
                ),
                (Some(pending), None) => (
                    if pending.attempts > 0 {
                        "waiting to be retried".to_string()
                    } else {
                        "waiting to be written".to_string()
                    },
                    format!(
                        "queued {}; {}{}",
                        when(&pending.queued_at),
                        pending
                            .fields
                            .iter()
                            .map(|(name, value)| format!("{name} = {value}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        pending
                            .last_error
                            .as_deref()
                            .map(|error| format!("; last error: {error}"))
                            .unwrap_or_default()
                    ),
                ),
                (None, None) => (
                    "written".to_string(),
                    "nothing waits: the last queued fields were taken".to_string(),
                ),
            };
            (crm.sink.clone(), state_text, details)
        })
        .collect();
    let outcomes = contact
        .outcomes
        .iter()
        .map(|outcome| {
            (
                when(&outcome.occurred_at),
                outcome.kind.to_string(),
                outcome.source.clone(),
                outcome.opportunity.clone().unwrap_or_else(|| "—".into()),
                outcome.stage.clone().unwrap_or_else(|| "—".into()),
                outcome
                    .amount
                    .map(|amount| {
                        format!("{amount} {}", outcome.currency.clone().unwrap_or_default())
                    })
                    .unwrap_or_else(|| "—".into()),
            )
        })
        .collect();
    let caption = format!(
        "{heading}'s score over the last 90 days: {} touches marked; hover or focus a mark for the touch.",
        found.timeline.marks.len()
    );
    let html = render(&PersonPage {
        frame: Frame::new(&visitor, heading.clone(), "/people"),
        velocity: format!("{:+.2}", contact.attention_velocity),
        stage: contact
            .qualification_stage
            .clone()
            .unwrap_or_else(|| "not assessed".into()),
        account: contact
            .account_key
            .as_ref()
            .map(|key| (key.clone(), account_link(key))),
        chart: draw(&found.timeline, caption),
        queued: found.queued,
        crms,
        explanation: found.explanation,
        outcomes,
        heading,
        contact,
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

// ---------------------------------------------------------------- dead letters

pub struct LetterLine {
    id: String,
    sink: String,
    record: String,
    href: Option<String>,
    error: String,
    attempts: u32,
    failed_at: String,
}

#[derive(Template)]
#[template(path = "dead_letters.html")]
struct DeadLettersPage {
    frame: Frame,
    admin: bool,
    notice: Option<String>,
    letters: Vec<LetterLine>,
}

#[derive(serde::Deserialize)]
pub struct Notice {
    done: Option<String>,
}

pub async fn dead_letters(
    state: web::Data<AppState>,
    request: HttpRequest,
    notice: web::Query<Notice>,
) -> Result<HttpResponse, Problem> {
    let visitor = match signed_in(&state, &request) {
        Ok(visitor) => visitor,
        Err(redirect) => return Ok(*redirect),
    };
    let listing = views::dead_letters(&state.store).map_err(internal)?;
    let letters = listing
        .dead_letters
        .into_iter()
        .map(|letter| LetterLine {
            href: letter
                .contact
                .as_ref()
                .map(|id| format!("/people/{id}"))
                .or_else(|| letter.account.as_deref().map(account_link)),
            record: letter
                .contact
                .clone()
                .or(letter.account.clone())
                .unwrap_or_default(),
            id: letter.id,
            sink: letter.sink,
            error: letter.error,
            attempts: letter.attempts,
            failed_at: when(&letter.failed_at),
        })
        .collect();
    let html = render(&DeadLettersPage {
        frame: Frame::new(&visitor, "Dead letters", "/dead-letters"),
        admin: visitor.admin(),
        notice: match notice.done.as_deref() {
            Some("retried") => Some("The record was queued again.".into()),
            Some("deleted") => Some("The dead letter was deleted.".into()),
            _ => None,
        },
        letters,
    })?;
    Ok(page(200, html))
}

#[derive(serde::Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
}

/// A change from a console form: signed in as admin, from our own page, with the
/// session's CSRF token.
fn may_change(state: &AppState, request: &HttpRequest, form: &ActionForm) -> Result<(), Problem> {
    let Some(visitor) = super::visitor(state, request) else {
        return Err(Problem::new(401, "sign in to the console first"));
    };
    if !same_origin(&state.config, request) || !csrf_matches(&visitor.session, &form.csrf) {
        tracing::warn!(message = "Console change refused: cross-site or without its CSRF token.", path = %request.path());
        return Err(Problem::new(
            403,
            "the form's CSRF token is missing or wrong",
        ));
    }
    if !visitor.admin() {
        return Err(Problem::new(403, "a viewer cannot change anything"));
    }
    Ok(())
}

fn letter_id(id: &str) -> Result<u64, Problem> {
    id.parse()
        .map_err(|_| Problem::new(400, format!("`{id}` is not a dead letter id")))
}

fn back_to_letters(done: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/dead-letters?done={done}")))
        .finish()
}

pub async fn retry_dead_letter(
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, Problem> {
    may_change(&state, &request, &form)?;
    let id = letter_id(&id)?;
    if state
        .store
        .retry_dead_letter(id, now_millis())
        .map_err(internal)?
    {
        Ok(back_to_letters("retried"))
    } else {
        Err(Problem::new(404, format!("no dead letter {id}")))
    }
}

pub async fn delete_dead_letter(
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, Problem> {
    may_change(&state, &request, &form)?;
    let id = letter_id(&id)?;
    if state.store.delete_dead_letter(id).map_err(internal)? {
        Ok(back_to_letters("deleted"))
    } else {
        Err(Problem::new(404, format!("no dead letter {id}")))
    }
}

// ---------------------------------------------------------------- scoring

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
