//! `versa data …`: register CSV or Parquet files as immutable dataset versions,
//! list them, show one's schema and statistics, and compare two versions.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use comfy_table::Cell;
use versa_catalog::DatasetVersion;
use versa_core::manifest::DatasetManifest;
use versa_core::schema::ColumnStats;
use versa_core::{DatasetName, DatasetRef};
use versa_pipeline::Workspace;
use versa_pipeline::ingest::{IngestOptions, IngestReport, SchemaFile, format_name, ingest_file};
use versa_tabular::drift::{DatasetDrift, dataset_drift};

use crate::Global;
use crate::render::{self, num};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Register a CSV or Parquet file as a new version of a dataset (identical
    /// data returns the existing version). Creates the workspace if needed.
    Add {
        /// The file: `.csv` (delimiter and header detected) or `.parquet`.
        file: PathBuf,
        /// Dataset name, e.g. `customers`.
        #[arg(long)]
        name: String,
        /// A label column to check (it must exist and have at least two classes) and show the balance of.
        #[arg(long, value_name = "COLUMN")]
        label: Option<String>,
        /// A TOML file declaring column types: `[columns]` then `age = "integer"` (integer, float, boolean, categorical).
        #[arg(long, value_name = "FILE")]
        schema: Option<PathBuf>,
    },
    /// List every dataset version.
    List,
    /// Show one dataset version's schema and statistics.
    Show {
        /// `NAME` (the newest version) or `NAME@VERSION`, e.g. `customers@2`.
        dataset: String,
    },
    /// Compare two dataset versions: schema changes, row counts and per-column drift.
    Diff {
        /// The old version, e.g. `customers@1`.
        before: String,
        /// The new version, e.g. `customers@2`.
        after: String,
    },
}

pub(crate) async fn run(global: &Global, command: Command) -> Result<()> {
    match command {
        Command::Add {
            file,
            name,
            label,
            schema,
        } => add(global, &file, &name, label, schema.as_deref()).await,
        Command::List => list(global).await,
        Command::Show { dataset } => show(global, &dataset).await,
        Command::Diff { before, after } => diff(global, &before, &after).await,
    }
}

/// The named workspace (created if missing), else the nearest one, else a new
/// one in the current directory: adding data is how a workspace starts.
async fn open_or_create_workspace(global: &Global) -> Result<Workspace> {
    let root = match &global.workspace {
        Some(dir) => dir.clone(),
        None => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            match Workspace::discover(&cwd) {
                Some(root) => root,
                None => {
                    eprintln!("creating a versa workspace in `{}`", cwd.display());
                    cwd
                }
            }
        }
    };
    Workspace::init(&root)
        .await
        .with_context(|| format!("cannot open workspace `{}`", root.display()))
}

async fn add(
    global: &Global,
    file: &Path,
    name: &str,
    label: Option<String>,
    schema: Option<&Path>,
) -> Result<()> {
    let name = DatasetName::new(name)?;
    let mut options = IngestOptions {
        label,
        ..IngestOptions::default()
    };
    if let Some(path) = schema {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read schema file `{}`", path.display()))?;
        options.type_overrides = SchemaFile::parse(&text, path)?.columns;
    }
    let workspace = open_or_create_workspace(global).await?;
    let (report, _) = ingest_file(&workspace, file, &name, &options)
        .await
        .with_context(|| format!("cannot add `{}` as dataset `{name}`", file.display()))?;
    if global.json {
        return super::print_json(&report);
    }
    print_added(&report);
    Ok(())
}

fn print_added(report: &IngestReport) {
    println!(
        "{}@{} {} · {} · {} rows × {} columns · {} · {} bytes",
        report.name,
        report.version,
        if report.created {
            "created"
        } else {
            "already registered (identical data)"
        },
        report.content_digest,
        report.n_rows,
        report.n_columns,
        format_name(report.source_format),
        report.size_bytes
    );
    let mut types = render::table(&["column", "type", "nullable", "why"]);
    for column in &report.columns {
        types.add_row(vec![
            Cell::new(&column.schema.name),
            Cell::new(column.schema.column_type),
            Cell::new(if column.schema.nullable { "yes" } else { "no" }),
            Cell::new(&column.reason),
        ]);
    }
    println!("{types}");
    println!("{}", stats_table(&report.stats));
    if let Some(label) = &report.label {
        let total: u64 = label.classes.iter().map(|c| c.count).sum();
        let mut balance = render::table(&["class", "rows", "share"]);
        for class in &label.classes {
            balance.add_row(vec![
                Cell::new(&class.class),
                num(class.count),
                num(format!("{:.1}%", percent(class.count, total))),
            ]);
        }
        println!("label `{}`: {} classes", label.column, label.classes.len());
        println!("{balance}");
        if label.missing > 0 {
            println!("  {} rows have no label", label.missing);
        }
    }
}

fn percent(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * part as f64 / total as f64
    }
}

/// A number in a stats table: `—` when absent, else up to 4 decimals.
fn stat(value: Option<f64>) -> Cell {
    num(value.map_or("—".to_string(), |v| {
        let text = format!("{v:.4}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" {
            "0".to_string()
        } else {
            text.to_string()
        }
    }))
}

fn stats_table(stats: &[ColumnStats]) -> comfy_table::Table {
    let mut table = render::table(&[
        "column",
        "type",
        "count",
        "missing",
        "mean",
        "std",
        "min",
        "25%",
        "50%",
        "75%",
        "max",
        "distinct",
        "top values",
    ]);
    for column in stats {
        let quantile = |i: usize| stat(column.quantiles.map(|q| q[i]));
        let top: Vec<String> = column
            .top
            .iter()
            .take(3)
            .map(|(value, count)| format!("{value} ({count})"))
            .collect();
        table.add_row(vec![
            Cell::new(&column.name),
            Cell::new(column.column_type),
            num(column.count),
            num(column.missing),
            stat(column.mean),
            stat(column.std),
            stat(column.min),
            quantile(0),
            quantile(1),
            quantile(2),
            stat(column.max),
            num(column.distinct),
            Cell::new(top.join(", ")),
        ]);
    }
    table
}

async fn list(global: &Global) -> Result<()> {
    let workspace = super::open_workspace(global).await?;
    let datasets = workspace
        .catalog
        .list_datasets()
        .await
        .context("cannot list datasets")?;
    if global.json {
        return super::print_json(&serde_json::json!({ "datasets": datasets }));
    }
    if datasets.is_empty() {
        println!("no datasets yet; `versa data add FILE --name NAME` registers one");
        return Ok(());
    }
    let mut table = render::table(&[
        "dataset", "rows", "columns", "format", "digest", "source", "created",
    ]);
    for dataset in &datasets {
        table.add_row(vec![
            Cell::new(format!("{}@{}", dataset.name, dataset.version)),
            num(dataset.n_rows),
            num(dataset.n_columns),
            Cell::new(&dataset.source_format),
            Cell::new(dataset.content_digest.short()),
            Cell::new(&dataset.source_path),
            Cell::new(render::timestamp(dataset.created_at)),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// A version's catalog row and its manifest.
async fn load_version(
    workspace: &Workspace,
    reference: &str,
) -> Result<(DatasetVersion, DatasetManifest)> {
    let reference = DatasetRef::parse(reference)?;
    let version = workspace
        .catalog
        .dataset(&reference.name, reference.version)
        .await
        .with_context(|| format!("cannot find dataset `{reference}`"))?;
    let manifest: DatasetManifest = workspace
        .blobs
        .get_json(&version.manifest_digest)
        .await
        .with_context(|| format!("cannot read the manifest of `{reference}`"))?;
    manifest.check_format()?;
    Ok((version, manifest))
}

async fn show(global: &Global, reference: &str) -> Result<()> {
    let workspace = super::open_workspace(global).await?;
    let (version, manifest) = load_version(&workspace, reference).await?;
    if global.json {
        return super::print_json(&serde_json::json!({
            "dataset": version,
            "manifest": manifest,
        }));
    }
    println!(
        "{}@{} · {} · {} rows × {} columns · {} from `{}` · {}",
        version.name,
        version.version,
        version.content_digest,
        version.n_rows,
        version.n_columns,
        version.source_format,
        version.source_path,
        render::timestamp(version.created_at)
    );
    println!("{}", stats_table(&manifest.stats));
    Ok(())
}

async fn diff(global: &Global, before: &str, after: &str) -> Result<()> {
    let workspace = super::open_workspace(global).await?;
    let (old_version, old) = load_version(&workspace, before).await?;
    let (new_version, new) = load_version(&workspace, after).await?;
    if old_version.name == new_version.name && old_version.version == new_version.version {
        bail!(
            "`{before}` and `{after}` are the same version; name two different versions, e.g. `{}@1 {}@2`",
            old_version.name,
            old_version.name
        );
    }
    let drift = dataset_drift(&old.stats, old.n_rows, &new.stats, new.n_rows);
    let before_label = format!("{}@{}", old_version.name, old_version.version);
    let after_label = format!("{}@{}", new_version.name, new_version.version);
    if global.json {
        return super::print_json(&serde_json::json!({
            "before": before_label,
            "after": after_label,
            "identical": old.content_digest == new.content_digest,
            "drift": drift,
        }));
    }
    print_drift(
        &before_label,
        &after_label,
        &drift,
        old.content_digest == new.content_digest,
    );
    Ok(())
}

fn print_drift(before: &str, after: &str, drift: &DatasetDrift, identical: bool) {
    println!("{before} → {after}");
    if identical {
        println!("  identical content");
    }
    let row_change = drift.n_rows_after as i128 - drift.n_rows_before as i128;
    println!(
        "  rows: {} → {} ({row_change:+})",
        drift.n_rows_before, drift.n_rows_after
    );
    for column in &drift.added {
        println!("  + column `{}` ({})", column.name, column.column_type);
    }
    for column in &drift.removed {
        println!("  - column `{}` ({})", column.name, column.column_type);
    }
    for column in &drift.retyped {
        println!(
            "  ~ column `{}`: {} → {}",
            column.name, column.before, column.after
        );
    }
    if drift.added.is_empty() && drift.removed.is_empty() && drift.retyped.is_empty() {
        println!("  schema: unchanged");
    }
    let mut table = render::table(&[
        "column",
        "type",
        "missing %",
        "mean shift (σ)",
        "std shift (σ)",
        "new categories",
        "vanished categories",
    ]);
    let sigma = |value: Option<f64>| num(value.map_or("—".to_string(), |v| format!("{v:+.3}")));
    for column in &drift.columns {
        let numeric = column.numeric.as_ref();
        let categories = column.categories.as_ref();
        let list = |values: Option<&Vec<String>>| {
            let Some(values) = values else {
                return Cell::new("—");
            };
            let mut text = values.join(", ");
            if categories.is_some_and(|c| !c.complete) {
                text.push_str(" (among top values)");
            }
            Cell::new(text)
        };
        table.add_row(vec![
            Cell::new(&column.name),
            Cell::new(column.column_type),
            num(format!(
                "{:.1} → {:.1}",
                100.0 * column.missing_rate_before,
                100.0 * column.missing_rate_after
            )),
            sigma(numeric.and_then(|n| n.mean_shift_in_std)),
            sigma(numeric.and_then(|n| n.std_shift_in_std)),
            list(categories.map(|c| &c.new)),
            list(categories.map(|c| &c.vanished)),
        ]);
    }
    println!("{table}");
}
