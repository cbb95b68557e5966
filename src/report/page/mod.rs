//! The page: one HTML document with its style inline and its charts as SVG, so it
//! opens from a file, an email attachment or a shared drive, offline. Headings in
//! order, a skip link, every chart named and described, and the numbers behind every
//! chart in a table beside it.

mod converts;
mod measure;
mod predict;
mod rows;
mod svg;

use super::Report;
use crate::clock::rfc3339;
use std::fmt::Write as _;
use svg::escape;

const STYLE: &str = r#"
:root { color-scheme: light; --ink: #1a1a1a; --muted: #555; --line: #d9d9d9; --accent: #0072b2; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fafafa; }
a { color: #005a8c; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; z-index: 1; }
header, main { max-width: 980px; margin: 0 auto; padding: 1rem 1.5rem; }
header { border-bottom: 1px solid var(--line); }
h1 { font-size: 1.8rem; margin: .5rem 0; }
h2 { font-size: 1.45rem; margin: 2.5rem 0 .5rem; border-top: 3px solid var(--accent); padding-top: 1rem; }
h3 { font-size: 1.15rem; margin: 1.8rem 0 .4rem; }
.meta { color: var(--muted); margin: .2rem 0; }
nav ul { padding-left: 1.2rem; margin: .4rem 0; }
.lead { font-size: 1.05rem; background: #fff; border-left: 4px solid var(--accent); padding: .6rem 1rem; }
figure { margin: 1rem 0 1.5rem; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8rem; }
figcaption { color: var(--muted); font-size: .95rem; margin-top: .3rem; }
svg.chart { width: 100%; height: auto; display: block; }
svg .tick { font-size: 12px; fill: #444; }
svg .axis { font-size: 13px; fill: #222; }
svg .legend { font-size: 12.5px; fill: #222; }
svg .cell { font-size: 14px; font-weight: 600; }
details { margin-top: .6rem; }
summary { cursor: pointer; color: #005a8c; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .92rem; background: #fff; }
th, td { border: 1px solid var(--line); padding: .25rem .55rem; text-align: right; }
th[scope="row"], td.text, th.text { text-align: left; }
thead th { background: #f0f0f0; }
.note { color: var(--muted); font-size: .95rem; }
"#;

/// One chart with its accessible table: `<figure>` holding the SVG, the caption and
/// the numbers.
fn figure(id: &str, svg: &str, caption: &str, table: &str) -> String {
    format!(
        r#"<figure class="chart-figure" id="{id}">{svg}<figcaption>{}</figcaption><details><summary>The numbers behind this chart</summary>{table}</details></figure>"#,
        escape(caption)
    )
}

/// A table: a caption, column headings, and rows whose first cell heads the row.
fn table(caption: &str, headings: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table><caption>{}</caption><thead><tr>", escape(caption));
    for (i, heading) in headings.iter().enumerate() {
        let class = if i == 0 { r#" class="text""# } else { "" };
        let _ = write!(out, r#"<th scope="col"{class}>{}</th>"#, escape(heading));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, r#"<th scope="row">{}</th>"#, escape(cell));
            } else {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

fn percent(rate: f64) -> String {
    format!("{:.1} %", rate * 100.0)
}

fn day(at: i64) -> String {
    rfc3339(at).chars().take(10).collect()
}

/// `1,234,000`.
fn whole(value: f64) -> String {
    crate::numbers::grouped(value)
}

/// The whole page.
pub fn render(report: &Report) -> String {
    let sections = [
        (
            "predict",
            "Does attention predict pipeline?",
            predict::section(report),
        ),
        (
            "converts",
            "Which attention converts?",
            converts::section(report),
        ),
        (
            "measure",
            "Attention as marketing's measure",
            measure::section(report),
        ),
    ];
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        r##"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Attention and pipeline, {}</title><style>{STYLE}</style></head><body><a class="skip" href="#main">Skip to the report</a><header><h1>Attention and pipeline</h1><p class="meta">As of {} under {}. {} people in {} accounts; {} opportunities. An opportunity “follows” when it is created within {} days.</p><nav aria-label="Sections"><ul>"##,
        day(report.generated_at),
        escape(&rfc3339(report.generated_at)),
        escape(&report.scoring),
        whole(report.people as f64),
        whole(report.accounts as f64),
        whole(report.opportunities as f64),
        report.horizon_days
    );
    for (id, title, _) in &sections {
        let _ = write!(out, r##"<li><a href="#{id}">{}</a></li>"##, escape(title));
    }
    out.push_str(r#"</ul></nav></header><main id="main">"#);
    for (id, title, body) in &sections {
        let _ = write!(
            out,
            r#"<section id="{id}" aria-labelledby="{id}-h"><h2 id="{id}-h">{}</h2>{body}</section>"#,
            escape(title)
        );
    }
    out.push_str("</main></body></html>\n");
    out
}

fn para(text: &str) -> String {
    format!("<p>{}</p>", escape(text))
}

fn note(text: &str) -> String {
    format!(r#"<p class="note">{}</p>"#, escape(text))
}
