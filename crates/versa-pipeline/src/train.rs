//! Stages 4 and 5, training: one variant becomes one run and one model version.
//!
//! The CPU work runs on a blocking thread; each finished epoch crosses a
//! channel to this task, which writes it to the catalog as metrics with
//! `step = epoch` (so a crashed run still shows its trace) and tells the
//! observer. Blobs are stored before the version row is written.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::Instant;

use ndarray::Array2;
use serde::Serialize;
use versa_catalog::{MetricPoint, NewModelVersion, NewRun, RunStatus};
use versa_core::manifest::{MODEL_MANIFEST_FORMAT, ModelManifest};
use versa_core::{Digest, ModelName, RunId};
use versa_mlp::metrics::{ClassificationReport, evaluate};
use versa_mlp::{EpochStats, Mlp, StopReason, TrainConfig, TrainOutcome};

use crate::observer::{Event, Observer};
use crate::prepare::Prepared;
use crate::{PipelineError, Workspace};

/// A named training configuration: the scenario's v1 and v2 are two variants.
#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    /// Short name, e.g. `v1`.
    pub name: String,
    /// What makes this variant different, in words.
    pub description: String,
    /// Hyper-parameters.
    pub config: TrainConfig,
}

/// One epoch of the training trace, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's mini-batches.
    pub train_loss: f64,
    /// Training accuracy over the epoch's mini-batches.
    pub train_accuracy: f64,
    /// Validation loss after the epoch.
    pub val_loss: Option<f64>,
    /// Validation accuracy after the epoch.
    pub val_accuracy: Option<f64>,
    /// Learning rate in effect.
    pub learning_rate: f64,
    /// Wall time of the epoch in milliseconds.
    pub duration_ms: f64,
    /// One-line reading of the trend.
    pub observation: String,
}

/// What training one variant produced.
#[derive(Debug, Clone, Serialize)]
pub struct TrainedVersion {
    /// Variant name.
    pub variant: String,
    /// Variant description.
    pub description: String,
    /// Registered model name.
    pub model: String,
    /// The new version number.
    pub version: u32,
    /// The run that produced it.
    pub run_id: RunId,
    /// Parameters logged on the run.
    pub params: BTreeMap<String, String>,
    /// Per-epoch trace.
    pub epochs: Vec<EpochRecord>,
    /// Why training stopped.
    pub stop_reason: String,
    /// Epoch whose weights were kept.
    pub best_epoch: usize,
    /// Metrics on the held-out test rows.
    pub test_metrics: ClassificationReport,
    /// safetensors blob.
    pub weights_digest: Digest,
    /// Model manifest blob.
    pub manifest_digest: Digest,
    /// Wall time of training and registration, in milliseconds.
    pub duration_ms: f64,
}

/// Trains `variant` on `prepared` and registers the result as the next version of `model`.
pub async fn train_variant(
    workspace: &Workspace,
    prepared: &Prepared,
    dataset_digest: Digest,
    model: &ModelName,
    variant: &Variant,
    observer: &mut dyn Observer,
) -> Result<TrainedVersion, PipelineError> {
    let started = Instant::now();
    variant.config.validate()?;
    let catalog = &workspace.catalog;
    let experiment = catalog.experiment_by_name_or_create(model.as_str()).await?;
    let run = catalog
        .create_run(NewRun {
            experiment_id: experiment.experiment_id.clone(),
            run_name: format!("{model}-{}", variant.name),
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".to_string()),
            host: host_name(),
            versa_version: env!("CARGO_PKG_VERSION").to_string(),
            start_time: now_ms(),
        })
        .await?;
    let run_id = run.run_id.clone();
    let mut params = variant.config.to_params();
    params.insert("variant".into(), variant.name.clone());
    params.insert("dataset_digest".into(), dataset_digest.to_string());
    params.insert(
        "transform_digest".into(),
        prepared.transform_digest.to_string(),
    );
    params.insert("split_digest".into(), prepared.split_digest.to_string());
    params.insert(
        "n_features".into(),
        prepared.transform.n_features().to_string(),
    );
    let param_list: Vec<(String, String)> = params.clone().into_iter().collect();
    catalog.log_params(&run_id, &param_list).await?;

    let result = train_and_register(
        workspace,
        prepared,
        dataset_digest,
        model,
        variant,
        &run_id,
        &params,
        observer,
    )
    .await;
    let status = if result.is_ok() {
        RunStatus::Finished
    } else {
        RunStatus::Failed
    };
    catalog.finish_run(&run_id, status, now_ms()).await?;
    let (version, weights_digest, manifest_digest, epochs, outcome_reason, best_epoch, report) =
        result?;
    Ok(TrainedVersion {
        variant: variant.name.clone(),
        description: variant.description.clone(),
        model: model.to_string(),
        version,
        run_id,
        params,
        epochs,
        stop_reason: outcome_reason,
        best_epoch,
        test_metrics: report,
        weights_digest,
        manifest_digest,
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

type Registered = (
    u32,
    Digest,
    Digest,
    Vec<EpochRecord>,
    String,
    usize,
    ClassificationReport,
);

#[allow(clippy::too_many_arguments)]
async fn train_and_register(
    workspace: &Workspace,
    prepared: &Prepared,
    dataset_digest: Digest,
    model: &ModelName,
    variant: &Variant,
    run_id: &RunId,
    params: &BTreeMap<String, String>,
    observer: &mut dyn Observer,
) -> Result<Registered, PipelineError> {
    let catalog = &workspace.catalog;
    let n_classes = prepared.classes.len();
    let config = variant.config.clone();
    let x_train = prepared.train.x.clone();
    let y_train = prepared.train.y.clone();
    let x_val = prepared.validation.x.clone();
    let y_val = prepared.validation.y.clone();
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<EpochStats>();
    observer.event(&Event::TrainingStarted {
        variant: &variant.name,
        epochs: config.epochs,
    });
    let training = train_on_blocking_thread(
        x_train,
        y_train,
        x_val,
        y_val,
        n_classes,
        config,
        move |stats| {
            // The receiver lives as long as training; a send error means the
            // pipeline was dropped, so stop early.
            match sender.send(stats.clone()) {
                Ok(()) => ControlFlow::Continue(()),
                Err(_) => ControlFlow::Break(()),
            }
        },
    );
    let mut history: Vec<EpochStats> = Vec::new();
    let mut records = Vec::new();
    while let Some(stats) = receiver.recv().await {
        let step = stats.epoch as i64;
        let timestamp = now_ms();
        let mut points = vec![
            point("train_loss", stats.train_loss, timestamp, step),
            point("train_accuracy", stats.train_accuracy, timestamp, step),
            point("learning_rate", stats.learning_rate, timestamp, step),
            point(
                "epoch_duration_ms",
                stats.duration.as_secs_f64() * 1e3,
                timestamp,
                step,
            ),
        ];
        if let Some(v) = stats.val_loss {
            points.push(point("val_loss", v, timestamp, step));
        }
        if let Some(v) = stats.val_accuracy {
            points.push(point("val_accuracy", v, timestamp, step));
        }
        catalog.log_metrics(run_id, &points).await?;
        history.push(stats.clone());
        let observation = versa_mlp::observe::observe(&history, variant.config.epochs);
        observer.event(&Event::Epoch {
            variant: &variant.name,
            stats: &stats,
            observation: &observation,
        });
        records.push(EpochRecord {
            epoch: stats.epoch,
            train_loss: stats.train_loss,
            train_accuracy: stats.train_accuracy,
            val_loss: stats.val_loss,
            val_accuracy: stats.val_accuracy,
            learning_rate: stats.learning_rate,
            duration_ms: stats.duration.as_secs_f64() * 1e3,
            observation,
        });
    }
    let outcome = training.await?;
    observer.event(&Event::TrainingFinished {
        variant: &variant.name,
        history: &outcome.history,
    });
    let stop_reason = match outcome.stop_reason {
        StopReason::Completed => "completed all epochs".to_string(),
        StopReason::EarlyStopped { best_epoch } => {
            format!("early stopping: validation loss best at epoch {best_epoch}")
        }
        StopReason::Cancelled => "cancelled".to_string(),
    };
    let report = test_report(&outcome.model, prepared)?;
    let test_points: Vec<MetricPoint> = report_metrics(&report)
        .into_iter()
        .map(|(key, value)| point(&format!("test_{key}"), value, now_ms(), 0))
        .collect();
    catalog.log_metrics(run_id, &test_points).await?;

    // Blobs first, catalog row last: a crash in between leaves unreferenced
    // blobs (harmless, collectable), never a version without its bytes.
    let weights_digest = workspace
        .blobs
        .put(outcome.model.to_safetensors().into())
        .await?;
    let manifest = ModelManifest {
        format_version: MODEL_MANIFEST_FORMAT,
        architecture: outcome.model.architecture(),
        class_labels: prepared.classes.clone(),
        label_column: prepared.label.clone(),
        input_schema: prepared.transform.input_schema().to_vec(),
        feature_names: prepared.transform.feature_names().to_vec(),
        weights: weights_digest,
        transform: prepared.transform_digest,
        dataset: dataset_digest,
        split: prepared.split_digest,
        params: params.clone(),
    };
    let manifest_digest = workspace.blobs.put_json(&manifest).await?;
    let version = catalog
        .create_model_version(NewModelVersion {
            name: model.clone(),
            run_id: Some(run_id.clone()),
            manifest_digest,
            weights_digest,
            transform_digest: Some(prepared.transform_digest),
            dataset_digest: Some(dataset_digest),
            description: Some(format!("variant {}: {}", variant.name, variant.description)),
            metrics: report_metrics(&report),
        })
        .await?;
    Ok((
        version.version,
        weights_digest,
        manifest_digest,
        records,
        stop_reason,
        outcome.best_epoch,
        report,
    ))
}

/// Starts training on a blocking thread at once (before the returned future
/// is awaited), so the async caller can keep draining the epoch channel that
/// `on_epoch` feeds; an empty validation set means no validation.
pub(crate) fn train_on_blocking_thread(
    x_train: Array2<f32>,
    y_train: Vec<usize>,
    x_val: Array2<f32>,
    y_val: Vec<usize>,
    n_classes: usize,
    config: TrainConfig,
    mut on_epoch: impl FnMut(&EpochStats) -> ControlFlow<()> + Send + 'static,
) -> impl std::future::Future<Output = Result<TrainOutcome, PipelineError>> {
    let handle = tokio::task::spawn_blocking(move || {
        let validation = if y_val.is_empty() {
            None
        } else {
            Some((x_val.view(), y_val.as_slice()))
        };
        versa_mlp::train(
            x_train.view(),
            &y_train,
            validation,
            n_classes,
            &config,
            &mut on_epoch,
        )
    });
    async move {
        handle
            .await
            .map_err(|e| PipelineError::Task(e.to_string()))?
            .map_err(PipelineError::from)
    }
}

/// Metrics of `model` on the prepared test rows.
pub fn test_report(
    model: &Mlp,
    prepared: &Prepared,
) -> Result<ClassificationReport, PipelineError> {
    let proba = model.predict_proba(prepared.test.x.view());
    Ok(evaluate(&prepared.test.y, proba.view())?)
}

/// The scalar test metrics recorded on a model version.
pub fn report_metrics(report: &ClassificationReport) -> Vec<(String, f64)> {
    let mut metrics = vec![
        ("accuracy".to_string(), report.accuracy),
        ("precision".to_string(), report.precision),
        ("recall".to_string(), report.recall),
        ("f1".to_string(), report.f1),
        ("log_loss".to_string(), report.log_loss),
    ];
    if let Some(auc) = report.roc_auc {
        metrics.push(("roc_auc".to_string(), auc));
    }
    metrics
}

fn point(key: &str, value: f64, timestamp: i64, step: i64) -> MetricPoint {
    MetricPoint {
        key: key.to_string(),
        value,
        timestamp,
        step,
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}
