//! Test helper, not part of versa's interface: drives one catalog (a SQLite
//! path or a `postgres://` URL) from a separate process, so the tests can
//! check the catalog's guarantees across many processes and across a process
//! killed mid-write. Knows only the catalog's public API.
//!
//! ```text
//! catalog-stress register LOCATION MODEL COUNT N_METRICS
//!     registers COUNT versions, each with N_METRICS metrics and three lineage
//!     edges, printing `registered V` after each commit
//! catalog-stress register-forever LOCATION MODEL N_METRICS
//!     the same until killed
//! catalog-stress move-alias LOCATION MODEL ALIAS EXPECTED TARGET ACTOR GO_FILE
//!     waits for GO_FILE to exist, then moves ALIAS from version EXPECTED to
//!     TARGET by compare-and-swap
//! catalog-stress watch LOCATION MODEL UNTIL N_METRICS
//!     reads the versions until UNTIL exist, checking every version it sees is
//!     whole (N_METRICS metrics, three lineage edges)
//! ```
//!
//! Exit status: 0 done; 1 catalog error; 2 bad arguments; 3 alias conflict
//! (the error on stderr); 4 a half-written version was seen; 5 timed out.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use versa_catalog::{AliasExpectation, Catalog, CatalogError, NewModelVersion, NewRun};
use versa_core::{Alias, Digest, ModelName};

/// How long `move-alias` waits for its go signal and `watch` for the writers.
const PATIENCE: Duration = Duration::from_secs(120);

/// Edges per registered version: run, transform, dataset.
const EDGES_PER_VERSION: usize = 3;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = run(&args).await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Catalog(error @ CatalogError::AliasConflict { .. })) => {
            eprintln!("{error}");
            ExitCode::from(3)
        }
        Err(Failure::Catalog(error)) => {
            eprintln!("catalog error: {error}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(message)) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
        Err(Failure::HalfWritten(message)) => {
            eprintln!("half-written version seen: {message}");
            ExitCode::from(4)
        }
        Err(Failure::TimedOut(message)) => {
            eprintln!("timed out: {message}");
            ExitCode::from(5)
        }
    }
}

async fn run(args: &[String]) -> Result<(), Failure> {
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["register", location, model, count, n_metrics] => {
            register(location, model, Some(number(count)?), number(n_metrics)?).await
        }
        ["register-forever", location, model, n_metrics] => {
            register(location, model, None, number(n_metrics)?).await
        }
        [
            "move-alias",
            location,
            model,
            alias,
            expected,
            target,
            actor,
            go_file,
        ] => {
            move_alias(
                location,
                model,
                alias,
                number(expected)?,
                number(target)?,
                actor,
                Path::new(go_file),
            )
            .await
        }
        ["watch", location, model, until, n_metrics] => {
            watch(location, model, number(until)?, number(n_metrics)?).await
        }
        _ => Err(Failure::Usage(format!(
            "usage: see the module documentation of catalog-stress.rs; got {args:?}"
        ))),
    }
}

enum Failure {
    Catalog(CatalogError),
    Usage(String),
    HalfWritten(String),
    TimedOut(String),
}

impl From<CatalogError> for Failure {
    fn from(error: CatalogError) -> Self {
        Failure::Catalog(error)
    }
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, Failure> {
    text.parse()
        .map_err(|_| Failure::Usage(format!("`{text}` is not a number")))
}

fn model_name(text: &str) -> Result<ModelName, Failure> {
    ModelName::new(text).map_err(|error| Failure::Usage(format!("model `{text}`: {error}")))
}

async fn register(
    location: &str,
    model: &str,
    count: Option<u32>,
    n_metrics: usize,
) -> Result<(), Failure> {
    let name = model_name(model)?;
    let catalog = Catalog::open(location).await?;
    let experiment = catalog.experiment_by_name_or_create("stress").await?;
    let run = catalog
        .create_run(NewRun {
            experiment_id: experiment.experiment_id,
            run_name: format!("stress {}", std::process::id()),
            user: "stress".to_string(),
            host: "localhost".to_string(),
            versa_version: env!("CARGO_PKG_VERSION").to_string(),
            start_time: 0,
        })
        .await?;
    let mut done = 0u32;
    while count.is_none_or(|count| done < count) {
        let seed = format!("{} {} {done}", std::process::id(), run.run_id);
        let created = catalog
            .create_model_version(NewModelVersion {
                name: name.clone(),
                run_id: Some(run.run_id.clone()),
                manifest_digest: Digest::of(format!("manifest {seed}").as_bytes()),
                weights_digest: Digest::of(format!("weights {seed}").as_bytes()),
                transform_digest: Some(Digest::of(format!("transform {seed}").as_bytes())),
                dataset_digest: Some(Digest::of(format!("dataset {seed}").as_bytes())),
                description: None,
                metrics: (0..n_metrics)
                    .map(|index| (format!("metric_{index}"), index as f64 / 8.0))
                    .collect(),
            })
            .await?;
        // The test reads these lines to know what committed before it killed us.
        println!("registered {}", created.version);
        done += 1;
    }
    catalog.close().await;
    Ok(())
}

async fn move_alias(
    location: &str,
    model: &str,
    alias: &str,
    expected: u32,
    target: u32,
    actor: &str,
    go_file: &Path,
) -> Result<(), Failure> {
    let name = model_name(model)?;
    let alias =
        Alias::new(alias).map_err(|error| Failure::Usage(format!("alias `{alias}`: {error}")))?;
    // Connect before waiting so both racers start their move at the same moment.
    let catalog = Catalog::open(location).await?;
    let deadline = Instant::now() + PATIENCE;
    while !go_file.exists() {
        if Instant::now() > deadline {
            return Err(Failure::TimedOut(format!(
                "{} never appeared",
                go_file.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let change = catalog
        .set_alias(
            &name,
            &alias,
            target,
            AliasExpectation::Version(expected),
            actor,
        )
        .await?;
    println!(
        "moved {name}@{alias} from {:?} to {}",
        change.from, change.to
    );
    catalog.close().await;
    Ok(())
}

async fn watch(location: &str, model: &str, until: usize, n_metrics: usize) -> Result<(), Failure> {
    let name = model_name(model)?;
    let catalog = Catalog::open(location).await?;
    let deadline = Instant::now() + PATIENCE;
    let mut reads = 0u64;
    loop {
        let versions = match catalog.list_versions(&name).await {
            Ok(versions) => versions,
            Err(CatalogError::NotFound { .. }) => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        reads += 1;
        for version in &versions {
            if version.metrics.len() != n_metrics {
                return Err(Failure::HalfWritten(format!(
                    "{name}/{} has {} of its {n_metrics} metrics",
                    version.version,
                    version.metrics.len()
                )));
            }
            let edges = catalog.lineage_edges(&name, version.version).await?;
            if edges.len() != EDGES_PER_VERSION {
                return Err(Failure::HalfWritten(format!(
                    "{name}/{} has {} of its {EDGES_PER_VERSION} lineage edges",
                    version.version,
                    edges.len()
                )));
            }
        }
        if versions.len() >= until {
            println!(
                "watched {reads} reads, {} versions, all whole",
                versions.len()
            );
            catalog.close().await;
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Failure::TimedOut(format!(
                "saw {} of {until} versions",
                versions.len()
            )));
        }
        // Leave the two cores mostly to the writers being watched.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
