//! Catalog benchmark: the same three operations on SQLite and on PostgreSQL,
//! printed as one table with the PostgreSQL / SQLite ratio.
//!
//! - logging one batch of 1000 metric points (one transaction);
//! - resolving a version by alias (`churn@production`: alias, version row,
//!   metrics, tags, aliases);
//! - searching 10,000 runs of one experiment by a metric filter
//!   (`val_accuracy >= 0.9`, about 10% match).
//!
//! Run it through `bench/catalog/run.sh`, which builds it in release mode and
//! starts a throwaway PostgreSQL server:
//!
//! ```text
//! catalog_bench --sqlite PATH [--postgres URL]
//! ```
//!
//! Each catalog must be empty (a new file, a new database). Timings are
//! medians over repeated runs, after one warm-up; the setup (10,000 runs) is
//! not timed.

use std::time::{Duration, Instant};

use versa_catalog::{
    AliasExpectation, Catalog, MetricComparison, MetricPoint, NewModelVersion, NewRun,
};
use versa_core::{Alias, Digest, ModelName, Rng, RunId, VersionSelector};

const BATCH_POINTS: usize = 1000;
const BATCH_REPEATS: usize = 20;
const ALIAS_REPEATS: usize = 500;
const N_RUNS: usize = 10_000;
const SEARCH_REPEATS: usize = 20;

struct Timings {
    log_batch: Duration,
    resolve_alias: Duration,
    search: Duration,
    n_matches: usize,
}

/// Picks one operation's timing out of a backend's results.
type Pick = fn(&Timings) -> Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut sqlite = None;
    let mut postgres = None;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        match (flag.as_str(), rest.next()) {
            ("--sqlite", Some(path)) => sqlite = Some(path.clone()),
            ("--postgres", Some(url)) => postgres = Some(url.clone()),
            _ => {
                return Err(format!(
                    "usage: catalog_bench --sqlite PATH [--postgres URL]; got {args:?}"
                )
                .into());
            }
        }
    }
    let sqlite = sqlite.ok_or("--sqlite PATH is required")?;

    eprintln!("sqlite: setting up {N_RUNS} runs…");
    let on_sqlite = measure(&Catalog::open_sqlite(std::path::Path::new(&sqlite)).await?).await?;
    let on_postgres = match &postgres {
        Some(url) => {
            eprintln!("postgres: setting up {N_RUNS} runs…");
            Some(measure(&Catalog::open_postgres(url).await?).await?)
        }
        None => None,
    };

    println!(
        "{:<44} {:>12} {:>12} {:>10}",
        "operation (median)", "sqlite", "postgres", "pg/sqlite"
    );
    let rows: [(&str, Pick); 3] = [
        ("log a 1000-point metrics batch", |t| t.log_batch),
        ("get a version by alias", |t| t.resolve_alias),
        ("search 10,000 runs by metric (>= 0.9)", |t| t.search),
    ];
    for (label, pick) in rows {
        let base = pick(&on_sqlite);
        let (other, ratio) = match &on_postgres {
            Some(timings) => {
                let value = pick(timings);
                (
                    format_duration(value),
                    format!("{:.2}", value.as_secs_f64() / base.as_secs_f64()),
                )
            }
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{label:<44} {:>12} {other:>12} {ratio:>10}",
            format_duration(base)
        );
    }
    println!(
        "search matched {} runs on sqlite{}",
        on_sqlite.n_matches,
        on_postgres
            .as_ref()
            .map(|t| format!(", {} on postgres", t.n_matches))
            .unwrap_or_default()
    );
    Ok(())
}

fn format_duration(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else {
        format!("{:.2} ms", micros / 1000.0)
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

async fn start_run(
    catalog: &Catalog,
    experiment_id: &str,
    index: usize,
) -> Result<RunId, Box<dyn std::error::Error>> {
    Ok(catalog
        .create_run(NewRun {
            experiment_id: experiment_id.to_string(),
            run_name: format!("run {index}"),
            user: "bench".to_string(),
            host: "localhost".to_string(),
            versa_version: env!("CARGO_PKG_VERSION").to_string(),
            start_time: i64::try_from(index).unwrap_or(0),
        })
        .await?
        .run_id)
}

async fn measure(catalog: &Catalog) -> Result<Timings, Box<dyn std::error::Error>> {
    // 1. Metric batches: each a fresh step range on one run.
    let training = catalog.experiment_by_name_or_create("training").await?;
    let run_id = start_run(catalog, &training.experiment_id, 0).await?;
    let mut samples = Vec::new();
    for repeat in 0..=BATCH_REPEATS {
        let base_step = i64::try_from(repeat * BATCH_POINTS)?;
        let batch: Vec<MetricPoint> = (0..BATCH_POINTS)
            .map(|index| {
                let step = base_step + i64::try_from(index).unwrap_or(0);
                MetricPoint {
                    key: ["train_loss", "val_loss", "val_accuracy", "learning_rate"][index % 4]
                        .to_string(),
                    value: 1.0 / (step as f64 + 1.0),
                    timestamp: 1_700_000_000_000 + step,
                    step,
                }
            })
            .collect();
        let started = Instant::now();
        catalog.log_metrics(&run_id, &batch).await?;
        if repeat > 0 {
            samples.push(started.elapsed());
        }
    }
    let log_batch = median(samples);

    // 2. Resolve an alias: a model with 20 versions (3 metrics each), alias on one.
    let churn = ModelName::new("churn")?;
    for index in 0..20 {
        catalog
            .create_model_version(NewModelVersion {
                name: churn.clone(),
                run_id: Some(run_id.clone()),
                manifest_digest: Digest::of(format!("manifest {index}").as_bytes()),
                weights_digest: Digest::of(format!("weights {index}").as_bytes()),
                transform_digest: Some(Digest::of(b"transform")),
                dataset_digest: Some(Digest::of(b"dataset")),
                description: None,
                metrics: vec![
                    ("test_accuracy".to_string(), 0.8),
                    ("test_f1".to_string(), 0.7),
                    ("test_log_loss".to_string(), 0.4),
                ],
            })
            .await?;
    }
    let production = Alias::new("production")?;
    catalog
        .set_alias(&churn, &production, 12, AliasExpectation::Any, "bench")
        .await?;
    let selector = VersionSelector::Alias(production);
    let mut samples = Vec::new();
    for repeat in 0..=ALIAS_REPEATS {
        let started = Instant::now();
        let version = catalog.resolve(&churn, &selector).await?;
        if repeat > 0 {
            samples.push(started.elapsed());
        }
        assert_eq!(version.version, 12);
    }
    let resolve_alias = median(samples);

    // 3. Search: 10,000 runs, each with a seeded val_accuracy as its latest metric.
    let sweep = catalog.experiment_by_name_or_create("sweep").await?;
    let mut rng = Rng::derive(7, "catalog-bench");
    for index in 0..N_RUNS {
        let run = start_run(catalog, &sweep.experiment_id, index).await?;
        let accuracy = rng.uniform();
        catalog
            .log_metrics(
                &run,
                &[
                    MetricPoint {
                        key: "val_accuracy".to_string(),
                        value: accuracy,
                        timestamp: 1,
                        step: 1,
                    },
                    MetricPoint {
                        key: "val_loss".to_string(),
                        value: 1.0 - accuracy,
                        timestamp: 1,
                        step: 1,
                    },
                ],
            )
            .await?;
    }
    let mut samples = Vec::new();
    let mut n_matches = 0;
    for repeat in 0..=SEARCH_REPEATS {
        let started = Instant::now();
        let found = catalog
            .search_runs_by_metric(
                &sweep.experiment_id,
                "val_accuracy",
                MetricComparison::GreaterOrEqual,
                0.9,
            )
            .await?;
        if repeat > 0 {
            samples.push(started.elapsed());
        }
        n_matches = found.len();
    }
    let search = median(samples);
    catalog.close().await;
    Ok(Timings {
        log_batch,
        resolve_alias,
        search,
        n_matches,
    })
}
