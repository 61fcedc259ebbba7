//! `versa quickstart`: the whole reference scenario on embedded data, then a
//! real HTTP prediction against the deployed version on a loopback port.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use versa_pipeline::scenario::{ALIAS, LABEL, MODEL, ScenarioConfig, ScenarioReport, run_scenario};
use versa_pipeline::{NoopObserver, Observer, Workspace};
use versa_server::{PredictResponse, ServerState};
use versa_tabular::csv::{CsvOptions, read_csv};

use crate::Global;
use crate::render::{self, TerminalObserver, metrics_table, num};
use crate::rows::table_row;

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

#[derive(Debug, Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    report: &'a ScenarioReport,
    prediction: &'a ServedPrediction,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let dir = global.workspace.clone().unwrap_or(args.dir);
    check_target(&dir)?;
    let workspace = Workspace::init(&dir)
        .await
        .with_context(|| format!("cannot create a workspace in `{}`", dir.display()))?;
    let workspace_root = std::fs::canonicalize(&dir).unwrap_or(dir.clone());
    if !global.json {
        eprintln!(
            "versa quickstart · workspace {} · seed {}",
            workspace_root.display(),
            args.seed
        );
    }
    let mut terminal = TerminalObserver::new();
    let mut quiet = NoopObserver;
    let observer: &mut dyn Observer = if global.json {
        &mut quiet
    } else {
        &mut terminal
    };
    let config = ScenarioConfig {
        seed: args.seed,
        ..ScenarioConfig::default()
    };
    let report = run_scenario(&workspace, config, observer)
        .await
        .context("the quickstart scenario failed")?;
    let prediction = serve_one_prediction(workspace, &report).await?;
    if global.json {
        return super::print_json(&Output {
            report: &report,
            prediction: &prediction,
        });
    }
    print_summary(&report, &prediction);
    Ok(())
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
    report: &ScenarioReport,
) -> Result<ServedPrediction> {
    let bytes = std::fs::read(&report.data_file)
        .with_context(|| format!("cannot read `{}`", report.data_file.display()))?;
    let table =
        read_csv(&bytes, &CsvOptions::default()).context("cannot re-read the sample data")?;
    // The first held-out test row: a customer neither version trained on.
    let row_index = first_test_row(report, &table);
    let row = table_row(&table, row_index, Some(LABEL));
    let request = serde_json::json!({ "rows": [row] });

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
    let url = format!("http://{addr}/v1/models/{MODEL}@{ALIAS}/predict");
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

fn first_test_row(report: &ScenarioReport, table: &versa_tabular::Table) -> usize {
    report
        .split
        .test_rows
        .first()
        .copied()
        .unwrap_or(0)
        .min(table.n_rows().saturating_sub(1))
}

fn print_summary(report: &ScenarioReport, prediction: &ServedPrediction) {
    println!("\nData Flow — {} stages", report.stages.len());
    let mut flow = render::table(&["#", "stage", "input", "operation", "output", "duration"]);
    for stage in &report.stages {
        flow.add_row(vec![
            num(stage.number),
            stage.name.clone().into(),
            stage.input.clone().into(),
            stage.operation.clone().into(),
            stage.output.clone().into(),
            num(render::duration(stage.duration_ms)),
        ]);
    }
    println!("{flow}");

    println!(
        "\nModel Evaluation — {} held-out test rows, same for every version",
        report.evaluation.test_rows
    );
    let columns: Vec<(String, &versa_mlp::metrics::ClassificationReport)> = report
        .evaluation
        .versions
        .iter()
        .map(|e| (format!("v{}", e.version), &e.metrics))
        .collect();
    println!("{}", metrics_table(&columns));

    println!(
        "\nDeployed: {}@{} → v{}{}",
        report.deployment.model,
        report.deployment.alias,
        report.deployment.version,
        report
            .deployment
            .previous
            .map_or(String::new(), |p| format!(" (was v{p})"))
    );
    let answer = &prediction.response;
    let first = answer.predictions.first();
    println!("\nLive prediction: POST {}", prediction.url);
    println!(
        "  request  {}",
        serde_json::to_string(&prediction.request).unwrap_or_default()
    );
    if let Some(first) = first {
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
        "\nNext: `versa models show {MODEL}`, `versa serve --workspace {}`",
        report.workspace.display()
    );
}
