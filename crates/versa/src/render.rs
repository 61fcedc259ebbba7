//! Human output: tables, the live training trace with a progress bar, and
//! charts. Everything a person reads goes through here; `--json` bypasses it.

use std::io::IsTerminal;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use versa_mlp::EpochStats;
use versa_mlp::metrics::ClassificationReport;
use versa_pipeline::{Event, Observer};

use crate::chart::{Series, line_chart};

/// A table with versa's look.
pub(crate) fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(Cell::new));
    table
}

/// A right-aligned cell, for numbers.
pub(crate) fn num(text: impl std::fmt::Display) -> Cell {
    Cell::new(text).set_alignment(CellAlignment::Right)
}

/// A duration in milliseconds, human-sized.
pub(crate) fn duration(ms: f64) -> String {
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1e3)
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` UTC.
pub(crate) fn timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm), to avoid a date crate.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Rows of test metrics for versions side by side: one column per version.
pub(crate) fn metrics_table(columns: &[(String, &ClassificationReport)]) -> Table {
    let mut header = vec!["metric"];
    let names: Vec<String> = columns.iter().map(|(name, _)| name.clone()).collect();
    header.extend(names.iter().map(String::as_str));
    let mut out = table(&header);
    type Getter = fn(&ClassificationReport) -> Option<f64>;
    let rows: [(&str, Getter); 6] = [
        ("accuracy ↑", |r| Some(r.accuracy)),
        ("precision ↑", |r| Some(r.precision)),
        ("recall ↑", |r| Some(r.recall)),
        ("F1 ↑", |r| Some(r.f1)),
        ("ROC AUC ↑", |r| r.roc_auc),
        ("log loss ↓", |r| Some(r.log_loss)),
    ];
    for (name, get) in rows {
        let mut cells = vec![Cell::new(name)];
        for (_, report) in columns {
            cells.push(num(
                get(report).map_or("—".to_string(), |v| format!("{v:.4}"))
            ));
        }
        out.add_row(cells);
    }
    let mut cells = vec![Cell::new("confusion [true][pred]")];
    for (_, report) in columns {
        cells.push(num(format!("{:?}", report.confusion)));
    }
    out.add_row(cells);
    out
}

/// Loss and accuracy charts of a training history.
pub(crate) fn training_charts(title: &str, history: &[EpochStats]) -> String {
    let epoch = |s: &EpochStats| s.epoch as f64;
    let mut loss = vec![Series {
        name: "train loss",
        points: history.iter().map(|s| (epoch(s), s.train_loss)).collect(),
    }];
    let mut accuracy = vec![Series {
        name: "train accuracy",
        points: history
            .iter()
            .map(|s| (epoch(s), s.train_accuracy))
            .collect(),
    }];
    if history.iter().any(|s| s.val_loss.is_some()) {
        loss.push(Series {
            name: "validation loss",
            points: history
                .iter()
                .filter_map(|s| s.val_loss.map(|v| (epoch(s), v)))
                .collect(),
        });
        accuracy.push(Series {
            name: "validation accuracy",
            points: history
                .iter()
                .filter_map(|s| s.val_accuracy.map(|v| (epoch(s), v)))
                .collect(),
        });
    }
    let width = (history.len() * 2).clamp(20, 60);
    format!(
        "{}\n{}",
        line_chart(&format!("{title} · loss ↓ by epoch"), &loss, width, 8),
        line_chart(
            &format!("{title} · accuracy ↑ by epoch"),
            &accuracy,
            width,
            8
        )
    )
}

/// Shows a running pipeline on stderr: stage headers, a progress bar per
/// training run, one line per epoch, and the curves at the end of training.
pub(crate) struct TerminalObserver {
    bar: Option<ProgressBar>,
}

impl TerminalObserver {
    pub(crate) fn new() -> TerminalObserver {
        TerminalObserver { bar: None }
    }

    fn say(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}

impl Observer for TerminalObserver {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::StageStarted { number, of, name } => {
                eprintln!("\n[{number}/{of}] {name}");
            }
            Event::TrainingStarted { variant, epochs } => {
                let bar = ProgressBar::new(*epochs as u64);
                if !std::io::stderr().is_terminal() {
                    bar.set_draw_target(ProgressDrawTarget::hidden());
                }
                bar.set_style(
                    ProgressStyle::with_template(
                        "      {prefix} [{bar:30}] epoch {pos}/{len} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(variant.to_string());
                self.bar = Some(bar);
                self.say(&format!(
                    "      {:>5}  {:>8}  {:>8}  {:>8}  {:>8}  {}",
                    "epoch", "loss ↓", "acc ↑", "val loss", "val acc", "observation"
                ));
            }
            Event::Epoch {
                stats, observation, ..
            } => {
                let val = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.4}"));
                self.say(&format!(
                    "      {:>5}  {:>8.4}  {:>8.4}  {:>8}  {:>8}  {observation}",
                    stats.epoch,
                    stats.train_loss,
                    stats.train_accuracy,
                    val(stats.val_loss),
                    val(stats.val_accuracy),
                ));
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                    bar.set_message(format!("loss {:.4}", stats.train_loss));
                }
            }
            Event::TrainingFinished { variant, history } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                eprintln!("{}", indent(&training_charts(variant, history), 6));
            }
            Event::StageFinished { summary, .. } => {
                self.say(&format!("      ✓ {summary}"));
            }
        }
    }
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_civil_dates() {
        assert_eq!(timestamp(0), "1970-01-01 00:00:00");
        assert_eq!(timestamp(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(timestamp(1_795_804_496_000), "2026-11-27 18:34:56");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(0.25), "250 µs");
        assert_eq!(duration(12.34), "12.3 ms");
        assert_eq!(duration(2500.0), "2.50 s");
    }
}
