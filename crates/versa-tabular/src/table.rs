//! [`Table`]: a versa schema paired with an arrow record batch, the one
//! in-memory form of a dataset that every other part of versa consumes.
//!
//! A table's columns are always one of four arrow arrays, matching
//! [`ColumnType`]: `Int64Array` (integer), `Float64Array` (float),
//! `BooleanArray` (boolean) and `StringArray` (categorical); all may hold
//! nulls, which mean "missing". This module knows nothing about where the
//! table came from (CSV, later Parquet) beyond optional source line numbers
//! used to point users at the offending line in error messages.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use versa_core::{ColumnSchema, ColumnType};

use crate::error::TabularError;

/// A typed table: versa schema plus arrow columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    schema: Vec<ColumnSchema>,
    batch: RecordBatch,
    /// 1-based source line of each row, when the table was decoded from text.
    source_lines: Option<Arc<SourceLines>>,
}

/// The 1-based source line of each row, kept as the runs of rows on
/// consecutive lines: nearly every CSV record is one line, so a million rows
/// usually take one entry rather than a million.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SourceLines {
    n_rows: usize,
    /// `(row, line)` where a run starts: row 0, and every row whose line is
    /// not the previous row's plus one (after a blank line or a record of
    /// several lines). Only those, so equal lines give equal values.
    runs: Vec<(usize, usize)>,
}

impl SourceLines {
    /// Appends a row on `line`.
    #[inline]
    pub(crate) fn push(&mut self, line: usize) {
        self.push_run(self.n_rows, line, 1);
    }

    /// Appends `n_rows` rows on consecutive lines from `line` (the first
    /// row being `row`, which must be the next one).
    pub(crate) fn push_run(&mut self, row: usize, line: usize, n_rows: usize) {
        debug_assert_eq!(row, self.n_rows);
        if n_rows == 0 {
            return;
        }
        let continues = self
            .runs
            .last()
            .is_some_and(|&(start, first)| first + (row - start) == line);
        if !continues {
            self.runs.push((row, line));
        }
        self.n_rows += n_rows;
    }

    pub(crate) fn len(&self) -> usize {
        self.n_rows
    }

    pub(crate) fn get(&self, row: usize) -> Option<usize> {
        if row >= self.n_rows {
            return None;
        }
        let run = self.runs.partition_point(|&(start, _)| start <= row) - 1;
        let (start, line) = self.runs[run];
        Some(line + (row - start))
    }
}

/// One cell, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Missing,
    /// An integer cell.
    Integer(i64),
    /// A float cell.
    Float(f64),
    /// A boolean cell.
    Boolean(bool),
    /// A categorical cell.
    Text(String),
}

impl Value {
    /// A total order used wherever values must be sorted (class lists, ties
    /// in top-value lists): missing first, then numbers by value (integers and
    /// floats compare with each other), then booleans, then text.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        fn rank(value: &Value) -> u8 {
            match value {
                Value::Missing => 0,
                Value::Integer(_) | Value::Float(_) => 1,
                Value::Boolean(_) => 2,
                Value::Text(_) => 3,
            }
        }
        match (self, other) {
            (Value::Integer(a), Value::Integer(b)) => a.cmp(b),
            (Value::Integer(a), Value::Float(b)) => (*a as f64).total_cmp(b),
            (Value::Float(a), Value::Integer(b)) => a.total_cmp(&(*b as f64)),
            (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
            (Value::Boolean(a), Value::Boolean(b)) => a.cmp(b),
            (Value::Text(a), Value::Text(b)) => a.cmp(b),
            _ => rank(self).cmp(&rank(other)),
        }
    }

    /// Whether this is [`Value::Missing`].
    pub fn is_missing(&self) -> bool {
        matches!(self, Value::Missing)
    }
}

/// Shows the value as it would appear in a CSV cell: missing is the empty
/// string, floats use the shortest text that reads back to the same number.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Missing => Ok(()),
            Value::Integer(value) => write!(f, "{value}"),
            Value::Float(value) => write!(f, "{value}"),
            Value::Boolean(value) => write!(f, "{value}"),
            Value::Text(value) => f.write_str(value),
        }
    }
}

/// Why a decoded column has its type, for `versa data add` to explain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TypeReason {
    /// A type override (a schema file) declared it.
    Declared,
    /// Every present value is a whole number.
    WholeNumbers,
    /// Every present value is a number, and this one is not whole.
    DecimalNumbers {
        /// The first non-whole value.
        example: String,
        /// Where it is (`line N`).
        location: String,
    },
    /// Every present value is `true` or `false`.
    Booleans,
    /// Some value is neither a number nor a boolean (or the kinds are mixed).
    Text {
        /// The value that ruled out the last non-text type.
        example: String,
        /// Where it is (`line N`).
        location: String,
    },
    /// No value is present, so nothing narrower could be inferred.
    NoValues,
    /// The file stores the column with this type (Parquet).
    StoredType {
        /// The arrow type as read from the file.
        stored: String,
    },
}

impl fmt::Display for TypeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeReason::Declared => f.write_str("declared in the schema"),
            TypeReason::WholeNumbers => f.write_str("every value is a whole number"),
            TypeReason::DecimalNumbers { example, location } => {
                write!(
                    f,
                    "every value is a number; `{example}` ({location}) is not whole"
                )
            }
            TypeReason::Booleans => f.write_str("every value is true or false"),
            TypeReason::Text { example, location } => {
                write!(f, "`{example}` ({location}) is not a number or a boolean")
            }
            TypeReason::NoValues => f.write_str("no values at all"),
            TypeReason::StoredType { stored } => write!(f, "stored as {stored} in the file"),
        }
    }
}

/// A decoded table with the reason for each column's type, in column order.
#[derive(Debug, Clone)]
pub struct DecodedTable {
    /// The table.
    pub table: Table,
    /// Why each column has its type.
    pub type_reasons: Vec<TypeReason>,
}

/// The arrow type that stores a versa column type.
pub fn arrow_data_type(column_type: ColumnType) -> DataType {
    match column_type {
        ColumnType::Integer => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Categorical => DataType::Utf8,
    }
}

/// The arrow schema for a versa schema (every field nullable).
pub fn arrow_schema(schema: &[ColumnSchema]) -> Schema {
    Schema::new(
        schema
            .iter()
            .map(|column| Field::new(&column.name, arrow_data_type(column.column_type), true))
            .collect::<Vec<_>>(),
    )
}

impl Table {
    /// Pairs a versa schema with a record batch, checking that they agree:
    /// same number of columns, same names in the same order, each column the
    /// arrow type of its versa type, and no nulls in a column declared not
    /// nullable.
    pub fn from_batch(
        schema: Vec<ColumnSchema>,
        batch: RecordBatch,
    ) -> Result<Table, TabularError> {
        if schema.len() != batch.num_columns() {
            return Err(TabularError::SchemaMismatch(format!(
                "the schema has {} columns but the batch has {}",
                schema.len(),
                batch.num_columns()
            )));
        }
        for (index, column) in schema.iter().enumerate() {
            let field = batch.schema_ref().field(index).clone();
            if field.name() != &column.name {
                return Err(TabularError::SchemaMismatch(format!(
                    "column {} is `{}` in the schema but `{}` in the batch",
                    index + 1,
                    column.name,
                    field.name()
                )));
            }
            let expected = arrow_data_type(column.column_type);
            let array = batch.column(index);
            if array.data_type() != &expected {
                return Err(TabularError::SchemaMismatch(format!(
                    "column `{}` is {} but its array is {}, expected {}",
                    column.name,
                    column.column_type,
                    array.data_type(),
                    expected
                )));
            }
            if !column.nullable && array.null_count() > 0 {
                return Err(TabularError::SchemaMismatch(format!(
                    "column `{}` is declared not nullable but has {} missing values",
                    column.name,
                    array.null_count()
                )));
            }
        }
        Ok(Table {
            schema,
            batch,
            source_lines: None,
        })
    }

    /// Builds a table from a schema and one array per column.
    pub fn from_columns(
        schema: Vec<ColumnSchema>,
        columns: Vec<ArrayRef>,
    ) -> Result<Table, TabularError> {
        let arrow = Arc::new(arrow_schema(&schema));
        let batch = RecordBatch::try_new(arrow, columns)
            .map_err(|error| TabularError::SchemaMismatch(error.to_string()))?;
        Table::from_batch(schema, batch)
    }

    /// Attaches the 1-based source line of each row, for error messages.
    pub(crate) fn with_source_lines(mut self, lines: SourceLines) -> Table {
        debug_assert_eq!(lines.len(), self.n_rows());
        self.source_lines = Some(Arc::new(lines));
        self
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// Number of columns.
    pub fn n_columns(&self) -> usize {
        self.schema.len()
    }

    /// The versa schema, one entry per column.
    pub fn schema(&self) -> &[ColumnSchema] {
        &self.schema
    }

    /// Names of all columns, in order.
    pub fn column_names(&self) -> Vec<String> {
        self.schema
            .iter()
            .map(|column| column.name.clone())
            .collect()
    }

    /// Index of the column with this exact name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.schema.iter().position(|column| column.name == name)
    }

    /// Index of the column with this name, or an error listing the columns.
    pub fn require_column(&self, name: &str) -> Result<usize, TabularError> {
        self.column_index(name)
            .ok_or_else(|| TabularError::ColumnNotFound {
                name: name.to_string(),
                available: self.column_names(),
            })
    }

    /// The arrow array of a column. Panics if `index >= n_columns()`.
    pub fn column(&self, index: usize) -> &ArrayRef {
        self.batch.column(index)
    }

    /// One cell. Panics if the column or row is out of range.
    pub fn value(&self, column: usize, row: usize) -> Value {
        let array = self.batch.column(column);
        if array.is_null(row) {
            return Value::Missing;
        }
        match self.schema[column].column_type {
            ColumnType::Integer => Value::Integer(as_int64(array).value(row)),
            ColumnType::Float => Value::Float(as_float64(array).value(row)),
            ColumnType::Boolean => Value::Boolean(as_boolean(array).value(row)),
            ColumnType::Categorical => Value::Text(as_string(array).value(row).to_string()),
        }
    }

    /// A numeric view of an integer, float or boolean column (booleans as 0/1),
    /// `None` inside for missing cells; `None` for a categorical column.
    pub fn numeric_column(&self, index: usize) -> Option<Vec<Option<f64>>> {
        let array = self.batch.column(index);
        match self.schema[index].column_type {
            ColumnType::Integer => Some(
                as_int64(array)
                    .iter()
                    .map(|v| v.map(|v| v as f64))
                    .collect(),
            ),
            ColumnType::Float => Some(as_float64(array).iter().collect()),
            ColumnType::Boolean => Some(
                as_boolean(array)
                    .iter()
                    .map(|v| v.map(|v| if v { 1.0 } else { 0.0 }))
                    .collect(),
            ),
            ColumnType::Categorical => None,
        }
    }

    /// The text of a categorical column, `None` inside for missing cells;
    /// `None` for any other column type.
    pub fn text_column(&self, index: usize) -> Option<Vec<Option<&str>>> {
        match self.schema[index].column_type {
            ColumnType::Categorical => Some(as_string(self.batch.column(index)).iter().collect()),
            _ => None,
        }
    }

    /// The underlying record batch.
    pub fn batch(&self) -> &RecordBatch {
        &self.batch
    }

    /// Where a row came from, for messages: `line N` when the table was
    /// decoded from text, else `row N` (1-based).
    pub fn row_location(&self, row: usize) -> String {
        match self
            .source_lines
            .as_deref()
            .and_then(|lines| lines.get(row))
        {
            Some(line) => format!("line {line}"),
            None => format!("row {}", row + 1),
        }
    }

    /// The 1-based source line of a row, when the table was decoded from text.
    pub fn source_line(&self, row: usize) -> Option<usize> {
        self.source_lines
            .as_deref()
            .and_then(|lines| lines.get(row))
    }

    /// A new table holding the given rows, in the given order (repeats
    /// allowed). Used to materialise splits.
    pub fn take_rows(&self, rows: &[usize]) -> Result<Table, TabularError> {
        let n_rows = self.n_rows();
        if let Some(&row) = rows.iter().find(|&&row| row >= n_rows) {
            return Err(TabularError::RowOutOfRange { row, n_rows });
        }
        let columns: Vec<ArrayRef> = (0..self.n_columns())
            .map(|index| {
                let array = self.batch.column(index);
                let taken: ArrayRef = match self.schema[index].column_type {
                    ColumnType::Integer => {
                        let source = as_int64(array);
                        Arc::new(
                            rows.iter()
                                .map(|&r| cell(source, r))
                                .collect::<Int64Array>(),
                        )
                    }
                    ColumnType::Float => {
                        let source = as_float64(array);
                        Arc::new(
                            rows.iter()
                                .map(|&r| cell(source, r))
                                .collect::<Float64Array>(),
                        )
                    }
                    ColumnType::Boolean => {
                        let source = as_boolean(array);
                        Arc::new(
                            rows.iter()
                                .map(|&r| cell(source, r))
                                .collect::<BooleanArray>(),
                        )
                    }
                    ColumnType::Categorical => {
                        let source = as_string(array);
                        Arc::new(
                            rows.iter()
                                .map(|&r| (!source.is_null(r)).then(|| source.value(r)))
                                .collect::<StringArray>(),
                        )
                    }
                };
                taken
            })
            .collect();
        let mut table = Table::from_columns(self.schema.clone(), columns)?;
        if let Some(lines) = &self.source_lines {
            let mut taken = SourceLines::default();
            for &row in rows {
                taken.push(lines.get(row).unwrap_or_default());
            }
            table.source_lines = Some(Arc::new(taken));
        }
        Ok(table)
    }
}

fn cell<A>(array: &A, row: usize) -> Option<<A as ValueAt>::Item>
where
    A: ValueAt + Array,
{
    (!array.is_null(row)).then(|| array.value_at(row))
}

/// Uniform access to a primitive cell, so `take_rows` needs one helper.
trait ValueAt {
    type Item;
    fn value_at(&self, row: usize) -> Self::Item;
}

impl ValueAt for Int64Array {
    type Item = i64;
    fn value_at(&self, row: usize) -> i64 {
        self.value(row)
    }
}

impl ValueAt for Float64Array {
    type Item = f64;
    fn value_at(&self, row: usize) -> f64 {
        self.value(row)
    }
}

impl ValueAt for BooleanArray {
    type Item = bool;
    fn value_at(&self, row: usize) -> bool {
        self.value(row)
    }
}

// `from_batch` checked every array's type against the schema, so these
// downcasts cannot fail for a column of the matching versa type.
fn as_int64(array: &ArrayRef) -> &Int64Array {
    array
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("integer column is an Int64Array (checked in from_batch)")
}

fn as_float64(array: &ArrayRef) -> &Float64Array {
    array
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("float column is a Float64Array (checked in from_batch)")
}

fn as_boolean(array: &ArrayRef) -> &BooleanArray {
    array
        .as_any()
        .downcast_ref::<BooleanArray>()
        .expect("boolean column is a BooleanArray (checked in from_batch)")
}

fn as_string(array: &ArrayRef) -> &StringArray {
    array
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("categorical column is a StringArray (checked in from_batch)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_lines_keep_every_row_line_in_runs() {
        let mut rng = versa_core::Rng::new(3);
        for _ in 0..200 {
            // Lines that mostly step by one, with blank lines, multi-line
            // records and (after take_rows) any order.
            let mut expected = Vec::new();
            let mut line = 1 + rng.below(3);
            for _ in 0..rng.below(60) {
                expected.push(line);
                line += match rng.below(6) {
                    0 => 2 + rng.below(3),
                    _ => 1,
                };
            }
            let mut lines = SourceLines::default();
            for &line in &expected {
                lines.push(line);
            }
            assert_eq!(lines.len(), expected.len());
            let got: Vec<usize> = (0..expected.len())
                .filter_map(|row| lines.get(row))
                .collect();
            assert_eq!(got, expected);
            assert_eq!(lines.get(expected.len()), None);
            // Pushed as runs, the same rows give an equal value.
            let mut by_runs = SourceLines::default();
            let mut row = 0;
            while row < expected.len() {
                let mut n_rows = 1;
                while row + n_rows < expected.len()
                    && expected[row + n_rows] == expected[row] + n_rows
                    && rng.below(4) != 0
                {
                    n_rows += 1;
                }
                by_runs.push_run(row, expected[row], n_rows);
                row += n_rows;
            }
            assert_eq!(by_runs, lines);
        }
        let mut consecutive = SourceLines::default();
        consecutive.push_run(0, 2, 1_000_000);
        assert_eq!(consecutive.runs.len(), 1);
        assert_eq!(consecutive.get(999_999), Some(1_000_001));
    }

    fn column(name: &str, column_type: ColumnType) -> ColumnSchema {
        ColumnSchema {
            name: name.to_string(),
            column_type,
            nullable: true,
        }
    }

    fn small_table() -> Table {
        Table::from_columns(
            vec![
                column("n", ColumnType::Integer),
                column("x", ColumnType::Float),
                column("b", ColumnType::Boolean),
                column("c", ColumnType::Categorical),
            ],
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])),
                Arc::new(Float64Array::from(vec![Some(0.5), Some(1.5), None])),
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
                Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn cell_and_column_access() {
        let table = small_table();
        assert_eq!(table.n_rows(), 3);
        assert_eq!(table.n_columns(), 4);
        assert_eq!(table.column_index("x"), Some(1));
        assert_eq!(table.column_index("nope"), None);
        assert_eq!(table.value(0, 0), Value::Integer(1));
        assert_eq!(table.value(0, 1), Value::Missing);
        assert_eq!(table.value(1, 1), Value::Float(1.5));
        assert_eq!(table.value(2, 0), Value::Boolean(true));
        assert_eq!(table.value(3, 2), Value::Text("c".into()));
        assert_eq!(
            table.numeric_column(0),
            Some(vec![Some(1.0), None, Some(3.0)])
        );
        assert_eq!(
            table.numeric_column(2),
            Some(vec![Some(1.0), Some(0.0), None])
        );
        assert_eq!(table.numeric_column(3), None);
        assert_eq!(table.text_column(3), Some(vec![Some("a"), None, Some("c")]));
        assert_eq!(table.text_column(0), None);
        assert_eq!(table.row_location(1), "row 2");
    }

    #[test]
    fn from_batch_rejects_mismatched_types_and_names() {
        let table = small_table();
        let mut wrong_type = table.schema().to_vec();
        wrong_type[0].column_type = ColumnType::Float;
        let err = Table::from_batch(wrong_type, table.batch().clone()).unwrap_err();
        assert!(
            err.to_string()
                .contains("column `n` is float but its array is Int64"),
            "{err}"
        );

        let mut wrong_name = table.schema().to_vec();
        wrong_name[1].name = "y".into();
        let err = Table::from_batch(wrong_name, table.batch().clone()).unwrap_err();
        assert!(
            err.to_string()
                .contains("column 2 is `y` in the schema but `x` in the batch"),
            "{err}"
        );

        let mut not_nullable = table.schema().to_vec();
        not_nullable[3].nullable = false;
        let err = Table::from_batch(not_nullable, table.batch().clone()).unwrap_err();
        assert!(
            err.to_string()
                .contains("declared not nullable but has 1 missing"),
            "{err}"
        );

        let err =
            Table::from_batch(table.schema()[..2].to_vec(), table.batch().clone()).unwrap_err();
        assert!(
            err.to_string()
                .contains("the schema has 2 columns but the batch has 4"),
            "{err}"
        );
    }

    #[test]
    fn take_rows_reorders_and_checks_bounds() {
        let table = small_table();
        let taken = table.take_rows(&[2, 0, 2]).unwrap();
        assert_eq!(taken.n_rows(), 3);
        assert_eq!(taken.value(0, 0), Value::Integer(3));
        assert_eq!(taken.value(0, 1), Value::Integer(1));
        assert_eq!(taken.value(3, 0), Value::Text("c".into()));
        assert_eq!(taken.value(1, 0), Value::Missing);
        let err = table.take_rows(&[0, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "row 3 is out of range for a table of 3 rows"
        );
    }

    #[test]
    fn values_order_numbers_numerically() {
        let mut values = vec![
            Value::Text("b".into()),
            Value::Integer(10),
            Value::Float(2.5),
            Value::Missing,
            Value::Integer(2),
        ];
        values.sort_by(Value::total_cmp);
        assert_eq!(
            values,
            vec![
                Value::Missing,
                Value::Integer(2),
                Value::Float(2.5),
                Value::Integer(10),
                Value::Text("b".into())
            ]
        );
    }
}
