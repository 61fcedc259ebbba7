//! The pipeline's error type: one variant per library it drives, plus its own checks.

use std::path::PathBuf;

/// Anything that can stop a pipeline stage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// Reading a user's file failed.
    #[error("cannot read `{path}`: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The workspace directory is missing or unusable.
    #[error("{0}")]
    Workspace(String),
    /// Tabular decoding or statistics failed.
    #[error(transparent)]
    Tabular(#[from] versa_tabular::error::TabularError),
    /// A derived-feature expression failed to compile or evaluate.
    #[error(transparent)]
    Expr(#[from] versa_tabular::expr::ExprError),
    /// Fitting or applying a transform failed.
    #[error(transparent)]
    Transform(#[from] versa_tabular::transform::TransformError),
    /// Training or evaluating a model failed.
    #[error(transparent)]
    Mlp(#[from] versa_mlp::MlpError),
    /// The blob store failed.
    #[error(transparent)]
    Blobs(#[from] versa_blobs::BlobError),
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] versa_catalog::CatalogError),
    /// A stored manifest is from an incompatible versa.
    #[error(transparent)]
    Format(#[from] versa_core::manifest::UnsupportedFormat),
    /// A stored JSON document could not be decoded.
    #[error("stored {what} {digest} is not valid: {source}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Its digest.
        digest: versa_core::Digest,
        /// The decoder's complaint.
        source: serde_json::Error,
    },
    /// A background task panicked or was cancelled.
    #[error("internal task failed: {0}")]
    Task(String),
    /// The inputs of a stage are inconsistent.
    #[error("{0}")]
    Invalid(String),
}
