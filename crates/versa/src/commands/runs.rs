//! `versa runs …`: training runs, their parameters and metric traces.

use anyhow::{Context, Result};
use versa_core::RunId;

use crate::Global;
use crate::chart::{Series, line_chart};
use crate::render::{self, num};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// List runs, newest first.
    List,
    /// Show one run: status, parameters, final metrics and its training curves.
    Show {
        /// Run id (as printed by `versa models show` or `versa runs list`).
        run: String,
    },
}

pub(crate) async fn run(global: &Global, command: Command) -> Result<()> {
    let workspace = super::open_workspace(global).await?;
    let catalog = &workspace.catalog;
    match command {
        Command::List => {
            let runs = catalog.list_runs(None).await.context("cannot list runs")?;
            if global.json {
                return super::print_json(&serde_json::json!({ "runs": runs }));
            }
            let mut table = render::table(&["run", "name", "status", "started", "duration"]);
            for r in &runs {
                let duration = r.end_time.map_or("—".to_string(), |end| {
                    render::duration((end - r.start_time) as f64)
                });
                table.add_row(vec![
                    r.run_id.to_string().into(),
                    r.run_name.clone().into(),
                    format!("{:?}", r.status).into(),
                    render::timestamp(r.start_time).into(),
                    num(duration),
                ]);
            }
            println!("{table}");
        }
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
