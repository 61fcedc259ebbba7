//! The error type of the data half of this crate: decoding CSV, building
//! tables, statistics, label encoding and splits.
//!
//! Messages are lowercase and say what was wrong, where (line, column, value)
//! and what would have been accepted, because they reach users verbatim from
//! the command line. This module must not know about expressions or fitted
//! transforms; those keep their own error enums.

use versa_core::ColumnType;

/// Everything that can go wrong while turning bytes into a [`crate::Table`] or
/// while deriving labels, statistics and splits from one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TabularError {
    /// The input holds no bytes (or only a byte-order mark or blank lines).
    #[error("the csv input is empty: expected a header line and at least one data row")]
    EmptyInput,

    /// The input has a header line but no data rows.
    #[error("the csv has a header ({n_columns} columns) but no data rows")]
    NoDataRows {
        /// Columns in the header.
        n_columns: usize,
    },

    /// A record has a different number of fields than the first record.
    #[error(
        "line {line} has {found} fields but {expected} were expected (from the first line); \
         quote fields that contain the delimiter"
    )]
    RaggedRow {
        /// 1-based line where the record starts.
        line: usize,
        /// Fields in the first record.
        expected: usize,
        /// Fields in this record.
        found: usize,
    },

    /// The input is not valid UTF-8.
    #[error(
        "line {line} is not valid utf-8 (at byte offset {byte_offset}); save the file as utf-8"
    )]
    InvalidUtf8 {
        /// 1-based line of the first invalid byte.
        line: usize,
        /// 0-based offset of the first invalid byte in the input as given.
        byte_offset: usize,
    },

    /// A quoted field runs to the end of the input.
    #[error("line {line} opens a quoted field that is never closed; close it with `\"`")]
    UnclosedQuote {
        /// 1-based line where the quote opens.
        line: usize,
    },

    /// Two or more header fields have the same name.
    #[error("duplicate column names in the header: {}; column names must be unique", quoted_list(.names))]
    DuplicateColumns {
        /// Each duplicated name, once, in header order.
        names: Vec<String>,
    },

    /// A header field is empty (or only whitespace).
    #[error("column {position} has an empty name in the header; every column needs a name")]
    EmptyColumnName {
        /// 1-based position of the column.
        position: usize,
    },

    /// A type override names a column that is not in the table.
    #[error("a type override names column `{name}`, which is not in the csv; columns are: {}", quoted_list(.available))]
    UnknownOverrideColumn {
        /// The override's column name.
        name: String,
        /// Columns that do exist.
        available: Vec<String>,
    },

    /// A value does not parse as the type its column was declared to have.
    #[error(
        "line {line}, column `{column}`: value `{value}` is not a valid {expected} \
         ({})", accepted_values(*.expected)
    )]
    InvalidValue {
        /// 1-based line of the record.
        line: usize,
        /// Column name.
        column: String,
        /// The raw field text.
        value: String,
        /// The declared type.
        expected: ColumnType,
    },

    /// The arrow CSV decoder rejected the input in a way the pre-scan did not
    /// foresee.
    #[error("could not decode the csv: {0}")]
    Decode(String),

    /// The bytes are not a Parquet file versa can decode.
    #[error("could not decode the parquet file: {0}")]
    Parquet(String),

    /// A Parquet column has an arrow type with no versa equivalent.
    #[error(
        "parquet column `{column}` has type {stored}, which versa cannot read; accepted are \
         integers, floats, booleans and strings (plain or dictionary-encoded): convert the column \
         to one of those before ingesting"
    )]
    UnsupportedParquetType {
        /// Column name.
        column: String,
        /// The arrow type read from the file.
        stored: String,
    },

    /// A Parquet value has no versa equivalent (an unsigned integer above
    /// `i64::MAX`, or an infinite float).
    #[error("parquet column `{column}`, row {row}: value {value} {reason}")]
    UnsupportedParquetValue {
        /// Column name.
        column: String,
        /// 1-based row.
        row: usize,
        /// The value, as text.
        value: String,
        /// Why it is refused and what would be accepted.
        reason: &'static str,
    },

    /// A Parquet file with columns but no rows, or no columns at all.
    #[error("the parquet file has {n_columns} columns and no rows; expected at least one row")]
    EmptyParquet {
        /// Columns in the file's schema.
        n_columns: usize,
    },

    /// An arrow record batch does not match the versa schema given with it.
    #[error("the record batch does not match its schema: {0}")]
    SchemaMismatch(String),

    /// A row index is outside the table.
    #[error("row {row} is out of range for a table of {n_rows} rows")]
    RowOutOfRange {
        /// The offending 0-based row index.
        row: usize,
        /// Rows in the table.
        n_rows: usize,
    },

    /// A named column does not exist.
    #[error("column `{name}` is not in the table; columns are: {}", quoted_list(.available))]
    ColumnNotFound {
        /// The name asked for.
        name: String,
        /// Columns that do exist.
        available: Vec<String>,
    },

    /// The label column has missing values.
    #[error(
        "label `{label}` has {count} missing values (first at {first}); drop or fill those rows"
    )]
    MissingLabels {
        /// Label column.
        label: String,
        /// How many rows lack a label.
        count: usize,
        /// Where the first one is, as `line N` when known, else `row N`.
        first: String,
    },

    /// The label column has fewer than two distinct values.
    #[error("label `{label}` has a single class `{class}`; a classifier needs at least two")]
    SingleClass {
        /// Label column.
        label: String,
        /// Its one class.
        class: String,
    },

    /// The split fractions cannot be used.
    #[error(
        "invalid split fractions validation={validation} test={test}: {reason}; \
         each must be at least 0 and together below 1"
    )]
    InvalidFractions {
        /// Requested validation fraction.
        validation: f64,
        /// Requested test fraction.
        test: f64,
        /// What is wrong with them.
        reason: &'static str,
    },

    /// A split part would receive no rows.
    #[error(
        "the {part} split would be empty: {fraction} of {n_rows} rows rounds to 0; \
         use more rows or a larger fraction"
    )]
    EmptySplit {
        /// `train`, `validation` or `test`.
        part: &'static str,
        /// The fraction that produced it.
        fraction: f64,
        /// Rows being split.
        n_rows: usize,
    },

    /// A class index given to the splitter is not below the class count.
    #[error("row {row} has class {class}, but there are only {n_classes} classes")]
    ClassOutOfRange {
        /// 0-based row.
        row: usize,
        /// Its class index.
        class: usize,
        /// Declared number of classes.
        n_classes: usize,
    },
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn accepted_values(column_type: ColumnType) -> &'static str {
    match column_type {
        ColumnType::Integer => "expected a whole number such as 42 or -7, or an empty field",
        ColumnType::Float => "expected a number such as 3.5 or 1e-3, or an empty field",
        ColumnType::Boolean => "expected true or false, or an empty field",
        ColumnType::Categorical => "any text is accepted",
    }
}
