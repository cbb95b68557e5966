//! The page's third section: attention as marketing's measure. Weeks, months
//! against the target, opportunities and the attention before them, days from
//! qualified to opportunity.

use super::svg::{self, escape, short, Line};
use super::{day, figure, para, table, whole};
use crate::report::Report;

pub fn section(report: &Report) -> String {
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
