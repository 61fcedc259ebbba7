//! `versa monitor NAME [--since MINUTES]`: reads the prediction log that
//! `versa serve` writes (`.versa/predictions/NAME/<day>.jsonl`) and reports,
//! per answering version and role, the request count, latency p50/p99, label
//! shares and mean class probabilities; and the drift of the logged inputs
//! from the statistics of the dataset version each model was trained on.
//!
//! Drift per column: numeric — the shift of the mean in training standard
//! deviations and the change of the missing rate; categorical and boolean —
//! categories never seen in training (only when the manifest lists every
//! training category) and the largest change of a category's share. Shadow
//! rows are left out of drift: they repeat their request's inputs.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;
use versa_core::ModelName;
use versa_core::manifest::{DatasetManifest, ModelManifest};
use versa_core::schema::{ColumnStats, ColumnType};
use versa_server::predlog::{PredictionRecord, Role, utc_date};

use crate::Global;
use crate::render::{self, num};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Model name.
    name: String,
    /// Only predictions from the last MINUTES minutes (default: the whole log).
    #[arg(long, value_name = "MINUTES")]
    since: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Report {
    model: String,
    since_minutes: Option<u64>,
    records: usize,
    unreadable_lines: usize,
    versions: Vec<VersionSummary>,
    drift: Vec<DatasetDrift>,
}

#[derive(Debug, Serialize)]
struct VersionSummary {
    version: u32,
    role: Role,
    requests: usize,
    rows: usize,
    latency_p50_us: u64,
    latency_p99_us: u64,
    label_shares: BTreeMap<String, f64>,
    mean_probabilities: BTreeMap<String, f64>,
}

#[derive(Debug, Serialize)]
struct DatasetDrift {
    dataset: String,
    versions: Vec<u32>,
    rows: usize,
    columns: Vec<ColumnDrift>,
}

#[derive(Debug, Serialize)]
struct ColumnDrift {
    column: String,
    #[serde(rename = "type")]
    column_type: ColumnType,
    train_missing_rate: f64,
    observed_missing_rate: f64,
    train_mean: Option<f64>,
    observed_mean: Option<f64>,
    /// (observed mean − training mean) / training std.
    mean_shift_std: Option<f64>,
    new_categories: Vec<String>,
    /// The category whose share moved most: (category, training share, observed share).
    largest_share_change: Option<(String, f64, f64)>,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let name = ModelName::new(&args.name)?;
    let workspace = super::open_workspace(global).await?;
    let log_dir = workspace
        .root()
        .join(".versa")
        .join("predictions")
        .join(name.as_str());
    let cutoff_ms = args.since.map(|minutes| {
        now_ms().saturating_sub(i64::try_from(minutes.saturating_mul(60_000)).unwrap_or(i64::MAX))
    });
    let (records, unreadable_lines) = read_log(&log_dir, cutoff_ms)?;
    let versions = summarize(&records);

    // Drift, once per training dataset of the versions that answered.
    let mut by_dataset: BTreeMap<String, (DatasetManifest, String, Vec<u32>, Vec<String>)> =
        BTreeMap::new();
    let answered: std::collections::BTreeSet<u32> = records
        .iter()
        .filter(|r| r.role != Role::Shadow)
        .map(|r| r.version)
        .collect();
    for version in &answered {
        let lineage = workspace
            .catalog
            .lineage(&name, *version)
            .await
            .with_context(|| format!("cannot read the lineage of `{name}/{version}`"))?;
        let Some(dataset) = lineage.dataset else {
            continue;
        };
        let model_manifest: ModelManifest = workspace
            .blobs
            .get_json(&lineage.version.manifest_digest)
            .await
            .with_context(|| format!("cannot read the manifest of `{name}/{version}`"))?;
        let key = dataset.manifest_digest.to_string();
        if let Some(entry) = by_dataset.get_mut(&key) {
            entry.2.push(*version);
            continue;
        }
        let manifest: DatasetManifest = workspace
            .blobs
            .get_json(&dataset.manifest_digest)
            .await
            .with_context(|| {
                format!(
                    "cannot read the manifest of dataset `{}@{}`",
                    dataset.name, dataset.version
                )
            })?;
        let inputs = model_manifest
            .input_schema
            .iter()
            .map(|c| c.name.clone())
            .collect();
        by_dataset.insert(
            key,
            (
                manifest,
                format!("{}@{}", dataset.name, dataset.version),
                vec![*version],
                inputs,
            ),
        );
    }
    let drift: Vec<DatasetDrift> = by_dataset
        .into_values()
        .map(|(manifest, dataset, versions, inputs)| {
            let rows: Vec<&PredictionRecord> = records
                .iter()
                .filter(|r| r.role != Role::Shadow && versions.contains(&r.version))
                .collect();
            let columns = manifest
                .stats
                .iter()
                .filter(|stats| inputs.contains(&stats.name))
                .map(|stats| column_drift(stats, &rows))
                .collect();
            DatasetDrift {
                dataset,
                versions,
                rows: rows.len(),
                columns,
            }
        })
        .collect();

    let report = Report {
        model: name.to_string(),
        since_minutes: args.since,
        records: records.len(),
        unreadable_lines,
        versions,
        drift,
    };
    if global.json {
        return super::print_json(&report);
    }
    print_report(&report, &log_dir);
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Every record at or after `cutoff_ms`; lines that do not parse (a torn
/// last line after a crash) are counted, not fatal.
fn read_log(dir: &Path, cutoff_ms: Option<i64>) -> Result<(Vec<PredictionRecord>, usize)> {
    let mut records = Vec::new();
    let mut unreadable = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok((records, 0));
        }
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read `{}`", dir.display()));
        }
    };
    let first_day = cutoff_ms.map(utc_date);
    let mut paths: Vec<_> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .filter(|path| {
            // Files are named by UTC day, so whole days before the cutoff are skipped unread.
            let stem = path.file_stem().map(|s| s.to_string_lossy().to_string());
            match (&first_day, stem) {
                (Some(first), Some(day)) => day >= *first,
                _ => true,
            }
        })
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            match serde_json::from_str::<PredictionRecord>(line) {
                Ok(record) if cutoff_ms.is_none_or(|cutoff| record.time_ms >= cutoff) => {
                    records.push(record);
                }
                Ok(_) => {}
                Err(_) => unreadable += 1,
            }
        }
    }
    Ok((records, unreadable))
}

fn summarize(records: &[PredictionRecord]) -> Vec<VersionSummary> {
    let mut groups: BTreeMap<(u32, Role), Vec<&PredictionRecord>> = BTreeMap::new();
    for record in records {
        groups
            .entry((record.version, record.role))
            .or_default()
            .push(record);
    }
    groups
        .into_iter()
        .map(|((version, role), rows)| {
            let mut latencies: Vec<u64> = rows
                .iter()
                .filter(|r| r.row_index == 0)
                .map(|r| r.latency_us)
                .collect();
            latencies.sort_unstable();
            let n_rows = rows.len() as f64;
            let mut label_shares = BTreeMap::new();
            let mut mean_probabilities: BTreeMap<String, f64> = BTreeMap::new();
            for row in &rows {
                *label_shares.entry(row.label.clone()).or_insert(0.0) += 1.0 / n_rows;
                for (class, probability) in &row.probabilities {
                    *mean_probabilities.entry(class.clone()).or_insert(0.0) +=
                        f64::from(*probability) / n_rows;
                }
            }
            VersionSummary {
                version,
                role,
                requests: latencies.len(),
                rows: rows.len(),
                latency_p50_us: percentile(&latencies, 0.50),
                latency_p99_us: percentile(&latencies, 0.99),
                label_shares,
                mean_probabilities,
            }
        })
        .collect()
}

/// Nearest-rank percentile of sorted values (0 when there are none).
fn percentile(sorted: &[u64], quantile: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn column_drift(stats: &ColumnStats, rows: &[&PredictionRecord]) -> ColumnDrift {
    let total = (stats.count + stats.missing) as f64;
    let train_missing_rate = if total > 0.0 {
        stats.missing as f64 / total
    } else {
        0.0
    };
    let values: Vec<&Value> = rows
        .iter()
        .filter_map(|r| r.input.get(&stats.name).filter(|v| !v.is_null()))
        .collect();
    let observed_missing_rate = if rows.is_empty() {
        0.0
    } else {
        1.0 - values.len() as f64 / rows.len() as f64
    };
    let mut drift = ColumnDrift {
        column: stats.name.clone(),
        column_type: stats.column_type,
        train_missing_rate,
        observed_missing_rate,
        train_mean: stats.mean,
        observed_mean: None,
        mean_shift_std: None,
        new_categories: Vec::new(),
        largest_share_change: None,
    };
    if stats.column_type.is_numeric() {
        let numbers: Vec<f64> = values.iter().filter_map(|v| v.as_f64()).collect();
        if !numbers.is_empty() {
            let mean = numbers.iter().sum::<f64>() / numbers.len() as f64;
            drift.observed_mean = Some(mean);
            drift.mean_shift_std = match (stats.mean, stats.std) {
                (Some(train_mean), Some(std)) if std > 0.0 => Some((mean - train_mean) / std),
                _ => None,
            };
        }
        return drift;
    }
    // Categorical and boolean: compare category shares among non-missing values.
    let mut observed: BTreeMap<String, f64> = BTreeMap::new();
    for value in &values {
        let category = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        *observed.entry(category).or_insert(0.0) += 1.0 / values.len() as f64;
    }
    let train: BTreeMap<String, f64> = stats
        .top
        .iter()
        .map(|(category, count)| {
            (
                category.clone(),
                *count as f64 / (stats.count.max(1) as f64),
            )
        })
        .collect();
    // The manifest lists at most the top categories; "new" is only knowable when it lists all.
    if stats.distinct as usize == stats.top.len() {
        drift.new_categories = observed
            .keys()
            .filter(|category| !train.contains_key(*category))
            .cloned()
            .collect();
    }
    drift.largest_share_change = train
        .keys()
        .chain(observed.keys())
        .map(|category| {
            let before = train.get(category).copied().unwrap_or(0.0);
            let after = observed.get(category).copied().unwrap_or(0.0);
            (category.clone(), before, after)
        })
        .max_by(|a, b| (a.2 - a.1).abs().total_cmp(&(b.2 - b.1).abs()));
    drift
}

fn print_report(report: &Report, log_dir: &Path) {
    let window = report
        .since_minutes
        .map_or("whole log".to_string(), |m| format!("last {m} min"));
    println!(
        "{} · {} prediction records ({window}) from {}",
        report.model,
        report.records,
        log_dir.display()
    );
    if report.unreadable_lines > 0 {
        println!(
            "  {} unreadable lines skipped (e.g. a line torn by a crash)",
            report.unreadable_lines
        );
    }
    if report.versions.is_empty() {
        println!("no predictions logged yet; serve some with `versa serve` (--log-sample > 0)");
        return;
    }
    let mut table = render::table(&[
        "version",
        "role",
        "requests",
        "rows",
        "p50",
        "p99",
        "label shares",
        "mean probability",
    ]);
    for v in &report.versions {
        let shares: Vec<String> = v
            .label_shares
            .iter()
            .map(|(label, share)| format!("{label} {:.1}%", share * 100.0))
            .collect();
        let means: Vec<String> = v
            .mean_probabilities
            .iter()
            .map(|(label, mean)| format!("{label} {mean:.3}"))
            .collect();
        table.add_row(vec![
            num(format!("v{}", v.version)),
            format!("{:?}", v.role).to_lowercase().into(),
            num(v.requests),
            num(v.rows),
            num(format!("{} µs", v.latency_p50_us)),
            num(format!("{} µs", v.latency_p99_us)),
            shares.join(", ").into(),
            means.join(", ").into(),
        ]);
    }
    println!("{table}");
    for dataset in &report.drift {
        println!(
            "input drift of {} logged rows vs {} (training data of {}):",
            dataset.rows,
            dataset.dataset,
            dataset
                .versions
                .iter()
                .map(|v| format!("v{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut table = render::table(&[
            "column",
            "type",
            "mean train → seen",
            "shift (std)",
            "missing train → seen",
            "new categories",
            "largest share change",
        ]);
        for c in &dataset.columns {
            let mean = match (c.train_mean, c.observed_mean) {
                (Some(train), Some(seen)) => format!("{train:.3} → {seen:.3}"),
                _ => "—".to_string(),
            };
            let shift = c
                .mean_shift_std
                .map_or("—".to_string(), |s| format!("{s:+.2}"));
            let share = c.largest_share_change.as_ref().map_or(
                "—".to_string(),
                |(category, before, after)| {
                    format!("{category} {:.1}% → {:.1}%", before * 100.0, after * 100.0)
                },
            );
            table.add_row(vec![
                c.column.clone().into(),
                format!("{:?}", c.column_type).to_lowercase().into(),
                num(mean),
                num(shift),
                num(format!(
                    "{:.1}% → {:.1}%",
                    c.train_missing_rate * 100.0,
                    c.observed_missing_rate * 100.0
                )),
                if c.new_categories.is_empty() {
                    "—".into()
                } else {
                    c.new_categories.join(", ").into()
                },
                share.into(),
            ]);
        }
        println!("{table}");
    }
}
