//! Terminal line charts: loss and accuracy curves drawn with plain characters.
//!
//! Knows nothing of models or runs: it plots named series of `(x, y)` points
//! on a fixed-size character grid, with a labelled y axis, like the training
//! trace in versa's reference scenario.

use std::fmt::Write as _;

/// One named curve; each series gets its own marker character.
pub(crate) struct Series<'a> {
    pub(crate) name: &'a str,
    pub(crate) points: Vec<(f64, f64)>,
}

const MARKERS: [char; 6] = ['*', 'o', '+', 'x', '#', '@'];

/// Renders the series into a chart `height` rows tall and about `width` columns wide.
pub(crate) fn line_chart(
    title: &str,
    series: &[Series<'_>],
    width: usize,
    height: usize,
) -> String {
    let finite = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x_min, mut x_max, mut y_min, mut y_max) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    let mut any = false;
    for &(x, y) in finite {
        any = true;
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{title}");
    if !any {
        let _ = writeln!(out, "  (no data)");
        return out;
    }
    if (y_max - y_min).abs() < 1e-12 {
        y_max = y_min + 1e-6;
    }
    let width = width.max(10);
    let height = height.max(3);
    let mut grid = vec![vec![' '; width]; height];
    for (series_index, s) in series.iter().enumerate() {
        let marker = MARKERS[series_index % MARKERS.len()];
        let mut previous: Option<(usize, usize)> = None;
        for &(x, y) in s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
        {
            let col = scale(x, x_min, x_max, width);
            let row = height - 1 - scale(y, y_min, y_max, height);
            // Join consecutive points with a light dotted line so sparse
            // curves still read as curves.
            if let Some((pc, pr)) = previous {
                let steps = col.abs_diff(pc).max(row.abs_diff(pr));
                for step in 1..steps {
                    let t = step as f64 / steps as f64;
                    let c = (pc as f64 + t * (col as f64 - pc as f64)).round() as usize;
                    let r = (pr as f64 + t * (row as f64 - pr as f64)).round() as usize;
                    if grid[r][c] == ' ' {
                        grid[r][c] = '·';
                    }
                }
            }
            grid[row][col] = marker;
            previous = Some((col, row));
        }
    }
    for (i, line) in grid.iter().enumerate() {
        let y = y_max - (y_max - y_min) * i as f64 / (height - 1) as f64;
        let label = if i == 0 || i == height - 1 || i == height / 2 {
            format!("{y:>7.3}")
        } else {
            " ".repeat(7)
        };
        let _ = writeln!(
            out,
            "{label} |{}",
            line.iter().collect::<String>().trim_end()
        );
    }
    let _ = writeln!(out, "{} +{}", " ".repeat(7), "-".repeat(width));
    let _ = writeln!(
        out,
        "{}  {:<w$}{:>8}",
        " ".repeat(7),
        format_x(x_min),
        format_x(x_max),
        w = width.saturating_sub(8)
    );
    let legend: Vec<String> = series
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{} {}", MARKERS[i % MARKERS.len()], s.name))
        .collect();
    let _ = writeln!(out, "{}  {}", " ".repeat(7), legend.join("   "));
    out
}

fn scale(value: f64, min: f64, max: f64, cells: usize) -> usize {
    if max <= min {
        return 0;
    }
    let t = ((value - min) / (max - min)).clamp(0.0, 1.0);
    ((t * (cells - 1) as f64).round() as usize).min(cells - 1)
}

fn format_x(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falling_curve_starts_high_and_ends_low() {
        let s = Series {
            name: "loss",
            points: vec![(1.0, 0.65), (2.0, 0.5), (3.0, 0.4), (4.0, 0.35), (5.0, 0.3)],
        };
        let chart = line_chart("loss", &[s], 20, 5);
        let lines: Vec<&str> = chart.lines().collect();
        // Top row holds the first epoch's marker at the left edge; bottom row the last.
        assert!(lines[1].starts_with("  0.650 |*"), "{chart}");
        assert!(lines[5].trim_end().ends_with('*'), "{chart}");
        assert!(lines[5].starts_with("  0.300 |"), "{chart}");
        assert!(chart.contains("* loss"));
    }

    #[test]
    fn empty_and_flat_series_do_not_panic() {
        assert!(line_chart("t", &[], 20, 5).contains("no data"));
        let flat = Series {
            name: "flat",
            points: vec![(1.0, 0.5), (2.0, 0.5), (3.0, f64::NAN)],
        };
        let chart = line_chart("t", &[flat], 20, 5);
        assert!(chart.contains('*'));
    }
}
