//! The serving path: reading one raw row given as a JSON object, validating
//! every field against the transform's input schema, and encoding it with the
//! same row encoder the table path uses.
//!
//! How fields are read (documented for API users in `transform_row`):
//! - a field that is absent, JSON `null` or a string that the CSV reader
//!   reads as missing (`""`, `NA`, `null`, `NULL`, `NaN`, after trimming
//!   spaces) is missing, and is imputed like a missing cell in a table;
//! - integer columns take JSON integers, floats with no fractional part
//!   (`3.0`) and strings holding such a number (`"42"`, since rows exported
//!   from CSV are often all strings; spaces around it are trimmed as the CSV
//!   reader does);
//! - float columns take any JSON number or a string parsing as one;
//! - boolean columns take `true`/`false`, the numbers 0/1 and the strings
//!   `"true"`/`"false"` (any case) and `"0"`/`"1"`;
//! - categorical columns take strings only, untrimmed;
//! - infinities (which JSON can only spell as strings, `"inf"`) are rejected;
//! - a field that is not an input column is an error, so a typo in a field
//!   name is never silently imputed.
//!
//! This module knows nothing about HTTP; the server turns [`RowError`] into a
//! response.

use serde_json::{Map, Value as Json};
use versa_core::ColumnType;

use super::FittedTransform;
use crate::csv::MISSING_MARKERS;
use crate::expr::InputValue;

/// A raw JSON row that cannot be transformed; each names the field at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    /// A field that is not an input of the transform.
    #[error("unknown field `{field}`; expected one of: {expected}")]
    UnknownField {
        /// The field.
        field: String,
        /// The input fields, comma-separated.
        expected: String,
    },
    /// The label or a dropped column, sent as an input.
    #[error("field `{field}` {reason}; leave it out of the request")]
    NotAnInput {
        /// The field.
        field: String,
        /// Why it is not an input.
        reason: &'static str,
    },
    /// A value of the wrong JSON type (or a string that is not a number).
    #[error("field `{field}`: expected {expected}, got {got}")]
    WrongType {
        /// The field.
        field: String,
        /// What would be accepted.
        expected: &'static str,
        /// What was sent.
        got: String,
    },
    /// `NaN` or an infinity.
    #[error("field `{field}`: expected a finite number, got {got}")]
    NonFinite {
        /// The field.
        field: String,
        /// What was sent.
        got: String,
    },
    /// A category unseen in training, under `unknown = "error"`.
    #[error("field `{field}`: unknown category {value:?}; known categories: {known}")]
    UnknownCategory {
        /// The field.
        field: String,
        /// The value.
        value: String,
        /// Categories seen in training, comma-separated.
        known: String,
    },
    /// The output buffer has the wrong length (a caller bug, reported, never a panic).
    #[error("the output buffer has {found} slots, but the transform produces {expected} features")]
    OutputLength {
        /// `n_features()`.
        expected: usize,
        /// The buffer's length.
        found: usize,
    },
}

impl RowError {
    /// The field at fault, when the error is about one field.
    pub fn field(&self) -> Option<&str> {
        match self {
            RowError::UnknownField { field, .. }
            | RowError::NotAnInput { field, .. }
            | RowError::WrongType { field, .. }
            | RowError::NonFinite { field, .. }
            | RowError::UnknownCategory { field, .. } => Some(field),
            RowError::OutputLength { .. } => None,
        }
    }
}

const EXPECTED_INTEGER: &str = "a number (integer)";
const EXPECTED_FLOAT: &str = "a number";
const EXPECTED_BOOLEAN: &str = "a boolean (true/false, 0/1)";
const EXPECTED_TEXT: &str = "a string (categorical)";

/// A JSON value as shown in messages: its type and, for scalars, the value.
fn describe(value: &Json) -> String {
    match value {
        Json::Null => "null".to_string(),
        Json::Bool(b) => format!("boolean {b}"),
        Json::Number(n) => format!("number {n}"),
        Json::String(s) => format!("string {}", Json::String(s.clone())),
        Json::Array(_) => "an array".to_string(),
        Json::Object(_) => "an object".to_string(),
    }
}

/// Reads one field as the evaluator's cell for a column of `column_type`.
fn read_field<'a>(
    field: &str,
    column_type: ColumnType,
    value: &'a Json,
) -> Result<InputValue<'a>, RowError> {
    let wrong = |expected: &'static str| RowError::WrongType {
        field: field.to_string(),
        expected,
        got: describe(value),
    };
    let non_finite = || RowError::NonFinite {
        field: field.to_string(),
        got: describe(value),
    };
    let text = value.as_str().map(str::trim);
    if value.is_null() || text.is_some_and(|t| MISSING_MARKERS.contains(&t)) {
        return Ok(InputValue::Missing);
    }
    match column_type {
        ColumnType::Categorical => match value {
            Json::String(text) => Ok(InputValue::Text(text)),
            _ => Err(wrong(EXPECTED_TEXT)),
        },
        ColumnType::Boolean => match value {
            Json::Bool(b) => Ok(InputValue::Number(if *b { 1.0 } else { 0.0 })),
            Json::Number(n) => match n.as_f64() {
                Some(x) if x == 0.0 || x == 1.0 => Ok(InputValue::Number(x)),
                _ => Err(wrong(EXPECTED_BOOLEAN)),
            },
            Json::String(_) => match text.unwrap_or_default().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(InputValue::Number(1.0)),
                "false" | "0" => Ok(InputValue::Number(0.0)),
                _ => Err(wrong(EXPECTED_BOOLEAN)),
            },
            _ => Err(wrong(EXPECTED_BOOLEAN)),
        },
        ColumnType::Integer => {
            // Integers go through i64 first so that they convert to f64
            // exactly as a table's Int64 cell does.
            let number = match value {
                Json::Number(n) => match n.as_i64() {
                    Some(i) => return Ok(InputValue::Number(i as f64)),
                    None => n.as_f64(),
                },
                Json::String(_) => {
                    let text = text.unwrap_or_default();
                    match text.parse::<i64>() {
                        Ok(i) => return Ok(InputValue::Number(i as f64)),
                        Err(_) => text.parse::<f64>().ok(),
                    }
                }
                _ => None,
            };
            match number {
                Some(x) if !x.is_finite() => Err(non_finite()),
                Some(x) if x.fract() == 0.0 => Ok(InputValue::Number(x)),
                _ => Err(wrong(EXPECTED_INTEGER)),
            }
        }
        ColumnType::Float => {
            let number = match value {
                Json::Number(n) => n.as_f64(),
                Json::String(_) => text.unwrap_or_default().parse::<f64>().ok(),
                _ => None,
            };
            match number {
                Some(x) if !x.is_finite() => Err(non_finite()),
                Some(x) => Ok(InputValue::Number(x)),
                None => Err(wrong(EXPECTED_FLOAT)),
            }
        }
    }
}

impl FittedTransform {
    /// Transforms one raw row given as a JSON object into `out`, which must
    /// hold exactly [`n_features`](Self::n_features) values.
    ///
    /// Absent fields, `null` and the CSV missing markers (`""`, `NA`, …) are
    /// missing and get imputed;
    /// numeric fields also accept numeric strings (`"42"`), because rows
    /// exported from CSV are strings; fields that are not inputs are errors.
    /// The output is bit-identical to [`transform_table`](Self::transform_table)
    /// on a table holding the same values.
    pub fn transform_row(&self, row: &Map<String, Json>, out: &mut [f32]) -> Result<(), RowError> {
        if out.len() != self.n_features() {
            return Err(RowError::OutputLength {
                expected: self.n_features(),
                found: out.len(),
            });
        }
        let inputs = &self.file.input_schema;
        for field in row.keys() {
            if inputs.iter().any(|c| &c.name == field) {
                continue;
            }
            if *field == self.file.label {
                return Err(RowError::NotAnInput {
                    field: field.clone(),
                    reason: "is the label the model predicts",
                });
            }
            if self.file.dropped.contains(field) {
                return Err(RowError::NotAnInput {
                    field: field.clone(),
                    reason: "was dropped from the features by the transform spec",
                });
            }
            return Err(RowError::UnknownField {
                field: field.clone(),
                expected: inputs
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let mut values = Vec::with_capacity(inputs.len());
        for input in inputs {
            values.push(match row.get(&input.name) {
                None => InputValue::Missing,
                Some(value) => read_field(&input.name, input.column_type, value)?,
            });
        }
        self.encode(&values, out)
            .map_err(|unseen| RowError::UnknownCategory {
                field: inputs[unseen.input].name.clone(),
                known: self.known_categories(unseen.input),
                value: unseen.value,
            })
    }

    /// [`transform_row`](Self::transform_row) into a new vector.
    pub fn transform_json_row(&self, row: &Map<String, Json>) -> Result<Vec<f32>, RowError> {
        let mut out = vec![0.0; self.n_features()];
        self.transform_row(row, &mut out)?;
        Ok(out)
    }
}
