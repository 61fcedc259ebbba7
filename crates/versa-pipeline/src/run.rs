//! The declarative runner behind `versa run` and `versa status`: a
//! [`PipelineSpec`] becomes the stage graph data → prepare → train (one per
//! variant) → evaluate → deploy, where every stage has a content-addressed
//! cache key and is skipped when a result for that key is already stored.
//!
//! Cache key of a stage = blake3 of the canonical JSON of
//! `{format: "versa-stage/1", stage, params, data_digest, upstream}`, where
//! `params` are the stage's own settings, `data_digest` the blake3 of the data
//! file's bytes (data stage only) and `upstream` the keys of the stages it
//! reads. Results are JSON files `.versa/stages/<key hex>.json` (written to a
//! temporary name, then renamed) that point at what the stage produced — a
//! dataset version, a transform and split digest, a model version, report
//! blobs, an alias decision — and `.versa/stages/last.json` names the key each
//! stage had in the last run, so `status` can say why a stage is stale.
//!
//! A cached stage is not recomputed; when a later stage must run, the dataset
//! and the split/transform are rebuilt in memory (ingest returns the existing
//! version, the fitted transform is deterministic and stored by digest).
//! Knows nothing about the command line; reports through [`Observer`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use versa_catalog::CatalogError;
use versa_core::{Alias, DatasetName, Digest, ModelName, VersionSelector};

use crate::bundle::ModelBundle;
use crate::deploy::deploy;
use crate::evaluate::evaluate_versions;
use crate::ingest::{IngestOptions, IngestReport, LoadedDataset, ingest_file};
use crate::observer::{Event, Observer, Shape};
use crate::prepare::{PrepareConfig, Prepared, prepare};
use crate::spec::{PipelineSpec, VariantSpec};
use crate::train::{Variant, report_metrics, train_variant};
use crate::workspace::MARKER_DIR;
use crate::{PipelineError, Workspace};

/// Version of the stage-result JSON files and of the key derivation.
pub const STAGE_FORMAT: u32 = 1;
/// Hashed into every key, so a format change invalidates every cached result.
/// (2: a variant's description no longer counts as a training setting.)
const KEY_DOMAIN: &str = "versa-stage/2";
/// Directory under `.versa/` holding stage results.
pub const STAGE_DIR: &str = "stages";
const LAST_RUN: &str = "last.json";

/// What a stage's key was derived from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageInputs {
    /// The stage's own settings.
    pub params: serde_json::Value,
    /// blake3 of the data file's bytes (data stage only).
    pub data_digest: Option<Digest>,
    /// Keys of the stages this one reads, by stage name.
    pub upstream: BTreeMap<String, Digest>,
}

/// One stage of the plan with its key.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStage {
    /// `data`, `prepare`, `train.<variant>`, `evaluate` or `deploy`.
    pub name: String,
    /// The cache key.
    pub key: Digest,
    /// What the key was derived from.
    pub inputs: StageInputs,
}

/// A stored stage result (`.versa/stages/<key>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRecord {
    /// Always [`STAGE_FORMAT`].
    pub format_version: u32,
    /// Stage name.
    pub stage: String,
    /// The key it is stored under.
    pub key: Digest,
    /// What the key was derived from.
    pub inputs: StageInputs,
    /// Stage-specific output (see the `*Output` types).
    pub output: serde_json::Value,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// How long the stage took when it ran.
    pub duration_ms: f64,
}

/// The data stage's output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataOutput {
    /// Dataset name.
    pub dataset: String,
    /// Dataset version.
    pub version: u32,
    /// Table content digest.
    pub content_digest: Digest,
    /// Rows.
    pub n_rows: usize,
    /// Columns, label included.
    pub n_columns: usize,
}

/// The prepare stage's output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrepareOutput {
    /// Fitted transform blob.
    pub transform_digest: Digest,
    /// Row assignment digest.
    pub split_digest: Digest,
    /// Training rows.
    pub train: usize,
    /// Validation rows.
    pub validation: usize,
    /// Test rows.
    pub test: usize,
    /// Columns after feature engineering, before encoding.
    pub n_engineered_columns: usize,
    /// Model inputs after encoding.
    pub n_features: usize,
}

/// A train stage's output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOutput {
    /// Variant name.
    pub variant: String,
    /// Model name.
    pub model: String,
    /// The model version it created.
    pub version: u32,
    /// The run.
    pub run_id: String,
    /// Weights blob.
    pub weights_digest: Digest,
    /// Epochs trained.
    pub epochs: usize,
    /// Test metrics at training time.
    pub metrics: BTreeMap<String, f64>,
}

/// One row of the comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComparedVersion {
    /// Variant name.
    pub variant: String,
    /// Model version.
    pub version: u32,
    /// Test metrics, re-measured from the stored bundle.
    pub metrics: BTreeMap<String, f64>,
}

/// The evaluate stage's output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvaluateOutput {
    /// The split every version was tested on.
    pub split_digest: Digest,
    /// Test rows.
    pub test_rows: usize,
    /// Metrics named in the spec.
    pub metrics: Vec<String>,
    /// Per variant.
    pub versions: Vec<ComparedVersion>,
    /// The comparison report as markdown, in the blob store.
    pub report_markdown: Digest,
    /// The comparison report as JSON, in the blob store.
    pub report_json: Digest,
}

/// What deploy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The alias now points at the winner.
    Moved,
    /// The alias stays: the winner does not beat it by enough, or is it.
    Kept,
    /// No comparison was possible.
    Refused,
}

/// The deploy stage's output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployOutput {
    /// Model name.
    pub model: String,
    /// Alias.
    pub alias: String,
    /// Moved, kept or refused.
    pub decision: Decision,
    /// Why, in words.
    pub reason: String,
    /// The best variant's version, if any.
    pub best: Option<u32>,
    /// Alias target before.
    pub target_before: Option<u32>,
    /// Alias target after.
    pub target_after: Option<u32>,
}

/// One row of the "Data Flow" table.
#[derive(Debug, Clone, Serialize)]
pub struct StageRun {
    /// Stage name.
    pub name: String,
    /// Its key.
    pub key: Digest,
    /// Whether a stored result was used.
    pub cached: bool,
    /// What went in.
    pub input: String,
    /// What the stage does.
    pub operation: String,
    /// What came out.
    pub output: String,
    /// Rows × columns going in, where a table goes in.
    pub input_shape: Option<Shape>,
    /// Rows × columns coming out, where a table comes out.
    pub output_shape: Option<Shape>,
    /// Wall time of this run (≈0 when cached).
    pub duration_ms: f64,
}

impl StageRun {
    fn shapes(mut self, input: Option<Shape>, output: Option<Shape>) -> StageRun {
        self.input_shape = input;
        self.output_shape = output;
        self
    }
}

/// Everything a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Always [`STAGE_FORMAT`].
    pub format_version: u32,
    /// Per stage, in order.
    pub stages: Vec<StageRun>,
    /// Data stage output.
    pub data: DataOutput,
    /// Prepare stage output.
    pub prepare: PrepareOutput,
    /// Train stage outputs, by variant order.
    pub variants: Vec<TrainOutput>,
    /// Evaluate stage output.
    pub evaluation: EvaluateOutput,
    /// Deploy stage output.
    pub deployment: DeployOutput,
    /// Model versions created by this run.
    pub created_versions: Vec<u32>,
}

/// Freshness of one stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageFreshness {
    /// Stage name.
    pub name: String,
    /// Its current key.
    pub key: Digest,
    /// Whether a result for this key is stored.
    pub fresh: bool,
    /// Why it is stale (empty when fresh).
    pub reason: String,
}

/// Derives every stage's key from the spec and the data file's bytes.
pub fn plan(spec: &PipelineSpec, data_bytes: &[u8]) -> Vec<PlannedStage> {
    let mut stages: Vec<PlannedStage> = Vec::new();
    let add = |name: &str,
               params: serde_json::Value,
               data: Option<Digest>,
               up: &[&str],
               stages: &mut Vec<PlannedStage>| {
        let upstream: BTreeMap<String, Digest> = stages
            .iter()
            .filter(|s| up.contains(&s.name.as_str()))
            .map(|s| (s.name.clone(), s.key))
            .collect();
        let inputs = StageInputs {
            params,
            data_digest: data,
            upstream,
        };
        let document = serde_json::json!({
            "format": KEY_DOMAIN, "stage": name, "params": inputs.params,
            "data_digest": inputs.data_digest, "upstream": inputs.upstream,
        });
        // serde_json's map is ordered by key, so this text is canonical.
        let key = Digest::of(document.to_string().as_bytes());
        stages.push(PlannedStage {
            name: name.to_string(),
            key,
            inputs,
        });
    };
    add(
        "data",
        serde_json::json!({"name": spec.data.name, "label": spec.data.label}),
        Some(Digest::of(data_bytes)),
        &[],
        &mut stages,
    );
    add(
        "prepare",
        serde_json::json!({"label": spec.data.label, "transform": spec.transform, "split": spec.split}),
        None,
        &["data"],
        &mut stages,
    );
    let mut trains = Vec::new();
    for (name, variant) in &spec.variants {
        let stage = format!("train.{name}");
        add(
            &stage,
            serde_json::json!({"model": spec.deploy.model, "variant": name,
                "settings": training_settings(variant),
                "seed": variant.seed.unwrap_or(spec.split.seed)}),
            None,
            &["prepare"],
            &mut stages,
        );
        trains.push(stage);
    }
    let mut evaluate_up: Vec<&str> = vec!["prepare"];
    evaluate_up.extend(trains.iter().map(String::as_str));
    add(
        "evaluate",
        serde_json::json!({"metrics": spec.evaluate.metrics}),
        None,
        &evaluate_up,
        &mut stages,
    );
    add(
        "deploy",
        serde_json::to_value(&spec.deploy).unwrap_or_default(),
        None,
        &["evaluate"],
        &mut stages,
    );
    stages
}

/// What a variant trains with: its settings without the description, which
/// is prose for people — rewording it must not retrain the variant.
fn training_settings(variant: &VariantSpec) -> serde_json::Value {
    let mut settings = serde_json::to_value(variant).unwrap_or_default();
    if let Some(fields) = settings.as_object_mut() {
        fields.remove("description");
    }
    settings
}

fn stage_dir(workspace: &Workspace) -> PathBuf {
    workspace.root().join(MARKER_DIR).join(STAGE_DIR)
}

fn io_error(path: &Path, source: std::io::Error) -> PipelineError {
    PipelineError::ReadFile {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the stored result for `key`, if any.
pub fn load_record(
    workspace: &Workspace,
    key: &Digest,
) -> Result<Option<StageRecord>, PipelineError> {
    let path = stage_dir(workspace).join(format!("{}.json", key.to_hex()));
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&path, e)),
    };
    let record: StageRecord =
        serde_json::from_slice(&bytes).map_err(|source| PipelineError::Decode {
            what: "stage result",
            digest: *key,
            source,
        })?;
    if record.format_version != STAGE_FORMAT {
        return Err(PipelineError::Invalid(format!(
            "stage result `{}` has format_version {}, this versa reads {STAGE_FORMAT}",
            path.display(),
            record.format_version
        )));
    }
    Ok(Some(record))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PipelineError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&temporary, bytes).map_err(|e| io_error(&temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| io_error(path, e))
}

fn store_record(workspace: &Workspace, record: &StageRecord) -> Result<(), PipelineError> {
    let path = stage_dir(workspace).join(format!("{}.json", record.key.to_hex()));
    let bytes = serde_json::to_vec_pretty(record)
        .map_err(|e| PipelineError::Invalid(format!("stage result is not serialisable: {e}")))?;
    write_atomically(&path, &bytes)
}

fn load_last(workspace: &Workspace) -> BTreeMap<String, Digest> {
    std::fs::read(stage_dir(workspace).join(LAST_RUN))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<LastRun>(&bytes).ok())
        .map(|last| last.stages)
        .unwrap_or_default()
}

#[derive(Serialize, Deserialize)]
struct LastRun {
    format_version: u32,
    stages: BTreeMap<String, Digest>,
}

fn decode<T: serde::de::DeserializeOwned>(record: &StageRecord) -> Result<T, PipelineError> {
    serde_json::from_value(record.output.clone()).map_err(|source| PipelineError::Decode {
        what: "stage output",
        digest: record.key,
        source,
    })
}

fn invalid(e: versa_core::IdError) -> PipelineError {
    PipelineError::Invalid(e.to_string())
}

async fn alias_target(
    workspace: &Workspace,
    model: &ModelName,
    alias: &Alias,
) -> Result<Option<u32>, PipelineError> {
    match workspace
        .catalog
        .resolve(model, &VersionSelector::Alias(alias.clone()))
        .await
    {
        Ok(v) => Ok(Some(v.version)),
        Err(CatalogError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Per stage: fresh (a result for its current key is stored) or stale and why.
pub async fn status(
    workspace: &Workspace,
    spec: &PipelineSpec,
    data_bytes: &[u8],
) -> Result<Vec<StageFreshness>, PipelineError> {
    let planned = plan(spec, data_bytes);
    let last = load_last(workspace);
    let model = ModelName::new(&spec.deploy.model).map_err(invalid)?;
    let alias = Alias::new(&spec.deploy.alias).map_err(invalid)?;
    let mut result: Vec<StageFreshness> = Vec::new();
    for stage in &planned {
        let stored = load_record(workspace, &stage.key)?;
        let mut reason = String::new();
        if let Some(record) = &stored {
            if stage.name == "deploy" {
                let output: DeployOutput = decode(record)?;
                let now = alias_target(workspace, &model, &alias).await?;
                if now != output.target_after {
                    reason = format!(
                        "alias `{}` was moved since the last run (now {}, then {})",
                        spec.deploy.alias,
                        version_text(now),
                        version_text(output.target_after)
                    );
                }
            }
        } else {
            let previous = match last.get(&stage.name) {
                Some(key) => load_record(workspace, key)?,
                None => None,
            };
            reason = match previous {
                None => "never run".to_string(),
                Some(previous) => {
                    let mut why = Vec::new();
                    if previous.inputs.data_digest != stage.inputs.data_digest {
                        why.push(format!("data file `{}` changed", spec.data.path));
                    }
                    if previous.inputs.params != stage.inputs.params {
                        why.push("parameters changed".to_string());
                    }
                    let stale_up: Vec<&String> = stage
                        .inputs
                        .upstream
                        .iter()
                        .filter(|(name, key)| previous.inputs.upstream.get(*name) != Some(key))
                        .map(|(name, _)| name)
                        .collect();
                    if !stale_up.is_empty() {
                        why.push(format!(
                            "upstream stale ({})",
                            stale_up
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    if why.is_empty() {
                        "no stored result".to_string()
                    } else {
                        why.join("; ")
                    }
                }
            };
        }
        result.push(StageFreshness {
            name: stage.name.clone(),
            key: stage.key,
            fresh: reason.is_empty(),
            reason,
        });
    }
    Ok(result)
}

fn version_text(version: Option<u32>) -> String {
    version.map_or("none".to_string(), |v| format!("v{v}"))
}

/// Dataset and prepared matrices, built only when a stage that needs them runs.
struct Materialized {
    loaded: LoadedDataset,
    prepared: Prepared,
}

struct Runner<'a> {
    workspace: &'a Workspace,
    spec: &'a PipelineSpec,
    data_path: PathBuf,
    ingested: Option<(IngestReport, LoadedDataset)>,
    materialized: Option<Materialized>,
}

impl Runner<'_> {
    /// Ingests the data file (stage 1 only), kept for a later `materialize`.
    async fn ingest(&mut self) -> Result<&IngestReport, PipelineError> {
        if self.ingested.is_none() {
            let name = DatasetName::new(&self.spec.data.name).map_err(invalid)?;
            let options = IngestOptions {
                label: Some(self.spec.data.label.clone()),
                ..IngestOptions::default()
            };
            self.ingested =
                Some(ingest_file(self.workspace, &self.data_path, &name, &options).await?);
        }
        self.ingested
            .as_ref()
            .map(|(report, _)| report)
            .ok_or_else(|| PipelineError::Invalid("dataset was not ingested".into()))
    }

    async fn materialize(&mut self) -> Result<&Materialized, PipelineError> {
        if self.materialized.is_none() {
            self.ingest().await?;
            let (_, loaded) = self
                .ingested
                .take()
                .ok_or_else(|| PipelineError::Invalid("dataset was not ingested".into()))?;
            let prepared = prepare(
                self.workspace,
                &loaded,
                &PrepareConfig {
                    label: self.spec.data.label.clone(),
                    transform: self.spec.transform.clone(),
                    fractions: self.spec.fractions(),
                    seed: self.spec.split.seed,
                },
            )
            .await?;
            self.materialized = Some(Materialized { loaded, prepared });
        }
        self.materialized
            .as_ref()
            .ok_or_else(|| PipelineError::Invalid("dataset was not prepared".into()))
    }
}

/// Runs the stage graph for `spec`, whose paths are relative to `spec_dir`.
pub async fn run_pipeline(
    workspace: &Workspace,
    spec: &PipelineSpec,
    spec_dir: &Path,
    observer: &mut dyn Observer,
) -> Result<RunReport, PipelineError> {
    let data_path = spec_dir.join(&spec.data.path);
    let data_bytes = std::fs::read(&data_path).map_err(|e| io_error(&data_path, e))?;
    let planned = plan(spec, &data_bytes);
    drop(data_bytes);
    let model = ModelName::new(&spec.deploy.model).map_err(invalid)?;
    let alias = Alias::new(&spec.deploy.alias).map_err(invalid)?;
    let mut runner = Runner {
        workspace,
        spec,
        data_path,
        ingested: None,
        materialized: None,
    };
    let mut stages = Vec::new();
    let mut last = BTreeMap::new();
    let mut created_versions = Vec::new();
    let by_name = |name: &str| planned.iter().find(|s| s.name == name).cloned();
    let stage_of = |name: &str| {
        by_name(name).ok_or_else(|| PipelineError::Invalid(format!("no stage `{name}` planned")))
    };

    // Data.
    let stage = stage_of("data")?;
    let (data, record, cached) = match load_record(workspace, &stage.key)? {
        Some(record) => (decode::<DataOutput>(&record)?, record, true),
        None => {
            let timer = start(observer, 1, planned.len(), "data");
            let ingest = runner.ingest().await?;
            let output = DataOutput {
                dataset: spec.data.name.clone(),
                version: ingest.version,
                content_digest: ingest.content_digest,
                n_rows: ingest.n_rows,
                n_columns: ingest.n_columns,
            };
            let record = save(workspace, &stage, &output, timer)?;
            (output, record, false)
        }
    };
    let raw_shape = Shape {
        rows: data.n_rows,
        columns: data.n_columns - 1,
    };
    let raw = raw_shape.to_string();
    stages.push(
        row(
            &stage,
            cached,
            &record,
            spec.data.path.clone(),
            "ingest as a content-addressed dataset version".into(),
            format!(
                "{} v{} · {raw} + label `{}` · {}",
                data.dataset,
                data.version,
                spec.data.label,
                data.content_digest.short()
            ),
        )
        .shapes(None, Some(raw_shape)),
    );
    last.insert(stage.name.clone(), stage.key);

    // Prepare.
    let stage = stage_of("prepare")?;
    let (prepared, record, cached) = match load_record(workspace, &stage.key)? {
        Some(record) => (decode::<PrepareOutput>(&record)?, record, true),
        None => {
            let timer = start(observer, 2, planned.len(), "prepare");
            let p = &runner.materialize().await?.prepared;
            let output = PrepareOutput {
                transform_digest: p.transform_digest,
                split_digest: p.split_digest,
                train: p.train.rows.len(),
                validation: p.validation.rows.len(),
                test: p.test.rows.len(),
                n_engineered_columns: p.n_engineered_columns,
                n_features: p.transform.n_features(),
            };
            let record = save(workspace, &stage, &output, timer)?;
            (output, record, false)
        }
    };
    stages.push(row(&stage, cached, &record, raw.clone(),
        format!("split {}/{}/{} (seed {}); fit imputation, {} derived features, scaling, encoding on train rows",
            prepared.train, prepared.validation, prepared.test, spec.split.seed, spec.transform.features.len()),
        format!("{} rows × {} columns → {} model inputs · transform {}", data.n_rows, prepared.n_engineered_columns,
            prepared.n_features, prepared.transform_digest.short()))
        .shapes(Some(raw_shape), Some(Shape { rows: data.n_rows, columns: prepared.n_engineered_columns })));
    last.insert(stage.name.clone(), stage.key);

    // Train, one stage per variant.
    let mut trained = Vec::new();
    for (offset, (name, variant)) in spec.variants.iter().enumerate() {
        let stage = stage_of(&format!("train.{name}"))?;
        let config = variant.train_config(spec.split.seed);
        let (output, record, cached) = match load_record(workspace, &stage.key)? {
            Some(record) => (decode::<TrainOutput>(&record)?, record, true),
            None => {
                let timer = start(observer, 3 + offset, planned.len(), &stage.name);
                let dataset_digest = data.content_digest;
                let materialized = runner.materialize().await?;
                let result = train_variant(
                    workspace,
                    &materialized.prepared,
                    dataset_digest,
                    &model,
                    &Variant {
                        name: name.clone(),
                        description: variant.description.clone(),
                        config: config.clone(),
                    },
                    observer,
                )
                .await?;
                created_versions.push(result.version);
                let output = TrainOutput {
                    variant: name.clone(),
                    model: spec.deploy.model.clone(),
                    version: result.version,
                    run_id: result.run_id.to_string(),
                    weights_digest: result.weights_digest,
                    epochs: result.epochs.len(),
                    metrics: report_metrics(&result.test_metrics).into_iter().collect(),
                };
                let record = save(workspace, &stage, &output, timer)?;
                (output, record, false)
            }
        };
        stages.push(
            row(
                &stage,
                cached,
                &record,
                format!(
                    "{} train + {} validation rows × {} inputs",
                    prepared.train, prepared.validation, prepared.n_features
                ),
                format!(
                    "train MLP {} → {} → classes ({} epochs max, lr {})",
                    prepared.n_features,
                    config
                        .hidden
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" → "),
                    config.epochs,
                    config.learning_rate
                ),
                format!(
                    "{} v{} · {} epochs · test accuracy {:.1}%",
                    output.model,
                    output.version,
                    output.epochs,
                    output.metrics.get("accuracy").copied().unwrap_or(f64::NAN) * 100.0
                ),
            )
            .shapes(
                Some(Shape {
                    rows: prepared.train + prepared.validation,
                    columns: prepared.n_engineered_columns,
                }),
                None,
            ),
        );
        last.insert(stage.name.clone(), stage.key);
        trained.push(output);
    }

    // Evaluate.
    let stage = stage_of("evaluate")?;
    let (evaluation, record, cached) = match load_record(workspace, &stage.key)? {
        Some(record) => (decode::<EvaluateOutput>(&record)?, record, true),
        None => {
            let timer = start(observer, 3 + trained.len(), planned.len(), "evaluate");
            let numbers: Vec<u32> = trained.iter().map(|t| t.version).collect();
            let m = runner.materialize().await?;
            let report = evaluate_versions(
                workspace,
                &model,
                &numbers,
                &m.loaded.table,
                &m.prepared.test.rows,
                &m.prepared.test.y,
            )
            .await?;
            let versions: Vec<ComparedVersion> = report
                .versions
                .iter()
                .zip(&trained)
                .map(|(e, t)| ComparedVersion {
                    variant: t.variant.clone(),
                    version: e.version,
                    metrics: report_metrics(&e.metrics).into_iter().collect(),
                })
                .collect();
            let json_report = serde_json::json!({
                "format_version": STAGE_FORMAT, "model": spec.deploy.model, "split_digest": prepared.split_digest,
                "test_rows": prepared.test, "metrics": spec.evaluate.metrics, "versions": versions,
            });
            let report_json = workspace.blobs.put_json(&json_report).await?;
            let markdown = comparison_markdown(spec, &prepared, &versions);
            let report_markdown = workspace.blobs.put(markdown.into_bytes().into()).await?;
            let output = EvaluateOutput {
                split_digest: prepared.split_digest,
                test_rows: prepared.test,
                metrics: spec.evaluate.metrics.clone(),
                versions,
                report_markdown,
                report_json,
            };
            let record = save(workspace, &stage, &output, timer)?;
            (output, record, false)
        }
    };
    let summary: Vec<String> = evaluation
        .versions
        .iter()
        .map(|v| {
            format!(
                "v{} {} {:.4}",
                v.version,
                spec.deploy.metric,
                v.metrics
                    .get(&spec.deploy.metric)
                    .copied()
                    .unwrap_or(f64::NAN)
            )
        })
        .collect();
    stages.push(
        row(
            &stage,
            cached,
            &record,
            format!("test set {} rows", evaluation.test_rows),
            format!(
                "re-evaluate every variant from its stored bundle on the same test rows ({})",
                evaluation.metrics.join(", ")
            ),
            format!(
                "{} · report md {} json {}",
                summary.join(", "),
                evaluation.report_markdown.short(),
                evaluation.report_json.short()
            ),
        )
        .shapes(
            Some(Shape {
                rows: evaluation.test_rows,
                columns: prepared.n_engineered_columns,
            }),
            None,
        ),
    );
    last.insert(stage.name.clone(), stage.key);

    // Deploy.
    let stage = stage_of("deploy")?;
    let current = alias_target(workspace, &model, &alias).await?;
    let stored = match load_record(workspace, &stage.key)? {
        Some(record) => {
            let output: DeployOutput = decode(&record)?;
            (output.target_after == current).then_some((output, record))
        }
        None => None,
    };
    let (deployment, record, cached) = match stored {
        Some((output, record)) => (output, record, true),
        None => {
            let timer = start(observer, 4 + trained.len(), planned.len(), "deploy");
            let output =
                decide_and_deploy(&mut runner, &model, &alias, &evaluation, current).await?;
            let record = save(workspace, &stage, &output, timer)?;
            (output, record, false)
        }
    };
    stages.push(row(
        &stage,
        cached,
        &record,
        format!(
            "best by {} (min improvement {})",
            spec.deploy.metric, spec.deploy.min_improvement
        ),
        format!(
            "move `{}` only if the winner beats the current target on the same split",
            spec.deploy.alias
        ),
        format!("{:?}: {}", deployment.decision, deployment.reason).to_lowercase(),
    ));
    last.insert(stage.name.clone(), stage.key);

    let bytes = serde_json::to_vec_pretty(&LastRun {
        format_version: STAGE_FORMAT,
        stages: last,
    })
    .map_err(|e| PipelineError::Invalid(format!("last-run index is not serialisable: {e}")))?;
    write_atomically(&stage_dir(workspace).join(LAST_RUN), &bytes)?;
    Ok(RunReport {
        format_version: STAGE_FORMAT,
        stages,
        data,
        prepare: prepared,
        variants: trained,
        evaluation,
        deployment,
        created_versions,
    })
}

/// Lower is better only for log loss.
fn better(metric: &str, a: f64, b: f64) -> f64 {
    if metric == "log_loss" { b - a } else { a - b }
}

async fn decide_and_deploy(
    runner: &mut Runner<'_>,
    model: &ModelName,
    alias: &Alias,
    evaluation: &EvaluateOutput,
    current: Option<u32>,
) -> Result<DeployOutput, PipelineError> {
    let spec = runner.spec;
    let metric = spec.deploy.metric.as_str();
    let mut output = DeployOutput {
        model: spec.deploy.model.clone(),
        alias: spec.deploy.alias.clone(),
        decision: Decision::Refused,
        reason: String::new(),
        best: None,
        target_before: current,
        target_after: current,
    };
    let best = evaluation
        .versions
        .iter()
        .filter(|v| {
            spec.deploy
                .candidates
                .as_ref()
                .is_none_or(|c| c.contains(&v.variant))
        })
        .filter_map(|v| v.metrics.get(metric).map(|m| (v, *m)))
        .filter(|(_, m)| m.is_finite())
        .fold(None::<(&ComparedVersion, f64)>, |best, (v, m)| match best {
            Some((b, bm)) if better(metric, bm, m) > 0.0 => Some((b, bm)),
            _ => Some((v, m)),
        });
    let Some((best, best_value)) = best else {
        output.reason = format!("no candidate has a finite `{metric}` on the test set");
        return Ok(output);
    };
    output.best = Some(best.version);
    let current_value = match current {
        None => None,
        Some(version) if version == best.version => {
            output.decision = Decision::Kept;
            output.reason =
                format!("already points at the best, v{version} ({metric} {best_value:.4})");
            return Ok(output);
        }
        Some(version) => match evaluation.versions.iter().find(|v| v.version == version) {
            Some(v) => v.metrics.get(metric).copied(),
            None => {
                let bundle = ModelBundle::load(
                    &runner.workspace.catalog,
                    &runner.workspace.blobs,
                    model,
                    &VersionSelector::Version(version),
                )
                .await?;
                if bundle.manifest.split != evaluation.split_digest {
                    output.reason = format!(
                        "current target v{version} was tested on split {}, this run on {}; not comparable, move it by hand with `versa models` if intended",
                        bundle.manifest.split.short(),
                        evaluation.split_digest.short()
                    );
                    return Ok(output);
                }
                let workspace = runner.workspace;
                let m = runner.materialize().await?;
                let report = evaluate_versions(
                    workspace,
                    model,
                    &[version],
                    &m.loaded.table,
                    &m.prepared.test.rows,
                    &m.prepared.test.y,
                )
                .await?;
                report.versions.first().and_then(|e| {
                    report_metrics(&e.metrics)
                        .into_iter()
                        .find(|(k, _)| k == metric)
                        .map(|(_, v)| v)
                })
            }
        },
    };
    if let (Some(version), Some(value)) = (current, current_value) {
        let gain = better(metric, best_value, value);
        if !(gain > 0.0 && gain >= spec.deploy.min_improvement) {
            output.decision = Decision::Kept;
            output.reason = format!(
                "best v{} {metric} {best_value:.4} does not beat current v{version} {value:.4} by at least {}",
                best.version, spec.deploy.min_improvement
            );
            return Ok(output);
        }
    } else if let Some(version) = current {
        output.reason = format!("current target v{version} has no `{metric}` on this test set");
        return Ok(output);
    }
    let moved = deploy(runner.workspace, model, alias, best.version, "versa run").await?;
    output.decision = Decision::Moved;
    output.target_after = Some(moved.version);
    output.reason = match current {
        None => format!(
            "no current target; v{} has {metric} {best_value:.4}",
            best.version
        ),
        Some(version) => format!(
            "v{} {metric} {best_value:.4} beats current v{version} {:.4} by at least {}",
            best.version,
            current_value.unwrap_or(f64::NAN),
            spec.deploy.min_improvement
        ),
    };
    Ok(output)
}

fn comparison_markdown(
    spec: &PipelineSpec,
    prepared: &PrepareOutput,
    versions: &[ComparedVersion],
) -> String {
    let mut text = format!(
        "# Comparison: {}\n\nSplit {} · {} test rows.\n\n| variant | version |",
        spec.deploy.model, prepared.split_digest, prepared.test
    );
    for metric in &spec.evaluate.metrics {
        text.push_str(&format!(" {metric} |"));
    }
    text.push_str("\n|---|---|");
    text.push_str(&"---|".repeat(spec.evaluate.metrics.len()));
    text.push('\n');
    for v in versions {
        text.push_str(&format!("| {} | {} |", v.variant, v.version));
        for metric in &spec.evaluate.metrics {
            match v.metrics.get(metric) {
                Some(value) => text.push_str(&format!(" {value:.4} |")),
                None => text.push_str(" — |"),
            }
        }
        text.push('\n');
    }
    text
}

fn start(observer: &mut dyn Observer, number: usize, of: usize, name: &str) -> Instant {
    observer.event(&Event::StageStarted { number, of, name });
    Instant::now()
}

fn save<T: Serialize>(
    workspace: &Workspace,
    stage: &PlannedStage,
    output: &T,
    timer: Instant,
) -> Result<StageRecord, PipelineError> {
    let record = StageRecord {
        format_version: STAGE_FORMAT,
        stage: stage.name.clone(),
        key: stage.key,
        inputs: stage.inputs.clone(),
        output: serde_json::to_value(output).map_err(|e| {
            PipelineError::Invalid(format!("stage output is not serialisable: {e}"))
        })?,
        created_at: crate::train::now_ms(),
        duration_ms: timer.elapsed().as_secs_f64() * 1e3,
    };
    store_record(workspace, &record)?;
    Ok(record)
}

fn row(
    stage: &PlannedStage,
    cached: bool,
    record: &StageRecord,
    input: String,
    operation: String,
    output: String,
) -> StageRun {
    StageRun {
        name: stage.name.clone(),
        key: stage.key,
        cached,
        input,
        operation,
        output,
        input_shape: None,
        output_shape: None,
        duration_ms: if cached { 0.0 } else { record.duration_ms },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{CHURN_EXAMPLE, parse_spec};

    fn keys(overrides: &[&str], data: &[u8]) -> BTreeMap<String, Digest> {
        let overrides: Vec<String> = overrides.iter().map(ToString::to_string).collect();
        let spec = parse_spec(CHURN_EXAMPLE, &overrides).expect("example parses");
        plan(&spec, data)
            .into_iter()
            .map(|s| (s.name, s.key))
            .collect()
    }

    #[test]
    fn a_key_changes_exactly_when_its_inputs_do() {
        let base = keys(&[], b"a,b\n1,2\n");
        assert_eq!(base, keys(&[], b"a,b\n1,2\n"), "keys are deterministic");
        let epochs = keys(&["v2.epochs=3"], b"a,b\n1,2\n");
        for (stage, same) in [
            ("data", true),
            ("prepare", true),
            ("train.v1", true),
            ("train.v2", false),
            ("evaluate", false),
            ("deploy", false),
        ] {
            assert_eq!(base[stage] == epochs[stage], same, "{stage}");
        }
        let data = keys(&[], b"a,b\n1,3\n");
        assert!(base.iter().all(|(stage, key)| data[stage] != *key));
    }
}
