//! Decoding Parquet bytes into the same typed [`Table`] that [`crate::csv`]
//! produces, so a dataset has one content digest whichever format it came in.
//!
//! Type mapping (the file's arrow types, as the parquet crate reads them):
//! - signed and unsigned integers of any width → **integer** (an unsigned
//!   64-bit value above `i64::MAX` is an error);
//! - 32- and 64-bit floats → **float** (a 32-bit float widens exactly);
//! - booleans → **boolean**;
//! - `Utf8`, `LargeUtf8`, `Utf8View`, and dictionaries of those →
//!   **categorical**;
//! - anything else (dates, timestamps, decimals, binary, lists, structs, …)
//!   is an error naming the column and its type.
//!
//! Missing values follow the CSV rules so the two formats agree: nulls are
//! missing, a float NaN is missing (CSV reads `NaN` as missing), and a string
//! whose trimmed text is a missing marker (`""`, `NA`, `null`, `NULL`,
//! `NaN`) is missing. Infinite floats are refused, as CSV never produces
//! them. Columns pandas adds for a non-default index (`__index_level_N__`)
//! are skipped: they are pandas bookkeeping, not data.
//!
//! This module does no IO and knows nothing about where the bytes came from.

use std::sync::Arc;

use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow_schema::DataType;
use versa_core::{ColumnSchema, ColumnType};

use crate::csv::MISSING_MARKERS;
use crate::error::TabularError;
use crate::table::{DecodedTable, Table, TypeReason};

/// Every Parquet file starts and ends with these four bytes.
pub const PARQUET_MAGIC: &[u8; 4] = b"PAR1";

/// Rows decoded per arrow batch; large batches mean fewer per-batch costs.
const BATCH_ROWS: usize = 64 * 1024;

/// Whether the bytes look like a Parquet file (magic bytes at both ends).
pub fn looks_like_parquet(bytes: &[u8]) -> bool {
    bytes.len() >= 2 * PARQUET_MAGIC.len()
        && bytes.starts_with(PARQUET_MAGIC)
        && bytes.ends_with(PARQUET_MAGIC)
}

/// Decodes Parquet bytes into a typed table (see the module docs for the rules).
pub fn read_parquet(bytes: &[u8]) -> Result<Table, TabularError> {
    decode_parquet(bytes).map(|decoded| decoded.table)
}

/// [`read_parquet`], also saying why each column got its type.
pub fn decode_parquet(bytes: &[u8]) -> Result<DecodedTable, TabularError> {
    let decode_error =
        |error: ::parquet::errors::ParquetError| TabularError::Parquet(error.to_string());
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .map_err(decode_error)?;
    let arrow_schema = builder.schema().clone();
    let reader = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(decode_error)?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TabularError::Parquet(error.to_string()))?;

    let kept: Vec<usize> = (0..arrow_schema.fields().len())
        .filter(|&index| !is_pandas_index(arrow_schema.field(index).name()))
        .collect();
    let n_rows: usize = batches.iter().map(|batch| batch.num_rows()).sum();
    if kept.is_empty() || n_rows == 0 {
        return Err(TabularError::EmptyParquet {
            n_columns: kept.len(),
        });
    }
    check_names(kept.iter().map(|&index| arrow_schema.field(index).name()))?;

    let mut schema = Vec::with_capacity(kept.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(kept.len());
    let mut type_reasons = Vec::with_capacity(kept.len());
    for &index in &kept {
        let field = arrow_schema.field(index);
        let name = field.name();
        let parts: Vec<&ArrayRef> = batches.iter().map(|batch| batch.column(index)).collect();
        let (column_type, array) = convert_column(name, field.data_type(), &parts, n_rows)?;
        schema.push(ColumnSchema {
            name: name.clone(),
            column_type,
            nullable: array.null_count() > 0,
        });
        columns.push(array);
        type_reasons.push(TypeReason::StoredType {
            stored: field.data_type().to_string(),
        });
    }
    Ok(DecodedTable {
        table: Table::from_columns(schema, columns)?,
        type_reasons,
    })
}

fn is_pandas_index(name: &str) -> bool {
    name.strip_prefix("__index_level_")
        .and_then(|rest| rest.strip_suffix("__"))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// The same rules as a CSV header: names non-blank and unique.
fn check_names<'a>(names: impl Iterator<Item = &'a String>) -> Result<(), TabularError> {
    let mut seen = std::collections::BTreeSet::new();
    let mut duplicates: Vec<String> = Vec::new();
    for (position, name) in names.enumerate() {
        if name.trim().is_empty() {
            return Err(TabularError::EmptyColumnName {
                position: position + 1,
            });
        }
        if !seen.insert(name.as_str()) && !duplicates.contains(name) {
            duplicates.push(name.clone());
        }
    }
    if duplicates.is_empty() {
        Ok(())
    } else {
        Err(TabularError::DuplicateColumns { names: duplicates })
    }
}

fn unsupported(column: &str, data_type: &DataType) -> TabularError {
    TabularError::UnsupportedParquetType {
        column: column.to_string(),
        stored: data_type.to_string(),
    }
}

/// Converts one column (all its batches) to the array of its versa type.
fn convert_column(
    name: &str,
    data_type: &DataType,
    parts: &[&ArrayRef],
    n_rows: usize,
) -> Result<(ColumnType, ArrayRef), TabularError> {
    macro_rules! integers {
        ($arrow:ty) => {{
            let mut values: Vec<Option<i64>> = Vec::with_capacity(n_rows);
            for part in parts {
                let array = part.as_primitive::<$arrow>();
                values.extend(array.iter().map(|v| v.map(i64::from)));
            }
            Ok((
                ColumnType::Integer,
                Arc::new(Int64Array::from(values)) as ArrayRef,
            ))
        }};
    }
    match data_type {
        DataType::Int8 => integers!(Int8Type),
        DataType::Int16 => integers!(Int16Type),
        DataType::Int32 => integers!(Int32Type),
        DataType::Int64 => integers!(Int64Type),
        DataType::UInt8 => integers!(UInt8Type),
        DataType::UInt16 => integers!(UInt16Type),
        DataType::UInt32 => integers!(UInt32Type),
        DataType::UInt64 => {
            let mut values: Vec<Option<i64>> = Vec::with_capacity(n_rows);
            for part in parts {
                for value in part.as_primitive::<UInt64Type>().iter() {
                    let converted = match value {
                        None => None,
                        Some(value) => Some(i64::try_from(value).map_err(|_| {
                            TabularError::UnsupportedParquetValue {
                                column: name.to_string(),
                                row: values.len() + 1,
                                value: value.to_string(),
                                reason: "is above the largest integer versa stores \
                                         (9223372036854775807); store the column as float or string",
                            }
                        })?),
                    };
                    values.push(converted);
                }
            }
            Ok((ColumnType::Integer, Arc::new(Int64Array::from(values))))
        }
        DataType::Float32 | DataType::Float64 => {
            let mut values: Vec<Option<f64>> = Vec::with_capacity(n_rows);
            for part in parts {
                let widened: Box<dyn Iterator<Item = Option<f64>>> = match data_type {
                    DataType::Float32 => Box::new(
                        part.as_primitive::<Float32Type>()
                            .iter()
                            .map(|v| v.map(f64::from)),
                    ),
                    _ => Box::new(part.as_primitive::<Float64Type>().iter()),
                };
                for value in widened {
                    let kept = match value {
                        Some(value) if value.is_nan() => None,
                        Some(value) if value.is_infinite() => {
                            return Err(TabularError::UnsupportedParquetValue {
                                column: name.to_string(),
                                row: values.len() + 1,
                                value: value.to_string(),
                                reason: "is infinite; versa accepts finite numbers, or a null for missing",
                            });
                        }
                        other => other,
                    };
                    values.push(kept);
                }
            }
            Ok((ColumnType::Float, Arc::new(Float64Array::from(values))))
        }
        DataType::Boolean => {
            let mut values: Vec<Option<bool>> = Vec::with_capacity(n_rows);
            for part in parts {
                values.extend(part.as_boolean().iter());
            }
            Ok((ColumnType::Boolean, Arc::new(BooleanArray::from(values))))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let mut values: Vec<Option<&str>> = Vec::with_capacity(n_rows);
            for part in parts {
                push_texts(part, &mut values);
            }
            Ok((ColumnType::Categorical, Arc::new(texts_array(values))))
        }
        DataType::Dictionary(_, value_type)
            if matches!(
                value_type.as_ref(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) =>
        {
            let mut values: Vec<Option<&str>> = Vec::with_capacity(n_rows);
            for part in parts {
                let dictionary = part
                    .as_any_dictionary_opt()
                    .ok_or_else(|| unsupported(name, data_type))?;
                let mut entries: Vec<Option<&str>> = Vec::new();
                push_texts(dictionary.values(), &mut entries);
                if entries.is_empty() {
                    // Only possible when every key is null.
                    values.extend(std::iter::repeat_n(None, part.len()));
                    continue;
                }
                let keys = dictionary.normalized_keys();
                let key_nulls = dictionary.keys().logical_nulls();
                for (row, key) in keys.into_iter().enumerate() {
                    let null = key_nulls.as_ref().is_some_and(|nulls| nulls.is_null(row));
                    values.push(if null { None } else { entries[key] });
                }
            }
            Ok((ColumnType::Categorical, Arc::new(texts_array(values))))
        }
        other => Err(unsupported(name, other)),
    }
}

/// Appends the cells of a string array of any offset width or layout.
fn push_texts<'a>(array: &'a ArrayRef, out: &mut Vec<Option<&'a str>>) {
    if let Some(strings) = array.as_string_opt::<i32>() {
        out.extend(strings.iter());
    } else if let Some(strings) = array.as_string_opt::<i64>() {
        out.extend(strings.iter());
    } else if let Some(strings) = array.as_string_view_opt() {
        out.extend(strings.iter());
    }
}

/// Applies the CSV missing-marker rule, keeping present text untrimmed.
fn texts_array(values: Vec<Option<&str>>) -> StringArray {
    values
        .into_iter()
        .map(|cell| cell.filter(|text| !MISSING_MARKERS.contains(&text.trim())))
        .collect()
}
