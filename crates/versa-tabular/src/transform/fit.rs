//! Fitting: computing imputation, scaling and category statistics from the
//! training rows of a table. Knows nothing about serving; everything it
//! computes is applied through the same code the serving path uses.

use std::collections::{BTreeMap, BTreeSet};

use versa_core::ColumnType;

use super::{
    CatImpute, ColumnImpute, ColumnSpec, Fill, FittedColumn, FittedDerived, FittedScale,
    FittedTransform, Impute, NumericParams, Scale, TRANSFORM_FORMAT, TRANSFORM_KIND,
    TransformError, TransformFile, TransformSpec,
};
use crate::expr::{self, ExprError, InputValue};
use crate::table::Table;

/// Fits `spec` on `train_rows` of `table`, predicting `label`.
///
/// Statistics come from the training rows only; see the module docs for the
/// order of steps and the output feature order.
pub fn fit(
    table: &Table,
    label: &str,
    train_rows: &[usize],
    spec: &TransformSpec,
) -> Result<FittedTransform, TransformError> {
    let schema = table.schema();
    let all_names = || {
        schema
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if table.column_index(label).is_none() {
        return Err(TransformError::LabelNotFound {
            label: label.to_string(),
            available: all_names(),
        });
    }
    if train_rows.is_empty() {
        return Err(TransformError::NoTrainRows);
    }
    let n_rows = table.n_rows();
    if let Some(&row) = train_rows.iter().find(|&&row| row >= n_rows) {
        return Err(TransformError::RowOutOfRange { row, n_rows });
    }
    validate_names(table, spec)?;
    check_clip("numeric", spec.numeric.clip)?;
    if let Impute::Constant(value) = spec.numeric.impute
        && !value.is_finite()
    {
        return Err(TransformError::InvalidConstant {
            target: "numeric".to_string(),
            value,
        });
    }
    for (name, column) in &spec.columns {
        check_clip(&format!("column `{name}`"), column.clip)?;
    }
    if spec.categorical.encode.max_categories == Some(0) {
        return Err(TransformError::InvalidMaxCategories);
    }

    let dropped: BTreeSet<&str> = spec.drop.iter().map(String::as_str).collect();
    let input_schema: Vec<_> = schema
        .iter()
        .filter(|c| c.name != label && !dropped.contains(c.name.as_str()))
        .cloned()
        .collect();

    // Compile first: an expression error is cheaper to report than statistics.
    let mut compiled = Vec::with_capacity(spec.features.len());
    let mut derived_names = BTreeSet::new();
    for feature in &spec.features {
        if feature.name == label {
            return Err(TransformError::FeatureNameTaken {
                feature: feature.name.clone(),
                clash: "the label column".to_string(),
            });
        }
        if dropped.contains(feature.name.as_str()) {
            return Err(TransformError::FeatureNameTaken {
                feature: feature.name.clone(),
                clash: "a dropped column".to_string(),
            });
        }
        if !derived_names.insert(feature.name.as_str()) {
            return Err(TransformError::FeatureNameTaken {
                feature: feature.name.clone(),
                clash: "another derived feature".to_string(),
            });
        }
        compiled.push(expr::compile(feature, &input_schema).map_err(|error| match error {
            ExprError::UnknownColumn { feature, column, .. } if column == label => TransformError::FeatureInput {
                feature,
                column,
                reason: "is the label; a feature computed from the label would leak it into the inputs",
            },
            ExprError::UnknownColumn { feature, column, .. } if dropped.contains(column.as_str()) => {
                TransformError::FeatureInput {
                    feature,
                    column,
                    reason: "is dropped; remove it from `drop` to use it in a derived feature",
                }
            }
            other => TransformError::Expr(other),
        })?);
    }

    // 1. Imputation of raw columns, from the training rows only.
    let mut columns = Vec::with_capacity(input_schema.len());
    let mut train_cells = Vec::with_capacity(input_schema.len());
    for input in &input_schema {
        let index = table.column_index(&input.name).unwrap_or_default();
        let cells: Vec<_> = train_rows
            .iter()
            .map(|&row| table.value(index, row))
            .collect();
        let overrides = spec.columns.get(&input.name);
        let column = if input.column_type == ColumnType::Categorical {
            if let Some(setting) = overrides.and_then(numeric_only_setting) {
                return Err(TransformError::NumericSettingOnCategorical {
                    column: input.name.clone(),
                    setting,
                });
            }
            let texts: Vec<&str> = cells
                .iter()
                .filter_map(|cell| match InputValue::from_table_value(cell) {
                    InputValue::Text(text) => Some(text),
                    _ => None,
                })
                .collect();
            let fill = categorical_fill(&input.name, overrides, &spec.categorical.impute, &texts)?;
            FittedColumn::OneHot {
                name: input.name.clone(),
                fill,
                categories: Vec::new(),
                other_categories: Vec::new(),
                unknown: spec.categorical.encode.unknown,
            }
        } else {
            let numbers: Vec<f64> = cells
                .iter()
                .filter_map(|cell| match InputValue::from_table_value(cell) {
                    InputValue::Number(x) if x.is_finite() => Some(x),
                    _ => None,
                })
                .collect();
            let impute = numeric_impute(
                &input.name,
                input.column_type,
                overrides,
                spec.numeric.impute,
            )?;
            let fill =
                numeric_fill(impute, &numbers).ok_or_else(|| TransformError::NoTrainValues {
                    column: input.name.clone(),
                })?;
            FittedColumn::Numeric {
                name: input.name.clone(),
                params: NumericParams {
                    fill,
                    clip: overrides.and_then(|o| o.clip).or(spec.numeric.clip),
                    scale: FittedScale::None,
                },
            }
        };
        columns.push(column);
        train_cells.push(cells);
    }

    let mut transform = FittedTransform {
        file: TransformFile {
            kind: TRANSFORM_KIND.to_string(),
            format_version: TRANSFORM_FORMAT,
            label: label.to_string(),
            dropped: spec.drop.clone(),
            input_schema,
            columns,
            derived: Vec::new(),
            feature_names: Vec::new(),
        },
        compiled,
    };

    // The imputed training rows, through the same imputer the transform uses.
    let n_train = train_rows.len();
    let mut imputed_rows: Vec<Vec<InputValue<'_>>> = Vec::with_capacity(n_train);
    for row in 0..n_train {
        let raw: Vec<InputValue<'_>> = train_cells
            .iter()
            .map(|cells| InputValue::from_table_value(&cells[row]))
            .collect();
        imputed_rows.push(transform.impute(&raw));
    }

    // 2. Derived features from the imputed values; their missing results are
    //    imputed with statistics of the feature itself.
    let mut derived = Vec::with_capacity(transform.compiled.len());
    let mut derived_values = Vec::with_capacity(transform.compiled.len());
    for compiled in &transform.compiled {
        let name = compiled.name();
        let results: Vec<Option<f64>> = imputed_rows
            .iter()
            .map(|row| compiled.evaluate_row(row))
            .collect();
        let present: Vec<f64> = results.iter().flatten().copied().collect();
        let overrides = spec.columns.get(name);
        let impute = numeric_impute(name, ColumnType::Float, overrides, spec.numeric.impute)?;
        let fill =
            numeric_fill(impute, &present).ok_or_else(|| TransformError::DerivedAllMissing {
                feature: name.to_string(),
            })?;
        derived.push(FittedDerived {
            name: name.to_string(),
            expression: compiled.feature().expression.clone(),
            params: NumericParams {
                fill,
                clip: overrides.and_then(|o| o.clip).or(spec.numeric.clip),
                scale: FittedScale::None,
            },
        });
        derived_values.push(results);
    }

    // 3. Scaling of numeric columns (raw and derived); categories of the rest.
    //    Computed first and stored after, as the imputed rows borrow the fills.
    enum Fitted {
        Scale(FittedScale),
        Categories(Vec<String>, Vec<String>),
    }
    let mut fitted = Vec::with_capacity(transform.file.columns.len());
    for (i, column) in transform.file.columns.iter().enumerate() {
        fitted.push(match column {
            FittedColumn::Numeric { name, params } => {
                let scale = spec
                    .columns
                    .get(name.as_str())
                    .and_then(|o| o.scale)
                    .unwrap_or(spec.numeric.scale);
                let values: Vec<f64> = imputed_rows
                    .iter()
                    .map(|row| match row[i] {
                        InputValue::Number(x) => params.prepare(Some(x)),
                        _ => params.fill,
                    })
                    .collect();
                Fitted::Scale(fit_scale(scale, &values))
            }
            FittedColumn::OneHot { fill, .. } => {
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                // The fill value always has a column, so a missing value at
                // serving time is never an unknown category.
                counts.insert(fill.as_str(), 0);
                for row in &imputed_rows {
                    if let InputValue::Text(text) = row[i] {
                        *counts.entry(text).or_default() += 1;
                    }
                }
                let (kept, rest) = split_categories(counts, spec.categorical.encode.max_categories);
                Fitted::Categories(kept, rest)
            }
        });
    }
    drop(imputed_rows);
    for (column, fitted) in transform.file.columns.iter_mut().zip(fitted) {
        match (column, fitted) {
            (FittedColumn::Numeric { params, .. }, Fitted::Scale(scale)) => params.scale = scale,
            (
                FittedColumn::OneHot {
                    categories,
                    other_categories,
                    ..
                },
                Fitted::Categories(kept, rest),
            ) => {
                *categories = kept;
                *other_categories = rest;
            }
            _ => {}
        }
    }
    for (derived, results) in derived.iter_mut().zip(&derived_values) {
        let scale = spec
            .columns
            .get(derived.name.as_str())
            .and_then(|o| o.scale)
            .unwrap_or(spec.numeric.scale);
        let values: Vec<f64> = results.iter().map(|&r| derived.params.prepare(r)).collect();
        derived.params.scale = fit_scale(scale, &values);
    }
    transform.file.derived = derived;

    // 4. Output names, which must be unique.
    let names = transform.expected_feature_names();
    let mut seen = BTreeSet::new();
    for name in &names {
        if !seen.insert(name.as_str()) {
            return Err(TransformError::DuplicateFeatureName { name: name.clone() });
        }
    }
    transform.file.feature_names = names;
    Ok(transform)
}

fn validate_names(table: &Table, spec: &TransformSpec) -> Result<(), TransformError> {
    let schema = table.schema();
    let derived: Vec<&str> = spec.features.iter().map(|f| f.name.as_str()).collect();
    let unknown = |setting: &'static str, column: &str, candidates: Vec<&str>| {
        TransformError::UnknownColumn {
            setting,
            column: column.to_string(),
            suggestion: expr::closest_name(column, candidates.iter().copied()),
            available: candidates.join(", "),
        }
    };
    let raw: Vec<&str> = schema.iter().map(|c| c.name.as_str()).collect();
    for name in &spec.drop {
        if !raw.contains(&name.as_str()) {
            return Err(unknown("drop", name, raw.clone()));
        }
    }
    for name in spec.columns.keys() {
        if !raw.contains(&name.as_str()) && !derived.contains(&name.as_str()) {
            let mut candidates = raw.clone();
            candidates.extend(&derived);
            return Err(unknown("columns", name, candidates));
        }
    }
    Ok(())
}

fn check_clip(target: &str, clip: Option<(f64, f64)>) -> Result<(), TransformError> {
    match clip {
        Some((low, high)) if !(low.is_finite() && high.is_finite() && low <= high) => {
            Err(TransformError::InvalidClip {
                target: target.to_string(),
                low,
                high,
            })
        }
        _ => Ok(()),
    }
}

fn numeric_only_setting(spec: &ColumnSpec) -> Option<&'static str> {
    if spec.scale.is_some() {
        Some("scale")
    } else if spec.clip.is_some() {
        Some("clip")
    } else {
        None
    }
}

fn numeric_impute(
    column: &str,
    column_type: ColumnType,
    overrides: Option<&ColumnSpec>,
    default: Impute,
) -> Result<Impute, TransformError> {
    Ok(match overrides.and_then(|o| o.impute.as_ref()) {
        None => default,
        Some(ColumnImpute::Mean) => Impute::Mean,
        Some(ColumnImpute::Median) => Impute::Median,
        Some(ColumnImpute::MostFrequent) => Impute::MostFrequent,
        Some(ColumnImpute::Constant(Fill::Number(x))) if x.is_finite() => Impute::Constant(*x),
        Some(ColumnImpute::Constant(Fill::Number(value))) => {
            return Err(TransformError::InvalidConstant {
                target: format!("column `{column}`"),
                value: *value,
            });
        }
        Some(ColumnImpute::Constant(fill)) => {
            return Err(TransformError::ImputeMismatch {
                column: column.to_string(),
                column_type,
                impute: format!("constant {fill:?}"),
                accepted: "a numeric column needs a finite number as its constant",
            });
        }
    })
}

fn categorical_fill(
    column: &str,
    overrides: Option<&ColumnSpec>,
    default: &CatImpute,
    texts: &[&str],
) -> Result<String, TransformError> {
    let mismatch = |impute: String| TransformError::ImputeMismatch {
        column: column.to_string(),
        column_type: ColumnType::Categorical,
        impute,
        accepted: "a categorical column accepts most_frequent or a constant string",
    };
    let impute = match overrides.and_then(|o| o.impute.as_ref()) {
        None => default.clone(),
        Some(ColumnImpute::MostFrequent) => CatImpute::MostFrequent,
        Some(ColumnImpute::Constant(Fill::Text(text))) => CatImpute::Constant(text.clone()),
        Some(ColumnImpute::Mean) => return Err(mismatch("mean".to_string())),
        Some(ColumnImpute::Median) => return Err(mismatch("median".to_string())),
        Some(ColumnImpute::Constant(Fill::Number(x))) => {
            return Err(mismatch(format!("constant {x}")));
        }
    };
    match impute {
        CatImpute::Constant(text) => Ok(text),
        CatImpute::MostFrequent => {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for text in texts {
                *counts.entry(text).or_default() += 1;
            }
            // BTreeMap order plus a strict `>` keeps the alphabetically first on ties.
            let mut best: Option<(&str, usize)> = None;
            for (text, count) in counts {
                if best.is_none_or(|(_, c)| count > c) {
                    best = Some((text, count));
                }
            }
            best.map(|(text, _)| text.to_string())
                .ok_or_else(|| TransformError::NoTrainValues {
                    column: column.to_string(),
                })
        }
    }
}

/// The fill value for `impute` over the present training values; `None` when
/// a statistic is asked of no values.
fn numeric_fill(impute: Impute, values: &[f64]) -> Option<f64> {
    if let Impute::Constant(x) = impute {
        return Some(x);
    }
    if values.is_empty() {
        return None;
    }
    Some(match impute {
        Impute::Constant(x) => x,
        Impute::Mean => mean(values),
        Impute::Median => {
            let mut sorted = values.to_vec();
            sorted.sort_by(f64::total_cmp);
            let middle = sorted.len() / 2;
            if sorted.len() % 2 == 1 {
                sorted[middle]
            } else {
                sorted[middle - 1] / 2.0 + sorted[middle] / 2.0
            }
        }
        Impute::MostFrequent => {
            let mut sorted = values.to_vec();
            // -0.0 and 0.0 are one value here.
            for x in &mut sorted {
                if *x == 0.0 {
                    *x = 0.0;
                }
            }
            sorted.sort_by(f64::total_cmp);
            let (mut best, mut best_count) = (sorted[0], 0);
            let mut start = 0;
            while start < sorted.len() {
                let mut end = start;
                while end < sorted.len() && sorted[end] == sorted[start] {
                    end += 1;
                }
                // Ascending order plus a strict `>` keeps the smallest on ties.
                if end - start > best_count {
                    best = sorted[start];
                    best_count = end - start;
                }
                start = end;
            }
            best
        }
    })
}

fn mean(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if mean.is_finite() {
        mean
    } else {
        // The sum overflowed: average pre-divided values instead.
        values.iter().map(|x| x / n).sum()
    }
}

fn fit_scale(scale: Scale, values: &[f64]) -> FittedScale {
    match scale {
        Scale::None => FittedScale::None,
        Scale::Standard => {
            let mean = mean(values);
            let variance =
                values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / values.len() as f64;
            let std = variance.sqrt();
            // Zero (or unrepresentable) spread: scale by 1, not an error.
            let std = if std > 0.0 && std.is_finite() {
                std
            } else {
                1.0
            };
            FittedScale::Standard { mean, std }
        }
        Scale::MinMax => {
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            FittedScale::MinMax { min, max }
        }
    }
}

/// Sorted kept categories and sorted folded ones, for at most `max_columns`
/// output columns (the `__other__` column included).
fn split_categories(
    counts: BTreeMap<&str, usize>,
    max_columns: Option<usize>,
) -> (Vec<String>, Vec<String>) {
    let all: Vec<String> = counts.keys().map(|c| (*c).to_string()).collect();
    let Some(max_columns) = max_columns else {
        return (all, Vec::new());
    };
    if all.len() <= max_columns {
        return (all, Vec::new());
    }
    let mut by_frequency: Vec<(&str, usize)> = counts.into_iter().collect();
    by_frequency.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let n_kept = max_columns - 1;
    let mut kept: Vec<String> = by_frequency[..n_kept]
        .iter()
        .map(|(c, _)| (*c).to_string())
        .collect();
    let mut rest: Vec<String> = by_frequency[n_kept..]
        .iter()
        .map(|(c, _)| (*c).to_string())
        .collect();
    kept.sort();
    rest.sort();
    (kept, rest)
}
