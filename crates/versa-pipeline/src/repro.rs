//! `versa repro`: retrain a model version from what it recorded — its run
//! parameters (hyper-parameters and seed), its dataset, split and fitted
//! transform digests — and check the new weights are byte-identical.
//!
//! The split is rebuilt, not stored: its fractions come from a `versa run`
//! prepare-stage result with the same split digest when there is one, else
//! versa's defaults (0.2 / 0.2), and the rebuilt split must hash to the
//! recorded digest before anything trains. Knows nothing about the CLI.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use serde::Serialize;
use versa_core::{Digest, ModelName, VersionSelector};
use versa_mlp::{Activation, EarlyStopping, Initialization, Optimizer, TrainConfig};
use versa_tabular::split::{SplitFractions, encode_labels, stratified_split};

use crate::bundle::ModelBundle;
use crate::ingest::load_dataset;
use crate::prepare::feature_matrix;
use crate::run::STAGE_DIR;
use crate::train::train_on_blocking_thread;
use crate::workspace::MARKER_DIR;
use crate::{PipelineError, Workspace};

/// What a reproduction found.
#[derive(Debug, Clone, Serialize)]
pub struct ReproReport {
    /// Model name.
    pub model: String,
    /// Version reproduced.
    pub version: u32,
    /// Dataset content digest it was trained on.
    pub dataset_digest: Digest,
    /// Split digest (rebuilt and checked).
    pub split_digest: Digest,
    /// Validation fraction used to rebuild the split.
    pub validation_fraction: f64,
    /// Test fraction used to rebuild the split.
    pub test_fraction: f64,
    /// Fitted transform digest.
    pub transform_digest: Digest,
    /// Recorded weights digest.
    pub recorded_weights: Digest,
    /// Weights digest of the retrained network.
    pub reproduced_weights: Digest,
    /// Whether the two are equal.
    pub matches: bool,
    /// Epochs trained.
    pub epochs: usize,
}

/// Retrains `model` version `version` and compares the weight digests.
pub async fn reproduce(
    workspace: &Workspace,
    model: &ModelName,
    version: u32,
) -> Result<ReproReport, PipelineError> {
    let bundle = ModelBundle::load(
        &workspace.catalog,
        &workspace.blobs,
        model,
        &VersionSelector::Version(version),
    )
    .await?;
    let manifest = &bundle.manifest;
    let config = config_from_params(&manifest.params)?;
    let dataset = workspace
        .catalog
        .dataset_by_digest(&manifest.dataset)
        .await?
        .ok_or_else(|| {
            PipelineError::Invalid(format!(
                "dataset {} of {model} v{version} is not registered in this workspace",
                manifest.dataset
            ))
        })?;
    let loaded = load_dataset(workspace, &dataset.manifest_digest).await?;
    let (classes, labels) = encode_labels(&loaded.table, &manifest.label_column)?;
    if classes != manifest.class_labels {
        return Err(PipelineError::Invalid(format!(
            "the dataset's classes {classes:?} differ from the version's {:?}",
            manifest.class_labels
        )));
    }
    let mut tried = Vec::new();
    let mut found = None;
    for fractions in candidate_fractions(workspace, &manifest.split) {
        let split = stratified_split(&labels, classes.len(), fractions, config.seed)?;
        if split.digest() == manifest.split {
            found = Some((split, fractions));
            break;
        }
        tried.push(format!("{}/{}", fractions.validation, fractions.test));
    }
    let (split, fractions) = found.ok_or_else(|| {
        PipelineError::Invalid(format!(
            "cannot rebuild split {} with seed {} (tried validation/test {}); it was not made by `versa run` or with the default fractions",
            manifest.split,
            config.seed,
            tried.join(", ")
        ))
    })?;
    let matrix = |rows: &[usize]| feature_matrix(&bundle.transform, &loaded.table, rows);
    let x_train = matrix(&split.train)?;
    let x_val = matrix(&split.validation)?;
    let y_train: Vec<usize> = split.train.iter().map(|&r| labels[r]).collect();
    let y_val: Vec<usize> = split.validation.iter().map(|&r| labels[r]).collect();
    let outcome = train_on_blocking_thread(
        x_train,
        y_train,
        x_val,
        y_val,
        classes.len(),
        config,
        |_| ControlFlow::Continue(()),
    )
    .await?;
    let reproduced_weights = Digest::of(&outcome.model.to_safetensors());
    Ok(ReproReport {
        model: model.to_string(),
        version,
        dataset_digest: manifest.dataset,
        split_digest: manifest.split,
        validation_fraction: fractions.validation,
        test_fraction: fractions.test,
        transform_digest: manifest.transform,
        recorded_weights: manifest.weights,
        reproduced_weights,
        matches: reproduced_weights == manifest.weights,
        epochs: outcome.history.len(),
    })
}

/// Fractions of `versa run` prepare stages that produced `split`, then the defaults.
fn candidate_fractions(workspace: &Workspace, split: &Digest) -> Vec<SplitFractions> {
    let mut candidates = Vec::new();
    let dir = workspace.root().join(MARKER_DIR).join(STAGE_DIR);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(bytes) = std::fs::read(entry.path()) else {
            continue;
        };
        let Ok(record) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        if record["stage"] == "prepare" && record["output"]["split_digest"] == split.to_string() {
            let part = &record["inputs"]["params"]["split"];
            if let (Some(validation), Some(test)) =
                (part["validation"].as_f64(), part["test"].as_f64())
            {
                candidates.push(SplitFractions { validation, test });
            }
        }
    }
    candidates.push(SplitFractions {
        validation: 0.2,
        test: 0.2,
    });
    candidates
}

fn config_from_params(params: &BTreeMap<String, String>) -> Result<TrainConfig, PipelineError> {
    fn get<'a>(params: &'a BTreeMap<String, String>, key: &str) -> Result<&'a str, PipelineError> {
        params.get(key).map(String::as_str).ok_or_else(|| {
            PipelineError::Invalid(format!("the run's params have no `{key}`; cannot retrain"))
        })
    }
    fn number<T: std::str::FromStr>(
        params: &BTreeMap<String, String>,
        key: &str,
    ) -> Result<T, PipelineError> {
        let text = get(params, key)?;
        text.parse().map_err(|_| {
            PipelineError::Invalid(format!(
                "the run's param `{key}` = `{text}` is not a number"
            ))
        })
    }
    let hidden_text = get(params, "hidden")?;
    let hidden = if hidden_text.is_empty() {
        Vec::new()
    } else {
        hidden_text
            .split(',')
            .map(|w| {
                w.trim().parse().map_err(|_| {
                    PipelineError::Invalid(format!(
                        "the run's param `hidden` = `{hidden_text}` is not a list of widths"
                    ))
                })
            })
            .collect::<Result<Vec<usize>, _>>()?
    };
    let activation = match get(params, "activation")? {
        "relu" => Activation::Relu,
        "tanh" => Activation::Tanh,
        "logistic" => Activation::Logistic,
        other => {
            return Err(PipelineError::Invalid(format!(
                "the run's activation `{other}` is not one of relu, tanh, logistic"
            )));
        }
    };
    let optimizer = match get(params, "optimizer")? {
        "adam" => Optimizer::Adam {
            beta1: number(params, "beta1")?,
            beta2: number(params, "beta2")?,
            epsilon: number(params, "epsilon")?,
        },
        "sgd" => Optimizer::Sgd {
            momentum: number(params, "momentum")?,
            nesterov: get(params, "nesterov")? == "true",
        },
        other => {
            return Err(PipelineError::Invalid(format!(
                "the run's optimizer `{other}` is not adam or sgd"
            )));
        }
    };
    let init = match get(params, "init")? {
        "glorot_uniform" => Initialization::GlorotUniform,
        _ => Initialization::Auto,
    };
    let early_stopping = match get(params, "early_stopping")? {
        "on" => Some(EarlyStopping {
            patience: number(params, "patience")?,
            min_delta: number(params, "min_delta")?,
        }),
        _ => None,
    };
    let class_weights = match params.get("class_weights").map(String::as_str) {
        None | Some("none") => None,
        Some(text) => Some(
            text.split(',')
                .map(|w| {
                    w.trim().parse::<f64>().map_err(|_| {
                        PipelineError::Invalid(format!(
                            "the run's class_weights `{text}` are not numbers"
                        ))
                    })
                })
                .collect::<Result<Vec<f64>, _>>()?,
        ),
    };
    Ok(TrainConfig {
        hidden,
        activation,
        optimizer,
        learning_rate: number(params, "learning_rate")?,
        weight_decay: number(params, "weight_decay")?,
        batch_size: number(params, "batch_size")?,
        epochs: number(params, "epochs")?,
        seed: number(params, "seed")?,
        init,
        early_stopping,
        class_weights,
    })
}
