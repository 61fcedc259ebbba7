//! The one typed pass of CSV decoding: the data records' bytes, cut into
//! chunks of about [`CHUNK_BYTES`] that are parsed on parallel threads
//! straight into typed column buffers.
//!
//! A chunk boundary is a guess (just after a line break near the nominal
//! cut), which is wrong only when that line break sits inside a quoted
//! field. Each chunk's parse ends where its last record ends, so the guess
//! is checked afterwards: a chunk counts only if it starts exactly where the
//! previous counted chunk stopped; from the first one that does not, the rest
//! is cut and parsed again. Line numbers are counted relative to each
//! chunk's start and made absolute once the chunks are known.
//!
//! Each column of a chunk holds a speculative type, starting from the first
//! present value and widening as values require (integer → float, and any
//! type → text), while recording the first value that rules out each type;
//! the chunks' evidence then decides the column's type with the module
//! rules of `super`, and the few chunks that guessed differently are
//! converted, or re-read from their text when the values already parsed
//! cannot be (e.g. numbers that turn out to be text).
//!
//! This module knows the record syntax and the value rules; it knows
//! nothing of headers, delimiter detection or type overrides by name.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_array::builder::{BooleanBufferBuilder, NullBufferBuilder, OffsetBufferBuilder};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use versa_core::ColumnType;

use super::{
    Inference, POWERS_OF_TEN, RecordShape, parse_boolean, parse_float, parse_integer, present,
};
use crate::error::TabularError;

/// The nominal size of one chunk of records.
pub(super) const CHUNK_BYTES: usize = 1 << 20;

/// A field just read: a slice of the bytes, or (for a quoted field) the
/// cursor's scratch buffer holding its unescaped text.
pub(super) enum Field {
    Slice(usize, usize),
    Scratch,
}

/// Reads fields with the record rules of `super::scan_records`, without
/// allocating for unquoted fields. `line` counts the line breaks consumed.
pub(super) struct Cursor<'a> {
    bytes: &'a [u8],
    delimiter: u8,
    pub(super) at: usize,
    pub(super) line: usize,
    scratch: Vec<u8>,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(bytes: &'a [u8], delimiter: u8) -> Cursor<'a> {
        Cursor {
            bytes,
            delimiter,
            at: 0,
            line: 1,
            scratch: Vec::new(),
        }
    }

    /// Consumes one line break at the cursor, counting `\r\n` once.
    #[inline]
    fn line_break(&mut self) -> bool {
        match self.bytes.get(self.at) {
            Some(b'\r') => {
                self.at += if self.bytes.get(self.at + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                self.line += 1;
                true
            }
            Some(b'\n') => {
                self.at += 1;
                self.line += 1;
                true
            }
            _ => false,
        }
    }

    /// Skips blank lines, but not at or past `end`; whether a record starts
    /// at the cursor before `end`.
    #[inline]
    pub(super) fn start_record(&mut self, end: usize) -> bool {
        while self.at < end && self.line_break() {}
        self.at < end
    }

    /// Reads the field at the cursor; the flag says whether another field
    /// of the same record follows.
    #[inline]
    pub(super) fn field(&mut self) -> Result<(Field, bool), TabularError> {
        let bytes = self.bytes;
        let field = if bytes.get(self.at) == Some(&b'"') {
            let quote_line = self.line;
            self.scratch.clear();
            self.at += 1;
            loop {
                match bytes.get(self.at) {
                    None => return Err(TabularError::UnclosedQuote { line: quote_line }),
                    Some(b'"') if bytes.get(self.at + 1) == Some(&b'"') => {
                        self.scratch.push(b'"');
                        self.at += 2;
                    }
                    Some(b'"') => {
                        self.at += 1;
                        break;
                    }
                    Some(b'\r' | b'\n') => {
                        let start = self.at;
                        self.line_break();
                        self.scratch.extend_from_slice(&bytes[start..self.at]);
                    }
                    Some(&byte) => {
                        self.scratch.push(byte);
                        self.at += 1;
                    }
                }
            }
            let start = self.at;
            self.skip_unquoted();
            self.scratch.extend_from_slice(&bytes[start..self.at]);
            Field::Scratch
        } else {
            let start = self.at;
            self.skip_unquoted();
            Field::Slice(start, self.at)
        };
        Ok((field, self.end_field()))
    }

    /// Consumes the delimiter or line break that ends a field at the cursor;
    /// whether another field of the same record follows.
    #[inline]
    fn end_field(&mut self) -> bool {
        if self.bytes.get(self.at) == Some(&self.delimiter) {
            self.at += 1;
            return true;
        }
        self.line_break();
        false
    }

    #[inline]
    fn skip_unquoted(&mut self) {
        self.at = self.field_end(self.at);
    }

    /// Where unquoted text starting at `at` ends.
    #[inline]
    fn field_end(&self, at: usize) -> usize {
        let delimiter = self.delimiter;
        let rest = &self.bytes[at..];
        at + rest
            .iter()
            .position(|&b| b == delimiter || b == b'\n' || b == b'\r')
            .unwrap_or(rest.len())
    }

    #[inline]
    pub(super) fn cell(&self, field: &Field) -> &[u8] {
        match *field {
            Field::Slice(start, end) => &self.bytes[start..end],
            Field::Scratch => &self.scratch,
        }
    }

    /// Whether the byte at `at` ends a field.
    #[inline]
    fn ends_field(&self, at: usize) -> bool {
        match self.bytes.get(at) {
            None => true,
            Some(&byte) => byte == self.delimiter || byte == b'\n' || byte == b'\r',
        }
    }
}

/// One value's trimmed bytes, or `None` when it is a missing marker (the
/// rules of [`present`], on bytes).
#[inline]
fn present_bytes(cell: &[u8]) -> Option<&[u8]> {
    if let (Some(&first), Some(&last)) = (cell.first(), cell.last())
        && first > b' '
        && first < 0x80
        && last > b' '
        && last < 0x80
        && first != b'N'
        && first != b'n'
    {
        return Some(cell);
    }
    match std::str::from_utf8(cell) {
        Ok(text) => present(text).map(str::as_bytes),
        // Only in input that fails UTF-8 validation, which is reported instead.
        Err(_) => Some(cell),
    }
}

fn as_text(value: &[u8]) -> &str {
    std::str::from_utf8(value).unwrap_or_default()
}

/// An unquoted integer at `at` that runs to a field end: its value, where it
/// ends, and whether it was written negative. Longer than 18 digits (where
/// overflow becomes possible) is left to [`parse_integer`].
#[inline]
fn fast_integer(cursor: &Cursor<'_>, at: usize) -> Option<(i64, usize, bool)> {
    let bytes = cursor.bytes;
    let mut end = at;
    let negative = bytes.get(end) == Some(&b'-');
    if negative || bytes.get(end) == Some(&b'+') {
        end += 1;
    }
    let digits = end;
    let mut magnitude: u64 = 0;
    while let Some(&byte) = bytes.get(end) {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        magnitude = magnitude.wrapping_mul(10).wrapping_add(u64::from(digit));
        end += 1;
    }
    let n_digits = end - digits;
    if n_digits == 0 || n_digits > 18 || !cursor.ends_field(end) {
        return None;
    }
    let value = magnitude as i64;
    Some((if negative { -value } else { value }, end, negative))
}

/// An unquoted plain decimal (`-12.5`, `.5`, `7.`; no exponent, at most 19
/// digits) at `at` that runs to a field end, parsed exactly as
/// [`parse_float`] would, and where it ends.
#[inline]
fn fast_float(cursor: &Cursor<'_>, at: usize) -> Option<(f64, usize)> {
    let bytes = cursor.bytes;
    let mut end = at;
    let negative = bytes.get(end) == Some(&b'-');
    if negative || bytes.get(end) == Some(&b'+') {
        end += 1;
    }
    let mut mantissa: u64 = 0;
    let mut n_digits = 0;
    let mut fraction = 0;
    let mut seen_point = false;
    while let Some(&byte) = bytes.get(end) {
        let digit = byte.wrapping_sub(b'0');
        if digit <= 9 {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
            n_digits += 1;
            fraction += usize::from(seen_point);
        } else if byte == b'.' && !seen_point {
            seen_point = true;
        } else {
            break;
        }
        end += 1;
    }
    if n_digits == 0 || n_digits > 19 || !cursor.ends_field(end) {
        return None;
    }
    // The same fast path as `parse_float` (Clinger's), else the same fallback.
    if mantissa <= 1 << 53 && fraction < POWERS_OF_TEN.len() {
        let magnitude = mantissa as f64 / POWERS_OF_TEN[fraction];
        return Some((if negative { -magnitude } else { magnitude }, end));
    }
    let text = std::str::from_utf8(&bytes[at..end]).ok()?;
    let value = text.parse::<f64>().ok().filter(|value| value.is_finite())?;
    Some((value, end))
}

/// A column's values within one chunk, in its current (speculative or
/// declared) type.
enum Values {
    /// Only missing cells so far.
    Unknown,
    Integer(Vec<i64>),
    Float(Vec<f64>),
    Boolean(Vec<bool>),
    Text {
        bytes: Vec<u8>,
        lengths: Vec<u32>,
    },
}

impl Values {
    fn empty(column_type: ColumnType) -> Values {
        match column_type {
            ColumnType::Integer => Values::Integer(Vec::new()),
            ColumnType::Float => Values::Float(Vec::new()),
            ColumnType::Boolean => Values::Boolean(Vec::new()),
            ColumnType::Categorical => Values::Text {
                bytes: Vec::new(),
                lengths: Vec::new(),
            },
        }
    }

    fn column_type(&self) -> Option<ColumnType> {
        match self {
            Values::Unknown => None,
            Values::Integer(_) => Some(ColumnType::Integer),
            Values::Float(_) => Some(ColumnType::Float),
            Values::Boolean(_) => Some(ColumnType::Boolean),
            Values::Text { .. } => Some(ColumnType::Categorical),
        }
    }

    #[inline]
    fn push_default(&mut self) {
        match self {
            Values::Unknown => {}
            Values::Integer(values) => values.push(0),
            Values::Float(values) => values.push(0.0),
            Values::Boolean(values) => values.push(false),
            Values::Text { lengths, .. } => lengths.push(0),
        }
    }

    /// Parses a present cell as this type; false when it is not one.
    fn push_parsed(&mut self, cell: &[u8], value: &[u8]) -> bool {
        match self {
            Values::Unknown => None,
            Values::Integer(values) => parse_integer(as_text(value)).map(|v| values.push(v)),
            Values::Float(values) => parse_float(as_text(value)).map(|v| values.push(v)),
            Values::Boolean(values) => parse_boolean(as_text(value)).map(|v| values.push(v)),
            Values::Text { bytes, lengths } => {
                bytes.extend_from_slice(cell);
                lengths.push(cell.len() as u32);
                Some(())
            }
        }
        .is_some()
    }

    /// Makes room for `rows` more rows of `bytes` more text.
    fn reserve(&mut self, rows: usize, text_bytes: usize) {
        match self {
            Values::Unknown => {}
            Values::Integer(values) => values.reserve_exact(rows),
            Values::Float(values) => values.reserve_exact(rows),
            Values::Boolean(values) => values.reserve_exact(rows),
            Values::Text { bytes, lengths } => {
                bytes.reserve_exact(text_bytes);
                lengths.reserve_exact(rows);
            }
        }
    }

    fn text_bytes(&self) -> usize {
        match self {
            Values::Text { bytes, .. } => bytes.len(),
            _ => 0,
        }
    }

    /// Appends `later`, which must hold the same type.
    fn append(&mut self, later: Values) {
        match (self, later) {
            (Values::Integer(values), Values::Integer(later)) => values.extend(later),
            (Values::Float(values), Values::Float(later)) => values.extend(later),
            (Values::Boolean(values), Values::Boolean(later)) => values.extend(later),
            (
                Values::Text { bytes, lengths },
                Values::Text {
                    bytes: later_bytes,
                    lengths: later_lengths,
                },
            ) => {
                bytes.extend(later_bytes);
                lengths.extend(later_lengths);
            }
            _ => {}
        }
    }
}

/// One column of one chunk.
struct ColumnChunk {
    /// The values of rows `reread..`; rows before `reread` are to be read
    /// again from the text once the column's type is settled.
    values: Values,
    reread: usize,
    /// Per row: whether the cell is present (and valid, for declared
    /// types); left empty until the first missing cell.
    valid: Vec<bool>,
    n_rows: usize,
    n_missing: usize,
    declared: Option<ColumnType>,
    /// Rows relative to the chunk.
    inference: Inference,
    /// Declared columns: the first (row, raw text) not of the declared type.
    first_invalid: Option<(usize, String)>,
    /// An integer written `-0` (or `-00`…) was read: as a float it is `-0.0`,
    /// which converting the integer `0` would lose.
    negative_zero: bool,
}

impl ColumnChunk {
    fn new(declared: Option<ColumnType>, capacity: usize) -> ColumnChunk {
        let mut values = declared.map_or(Values::Unknown, Values::empty);
        match &mut values {
            Values::Integer(v) => v.reserve(capacity),
            Values::Float(v) => v.reserve(capacity),
            Values::Boolean(v) => v.reserve(capacity),
            Values::Text { lengths, .. } => lengths.reserve(capacity),
            Values::Unknown => {}
        }
        ColumnChunk {
            values,
            reread: 0,
            valid: Vec::new(),
            n_rows: 0,
            n_missing: 0,
            declared,
            inference: Inference::default(),
            first_invalid: None,
            negative_zero: false,
        }
    }

    fn n_rows(&self) -> usize {
        self.n_rows
    }

    #[inline]
    fn push_present(&mut self) {
        if self.n_missing > 0 {
            self.valid.push(true);
        }
        self.n_rows += 1;
    }

    #[inline]
    fn push_missing(&mut self) {
        if self.n_missing == 0 {
            self.valid.reserve(self.values_capacity());
            self.valid.resize(self.n_rows, true);
        }
        self.valid.push(false);
        self.n_missing += 1;
        self.n_rows += 1;
        self.values.push_default();
    }

    fn values_capacity(&self) -> usize {
        match &self.values {
            Values::Unknown => 0,
            Values::Integer(values) => values.capacity(),
            Values::Float(values) => values.capacity(),
            Values::Boolean(values) => values.capacity(),
            Values::Text { lengths, .. } => lengths.capacity(),
        }
    }

    /// Reads the field at the cursor into this column; whether another
    /// field of the same record follows.
    #[inline]
    fn read(&mut self, cursor: &mut Cursor<'_>, row: usize) -> Result<bool, TabularError> {
        let at = cursor.at;
        match &mut self.values {
            Values::Integer(values) => {
                if let Some((value, end, negative)) = fast_integer(cursor, at) {
                    self.negative_zero |= negative && value == 0;
                    values.push(value);
                    self.push_present();
                    cursor.at = end;
                    return Ok(cursor.end_field());
                }
            }
            Values::Float(values) => {
                if let Some((value, end)) = fast_float(cursor, at) {
                    values.push(value);
                    self.push_present();
                    cursor.at = end;
                    return Ok(cursor.end_field());
                }
            }
            Values::Text { bytes, lengths } if cursor.bytes.get(at) != Some(&b'"') => {
                // Unquoted text that needs no trimming and is no marker.
                let end = cursor.field_end(at);
                let cell = &cursor.bytes[at..end];
                if let (Some(&first), Some(&last)) = (cell.first(), cell.last())
                    && first > b' '
                    && first < 0x80
                    && last > b' '
                    && last < 0x80
                    && first != b'N'
                    && first != b'n'
                {
                    bytes.extend_from_slice(cell);
                    lengths.push(cell.len() as u32);
                    self.push_present();
                    cursor.at = end;
                    return Ok(cursor.end_field());
                }
            }
            _ => {}
        }
        let (field, more) = cursor.field()?;
        self.push_cell(cursor.cell(&field), row);
        Ok(more)
    }

    fn push_cell(&mut self, cell: &[u8], row: usize) {
        let Some(value) = present_bytes(cell) else {
            self.push_missing();
            return;
        };
        if self.declared.is_some() {
            if self.values.push_parsed(cell, value) {
                self.push_present();
            } else {
                if self.first_invalid.is_none() {
                    self.first_invalid = Some((row, String::from_utf8_lossy(cell).into_owned()));
                }
                self.push_missing();
            }
            return;
        }
        let noted = |value: &[u8]| Some((row, String::from_utf8_lossy(value).into_owned()));
        loop {
            if self.values.push_parsed(cell, value) {
                if let Values::Integer(_) = self.values {
                    self.negative_zero |=
                        value.first() == Some(&b'-') && parse_integer(as_text(value)) == Some(0);
                }
                self.push_present();
                return;
            }
            // Widen the type to one that takes this value, noting what it
            // rules out.
            let text = as_text(value);
            let is_integer = parse_integer(text).is_some();
            let is_float = is_integer || parse_float(text).is_some();
            let is_boolean = parse_boolean(text).is_some();
            let inference = &mut self.inference;
            inference.any = true;
            if !is_integer && inference.not_integer.is_none() {
                inference.not_integer = noted(value);
            }
            if !is_float && inference.not_float.is_none() {
                inference.not_float = noted(value);
            }
            if !is_boolean && inference.not_boolean.is_none() {
                inference.not_boolean = noted(value);
            }
            let n_rows = self.n_rows();
            let widened = match (&self.values, is_integer, is_float, is_boolean) {
                (Values::Unknown, true, ..) => Values::Integer(vec![0; n_rows]),
                (Values::Unknown, false, true, _) => Values::Float(vec![0.0; n_rows]),
                (Values::Unknown, false, false, true) => Values::Boolean(vec![false; n_rows]),
                (Values::Unknown, ..) => Values::Text {
                    bytes: Vec::new(),
                    lengths: vec![0; n_rows],
                },
                (Values::Integer(values), _, true, _) if !self.negative_zero => {
                    Values::Float(values.iter().map(|&v| v as f64).collect())
                }
                (Values::Integer(_), _, true, _) => {
                    self.reread = n_rows;
                    Values::Float(Vec::new())
                }
                _ => {
                    self.reread = n_rows;
                    Values::empty(ColumnType::Categorical)
                }
            };
            self.values = widened;
        }
    }
}

/// What parsing one chunk of records found.
struct ChunkOutput {
    start: usize,
    /// Where the parse stopped: the start of the next record, or the end.
    stop: usize,
    /// Line breaks consumed between `start` and `stop`.
    n_lines: usize,
    /// Per record, the line it starts on, relative to the chunk's first line.
    lines: Vec<usize>,
    columns: Vec<ColumnChunk>,
    /// The first record whose width differs (relative line).
    first_ragged: Option<RecordShape>,
    /// A structural error (relative line): only an unclosed quote.
    error: Option<TabularError>,
    /// The offset of the first byte of `start..end` that is not UTF-8.
    invalid_utf8: Option<usize>,
}

/// What to decode: the data records and their columns.
pub(super) struct Layout<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) delimiter: u8,
    /// Where the first data record (after any header) may start.
    pub(super) data_start: usize,
    /// The 1-based line at `data_start`.
    pub(super) data_line: usize,
    /// The declared type of each column, if any.
    pub(super) declared: &'a [Option<ColumnType>],
    /// The nominal chunk size ([`CHUNK_BYTES`]; tests use small ones).
    pub(super) chunk_bytes: usize,
}

/// The data records, parsed and checked for structure.
pub(super) struct Records {
    chunks: Vec<ChunkOutput>,
    /// Per record, its 1-based line.
    pub(super) lines: Vec<usize>,
    pub(super) first_ragged: Option<RecordShape>,
    /// Per column, the inference over all records (absolute rows).
    pub(super) inference: Vec<Inference>,
}

fn parse_chunk(layout: &Layout<'_>, start: usize, end: usize, validate: bool) -> ChunkOutput {
    let n_columns = layout.declared.len();
    let invalid_utf8 = if validate {
        std::str::from_utf8(&layout.bytes[start..end])
            .err()
            .map(|error| start + error.valid_up_to())
    } else {
        None
    };
    // Capacity for records of about the first line's length, with room to
    // spare: capacity never touched costs no memory, growing copies it all.
    let first_line = layout.bytes[start..end]
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(end - start)
        + 1;
    let capacity = (end - start) / first_line * 3 / 2 + 16;
    let mut output = ChunkOutput {
        start,
        stop: end,
        n_lines: 0,
        lines: Vec::with_capacity(capacity),
        columns: layout
            .declared
            .iter()
            .map(|declared| ColumnChunk::new(*declared, capacity))
            .collect(),
        first_ragged: None,
        error: None,
        invalid_utf8,
    };
    if invalid_utf8.is_some() {
        // The whole decode fails on it; the records do not matter.
        return output;
    }
    let mut cursor = Cursor::new(layout.bytes, layout.delimiter);
    cursor.at = start;
    cursor.line = 0;
    if let Err(error) = parse_records(&mut cursor, end, n_columns, &mut output) {
        output.error = Some(error);
    }
    output.stop = cursor.at;
    output.n_lines = cursor.line;
    output
}

fn parse_records(
    cursor: &mut Cursor<'_>,
    end: usize,
    n_columns: usize,
    output: &mut ChunkOutput,
) -> Result<(), TabularError> {
    while cursor.start_record(end) {
        let row = output.lines.len();
        output.lines.push(cursor.line);
        let line = cursor.line;
        let mut n_fields = 0;
        let mut more = true;
        for column in output.columns.iter_mut() {
            if more {
                more = column.read(cursor, row)?;
                n_fields += 1;
            } else {
                column.push_missing();
            }
        }
        while more {
            more = cursor.field()?.1;
            n_fields += 1;
        }
        if n_fields != n_columns && output.first_ragged.is_none() {
            output.first_ragged = Some(RecordShape { line, n_fields });
        }
    }
    Ok(())
}

/// Pass over the records: cuts them into chunks, parses those in parallel,
/// and keeps the chunks that follow one another (see the module docs).
pub(super) fn parse_records_in_chunks(layout: &Layout<'_>) -> Result<Records, TabularError> {
    let bytes = layout.bytes;
    let mut chunks: Vec<ChunkOutput> = Vec::new();
    let mut at = layout.data_start;
    let mut first_round = true;
    let mut line = layout.data_line;
    while at < bytes.len() {
        let ranges = cut(bytes, at, layout.chunk_bytes);
        let validate = first_round;
        let outputs = parallel_map(ranges, |(start, end)| {
            parse_chunk(layout, start, end, validate)
        })?;
        if first_round && let Some(offset) = outputs.iter().find_map(|output| output.invalid_utf8) {
            return Err(invalid_utf8(offset));
        }
        first_round = false;
        for mut output in outputs {
            if output.start != at {
                // A guessed start fell inside a quoted field: cut again from here.
                break;
            }
            at = output.stop;
            if let Some(error) = output.error.take() {
                return Err(match error {
                    TabularError::UnclosedQuote { line: relative } => TabularError::UnclosedQuote {
                        line: line + relative,
                    },
                    other => other,
                });
            }
            line += output.n_lines;
            chunks.push(output);
        }
    }
    Ok(gather(chunks, layout.data_line))
}

/// Stands for [`TabularError::InvalidUtf8`] until the caller, which knows
/// the byte-order mark and line numbers, rewrites it.
fn invalid_utf8(offset: usize) -> TabularError {
    TabularError::InvalidUtf8 {
        line: 0,
        byte_offset: offset,
    }
}

/// Cuts `bytes[from..]` into ranges of about `chunk_bytes`, each but the
/// first starting just after a line break.
fn cut(bytes: &[u8], from: usize, chunk_bytes: usize) -> Vec<(usize, usize)> {
    let n_chunks = ((bytes.len() - from) / chunk_bytes.max(1)).max(1);
    let step = (bytes.len() - from) / n_chunks;
    let mut starts = vec![from];
    for index in 1..n_chunks {
        let nominal = from + index * step;
        let Some(newline) = bytes[nominal..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let start = nominal + newline + 1;
        if start < bytes.len() && start > *starts.last().unwrap_or(&from) {
            starts.push(start);
        }
    }
    let ends = starts.iter().skip(1).copied().chain([bytes.len()]);
    starts.iter().copied().zip(ends).collect()
}

/// Joins the chunks' line numbers, raggedness and inference.
fn gather(chunks: Vec<ChunkOutput>, data_line: usize) -> Records {
    let n_rows = chunks.iter().map(|chunk| chunk.lines.len()).sum();
    let mut lines = Vec::with_capacity(n_rows);
    let mut first_ragged = None;
    let mut inference: Vec<Inference> = Vec::new();
    let mut line = data_line;
    for chunk in &chunks {
        let row_offset = lines.len();
        lines.extend(chunk.lines.iter().map(|relative| line + relative));
        if first_ragged.is_none() {
            first_ragged = chunk.first_ragged.map(|shape| RecordShape {
                line: line + shape.line,
                n_fields: shape.n_fields,
            });
        }
        for (index, column) in chunk.columns.iter().enumerate() {
            let later = column.inference.clone();
            match inference.get_mut(index) {
                Some(merged) => merged.append(later, row_offset),
                None => inference.push(later),
            }
        }
        line += chunk.n_lines;
    }
    Records {
        chunks,
        lines,
        first_ragged,
        inference,
    }
}

impl Records {
    pub(super) fn n_rows(&self) -> usize {
        self.lines.len()
    }

    /// The first value of a declared column that is not of its type, in
    /// column order, then row order: `(column, row, raw text)`.
    pub(super) fn first_invalid(&self) -> Option<(usize, usize, String)> {
        let n_columns = self.chunks.first().map_or(0, |chunk| chunk.columns.len());
        (0..n_columns).find_map(|column| {
            let mut row_offset = 0;
            for chunk in &self.chunks {
                if let Some((row, text)) = &chunk.columns[column].first_invalid {
                    return Some((column, row_offset + row, text.clone()));
                }
                row_offset += chunk.lines.len();
            }
            None
        })
    }

    /// Converts every chunk to the settled column types and joins each
    /// column into one arrow array.
    pub(super) fn into_columns(
        self,
        layout: &Layout<'_>,
        types: &[ColumnType],
    ) -> Result<Vec<ArrayRef>, TabularError> {
        let n_rows = self.chunks.iter().map(|chunk| chunk.lines.len()).sum();
        let chunks = parallel_map(self.chunks, |mut chunk| {
            settle(layout, &mut chunk, types);
            chunk
        })?;
        let mut per_column: Vec<Vec<ColumnChunk>> = types.iter().map(|_| Vec::new()).collect();
        for chunk in chunks {
            for (column, part) in chunk.columns.into_iter().enumerate() {
                per_column[column].push(part);
            }
        }
        parallel_map(per_column, |parts| join_column(parts, n_rows))?
            .into_iter()
            .collect()
    }
}

/// Brings one chunk's columns to their settled types, re-reading from the
/// text the rows whose parsed values cannot be converted.
fn settle(layout: &Layout<'_>, chunk: &mut ChunkOutput, types: &[ColumnType]) {
    for (column, &column_type) in chunk.columns.iter_mut().zip(types) {
        let n_rows = column.n_rows();
        let current = column.values.column_type();
        if current == Some(column_type) {
            continue;
        }
        column.values = match (
            std::mem::replace(&mut column.values, Values::Unknown),
            column_type,
        ) {
            (Values::Unknown, _) => {
                let mut values = Values::empty(column_type);
                for _ in 0..n_rows {
                    values.push_default();
                }
                values
            }
            (Values::Integer(values), ColumnType::Float) if !column.negative_zero => {
                Values::Float(values.iter().map(|&v| v as f64).collect())
            }
            _ => {
                column.reread = n_rows;
                Values::empty(column_type)
            }
        };
    }
    let rereads: Vec<usize> = chunk.columns.iter().map(|column| column.reread).collect();
    let Some(&n_reread) = rereads.iter().max() else {
        return;
    };
    if n_reread == 0 {
        return;
    }
    let mut prefixes: Vec<Option<Values>> = chunk
        .columns
        .iter()
        .map(|column| {
            (column.reread > 0).then(|| {
                Values::empty(
                    column
                        .values
                        .column_type()
                        .unwrap_or(ColumnType::Categorical),
                )
            })
        })
        .collect();
    let mut cursor = Cursor::new(layout.bytes, layout.delimiter);
    cursor.at = chunk.start;
    for row in 0..n_reread {
        if !cursor.start_record(layout.bytes.len()) {
            break;
        }
        for (column, prefix) in prefixes.iter_mut().enumerate() {
            // The chunk parsed without errors, so its records read again cleanly.
            let Ok((field, _)) = cursor.field() else {
                return;
            };
            let Some(prefix) = prefix.as_mut().filter(|_| row < rereads[column]) else {
                continue;
            };
            let cell = cursor.cell(&field);
            let parsed = present_bytes(cell).is_some_and(|value| prefix.push_parsed(cell, value));
            if !parsed {
                prefix.push_default();
            }
        }
    }
    for (column, prefix) in chunk.columns.iter_mut().zip(prefixes) {
        if let Some(mut prefix) = prefix {
            prefix.append(std::mem::replace(&mut column.values, Values::Unknown));
            column.values = prefix;
            column.reread = 0;
        }
    }
}

/// Joins one column's chunks (all of one type) into an arrow array.
fn join_column(parts: Vec<ColumnChunk>, n_rows: usize) -> Result<ArrayRef, TabularError> {
    let mut nulls = NullBufferBuilder::new(n_rows);
    for part in &parts {
        if part.n_missing == 0 {
            nulls.append_n_non_nulls(part.n_rows);
        } else {
            nulls.append_slice(&part.valid);
        }
    }
    let nulls = nulls.finish();
    let text_bytes = parts
        .iter()
        .map(|part| part.values.text_bytes())
        .sum::<usize>();
    let first_rows = parts.first().map_or(0, ColumnChunk::n_rows);
    let mut values = parts.into_iter().map(|part| part.values);
    let Some(mut first) = values.next() else {
        return Err(TabularError::Decode("no decoded parts".to_string()));
    };
    // One allocation for the whole column, not one per doubling.
    first.reserve(n_rows - first_rows, text_bytes - first.text_bytes());
    for later in values {
        first.append(later);
    }
    Ok(match first {
        Values::Integer(values) => Arc::new(Int64Array::new(values.into(), nulls)),
        Values::Float(values) => Arc::new(Float64Array::new(values.into(), nulls)),
        Values::Boolean(values) => {
            let mut buffer = BooleanBufferBuilder::new(values.len());
            buffer.append_slice(&values);
            Arc::new(BooleanArray::new(buffer.finish(), nulls))
        }
        Values::Text { bytes, lengths } => {
            if i32::try_from(bytes.len()).is_err() {
                return Err(TabularError::Decode(format!(
                    "a text column holds {} bytes; at most {} fit in one column",
                    bytes.len(),
                    i32::MAX
                )));
            }
            let mut offsets = OffsetBufferBuilder::<i32>::new(lengths.len());
            for length in lengths {
                offsets.push_length(length as usize);
            }
            let array = StringArray::try_new(offsets.finish(), bytes.into(), nulls)
                .map_err(|error| TabularError::Decode(error.to_string()))?;
            Arc::new(array)
        }
        Values::Unknown => {
            return Err(TabularError::Decode(
                "a column was left without a type".to_string(),
            ));
        }
    })
}

/// Maps `items` on up to as many threads as there are cores, keeping order.
fn parallel_map<T: Send, R: Send>(
    items: Vec<T>,
    map: impl Fn(T) -> R + Sync,
) -> Result<Vec<R>, TabularError> {
    let n_threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if n_threads <= 1 {
        return Ok(items.into_iter().map(map).collect());
    }
    let n_items = items.len();
    let slots: Vec<Mutex<Option<T>>> = items
        .into_iter()
        .map(|item| Mutex::new(Some(item)))
        .collect();
    let next = AtomicUsize::new(0);
    let stopped = || TabularError::Decode("a decoding thread stopped unexpectedly".to_string());
    let mut results: Vec<Option<R>> = (0..n_items).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..n_threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(slot) = slots.get(index) else {
                            break done;
                        };
                        let item = slot.lock().ok().and_then(|mut item| item.take());
                        if let Some(item) = item {
                            done.push((index, map(item)));
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            for (index, result) in worker.join().map_err(|_| stopped())? {
                results[index] = Some(result);
            }
        }
        Ok::<(), TabularError>(())
    })?;
    results
        .into_iter()
        .map(|result| result.ok_or_else(stopped))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random plain decimal: sign, up to 22 digits, maybe a point.
    fn decimal(rng: &mut versa_core::Rng) -> String {
        let mut text = String::new();
        match rng.below(4) {
            0 => text.push('-'),
            1 => text.push('+'),
            _ => {}
        }
        let n_digits = rng.below(23);
        let point = rng.below(n_digits + 2);
        for index in 0..n_digits {
            if index == point {
                text.push('.');
            }
            // Leading zeros and long runs of nines are the edge cases.
            let digit = match rng.below(4) {
                0 => 0,
                1 => 9,
                _ => rng.below(10) as u8,
            };
            text.push(char::from(b'0' + digit));
        }
        text
    }

    #[test]
    fn fast_number_paths_agree_with_the_general_parsers_bit_for_bit() {
        let mut rng = versa_core::Rng::new(5);
        for _ in 0..200_000 {
            let text = decimal(&mut rng);
            for end in ["", ",next", "\r\n", "\n"] {
                let field = format!("{text}{end}");
                let cursor = Cursor::new(field.as_bytes(), b',');
                let fast = fast_float(&cursor, 0);
                if let Some((_, stop)) = fast {
                    assert_eq!(stop, text.len(), "{field:?}");
                }
                let general = parse_float(&text);
                match fast {
                    Some((value, _)) => {
                        assert_eq!(Some(value.to_bits()), general.map(f64::to_bits), "{text}")
                    }
                    // Declining is allowed only where the general path is needed.
                    None => assert!(
                        text.bytes().filter(u8::is_ascii_digit).count() > 19 || general.is_none(),
                        "{text}"
                    ),
                }
                if let Some((value, stop, negative)) = fast_integer(&cursor, 0) {
                    assert_eq!(stop, text.len());
                    assert_eq!(Some(value), parse_integer(&text), "{text}");
                    assert_eq!(negative, text.starts_with('-'));
                } else {
                    let n_digits = text.bytes().filter(u8::is_ascii_digit).count();
                    assert!(parse_integer(&text).is_none() || n_digits > 18, "{text}");
                }
            }
        }
        // Not plain decimals: left to the general path.
        for text in [
            "1e5", "1.2.3", "", "-", ".", "inf", "0x1", "1_0", "+-1", "1 ",
        ] {
            let cursor = Cursor::new(text.as_bytes(), b',');
            assert!(fast_float(&cursor, 0).is_none(), "{text}");
            assert!(fast_integer(&cursor, 0).is_none(), "{text}");
        }
    }

    #[test]
    fn cuts_start_after_line_breaks_and_cover_everything() {
        let text = b"a,b\n1,2\n3,4\r\n5,6\n\n7,8\n";
        for chunk_bytes in 1..text.len() + 2 {
            let ranges = cut(text, 4, chunk_bytes);
            assert_eq!(ranges.first().map(|r| r.0), Some(4));
            assert_eq!(ranges.last().map(|r| r.1), Some(text.len()));
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].1, pair[1].0);
                assert_eq!(text[pair[1].0 - 1], b'\n');
            }
        }
    }
}
