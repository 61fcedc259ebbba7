//! Joining text columns while the chunks are parsed.
//!
//! A text column's chunks each collect their cells' bytes and lengths in
//! buffers of their own, but the arrow array needs them in one buffer, in
//! row order. Joining them after the parse copied every byte out of memory
//! written long before and left the chunks' buffers as fresh memory each
//! (a fault per 4 KiB page, which on the project's machines cost more than
//! the copy). So a chunk is placed as soon as every chunk before it has
//! been: its text is copied, while still in cache, to the end of its
//! column's joined buffer, its lengths become offsets there, and its now
//! empty buffers go to a later chunk to fill again. Whichever thread
//! finishes the chunk that is next in order places it, and any finished
//! chunks after it.
//!
//! A chunk is placed only if it starts where the placed ones stopped, which
//! is the rule the caller keeps chunks by (see the parent module). In a
//! column, chunks of only missing cells are placed as empty texts. A chunk
//! in which a column is not (only) text closes that column's placement: its
//! later chunks keep their own text, and the column is joined afterwards
//! from the placed parts and the rest, as it would have been without any
//! placing. So the joined column never depends on the order the threads
//! finish in.

use super::{ChunkOutput, TextParts, Values};
use crate::csv::buffer::ColumnBuffer;

/// One column's joined text: `bytes[..end]`, and the offsets of the rows
/// placed so far (`offsets[0]` is 0 and `offsets[row + 1]` ends `row`).
#[derive(Debug)]
pub(super) struct JoinedText {
    pub(super) bytes: ColumnBuffer<u8>,
    pub(super) offsets: ColumnBuffer<i32>,
    pub(super) end: usize,
}

/// The placing of one column.
#[derive(Debug)]
pub(super) enum PlacedColumn {
    /// Every chunk placed so far had only missing cells.
    Empty,
    /// Chunks are being placed.
    Open(JoinedText),
    /// A chunk of another type (or more text than one array holds) came:
    /// the parts placed before it stay where they are.
    Closed(Option<JoinedText>),
}

impl PlacedColumn {
    /// The joined text of the parts placed, if any had text.
    pub(super) fn joined(&self) -> Option<&JoinedText> {
        match self {
            PlacedColumn::Empty | PlacedColumn::Closed(None) => None,
            PlacedColumn::Open(joined) | PlacedColumn::Closed(Some(joined)) => Some(joined),
        }
    }

    fn close(&mut self) {
        *self = match std::mem::replace(self, PlacedColumn::Empty) {
            PlacedColumn::Empty => PlacedColumn::Closed(None),
            PlacedColumn::Open(joined) => PlacedColumn::Closed(Some(joined)),
            closed @ PlacedColumn::Closed(_) => closed,
        };
    }
}

/// The placing of every column, across the rounds of chunks (see the
/// parent module); used under a lock by the parsing threads.
pub(super) struct Placement {
    pub(super) columns: Vec<PlacedColumn>,
    /// Rows placed so far (the same in every column).
    rows: usize,
    /// The rows the offsets must have room for: every chunk's window.
    row_capacity: usize,
    /// This round's finished chunks, by index, until taken.
    finished: Vec<Option<ChunkOutput>>,
    /// The round's next chunk to place, and where it must start.
    next: usize,
    next_start: usize,
    /// Emptied buffers of placed chunks.
    spare: Vec<TextParts>,
    /// The most text a column can hold: the bytes of the records.
    max_text: usize,
}

impl Placement {
    /// The placing of `n_columns` columns of records spanning `max_text`
    /// bytes.
    pub(super) fn new(n_columns: usize, max_text: usize) -> Placement {
        Placement {
            columns: (0..n_columns).map(|_| PlacedColumn::Empty).collect(),
            rows: 0,
            row_capacity: 0,
            finished: Vec::new(),
            next: 0,
            next_start: 0,
            spare: Vec::new(),
            max_text,
        }
    }

    /// Starts a round of `n_chunks` chunks, the first at `start`, whose
    /// windows end at slot `row_capacity`.
    pub(super) fn start_round(&mut self, n_chunks: usize, start: usize, row_capacity: usize) {
        self.finished = (0..n_chunks).map(|_| None).collect();
        self.next = 0;
        self.next_start = start;
        self.row_capacity = row_capacity;
        for column in &mut self.columns {
            if let PlacedColumn::Open(joined) = column {
                joined.offsets.grow(row_capacity + 1);
            }
        }
    }

    /// Spare buffers for a chunk about to be parsed: one for each column
    /// whose chunks so far were text, as long as there are some.
    pub(super) fn spares(&mut self) -> Vec<Option<TextParts>> {
        let spare = &mut self.spare;
        self.columns
            .iter()
            .map(|column| match column {
                PlacedColumn::Open(_) => spare.pop(),
                _ => None,
            })
            .collect()
    }

    /// Takes chunk `index` of the round, finished, and places it and the
    /// finished chunks after it for as long as each is next.
    pub(super) fn finish(&mut self, index: usize, mut output: ChunkOutput) {
        // Buffers handed out but not used go back.
        for column in &mut output.columns {
            self.spare.extend(column.spare.take());
        }
        if let Some(slot) = self.finished.get_mut(index) {
            *slot = Some(output);
        }
        while let Some(Some(output)) = self.finished.get_mut(self.next) {
            if output.start != self.next_start || output.error.is_some() {
                // The caller keeps no chunk from here on.
                return;
            }
            let room = Room {
                rows: self.row_capacity,
                text: self.max_text,
            };
            place(&mut self.columns, &mut self.spare, self.rows, room, output);
            self.rows += output.n_records;
            self.next_start = output.stop;
            self.next += 1;
        }
    }

    /// The round's chunks, in order; `None` if one was never finished (its
    /// thread failed).
    pub(super) fn take_finished(&mut self) -> Option<Vec<ChunkOutput>> {
        std::mem::take(&mut self.finished).into_iter().collect()
    }
}

/// The most rows and text bytes a column may need.
#[derive(Clone, Copy)]
struct Room {
    rows: usize,
    text: usize,
}

/// Places every column of `output`, whose first row is `rows`.
fn place(
    columns: &mut [PlacedColumn],
    spare: &mut Vec<TextParts>,
    rows: usize,
    room: Room,
    output: &mut ChunkOutput,
) {
    let n_rows = output.n_records;
    for (column, part) in columns.iter_mut().zip(&mut output.columns) {
        let complete = part.reread == 0 && part.n_rows == n_rows;
        let text = match &mut part.values {
            _ if !complete => None,
            Values::Unknown => Some(None),
            Values::Text { bytes, lengths } if lengths.len() == n_rows => {
                Some(Some((bytes, lengths)))
            }
            _ => None,
        };
        let Some(text) = text else {
            column.close();
            continue;
        };
        if let (PlacedColumn::Empty, Some((bytes, _))) = (&*column, &text) {
            *column = PlacedColumn::Open(JoinedText::new(bytes.len(), n_rows, room));
        }
        let placed_bytes = column.joined().map_or(0, |joined| joined.end);
        let new_bytes = text.as_ref().map_or(0, |(bytes, _)| bytes.len());
        if i32::try_from(placed_bytes + new_bytes).is_err() {
            // Too much for one array: the join reports it.
            column.close();
            continue;
        }
        match (&mut *column, text) {
            (PlacedColumn::Closed(_), _) => continue,
            (PlacedColumn::Empty, _) => {}
            (PlacedColumn::Open(joined), None) => {
                joined.offsets[rows + 1..rows + 1 + n_rows].fill(joined.end as i32);
            }
            (PlacedColumn::Open(joined), Some((bytes, lengths))) => {
                joined.append(rows, bytes, lengths);
                spare.push((std::mem::take(bytes), std::mem::take(lengths)));
            }
        }
        part.placed = true;
    }
}

impl JoinedText {
    /// Room for about the text of `room.rows` rows, guessed from the first
    /// chunk's `text_bytes` over `n_rows` but never more than all the text
    /// there is (it grows if the guess is short).
    fn new(text_bytes: usize, n_rows: usize, room: Room) -> JoinedText {
        let per_row = text_bytes.div_ceil(n_rows.max(1));
        let guess = per_row.saturating_mul(room.rows) / 4 * 5 + 4096;
        JoinedText {
            bytes: ColumnBuffer::zeroed(guess.min(room.text)),
            offsets: ColumnBuffer::zeroed(room.rows + 1),
            end: 0,
        }
    }

    /// Appends a chunk's text whose first row is `row`.
    fn append(&mut self, row: usize, bytes: &[u8], lengths: &[u32]) {
        let start = self.end;
        let end = start + bytes.len();
        if end > self.bytes.len() {
            self.bytes.grow(end.max(self.bytes.len() * 2));
        }
        self.bytes[start..end].copy_from_slice(bytes);
        let mut at = start;
        for (offset, &length) in self.offsets[row + 1..].iter_mut().zip(lengths) {
            // Within i32: checked by the caller.
            at += length as usize;
            *offset = at as i32;
        }
        self.end = end;
    }
}
