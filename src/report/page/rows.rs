//! Charts of rows with long labels (campaigns, kinds: bars, or points with their
//! intervals) and a grid of cells shaded by value (fit × attention).

use super::svg::{escape, legend, legend_extra, open, ticks, Scale, COLOURS, RIGHT, WIDTH};
use std::fmt::Write as _;

/// One row of a horizontal chart: bars of values, or a point with an interval.
pub struct Item {
    pub label: String,
    pub values: Vec<f64>,
    pub interval: Option<(f64, f64)>,
}

pub struct RowChart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
    pub x_label: &'a str,
    /// Names of the values each item carries (one bar each, or the point).
    pub names: Vec<String>,
    pub items: Vec<Item>,
    pub format: &'a dyn Fn(f64) -> String,
    /// Draw each item's first value as a point with its interval, not as bars.
    pub points: bool,
    /// A dashed line down at a value, e.g. the rate over everyone.
    pub reference: Option<(f64, &'a str)>,
}

/// Horizontal rows with long labels: campaigns, kinds.
pub fn row_chart(chart: &RowChart<'_>) -> String {
    // Labels longer than this are cut (the full name is in the table).
    const LABEL_CHARS: usize = 44;
    let longest = chart
        .items
        .iter()
        .map(|item| item.label.chars().count().min(LABEL_CHARS + 1))
        .max()
        .unwrap_or(0);
    let label_width = (longest as f64 * 6.9 + 14.0).clamp(120.0, 330.0);
    let row = 14.0 * chart.names.len().max(1) as f64 + 10.0;
    // Room above the rows for a reference's label.
    const TOP: f64 = 24.0;
    let legend_height = if chart.names.len() > 1 {
        22.0 + legend_extra(&chart.names)
    } else {
        0.0
    };
    let height = TOP + row * chart.items.len() as f64 + 56.0 + legend_height;
    let values = chart
        .items
        .iter()
        .flat_map(|item| {
            item.values
                .iter()
                .copied()
                .chain(item.interval.into_iter().flat_map(|(a, b)| [a, b]))
        })
        .chain(chart.reference.map(|(v, _)| v));
    let (low, high) = values.fold((0.0f64, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    let high = if high > low { high } else { low + 1.0 };
    let x = Scale {
        from: (low, high * 1.05),
        to: (label_width, WIDTH - RIGHT),
    };
    let mut out = open(chart.id, chart.title, chart.desc, height);
    let bottom = height - 56.0 - legend_height;
    for tick in ticks(low, high * 1.05) {
        let at = x.at(tick);
        let _ = write!(
            out,
            r##"<line x1="{at:.1}" x2="{at:.1}" y1="{TOP}" y2="{bottom:.1}" stroke="{}"/><text x="{at:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"##,
            if tick == 0.0 { "#888" } else { "#e3e3e3" },
            bottom + 14.0,
            escape(&(chart.format)(tick))
        );
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="axis">{}</text>"#,
        (label_width + WIDTH - RIGHT) / 2.0,
        bottom + 32.0,
        escape(chart.x_label)
    );
    for (r, item) in chart.items.iter().enumerate() {
        let top = TOP + row * r as f64 + 5.0;
        let label: String = if item.label.chars().count() > LABEL_CHARS {
            item.label
                .chars()
                .take(LABEL_CHARS - 1)
                .chain(['…'])
                .collect()
        } else {
            item.label.clone()
        };
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"#,
            label_width - 6.0,
            top + row / 2.0,
            escape(&label)
        );
        if chart.points {
            let Some(&value) = item.values.first() else {
                continue;
            };
            let middle = top + row / 2.0 - 4.0;
            if let Some((a, b)) = item.interval {
                let _ = write!(
                    out,
                    r#"<line class="mark" x1="{:.1}" x2="{:.1}" y1="{middle:.1}" y2="{middle:.1}" stroke="{}" stroke-width="2"><title>{}: 95 % interval {} to {}</title></line>"#,
                    x.at(a),
                    x.at(b),
                    COLOURS[0],
                    escape(&item.label),
                    escape(&(chart.format)(a)),
                    escape(&(chart.format)(b))
                );
            }
            let _ = write!(
                out,
                r#"<circle class="mark" cx="{:.1}" cy="{middle:.1}" r="4.5" fill="{}"><title>{}: {}</title></circle>"#,
                x.at(value),
                COLOURS[0],
                escape(&item.label),
                escape(&(chart.format)(value))
            );
            continue;
        }
        for (s, value) in item.values.iter().enumerate() {
            let (a, b) = (x.at(value.min(0.0)), x.at(value.max(0.0)));
            let _ = write!(
                out,
                r#"<rect class="mark" x="{a:.1}" y="{:.1}" width="{:.1}" height="12" fill="{}"><title>{}: {} {}</title></rect>"#,
                top + 14.0 * s as f64,
                (b - a).max(0.5),
                COLOURS[s % COLOURS.len()],
                escape(&item.label),
                escape(&(chart.format)(*value)),
                escape(&chart.names[s.min(chart.names.len() - 1)])
            );
        }
    }
    if let Some((value, name)) = chart.reference {
        let at = x.at(value);
        let _ = write!(
            out,
            r##"<line x1="{at:.1}" x2="{at:.1}" y1="{TOP}" y2="{bottom:.1}" stroke="#222" stroke-width="1.5" stroke-dasharray="6 4"><title>{}</title></line><text x="{:.1}" y="{:.1}" class="tick">{}</text>"##,
            escape(name),
            at + 4.0,
            TOP - 3.0,
            escape(name)
        );
    }
    if chart.names.len() > 1 {
        legend(
            &mut out,
            &chart.names,
            height - 10.0 - legend_extra(&chart.names),
            &|i, lx, ly| {
                format!(
                    r#"<rect x="{lx:.1}" y="{:.1}" width="20" height="10" fill="{}"/>"#,
                    ly - 5.0,
                    COLOURS[i % COLOURS.len()]
                )
            },
        );
    }
    out.push_str("</svg>");
    out
}

/// A grid of cells shaded by value, each with its value written in it.
pub fn grid(
    id: &str,
    title: &str,
    desc: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<Option<f64>>],
    format: &dyn Fn(f64) -> String,
) -> String {
    let (cell_w, cell_h) = (120.0, 48.0);
    let (left, top) = (150.0, 40.0);
    let height = top + cell_h * rows.len() as f64 + 20.0;
    let high = values
        .iter()
        .flatten()
        .flatten()
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let mut out = open(id, title, desc, height);
    for (c, column) in columns.iter().enumerate() {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
            left + cell_w * (c as f64 + 0.5),
            top - 10.0,
            escape(column)
        );
    }
    for (r, name) in rows.iter().enumerate() {
        let y = top + cell_h * r as f64;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"#,
            left - 8.0,
            y + cell_h / 2.0 + 4.0,
            escape(name)
        );
        for (c, column) in columns.iter().enumerate() {
            let x = left + cell_w * c as f64;
            let value = values.get(r).and_then(|v| v.get(c)).copied().flatten();
            let (fill, text, ink) = match value {
                Some(v) => {
                    let share = (v / high).clamp(0.0, 1.0);
                    // From a pale to a deep blue; dark cells get white text.
                    let light = 96.0 - 58.0 * share;
                    (
                        format!("hsl(205 70% {light:.0}%)"),
                        format(v),
                        if light < 60.0 { "#fff" } else { "#111" },
                    )
                }
                None => ("#f4f4f4".to_string(), "none".to_string(), "#555"),
            };
            let _ = write!(
                out,
                r##"<rect class="mark" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}" stroke="#fff" stroke-width="2"><title>{} × {}: {}</title></rect><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{ink}" class="cell">{}</text>"##,
                cell_w,
                cell_h,
                escape(name),
                escape(column),
                escape(&text),
                x + cell_w / 2.0,
                y + cell_h / 2.0 + 5.0,
                escape(&text)
            );
        }
    }
    out.push_str("</svg>");
    out
}
