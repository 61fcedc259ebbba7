//! `versa models …`: registered models and their versions.

use anyhow::{Context, Result};
use versa_core::ModelName;

use crate::Global;
use crate::render::{self, num};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// List registered models with their latest version and aliases.
    List,
    /// Show one model: every version with its test metrics, digests and aliases.
    Show {
        /// Model name, e.g. `churn`.
        name: String,
    },
}

pub(crate) async fn run(global: &Global, command: Command) -> Result<()> {
    let workspace = super::open_workspace(global).await?;
    let catalog = &workspace.catalog;
    match command {
        Command::List => {
            let models = catalog.list_models().await.context("cannot list models")?;
            if global.json {
                return super::print_json(&serde_json::json!({ "models": models }));
            }
            if models.is_empty() {
                println!("no models yet; `versa quickstart` trains two");
                return Ok(());
            }
            let mut table = render::table(&["model", "versions", "latest", "aliases", "updated"]);
            for m in &models {
                let aliases: Vec<String> = m
                    .aliases
                    .iter()
                    .map(|(a, v)| format!("{a} → v{v}"))
                    .collect();
                table.add_row(vec![
                    m.name.to_string().into(),
                    num(m.n_versions),
                    num(m
                        .latest_version
                        .map_or("—".to_string(), |v| format!("v{v}"))),
                    aliases.join(", ").into(),
                    render::timestamp(m.updated_at).into(),
                ]);
            }
            println!("{table}");
        }
        Command::Show { name } => {
            let name = ModelName::new(&name)?;
            let versions = catalog
                .list_versions(&name)
                .await
                .with_context(|| format!("cannot show model `{name}`"))?;
            if global.json {
                return super::print_json(
                    &serde_json::json!({ "name": name, "versions": versions }),
                );
            }
            println!("model {name}: {} version(s)", versions.len());
            let mut table = render::table(&[
                "version", "aliases", "accuracy", "F1", "ROC AUC", "log loss", "run", "weights",
                "created",
            ]);
            for v in &versions {
                let metric = |key: &str| {
                    v.metrics
                        .get(key)
                        .map_or("—".to_string(), |x| format!("{x:.4}"))
                };
                table.add_row(vec![
                    num(format!("v{}", v.version)),
                    v.aliases
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                        .into(),
                    num(metric("accuracy")),
                    num(metric("f1")),
                    num(metric("roc_auc")),
                    num(metric("log_loss")),
                    v.run_id
                        .as_ref()
                        .map_or("—".to_string(), |r| r.to_string())
                        .into(),
                    v.weights_digest.short().into(),
                    render::timestamp(v.created_at).into(),
                ]);
            }
            println!("{table}");
            for v in &versions {
                if let Some(description) = &v.description {
                    println!("  v{}: {description}", v.version);
                }
            }
        }
    }
    Ok(())
}
