//! The page's first section: does attention predict pipeline? The ROC curve, lift
//! by decile, conversion by score band, stage and fit × attention cell.

use super::rows;
use super::svg::{self, escape, Line};
use super::{figure, note, para, percent, table, whole};
use crate::report::Report;
use std::fmt::Write as _;

fn fixed2(v: f64) -> String {
    format!("{v:.2}")
}

pub fn section(report: &Report) -> String {
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
        reference: Some(svg::Reference {
            from: (0.0, 0.0),
            to: (1.0, 1.0),
            name: "chance",
        }),
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
    let chart = rows::grid(
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
