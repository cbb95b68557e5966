//! A timeline drawn as SVG on the server: the curve, its area, axes, and one mark
//! per touch that a little script turns into a tooltip (and the mark's own title
//! says the same without it).

use crate::clock::rfc3339;
use crate::model::{Millis, MILLIS_PER_DAY};
use crate::views::timeline::Timeline;
use std::fmt::Write as _;

const WIDTH: i64 = 760;
const HEIGHT: i64 = 260;
const LEFT: i64 = 40;
const RIGHT: i64 = 748;
const TOP: i64 = 12;
const BOTTOM: i64 = 228;

pub struct Tick {
    pub at: i64,
    pub label: String,
    /// `start`, `middle` or `end`: the first and last labels stay inside.
    pub anchor: &'static str,
}

pub struct MarkDot {
    pub x: String,
    pub y: String,
    pub tip: String,
}

/// Everything `chart.html` draws.
pub struct Chart {
    pub caption: String,
    pub width: i64,
    pub height: i64,
    pub left: i64,
    pub right: i64,
    pub line: String,
    pub area: String,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub marks: Vec<MarkDot>,
}

fn short_time(at: Millis) -> String {
    let text = rfc3339(at);
    text.get(..16).map(|t| t.replace('T', " ")).unwrap_or(text) + " UTC"
}

pub fn draw(timeline: &Timeline, caption: String) -> Chart {
    let span = (timeline.to - timeline.from).max(1) as f64;
    let x = |at: Millis| LEFT as f64 + (at - timeline.from) as f64 / span * (RIGHT - LEFT) as f64;
    let y = |score: f64| BOTTOM as f64 - score.clamp(0.0, 100.0) / 100.0 * (BOTTOM - TOP) as f64;
    let mut line = String::new();
    for (index, (at, score)) in timeline.points.iter().enumerate() {
        let _ = write!(
            line,
            "{}{:.1},{:.1} ",
            if index == 0 { "M" } else { "L" },
            x(*at),
            y(*score)
        );
    }
    let area = if line.is_empty() {
        String::new()
    } else {
        format!("{line}L{RIGHT},{BOTTOM} L{LEFT},{BOTTOM} Z")
    };
    let y_ticks = [0.0, 25.0, 50.0, 75.0, 100.0]
        .iter()
        .map(|score| Tick {
            at: y(*score).round() as i64,
            label: format!("{score}"),
            anchor: "end",
        })
        .collect();
    let day = MILLIS_PER_DAY as i64;
    let x_ticks = (0..=6)
        .map(|step| {
            let at = timeline.from + (timeline.to - timeline.from) * step / 6;
            Tick {
                anchor: match step {
                    0 => "start",
                    6 => "end",
                    _ => "middle",
                },
                at: x(at).round() as i64,
                label: chrono::DateTime::from_timestamp_millis(at / day * day)
                    .map(|time| time.format("%b %-d").to_string())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let marks = timeline
        .marks
        .iter()
        .map(|mark| {
            let mut tip = format!(
                "{} from {}, {}: weight {:.2}, score {:.0} after",
                mark.label,
                mark.source,
                short_time(mark.at),
                mark.weight,
                mark.score
            );
            if !mark.notes.is_empty() {
                let _ = write!(tip, " ({})", mark.notes.join("; "));
            }
            MarkDot {
                x: format!("{:.1}", x(mark.at)),
                y: format!("{:.1}", y(mark.score)),
                tip,
            }
        })
        .collect();
    Chart {
        caption,
        width: WIDTH,
        height: HEIGHT,
        left: LEFT,
        right: RIGHT,
        line: line.trim_end().to_string(),
        area,
        y_ticks,
        x_ticks,
        marks,
    }
}
