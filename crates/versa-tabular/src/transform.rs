//! Preprocessing fitted on the training rows only and replayed identically at
//! serving time: imputation, derived features, clipping, scaling and one-hot
//! encoding, turning raw rows into the `f32` feature vectors a model reads.
//!
//! This module knows tables, JSON rows and the [`crate::expr`] compiler;
//! it knows nothing about models, storage or HTTP.
//!
//! # Fitting order
//! [`fit`] computes every statistic from the training rows alone:
//! 1. validate the spec against the table, then impute the raw input columns
//!    (every column except the label and `drop`ped ones): numeric columns
//!    (integer, float, and boolean read as 0/1) with the mean, median, most
//!    frequent value or a constant; categorical ones with the most frequent
//!    value or a constant. Ties pick the smallest value.
//! 2. compute the derived features from the *imputed* raw values; results that
//!    are missing (see the `expr` evaluation rule: division by zero, `ln(0)`, …)
//!    are then imputed like any numeric column, with statistics of that feature
//!    over the training rows.
//! 3. clip numeric values (raw and derived) if asked, then scale them:
//!    `standard` is `(x - mean) / std` with the *population* standard deviation
//!    (like scikit-learn's `StandardScaler`); a column with zero variance gets
//!    std 1 rather than an error, so it becomes a constant 0. `min_max` is
//!    `(x - min) / (max - min)`, a zero range divides by 1. Categorical columns
//!    are one-hot encoded over the categories seen in the training rows
//!    (sorted); with `max_categories = n` the `n - 1` most frequent keep their
//!    own column and the rest share one `column=__other__` column.
//! 4. output features in this order: numeric columns in source order, then
//!    derived features in declaration order, then one one-hot block per
//!    categorical column in source order (`column=category`).
//!
//! # Applying
//! [`FittedTransform::transform_table`] (training, evaluation) and
//! [`FittedTransform::transform_row`] (serving JSON) both convert their input
//! into the same per-row cells and run one function over them, computing in
//! `f64` and casting to `f32` once at the end, so the same values give
//! bit-identical outputs. Outputs are always finite: a value beyond the `f32`
//! range saturates at `±f32::MAX`.
//!
//! At serving time a categorical value not seen in training encodes as all
//! zeros under `unknown = "ignore"` (also when an `__other__` column exists:
//! that column is for values seen in training but infrequent) and is an error
//! under `unknown = "error"`. Missing values (JSON `null`, an absent field or a
//! string the CSV reader treats as missing, such as `""` or `NA`) are imputed. See [`FittedTransform::transform_row`] for how
//! JSON values are read.

mod exact_float;
mod fit;
mod json_row;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use versa_core::manifest::UnsupportedFormat;
use versa_core::{ColumnSchema, ColumnType, Digest};

use crate::expr::{self, CompiledExpr, DerivedFeature, ExprError, InputValue};
use crate::table::Table;

pub use fit::fit;
pub use json_row::RowError;

/// Current `format_version` of a serialised [`FittedTransform`].
pub const TRANSFORM_FORMAT: u32 = 1;
/// The `kind` field of a serialised [`FittedTransform`].
pub const TRANSFORM_KIND: &str = "versa.transform";
/// The shared one-hot column for infrequent categories.
pub const OTHER_CATEGORY: &str = "__other__";

/// What preprocessing to fit: read from the user's TOML or JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformSpec {
    /// Derived features, computed from the imputed raw columns. Accepts a
    /// list of `{name, expression}` or a table of `name = "expression"` (in
    /// the order the format's reader yields its keys); written as a list.
    #[serde(deserialize_with = "features_list_or_table")]
    pub features: Vec<DerivedFeature>,
    /// Defaults for numeric (and boolean) columns.
    pub numeric: NumericSpec,
    /// Defaults for categorical columns.
    pub categorical: CategoricalSpec,
    /// Columns left out of the features entirely.
    pub drop: Vec<String>,
    /// Per-column overrides, by raw column or derived feature name.
    pub columns: BTreeMap<String, ColumnSpec>,
}

fn features_list_or_table<'de, D>(deserializer: D) -> Result<Vec<DerivedFeature>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Features;

    impl<'de> serde::de::Visitor<'de> for Features {
        type Value = Vec<DerivedFeature>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of {name, expression} or a table of name = \"expression\"")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut features = Vec::new();
            while let Some(feature) = seq.next_element::<DerivedFeature>()? {
                features.push(feature);
            }
            Ok(features)
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut features = Vec::new();
            while let Some((name, expression)) = map.next_entry::<String, String>()? {
                features.push(DerivedFeature { name, expression });
            }
            Ok(features)
        }
    }

    deserializer.deserialize_any(Features)
}

/// Preprocessing of numeric columns.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NumericSpec {
    /// How missing values are filled.
    pub impute: Impute,
    /// How values are scaled.
    pub scale: Scale,
    /// Bounds applied after imputation and before scaling, in raw units.
    pub clip: Option<(f64, f64)>,
}

/// How missing numeric values are filled.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    /// Mean of the training values.
    #[default]
    Mean,
    /// Median of the training values (mean of the middle two for an even count).
    Median,
    /// Most frequent training value (smallest on ties).
    MostFrequent,
    /// A fixed value.
    Constant(f64),
}

/// How numeric values are scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// `(x - mean) / std`, population std; zero variance scales by 1.
    #[default]
    Standard,
    /// `(x - min) / (max - min)`; a zero range divides by 1.
    MinMax,
    /// Values pass through.
    None,
}

/// Preprocessing of categorical columns.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CategoricalSpec {
    /// How missing values are filled.
    pub impute: CatImpute,
    /// How values become features.
    pub encode: OneHot,
}

/// How missing categorical values are filled.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatImpute {
    /// Most frequent training value (alphabetically first on ties).
    #[default]
    MostFrequent,
    /// A fixed category.
    Constant(String),
}

/// One-hot encoding options.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OneHot {
    /// What a category unseen in training does at transform time.
    pub unknown: Unknown,
    /// At most this many columns per categorical column, `__other__` included.
    pub max_categories: Option<usize>,
}

/// What an unseen category does at transform time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    /// Encode as all zeros.
    #[default]
    Ignore,
    /// Reject the row.
    Error,
}

/// Overrides for one column (raw or derived).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnSpec {
    /// Imputation instead of the type's default.
    pub impute: Option<ColumnImpute>,
    /// Scaling instead of the numeric default (numeric columns only).
    pub scale: Option<Scale>,
    /// Clip bounds instead of the numeric default (numeric columns only).
    pub clip: Option<(f64, f64)>,
}

/// A per-column imputation: the numeric and categorical choices together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnImpute {
    /// Mean (numeric columns only).
    Mean,
    /// Median (numeric columns only).
    Median,
    /// Most frequent value.
    MostFrequent,
    /// A fixed value: a number for numeric columns, a string for categorical ones.
    Constant(Fill),
}

/// A constant fill value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Fill {
    /// For numeric columns.
    Number(f64),
    /// For categorical columns.
    Text(String),
}

/// Fitting or applying a transform failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TransformError {
    /// The label column is not in the table.
    #[error("label column `{label}` is not in the table; available columns: {available}")]
    LabelNotFound {
        /// The label as given.
        label: String,
        /// Every column, comma-separated.
        available: String,
    },
    /// A spec setting names a column the table does not have.
    #[error(
        "{setting} names column `{column}`, which is not in the table{}; available columns: {available}",
        suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
    )]
    UnknownColumn {
        /// Which setting (`drop`, `columns`).
        setting: &'static str,
        /// The name as given.
        column: String,
        /// A close existing name.
        suggestion: Option<String>,
        /// Every column and derived feature, comma-separated.
        available: String,
    },
    /// `fit` was given no training rows.
    #[error("there are no training rows; fit needs at least one")]
    NoTrainRows,
    /// A row index beyond the table.
    #[error("row index {row} is out of range: the table has {n_rows} rows")]
    RowOutOfRange {
        /// The index.
        row: usize,
        /// Rows in the table.
        n_rows: usize,
    },
    /// A column without a single value in the training rows.
    #[error(
        "column `{column}` has no values in the training rows; drop it or give impute = constant"
    )]
    NoTrainValues {
        /// The column.
        column: String,
    },
    /// A derived feature that is missing in every training row.
    #[error(
        "derived feature `{feature}` is missing in every training row (each result was undefined, \
         e.g. a division by zero or ln of a non-positive value); fix the expression or give impute = constant"
    )]
    DerivedAllMissing {
        /// The feature.
        feature: String,
    },
    /// An imputation that does not fit the column's type.
    #[error("column `{column}` is {column_type}, but impute = {impute}; {accepted}")]
    ImputeMismatch {
        /// The column.
        column: String,
        /// Its type.
        column_type: ColumnType,
        /// The imputation asked for.
        impute: String,
        /// What would be accepted.
        accepted: &'static str,
    },
    /// Scaling or clipping asked for a categorical column.
    #[error("column `{column}` is categorical; {setting} applies to numeric columns only")]
    NumericSettingOnCategorical {
        /// The column.
        column: String,
        /// `scale` or `clip`.
        setting: &'static str,
    },
    /// A constant fill that is not a finite number.
    #[error("impute = constant {value} for {target}; expected a finite number")]
    InvalidConstant {
        /// `numeric` or `column `x``.
        target: String,
        /// The constant.
        value: f64,
    },
    /// Bad clip bounds.
    #[error(
        "clip bounds for {target} are ({low}, {high}); expected finite numbers with low <= high"
    )]
    InvalidClip {
        /// `numeric` or `column `x``.
        target: String,
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// `max_categories = 0`.
    #[error(
        "categorical.encode.max_categories is 0; expected at least 1 (or leave it out for no limit)"
    )]
    InvalidMaxCategories,
    /// A derived feature did not compile.
    #[error(transparent)]
    Expr(#[from] ExprError),
    /// A derived feature reads the label or a dropped column.
    #[error("derived feature `{feature}` reads column `{column}`, which {reason}")]
    FeatureInput {
        /// The feature.
        feature: String,
        /// The column.
        column: String,
        /// Why it cannot be read.
        reason: &'static str,
    },
    /// A derived feature's name is already taken.
    #[error("derived feature `{feature}` has the same name as {clash}; choose another name")]
    FeatureNameTaken {
        /// The feature.
        feature: String,
        /// What it clashes with.
        clash: String,
    },
    /// Two output features got the same name.
    #[error(
        "two output features are both named `{name}`; rename the column or feature that produces it"
    )]
    DuplicateFeatureName {
        /// The name.
        name: String,
    },
    /// The table lacks an input column.
    #[error("the table has no column `{column}`, which the transform needs (expected {expected})")]
    MissingInputColumn {
        /// The column.
        column: String,
        /// Its type at fit time.
        expected: ColumnType,
    },
    /// The table has an input column with an incompatible type.
    #[error(
        "column `{column}`: expected {expected} (as when the transform was fitted), found {found}"
    )]
    ColumnTypeMismatch {
        /// The column.
        column: String,
        /// Type at fit time.
        expected: ColumnType,
        /// Type in the table.
        found: ColumnType,
    },
    /// A category unseen in training, under `unknown = "error"`.
    #[error(
        "column `{column}`, {location}: unknown category {value:?} (unknown = \"error\"); known categories: {known}"
    )]
    UnknownCategory {
        /// The column.
        column: String,
        /// Where in the table (`line N` or `row N`).
        location: String,
        /// The value.
        value: String,
        /// Categories seen in training, comma-separated.
        known: String,
    },
    /// A serialised transform that cannot be read.
    #[error("invalid transform file: {message}")]
    Corrupt {
        /// What was wrong.
        message: String,
    },
    /// A serialised transform from an incompatible versa.
    #[error(transparent)]
    UnsupportedFormat(#[from] UnsupportedFormat),
}

/// Fitted parameters of a numeric output feature (raw column or derived).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NumericParams {
    /// Replaces a missing value.
    #[serde(with = "exact_float")]
    fill: f64,
    /// Applied after filling, before scaling.
    #[serde(with = "exact_float::bounds")]
    clip: Option<(f64, f64)>,
    scale: FittedScale,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum FittedScale {
    None,
    Standard {
        #[serde(with = "exact_float")]
        mean: f64,
        #[serde(with = "exact_float")]
        std: f64,
    },
    MinMax {
        #[serde(with = "exact_float")]
        min: f64,
        #[serde(with = "exact_float")]
        max: f64,
    },
}

impl NumericParams {
    /// What makes these parameters unusable, if anything (for files read from disk).
    fn problem(&self) -> Option<&'static str> {
        let finite_clip = self
            .clip
            .is_none_or(|(low, high)| low.is_finite() && high.is_finite() && low <= high);
        let finite_scale = match self.scale {
            FittedScale::None => true,
            FittedScale::Standard { mean, std } => mean.is_finite() && std.is_finite() && std > 0.0,
            FittedScale::MinMax { min, max } => min.is_finite() && max.is_finite() && min <= max,
        };
        if !self.fill.is_finite() {
            Some("the fill value is not a finite number")
        } else if !finite_clip {
            Some("clip bounds must be finite with low <= high")
        } else if !finite_scale {
            Some("scaling parameters must be finite, with std > 0 and min <= max")
        } else {
            None
        }
    }

    /// Fill, clip: the value statistics for scaling are computed from.
    fn prepare(&self, value: Option<f64>) -> f64 {
        let value = value.filter(|x| x.is_finite()).unwrap_or(self.fill);
        match self.clip {
            Some((low, high)) => value.clamp(low, high),
            None => value,
        }
    }

    /// The output value of this feature for one row.
    fn finish(&self, value: Option<f64>) -> f64 {
        let x = self.prepare(value);
        match self.scale {
            FittedScale::None => x,
            FittedScale::Standard { mean, std } => (x - mean) / std,
            FittedScale::MinMax { min, max } => {
                let range = max - min;
                (x - min) / if range > 0.0 { range } else { 1.0 }
            }
        }
    }
}

/// The one `f64` → `f32` conversion of every output value.
fn to_output(x: f64) -> f32 {
    if x.is_nan() {
        return 0.0;
    }
    (x as f32).clamp(-f32::MAX, f32::MAX)
}

/// Fitted parameters of one raw input column, in input-schema order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "encoding", rename_all = "snake_case", deny_unknown_fields)]
enum FittedColumn {
    Numeric {
        name: String,
        params: NumericParams,
    },
    OneHot {
        name: String,
        fill: String,
        /// Categories with their own column, sorted.
        categories: Vec<String>,
        /// Categories seen in training that share the `__other__` column, sorted.
        other_categories: Vec<String>,
        unknown: Unknown,
    },
}

impl FittedColumn {
    fn name(&self) -> &str {
        match self {
            FittedColumn::Numeric { name, .. } | FittedColumn::OneHot { name, .. } => name,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FittedDerived {
    name: String,
    expression: String,
    params: NumericParams,
}

/// The serialised form: plain data, validated and compiled on the way in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransformFile {
    kind: String,
    format_version: u32,
    label: String,
    dropped: Vec<String>,
    input_schema: Vec<ColumnSchema>,
    columns: Vec<FittedColumn>,
    derived: Vec<FittedDerived>,
    feature_names: Vec<String>,
}

/// A transform fitted on training rows: everything needed to turn a raw row
/// into model features, and its on-disk format.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "TransformFile", into = "TransformFile")]
pub struct FittedTransform {
    file: TransformFile,
    /// One per `file.derived`, compiled against `file.input_schema`.
    compiled: Vec<CompiledExpr>,
}

/// A category the transform has not seen, under `unknown = "error"`.
struct UnseenCategory {
    input: usize,
    value: String,
}

impl TryFrom<TransformFile> for FittedTransform {
    type Error = TransformError;

    fn try_from(file: TransformFile) -> Result<Self, TransformError> {
        let corrupt = |message: String| TransformError::Corrupt { message };
        if file.kind != TRANSFORM_KIND {
            return Err(corrupt(format!(
                "kind is `{}`, expected `{TRANSFORM_KIND}`",
                file.kind
            )));
        }
        if file.format_version != TRANSFORM_FORMAT {
            return Err(unsupported(file.format_version).into());
        }
        if file.columns.len() != file.input_schema.len()
            || file.columns.iter().zip(&file.input_schema).any(|(c, s)| {
                c.name() != s.name
                    || matches!(c, FittedColumn::OneHot { .. })
                        != (s.column_type == ColumnType::Categorical)
            })
        {
            return Err(corrupt(
                "fitted columns do not match the input schema one for one".to_string(),
            ));
        }
        for column in &file.columns {
            let problem = match column {
                FittedColumn::Numeric { params, .. } => params.problem(),
                FittedColumn::OneHot {
                    categories,
                    other_categories,
                    ..
                } => {
                    let ascending = |list: &[String]| list.windows(2).all(|w| w[0] < w[1]);
                    let disjoint = !categories
                        .iter()
                        .any(|c| other_categories.binary_search(c).is_ok());
                    (!(ascending(categories) && ascending(other_categories) && disjoint)).then_some(
                        "categories must be sorted, unique and disjoint from other_categories",
                    )
                }
            };
            if let Some(problem) = problem {
                return Err(corrupt(format!("column `{}`: {problem}", column.name())));
            }
        }
        for derived in &file.derived {
            if let Some(problem) = derived.params.problem() {
                return Err(corrupt(format!(
                    "derived feature `{}`: {problem}",
                    derived.name
                )));
            }
        }
        let compiled = file
            .derived
            .iter()
            .map(|d| {
                let feature = DerivedFeature {
                    name: d.name.clone(),
                    expression: d.expression.clone(),
                };
                expr::compile(&feature, &file.input_schema)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| corrupt(e.to_string()))?;
        let transform = FittedTransform { file, compiled };
        if transform.expected_feature_names() != transform.file.feature_names {
            return Err(corrupt(
                "feature_names do not match the fitted columns and derived features".to_string(),
            ));
        }
        Ok(transform)
    }
}

impl From<FittedTransform> for TransformFile {
    fn from(transform: FittedTransform) -> Self {
        transform.file
    }
}

fn unsupported(found: u32) -> UnsupportedFormat {
    UnsupportedFormat {
        kind: "fitted transform",
        found,
        supported: TRANSFORM_FORMAT,
    }
}

impl FittedTransform {
    /// Output feature names, in output order.
    pub fn feature_names(&self) -> &[String] {
        &self.file.feature_names
    }

    /// Number of output features per row.
    pub fn n_features(&self) -> usize {
        self.file.feature_names.len()
    }

    /// The raw fields expected at serving time (every column except the label
    /// and dropped ones), in source order.
    pub fn input_schema(&self) -> &[ColumnSchema] {
        &self.file.input_schema
    }

    /// The label column the transform was fitted for.
    pub fn label(&self) -> &str {
        &self.file.label
    }

    /// The derived features, as declared.
    pub fn derived_features(&self) -> Vec<DerivedFeature> {
        self.compiled.iter().map(|c| c.feature().clone()).collect()
    }

    /// Canonical JSON: fixed field order, floats in shortest round-trip form.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // Serialising plain structs of strings, finite floats and vectors
        // cannot fail; an empty document would fail to load, never silently.
        serde_json::to_vec(&self.file).unwrap_or_default()
    }

    /// Reads [`to_json_bytes`](Self::to_json_bytes) output, rejecting other
    /// kinds and format versions with a clear message.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, TransformError> {
        let corrupt = |message: String| TransformError::Corrupt { message };
        let document: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| corrupt(format!("not json: {e}")))?;
        // Look at kind and version before the shape, so a newer format is
        // reported as such instead of as a confusing missing field.
        let kind = document.get("kind").and_then(|k| k.as_str());
        if kind != Some(TRANSFORM_KIND) {
            return Err(corrupt(format!(
                "expected a document with \"kind\": \"{TRANSFORM_KIND}\", found {}",
                kind.map_or_else(|| "no kind".to_string(), |k| format!("kind `{k}`"))
            )));
        }
        match document.get("format_version").and_then(|v| v.as_u64()) {
            Some(version) if version == u64::from(TRANSFORM_FORMAT) => {}
            Some(version) => {
                return Err(unsupported(u32::try_from(version).unwrap_or(u32::MAX)).into());
            }
            None => {
                return Err(corrupt(
                    "format_version is missing or not a number".to_string(),
                ));
            }
        }
        let file: TransformFile =
            serde_json::from_value(document).map_err(|e| corrupt(e.to_string()))?;
        FittedTransform::try_from(file)
    }

    /// Digest of the canonical JSON: the transform's identity.
    pub fn digest(&self) -> Digest {
        Digest::of(&self.to_json_bytes())
    }

    fn expected_feature_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for column in &self.file.columns {
            if let FittedColumn::Numeric { name, .. } = column {
                names.push(name.clone());
            }
        }
        names.extend(self.file.derived.iter().map(|d| d.name.clone()));
        for column in &self.file.columns {
            if let FittedColumn::OneHot {
                name,
                categories,
                other_categories,
                ..
            } = column
            {
                names.extend(categories.iter().map(|c| format!("{name}={c}")));
                if !other_categories.is_empty() {
                    names.push(format!("{name}={OTHER_CATEGORY}"));
                }
            }
        }
        names
    }

    /// Transforms the given rows of `table` into a row-major
    /// `rows.len() × n_features()` matrix.
    ///
    /// The table must hold every input column (matched by name) with the type
    /// it had at fit time; an integer column is accepted where a float one was
    /// fitted. Other columns (the label, dropped ones) are ignored.
    pub fn transform_table(
        &self,
        table: &Table,
        rows: &[usize],
    ) -> Result<Vec<f32>, TransformError> {
        let mut sources = Vec::with_capacity(self.file.input_schema.len());
        for input in &self.file.input_schema {
            let Some(index) = table.column_index(&input.name) else {
                return Err(TransformError::MissingInputColumn {
                    column: input.name.clone(),
                    expected: input.column_type,
                });
            };
            let found = table.schema()[index].column_type;
            let compatible = found == input.column_type
                || (input.column_type == ColumnType::Float && found == ColumnType::Integer);
            if !compatible {
                return Err(TransformError::ColumnTypeMismatch {
                    column: input.name.clone(),
                    expected: input.column_type,
                    found,
                });
            }
            sources.push(index);
        }
        let n_rows = table.n_rows();
        if let Some(&row) = rows.iter().find(|&&row| row >= n_rows) {
            return Err(TransformError::RowOutOfRange { row, n_rows });
        }
        let n_features = self.n_features();
        let mut out = vec![0.0f32; rows.len() * n_features];
        for (&row, slot) in rows.iter().zip(out.chunks_exact_mut(n_features.max(1))) {
            let cells: Vec<_> = sources
                .iter()
                .map(|&column| table.value(column, row))
                .collect();
            let values: Vec<InputValue<'_>> =
                cells.iter().map(InputValue::from_table_value).collect();
            self.encode(&values, &mut slot[..n_features])
                .map_err(|unseen| self.unknown_category_error(unseen, table.row_location(row)))?;
        }
        Ok(out)
    }

    fn unknown_category_error(&self, unseen: UnseenCategory, location: String) -> TransformError {
        TransformError::UnknownCategory {
            column: self.file.input_schema[unseen.input].name.clone(),
            location,
            value: unseen.value,
            known: self.known_categories(unseen.input),
        }
    }

    fn known_categories(&self, input: usize) -> String {
        match &self.file.columns[input] {
            FittedColumn::OneHot {
                categories,
                other_categories,
                ..
            } => {
                let mut all: Vec<&str> = categories
                    .iter()
                    .chain(other_categories)
                    .map(String::as_str)
                    .collect();
                all.sort_unstable();
                all.join(", ")
            }
            FittedColumn::Numeric { .. } => String::new(),
        }
    }

    /// Imputes the raw cells of one row (one per input column, already of the
    /// right kind): the values derived features are computed from.
    fn impute<'a>(&'a self, raw: &[InputValue<'a>]) -> Vec<InputValue<'a>> {
        self.file
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let value = raw.get(i).copied().unwrap_or(InputValue::Missing);
                match column {
                    FittedColumn::Numeric { params, .. } => InputValue::Number(match value {
                        InputValue::Number(x) if x.is_finite() => x,
                        _ => params.fill,
                    }),
                    FittedColumn::OneHot { fill, .. } => match value {
                        InputValue::Text(text) => InputValue::Text(text),
                        _ => InputValue::Text(fill),
                    },
                }
            })
            .collect()
    }

    /// The single row encoder behind both the table and the JSON path.
    /// `out.len()` must be `n_features()`.
    fn encode(&self, raw: &[InputValue<'_>], out: &mut [f32]) -> Result<(), UnseenCategory> {
        let imputed = self.impute(raw);
        let mut k = 0;
        for (column, value) in self.file.columns.iter().zip(&imputed) {
            if let (FittedColumn::Numeric { params, .. }, InputValue::Number(x)) = (column, value) {
                out[k] = to_output(params.finish(Some(*x)));
                k += 1;
            }
        }
        for (derived, compiled) in self.file.derived.iter().zip(&self.compiled) {
            out[k] = to_output(derived.params.finish(compiled.evaluate_row(&imputed)));
            k += 1;
        }
        for (input, (column, value)) in self.file.columns.iter().zip(&imputed).enumerate() {
            let FittedColumn::OneHot {
                categories,
                other_categories,
                unknown,
                ..
            } = column
            else {
                continue;
            };
            let text = match value {
                InputValue::Text(text) => *text,
                _ => "",
            };
            let width = categories.len() + usize::from(!other_categories.is_empty());
            let block = &mut out[k..k + width];
            block.fill(0.0);
            if let Ok(position) = categories.binary_search_by(|c| c.as_str().cmp(text)) {
                block[position] = 1.0;
            } else if other_categories
                .binary_search_by(|c| c.as_str().cmp(text))
                .is_ok()
            {
                block[categories.len()] = 1.0;
            } else if *unknown == Unknown::Error {
                return Err(UnseenCategory {
                    input,
                    value: text.to_string(),
                });
            }
            k += width;
        }
        Ok(())
    }
}
