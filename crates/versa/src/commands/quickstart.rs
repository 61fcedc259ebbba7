//! `versa quickstart`: `versa init --example churn` and `versa run` in one
//! step — the whole reference scenario on embedded sample data — then a real
//! HTTP prediction against the deployed version on a loopback port.
//!
//! It is exactly those two commands (the same functions), so the directory it
//! leaves is an ordinary pipeline workspace: `versa run` there again finds
//! every stage cached, and editing `versa.toml` retrains only what changed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use versa_catalog::Catalog;
use versa_core::RunId;
use versa_pipeline::run::{RunReport, StageRun, run_pipeline};
use versa_pipeline::spec::PipelineSpec;
use versa_pipeline::{NoopObserver, Observer, Shape, Workspace};
use versa_server::{PredictResponse, ServerState};
use versa_tabular::csv::{CsvOptions, read_csv};
use versa_tabular::split::{SplitFractions, encode_labels, stratified_split};

use crate::Global;
use crate::render::{self, TerminalObserver, num};
use crate::rows::table_row;

/// Version of the `--json` document. 2: the scenario's seven stages under
/// `stages`, the pipeline's run report under `run`, per-epoch traces under
/// `versions`.
const OUTPUT_FORMAT: u32 = 2;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Directory for the quickstart workspace (created if missing; must be empty or an existing versa workspace).
    #[arg(long, default_value = "versa-quickstart", value_name = "DIR")]
    dir: PathBuf,
    /// Seed for the sample data, the split and the training.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// The served prediction, as the quickstart reports it.
#[derive(Debug, Serialize)]
struct ServedPrediction {
    url: String,
    request: serde_json::Value,
    status: u16,
    response: PredictResponse,
}

/// One epoch of a variant's training trace, read back from the catalog.
#[derive(Debug, Serialize)]
struct EpochRow {
    epoch: i64,
    train_loss: Option<f64>,
    train_accuracy: Option<f64>,
    val_loss: Option<f64>,
    val_accuracy: Option<f64>,
}

/// A variant's model version and its training trace.
#[derive(Debug, Serialize)]
struct VersionTrace {
    variant: String,
    version: u32,
    run_id: String,
    epochs: Vec<EpochRow>,
}

/// One row of the scenario's "Data Flow" table: a view of the pipeline run,
/// naming the pipeline stage it comes from.
#[derive(Debug, Serialize)]
struct ScenarioStage {
    number: usize,
    name: String,
    pipeline_stage: String,
    input: String,
    operation: String,
    output: String,
    input_shape: Option<Shape>,
    output_shape: Option<Shape>,
    cached: bool,
    duration_ms: f64,
}

#[derive(Debug, Serialize)]
struct Output<'a> {
    format_version: u32,
    seed: u64,
    workspace: &'a Path,
    spec_file: &'a Path,
    data_file: &'a Path,
    stages: &'a [ScenarioStage],
    run: &'a RunReport,
    versions: &'a [VersionTrace],
    prediction: &'a ServedPrediction,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let dir = global.workspace.clone().unwrap_or(args.dir);
    check_target(&dir)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let root = std::fs::canonicalize(&dir).unwrap_or(dir.clone());
    let spec_file = root.join(super::run::SPEC_FILE);
    // `versa init --example churn`, unless an earlier quickstart did it.
    if !spec_file.exists() {
        super::init::write_churn_example(&root, args.seed)?;
    }
    if !global.json {
        eprintln!(
            "versa quickstart · workspace {} · seed {} · = `versa init --example churn` + `versa run`",
            root.display(),
            args.seed
        );
    }
    // `versa run`.
    let (spec, spec_dir) = super::run::load_spec(global, Some(&spec_file), &[])?;
    let workspace = super::run::open_spec_workspace(global, &spec_dir).await?;
    let mut terminal = TerminalObserver::new();
    let mut quiet = NoopObserver;
    let observer: &mut dyn Observer = if global.json {
        &mut quiet
    } else {
        &mut terminal
    };
    let report = run_pipeline(&workspace, &spec, &spec_dir, observer)
        .await
        .context("the quickstart pipeline failed")?;
    let versions = traces(&workspace.catalog, &report).await?;
    let data_file = spec_dir.join(&spec.data.path);
    let prediction = serve_one_prediction(workspace, &spec, &data_file).await?;
    let stages = scenario_stages(&spec, &report, &prediction);
    if global.json {
        return super::print_json(&Output {
            format_version: OUTPUT_FORMAT,
            seed: args.seed,
            workspace: &root,
            spec_file: &spec_file,
            data_file: &data_file,
            stages: &stages,
            run: &report,
            versions: &versions,
            prediction: &prediction,
        });
    }
    print_summary(&root, &stages, &report, &prediction);
    Ok(())
}

/// Each variant's per-epoch trace, as the training run stored it.
async fn traces(catalog: &Catalog, report: &RunReport) -> Result<Vec<VersionTrace>> {
    let mut traces = Vec::new();
    for variant in &report.variants {
        let run_id = RunId::new(&variant.run_id)
            .with_context(|| format!("run id `{}` is malformed", variant.run_id))?;
        let mut epochs: Vec<EpochRow> = Vec::new();
        for key in ["train_loss", "train_accuracy", "val_loss", "val_accuracy"] {
            let history = catalog
                .metric_history(&run_id, key)
                .await
                .with_context(|| format!("cannot read `{key}` of run {run_id}"))?;
            for point in history {
                let index = match epochs.iter().position(|row| row.epoch == point.step) {
                    Some(index) => index,
                    None => {
                        epochs.push(EpochRow {
                            epoch: point.step,
                            train_loss: None,
                            train_accuracy: None,
                            val_loss: None,
                            val_accuracy: None,
                        });
                        epochs.len() - 1
                    }
                };
                let row = &mut epochs[index];
                let slot = match key {
                    "train_loss" => &mut row.train_loss,
                    "train_accuracy" => &mut row.train_accuracy,
                    "val_loss" => &mut row.val_loss,
                    _ => &mut row.val_accuracy,
                };
                *slot = Some(point.value);
            }
        }
        epochs.sort_by_key(|row| row.epoch);
        traces.push(VersionTrace {
            variant: variant.variant.clone(),
            version: variant.version,
            run_id: variant.run_id.clone(),
            epochs,
        });
    }
    Ok(traces)
}

/// Refuses to write into a non-empty directory that is not a versa workspace.
fn check_target(dir: &Path) -> Result<()> {
    if Workspace::is_workspace(dir) || !dir.exists() {
        return Ok(());
    }
    if !dir.is_dir() {
        bail!(
            "`{}` exists and is not a directory; choose another --dir",
            dir.display()
        );
    }
    let mut entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))?;
    if entries.next().is_some() {
        bail!(
            "`{}` is not empty and not a versa workspace; refusing to write into it. Choose another --dir or an empty directory",
            dir.display()
        );
    }
    Ok(())
}

/// Starts the server in-process on an ephemeral loopback port, sends one raw
/// customer row to `churn@production`, and shuts the server down.
async fn serve_one_prediction(
    workspace: Workspace,
    spec: &PipelineSpec,
    data_file: &Path,
) -> Result<ServedPrediction> {
    let bytes = std::fs::read(data_file)
        .with_context(|| format!("cannot read `{}`", data_file.display()))?;
    let table =
        read_csv(&bytes, &CsvOptions::default()).context("cannot re-read the sample data")?;
    // The first held-out test row — a customer neither version trained on —
    // found by redoing the pipeline's deterministic split.
    let (classes, labels) = encode_labels(&table, &spec.data.label)?;
    let split = stratified_split(
        &labels,
        classes.len(),
        SplitFractions {
            validation: spec.split.validation,
            test: spec.split.test,
        },
        spec.split.seed,
    )?;
    let row_index = split.test.first().copied().unwrap_or(0);
    let row = table_row(&table, row_index, Some(&spec.data.label));
    let request = serde_json::json!({ "rows": [row] });
    let model = &spec.deploy.model;
    let alias = &spec.deploy.alias;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind a loopback port for the prediction server")?;
    let addr = listener
        .local_addr()
        .context("cannot read the server's address")?;
    let state = ServerState::new(workspace.catalog, workspace.blobs);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(versa_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let url = format!("http://{addr}/v1/models/{model}@{alias}/predict");
    let client = reqwest::Client::new();
    let response = client
        .post(&url)
        .json(&request)
        .send()
        .await
        .with_context(|| format!("prediction request to {url} failed"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .context("cannot read the prediction response")?;
    let _ = stop.send(());
    server
        .await
        .context("the prediction server task failed")?
        .context("the prediction server failed")?;
    if !status.is_success() {
        bail!("the prediction server answered {status}: {text}");
    }
    let response: PredictResponse = serde_json::from_str(&text)
        .with_context(|| format!("unexpected prediction response: {text}"))?;
    Ok(ServedPrediction {
        url,
        request,
        status: status.as_u16(),
        response,
    })
}

/// The run seen as the scenario's seven stages: `prepare` is both
/// preprocessing and feature engineering (one fitted transform), and
/// deployment includes the live prediction.
fn scenario_stages(
    spec: &PipelineSpec,
    report: &RunReport,
    prediction: &ServedPrediction,
) -> Vec<ScenarioStage> {
    let find = |name: &str| report.stages.iter().find(|s| s.name == name);
    let mut out: Vec<ScenarioStage> = Vec::new();
    let mut push = |name: String,
                    stage: &StageRun,
                    input_shape,
                    output_shape,
                    operation: String,
                    output: String,
                    duration_ms| {
        out.push(ScenarioStage {
            number: out.len() + 1,
            name,
            pipeline_stage: stage.name.clone(),
            input: stage.input.clone(),
            operation,
            output,
            input_shape,
            output_shape,
            cached: stage.cached,
            duration_ms,
        });
    };
    let prepared = &report.prepare;
    let raw = Shape {
        rows: report.data.n_rows,
        columns: report.data.n_columns - 1,
    };
    let engineered = Shape {
        rows: report.data.n_rows,
        columns: prepared.n_engineered_columns,
    };
    if let Some(data) = find("data") {
        push(
            "Data Collection".into(),
            data,
            Some(raw),
            Some(raw),
            data.operation.clone(),
            data.output.clone(),
            data.duration_ms,
        );
    }
    if let Some(prepare) = find("prepare") {
        push(
            "Data Preprocessing".into(),
            prepare,
            Some(raw),
            Some(raw),
            format!(
                "split {}/{}/{} (train/validation/test, stratified, seed {}); fit imputation and scaling on the training rows",
                prepared.train, prepared.validation, prepared.test, spec.split.seed
            ),
            format!(
                "{raw}: missing values filled, numbers normalised · transform {}",
                prepared.transform_digest.short()
            ),
            prepare.duration_ms,
        );
        let features: Vec<String> = spec
            .transform
            .features
            .iter()
            .map(|f| format!("{} = {}", f.name, f.expression))
            .collect();
        push(
            "Feature Engineering".into(),
            prepare,
            Some(raw),
            Some(engineered),
            format!(
                "derive {} (fitted with preprocessing, one transform)",
                features.join("; ")
            ),
            format!(
                "{engineered} → {} model inputs after encoding",
                prepared.n_features
            ),
            0.0,
        );
    }
    for variant in &report.variants {
        if let Some(train) = find(&format!("train.{}", variant.variant)) {
            push(
                format!("Model Training {}", variant.variant),
                train,
                train.input_shape,
                None,
                train.operation.clone(),
                train.output.clone(),
                train.duration_ms,
            );
        }
    }
    if let Some(evaluate) = find("evaluate") {
        push(
            "Model Evaluation".into(),
            evaluate,
            evaluate.input_shape,
            None,
            evaluate.operation.clone(),
            evaluate.output.clone(),
            evaluate.duration_ms,
        );
    }
    if let Some(deploy) = find("deploy") {
        let answer = &prediction.response;
        push(
            "Model Deployment".into(),
            deploy,
            None,
            None,
            format!("{}; serve live predictions over HTTP", deploy.operation),
            format!(
                "{} · live: {} answered by {} v{}",
                deploy.output,
                answer.predictions.first().map_or("-", |p| p.label.as_str()),
                answer.model,
                answer.version
            ),
            deploy.duration_ms,
        );
    }
    out
}

fn print_summary(
    root: &Path,
    stages: &[ScenarioStage],
    report: &RunReport,
    prediction: &ServedPrediction,
) {
    println!("\nData Flow — {} stages", stages.len());
    let mut flow = render::table(&[
        "#",
        "stage",
        "pipeline stage",
        "input",
        "operation",
        "output",
        "time",
    ]);
    for stage in stages {
        flow.add_row(vec![
            num(stage.number),
            comfy_table::Cell::new(&stage.name),
            comfy_table::Cell::new(&stage.pipeline_stage),
            comfy_table::Cell::new(
                stage
                    .input_shape
                    .map_or_else(|| stage.input.clone(), |s| s.to_string()),
            ),
            comfy_table::Cell::new(&stage.operation),
            comfy_table::Cell::new(&stage.output),
            num(if stage.cached {
                "cached".to_string()
            } else {
                render::duration(stage.duration_ms)
            }),
        ]);
    }
    println!("{flow}");
    let n_cached = report.stages.iter().filter(|s| s.cached).count();
    println!(
        "{n_cached} of {} pipeline stages cached · comparison report {} (markdown), {} (json)",
        report.stages.len(),
        report.evaluation.report_markdown,
        report.evaluation.report_json
    );

    let evaluation = &report.evaluation;
    println!(
        "\nModel Evaluation — {} held-out test rows, same for every version",
        evaluation.test_rows
    );
    let mut header = vec!["metric".to_string()];
    header.extend(evaluation.versions.iter().map(|v| {
        if v.variant == format!("v{}", v.version) {
            v.variant.clone()
        } else {
            format!("{} (v{})", v.variant, v.version)
        }
    }));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = render::table(&header);
    let mut keys: Vec<&String> = evaluation
        .versions
        .iter()
        .flat_map(|v| v.metrics.keys())
        .collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let mut cells = vec![comfy_table::Cell::new(key)];
        for version in &evaluation.versions {
            cells.push(num(version
                .metrics
                .get(key)
                .map_or("—".to_string(), |v| format!("{v:.4}"))));
        }
        table.add_row(cells);
    }
    println!("{table}");

    let deployment = &report.deployment;
    println!(
        "\nDeployment: {}@{} {} → {} ({})",
        deployment.model,
        deployment.alias,
        format!("{:?}", deployment.decision).to_lowercase(),
        deployment
            .target_after
            .map_or("nothing".to_string(), |v| format!("v{v}")),
        deployment.reason
    );
    let answer = &prediction.response;
    println!("\nLive prediction: POST {}", prediction.url);
    println!(
        "  request  {}",
        serde_json::to_string(&prediction.request).unwrap_or_default()
    );
    if let Some(first) = answer.predictions.first() {
        let probabilities: Vec<String> = first
            .probabilities
            .iter()
            .map(|(label, p)| format!("{label} {p:.3}"))
            .collect();
        println!(
            "  response {} → {} ({}) · answered by {} v{} ({})",
            prediction.status,
            first.label,
            probabilities.join(", "),
            answer.model,
            answer.version,
            &answer.digest
        );
    }
    println!(
        "\nThis directory is a pipeline: edit {} and `versa run` retrains only what changed.\nNext: `versa models show {}`, `versa serve --workspace {}`",
        root.join(super::run::SPEC_FILE).display(),
        deployment.model,
        root.display()
    );
}
