//! The content digest of a table: the identity of a dataset version.
//!
//! The digest is taken over the table's *values*, not over the bytes it was
//! decoded from, so the same data read from a CSV with `\r\n` or `\n` line
//! ends, with or without a byte-order mark, quoted or not, has one digest.
//! This module must not know where a table came from.
//!
//! Canonical encoding, version `versa-table-digest/1` (all integers are
//! little-endian; a *field* is a u64 byte length followed by the bytes):
//! 1. the field `versa-table-digest/1`;
//! 2. the number of columns and the number of rows, each as u64;
//! 3. for each column in order: its name as a field, then its versa type
//!    name (`integer`, `float`, `boolean`, `categorical`) as a field;
//! 4. for each column in order, each of its cells in row order: one byte `0`
//!    for a missing cell, or one byte `1` followed by the value:
//!    - integer: the i64 as 8 bytes;
//!    - float: the f64 bit pattern as 8 bytes, after mapping `-0.0` to `0.0`
//!      and every NaN to the single pattern `0x7ff8000000000000`;
//!    - boolean: one byte, `1` for true and `0` for false;
//!    - categorical: the UTF-8 text as a field.
//!
//! Whether a column is nullable is not hashed: it follows from the cells.
//! Any change to this encoding must change the version tag.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, StringArray};
use arrow_buffer::NullBuffer;
use blake3::hazmat::{self, HasherExt};
use versa_core::{ColumnType, Digest};

use crate::parallel::{available_threads, map_in_order};
use crate::table::Table;

/// The tag hashed first, naming the encoding version.
pub const TABLE_DIGEST_VERSION: &str = "versa-table-digest/1";

const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

/// The digest of a table's canonical encoding (see the module docs).
///
/// The encoding is hashed as BLAKE3's tree allows: large tables are cut at
/// the tree's own subtree boundaries and the parts hashed on parallel
/// threads, each encoding only its own byte range of the stream; the result
/// is the same hash as feeding the whole stream to one hasher.
pub fn content_digest(table: &Table) -> Digest {
    digest_on_threads(table, available_threads())
}

fn digest_on_threads(table: &Table, n_threads: usize) -> Digest {
    let mut header = Vec::new();
    let mut field = |bytes: &[u8]| {
        header.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        header.extend_from_slice(bytes);
    };
    field(TABLE_DIGEST_VERSION.as_bytes());
    header.extend_from_slice(&(table.n_columns() as u64).to_le_bytes());
    header.extend_from_slice(&(table.n_rows() as u64).to_le_bytes());
    for column in table.schema() {
        let mut field = |bytes: &[u8]| {
            header.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            header.extend_from_slice(bytes);
        };
        field(column.name.as_bytes());
        field(column.column_type.name().as_bytes());
    }
    let stream = Stream::new(table, header);
    let hash = if stream.len <= PARALLEL_STREAM || n_threads < 2 {
        let mut hasher = blake3::Hasher::new();
        stream.feed(0, stream.len, &mut hasher);
        hasher.finalize()
    } else {
        let left = hazmat::left_subtree_len(stream.len);
        let parts = balanced_parts(stream.len, n_threads);
        let hashed = stream.parts_in_parallel(&parts, n_threads);
        let by_start: BTreeMap<u64, (u64, hazmat::ChainingValue)> = parts
            .iter()
            .zip(hashed)
            .map(|(&(start, len), value)| (start, (len, value)))
            .collect();
        let merged = |start, len| stream.merged(start, len, &by_start);
        let (left_cv, right_cv) = (merged(0, left), merged(left, stream.len - left));
        hazmat::merge_subtrees_root(&left_cv, &right_cv, hazmat::Mode::Hash)
    };
    Digest::from_bytes(*hash.as_bytes())
}

/// Streams longer than this are hashed in parallel parts.
const PARALLEL_STREAM: u64 = 1 << 20;

/// The subtrees of the stream hashed as parts, `(start, len)`, largest
/// first: the root's two children, then the largest part split in two (as
/// BLAKE3's tree splits it) for as long as that shortens the longest
/// thread's work. The root's children can be far apart in size (a 67 MiB
/// stream is 64 MiB and 3 MiB); each part also costs a skip to its first
/// row, so there are no more parts than that needs.
fn balanced_parts(len: u64, n_threads: usize) -> Vec<(u64, u64)> {
    let left = hazmat::left_subtree_len(len);
    let mut parts = vec![(0, left), (left, len - left)];
    loop {
        parts.sort_by_key(|&(start, len)| (std::cmp::Reverse(len), start));
        let (start, largest) = parts[0];
        if largest <= PARALLEL_STREAM || parts.len() >= 64 {
            return parts;
        }
        let half = hazmat::left_subtree_len(largest);
        let mut split = parts.clone();
        split.splice(0..1, [(start, half), (start + half, largest - half)]);
        split.sort_by_key(|&(start, len)| (std::cmp::Reverse(len), start));
        if longest_thread(&split, n_threads) >= longest_thread(&parts, n_threads) {
            return parts;
        }
        parts = split;
    }
}

/// The most bytes any thread hashes when `n_threads` threads take `parts`
/// in order, each the next one when it is free.
fn longest_thread(parts: &[(u64, u64)], n_threads: usize) -> u64 {
    let mut loads = vec![0u64; n_threads.max(1)];
    for &(_, len) in parts {
        if let Some(least) = loads.iter_mut().min() {
            *least += len;
        }
    }
    loads.into_iter().max().unwrap_or(0)
}

/// The canonical encoding of a table as a byte stream that can be produced
/// from any offset: the header, then each column's cells.
struct Stream<'a> {
    table: &'a Table,
    header: Vec<u8>,
    /// Where each column's cells start in the stream, and the stream's end.
    column_starts: Vec<u64>,
    len: u64,
}

impl<'a> Stream<'a> {
    fn new(table: &'a Table, header: Vec<u8>) -> Stream<'a> {
        let mut at = header.len() as u64;
        let mut column_starts = Vec::with_capacity(table.n_columns());
        for (index, column) in table.schema().iter().enumerate() {
            column_starts.push(at);
            let array = table.column(index);
            let n_present = (array.len() - array.null_count()) as u64;
            let value_bytes = match column.column_type {
                ColumnType::Integer | ColumnType::Float => 8 * n_present,
                ColumnType::Boolean => n_present,
                ColumnType::Categorical => {
                    let strings = array.as_string::<i32>();
                    8 * n_present + present_text_bytes(strings)
                }
            };
            at += array.len() as u64 + value_bytes;
        }
        Stream {
            table,
            header,
            column_starts,
            len: at,
        }
    }

    /// The chaining value of the subtree of `len` bytes at `start`, from
    /// those of the hashed parts it is made of (keyed by start).
    fn merged(
        &self,
        start: u64,
        len: u64,
        parts: &BTreeMap<u64, (u64, hazmat::ChainingValue)>,
    ) -> hazmat::ChainingValue {
        match parts.get(&start) {
            Some(&(part_len, value)) if part_len == len => value,
            // Every subtree above the parts is cut where its parts were.
            _ if len > blake3::CHUNK_LEN as u64 => {
                let left = hazmat::left_subtree_len(len);
                let left_cv = self.merged(start, left, parts);
                let right_cv = self.merged(start + left, len - left, parts);
                hazmat::merge_subtrees_non_root(&left_cv, &right_cv, hazmat::Mode::Hash)
            }
            _ => self.subtree(start, len),
        }
    }

    /// The chaining value of the subtree of `len` bytes at `start`.
    fn subtree(&self, start: u64, len: u64) -> hazmat::ChainingValue {
        let mut hasher = blake3::Hasher::new();
        hasher.set_input_offset(start);
        self.feed(start, start + len, &mut hasher);
        hasher.finalize_non_root()
    }

    /// The chaining values of `parts` (subtrees), in order, hashed on
    /// `n_threads` threads that each take the next part not yet taken (so
    /// the largest go first when they come first).
    fn parts_in_parallel(
        &self,
        parts: &[(u64, u64)],
        n_threads: usize,
    ) -> Vec<hazmat::ChainingValue> {
        map_in_order(parts.to_vec(), n_threads, |(start, len)| {
            self.subtree(start, len)
        })
        .into_iter()
        .zip(parts)
        // A thread only fails by a bug; its parts are then hashed here.
        .map(|(value, &(start, len))| value.unwrap_or_else(|| self.subtree(start, len)))
        .collect()
    }

    /// Feeds the stream's bytes `start..end` to the hasher.
    fn feed(&self, start: u64, end: u64, hasher: &mut blake3::Hasher) {
        let mut out = Window {
            hasher,
            at: 0,
            start,
            end,
            pending: vec![0; BLOCK_ROWS * 9 + HASH_UNIT],
            filled: 0,
        };
        out.bytes(&self.header);
        for (index, column) in self.table.schema().iter().enumerate() {
            let column_start = self.column_starts[index];
            let column_end = self
                .column_starts
                .get(index + 1)
                .copied()
                .unwrap_or(self.len);
            if column_end <= start || column_start >= end {
                out.at = column_end;
                continue;
            }
            let array = self.table.column(index);
            let nulls = array.nulls();
            let present = |row: usize| nulls.is_none_or(|nulls| nulls.is_valid(row));
            // Rows wholly before `start` are skipped by length alone.
            let cell_len = |row: usize, value_len: u64| {
                if present(row) { 1 + value_len } else { 1 }
            };
            match column.column_type {
                ColumnType::Integer => {
                    let values = array.as_primitive::<Int64Type>().values();
                    let first = out.first_row(values.len(), |row| cell_len(row, 8));
                    out.fixed_blocks(first, values.len(), nulls, |row| values[row].to_le_bytes());
                }
                ColumnType::Float => {
                    let values = array.as_primitive::<Float64Type>().values();
                    let first = out.first_row(values.len(), |row| cell_len(row, 8));
                    out.fixed_blocks(first, values.len(), nulls, |row| {
                        canonical_float_bits(values[row]).to_le_bytes()
                    });
                }
                ColumnType::Boolean => {
                    let values = array.as_boolean();
                    let first = out.first_row(values.len(), |row| cell_len(row, 1));
                    out.fixed_blocks(first, values.len(), nulls, |row| {
                        [u8::from(values.value(row))]
                    });
                }
                ColumnType::Categorical => {
                    let strings = array.as_string::<i32>();
                    let first = out.first_row(strings.len(), |row| {
                        cell_len(row, 8 + strings.value_length(row) as u64)
                    });
                    let (offsets, data) = (strings.value_offsets(), strings.value_data());
                    let text_len = |row: usize| (offsets[row + 1] - offsets[row]) as usize;
                    // Room for the fixed-size copy below, whatever the text.
                    let room = |row: usize| 25 + text_len(row);
                    out.blocks(first, strings.len(), room, |row, cell| {
                        if !present(row) {
                            cell[0] = 0;
                            return 1;
                        }
                        let (start, len) = (offsets[row] as usize, text_len(row));
                        cell[0] = 1;
                        cell[1..9].copy_from_slice(&(len as u64).to_le_bytes());
                        // Short texts are copied as 16 bytes, the excess left
                        // to be overwritten: a copy of variable length is a
                        // call per cell.
                        match data.get(start..start + 16) {
                            Some(wide) if len <= 16 => cell[9..25].copy_from_slice(wide),
                            _ => cell[9..9 + len].copy_from_slice(&data[start..start + len]),
                        }
                        9 + len
                    });
                }
            }
            debug_assert!(out.done() || out.at == column_end, "column length");
            // Whatever was not produced lies past `end`.
            out.at = column_end;
        }
        out.finish();
    }
}

/// Rows encoded before their bytes are handed to the hasher.
const BLOCK_ROWS: usize = 8192;

/// The hasher is given whole multiples of this many bytes, at offsets that
/// are multiples of it: BLAKE3 hashes 16 of its 1 KiB chunks side by side
/// only when they arrive together and aligned to the tree (with AVX-512), so
/// handing it blocks of arbitrary length and offset costs it a third more.
const HASH_UNIT: usize = 16 * 1024;

/// The bytes of the present values of a string column.
fn present_text_bytes(strings: &StringArray) -> u64 {
    match strings.nulls() {
        None => {
            let offsets = strings.value_offsets();
            (offsets[offsets.len() - 1] - offsets[0]) as u64
        }
        Some(nulls) => nulls
            .valid_indices()
            .map(|row| strings.value_length(row) as u64)
            .sum(),
    }
}

/// Passes on the part of the stream that falls in `start..end`; `at` is
/// the stream offset of the next byte produced.
struct Window<'a> {
    hasher: &'a mut blake3::Hasher,
    at: u64,
    start: u64,
    end: u64,
    /// `pending[..filled]`: produced bytes of the window not yet hashed
    /// (the stream's bytes just before `at`), fewer than [`HASH_UNIT`]
    /// between blocks. Cells are encoded straight into the rest, which is
    /// kept allocated and never cleared, so a byte is written once before
    /// it is hashed.
    pending: Vec<u8>,
    filled: usize,
}

impl Window<'_> {
    fn done(&self) -> bool {
        self.at >= self.end
    }

    /// Skips the leading rows that end before `start`, returning the first
    /// row to produce.
    fn first_row(&mut self, n_rows: usize, cell_len: impl Fn(usize) -> u64) -> usize {
        let mut row = 0;
        while row < n_rows && self.at + cell_len(row) <= self.start {
            self.at += cell_len(row);
            row += 1;
        }
        row
    }

    /// Makes room for `n` more bytes after the filled ones.
    #[inline]
    fn room(&mut self, n: usize) {
        if self.filled + n > self.pending.len() {
            self.pending.resize(self.filled + n, 0);
        }
    }

    /// Encodes rows `first..n_rows` (or until the window ends), a block of
    /// rows at a time: one hasher call per few-byte cell would cost more than
    /// the hashing itself. `encode` writes a row's cell at the start of the
    /// slice it is given (at least `room(row)` bytes) and says how many bytes
    /// it is.
    #[inline]
    fn blocks(
        &mut self,
        first: usize,
        n_rows: usize,
        room: impl Fn(usize) -> usize,
        encode: impl Fn(usize, &mut [u8]) -> usize,
    ) {
        let mut row = first;
        while row < n_rows && !self.done() {
            let stop = (row + BLOCK_ROWS).min(n_rows);
            let from = self.filled;
            for row in row..stop {
                self.room(room(row));
                self.filled += encode(row, &mut self.pending[self.filled..]);
            }
            self.produced(from);
            row = stop;
        }
    }

    /// [`Window::blocks`] for fixed-width values, written without a branch
    /// per cell: a missing cell's value bytes are overwritten by the next
    /// cell, and a column without missing cells is written as whole cells.
    #[inline]
    fn fixed_blocks<const WIDTH: usize>(
        &mut self,
        first: usize,
        n_rows: usize,
        nulls: Option<&NullBuffer>,
        value: impl Fn(usize) -> [u8; WIDTH],
    ) {
        let mut row = first;
        while row < n_rows && !self.done() {
            let stop = (row + BLOCK_ROWS).min(n_rows);
            let from = self.filled;
            self.room((stop - row) * (WIDTH + 1));
            let block = &mut self.pending[from..];
            let mut at = 0;
            match nulls {
                None => {
                    for (cell, row) in block.chunks_exact_mut(WIDTH + 1).zip(row..stop) {
                        cell[0] = 1;
                        cell[1..].copy_from_slice(&value(row));
                    }
                    at = (stop - row) * (WIDTH + 1);
                }
                Some(nulls) => {
                    for row in row..stop {
                        let present = nulls.is_valid(row);
                        block[at] = u8::from(present);
                        block[at + 1..at + 1 + WIDTH].copy_from_slice(&value(row));
                        at += if present { WIDTH + 1 } else { 1 };
                    }
                }
            }
            self.filled += at;
            self.produced(from);
            row = stop;
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let from = self.filled;
        self.room(bytes.len());
        self.pending[from..from + bytes.len()].copy_from_slice(bytes);
        self.filled += bytes.len();
        self.produced(from);
    }

    /// Takes in the bytes just produced (`pending[from..filled]`, which
    /// follow the stream offset `at`): drops those outside the window and
    /// hashes every whole unit.
    fn produced(&mut self, from: usize) {
        let produced = (self.filled - from) as u64;
        let (first, last) = (self.at, self.at + produced);
        self.at = last;
        if last > self.end {
            self.filled -= (last - self.end).min(produced) as usize;
        }
        if first < self.start {
            // Only the first bytes produced can fall before the window, so
            // nothing is pending before them.
            let before = ((self.start - first) as usize).min(self.filled - from);
            self.pending.copy_within(from + before..self.filled, from);
            self.filled -= before;
        }
        let whole = self.filled / HASH_UNIT * HASH_UNIT;
        if whole > 0 {
            self.hasher.update(&self.pending[..whole]);
            self.pending.copy_within(whole..self.filled, 0);
            self.filled -= whole;
        }
    }

    /// Hashes what is left.
    fn finish(&mut self) {
        self.hasher.update(&self.pending[..self.filled]);
        self.filled = 0;
    }
}

/// The canonical bit pattern of a float: one zero, one NaN.
pub fn canonical_float_bits(value: f64) -> u64 {
    if value.is_nan() {
        CANONICAL_NAN
    } else if value == 0.0 {
        0
    } else {
        value.to_bits()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array};
    use versa_core::ColumnSchema;

    use super::*;
    use crate::csv::{CsvOptions, read_csv};
    use crate::table::Value;

    /// A length-prefixed field of the documented encoding.
    fn field(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    }

    fn digest_of(text: &str) -> Digest {
        content_digest(&read_csv(text.as_bytes(), &CsvOptions::default()).unwrap())
    }

    #[test]
    fn line_endings_bom_and_quoting_do_not_change_the_digest() {
        let plain = digest_of("a,b,c\n1,2.5,x\n,3.5,\"y\"\n");
        assert_eq!(plain, digest_of("a,b,c\r\n1,2.5,x\r\n,3.5,y\r\n"));
        assert_eq!(plain, digest_of("\u{FEFF}a,b,c\n1,2.5,x\n,3.5,y"));
        assert_eq!(plain, digest_of("a;b;c\n1;2.50;\"x\"\nNA;3.5;y\n"));
    }

    #[test]
    fn different_values_names_or_types_change_the_digest() {
        let base = digest_of("a,b\n1,x\n2,y\n");
        assert_ne!(base, digest_of("a,b\n1,x\n3,y\n"), "value");
        assert_ne!(base, digest_of("a,c\n1,x\n2,y\n"), "name");
        assert_ne!(base, digest_of("a,b\n1.5,x\n2,y\n"), "type");
        assert_ne!(base, digest_of("a,b\n1,x\n,y\n"), "missing");
        assert_ne!(base, digest_of("a,b\n2,y\n1,x\n"), "row order");
        assert_ne!(base, digest_of("a,b\n1,x\n2,y\n2,y\n"), "extra row");
        // Text boundaries are length-prefixed, so moving a character between cells shows.
        assert_ne!(digest_of("a,b\nxy,z\n"), digest_of("a,b\nx,yz\n"));
        // The empty string is missing, and "0" is not the same as missing.
        assert_ne!(digest_of("a,b\n0,x\n"), digest_of("a,b\n,x\n"));
    }

    #[test]
    fn negative_zero_and_nan_payloads_are_canonical() {
        let schema = vec![ColumnSchema {
            name: "x".into(),
            column_type: ColumnType::Float,
            nullable: true,
        }];
        let table = |values: Vec<f64>| {
            let column: ArrayRef = Arc::new(Float64Array::from(values));
            Table::from_columns(schema.clone(), vec![column]).unwrap()
        };
        let other_nan = f64::from_bits(0x7ff8_0000_0000_0001);
        assert!(other_nan.is_nan());
        assert_eq!(
            content_digest(&table(vec![0.0, f64::NAN])),
            content_digest(&table(vec![-0.0, other_nan]))
        );
        assert_ne!(
            content_digest(&table(vec![0.0, f64::NAN])),
            content_digest(&table(vec![0.0, 1.0]))
        );
    }

    #[test]
    fn digest_is_stable_across_releases() {
        // Pinned: if this changes, the encoding changed and the version tag must too.
        let digest = digest_of("a,b,c,d\n1,2.5,true,x\n,,,\n");
        assert_eq!(
            digest,
            digest_of("a,b,c,d\r\n1,2.5,TRUE,x\r\nNA,NaN,null,\r\n")
        );
        assert_eq!(
            digest.to_string(),
            "b3:faa9a3edbf2f803fc27d7f288dcd29ce23042bfed9190856e18ba44caaabc92f"
        );
    }

    #[test]
    fn parts_tile_the_stream_and_even_out_the_threads() {
        const MIB: u64 = 1 << 20;
        for len in [
            MIB + 1,
            20 * MIB + 12_345,
            67 * MIB + 7,
            124 * MIB - 3,
            1 << 30,
        ] {
            for n_threads in [2, 3, 4, 8] {
                let parts = balanced_parts(len, n_threads);
                let mut by_start = parts.clone();
                by_start.sort_unstable();
                let mut at = 0;
                for &(start, part) in &by_start {
                    assert_eq!(start, at, "{len} bytes on {n_threads} threads");
                    at += part;
                }
                assert_eq!(at, len);
                let halves = [
                    (0, hazmat::left_subtree_len(len)),
                    (
                        hazmat::left_subtree_len(len),
                        len - hazmat::left_subtree_len(len),
                    ),
                ];
                assert!(longest_thread(&parts, n_threads) <= longest_thread(&halves, n_threads));
            }
        }
        // The case that motivated it: 64 MiB and 3 MiB halves.
        let parts = balanced_parts(67 * MIB, 2);
        assert!(longest_thread(&parts, 2) <= 36 * MIB, "{parts:?}");
    }

    #[test]
    fn large_tables_hashed_in_parallel_parts_get_the_one_stream_hash() {
        // About 20 MB of encoding: every thread count splits it differently,
        // through the middle of cells of every type.
        let mut rng = versa_core::Rng::new(3);
        let mut text = String::from("i,f,b,t\n");
        for row in 0..400_000u64 {
            let f = format!("{}.{}", rng.below(1000), rng.below(100));
            let b = (rng.below(2) == 0).to_string();
            let t = "é".repeat(rng.below(9)) + &row.to_string();
            let mut cells = [(row * 7919 % 100_003).to_string(), f, b, t];
            for cell in &mut cells {
                if rng.below(7) == 0 {
                    cell.clear();
                }
            }
            let [i, f, b, t] = cells;
            text.push_str(&format!("{i},{f},{b},{t}\n"));
        }
        let table = read_csv(text.as_bytes(), &CsvOptions::default()).unwrap();

        // The documented encoding, written out and hashed in one piece.
        let mut expected = Vec::new();
        field(&mut expected, b"versa-table-digest/1");
        expected.extend_from_slice(&4u64.to_le_bytes());
        expected.extend_from_slice(&(table.n_rows() as u64).to_le_bytes());
        for column in table.schema() {
            field(&mut expected, column.name.as_bytes());
            field(&mut expected, column.column_type.name().as_bytes());
        }
        for column in 0..table.n_columns() {
            for row in 0..table.n_rows() {
                match table.value(column, row) {
                    Value::Missing => expected.push(0),
                    Value::Integer(v) => {
                        expected.push(1);
                        expected.extend_from_slice(&v.to_le_bytes());
                    }
                    Value::Float(v) => {
                        expected.push(1);
                        expected.extend_from_slice(&canonical_float_bits(v).to_le_bytes());
                    }
                    Value::Boolean(v) => expected.extend_from_slice(&[1, u8::from(v)]),
                    Value::Text(v) => {
                        expected.push(1);
                        field(&mut expected, v.as_bytes());
                    }
                }
            }
        }
        assert!(expected.len() as u64 > 8 * PARALLEL_STREAM);
        let expected = Digest::of(&expected);
        for n_threads in [1, 2, 3, 4, 8] {
            assert_eq!(
                digest_on_threads(&table, n_threads),
                expected,
                "{n_threads} threads"
            );
        }
    }

    #[test]
    fn digest_follows_the_documented_encoding() {
        let mut expected = Vec::new();
        field(&mut expected, b"versa-table-digest/1");
        expected.extend_from_slice(&4u64.to_le_bytes());
        expected.extend_from_slice(&2u64.to_le_bytes());
        for (name, type_name) in [
            ("a", "integer"),
            ("b", "float"),
            ("c", "boolean"),
            ("d", "categorical"),
        ] {
            field(&mut expected, name.as_bytes());
            field(&mut expected, type_name.as_bytes());
        }
        expected.push(1);
        expected.extend_from_slice(&1i64.to_le_bytes());
        expected.push(0);
        expected.push(1);
        expected.extend_from_slice(&2.5f64.to_bits().to_le_bytes());
        expected.push(0);
        expected.extend_from_slice(&[1, 1, 0]);
        expected.push(1);
        field(&mut expected, b"x");
        expected.push(0);
        assert_eq!(
            digest_of("a,b,c,d\n1,2.5,true,x\n,,,\n"),
            Digest::of(&expected)
        );
    }
}
