//! Tests of fitting and applying transforms: statistics from training rows only, every error message, and batch/single-row equivalence.

use proptest::prelude::*;
use serde_json::{Map, Value as Json, json};
use versa_core::ColumnType;

use super::*;
use crate::expr::tests::table_of;
use crate::table::Value;

use ColumnType::{Boolean, Categorical, Float, Integer};

fn int(i: i64) -> Value {
    Value::Integer(i)
}
fn float(x: f64) -> Value {
    Value::Float(x)
}
fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}
const MISSING: Value = Value::Missing;

/// Rows 0..4 train, row 4 is a held-out row with values never seen in training.
fn customers() -> Table {
    table_of(&[
        (
            "age",
            Integer,
            vec![int(30), int(40), MISSING, int(50), int(99)],
        ),
        (
            "income",
            Float,
            vec![
                float(1000.0),
                float(0.0),
                float(3000.0),
                MISSING,
                float(1e6),
            ],
        ),
        (
            "senior",
            Boolean,
            vec![
                Value::Boolean(true),
                Value::Boolean(false),
                MISSING,
                Value::Boolean(false),
                Value::Boolean(true),
            ],
        ),
        (
            "contract",
            Categorical,
            vec![
                text("monthly"),
                text("yearly"),
                text("monthly"),
                MISSING,
                text("biennial"),
            ],
        ),
        (
            "churned",
            Integer,
            vec![int(1), int(0), int(1), int(0), int(1)],
        ),
    ])
}

const TRAIN: [usize; 4] = [0, 1, 2, 3];

fn unscaled() -> TransformSpec {
    TransformSpec {
        numeric: NumericSpec {
            scale: Scale::None,
            ..NumericSpec::default()
        },
        ..TransformSpec::default()
    }
}

fn feature(name: &str, expression: &str) -> DerivedFeature {
    DerivedFeature {
        name: name.to_string(),
        expression: expression.to_string(),
    }
}

fn fit_err(table: &Table, spec: &TransformSpec) -> String {
    match fit(table, "churned", &TRAIN, spec) {
        Ok(_) => panic!("fit succeeded but should not"),
        Err(e) => e.to_string(),
    }
}

fn row(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        _ => panic!("not an object"),
    }
}

/// The output of one table row, by feature name.
fn output(transform: &FittedTransform, table: &Table, row: usize) -> Vec<(String, f32)> {
    let values = transform.transform_table(table, &[row]).unwrap();
    transform
        .feature_names()
        .iter()
        .cloned()
        .zip(values)
        .collect()
}

fn value_of(transform: &FittedTransform, table: &Table, row: usize, name: &str) -> f32 {
    output(transform, table, row)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no feature {name}"))
        .1
}

#[test]
fn default_spec_output_order_and_names() {
    let spec = TransformSpec {
        features: vec![feature("income_per_year", "income / (age + 1)")],
        ..TransformSpec::default()
    };
    let transform = fit(&customers(), "churned", &TRAIN, &spec).unwrap();
    assert_eq!(
        transform.feature_names(),
        [
            "age",
            "income",
            "senior",
            "income_per_year",
            "contract=monthly",
            "contract=yearly"
        ]
    );
    assert_eq!(transform.n_features(), 6);
    assert_eq!(transform.label(), "churned");
    let inputs: Vec<_> = transform
        .input_schema()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(inputs, ["age", "income", "senior", "contract"]);
    assert_eq!(transform.derived_features(), spec.features);
    assert_eq!(
        transform
            .transform_table(&customers(), &TRAIN)
            .unwrap()
            .len(),
        4 * 6
    );
}

#[test]
fn statistics_come_from_train_rows_only() {
    let transform = fit(&customers(), "churned", &TRAIN, &unscaled()).unwrap();
    // Mean of 30, 40, 50: the 99 of the held-out row plays no part.
    assert_eq!(value_of(&transform, &customers(), 2, "age"), 40.0);
    // Mean income of 1000, 0, 3000 (not 1e6).
    assert_eq!(
        value_of(&transform, &customers(), 3, "income"),
        (4000.0f64 / 3.0) as f32
    );

    // Changing only held-out values changes nothing fitted.
    let other = table_of(&[
        (
            "age",
            Integer,
            vec![int(30), int(40), MISSING, int(50), int(-5000)],
        ),
        (
            "income",
            Float,
            vec![float(1000.0), float(0.0), float(3000.0), MISSING, MISSING],
        ),
        (
            "senior",
            Boolean,
            vec![
                Value::Boolean(true),
                Value::Boolean(false),
                MISSING,
                Value::Boolean(false),
                MISSING,
            ],
        ),
        (
            "contract",
            Categorical,
            vec![
                text("monthly"),
                text("yearly"),
                text("monthly"),
                MISSING,
                text("zzz"),
            ],
        ),
        (
            "churned",
            Integer,
            vec![int(1), int(0), int(1), int(0), int(0)],
        ),
    ]);
    let spec = TransformSpec::default();
    let a = fit(&customers(), "churned", &TRAIN, &spec).unwrap();
    let b = fit(&other, "churned", &TRAIN, &spec).unwrap();
    assert_eq!(a.to_json_bytes(), b.to_json_bytes());
    assert_eq!(a.digest(), b.digest());
}

#[test]
fn numeric_imputation_strategies() {
    let table = table_of(&[
        (
            "x",
            Float,
            vec![float(1.0), float(2.0), float(2.0), float(10.0), MISSING],
        ),
        ("y", Integer, vec![int(0); 5]),
    ]);
    let rows = [0, 1, 2, 3, 4];
    let filled = |impute: Impute| {
        let spec = TransformSpec {
            numeric: NumericSpec {
                impute,
                scale: Scale::None,
                clip: None,
            },
            ..TransformSpec::default()
        };
        let transform = fit(&table, "y", &rows, &spec).unwrap();
        value_of(&transform, &table, 4, "x")
    };
    assert_eq!(filled(Impute::Mean), 3.75);
    assert_eq!(filled(Impute::Median), 2.0);
    assert_eq!(filled(Impute::MostFrequent), 2.0);
    assert_eq!(filled(Impute::Constant(-1.0)), -1.0);

    // Even count median is the mean of the middle two; ties pick the smallest.
    let even = table_of(&[
        (
            "x",
            Float,
            vec![
                float(4.0),
                float(1.0),
                float(3.0),
                float(1.0),
                float(4.0),
                float(2.0),
                MISSING,
            ],
        ),
        ("y", Integer, vec![int(0); 7]),
    ]);
    let all: Vec<usize> = (0..7).collect();
    let with = |impute| {
        let spec = TransformSpec {
            numeric: NumericSpec {
                impute,
                scale: Scale::None,
                clip: None,
            },
            ..TransformSpec::default()
        };
        value_of(&fit(&even, "y", &all, &spec).unwrap(), &even, 6, "x")
    };
    assert_eq!(with(Impute::Median), 2.5);
    assert_eq!(with(Impute::MostFrequent), 1.0);
}

#[test]
fn categorical_imputation_and_per_column_overrides() {
    let transform = fit(&customers(), "churned", &TRAIN, &unscaled()).unwrap();
    // Missing contract becomes the most frequent training value.
    assert_eq!(
        value_of(&transform, &customers(), 3, "contract=monthly"),
        1.0
    );

    let spec = TransformSpec {
        columns: [
            (
                "contract".to_string(),
                ColumnSpec {
                    impute: Some(ColumnImpute::Constant(Fill::Text("unknown".to_string()))),
                    ..ColumnSpec::default()
                },
            ),
            (
                "age".to_string(),
                ColumnSpec {
                    impute: Some(ColumnImpute::Constant(Fill::Number(0.0))),
                    scale: Some(Scale::None),
                    clip: None,
                },
            ),
        ]
        .into(),
        ..TransformSpec::default()
    };
    let transform = fit(&customers(), "churned", &TRAIN, &spec).unwrap();
    assert_eq!(
        transform.feature_names(),
        [
            "age",
            "income",
            "senior",
            "contract=monthly",
            "contract=unknown",
            "contract=yearly"
        ]
    );
    assert_eq!(
        value_of(&transform, &customers(), 3, "contract=unknown"),
        1.0
    );
    assert_eq!(value_of(&transform, &customers(), 2, "age"), 0.0);
    // Other numeric columns keep the default standard scaling.
    assert_ne!(value_of(&transform, &customers(), 0, "income"), 1000.0);

    // A constant fill that never occurs in training still gets its column.
    let table = table_of(&[
        ("c", Categorical, vec![text("a"), text("b")]),
        ("y", Integer, vec![int(0), int(1)]),
    ]);
    let spec = TransformSpec {
        categorical: CategoricalSpec {
            impute: CatImpute::Constant("none".to_string()),
            encode: OneHot {
                unknown: Unknown::Error,
                max_categories: None,
            },
        },
        ..TransformSpec::default()
    };
    let transform = fit(&table, "y", &[0, 1], &spec).unwrap();
    assert_eq!(transform.feature_names(), ["c=a", "c=b", "c=none"]);
    assert_eq!(
        transform
            .transform_json_row(&row(json!({"c": null})))
            .unwrap(),
        vec![0.0, 0.0, 1.0]
    );
}

#[test]
fn standard_scaling_uses_population_std_and_zero_variance_scales_by_one() {
    let table = table_of(&[
        (
            "x",
            Float,
            vec![float(1.0), float(2.0), float(3.0), float(4.0)],
        ),
        ("flat", Integer, vec![int(7); 4]),
        ("y", Integer, vec![int(0); 4]),
    ]);
    let rows = [0, 1, 2, 3];
    let transform = fit(&table, "y", &rows, &TransformSpec::default()).unwrap();
    let std = 1.25f64.sqrt();
    assert_eq!(
        value_of(&transform, &table, 0, "x"),
        ((1.0 - 2.5) / std) as f32
    );
    assert_eq!(
        value_of(&transform, &table, 3, "x"),
        ((4.0 - 2.5) / std) as f32
    );
    assert_eq!(value_of(&transform, &table, 2, "flat"), 0.0);
    let served = transform
        .transform_json_row(&row(json!({"x": 2.5, "flat": 8})))
        .unwrap();
    assert_eq!(served, vec![0.0, 1.0]);
}

#[test]
fn min_max_scaling_and_clipping() {
    let table = table_of(&[
        (
            "x",
            Float,
            vec![
                float(0.0),
                float(5.0),
                float(10.0),
                float(20.0),
                float(-100.0),
            ],
        ),
        ("y", Integer, vec![int(0); 5]),
    ]);
    let spec = TransformSpec {
        numeric: NumericSpec {
            scale: Scale::MinMax,
            ..NumericSpec::default()
        },
        ..TransformSpec::default()
    };
    let transform = fit(&table, "y", &[0, 1, 2], &spec).unwrap();
    let all = transform.transform_table(&table, &[0, 1, 2, 3, 4]).unwrap();
    assert_eq!(all, vec![0.0, 0.5, 1.0, 2.0, -10.0]);

    // Clip before scaling, in raw units: the range is fitted on clipped values.
    let clipped = TransformSpec {
        numeric: NumericSpec {
            scale: Scale::MinMax,
            clip: Some((0.0, 8.0)),
            ..NumericSpec::default()
        },
        ..TransformSpec::default()
    };
    let transform = fit(&table, "y", &[0, 1, 2], &clipped).unwrap();
    let all = transform.transform_table(&table, &[0, 1, 2, 3, 4]).unwrap();
    assert_eq!(all, vec![0.0, 0.625, 1.0, 1.0, 0.0]);

    // A per-column clip replaces the default one.
    let overridden = TransformSpec {
        columns: [(
            "x".to_string(),
            ColumnSpec {
                clip: Some((-1.0, 1.0)),
                scale: Some(Scale::None),
                ..ColumnSpec::default()
            },
        )]
        .into(),
        ..clipped
    };
    let transform = fit(&table, "y", &[0, 1, 2], &overridden).unwrap();
    assert_eq!(
        transform.transform_table(&table, &[1, 4]).unwrap(),
        vec![1.0, -1.0]
    );

    // A constant column under min-max divides by one.
    let flat = table_of(&[
        ("x", Float, vec![float(3.0); 3]),
        ("y", Integer, vec![int(0); 3]),
    ]);
    let transform = fit(&flat, "y", &[0, 1], &spec).unwrap();
    assert_eq!(
        transform.transform_json_row(&row(json!({"x": 5}))).unwrap(),
        vec![2.0]
    );
}

#[test]
fn one_hot_unknown_ignore_gives_zeros_and_error_rejects() {
    let transform = fit(&customers(), "churned", &TRAIN, &unscaled()).unwrap();
    assert_eq!(
        value_of(&transform, &customers(), 4, "contract=monthly"),
        0.0
    );
    assert_eq!(
        value_of(&transform, &customers(), 4, "contract=yearly"),
        0.0
    );
    let served = transform
        .transform_json_row(&row(json!({"contract": "weekly"})))
        .unwrap();
    assert_eq!(&served[3..], &[0.0, 0.0]);

    let strict = TransformSpec {
        categorical: CategoricalSpec {
            encode: OneHot {
                unknown: Unknown::Error,
                max_categories: None,
            },
            ..CategoricalSpec::default()
        },
        ..TransformSpec::default()
    };
    let transform = fit(&customers(), "churned", &TRAIN, &strict).unwrap();
    assert!(transform.transform_table(&customers(), &TRAIN).is_ok());
    let error = transform
        .transform_table(&customers(), &[0, 4])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "column `contract`, row 5: unknown category \"biennial\" (unknown = \"error\"); known categories: monthly, yearly"
    );
    let error = transform
        .transform_json_row(&row(json!({"contract": "weekly"})))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `contract`: unknown category \"weekly\"; known categories: monthly, yearly"
    );
    assert_eq!(error.field(), Some("contract"));
}

#[test]
fn max_categories_folds_the_rare_ones_into_other() {
    let values = ["a", "a", "a", "a", "a", "d", "b", "b", "b", "c", "c", "e"];
    let mut cells: Vec<Value> = values.iter().map(|v| text(v)).collect();
    cells.push(text("zzz"));
    let n = cells.len();
    let table = table_of(&[("c", Categorical, cells), ("y", Integer, vec![int(0); n])]);
    let spec = TransformSpec {
        categorical: CategoricalSpec {
            encode: OneHot {
                max_categories: Some(3),
                ..OneHot::default()
            },
            ..CategoricalSpec::default()
        },
        ..TransformSpec::default()
    };
    let train: Vec<usize> = (0..values.len()).collect();
    let transform = fit(&table, "y", &train, &spec).unwrap();
    assert_eq!(transform.feature_names(), ["c=a", "c=b", "c=__other__"]);
    assert_eq!(
        transform.transform_table(&table, &[0]).unwrap(),
        vec![1.0, 0.0, 0.0]
    );
    assert_eq!(
        transform.transform_table(&table, &[9]).unwrap(),
        vec![0.0, 0.0, 1.0],
        "c is folded"
    );
    assert_eq!(
        transform.transform_table(&table, &[11]).unwrap(),
        vec![0.0, 0.0, 1.0],
        "e is folded"
    );
    assert_eq!(
        transform.transform_table(&table, &[12]).unwrap(),
        vec![0.0, 0.0, 0.0],
        "unseen is zeros"
    );

    // A limit of one leaves only the shared column.
    let one = TransformSpec {
        categorical: CategoricalSpec {
            encode: OneHot {
                max_categories: Some(1),
                ..OneHot::default()
            },
            ..CategoricalSpec::default()
        },
        ..TransformSpec::default()
    };
    let transform = fit(&table, "y", &train, &one).unwrap();
    assert_eq!(transform.feature_names(), ["c=__other__"]);
    // A limit above the count changes nothing.
    let many = TransformSpec {
        categorical: CategoricalSpec {
            encode: OneHot {
                max_categories: Some(5),
                ..OneHot::default()
            },
            ..CategoricalSpec::default()
        },
        ..TransformSpec::default()
    };
    let transform = fit(&table, "y", &train, &many).unwrap();
    assert_eq!(
        transform.feature_names(),
        ["c=a", "c=b", "c=c", "c=d", "c=e"]
    );
}

#[test]
fn derived_features_use_imputed_values_and_impute_their_missing_results() {
    let table = table_of(&[
        (
            "debt",
            Float,
            vec![float(100.0), float(50.0), MISSING, float(10.0), float(1.0)],
        ),
        (
            "income",
            Float,
            vec![float(99.0), float(0.0), float(9.0), float(4.0), float(0.0)],
        ),
        (
            "support_calls",
            Integer,
            vec![int(5), int(1), int(4), int(0), int(9)],
        ),
        ("y", Integer, vec![int(0); 5]),
    ]);
    let spec = TransformSpec {
        features: vec![
            feature("ratio", "debt / (income + 1)"),
            feature("log_income", "ln(income)"),
            feature(
                "many_calls",
                "CASE WHEN support_calls > 3 THEN 1 ELSE 0 END",
            ),
        ],
        numeric: NumericSpec {
            scale: Scale::None,
            ..NumericSpec::default()
        },
        ..TransformSpec::default()
    };
    let transform = fit(&table, "y", &[0, 1, 2, 3], &spec).unwrap();
    // Missing debt is imputed (mean of 100, 50, 10) before the ratio is computed.
    assert_eq!(
        value_of(&transform, &table, 2, "ratio"),
        (((160.0f64 / 3.0) / 10.0) as f32)
    );
    assert_eq!(value_of(&transform, &table, 0, "ratio"), 1.0);
    // ln(0) is missing, then imputed with the training mean of ln(income).
    let mean_log = (99f64.ln() + 9f64.ln() + 4f64.ln()) / 3.0;
    assert_eq!(
        value_of(&transform, &table, 1, "log_income"),
        mean_log as f32
    );
    assert_eq!(
        value_of(&transform, &table, 4, "log_income"),
        mean_log as f32
    );
    assert_eq!(value_of(&transform, &table, 0, "many_calls"), 1.0);
    assert_eq!(value_of(&transform, &table, 3, "many_calls"), 0.0);
    let served = transform
        .transform_json_row(&row(json!({"debt": 1, "income": 0, "support_calls": 9})))
        .unwrap();
    assert_eq!(served, transform.transform_table(&table, &[4]).unwrap());

    // A derived feature can be given a constant fill (and reads categorical columns).
    let all_missing = TransformSpec {
        features: vec![feature("bad", "debt / 0")],
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err_on(&table, &all_missing),
        "derived feature `bad` is missing in every training row (each result was undefined, e.g. a division \
         by zero or ln of a non-positive value); fix the expression or give impute = constant"
    );
    let constant = TransformSpec {
        columns: [(
            "bad".to_string(),
            ColumnSpec {
                impute: Some(ColumnImpute::Constant(Fill::Number(-1.0))),
                scale: Some(Scale::None),
                ..ColumnSpec::default()
            },
        )]
        .into(),
        ..all_missing
    };
    let transform = fit(&table, "y", &[0, 1, 2, 3], &constant).unwrap();
    assert_eq!(value_of(&transform, &table, 0, "bad"), -1.0);
}

fn fit_err_on(table: &Table, spec: &TransformSpec) -> String {
    match fit(table, "y", &[0, 1, 2, 3], spec) {
        Ok(_) => panic!("fit succeeded but should not"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn drop_excludes_columns_from_inputs_and_features() {
    let spec = TransformSpec {
        drop: vec!["senior".to_string(), "contract".to_string()],
        ..TransformSpec::default()
    };
    let transform = fit(&customers(), "churned", &TRAIN, &spec).unwrap();
    assert_eq!(transform.feature_names(), ["age", "income"]);
    let error = transform
        .transform_json_row(&row(json!({"age": 3, "senior": true})))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `senior` was dropped from the features by the transform spec; leave it out of the request"
    );
    // A table without the dropped columns is fine.
    let slim = table_of(&[
        ("income", Float, vec![float(1.0)]),
        ("age", Integer, vec![int(1)]),
    ]);
    assert_eq!(transform.transform_table(&slim, &[0]).unwrap().len(), 2);
}

#[test]
fn fit_errors_say_what_and_where() {
    let table = customers();
    assert_eq!(
        fit(&table, "churn", &TRAIN, &TransformSpec::default())
            .unwrap_err()
            .to_string(),
        "label column `churn` is not in the table; available columns: age, income, senior, contract, churned"
    );
    assert_eq!(
        fit(&table, "churned", &[], &TransformSpec::default())
            .unwrap_err()
            .to_string(),
        "there are no training rows; fit needs at least one"
    );
    assert_eq!(
        fit(&table, "churned", &[0, 7], &TransformSpec::default())
            .unwrap_err()
            .to_string(),
        "row index 7 is out of range: the table has 5 rows"
    );
    let spec = TransformSpec {
        drop: vec!["incme".to_string()],
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err(&table, &spec),
        "drop names column `incme`, which is not in the table (did you mean `income`?); \
         available columns: age, income, senior, contract, churned"
    );
    let spec = TransformSpec {
        columns: [("zzz".to_string(), ColumnSpec::default())].into(),
        features: vec![feature("ratio", "income / 2")],
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err(&table, &spec),
        "columns names column `zzz`, which is not in the table; \
         available columns: age, income, senior, contract, churned, ratio"
    );

    let empty = table_of(&[
        ("x", Float, vec![MISSING, MISSING, float(1.0)]),
        ("y", Integer, vec![int(0); 3]),
    ]);
    assert_eq!(
        fit(&empty, "y", &[0, 1], &TransformSpec::default())
            .unwrap_err()
            .to_string(),
        "column `x` has no values in the training rows; drop it or give impute = constant"
    );
    let empty_text = table_of(&[
        ("c", Categorical, vec![MISSING, text("a")]),
        ("y", Integer, vec![int(0); 2]),
    ]);
    assert_eq!(
        fit(&empty_text, "y", &[0], &TransformSpec::default())
            .unwrap_err()
            .to_string(),
        "column `c` has no values in the training rows; drop it or give impute = constant"
    );
    let constant = TransformSpec {
        numeric: NumericSpec {
            impute: Impute::Constant(0.0),
            ..NumericSpec::default()
        },
        ..TransformSpec::default()
    };
    assert!(fit(&empty, "y", &[0, 1], &constant).is_ok());

    let uses_label = TransformSpec {
        features: vec![feature("leak", "churned * 2")],
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err(&table, &uses_label),
        "derived feature `leak` reads column `churned`, which is the label; a feature computed from the \
         label would leak it into the inputs"
    );
    let uses_dropped = TransformSpec {
        features: vec![feature("old", "age + 1")],
        drop: vec!["age".to_string()],
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err(&table, &uses_dropped),
        "derived feature `old` reads column `age`, which is dropped; remove it from `drop` to use it in a \
         derived feature"
    );
    let typo = TransformSpec {
        features: vec![feature("r", "incom / 2")],
        ..TransformSpec::default()
    };
    assert!(fit_err(&table, &typo).contains("unknown column `incom` (did you mean `income`?)"));
    let clash = TransformSpec {
        features: vec![feature("age", "income / 2")],
        ..TransformSpec::default()
    };
    assert!(fit_err(&table, &clash).contains("clashes with the existing column `age`"));
    let clash_label = TransformSpec {
        features: vec![feature("churned", "income / 2")],
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err(&table, &clash_label),
        "derived feature `churned` has the same name as the label column; choose another name"
    );
    let twice = TransformSpec {
        features: vec![feature("r", "income / 2"), feature("r", "age")],
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err(&table, &twice),
        "derived feature `r` has the same name as another derived feature; choose another name"
    );

    let mean_of_text = TransformSpec {
        columns: [(
            "contract".to_string(),
            ColumnSpec {
                impute: Some(ColumnImpute::Mean),
                ..ColumnSpec::default()
            },
        )]
        .into(),
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err(&table, &mean_of_text),
        "column `contract` is categorical, but impute = mean; a categorical column accepts most_frequent or a \
         constant string"
    );
    let text_for_number = TransformSpec {
        columns: [(
            "age".to_string(),
            ColumnSpec {
                impute: Some(ColumnImpute::Constant(Fill::Text("old".to_string()))),
                ..ColumnSpec::default()
            },
        )]
        .into(),
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err(&table, &text_for_number),
        "column `age` is integer, but impute = constant Text(\"old\"); a numeric column needs a finite number \
         as its constant"
    );
    let scaled_text = TransformSpec {
        columns: [(
            "contract".to_string(),
            ColumnSpec {
                scale: Some(Scale::MinMax),
                ..ColumnSpec::default()
            },
        )]
        .into(),
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err(&table, &scaled_text),
        "column `contract` is categorical; scale applies to numeric columns only"
    );
    let bad_clip = TransformSpec {
        numeric: NumericSpec {
            clip: Some((5.0, 1.0)),
            ..NumericSpec::default()
        },
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err(&table, &bad_clip),
        "clip bounds for numeric are (5, 1); expected finite numbers with low <= high"
    );
    let zero = TransformSpec {
        categorical: CategoricalSpec {
            encode: OneHot {
                max_categories: Some(0),
                ..OneHot::default()
            },
            ..CategoricalSpec::default()
        },
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err(&table, &zero),
        "categorical.encode.max_categories is 0; expected at least 1 (or leave it out for no limit)"
    );

    let colliding = table_of(&[
        ("c=a", Float, vec![float(1.0)]),
        ("c", Categorical, vec![text("a")]),
        ("y", Integer, vec![int(0)]),
    ]);
    assert_eq!(
        fit(&colliding, "y", &[0], &TransformSpec::default())
            .unwrap_err()
            .to_string(),
        "two output features are both named `c=a`; rename the column or feature that produces it"
    );
}

#[test]
fn transform_table_checks_the_schema() {
    let transform = fit(&customers(), "churned", &TRAIN, &TransformSpec::default()).unwrap();
    let no_age = table_of(&[
        ("income", Float, vec![float(1.0)]),
        ("senior", Boolean, vec![MISSING]),
        ("contract", Categorical, vec![text("monthly")]),
    ]);
    assert_eq!(
        transform
            .transform_table(&no_age, &[0])
            .unwrap_err()
            .to_string(),
        "the table has no column `age`, which the transform needs (expected integer)"
    );
    let text_age = table_of(&[
        ("age", Categorical, vec![text("old")]),
        ("income", Float, vec![float(1.0)]),
        ("senior", Boolean, vec![MISSING]),
        ("contract", Categorical, vec![text("monthly")]),
    ]);
    assert_eq!(
        transform
            .transform_table(&text_age, &[0])
            .unwrap_err()
            .to_string(),
        "column `age`: expected integer (as when the transform was fitted), found categorical"
    );
    // Integer data where a float column was fitted is accepted, in any column order.
    let reordered = table_of(&[
        ("contract", Categorical, vec![text("yearly")]),
        ("senior", Boolean, vec![Value::Boolean(true)]),
        ("income", Integer, vec![int(3000)]),
        ("age", Integer, vec![int(30)]),
    ]);
    let direct = transform
        .transform_json_row(&row(
            json!({"contract": "yearly", "senior": true, "income": 3000, "age": 30}),
        ))
        .unwrap();
    assert_eq!(transform.transform_table(&reordered, &[0]).unwrap(), direct);
    assert_eq!(
        transform
            .transform_table(&reordered, &[1])
            .unwrap_err()
            .to_string(),
        "row index 1 is out of range: the table has 1 rows"
    );
}

fn served_transform() -> FittedTransform {
    fit(&customers(), "churned", &TRAIN, &TransformSpec::default()).unwrap()
}

fn row_error(value: Json) -> RowError {
    served_transform()
        .transform_json_row(&row(value))
        .unwrap_err()
}

#[test]
fn row_errors_name_the_field() {
    let error = row_error(json!({"age": 3, "agee": 4}));
    assert_eq!(
        error.to_string(),
        "unknown field `agee`; expected one of: age, income, senior, contract"
    );
    assert_eq!(error.field(), Some("agee"));
    assert_eq!(
        row_error(json!({"churned": 1})).to_string(),
        "field `churned` is the label the model predicts; leave it out of the request"
    );
    let error = row_error(json!({"age": "abc"}));
    assert_eq!(
        error.to_string(),
        "field `age`: expected a number (integer), got string \"abc\""
    );
    assert_eq!(error.field(), Some("age"));
    assert_eq!(
        row_error(json!({"age": 3.5})).to_string(),
        "field `age`: expected a number (integer), got number 3.5"
    );
    assert_eq!(
        row_error(json!({"age": [1]})).to_string(),
        "field `age`: expected a number (integer), got an array"
    );
    assert_eq!(
        row_error(json!({"income": true})).to_string(),
        "field `income`: expected a number, got boolean true"
    );
    assert_eq!(
        row_error(json!({"income": "inf"})).to_string(),
        "field `income`: expected a finite number, got string \"inf\""
    );
    assert_eq!(
        row_error(json!({"age": "-Infinity"})).to_string(),
        "field `age`: expected a finite number, got string \"-Infinity\""
    );
    assert_eq!(
        row_error(json!({"senior": "yes"})).to_string(),
        "field `senior`: expected a boolean (true/false, 0/1), got string \"yes\""
    );
    assert_eq!(
        row_error(json!({"senior": 2})).to_string(),
        "field `senior`: expected a boolean (true/false, 0/1), got number 2"
    );
    assert_eq!(
        row_error(json!({"contract": 12})).to_string(),
        "field `contract`: expected a string (categorical), got number 12"
    );
    assert_eq!(
        row_error(json!({"contract": {"a": 1}})).to_string(),
        "field `contract`: expected a string (categorical), got an object"
    );
    let mut short = vec![0.0; 2];
    let error = served_transform()
        .transform_row(&Map::new(), &mut short)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the output buffer has 2 slots, but the transform produces 5 features"
    );
    assert_eq!(error.field(), None);
}

#[test]
fn row_values_are_read_leniently_where_documented() {
    let transform = served_transform();
    let serve = |value: Json| transform.transform_json_row(&row(value)).unwrap();
    let typed = serve(json!({"age": 42, "income": 1500.5, "senior": true, "contract": "yearly"}));
    // CSV-style strings (with spaces around numbers, like the CSV reader trims).
    assert_eq!(
        serve(json!({"age": "42", "income": " 1500.5 ", "senior": "TRUE", "contract": "yearly"})),
        typed
    );
    assert_eq!(
        serve(json!({"age": 42.0, "income": 1500.5, "senior": 1, "contract": "yearly"})),
        typed
    );
    assert_eq!(
        serve(json!({"age": "42.0", "income": "1500.5", "senior": "1", "contract": "yearly"})),
        typed
    );
    // Absent, null and the CSV missing markers all mean missing.
    let all_missing = serve(json!({}));
    assert_eq!(
        serve(json!({"age": null, "income": null, "senior": null, "contract": null})),
        all_missing
    );
    assert_eq!(
        serve(json!({"age": "", "income": "NA", "senior": "null", "contract": " NaN "})),
        all_missing
    );
    assert_eq!(serve(json!({"income": "NaN"})), all_missing);
    // …and equal the imputed table row.
    let blank = table_of(&[
        ("age", Integer, vec![MISSING]),
        ("income", Float, vec![MISSING]),
        ("senior", Boolean, vec![MISSING]),
        ("contract", Categorical, vec![MISSING]),
    ]);
    assert_eq!(
        transform.transform_table(&blank, &[0]).unwrap(),
        all_missing
    );
}

#[test]
fn outputs_are_always_finite() {
    let table = table_of(&[
        ("x", Float, vec![float(0.0), float(1.0)]),
        ("y", Integer, vec![int(0); 2]),
    ]);
    let transform = fit(&table, "y", &[0, 1], &TransformSpec::default()).unwrap();
    let huge = transform
        .transform_json_row(&row(json!({"x": 1e300})))
        .unwrap();
    assert_eq!(huge, vec![f32::MAX]);
    let tiny = transform
        .transform_json_row(&row(json!({"x": -1e300})))
        .unwrap();
    assert_eq!(tiny, vec![-f32::MAX]);
}

#[test]
fn json_round_trip_is_exact_and_digest_is_stable() {
    let spec = TransformSpec {
        features: vec![
            feature("ratio", "income / (age + 1)"),
            feature("monthly", "contract = 'monthly'"),
        ],
        categorical: CategoricalSpec {
            encode: OneHot {
                unknown: Unknown::Error,
                max_categories: Some(2),
            },
            ..CategoricalSpec::default()
        },
        ..TransformSpec::default()
    };
    let transform = fit(&customers(), "churned", &TRAIN, &spec).unwrap();
    let bytes = transform.to_json_bytes();
    let loaded = FittedTransform::from_json_bytes(&bytes).unwrap();
    assert_eq!(loaded.to_json_bytes(), bytes);
    assert_eq!(loaded.digest(), transform.digest());
    assert_eq!(transform.digest(), Digest::of(&bytes));
    assert_eq!(
        loaded.transform_table(&customers(), &TRAIN).unwrap(),
        transform.transform_table(&customers(), &TRAIN).unwrap()
    );
    // Fitting again gives the same bytes: no maps with random order, no times.
    let again = fit(&customers(), "churned", &TRAIN, &spec).unwrap();
    assert_eq!(again.to_json_bytes(), bytes);
    // The serde path validates too.
    let through_serde: FittedTransform = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(through_serde.digest(), transform.digest());

    let document: Json = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(document["kind"], "versa.transform");
    assert_eq!(document["format_version"], 1);
    assert_eq!(document["feature_names"][3], "ratio");
    // Field order is fixed: kind and version lead.
    assert!(
        String::from_utf8(bytes.clone())
            .unwrap()
            .starts_with(r#"{"kind":"versa.transform","format_version":1,"#)
    );
}

#[test]
fn loading_rejects_other_versions_kinds_and_tampering() {
    let bytes = served_transform().to_json_bytes();
    let mut document: Json = serde_json::from_slice(&bytes).unwrap();
    document["format_version"] = json!(2);
    document["columns"] = json!("whatever a future version holds");
    let error =
        FittedTransform::from_json_bytes(&serde_json::to_vec(&document).unwrap()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "fitted transform has format_version 2, but this versa reads only format_version 1; upgrade versa to read it"
    );

    let mut document: Json = serde_json::from_slice(&bytes).unwrap();
    document["kind"] = json!("versa.model");
    let error =
        FittedTransform::from_json_bytes(&serde_json::to_vec(&document).unwrap()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid transform file: expected a document with \"kind\": \"versa.transform\", found kind `versa.model`"
    );

    let mut document: Json = serde_json::from_slice(&bytes).unwrap();
    document["feature_names"][0] = json!("renamed");
    let error =
        FittedTransform::from_json_bytes(&serde_json::to_vec(&document).unwrap()).unwrap_err();
    assert!(
        error.to_string().contains("feature_names do not match"),
        "{error}"
    );
    assert!(
        serde_json::from_slice::<FittedTransform>(&serde_json::to_vec(&document).unwrap()).is_err()
    );

    let error = FittedTransform::from_json_bytes(b"{not json").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("invalid transform file: not json: "),
        "{error}"
    );
    let error = FittedTransform::from_json_bytes(b"{\"kind\":\"versa.transform\"}").unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid transform file: format_version is missing or not a number"
    );
}

#[test]
fn spec_reads_from_json_with_defaults() {
    let spec: TransformSpec = serde_json::from_str(
        r#"{
            "features": [{"name": "ratio", "expression": "debt / (income + 1)"}],
            "numeric": {"impute": "median", "scale": "min_max", "clip": [0, 100]},
            "categorical": {"impute": {"constant": "none"}, "encode": {"unknown": "error", "max_categories": 5}},
            "drop": ["id"],
            "columns": {"age": {"impute": {"constant": 0}, "scale": "none"}, "city": {"impute": {"constant": "x"}}}
        }"#,
    )
    .unwrap();
    assert_eq!(spec.numeric.impute, Impute::Median);
    assert_eq!(spec.numeric.scale, Scale::MinMax);
    assert_eq!(spec.numeric.clip, Some((0.0, 100.0)));
    assert_eq!(
        spec.categorical.impute,
        CatImpute::Constant("none".to_string())
    );
    assert_eq!(spec.categorical.encode.unknown, Unknown::Error);
    assert_eq!(
        spec.columns["age"].impute,
        Some(ColumnImpute::Constant(Fill::Number(0.0)))
    );
    assert_eq!(
        spec.columns["city"].impute,
        Some(ColumnImpute::Constant(Fill::Text("x".to_string())))
    );

    let empty: TransformSpec = serde_json::from_str("{}").unwrap();
    assert_eq!(empty, TransformSpec::default());
    assert_eq!(empty.numeric.impute, Impute::Mean);
    assert_eq!(empty.numeric.scale, Scale::Standard);
    assert_eq!(empty.categorical.impute, CatImpute::MostFrequent);
    assert_eq!(empty.categorical.encode.unknown, Unknown::Ignore);

    let typo = serde_json::from_str::<TransformSpec>(r#"{"numerc": {}}"#).unwrap_err();
    assert!(
        typo.to_string().contains("unknown field `numerc`"),
        "{typo}"
    );
}

// ---- the equivalence invariant: table path and JSON path agree bit for bit ----

fn cell(column_type: ColumnType) -> BoxedStrategy<Value> {
    let present = match column_type {
        Integer => prop_oneof![(-20i64..20), any::<i64>()]
            .prop_map(Value::Integer)
            .boxed(),
        Float => prop_oneof![
            4 => (-1e3f64..1e3).prop_map(Value::Float),
            1 => any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(Value::Float),
            1 => Just(Value::Float(0.0)),
        ]
        .boxed(),
        Boolean => any::<bool>().prop_map(Value::Boolean).boxed(),
        Categorical => prop::sample::select(vec!["a", "b", "c", "d", "e", "has space", "ü"])
            .prop_map(|s| Value::Text(s.to_string()))
            .boxed(),
    };
    prop_oneof![1 => Just(Value::Missing), 4 => present].boxed()
}

const SCHEMA: [(&str, ColumnType); 6] = [
    ("n_items", Integer),
    ("amount", Float),
    ("flag", Boolean),
    ("city", Categorical),
    ("score", Float),
    ("label", Integer),
];

/// How a cell is sent as JSON: typed, as a CSV-style string, or (missing) null/absent/"".
#[derive(Debug, Clone, Copy)]
enum Rendering {
    Typed,
    AsText,
    Absent,
}

fn to_json(value: &Value, rendering: Rendering) -> Option<Json> {
    match (value, rendering) {
        (Value::Missing, Rendering::Absent) => None,
        (Value::Missing, Rendering::Typed) => Some(Json::Null),
        (Value::Missing, Rendering::AsText) => Some(json!("")),
        (Value::Integer(i), Rendering::AsText) => Some(json!(i.to_string())),
        (Value::Integer(i), _) => Some(json!(i)),
        (Value::Float(x), Rendering::AsText) => Some(json!(x.to_string())),
        (Value::Float(x), _) => Some(json!(x)),
        (Value::Boolean(b), Rendering::AsText) => Some(json!(b.to_string())),
        (Value::Boolean(b), _) => Some(json!(b)),
        (Value::Text(s), _) => Some(json!(s)),
    }
}

fn spec_strategy() -> impl Strategy<Value = TransformSpec> {
    (
        prop::sample::select(vec![
            Impute::Mean,
            Impute::Median,
            Impute::MostFrequent,
            Impute::Constant(0.5),
        ]),
        prop::sample::select(vec![Scale::Standard, Scale::MinMax, Scale::None]),
        prop::option::of(Just((-5.0, 50.0))),
        prop::sample::select(vec![Unknown::Ignore, Unknown::Error]),
        prop::option::of(1usize..5),
    )
        .prop_map(
            |(impute, scale, clip, unknown, max_categories)| TransformSpec {
                features: vec![
                    feature("per_item", "amount / (n_items + 1)"),
                    feature("log_amount", "ln(amount)"),
                    feature(
                        "city_a",
                        "CASE WHEN city = 'a' AND flag = 1 THEN score ELSE -score END",
                    ),
                    feature(
                        "mixed",
                        "COALESCE(sqrt(score - 1), greatest(amount, n_items) * 0.1)",
                    ),
                ],
                numeric: NumericSpec {
                    impute,
                    scale,
                    clip,
                },
                // ln of a negative amount is missing; with few training rows it
                // could be missing in all of them, which is a fit error.
                columns: [(
                    "log_amount".to_string(),
                    ColumnSpec {
                        impute: Some(ColumnImpute::Constant(Fill::Number(-1.0))),
                        ..ColumnSpec::default()
                    },
                )]
                .into(),
                categorical: CategoricalSpec {
                    impute: CatImpute::MostFrequent,
                    encode: OneHot {
                        unknown,
                        max_categories,
                    },
                },
                ..TransformSpec::default()
            },
        )
}

fn rows_strategy() -> impl Strategy<Value = (Vec<Vec<Value>>, Vec<Vec<usize>>)> {
    let row: Vec<BoxedStrategy<Value>> = SCHEMA.iter().map(|(_, t)| cell(*t)).collect();
    prop::collection::vec(row, 6..24).prop_flat_map(|rows| {
        let n = rows.len();
        let renderings = prop::collection::vec(prop::collection::vec(0usize..3, SCHEMA.len()), n);
        (Just(rows), renderings)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn table_and_json_rows_agree_bit_for_bit((rows, renderings) in rows_strategy(), spec in spec_strategy()) {
        let columns: Vec<(&str, ColumnType, Vec<Value>)> = SCHEMA
            .iter()
            .enumerate()
            .map(|(i, (name, t))| (*name, *t, rows.iter().map(|r| r[i].clone()).collect()))
            .collect();
        let table = table_of(&columns);
        let train: Vec<usize> = (0..rows.len() * 2 / 3).collect();
        let transform = match fit(&table, "label", &train, &spec) {
            Ok(transform) => transform,
            // Random columns may be all missing (or all undefined) in the training rows.
            Err(TransformError::NoTrainValues { .. } | TransformError::DerivedAllMissing { .. }) => return Ok(()),
            Err(other) => return Err(TestCaseError::fail(other.to_string())),
        };
        // Serving reads the transform back from disk; training used it in memory.
        let saved = transform.to_json_bytes();
        let served = FittedTransform::from_json_bytes(&saved).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(served.to_json_bytes(), saved);
        let n = transform.n_features();
        let all_rows: Vec<usize> = (0..rows.len()).collect();
        let whole = transform.transform_table(&table, &all_rows);
        for (r, cells) in rows.iter().enumerate() {
            let mut map = Map::new();
            for (i, (name, _)) in SCHEMA.iter().enumerate().take(SCHEMA.len() - 1) {
                let rendering = [Rendering::Typed, Rendering::AsText, Rendering::Absent][renderings[r][i]];
                if let Some(json) = to_json(&cells[i], rendering) {
                    map.insert((*name).to_string(), json);
                }
            }
            let from_table = transform.transform_table(&table, &[r]);
            let from_json = served.transform_json_row(&map);
            match (&from_table, &from_json) {
                (Ok(a), Ok(b)) => {
                    let a_bits: Vec<u32> = a.iter().map(|x| x.to_bits()).collect();
                    let b_bits: Vec<u32> = b.iter().map(|x| x.to_bits()).collect();
                    prop_assert_eq!(a_bits, b_bits, "row {} {:?}", r, map);
                    prop_assert!(a.iter().all(|x| x.is_finite()));
                    if let Ok(whole) = &whole {
                        prop_assert_eq!(&whole[r * n..(r + 1) * n], a.as_slice());
                    }
                }
                (Err(TransformError::UnknownCategory { value: a, .. }), Err(RowError::UnknownCategory { value: b, .. })) => {
                    prop_assert_eq!(a, b);
                }
                _ => prop_assert!(false, "paths disagree: {:?} vs {:?}", from_table, from_json),
            }
        }
    }
}

#[test]
fn features_read_as_a_list_or_a_name_to_expression_table() {
    let from_table: TransformSpec = serde_json::from_str(
        r#"{"features": {"a_ratio": "debt / (income + 1)", "b_calls": "support_calls > 3"}}"#,
    )
    .unwrap();
    let from_list: TransformSpec = serde_json::from_str(
        r#"{"features": [{"name": "a_ratio", "expression": "debt / (income + 1)"},
                         {"name": "b_calls", "expression": "support_calls > 3"}]}"#,
    )
    .unwrap();
    assert_eq!(from_table, from_list);
    assert_eq!(
        from_list.features[1],
        feature("b_calls", "support_calls > 3")
    );
    let error = serde_json::from_str::<TransformSpec>(r#"{"features": "a = b"}"#).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("a list of {name, expression} or a table"),
        "{error}"
    );
    // Written back as a list, which reads again.
    let written = serde_json::to_string(&from_table).unwrap();
    assert_eq!(
        serde_json::from_str::<TransformSpec>(&written).unwrap(),
        from_table
    );
}

#[test]
fn constants_must_be_finite() {
    let spec = TransformSpec {
        numeric: NumericSpec {
            impute: Impute::Constant(f64::INFINITY),
            ..NumericSpec::default()
        },
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err(&customers(), &spec),
        "impute = constant inf for numeric; expected a finite number"
    );
    let spec = TransformSpec {
        columns: [(
            "age".to_string(),
            ColumnSpec {
                impute: Some(ColumnImpute::Constant(Fill::Number(f64::NAN))),
                ..ColumnSpec::default()
            },
        )]
        .into(),
        ..TransformSpec::default()
    };
    assert_eq!(
        fit_err(&customers(), &spec),
        "impute = constant NaN for column `age`; expected a finite number"
    );
}

/// The quickstart path: the sample CSV, its engineered ratios, and serving
/// rows sent as the CSV's own strings.
#[test]
fn sample_csv_rows_served_as_strings_match_the_table() {
    use crate::csv::{CsvOptions, read_csv};
    use crate::sample::{CHURN_LABEL, churn_csv};

    let bytes = churn_csv(42, 300);
    let table = read_csv(&bytes, &CsvOptions::default()).unwrap();
    let spec: TransformSpec = serde_json::from_str(
        r#"{
            "features": [
                {"name": "debt_ratio", "expression": "debt / (income + 1)"},
                {"name": "charges_per_tenure", "expression": "monthly_charges / (tenure_months + 1)"},
                {"name": "many_calls", "expression": "CASE WHEN support_calls > 3 THEN 1 ELSE 0 END"},
                {"name": "log_income", "expression": "ln(income)"},
                {"name": "new_monthly", "expression": "contract = 'month-to-month' AND tenure_months < 12"}
            ],
            "categorical": {"encode": {"max_categories": 3}}
        }"#,
    )
    .unwrap();
    let train: Vec<usize> = (0..200).collect();
    let transform = fit(&table, CHURN_LABEL, &train, &spec).unwrap();
    assert_eq!(transform.input_schema().len(), 10);
    let all: Vec<usize> = (0..table.n_rows()).collect();
    let matrix = transform.transform_table(&table, &all).unwrap();
    let n = transform.n_features();

    let text = String::from_utf8(bytes).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for (r, line) in lines.enumerate() {
        let mut map = Map::new();
        for (name, field) in header.iter().zip(line.split(',')) {
            if *name != CHURN_LABEL {
                map.insert((*name).to_string(), json!(field));
            }
        }
        let served = transform.transform_json_row(&map).unwrap();
        let served_bits: Vec<u32> = served.iter().map(|x| x.to_bits()).collect();
        let table_bits: Vec<u32> = matrix[r * n..(r + 1) * n]
            .iter()
            .map(|x| x.to_bits())
            .collect();
        assert_eq!(served_bits, table_bits, "line {}", r + 2);
    }
}

#[test]
fn loading_rejects_unusable_parameters() {
    let bytes = served_transform().to_json_bytes();
    let load = |edit: &dyn Fn(&mut Json)| {
        let mut document: Json = serde_json::from_slice(&bytes).unwrap();
        edit(&mut document);
        FittedTransform::from_json_bytes(&serde_json::to_vec(&document).unwrap())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        load(&|d| d["columns"][0]["params"]["scale"]["std"] = json!("0")),
        "invalid transform file: column `age`: scaling parameters must be finite, with std > 0 and min <= max"
    );
    assert_eq!(
        load(&|d| d["columns"][1]["params"]["fill"] = json!(null)),
        "invalid transform file: invalid type: null, expected a string"
    );
    assert_eq!(
        load(&|d| d["columns"][3]["categories"] = json!(["yearly", "monthly"])),
        "invalid transform file: column `contract`: categories must be sorted, unique and disjoint from \
         other_categories"
    );
    assert_eq!(
        load(
            &|d| d["derived"] = json!([{"name": "r", "expression": "nope(", "params": {"fill": "0", "clip": null, "scale": {"kind": "none"}}}])
        ),
        "invalid transform file: derived feature `r`: cannot parse `nope(`: sql parser error: Expected: an expression, found: EOF"
    );
}
