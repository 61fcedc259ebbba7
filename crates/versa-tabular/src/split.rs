//! Label encoding and the stratified train / validation / test split.
//!
//! A split is a pure function of the class of each row, the fractions and the
//! seed: each class's rows are shuffled with `Rng::derive(seed, "split")`
//! (classes in index order, one generator for all), each class gives
//! `round(n_c * fraction)` rows to test and validation, and the per-class
//! counts are then nudged by at most one row each so the totals are exactly
//! `round(n * test)` and `round(n * validation)`. This module knows nothing
//! about models; it hands back row indices.

use versa_core::{Digest, Hasher, Rng};

use crate::error::TabularError;
use crate::table::{Table, Value};

/// The share of rows held out for validation and for test; train gets the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitFractions {
    /// Share of rows for validation, in `[0, 1)`.
    pub validation: f64,
    /// Share of rows for test, in `[0, 1)`.
    pub test: f64,
}

/// Row indices of each part, each sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Training rows.
    pub train: Vec<usize>,
    /// Validation rows.
    pub validation: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

/// Tag hashed first by [`Split::digest`], naming the encoding version.
pub const SPLIT_DIGEST_VERSION: &str = "versa-split/1";

impl Split {
    /// Digest of the split: the field `versa-split/1`, then for train,
    /// validation and test in that order the row count as u64 LE followed by
    /// each row index as u64 LE.
    pub fn digest(&self) -> Digest {
        let mut hasher = Hasher::new();
        hasher.update_field(SPLIT_DIGEST_VERSION.as_bytes());
        for part in [&self.train, &self.validation, &self.test] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            for &row in part {
                hasher.update(&(row as u64).to_le_bytes());
            }
        }
        hasher.finish()
    }
}

/// Splits rows by class (`labels[row]` is the row's class index, below
/// `n_classes`) so that each part keeps the class proportions to within one
/// row per class.
pub fn stratified_split(
    labels: &[usize],
    n_classes: usize,
    fractions: SplitFractions,
    seed: u64,
) -> Result<Split, TabularError> {
    let SplitFractions { validation, test } = fractions;
    let invalid = |reason| TabularError::InvalidFractions {
        validation,
        test,
        reason,
    };
    if !validation.is_finite() || !test.is_finite() {
        return Err(invalid("fractions must be finite numbers"));
    }
    if validation < 0.0 || test < 0.0 {
        return Err(invalid("a fraction is negative"));
    }
    if validation + test >= 1.0 {
        return Err(invalid("together they leave no rows for training"));
    }
    if let Some((row, &class)) = labels.iter().enumerate().find(|(_, c)| **c >= n_classes) {
        return Err(TabularError::ClassOutOfRange {
            row,
            class,
            n_classes,
        });
    }

    let n_rows = labels.len();
    let total_test = (n_rows as f64 * test).round() as usize;
    let total_validation = (n_rows as f64 * validation).round() as usize;
    let empty = |part, fraction| TabularError::EmptySplit {
        part,
        fraction,
        n_rows,
    };
    if test > 0.0 && total_test == 0 {
        return Err(empty("test", test));
    }
    if validation > 0.0 && total_validation == 0 {
        return Err(empty("validation", validation));
    }
    if total_test + total_validation >= n_rows {
        return Err(empty("train", 1.0 - test - validation));
    }

    let mut rng = Rng::derive(seed, "split");
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (row, &class) in labels.iter().enumerate() {
        by_class[class].push(row);
    }
    for rows in &mut by_class {
        rng.shuffle(rows);
    }
    let sizes: Vec<usize> = by_class.iter().map(Vec::len).collect();

    let test_counts = allocate(&sizes, test, total_test, &vec![0; n_classes]);
    let validation_counts = allocate(&sizes, validation, total_validation, &test_counts);

    let mut split = Split {
        train: Vec::new(),
        validation: Vec::new(),
        test: Vec::new(),
    };
    for (class, rows) in by_class.iter().enumerate() {
        let (test_rows, rest) = rows.split_at(test_counts[class]);
        let (validation_rows, train_rows) = rest.split_at(validation_counts[class]);
        split.test.extend_from_slice(test_rows);
        split.validation.extend_from_slice(validation_rows);
        split.train.extend_from_slice(train_rows);
    }
    split.train.sort_unstable();
    split.validation.sort_unstable();
    split.test.sort_unstable();
    Ok(split)
}

/// Per-class counts for one part: `round(n_c * fraction)`, then one-row
/// adjustments until they sum to `total`. Rows go to the classes that were
/// rounded down the most (and come from those rounded up the most), ties to
/// the lower class index; a class never gives more rows than it has left
/// after `taken`.
fn allocate(sizes: &[usize], fraction: f64, total: usize, taken: &[usize]) -> Vec<usize> {
    let room = |class: usize| sizes[class] - taken[class];
    let mut counts: Vec<usize> = sizes
        .iter()
        .enumerate()
        .map(|(class, &size)| ((size as f64 * fraction).round() as usize).min(room(class)))
        .collect();
    let shortfall =
        |counts: &[usize], class: usize| sizes[class] as f64 * fraction - counts[class] as f64;
    loop {
        let assigned: usize = counts.iter().sum();
        if assigned < total {
            let candidate = (0..sizes.len())
                .filter(|&class| counts[class] < room(class))
                .max_by(|&a, &b| {
                    shortfall(&counts, a)
                        .total_cmp(&shortfall(&counts, b))
                        .then(b.cmp(&a))
                });
            match candidate {
                Some(class) => counts[class] += 1,
                None => return counts,
            }
        } else if assigned > total {
            let candidate = (0..sizes.len())
                .filter(|&class| counts[class] > 0)
                .min_by(|&a, &b| {
                    shortfall(&counts, a)
                        .total_cmp(&shortfall(&counts, b))
                        .then(a.cmp(&b))
                });
            match candidate {
                Some(class) => counts[class] -= 1,
                None => return counts,
            }
        } else {
            return counts;
        }
    }
}

/// The classes of a label column (sorted: numbers numerically, text
/// alphabetically) and each row's class index.
pub fn encode_labels(
    table: &Table,
    label: &str,
) -> Result<(Vec<String>, Vec<usize>), TabularError> {
    let index = table.require_column(label)?;
    let values: Vec<Value> = (0..table.n_rows())
        .map(|row| table.value(index, row))
        .collect();
    let missing: Vec<usize> = values
        .iter()
        .enumerate()
        .filter(|(_, value)| value.is_missing())
        .map(|(row, _)| row)
        .collect();
    if let Some(&first) = missing.first() {
        return Err(TabularError::MissingLabels {
            label: label.to_string(),
            count: missing.len(),
            first: table.row_location(first),
        });
    }
    let mut classes: Vec<&Value> = values.iter().collect();
    classes.sort_by(|a, b| a.total_cmp(b));
    classes.dedup_by(|a, b| a.total_cmp(b).is_eq());
    let names: Vec<String> = classes.iter().map(|value| value.to_string()).collect();
    if names.len() < 2 {
        return Err(TabularError::SingleClass {
            label: label.to_string(),
            class: names.into_iter().next().unwrap_or_default(),
        });
    }
    let indices = values
        .iter()
        .map(|value| {
            classes
                .binary_search_by(|class| class.total_cmp(value))
                .unwrap_or_default()
        })
        .collect();
    Ok((names, indices))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::{CsvOptions, read_csv};

    const FRACTIONS: SplitFractions = SplitFractions {
        validation: 0.1,
        test: 0.2,
    };

    /// 1000 rows, 35% class 1, interleaved deterministically.
    fn labels_1000() -> Vec<usize> {
        (0..1000).map(|i| usize::from(i % 20 < 7)).collect()
    }

    fn count_class(rows: &[usize], labels: &[usize], class: usize) -> usize {
        rows.iter().filter(|&&row| labels[row] == class).count()
    }

    #[test]
    fn sizes_are_exact_and_parts_partition_the_rows() {
        let labels = labels_1000();
        let split = stratified_split(&labels, 2, FRACTIONS, 42).unwrap();
        assert_eq!(split.test.len(), 200);
        assert_eq!(split.validation.len(), 100);
        assert_eq!(split.train.len(), 700);
        let mut all: Vec<usize> =
            [&split.train[..], &split.validation[..], &split.test[..]].concat();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        for part in [&split.train, &split.validation, &split.test] {
            assert!(part.windows(2).all(|w| w[0] < w[1]), "sorted ascending");
        }
    }

    #[test]
    fn parts_keep_class_proportions_within_one_row() {
        // Odd sizes so rounding matters: 3 classes of 503, 311 and 187 rows.
        let mut labels = vec![0; 503];
        labels.extend(vec![1; 311]);
        labels.extend(vec![2; 187]);
        let n = labels.len() as f64;
        let split = stratified_split(&labels, 3, FRACTIONS, 7).unwrap();
        assert_eq!(split.test.len(), (n * 0.2).round() as usize);
        assert_eq!(split.validation.len(), (n * 0.1).round() as usize);
        for (class, size) in [(0, 503.0), (1, 311.0), (2, 187.0)] {
            let in_test = count_class(&split.test, &labels, class) as f64;
            let in_validation = count_class(&split.validation, &labels, class) as f64;
            assert!(
                (in_test - size * 0.2).abs() <= 1.0,
                "class {class} test {in_test}"
            );
            assert!(
                (in_validation - size * 0.1).abs() <= 1.0,
                "class {class} validation {in_validation}"
            );
        }
    }

    #[test]
    fn same_seed_same_split_other_seed_other_split() {
        let labels = labels_1000();
        let a = stratified_split(&labels, 2, FRACTIONS, 42).unwrap();
        let b = stratified_split(&labels, 2, FRACTIONS, 42).unwrap();
        let c = stratified_split(&labels, 2, FRACTIONS, 43).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.test, c.test);
        assert_ne!(a.digest(), c.digest());
    }

    #[test]
    fn zero_validation_gives_an_empty_validation_part() {
        let labels = labels_1000();
        let fractions = SplitFractions {
            validation: 0.0,
            test: 0.2,
        };
        let split = stratified_split(&labels, 2, fractions, 1).unwrap();
        assert!(split.validation.is_empty());
        assert_eq!((split.train.len(), split.test.len()), (800, 200));
    }

    #[test]
    fn invalid_fractions_are_rejected_with_reasons() {
        let labels = labels_1000();
        let split = |validation, test| {
            stratified_split(&labels, 2, SplitFractions { validation, test }, 1)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            split(-0.1, 0.2),
            "invalid split fractions validation=-0.1 test=0.2: a fraction is negative; \
             each must be at least 0 and together below 1"
        );
        assert_eq!(
            split(0.5, 0.5),
            "invalid split fractions validation=0.5 test=0.5: together they leave no rows \
             for training; each must be at least 0 and together below 1"
        );
        assert!(split(f64::NAN, 0.2).contains("fractions must be finite numbers"));
    }

    #[test]
    fn empty_parts_and_bad_classes_are_rejected() {
        let labels = vec![0, 1, 0, 1, 0];
        let err = stratified_split(
            &labels,
            2,
            SplitFractions {
                validation: 0.05,
                test: 0.4,
            },
            1,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the validation split would be empty: 0.05 of 5 rows rounds to 0; \
             use more rows or a larger fraction"
        );
        let err = stratified_split(
            &labels,
            2,
            SplitFractions {
                validation: 0.4,
                test: 0.5,
            },
            1,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the train split would be empty"),
            "{err}"
        );
        let err = stratified_split(&[0, 2], 2, FRACTIONS, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "row 1 has class 2, but there are only 2 classes"
        );
    }

    fn table(text: &str) -> Table {
        read_csv(text.as_bytes(), &CsvOptions::default()).unwrap()
    }

    #[test]
    fn encode_labels_sorts_classes() {
        let t = table("x,churned\n1,yes\n2,no\n3,yes\n");
        let (classes, indices) = encode_labels(&t, "churned").unwrap();
        assert_eq!(classes, vec!["no", "yes"]);
        assert_eq!(indices, vec![1, 0, 1]);
        let t = table("y\n10\n2\n10\n");
        let (classes, indices) = encode_labels(&t, "y").unwrap();
        assert_eq!(classes, vec!["2", "10"]);
        assert_eq!(indices, vec![1, 0, 1]);
    }

    #[test]
    fn encode_labels_errors() {
        let t = table("x,churned\n1,yes\n2,\n3,yes\n4,NA\n");
        let err = encode_labels(&t, "label").unwrap_err();
        assert_eq!(
            err.to_string(),
            "column `label` is not in the table; columns are: `x`, `churned`"
        );
        let err = encode_labels(&t, "churned").unwrap_err();
        assert_eq!(
            err.to_string(),
            "label `churned` has 2 missing values (first at line 3); drop or fill those rows"
        );
        let t = table("x,churned\n1,yes\n2,yes\n");
        let err = encode_labels(&t, "churned").unwrap_err();
        assert_eq!(
            err.to_string(),
            "label `churned` has a single class `yes`; a classifier needs at least two"
        );
    }
}
