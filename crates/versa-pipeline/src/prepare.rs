//! Stages 2 and 3, preprocessing and feature engineering: split the rows,
//! fit the transform (imputation, derived features, scaling, encoding) on the
//! training rows only, store it as a versioned blob, and build the matrices
//! every training variant and the evaluation share.

use ndarray::Array2;
use versa_core::Digest;
use versa_tabular::split::{Split, SplitFractions, encode_labels, stratified_split};
use versa_tabular::transform::{FittedTransform, TransformSpec, fit};

use crate::ingest::LoadedDataset;
use crate::{PipelineError, Workspace};

/// How to prepare a dataset for training.
#[derive(Debug, Clone)]
pub struct PrepareConfig {
    /// The label column.
    pub label: String,
    /// Preprocessing and derived features.
    pub transform: TransformSpec,
    /// Validation and test fractions.
    pub fractions: SplitFractions,
    /// Seed of the split.
    pub seed: u64,
}

/// Feature matrices and labels for one split part.
pub struct Part {
    /// Row indices into the dataset.
    pub rows: Vec<usize>,
    /// rows × features, row-major.
    pub x: Array2<f32>,
    /// Class index per row.
    pub y: Vec<usize>,
}

/// The prepared dataset: split, fitted transform, matrices.
pub struct Prepared {
    /// The label column.
    pub label: String,
    /// Class labels; a class index is a position in this list.
    pub classes: Vec<String>,
    /// The split.
    pub split: Split,
    /// Digest of the split.
    pub split_digest: Digest,
    /// The fitted transform.
    pub transform: FittedTransform,
    /// Its blob digest.
    pub transform_digest: Digest,
    /// Training rows.
    pub train: Part,
    /// Validation rows.
    pub validation: Part,
    /// Held-out test rows.
    pub test: Part,
    /// Columns after imputation and feature engineering, before encoding.
    pub n_engineered_columns: usize,
}

/// Splits, fits and transforms; stores and registers the fitted transform.
pub async fn prepare(
    workspace: &Workspace,
    dataset: &LoadedDataset,
    config: &PrepareConfig,
) -> Result<Prepared, PipelineError> {
    let table = &dataset.table;
    let (classes, labels) = encode_labels(table, &config.label)?;
    let split = stratified_split(&labels, classes.len(), config.fractions, config.seed)?;
    let transform = fit(table, &config.label, &split.train, &config.transform)?;
    let part = |rows: &[usize]| -> Result<Part, PipelineError> {
        let x = feature_matrix(&transform, table, rows)?;
        Ok(Part {
            rows: rows.to_vec(),
            x,
            y: rows.iter().map(|&r| labels[r]).collect(),
        })
    };
    let train = part(&split.train)?;
    let validation = part(&split.validation)?;
    let test = part(&split.test)?;
    let transform_bytes = transform.to_json_bytes();
    let transform_digest = workspace.blobs.put(transform_bytes.into()).await?;
    let spec_json = serde_json::to_string(&config.transform)
        .map_err(|e| PipelineError::Invalid(format!("transform spec is not serialisable: {e}")))?;
    workspace
        .catalog
        .register_transform(
            &transform_digest,
            &dataset.manifest.content_digest,
            &spec_json,
        )
        .await?;
    let n_engineered_columns = transform.input_schema().len() + config.transform.features.len();
    Ok(Prepared {
        label: config.label.clone(),
        classes,
        split_digest: split.digest(),
        split,
        transform,
        transform_digest,
        train,
        validation,
        test,
        n_engineered_columns,
    })
}

/// `rows` of `table` through `transform`, as a rows × features matrix: the one
/// way training, evaluation and reproduction build model inputs.
pub fn feature_matrix(
    transform: &FittedTransform,
    table: &versa_tabular::Table,
    rows: &[usize],
) -> Result<Array2<f32>, PipelineError> {
    let values = transform.transform_table(table, rows)?;
    Array2::from_shape_vec((rows.len(), transform.n_features()), values)
        .map_err(|e| PipelineError::Invalid(format!("transform produced a ragged matrix: {e}")))
}
