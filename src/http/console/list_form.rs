//! The parts of a list page: its query string read and rewritten (a filter set, the
//! sort turned, paging back to the start), select boxes and sortable headers.

use actix_web::HttpRequest;

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct Select {
    pub name: &'static str,
    pub label: &'static str,
    pub choices: Vec<Choice>,
}

pub struct Header {
    pub label: &'static str,
    pub href: String,
    pub aria_sort: &'static str,
    pub arrow: &'static str,
    pub numeric: bool,
}

pub struct Link {
    pub href: String,
    pub label: String,
}

/// The query string's pairs, without empty ones (a form's unset choices).
pub fn pairs(request: &HttpRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(request.query_string().as_bytes())
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

pub fn link(path: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return path.to_string();
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        query.append_pair(key, value);
    }
    format!("{path}?{}", query.finish())
}

pub fn get<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(name, _)| name == key)
        .map_or("", |(_, value)| value.as_str())
}

/// The same list with one key set (or dropped) and paging back to the start.
pub fn with(pairs: &[(String, String)], changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
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

pub fn choices(current: &str, all: &[(&str, &str)]) -> Vec<Choice> {
    all.iter()
        .map(|(value, label)| Choice {
            value: value.to_string(),
            label: label.to_string(),
            selected: *value == current,
        })
        .collect()
}

/// Sortable column headers: a second click on the sorted one turns the order.
pub fn headers(
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
