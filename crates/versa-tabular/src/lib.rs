//! Tables on arrow, for versa: decoding CSV and Parquet bytes into a typed [`Table`],
//! column statistics, canonical content digests, stratified splits, the
//! embedded sample dataset, feature expressions and fitted transforms.
//!
//! This crate is pure: it decodes bytes it is given and never touches files,
//! the network or an async runtime. It knows nothing about the catalog, blob
//! storage or models; those crates speak to it through [`Table`] and the
//! `versa_core` schema types.

pub mod csv;
pub mod digest;
pub mod drift;
pub mod error;
pub mod expr;
mod parallel;
pub mod parquet;
pub mod sample;
pub mod split;
pub mod stats;
pub mod table;
pub mod transform;

pub use csv::{CsvOptions, decode_csv, read_csv};
pub use digest::content_digest;
pub use drift::{DatasetDrift, dataset_drift};
pub use error::TabularError;
pub use parquet::{decode_parquet, looks_like_parquet, read_parquet};
pub use sample::{ChurnRow, churn_csv, churn_rows};
pub use split::{Split, SplitFractions, encode_labels, stratified_split};
pub use stats::{class_balance, column_stats};
pub use table::{DecodedTable, Table, TypeReason, Value};
