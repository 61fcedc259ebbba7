//! `versa init --example churn`: writes a ready-to-run `versa.toml` and the
//! sample data it names, so `versa run` works in a fresh directory.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use versa_pipeline::spec::CHURN_EXAMPLE;

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
    /// Seed of the sample data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let Example::Churn = args.example;
    let spec_path = args.dir.join(super::run::SPEC_FILE);
    if spec_path.exists() {
        bail!(
            "`{}` already exists; remove it or choose another --dir",
            spec_path.display()
        );
    }
    let data_dir = args.dir.join("data");
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create `{}`", data_dir.display()))?;
    let data_path = data_dir.join("customers.csv");
    std::fs::write(
        &data_path,
        versa_tabular::sample::churn_csv(args.seed, 1000),
    )
    .with_context(|| format!("cannot write `{}`", data_path.display()))?;
    std::fs::write(&spec_path, CHURN_EXAMPLE)
        .with_context(|| format!("cannot write `{}`", spec_path.display()))?;
    if global.json {
        return super::print_json(&serde_json::json!({
            "spec": spec_path, "data": data_path,
        }));
    }
    println!(
        "wrote {} and {}; next: cd {} && versa run",
        spec_path.display(),
        data_path.display(),
        args.dir.display()
    );
    Ok(())
}
