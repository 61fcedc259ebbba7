//! `versa predict MODEL@ALIAS --input FILE`: predictions from the command line,
//! through the same validation and transform the server uses.

use std::path::PathBuf;

use anyhow::{Context, Result};
use versa_core::ModelRef;
use versa_pipeline::bundle::ModelBundle;

use crate::Global;
use crate::render::{self, num};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The model version: `NAME@ALIAS` (e.g. `churn@production`) or `NAME/VERSION` (e.g. `churn/2`).
    model: String,
    /// Rows to predict: a .csv file with a header, or .json/.jsonl with objects of raw field → value.
    #[arg(long, short, value_name = "FILE")]
    input: PathBuf,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let reference = ModelRef::parse(&args.model)?;
    let rows = crate::rows::read_rows(&args.input)?;
    let workspace = super::open_workspace(global).await?;
    let bundle = ModelBundle::load(
        &workspace.catalog,
        &workspace.blobs,
        &reference.name,
        &reference.selector,
    )
    .await
    .with_context(|| format!("cannot load model `{reference}`"))?;
    let mut predictions = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let prediction = bundle.predict_row(row).with_context(|| {
            format!(
                "row {} of `{}` is not valid input for {reference}",
                index + 1,
                args.input.display()
            )
        })?;
        predictions.push(prediction);
    }
    if global.json {
        return super::print_json(&serde_json::json!({
            "model": bundle.name,
            "version": bundle.version,
            "digest": bundle.manifest_digest,
            "predictions": predictions,
        }));
    }
    eprintln!(
        "{reference} → {} v{} ({})",
        bundle.name,
        bundle.version,
        bundle.manifest_digest.short()
    );
    let labels = &bundle.manifest.class_labels;
    let mut header = vec!["row".to_string(), "prediction".to_string()];
    header.extend(labels.iter().map(|l| format!("P({l})")));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = render::table(&header);
    for (index, prediction) in predictions.iter().enumerate() {
        let mut cells = vec![num(index + 1), prediction.label.clone().into()];
        for label in labels {
            cells.push(num(format!(
                "{:.4}",
                prediction.probabilities.get(label).copied().unwrap_or(0.0)
            )));
        }
        table.add_row(cells);
    }
    println!("{table}");
    Ok(())
}
