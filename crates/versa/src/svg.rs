//! A standalone SVG line plot, written by hand: panels side by side, each
//! with axes, "nice" ticks, one `<polyline>` per curve and a legend.
//!
//! Knows nothing of models, runs or the catalog: it draws named `(x, y)`
//! curves. Every piece of text is XML-escaped, so any series name is safe.
//! Each panel is a `<g class="panel" id="panel-N">` whose polylines carry
//! `data-series`, so tests and tools can find them.

use std::fmt::Write as _;

/// One named curve.
pub(crate) struct Curve {
    pub(crate) name: String,
    pub(crate) points: Vec<(f64, f64)>,
}

/// One plot: a title, axis labels and its curves.
pub(crate) struct Panel {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) x_label: String,
    pub(crate) y_label: String,
    pub(crate) curves: Vec<Curve>,
}

/// Colour-blind-friendly palette (Okabe–Ito), cycled when there are more curves.
const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];

const PANEL_WIDTH: f64 = 480.0;
const PLOT_HEIGHT: f64 = 280.0;
const MARGIN_LEFT: f64 = 64.0;
const MARGIN_RIGHT: f64 = 16.0;
const MARGIN_TOP: f64 = 36.0;
const AXIS_SPACE: f64 = 52.0;
const LEGEND_ROW: f64 = 18.0;
const HEADER: f64 = 34.0;

/// Renders `panels` side by side under `title` as one SVG document.
pub(crate) fn render(title: &str, panels: &[Panel]) -> String {
    let max_curves = panels.iter().map(|p| p.curves.len()).max().unwrap_or(0);
    let panel_height = MARGIN_TOP + PLOT_HEIGHT + AXIS_SPACE + LEGEND_ROW * max_curves as f64;
    let width = PANEL_WIDTH * panels.len().max(1) as f64;
    let height = HEADER + panel_height + 8.0;
    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    let _ = writeln!(
        out,
        r#"<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
        width / 2.0,
        escape(title)
    );
    for (index, panel) in panels.iter().enumerate() {
        write_panel(&mut out, panel, PANEL_WIDTH * index as f64, HEADER);
    }
    let _ = writeln!(out, "</svg>");
    out
}

fn write_panel(out: &mut String, panel: &Panel, left: f64, top: f64) {
    let plot_left = MARGIN_LEFT;
    let plot_right = PANEL_WIDTH - MARGIN_RIGHT;
    let plot_top = MARGIN_TOP;
    let plot_bottom = MARGIN_TOP + PLOT_HEIGHT;
    let finite: Vec<(f64, f64)> = panel
        .curves
        .iter()
        .flat_map(|curve| curve.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let (x_ticks, x_lo, x_hi) = axis(finite.iter().map(|p| p.0));
    let (y_ticks, y_lo, y_hi) = axis(finite.iter().map(|p| p.1));
    let to_x = |x: f64| plot_left + (x - x_lo) / (x_hi - x_lo) * (plot_right - plot_left);
    let to_y = |y: f64| plot_bottom - (y - y_lo) / (y_hi - y_lo) * (plot_bottom - plot_top);

    let _ = writeln!(
        out,
        r#"<g class="panel" id="{}" transform="translate({left},{top})">"#,
        escape(&panel.id)
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="20" text-anchor="middle" font-size="13" font-weight="bold">{}</text>"#,
        (plot_left + plot_right) / 2.0,
        escape(&panel.title)
    );
    // Grid lines and ticks first, so curves draw over them.
    let x_decimals = decimals(&x_ticks);
    for &tick in &x_ticks {
        let x = to_x(tick);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.2}" y1="{plot_top}" x2="{x:.2}" y2="{plot_bottom}" stroke="#e5e5e5"/>"##
        );
        let _ = writeln!(
            out,
            r##"<line x1="{x:.2}" y1="{plot_bottom}" x2="{x:.2}" y2="{}" stroke="#333"/>"##,
            plot_bottom + 5.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{x:.2}" y="{}" text-anchor="middle">{tick:.x_decimals$}</text>"#,
            plot_bottom + 18.0
        );
    }
    let y_decimals = decimals(&y_ticks);
    for &tick in &y_ticks {
        let y = to_y(tick);
        let _ = writeln!(
            out,
            r##"<line x1="{plot_left}" y1="{y:.2}" x2="{plot_right}" y2="{y:.2}" stroke="#e5e5e5"/>"##
        );
        let _ = writeln!(
            out,
            r##"<line x1="{}" y1="{y:.2}" x2="{plot_left}" y2="{y:.2}" stroke="#333"/>"##,
            plot_left - 5.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{:.2}" text-anchor="end">{tick:.y_decimals$}</text>"#,
            plot_left - 8.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        out,
        r##"<line x1="{plot_left}" y1="{plot_bottom}" x2="{plot_right}" y2="{plot_bottom}" stroke="#333"/>"##
    );
    let _ = writeln!(
        out,
        r##"<line x1="{plot_left}" y1="{plot_top}" x2="{plot_left}" y2="{plot_bottom}" stroke="#333"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (plot_left + plot_right) / 2.0,
        plot_bottom + 36.0,
        escape(&panel.x_label)
    );
    let _ = writeln!(
        out,
        r#"<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 {0})">{1}</text>"#,
        (plot_top + plot_bottom) / 2.0,
        escape(&panel.y_label)
    );
    for (index, curve) in panel.curves.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        let points: Vec<String> = curve
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.2},{:.2}", to_x(x), to_y(y)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline class="curve" data-series="{}" fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round" points="{}"/>"#,
            escape(&curve.name),
            points.join(" ")
        );
    }
    // The legend sits under the x-axis label, one row per curve.
    let legend_top = plot_bottom + AXIS_SPACE;
    for (index, curve) in panel.curves.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        let y = legend_top + LEGEND_ROW * index as f64;
        let _ = writeln!(
            out,
            r#"<line class="legend" x1="{plot_left}" y1="{y}" x2="{}" y2="{y}" stroke="{colour}" stroke-width="3"/>"#,
            plot_left + 24.0
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}">{}</text>"#,
            plot_left + 30.0,
            y + 4.0,
            escape(&curve.name)
        );
    }
    let _ = writeln!(out, "</g>");
}

/// Ticks and the axis range they span for some values: "nice" steps of
/// 1, 2 or 5 × 10ⁿ, about five of them, with the range widened to whole steps.
fn axis(values: impl Iterator<Item = f64>) -> (Vec<f64>, f64, f64) {
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for value in values {
        low = low.min(value);
        high = high.max(value);
    }
    if !low.is_finite() || !high.is_finite() {
        // No data: a unit axis so the panel still draws.
        return (vec![0.0, 0.5, 1.0], 0.0, 1.0);
    }
    if high - low < 1e-12 {
        let pad = if low.abs() > 1e-12 {
            low.abs() * 0.05
        } else {
            0.5
        };
        low -= pad;
        high += pad;
    }
    let step = nice_step((high - low) / 5.0);
    let first = (low / step).floor();
    let last = (high / step).ceil();
    let ticks = (0..=((last - first) as i64))
        .map(|i| (first + i as f64) * step)
        .collect();
    (ticks, first * step, last * step)
}

fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// Enough decimals to tell adjacent ticks apart.
fn decimals(ticks: &[f64]) -> usize {
    match ticks {
        [first, second, ..] => {
            let step = (second - first).abs();
            // The epsilon absorbs float noise such as 0.5 - 0.4 = 0.0999….
            (-step.log10() - 1e-9).ceil().max(0.0) as usize
        }
        _ => 0,
    }
}

/// Escapes text for XML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab and newline are not allowed in XML 1.0.
            c if c.is_control() && c != '\t' && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Escaping, tick choice and the shape of the document.

    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"a<b>&"c"'d'"#),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;"
        );
        assert_eq!(escape("bell\u{7}"), "bell\u{FFFD}");
    }

    #[test]
    fn ticks_are_nice_and_cover_the_data() {
        let (ticks, low, high) = axis([0.43, 0.71].into_iter());
        assert_eq!(ticks.len(), 5, "{ticks:?}");
        assert!(
            (low - 0.4).abs() < 1e-9 && (high - 0.8).abs() < 1e-9,
            "{low} {high}"
        );
        assert_eq!(decimals(&ticks), 1);
        let (ticks, low, high) = axis([1.0, 34.0].into_iter());
        assert_eq!((low, high), (0.0, 40.0));
        assert_eq!(ticks, [0.0, 10.0, 20.0, 30.0, 40.0]);
        assert_eq!(decimals(&ticks), 0);
    }

    #[test]
    fn flat_and_empty_data_still_give_an_axis() {
        let (ticks, low, high) = axis([0.5, 0.5].into_iter());
        assert!(low < 0.5 && high > 0.5 && ticks.len() >= 2);
        let (ticks, low, high) = axis(std::iter::empty());
        assert_eq!((ticks.len(), low, high), (3, 0.0, 1.0));
    }

    #[test]
    fn one_polyline_per_curve_and_names_escaped() {
        let panel = Panel {
            id: "panel-loss".to_string(),
            title: "loss".to_string(),
            x_label: "epoch".to_string(),
            y_label: "loss".to_string(),
            curves: vec![
                Curve {
                    name: "v1 <base>".to_string(),
                    points: vec![(1.0, 0.7), (2.0, f64::NAN), (3.0, 0.5)],
                },
                Curve {
                    name: "v2".to_string(),
                    points: Vec::new(),
                },
            ],
        };
        let svg = render("a & b", &[panel]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("v1 &lt;base&gt;"));
        assert!(svg.contains("<title>a &amp; b</title>"));
        assert!(!svg.contains("NaN"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
