//! One module per subcommand, each with its clap arguments and its `run`.

pub(crate) mod data;
pub(crate) mod deploy;
pub(crate) mod init;
pub(crate) mod lineage;
pub(crate) mod models;
pub(crate) mod monitor;
pub(crate) mod predict;
pub(crate) mod quickstart;
pub(crate) mod repro;
pub(crate) mod run;
pub(crate) mod runs;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod train;

use std::path::PathBuf;

use anyhow::{Context, Result};
use versa_pipeline::Workspace;

use crate::Global;

/// Opens the workspace named by `--workspace`, or the nearest one above the current directory.
pub(crate) async fn open_workspace(global: &Global) -> Result<Workspace> {
    let root: PathBuf = match &global.workspace {
        Some(dir) => dir.clone(),
        None => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            Workspace::discover(&cwd).with_context(|| {
                format!(
                    "no versa workspace at or above `{}`; run `versa quickstart` to create one, or pass --workspace DIR",
                    cwd.display()
                )
            })?
        }
    };
    Workspace::open_with_catalog(&root, global.catalog.as_deref())
        .await
        .with_context(|| format!("cannot open workspace `{}`", root.display()))
}

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot encode JSON output")?;
    println!("{text}");
    Ok(())
}
