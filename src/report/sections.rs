//! The three sections of the page, each a few plain sentences, its charts and their
//! tables.

use super::html::{day, figure, percent, table, whole};
use super::svg::{self, escape, short, Item, Line};
use super::Report;
use std::fmt::Write as _;

/// Rows shown in a campaign, asset or source chart; the table lists them all.
const TOP_ROWS: usize = 12;

fn para(text: &str) -> String {
    format!("<p>{}</p>", escape(text))
}

fn note(text: &str) -> String {
    format!(r#"<p class="note">{}</p>"#, escape(text))
}

fn fixed2(v: f64) -> String {
    format!("{v:.2}")
}

pub fn predict(report: &Report) -> String {
    let mut out = String::new();
    let Some(current) = report.curves.first() else {
        out.push_str(&para(
            "Not yet: no weekly snapshot was followed by an opportunity, or every one was. \
             Import history (attentiond import) or wait for outcomes to arrive from the CRM.",
        ));
        return out;
    };
    let leads = report
        .curves
        .iter()
        .find(|c| c.name.starts_with("Lead count"));
    let mut lead = format!(
        "A score that predicts pipeline ranks a person who goes on to an opportunity above one who does not. \
         The current score does so {:.0} % of the time (AUC {:.2}; 50 % is a coin toss), and the top tenth by score \
         converts {:.1} times as often as everyone.",
        current.auc * 100.0,
        current.auc,
        current.top_decile_lift
    );
    if let Some(leads) = leads {
        let _ = write!(
            lead,
            " Counting leads (form submits) does so {:.0} % of the time.",
            leads.auc * 100.0
        );
    }
    let _ = write!(out, r#"<p class="lead">{}</p>"#, escape(&lead));
    out.push_str(&note(&format!(
        "Measured on {}. Each snapshot is a person at a weekly date, with everything known up to that date only, \
         and “converted” when an opportunity was created for them or their account within the {} days after.",
        report.evaluated_on, report.horizon_days
    )));
    if let Some(why) = &report.learned_note {
        out.push_str(&note(why));
    }

    out.push_str("<h3>ROC curve</h3>");
    let lines: Vec<Line> = report
        .curves
        .iter()
        .map(|c| Line {
            name: format!("{} (AUC {:.2})", c.name, c.auc),
            points: c.roc.clone(),
        })
        .collect();
    let percent_axis = |v: f64| format!("{:.0} %", v * 100.0);
    let chart = svg::line_chart(&svg::LineChart {
        id: "roc",
        title: "ROC curve of each score",
        desc: "Share of converters found against share of non-converters flagged, as the threshold is lowered. \
               Higher and further left is better; the diagonal is chance.",
        x_label: "Non-converters flagged (false positive rate)",
        y_label: "Converters found",
        lines,
        x_range: Some((0.0, 1.0)),
        y_range: Some((0.0, 1.0)),
        x_format: &percent_axis,
        y_format: &percent_axis,
        reference: Some(((0.0, 0.0), (1.0, 1.0), "chance")),
    });
    let rows: Vec<Vec<String>> = report
        .curves
        .iter()
        .map(|c| vec![c.name.clone(), fixed2(c.auc), fixed2(c.top_decile_lift)])
        .collect();
    out.push_str(&figure(
        "fig-roc",
        &chart,
        "The further a curve bows to the top left, the better the score tells converters apart.",
        &table(
            "AUC and top-decile lift of each score",
            &["score", "AUC", "top-decile lift"],
            &rows,
        ),
    ));

    out.push_str("<h3>Lift by decile</h3>");
    let categories: Vec<String> = (1..=10).map(|d| format!("{}", d)).collect();
    let series: Vec<(String, Vec<f64>)> = report
        .curves
        .iter()
        .map(|c| (c.name.clone(), c.deciles.clone()))
        .collect();
    let times = |v: f64| format!("{v:.1}×");
    let chart = svg::bar_chart(&svg::BarChart {
        id: "deciles",
        title: "Conversion in each tenth by score, against everyone",
        desc: "Tenth 1 holds the highest scores. A bar above the line at 1 converts more often than average.",
        x_label: "Tenth of snapshots by score, highest first",
        y_label: "Conversion over average",
        categories: categories.clone(),
        series: series.clone(),
        format: &times,
        reference: Some((1.0, "average")),
    });
    let mut headings = vec!["tenth by score"];
    headings.extend(series.iter().map(|(n, _)| n.as_str()));
    let rows: Vec<Vec<String>> = (0..10)
        .map(|d| {
            let mut row = vec![categories[d].clone()];
            row.extend(series.iter().map(|(_, v)| format!("{:.2}", v[d])));
            row
        })
        .collect();
    out.push_str(&figure(
        "fig-deciles",
        &chart,
        "Tenth 1 is the tenth of snapshots with the highest scores.",
        &table("Lift by decile", &headings, &rows),
    ));

    out.push_str("<h3>Conversion by score band, stage and fit</h3>");
    for (id, title, label, rates) in [
        (
            "bands",
            "Conversion by score band",
            "Score band",
            &report.bands,
        ),
        (
            "stages",
            "Conversion by qualification stage",
            "Qualification stage",
            &report.stages,
        ),
    ] {
        let chart = svg::bar_chart(&svg::BarChart {
            id,
            title,
            desc: "Share of snapshots in each group followed by an opportunity.",
            x_label: label,
            y_label: "Converted",
            categories: rates.iter().map(|r| r.label.clone()).collect(),
            series: vec![("converted".into(), rates.iter().map(|r| r.rate).collect())],
            format: &|v| percent(v),
            reference: None,
        });
        let rows: Vec<Vec<String>> = rates
            .iter()
            .map(|r| {
                vec![
                    r.label.clone(),
                    whole(r.rows as f64),
                    whole(r.converted as f64),
                    percent(r.rate),
                ]
            })
            .collect();
        out.push_str(&figure(
            &format!("fig-{id}"),
            &chart,
            &format!("{title}, over every weekly snapshot of people."),
            &table(
                title,
                &[&label.to_lowercase(), "snapshots", "converted", "rate"],
                &rows,
            ),
        ));
    }
    let grades = ["A", "B", "C", "D"];
    let values: Vec<Vec<Option<f64>>> = grades
        .iter()
        .map(|g| {
            (1..=4)
                .map(|band| {
                    report
                        .cells
                        .iter()
                        .find(|c| c.grade == *g && c.band == band)
                        .filter(|c| c.rows > 0)
                        .map(|c| c.rate)
                })
                .collect()
        })
        .collect();
    let chart = svg::grid(
        "cells",
        "Conversion by fit grade and attention band",
        "Rows are fit grades A (best) to D, columns attention bands 1 (most attention) to 4; \
         each cell shows the share of its snapshots followed by an opportunity.",
        &grades
            .iter()
            .map(|g| format!("fit {g}"))
            .collect::<Vec<_>>(),
        &report
            .bands
            .iter()
            .enumerate()
            .map(|(i, b)| format!("{} ({})", i + 1, b.label))
            .collect::<Vec<_>>(),
        &values,
        &|v| percent(v),
    );
    let rows: Vec<Vec<String>> = report
        .cells
        .iter()
        .map(|c| {
            vec![
                format!("{}{}", c.grade, c.band),
                whole(c.rows as f64),
                whole(c.converted as f64),
                if c.rows == 0 {
                    "none".into()
                } else {
                    percent(c.rate)
                },
            ]
        })
        .collect();
    out.push_str(&figure(
        "fig-cells",
        &chart,
        "The attention matrix a rep sees (A1 … D4), with how often each cell went on to an opportunity.",
        &table("Conversion by cell", &["cell", "snapshots", "converted", "rate"], &rows),
    ));
    out
}

pub fn converts(report: &Report) -> String {
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
    let with_lift: Vec<&super::KindRow> =
        report.kinds.iter().filter(|k| k.lift.is_some()).collect();
    if with_lift.is_empty() {
        out.push_str(&para(
            "No touches yet, or no opportunity to compare them with.",
        ));
    } else {
        let chart = svg::row_chart(&svg::RowChart {
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
                let learned = k.learned.map_or("–".to_string(), |(w, lo, hi)| {
                    format!("{w:.1} ({lo:.1} to {hi:.1})")
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
    let learned: Vec<&super::KindRow> = report
        .kinds
        .iter()
        .filter(|k| k.learned.is_some())
        .collect();
    if !learned.is_empty() {
        let chart = svg::row_chart(&svg::RowChart {
            id: "kind-weights",
            title: "Learned points per touch, with 95 % intervals",
            desc: "The weight learning suggests for each kind of touch (10 points double the odds of an opportunity), \
                   with the range it falls in over refits on resampled people.",
            x_label: "Points per touch",
            names: vec!["learned".into()],
            items: learned
                .iter()
                .map(|k| {
                    let (w, lo, hi) = k.learned.unwrap_or_default();
                    Item { label: k.kind.label().to_string(), values: vec![w], interval: Some((lo, hi)) }
                })
                .collect(),
            format: &|v| format!("{v:.1}"),
            points: true,
            reference: None,
        });
        let rows: Vec<Vec<String>> = learned
            .iter()
            .map(|k| {
                let (w, lo, hi) = k.learned.unwrap_or_default();
                vec![
                    k.kind.label().to_string(),
                    format!("{}", k.current),
                    format!("{w:.1}"),
                    format!("{lo:.1}"),
                    format!("{hi:.1}"),
                ]
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
                    "learned",
                    "interval low",
                    "interval high",
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
        let shown: Vec<&super::Reach> = rows.iter().take(TOP_ROWS).collect();
        let per_hundred = |r: &super::Reach| 100.0 * r.opportunities as f64 / r.people.max(1) as f64;
        let everyone = format!("every touch: {}", short(per_hundred(&report.everyone)));
        let chart = svg::row_chart(&svg::RowChart {
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

pub fn measure(report: &Report) -> String {
    let mut out = String::new();
    if report.weeks.is_empty() {
        out.push_str(&para("No touches yet."));
        return out;
    }
    let last = &report.weeks[report.weeks.len() - 1];
    out.push_str(&format!(
        r#"<p class="lead">{}</p>"#,
        escape(&format!(
            "In the week to {}, {} people were engaged and {} accounts were in market (two or more people engaged); \
             total attention stood at {}.",
            day(last.at),
            whole(last.people_engaged as f64),
            whole(last.accounts_in_market as f64),
            whole(last.attention)
        ))
    ));
    out.push_str("<h3>Attention week by week</h3>");
    let date = |v: f64| day(v as i64);
    let chart = svg::line_chart(&svg::LineChart {
        id: "attention",
        title: "Total attention, week by week",
        desc: "Everyone's raw attention added up at each weekly date.",
        x_label: "Week",
        y_label: "Total attention (points)",
        lines: vec![Line {
            name: "total attention".into(),
            points: report
                .weeks
                .iter()
                .map(|w| (w.at as f64, w.attention))
                .collect(),
        }],
        x_range: None,
        y_range: None,
        x_format: &date,
        y_format: &|v| short(v),
        reference: None,
    });
    let rows: Vec<Vec<String>> = report
        .weeks
        .iter()
        .map(|w| {
            vec![
                day(w.at),
                whole(w.attention),
                whole(w.people_engaged as f64),
                whole(w.accounts_in_market as f64),
            ]
        })
        .collect();
    let weekly = table(
        "Week by week",
        &[
            "week to",
            "total attention",
            "people engaged",
            "accounts in market",
        ],
        &rows,
    );
    out.push_str(&figure(
        "fig-attention",
        &chart,
        "Attention decays, so a flat line means marketing keeps people as engaged as before.",
        &weekly,
    ));
    let chart = svg::line_chart(&svg::LineChart {
        id: "in-market",
        title: "People engaged and accounts in market, week by week",
        desc: "People whose score reached the engaged level at a touch in the 7 days up to each date, and accounts with two or more of them.",
        x_label: "Week",
        y_label: "Count",
        lines: vec![
            Line { name: "people engaged".into(), points: report.weeks.iter().map(|w| (w.at as f64, w.people_engaged as f64)).collect() },
            Line { name: "accounts in market".into(), points: report.weeks.iter().map(|w| (w.at as f64, w.accounts_in_market as f64)).collect() },
        ],
        x_range: None,
        y_range: None,
        x_format: &date,
        y_format: &|v| short(v),
        reference: None,
    });
    out.push_str(&figure(
        "fig-in-market",
        &chart,
        "An account is in market when two or more of its people are engaged in the same week.",
        &weekly,
    ));

    out.push_str("<h3>New qualified people, month by month</h3>");
    let months: Vec<String> = report.months.iter().map(|m| m.month.clone()).collect();
    let target_name = report.target.map(|t| format!("target {}", short(t)));
    let chart = svg::bar_chart(&svg::BarChart {
        id: "qualified",
        title: &format!("People reaching {} or above for the first time, by month", report.qualified_stage),
        desc: "Each bar counts the people who first qualified in that month; the dashed line is the monthly target.",
        x_label: "Month",
        y_label: "People",
        categories: months.clone(),
        series: vec![("newly qualified".into(), report.months.iter().map(|m| m.qualified as f64).collect())],
        format: &|v| short(v),
        reference: report.target.zip(target_name.as_deref()),
    });
    let rows: Vec<Vec<String>> = report
        .months
        .iter()
        .map(|m| {
            vec![
                m.month.clone(),
                whole(m.qualified as f64),
                report.target.map_or("–".into(), |t| {
                    let diff = m.qualified as f64 - t;
                    format!("{}{}", if diff >= 0.0 { "+" } else { "" }, short(diff))
                }),
            ]
        })
        .collect();
    out.push_str(&figure(
        "fig-qualified",
        &chart,
        &match report.target {
            Some(t) => format!(
                "Against the target of {} a month ([report] qualified_per_month_target).",
                short(t)
            ),
            None => "No target set: [report] qualified_per_month_target draws one.".into(),
        },
        &table(
            "New qualified people by month",
            &["month", "newly qualified", "against target"],
            &rows,
        ),
    ));

    out.push_str("<h3>Opportunities and the attention before them</h3>");
    let chart = svg::bar_chart(&svg::BarChart {
        id: "opportunities",
        title: "Opportunities created by month, and how many had attention before",
        desc: "All opportunities created in each month beside those with at least one of their people engaged in the 30 days before.",
        x_label: "Month",
        y_label: "Opportunities",
        categories: months,
        series: vec![
            ("created".into(), report.months.iter().map(|m| m.opportunities as f64).collect()),
            ("with attention before".into(), report.months.iter().map(|m| m.with_attention as f64).collect()),
        ],
        format: &|v| short(v),
        reference: None,
    });
    let rows: Vec<Vec<String>> = report
        .months
        .iter()
        .map(|m| {
            vec![
                m.month.clone(),
                whole(m.opportunities as f64),
                whole(m.with_attention as f64),
                whole(m.amount),
            ]
        })
        .collect();
    out.push_str(&figure(
        "fig-opportunities",
        &chart,
        "An opportunity with nobody engaged before it came without marketing's attention, or from people attentiond does not know.",
        &table("Opportunities by month", &["month", "created", "with attention before", "pipeline"], &rows),
    ));
    let rows: Vec<Vec<String>> = report
        .deals
        .iter()
        .map(|d| {
            vec![
                d.key.clone(),
                day(d.created),
                d.amount.map_or("–".into(), |a| {
                    format!("{} {}", whole(a), d.currency.clone().unwrap_or_default())
                        .trim()
                        .to_string()
                }),
                d.status.to_string(),
                whole(d.people as f64),
                whole(d.engaged_before as f64),
                whole(d.attention_before),
                d.top_score.to_string(),
                d.days_from_qualified
                    .map_or("–".into(), |x| format!("{x:.0}")),
            ]
        })
        .collect();
    out.push_str(&format!(
        "<details><summary>Every opportunity ({})</summary>{}</details>",
        rows.len(),
        table(
            "Opportunities, newest first",
            &[
                "opportunity",
                "created",
                "amount",
                "status",
                "people",
                "engaged in the 30 days before",
                "attention in the 30 days before",
                "top score then",
                "days from qualified"
            ],
            &rows,
        )
    ));

    out.push_str("<h3>From qualified to opportunity</h3>");
    if let Some(median) = report.median_days_to_opportunity {
        out.push_str(&para(&format!(
            "Half the opportunities with a qualified person came within {median:.0} days of that person first qualifying."
        )));
    }
    let chart = svg::bar_chart(&svg::BarChart {
        id: "days",
        title: "Days from first qualification to opportunity",
        desc:
            "Opportunities by how long before their creation the first of their people qualified.",
        x_label: "Days from qualified to opportunity",
        y_label: "Opportunities",
        categories: report
            .days_to_opportunity
            .iter()
            .map(|b| b.label.clone())
            .collect(),
        series: vec![(
            "opportunities".into(),
            report
                .days_to_opportunity
                .iter()
                .map(|b| b.count as f64)
                .collect(),
        )],
        format: &|v| short(v),
        reference: None,
    });
    let rows: Vec<Vec<String>> = report
        .days_to_opportunity
        .iter()
        .map(|b| vec![b.label.clone(), whole(b.count as f64)])
        .collect();
    out.push_str(&figure(
        "fig-days",
        &chart,
        "Qualification leads pipeline when most opportunities come some days after it, not before.",
        &table(
            "Days from qualified to opportunity",
            &["days", "opportunities"],
            &rows,
        ),
    ));
    out
}
