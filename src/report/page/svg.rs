//! Charts as inline SVG, written from the numbers: lines (ROC, weeks) and grouped
//! bars here, rows and grids in `rows`; the shared parts (scales, axes, legends,
//! ticks) are here. Every
//! chart is an `<svg role="img">` named by its `<title>` and `<desc>`; every mark a
//! reader should see carries `class="mark"` and its own `<title>` (a tooltip).
//! Series differ by dash or pattern as well as colour, so colour is never the only
//! cue.

use std::fmt::Write as _;

pub(super) const WIDTH: f64 = 720.0;
pub(super) const HEIGHT: f64 = 340.0;
pub(super) const LEFT: f64 = 64.0;
pub(super) const RIGHT: f64 = 28.0;
pub(super) const TOP: f64 = 16.0;
pub(super) const BOTTOM: f64 = 64.0;

/// Colours that read apart for the common colour-vision deficiencies (Okabe–Ito).
pub const COLOURS: [&str; 5] = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#6b6b6b"];
pub(super) const DASHES: [&str; 5] = ["", "8 4", "2 3", "10 3 2 3", "4 4"];

/// Text made safe for HTML and SVG.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A short number: `0.81`, `12`, `1.2k`, `3.4M`.
pub fn short(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if magnitude >= 1e4 {
        format!("{:.0}k", value / 1e3)
    } else if magnitude >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else if magnitude >= 10.0 || value == value.round() {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Round tick values covering `[low, high]`, about five of them.
pub(super) fn ticks(low: f64, high: f64) -> Vec<f64> {
    let span = (high - low).max(1e-9);
    let raw = span / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * power);
    let first = (low / step - 1e-9).ceil() as i64;
    let last = (high / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// The chart's opening: role, accessible name and description.
pub(super) fn open(id: &str, title: &str, desc: &str, height: f64) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{id}-title {id}-desc" class="chart"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(title),
        escape(desc)
    )
}

/// A linear map from data to pixels.
#[derive(Clone, Copy)]
pub(super) struct Scale {
    pub from: (f64, f64),
    pub to: (f64, f64),
}

impl Scale {
    pub fn at(&self, value: f64) -> f64 {
        let (a, b) = self.from;
        let share = if b == a { 0.5 } else { (value - a) / (b - a) };
        self.to.0 + share * (self.to.1 - self.to.0)
    }
}

/// Horizontal grid lines and labels of the y axis, and the axis titles.
fn y_axis(out: &mut String, y: Scale, ticks: &[f64], label: &str, format: &dyn Fn(f64) -> String) {
    for &tick in ticks {
        let at = y.at(tick);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{at:.1}" y2="{at:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            at + 4.0,
            escape(&format(tick))
        );
    }
    let _ = write!(
        out,
        r#"<text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle" class="axis">{}</text>"#,
        (TOP + HEIGHT - BOTTOM) / 2.0,
        escape(label)
    );
}

/// Where each legend entry goes: entries wrap onto further rows, 18 px apart.
pub(super) fn legend_layout(names: &[String]) -> Vec<(f64, f64)> {
    let mut places = Vec::with_capacity(names.len());
    let (mut x, mut row) = (LEFT, 0.0);
    for name in names {
        let width = 40.0 + name.chars().count() as f64 * 7.4;
        if x > LEFT && x + width > WIDTH - RIGHT {
            x = LEFT;
            row += 1.0;
        }
        places.push((x, row * 18.0));
        x += width;
    }
    places
}

/// Height the legend adds below the plot beyond its first row.
pub(super) fn legend_extra(names: &[String]) -> f64 {
    legend_layout(names).last().map_or(0.0, |(_, dy)| *dy)
}

pub(super) fn legend(
    out: &mut String,
    names: &[String],
    y: f64,
    swatch: &dyn Fn(usize, f64, f64) -> String,
) {
    for (i, (name, (x, dy))) in names.iter().zip(legend_layout(names)).enumerate() {
        let y = y + dy;
        let _ = write!(
            out,
            r#"{}<text x="{:.1}" y="{:.1}" class="legend">{}</text>"#,
            swatch(i, x, y),
            x + 26.0,
            y + 4.0,
            escape(name)
        );
    }
}

pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A named line from one point to another.
pub struct Reference<'a> {
    pub from: (f64, f64),
    pub to: (f64, f64),
    pub name: &'a str,
}

pub struct LineChart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub lines: Vec<Line>,
    /// Axis ranges; `None` fits the data (y from 0).
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    pub x_format: &'a dyn Fn(f64) -> String,
    pub y_format: &'a dyn Fn(f64) -> String,
    /// A dotted reference line, e.g. ROC's chance diagonal.
    pub reference: Option<Reference<'a>>,
}

pub fn line_chart(chart: &LineChart<'_>) -> String {
    let all = chart.lines.iter().flat_map(|l| l.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let (x0, x1) = chart
        .x_range
        .unwrap_or(if x0 <= x1 { (x0, x1) } else { (0.0, 1.0) });
    let (y0, y1) = chart
        .y_range
        .unwrap_or((0.0, if y1 > 0.0 { y1 * 1.05 } else { 1.0 }));
    let x = Scale {
        from: (x0, x1),
        to: (LEFT, WIDTH - RIGHT),
    };
    let y = Scale {
        from: (y0, y1),
        to: (HEIGHT - BOTTOM, TOP),
    };
    let names: Vec<String> = chart.lines.iter().map(|l| l.name.clone()).collect();
    let mut out = open(
        chart.id,
        chart.title,
        chart.desc,
        HEIGHT + legend_extra(&names),
    );
    y_axis(&mut out, y, &ticks(y0, y1), chart.y_label, chart.y_format);
    for tick in ticks(x0, x1) {
        let at = x.at(tick);
        let _ = write!(
            out,
            r#"<text x="{at:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
            HEIGHT - BOTTOM + 16.0,
            escape(&(chart.x_format)(tick))
        );
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="axis">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - BOTTOM + 34.0,
        escape(chart.x_label)
    );
    if let Some(Reference {
        from: (a, b),
        to: (c, d),
        name,
    }) = chart.reference
    {
        let _ = write!(
            out,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="1 3"><title>{}</title></line>"##,
            x.at(a),
            y.at(b),
            x.at(c),
            y.at(d),
            escape(name)
        );
    }
    for (i, line) in chart.lines.iter().enumerate() {
        let path: Vec<String> = line
            .points
            .iter()
            .map(|&(a, b)| format!("{:.1},{:.1}", x.at(a), y.at(b.clamp(y0, y1))))
            .collect();
        let _ = write!(
            out,
            r#"<polyline class="mark" fill="none" stroke="{}" stroke-width="2.5" stroke-dasharray="{}" points="{}"><title>{}</title></polyline>"#,
            COLOURS[i % COLOURS.len()],
            DASHES[i % DASHES.len()],
            path.join(" "),
            escape(&line.name)
        );
    }
    legend(&mut out, &names, HEIGHT - 10.0, &|i, lx, ly| {
        format!(
            r#"<line x1="{lx:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{}" stroke-width="3" stroke-dasharray="{}"/>"#,
            lx + 22.0,
            COLOURS[i % COLOURS.len()],
            DASHES[i % DASHES.len()]
        )
    });
    out.push_str("</svg>");
    out
}

pub struct BarChart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub categories: Vec<String>,
    /// One value per category in each series.
    pub series: Vec<(String, Vec<f64>)>,
    pub format: &'a dyn Fn(f64) -> String,
    /// A dashed line across at a value, e.g. a target or a lift of 1.
    pub reference: Option<(f64, &'a str)>,
}

/// Vertical bars, grouped by category, one colour per series.
pub fn bar_chart(chart: &BarChart<'_>) -> String {
    let top = chart
        .series
        .iter()
        .flat_map(|(_, values)| values.iter().copied())
        .chain(chart.reference.map(|(v, _)| v))
        .fold(0.0f64, f64::max);
    let y1 = if top > 0.0 { top * 1.1 } else { 1.0 };
    let y = Scale {
        from: (0.0, y1),
        to: (HEIGHT - BOTTOM, TOP),
    };
    let names: Vec<String> = chart.series.iter().map(|(n, _)| n.clone()).collect();
    let extra = if names.len() > 1 {
        legend_extra(&names)
    } else {
        0.0
    };
    let mut out = open(chart.id, chart.title, chart.desc, HEIGHT + extra);
    y_axis(&mut out, y, &ticks(0.0, y1), chart.y_label, chart.format);
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="axis">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - BOTTOM + 34.0,
        escape(chart.x_label)
    );
    let n = chart.categories.len().max(1) as f64;
    let band = (WIDTH - LEFT - RIGHT) / n;
    let groups = chart.series.len().max(1) as f64;
    let bar = (band * 0.8 / groups).min(40.0);
    // Label every category while they fit, else every k-th.
    let every = ((n * 7.0 * 6.0) / (WIDTH - LEFT - RIGHT)).ceil().max(1.0) as usize;
    for (c, category) in chart.categories.iter().enumerate() {
        let middle = LEFT + band * (c as f64 + 0.5);
        for (s, (name, values)) in chart.series.iter().enumerate() {
            let value = values.get(c).copied().unwrap_or(0.0);
            let left = middle - bar * groups / 2.0 + bar * s as f64;
            let (top, bottom) = (y.at(value.max(0.0)), y.at(0.0));
            let _ = write!(
                out,
                r#"<rect class="mark" x="{left:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {} {}</title></rect>"#,
                (bar - 1.0).max(1.0),
                (bottom - top).max(0.5),
                COLOURS[s % COLOURS.len()],
                escape(category),
                escape(&(chart.format)(value)),
                escape(name)
            );
        }
        if c % every == 0 {
            let _ = write!(
                out,
                r#"<text x="{middle:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
                HEIGHT - BOTTOM + 16.0,
                escape(category)
            );
        }
    }
    if let Some((value, name)) = chart.reference {
        let at = y.at(value);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{at:.1}" y2="{at:.1}" stroke="#222" stroke-width="1.5" stroke-dasharray="6 4"><title>{}</title></line><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            WIDTH - RIGHT,
            escape(name),
            WIDTH - RIGHT,
            at - 4.0,
            escape(name)
        );
    }
    if names.len() > 1 {
        legend(&mut out, &names, HEIGHT - 10.0, &|i, lx, ly| {
            format!(
                r#"<rect x="{lx:.1}" y="{:.1}" width="20" height="10" fill="{}"/>"#,
                ly - 5.0,
                COLOURS[i % COLOURS.len()]
            )
        });
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let shown =
            |low, high| -> Vec<String> { ticks(low, high).into_iter().map(short).collect() };
        assert_eq!(shown(0.0, 1.0), ["0", "0.20", "0.40", "0.60", "0.80", "1"]);
        assert_eq!(shown(0.0, 37.0), ["0", "10", "20", "30"]);
        assert_eq!(shown(-12.0, 31.0), ["-10", "0", "10", "20", "30"]);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
