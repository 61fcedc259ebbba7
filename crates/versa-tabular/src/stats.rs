//! Column statistics and class balance, as shown by `versa data show` and
//! recorded in dataset manifests.
//!
//! Numeric summaries (mean, sample standard deviation, min, max and the 25th,
//! 50th and 75th percentiles with numpy's default linear interpolation) are
//! computed for integer and float columns only; every column gets counts,
//! the number of distinct values and its most frequent values. This module
//! knows nothing about labels beyond "a column name" and nothing about models.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use versa_core::ColumnType;
use versa_core::schema::ColumnStats;

use crate::error::TabularError;
use crate::parallel::{available_threads, map_in_order};
use crate::table::{Table, Value};

/// At most this many values are listed in [`ColumnStats::top`].
pub const TOP_VALUES: usize = 10;

/// Statistics of every column, in column order.
///
/// Columns are independent, so they are computed on up to as many threads as
/// the machine has cores; the result does not depend on the thread count.
pub fn column_stats(table: &Table) -> Vec<ColumnStats> {
    let columns: Vec<usize> = (0..table.n_columns()).collect();
    map_in_order(columns, available_threads(), |index| {
        single_column_stats(table, index)
    })
    .into_iter()
    .enumerate()
    // A thread only fails by a bug; its columns are then computed here.
    .map(|(index, stats)| stats.unwrap_or_else(|| single_column_stats(table, index)))
    .collect()
}

fn single_column_stats(table: &Table, index: usize) -> ColumnStats {
    let column = &table.schema()[index];
    let array = table.column(index);
    let mut stats = ColumnStats {
        name: column.name.clone(),
        column_type: column.column_type,
        count: 0,
        missing: 0,
        mean: None,
        std: None,
        min: None,
        max: None,
        quantiles: None,
        distinct: 0,
        top: Vec::new(),
    };
    let mut top = TopValues::default();
    match column.column_type {
        ColumnType::Integer => {
            let keys = present_keys(array.as_primitive::<Int64Type>(), integer_key);
            let sorted = sorted_keys(keys);
            if let Some(keys) = sorted.distinct_keys() {
                stats.distinct = keys.len() as u64;
                for &key in keys.iter().take(TOP_VALUES) {
                    top.offer(1, || integer_from_key(key).to_string());
                }
            } else {
                for (key, n) in sorted.runs() {
                    stats.distinct += 1;
                    top.offer(n, || integer_from_key(key).to_string());
                }
            }
            numeric_summary(&mut stats, &sorted, |key| integer_from_key(key) as f64);
        }
        ColumnType::Float => {
            let keys = present_keys(array.as_primitive::<Float64Type>(), float_key);
            let sorted = sorted_keys(keys);
            // `-0.0 + 0.0` is `0.0`, so both zeros (adjacent in this order) count as one value.
            let canonical = |key: u64| float_from_key(key) + 0.0;
            let both_zeros = |keys: &[u64]| {
                [-0.0, 0.0]
                    .iter()
                    .all(|zero| keys.binary_search(&float_key(*zero)).is_ok())
            };
            let distinct = sorted.distinct_keys().filter(|keys| !both_zeros(keys));
            if let Some(keys) = distinct {
                stats.distinct = keys.len() as u64;
                for &key in keys.iter().take(TOP_VALUES) {
                    top.offer(1, || canonical(key).to_string());
                }
            }
            let mut runs = sorted.runs().peekable();
            while distinct.is_none()
                && let Some((key, mut n)) = runs.next()
            {
                while let Some((_, more)) =
                    runs.next_if(|&(next, _)| canonical(next).to_bits() == canonical(key).to_bits())
                {
                    n += more;
                }
                stats.distinct += 1;
                top.offer(n, || canonical(key).to_string());
            }
            numeric_summary(&mut stats, &sorted, float_from_key);
        }
        ColumnType::Boolean => {
            let booleans = array.as_boolean();
            let trues = booleans.true_count() as u64;
            let falses = (booleans.len() - booleans.null_count()) as u64 - trues;
            // Ascending value order (false first), as ties must break.
            for (value, n) in [("false", falses), ("true", trues)] {
                if n > 0 {
                    stats.distinct += 1;
                    top.offer(n, || value.to_string());
                }
            }
        }
        ColumnType::Categorical => {
            let strings = array.as_string::<i32>();
            let mut entries = text_counts(strings);
            stats.distinct = entries.len() as u64;
            let order = |a: &(&str, u64), b: &(&str, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0));
            if entries.len() > TOP_VALUES {
                entries.select_nth_unstable_by(TOP_VALUES - 1, order);
                entries.truncate(TOP_VALUES);
            }
            entries.sort_unstable_by(order);
            top.values = entries
                .into_iter()
                .map(|(text, n)| (text.to_string(), n))
                .collect();
        }
    }
    stats.top = top.values;
    stats.count = (array.len() - array.null_count()) as u64;
    stats.missing = array.null_count() as u64;
    stats
}

/// Each distinct text of a column with its count, in no particular order.
///
/// Most categorical columns have a handful of values, for which comparing
/// with each one seen so far beats hashing; past [`FEW_TEXTS`] distinct
/// values the counting moves to a hash table.
fn text_counts(strings: &arrow_array::StringArray) -> Vec<(&str, u64)> {
    let offsets = strings.value_offsets();
    let data = strings.value_data();
    let nulls = strings.nulls();
    // A small open-addressing table of the texts seen so far, each as
    // (length, first eight bytes, last eight bytes, start in `data`, count):
    // texts of up to 16 bytes are told apart by those words alone. Rows come
    // in no order, so a lookup that almost always hits its first slot beats
    // a search whose branches the processor cannot predict.
    let mut table = [(EMPTY_SLOT, 0u64, 0u64, 0usize, 0u64); FEW_SLOTS];
    let mut n_distinct = 0;
    for row in 0..strings.len() {
        if nulls.is_some_and(|nulls| nulls.is_null(row)) {
            continue;
        }
        let start = offsets[row] as usize;
        let len = offsets[row + 1] as usize - start;
        let head = head_word(data, start, len);
        let tail = if len > 8 {
            head_word(data, start + len - 8, 8)
        } else {
            0
        };
        let hash = (head ^ tail.rotate_left(29) ^ len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut slot = (hash >> (64 - FEW_SLOTS.trailing_zeros())) as usize;
        loop {
            let entry = &mut table[slot];
            if entry.0 == len
                && entry.1 == head
                && entry.2 == tail
                && (len <= 16 || data[entry.3..entry.3 + len] == data[start..start + len])
            {
                entry.4 += 1;
                break;
            }
            if entry.0 == EMPTY_SLOT {
                if n_distinct == FEW_TEXTS {
                    return hashed_text_counts(strings, &table, row);
                }
                *entry = (len, head, tail, start, 1);
                n_distinct += 1;
                break;
            }
            slot = (slot + 1) % FEW_SLOTS;
        }
    }
    table
        .iter()
        .filter(|entry| entry.0 != EMPTY_SLOT)
        .map(|&(len, _, _, start, n)| (strings_text(data, start, len), n))
        .collect()
}

/// [`text_counts`] by hashing, from `row` on, given the counts of the rows before.
fn hashed_text_counts<'a>(
    strings: &'a arrow_array::StringArray,
    table: &[(usize, u64, u64, usize, u64)],
    row: usize,
) -> Vec<(&'a str, u64)> {
    let data = strings.value_data();
    let mut counts: HashMap<&str, u64, BuildHasherDefault<FastHasher>> = table
        .iter()
        .filter(|entry| entry.0 != EMPTY_SLOT)
        .map(|&(len, _, _, start, n)| (strings_text(data, start, len), n))
        .collect();
    for text in strings.iter().skip(row).flatten() {
        *counts.entry(text).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

/// Slots of [`text_counts`]'s table (a power of two, four times [`FEW_TEXTS`]).
const FEW_SLOTS: usize = 64;
const EMPTY_SLOT: usize = usize::MAX;

/// The text of a string array's value bytes `start..start + len` (whole
/// values of a valid array, so always UTF-8).
fn strings_text(data: &[u8], start: usize, len: usize) -> &str {
    std::str::from_utf8(&data[start..start + len]).unwrap_or_default()
}

/// The first (up to) eight bytes at `start` of a `len`-byte text, little
/// endian, zero past its end: one load where eight bytes are there to read.
#[inline]
fn head_word(data: &[u8], start: usize, len: usize) -> u64 {
    match data.get(start..start + 8) {
        Some(bytes) => {
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes);
            let word = u64::from_le_bytes(word);
            if len >= 8 {
                word
            } else {
                word & ((1u64 << (8 * len)) - 1)
            }
        }
        None => data[start..start + len.min(8)]
            .iter()
            .rev()
            .fold(0u64, |word, &byte| (word << 8) | u64::from(byte)),
    }
}

/// Distinct texts counted by comparison before switching to hashing.
const FEW_TEXTS: usize = 16;

/// The order-preserving keys of a primitive column's non-null values.
fn present_keys<T: arrow_array::ArrowPrimitiveType>(
    array: &arrow_array::PrimitiveArray<T>,
    key: impl Fn(T::Native) -> u64,
) -> Keys {
    let mut keys = Vec::with_capacity(array.len() - array.null_count());
    // The range is found as the keys are written, not in a pass of its own.
    let (mut low, mut high) = (u64::MAX, 0);
    let mut seen = |key: u64| {
        low = low.min(key);
        high = high.max(key);
        key
    };
    match array.nulls() {
        None => keys.extend(array.values().iter().map(|&value| seen(key(value)))),
        Some(nulls) => keys.extend(
            nulls
                .valid_indices()
                .map(|row| seen(key(array.values()[row]))),
        ),
    }
    Keys { keys, low, high }
}

/// A column's keys, with the smallest and the largest (`u64::MAX` and 0
/// when there are none).
struct Keys {
    keys: Vec<u64>,
    low: u64,
    high: u64,
}

#[cfg(test)]
impl From<Vec<u64>> for Keys {
    fn from(keys: Vec<u64>) -> Keys {
        let low = keys.iter().copied().min().unwrap_or(u64::MAX);
        let high = keys.iter().copied().max().unwrap_or(0);
        Keys { keys, low, high }
    }
}

const SIGN: u64 = 1 << 63;

/// A key whose unsigned order is the integers' order.
fn integer_key(value: i64) -> u64 {
    value as u64 ^ SIGN
}

fn integer_from_key(key: u64) -> i64 {
    (key ^ SIGN) as i64
}

/// A key whose unsigned order is [`f64::total_cmp`]'s order.
fn float_key(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits & SIGN != 0 { !bits } else { bits | SIGN }
}

fn float_from_key(key: u64) -> f64 {
    f64::from_bits(if key & SIGN != 0 { key & !SIGN } else { !key })
}

/// A column's present keys in ascending order: written out one by one
/// (columns of mostly distinct values, where runs would only add a count to
/// each key), or as the runs of equal keys with their counts.
#[derive(Debug, PartialEq)]
enum SortedKeys {
    Each(Vec<u64>),
    Runs(Vec<(u64, u64)>),
}

impl SortedKeys {
    /// The distinct keys in ascending order with how often each occurs.
    fn runs(&self) -> Runs<'_> {
        Runs {
            sorted: self,
            at: 0,
        }
    }

    fn n_values(&self) -> u64 {
        match self {
            SortedKeys::Each(keys) => keys.len() as u64,
            SortedKeys::Runs(runs) => runs.iter().map(|&(_, n)| n).sum(),
        }
    }

    /// The keys, when each occurs once (a column of ids, or of measurements
    /// at full precision): then the runs need not be looked for one by one.
    fn distinct_keys(&self) -> Option<&[u64]> {
        let SortedKeys::Each(keys) = self else {
            return None;
        };
        // Counted without stopping early, so that it vectorizes.
        let repeats = keys
            .iter()
            .zip(keys.iter().skip(1))
            .fold(0usize, |n, (a, b)| n + usize::from(a == b));
        (repeats == 0).then_some(keys)
    }

    /// The key at `index` of the sorted column written out.
    fn at(&self, index: u64) -> Option<u64> {
        match self {
            SortedKeys::Each(keys) => keys.get(index as usize).copied(),
            SortedKeys::Runs(runs) => {
                let mut seen = 0;
                runs.iter().find_map(|&(key, n)| {
                    seen += n;
                    (index < seen).then_some(key)
                })
            }
        }
    }
}

/// The runs of a [`SortedKeys`], found as they are read.
struct Runs<'a> {
    sorted: &'a SortedKeys,
    at: usize,
}

impl Iterator for Runs<'_> {
    type Item = (u64, u64);

    #[inline]
    fn next(&mut self) -> Option<(u64, u64)> {
        match self.sorted {
            SortedKeys::Each(keys) => {
                let &key = keys.get(self.at)?;
                let n = keys[self.at..].iter().take_while(|&&k| k == key).count();
                self.at += n;
                Some((key, n as u64))
            }
            SortedKeys::Runs(runs) => {
                let run = runs.get(self.at)?;
                self.at += 1;
                Some(*run)
            }
        }
    }
}

/// The sorted column. Columns with few distinct values (most real ones) are
/// counted in a hash table and only the distinct keys sorted; the others
/// are radix sorted whole (a comparison sort of a million values was most
/// of the statistics time).
fn sorted_keys(Keys { keys, low, high }: Keys) -> SortedKeys {
    if keys.is_sorted() {
        return SortedKeys::Each(keys);
    }
    // Keys within a small range (small integers: ages, counts, codes) are
    // counted in an array indexed by key, which is already in order.
    let span = high - low;
    if span < DENSE_SPAN && span < 4 * keys.len() as u64 {
        let mut counts = vec![0u64; span as usize + 1];
        for &key in &keys {
            counts[(key - low) as usize] += 1;
        }
        return SortedKeys::Runs(
            counts
                .into_iter()
                .enumerate()
                .filter(|&(_, n)| n > 0)
                .map(|(offset, n)| (low + offset as u64, n))
                .collect(),
        );
    }
    let sample = &keys[..keys.len().min(SAMPLE)];
    let looks_repetitive = KeyCounts::count(sample, sample.len() / 2).is_some();
    if looks_repetitive && let Some(counts) = KeyCounts::count(&keys, keys.len() / 8) {
        let mut runs = counts.into_entries();
        runs.sort_unstable_by_key(|&(key, _)| key);
        return SortedKeys::Runs(runs);
    }
    let mut keys = keys;
    radix_sort(&mut keys);
    SortedKeys::Each(keys)
}

/// The widest key range counted in an array rather than a hash table.
const DENSE_SPAN: u64 = 1 << 20;

/// Values looked at to guess whether a column repeats its values.
const SAMPLE: usize = 4096;

/// Least-significant-digit radix sort on bytes, skipping the bytes that all
/// keys share (small integers and same-magnitude floats have many).
fn radix_sort(keys: &mut Vec<u64>) {
    if keys.len() < 512 {
        keys.sort_unstable();
        return;
    }
    let mut counts = vec![[0usize; 256]; 8];
    for &key in keys.iter() {
        for (digit, count) in counts.iter_mut().enumerate() {
            count[((key >> (8 * digit)) & 0xff) as usize] += 1;
        }
    }
    let mut from = std::mem::take(keys);
    let mut to = vec![0u64; from.len()];
    for (digit, count) in counts.iter().enumerate() {
        if count.contains(&from.len()) {
            continue;
        }
        let mut starts = [0usize; 256];
        let mut total = 0;
        for (start, n) in starts.iter_mut().zip(count) {
            *start = total;
            total += n;
        }
        for &key in &from {
            let bucket = ((key >> (8 * digit)) & 0xff) as usize;
            to[starts[bucket]] = key;
            starts[bucket] += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    *keys = from;
}

/// An open-addressing count table for `u64` keys (a count of 0 marks an
/// empty slot), given up on once it holds more than a limit of keys.
struct KeyCounts {
    keys: Vec<u64>,
    counts: Vec<u64>,
    shift: u32,
    len: usize,
}

impl KeyCounts {
    /// Counts `keys`, or `None` when more than `limit` are distinct.
    fn count(keys: &[u64], limit: usize) -> Option<KeyCounts> {
        let mut table = KeyCounts::with_bits(10);
        for &key in keys {
            if table.len * 2 >= table.keys.len() {
                if table.len > limit {
                    return None;
                }
                table = table.grown();
            }
            table.add(key, 1);
        }
        Some(table)
    }

    fn with_bits(bits: u32) -> KeyCounts {
        KeyCounts {
            keys: vec![0; 1 << bits],
            counts: vec![0; 1 << bits],
            shift: 64 - bits,
            len: 0,
        }
    }

    #[inline]
    fn add(&mut self, key: u64, n: u64) {
        let mask = self.keys.len() - 1;
        // Fibonacci hashing: the multiply spreads nearby keys over the table.
        let mut slot = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize;
        loop {
            if self.counts[slot] == 0 {
                self.keys[slot] = key;
                self.counts[slot] = n;
                self.len += 1;
                return;
            }
            if self.keys[slot] == key {
                self.counts[slot] += n;
                return;
            }
            slot = (slot + 1) & mask;
        }
    }

    fn grown(self) -> KeyCounts {
        let mut bigger = KeyCounts::with_bits(65 - self.shift);
        for (key, n) in self.keys.into_iter().zip(self.counts) {
            if n > 0 {
                bigger.add(key, n);
            }
        }
        bigger
    }

    fn into_entries(self) -> Vec<(u64, u64)> {
        self.keys
            .into_iter()
            .zip(self.counts)
            .filter(|&(_, n)| n > 0)
            .collect()
    }
}

/// The most frequent values, offered in ascending value order so that among
/// equal counts the smaller value (offered first) stays ahead.
#[derive(Default)]
struct TopValues {
    values: Vec<(String, u64)>,
}

impl TopValues {
    fn offer(&mut self, n: u64, text: impl FnOnce() -> String) {
        if self.values.len() == TOP_VALUES && self.values[TOP_VALUES - 1].1 >= n {
            return;
        }
        let at = self.values.partition_point(|(_, count)| *count >= n);
        self.values.insert(at, (text(), n));
        self.values.truncate(TOP_VALUES);
    }
}

/// Mean, sample standard deviation, min, max and quartiles of the sorted
/// column. Sums add every value in sorted order, one by one (runs in one
/// step that is bit for bit the same), so they do not depend on how the
/// column was sorted.
fn numeric_summary(stats: &mut ColumnStats, sorted: &SortedKeys, value: impl Fn(u64) -> f64) {
    let n_values = sorted.n_values();
    let (Some(first), Some(last)) = (sorted.at(0), sorted.at(n_values.wrapping_sub(1))) else {
        return;
    };
    let n = n_values as f64;
    let mean = sorted_sum(sorted, &value) / n;
    stats.mean = Some(mean);
    stats.std = (n_values > 1).then(|| {
        let squares = sorted_sum(sorted, |key| (value(key) - mean).powi(2));
        (squares / (n - 1.0)).sqrt()
    });
    stats.min = Some(value(first));
    stats.max = Some(value(last));
    let at = |index: u64| value(sorted.at(index).unwrap_or(last));
    let quantile = |p: f64| {
        // The same interpolation as [`quantile`] over the written-out column.
        let position = (n_values - 1) as f64 * p;
        let below = position.floor() as u64;
        let above = (below + 1).min(n_values - 1);
        let weight = position - below as f64;
        let (low, high) = (at(below), at(above));
        low + weight * (high - low)
    };
    stats.quantiles = Some([quantile(0.25), quantile(0.50), quantile(0.75)]);
}

/// The sum of `term` over the sorted column, added one by one in order.
fn sorted_sum(sorted: &SortedKeys, term: impl Fn(u64) -> f64) -> f64 {
    match sorted {
        SortedKeys::Each(keys) => keys.iter().fold(0.0, |sum, &key| sum + term(key)),
        SortedKeys::Runs(runs) => runs.iter().fold(0.0, |sum, &(key, count)| {
            add_repeatedly(sum, term(key), count)
        }),
    }
}

/// `sum` after `for _ in 0..count { sum += value }`, bit for bit, without
/// taking every step where the steps are all alike.
///
/// While the sum stays strictly inside one binade `[2^e, 2^(e+1))` (where
/// doubles are the multiples of one spacing `u`), adding `value` to a
/// multiple of `u` always rounds to the same increment `d` — unless `value`
/// lies exactly halfway between two multiples of `u` (a tie, which rounds
/// to even and so depends on the sum), which is checked with an exact
/// two-sum. So the steps that keep the sum inside the binade add up to
/// exactly `k * d`, taken in one go on the bit pattern; anything else (zero,
/// ties, leaving the binade, non-finite values) takes single steps.
#[inline]
fn add_repeatedly(sum: f64, value: f64, count: u64) -> f64 {
    // Most runs of a column with many distinct values are single values.
    match count {
        0 => sum,
        1 => sum + value,
        2 => sum + value + value,
        _ => add_many_times(sum, value, count),
    }
}

/// [`add_repeatedly`] past its shortest runs.
fn add_many_times(mut sum: f64, value: f64, mut count: u64) -> f64 {
    const MANTISSA: u64 = (1 << 52) - 1;
    while count > 0 {
        let next = sum + value;
        count -= 1;
        let (sum_bits, next_bits) = (sum.to_bits(), next.to_bits());
        let exponent = (sum_bits >> 52) & 0x7ff;
        // Same sign and exponent, normal, finite, with room for the spacing's half.
        if count == 0
            || sum_bits >> 52 != next_bits >> 52
            || exponent <= 54
            || exponent == 0x7ff
            || !value.is_finite()
        {
            sum = next;
            continue;
        }
        // The exact rounding error of `sum + value` (Knuth's two-sum).
        let back = next - sum;
        let error = (sum - (next - back)) + (value - back);
        let half_spacing = f64::from_bits((exponent - 53) << 52);
        if error.abs() == half_spacing {
            sum = next;
            continue;
        }
        // In units of the spacing: the magnitudes' mantissas (with the
        // implicit bit), and the step between them (signed, as the
        // magnitude grows or shrinks).
        let step = (next_bits & MANTISSA) as i64 - (sum_bits & MANTISSA) as i64;
        let at = ((next_bits & MANTISSA) | (1 << 52)) as i64;
        // Further steps that keep the magnitude within [2^52 + 1, 2^53 - 1] units.
        let room = match step {
            0 => count,
            step if step > 0 => ((1i64 << 53) - 1 - at).max(0) as u64 / step as u64,
            step => (at - (1i64 << 52) - 1).max(0) as u64 / step.unsigned_abs(),
        };
        let taken = room.min(count);
        sum = f64::from_bits((next_bits as i64 + taken as i64 * step) as u64);
        count -= taken;
    }
    sum
}

/// A small, fast hash for counting strings (FxHash's mixing step). Keys come
/// from the data being described, not from an adversary, so flooding
/// resistance is not needed.
#[derive(Default)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(SEED);
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(tail) ^ rest.len() as u64)
            .wrapping_mul(SEED);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Linear interpolation between closest ranks (numpy's default): the
/// quantile `p` of sorted `values` sits at position `(n - 1) * p`.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let position = (sorted.len() - 1) as f64 * p;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let weight = position - below as f64;
    sorted[below] + weight * (sorted[above] - sorted[below])
}

/// Distinct non-missing values with their counts, most frequent first and
/// ties in [`Value::total_cmp`] order. Floats count `-0.0` as `0.0`.
fn value_counts(table: &Table, index: usize) -> Vec<(Value, u64)> {
    let mut counts: HashMap<CountKey, (Value, u64)> = HashMap::new();
    for row in 0..table.n_rows() {
        let (key, value) = match table.value(index, row) {
            Value::Missing => continue,
            Value::Integer(v) => (CountKey::Integer(v), Value::Integer(v)),
            // `-0.0 + 0.0` is `0.0`, so both zeros count as one value.
            Value::Float(v) => (CountKey::Float((v + 0.0).to_bits()), Value::Float(v + 0.0)),
            Value::Boolean(v) => (CountKey::Boolean(v), Value::Boolean(v)),
            Value::Text(v) => (CountKey::Text(v.clone()), Value::Text(v)),
        };
        counts.entry(key).or_insert((value, 0)).1 += 1;
    }
    let mut counts: Vec<(Value, u64)> = counts.into_values().collect();
    counts.sort_by(|(a, n_a), (b, n_b)| n_b.cmp(n_a).then_with(|| a.total_cmp(b)));
    counts
}

/// A hashable stand-in for a [`Value`] (floats by bit pattern).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CountKey {
    Integer(i64),
    Float(u64),
    Boolean(bool),
    Text(String),
}

/// How many rows each class of the label column has, classes in
/// [`Value::total_cmp`] order (numbers numerically, text alphabetically), as
/// they appear in text. Missing labels are not counted.
pub fn class_balance(table: &Table, label: &str) -> Result<Vec<(String, u64)>, TabularError> {
    let index = table.require_column(label)?;
    let mut counts = value_counts(table, index);
    counts.sort_by(|(a, _), (b, _)| a.total_cmp(b));
    Ok(counts
        .into_iter()
        .map(|(value, n)| (value.to_string(), n))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::{CsvOptions, read_csv};
    use versa_core::ColumnType;

    fn table(text: &str) -> Table {
        read_csv(text.as_bytes(), &CsvOptions::default()).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn numeric_stats_match_hand_computed_values() {
        // x = 1, 2, 3, 4, 10 and one missing.
        let t = table("x,c\n1,a\n2,b\n,a\n3,a\n4,b\n10,c\n");
        let stats = column_stats(&t);
        let x = &stats[0];
        assert_eq!(x.name, "x");
        assert_eq!(x.column_type, ColumnType::Integer);
        assert_eq!((x.count, x.missing, x.distinct), (5, 1, 5));
        assert!(close(x.mean.unwrap(), 4.0));
        // squared deviations 9 + 4 + 1 + 0 + 36 = 50; 50 / 4 = 12.5
        assert!(close(x.std.unwrap(), 12.5_f64.sqrt()));
        assert_eq!((x.min, x.max), (Some(1.0), Some(10.0)));
        // numpy.percentile([1,2,3,4,10], [25,50,75]) == [2, 3, 4]
        assert_eq!(x.quantiles, Some([2.0, 3.0, 4.0]));
        assert_eq!(x.top[0], ("1".to_string(), 1));
        assert_eq!(x.top.len(), 5);

        let c = &stats[1];
        assert_eq!(c.column_type, ColumnType::Categorical);
        assert_eq!((c.count, c.missing, c.distinct), (6, 0, 3));
        assert_eq!(c.mean, None);
        assert_eq!(c.quantiles, None);
        assert_eq!(
            c.top,
            vec![
                ("a".to_string(), 3),
                ("b".to_string(), 2),
                ("c".to_string(), 1)
            ]
        );
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        // numpy.percentile([1.5, 2.5, 4.0, 7.0], [25, 50, 75]) == [2.25, 3.25, 4.75]
        let t = table("x\n7.0\n1.5\n4.0\n2.5\n");
        let x = &column_stats(&t)[0];
        assert_eq!(x.column_type, ColumnType::Float);
        let [q1, q2, q3] = x.quantiles.unwrap();
        assert!(
            close(q1, 2.25) && close(q2, 3.25) && close(q3, 4.75),
            "{q1} {q2} {q3}"
        );
    }

    #[test]
    fn single_value_has_no_std_and_all_missing_has_no_numbers() {
        let t = table("x,y\n5,\n,\n");
        let stats = column_stats(&t);
        assert_eq!(stats[0].mean, Some(5.0));
        assert_eq!(stats[0].std, None);
        assert_eq!(stats[0].quantiles, Some([5.0, 5.0, 5.0]));
        assert_eq!(
            (stats[1].count, stats[1].missing, stats[1].distinct),
            (0, 2, 0)
        );
        assert!(stats[1].top.is_empty());
    }

    #[test]
    fn top_is_capped_at_ten_and_breaks_ties_by_value() {
        let mut text = String::from("n\n");
        for value in [12, 3, 7, 3, 11, 1, 2, 4, 5, 6, 8, 9, 10, 12] {
            text.push_str(&format!("{value}\n"));
        }
        let stats = column_stats(&table(&text));
        let top: Vec<&str> = stats[0].top.iter().map(|(v, _)| v.as_str()).collect();
        // 3 and 12 appear twice; then singles in numeric (not text) order.
        assert_eq!(top, vec!["3", "12", "1", "2", "4", "5", "6", "7", "8", "9"]);
        assert_eq!(stats[0].distinct, 12);
    }

    #[test]
    fn boolean_columns_get_counts_but_no_numeric_summary() {
        let stats = column_stats(&table("b\ntrue\nfalse\ntrue\n"));
        assert_eq!(stats[0].column_type, ColumnType::Boolean);
        assert_eq!(stats[0].mean, None);
        assert_eq!(
            stats[0].top,
            vec![("true".to_string(), 2), ("false".to_string(), 1)]
        );
    }

    /// The straightforward definition the fast paths must match exactly.
    fn reference_stats(table: &Table, index: usize) -> ColumnStats {
        let column = &table.schema()[index];
        let counts = value_counts(table, index);
        let count: u64 = counts.iter().map(|(_, n)| n).sum();
        let mut stats = ColumnStats {
            name: column.name.clone(),
            column_type: column.column_type,
            count,
            missing: table.n_rows() as u64 - count,
            mean: None,
            std: None,
            min: None,
            max: None,
            quantiles: None,
            distinct: counts.len() as u64,
            top: counts
                .iter()
                .take(TOP_VALUES)
                .map(|(value, n)| (value.to_string(), *n))
                .collect(),
        };
        if column.column_type.is_numeric() {
            let mut values: Vec<f64> = table
                .numeric_column(index)
                .unwrap_or_default()
                .into_iter()
                .flatten()
                .collect();
            values.sort_by(f64::total_cmp);
            if !values.is_empty() {
                let n = values.len() as f64;
                let mean = values.iter().sum::<f64>() / n;
                stats.mean = Some(mean);
                stats.std = (values.len() > 1).then(|| {
                    let squares: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
                    (squares / (n - 1.0)).sqrt()
                });
                stats.min = values.first().copied();
                stats.max = values.last().copied();
                stats.quantiles = Some([0.25, 0.5, 0.75].map(|p| quantile(&values, p)));
            }
        }
        stats
    }

    #[test]
    fn fast_paths_match_the_reference_definition() {
        use arrow_array::{BooleanArray, Float64Array, Int64Array, StringArray};
        use std::sync::Arc;
        let mut rng = versa_core::Rng::new(7);
        for n_rows in [1, 2, 9, 40, 500, 3000] {
            let mut pick = |n: usize| rng.below(n);
            let present = |p: &mut dyn FnMut(usize) -> usize| p(5) != 0;
            let mut ints = Vec::new();
            let mut floats = Vec::new();
            let mut bools = Vec::new();
            let mut texts = Vec::new();
            for _ in 0..n_rows {
                let values = [-0.0, 0.0, 1.5, -2.25, 1e300, 3.0];
                ints.push(present(&mut pick).then(|| pick(30) as i64 - 15));
                floats
                    .push(present(&mut pick).then(|| values[pick(values.len())] * pick(3) as f64));
                bools.push(present(&mut pick).then(|| pick(2) == 1));
                texts.push(present(&mut pick).then(|| {
                    ["a", "b", "B", "é", "", "long text value"][pick(6)].repeat(1 + pick(2))
                }));
            }
            assert_stats_match_the_reference(
                vec![
                    (ColumnType::Integer, Arc::new(Int64Array::from(ints))),
                    (ColumnType::Float, Arc::new(Float64Array::from(floats))),
                    (ColumnType::Boolean, Arc::new(BooleanArray::from(bools))),
                    (ColumnType::Categorical, Arc::new(StringArray::from(texts))),
                ],
                &format!("{n_rows} rows"),
            );
        }
    }

    /// Checks [`column_stats`] of a table of these columns against
    /// [`reference_stats`], column by column.
    fn assert_stats_match_the_reference(
        columns: Vec<(ColumnType, arrow_array::ArrayRef)>,
        context: &str,
    ) {
        let schema = columns
            .iter()
            .enumerate()
            .map(|(index, (column_type, _))| versa_core::ColumnSchema {
                name: format!("c{index}"),
                column_type: *column_type,
                nullable: true,
            })
            .collect();
        let arrays = columns.into_iter().map(|(_, array)| array).collect();
        let table = Table::from_columns(schema, arrays).unwrap();
        for (index, stats) in column_stats(&table).iter().enumerate() {
            assert_eq!(
                stats,
                &reference_stats(&table, index),
                "{context}, column {index}"
            );
        }
    }

    #[test]
    fn columns_of_distinct_values_match_the_reference_definition() {
        use arrow_array::{Float64Array, Int64Array};
        use std::sync::Arc;
        let mut rng = versa_core::Rng::new(17);
        for n_rows in [1, 2, 11, 600, 5000] {
            let mut ints = Vec::new();
            let mut ids = Vec::new();
            let mut floats = Vec::new();
            let mut zeros = Vec::new();
            for row in 0..n_rows {
                // Distinct by construction: the row in the low bits.
                let high = rng.below(1 << 20) as i64;
                ints.push((rng.below(9) != 0).then_some((high << 20 | row as i64) - (1 << 39)));
                ids.push(Some(row as i64));
                let float = (high as f64 + row as f64 / n_rows as f64) * 1e-3;
                floats.push((rng.below(9) != 0).then_some(float));
                // Both zeros among otherwise distinct values: one value, counted twice.
                zeros.push(Some(match row {
                    0 => -0.0,
                    1 => 0.0,
                    _ => float + 1.0,
                }));
            }
            assert_stats_match_the_reference(
                vec![
                    (ColumnType::Integer, Arc::new(Int64Array::from(ints))),
                    (ColumnType::Integer, Arc::new(Int64Array::from(ids))),
                    (ColumnType::Float, Arc::new(Float64Array::from(floats))),
                    (ColumnType::Float, Arc::new(Float64Array::from(zeros))),
                ],
                &format!("{n_rows} rows"),
            );
        }
    }

    #[test]
    fn repeated_addition_is_the_loop_bit_for_bit() {
        let naive = |mut sum: f64, value: f64, count: u64| {
            for _ in 0..count {
                sum += value;
            }
            sum
        };
        let mut rng = versa_core::Rng::new(29);
        let random = |rng: &mut versa_core::Rng| {
            let scale = [1e-300, 1e-20, 1e-3, 0.01, 1.0, 7.0, 1e6, 1e15, 1e300][rng.below(9)];
            let sign = if rng.below(2) == 0 { -1.0 } else { 1.0 };
            sign * scale * rng.uniform()
        };
        let specials = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            2.0,
            0.5,
            f64::EPSILON / 2.0,
            -f64::EPSILON / 2.0,
            f64::EPSILON,
            0.1,
            -0.1,
            0.01,
            38.55,
            1.0 - f64::EPSILON / 2.0,
            2.0_f64.powi(60),
            f64::MIN_POSITIVE,
            5e-324,
            1e308,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
        ];
        for case in 0..60_000 {
            let pick = |rng: &mut versa_core::Rng| {
                if rng.below(3) == 0 {
                    specials[rng.below(specials.len())]
                } else {
                    random(rng)
                }
            };
            let sum = pick(&mut rng);
            let value = match rng.below(4) {
                // A value that is an exact tie at the sum's spacing.
                0 if sum.is_normal() => {
                    let spacing = f64::from_bits(sum.abs().to_bits() + 1) - sum.abs();
                    spacing
                        * (rng.below(7) as f64 + 0.5)
                        * if rng.below(2) == 0 { -1.0 } else { 1.0 }
                }
                // Walks the sum back towards (and past) zero.
                1 => -sum / (1.0 + rng.below(50) as f64),
                _ => pick(&mut rng),
            };
            let count = [1, 2, 3, 5, 17, 100, 1000, 5000][rng.below(8)] + rng.below(3) as u64;
            let expected = naive(sum, value, count);
            let fast = add_repeatedly(sum, value, count);
            assert!(
                fast.to_bits() == expected.to_bits() || (fast.is_nan() && expected.is_nan()),
                "case {case}: {sum:e} + {value:e} x {count}: {fast:e} != {expected:e}"
            );
        }
        // Runs as the statistics see them: many values, many repeats.
        let mut sum = 0.0;
        let mut expected = 0.0;
        for _ in 0..2000 {
            let value = (rng.below(20_000) as f64 - 5_000.0) / 100.0;
            let count = 1 + rng.below(300) as u64;
            sum = add_repeatedly(sum, value, count);
            expected = naive(expected, value, count);
        }
        assert_eq!(sum.to_bits(), expected.to_bits());
    }

    #[test]
    fn text_counts_agree_with_a_hash_map_on_look_alike_texts() {
        use arrow_array::StringArray;
        use arrow_array::builder::NullBufferBuilder;
        let mut rng = versa_core::Rng::new(23);
        // Texts that share lengths, first and last eight bytes: only their
        // middles (or one byte) tell them apart.
        let heads = ["", "a", "abcdefgh", "abcdefgh-", "é"];
        let middles = ["", "x", "y", "xy", "0123456789"];
        let tails = ["", "z", "12345678", "-12345678"];
        for n_kinds in [1, 3, 16, 17, 60] {
            let kinds: Vec<String> = (0..n_kinds)
                .map(|_| {
                    format!(
                        "{}{}{}",
                        heads[rng.below(heads.len())],
                        middles[rng.below(middles.len())],
                        tails[rng.below(tails.len())]
                    )
                })
                .collect();
            let texts: Vec<String> = (0..2000)
                .map(|_| kinds[rng.below(kinds.len())].clone())
                .collect();
            // Null rows keep their text in the buffer: it must not be counted.
            let mut nulls = NullBufferBuilder::new(texts.len());
            let mut expected: HashMap<&str, u64> = HashMap::new();
            for text in &texts {
                let present = rng.below(4) != 0;
                nulls.append(present);
                if present {
                    *expected.entry(text.as_str()).or_insert(0) += 1;
                }
            }
            let plain = StringArray::from(texts.clone());
            let (offsets, values, _) = plain.into_parts();
            let array = StringArray::new(offsets, values, nulls.finish());
            let mut counted = text_counts(&array);
            counted.sort_unstable();
            let mut expected: Vec<(&str, u64)> = expected.into_iter().collect();
            expected.sort_unstable();
            assert_eq!(counted, expected, "{n_kinds} kinds");
        }
    }

    #[test]
    fn sorted_keys_have_the_runs_of_the_sorted_column_on_every_path() {
        let mut rng = versa_core::Rng::new(11);
        let random: Vec<u64> = (0..20_000).map(|_| rng.below(1 << 40) as u64).collect();
        let repetitive: Vec<u64> = (0..20_000).map(|_| rng.below(300) as u64).collect();
        // Repetitive at first, then all distinct: the sample guesses wrong.
        let mut mixed = repetitive[..5000].to_vec();
        mixed.extend(random[..15_000].iter().map(|key| key + 1000));
        let sorted: Vec<u64> = (0..20_000).collect();
        // Few distinct values over a wide range: counted by hashing, not by array.
        let spread: Vec<u64> = repetitive.iter().map(|key| key << 40).collect();
        for keys in [
            random,
            repetitive,
            mixed,
            spread,
            sorted,
            Vec::new(),
            vec![u64::MAX, 0],
        ] {
            let mut expected = keys.clone();
            expected.sort_unstable();
            let sorted = sorted_keys(keys.into());
            assert_eq!(sorted.n_values(), expected.len() as u64);
            for (index, &key) in expected.iter().enumerate() {
                assert_eq!(sorted.at(index as u64), Some(key), "key {index}");
            }
            assert_eq!(sorted.at(expected.len() as u64), None);
            let mut runs: Vec<(u64, u64)> = Vec::new();
            for key in expected {
                match runs.last_mut() {
                    Some((last, n)) if *last == key => *n += 1,
                    _ => runs.push((key, 1)),
                }
            }
            assert_eq!(sorted.runs().collect::<Vec<_>>(), runs);
        }
    }

    proptest::proptest! {
        #[test]
        fn radix_sorts_agree_with_comparison_sorts(
            ints in proptest::collection::vec(proptest::num::i64::ANY, 0..2000),
            float_bits in proptest::collection::vec(proptest::num::u64::ANY, 0..2000),
            small in proptest::collection::vec(-300i64..300, 0..2000),
        ) {
            for values in [ints, small] {
                let mut expected = values.clone();
                expected.sort_unstable();
                let mut keys: Vec<u64> = values.into_iter().map(integer_key).collect();
                radix_sort(&mut keys);
                let sorted: Vec<i64> = keys.into_iter().map(integer_from_key).collect();
                proptest::prop_assert_eq!(sorted, expected);
            }
            // Any bit pattern, NaNs and both zeros included.
            let floats: Vec<f64> = float_bits.into_iter().map(f64::from_bits).collect();
            let mut expected = floats.clone();
            expected.sort_by(f64::total_cmp);
            let mut keys: Vec<u64> = floats.into_iter().map(float_key).collect();
            radix_sort(&mut keys);
            let floats: Vec<f64> = keys.into_iter().map(float_from_key).collect();
            let bits = |values: &[f64]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&floats), bits(&expected));
        }
    }

    #[test]
    fn class_balance_counts_classes_in_order() {
        let t = table("x,y\n1,yes\n2,no\n3,yes\n4,\n5,yes\n");
        assert_eq!(
            class_balance(&t, "y").unwrap(),
            vec![("no".to_string(), 1), ("yes".to_string(), 3)]
        );
        let t = table("y\n10\n2\n2\n");
        assert_eq!(
            class_balance(&t, "y").unwrap(),
            vec![("2".to_string(), 2), ("10".to_string(), 1)]
        );
        let err = class_balance(&t, "label").unwrap_err();
        assert_eq!(
            err.to_string(),
            "column `label` is not in the table; columns are: `y`"
        );
    }
}
