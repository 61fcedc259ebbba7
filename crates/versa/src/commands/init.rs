//! `versa init --example churn`: writes a ready-to-run `versa.toml` and the
//! sample data it names, so `versa run` works in a fresh directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use versa_pipeline::spec::churn_example;

use crate::Global;

/// Examples `versa init` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Example {
    /// 1000 sample customers, two variants, deploy the more accurate to `churn@production`.
    Churn,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which example to write.
    #[arg(long, value_enum)]
    example: Example,
    /// Directory to write into (created if missing).
    #[arg(long, default_value = ".", value_name = "DIR")]
    dir: PathBuf,
    /// Seed of the sample data, the split and the training.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// What `versa init --example churn` wrote.
pub(crate) struct ExampleFiles {
    /// The pipeline spec.
    pub(crate) spec: PathBuf,
    /// The sample data it names.
    pub(crate) data: PathBuf,
}

/// Writes the churn example into `dir` (created if missing): 1000 sample
/// customers from `seed` and a `versa.toml` whose split and training use the
/// same seed. Refuses to overwrite an existing spec.
pub(crate) fn write_churn_example(dir: &Path, seed: u64) -> Result<ExampleFiles> {
    let spec = dir.join(super::run::SPEC_FILE);
    if spec.exists() {
        bail!(
            "`{}` already exists; remove it or choose another --dir",
            spec.display()
        );
    }
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create `{}`", data_dir.display()))?;
    let data = data_dir.join("customers.csv");
    std::fs::write(&data, versa_tabular::sample::churn_csv(seed, 1000))
        .with_context(|| format!("cannot write `{}`", data.display()))?;
    std::fs::write(&spec, churn_example(seed))
        .with_context(|| format!("cannot write `{}`", spec.display()))?;
    Ok(ExampleFiles { spec, data })
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let Example::Churn = args.example;
    let files = write_churn_example(&args.dir, args.seed)?;
    if global.json {
        return super::print_json(&serde_json::json!({
            "spec": files.spec, "data": files.data,
        }));
    }
    println!(
        "wrote {} and {}; next: cd {} && versa run",
        files.spec.display(),
        files.data.display(),
        args.dir.display()
    );
    Ok(())
}
