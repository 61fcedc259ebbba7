//! Decoding CSV bytes into a typed [`Table`].
//!
//! The work is split in two passes over the same text:
//! 1. a structural pre-scan (this module's own small RFC 4180 scanner, which
//!    follows the same rules as the `csv-core` state machine inside arrow-csv)
//!    that detects the delimiter and header, checks that every record has the
//!    same number of fields and remembers the 1-based line each record starts
//!    on, so errors can point at a line;
//! 2. arrow-csv decodes the records into string columns, which this module
//!    then types with versa's inference rules below.
//!
//! Decoding rules:
//! - a UTF-8 byte-order mark is skipped; lines end in `\n`, `\r\n` or `\r`;
//!   blank lines are skipped; fields may be quoted with `"` (a doubled `""`
//!   inside a quoted field is one quote), and quoted fields may contain the
//!   delimiter and line breaks;
//! - a field is **missing** when, after trimming spaces, it is empty or one of
//!   `NA`, `null`, `NULL`, `NaN` — in every column, categorical ones included
//!   (so the category text `NA` cannot be represented);
//! - a column is **integer** when every present value is a whole number that
//!   fits in 64 bits (`42`, `-7`, `+3`; columns of only 0 and 1 stay integer),
//!   else **float** when every present value is a decimal number (`3.5`,
//!   `.5`, `1e-3`; no `inf`), else **boolean** when every present value is
//!   `true` or `false` in any letter case, else **categorical** (the raw
//!   text, untrimmed). A column with no present value at all is categorical;
//! - the delimiter, unless given, is whichever of `,` `;` tab `|` splits the
//!   first 20 records into the same number (more than one) of fields, the
//!   most fields winning and earlier candidates winning ties; `,` otherwise;
//! - the header, unless declared, is present when no field of the first
//!   record is a number or a boolean and at least one is non-missing text;
//!   without a header columns are named `column_1`, `column_2`, …
//!
//! This module does no IO: callers hand it the bytes. `crate::parquet`
//! sits beside it and returns the same [`Table`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use versa_core::{ColumnSchema, ColumnType};

use crate::error::TabularError;
use crate::table::{DecodedTable, Table, TypeReason};

/// How to read a CSV; the default detects everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CsvOptions {
    /// Field delimiter; `None` detects among `,` `;` tab `|`.
    pub delimiter: Option<u8>,
    /// Whether the first record is a header; `None` detects it.
    pub has_header: Option<bool>,
    /// Column types that replace inference, by column name.
    pub type_overrides: BTreeMap<String, ColumnType>,
}

/// Field texts that mean "no value" (compared after trimming spaces).
pub const MISSING_MARKERS: [&str; 5] = ["", "NA", "null", "NULL", "NaN"];

const DELIMITER_CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Records looked at when detecting the delimiter and the header.
const DETECTION_RECORDS: usize = 20;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Decodes CSV bytes into a typed table (see the module docs for the rules).
pub fn read_csv(bytes: &[u8], options: &CsvOptions) -> Result<Table, TabularError> {
    decode_csv(bytes, options).map(|decoded| decoded.table)
}

/// [`read_csv`], also saying why each column got its type.
pub fn decode_csv(bytes: &[u8], options: &CsvOptions) -> Result<DecodedTable, TabularError> {
    let (bytes, bom_len) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (rest, UTF8_BOM.len()),
        None => (bytes, 0),
    };
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let offset = error.valid_up_to();
        TabularError::InvalidUtf8 {
            line: 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count(),
            byte_offset: bom_len + offset,
        }
    })?;

    let delimiter = match options.delimiter {
        Some(delimiter) => delimiter,
        None => detect_delimiter(text),
    };
    let scan = scan_records(text, delimiter, usize::MAX, DETECTION_RECORDS + 1)?;
    let Some(first) = scan.records.first() else {
        return Err(TabularError::EmptyInput);
    };
    let n_columns = first.n_fields;
    if let Some(ragged) = scan.records.iter().find(|r| r.n_fields != n_columns) {
        return Err(TabularError::RaggedRow {
            line: ragged.line,
            expected: n_columns,
            found: ragged.n_fields,
        });
    }

    let has_header = options
        .has_header
        .unwrap_or_else(|| looks_like_header(&scan.decoded[0]));
    let names = if has_header {
        checked_header(&scan.decoded[0])?
    } else {
        (1..=n_columns).map(|i| format!("column_{i}")).collect()
    };
    let data_lines: Vec<usize> = scan
        .records
        .iter()
        .skip(usize::from(has_header))
        .map(|record| record.line)
        .collect();
    if data_lines.is_empty() {
        return Err(TabularError::NoDataRows { n_columns });
    }
    if let Some(unknown) = options
        .type_overrides
        .keys()
        .find(|name| !names.contains(name))
    {
        return Err(TabularError::UnknownOverrideColumn {
            name: unknown.clone(),
            available: names,
        });
    }

    let batches = decode_strings(text, delimiter, has_header, &names, data_lines.len())?;

    let mut schema = Vec::with_capacity(n_columns);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(n_columns);
    let mut type_reasons = Vec::with_capacity(n_columns);
    for (index, name) in names.iter().enumerate() {
        let cells = || {
            batches.iter().flat_map(move |batch| {
                batch
                    .column(index)
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .into_iter()
                    .flat_map(|array| array.iter())
            })
        };
        let (column_type, reason) = match options.type_overrides.get(name) {
            Some(declared) => (*declared, TypeReason::Declared),
            None => infer_type(cells(), &data_lines),
        };
        type_reasons.push(reason);
        let array = typed_column(cells(), column_type, name, &data_lines)?;
        schema.push(ColumnSchema {
            name: name.clone(),
            column_type,
            nullable: array.null_count() > 0,
        });
        columns.push(array);
    }
    Ok(DecodedTable {
        table: Table::from_columns(schema, columns)?.with_source_lines(data_lines),
        type_reasons,
    })
}

/// Runs arrow-csv over the text with an all-string schema. Typing is done
/// afterwards so that inference and decoding share one set of parse rules.
fn decode_strings(
    text: &str,
    delimiter: u8,
    has_header: bool,
    names: &[String],
    n_data_rows: usize,
) -> Result<Vec<RecordBatch>, TabularError> {
    let schema = Schema::new(
        names
            .iter()
            .map(|name| Field::new(name, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    );
    let reader = arrow_csv::ReaderBuilder::new(Arc::new(schema))
        .with_header(has_header)
        .with_delimiter(delimiter)
        .with_batch_size(n_data_rows.max(1))
        .build_buffered(text.as_bytes())
        .map_err(|error| TabularError::Decode(error.to_string()))?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TabularError::Decode(error.to_string()))?;
    let decoded: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if decoded != n_data_rows {
        return Err(TabularError::Decode(format!(
            "found {n_data_rows} data rows while scanning but arrow-csv decoded {decoded}"
        )));
    }
    Ok(batches)
}

/// One value's trimmed text, or `None` when it is a missing marker.
fn present(cell: Option<&str>) -> Option<&str> {
    let trimmed = cell?.trim();
    (!MISSING_MARKERS.contains(&trimmed)).then_some(trimmed)
}

fn parse_integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Decimal numbers only: Rust's own parser also takes `inf` and `nan`, which
/// we do not want to turn a text column numeric.
fn parse_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    if let Some(exponent) = exponent {
        let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if digits.is_empty() || !all_digits(digits) {
            return None;
        }
    }
    text.parse::<f64>().ok().filter(|value| value.is_finite())
}

fn parse_boolean(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn infer_type<'a>(
    cells: impl Iterator<Item = Option<&'a str>>,
    lines: &[usize],
) -> (ColumnType, TypeReason) {
    let (mut any, mut integer, mut float, mut boolean) = (false, true, true, true);
    let mut first_decimal: Option<(usize, &str)> = None;
    for (row, cell) in cells.enumerate() {
        let Some(text) = present(cell) else {
            continue;
        };
        any = true;
        let was_integer = integer;
        integer = integer && parse_integer(text).is_some();
        float = float && (integer || parse_float(text).is_some());
        boolean = boolean && parse_boolean(text).is_some();
        if was_integer && !integer && float {
            first_decimal = Some((row, text));
        }
        if !integer && !float && !boolean {
            return (
                ColumnType::Categorical,
                TypeReason::Text {
                    example: text.to_string(),
                    location: format!("line {}", lines[row]),
                },
            );
        }
    }
    match (any, integer, float, boolean) {
        (false, ..) => (ColumnType::Categorical, TypeReason::NoValues),
        (true, true, ..) => (ColumnType::Integer, TypeReason::WholeNumbers),
        (true, false, true, _) => {
            let (row, text) = first_decimal.unwrap_or((0, ""));
            (
                ColumnType::Float,
                TypeReason::DecimalNumbers {
                    example: text.to_string(),
                    location: format!("line {}", lines[row]),
                },
            )
        }
        (true, false, false, true) => (ColumnType::Boolean, TypeReason::Booleans),
        // Unreachable: the loop returns as soon as all three are false.
        _ => (ColumnType::Categorical, TypeReason::NoValues),
    }
}

fn typed_column<'a>(
    cells: impl Iterator<Item = Option<&'a str>>,
    column_type: ColumnType,
    column: &str,
    lines: &[usize],
) -> Result<ArrayRef, TabularError> {
    fn parse_all<'a, T>(
        cells: impl Iterator<Item = Option<&'a str>>,
        parse: fn(&str) -> Option<T>,
        column_type: ColumnType,
        column: &str,
        lines: &[usize],
    ) -> Result<Vec<Option<T>>, TabularError> {
        cells
            .enumerate()
            .map(|(row, cell)| match present(cell) {
                None => Ok(None),
                Some(text) => parse(text)
                    .map(Some)
                    .ok_or_else(|| TabularError::InvalidValue {
                        line: lines[row],
                        column: column.to_string(),
                        value: cell.unwrap_or_default().to_string(),
                        expected: column_type,
                    }),
            })
            .collect()
    }
    Ok(match column_type {
        ColumnType::Integer => Arc::new(Int64Array::from(parse_all(
            cells,
            parse_integer,
            column_type,
            column,
            lines,
        )?)),
        ColumnType::Float => Arc::new(Float64Array::from(parse_all(
            cells,
            parse_float,
            column_type,
            column,
            lines,
        )?)),
        ColumnType::Boolean => Arc::new(BooleanArray::from(parse_all(
            cells,
            parse_boolean,
            column_type,
            column,
            lines,
        )?)),
        ColumnType::Categorical => Arc::new(
            cells
                .map(|cell| present(cell).and(cell))
                .collect::<StringArray>(),
        ),
    })
}

/// A first record is a header when none of its fields reads as a number or
/// a boolean and at least one holds text. Empty fields do not count against
/// it, so a header with a blank name is reported as such rather than read as
/// data.
fn looks_like_header(first: &[String]) -> bool {
    let typed = |text: &str| {
        parse_integer(text).is_some()
            || parse_float(text).is_some()
            || parse_boolean(text).is_some()
    };
    let fields = first.iter().map(|field| field.trim());
    fields.clone().all(|text| !typed(text))
        && fields.clone().any(|text| present(Some(text)).is_some())
}

fn checked_header(fields: &[String]) -> Result<Vec<String>, TabularError> {
    if let Some(position) = fields.iter().position(|name| name.trim().is_empty()) {
        return Err(TabularError::EmptyColumnName {
            position: position + 1,
        });
    }
    let mut seen = BTreeSet::new();
    let mut duplicates: Vec<String> = Vec::new();
    for name in fields {
        if !seen.insert(name.as_str()) && !duplicates.contains(name) {
            duplicates.push(name.clone());
        }
    }
    if !duplicates.is_empty() {
        return Err(TabularError::DuplicateColumns { names: duplicates });
    }
    Ok(fields.to_vec())
}

fn detect_delimiter(text: &str) -> u8 {
    let mut best: Option<(usize, u8)> = None;
    let mut widest_first: Option<(usize, u8)> = None;
    for candidate in DELIMITER_CANDIDATES {
        // A candidate that leaves a quote open is simply not the delimiter.
        let Ok(scan) = scan_records(text, candidate, DETECTION_RECORDS, 0) else {
            continue;
        };
        let Some(first) = scan.records.first() else {
            continue;
        };
        let n_fields = first.n_fields;
        if n_fields < 2 {
            continue;
        }
        if scan.records.iter().all(|r| r.n_fields == n_fields)
            && best.is_none_or(|(most, _)| n_fields > most)
        {
            best = Some((n_fields, candidate));
        }
        if widest_first.is_none_or(|(most, _)| n_fields > most) {
            widest_first = Some((n_fields, candidate));
        }
    }
    best.or(widest_first)
        .map_or(b',', |(_, delimiter)| delimiter)
}

/// Where one record starts and how many fields it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RecordShape {
    line: usize,
    n_fields: usize,
}

#[derive(Debug, Default)]
struct Scan {
    records: Vec<RecordShape>,
    /// Decoded fields of the first few records.
    decoded: Vec<Vec<String>>,
}

/// The structural pre-scan: the same record rules as `csv-core` with its
/// default settings (quote `"`, doubled-quote escapes, `\r`, `\n` and `\r\n`
/// all ending records, blank lines skipped), plus line numbers.
fn scan_records(
    text: &str,
    delimiter: u8,
    max_records: usize,
    n_decoded: usize,
) -> Result<Scan, TabularError> {
    let bytes = text.as_bytes();
    let mut scan = Scan::default();
    let mut at = 0;
    let mut line = 1;
    // Consumes one line break at `at` (if any), counting `\r\n` once.
    let line_break = |at: &mut usize, line: &mut usize| match bytes.get(*at) {
        Some(b'\r') => {
            *at += if bytes.get(*at + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
            *line += 1;
            true
        }
        Some(b'\n') => {
            *at += 1;
            *line += 1;
            true
        }
        _ => false,
    };
    while scan.records.len() < max_records {
        while line_break(&mut at, &mut line) {}
        if at >= bytes.len() {
            break;
        }
        let record_line = line;
        let decode = scan.records.len() < n_decoded;
        let mut fields: Vec<String> = Vec::new();
        let mut field: Vec<u8> = Vec::new();
        let mut n_fields = 0;
        loop {
            // At the start of a field.
            if bytes.get(at) == Some(&b'"') {
                let quote_line = line;
                at += 1;
                loop {
                    match bytes.get(at) {
                        None => return Err(TabularError::UnclosedQuote { line: quote_line }),
                        Some(b'"') if bytes.get(at + 1) == Some(&b'"') => {
                            field.push(b'"');
                            at += 2;
                        }
                        Some(b'"') => {
                            at += 1;
                            break;
                        }
                        Some(b'\r' | b'\n') => {
                            let start = at;
                            line_break(&mut at, &mut line);
                            field.extend_from_slice(&bytes[start..at]);
                        }
                        Some(&byte) => {
                            field.push(byte);
                            at += 1;
                        }
                    }
                }
            }
            // Unquoted text, or text after a closing quote, up to the field's end.
            while let Some(&byte) = bytes.get(at) {
                if byte == delimiter || byte == b'\r' || byte == b'\n' {
                    break;
                }
                field.push(byte);
                at += 1;
            }
            n_fields += 1;
            if decode {
                fields.push(String::from_utf8_lossy(&field).into_owned());
            }
            field.clear();
            if bytes.get(at) == Some(&delimiter) {
                at += 1;
                continue;
            }
            line_break(&mut at, &mut line);
            break;
        }
        scan.records.push(RecordShape {
            line: record_line,
            n_fields,
        });
        if decode {
            scan.decoded.push(fields);
        }
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Value;

    fn read(text: &str) -> Result<Table, TabularError> {
        read_csv(text.as_bytes(), &CsvOptions::default())
    }

    fn types(table: &Table) -> Vec<ColumnType> {
        table.schema().iter().map(|c| c.column_type).collect()
    }

    #[test]
    fn infers_integer_float_boolean_and_categorical() {
        let table =
            read("id,flag,x,ok,city\n1,0,1.5,true,paris\n2,1,2,FALSE,lyon\n3,1,-3e2,True,nice\n")
                .unwrap();
        assert_eq!(
            types(&table),
            vec![
                ColumnType::Integer,
                ColumnType::Integer,
                ColumnType::Float,
                ColumnType::Boolean,
                ColumnType::Categorical
            ]
        );
        assert_eq!(table.n_rows(), 3);
        assert_eq!(table.value(2, 2), Value::Float(-300.0));
        assert_eq!(table.value(3, 1), Value::Boolean(false));
        assert_eq!(table.value(4, 0), Value::Text("paris".into()));
        assert!(table.schema().iter().all(|c| !c.nullable));
    }

    #[test]
    fn missing_markers_are_missing_in_every_type() {
        let table =
            read("a,b,c,d\n1,NA,x,true\n,2.5,null,NaN\nNULL, 3 ,NA,\n4,NaN,y,false\n").unwrap();
        assert_eq!(
            types(&table),
            vec![
                ColumnType::Integer,
                ColumnType::Float,
                ColumnType::Categorical,
                ColumnType::Boolean
            ]
        );
        assert_eq!(
            table.numeric_column(0).unwrap(),
            vec![Some(1.0), None, None, Some(4.0)]
        );
        assert_eq!(
            table.numeric_column(1).unwrap(),
            vec![None, Some(2.5), Some(3.0), None]
        );
        assert_eq!(
            table.text_column(2).unwrap(),
            vec![Some("x"), None, None, Some("y")]
        );
        assert_eq!(
            table.numeric_column(3).unwrap(),
            vec![Some(1.0), None, None, Some(0.0)]
        );
        assert!(table.schema().iter().all(|c| c.nullable));
    }

    #[test]
    fn words_that_rust_parses_as_floats_stay_text() {
        let table = read("v\ninf\n1.5\n").unwrap();
        assert_eq!(types(&table), vec![ColumnType::Categorical]);
        let table = read("v\n1\n\n2\n").unwrap();
        assert_eq!(types(&table), vec![ColumnType::Integer]);
        let table = read("v,w\n,1\nNA,2\n").unwrap();
        assert_eq!(
            types(&table)[0],
            ColumnType::Categorical,
            "all-missing column"
        );
    }

    #[test]
    fn strips_bom_and_accepts_crlf_and_quotes() {
        let text = "\u{FEFF}name,note,n\r\n\"Smith, J\",\"said \"\"hi\"\"\r\nthen left\",1\r\nLee,plain,2\r\n";
        let table = read(text).unwrap();
        assert_eq!(table.schema()[0].name, "name");
        assert_eq!(table.value(0, 0), Value::Text("Smith, J".into()));
        assert_eq!(
            table.value(1, 0),
            Value::Text("said \"hi\"\r\nthen left".into())
        );
        assert_eq!(table.value(2, 1), Value::Integer(2));
        // The second record starts on line 4 because the first spans two lines.
        assert_eq!(table.source_line(1), Some(4));
    }

    #[test]
    fn detects_semicolon_tab_and_pipe_delimiters() {
        for delimiter in [";", "\t", "|"] {
            let text = format!("a{d}b{d}c\n1{d}2,5{d}x\n3{d}4{d}y\n", d = delimiter);
            let table = read(&text).unwrap();
            assert_eq!(table.n_columns(), 3, "delimiter {delimiter:?}");
            assert_eq!(table.value(0, 1), Value::Integer(3));
        }
        // Commas inside a semicolon file do not fool detection.
        let table = read("a;b\n1,5;2\n3,5;4\n").unwrap();
        assert_eq!(table.n_columns(), 2);
        assert_eq!(table.value(0, 0), Value::Text("1,5".into()));
    }

    #[test]
    fn explicit_delimiter_is_used() {
        let options = CsvOptions {
            delimiter: Some(b';'),
            ..CsvOptions::default()
        };
        let table = read_csv(b"a,b;c\n1,2;3\n", &options).unwrap();
        assert_eq!(table.column_names(), vec!["a,b", "c"]);
    }

    #[test]
    fn detects_a_missing_header() {
        let table = read("1,2.5,yes\n3,4.5,no\n").unwrap();
        assert_eq!(
            table.column_names(),
            vec!["column_1", "column_2", "column_3"]
        );
        assert_eq!(table.n_rows(), 2);
        assert_eq!(table.source_line(0), Some(1));
        let options = CsvOptions {
            has_header: Some(false),
            ..CsvOptions::default()
        };
        let table = read_csv(b"a,b\nc,d\n", &options).unwrap();
        assert_eq!(table.n_rows(), 2);
        let options = CsvOptions {
            has_header: Some(true),
            ..CsvOptions::default()
        };
        let table = read_csv(b"1,2\n3,4\n", &options).unwrap();
        assert_eq!(table.column_names(), vec!["1", "2"]);
    }

    #[test]
    fn type_overrides_replace_inference() {
        let mut overrides = BTreeMap::new();
        overrides.insert("zip".to_string(), ColumnType::Categorical);
        overrides.insert("score".to_string(), ColumnType::Float);
        let options = CsvOptions {
            type_overrides: overrides,
            ..CsvOptions::default()
        };
        let table = read_csv(b"zip,score\n01234,3\n75001,4\n", &options).unwrap();
        assert_eq!(
            types(&table),
            vec![ColumnType::Categorical, ColumnType::Float]
        );
        assert_eq!(table.value(0, 0), Value::Text("01234".into()));
        assert_eq!(table.value(1, 1), Value::Float(4.0));
    }

    #[test]
    fn error_empty_input() {
        for text in ["", "\u{FEFF}", "\n\r\n"] {
            let err = read(text).unwrap_err();
            assert_eq!(
                err.to_string(),
                "the csv input is empty: expected a header line and at least one data row"
            );
        }
    }

    #[test]
    fn error_header_only() {
        let err = read("a,b,c\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the csv has a header (3 columns) but no data rows"
        );
    }

    #[test]
    fn error_ragged_row_names_line_and_counts() {
        let err = read("a,b,c\n1,2,3\n\n4,5\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 4 has 2 fields but 3 were expected (from the first line); \
             quote fields that contain the delimiter"
        );
        assert_eq!(
            err,
            TabularError::RaggedRow {
                line: 4,
                expected: 3,
                found: 2
            }
        );
    }

    #[test]
    fn error_invalid_utf8_names_line_and_offset() {
        let mut bytes = b"a,b\n1,2\n3,".to_vec();
        bytes.push(0xff);
        bytes.extend_from_slice(b"\n");
        let err = read_csv(&bytes, &CsvOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3 is not valid utf-8 (at byte offset 10); save the file as utf-8"
        );
        // The offset counts a byte-order mark, since it is an offset into the input as given.
        let mut with_bom = UTF8_BOM.to_vec();
        with_bom.extend_from_slice(&bytes);
        let err = read_csv(&with_bom, &CsvOptions::default()).unwrap_err();
        assert_eq!(
            err,
            TabularError::InvalidUtf8 {
                line: 3,
                byte_offset: 13
            }
        );
    }

    #[test]
    fn error_duplicate_column_names() {
        let err = read("a,b,a,c,b,a\n1,2,3,4,5,6\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "duplicate column names in the header: `a`, `b`; column names must be unique"
        );
    }

    #[test]
    fn error_empty_column_name() {
        let err = read("a,,c\n1,2,3\n").unwrap_err();
        assert_eq!(err, TabularError::EmptyColumnName { position: 2 });
        let options = CsvOptions {
            has_header: Some(true),
            ..CsvOptions::default()
        };
        let err = read_csv(b"a,,c\n1,2,3\n", &options).unwrap_err();
        assert_eq!(
            err.to_string(),
            "column 2 has an empty name in the header; every column needs a name"
        );
    }

    #[test]
    fn error_value_not_of_overridden_type() {
        let mut overrides = BTreeMap::new();
        overrides.insert("n".to_string(), ColumnType::Integer);
        let options = CsvOptions {
            type_overrides: overrides,
            ..CsvOptions::default()
        };
        let err = read_csv(b"n,m\n1,a\n2.5,b\n", &options).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3, column `n`: value `2.5` is not a valid integer \
             (expected a whole number such as 42 or -7, or an empty field)"
        );
        let mut overrides = BTreeMap::new();
        overrides.insert("m".to_string(), ColumnType::Boolean);
        let options = CsvOptions {
            type_overrides: overrides,
            ..CsvOptions::default()
        };
        let err = read_csv(b"n,m\r\n1,true\r\n2,maybe\r\n", &options).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3, column `m`: value `maybe` is not a valid boolean \
             (expected true or false, or an empty field)"
        );
    }

    #[test]
    fn error_override_of_unknown_column() {
        let mut overrides = BTreeMap::new();
        overrides.insert("agee".to_string(), ColumnType::Integer);
        let options = CsvOptions {
            type_overrides: overrides,
            ..CsvOptions::default()
        };
        let err = read_csv(b"age,name\n1,a\n", &options).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a type override names column `agee`, which is not in the csv; columns are: `age`, `name`"
        );
    }

    #[test]
    fn error_unclosed_quote() {
        let err = read("a,b\n1,\"open\n2,3\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2 opens a quoted field that is never closed; close it with `\"`"
        );
    }
}
