//! The page's second section: which attention converts? Kinds of touch by lift and
//! learned weight; campaigns, assets and sources by what followed them.

use super::rows::{self, Item};
use super::svg::{escape, short};
use super::{figure, para, table, whole};
use crate::report::{KindRow, Reach, Report};
use std::fmt::Write as _;

/// Rows shown in a campaign, asset or source chart; the table lists them all.
const TOP_ROWS: usize = 12;

pub fn section(report: &Report) -> String {
    let mut out = String::new();
    if let Some(top) = report.kinds.iter().find(|k| k.lift.is_some()) {
        out.push_str(&format!(
            r#"<p class="lead">{}</p>"#,
            escape(&format!(
                "People with a {} in the 30 days before went on to an opportunity {:.1} times as often as everyone.",
                top.kind.label(),
                top.lift.unwrap_or(0.0)
            ))
        ));
    }
    out.push_str("<h3>By kind of touch</h3>");
    let with_lift: Vec<&KindRow> = report.kinds.iter().filter(|k| k.lift.is_some()).collect();
    if with_lift.is_empty() {
        out.push_str(&para(
            "No touches yet, or no opportunity to compare them with.",
        ));
    } else {
        let chart = rows::row_chart(&rows::RowChart {
            id: "kind-lift",
            title: "Lift of each kind of touch",
            desc: "How much more often people who did it in the 30 days before went on to an opportunity, over everyone. 1 is average.",
            x_label: "Conversion over average",
            names: vec!["lift".into()],
            items: with_lift
                .iter()
                .map(|k| Item { label: k.kind.label().to_string(), values: vec![k.lift.unwrap_or(0.0)], interval: None })
                .collect(),
            format: &|v| format!("{v:.1}×"),
            points: false,
            reference: Some((1.0, "average")),
        });
        let rows: Vec<Vec<String>> = report
            .kinds
            .iter()
            .map(|k| {
                let learned = k.learned.map_or("–".to_string(), |l| {
                    format!("{:.1} ({:.1} to {:.1})", l.weight, l.low, l.high)
                });
                vec![
                    k.kind.label().to_string(),
                    whole(k.rows as f64),
                    whole(k.converted as f64),
                    k.lift.map_or("–".into(), |l| format!("{l:.2}")),
                    format!("{}", k.current),
                    learned,
                ]
            })
            .collect();
        out.push_str(&figure(
            "fig-kind-lift",
            &chart,
            "Lift over the weekly snapshots of people; a kind nobody did is left out.",
            &table(
                "Each kind of touch",
                &[
                    "kind",
                    "snapshots with it",
                    "converted",
                    "lift",
                    "points now",
                    "learned points (95 % interval)",
                ],
                &rows,
            ),
        ));
    }
    let learned: Vec<&KindRow> = report
        .kinds
        .iter()
        .filter(|k| k.learned.is_some())
        .collect();
    if !learned.is_empty() {
        let chart = rows::row_chart(&rows::RowChart {
            id: "kind-weights",
            title: "Learned points per touch, with 95 % intervals",
            desc: "The weight learning finds for each kind of touch (10 points double the odds of an opportunity), \
                   with the range it falls in over refits on resampled people. A kind whose weight came out of the \
                   sign it has (a penalty turning into a reward, or the reverse) is held at 0 in the suggestion.",
            x_label: "Points per touch",
            names: vec!["learned".into()],
            items: learned
                .iter()
                .filter_map(|k| {
                    let l = k.learned?;
                    let held = if l.held { " (held)" } else { "" };
                    Some(Item { label: format!("{}{held}", k.kind.label()), values: vec![l.fitted], interval: Some((l.low, l.high)) })
                })
                .collect(),
            format: &|v| format!("{v:.1}"),
            points: true,
            reference: None,
        });
        let rows: Vec<Vec<String>> = learned
            .iter()
            .filter_map(|k| {
                let l = k.learned?;
                Some(vec![
                    k.kind.label().to_string(),
                    format!("{}", k.current),
                    format!("{:.1}", l.fitted),
                    format!("{:.1}", l.low),
                    format!("{:.1}", l.high),
                    format!("{:.1}", l.weight),
                ])
            })
            .collect();
        out.push_str(&figure(
            "fig-kind-weights",
            &chart,
            "A wide interval means the history does not pin the weight down yet.",
            &table(
                "Learned weights",
                &[
                    "kind",
                    "points now",
                    "found",
                    "interval low",
                    "interval high",
                    "suggested",
                ],
                &rows,
            ),
        ));
    }
    for (id, title, rows, empty) in [
        ("campaigns", "By campaign", &report.campaigns, "No touch named a campaign. Marketo, Salesforce campaign members, Mailchimp and standard payloads with a `campaign` property do."),
        ("assets", "By asset", &report.assets, "No touch named an asset (a Marketo or standard `asset`, a Typeform form, a Zoom webinar topic, an email subject)."),
        ("sources", "By source", &report.sources, "No touches yet."),
    ] {
        let _ = write!(out, "<h3>{}</h3>", escape(title));
        if rows.is_empty() {
            out.push_str(&para(empty));
            continue;
        }
        let shown: Vec<&Reach> = rows.iter().take(TOP_ROWS).collect();
        let per_hundred = |r: &Reach| 100.0 * r.opportunities as f64 / r.people.max(1) as f64;
        let everyone = format!("every touch: {}", short(per_hundred(&report.everyone)));
        let chart = rows::row_chart(&rows::RowChart {
            id,
            title: &format!("Opportunities per 100 people reached, {}", title.to_lowercase()),
            desc: "Of the people each one reached, how many went on to an opportunity (theirs or their account's) within the horizon after it.",
            x_label: "Opportunities per 100 people reached",
            names: vec!["opportunities per 100 people".into()],
            items: shown
                .iter()
                .map(|r| Item {
                    label: format!("{} ({} people)", r.name, whole(r.people as f64)),
                    values: vec![per_hundred(r)],
                    interval: None,
                })
                .collect(),
            format: &|v| short(v),
            points: false,
            reference: Some((per_hundred(&report.everyone), &everyone)),
        });
        let table_rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    whole(r.people as f64),
                    whole(r.accounts as f64),
                    whole(r.touches as f64),
                    whole(r.attention),
                    whole(r.opportunities as f64),
                    whole(r.amount),
                ]
            })
            .collect();
        out.push_str(&figure(
            &format!("fig-{id}"),
            &chart,
            &format!(
                "The {} reaching the most people{}. The dashed line is every touch together: a bar well short of it brought people, not pipeline.",
                shown.len(),
                if rows.len() > shown.len() { format!(" of {}", rows.len()) } else { String::new() }
            ),
            &table(
                title,
                &["name", "people reached", "accounts", "touches", "attention (points)", "opportunities after", "pipeline after"],
                &table_rows,
            ),
        ));
    }
    out
}
