//! `versa runs …`: training runs, their parameters and metric traces, and
//! runs side by side.
//!
//! Glue over the catalog's tracking API; metric directions come from
//! `crate::compare`. Must not know how runs are stored.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use versa_catalog::LifecycleStage;
use versa_core::{ModelName, RunId};

use crate::Global;
use crate::chart::{Series, line_chart};
use crate::compare;
use crate::render::{self, num};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// List runs, newest first.
    List {
        /// Only the runs that trained a version of this model.
        #[arg(long, value_name = "NAME")]
        model: Option<ModelName>,
    },
    /// Show one run: status, parameters, final metrics and its training curves.
    Show {
        /// Run id (as printed by `versa models show` or `versa runs list`).
        run: String,
    },
    /// Compare runs side by side: the parameters that differ and the final
    /// value of every metric, with deltas against the first run.
    Compare {
        /// Two or more run ids; the first is the baseline.
        #[arg(required = true, num_args = 2.., value_name = "RUN")]
        runs: Vec<RunId>,
    },
}

pub(crate) async fn run(global: &Global, command: Command) -> Result<()> {
    let workspace = super::open_workspace(global).await?;
    let catalog = &workspace.catalog;
    match command {
        Command::List { model } => {
            let mut runs = catalog.list_runs(None).await.context("cannot list runs")?;
            if let Some(model) = &model {
                let versions = catalog
                    .list_versions(model)
                    .await
                    .with_context(|| format!("cannot list the runs of model `{model}`"))?;
                let trained: BTreeSet<&RunId> =
                    versions.iter().filter_map(|v| v.run_id.as_ref()).collect();
                runs.retain(|r| trained.contains(&r.run_id));
            }
            if global.json {
                return super::print_json(&serde_json::json!({ "runs": runs }));
            }
            // Runs logged through the MLflow API live in their own experiments
            // (and may be soft-deleted there); name both so they can be told apart.
            let experiments: BTreeMap<String, String> = catalog
                .list_experiments()
                .await
                .context("cannot list experiments")?
                .into_iter()
                .map(|e| (e.experiment_id, e.name))
                .collect();
            let mut table =
                render::table(&["run", "name", "experiment", "status", "started", "duration"]);
            for r in &runs {
                let duration = r.end_time.map_or("—".to_string(), |end| {
                    render::duration((end - r.start_time) as f64)
                });
                let status = match r.lifecycle_stage {
                    LifecycleStage::Active => r.status.as_str().to_string(),
                    LifecycleStage::Deleted => format!("{} (deleted)", r.status.as_str()),
                };
                table.add_row(vec![
                    r.run_id.to_string().into(),
                    r.run_name.clone().into(),
                    experiments
                        .get(&r.experiment_id)
                        .cloned()
                        .unwrap_or_else(|| r.experiment_id.clone())
                        .into(),
                    status.into(),
                    render::timestamp(r.start_time).into(),
                    num(duration),
                ]);
            }
            println!("{table}");
        }
        Command::Compare { runs } => compare_runs(global, catalog, &runs).await?,
        Command::Show { run } => {
            let run_id = RunId::new(&run)?;
            let detail = catalog
                .run(&run_id)
                .await
                .with_context(|| format!("cannot show run `{run_id}`"))?;
            let keys = catalog.metric_keys(&run_id).await?;
            let mut histories = Vec::new();
            for key in &keys {
                histories.push((key.clone(), catalog.metric_history(&run_id, key).await?));
            }
            if global.json {
                let metrics: serde_json::Map<String, serde_json::Value> = histories
                    .iter()
                    .map(|(k, h)| (k.clone(), serde_json::to_value(h).unwrap_or_default()))
                    .collect();
                return super::print_json(
                    &serde_json::json!({ "run": detail, "metric_history": metrics }),
                );
            }
            let r = &detail.run;
            println!("run {} · {} · {:?}", r.run_id, r.run_name, r.status);
            println!(
                "  started {} · host {} · versa {}",
                render::timestamp(r.start_time),
                r.host,
                r.versa_version
            );
            let mut params = render::table(&["parameter", "value"]);
            for (k, v) in &detail.params {
                params.add_row(vec![k.clone(), v.clone()]);
            }
            println!("{params}");
            let mut metrics = render::table(&["metric", "latest"]);
            for (k, v) in &detail.latest_metrics {
                metrics.add_row(vec![k.clone().into(), num(format!("{v:.4}"))]);
            }
            println!("{metrics}");
            let series = |names: &[&'static str]| -> Vec<Series<'static>> {
                names
                    .iter()
                    .filter_map(|name| {
                        histories
                            .iter()
                            .find(|(k, _)| k == name)
                            .map(|(_, h)| Series {
                                name,
                                points: h.iter().map(|p| (p.step as f64, p.value)).collect(),
                            })
                    })
                    .collect()
            };
            let loss = series(&["train_loss", "val_loss"]);
            if !loss.is_empty() {
                println!("{}", line_chart("loss ↓ by epoch", &loss, 40, 8));
            }
            let accuracy = series(&["train_accuracy", "val_accuracy"]);
            if !accuracy.is_empty() {
                println!("{}", line_chart("accuracy ↑ by epoch", &accuracy, 40, 8));
            }
        }
    }
    Ok(())
}

/// The final metric values shown first, in this order; the rest follow alphabetically.
const PREFERRED_METRICS: [&str; 10] = [
    "test_accuracy",
    "test_precision",
    "test_recall",
    "test_f1",
    "test_roc_auc",
    "test_log_loss",
    "val_accuracy",
    "val_loss",
    "train_accuracy",
    "train_loss",
];

async fn compare_runs(
    global: &Global,
    catalog: &versa_catalog::Catalog,
    run_ids: &[RunId],
) -> Result<()> {
    let mut details = Vec::with_capacity(run_ids.len());
    for (index, run_id) in run_ids.iter().enumerate() {
        if run_ids[..index].contains(run_id) {
            bail!("run {run_id} is named twice; name each run once");
        }
        details.push(
            catalog
                .run(run_id)
                .await
                .with_context(|| format!("cannot compare run `{run_id}`"))?,
        );
    }
    let params: Vec<&BTreeMap<String, String>> = details.iter().map(|d| &d.params).collect();
    let param_rows = compare::differing_params(&params);
    let metrics: Vec<&BTreeMap<String, f64>> = details.iter().map(|d| &d.latest_metrics).collect();
    let metric_rows = compare::metric_rows(&PREFERRED_METRICS, &metrics);
    if global.json {
        let runs: Vec<&versa_catalog::Run> = details.iter().map(|d| &d.run).collect();
        return super::print_json(&serde_json::json!({
            "runs": runs,
            "differing_params": param_rows,
            "metrics": metric_rows,
        }));
    }
    // Columns are headed by run name when names are unique, else by id.
    let names: BTreeSet<&str> = details.iter().map(|d| d.run.run_name.as_str()).collect();
    let labels: Vec<String> = details
        .iter()
        .map(|d| {
            if names.len() == details.len() {
                d.run.run_name.clone()
            } else {
                d.run.run_id.to_string()
            }
        })
        .collect();
    let mut runs_table = render::table(&["run", "name", "status", "duration"]);
    for d in &details {
        let r = &d.run;
        runs_table.add_row(vec![
            r.run_id.to_string().into(),
            r.run_name.clone().into(),
            r.status.as_str().into(),
            num(r.end_time.map_or("—".to_string(), |end| {
                render::duration((end - r.start_time) as f64)
            })),
        ]);
    }
    println!("{runs_table}");
    println!();
    compare::print_differing_params("parameters", &labels, &param_rows);
    println!();
    println!(
        "final metrics, deltas against {}: ↑ better, ↓ worse, = same",
        labels[0]
    );
    let mut header = vec!["metric", "goal"];
    header.extend(labels.iter().map(String::as_str));
    let mut table = render::table(&header);
    for row in &metric_rows {
        let mut cells = vec![row.key.clone().into(), row.goal.describe().into()];
        cells.extend((0..labels.len()).map(|index| num(row.cell(index))));
        table.add_row(cells);
    }
    println!("{table}");
    Ok(())
}
