//! Stage 6, evaluation: model versions side by side on the same held-out rows.
//!
//! Each version is loaded back from the store through [`ModelBundle`] (so the
//! bytes that will serve are the bytes evaluated) and applies its own fitted
//! transform to the raw test rows.

use serde::Serialize;
use versa_core::{ModelName, VersionSelector};
use versa_mlp::metrics::{ClassificationReport, evaluate};
use versa_tabular::Table;

use crate::bundle::ModelBundle;
use crate::prepare::feature_matrix;
use crate::{PipelineError, Workspace};

/// One version's test metrics.
#[derive(Debug, Clone, Serialize)]
pub struct VersionEvaluation {
    /// Version number.
    pub version: u32,
    /// Metrics on the test rows.
    pub metrics: ClassificationReport,
}

/// The side-by-side comparison.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluationReport {
    /// Model name.
    pub model: String,
    /// Number of held-out rows every version was evaluated on.
    pub test_rows: usize,
    /// Per version, in the order asked.
    pub versions: Vec<VersionEvaluation>,
    /// The metric used to pick the best.
    pub selected_by: String,
    /// The version with the highest test accuracy (the newest among equals).
    pub best_version: u32,
}

/// Evaluates `versions` of `model` on `test_rows` of `table` (with labels `labels`).
pub async fn evaluate_versions(
    workspace: &Workspace,
    model: &ModelName,
    versions: &[u32],
    table: &Table,
    test_rows: &[usize],
    labels: &[usize],
) -> Result<EvaluationReport, PipelineError> {
    let mut results = Vec::with_capacity(versions.len());
    for &version in versions {
        let bundle = ModelBundle::load(
            &workspace.catalog,
            &workspace.blobs,
            model,
            &VersionSelector::Version(version),
        )
        .await?;
        let x = feature_matrix(&bundle.transform, table, test_rows)?;
        let proba = bundle.model.predict_proba(x.view());
        let metrics = evaluate(labels, proba.view())?;
        results.push(VersionEvaluation { version, metrics });
    }
    let best_version = results
        .iter()
        .fold(None::<&VersionEvaluation>, |best, candidate| match best {
            Some(b) if b.metrics.accuracy > candidate.metrics.accuracy => Some(b),
            _ => Some(candidate),
        })
        .map(|e| e.version)
        .ok_or_else(|| PipelineError::Invalid("no versions to evaluate".to_string()))?;
    Ok(EvaluationReport {
        model: model.to_string(),
        test_rows: test_rows.len(),
        versions: results,
        selected_by: "accuracy".to_string(),
        best_version,
    })
}
