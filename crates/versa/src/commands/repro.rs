//! `versa repro NAME VERSION`: retrains a model version from its recorded
//! parameters, dataset, split and transform, and says whether the weights
//! came out byte-identical. Exits non-zero when they do not.

use anyhow::{Context, Result, bail};
use versa_core::ModelName;
use versa_pipeline::repro::reproduce;

use crate::Global;
use crate::render;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Registered model name.
    name: String,
    /// Version number to reproduce.
    #[arg(value_name = "VERSION")]
    number: u32,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let workspace = super::open_workspace(global).await?;
    let model = ModelName::new(&args.name)
        .with_context(|| format!("`{}` is not a valid model name", args.name))?;
    let report = reproduce(&workspace, &model, args.number)
        .await
        .with_context(|| format!("cannot reproduce {}/{}", args.name, args.number))?;
    if global.json {
        super::print_json(&report)?;
    } else {
        let mut table = render::table(&["what", "digest"]);
        table.add_row(vec![
            "dataset".to_string(),
            report.dataset_digest.to_string(),
        ]);
        table.add_row(vec![
            format!(
                "split (validation {} / test {})",
                report.validation_fraction, report.test_fraction
            ),
            report.split_digest.to_string(),
        ]);
        table.add_row(vec![
            "transform".to_string(),
            report.transform_digest.to_string(),
        ]);
        table.add_row(vec![
            "recorded weights".to_string(),
            report.recorded_weights.to_string(),
        ]);
        table.add_row(vec![
            format!("retrained weights ({} epochs)", report.epochs),
            report.reproduced_weights.to_string(),
        ]);
        println!("{table}");
        println!(
            "{}/{}: {}",
            report.model,
            report.version,
            if report.matches {
                "reproduced: the weights are byte-identical"
            } else {
                "NOT reproduced: the weights differ"
            }
        );
    }
    if !report.matches {
        bail!(
            "{}/{} did not reproduce: recorded weights {}, retrained {}",
            report.model,
            report.version,
            report.recorded_weights,
            report.reproduced_weights
        );
    }
    Ok(())
}
