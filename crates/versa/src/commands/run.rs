//! `versa run`: runs the pipeline declared in `versa.toml` (data → prepare →
//! train each variant → evaluate → deploy), skipping every stage whose cache
//! key already has a stored result, and prints the "Data Flow" table.
//!
//! Reading the spec and rendering are here; keys, caching and the stages are
//! `versa_pipeline::run`'s, and this module must not reach into them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use versa_pipeline::run::{RunReport, run_pipeline};
use versa_pipeline::spec::{PipelineSpec, parse_spec};
use versa_pipeline::{NoopObserver, Observer, Workspace};

use crate::Global;
use crate::render::{self, TerminalObserver};

/// The spec file `versa run`, `versa status` and `versa init` use.
pub(crate) const SPEC_FILE: &str = "versa.toml";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Override one variant setting for this run, e.g. `-S v2.epochs=3` (repeatable).
    #[arg(short = 'S', long = "set", value_name = "VARIANT.KEY=VALUE")]
    set: Vec<String>,
    /// The spec file (its directory is the workspace root).
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
}

/// Finds and parses the spec: `--file`, else `versa.toml` in `--workspace` or the current directory.
pub(crate) fn load_spec(
    global: &Global,
    file: Option<&Path>,
    overrides: &[String],
) -> Result<(PipelineSpec, PathBuf)> {
    let path = match file {
        Some(path) => path.to_path_buf(),
        None => global
            .workspace
            .clone()
            .unwrap_or_else(|| PathBuf::from("."))
            .join(SPEC_FILE),
    };
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read `{}`; create one with `versa init --example churn`",
            path.display()
        )
    })?;
    let spec =
        parse_spec(&text, overrides).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok((spec, dir))
}

/// The spec's directory as a workspace (created if missing), honouring `--catalog`.
pub(crate) async fn open_spec_workspace(global: &Global, dir: &Path) -> Result<Workspace> {
    let marker = dir.join(versa_pipeline::workspace::MARKER_DIR);
    std::fs::create_dir_all(&marker)
        .with_context(|| format!("cannot create `{}`", marker.display()))?;
    Workspace::open_with_catalog(dir, global.catalog.as_deref())
        .await
        .with_context(|| format!("cannot open the workspace `{}`", dir.display()))
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let (spec, dir) = load_spec(global, args.file.as_deref(), &args.set)?;
    let workspace = open_spec_workspace(global, &dir).await?;
    let mut terminal = TerminalObserver::new();
    let mut quiet = NoopObserver;
    let observer: &mut dyn Observer = if global.json {
        &mut quiet
    } else {
        &mut terminal
    };
    let report = run_pipeline(&workspace, &spec, &dir, observer)
        .await
        .context("the pipeline failed")?;
    if global.json {
        return super::print_json(&report);
    }
    print_report(&report);
    Ok(())
}

pub(crate) fn print_report(report: &RunReport) {
    let mut table = render::table(&["stage", "input", "operation", "output", "time"]);
    for stage in &report.stages {
        table.add_row(vec![
            comfy_table::Cell::new(&stage.name),
            comfy_table::Cell::new(&stage.input),
            comfy_table::Cell::new(&stage.operation),
            comfy_table::Cell::new(&stage.output),
            render::num(if stage.cached {
                "cached".to_string()
            } else {
                render::duration(stage.duration_ms)
            }),
        ]);
    }
    println!("Data Flow\n{table}");
    let n_cached = report.stages.iter().filter(|s| s.cached).count();
    println!(
        "{} of {} stages cached · new model versions: {} · comparison report {} (markdown), {} (json)",
        n_cached,
        report.stages.len(),
        if report.created_versions.is_empty() {
            "none".to_string()
        } else {
            report
                .created_versions
                .iter()
                .map(|v| format!("v{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
        report.evaluation.report_markdown,
        report.evaluation.report_json
    );
}
