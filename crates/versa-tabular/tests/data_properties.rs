//! Properties of the data half of versa-tabular, through its public API:
//! CSV text round-trips into the values it was written from whatever the
//! line ends, and stratified splits always have exact, stratified sizes.

use proptest::prelude::*;
use versa_core::ColumnType;
use versa_tabular::Value;
use versa_tabular::csv::{CsvOptions, read_csv};
use versa_tabular::digest::content_digest;
use versa_tabular::split::{SplitFractions, stratified_split};

/// Quotes a field the way a spreadsheet would.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn csv_text(rows: &[(i64, f64, bool, String)], line_end: &str) -> String {
    let mut text = format!("n,x,b,s{line_end}");
    for (n, x, b, s) in rows {
        // `{:?}` always writes a `.` or an exponent, so floats stay floats.
        text.push_str(&format!("{n},{x:?},{b},{}{line_end}", quote(s)));
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn csv_values_round_trip_and_line_ends_do_not_matter(
        rows in prop::collection::vec(
            (
                any::<i64>(),
                -1e12f64..1e12,
                any::<bool>(),
                // The `x` prefix keeps the text from reading as a number,
                // boolean or missing marker; the rest exercises quoting.
                "[a-z ,\"\n]{0,8}".prop_map(|s| format!("x{s}")),
            ),
            1..40,
        )
    ) {
        let unix = read_csv(csv_text(&rows, "\n").as_bytes(), &CsvOptions::default()).unwrap();
        let windows = read_csv(csv_text(&rows, "\r\n").as_bytes(), &CsvOptions::default()).unwrap();
        let types: Vec<ColumnType> = unix.schema().iter().map(|c| c.column_type).collect();
        prop_assert_eq!(
            types,
            vec![ColumnType::Integer, ColumnType::Float, ColumnType::Boolean, ColumnType::Categorical]
        );
        prop_assert_eq!(unix.n_rows(), rows.len());
        for (row, (n, x, b, s)) in rows.iter().enumerate() {
            prop_assert_eq!(unix.value(0, row), Value::Integer(*n));
            prop_assert_eq!(unix.value(1, row), Value::Float(*x));
            prop_assert_eq!(unix.value(2, row), Value::Boolean(*b));
            prop_assert_eq!(unix.value(3, row), Value::Text(s.clone()));
        }
        // Line breaks inside quoted text are data and do differ between the
        // two files; everything else must digest identically.
        if rows.iter().all(|(_, _, _, s)| !s.contains('\n')) {
            prop_assert_eq!(content_digest(&unix), content_digest(&windows));
        }
    }

    #[test]
    fn splits_are_exact_partitions_and_stratified(
        labels in prop::collection::vec(0usize..4, 20..400),
        validation in 0.0f64..0.3,
        test in 0.05f64..0.4,
        seed in any::<u64>(),
    ) {
        let fractions = SplitFractions { validation, test };
        let n = labels.len() as f64;
        match stratified_split(&labels, 4, fractions, seed) {
            Ok(split) => {
                prop_assert_eq!(split.test.len(), (n * test).round() as usize);
                prop_assert_eq!(split.validation.len(), (n * validation).round() as usize);
                let mut all = [&split.train[..], &split.validation[..], &split.test[..]].concat();
                all.sort_unstable();
                prop_assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
                for class in 0..4 {
                    let size = labels.iter().filter(|&&c| c == class).count() as f64;
                    let in_test = split.test.iter().filter(|&&r| labels[r] == class).count() as f64;
                    let in_validation =
                        split.validation.iter().filter(|&&r| labels[r] == class).count() as f64;
                    prop_assert!((in_test - size * test).abs() <= 1.0);
                    prop_assert!((in_validation - size * validation).abs() <= 1.0);
                }
            }
            Err(error) => {
                // Only a part rounding to nothing is an acceptable refusal here.
                prop_assert!(error.to_string().contains("split would be empty"), "{}", error);
            }
        }
    }
}
