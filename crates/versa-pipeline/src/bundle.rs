//! A deployable model version, loaded: manifest, fitted transform and weights,
//! checked against each other. The server, `versa predict` and the evaluation
//! stage all predict through this one type, so raw input is validated and
//! transformed the same way everywhere (no train/serve skew).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use versa_blobs::BlobStore;
use versa_catalog::Catalog;
use versa_core::manifest::ModelManifest;
use versa_core::{Digest, ModelName, VersionSelector};
use versa_mlp::{Mlp, RowScratch, RowTrace};
use versa_tabular::transform::{FittedTransform, RowError};

use crate::PipelineError;

/// A model version ready to answer predictions.
pub struct ModelBundle {
    /// Registered model name.
    pub name: ModelName,
    /// Version number.
    pub version: u32,
    /// Digest of the model manifest: the identity of what answers.
    pub manifest_digest: Digest,
    /// The manifest.
    pub manifest: ModelManifest,
    /// The fitted transform named by the manifest.
    pub transform: FittedTransform,
    /// The network.
    pub model: Mlp,
}

/// One answered row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prediction {
    /// The predicted class label.
    pub label: String,
    /// Probability of each class label.
    pub probabilities: BTreeMap<String, f32>,
}

/// One transformed feature of a traced row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureValue {
    /// The feature's name, as the fitted transform names it (e.g. `contract=month-to-month`).
    pub name: String,
    /// Its value, as the network receives it.
    pub value: f32,
}

/// How one raw row went through a model version: the transform's output,
/// every hidden layer, and the softmax, for explaining a prediction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PredictionTrace {
    /// Model input features after the fitted transform, in the network's order.
    pub features: Vec<FeatureValue>,
    /// Hidden layer activations, softmax output and the predicted class index.
    pub network: RowTrace,
    /// The labelled prediction, exactly as [`ModelBundle::predict_row`] answers it.
    pub prediction: Prediction,
}

impl ModelBundle {
    /// Loads the version `selector` of model `name`, verifying every blob's digest.
    pub async fn load(
        catalog: &Catalog,
        blobs: &BlobStore,
        name: &ModelName,
        selector: &VersionSelector,
    ) -> Result<ModelBundle, PipelineError> {
        let version = catalog.resolve(name, selector).await?;
        if version.format != versa_catalog::ModelFormat::Versa {
            return Err(PipelineError::Invalid(format!(
                "model {name}/{} was registered through the MLflow API (source {}): its artifacts \
                 are opaque to versa, which stores them but never loads or runs them; load it \
                 with MLflow (mlflow.pyfunc.load_model(\"models:/{name}/{}\")) instead",
                version.version, version.source, version.version
            )));
        }
        let manifest: ModelManifest = blobs.get_json(&version.manifest_digest).await?;
        manifest.check_format()?;
        let transform_bytes = blobs.get(&manifest.transform).await?;
        let transform = FittedTransform::from_json_bytes(&transform_bytes)?;
        let weights = blobs.get(&manifest.weights).await?;
        let model = Mlp::from_safetensors(&weights, &manifest.architecture)?;
        if transform.n_features() != manifest.architecture.input_dim {
            return Err(PipelineError::Invalid(format!(
                "model {name}/{} is inconsistent: its transform yields {} features but its network takes {}",
                version.version,
                transform.n_features(),
                manifest.architecture.input_dim
            )));
        }
        Ok(ModelBundle {
            name: name.clone(),
            version: version.version,
            manifest_digest: version.manifest_digest,
            manifest,
            transform,
            model,
        })
    }

    /// Validates, transforms and predicts one raw row (field name → JSON
    /// value): [`ModelBundle::predict_rows`] on that row alone.
    pub fn predict_row(
        &self,
        row: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Prediction, RowError> {
        self.predict_rows(std::iter::once(row))
            .pop()
            .expect("predict_rows answers one result per row")
    }

    /// Validates, transforms and predicts every raw row; one result per row,
    /// in order, so a bad row fails only itself.
    ///
    /// Each row goes through plain loops over the weights (one scratch buffer
    /// reused across rows; [`ModelBundle::predict_row`] is this on one row),
    /// never a batch GEMM: a row's answer is then bit-identical whichever
    /// path asked — `versa predict`, a server request alone, or a request
    /// batched with others — and for one row the loops are several times
    /// faster than a GEMM call. (Evaluation uses the GEMM; it may differ from
    /// serving in the last bits of a probability.)
    pub fn predict_rows<'a>(
        &self,
        rows: impl IntoIterator<Item = &'a serde_json::Map<String, serde_json::Value>>,
    ) -> Vec<Result<Prediction, RowError>> {
        let mut features = vec![0.0f32; self.transform.n_features()];
        let mut scratch = RowScratch::new(&self.model);
        let mut probabilities = vec![0.0f32; self.manifest.class_labels.len()];
        rows.into_iter()
            .map(|row| {
                self.transform.transform_row(row, &mut features)?;
                self.model
                    .predict_proba_row(&features, &mut scratch, &mut probabilities);
                Ok(self.prediction(&probabilities))
            })
            .collect()
    }

    /// Validates and transforms one raw row like [`ModelBundle::predict_row`],
    /// and records what each layer made of it.
    pub fn trace_row(
        &self,
        row: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<PredictionTrace, RowError> {
        let values = self.transform.transform_json_row(row)?;
        let network = self.model.trace_row(&values);
        let prediction = self.prediction(&network.probabilities);
        let features = self
            .transform
            .feature_names()
            .iter()
            .zip(values)
            .map(|(name, value)| FeatureValue {
                name: name.clone(),
                value,
            })
            .collect();
        Ok(PredictionTrace {
            features,
            network,
            prediction,
        })
    }

    /// Turns softmax output into a labelled prediction.
    pub fn prediction(&self, probabilities: &[f32]) -> Prediction {
        let best = probabilities
            .iter()
            .enumerate()
            .fold(
                (0, f32::MIN),
                |acc, (i, &p)| if p > acc.1 { (i, p) } else { acc },
            )
            .0;
        Prediction {
            label: self.manifest.class_labels[best].clone(),
            probabilities: self
                .manifest
                .class_labels
                .iter()
                .zip(probabilities)
                .map(|(label, &probability)| (label.clone(), probability))
                .collect(),
        }
    }
}
