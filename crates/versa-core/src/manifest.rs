//! Versioned on-disk manifests: the JSON documents that tie blobs together.
//!
//! A manifest is stored as a blob of its own (its digest is its identity) and
//! names the other blobs it depends on by digest. Each carries a
//! `format_version`; readers reject versions they do not know instead of
//! guessing. These types are the on-disk format, kept separate from the
//! in-memory types of `versa-tabular` and `versa-mlp`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::schema::{ColumnSchema, ColumnStats};

/// Current `format_version` of [`DatasetManifest`].
pub const DATASET_MANIFEST_FORMAT: u32 = 1;
/// Current `format_version` of [`ModelManifest`].
pub const MODEL_MANIFEST_FORMAT: u32 = 1;

/// A manifest whose `format_version` this build does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{kind} has format_version {found}, but this versa reads only format_version {supported}; upgrade versa to read it"
)]
pub struct UnsupportedFormat {
    /// Which manifest.
    pub kind: &'static str,
    /// The version found on disk.
    pub found: u32,
    /// The version this build reads.
    pub supported: u32,
}

/// The file format a dataset was ingested from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// Comma- (or otherwise) separated values.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// An immutable dataset version: where its bytes are, what they contain.
///
/// Holds content only (no names, version numbers or times: those live in the
/// catalog), so identical data always yields an identical manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetManifest {
    /// Always [`DATASET_MANIFEST_FORMAT`] when written by this build.
    pub format_version: u32,
    /// Digest of the canonical encoding of the table's values (independent of
    /// file format and line endings).
    pub content_digest: Digest,
    /// Blob holding the source file's bytes, exactly as ingested.
    pub source_blob: Digest,
    /// Format of the source blob.
    pub source_format: SourceFormat,
    /// Rows in the table (header excluded).
    pub n_rows: u64,
    /// Column schema, in source order.
    pub schema: Vec<ColumnSchema>,
    /// Per-column statistics, in source order.
    pub stats: Vec<ColumnStats>,
}

impl DatasetManifest {
    /// Rejects a manifest written by an incompatible versa.
    pub fn check_format(&self) -> Result<(), UnsupportedFormat> {
        check(
            "dataset manifest",
            self.format_version,
            DATASET_MANIFEST_FORMAT,
        )
    }
}

/// Hidden-layer activation function of an MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// max(0, x)
    Relu,
    /// tanh(x)
    Tanh,
    /// 1 / (1 + e^-x)
    Logistic,
}

impl Activation {
    /// The lowercase name used in configs and traces.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Logistic => "logistic",
        }
    }
}

/// The shape of an MLP: input → hidden layers (activation) → softmax over classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    /// Width of the input (transformed feature count).
    pub input_dim: usize,
    /// Width of each hidden layer, input side first.
    pub hidden: Vec<usize>,
    /// Activation of every hidden layer.
    pub activation: Activation,
    /// Number of output classes (softmax width).
    pub n_classes: usize,
}

/// A model version, self-contained: with this manifest and the blobs it names,
/// a server can validate raw input, transform it and predict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelManifest {
    /// Always [`MODEL_MANIFEST_FORMAT`] when written by this build.
    pub format_version: u32,
    /// Network shape.
    pub architecture: Architecture,
    /// Class labels in softmax order.
    pub class_labels: Vec<String>,
    /// The label column the model predicts.
    pub label_column: String,
    /// Raw fields a prediction request must carry (before preprocessing).
    pub input_schema: Vec<ColumnSchema>,
    /// Names of the transformed features, in the network's input order.
    pub feature_names: Vec<String>,
    /// safetensors blob with the weights.
    pub weights: Digest,
    /// Fitted transform blob (`versa-tabular`'s format).
    pub transform: Digest,
    /// Content digest of the dataset version trained on.
    pub dataset: Digest,
    /// Digest of the split (which rows were train, validation, test).
    pub split: Digest,
    /// The training parameters, as recorded on the run.
    pub params: BTreeMap<String, String>,
}

impl ModelManifest {
    /// Rejects a manifest written by an incompatible versa.
    pub fn check_format(&self) -> Result<(), UnsupportedFormat> {
        check("model manifest", self.format_version, MODEL_MANIFEST_FORMAT)
    }
}

fn check(kind: &'static str, found: u32, supported: u32) -> Result<(), UnsupportedFormat> {
    if found == supported {
        Ok(())
    } else {
        Err(UnsupportedFormat {
            kind,
            found,
            supported,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ColumnType;

    fn manifest() -> ModelManifest {
        ModelManifest {
            format_version: MODEL_MANIFEST_FORMAT,
            architecture: Architecture {
                input_dim: 3,
                hidden: vec![4],
                activation: Activation::Relu,
                n_classes: 2,
            },
            class_labels: vec!["no".into(), "yes".into()],
            label_column: "churned".into(),
            input_schema: vec![ColumnSchema {
                name: "age".into(),
                column_type: ColumnType::Integer,
                nullable: false,
            }],
            feature_names: vec!["age".into()],
            weights: Digest::of(b"w"),
            transform: Digest::of(b"t"),
            dataset: Digest::of(b"d"),
            split: Digest::of(b"s"),
            params: BTreeMap::new(),
        }
    }

    #[test]
    fn model_manifest_round_trips_and_checks_format() {
        let m = manifest();
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains("\"activation\":\"relu\""), "{json}");
        let back: ModelManifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert!(back.check_format().is_ok());
        let mut future = m;
        future.format_version = 99;
        let err = future.check_format().unwrap_err().to_string();
        assert!(err.contains("format_version 99"), "{err}");
    }
}
