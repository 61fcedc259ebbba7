//! Decoding CSV bytes into a typed [`Table`].
//!
//! The records are read once, with this module's own small RFC 4180 reader
//! (the rules of the `csv-core` state machine with its default settings):
//! the first record is read alone (width, header, delimiter detection), and
//! the data records are cut into chunks of about a megabyte that are parsed
//! on parallel threads straight into typed column buffers, inferring each
//! column's type as they go (see [`chunk`] for how chunk boundaries inside
//! quoted fields and chunks that disagree on a type are handled). Line
//! numbers are counted per chunk, so every error names its 1-based line.
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

use arrow_array::Array;
use versa_core::{ColumnSchema, ColumnType};

use crate::error::TabularError;
use crate::table::{DecodedTable, SourceLines, Table, TypeReason};

mod buffer;
mod chunk;

use chunk::{Cursor, Layout, parse_records_in_chunks};

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
    decode_in_chunks(bytes, options, chunk::CHUNK_BYTES)
}

/// [`decode_csv`] with records cut into chunks of about `chunk_bytes`; the
/// result does not depend on the size.
fn decode_in_chunks(
    bytes: &[u8],
    options: &CsvOptions,
    chunk_bytes: usize,
) -> Result<DecodedTable, TabularError> {
    let (bytes, bom_len) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (rest, UTF8_BOM.len()),
        None => (bytes, 0),
    };
    // Invalid UTF-8 is reported before anything else, wherever it is.
    let invalid_utf8 = |offset: usize| TabularError::InvalidUtf8 {
        line: 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count(),
        byte_offset: bom_len + offset,
    };
    let check_utf8 = |end: usize| {
        std::str::from_utf8(&bytes[..end])
            .map(|_| ())
            .map_err(|error| invalid_utf8(error.valid_up_to()))
    };

    let delimiter = match options.delimiter {
        Some(delimiter) => delimiter,
        None => detect_delimiter(bytes),
    };
    // The first record decides the width and whether there is a header; the
    // header's names are checked only after the whole structure, so that a
    // broken file is reported as broken first.
    let first = match scan_records(bytes, delimiter, 1, 1) {
        Ok(first) => first,
        Err(error) => {
            check_utf8(bytes.len())?;
            return Err(error);
        }
    };
    let (Some(first_shape), Some(first_fields)) = (first.records.first(), first.decoded.first())
    else {
        return Err(TabularError::EmptyInput);
    };
    let n_columns = first_shape.n_fields;
    let has_header = options
        .has_header
        .unwrap_or_else(|| looks_like_header(first_fields));
    let candidate_names: Vec<String> = if has_header {
        first_fields.clone()
    } else {
        (1..=n_columns).map(|i| format!("column_{i}")).collect()
    };
    let declared: Vec<Option<ColumnType>> = candidate_names
        .iter()
        .map(|name| options.type_overrides.get(name).copied())
        .collect();

    let mut cursor = Cursor::new(bytes, delimiter);
    if has_header && cursor.start_record(bytes.len()) {
        while cursor.field()?.1 {}
    }
    check_utf8(cursor.at)?;
    let layout = Layout {
        bytes,
        delimiter,
        data_start: cursor.at,
        data_line: cursor.line,
        declared: &declared,
        chunk_bytes,
    };
    let mut records = parse_records_in_chunks(&layout).map_err(|error| match error {
        TabularError::InvalidUtf8 { byte_offset, .. } => invalid_utf8(byte_offset),
        other => other,
    })?;
    if let Some(ragged) = records.first_ragged {
        return Err(TabularError::RaggedRow {
            line: ragged.line,
            expected: n_columns,
            found: ragged.n_fields,
        });
    }
    let names = if has_header {
        checked_header(first_fields)?
    } else {
        candidate_names
    };
    if records.n_rows() == 0 {
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

    let (types, type_reasons): (Vec<ColumnType>, Vec<TypeReason>) = records
        .inference
        .iter()
        .zip(&declared)
        .map(|(inference, declared)| match declared {
            Some(column_type) => (*column_type, TypeReason::Declared),
            None => inference.clone().conclude(&records.lines),
        })
        .unzip();
    // The first invalid value in column order, then row order, as a
    // column-by-column decoder would report it.
    if let Some((column, row, value)) = records.first_invalid() {
        return Err(TabularError::InvalidValue {
            line: records.lines.get(row).unwrap_or_default(),
            column: names[column].clone(),
            value,
            expected: types[column],
        });
    }
    let lines = std::mem::take(&mut records.lines);
    let columns = records.into_columns(&layout, &types)?;
    let schema = names
        .into_iter()
        .zip(&types)
        .zip(&columns)
        .map(|((name, column_type), array)| ColumnSchema {
            name,
            column_type: *column_type,
            nullable: array.null_count() > 0,
        })
        .collect();
    Ok(DecodedTable {
        table: Table::from_columns(schema, columns)?.with_source_lines(lines),
        type_reasons,
    })
}

/// The inference rules of the module docs, kept as the first value (data
/// row and trimmed text) that rules out each type, so that the inference of
/// consecutive stretches of rows can be combined.
#[derive(Debug, Default, Clone)]
struct Inference {
    any: bool,
    not_integer: Option<(usize, String)>,
    /// The first value that is neither an integer nor a decimal number.
    not_float: Option<(usize, String)>,
    not_boolean: Option<(usize, String)>,
}

impl Inference {
    fn append(&mut self, later: Inference, row_offset: usize) {
        let shift =
            |found: Option<(usize, String)>| found.map(|(row, text)| (row + row_offset, text));
        self.any = self.any || later.any;
        if self.not_integer.is_none() {
            self.not_integer = shift(later.not_integer);
        }
        if self.not_float.is_none() {
            self.not_float = shift(later.not_float);
        }
        if self.not_boolean.is_none() {
            self.not_boolean = shift(later.not_boolean);
        }
    }

    fn conclude(self, lines: &SourceLines) -> (ColumnType, TypeReason) {
        let located = |(row, example): (usize, String)| {
            let line = lines.get(row).unwrap_or_default();
            (example, format!("line {line}"))
        };
        match (self.any, self.not_integer, self.not_float, self.not_boolean) {
            (false, ..) => (ColumnType::Categorical, TypeReason::NoValues),
            (true, None, ..) => (ColumnType::Integer, TypeReason::WholeNumbers),
            (true, Some(first_decimal), None, _) => {
                let (example, location) = located(first_decimal);
                (
                    ColumnType::Float,
                    TypeReason::DecimalNumbers { example, location },
                )
            }
            (true, Some(_), Some(_), None) => (ColumnType::Boolean, TypeReason::Booleans),
            (true, Some(a), Some(b), Some(c)) => {
                // The value that ruled out the last remaining type.
                let last = [a, b, c]
                    .into_iter()
                    .max_by_key(|(row, _)| *row)
                    .unwrap_or_default();
                let (example, location) = located(last);
                (
                    ColumnType::Categorical,
                    TypeReason::Text { example, location },
                )
            }
        }
    }
}

/// One value's trimmed text, or `None` when it is a missing marker.
#[inline]
fn present(cell: &str) -> Option<&str> {
    // Fast path: no surrounding whitespace (ASCII space and controls, or any
    // non-ASCII byte that might start a Unicode space) and not starting like
    // a marker, so trimming and comparing would change nothing.
    if let (Some(&first), Some(&last)) = (cell.as_bytes().first(), cell.as_bytes().last())
        && first > b' '
        && first < 0x80
        && last > b' '
        && last < 0x80
        && first != b'N'
        && first != b'n'
    {
        return Some(cell);
    }
    let trimmed = cell.trim();
    (!MISSING_MARKERS.contains(&trimmed)).then_some(trimmed)
}

#[inline]
fn parse_integer(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text.as_bytes()[1..]),
        Some(b'+') => (false, &text.as_bytes()[1..]),
        _ => (false, text.as_bytes()),
    };
    if digits.is_empty() {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(byte - b'0'))?;
    }
    if negative {
        // i64::MIN's magnitude is one more than i64::MAX.
        (magnitude <= i64::MAX as u64 + 1).then(|| (magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Exact powers of ten for the fast float path.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Decimal numbers only: Rust's own parser also takes `inf` and `nan`, which
/// we do not want to turn a text column numeric.
#[inline]
fn parse_float(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let (negative, unsigned) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut at = 0;
    let mut mantissa: u64 = 0;
    let mut exact = true;
    let mut digits = |at: &mut usize, mantissa: &mut u64| {
        let start = *at;
        while let Some(&byte) = unsigned.get(*at) {
            if !byte.is_ascii_digit() {
                break;
            }
            match mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(byte - b'0')))
            {
                Some(next) => *mantissa = next,
                None => exact = false,
            }
            *at += 1;
        }
        *at - start
    };
    let whole = digits(&mut at, &mut mantissa);
    let mut fraction = 0;
    if unsigned.get(at) == Some(&b'.') {
        at += 1;
        fraction = digits(&mut at, &mut mantissa);
    }
    if whole + fraction == 0 {
        return None;
    }
    let mut has_exponent = false;
    if let Some(b'e' | b'E') = unsigned.get(at) {
        has_exponent = true;
        at += 1;
        if let Some(b'+' | b'-') = unsigned.get(at) {
            at += 1;
        }
        let start = at;
        while unsigned.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
    }
    if at != unsigned.len() {
        return None;
    }
    // Clinger's fast path: an integer mantissa below 2^53 and a power of
    // ten up to 10^22 are both exact, so one division rounds correctly.
    if exact && !has_exponent && mantissa <= 1 << 53 && fraction < POWERS_OF_TEN.len() {
        let magnitude = mantissa as f64 / POWERS_OF_TEN[fraction];
        return Some(if negative { -magnitude } else { magnitude });
    }
    if exact
        && !has_exponent
        && let Some(magnitude) = decimal_quotient(mantissa, fraction)
    {
        return Some(if negative { -magnitude } else { magnitude });
    }
    text.parse::<f64>().ok().filter(|value| value.is_finite())
}

/// `5^k` for `k < 23` (all below 2^52).
const POWERS_OF_FIVE: [u64; 23] = {
    let mut powers = [1u64; 23];
    let mut k = 1;
    while k < powers.len() {
        powers[k] = powers[k - 1] * 5;
        k += 1;
    }
    powers
};

/// `mantissa / 10^fraction` correctly rounded (to nearest, ties to even),
/// as `str::parse` gives it, for the mantissas above 2^53 that Clinger's
/// fast path cannot take (17 to 19 significant digits, e.g. shortest
/// representations of random doubles), with `fraction < 23`; `None` outside
/// that range. `10^k = 5^k · 2^k`: the quotient by `5^k` is rounded in
/// integer arithmetic and the power of two is applied exactly, which is much
/// cheaper than the general parser (and needs no `&str`).
#[inline]
fn decimal_quotient(mantissa: u64, fraction: usize) -> Option<f64> {
    let divisor = u128::from(*POWERS_OF_FIVE.get(fraction)?);
    if mantissa == 0 {
        return None;
    }
    let mantissa_bits = 64 - mantissa.leading_zeros() as i32;
    let divisor_bits = 128 - divisor.leading_zeros() as i32;
    // Scaled so the quotient has 55 or 56 bits (or, for a long mantissa
    // over a small divisor, more): 53 kept, a rounding bit and more.
    let shift = (55 + divisor_bits - mantissa_bits).max(0);
    let numerator = u128::from(mantissa) << shift;
    let quotient = numerator / divisor;
    let inexact = quotient * divisor != numerator;
    let dropped_bits = (128 - quotient.leading_zeros() as i32) - 53;
    let mut kept = (quotient >> dropped_bits) as u64;
    let dropped = quotient & ((1u128 << dropped_bits) - 1);
    let half = 1u128 << (dropped_bits - 1);
    if dropped > half || (dropped == half && (inexact || kept & 1 == 1)) {
        kept += 1;
    }
    // kept · 2^exponent, with the exponent well inside the normal range
    // (the value lies between 2^53 / 10^22 and 2^64), so the product is exact.
    let exponent = dropped_bits - shift - fraction as i32;
    let scale = f64::from_bits(((1023 + exponent) as u64) << 52);
    Some(kept as f64 * scale)
}

#[inline]
fn parse_boolean(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
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
    fields.clone().all(|text| !typed(text)) && fields.clone().any(|text| present(text).is_some())
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

fn detect_delimiter(bytes: &[u8]) -> u8 {
    let mut best: Option<(usize, u8)> = None;
    let mut widest_first: Option<(usize, u8)> = None;
    for candidate in DELIMITER_CANDIDATES {
        // A candidate that leaves a quote open is simply not the delimiter.
        let Ok(scan) = scan_records(bytes, candidate, DETECTION_RECORDS, 0) else {
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
    bytes: &[u8],
    delimiter: u8,
    max_records: usize,
    n_decoded: usize,
) -> Result<Scan, TabularError> {
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

    /// Enough records for several chunks.
    const PARALLEL_RECORDS: usize = 16 * 1024;
    /// Inputs this large are cut into several chunks.
    const PARALLEL_BYTES: usize = 4 * chunk::CHUNK_BYTES;

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
    fn fast_float_path_agrees_with_the_standard_parser() {
        let mut rng = versa_core::Rng::new(11);
        for _ in 0..20_000 {
            let whole_digits = rng.below(18);
            let fraction_digits = rng.below(24);
            let mut text = String::new();
            if rng.below(3) == 0 {
                text.push('-');
            }
            for _ in 0..whole_digits {
                text.push(char::from(b'0' + rng.below(10) as u8));
            }
            if fraction_digits > 0 || whole_digits == 0 {
                text.push('.');
                for _ in 0..fraction_digits.max(1) {
                    text.push(char::from(b'0' + rng.below(10) as u8));
                }
            }
            let expected: f64 = text.parse().unwrap();
            assert_eq!(
                parse_float(&text).map(f64::to_bits),
                Some(expected.to_bits()),
                "{text}"
            );
        }
        for text in ["1e400", "inf", "1.2.3", ".", "-", "1e", "e5", "1_0", "0x10"] {
            assert_eq!(parse_float(text), None, "{text}");
        }
        assert_eq!(parse_float("+.5e1"), Some(5.0));
        assert_eq!(parse_integer("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_integer("9223372036854775808"), None);
        assert_eq!(parse_integer("+17"), Some(17));
    }

    /// `parse_float` against `str::parse`, bit for bit.
    fn agrees_with_std(text: &str) {
        let expected = text.parse::<f64>().ok().filter(|value| value.is_finite());
        assert_eq!(
            parse_float(text).map(f64::to_bits),
            expected.map(f64::to_bits),
            "{text}"
        );
    }

    #[test]
    fn long_mantissas_round_exactly_like_the_standard_parser() {
        // Ties to even at 2^53..2^64 (only integers can be exact ties here),
        // and their neighbours, written as integers, `N.` and `N.0`.
        let mut cases: Vec<String> = Vec::new();
        for bits in 53..64 {
            let base = 1u64 << bits;
            for delta in [
                0u64, 1, 2, 3, 4, 5, 7, 8, 9, 1023, 1024, 1025, 2047, 2048, 2049,
            ] {
                for value in [base.wrapping_add(delta), base.wrapping_sub(delta)] {
                    cases.push(format!("{value}"));
                    cases.push(format!("{value}."));
                    cases.push(format!("-{value}.0"));
                }
            }
        }
        cases.extend(
            [
                "18446744073709551615",
                "9999999999999999999",
                "9999999999999999999.",
                ".9999999999999999999",
                "0.09471566936909614",
                "+0.30166898054788516",
                "-.4057407719647752",
                "00000000000000000012345678901234567.8",
                "0.0000000000000000000012345678901234567",
                "1234567890123456789.0000000000000000000",
                "9007199254740993",
                "9007199254740992.5",
                "0.9007199254740993",
                "123456789012345678.9",
                "12345678901234567.89",
                "1.7976931348623157",
                "4.9406564584124654",
                "2.2250738585072014",
            ]
            .map(String::from),
        );
        for text in &cases {
            agrees_with_std(text);
        }
        // Random 17-19 digit mantissas, with the point anywhere.
        let mut rng = versa_core::Rng::new(23);
        for _ in 0..200_000 {
            let n_digits = 17 + rng.below(3);
            let mut digits: Vec<u8> = (0..n_digits).map(|_| b'0' + rng.below(10) as u8).collect();
            let point = rng.below(n_digits + 1);
            digits.insert(point, b'.');
            let sign = ["", "-", "+"][rng.below(3)];
            let text = format!("{sign}{}", String::from_utf8(digits).unwrap());
            agrees_with_std(&text);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        #[test]
        fn random_doubles_written_shortest_or_with_17_digits_parse_exactly(
            bits in proptest::prelude::any::<u64>(),
            scale in 0i32..20,
        ) {
            // Magnitudes around the decimal range a CSV holds (1e-6..1e19).
            let unit = f64::from_bits((bits >> 12) | (1023u64 << 52)) - 1.0;
            let value = unit * 10f64.powi(scale - 6);
            let value = if bits & 1 == 1 { -value } else { value };
            agrees_with_std(&format!("{value}"));
            let significant = 17usize;
            let magnitude = if value == 0.0 { 0 } else { value.abs().log10().floor() as i32 };
            let decimals = usize::try_from(significant as i32 - 1 - magnitude).unwrap_or(0);
            agrees_with_std(&format!("{value:.decimals$}"));
            agrees_with_std(&format!("{value:.17}"));
            agrees_with_std(&format!("{value:.19}"));
        }
    }

    #[test]
    fn large_inputs_decode_in_parallel_chunks_like_small_ones() {
        // Enough rows for several decoding threads; quoted fields with line
        // breaks late in the file shift line numbers, and invalid values in
        // two columns must be reported in column order, whichever chunk has them.
        let n = 12 * PARALLEL_RECORDS + 17;
        let mut text = String::from("a,b,c,d\r\n");
        for row in 0..n {
            let c = if row % 1000 == 999 {
                format!("\"multi\nline, {row}\"")
            } else {
                format!("t{}", row % 7)
            };
            let d = if row % 5 == 0 {
                String::new()
            } else {
                format!("{}.25", row)
            };
            text.push_str(&format!("{row},{},{c},{d}\r\n", row % 2 == 0));
        }
        let table = read(&text).unwrap();
        assert!(text.len() > PARALLEL_BYTES, "both passes run in parallel");
        assert_eq!(table.n_rows(), n);
        assert_eq!(
            types(&table),
            [
                ColumnType::Integer,
                ColumnType::Boolean,
                ColumnType::Categorical,
                ColumnType::Float
            ]
        );
        let last = n - 1;
        assert_eq!(table.value(0, last), Value::Integer(last as i64));
        assert_eq!(
            table.value(2, 1999),
            Value::Text("multi\nline, 1999".into())
        );
        assert_eq!(table.value(3, 10), Value::Missing);
        assert_eq!(table.value(3, 40_001), Value::Float(40_001.25));
        // Row r starts on line r + 2, plus one for each multi-line field before it.
        assert_eq!(table.source_line(last), Some(last + 2 + last / 1000));

        let late = 9 * PARALLEL_RECORDS;
        let early = PARALLEL_RECORDS + 4;
        let bad = text
            .replacen(&format!("\r\n{late},"), &format!("\r\nx{late},"), 1)
            .replacen(
                &format!("\r\n{early},true,"),
                &format!("\r\n{early},maybe,"),
                1,
            );
        assert_eq!(bad.len(), text.len() + 2, "both values were replaced");
        let mut overrides = BTreeMap::new();
        overrides.insert("a".to_string(), ColumnType::Integer);
        overrides.insert("b".to_string(), ColumnType::Boolean);
        let options = CsvOptions {
            type_overrides: overrides,
            ..CsvOptions::default()
        };
        let row = 9 * PARALLEL_RECORDS;
        let err = read_csv(bad.as_bytes(), &options).unwrap_err();
        assert_eq!(
            err,
            TabularError::InvalidValue {
                line: row + 2 + row / 1000,
                column: "a".into(),
                value: format!("x{row}"),
                expected: ColumnType::Integer,
            }
        );
    }

    #[test]
    fn a_quoted_field_across_the_middle_is_scanned_in_order() {
        // The middle of the text falls inside one long quoted field full of
        // line breaks, so the second half's guessed start is wrong.
        let mut text = String::from("id,note,x\n");
        for row in 0..60_000 {
            text.push_str(&format!("{row},n{row},{row}.5\n"));
        }
        let long = "line\n".repeat(PARALLEL_BYTES / 5);
        text.push_str(&format!("60000,\"{long}\",1.5\n"));
        for row in 60_001..80_000 {
            text.push_str(&format!("{row},n{row},{row}.5\n"));
        }
        assert!(text.len() > PARALLEL_BYTES);
        let table = read(&text).unwrap();
        assert_eq!(table.n_rows(), 80_000);
        assert_eq!(table.value(1, 60_000), Value::Text(long.clone()));
        assert_eq!(table.value(2, 79_999), Value::Float(79_999.5));
        let long_lines = PARALLEL_BYTES / 5;
        assert_eq!(table.source_line(79_999), Some(79_999 + 2 + long_lines));

        // A ragged row and an invalid type reason after the middle keep their true lines.
        let ragged = text.replacen("\n79990,n79990,79990.5\n", "\n79990,n79990\n", 1);
        let err = read(&ragged).unwrap_err();
        assert_eq!(
            err,
            TabularError::RaggedRow {
                line: 79_990 + 2 + long_lines,
                expected: 3,
                found: 2
            }
        );
        let texty = text.replacen("\n79990,n79990,79990.5\n", "\n79990,n79990,oops\n", 1);
        let decoded = decode_csv(texty.as_bytes(), &CsvOptions::default()).unwrap();
        assert_eq!(
            decoded.type_reasons[2].to_string(),
            format!(
                "`oops` (line {}) is not a number or a boolean",
                79_990 + 2 + long_lines
            )
        );
    }

    #[test]
    fn the_halves_of_a_large_input_combine_their_inference() {
        // A column whose kinds change only in the second half, and a ragged
        // row and an unclosed quote there, are reported with true lines.
        let mut text = String::from("a,b\n");
        for row in 0..400_000 {
            let b = if row == 350_000 {
                "2.5".to_string()
            } else {
                row.to_string()
            };
            text.push_str(&format!("{row},{b}\n"));
        }
        assert!(text.len() > PARALLEL_BYTES);
        let decoded = decode_csv(text.as_bytes(), &CsvOptions::default()).unwrap();
        assert_eq!(
            decoded.type_reasons[1].to_string(),
            "every value is a number; `2.5` (line 350002) is not whole"
        );
        let unclosed = text.replacen("\n390000,", "\n\"390000,", 1);
        assert_eq!(
            read(&unclosed).unwrap_err(),
            TabularError::UnclosedQuote { line: 390_002 }
        );
    }

    /// Decodes with the records in one chunk and in chunks of `chunk_bytes`,
    /// checks both give the same table (values, types, reasons, lines) or
    /// the same error, and returns the result.
    fn same_in_chunks(text: &str, chunk_bytes: usize) -> Result<DecodedTable, TabularError> {
        let options = CsvOptions::default();
        let whole = decode_in_chunks(text.as_bytes(), &options, usize::MAX);
        let chunked = decode_in_chunks(text.as_bytes(), &options, chunk_bytes);
        match (&whole, &chunked) {
            (Ok(whole), Ok(chunked)) => {
                let (a, b) = (&whole.table, &chunked.table);
                assert_eq!(a.schema(), b.schema(), "{text:?}");
                assert_eq!(whole.type_reasons, chunked.type_reasons, "{text:?}");
                assert_eq!(crate::content_digest(a), crate::content_digest(b));
                for row in 0..a.n_rows() {
                    assert_eq!(a.source_line(row), b.source_line(row), "{text:?}");
                    for column in 0..a.n_columns() {
                        let bits = |value: Value| match value {
                            Value::Float(v) => Value::Integer(v.to_bits() as i64),
                            other => other,
                        };
                        assert_eq!(
                            bits(a.value(column, row)),
                            bits(b.value(column, row)),
                            "{text:?}"
                        );
                    }
                }
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{text:?}"),
            _ => panic!("{text:?}: one chunk gave {whole:?}, chunks gave {chunked:?}"),
        }
        chunked
    }

    #[test]
    fn chunks_that_disagree_on_a_type_are_reconciled() {
        // 40-byte chunks: each column's kind changes between chunks.
        let mut text = String::from("i,f,t,b,z\n");
        for row in 0..200 {
            let f = match row {
                0..50 => format!("{row}"),
                50 => "-0".to_string(),
                150 => "2.5".to_string(),
                _ => format!("-{row}"),
            };
            let t = if row == 170 {
                " x ".to_string()
            } else {
                format!("{}", row % 3)
            };
            let b = if row < 100 { "" } else { "TRUE" };
            let z = if row % 2 == 0 { "-0" } else { "NA" };
            text.push_str(&format!("{row},{f},{t},{b},{z}\n"));
        }
        let decoded = same_in_chunks(&text, 40).unwrap();
        let table = &decoded.table;
        assert_eq!(
            types(table),
            [
                ColumnType::Integer,
                ColumnType::Float,
                ColumnType::Categorical,
                ColumnType::Boolean,
                ColumnType::Integer
            ]
        );
        // `-0` read as a float keeps its sign, as `str::parse` gives it.
        assert_eq!(table.value(1, 50), Value::Float(-0.0));
        assert!(matches!(table.value(1, 50), Value::Float(v) if v.is_sign_negative()));
        assert_eq!(table.value(1, 199), Value::Float(-199.0));
        // Numbers before the text value are kept as their raw text.
        assert_eq!(table.value(2, 0), Value::Text("0".into()));
        assert_eq!(table.value(2, 170), Value::Text(" x ".into()));
        assert_eq!(table.value(3, 0), Value::Missing);
        assert_eq!(table.value(3, 199), Value::Boolean(true));
        assert_eq!(
            decoded.type_reasons[2].to_string(),
            "`x` (line 172) is not a number or a boolean"
        );
        assert_eq!(
            decoded.type_reasons[1].to_string(),
            "every value is a number; `2.5` (line 152) is not whole"
        );
    }

    #[test]
    fn text_joined_while_parsing_survives_missing_and_numeric_chunks() {
        // Tiny chunks of two or three records: `t` is text, then a stretch
        // of missing cells, then numbers (which stop the joining while
        // parsing, so the rest is joined afterwards), then text again; `m`
        // is missing before it is text; `n` is missing, then numbers, then
        // text.
        let mut text = String::from("t,m,n\n");
        let t = |row: usize| match row {
            0..30 => Some(format!("a{row}")),
            30..60 => None,
            60..90 => Some(format!("{row}")),
            _ => Some(format!("b{row}")),
        };
        let m = |row: usize| (row >= 40).then(|| format!("c{row}"));
        let n = |row: usize| match row {
            0..20 => None,
            20..50 => Some(format!("{row}")),
            _ => Some(format!("d{row}")),
        };
        for row in 0..120 {
            let cell = |value: Option<String>| value.unwrap_or_default();
            text.push_str(&format!(
                "{},{},{}\n",
                cell(t(row)),
                cell(m(row)),
                cell(n(row))
            ));
        }
        let decoded = same_in_chunks(&text, 24).unwrap();
        let table = &decoded.table;
        assert_eq!(types(table), [ColumnType::Categorical; 3]);
        for row in 0..120 {
            let value = |text: Option<String>| text.map_or(Value::Missing, Value::Text);
            assert_eq!(table.value(0, row), value(t(row)), "t at row {row}");
            assert_eq!(table.value(1, row), value(m(row)), "m at row {row}");
            assert_eq!(table.value(2, row), value(n(row)), "n at row {row}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        #[test]
        fn chunk_boundaries_never_change_the_result(
            cells in proptest::collection::vec(
                proptest::sample::select(vec![
                    "1", "-0", "+7", "2.5", "-.5", "1e3", "0.1234567890123456789", "true",
                    "FALSE", "NA", "", " 3 ", "abc", "\"q,\"\"x\"\"\"", "\"a\nb\"",
                    "\"c\r\nd\"", "\"\"", "12345678901234567890", "é",
                ]),
                0..120,
            ),
            breaks in proptest::collection::vec(
                proptest::sample::select(vec!["\n", "\r\n", "\r", "\n\n"]),
                40,
            ),
            n_columns in 1usize..4,
            ragged_at in proptest::option::of(0usize..40),
            unclosed in proptest::bool::ANY,
            chunk_bytes in 1usize..64,
        ) {
            let mut text = String::new();
            for record in 0..cells.len().div_ceil(n_columns) {
                let mut fields: Vec<&str> = cells
                    .iter()
                    .skip(record * n_columns)
                    .take(n_columns)
                    .copied()
                    .collect();
                while fields.len() < n_columns {
                    fields.push("5");
                }
                if ragged_at == Some(record) {
                    fields.push("extra");
                }
                text.push_str(&fields.join(","));
                text.push_str(breaks[record % breaks.len()]);
            }
            if unclosed {
                text.push_str("9,\"open\n");
            }
            // Errors are fine too, as long as both agree on them.
            let _ = same_in_chunks(&text, chunk_bytes);
        }
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
