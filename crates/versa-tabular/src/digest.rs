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

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use versa_core::{ColumnType, Digest, Hasher};

use crate::table::Table;

/// The tag hashed first, naming the encoding version.
pub const TABLE_DIGEST_VERSION: &str = "versa-table-digest/1";

const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

/// The digest of a table's canonical encoding (see the module docs).
pub fn content_digest(table: &Table) -> Digest {
    let mut hasher = Hasher::new();
    hasher.update_field(TABLE_DIGEST_VERSION.as_bytes());
    hasher.update(&(table.n_columns() as u64).to_le_bytes());
    hasher.update(&(table.n_rows() as u64).to_le_bytes());
    for column in table.schema() {
        hasher.update_field(column.name.as_bytes());
        hasher.update_field(column.column_type.name().as_bytes());
    }
    // Cells are encoded into a buffer hashed in large slices: the hash of a
    // stream does not depend on how it is sliced, and one hasher call per
    // few-byte cell would cost more than the hashing itself.
    let mut out = Encoder {
        hasher: &mut hasher,
        buffer: Vec::with_capacity(ENCODER_BUFFER + 64),
    };
    for (index, column) in table.schema().iter().enumerate() {
        let array = table.column(index);
        let present = |row: usize| !array.is_null(row);
        match column.column_type {
            ColumnType::Integer => {
                let values = array.as_primitive::<Int64Type>().values();
                for (row, value) in values.iter().enumerate() {
                    out.cell(present(row), &value.to_le_bytes());
                }
            }
            ColumnType::Float => {
                let values = array.as_primitive::<Float64Type>().values();
                for (row, value) in values.iter().enumerate() {
                    out.cell(present(row), &canonical_float_bits(*value).to_le_bytes());
                }
            }
            ColumnType::Boolean => {
                let values = array.as_boolean();
                for row in 0..values.len() {
                    out.cell(present(row), &[u8::from(values.value(row))]);
                }
            }
            ColumnType::Categorical => {
                for text in array.as_string::<i32>().iter() {
                    match text {
                        None => out.cell(false, &[]),
                        Some(text) => {
                            let bytes = text.as_bytes();
                            out.cell(true, &(bytes.len() as u64).to_le_bytes());
                            out.raw(bytes);
                        }
                    }
                }
            }
        }
    }
    out.flush();
    hasher.finish()
}

/// Bytes buffered before they are handed to the hasher.
const ENCODER_BUFFER: usize = 256 * 1024;

struct Encoder<'a> {
    hasher: &'a mut Hasher,
    buffer: Vec<u8>,
}

impl Encoder<'_> {
    /// One cell: `0` when missing, else `1` followed by its value bytes.
    fn cell(&mut self, present: bool, value: &[u8]) {
        if present {
            self.buffer.push(1);
            self.buffer.extend_from_slice(value);
        } else {
            self.buffer.push(0);
        }
        if self.buffer.len() >= ENCODER_BUFFER {
            self.flush();
        }
    }

    fn raw(&mut self, bytes: &[u8]) {
        if bytes.len() >= ENCODER_BUFFER {
            self.flush();
            self.hasher.update(bytes);
            return;
        }
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= ENCODER_BUFFER {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.buffer.is_empty() {
            self.hasher.update(&self.buffer);
            self.buffer.clear();
        }
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
    fn digest_follows_the_documented_encoding() {
        fn field(out: &mut Vec<u8>, bytes: &[u8]) {
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(bytes);
        }
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
