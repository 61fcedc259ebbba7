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
//! Numbers and booleans are parsed straight into their column's final
//! buffer: before parsing, each chunk's line breaks are counted, which
//! bounds its records, and each chunk gets a window of that many rows in
//! every column's slots. Chunks then fill their windows in parallel and the
//! finished column is the buffer itself (closed up only where a window had
//! room to spare, e.g. blank lines), not a copy joined from parts. Text,
//! whose length is not known beforehand, is collected per chunk and joined
//! as the chunks finish (see [`placement`]).
//!
//! This module knows the record syntax and the value rules; it knows
//! nothing of headers, delimiter detection or type overrides by name.

mod placement;

use std::sync::{Arc, Mutex};

use arrow_array::builder::{BooleanBufferBuilder, NullBufferBuilder};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, UInt64Array,
};
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::DataType;
use versa_core::ColumnType;

use super::buffer::{ColumnBuffer, Slots};
use super::{
    Inference, MISSING_MARKERS, POWERS_OF_TEN, RecordShape, decimal_quotient, parse_boolean,
    parse_float, parse_integer, present,
};
use crate::error::TabularError;
use crate::parallel::{available_threads, map_in_order};
use crate::table::SourceLines;
use placement::{PlacedColumn, Placement};

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

    /// Where unquoted text starting at `at` ends: looked for eight bytes at
    /// a time (a word's bytes equal to the delimiter or a line break are
    /// flagged with integer arithmetic), then byte by byte near the end.
    #[inline]
    fn field_end(&self, at: usize) -> usize {
        let delimiter = self.delimiter;
        let bytes = self.bytes;
        let delimiters = spread(delimiter);
        let mut at = at;
        while let Some(word) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
            let word = u64::from_le_bytes(*word);
            let found = zero_bytes(word ^ delimiters)
                | zero_bytes(word ^ spread(b'\n'))
                | zero_bytes(word ^ spread(b'\r'));
            if found != 0 {
                return at + (found.trailing_zeros() / 8) as usize;
            }
            at += 8;
        }
        let rest = &bytes[at..];
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

/// `byte` in every byte of a word.
#[inline]
fn spread(byte: u8) -> u64 {
    u64::from(byte) * 0x0101_0101_0101_0101
}

/// The high bit of each zero byte of `word`, exact up to the lowest zero
/// byte (a borrow may flag bytes above it, which no caller looks at).
#[inline]
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(spread(1)) & !word & spread(0x80)
}

/// One value's trimmed bytes, or `None` when it is a missing marker (the
/// rules of [`present`], on bytes).
#[inline]
fn present_bytes(cell: &[u8]) -> Option<&[u8]> {
    if plainly_present(cell) {
        return Some(cell);
    }
    match std::str::from_utf8(cell) {
        Ok(text) => present(text).map(str::as_bytes),
        // Only in input that fails UTF-8 validation, which is reported instead.
        Err(_) => Some(cell),
    }
}

/// Whether a cell is present as it is: no surrounding whitespace (ASCII
/// space and controls, or any non-ASCII byte that might start a Unicode
/// space) and not a missing marker, so trimming would change nothing. Cells
/// starting with `N`/`n` (`north`, `no`) are compared with the markers here,
/// rather than sent the slow way.
#[inline]
fn plainly_present(cell: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (cell.first(), cell.last()) else {
        return false;
    };
    first > b' '
        && first < 0x80
        && last > b' '
        && last < 0x80
        && ((first != b'N' && first != b'n')
            || !MISSING_MARKERS
                .iter()
                .any(|marker| marker.as_bytes() == cell))
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

/// How [`fast_float`] reads digits: one at a time, or also eight at a time
/// where a run of digits can start (first, and after the point). Eight at a
/// time shortens the chain of dependent steps for long mantissas (the
/// 17-digit shortest form of a double takes three steps instead of
/// seventeen) but costs a failed check on short ones, so each column
/// chooses by the length of its previous value. Both read the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DigitRuns {
    Single,
    Eights,
}

/// The value of the eight ASCII digits at `at`, or `None` when fewer than
/// eight bytes remain or any of them is not a digit. The bytes are read as
/// one little-endian word (the first digit in the low byte) and combined in
/// three steps that each join neighbouring lanes: pairs (`10a + b`, one byte
/// each), fours (`100p + q`, 16 bits each), eights (`10000r + s`); no lane
/// ever exceeds its width, so nothing carries between lanes.
#[inline]
fn eight_digits(bytes: &[u8], at: usize) -> Option<u64> {
    let word = u64::from_le_bytes(*bytes.get(at..)?.first_chunk::<8>()?);
    let values = word.wrapping_sub(spread(b'0'));
    // A digit byte minus `0` is at most 9, and plus 0x46 stays below 0x80;
    // the lowest non-digit byte sets a high bit in one of the two (the
    // digits below it neither borrow nor carry), so none set means all
    // eight are digits.
    if (values | word.wrapping_add(spread(0x46))) & spread(0x80) != 0 {
        return None;
    }
    let pairs = (values * 10 + (values >> 8)) & 0x00ff_00ff_00ff_00ff;
    let fours = (pairs * 100 + (pairs >> 16)) & 0x0000_ffff_0000_ffff;
    Some((fours * 10_000 + (fours >> 32)) & 0xffff_ffff)
}

/// An unquoted plain decimal (`-12.5`, `.5`, `7.`; no exponent, at most 19
/// digits) at `at` that runs to a field end, parsed exactly as
/// [`parse_float`] would, and where it ends.
#[inline]
fn fast_float(cursor: &Cursor<'_>, at: usize, runs: DigitRuns) -> Option<(f64, usize)> {
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
    // More than 19 digits overflow `mantissa`, and are declined below.
    let eights = |end: &mut usize, mantissa: &mut u64| {
        let mut taken = 0;
        while runs == DigitRuns::Eights
            && let Some(eight) = eight_digits(bytes, *end)
        {
            *mantissa = mantissa.wrapping_mul(100_000_000).wrapping_add(eight);
            *end += 8;
            taken += 8;
        }
        taken
    };
    n_digits += eights(&mut end, &mut mantissa);
    while let Some(&byte) = bytes.get(end) {
        let digit = byte.wrapping_sub(b'0');
        if digit <= 9 {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
            n_digits += 1;
            fraction += usize::from(seen_point);
        } else if byte == b'.' && !seen_point {
            seen_point = true;
            end += 1;
            let taken = eights(&mut end, &mut mantissa);
            n_digits += taken;
            fraction += taken;
            continue;
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
    if let Some(magnitude) = decimal_quotient(mantissa, fraction) {
        return Some((if negative { -magnitude } else { magnitude }, end));
    }
    let text = std::str::from_utf8(&bytes[at..end]).ok()?;
    let value = text.parse::<f64>().ok().filter(|value| value.is_finite())?;
    Some((value, end))
}

/// A column's values within one chunk, in its current (speculative or
/// declared) type. Numbers and booleans are written straight into the
/// column's slots (one `u64` per row: the i64, the f64's bit pattern, or 0
/// and 1), a buffer shared by all chunks of the column in which each chunk
/// owns a window, so that the finished column needs no joining copy. Text is
/// collected per chunk and joined while parsing (see [`placement`]).
enum Values {
    /// Only missing cells so far (their slots hold 0).
    Unknown,
    Integer,
    Float,
    Boolean,
    Text {
        bytes: Vec<u8>,
        lengths: Vec<u32>,
    },
}

impl Values {
    fn empty(column_type: ColumnType) -> Values {
        match column_type {
            ColumnType::Integer => Values::Integer,
            ColumnType::Float => Values::Float,
            ColumnType::Boolean => Values::Boolean,
            ColumnType::Categorical => Values::Text {
                bytes: Vec::new(),
                lengths: Vec::new(),
            },
        }
    }

    fn column_type(&self) -> Option<ColumnType> {
        match self {
            Values::Unknown => None,
            Values::Integer => Some(ColumnType::Integer),
            Values::Float => Some(ColumnType::Float),
            Values::Boolean => Some(ColumnType::Boolean),
            Values::Text { .. } => Some(ColumnType::Categorical),
        }
    }

    /// Stores a missing cell's placeholder at `row` (0 in every slot type:
    /// `0`, `0.0` and `false` alike), or appends an empty text.
    #[inline]
    fn push_default(&mut self, slots: &mut [u64], row: usize) {
        match self {
            Values::Text { lengths, .. } => lengths.push(0),
            // Slots start zeroed and a row of a column still unknown was
            // never written: writing its 0 again would only map the page
            // (a 2 MiB one) under a text column, which never uses its slots.
            Values::Unknown => {}
            _ => slots[row] = 0,
        }
    }

    /// Parses a present cell as this type into `row`; false when it is not one.
    fn push_parsed(&mut self, slots: &mut [u64], row: usize, cell: &[u8], value: &[u8]) -> bool {
        match self {
            Values::Unknown => None,
            Values::Integer => parse_integer(as_text(value)).map(|v| slots[row] = v as u64),
            Values::Float => parse_float(as_text(value)).map(|v| slots[row] = v.to_bits()),
            Values::Boolean => parse_boolean(as_text(value)).map(|v| slots[row] = u64::from(v)),
            Values::Text { bytes, lengths } => {
                bytes.extend_from_slice(cell);
                lengths.push(cell.len() as u32);
                Some(())
            }
        }
        .is_some()
    }

    fn text_bytes(&self) -> usize {
        match self {
            Values::Text { bytes, .. } => bytes.len(),
            _ => 0,
        }
    }

    /// Appends `later`'s text, when both are text.
    fn append(&mut self, later: Values) {
        if let (
            Values::Text { bytes, lengths },
            Values::Text {
                bytes: later_bytes,
                lengths: later_lengths,
            },
        ) = (self, later)
        {
            bytes.extend(later_bytes);
            lengths.extend(later_lengths);
        }
    }
}

/// A text column's buffers in one chunk: its cells' bytes, one after the
/// other, and each cell's length.
type TextParts = (Vec<u8>, Vec<u32>);

/// `buffer` emptied, with room for at least `n` values. A buffer too small
/// is replaced rather than grown: growing would copy its old contents. The
/// new one has a quarter to spare, so that the next chunks' (whose windows
/// differ by a few rows) fit in it when it is handed on.
fn emptied<T>(mut buffer: Vec<T>, n: usize) -> Vec<T> {
    if buffer.capacity() < n {
        return Vec::with_capacity(n + n / 4);
    }
    buffer.clear();
    buffer
}

/// Rewrites integer slots as the floats they convert to.
fn integers_to_floats(slots: &mut [u64]) {
    for slot in slots {
        *slot = (*slot as i64 as f64).to_bits();
    }
}

/// Text bytes per row reserved up front for a text column of a chunk:
/// growing by doubling copies, and room never written costs no memory.
const TEXT_BYTES_GUESS: usize = 16;

/// One column of one chunk.
struct ColumnChunk {
    /// The values of rows `reread..` (in the chunk's window of the column's
    /// slots, or as text); rows before `reread` are to be read again from
    /// the text once the column's type is settled.
    values: Values,
    reread: usize,
    /// The rows (ascending) whose cell is missing (or, for declared types,
    /// invalid): a few percent of rows in most data, so listing them beats
    /// a flag per row.
    missing_rows: Vec<usize>,
    n_rows: usize,
    declared: Option<ColumnType>,
    /// Rows relative to the chunk.
    inference: Inference,
    /// Declared columns: the first (row, raw text) not of the declared type.
    first_invalid: Option<(usize, String)>,
    /// An integer written `-0` (or `-00`…) was read: as a float it is `-0.0`,
    /// which converting the integer `0` would lose.
    negative_zero: bool,
    /// How the next float is read (see [`DigitRuns`]).
    digit_runs: DigitRuns,
    /// Whether this part was placed in its column's joined text (see
    /// [`placement`]); its own text has then been handed on.
    placed: bool,
    /// Emptied text buffers of an earlier chunk, to fill if the column
    /// turns out to be text here (see [`placement`]).
    spare: Option<TextParts>,
}

impl ColumnChunk {
    fn new(declared: Option<ColumnType>, capacity: usize, spare: Option<TextParts>) -> ColumnChunk {
        let mut column = ColumnChunk {
            values: Values::Unknown,
            reread: 0,
            missing_rows: Vec::new(),
            n_rows: 0,
            declared,
            inference: Inference::default(),
            first_invalid: None,
            negative_zero: false,
            digit_runs: DigitRuns::Single,
            placed: false,
            spare,
        };
        column.values = match declared {
            Some(ColumnType::Categorical) => column.new_text(capacity),
            declared => declared.map_or(Values::Unknown, Values::empty),
        };
        column
    }

    /// Empty text values with room for `capacity` rows, in the spare
    /// buffers if there are any.
    fn new_text(&mut self, capacity: usize) -> Values {
        let (bytes, lengths) = self.spare.take().unwrap_or_default();
        Values::Text {
            bytes: emptied(bytes, capacity * TEXT_BYTES_GUESS),
            lengths: emptied(lengths, capacity),
        }
    }

    fn n_rows(&self) -> usize {
        self.n_rows
    }

    #[inline]
    fn push_present(&mut self) {
        self.n_rows += 1;
    }

    #[inline]
    fn push_missing(&mut self, slots: &mut [u64]) {
        self.missing_rows.push(self.n_rows);
        self.values.push_default(slots, self.n_rows);
        self.n_rows += 1;
    }

    /// Reads the field at the cursor into this column; whether another
    /// field of the same record follows.
    #[inline]
    fn read(
        &mut self,
        slots: &mut [u64],
        cursor: &mut Cursor<'_>,
        row: usize,
    ) -> Result<bool, TabularError> {
        let at = cursor.at;
        if cursor.ends_field(at) {
            // An empty cell: the marker `""`, missing in every type.
            self.push_missing(slots);
            return Ok(cursor.end_field());
        }
        match &mut self.values {
            Values::Integer => {
                if let Some((value, end, negative)) = fast_integer(cursor, at) {
                    self.negative_zero |= negative && value == 0;
                    slots[self.n_rows] = value as u64;
                    self.push_present();
                    cursor.at = end;
                    return Ok(cursor.end_field());
                }
            }
            Values::Float => {
                if let Some((value, end)) = fast_float(cursor, at, self.digit_runs) {
                    // Full-precision columns are long throughout.
                    self.digit_runs = if end - at >= 16 {
                        DigitRuns::Eights
                    } else {
                        DigitRuns::Single
                    };
                    slots[self.n_rows] = value.to_bits();
                    self.push_present();
                    cursor.at = end;
                    return Ok(cursor.end_field());
                }
            }
            Values::Text { bytes, lengths } if cursor.bytes.get(at) != Some(&b'"') => {
                // Unquoted text that needs no trimming and is no marker.
                let end = cursor.field_end(at);
                let cell = &cursor.bytes[at..end];
                if plainly_present(cell) {
                    // Short cells are copied as one fixed 16-byte block
                    // (a couple of vector moves, where a copy of variable
                    // length is a call) and the excess cut off.
                    match cursor.bytes.get(at..at + 16) {
                        Some(wide) if cell.len() <= 16 => {
                            let mut block = [0u8; 16];
                            block.copy_from_slice(wide);
                            bytes.extend_from_slice(&block);
                            bytes.truncate(bytes.len() - 16 + cell.len());
                        }
                        _ => bytes.extend_from_slice(cell),
                    }
                    lengths.push(cell.len() as u32);
                    self.push_present();
                    cursor.at = end;
                    return Ok(cursor.end_field());
                }
            }
            _ => {}
        }
        let (field, more) = cursor.field()?;
        self.push_cell(slots, cursor.cell(&field), row);
        Ok(more)
    }

    fn push_cell(&mut self, slots: &mut [u64], cell: &[u8], row: usize) {
        let Some(value) = present_bytes(cell) else {
            self.push_missing(slots);
            return;
        };
        if self.declared.is_some() {
            if self.values.push_parsed(slots, self.n_rows, cell, value) {
                self.push_present();
            } else {
                if self.first_invalid.is_none() {
                    self.first_invalid = Some((row, String::from_utf8_lossy(cell).into_owned()));
                }
                self.push_missing(slots);
            }
            return;
        }
        let noted = |value: &[u8]| Some((row, String::from_utf8_lossy(value).into_owned()));
        loop {
            if self.values.push_parsed(slots, self.n_rows, cell, value) {
                if let Values::Integer = self.values {
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
            // The missing cells read so far hold 0 in their slots, which is
            // the placeholder of every slot type.
            let widened = match (&self.values, is_integer, is_float, is_boolean) {
                (Values::Unknown, true, ..) => Values::Integer,
                (Values::Unknown, false, true, _) => Values::Float,
                (Values::Unknown, false, false, true) => Values::Boolean,
                (Values::Unknown, ..) => {
                    let mut text = self.new_text(slots.len());
                    if let Values::Text { lengths, .. } = &mut text {
                        lengths.resize(n_rows, 0);
                    }
                    text
                }
                (Values::Integer, _, true, _) if !self.negative_zero => {
                    integers_to_floats(&mut slots[..n_rows]);
                    Values::Float
                }
                (Values::Integer, _, true, _) => {
                    self.reread = n_rows;
                    Values::Float
                }
                _ => {
                    self.reread = n_rows;
                    self.new_text(slots.len())
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
    /// The chunk's window of every column's slots: `(first slot, slots)`.
    window: (usize, usize),
    /// Line breaks consumed between `start` and `stop`.
    n_lines: usize,
    /// Records parsed.
    n_records: usize,
    /// `(record, line)` relative to the chunk's first record and line, for
    /// the first record and every record not on the line after the previous
    /// one's first (see [`SourceLines`]); the other records' lines follow.
    line_runs: Vec<(usize, usize)>,
    columns: Vec<ColumnChunk>,
    /// The first record whose width differs (relative line).
    first_ragged: Option<RecordShape>,
    /// A structural error (relative line): only an unclosed quote.
    error: Option<TabularError>,
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
    /// Per column, the slots of every chunk's window (see [`Values`]).
    slots: Vec<Slots>,
    /// Per column, its text placed while parsing (see [`placement`]).
    text: Vec<PlacedColumn>,
    /// Per record, its 1-based line.
    pub(super) lines: SourceLines,
    pub(super) first_ragged: Option<RecordShape>,
    /// Per column, the inference over all records (absolute rows).
    pub(super) inference: Vec<Inference>,
}

/// What a quick look at one chunk's bytes found before it is parsed.
struct Scan {
    /// The offset of the first byte that is not UTF-8, when validated.
    invalid_utf8: Option<usize>,
    /// At most this many records start in the chunk: its window's size.
    max_records: usize,
}

fn scan(bytes: &[u8], start: usize, end: usize, validate: bool) -> Scan {
    let range = &bytes[start..end];
    let (line_feeds, returns, all_ascii) = count_line_breaks(range);
    // ASCII is UTF-8; anything else is validated properly.
    let invalid_utf8 = if validate && !all_ascii {
        std::str::from_utf8(range)
            .err()
            .map(|error| start + error.valid_up_to())
    } else {
        None
    };
    let pairs = if returns == 0 {
        0
    } else {
        range.windows(2).filter(|pair| pair == b"\r\n").count()
    };
    // An upper bound on the records that start in the range: every record
    // but the first starts after the line break (`\n`, `\r\n` or a lone `\r`,
    // each counted once) that ended the one before it, and a range ending in
    // a line break has no record starting after that last break.
    let ends_with_break = matches!(range.last(), Some(b'\n' | b'\r'));
    Scan {
        invalid_utf8,
        max_records: line_feeds + returns - pairs + 1 - usize::from(ends_with_break),
    }
}

/// The `\n` and `\r` bytes of `range`, and whether all its bytes are ASCII,
/// in one pass (byte-wide counters per block keep the loop vectorized).
fn count_line_breaks(range: &[u8]) -> (usize, usize, bool) {
    let (mut line_feeds, mut returns, mut high_bits) = (0usize, 0usize, 0u8);
    for block in range.chunks(255) {
        let (mut lf, mut cr, mut high) = (0u8, 0u8, 0u8);
        for &byte in block {
            lf += u8::from(byte == b'\n');
            cr += u8::from(byte == b'\r');
            high |= byte;
        }
        line_feeds += usize::from(lf);
        returns += usize::from(cr);
        high_bits |= high;
    }
    (line_feeds, returns, high_bits < 0x80)
}

#[cfg(test)]
fn max_records(range: &[u8]) -> usize {
    scan(range, 0, range.len(), false).max_records
}

fn parse_chunk(
    layout: &Layout<'_>,
    (start, end): (usize, usize),
    window: (usize, usize),
    mut slots: Vec<&mut [u64]>,
    spares: Vec<Option<TextParts>>,
) -> ChunkOutput {
    let n_columns = layout.declared.len();
    let capacity = window.1;
    let mut output = ChunkOutput {
        start,
        stop: end,
        window,
        n_lines: 0,
        n_records: 0,
        line_runs: Vec::new(),
        columns: layout
            .declared
            .iter()
            .zip(spares)
            .map(|(declared, spare)| ColumnChunk::new(*declared, capacity, spare))
            .collect(),
        first_ragged: None,
        error: None,
    };
    let mut cursor = Cursor::new(layout.bytes, layout.delimiter);
    cursor.at = start;
    cursor.line = 0;
    if let Err(error) = parse_records(&mut cursor, end, n_columns, &mut output, &mut slots) {
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
    slots: &mut [&mut [u64]],
) -> Result<(), TabularError> {
    while cursor.start_record(end) {
        let row = output.n_records;
        let line = cursor.line;
        if output
            .line_runs
            .last()
            .is_none_or(|&(start, first)| first + (row - start) != line)
        {
            output.line_runs.push((row, line));
        }
        output.n_records += 1;
        let mut n_fields = 0;
        let mut more = true;
        for (column, slots) in output.columns.iter_mut().zip(slots.iter_mut()) {
            if more {
                more = column.read(slots, cursor, row)?;
                n_fields += 1;
            } else {
                column.push_missing(slots);
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
    let n_columns = layout.declared.len();
    let mut chunks: Vec<ChunkOutput> = Vec::new();
    let mut slots: Vec<Slots> = Vec::new();
    // The first slot not taken by a kept chunk.
    let mut free_slot = 0;
    let mut at = layout.data_start;
    let mut first_round = true;
    let placement = Mutex::new(Placement::new(n_columns, bytes.len() - layout.data_start));
    let lost = || TabularError::Decode("a decoding thread stopped unexpectedly".to_string());
    let mut line = layout.data_line;
    while at < bytes.len() {
        let ranges = cut(bytes, at, layout.chunk_bytes);
        let validate = first_round;
        let scans = parallel_map(ranges.clone(), |(start, end)| {
            scan(bytes, start, end, validate)
        })?;
        if let Some(offset) = scans.iter().find_map(|scan| scan.invalid_utf8) {
            return Err(invalid_utf8(offset));
        }
        first_round = false;
        let mut windows = Vec::with_capacity(scans.len());
        let mut next = free_slot;
        for scan in &scans {
            windows.push((next, scan.max_records));
            next += scan.max_records;
        }
        // ColumnBuffer memory is mapped lazily, so slots never written cost nothing.
        if slots.is_empty() {
            slots = (0..n_columns).map(|_| Slots::zeroed(next)).collect();
        } else {
            for column in &mut slots {
                column.grow(next);
            }
        }
        let items: Vec<_> = ranges
            .into_iter()
            .zip(windows.iter().copied())
            .zip(split_windows(&mut slots, &windows))
            .enumerate()
            .collect();
        placement
            .lock()
            .map_err(|_| lost())?
            .start_round(items.len(), at, next);
        parallel_map(items, |(index, ((range, window), slots))| {
            let spares = placement.lock().map(|mut placement| placement.spares());
            let spares = spares.unwrap_or_else(|_| (0..n_columns).map(|_| None).collect());
            let output = parse_chunk(layout, range, window, slots, spares);
            if let Ok(mut placement) = placement.lock() {
                placement.finish(index, output);
            }
        })?;
        let outputs = placement
            .lock()
            .map_err(|_| lost())?
            .take_finished()
            .ok_or_else(lost)?;
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
            free_slot = output.window.0 + output.window.1;
            chunks.push(output);
        }
    }
    let text = placement.into_inner().map_err(|_| lost())?.columns;
    gather(chunks, slots, text, layout.data_line)
}

/// Each chunk's window `(first slot, slots)` of every column's slots, per
/// chunk; the windows must be in ascending order and not overlap.
fn split_windows<'s>(
    slots: &'s mut [Slots],
    windows: &[(usize, usize)],
) -> Vec<Vec<&'s mut [u64]>> {
    let mut per_chunk: Vec<Vec<&mut [u64]>> = windows
        .iter()
        .map(|_| Vec::with_capacity(slots.len()))
        .collect();
    for column in slots.iter_mut() {
        let mut rest: &mut [u64] = column;
        let mut at = 0;
        for (chunk, &(first, len)) in per_chunk.iter_mut().zip(windows) {
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(first - at);
            let (window, tail) = tail.split_at_mut(len);
            chunk.push(window);
            rest = tail;
            at = first + len;
        }
    }
    per_chunk
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

/// Joins the chunks' line numbers (made absolute), raggedness and
/// inference.
fn gather(
    chunks: Vec<ChunkOutput>,
    slots: Vec<Slots>,
    text: Vec<PlacedColumn>,
    data_line: usize,
) -> Result<Records, TabularError> {
    let mut lines = SourceLines::default();
    let mut first_ragged = None;
    let mut inference: Vec<Inference> = Vec::new();
    let mut line = data_line;
    let mut row_offset = 0;
    for chunk in &chunks {
        let runs = &chunk.line_runs;
        for (index, &(record, relative)) in runs.iter().enumerate() {
            let next = runs
                .get(index + 1)
                .map_or(chunk.n_records, |&(next, _)| next);
            lines.push_run(row_offset + record, line + relative, next - record);
        }
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
        row_offset += chunk.n_records;
        line += chunk.n_lines;
    }
    Ok(Records {
        chunks,
        slots,
        text,
        lines,
        first_ragged,
        inference,
    })
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
                row_offset += chunk.n_records;
            }
            None
        })
    }

    /// Converts every chunk to the settled column types and makes each
    /// column one arrow array.
    pub(super) fn into_columns(
        self,
        layout: &Layout<'_>,
        types: &[ColumnType],
    ) -> Result<Vec<ArrayRef>, TabularError> {
        let Records {
            chunks,
            mut slots,
            text,
            ..
        } = self;
        let n_rows = chunks.iter().map(|chunk| chunk.n_records).sum();
        let windows: Vec<(usize, usize)> = chunks.iter().map(|chunk| chunk.window).collect();
        let items: Vec<_> = chunks
            .into_iter()
            .zip(split_windows(&mut slots, &windows))
            .collect();
        let chunks = parallel_map(items, |(mut chunk, mut slots)| {
            settle(layout, &mut chunk, &mut slots, types);
            chunk
        })?;
        let mut per_column: Vec<(Vec<ColumnChunk>, Slots, PlacedColumn)> = slots
            .into_iter()
            .zip(text)
            .map(|(slots, text)| (Vec::new(), slots, text))
            .collect();
        for chunk in chunks {
            for (column, part) in chunk.columns.into_iter().enumerate() {
                per_column[column].0.push(part);
            }
        }
        let items: Vec<_> = per_column.into_iter().zip(types.iter().copied()).collect();
        parallel_map(items, |((parts, slots, text), column_type)| {
            join_column(parts, slots, text, &windows, column_type, n_rows)
        })?
        .into_iter()
        .collect()
    }
}

/// Brings one chunk's columns to their settled types, re-reading from the
/// text the rows whose parsed values cannot be converted.
fn settle(
    layout: &Layout<'_>,
    chunk: &mut ChunkOutput,
    slots: &mut [&mut [u64]],
    types: &[ColumnType],
) {
    for ((column, slots), &column_type) in chunk.columns.iter_mut().zip(slots.iter_mut()).zip(types)
    {
        let n_rows = column.n_rows();
        let current = column.values.column_type();
        // Placed text (or placed missing cells) is text already.
        let placed = column.placed && column_type == ColumnType::Categorical;
        if current == Some(column_type) || placed {
            continue;
        }
        column.values = match (
            std::mem::replace(&mut column.values, Values::Unknown),
            column_type,
        ) {
            (Values::Unknown, ColumnType::Categorical) => Values::Text {
                bytes: Vec::new(),
                lengths: vec![0; n_rows],
            },
            // Only missing cells: their slots hold every type's placeholder.
            (Values::Unknown, _) => Values::empty(column_type),
            (Values::Integer, ColumnType::Float) if !column.negative_zero => {
                integers_to_floats(&mut slots[..n_rows]);
                Values::Float
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
    // Text is appended, so its re-read rows are gathered apart and put in
    // front; slots are written in place.
    let mut prefixes: Vec<Option<Values>> = chunk
        .columns
        .iter()
        .map(|column| {
            (column.reread > 0 && matches!(column.values, Values::Text { .. }))
                .then(|| Values::empty(ColumnType::Categorical))
        })
        .collect();
    let mut cursor = Cursor::new(layout.bytes, layout.delimiter);
    cursor.at = chunk.start;
    for row in 0..n_reread {
        if !cursor.start_record(layout.bytes.len()) {
            break;
        }
        for (column, (prefix, slots)) in prefixes.iter_mut().zip(slots.iter_mut()).enumerate() {
            // The chunk parsed without errors, so its records read again cleanly.
            let Ok((field, _)) = cursor.field() else {
                return;
            };
            if row >= rereads[column] {
                continue;
            }
            let values = match prefix.as_mut() {
                Some(prefix) => prefix,
                None => &mut chunk.columns[column].values,
            };
            let cell = cursor.cell(&field);
            let parsed = present_bytes(cell)
                .is_some_and(|value| values.push_parsed(slots, row, cell, value));
            if !parsed {
                values.push_default(slots, row);
            }
        }
    }
    for (column, prefix) in chunk.columns.iter_mut().zip(prefixes) {
        if let Some(mut prefix) = prefix {
            prefix.append(std::mem::replace(&mut column.values, Values::Unknown));
            column.values = prefix;
        }
        column.reread = 0;
    }
}

/// Makes one column's chunks (all of one type) an arrow array: text is
/// joined; slots are closed up where a chunk's window had room to spare
/// (only when line breaks were not all record ends) and taken as they are.
fn join_column(
    parts: Vec<ColumnChunk>,
    mut slots: Slots,
    text: PlacedColumn,
    windows: &[(usize, usize)],
    column_type: ColumnType,
    n_rows: usize,
) -> Result<ArrayRef, TabularError> {
    let mut nulls = NullBufferBuilder::new(n_rows);
    for part in &parts {
        let mut row = 0;
        for &missing in &part.missing_rows {
            nulls.append_n_non_nulls(missing - row);
            nulls.append_null();
            row = missing + 1;
        }
        nulls.append_n_non_nulls(part.n_rows - row);
    }
    let nulls = nulls.finish();
    if column_type != ColumnType::Categorical {
        let mut row = 0;
        for (part, &(first, _)) in parts.iter().zip(windows) {
            if first != row {
                slots.copy_within(first..first + part.n_rows, row);
            }
            row += part.n_rows;
        }
        // The slots become the array's buffer as they are: no copy.
        let retyped = |slots: Slots, nulls, data_type: DataType| {
            UInt64Array::new(slots.into_buffer(n_rows), nulls)
                .into_data()
                .into_builder()
                .data_type(data_type)
                .build()
                .map_err(|error| TabularError::Decode(error.to_string()))
        };
        return Ok(match column_type {
            ColumnType::Integer => {
                Arc::new(Int64Array::from(retyped(slots, nulls, DataType::Int64)?))
            }
            ColumnType::Float => Arc::new(Float64Array::from(retyped(
                slots,
                nulls,
                DataType::Float64,
            )?)),
            _ => {
                let mut buffer = BooleanBufferBuilder::new(n_rows);
                for &slot in &slots[..n_rows] {
                    buffer.append(slot != 0);
                }
                Arc::new(BooleanArray::new(buffer.finish(), nulls))
            }
        });
    }
    // Parts are placed in order until the placing of the column closes, so
    // the placed ones come first and hold the joined buffer's rows and text.
    let n_placed = parts.iter().take_while(|part| part.placed).count();
    let text = match text {
        // Every part placed while parsing: the joined buffers are the array's.
        PlacedColumn::Open(joined) if n_placed == parts.len() => {
            return string_array(
                joined.offsets.into_buffer(n_rows + 1),
                joined.bytes.into_buffer(joined.end),
                nulls,
            );
        }
        text => text,
    };
    let joined = text.joined();
    let placed_rows: usize = parts[..n_placed].iter().map(ColumnChunk::n_rows).sum();
    let placed_text = joined.map_or(0, |joined| joined.offsets[placed_rows] as usize);
    let text_bytes = placed_text
        + parts[n_placed..]
            .iter()
            .map(|part| part.values.text_bytes())
            .sum::<usize>();
    if i32::try_from(text_bytes).is_err() {
        return Err(TabularError::Decode(format!(
            "a text column holds {text_bytes} bytes; at most {} fit in one column",
            i32::MAX
        )));
    }
    // The rest is joined from each chunk's lengths; both buffers are zeroed
    // memory written once (see `buffer`).
    let mut offsets = ColumnBuffer::<i32>::zeroed(n_rows + 1);
    let mut bytes = ColumnBuffer::<u8>::zeroed(text_bytes);
    if let Some(joined) = joined {
        // (Placed parts of only missing cells left no joined text: their
        // offsets are the zeros already there.)
        offsets[..=placed_rows].copy_from_slice(&joined.offsets[..=placed_rows]);
        bytes[..placed_text].copy_from_slice(&joined.bytes[..placed_text]);
    }
    let (mut row, mut end) = (placed_rows, placed_text);
    for part in parts.into_iter().skip(n_placed) {
        let (
            false,
            Values::Text {
                bytes: part_bytes,
                lengths,
            },
        ) = (part.placed, part.values)
        else {
            return Err(TabularError::Decode(
                "a text column was left without text".to_string(),
            ));
        };
        bytes[end..end + part_bytes.len()].copy_from_slice(&part_bytes);
        for (offset, length) in offsets[row + 1..].iter_mut().zip(&lengths) {
            // Within i32: the total was checked above.
            end += *length as usize;
            *offset = end as i32;
        }
        row += lengths.len();
    }
    string_array(offsets.into_buffer(row + 1), bytes.into_buffer(end), nulls)
}

/// A string array of joined offsets and bytes.
fn string_array(
    offsets: ScalarBuffer<i32>,
    bytes: ScalarBuffer<u8>,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, TabularError> {
    let offsets = OffsetBuffer::new(offsets);
    let array = StringArray::try_new(offsets, bytes.into_inner(), nulls)
        .map_err(|error| TabularError::Decode(error.to_string()))?;
    Ok(Arc::new(array))
}

/// Maps `items` on up to as many threads as there are cores, keeping order.
fn parallel_map<T: Send, R: Send>(
    items: Vec<T>,
    map: impl Fn(T) -> R + Sync,
) -> Result<Vec<R>, TabularError> {
    map_in_order(items, available_threads(), map)
        .into_iter()
        .map(|result| {
            result.ok_or_else(|| {
                TabularError::Decode("a decoding thread stopped unexpectedly".to_string())
            })
        })
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
    fn eight_digits_at_a_time_agree_with_one_at_a_time() {
        let mut rng = versa_core::Rng::new(8);
        let alphabet = b"0123456789.,-/:eE \x00\xff";
        for case in 0..200_000 {
            // Mostly digits, sometimes one other byte anywhere.
            let mut bytes: Vec<u8> = (0..rng.below(12))
                .map(|_| b'0' + rng.below(10) as u8)
                .collect();
            if case % 2 == 0 && !bytes.is_empty() {
                let at = rng.below(bytes.len());
                bytes[at] = if case % 4 == 0 {
                    alphabet[rng.below(alphabet.len())]
                } else {
                    rng.below(256) as u8
                };
            }
            let expected =
                (bytes.len() >= 8 && bytes[..8].iter().all(u8::is_ascii_digit)).then(|| {
                    bytes[..8]
                        .iter()
                        .fold(0u64, |n, &b| n * 10 + u64::from(b - b'0'))
                });
            assert_eq!(eight_digits(&bytes, 0), expected, "{bytes:?}");
        }
        assert_eq!(eight_digits(b"99999999", 0), Some(99_999_999));
        assert_eq!(eight_digits(b"00000000", 0), Some(0));
        assert_eq!(eight_digits(b"x12345678", 1), Some(12_345_678));
        assert_eq!(eight_digits(b"1234567", 0), None);
    }

    #[test]
    fn field_ends_are_found_word_by_word_as_byte_by_byte() {
        let mut rng = versa_core::Rng::new(8);
        let alphabet = [
            b'a', b'7', b',', b';', b'\n', b'\r', b'"', 0x80, 0xff, 0x01, 0x00, b' ',
        ];
        for _ in 0..5_000 {
            let len = rng.below(40);
            let bytes: Vec<u8> = (0..len)
                .map(|_| match rng.below(3) {
                    0 => alphabet[rng.below(alphabet.len())],
                    _ => b'a' + rng.below(26) as u8,
                })
                .collect();
            for delimiter in [b',', b';', b'\t'] {
                let cursor = Cursor::new(&bytes, delimiter);
                for at in 0..=bytes.len() {
                    let expected = at
                        + bytes[at..]
                            .iter()
                            .position(|&b| b == delimiter || b == b'\n' || b == b'\r')
                            .unwrap_or(bytes.len() - at);
                    assert_eq!(cursor.field_end(at), expected, "{bytes:?} at {at}");
                }
            }
        }
    }

    #[test]
    fn cells_starting_with_n_are_present_unless_they_are_markers() {
        let cells = [
            "north", "no", "n", "N", "NA", "Na", "na", "nA", "NAN", "NaN", "nan", "null", "NULL",
            "Null", "nul", "nulls", "NaNa", " NA", "NA ", "\tnull", "n o", "yes", "", " ", "é",
            "Nè",
        ];
        for cell in cells {
            let expected = present(cell).map(str::as_bytes);
            assert_eq!(present_bytes(cell.as_bytes()), expected, "{cell:?}");
            if plainly_present(cell.as_bytes()) {
                assert_eq!(expected, Some(cell.as_bytes()), "{cell:?}");
            }
        }
        assert!(plainly_present(b"north") && plainly_present(b"no"));
        assert!(!plainly_present(b"NA") && !plainly_present(b"null") && !plainly_present(b"NaN"));
        // In a decoded text column: markers are missing, look-alikes are text.
        let text = "region,churned\nnorth,no\nNA,null\nnan,NULL\nN,n\n";
        let table =
            crate::csv::read_csv(text.as_bytes(), &crate::csv::CsvOptions::default()).unwrap();
        let column = |index: usize| -> Vec<crate::Value> {
            (0..table.n_rows())
                .map(|row| table.value(index, row))
                .collect()
        };
        let text_of = |value: &str| crate::Value::Text(value.into());
        assert_eq!(
            column(0),
            [
                text_of("north"),
                crate::Value::Missing,
                text_of("nan"),
                text_of("N")
            ]
        );
        assert_eq!(
            column(1),
            [
                text_of("no"),
                crate::Value::Missing,
                crate::Value::Missing,
                text_of("n")
            ]
        );
    }

    #[test]
    fn fast_number_paths_agree_with_the_general_parsers_bit_for_bit() {
        let mut rng = versa_core::Rng::new(5);
        for _ in 0..200_000 {
            let text = decimal(&mut rng);
            for end in ["", ",next", "\r\n", "\n"] {
                let field = format!("{text}{end}");
                let cursor = Cursor::new(field.as_bytes(), b',');
                let fast = fast_float(&cursor, 0, DigitRuns::Single);
                // Eight digits at a time read the same value, or decline alike.
                let eights = fast_float(&cursor, 0, DigitRuns::Eights);
                assert_eq!(
                    eights.map(|(value, stop)| (value.to_bits(), stop)),
                    fast.map(|(value, stop)| (value.to_bits(), stop)),
                    "{field:?}"
                );
                if let Some((_, stop)) = fast {
                    assert_eq!(stop, text.len(), "{field:?}");
                }
                let general = parse_float(&text);
                let standard = text.parse::<f64>().ok().filter(|value| value.is_finite());
                if let Some((value, _)) = fast {
                    assert_eq!(Some(value.to_bits()), standard.map(f64::to_bits), "{text}");
                }
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
            for runs in [DigitRuns::Single, DigitRuns::Eights] {
                assert!(fast_float(&cursor, 0, runs).is_none(), "{text}");
            }
            assert!(fast_integer(&cursor, 0).is_none(), "{text}");
        }
    }

    #[test]
    fn max_records_bounds_the_records_of_any_cut_and_is_exact_for_plain_lines() {
        // Exact for one record per line (so the slots need no closing up).
        assert_eq!(max_records(b"1,2\n3,4\n"), 2);
        assert_eq!(max_records(b"1,2\r\n3,4\r\n"), 2);
        assert_eq!(max_records(b"1,2\r3,4"), 2);
        assert_eq!(max_records(b"1,2"), 1);
        // Blank lines and quoted line breaks only make it larger.
        assert_eq!(max_records(b"1\n\n\"a\nb\"\n"), 4);
        let mut rng = versa_core::Rng::new(17);
        let pieces = ["a", ",", "\n", "\r", "\r\n", "\"", "\"\"", " ", "1.5"];
        for _ in 0..3000 {
            let n = rng.below(40);
            let text: String = (0..n).map(|_| pieces[rng.below(pieces.len())]).collect();
            let bytes = text.as_bytes();
            for chunk_bytes in [1, 3, 7, 64] {
                for (start, end) in cut(bytes, 0, chunk_bytes) {
                    let window = max_records(&bytes[start..end]);
                    let mut slots = [Slots::zeroed(window), Slots::zeroed(window)];
                    let layout = Layout {
                        bytes,
                        delimiter: b',',
                        data_start: 0,
                        data_line: 1,
                        declared: &[None, None],
                        chunk_bytes,
                    };
                    // Parsing indexes the window by record: too small a
                    // window would panic here.
                    let windows = split_windows(&mut slots, &[(0, window)]);
                    let Some(slots) = windows.into_iter().next() else {
                        panic!("one window");
                    };
                    let output =
                        parse_chunk(&layout, (start, end), (0, window), slots, vec![None, None]);
                    assert!(output.n_records <= window, "{text:?} {start}..{end}");
                }
            }
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
