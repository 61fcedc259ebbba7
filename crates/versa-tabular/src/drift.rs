//! Comparing two versions of a dataset by their schema and statistics, as
//! `versa data diff` shows: which columns were added, removed or retyped, how
//! the row count changed, and how far each shared column's values drifted.
//!
//! Works from [`ColumnStats`] alone (what a dataset manifest records), never
//! from the rows, so two versions can be compared without decoding either.
//! Because statistics keep only the [`crate::stats::TOP_VALUES`] most frequent
//! values, new and vanished categories are exact only when both versions have
//! at most that many distinct values; [`CategoryDrift::complete`] says which.

use serde::Serialize;
use versa_core::ColumnType;
use versa_core::schema::ColumnStats;

use crate::stats::TOP_VALUES;

/// How one dataset version differs from another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetDrift {
    /// Rows in the old version.
    pub n_rows_before: u64,
    /// Rows in the new version.
    pub n_rows_after: u64,
    /// Columns only in the new version, in its order.
    pub added: Vec<ColumnChange>,
    /// Columns only in the old version, in its order.
    pub removed: Vec<ColumnChange>,
    /// Columns in both whose type changed.
    pub retyped: Vec<Retyped>,
    /// Every column in both versions, in the new version's order.
    pub columns: Vec<ColumnDrift>,
}

/// A column that appeared or disappeared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnChange {
    /// Column name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
}

/// A column whose type changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retyped {
    /// Column name.
    pub name: String,
    /// Type in the old version.
    pub before: ColumnType,
    /// Type in the new version.
    pub after: ColumnType,
}

/// How one column shared by both versions changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDrift {
    /// Column name.
    pub name: String,
    /// Type in the new version.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Fraction of rows missing in the old version.
    pub missing_rate_before: f64,
    /// Fraction of rows missing in the new version.
    pub missing_rate_after: f64,
    /// Means and spread, when the column is numeric in both versions.
    pub numeric: Option<NumericDrift>,
    /// Categories, when the column is categorical or boolean in both versions.
    pub categories: Option<CategoryDrift>,
}

impl ColumnDrift {
    /// Change in the missing rate (new minus old), as a fraction of rows.
    pub fn missing_rate_change(&self) -> f64 {
        self.missing_rate_after - self.missing_rate_before
    }
}

/// Drift of a numeric column, in units of the old version's standard deviation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumericDrift {
    /// Mean in the old version.
    pub mean_before: Option<f64>,
    /// Mean in the new version.
    pub mean_after: Option<f64>,
    /// Standard deviation in the old version.
    pub std_before: Option<f64>,
    /// Standard deviation in the new version.
    pub std_after: Option<f64>,
    /// `(mean_after - mean_before) / std_before`; `None` when either mean is
    /// unknown or the old column had no spread.
    pub mean_shift_in_std: Option<f64>,
    /// `(std_after - std_before) / std_before`, same conditions.
    pub std_shift_in_std: Option<f64>,
}

/// Categories that appeared or vanished.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryDrift {
    /// Distinct values in the old version.
    pub distinct_before: u64,
    /// Distinct values in the new version.
    pub distinct_after: u64,
    /// Values listed in the new version's statistics but not the old one's.
    pub new: Vec<String>,
    /// Values listed in the old version's statistics but not the new one's.
    pub vanished: Vec<String>,
    /// Whether `new` and `vanished` are exact (both versions have at most
    /// [`TOP_VALUES`] distinct values); otherwise they compare the most
    /// frequent values only.
    pub complete: bool,
}

/// Compares two versions' statistics (`before` is the old one).
pub fn dataset_drift(
    before: &[ColumnStats],
    n_rows_before: u64,
    after: &[ColumnStats],
    n_rows_after: u64,
) -> DatasetDrift {
    let find = |stats: &'_ [ColumnStats], name: &str| -> Option<usize> {
        stats.iter().position(|column| column.name == name)
    };
    let added = after
        .iter()
        .filter(|column| find(before, &column.name).is_none())
        .map(change)
        .collect();
    let removed = before
        .iter()
        .filter(|column| find(after, &column.name).is_none())
        .map(change)
        .collect();
    let mut retyped = Vec::new();
    let mut columns = Vec::new();
    for new in after {
        let Some(old) = find(before, &new.name).map(|index| &before[index]) else {
            continue;
        };
        if old.column_type != new.column_type {
            retyped.push(Retyped {
                name: new.name.clone(),
                before: old.column_type,
                after: new.column_type,
            });
        }
        columns.push(column_drift(old, n_rows_before, new, n_rows_after));
    }
    DatasetDrift {
        n_rows_before,
        n_rows_after,
        added,
        removed,
        retyped,
        columns,
    }
}

fn change(column: &ColumnStats) -> ColumnChange {
    ColumnChange {
        name: column.name.clone(),
        column_type: column.column_type,
    }
}

fn rate(missing: u64, n_rows: u64) -> f64 {
    if n_rows == 0 {
        0.0
    } else {
        missing as f64 / n_rows as f64
    }
}

fn column_drift(
    old: &ColumnStats,
    n_rows_before: u64,
    new: &ColumnStats,
    n_rows_after: u64,
) -> ColumnDrift {
    let numeric = (old.column_type.is_numeric() && new.column_type.is_numeric()).then(|| {
        let in_std = |delta: Option<f64>| {
            let spread = old.std.filter(|std| *std > 0.0)?;
            delta.map(|delta| delta / spread)
        };
        NumericDrift {
            mean_before: old.mean,
            mean_after: new.mean,
            std_before: old.std,
            std_after: new.std,
            mean_shift_in_std: in_std(old.mean.zip(new.mean).map(|(a, b)| b - a)),
            std_shift_in_std: in_std(old.std.zip(new.std).map(|(a, b)| b - a)),
        }
    });
    let categorical = |t: ColumnType| matches!(t, ColumnType::Categorical | ColumnType::Boolean);
    let categories = (categorical(old.column_type) && categorical(new.column_type)).then(|| {
        let listed = |stats: &ColumnStats, value: &str| stats.top.iter().any(|(v, _)| v == value);
        CategoryDrift {
            distinct_before: old.distinct,
            distinct_after: new.distinct,
            new: new
                .top
                .iter()
                .filter(|(value, _)| !listed(old, value))
                .map(|(value, _)| value.clone())
                .collect(),
            vanished: old
                .top
                .iter()
                .filter(|(value, _)| !listed(new, value))
                .map(|(value, _)| value.clone())
                .collect(),
            complete: old.distinct <= TOP_VALUES as u64 && new.distinct <= TOP_VALUES as u64,
        }
    });
    ColumnDrift {
        name: new.name.clone(),
        column_type: new.column_type,
        missing_rate_before: rate(old.missing, n_rows_before),
        missing_rate_after: rate(new.missing, n_rows_after),
        numeric,
        categories,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::{CsvOptions, read_csv};
    use crate::stats::column_stats;

    fn stats(text: &str) -> (Vec<ColumnStats>, u64) {
        let table = read_csv(text.as_bytes(), &CsvOptions::default()).unwrap();
        (column_stats(&table), table.n_rows() as u64)
    }

    #[test]
    fn schema_changes_rows_and_drift_are_reported() {
        let (before, n_before) =
            stats("id,x,city,gone\n1,1,paris,a\n2,3,lyon,b\n3,,paris,c\n4,5,nice,d\n");
        let (after, n_after) =
            stats("id,x,city,new\n1,7,paris,1\n2.5,9,rome,2\n3,11,,3\n4,13,lyon,4\n5,,rome,5\n");
        let drift = dataset_drift(&before, n_before, &after, n_after);
        assert_eq!((drift.n_rows_before, drift.n_rows_after), (4, 5));
        assert_eq!(
            drift.added,
            [ColumnChange {
                name: "new".into(),
                column_type: ColumnType::Integer
            }]
        );
        assert_eq!(drift.removed[0].name, "gone");
        assert_eq!(
            drift.retyped,
            [Retyped {
                name: "id".into(),
                before: ColumnType::Integer,
                after: ColumnType::Float
            }]
        );
        let names: Vec<&str> = drift.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "x", "city"]);

        // x: before 1, 3, 5 (mean 3, std 2); after 7, 9, 11, 13 (mean 10, std ≈ 2.582).
        let x = &drift.columns[1];
        let numeric = x.numeric.as_ref().unwrap();
        assert_eq!(numeric.mean_shift_in_std, Some(3.5));
        let std_after = (20.0f64 / 3.0).sqrt();
        assert!((numeric.std_shift_in_std.unwrap() - (std_after - 2.0) / 2.0).abs() < 1e-12);
        assert_eq!((x.missing_rate_before, x.missing_rate_after), (0.25, 0.2));
        assert!((x.missing_rate_change() + 0.05).abs() < 1e-12);
        assert!(x.categories.is_none());

        let city = drift.columns[2].categories.as_ref().unwrap();
        assert_eq!(city.new, ["rome"]);
        assert_eq!(city.vanished, ["nice"]);
        assert!(city.complete);
        assert_eq!((city.distinct_before, city.distinct_after), (3, 3));
    }

    #[test]
    fn no_spread_means_no_shift_in_std_units() {
        let (before, n_before) = stats("x\n2\n2\n");
        let (after, n_after) = stats("x\n3\n5\n");
        let drift = dataset_drift(&before, n_before, &after, n_after);
        let numeric = drift.columns[0].numeric.as_ref().unwrap();
        assert_eq!(numeric.mean_shift_in_std, None);
        assert_eq!(numeric.mean_after, Some(4.0));
    }

    #[test]
    fn many_categories_are_marked_incomplete() {
        let text: String = (0..12).fold("c\n".to_string(), |mut out, i| {
            out.push_str(&format!("v{i}\n"));
            out
        });
        let (before, n) = stats(&text);
        let drift = dataset_drift(&before, n, &before, n);
        let categories = drift.columns[0].categories.as_ref().unwrap();
        assert!(!categories.complete);
        assert!(categories.new.is_empty() && categories.vanished.is_empty());
    }
}
