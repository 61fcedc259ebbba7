//! Side-by-side comparison of model versions or runs: which way each metric
//! should move, deltas against a baseline column, verdicts (better / worse /
//! same) and the parameters whose values differ.
//!
//! Pure functions over plain maps: knows nothing of the catalog, the terminal
//! or JSON layout, so `models compare`, `models promote --if-better` and
//! `runs compare` judge metrics the same way.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// Which direction of a metric is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Goal {
    /// Bigger is better (accuracy, F1, ROC AUC, …).
    Higher,
    /// Smaller is better (log loss, errors, durations).
    Lower,
    /// Neither direction is an improvement (learning rate, epochs, …).
    Unranked,
}

impl Goal {
    /// How people read it in a table.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Goal::Higher => "higher is better",
            Goal::Lower => "lower is better",
            Goal::Unranked => "not ranked",
        }
    }
}

/// Metrics the `--if-better` check knows a direction for, for error hints.
pub(crate) const RANKED_EXAMPLES: &str =
    "accuracy, precision, recall, f1, roc_auc (higher is better) or log_loss (lower is better)";

/// The direction of improvement of a metric, from its name.
///
/// `test_`, `val_` and `train_` prefixes are ignored, so `test_log_loss` is
/// judged like `log_loss`.
pub(crate) fn goal(metric: &str) -> Goal {
    let base = ["test_", "val_", "train_"]
        .iter()
        .find_map(|prefix| metric.strip_prefix(prefix))
        .unwrap_or(metric);
    match base {
        "accuracy" | "precision" | "recall" | "f1" | "roc_auc" | "auc" | "r2" | "specificity" => {
            Goal::Higher
        }
        "mse" | "rmse" | "mae" => Goal::Lower,
        _ if base.contains("loss") || base.contains("error") || base.ends_with("_ms") => {
            Goal::Lower
        }
        _ => Goal::Unranked,
    }
}

/// How a value compares with the baseline value of the same metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    /// The baseline column itself.
    Baseline,
    /// An improvement in the metric's direction.
    Better,
    /// A regression.
    Worse,
    /// Equal to the baseline.
    Same,
    /// Not comparable: the metric has no direction, or a value is missing or not finite.
    Unranked,
}

impl Verdict {
    /// The mark printed after a delta: ↑ better, ↓ worse, = same.
    pub(crate) fn mark(self) -> &'static str {
        match self {
            Verdict::Better => "↑",
            Verdict::Worse => "↓",
            Verdict::Same => "=",
            Verdict::Baseline | Verdict::Unranked => "",
        }
    }
}

/// Judges `value` against `baseline` for a metric with direction `goal`.
pub(crate) fn judge(goal: Goal, baseline: Option<f64>, value: Option<f64>) -> Verdict {
    let (Some(baseline), Some(value)) = (baseline, value) else {
        return Verdict::Unranked;
    };
    if !baseline.is_finite() || !value.is_finite() {
        return Verdict::Unranked;
    }
    if value == baseline {
        return Verdict::Same;
    }
    match goal {
        Goal::Higher if value > baseline => Verdict::Better,
        Goal::Lower if value < baseline => Verdict::Better,
        Goal::Higher | Goal::Lower => Verdict::Worse,
        Goal::Unranked => Verdict::Unranked,
    }
}

/// One metric across the compared columns.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MetricRow {
    /// Metric name.
    pub(crate) key: String,
    /// Which direction is an improvement.
    pub(crate) goal: Goal,
    /// One value per column (`None`: not recorded there).
    pub(crate) values: Vec<Option<f64>>,
    /// Value minus the first column's value (`None` for the first column or a missing value).
    pub(crate) deltas: Vec<Option<f64>>,
    /// One verdict per column against the first.
    pub(crate) verdicts: Vec<Verdict>,
}

impl MetricRow {
    /// The cell for column `index`: the value, and for later columns the delta and its mark.
    pub(crate) fn cell(&self, index: usize) -> String {
        let Some(value) = self.values[index] else {
            return "—".to_string();
        };
        match (index, self.deltas[index]) {
            (0, _) | (_, None) => format!("{value:.4}"),
            (_, Some(delta)) => {
                let mark = self.verdicts[index].mark();
                format!(
                    "{value:.4} ({delta:+.4}{}{mark})",
                    if mark.is_empty() { "" } else { " " }
                )
            }
        }
    }
}

/// Rows for every metric present in any column: the `preferred` keys first in
/// that order, then the rest alphabetically.
pub(crate) fn metric_rows(
    preferred: &[&str],
    columns: &[&BTreeMap<String, f64>],
) -> Vec<MetricRow> {
    let present: BTreeSet<&str> = columns
        .iter()
        .flat_map(|metrics| metrics.keys().map(String::as_str))
        .collect();
    let mut keys: Vec<&str> = preferred
        .iter()
        .copied()
        .filter(|key| present.contains(key))
        .collect();
    keys.extend(present.iter().filter(|key| !preferred.contains(key)));
    keys.into_iter()
        .map(|key| {
            let goal = goal(key);
            let values: Vec<Option<f64>> = columns
                .iter()
                .map(|metrics| metrics.get(key).copied())
                .collect();
            let baseline = values.first().copied().flatten();
            let deltas = values
                .iter()
                .enumerate()
                .map(|(index, value)| match (index, baseline, value) {
                    (0, _, _) => None,
                    (_, Some(base), Some(value)) => Some(value - base),
                    _ => None,
                })
                .collect();
            let verdicts = values
                .iter()
                .enumerate()
                .map(|(index, value)| {
                    if index == 0 {
                        Verdict::Baseline
                    } else {
                        judge(goal, baseline, *value)
                    }
                })
                .collect();
            MetricRow {
                key: key.to_string(),
                goal,
                values,
                deltas,
                verdicts,
            }
        })
        .collect()
}

/// A parameter whose value is not the same in every column.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ParamRow {
    /// Parameter name.
    pub(crate) key: String,
    /// One value per column (`None`: not logged there).
    pub(crate) values: Vec<Option<String>>,
}

/// Prints `"{what}: identical"`, or a table of the parameters that differ
/// with one column per label (`—` where a column did not log it).
pub(crate) fn print_differing_params(what: &str, labels: &[String], rows: &[ParamRow]) {
    if rows.is_empty() {
        println!("{what}: identical");
        return;
    }
    println!("{what} that differ");
    let mut header = vec!["parameter"];
    header.extend(labels.iter().map(String::as_str));
    let mut table = crate::render::table(&header);
    for row in rows {
        let mut cells = vec![row.key.clone()];
        cells.extend(
            row.values
                .iter()
                .map(|value| value.clone().unwrap_or_else(|| "—".to_string())),
        );
        table.add_row(cells);
    }
    println!("{table}");
}

/// The parameters that differ between columns (a column without parameters
/// counts as having none of them), sorted by name.
pub(crate) fn differing_params(columns: &[&BTreeMap<String, String>]) -> Vec<ParamRow> {
    let keys: BTreeSet<&String> = columns.iter().flat_map(|params| params.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let values: Vec<Option<String>> = columns
                .iter()
                .map(|params| params.get(key).cloned())
                .collect();
            let all_same = values.windows(2).all(|pair| pair[0] == pair[1]);
            (!all_same).then(|| ParamRow {
                key: key.clone(),
                values,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! Direction rules, verdicts and the differing-parameter filter.

    use super::*;

    #[test]
    fn loss_is_lower_is_better_whatever_the_prefix() {
        assert_eq!(goal("log_loss"), Goal::Lower);
        assert_eq!(goal("test_log_loss"), Goal::Lower);
        assert_eq!(goal("val_loss"), Goal::Lower);
        assert_eq!(goal("epoch_duration_ms"), Goal::Lower);
        assert_eq!(goal("accuracy"), Goal::Higher);
        assert_eq!(goal("test_roc_auc"), Goal::Higher);
        assert_eq!(goal("learning_rate"), Goal::Unranked);
    }

    #[test]
    fn lower_log_loss_is_marked_better() {
        let first = BTreeMap::from([
            ("log_loss".to_string(), 0.53),
            ("accuracy".to_string(), 0.70),
        ]);
        let second = BTreeMap::from([
            ("log_loss".to_string(), 0.45),
            ("accuracy".to_string(), 0.65),
        ]);
        let rows = metric_rows(&["accuracy", "log_loss"], &[&first, &second]);
        assert_eq!(rows[0].key, "accuracy");
        assert_eq!(rows[0].verdicts, [Verdict::Baseline, Verdict::Worse]);
        assert_eq!(rows[1].verdicts, [Verdict::Baseline, Verdict::Better]);
        assert_eq!(rows[1].cell(1), "0.4500 (-0.0800 ↑)");
        assert_eq!(rows[0].cell(1), "0.6500 (-0.0500 ↓)");
        assert_eq!(rows[0].cell(0), "0.7000");
    }

    #[test]
    fn missing_and_nan_values_are_not_ranked() {
        assert_eq!(judge(Goal::Higher, None, Some(1.0)), Verdict::Unranked);
        assert_eq!(
            judge(Goal::Higher, Some(f64::NAN), Some(1.0)),
            Verdict::Unranked
        );
        assert_eq!(
            judge(Goal::Unranked, Some(0.1), Some(0.2)),
            Verdict::Unranked
        );
        assert_eq!(judge(Goal::Lower, Some(0.2), Some(0.2)), Verdict::Same);
    }

    #[test]
    fn only_differing_params_are_kept() {
        let first = BTreeMap::from([
            ("seed".to_string(), "42".to_string()),
            ("hidden".to_string(), "8".to_string()),
        ]);
        let second = BTreeMap::from([
            ("seed".to_string(), "42".to_string()),
            ("hidden".to_string(), "64,32".to_string()),
            ("early_stopping".to_string(), "5".to_string()),
        ]);
        let rows = differing_params(&[&first, &second]);
        let keys: Vec<&str> = rows.iter().map(|row| row.key.as_str()).collect();
        assert_eq!(keys, ["early_stopping", "hidden"]);
        assert_eq!(rows[0].values, [None, Some("5".to_string())]);
    }
}
