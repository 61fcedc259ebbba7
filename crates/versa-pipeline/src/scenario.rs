//! The reference scenario, end to end on embedded data: 1000 customers × 10
//! columns → preprocessing → 2 engineered features (12 columns) → model v1
//! (modest) and v2 (improved) → both evaluated on the same 200 test rows → the
//! better one gets `production`.
//!
//! Every figure in the report is computed from this run; nothing is fixed
//! except the recipe (sample generator, transform spec and the two variants),
//! and all randomness flows from the one seed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use versa_core::{Alias, DatasetName, Digest, ModelName};
use versa_mlp::{Activation, EarlyStopping, Initialization, Optimizer, TrainConfig};
use versa_tabular::expr::{DerivedFeature, compile};
use versa_tabular::split::SplitFractions;
use versa_tabular::transform::TransformSpec;

use crate::deploy::{DeployReport, deploy};
use crate::evaluate::{EvaluationReport, evaluate_versions};
use crate::ingest::{IngestReport, ingest_csv};
use crate::observer::{Event, Observer, Shape};
use crate::prepare::{PrepareConfig, prepare};
use crate::train::{TrainedVersion, Variant, train_variant};
use crate::{PipelineError, Workspace};

/// Version of the [`ScenarioReport`] JSON shape.
pub const REPORT_FORMAT: u32 = 1;
/// Dataset name the scenario registers.
pub const DATASET: &str = "customers";
/// Model name the scenario registers.
pub const MODEL: &str = "churn";
/// The label column of the sample data.
pub const LABEL: &str = "churned";
/// The alias the winner gets.
pub const ALIAS: &str = "production";
/// The scenario's stages, from data collection to deployment.
const STAGES: usize = 7;

/// Knobs of the scenario.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ScenarioConfig {
    /// The one seed everything derives from.
    pub seed: u64,
    /// Rows of sample data to generate.
    pub n_rows: usize,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        ScenarioConfig {
            seed: 42,
            n_rows: 1000,
        }
    }
}

/// One row of the "Data Flow" table.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    /// 1-based stage number.
    pub number: usize,
    /// Stage name.
    pub name: String,
    /// What went in, in words.
    pub input: String,
    /// What the stage did.
    pub operation: String,
    /// What came out, in words.
    pub output: String,
    /// Input table shape, where the input is a table.
    pub input_shape: Option<Shape>,
    /// Output table shape, where the output is a table.
    pub output_shape: Option<Shape>,
    /// Wall time in milliseconds.
    pub duration_ms: f64,
}

/// The fitted transform, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct TransformReport {
    /// Blob digest of the fitted transform.
    pub digest: Digest,
    /// Derived features and their expressions.
    pub derived_features: Vec<DerivedFeature>,
    /// Model input features after encoding, in order.
    pub feature_names: Vec<String>,
}

/// The split, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct SplitReport {
    /// Digest of the row assignment.
    pub digest: Digest,
    /// Training rows.
    pub train: usize,
    /// Validation rows (early stopping and the live trace).
    pub validation: usize,
    /// Held-out test rows (evaluation only).
    pub test: usize,
    /// Indices of the held-out test rows in the dataset, ascending.
    pub test_rows: Vec<usize>,
}

/// Everything the scenario did, for `--json` and for tests.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// Always [`REPORT_FORMAT`].
    pub format_version: u32,
    /// The seed used.
    pub seed: u64,
    /// Workspace root.
    pub workspace: PathBuf,
    /// The sample CSV written in stage 1.
    pub data_file: PathBuf,
    /// The "Data Flow" table.
    pub stages: Vec<StageReport>,
    /// Stage 1's dataset version.
    pub dataset: IngestReport,
    /// Stages 2–3's fitted transform.
    pub transform: TransformReport,
    /// The split.
    pub split: SplitReport,
    /// Stages 4–5's model versions.
    pub versions: Vec<TrainedVersion>,
    /// Stage 6's comparison.
    pub evaluation: EvaluationReport,
    /// Stage 7's alias move.
    pub deployment: DeployReport,
}

/// The preprocessing the scenario declares.
pub fn transform_spec() -> TransformSpec {
    TransformSpec {
        features: vec![
            DerivedFeature {
                name: "debt_ratio".to_string(),
                expression: "debt / (income + 1)".to_string(),
            },
            DerivedFeature {
                name: "charges_per_tenure".to_string(),
                expression: "monthly_charges / (tenure_months + 1)".to_string(),
            },
        ],
        ..TransformSpec::default()
    }
}

/// The scenario's two variants: a deliberately modest v1 and an improved v2.
pub fn variants(seed: u64) -> [Variant; 2] {
    [
        Variant {
            name: "v1".to_string(),
            description: "baseline: one narrow hidden layer".to_string(),
            config: TrainConfig {
                hidden: vec![8],
                activation: Activation::Relu,
                optimizer: Optimizer::ADAM,
                learning_rate: 0.005,
                weight_decay: 1e-4,
                batch_size: 64,
                epochs: 5,
                seed,
                init: Initialization::Auto,
                early_stopping: None,
                class_weights: None,
            },
        },
        Variant {
            name: "v2".to_string(),
            description: "improved: two wider hidden layers, L2, early stopping".to_string(),
            config: TrainConfig {
                hidden: vec![64, 32],
                activation: Activation::Relu,
                optimizer: Optimizer::ADAM,
                learning_rate: 0.001,
                weight_decay: 3e-2,
                batch_size: 64,
                epochs: 200,
                seed,
                init: Initialization::Auto,
                early_stopping: Some(EarlyStopping {
                    patience: 20,
                    min_delta: 1e-4,
                }),
                class_weights: None,
            },
        },
    ]
}

/// Runs all seven stages in the workspace at `root` (which must already exist).
pub async fn run_scenario(
    workspace: &Workspace,
    config: ScenarioConfig,
    observer: &mut dyn Observer,
) -> Result<ScenarioReport, PipelineError> {
    let mut stages = Vec::new();
    let dataset_name = DatasetName::new(DATASET).map_err(invalid)?;
    let model = ModelName::new(MODEL).map_err(invalid)?;
    let alias = Alias::new(ALIAS).map_err(invalid)?;

    // Stage 1: data collection.
    let (timer, number) = begin(observer, 1, "Data Collection");
    let data_file = write_sample(workspace.root(), config)?;
    let (dataset, loaded) = ingest_csv(workspace, &data_file, &dataset_name).await?;
    let raw = Shape {
        rows: dataset.n_rows,
        columns: dataset.n_columns - 1,
    };
    finish(
        observer,
        &mut stages,
        timer,
        StageReport {
            number,
            name: "Data Collection".into(),
            input: format!(
                "{} (embedded sample, seed {})",
                data_file.display(),
                config.seed
            ),
            operation: "ingest CSV as a content-addressed dataset version".into(),
            output: format!(
                "{DATASET} v{} · {raw} + label `{LABEL}` · {}",
                dataset.version,
                dataset.content_digest.short()
            ),
            input_shape: Some(raw),
            output_shape: Some(raw),
            duration_ms: 0.0,
        },
    );

    // Stage 2: preprocessing (split, then fit imputation, scaling, encoding on train rows).
    let (timer, number) = begin(observer, 2, "Data Preprocessing");
    let spec = transform_spec();
    let prepared = prepare(
        workspace,
        &loaded,
        &PrepareConfig {
            label: LABEL.to_string(),
            transform: spec.clone(),
            fractions: SplitFractions {
                validation: 0.2,
                test: 0.2,
            },
            seed: config.seed,
        },
    )
    .await?;
    let missing: u64 = loaded
        .manifest
        .stats
        .iter()
        .filter(|s| s.name != LABEL)
        .map(|s| s.missing)
        .sum();
    finish(
        observer,
        &mut stages,
        timer,
        StageReport {
            number,
            name: "Data Preprocessing".into(),
            input: raw.to_string(),
            operation: format!(
                "split {}/{}/{} (train/validation/test, stratified); fit imputation, scaling and one-hot encoding on the {} training rows",
                prepared.train.rows.len(),
                prepared.validation.rows.len(),
                prepared.test.rows.len(),
                prepared.train.rows.len()
            ),
            output: format!(
                "{raw}: {missing} missing values filled, numbers normalised · transform {}",
                prepared.transform_digest.short()
            ),
            input_shape: Some(raw),
            output_shape: Some(raw),
            duration_ms: 0.0,
        },
    );

    // Stage 3: feature engineering. The derived features are part of the
    // fitted transform; here they are compiled and evaluated over the whole
    // table to report how many values each leaves undefined.
    let (timer, number) = begin(observer, 3, "Feature Engineering");
    let engineered = Shape {
        rows: raw.rows,
        columns: prepared.n_engineered_columns,
    };
    let mut undefined = Vec::new();
    for feature in &spec.features {
        let compiled = compile(feature, loaded.table.schema())?;
        let values = compiled.evaluate_batch(&loaded.table)?;
        undefined.push(format!(
            "{} = {} ({} undefined)",
            feature.name,
            feature.expression,
            values.iter().filter(|v| v.is_none()).count()
        ));
    }
    finish(
        observer,
        &mut stages,
        timer,
        StageReport {
            number,
            name: "Feature Engineering".into(),
            input: raw.to_string(),
            operation: format!("derive {}", undefined.join("; ")),
            output: format!(
                "{engineered} → {} model inputs after one-hot encoding",
                prepared.transform.n_features()
            ),
            input_shape: Some(raw),
            output_shape: Some(engineered),
            duration_ms: 0.0,
        },
    );

    // Stages 4 and 5: train the two variants.
    let mut versions = Vec::new();
    for (offset, variant) in variants(config.seed).iter().enumerate() {
        let name = format!("Model Training {}", variant.name);
        let (timer, number) = begin(observer, 4 + offset, &name);
        let trained = train_variant(
            workspace,
            &prepared,
            loaded.manifest.content_digest,
            &model,
            variant,
            observer,
        )
        .await?;
        finish(
            observer,
            &mut stages,
            timer,
            StageReport {
                number,
                name,
                input: format!(
                    "{engineered} ({} train + {} validation rows)",
                    prepared.train.rows.len(),
                    prepared.validation.rows.len()
                ),
                operation: format!(
                    "train MLP {} → {} → {} ({}, {} epochs max)",
                    prepared.transform.n_features(),
                    join(&variant.config.hidden),
                    prepared.classes.len(),
                    variant.description,
                    variant.config.epochs
                ),
                output: format!(
                    "model {MODEL} v{} saved · {} epochs · test accuracy {:.1}%",
                    trained.version,
                    trained.epochs.len(),
                    trained.test_metrics.accuracy * 100.0
                ),
                input_shape: Some(engineered),
                output_shape: None,
                duration_ms: 0.0,
            },
        );
        versions.push(trained);
    }

    // Stage 6: evaluate both on the same held-out rows, from the stored artifacts.
    let (timer, number) = begin(observer, 6, "Model Evaluation");
    let numbers: Vec<u32> = versions.iter().map(|v| v.version).collect();
    let test_labels = prepared.test.y.clone();
    let evaluation = evaluate_versions(
        workspace,
        &model,
        &numbers,
        &loaded.table,
        &prepared.test.rows,
        &test_labels,
    )
    .await?;
    let test_shape = Shape {
        rows: prepared.test.rows.len(),
        columns: engineered.columns,
    };
    let summary: Vec<String> = evaluation
        .versions
        .iter()
        .map(|e| format!("v{} accuracy {:.1}%", e.version, e.metrics.accuracy * 100.0))
        .collect();
    finish(
        observer,
        &mut stages,
        timer,
        StageReport {
            number,
            name: "Model Evaluation".into(),
            input: format!("test set {test_shape}"),
            operation: "evaluate every version on the same held-out rows".into(),
            output: summary.join(", "),
            input_shape: Some(test_shape),
            output_shape: None,
            duration_ms: 0.0,
        },
    );

    // Stage 7: deploy the best.
    let (timer, number) = begin(observer, 7, "Model Deployment");
    let deployment = deploy(
        workspace,
        &model,
        &alias,
        evaluation.best_version,
        "versa quickstart",
    )
    .await?;
    finish(
        observer,
        &mut stages,
        timer,
        StageReport {
            number,
            name: "Model Deployment".into(),
            input: format!(
                "selected version v{} (best test accuracy)",
                evaluation.best_version
            ),
            operation: format!("move alias `{ALIAS}` (compare-and-swap)"),
            output: format!("{MODEL}@{ALIAS} → v{}", deployment.version),
            input_shape: None,
            output_shape: None,
            duration_ms: 0.0,
        },
    );

    Ok(ScenarioReport {
        format_version: REPORT_FORMAT,
        seed: config.seed,
        workspace: workspace.root().to_path_buf(),
        data_file,
        stages,
        dataset,
        transform: TransformReport {
            digest: prepared.transform_digest,
            derived_features: spec.features.clone(),
            feature_names: prepared.transform.feature_names().to_vec(),
        },
        split: SplitReport {
            digest: prepared.split_digest,
            train: prepared.train.rows.len(),
            validation: prepared.validation.rows.len(),
            test: prepared.test.rows.len(),
            test_rows: prepared.test.rows.clone(),
        },
        versions,
        evaluation,
        deployment,
    })
}

fn write_sample(root: &Path, config: ScenarioConfig) -> Result<PathBuf, PipelineError> {
    let dir = root.join("data");
    std::fs::create_dir_all(&dir).map_err(|source| PipelineError::ReadFile {
        path: dir.clone(),
        source,
    })?;
    let path = dir.join(format!("{DATASET}.csv"));
    let bytes = versa_tabular::sample::churn_csv(config.seed, config.n_rows);
    std::fs::write(&path, bytes).map_err(|source| PipelineError::ReadFile {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

fn begin(observer: &mut dyn Observer, number: usize, name: &str) -> (Instant, usize) {
    observer.event(&Event::StageStarted {
        number,
        of: STAGES,
        name,
    });
    (Instant::now(), number)
}

fn finish(
    observer: &mut dyn Observer,
    stages: &mut Vec<StageReport>,
    timer: Instant,
    mut report: StageReport,
) {
    report.duration_ms = timer.elapsed().as_secs_f64() * 1e3;
    observer.event(&Event::StageFinished {
        number: report.number,
        summary: &report.output,
    });
    stages.push(report);
}

fn join(widths: &[usize]) -> String {
    widths
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" → ")
}

fn invalid(e: versa_core::IdError) -> PipelineError {
    PipelineError::Invalid(e.to_string())
}
