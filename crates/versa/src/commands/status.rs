//! `versa status`: per stage of `versa.toml`, fresh (its cache key has a
//! stored result) or stale and why — data file changed, parameters changed,
//! upstream stale, alias moved, never run. Reads only; runs nothing.

use std::path::PathBuf;

use anyhow::{Context, Result};
use versa_pipeline::run::status;

use crate::Global;
use crate::render;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The spec file (its directory is the workspace root).
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let (spec, dir) = super::run::load_spec(global, args.file.as_deref(), &[])?;
    let workspace = super::run::open_spec_workspace(global, &dir).await?;
    let data_path = dir.join(&spec.data.path);
    let bytes = std::fs::read(&data_path)
        .with_context(|| format!("cannot read the data file `{}`", data_path.display()))?;
    let stages = status(&workspace, &spec, &bytes)
        .await
        .context("cannot compute the pipeline's status")?;
    if global.json {
        return super::print_json(&stages);
    }
    let mut table = render::table(&["stage", "state", "why", "key"]);
    for stage in &stages {
        table.add_row(vec![
            stage.name.clone(),
            if stage.fresh { "fresh" } else { "stale" }.to_string(),
            stage.reason.clone(),
            stage.key.short(),
        ]);
    }
    println!("{table}");
    Ok(())
}
